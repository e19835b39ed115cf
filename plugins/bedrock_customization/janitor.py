"""The cleanup rules: what the janitor deletes or stops and why; what a run's teardown does with its models.

Pure, no AWS. Inputs are plain dicts (what the janitor DAG lists from Bedrock, JSON-friendly so they travel
over XCom):

* throughputs: ``{"arn", "name", "status", "created", "tags", "model_arn", "desired_model_arn"}``
* custom model deployments: ``{"arn", "name", "status", "created", "tags", "model_arn"}``
* custom models and imported models: ``{"arn", "name", "created", "tags"}``
* customization jobs: ``{"arn", "name", "status", "created", "tags", "model_arn", "ended"}``
* protected ARNs: every ARN a model registry names (:func:`bedrock_customization.protection.protected_arns`:
  the champion's throughput and model, the previous champion's model, both sides of a pending in-place switch)

``created`` and ``ended`` are timezone-aware datetimes or ISO 8601 strings. The janitor's rules
(:func:`plan`):

* a resource without ``bedrock-customization:managed-by=airflow`` is never touched (not ours), nor one a
  registry names, nor one tagged ``role=serving`` or ``decision=keep``, nor a model a throughput or
  deployment that stays still uses;
* a throughput or custom model deployment of ours older than ``ttl_hours`` is deleted: a run that crashed
  before its teardown left it behind (throughputs are billed by the hour);
* a custom model of ours is deleted ``retention_days`` after it was made when its run rejected it
  (``decision=reject``), its run failed (``decision=failed``, or a customization job of its run Failed or
  was Stopped), or it says ``decision=promote`` but no registry names it (the promotion never committed, or
  it is a champion replaced more than one promotion ago); with no decision, ``retention_days`` after its
  customization job Completed. The last two need the registries: without them, such models are kept;
* an imported model of ours is deleted after ``ttl_hours`` when its run meant to delete it
  (``decision=delete``: a killed import run), else after ``retention_days``;
* a customization job of ours still InProgress after ``max_job_hours`` is stopped.

A run's teardown (:func:`teardown_fate`) decides, for each custom model tagged with the run's dag-id and
run-id that no registry names: a rejected one, a failed run's one and an uncommitted promotion are deleted
with ``retention=delete`` or tagged ``decision=failed`` and kept with ``retention=keep`` (the janitor deletes
them after ``retention_days``); one the run finished without deciding on is kept on purpose
(``decision=keep``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from bedrock_customization import promotion, tagging

DELETE_THROUGHPUT = "delete_throughput"
DELETE_DEPLOYMENT = "delete_deployment"
DELETE_CUSTOM_MODEL = "delete_custom_model"
DELETE_IMPORTED_MODEL = "delete_imported_model"
STOP_JOB = "stop_job"
ACTIONS = (DELETE_THROUGHPUT, DELETE_DEPLOYMENT, DELETE_CUSTOM_MODEL, DELETE_IMPORTED_MODEL, STOP_JOB)
FAILED_JOB_STATUSES = ("Failed", "Stopped")


@dataclass(frozen=True)
class Action:
    """Something to do (or, in ``JanitorPlan.spared``, deliberately not to do) to one resource."""

    action: str  # one of ACTIONS, or spare
    kind: str  # throughput | deployment | custom_model | imported_model | job
    arn: str
    name: str
    reason: str
    age: str = ""

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    def describe(self) -> str:
        age = f", {self.age} old" if self.age else ""
        return f"{self.action} {self.kind} {self.name} ({self.arn}{age}): {self.reason}"


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


def age_text(delta: timedelta) -> str:
    """``"5.0 h"`` up to two days, ``"12.3 d"`` beyond."""
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"


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
    deployments: Iterable[Mapping[str, Any]] = (),
    imported_models: Iterable[Mapping[str, Any]] = (),
    registries_read: bool = True,
) -> JanitorPlan:
    """Decide what to clean up; see the module docstring for the rules.

    ``serving_arns`` are the ARNs the registries name (:func:`bedrock_customization.protection.protected_arns`);
    ``registries_read`` is False when no registry could be read, and then models whose deletion depends on
    "no registry names it" are kept.
    """
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
        age = age_text(_age(resource, now)) if resource.get("created") else ""
        spared.append(Action("spare", kind, resource["arn"], resource.get("name", ""), reason, age))

    def act(action: str, kind: str, resource: Mapping[str, Any], reason: str, age: timedelta) -> None:
        actions.append(Action(action, kind, resource["arn"], resource.get("name", ""), reason, age_text(age)))

    def ours(resources: Iterable[Mapping[str, Any]]) -> Iterator[tuple[Mapping[str, Any], dict[str, str]]]:
        """The resources with our ``managed-by`` tag, each with its tags; the others are counted."""
        nonlocal not_ours
        for resource in resources:
            tag_set = tagging.from_aws(resource.get("tags"))
            if tagging.is_ours(tag_set):
                yield resource, tag_set
            else:
                not_ours += 1

    # Throughputs (billed by the hour) and deployments first: a model they leave is free to go.
    remaining_models: set[str] = set()
    serving_kinds = (
        (throughputs, "throughput", DELETE_THROUGHPUT, "model_arn", "desired_model_arn"),
        (deployments, "deployment", DELETE_DEPLOYMENT, "model_arn"),
    )
    for resources, kind, delete, *model_keys in serving_kinds:
        for resource in resources:
            tag_set = tagging.from_aws(resource.get("tags"))
            used = {resource.get(key) for key in model_keys} - {None}
            if not tagging.is_ours(tag_set):
                not_ours += 1
                remaining_models |= used
                continue
            age = _age(resource, now)
            if resource["arn"] in serving:
                spare(kind, resource, "serving (recorded in a model registry)")
            elif tag_set.get(tagging.ROLE) == tagging.ROLE_SERVING:
                spare(kind, resource, "tagged role=serving")
            elif tag_set.get(tagging.DECISION) == tagging.DECISION_KEEP:
                spare(kind, resource, "kept on purpose (decision=keep)")
            elif age < ttl:
                spare(kind, resource, f"{_hours(age)} old, within the {ttl_hours:g} h TTL")
            else:
                dag_id, run_id = _run_key(tag_set)
                act(
                    delete,
                    kind,
                    resource,
                    f"ours, not serving, {_hours(age)} old (TTL {ttl_hours:g} h), "
                    f"status {resource.get('status')}, role {tag_set.get(tagging.ROLE, '-')}, "
                    f"left by run {run_id} of {dag_id}",
                    age,
                )
                continue
            remaining_models |= used

    # Which runs failed (from their customization jobs), and which job made each model.
    failed_runs: dict[tuple[str | None, str | None], str] = {}
    completed: dict[str, Mapping[str, Any]] = {}
    job_list = list(jobs)
    for job in job_list:
        tag_set = tagging.from_aws(job.get("tags"))
        if not tagging.is_ours(tag_set):
            continue
        if job.get("status") in FAILED_JOB_STATUSES:
            failed_runs[_run_key(tag_set)] = f"customization job {job.get('name')} {job.get('status')}"
        elif job.get("status") == "Completed" and job.get("model_arn"):
            completed[job["model_arn"]] = job

    def spared_model(resource: Mapping[str, Any], tag_set: Mapping[str, str]) -> str | None:
        """Why a model of ours is kept whatever its age, or None."""
        if resource["arn"] in serving:
            return "serving (recorded in a model registry)"
        if resource["arn"] in remaining_models:
            return "used by a provisioned throughput or deployment that stays"
        if tag_set.get(tagging.ROLE) == tagging.ROLE_SERVING:
            return "tagged role=serving"
        if tag_set.get(tagging.DECISION) == tagging.DECISION_KEEP:
            return "kept on purpose (decision=keep)"
        return None

    unsure = "no model registry was read, so whether one names it is unknown"
    for model, tag_set in ours(models):
        reason = spared_model(model, tag_set)
        if reason:
            spare("custom_model", model, reason)
            continue
        decision = tag_set.get(tagging.DECISION)
        age = _age(model, now)
        if decision == tagging.DECISION_REJECT:
            why = "its run rejected it (decision=reject)"
        elif decision == tagging.DECISION_FAILED:
            why = "its run failed before deciding on it (decision=failed)"
        elif _run_key(tag_set) in failed_runs:
            why = f"its run failed ({failed_runs[_run_key(tag_set)]})"
        elif decision == tagging.DECISION_PROMOTE:
            if not registries_read:
                spare("custom_model", model, f"decision=promote, but {unsure}")
                continue
            why = "decision=promote but no model registry names it (never committed, or replaced since)"
        else:
            job = completed.get(model["arn"])
            if job is None:
                spare(
                    "custom_model", model, f"decision={decision or 'none recorded'}, no completed job of ours"
                )
                continue
            if not registries_read:
                spare("custom_model", model, f"no decision recorded, but {unsure}")
                continue
            age = now - _when(job.get("ended") or job["created"])
            why = f"no decision recorded, no registry names it, its job {job.get('name')} completed"
            if age < retention:
                spare(
                    "custom_model",
                    model,
                    f"{why} {age_text(age)} ago, within {retention_days:g} days retention",
                )
                continue
            act(
                DELETE_CUSTOM_MODEL,
                "custom_model",
                model,
                f"ours, not serving, {why} {age_text(age)} ago (retention {retention_days:g} days)",
                _age(model, now),
            )
            continue
        if age < retention:
            spare(
                "custom_model",
                model,
                f"{why}, but {_hours(age)} old is within {retention_days:g} days retention",
            )
            continue
        act(
            DELETE_CUSTOM_MODEL,
            "custom_model",
            model,
            f"ours, not serving, {why}, {age.days} days old (retention {retention_days:g} days)",
            age,
        )

    for model, tag_set in ours(imported_models):
        reason = spared_model(model, tag_set)
        if reason:
            spare("imported_model", model, reason)
            continue
        age = _age(model, now)
        dag_id, run_id = _run_key(tag_set)
        if tag_set.get(tagging.DECISION) == tagging.DECISION_DELETE:
            limit, why = ttl, f"its run meant to delete it (decision=delete), TTL {ttl_hours:g} h"
        else:
            limit, why = retention, f"no decision=keep tag, retention {retention_days:g} days"
        if age < limit:
            spare("imported_model", model, f"{age_text(age)} old, within its limit ({why})")
            continue
        act(
            DELETE_IMPORTED_MODEL,
            "imported_model",
            model,
            f"ours, not serving, {age_text(age)} old, {why}, left by run {run_id} of {dag_id}",
            age,
        )

    for job, _ in ours(job_list):
        if job.get("status") != "InProgress":
            continue
        age = _age(job, now)
        if age < max_job:
            spare("job", job, f"InProgress for {_hours(age)}, within {max_job_hours:g} h")
            continue
        act(
            STOP_JOB,
            "job",
            job,
            f"ours, InProgress for {_hours(age)}, longer than the {max_job_hours:g} h maximum",
            age,
        )

    return JanitorPlan(tuple(actions), tuple(spared), not_ours)


# --------------------------------------------------------------------------------------------- reporting


def report(
    planned: Iterable[Mapping[str, Any]],
    done: Iterable[Mapping[str, Any]] = (),
    failed: Iterable[Mapping[str, Any]] = (),
    *,
    dry_run: bool,
    spared: int = 0,
    not_ours: int = 0,
) -> dict[str, Any]:
    """Counts per action (planned, done, failed) of one janitor run, JSON-ready."""
    counts = {action: {"planned": 0, "done": 0, "failed": 0} for action in ACTIONS}
    for key, items in (("planned", planned), ("done", done), ("failed", failed)):
        for item in items:
            counts.setdefault(item["action"], {"planned": 0, "done": 0, "failed": 0})[key] += 1
    return {"dry_run": dry_run, "counts": counts, "spared": spared, "not_ours": not_ours}


def summary_line(result: Mapping[str, Any]) -> str:
    """``report`` in one sentence."""
    verb = "would" if result["dry_run"] else "did"
    parts = [
        f"{action} {c['planned']} planned"
        + ("" if result["dry_run"] else f", {c['done']} done, {c['failed']} failed")
        for action, c in result["counts"].items()
        if c["planned"]
    ]
    return (
        f"Janitor {verb}: {'; '.join(parts) or 'nothing'}. Kept {result['spared']} of ours; "
        f"{result['not_ours']} not ours."
    )


# --------------------------------------------------------------------------------------------- teardown


TEARDOWN_DELETE = "delete"
TEARDOWN_KEEP = "keep"
TEARDOWN_SPARE = "spare"


@dataclass(frozen=True)
class ModelFate:
    """What a run's teardown does with one of the run's custom models: ``delete`` (after tagging it ``tag``,
    if given), ``keep`` (tagged ``tag``) or ``spare`` (left as it is)."""

    action: str
    tag: str | None
    reason: str


def teardown_fate(
    *,
    arn: str,
    tags: Mapping[str, str],
    protected: Iterable[str],
    retention: str,
    run_failed: bool | None,
    registry_read: bool = True,
) -> ModelFate:
    """
    The teardown's rule for a custom model created by its run (see the module docstring).

    :param protected: The ARNs the registry names (:func:`.protection.protected_arns`).
    :param retention: ``delete`` or ``keep``: the fate of a model the run did not promote.
    :param run_failed: Whether a task of the run failed; None when that could not be found out (then nothing
        is deleted or kept for good: the model is tagged ``decision=failed`` for the janitor).
    :param registry_read: False when no registry was given: a ``decision=promote`` model is then spared.
    """
    if retention not in promotion.RETENTIONS:
        raise ValueError(f"retention must be one of {', '.join(promotion.RETENTIONS)}; got {retention!r}")
    decision = tags.get(tagging.DECISION)
    if arn in set(protected):
        return ModelFate(TEARDOWN_SPARE, None, "the model registry names it (champion or previous champion)")
    if tags.get(tagging.ROLE) == tagging.ROLE_SERVING:
        return ModelFate(TEARDOWN_SPARE, None, "tagged role=serving")
    if decision == tagging.DECISION_KEEP:
        return ModelFate(TEARDOWN_SPARE, None, "kept on purpose (decision=keep)")
    if decision == tagging.DECISION_REJECT:
        if retention == "delete":
            return ModelFate(
                TEARDOWN_DELETE, None, "this run rejected it (decision=reject), retention=delete"
            )
        return ModelFate(
            TEARDOWN_SPARE,
            None,
            "this run rejected it (decision=reject); kept per retention=keep, the janitor deletes it after "
            "its retention_days",
        )
    if decision == tagging.DECISION_PROMOTE:
        if not registry_read:
            return ModelFate(TEARDOWN_SPARE, None, "decision=promote and no registry to check it against")
        if not run_failed:
            return ModelFate(TEARDOWN_SPARE, None, "promoted by this run (decision=promote)")
        why = "decision=promote but the registry does not name it: the promotion did not commit"
    elif decision == tagging.DECISION_FAILED:
        why = "the run failed before deciding on it (decision=failed)"
    elif run_failed is None:
        return ModelFate(
            TEARDOWN_KEEP,
            tagging.DECISION_FAILED,
            "no decision recorded and the run's outcome is unknown: tagged decision=failed and kept, the "
            "janitor deletes it after its retention_days",
        )
    elif not run_failed:
        return ModelFate(
            TEARDOWN_KEEP,
            tagging.DECISION_KEEP,
            "the run succeeded without deciding on it (e.g. a sweep's winner without evaluation): kept on "
            "purpose, tagged decision=keep",
        )
    else:
        why = "the run failed before deciding on it"
    if retention == "delete" and run_failed is not None:
        return ModelFate(TEARDOWN_DELETE, tagging.DECISION_FAILED, f"{why}, retention=delete")
    return ModelFate(
        TEARDOWN_KEEP,
        tagging.DECISION_FAILED,
        f"{why}; kept per retention={retention}, tagged decision=failed: the janitor deletes it after its "
        "retention_days",
    )
