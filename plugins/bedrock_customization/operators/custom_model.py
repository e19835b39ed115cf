"""Custom model operators: delete a custom model unless something still serves it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from bedrock_customization.operators.base import BedrockDeleteOperator


class BedrockDeleteCustomModelOperator(BedrockDeleteOperator):
    """
    Delete a custom model; a model that is already gone counts as deleted.

    Raises ``ResourceInUseError`` naming the throughputs and deployments that still use the model (a retry
    after they are gone succeeds). Returns True when this call deleted it, False when there was nothing to
    delete.

    :param model_id: Name or ARN of the custom model; empty means nothing to delete. (templated)
    """

    template_fields: Sequence[str] = aws_template_fields("model_id")
    resource_kind = "custom model"
    id_parameter = "model_id"

    def __init__(self, *, model_id: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id

    def delete(self, identifier: str) -> bool:
        return self.hook.delete_custom_model(identifier)
