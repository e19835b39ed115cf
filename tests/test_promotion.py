"""Promotion: the pure plan and champion look-up, the S3 registry, and the operator against the emulator."""

from __future__ import annotations

import json

import pytest

from bedrock_customization import promotion, tagging
from bedrock_customization.exceptions import BedrockCustomizationError, RegistryConflictError
from bedrock_customization.operators.promotion import BedrockPromoteModelOperator
from bedrock_customization.operators.throughput import BedrockCreateProvisionedModelThroughputOperator
from tests.serving_helpers import QUICK, alive_throughputs, emulator, make_context, tags_of, trained_model

NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
REGISTRY_BUCKET = "models"
FIGURES = {"metric": "chrf", "baseline": {"chrf": 17.9}, "candidate": {"chrf": 72.4}, "samples": 12}


# --------------------------------------------------------------------------------------------- pure


def test_read_champion_falls_back_to_the_base_model():
    assert promotion.read_champion(None, "amazon.nova-micro-v1:0")["model_id"] == "amazon.nova-micro-v1:0"
    assert promotion.read_champion({}, "base")["source"] == "base"
    registry = {"serving_arn": "arn:tp", "serving_model_arn": "arn:m", "version": 3}
    champion = promotion.read_champion(registry, "base")
    assert champion == {
        "model_id": "arn:tp",
        "source": "registry",
        "serving_kind": "provisioned",
        "model_arn": "arn:m",
        "base_model_id": None,
        "version": 3,
    }


def test_plan_first_promotion_retags_the_evaluation_throughput():
    plan = promotion.plan_promotion(
        decision="promote",
        registry=None,
        candidate_model_arn="m1",
        evaluation_serving_arn="tp1",
        base_model_id=NOVA_MICRO,
    )
    assert plan.outcome == "evaluation_became_serving" and plan.serving_arn == "tp1"
    assert [s.action for s in plan.steps] == ["write_registry", "tag_decision", "tag_serving"]


def test_plan_promotion_updates_in_place_when_the_base_model_matches():
    registry = {
        "serving_arn": "tp1",
        "serving_model_arn": "m1",
        "base_model_id": NOVA_MICRO,
        "version": 1,
    }
    plan = promotion.plan_promotion(
        decision="promote",
        registry=registry,
        candidate_model_arn="m2",
        evaluation_serving_arn="tp2",
        base_model_id=NOVA_MICRO,
        champion_retention="delete",
    )
    assert plan.outcome == "updated_in_place" and plan.serving_arn == "tp1"
    assert [(s.action, s.target) for s in plan.steps] == [
        ("record_intent", "tp1"),  # recorded -> applied -> committed
        ("update_serving", "tp1"),
        ("write_registry", "tp1"),
        ("delete_throughput", "tp2"),
        ("tag_decision", "m2"),
        ("tag_serving", "tp1"),
        ("delete_model", "m1"),
    ]
    assert (plan.steps[0].model, plan.steps[0].detail) == ("m2", "m1")  # to the candidate, from the champion


def test_plan_promotion_across_base_models_replaces_the_serving_throughput():
    registry = {
        "serving_arn": "tp1",
        "serving_model_arn": "m1",
        "base_model_id": "other",
        "version": 1,
    }
    plan = promotion.plan_promotion(
        decision="promote",
        registry=registry,
        candidate_model_arn="m2",
        evaluation_serving_arn="tp2",
        base_model_id=NOVA_MICRO,
    )
    assert plan.outcome == "evaluation_became_serving"
    assert ("delete_throughput", "tp1") in [(s.action, s.target) for s in plan.steps]
    assert ("keep_model", "m1") in [(s.action, s.target) for s in plan.steps]


def test_plan_retry_after_the_registry_write_finishes_the_remaining_steps():
    registry = {
        "serving_arn": "tp2",
        "serving_model_arn": "m2",
        "base_model_id": NOVA_MICRO,
        "previous": {"serving_arn": "tp1", "serving_model_arn": "m1"},
    }
    plan = promotion.plan_promotion(
        decision="promote",
        registry=registry,
        candidate_model_arn="m2",
        evaluation_serving_arn="tp2",
        base_model_id=NOVA_MICRO,
        champion_retention="delete",
    )
    assert plan.outcome == "already_promoted" and not plan.writes_registry
    assert [(s.action, s.target) for s in plan.steps] == [
        ("tag_decision", "m2"),
        ("tag_serving", "tp2"),
        ("delete_throughput", "tp1"),
        ("delete_model", "m1"),
    ]


def test_plan_reject_never_touches_the_serving_throughput_and_follows_retention():
    registry = {"serving_arn": "tp1", "serving_model_arn": "m1", "base_model_id": NOVA_MICRO}
    keep = promotion.plan_promotion(
        decision="reject",
        registry=registry,
        candidate_model_arn="m2",
        evaluation_serving_arn="tp2",
        base_model_id=NOVA_MICRO,
        retention="keep",
    )
    assert [(s.action, s.target) for s in keep.steps] == [
        ("delete_throughput", "tp2"),
        ("tag_decision", "m2"),
        ("keep_model", "m2"),
    ]
    with pytest.raises(BedrockCustomizationError, match="serving model"):
        promotion.plan_promotion(
            decision="reject",
            registry=registry,
            candidate_model_arn="m1",
            evaluation_serving_arn=None,
            base_model_id=NOVA_MICRO,
        )


