"""Sensors for Amazon Bedrock model customization: a provisioned throughput InService, a deployment Active.

The states below mirror the acceptors of ``waiters/bedrock.json`` (a test keeps them in agreement).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.bedrock import BedrockBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from bedrock_customization.hooks.bedrock import BedrockCustomizationHook
from bedrock_customization.triggers.bedrock import (
    BedrockCustomModelDeploymentActiveTrigger,
    BedrockModelImportJobCompletedTrigger,
    BedrockProvisionedThroughputInServiceTrigger,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class BedrockProvisionedThroughputInServiceSensor(BedrockBaseSensor[BedrockCustomizationHook]):
    """
    Wait until a provisioned throughput is InService (after Creating or an in-place Updating).

    Fails with the throughput's ``failureMessage`` when it is Failed.

    :param provisioned_model_id: Name or ARN of the throughput. (templated)
    :param poke_interval: Seconds between checks. (default: 60)
    :param max_retries: Maximum checks in deferrable mode. (default: 120)
    :param deferrable: Wait in the triggerer. (default: ``[operators] default_deferrable``)
    """

    INTERMEDIATE_STATES: tuple[str, ...] = ("Creating", "Updating")
    FAILURE_STATES: tuple[str, ...] = ("Failed",)
    SUCCESS_STATES: tuple[str, ...] = ("InService",)
    FAILURE_MESSAGE = "Bedrock provisioned throughput failed."
    WAITER_NAME = "provisioned_model_throughput_in_service"

    aws_hook_class = BedrockCustomizationHook
    template_fields: Sequence[str] = aws_template_fields("provisioned_model_id")

    def __init__(
        self, *, provisioned_model_id: str, poke_interval: int = 60, max_retries: int = 120, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.provisioned_model_id = provisioned_model_id
        self.poke_interval = poke_interval
        self.max_retries = max_retries

    def execute(self, context: Context) -> Any:
        if self.deferrable:
            self.defer(
                trigger=BedrockProvisionedThroughputInServiceTrigger(
                    provisioned_model_id=self.provisioned_model_id,
                    waiter_delay=int(self.poke_interval),
                    waiter_max_attempts=self.max_retries,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="poke",
            )
        else:
            super().execute(context=context)

    def _describe(self) -> dict:
        return self.hook.conn.get_provisioned_model_throughput(provisionedModelId=self.provisioned_model_id)

    def get_state(self) -> str:
        return self._describe()["status"]

    def get_failure_reason(self) -> str:
        return self._describe().get("failureMessage", "")


class BedrockCustomModelDeploymentActiveSensor(BedrockBaseSensor[BedrockCustomizationHook]):
    """
    Wait until an on-demand custom model deployment is Active; fails with its ``failureMessage`` when Failed.

    :param deployment_id: Name or ARN of the deployment. (templated)
    :param poke_interval: Seconds between checks. (default: 60)
    :param max_retries: Maximum checks in deferrable mode. (default: 120)
    :param deferrable: Wait in the triggerer. (default: ``[operators] default_deferrable``)
    """

    INTERMEDIATE_STATES: tuple[str, ...] = ("Creating",)
    FAILURE_STATES: tuple[str, ...] = ("Failed",)
    SUCCESS_STATES: tuple[str, ...] = ("Active",)
    FAILURE_MESSAGE = "Bedrock custom model deployment failed."
    WAITER_NAME = "custom_model_deployment_active"

    aws_hook_class = BedrockCustomizationHook
    template_fields: Sequence[str] = aws_template_fields("deployment_id")

    def __init__(
        self, *, deployment_id: str, poke_interval: int = 60, max_retries: int = 120, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.deployment_id = deployment_id
        self.poke_interval = poke_interval
        self.max_retries = max_retries

    def execute(self, context: Context) -> Any:
        if self.deferrable:
            self.defer(
                trigger=BedrockCustomModelDeploymentActiveTrigger(
                    deployment_id=self.deployment_id,
                    waiter_delay=int(self.poke_interval),
                    waiter_max_attempts=self.max_retries,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="poke",
            )
        else:
            super().execute(context=context)

    def _describe(self) -> dict:
        return self.hook.conn.get_custom_model_deployment(customModelDeploymentIdentifier=self.deployment_id)

    def get_state(self) -> str:
        return self._describe()["status"]

    def get_failure_reason(self) -> str:
        return self._describe().get("failureMessage", "")


class BedrockModelImportJobSensor(BedrockBaseSensor[BedrockCustomizationHook]):
    """
    Wait until a Custom Model Import job is Completed; fails with its ``failureMessage`` when it is Failed.

    :param job_identifier: Name or ARN of the model import job. (templated)
    :param poke_interval: Seconds between checks. (default: 60)
    :param max_retries: Maximum checks in deferrable mode. (default: 240)
    :param deferrable: Wait in the triggerer. (default: ``[operators] default_deferrable``)
    """

    INTERMEDIATE_STATES: tuple[str, ...] = ("InProgress",)
    FAILURE_STATES: tuple[str, ...] = ("Failed",)
    SUCCESS_STATES: tuple[str, ...] = ("Completed",)
    FAILURE_MESSAGE = "Bedrock model import job failed."
    WAITER_NAME = "model_import_job_complete"

    aws_hook_class = BedrockCustomizationHook
    template_fields: Sequence[str] = aws_template_fields("job_identifier")

    def __init__(
        self, *, job_identifier: str, poke_interval: int = 60, max_retries: int = 240, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.job_identifier = job_identifier
        self.poke_interval = poke_interval
        self.max_retries = max_retries

    def execute(self, context: Context) -> Any:
        if self.deferrable:
            self.defer(
                trigger=BedrockModelImportJobCompletedTrigger(
                    job_arn=self.job_identifier,
                    waiter_delay=int(self.poke_interval),
                    waiter_max_attempts=self.max_retries,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="poke",
            )
        else:
            super().execute(context=context)

    def _describe(self) -> dict:
        return self.hook.conn.get_model_import_job(jobIdentifier=self.job_identifier)

    def get_state(self) -> str:
        return self._describe()["status"]

    def get_failure_reason(self) -> str:
        return self._describe().get("failureMessage", "")
