"""Operator extra links to Amazon Bedrock resources in the AWS console."""

from __future__ import annotations

import urllib.parse

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink


class BedrockCustomizationJobLink(BaseAwsLink):
    """The model customization job's page in the Amazon Bedrock console."""

    name = "Bedrock Customization Job"
    key = "bedrock_customization_job"
    format_str = (
        BASE_AWS_CONSOLE_LINK + "/bedrock/home?region={region_name}#/custom-models/item?arn={job_arn}"
    )

    @staticmethod
    def quote_arn(job_arn: str) -> str:
        """The ARN escaped for the URL fragment (``:`` and ``/`` included)."""
        return urllib.parse.quote(job_arn, safe="")
