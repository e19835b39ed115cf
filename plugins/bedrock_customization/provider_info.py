"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from pathlib import Path

from bedrock_customization import __version__
from bedrock_customization.settings import OPTIONS, SECTION

INTEGRATION = "Amazon Bedrock Model Customization"
ROLES = ("operators", "sensors", "hooks", "triggers")


def role_modules(role: str) -> list[str]:
    """The modules of an Airflow role folder (``operators``...), one file per service as in the Amazon
    provider; read from the folder, so a new module is listed without importing anything."""
    folder = Path(__file__).resolve().parent / role
    return sorted(f"bedrock_customization.{role}.{path.stem}" for path in folder.glob("[!_]*.py"))


def get_provider_info() -> dict:
    return {
        "package-name": "airflow-provider-bedrock-customization",
        "name": "Amazon Bedrock Model Customization",
        "description": "Validated datasets, VPC-bound fine-tuning, evaluation, promotion and cleanup for Amazon Bedrock.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://docs.aws.amazon.com/bedrock/latest/userguide/custom-models.html",
                "tags": ["aws"],
            }
        ],
        **{role: [{"integration-name": INTEGRATION, "python-modules": role_modules(role)}] for role in ROLES},
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
