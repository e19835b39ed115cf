"""The promotion operator: carry out ``promotion.plan_promotion`` against Bedrock and the S3 model registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk import Asset

from bedrock_customization import promotion, tagging
from bedrock_customization.exceptions import (
    BedrockCustomizationError,
    ChampionChangedError,
    PromotionRolledBackError,
)
from bedrock_customization.hooks.bedrock import BedrockCustomizationHook
from bedrock_customization.links.bedrock import (
    BedrockCustomModelDeploymentLink,
    BedrockProvisionedThroughputLink,
    BedrockRunResultsLink,
)
from bedrock_customization.operators.registry import intent_max_age, load_settled_registry, undo_switch
from bedrock_customization.operators.wait import BedrockWaitOperator, ProvisionedThroughputWait

if TYPE_CHECKING:
    from airflow.sdk import Context


class BedrockPromoteModelOperator(ProvisionedThroughputWait, BedrockWaitOperator):
    """
    Promote or reject an evaluated custom model (or keep the champion when the evaluation was inconclusive), and
    record the champion in the S3 model registry.

    The champion is served by a provisioned throughput or an on-demand custom model deployment, and the
    candidate was evaluated on either (``evaluation_serving_arn``); :func:`bedrock_customization.promotion.
    plan_promotion` decides the steps. **promote**: a champion's live throughput of the same base model is
    switched to a candidate evaluated on a throughput in place (UpdateProvisionedModelThroughput, waited
    for; the evaluation throughput is deleted); otherwise the candidate's evaluation throughput or deployment
    becomes the serving one (tagged ``role=serving``) and the champion's is deleted. The candidate is tagged
    ``decision=promote``, the registry ``registry/<registry_name>.json`` is written (conditionally;
    ``serving_arn``, ``serving_kind``) and the replaced champion model is kept or deleted per
    ``champion_retention``. **reject**: the evaluation throughput or deployment is deleted (never the
    champion's), the candidate tagged ``decision=reject`` (the janitor reads it) and deleted or kept per
    ``retention``. **inconclusive**: the champion stays; the candidate is handled like a rejected one, and the
    result says ``inconclusive``; a candidate the registry already names stays the champion
    (``already_promoted``).

    Every run emits an event on the Asset ``bedrock://registry/<registry_name>`` (a task outlet) whose
    ``extra`` carries the decision, the outcome, ``registry_changed`` and ``serving_arn``, ``serving_kind``
    and ``serving_model_arn``; consumers scheduled on the asset should check ``registry_changed`` and invoke
    ``serving_arn``. Safe to retry: the plan is recomputed from the registry and each step is idempotent.
    Returns a dict: ``decision``, ``outcome`` (``updated_in_place`` | ``evaluation_became_serving`` |
    ``already_promoted`` | ``rejected`` | ``inconclusive``), ``serving_arn``, ``serving_kind``
    (``provisioned`` | ``on_demand`` | None), ``serving_model_arn``, ``registry_uri``, ``registry_version``,
    ``deleted_throughputs``, ``deleted_deployments``, ``deleted_models``, ``kept_models``, ``steps``.

    **No blind promotion**: given the ``baseline`` the candidate was evaluated against, a promotion checks
    that the registry still has the version that baseline was chosen on. If another run promoted a model in
    between, the candidate is handled as rejected and the task fails at once with ``ChampionChangedError``
    saying so (the registry write itself is a compare-and-swap as well).

    :param registry_name: Name of the model registry; not templated, it names the outlet asset.
    :param registry_bucket: Bucket holding ``registry/<registry_name>.json``. (templated)
    :param decision: ``promote``, ``reject`` or ``inconclusive``. (templated)
    :param candidate_model_arn: ARN (or name) of the evaluated custom model. (templated)
    :param base_model_id: Base model of the candidate. (templated)
    :param evaluation_serving_arn: ARN of the provisioned throughput or custom model deployment the candidate
        was evaluated on (a name is looked up as a throughput, then as a deployment). (templated; default None)
    :param figures: Evaluation figures to record in the registry and the asset event. (templated)
    :param baseline: What the candidate was compared with, as ``promotion.choose_baseline`` returns it (its
        ``registry_version`` is checked); None: not checked. (templated; default None)
    :param retention: Fate of a rejected candidate model: ``delete`` or ``keep``. (templated; default delete)
    :param champion_retention: Fate of the champion model a promotion replaces: ``keep`` or ``delete``.
        (templated; default keep)
    :param registry_kms_key_id: KMS key for the registry object; default: the bucket's default encryption.
        (templated)
    :param wait_for_completion: Wait for an in-place update to be InService. (default: True)
    :param waiter_delay: Seconds between status checks. (default: the provider's ``poll_interval``)
    :param waiter_max_attempts: Maximum status checks. (default: ``throughput_timeout`` / ``poll_interval``)
    :param deferrable: Wait for the update in the triggerer. (default: ``[bedrock_customization] deferrable``)
    """

    aws_hook_class = BedrockCustomizationHook
    template_fields: Sequence[str] = aws_template_fields(
        "registry_bucket",
        "decision",
        "candidate_model_arn",
        "base_model_id",
        "evaluation_serving_arn",
        "figures",
        "baseline",
        "retention",
        "champion_retention",
        "registry_kms_key_id",
    )
    operator_extra_links = (
        BedrockProvisionedThroughputLink(),
        BedrockCustomModelDeploymentLink(),
        BedrockRunResultsLink(),
    )

    def __init__(
        self,
        *,
        registry_name: str,
        registry_bucket: str,
        decision: str,
        candidate_model_arn: str,
        base_model_id: str,
        evaluation_serving_arn: str | None = None,
        figures: Mapping[str, Any] | None = None,
        baseline: Mapping[str, Any] | None = None,
        retention: str = "delete",
        champion_retention: str = "keep",
        registry_kms_key_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.registry_name = promotion.check_name(registry_name)
        self.asset = Asset(promotion.asset_uri(registry_name))
        outlets = list(kwargs.pop("outlets", None) or [])
        super().__init__(outlets=[*outlets, self.asset], **kwargs)
        self.registry_bucket = registry_bucket
        self.decision = decision
        self.candidate_model_arn = candidate_model_arn
        self.base_model_id = base_model_id
        self.evaluation_serving_arn = evaluation_serving_arn
        self.figures = figures
        self.baseline = baseline
        self.retention = retention
        self.champion_retention = champion_retention
        self.registry_kms_key_id = registry_kms_key_id

    # -- planning ---------------------------------------------------------------------------

    @property
    def s3(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(
            aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify
        ).get_conn()

    def execute(self, context: Context) -> dict[str, Any]:
        decision = str(self.decision).strip().lower()
        registry, etag = self._registry_without_abandoned_intent(context)
        evaluation = None
        if self.evaluation_serving_arn:
            evaluation = self.hook.serving_arn(self.evaluation_serving_arn)
            if evaluation is None:
                self.log.info("Evaluation resource %s is already gone.", self.evaluation_serving_arn)
        candidate = self._candidate_arn()
        changed = None
        if decision == "promote" and self.baseline is not None:
            changed = promotion.champion_changed(registry, self.baseline.get("registry_version"), candidate)
            if changed:
                self.log.error("%s", changed)
                decision = "reject"
        serving = (registry or {}).get("serving_arn")
        serving_alive = bool(serving) and self.hook.serving_arn(serving) is not None
        if serving and not serving_alive:
            self.log.warning("The registry's serving resource %s no longer exists.", serving)
        plan = promotion.plan_promotion(
            decision=decision,
            registry=registry,
            candidate_model_arn=candidate,
            evaluation_serving_arn=evaluation,
            base_model_id=self.base_model_id,
            serving_alive=serving_alive,
            retention=self.retention,
            champion_retention=self.champion_retention,
        )
        self.log.info(
            "Decision %s -> %s: %s",
            plan.decision,
            plan.outcome,
            "; ".join(f"{s.action} {s.target or ''}".strip() for s in plan.steps) or "nothing to do",
        )
        state = {
            "plan": plan.to_dict(),
            "registry": registry,
            "etag": etag,
            "next": 0,
            "done": {
                "deleted_throughputs": [],
                "deleted_deployments": [],
                "deleted_models": [],
                "kept_models": [],
            },
            "version": (registry or {}).get("version"),
        }
        result = self._run(context, state)
        if changed:
            raise ChampionChangedError(changed)
        return result

    def _candidate_arn(self) -> str:
        if str(self.candidate_model_arn).startswith("arn:"):
            return self.candidate_model_arn
        model = self.hook.describe("get_custom_model", modelIdentifier=self.candidate_model_arn)
        return model["modelArn"] if model else self.candidate_model_arn

    def _registry_without_abandoned_intent(
        self, context: Context
    ) -> tuple[dict[str, Any] | None, str | None]:
        """The registry and its ETag, an abandoned in-place switch of another promotion rolled back first (an
        intent of this same task, from an earlier try, is carried on by the plan)."""
        ti = context["ti"]
        return load_settled_registry(
            self.hook.conn,
            self.s3,
            self.registry_bucket,
            self.registry_name,
            settle=self.settle,
            log=self.log,
            max_age_seconds=self._intent_max_age(),
            own_run=(ti.dag_id, ti.run_id),
            kms_key_id=self.registry_kms_key_id,
        )

    def _intent_max_age(self) -> float:
        return intent_max_age(self.waiter_delay, self.waiter_max_attempts)

    # -- carrying out -------------------------------------------------------------------------

    def _run(self, context: Context, state: dict[str, Any]) -> dict[str, Any]:
        serving = state["plan"].get("serving_arn")
        link = (
            BedrockCustomModelDeploymentLink
            if promotion.serving_kind_of(serving) == promotion.ON_DEMAND
            else BedrockProvisionedThroughputLink
        )
        link.persist_arn(context, self, serving)
        steps = state["plan"]["steps"]
        while state["next"] < len(steps):
            step = steps[state["next"]]
            state["next"] += 1
            if state.get("intent") and not state.get("committed"):
                try:
                    self._step(context, step, state)
                except Exception as error:  # not TaskDeferred (a BaseException): the wait goes on
                    self._roll_back(state, step, error)
            else:
                self._step(context, step, state)
        return self._finish(context, state)

    def _step(self, context: Context, step: Mapping[str, Any], state: dict[str, Any]) -> None:
        if step["action"] == "update_serving":
            arn, _ = self.hook.update_throughput_model(step["target"], step["model"], settle=self.settle)
            # Deferred, the plan goes on in ``resume`` with the state saved here.
            self.wait(context, self.described(arn), method_name="resume", kwargs={"state": state})
        else:
            self._apply(context, step, state)

    def _roll_back(self, state: dict[str, Any], step: Mapping[str, Any], error: Exception) -> None:
        """Undo a recorded in-place switch that failed before it was committed, then fail saying what was
        rolled back; when the roll-back itself fails, say that the recorded intent will be repaired."""
        pending = state["intent"]
        what = f"Promotion of {pending['to_model']} failed at step {step['action']} ({type(error).__name__}: {error})"
        try:
            undo_switch(self.hook.conn, pending, self.settle, self.log)
            etag = promotion.save_registry(
                self.s3,
                self.registry_bucket,
                self.registry_name,
                promotion.without_intent(state["registry"]),
                state["etag"],
                self.registry_kms_key_id,
            )
        except Exception as undo_error:
            raise PromotionRolledBackError(
                f"{what}, and rolling it back failed too ({type(undo_error).__name__}: {undo_error}). The "
                f"registry keeps the intent {pending}; the next promotion, baseline choice or janitor run "
                f"rolls it back (after {self._intent_max_age():.0f} s), or a retry of this task finishes it."
            ) from error
        state["etag"] = etag
        raise PromotionRolledBackError(
            f"{what}. Rolled back: throughput {pending['throughput']} serves {pending['from_model']} again and "
            f"the registry still names it (version {state['version']}); nothing was promoted."
        ) from error

    def resume(
        self, context: Context, event: dict[str, Any] | None = None, state: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Continue the plan after the deferred wait for the in-place update.

        The triggerer hands back the ``state`` saved at deferral; ``dag.test()`` passes only the event. Without
        the state the plan is made again from the registry (every step is idempotent: the throughput already
        serves the candidate, so the update is not repeated)."""
        if state is None:
            self.execute_complete(context, event)  # raises with the failureMessage unless InService
            self.log.info("Resumed without the saved plan; planning again from the registry.")
            return self.execute(context)
        try:
            self.execute_complete(context, event)
        except Exception as error:
            if state.get("intent") and not state.get("committed"):
                self._roll_back(state, state["plan"]["steps"][state["next"] - 1], error)
            raise
        return self._run(context, state)

    def _apply(self, context: Context, step: Mapping[str, Any], state: dict[str, Any]) -> None:
        conn = self.hook.conn
        action, target, done = step["action"], step["target"], state["done"]
        if action == "tag_serving":
            conn.tag_resource(resourceARN=target, tags=tagging.to_aws({tagging.ROLE: tagging.ROLE_SERVING}))
            what = (
                "Custom model deployment"
                if promotion.serving_kind_of(target) == promotion.ON_DEMAND
                else "Provisioned throughput"
            )
            self.log.info("%s %s is now tagged as serving.", what, target)
        elif action == "delete_throughput":
            if self.hook.delete_throughput(target):
                self.log.info("Deleted provisioned throughput %s (%s).", target, step["detail"])
                done["deleted_throughputs"].append(target)
        elif action == "delete_deployment":
            if self.hook.delete_deployment(target):
                self.log.info("Deleted custom model deployment %s (%s).", target, step["detail"])
                done["deleted_deployments"].append(target)
        elif action == "tag_decision":
            try:
                conn.tag_resource(resourceARN=target, tags=tagging.to_aws({tagging.DECISION: step["detail"]}))
            except conn.exceptions.ResourceNotFoundException:
                self.log.info("Custom model %s is already gone; not tagging it.", target)
        elif action == "record_intent":
            dag_id, run_id = context["ti"].dag_id, context["ti"].run_id
            registry = promotion.with_intent(
                promotion.without_intent(state["registry"]),
                throughput=target,
                from_model=step["detail"],
                to_model=step["model"],
                dag_id=dag_id,
                run_id=run_id,
                started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            )
            state["etag"] = promotion.save_registry(
                self.s3,
                self.registry_bucket,
                self.registry_name,
                registry,
                state["etag"],
                self.registry_kms_key_id,
            )
            state["registry"], state["intent"] = registry, registry["pending"]
            self.log.info("Recorded the intent to switch %s to %s in the registry.", target, step["model"])
        elif action == "write_registry":
            dag_id, run_id = context["ti"].dag_id, context["ti"].run_id
            record = promotion.next_registry(
                state["registry"],
                name=self.registry_name,
                serving_arn=target,
                serving_model_arn=step["model"],
                base_model_id=self.base_model_id,
                promoted_at=datetime.now(UTC).isoformat(timespec="seconds"),
                dag_id=dag_id,
                run_id=run_id,
                figures=self.figures,
            )
            promotion.save_registry(
                self.s3,
                self.registry_bucket,
                self.registry_name,
                record,
                state["etag"],
                self.registry_kms_key_id,
            )
            state["version"], state["committed"] = record["version"], True
            self.log.info(
                "Registry %s version %s: %s serves %s.",
                promotion.registry_uri(self.registry_bucket, self.registry_name),
                record["version"],
                target,
                step["model"],
            )
        elif action == "delete_model":
            # A throughput just deleted or switched may hold the model for a moment.
            if self.hook.delete_custom_model(target, wait=(self.waiter_delay, 5)):
                self.log.info("Deleted custom model %s (%s).", target, step["detail"])
                done["deleted_models"].append(target)
        elif action == "keep_model":
            self.log.info("Keeping custom model %s (%s).", target, step["detail"])
            done["kept_models"].append(target)
        else:  # pragma: no cover - plan_promotion only emits the actions above
            raise BedrockCustomizationError(f"Unknown promotion step {action!r}")

    def _finish(self, context: Context, state: dict[str, Any]) -> dict[str, Any]:
        plan = state["plan"]
        result = {
            "decision": plan["decision"],
            "outcome": plan["outcome"],
            "serving_arn": plan["serving_arn"],
            "serving_kind": plan["serving_kind"],
            "serving_model_arn": plan["serving_model_arn"],
            "registry_uri": promotion.registry_uri(self.registry_bucket, self.registry_name),
            "registry_version": state["version"],
            **state["done"],
            "steps": plan["steps"],
        }
        context["outlet_events"][self.asset].extra = {
            "registry": self.registry_name,
            **{key: result[key] for key in ("registry_uri", "registry_version", "decision", "outcome")},
            "registry_changed": any(step["action"] == "write_registry" for step in plan["steps"]),
            **{key: result[key] for key in ("serving_arn", "serving_kind", "serving_model_arn")},
            "candidate_model_arn": self.candidate_model_arn,
            "figures": dict(self.figures or {}),
        }
        return result
