"""Operators for Amazon Bedrock model customization, built on the Amazon provider's Bedrock operators."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook
from airflow.providers.amazon.aws.operators import bedrock as amazon_bedrock
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

if TYPE_CHECKING:
    from airflow.sdk import Context


class BedrockCustomizeModelOperator(amazon_bedrock.BedrockCustomizeModelOperator):
    """
    The Amazon provider's customization operator with templated S3 locations.

    The upstream operator wraps ``training_data_uri`` and ``output_data_uri`` in dicts in ``__init__`` and does
    not template them, so they cannot come from XCom or Jinja; here the wrapped dicts are template fields.
    """

    template_fields: Sequence[str] = (
        *amazon_bedrock.BedrockCustomizeModelOperator.template_fields,
        "training_data_config",
        "output_data_config",
    )


class BedrockCreateProvisionedModelThroughputOperator(
    amazon_bedrock.BedrockCreateProvisionedModelThroughputOperator
):
    """The Amazon provider's throughput operator with templated ``create_throughput_kwargs`` (token, tags)."""

    template_fields: Sequence[str] = (
        *amazon_bedrock.BedrockCreateProvisionedModelThroughputOperator.template_fields,
        "create_throughput_kwargs",
    )


class BedrockDeleteProvisionedThroughputOperator(AwsBaseOperator[BedrockHook]):
    """
    Delete a provisioned model throughput; a throughput that is already gone counts as deleted.

    :param provisioned_model_id: Name or ARN of the provisioned throughput. (templated)
    """

    aws_hook_class = BedrockHook
    template_fields: Sequence[str] = aws_template_fields("provisioned_model_id")

    def __init__(self, *, provisioned_model_id: str | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.provisioned_model_id = provisioned_model_id

    def execute(self, context: Context) -> bool:
        if not self.provisioned_model_id:
            self.log.info("No provisioned throughput was created; nothing to delete.")
            return False
        try:
            self.hook.conn.delete_provisioned_model_throughput(provisionedModelId=self.provisioned_model_id)
        except self.hook.conn.exceptions.ResourceNotFoundException:
            self.log.info("Provisioned throughput %s is already gone.", self.provisioned_model_id)
            return False
        self.log.info("Deleted provisioned throughput %s.", self.provisioned_model_id)
        return True