def test_plan_inconclusive_keeps_the_champion_and_handles_the_candidate_like_a_rejected_one():
    registry = {"serving_arn": "tp1", "serving_model_arn": "m1", "base_model_id": NOVA_MICRO}
    plans = {
        decision: promotion.plan_promotion(
            decision=decision,
            registry=registry,
            candidate_model_arn="m2",
            evaluation_serving_arn="tp2",
            base_model_id=NOVA_MICRO,
        )
        for decision in ("reject", "inconclusive")
    }
    unsure = plans["inconclusive"]
    assert (unsure.decision, unsure.outcome) == (
        "inconclusive",
        "inconclusive",
    ) and not unsure.writes_registry
    assert [(s.action, s.target, s.detail) for s in unsure.steps] == [
        ("delete_throughput", "tp2", "inconclusive candidate"),
        ("tag_decision", "m2", "reject"),  # the teardown and the janitor treat it as a rejected model
        ("delete_model", "m2", "inconclusive candidate"),
    ]
    assert [(s.action, s.target) for s in unsure.steps] == [
        (s.action, s.target) for s in plans["reject"].steps
    ]
    assert (unsure.serving_arn, unsure.serving_model_arn) == ("tp1", "m1")
    # A re-run of the run that promoted m1 compares m1 with itself: inconclusive, and the champion that stays
    # is the candidate, so what may be left of its promotion is finished.
    itself = promotion.plan_promotion(
        decision="inconclusive",
        registry=registry,
        candidate_model_arn="m1",
        evaluation_serving_arn="tp1",
        base_model_id=NOVA_MICRO,
    )
    assert (itself.decision, itself.outcome) == ("inconclusive", "already_promoted")
    assert not itself.writes_registry
    assert [(s.action, s.target, s.detail) for s in itself.steps] == [
        ("tag_decision", "m1", "promote"),
        ("tag_serving", "tp1", ""),
    ]
    with pytest.raises(BedrockCustomizationError, match="evaluation: reject.*serving model"):
        promotion.plan_promotion(
            decision="reject",
            registry=registry,
            candidate_model_arn="m1",
            evaluation_serving_arn=None,
            base_model_id=NOVA_MICRO,
        )


def test_plan_rejects_bad_inputs():
    with pytest.raises(BedrockCustomizationError, match="decision"):
        promotion.plan_promotion(
            decision="maybe",
            registry=None,
            candidate_model_arn="m",
            evaluation_serving_arn=None,
            base_model_id=NOVA_MICRO,
        )
    with pytest.raises(BedrockCustomizationError, match="no evaluation throughput or deployment"):
        promotion.plan_promotion(
            decision="promote",
            registry=None,
            candidate_model_arn="m",
            evaluation_serving_arn=None,
            base_model_id=NOVA_MICRO,
        )
    with pytest.raises(BedrockCustomizationError, match="Invalid registry name"):
        promotion.registry_key("../etc")


# --------------------------------------------------------------------------------------------- emulator


@pytest.fixture
def aws(monkeypatch):
    with emulator(monkeypatch) as clients:
        clients.s3.create_bucket(Bucket=REGISTRY_BUCKET)
        yield clients


def evaluation_throughput(aws, model: str, run_id: str) -> str:
    return BedrockCreateProvisionedModelThroughputOperator(
        task_id="provision_throughput",
        model_units=1,
        provisioned_model_name=f"eval-{run_id.rsplit('_', 1)[-1]}",
        model_id=model,
        **QUICK,
    ).execute(make_context("provision_throughput", run_id))


def promote_op(
    model: str, throughput: str | None, decision: str = "promote", **kwargs
) -> BedrockPromoteModelOperator:
    return BedrockPromoteModelOperator(
        task_id="promote_model",
        registry_name="qa",
        registry_bucket=REGISTRY_BUCKET,
        decision=decision,
        candidate_model_arn=model,
        base_model_id=NOVA_MICRO,
        evaluation_serving_arn=throughput,
        figures=FIGURES,
        **{**QUICK, **kwargs},
    )


def wait_in_service(aws, throughput: str) -> None:
    from tests.local_aws.helpers import wait_for

    wait_for(
        lambda: aws.bedrock.get_provisioned_model_throughput(provisionedModelId=throughput)["status"],
        lambda status: status == "InService",
    )


def read_registry(aws) -> dict:
    return json.loads(aws.s3.get_object(Bucket=REGISTRY_BUCKET, Key="registry/qa.json")["Body"].read())


