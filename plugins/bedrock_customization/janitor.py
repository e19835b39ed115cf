"""The janitor's plan: which of our Bedrock resources to delete or stop, and why. Pure, no AWS.

Inputs are plain dicts (what the janitor DAG lists from Bedrock, JSON-friendly so they travel over XCom):

* throughputs: ``{"arn", "name", "status", "created", "tags", "model_arn", "desired_model_arn"}``
* custom models: ``{"arn", "name", "created", "tags"}``
* customization jobs: ``{"arn", "name", "status", "created", "tags"}``
* serving ARNs: every ``serving_throughput_arn`` / ``serving_model_arn`` of the model registries

``created`` is a timezone-aware datetime or an ISO 8601 string. The rules:

* a resource without ``bedrock-customization:managed-by=airflow`` is never touched (not ours);
* a throughput of ours that is not serving (not in the registry, not tagged ``role=serving``) and older
  than ``ttl_hours`` is deleted: a run that crashed before its teardown left it behind, billed hourly;
* a custom model of ours that is not serving nor used by a remaining throughput, older than
  ``retention_days``, is deleted when its run rejected it (tag ``decision=reject``) or when a customization
  job of its run Failed or was Stopped (a model with no decision and no failed job is kept: when unsure,
  the janitor does nothing);
* a customization job of ours still InProgress after ``max_job_hours`` is stopped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from bedrock_customization import tagging

DELETE_THROUGHPUT = "delete_throughput"
DELETE_CUSTOM_MODEL = "delete_custom_model"
STOP_JOB = "stop_job"
FAILED_JOB_STATUSES = ("Failed", "Stopped")


@dataclass(frozen=True)
class Action:
    """Something to do (or, in ``JanitorPlan.spared``, deliberately not to do) to one resource."""

    action: str  # delete_throughput | delete_custom_model | stop_job | spare
    kind: str  # throughput | custom_model | job
    arn: str
    name: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def describe(self) -> str:
        return f"{self.action} {self.kind} {self.name} ({self.arn}): {self.reason}"


@dataclass(frozen=True)
class JanitorPlan:
    """The actions to take, the resources of ours left alone with the reason, and how many were not ours."""

    actions: tuple[Action, ...]
    spared: tuple[Action, ...]
    not_ours: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "actions": [a.to_dict() for a in self.actions],
            "spared": [a.to_dict() for a in self.spared],
            "not_ours": self.not_ours,
        }


def _when(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError(f"creation time {value!r} has no timezone")
    return moment


def _age(resource: Mapping[str, Any], now: datetime) -> timedelta:
    return now - _when(resource["created"])


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} h"


def _run_key(tag_set: Mapping[str, str]) -> tuple[str | None, str | None]:
    return tag_set.get(tagging.DAG_ID), tag_set.get(tagging.RUN_ID)


def plan(
    *,
    throughputs: Iterable[Mapping[str, Any]],
    models: Iterable[Mapping[str, Any]],
    jobs: Iterable[Mapping[str, Any]],
    serving_arns: Iterable[str],
    now: datetime,
    ttl_hours: float,
    retention_days: float,
    max_job_hours: float,
) -> JanitorPlan:
    """Decide what to clean up; see the module docstring for the rules."""
    if min(ttl_hours, retention_days, max_job_hours) < 0:
        raise ValueError("ttl_hours, retention_days and max_job_hours must not be negative")
    serving = set(serving_arns)
    ttl, retention, max_job = (
        timedelta(hours=ttl_hours),
        timedelta(days=retention_days),
        timedelta(hours=max_job_hours),
    )
    actions: list[Action] = []
    spared: list[Action] = []
    not_ours = 0

    def spare(kind: str, resource: Mapping[str, Any], reason: str) -> None:
        spared.append(Action("spare", kind, resource["arn"], resource.get("name", ""), reason))

    # Throughputs: billed by the hour, so they go first.
    remaining_models: set[str] = set()
    for tp in throughputs:
        tag_set = tagging.from_aws(tp.get("tags"))
        used = {tp.get("model_arn"), tp.get("desired_model_arn")} - {None}
        if not tagging.is_ours(tag_set):
            not_ours += 1
            remaining_models |= used
            continue
        age = _age(tp, now)
        if tp["arn"] in serving:
            spare("throughput", tp, "serving (recorded in a model registry)")
        elif tag_set.get(tagging.ROLE) == tagging.ROLE_SERVING:
            spare("throughput", tp, "tagged role=serving")
        elif age < ttl:
            spare("throughput", tp, f"{_hours(age)} old, within the {ttl_hours:g} h TTL")
        else:
            dag_id, run_id = _run_key(tag_set)
            actions.append(
                Action(
                    DELETE_THROUGHPUT,
                    "throughput",
                    tp["arn"],
                    tp.get("name", ""),
                    f"ours, not serving, {_hours(age)} old (TTL {ttl_hours:g} h), status {tp.get('status')}, "
                    f"role {tag_set.get(tagging.ROLE, '-')}, left by run {run_id} of {dag_id}",
                )
            )
            continue
        remaining_models |= used

    # Which runs failed, from the status of their customization jobs.
    failed_runs: dict[tuple[str | None, str | None], str] = {}
    job_list = list(jobs)
    for job in job_list:
        tag_set = tagging.from_aws(job.get("tags"))
        if tagging.is_ours(tag_set) and job.get("status") in FAILED_JOB_STATUSES:
            failed_runs[_run_key(tag_set)] = f"customization job {job.get('name')} {job.get('status')}"

    for model in models:
        tag_set = tagging.from_aws(model.get("tags"))
        if not tagging.is_ours(tag_set):
            not_ours += 1
            continue
        decision = tag_set.get(tagging.DECISION)
        if model["arn"] in serving:
            spare("custom_model", model, "serving (recorded in a model registry)")
            continue
        if model["arn"] in remaining_models:
            spare("custom_model", model, "used by a provisioned throughput that stays")
            continue
        if decision == tagging.DECISION_REJECT:
            why = "its run rejected it (decision=reject)"
        elif _run_key(tag_set) in failed_runs:
            why = f"its run failed ({failed_runs[_run_key(tag_set)]})"
        else:
            spare("custom_model", model, f"decision={decision or 'none recorded'}, run not failed")
            continue
        age = _age(model, now)
        if age < retention:
            spare(
                "custom_model",
                model,
                f"{why}, but {_hours(age)} old is within {retention_days:g} days retention",
            )
            continue
        actions.append(
            Action(
                DELETE_CUSTOM_MODEL,
                "custom_model",
                model["arn"],
                model.get("name", ""),
                f"ours, not serving, {why}, {age.days} days old (retention {retention_days:g} days)",
            )
        )

    for job in job_list:
        tag_set = tagging.from_aws(job.get("tags"))
        if not tagging.is_ours(tag_set):
            not_ours += 1
            continue
        if job.get("status") != "InProgress":
            continue
        age = _age(job, now)
        if age < max_job:
            spare("job", job, f"InProgress for {_hours(age)}, within {max_job_hours:g} h")
            continue
        actions.append(
            Action(
                STOP_JOB,
                "job",
                job["arn"],
                job.get("name", ""),
                f"ours, InProgress for {_hours(age)}, longer than the {max_job_hours:g} h maximum",
            )
        )

    return JanitorPlan(tuple(actions), tuple(spared), not_ours)
