"""protection: one rule for what the registries protect from every cleanup."""

from __future__ import annotations

from bedrock_customization import janitor, promotion, protection

REGISTRY = {
    "version": 3,
    "serving_arn": "tp/serving",
    "serving_model_arn": "m/champion",
    "previous": {"serving_arn": "tp/old", "serving_model_arn": "m/previous"},
    "pending": {"throughput": "tp/serving", "from_model": "m/champion", "to_model": "m/candidate"},
}


def test_a_registry_protects_its_champion_the_previous_model_and_a_pending_switch():
    assert protection.protected_arns(REGISTRY) == {"tp/serving", "m/champion", "m/previous", "m/candidate"}


def test_the_previous_champions_throughput_is_not_protected():
    # The promotion deletes it when it is not the champion's: protecting it would keep it billed for ever.
    assert "tp/old" not in protection.protected_arns(REGISTRY)


def test_no_registry_protects_nothing():
    assert protection.protected_arns() == set()
    assert protection.protected_arns(None, {}) == set()
    assert protection.protected_arns({"serving_arn": "tp/x", "previous": None}) == {"tp/x"}


def test_several_registries_and_a_promotion_result_protect_all_they_name():
    other = {"serving_arn": "tp/other", "serving_model_arn": "m/other", "previous": None}
    promoted = {"decision": "promote", "serving_arn": "tp/new", "serving_model_arn": "m/new"}
    assert protection.protected_arns(REGISTRY, other, promoted, None) == {
        "tp/serving",
        "m/champion",
        "m/previous",
        "m/candidate",
        "tp/other",
        "m/other",
        "tp/new",
        "m/new",
    }


def test_serving_arns_are_the_champion_only():
    assert protection.serving_arns(REGISTRY) == {"tp/serving", "m/champion"}
    assert protection.serving_arns(None) == set()


def test_the_old_name_is_the_same_rule():
    assert promotion.serving_arns is protection.serving_arns


def test_the_janitor_spares_what_the_rule_protects():
    from datetime import UTC, datetime, timedelta

    from bedrock_customization import tagging

    now = datetime(2026, 3, 1, tzinfo=UTC)
    old = (now - timedelta(days=90)).isoformat()
    ours = tagging.to_aws({tagging.MANAGED_BY: tagging.MANAGED_BY_VALUE, tagging.DECISION: "reject"})
    models = [{"arn": arn, "name": arn, "created": old, "tags": ours} for arn in ("m/previous", "m/gone")]
    plan = janitor.plan(
        throughputs=[],
        models=models,
        jobs=[],
        serving_arns=protection.protected_arns(REGISTRY),
        now=now,
        ttl_hours=1,
        retention_days=30,
        max_job_hours=24,
    )
    assert [action.arn for action in plan.actions] == ["m/gone"]
    assert [spared.arn for spared in plan.spared] == ["m/previous"]


def test_an_on_demand_champion_and_a_schema_1_record_are_protected_alike():
    deployment = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdef123456"
    on_demand = {"serving_arn": deployment, "serving_kind": "on_demand", "serving_model_arn": "m/od"}
    # As load_registry returns a record written before on-demand serving.
    legacy = promotion.upgraded({"serving_throughput_arn": "tp/legacy", "serving_model_arn": "m/legacy"})
    assert protection.protected_arns(on_demand, legacy) == {deployment, "m/od", "tp/legacy", "m/legacy"}