def test_candidate_wins_then_a_second_promotion_updates_in_place(aws):
    # First run: no champion yet, the candidate beat the base model.
    first_model = trained_model(aws, "first")
    first_tp = evaluation_throughput(aws, first_model, "manual__1")
    op = promote_op(first_model, first_tp)
    assert op.outlets == [op.asset] and op.asset.uri == "bedrock://registry/qa"
    context = make_context("promote_model", "manual__1")
    result = op.execute(context)

    assert result["outcome"] == "evaluation_became_serving"
    assert result["serving_arn"] == first_tp and result["registry_version"] == 1
    [alive] = alive_throughputs(aws)
    assert alive["provisionedModelArn"] == first_tp
    assert tags_of(aws, first_tp)[tagging.ROLE] == "serving"
    assert tags_of(aws, first_model)[tagging.DECISION] == "promote"
    registry = read_registry(aws)
    assert registry["serving_arn"] == first_tp and registry["serving_model_arn"] == first_model
    assert registry["base_model_id"] == NOVA_MICRO and registry["run_id"] == "manual__1"
    assert registry["figures"] == FIGURES and registry["previous"] is None and registry["version"] == 1
    extra = context["outlet_events"][op.asset].extra
    assert extra["decision"] == "promote" and extra["registry_changed"] is True
    assert extra["serving_arn"] == first_tp and extra["registry_version"] == 1
    assert promotion.read_champion(registry, "base")["model_id"] == first_tp

    # Second run: a better model of the same base; the serving throughput is updated in place.
    second_model = trained_model(aws, "second")
    second_tp = evaluation_throughput(aws, second_model, "manual__2")
    assert len(alive_throughputs(aws)) == 2
    op2 = promote_op(second_model, second_tp, champion_retention="delete")
    result = op2.execute(make_context("promote_model", "manual__2"))

    assert result["outcome"] == "updated_in_place"
    assert result["deleted_throughputs"] == [second_tp] and result["deleted_models"] == [first_model]
    [alive] = alive_throughputs(aws)
    assert alive["provisionedModelArn"] == first_tp and alive["modelArn"] == second_model
    registry = read_registry(aws)
    assert registry["version"] == 2 and registry["serving_model_arn"] == second_model
    assert registry["previous"]["serving_model_arn"] == first_model

    # A retry of the second promotion changes nothing.
    retry = op2.execute(make_context("promote_model", "manual__2"))
    assert retry["outcome"] == "already_promoted" and retry["registry_version"] == 2
    assert len(alive_throughputs(aws)) == 1 and read_registry(aws)["version"] == 2


def test_promotion_defers_for_the_in_place_update(aws):
    from airflow.providers.common.compat.sdk import TaskDeferred

    first_model, second_model = trained_model(aws, "a"), trained_model(aws, "b")
    promote_op(first_model, evaluation_throughput(aws, first_model, "manual__a")).execute(make_context())
    second_tp = evaluation_throughput(aws, second_model, "manual__b")
    op = promote_op(second_model, second_tp, deferrable=True)
    context = make_context("promote_model", "manual__b")
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context)
    serving = deferred.value.trigger.serialize()[1]["provisioned_model_id"]
    kwargs = deferred.value.kwargs
    wait_in_service(aws, serving)  # the trigger fires once the switch is done
    result = op.resume(context, event={"status": "success", "provisioned_model_id": serving}, **kwargs)
    assert result["outcome"] == "updated_in_place" and result["deleted_throughputs"] == [second_tp]
    assert context["outlet_events"][op.asset].extra["registry_version"] == 2


