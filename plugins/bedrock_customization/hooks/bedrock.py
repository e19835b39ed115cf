"""Hook for Amazon Bedrock model customization: the Amazon provider's BedrockHook with this package's waiters."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook

WAITERS_FILE = Path(__file__).resolve().parents[1] / "waiters" / "bedrock.json"


class BedrockCustomizationHook(BedrockHook):
    """
    ``boto3.client("bedrock")`` with the custom waiters of ``bedrock_customization/waiters/bedrock.json``.

    ``AwsGenericHook.waiter_path`` points into the Amazon package; this hook points it at our file, so
    ``get_waiter`` finds our waiters (``provisioned_model_throughput_in_service``,
    ``custom_model_deployment_active``, ...) and, for other names, botocore's own waiters.
    """

    @cached_property
    def waiter_path(self) -> Path:
        return WAITERS_FILE
