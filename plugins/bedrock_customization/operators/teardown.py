"""Run teardown operators: delete what a DAG run created and did not promote, found by the run's tags.

They run as teardown tasks, whatever failed before them, so they work from the tags every resource of ours
carries (``managed-by=airflow``, the run's ``dag-id`` and ``run-id``), never from XCom, and spare what the
model registry names or what is tagged as serving or kept.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Sequence, Set
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from bedrock_customization import protection, settings, tagging
from bedrock_customization.exceptions import BedrockCustomizationError, ResourceInUseError
from bedrock_customization.hooks.bedrock import BedrockCustomizationHook

if TYPE_CHECKING:
    from airflow.sdk import Context


class _RunTeardownOperator(AwsBaseOperator[BedrockCustomizationHook]):
    """What both teardowns share: the run to clean (default: this task's) and the registry it must spare."""

    aws_hook_class = BedrockCustomizationHook

    def __init__(
        self,
        *,
        dag_id: str | None = None,
        run_id: str | None = None,
        registry_bucket: str | None = None,
        registry_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dag_id_to_clean = dag_id
        self.run_id = run_id
        self.registry_bucket = registry_bucket
        self.registry_name = registry_name

    def run_to_clean(self, context: Context) -> tuple[str, str]:
        """(dag_id, run_id) of the run whose resources to delete."""
        ti = context["ti"]
        return self.dag_id_to_clean or ti.dag_id, self.run_id or ti.run_id

    def registry(self) -> dict[str, Any] | None:
        """The model registry, None without ``registry_bucket`` and ``registry_name`` (or when it is empty)."""
        if not (self.registry_bucket and self.registry_name):
            return None
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        from bedrock_customization import promotion

        s3 = S3Hook(aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify).get_conn()
        return promotion.load_registry(s3, self.registry_bucket, self.registry_name)[0]

    def run_resources(
        self, operation: str, key: str, prefix: str, dag_id: str, run_id: str, named: Set[str] = frozenset()
    ) -> list[tuple[dict[str, Any], dict[str, str]]]:
        """(summary, tags) of each resource the List* ``operation`` returns (under ``key``) that the run
        created or whose name or ARN (``<prefix>Name``, ``<prefix>Arn`` in the summary) is in ``named``."""
        found = []
        for summary in list(self.hook.paginate(operation, key)):
            arn = summary[f"{prefix}Arn"]
            tags = self.hook.resource_tags(arn)
            if tags is not None and (
                tagging.same_run(tags, dag_id, run_id) or arn in named or summary[f"{prefix}Name"] in named
            ):
                found.append((summary, tags))
        return found


class BedrockDeleteRunServingOperator(_RunTeardownOperator):
    """
    Teardown: delete every provisioned throughput and custom model deployment this DAG run created that is not
    serving.

    Runs first in the teardown: a model a throughput or deployment still uses cannot be deleted, so the losers'
    and the run's models go after it. Finds throughputs and deployments by their tags (``managed-by=airflow``,
    this ``dag-id`` and ``run-id``) plus any named in ``serving_names``, and spares what the model registry
    names (the champion's serving resource, a pending switch's throughput) and what is tagged ``role=serving``
    or ``decision=keep``. Robust to partial state: nothing created, already deleted, a throughput still
    Creating or Updating (waited for, then deleted). Returns ``{"deleted_throughputs": [arn...],
    "deleted_deployments": [arn...], "spared": [arn...], "already_gone": [name or arn...]}``.

    :param dag_id: DAG whose throughputs and deployments to delete. (templated; default: this task's DAG)
    :param run_id: Run whose throughputs and deployments to delete. (templated; default: this task's run)
    :param serving_names: Names or ARNs of throughputs or deployments to delete as well when not serving,
        e.g. one whose create call may have happened without tags. (templated)
    :param registry_bucket: Bucket of the model registry; with ``registry_name``, what it names is spared
        whatever its tags say. (templated)
    :param registry_name: Name of the model registry (``registry/<name>.json``). (templated)
    """

    template_fields: Sequence[str] = aws_template_fields(
        "dag_id_to_clean", "run_id", "serving_names", "registry_bucket", "registry_name"
    )

    def __init__(self, *, serving_names: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.serving_names = serving_names or []

    def execute(self, context: Context) -> dict[str, list[str]]:
        dag_id, run_id = self.run_to_clean(context)
        protected = protection.protected_arns(self.registry())
        named = {n for n in self.serving_names if n}
        wait = (settings.poll_interval(), settings.max_attempts("throughput_timeout"))
        kinds = (
            (
                "provisioned throughput",
                ("list_provisioned_model_throughputs", "provisionedModelSummaries", "provisionedModel"),
                "deleted_throughputs",
                lambda arn: self.hook.delete_throughput(arn, wait=wait),
            ),
            (
                "custom model deployment",
                ("list_custom_model_deployments", "modelDeploymentSummaries", "customModelDeployment"),
                "deleted_deployments",
                self.hook.delete_deployment,
            ),
        )
        result: dict[str, list[str]] = {
            "deleted_throughputs": [],
            "deleted_deployments": [],
            "spared": [],
            "already_gone": [],
        }
        seen: set[str] = set()
        for kind, (operation, key, prefix), deleted, delete in kinds:
            for summary, tags in self.run_resources(operation, key, prefix, dag_id, run_id, named):
                arn, name = summary[f"{prefix}Arn"], summary[f"{prefix}Name"]
                seen.update((arn, name))
                reason = _spare_reason(arn, tags, protected)
                if reason:
                    self.log.info("Sparing %s %s (%s): %s.", kind, name, arn, reason)
                    result["spared"].append(arn)
                elif delete(arn):
                    self.log.info("Deleted %s %s (%s, was %s).", kind, name, arn, summary.get("status"))
                    result[deleted].append(arn)
                else:
                    result["already_gone"].append(arn)
        result["already_gone"] += sorted(named - seen)
        if not any(result.values()):
            self.log.info("Run %s of %s left no provisioned throughput nor deployment.", run_id, dag_id)
        return result


def _spare_reason(arn: str, tags: dict[str, str], protected: set[str]) -> str | None:
    """Why a run's throughput or deployment stays (as the janitor decides), or None."""
    if arn in protected:
        return "the model registry names it"
    if tags.get(tagging.ROLE) == tagging.ROLE_SERVING:
        return "tagged role=serving"
    if tags.get(tagging.DECISION) == tagging.DECISION_KEEP:
        return "kept on purpose (decision=keep)"
    return None


class BedrockDeleteRunModelsOperator(_RunTeardownOperator):
    """
    Teardown: delete the custom models this DAG run made and did not promote.

    Runs after :class:`BedrockDeleteRunServingOperator` (which deletes the run's throughputs and deployments).
    Finds models by their tags (``managed-by=airflow``, this ``dag-id`` and ``run-id``), not by XCom, so it
    works whatever task failed. Never touches what the model registry names (champion, previous champion, a
    pending switch) or what is tagged ``role=serving`` or ``decision=keep``, and never deletes a model a
    throughput or deployment still uses (one just deleted is waited for; a model still used after that is left
    to the janitor). Each model's fate follows ``janitor.teardown_fate``: one of a failed run, a rejected one
    and one whose promotion never committed are deleted with ``retention="delete"``, or tagged
    ``decision=failed`` and kept with ``retention="keep"`` (the janitor deletes them after its
    ``retention_days``); one the run finished without deciding on is kept on purpose and tagged
    ``decision=keep``. The run failed when one of its tasks other than teardowns is failed or upstream_failed.
    Returns ``{"deleted": [arn...], "kept": [...], "spared": [...]}``.

    :param retention: ``delete`` or ``keep``: the fate of a model this run did not promote. (templated;
        default delete)
    :param dag_id: DAG whose models to clean. (templated; default: this task's DAG)
    :param run_id: Run whose models to clean. (templated; default: this task's run)
    :param registry_bucket: Bucket of the model registry. (templated)
    :param registry_name: Name of the model registry (``registry/<name>.json``); without it (or
        ``registry_bucket``) a model tagged ``decision=promote`` is never deleted. (templated)
    :param waiter_delay: Seconds between checks whether a model is still used. (default: the provider's
        ``poll_interval``)
    :param waiter_max_attempts: Checks before a model still used is left to the janitor. (default: 5)
    """

    template_fields: Sequence[str] = aws_template_fields(
        "retention", "dag_id_to_clean", "run_id", "registry_bucket", "registry_name"
    )

    def __init__(
        self,
        *,
        retention: str = "delete",
        waiter_delay: int | None = None,
        waiter_max_attempts: int = 5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.retention = retention
        self.waiter_delay = waiter_delay if waiter_delay is not None else settings.poll_interval()
        self.waiter_max_attempts = max(1, waiter_max_attempts)

    def execute(self, context: Context) -> dict[str, list[str]]:
        from bedrock_customization import janitor

        retention = str(self.retention).strip().lower()
        if retention not in ("delete", "keep"):
            raise BedrockCustomizationError(f"retention must be delete or keep; got {self.retention!r}.")
        dag_id, run_id = self.run_to_clean(context)
        registry_read = bool(self.registry_bucket and self.registry_name)
        protected = protection.protected_arns(self.registry())
        result: dict[str, list[str]] = {"deleted": [], "kept": [], "spared": []}
        models = self.run_resources("list_custom_models", "modelSummaries", "model", dag_id, run_id)
        run_failed = self._run_failed(context, dag_id, run_id) if models else None
        decide = functools.partial(
            janitor.teardown_fate, protected=protected, retention=retention, registry_read=registry_read
        )
        for model, tags in models:
            arn, name = model["modelArn"], model["modelName"]
            fate = decide(arn=arn, tags=tags, run_failed=run_failed)
            if fate.action == janitor.TEARDOWN_SPARE:
                self.log.info("Sparing custom model %s (%s): %s.", name, arn, fate.reason)
                result["spared"].append(arn)
                continue
            if fate.tag and not self._tag_decision(arn, fate.tag):
                continue
            if fate.action == janitor.TEARDOWN_KEEP:
                self.log.info("Keeping custom model %s (%s): %s.", name, arn, fate.reason)
                result["kept"].append(arn)
                continue
            self._delete_model(arn, name, fate.reason, result)
        if not any(result.values()):
            self.log.info("Run %s of %s left no custom model.", run_id, dag_id)
        return result

    def _delete_model(self, arn: str, name: str, reason: str, result: dict[str, list[str]]) -> None:
        """Delete a model once nothing uses it (a throughput just deleted may hold it for a moment)."""
        users: list[str] = []
        for attempt in range(self.waiter_max_attempts):
            users = self.hook.model_users(arn)
            if not users or attempt == self.waiter_max_attempts - 1:
                break
            self.log.info(
                "Custom model %s is still used by %s; checking again in %s s.", arn, users, self.waiter_delay
            )
            time.sleep(self.waiter_delay)
        try:
            if users:
                raise ResourceInUseError(f"still used by {'; '.join(users)}")
            deleted = self.hook.delete_custom_model(arn)
        except ResourceInUseError as error:
            self.log.warning(
                "Not deleting custom model %s (%s) although %s: %s. It keeps its decision tag, so the "
                "janitor deletes it once nothing uses it.",
                name,
                arn,
                reason,
                error,
            )
            result["kept"].append(arn)
            return
        if deleted:
            self.log.info("Deleted custom model %s (%s): %s.", name, arn, reason)
            result["deleted"].append(arn)

    def _tag_decision(self, arn: str, decision: str) -> bool:
        """Tag a model ``decision=<decision>``; False when it is already gone."""
        tagged = self.hook.describe(
            "tag_resource", resourceARN=arn, tags=tagging.to_aws({tagging.DECISION: decision})
        )
        if tagged is None:
            self.log.info("Custom model %s is already gone.", arn)
        return tagged is not None

    def _run_failed(self, context: Context, dag_id: str, run_id: str) -> bool | None:
        """Whether a task of the run (teardowns aside) failed; None when that cannot be read."""
        ti = context["ti"]
        if (ti.dag_id, ti.run_id) != (dag_id, run_id) or not hasattr(ti, "get_ti_count"):
            return None
        task_ids = [t.task_id for t in self.dag.tasks if not t.is_teardown] if self.has_dag() else None
        try:
            failed = ti.get_ti_count(
                dag_id=dag_id, run_ids=[run_id], task_ids=task_ids, states=["failed", "upstream_failed"]
            )
        except Exception as error:  # the outcome is only needed for models without a decision
            self.log.warning("Could not read the task states of run %s (%s).", run_id, error)
            return None
        self.log.info("Run %s of %s %s.", run_id, dag_id, "failed" if failed else "did not fail")
        return failed > 0


def reject_models(
    hook: BedrockCustomizationHook,
    losers: Sequence[dict[str, Any]],
    protected: set[str],
    delete: bool,
    log: Any,
) -> dict[str, list[str]]:
    """Tag each loser's model (a leaderboard entry) ``decision=reject`` and, with ``delete``, delete it.

    A model in ``protected`` is never touched; one still used is kept with its tag (the janitor deletes it
    later). Returns ``{"deleted": [...], "kept": [...], "already_gone": [...]}``.
    """
    result: dict[str, list[str]] = {"deleted": [], "kept": [], "already_gone": []}
    for entry in losers:
        arn = entry.get("model_arn")
        if not arn or arn in protected:
            continue
        tags = tagging.to_aws({tagging.DECISION: tagging.DECISION_REJECT})
        if hook.describe("tag_resource", resourceARN=arn, tags=tags) is None:
            result["already_gone"].append(arn)
            continue
        if not delete:
            result["kept"].append(arn)
            continue
        try:
            deleted = hook.delete_custom_model(arn)
        except ResourceInUseError as error:
            log.warning("%s", error)
            result["kept"].append(arn)
            continue
        result["deleted" if deleted else "already_gone"].append(arn)
        log.info(
            "#%s %s: custom model %s %s.",
            entry.get("rank"),
            entry.get("label"),
            arn,
            "deleted" if deleted else "already gone",
        )
    return result