def test_resuming_with_only_the_event_as_dag_test_does_finishes_the_promotion(aws):
    """``dag.test()`` resumes a deferred task with ``event`` alone (the triggerer also passes the deferral's
    kwargs): the promotion still completes on the first try, without switching the throughput twice."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    first_model, second_model = trained_model(aws, "c"), trained_model(aws, "d")
    first_tp = evaluation_throughput(aws, first_model, "manual__c")
    promote_op(first_model, first_tp).execute(make_context())
    second_tp = evaluation_throughput(aws, second_model, "manual__d")
    op = promote_op(second_model, second_tp, deferrable=True)
    context = make_context("promote_model", "manual__d")
    with pytest.raises(TaskDeferred):
        op.execute(context)
    wait_in_service(aws, first_tp)
    result = op.resume(context, event={"status": "success", "provisioned_model_id": first_tp})
    assert result["outcome"] == "updated_in_place" and result["deleted_throughputs"] == [second_tp]
    registry = read_registry(aws)
    assert (registry["version"], registry["serving_model_arn"]) == (2, second_model)
    [alive] = alive_throughputs(aws)
    assert (alive["provisionedModelArn"], alive["modelArn"]) == (first_tp, second_model)


@pytest.mark.parametrize("retention", ["delete", "keep"])
def test_reject_deletes_the_evaluation_throughput_and_follows_retention(aws, retention):
    model = trained_model(aws, f"loser-{retention}")
    throughput = evaluation_throughput(aws, model, "manual__3")
    context = make_context("promote_model", "manual__3")
    op = promote_op(model, throughput, decision="reject", retention=retention)
    result = op.execute(context)

    assert result["outcome"] == "rejected" and result["deleted_throughputs"] == [throughput]
    assert alive_throughputs(aws) == []
    models = {m["modelArn"] for m in aws.bedrock.list_custom_models()["modelSummaries"]}
    if retention == "delete":
        assert result["deleted_models"] == [model] and model not in models
    else:
        assert result["kept_models"] == [model] and model in models
        assert tags_of(aws, model)[tagging.DECISION] == "reject"
    extra = context["outlet_events"][op.asset].extra
    assert extra["decision"] == "reject" and extra["registry_changed"] is False
    with pytest.raises(aws.s3.exceptions.NoSuchKey):
        aws.s3.get_object(Bucket=REGISTRY_BUCKET, Key="registry/qa.json")
    assert op.execute(context)["outcome"] == "rejected"  # a retry finds everything already done


def test_an_inconclusive_evaluation_keeps_the_champion_and_drops_the_candidate(aws):
    model = trained_model(aws, "unsure")
    throughput = evaluation_throughput(aws, model, "manual__4")
    context = make_context("promote_model", "manual__4")
    op = promote_op(model, throughput, decision="inconclusive", retention="keep")
    result = op.execute(context)

    assert (result["decision"], result["outcome"]) == ("inconclusive", "inconclusive")
    assert result["deleted_throughputs"] == [throughput] and alive_throughputs(aws) == []
    assert result["kept_models"] == [model] and tags_of(aws, model)[tagging.DECISION] == "reject"
    extra = context["outlet_events"][op.asset].extra
    assert extra["decision"] == "inconclusive" and extra["registry_changed"] is False


def test_registry_writes_are_conditional(aws):
    record = {"version": 1, "serving_arn": "tp"}
    etag = promotion.save_registry(aws.s3, REGISTRY_BUCKET, "qa", record, None)
    loaded, loaded_etag = promotion.load_registry(aws.s3, REGISTRY_BUCKET, "qa")
    assert loaded == record and loaded_etag == etag
    with pytest.raises(RegistryConflictError, match="another promotion won"):
        promotion.save_registry(aws.s3, REGISTRY_BUCKET, "qa", record, None)  # someone created it meanwhile
    promotion.save_registry(aws.s3, REGISTRY_BUCKET, "qa", {**record, "version": 2}, etag)
    with pytest.raises(RegistryConflictError):
        promotion.save_registry(aws.s3, REGISTRY_BUCKET, "qa", {**record, "version": 3}, etag)  # stale ETag
    assert promotion.load_registry(aws.s3, REGISTRY_BUCKET, "missing") == (None, None)


def test_choose_baseline_records_the_registry_version_it_was_chosen_on():
    registry = {
        "version": 4,
        "serving_arn": "tp",
        "serving_model_arn": "m",
        "base_model_id": NOVA_MICRO,
    }
    assert promotion.choose_baseline(None, NOVA_MICRO, "base")["registry_version"] is None
    champion = promotion.choose_baseline(registry, NOVA_MICRO, "base")
    assert (champion["model_id"], champion["registry_version"]) == ("tp", 4)
    other = promotion.choose_baseline(registry, "amazon.nova-lite-v1:0:300k", "nova")
    assert (other["model_id"], other["source"], other["registry_version"]) == ("nova", "base", 4)


def test_champion_changed_unless_the_registry_is_as_chosen_or_names_the_candidate():
    registry = {"version": 2, "serving_model_arn": "winner", "dag_id": "d", "run_id": "r2"}
    assert promotion.champion_changed(registry, 2, "candidate") is None
    assert promotion.champion_changed(None, None, "candidate") is None
    assert promotion.champion_changed(registry, 2 - 1, "winner") is None  # a retry after its own write
    message = promotion.champion_changed(registry, None, "candidate")
    assert "version 2" in message and "winner" in message and "r2" in message and "base model" in message


def test_two_runs_on_the_same_champion_one_wins_the_other_stops_clearly(aws):
    """Two runs chose the same baseline (no champion yet) and both candidates won their evaluation: the first
    to promote wins; the second was never compared with it, so it is not promoted and stops with a message,
    its evaluation throughput deleted and its model handled per retention. The registry names the winner,
    and the winner's throughput is the only one left."""
    from bedrock_customization.exceptions import ChampionChangedError

    no_champion = promotion.choose_baseline(None, NOVA_MICRO, "base")
    models = {run: trained_model(aws, f"race-{run}") for run in ("a", "b")}
    throughputs = {run: evaluation_throughput(aws, models[run], f"manual__{run}") for run in ("a", "b")}

    won = promote_op(models["a"], throughputs["a"], baseline=no_champion).execute(
        make_context(run_id="manual__a")
    )
    assert won["outcome"] == "evaluation_became_serving" and won["registry_version"] == 1

    loser = promote_op(models["b"], throughputs["b"], baseline=no_champion)
    with pytest.raises(ChampionChangedError, match="was not promoted") as stopped:
        loser.execute(make_context(run_id="manual__b"))
    assert models["a"] in str(stopped.value) and "version 1" in str(stopped.value)
    registry = read_registry(aws)
    assert (registry["version"], registry["serving_model_arn"]) == (1, models["a"])
    assert [t["provisionedModelArn"] for t in alive_throughputs(aws)] == [throughputs["a"]]
    assert models["b"] not in {m["modelArn"] for m in aws.bedrock.list_custom_models()["modelSummaries"]}

    # The retry policy fails it at once: a retry could not make the comparison valid.
    from airflow.sdk import RetryAction

    from bedrock_customization.retries import FAIL_FAST

    assert FAIL_FAST.evaluate(stopped.value, try_number=1, max_tries=2).action is RetryAction.FAIL


