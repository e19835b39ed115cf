"""Read-only listing of Bedrock customization resources with their tags, in the shape ``janitor.plan`` takes.

Clients are passed in (``BedrockHook(...).conn``, ``S3Hook(...).get_conn()``), so this module imports no AWS
SDK and its output is JSON-ready (ISO 8601 times) for XCom.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from bedrock_customization import promotion, protection, tagging

#: Jobs in these states matter to the janitor whoever made them (to stop, or to mark their run as failed);
#: a Completed job only for the custom model of ours it made (when that model was made).
RELEVANT_JOB_STATUSES = ("InProgress", "Failed", "Stopped")


def _iso(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _pages(conn: Any, operation: str, key: str) -> Iterator[dict]:
    for page in conn.get_paginator(operation).paginate():
        yield from page.get(key, [])


def _tags(conn: Any, arn: str) -> dict[str, str] | None:
    try:
        return tagging.from_aws(conn.list_tags_for_resource(resourceARN=arn).get("tags"))
    except conn.exceptions.ResourceNotFoundException:
        return None  # deleted while we listed


def list_resources(bedrock: Any) -> dict[str, list[dict[str, Any]]]:
    """``{"throughputs", "deployments", "models", "imported_models", "jobs"}``, each a list of resources with
    their tags and creation times (resources deleted while listing are left out)."""
    throughputs = []
    for tp in _pages(bedrock, "list_provisioned_model_throughputs", "provisionedModelSummaries"):
        tag_set = _tags(bedrock, tp["provisionedModelArn"])
        if tag_set is not None:
            throughputs.append(
                {
                    "arn": tp["provisionedModelArn"],
                    "name": tp["provisionedModelName"],
                    "status": tp.get("status"),
                    "created": _iso(tp.get("creationTime")),
                    "model_arn": tp.get("modelArn"),
                    "desired_model_arn": tp.get("desiredModelArn"),
                    "tags": tag_set,
                }
            )
    deployments = []
    for deployment in _pages(bedrock, "list_custom_model_deployments", "modelDeploymentSummaries"):
        tag_set = _tags(bedrock, deployment["customModelDeploymentArn"])
        if tag_set is not None:
            deployments.append(
                {
                    "arn": deployment["customModelDeploymentArn"],
                    "name": deployment["customModelDeploymentName"],
                    "status": deployment.get("status"),
                    "created": _iso(deployment.get("createdAt")),
                    "model_arn": deployment.get("modelArn"),
                    "tags": tag_set,
                }
            )
    models = _models(bedrock, "list_custom_models")
    imported_models = _models(bedrock, "list_imported_models")
    ours = {model["arn"] for model in models if tagging.is_ours(model["tags"])}
    jobs = []
    for job in _pages(bedrock, "list_model_customization_jobs", "modelCustomizationJobSummaries"):
        made_ours = job.get("status") == "Completed" and job.get("customModelArn") in ours
        if job.get("status") not in RELEVANT_JOB_STATUSES and not made_ours:
            continue
        tag_set = _tags(bedrock, job["jobArn"])
        if tag_set is not None:
            jobs.append(
                {
                    "arn": job["jobArn"],
                    "name": job["jobName"],
                    "status": job.get("status"),
                    "created": _iso(job.get("creationTime")),
                    "ended": _iso(job.get("endTime")),
                    "model_arn": job.get("customModelArn"),
                    "tags": tag_set,
                }
            )
    return {
        "throughputs": throughputs,
        "deployments": deployments,
        "models": models,
        "imported_models": imported_models,
        "jobs": jobs,
    }


def _models(bedrock: Any, operation: str) -> list[dict[str, Any]]:
    """Custom models (``list_custom_models``) or imported models (``list_imported_models``) with tags."""
    models = []
    for model in _pages(bedrock, operation, "modelSummaries"):
        tag_set = _tags(bedrock, model["modelArn"])
        if tag_set is not None:
            models.append(
                {
                    "arn": model["modelArn"],
                    "name": model["modelName"],
                    "created": _iso(model.get("creationTime")),
                    "tags": tag_set,
                }
            )
    return models


def registry_protected_arns(s3: Any, bucket: str) -> dict[str, list[str]]:
    """``{registry name: [ARNs it names]}`` for every ``registry/*.json`` in ``bucket``: the champion's
    throughput and model, the previous champion's model and a pending switch's (``protection.protected_arns``)."""
    result: dict[str, list[str]] = {}
    for name in promotion.registry_names(s3, bucket):
        registry, _ = promotion.load_registry(s3, bucket, name)
        result[name] = sorted(protection.protected_arns(registry))
    return result
