"""On-demand custom model deployment operators: create (re-attaching) and delete.

A deployment serves a custom model on demand (no throughput purchase) where the catalog says Bedrock offers it
(:func:`bedrock_customization.catalog.on_demand_deployment_problem`: base model, region, customization date).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from bedrock_customization import catalog
from bedrock_customization.exceptions import BedrockCustomizationError, UnknownModelError
from bedrock_customization.links.bedrock import BedrockCustomModelDeploymentLink
from bedrock_customization.operators.base import BedrockDeleteOperator, BedrockResourceOperator
from bedrock_customization.triggers.bedrock import BedrockCustomModelDeploymentActiveTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from bedrock_customization.lifecycle import ResourceIdentity


class BedrockCreateCustomModelDeploymentOperator(BedrockResourceOperator):
    """
    Deploy a custom model for on-demand inference (no throughput purchase) and wait until it is Active.

    For the base models, regions and customization dates the catalog lists (``on_demand_deployment``).
    Idempotent like the throughput create: re-attaches by name (a Failed deployment is deleted and created
    again), deterministic token, tagged as ours; a deployment of that name for another model fails the task.
    Returns the deployment ARN, which InvokeModel/Converse accept as ``modelId``.

    :param model_arn: ARN (or name) of the custom model. (templated)
    :param deployment_name: Name of the deployment, 1-63 characters. (templated)
    :param description: Description of the deployment. (templated)
    :param client_request_token: Idempotency token; default derived from dag_id, run_id, task_id and
        map_index. (templated)
    :param tags: Extra tags ``{"key": "value"}``; ours (managed-by, dag-id, run-id, task-id) win. (templated)
    :param check_catalog: Refuse, before the create, a model the catalog says cannot be deployed on demand
        (its base model, this region or its customization date). (default: True)
    :param wait_for_completion: Wait until Active. (default: True)
    :param waiter_delay: Seconds between status checks. (default: the provider's ``poll_interval``)
    :param waiter_max_attempts: Maximum status checks. (default: ``throughput_timeout`` / ``poll_interval``)
    :param deferrable: Wait in the triggerer. (default: ``[bedrock_customization] deferrable``)
    """

    template_fields: Sequence[str] = aws_template_fields(
        "model_arn", "deployment_name", "description", "client_request_token", "tags"
    )
    operator_extra_links = (BedrockCustomModelDeploymentLink(),)

    resource_kind = "custom model deployment"
    arn_key = "customModelDeploymentArn"
    trigger_class = BedrockCustomModelDeploymentActiveTrigger
    token_kind = "deployment"
    name_parameter = "deployment_name"
    recreate_failed = True

    def __init__(
        self,
        *,
        model_arn: str,
        deployment_name: str,
        description: str | None = None,
        client_request_token: str | None = None,
        tags: dict[str, str] | None = None,
        check_catalog: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_arn = model_arn
        self.deployment_name = deployment_name
        self.description = description
        self.client_request_token = client_request_token
        self.tags = tags or {}
        self.check_catalog = check_catalog

    def describe(self, identifier: str) -> dict[str, Any] | None:
        return self.hook.get_deployment(identifier)

    def persist_links(self, context: Context, resource: Mapping[str, Any]) -> None:
        BedrockCustomModelDeploymentLink.persist_arn(context, self, self.arn(resource))

    def resource_name(self, identity: ResourceIdentity) -> str:
        return self.deployment_name

    def request_token(self, identity: ResourceIdentity) -> str:
        return self.client_request_token or super().request_token(identity)

    def before_create(self, identity: ResourceIdentity) -> None:
        if self.check_catalog:
            self.check_on_demand_support()

    def create(self, identity: ResourceIdentity, token: str) -> str:
        request: dict[str, Any] = {
            "modelDeploymentName": self.deployment_name,
            "modelArn": self.model_arn,
            "clientRequestToken": token,
            "tags": identity.aws_tags(self.tags),
        }
        if self.description:
            request["description"] = self.description
        return self.hook.conn.create_custom_model_deployment(**request)["customModelDeploymentArn"]

    def delete(self, arn: str) -> None:
        self.hook.delete_deployment(arn)

    def check_existing(self, resource: Mapping[str, Any], identity: ResourceIdentity) -> None:
        """Adopt a deployment of our name only when it deploys ``model_arn``."""
        if self.hook.custom_model_arn(self.model_arn) == resource["modelArn"]:
            return
        raise BedrockCustomizationError(
            f"A custom model deployment named {self.deployment_name} already exists ({self.arn(resource)}) for "
            f"{resource['modelArn']}, not {self.model_arn}. Choose another deployment_name, or delete that "
            "deployment first."
        )

    def check_on_demand_support(self) -> None:
        """Raise when the catalog says the custom model cannot be deployed on demand in this region."""
        model = self.hook.conn.get_custom_model(modelIdentifier=self.model_arn)
        try:
            problem = catalog.on_demand_deployment_problem(
                model["baseModelArn"], self.hook.conn_region_name, model.get("creationTime")
            )
        except UnknownModelError:
            self.log.warning(
                "Base model %s is not in the catalog; trying an on-demand deployment anyway.",
                model["baseModelArn"],
            )
            return
        if problem:
            raise BedrockCustomizationError(
                f"Custom model {self.model_arn} cannot be deployed on demand (CreateCustomModelDeployment): "
                f"{problem}. Serve it with BedrockCreateProvisionedModelThroughputOperator instead."
            )


class BedrockDeleteCustomModelDeploymentOperator(BedrockDeleteOperator):
    """
    Delete an on-demand custom model deployment; one that is already gone counts as deleted.

    Returns True when this call deleted it, False when there was nothing to delete.

    :param deployment_id: Name or ARN of the deployment; empty means nothing to delete. (templated)
    """

    template_fields: Sequence[str] = aws_template_fields("deployment_id")
    resource_kind = "custom model deployment"
    id_parameter = "deployment_id"

    def __init__(self, *, deployment_id: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deployment_id = deployment_id

    def delete(self, identifier: str) -> bool:
        return self.hook.delete_deployment(identifier)