def test_a_stale_read_loses_the_compare_and_swap(aws, monkeypatch):
    """Both runs read the registry before either wrote it: the write is conditional, so the second writer
    gets RegistryConflictError and the registry keeps the first writer's champion."""
    from bedrock_customization.operators import promotion as operator_module

    models = {run: trained_model(aws, f"cas-{run}") for run in ("a", "b")}
    throughputs = {run: evaluation_throughput(aws, models[run], f"manual__{run}") for run in ("a", "b")}
    stale = promotion.load_registry(aws.s3, REGISTRY_BUCKET, "qa")
    promote_op(models["a"], throughputs["a"]).execute(make_context(run_id="manual__a"))

    monkeypatch.setattr(operator_module.promotion, "load_registry", lambda *args: stale)
    with pytest.raises(RegistryConflictError, match="another promotion won"):
        promote_op(models["b"], throughputs["b"]).execute(make_context(run_id="manual__b"))
    assert read_registry(aws)["serving_model_arn"] == models["a"]


# --------------------------------------------------------------------------- in-place promotion state machine


def serving_model_of(aws, throughput: str) -> str:
    wait_in_service(aws, throughput)
    return aws.bedrock.get_provisioned_model_throughput(provisionedModelId=throughput)["modelArn"]


def champion_and_challenger(aws, name: str) -> tuple[str, str, str, str]:
    """A champion serving on its throughput (registry version 1) and a challenger on its evaluation throughput."""
    champion, challenger = trained_model(aws, f"{name}-champion"), trained_model(aws, f"{name}-challenger")
    serving = evaluation_throughput(aws, champion, f"manual__{name}1")
    promote_op(champion, serving).execute(make_context(run_id=f"manual__{name}1"))
    return champion, challenger, serving, evaluation_throughput(aws, challenger, f"manual__{name}2")


def failing_writes(monkeypatch, fail_on: set[int], error: BaseException) -> list[dict]:
    """Make the registry writes numbered in ``fail_on`` (1-based) raise ``error``; returns the records."""
    real, calls = promotion.save_registry, []

    def save(s3, bucket, name, registry, etag, kms_key_id=None):
        calls.append(dict(registry))
        if len(calls) in fail_on:
            raise error
        return real(s3, bucket, name, registry, etag, kms_key_id)

    monkeypatch.setattr(promotion, "save_registry", save)
    return calls


def test_a_promotion_failing_between_switch_and_commit_is_rolled_back(aws, monkeypatch):
    from bedrock_customization.exceptions import PromotionRolledBackError

    champion, challenger, serving, evaluation = champion_and_challenger(aws, "rb")
    writes = failing_writes(monkeypatch, {2}, ConnectionError("S3 unreachable"))  # 1 intent, 2 commit
    with pytest.raises(PromotionRolledBackError, match="Rolled back") as failed:
        promote_op(challenger, evaluation).execute(make_context(run_id="manual__rb2"))
    assert "write_registry" in str(failed.value) and "S3 unreachable" in str(failed.value)
    assert (
        writes[0]["pending"]["to_model"] == challenger and writes[0]["version"] == 1
    )  # the intent came first
    # Registry and serving throughput agree: the champion, as before; no intent left.
    registry = read_registry(aws)
    assert (registry["version"], registry["serving_model_arn"], "pending" in registry) == (1, champion, False)
    assert serving_model_of(aws, serving) == champion


def test_an_abandoned_half_applied_promotion_is_repaired_before_the_next_one(aws, monkeypatch):
    """The worker died between the switch and the commit (no roll-back ran): the registry keeps the intent and
    the throughput serves the uncommitted model. The next run's baseline choice sees the real champion, and its
    promotion builds on the champion, never on the uncommitted model."""
    from bedrock_customization.operators.registry import load_settled_registry

    champion, challenger, serving, evaluation = champion_and_challenger(aws, "ab")
    failing_writes(monkeypatch, {2}, SystemExit("worker killed"))  # not an Exception: no roll-back runs
    with pytest.raises(SystemExit):
        promote_op(challenger, evaluation).execute(make_context(run_id="manual__ab2"))
    monkeypatch.undo()
    half = read_registry(aws)
    assert half["pending"]["to_model"] == challenger and half["serving_model_arn"] == champion
    assert serving_model_of(aws, serving) == challenger  # half-applied

    # Still young: another run neither builds on it nor undoes it.
    with pytest.raises(RegistryConflictError, match="Another promotion is switching"):
        promote_op(trained_model(aws, "ab-third"), None).execute(make_context(run_id="manual__ab3"))

    # Abandoned (older than the longest switch): rolled back before anything else.
    half["pending"]["started_at"] = "2020-01-01T00:00:00+00:00"
    aws.s3.put_object(Bucket=REGISTRY_BUCKET, Key="registry/qa.json", Body=json.dumps(half).encode())
    log = __import__("logging").getLogger("test")
    registry, _ = load_settled_registry(
        aws.bedrock, aws.s3, REGISTRY_BUCKET, "qa", settle=lambda arn: wait_in_service(aws, arn), log=log
    )
    assert "pending" not in registry and registry["serving_model_arn"] == champion
    assert serving_model_of(aws, serving) == champion


