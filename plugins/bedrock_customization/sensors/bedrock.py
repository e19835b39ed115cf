"""Sensors for Amazon Bedrock model customization: a provisioned throughput InService, a deployment Active, a
model import job Completed.

The states below mirror the acceptors of ``waiters/bedrock.json`` (a test keeps them in agreement). Each
sensor declares its states, waiter, trigger and describe call; :class:`BedrockStatusSensor` does the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.providers.amazon.aws.sensors.bedrock import BedrockBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from bedrock_customization import settings
from bedrock_customization.hooks.bedrock import BedrockCustomizationHook
from bedrock_customization.triggers.bedrock import (
    BedrockCustomModelDeploymentActiveTrigger,
    BedrockModelImportJobCompletedTrigger,
    BedrockProvisionedThroughputInServiceTrigger,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class BedrockStatusSensor(BedrockBaseSensor[BedrockCustomizationHook]):
    """
    Wait until a Bedrock resource's ``status`` is a success state; fail with its ``failureMessage`` in a
    failure state. Deferred, the declared trigger waits in the triggerer.

    Declare ``id_parameter`` (the templated parameter naming the resource), ``trigger_class`` and
    ``trigger_arg`` (the trigger's parameter taking it), the states and ``WAITER_NAME``; implement
    :meth:`describe`.

    :param poke_interval: Seconds between checks. (default: 60)
    :param max_retries: Maximum checks in deferrable mode. (default: 120)
    :param deferrable: Wait in the triggerer. (default: ``[bedrock_customization] deferrable``)
    """

    aws_hook_class = BedrockCustomizationHook
    id_parameter: ClassVar[str]
    trigger_class: ClassVar[type]
    trigger_arg: ClassVar[str]

    def __init__(
        self,
        *,
        poke_interval: int = 60,
        max_retries: int = 120,
        deferrable: bool | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(deferrable=settings.deferrable() if deferrable is None else deferrable, **kwargs)
        self.poke_interval = poke_interval
        self.max_retries = max_retries

    def execute(self, context: Context) -> Any:
        if not self.deferrable:
            return super().execute(context=context)
        self.defer(
            trigger=self.trigger_class(
                **{self.trigger_arg: getattr(self, self.id_parameter)},
                waiter_delay=int(self.poke_interval),
                waiter_max_attempts=self.max_retries,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name="poke",
        )

    def describe(self) -> dict:
        """The resource's Get* response."""
        raise NotImplementedError

    def get_state(self) -> str:
        return self.describe()["status"]

    def get_failure_reason(self) -> str:
        return self.describe().get("failureMessage", "")


class BedrockProvisionedThroughputInServiceSensor(BedrockStatusSensor):
    """
    Wait until a provisioned throughput is InService (after Creating or an in-place Updating).

    Fails with the throughput's ``failureMessage`` when it is Failed.

    :param provisioned_model_id: Name or ARN of the throughput. (templated)
    :param poke_interval: Seconds between checks. (default: 60)
    :param max_retries: Maximum checks in deferrable mode. (default: 120)
    :param deferrable: Wait in the triggerer. (default: ``[bedrock_customization] deferrable``)
    """

    INTERMEDIATE_STATES: tuple[str, ...] = ("Creating", "Updating")
    FAILURE_STATES: tuple[str, ...] = ("Failed",)
    SUCCESS_STATES: tuple[str, ...] = ("InService",)
    FAILURE_MESSAGE = "Bedrock provisioned throughput failed."
    WAITER_NAME = "provisioned_model_throughput_in_service"

    template_fields: Sequence[str] = aws_template_fields("provisioned_model_id")
    id_parameter = "provisioned_model_id"
    trigger_class = BedrockProvisionedThroughputInServiceTrigger
    trigger_arg = "provisioned_model_id"

    def __init__(self, *, provisioned_model_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.provisioned_model_id = provisioned_model_id

    def describe(self) -> dict:
        return self.hook.conn.get_provisioned_model_throughput(provisionedModelId=self.provisioned_model_id)


class BedrockCustomModelDeploymentActiveSensor(BedrockStatusSensor):
    """
    Wait until an on-demand custom model deployment is Active; fails with its ``failureMessage`` when Failed.

    :param deployment_id: Name or ARN of the deployment. (templated)
    :param poke_interval: Seconds between checks. (default: 60)
    :param max_retries: Maximum checks in deferrable mode. (default: 120)
    :param deferrable: Wait in the triggerer. (default: ``[bedrock_customization] deferrable``)
    """

    INTERMEDIATE_STATES: tuple[str, ...] = ("Creating",)
    FAILURE_STATES: tuple[str, ...] = ("Failed",)
    SUCCESS_STATES: tuple[str, ...] = ("Active",)
    FAILURE_MESSAGE = "Bedrock custom model deployment failed."
    WAITER_NAME = "custom_model_deployment_active"

    template_fields: Sequence[str] = aws_template_fields("deployment_id")
    id_parameter = "deployment_id"
    trigger_class = BedrockCustomModelDeploymentActiveTrigger
    trigger_arg = "deployment_id"

    def __init__(self, *, deployment_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deployment_id = deployment_id

    def describe(self) -> dict:
        return self.hook.conn.get_custom_model_deployment(customModelDeploymentIdentifier=self.deployment_id)


class BedrockModelImportJobSensor(BedrockStatusSensor):
    """
    Wait until a Custom Model Import job is Completed; fails with its ``failureMessage`` when it is Failed.

    :param job_identifier: Name or ARN of the model import job. (templated)
    :param poke_interval: Seconds between checks. (default: 60)
    :param max_retries: Maximum checks in deferrable mode. (default: 240)
    :param deferrable: Wait in the triggerer. (default: ``[bedrock_customization] deferrable``)
    """

    INTERMEDIATE_STATES: tuple[str, ...] = ("InProgress",)
    FAILURE_STATES: tuple[str, ...] = ("Failed",)
    SUCCESS_STATES: tuple[str, ...] = ("Completed",)
    FAILURE_MESSAGE = "Bedrock model import job failed."
    WAITER_NAME = "model_import_job_complete"

    template_fields: Sequence[str] = aws_template_fields("job_identifier")
    id_parameter = "job_identifier"
    trigger_class = BedrockModelImportJobCompletedTrigger
    trigger_arg = "job_arn"

    def __init__(self, *, job_identifier: str, max_retries: int = 240, **kwargs: Any) -> None:
        super().__init__(max_retries=max_retries, **kwargs)
        self.job_identifier = job_identifier

    def describe(self) -> dict:
        return self.hook.conn.get_model_import_job(jobIdentifier=self.job_identifier)
