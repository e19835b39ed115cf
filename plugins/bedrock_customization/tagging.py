"""The tags that mark AWS resources as created by this provider, and helpers to read and write them.

Every resource a DAG run creates carries ``bedrock-customization:managed-by=airflow`` plus the DAG id, run id
and task id that created it. Throughputs also carry a role (``evaluation`` while a candidate is measured,
``serving`` once promoted) and custom models the promotion decision. The janitor and the teardown touch only
resources with ``managed-by=airflow``: anything untagged belongs to someone else.

Pure standard library: usable from DAG files, operators and the janitor's planner.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

PREFIX = "bedrock-customization:"
MANAGED_BY = f"{PREFIX}managed-by"
DAG_ID = f"{PREFIX}dag-id"
RUN_ID = f"{PREFIX}run-id"
TASK_ID = f"{PREFIX}task-id"
ROLE = f"{PREFIX}role"
DECISION = f"{PREFIX}decision"
IDEMPOTENCY_KEY = f"{PREFIX}idempotency-key"

MANAGED_BY_VALUE = "airflow"
ROLE_EVALUATION = "evaluation"
ROLE_SERVING = "serving"
DECISION_PROMOTE = "promote"
#: The run did not promote it: its evaluation rejected it or was inconclusive (the teardown and the janitor
#: handle both alike, per ``retention``).
DECISION_REJECT = "reject"
#: A custom model of a run that failed before deciding on it (the teardown's mark; the janitor deletes it
#: after ``retention_days``).
DECISION_FAILED = "failed"
#: Kept on purpose (a sweep's winner without evaluation, an imported model the run keeps): neither the
#: teardown nor the janitor ever deletes it. Tag a resource of ours with it by hand to keep it too.
DECISION_KEEP = "keep"
#: An imported model its run deletes after the smoke test: the janitor deletes it after ``ttl_hours``.
DECISION_DELETE = "delete"

# Bedrock tag values: up to 256 characters of [a-zA-Z0-9 _.:/=+@-].
_MAX_VALUE = 256
_UNSAFE_VALUE = re.compile(r"[^a-zA-Z0-9\s_.:/=+@-]")

TagSet = Iterable[Mapping[str, str]] | Mapping[str, str] | None


def clean_value(value: object) -> str:
    """``value`` as a valid Bedrock tag value (disallowed characters become ``_``, cut at 256)."""
    return _UNSAFE_VALUE.sub("_", str(value))[:_MAX_VALUE]


def run_tags(dag_id: str, run_id: str, task_id: str | None = None, **extra: str) -> dict[str, str]:
    """Ownership tags of a resource made by ``task_id`` of a DAG run, plus ``extra`` (``role="serving"``...)."""
    result = {MANAGED_BY: MANAGED_BY_VALUE, DAG_ID: dag_id, RUN_ID: run_id}
    if task_id:
        result[TASK_ID] = task_id
    for name, value in extra.items():
        result[f"{PREFIX}{name.replace('_', '-')}"] = value
    return {key: clean_value(value) for key, value in result.items()}


def to_aws(tag_set: Mapping[str, str]) -> list[dict[str, str]]:
    """``{"k": "v"}`` -> Bedrock's ``[{"key": "k", "value": "v"}]``."""
    return [{"key": key, "value": clean_value(value)} for key, value in tag_set.items()]


def from_aws(tag_set: TagSet) -> dict[str, str]:
    """Bedrock's ``[{"key": ..., "value": ...}]`` (or an already flat dict, or None) -> ``{"k": "v"}``."""
    if not tag_set:
        return {}
    if isinstance(tag_set, Mapping):
        return {str(k): str(v) for k, v in tag_set.items()}
    return {str(tag["key"]): str(tag["value"]) for tag in tag_set}


def merge(*tag_sets: TagSet) -> dict[str, str]:
    """Merge tag sets given in either shape; later sets win."""
    merged: dict[str, str] = {}
    for tag_set in tag_sets:
        merged.update(from_aws(tag_set))
    return merged


def is_ours(tag_set: Mapping[str, str]) -> bool:
    """Whether the resource was created by this provider (``managed-by=airflow``)."""
    return tag_set.get(MANAGED_BY) == MANAGED_BY_VALUE


def same_run(tag_set: Mapping[str, str], dag_id: str, run_id: str) -> bool:
    """Whether the resource is ours and was created by run ``run_id`` of ``dag_id``."""
    return (
        is_ours(tag_set)
        and tag_set.get(DAG_ID) == clean_value(dag_id)
        and tag_set.get(RUN_ID) == clean_value(run_id)
    )