def test_a_retry_of_the_same_promotion_carries_on_from_its_recorded_intent(aws, monkeypatch):
    champion, challenger, serving, evaluation = champion_and_challenger(aws, "re")
    failing_writes(monkeypatch, {2}, SystemExit("worker killed"))
    with pytest.raises(SystemExit):
        promote_op(challenger, evaluation).execute(make_context(run_id="manual__re2"))
    monkeypatch.undo()

    result = promote_op(challenger, evaluation).execute(make_context(run_id="manual__re2"))  # the retry
    assert result["outcome"] == "updated_in_place" and result["registry_version"] == 2
    registry = read_registry(aws)
    assert (registry["serving_model_arn"], "pending" in registry) == (challenger, False)
    assert registry["previous"]["serving_model_arn"] == champion
    assert serving_model_of(aws, serving) == challenger and len(alive_throughputs(aws)) == 1


# --------------------------------------------------------------------------- on-demand serving (deployments)

DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/"
THROUGHPUT = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/"


def test_serving_kind_of_tells_deployments_from_throughputs():
    assert promotion.serving_kind_of(DEPLOYMENT + "abcdef123456") == "on_demand"
    assert promotion.serving_kind_of(THROUGHPUT + "abcdef123456") == "provisioned"
    assert promotion.serving_kind_of("my-throughput-name") == "provisioned"


def test_a_schema_1_record_is_read_as_serving_arn_of_kind_provisioned():
    legacy = {
        "schema": 1,
        "version": 2,
        "serving_throughput_arn": THROUGHPUT + "tp2",
        "serving_model_arn": "m2",
        "previous": {"version": 1, "serving_throughput_arn": THROUGHPUT + "tp1", "serving_model_arn": "m1"},
    }
    record = promotion.upgraded(legacy)
    assert (record["schema"], record["serving_arn"], record["serving_kind"]) == (
        2,
        THROUGHPUT + "tp2",
        "provisioned",
    )
    assert (record["previous"]["serving_arn"], record["previous"]["serving_kind"]) == (
        THROUGHPUT + "tp1",
        "provisioned",
    )
    assert "serving_throughput_arn" not in record and "serving_throughput_arn" not in record["previous"]
    assert promotion.upgraded(record) == record  # schema 2 stays as it is
    assert promotion.read_champion(record, "base")["model_id"] == THROUGHPUT + "tp2"


def test_plan_on_demand_champion_is_replaced_by_the_candidates_deployment():
    registry = {
        "serving_arn": DEPLOYMENT + "dep1",
        "serving_kind": "on_demand",
        "serving_model_arn": "m1",
        "base_model_id": NOVA_MICRO,
        "version": 1,
    }
    plan = promotion.plan_promotion(
        decision="promote",
        registry=registry,
        candidate_model_arn="m2",
        evaluation_serving_arn=DEPLOYMENT + "dep2",
        base_model_id=NOVA_MICRO,
    )
    assert plan.outcome == "evaluation_became_serving"
    assert (plan.serving_arn, plan.serving_kind) == (DEPLOYMENT + "dep2", "on_demand")
    assert [(s.action, s.target, s.detail) for s in plan.steps] == [
        ("write_registry", DEPLOYMENT + "dep2", ""),
        ("tag_decision", "m2", "promote"),
        ("tag_serving", DEPLOYMENT + "dep2", ""),
        ("delete_deployment", DEPLOYMENT + "dep1", "replaced champion (served on demand now)"),
        ("keep_model", "m1", "replaced champion"),
    ]
    # An on-demand champion and a candidate on a throughput: no throughput to update, so it is replaced too.
    on_tp = promotion.plan_promotion(
        decision="promote",
        registry=registry,
        candidate_model_arn="m2",
        evaluation_serving_arn=THROUGHPUT + "tp2",
        base_model_id=NOVA_MICRO,
    )
    assert on_tp.outcome == "evaluation_became_serving" and on_tp.serving_kind == "provisioned"
    assert ("delete_deployment", DEPLOYMENT + "dep1", "replaced champion (was served on demand)") in [
        (s.action, s.target, s.detail) for s in on_tp.steps
    ]
    with pytest.raises(BedrockCustomizationError, match="is a custom model deployment"):
        promotion.plan_promotion(
            decision="promote",
            registry=registry,
            candidate_model_arn="m2",
            evaluation_serving_arn=None,
            base_model_id=NOVA_MICRO,
        )


