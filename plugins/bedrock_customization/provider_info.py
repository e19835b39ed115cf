"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from bedrock_customization import __version__
from bedrock_customization.settings import OPTIONS, SECTION


def get_provider_info() -> dict:
    return {
        "package-name": "airflow-provider-bedrock-customization",
        "name": "Amazon Bedrock Model Customization",
        "description": "Validated datasets, VPC-bound fine-tuning, evaluation, promotion and cleanup for Amazon Bedrock.",
        "versions": [__version__],
        "extra-links": [
            "bedrock_customization.links.bedrock.BedrockCustomizationJobLink",
            "bedrock_customization.links.bedrock.BedrockCustomModelLink",
            "bedrock_customization.links.bedrock.BedrockProvisionedThroughputLink",
            "bedrock_customization.links.bedrock.BedrockCustomModelDeploymentLink",
            "bedrock_customization.links.bedrock.BedrockModelImportJobLink",
            "bedrock_customization.links.bedrock.BedrockImportedModelLink",
            "bedrock_customization.links.bedrock.BedrockEvaluationJobLink",
            "bedrock_customization.links.bedrock.BedrockRunResultsLink",
        ],
        "config": {
            SECTION: {
                "description": "Settings of the Amazon Bedrock model customization provider.",
                "options": {name: {**opt, "version_added": "0.1.0"} for name, opt in OPTIONS.items()},
            }
        },
    }
