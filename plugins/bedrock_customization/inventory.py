"""Read-only listing of Bedrock customization resources with their tags, in the shape ``janitor.plan`` takes.

Clients are passed in (``BedrockHook(...).conn``, ``S3Hook(...).get_conn()``), so this module imports no AWS
SDK and its output is JSON-ready (ISO 8601 times) for XCom.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from bedrock_customization import promotion, tagging

#: Only jobs in these states matter to the janitor (to stop, or to mark their run as failed).
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
    """``{"throughputs": [...], "models": [...], "jobs": [...]}`` with tags and creation times."""
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
    models = []
    for model in _pages(bedrock, "list_custom_models", "modelSummaries"):
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
    jobs = []
    for job in _pages(bedrock, "list_model_customization_jobs", "modelCustomizationJobSummaries"):
        if job.get("status") not in RELEVANT_JOB_STATUSES:
            continue
        tag_set = _tags(bedrock, job["jobArn"])
        if tag_set is not None:
            jobs.append(
                {
                    "arn": job["jobArn"],
                    "name": job["jobName"],
                    "status": job.get("status"),
                    "created": _iso(job.get("creationTime")),
                    "tags": tag_set,
                }
            )
    return {"throughputs": throughputs, "models": models, "jobs": jobs}


def registry_serving_arns(s3: Any, bucket: str) -> dict[str, list[str]]:
    """``{registry name: [serving ARNs]}`` for every ``registry/*.json`` in ``bucket``."""
    result: dict[str, list[str]] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=promotion.REGISTRY_PREFIX):
        for item in page.get("Contents", []):
            key = item["Key"]
            name = key.removeprefix(promotion.REGISTRY_PREFIX).removesuffix(".json")
            if not key.endswith(".json") or not promotion.is_valid_name(name):
                continue
            registry, _ = promotion.load_registry(s3, bucket, name)
            result[name] = sorted(promotion.serving_arns(registry))
    return result