def test_plan_provisioned_champion_with_an_on_demand_candidate_loses_its_throughput():
    registry = {"serving_arn": THROUGHPUT + "tp1", "serving_model_arn": "m1", "base_model_id": NOVA_MICRO}
    plan = promotion.plan_promotion(
        decision="promote",
        registry=registry,
        candidate_model_arn="m2",
        evaluation_serving_arn=DEPLOYMENT + "dep2",
        base_model_id=NOVA_MICRO,  # the same base model: still not switched in place
    )
    assert plan.outcome == "evaluation_became_serving" and plan.serving_arn == DEPLOYMENT + "dep2"
    actions = [(s.action, s.target, s.detail) for s in plan.steps]
    assert ("delete_throughput", THROUGHPUT + "tp1", "replaced champion (served on demand now)") in actions
    assert not any(action in ("record_intent", "update_serving") for action, _, _ in actions)


def test_plan_reject_of_an_on_demand_candidate_deletes_its_deployment_only():
    registry = {"serving_arn": DEPLOYMENT + "dep1", "serving_model_arn": "m1", "base_model_id": NOVA_MICRO}
    plan = promotion.plan_promotion(
        decision="reject",
        registry=registry,
        candidate_model_arn="m2",
        evaluation_serving_arn=DEPLOYMENT + "dep2",
        base_model_id=NOVA_MICRO,
    )
    assert [(s.action, s.target) for s in plan.steps] == [
        ("delete_deployment", DEPLOYMENT + "dep2"),
        ("tag_decision", "m2"),
        ("delete_model", "m2"),
    ]
    assert (plan.serving_arn, plan.serving_kind) == (DEPLOYMENT + "dep1", "on_demand")


def test_plan_retry_with_deployments_finishes_the_remaining_steps():
    registry = {
        "serving_arn": DEPLOYMENT + "dep2",
        "serving_model_arn": "m2",
        "base_model_id": NOVA_MICRO,
        "previous": {"serving_arn": THROUGHPUT + "tp1", "serving_model_arn": "m1"},
    }
    plan = promotion.plan_promotion(
        decision="promote",
        registry=registry,
        candidate_model_arn="m2",
        evaluation_serving_arn=DEPLOYMENT + "dep2",
        base_model_id=NOVA_MICRO,
    )
    assert plan.outcome == "already_promoted" and not plan.writes_registry
    assert [(s.action, s.target) for s in plan.steps] == [
        ("tag_decision", "m2"),
        ("tag_serving", DEPLOYMENT + "dep2"),
        ("delete_throughput", THROUGHPUT + "tp1"),
        ("keep_model", "m1"),
    ]


def evaluation_deployment(aws, model: str, run_id: str) -> str:
    from bedrock_customization.operators.deployment import BedrockCreateCustomModelDeploymentOperator

    return BedrockCreateCustomModelDeploymentOperator(
        task_id="deploy",
        model_arn=model,
        deployment_name=f"eval-{run_id.rsplit('_', 1)[-1]}",
        **QUICK,
    ).execute(make_context("deploy", run_id))


def alive_deployments(aws) -> list[str]:
    summaries = aws.bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
    return [d["customModelDeploymentArn"] for d in summaries]


def on_demand_champion(aws, name: str) -> tuple[str, str]:
    """A champion served on demand (registry version 1): its model and deployment."""
    model = trained_model(aws, f"{name}-champion")
    deployment = evaluation_deployment(aws, model, f"manual__{name}1")
    result = promote_op(model, deployment).execute(make_context("promote_model", f"manual__{name}1"))
    assert (result["outcome"], result["serving_kind"]) == ("evaluation_became_serving", "on_demand")
    return model, deployment


def test_an_on_demand_champion_is_replaced_by_an_on_demand_candidate(aws):
    champion, old = on_demand_champion(aws, "od")
    registry = read_registry(aws)
    assert (registry["schema"], registry["serving_arn"], registry["serving_kind"]) == (2, old, "on_demand")
    assert promotion.read_champion(registry, "base")["model_id"] == old  # Converse takes the deployment ARN

    candidate = trained_model(aws, "od-challenger")
    new = evaluation_deployment(aws, candidate, "manual__od2")
    context = make_context("promote_model", "manual__od2")
    op = promote_op(candidate, new, champion_retention="delete")
    result = op.execute(context)

    assert result["outcome"] == "evaluation_became_serving" and result["registry_version"] == 2
    assert (result["serving_arn"], result["serving_kind"]) == (new, "on_demand")
    assert result["deleted_deployments"] == [old] and result["deleted_models"] == [champion]
    assert alive_deployments(aws) == [new] and alive_throughputs(aws) == []
    assert tags_of(aws, new)[tagging.ROLE] == "serving"
    registry = read_registry(aws)
    assert (registry["version"], registry["serving_arn"], registry["serving_kind"]) == (2, new, "on_demand")
    assert registry["serving_model_arn"] == candidate and registry["previous"]["serving_arn"] == old
    extra = context["outlet_events"][op.asset].extra
    assert (extra["serving_arn"], extra["serving_kind"], extra["registry_changed"]) == (
        new,
        "on_demand",
        True,
    )


