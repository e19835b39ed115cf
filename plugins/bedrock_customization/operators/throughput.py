"""Provisioned throughput operators: create (re-attaching), update the served model in place, delete.

Every operator is safe to retry: the create re-attaches to the throughput its first try made (found by name;
the create call carries a ``clientRequestToken`` derived from the task instance), a Failed one is deleted and
created again, an update to the model a throughput already serves is a no-op, and a delete treats "already
gone" as done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from bedrock_customization import tagging
from bedrock_customization.exceptions import BedrockCustomizationError
from bedrock_customization.links.bedrock import BedrockProvisionedThroughputLink
from bedrock_customization.operators.base import BedrockDeleteOperator, BedrockResourceOperator
from bedrock_customization.operators.wait import BedrockWaitOperator, ProvisionedThroughputWait

if TYPE_CHECKING:
    from airflow.sdk import Context

    from bedrock_customization.lifecycle import ResourceIdentity


class BedrockCreateProvisionedModelThroughputOperator(ProvisionedThroughputWait, BedrockResourceOperator):
    """
    Create a provisioned throughput for a model, tagged as ours, and wait until it is InService.

    Idempotent: a retry finds the throughput by name and re-attaches to it (a Failed one is deleted and created
    again), and the create call carries a deterministic ``clientRequestToken``. A throughput of that name that
    serves another model fails the task. No commitment is bought unless ``commitment_duration`` is given.
    Returns the throughput ARN.

    :param model_units: Number of model units. (templated)
    :param provisioned_model_name: Name of the throughput, 1-63 characters. (templated)
    :param model_id: Name or ARN of the (custom) model to serve. (templated)
    :param commitment_duration: ``OneMonth`` or ``SixMonths``; default None: no commitment, billed hourly
        until deleted. (templated)
    :param client_request_token: Idempotency token; default derived from dag_id, run_id, task_id and
        map_index. (templated)
    :param tags: Extra tags ``{"key": "value"}``; ours (managed-by, dag-id, run-id, task-id, role) win.
        (templated)
    :param throughput_role: Value of the ``bedrock-customization:role`` tag. (default: ``evaluation``)
    :param create_throughput_kwargs: Other CreateProvisionedModelThroughput parameters; a
        ``clientRequestToken`` or ``tags`` list given here is honoured too. (templated)
    :param wait_for_completion: Wait until InService. (default: True)
    :param waiter_delay: Seconds between status checks. (default: the provider's ``poll_interval``)
    :param waiter_max_attempts: Maximum status checks. (default: ``throughput_timeout`` / ``poll_interval``)
    :param deferrable: Wait in the triggerer. (default: ``[bedrock_customization] deferrable``)
    """

    template_fields: Sequence[str] = aws_template_fields(
        "model_units",
        "provisioned_model_name",
        "model_id",
        "commitment_duration",
        "client_request_token",
        "tags",
        "create_throughput_kwargs",
    )
    operator_extra_links = (BedrockProvisionedThroughputLink(),)
    token_kind = "throughput"
    name_parameter = "provisioned_model_name"
    recreate_failed = True

    def __init__(
        self,
        *,
        model_units: int,
        provisioned_model_name: str,
        model_id: str,
        commitment_duration: str | None = None,
        client_request_token: str | None = None,
        tags: dict[str, str] | None = None,
        throughput_role: str = tagging.ROLE_EVALUATION,
        create_throughput_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_units = model_units
        self.provisioned_model_name = provisioned_model_name
        self.model_id = model_id
        self.commitment_duration = commitment_duration
        self.client_request_token = client_request_token
        self.tags = tags or {}
        self.throughput_role = throughput_role
        self.create_throughput_kwargs = create_throughput_kwargs

    def resource_name(self, identity: ResourceIdentity) -> str:
        return self.provisioned_model_name

    def request_token(self, identity: ResourceIdentity) -> str:
        given = (self.create_throughput_kwargs or {}).get("clientRequestToken")
        return self.client_request_token or given or super().request_token(identity)

    def create(self, identity: ResourceIdentity, token: str) -> str:
        extra = dict(self.create_throughput_kwargs or {})
        extra.pop("clientRequestToken", None)
        tags = identity.aws_tags(extra.pop("tags", None), self.tags, role=self.throughput_role)
        if self.commitment_duration:
            extra["commitmentDuration"] = self.commitment_duration
        arn = self.hook.conn.create_provisioned_model_throughput(
            modelUnits=int(self.model_units),
            provisionedModelName=self.provisioned_model_name,
            modelId=self.model_id,
            clientRequestToken=token,
            tags=tags,
            **extra,
        )["provisionedModelArn"]
        self.log.info(
            "Provisioned throughput %s: %s model units, %s, for %s.",
            arn,
            self.model_units,
            f"a {self.commitment_duration} commitment" if self.commitment_duration else "no commitment",
            self.model_id,
        )
        return arn

    def delete(self, arn: str) -> None:
        self.hook.delete_throughput(arn)

    def check_existing(self, resource: Mapping[str, Any], identity: ResourceIdentity) -> None:
        """Adopt a throughput of our name only when it serves (or is switching to) ``model_id``."""
        served = {
            resource.get("modelArn"),
            resource.get("desiredModelArn"),
            resource.get("foundationModelArn"),
        }
        served.discard(None)
        if self.model_id in served or any(str(arn).endswith(f"/{self.model_id}") for arn in served):
            return
        model = self.hook.describe("get_custom_model", modelIdentifier=self.model_id)
        if model is not None and model["modelArn"] in served:
            return
        raise BedrockCustomizationError(
            f"A provisioned throughput named {self.provisioned_model_name} already exists "
            f"({self.arn(resource)}) but serves {resource.get('modelArn')}, not {self.model_id}. Choose another "
            "provisioned_model_name, or delete that throughput first."
        )


class BedrockUpdateProvisionedThroughputOperator(ProvisionedThroughputWait, BedrockWaitOperator):
    """
    Swap the model a provisioned throughput serves, in place (same base model), and wait until InService.

    Idempotent: a throughput already serving (or already switching to) ``desired_model_id`` is not updated
    again; one that is busy (Creating, Updating) is waited for first. Returns the throughput ARN.

    :param provisioned_model_id: Name or ARN of the throughput. (templated)
    :param desired_model_id: Name or ARN of the custom model to serve; it must share the base model of the
        model served now. (templated)
    :param wait_for_completion: Wait until InService. (default: True)
    :param waiter_delay: Seconds between status checks. (default: the provider's ``poll_interval``)
    :param waiter_max_attempts: Maximum status checks. (default: ``throughput_timeout`` / ``poll_interval``)
    :param deferrable: Wait in the triggerer. (default: ``[bedrock_customization] deferrable``)
    """

    template_fields: Sequence[str] = aws_template_fields("provisioned_model_id", "desired_model_id")
    operator_extra_links = (BedrockProvisionedThroughputLink(),)

    def __init__(self, *, provisioned_model_id: str, desired_model_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.provisioned_model_id = provisioned_model_id
        self.desired_model_id = desired_model_id

    def execute(self, context: Context) -> str:
        arn, _ = self.hook.update_throughput_model(
            self.provisioned_model_id, self.desired_model_id, settle=self.settle
        )
        throughput = self.described(arn)
        self.persist_links(context, throughput)
        return self.wait(context, throughput)


class BedrockDeleteProvisionedThroughputOperator(BedrockDeleteOperator):
    """
    Delete a provisioned model throughput; a throughput that is already gone counts as deleted.

    One that refuses deletion while Creating or Updating is waited for, then deleted. Returns True when this
    call deleted it, False when there was nothing to delete.

    :param provisioned_model_id: Name or ARN of the provisioned throughput; empty means nothing was
        created. (templated)
    """

    template_fields: Sequence[str] = aws_template_fields("provisioned_model_id")
    resource_kind = "provisioned throughput"
    id_parameter = "provisioned_model_id"

    def __init__(self, *, provisioned_model_id: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.provisioned_model_id = provisioned_model_id

    def delete(self, identifier: str) -> bool:
        return self.hook.delete_throughput(identifier)
