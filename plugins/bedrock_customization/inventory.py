"""Read-only listing of Bedrock customization resources with their tags, in the shape ``janitor.plan`` takes.

Clients are passed in (``BedrockHook(...).conn``, ``S3Hook(...).get_conn()``), so this module imports no AWS
SDK and its output is JSON-ready (ISO 8601 times) for XCom.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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


#: How each kind of serving resource is listed: (List* operation, its result key, our field -> theirs).
_SERVING_LISTINGS = {
    "throughputs": (
        "list_provisioned_model_throughputs",
        "provisionedModelSummaries",
        {
            "arn": "provisionedModelArn",
            "name": "provisionedModelName",
            "status": "status",
            "created": "creationTime",
            "model_arn": "modelArn",
            "desired_model_arn": "desiredModelArn",
        },
    ),
    "deployments": (
        "list_custom_model_deployments",
        "modelDeploymentSummaries",
        {
            "arn": "customModelDeploymentArn",
            "name": "customModelDeploymentName",
            "status": "status",
            "created": "createdAt",
            "model_arn": "modelArn",
        },
    ),
}


def list_resources(bedrock: Any) -> dict[str, list[dict[str, Any]]]:
    """``{"throughputs", "deployments", "models", "imported_models", "jobs"}``, each a list of resources with
    their tags and creation times (resources deleted while listing are left out)."""
    serving = {
        kind: _tagged(bedrock, _pages(bedrock, operation, key), **fields)
        for kind, (operation, key, fields) in _SERVING_LISTINGS.items()
    }
    models = _models(bedrock, "list_custom_models")
    imported_models = _models(bedrock, "list_imported_models")
    ours = {model["arn"] for model in models if tagging.is_ours(model["tags"])}
    relevant_jobs = (
        job
        for job in _pages(bedrock, "list_model_customization_jobs", "modelCustomizationJobSummaries")
        if job.get("status") in RELEVANT_JOB_STATUSES
        or (job.get("status") == "Completed" and job.get("customModelArn") in ours)
    )
    jobs = _tagged(
        bedrock,
        relevant_jobs,
        arn="jobArn",
        name="jobName",
        status="status",
        created="creationTime",
        ended="endTime",
        model_arn="customModelArn",
    )
    return {
        **serving,
        "models": models,
        "imported_models": imported_models,
        "jobs": jobs,
    }


def _models(bedrock: Any, operation: str) -> list[dict[str, Any]]:
    """Custom models (``list_custom_models``) or imported models (``list_imported_models``) with tags."""
    summaries = _pages(bedrock, operation, "modelSummaries")
    return _tagged(bedrock, summaries, arn="modelArn", name="modelName", created="creationTime")


def _tagged(bedrock: Any, summaries: Iterable[dict], **fields: str) -> list[dict[str, Any]]:
    """Each summary as ``{field: summary[its key]}`` (times in ISO 8601) plus its ``tags``; a resource
    deleted while we listed is left out."""
    resources = []
    for summary in summaries:
        tag_set = _tags(bedrock, summary[fields["arn"]])
        if tag_set is not None:
            resource = {field: _iso(summary.get(key)) for field, key in fields.items()}
            resources.append({**resource, "tags": tag_set})
    return resources


def registry_protected_arns(s3: Any, bucket: str) -> dict[str, list[str]]:
    """``{registry name: [ARNs it names]}`` for every ``registry/*.json`` in ``bucket``: the champion's
    throughput and model, the previous champion's model and a pending switch's (``protection.protected_arns``)."""
    result: dict[str, list[str]] = {}
    for name in promotion.registry_names(s3, bucket):
        registry, _ = promotion.load_registry(s3, bucket, name)
        result[name] = sorted(protection.protected_arns(registry))
    return result