def test_a_provisioned_champion_replaced_by_an_on_demand_candidate_loses_its_throughput(aws):
    champion = trained_model(aws, "pd-champion")
    throughput = evaluation_throughput(aws, champion, "manual__pd1")
    promote_op(champion, throughput).execute(make_context("promote_model", "manual__pd1"))
    assert read_registry(aws)["serving_kind"] == "provisioned"

    candidate = trained_model(aws, "pd-challenger")  # the same base model
    deployment = evaluation_deployment(aws, candidate, "manual__pd2")
    result = promote_op(candidate, deployment).execute(make_context("promote_model", "manual__pd2"))

    assert result["outcome"] == "evaluation_became_serving" and result["deleted_throughputs"] == [throughput]
    assert alive_throughputs(aws) == [] and alive_deployments(aws) == [deployment]
    assert result["kept_models"] == [champion]  # champion_retention=keep
    registry = read_registry(aws)
    assert (registry["serving_arn"], registry["serving_kind"], registry["version"]) == (
        deployment,
        "on_demand",
        2,
    )


def test_rejecting_an_on_demand_candidate_deletes_its_deployment_and_keeps_the_champions(aws):
    champion, serving = on_demand_champion(aws, "rj")
    candidate = trained_model(aws, "rj-loser")
    deployment = evaluation_deployment(aws, candidate, "manual__rj2")
    result = promote_op(candidate, deployment, decision="reject").execute(
        make_context("promote_model", "manual__rj2")
    )

    assert result["outcome"] == "rejected" and result["deleted_deployments"] == [deployment]
    assert result["deleted_models"] == [candidate] and result["deleted_throughputs"] == []
    assert (result["serving_arn"], result["serving_kind"]) == (serving, "on_demand")
    assert alive_deployments(aws) == [serving]
    registry = read_registry(aws)
    assert (registry["version"], registry["serving_arn"], registry["serving_model_arn"]) == (
        1,
        serving,
        champion,
    )


def test_a_legacy_registry_record_still_promotes_in_place(aws):
    """A registry written before on-demand serving (schema 1, ``serving_throughput_arn``) is read as a
    provisioned champion: a candidate evaluated on a throughput switches it in place, and the write is schema 2."""
    champion, candidate = trained_model(aws, "lg-champion"), trained_model(aws, "lg-challenger")
    serving = evaluation_throughput(aws, champion, "manual__lg1")
    legacy = {
        "schema": 1,
        "name": "qa",
        "version": 1,
        "serving_throughput_arn": serving,
        "serving_model_arn": champion,
        "base_model_id": NOVA_MICRO,
        "promoted_at": "2026-01-01T00:00:00+00:00",
        "dag_id": "bedrock_retraining",
        "run_id": "manual__lg1",
        "figures": {},
        "previous": None,
    }
    aws.s3.put_object(Bucket=REGISTRY_BUCKET, Key="registry/qa.json", Body=json.dumps(legacy).encode())
    evaluation = evaluation_throughput(aws, candidate, "manual__lg2")

    result = promote_op(candidate, evaluation).execute(make_context("promote_model", "manual__lg2"))

    assert result["outcome"] == "updated_in_place" and result["deleted_throughputs"] == [evaluation]
    assert (result["serving_arn"], result["serving_kind"]) == (serving, "provisioned")
    assert serving_model_of(aws, serving) == candidate
    registry = read_registry(aws)
    assert (registry["schema"], registry["version"], registry["serving_arn"]) == (2, 2, serving)
    assert "serving_throughput_arn" not in registry
    assert (
        registry["previous"]["serving_arn"] == serving
        and registry["previous"]["serving_kind"] == "provisioned"
    )


def test_a_retry_after_the_registry_write_finishes_an_on_demand_promotion(aws, monkeypatch):
    from bedrock_customization.hooks.bedrock import BedrockCustomizationHook

    champion, old = on_demand_champion(aws, "rt")
    candidate = trained_model(aws, "rt-challenger")
    new = evaluation_deployment(aws, candidate, "manual__rt2")

    def killed(self, identifier):
        raise SystemExit("worker killed")

    monkeypatch.setattr(BedrockCustomizationHook, "delete_deployment", killed)
    with pytest.raises(SystemExit):  # after the registry write, before the old deployment went
        promote_op(candidate, new, champion_retention="delete").execute(
            make_context("promote_model", "manual__rt2")
        )
    monkeypatch.undo()
    assert read_registry(aws)["serving_arn"] == new and set(alive_deployments(aws)) == {old, new}

    retry = promote_op(candidate, new, champion_retention="delete").execute(
        make_context("promote_model", "manual__rt2")
    )
    assert (retry["outcome"], retry["registry_version"]) == ("already_promoted", 2)
    assert (retry["serving_arn"], retry["serving_kind"]) == (new, "on_demand")
    assert retry["deleted_deployments"] == [old] and retry["deleted_models"] == [champion]
    assert alive_deployments(aws) == [new] and read_registry(aws)["version"] == 2
