"""The catalog compared with what an account's Bedrock lists: pure drift rules, `catalog --check`, and the
preflight's model-availability check, the last two against the local emulator (whose model table is its own,
written from the AWS pages, not from our catalog)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import boto3
import pytest

from bedrock_customization import catalog, cli
from bedrock_customization.catalog_drift import find_drift, live_lifecycle, render_drift
from bedrock_customization.preflight import check_model_availability
from include import local_aws

TODAY = date(2026, 12, 2)
NOVA = "amazon.nova-micro-v1:0:128k"


def summary(model_id: str, types=("FINE_TUNING", "DISTILLATION"), status="ACTIVE", end=None) -> dict:
    lifecycle = {"status": status, **({"endOfLifeTime": end} if end else {})}
    return {"modelId": model_id, "customizationsSupported": list(types), "modelLifecycle": lifecycle}


def nova_only() -> list[catalog.BaseModel]:
    return [catalog.get_model(NOVA)]


def test_matching_account_has_no_drift():
    assert find_drift(nova_only(), [summary(NOVA)], "us-east-1", TODAY) == []
    assert render_drift([], "us-east-1") == "The catalog matches ListFoundationModels in us-east-1."


def test_a_model_the_region_does_not_list_is_reported():
    drift = find_drift(nova_only(), [], "us-east-1", TODAY)
    assert [(d.model_id, d.aspect, d.account) for d in drift] == [(NOVA, "availability", "not listed")]


def test_customization_types_and_lifecycle_differences_are_reported():
    end = datetime(2026, 11, 1, tzinfo=UTC)
    drift = find_drift(nova_only(), [summary(NOVA, ("FINE_TUNING",), "LEGACY", end)], "us-east-1", TODAY)
    assert {(d.aspect, d.catalog, d.account) for d in drift} == {
        ("customizations", "DISTILLATION, FINE_TUNING", "FINE_TUNING"),
        ("lifecycle", "ACTIVE", "EOL"),
    }
    text = render_drift(drift, "us-east-1")
    assert text.startswith("2 difference(s)") and NOVA in text


def test_uncatalogued_and_withdrawn_customizable_models_are_reported():
    image = {**summary("acme.painter-v1:0"), "outputModalities": ["IMAGE"]}
    live = [
        summary(NOVA),
        summary("acme.new-model-v1:0:8k"),
        summary("amazon.old-v1:0:8k"),
        summary("x.y", ()),
        image,
    ]
    drift = find_drift(nova_only(), live, "us-east-1", TODAY, withdrawn=["amazon.old-v1:0:8k"])
    assert {(d.model_id, d.aspect) for d in drift} == {
        ("acme.new-model-v1:0:8k", "uncatalogued"),
        ("amazon.old-v1:0:8k", "withdrawn"),
    }


def test_a_model_customizable_outside_the_catalogs_regions_is_reported():
    drift = find_drift(nova_only(), [summary(NOVA)], "eu-west-1", TODAY)
    assert [(d.aspect, d.catalog) for d in drift] == [("availability", "not offered in eu-west-1")]
    assert find_drift(nova_only(), [summary(NOVA, ())], "eu-west-1", TODAY) == []


def test_live_lifecycle_reads_status_and_end_of_life():
    assert live_lifecycle({}, TODAY) == "ACTIVE"
    assert live_lifecycle(summary(NOVA, status="LEGACY"), TODAY) == "LEGACY"
    assert live_lifecycle(summary(NOVA, status="LEGACY", end=datetime(2027, 1, 1)), TODAY) == "LEGACY"
    assert live_lifecycle(summary(NOVA, status="LEGACY", end=datetime(2026, 12, 2)), TODAY) == "EOL"


# ------------------------------------------------------------------------------------- against the emulator


@pytest.fixture
def emulated(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with local_aws.mock():
        yield boto3.client("bedrock", region_name="us-east-1")


def test_catalog_check_agrees_with_the_emulated_account(emulated, capsys):
    """The emulator's table and our catalog were written separately from the same AWS pages: they agree."""
    code = cli.main(["catalog", "--check", "--region", "us-east-1"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.strip() == "The catalog matches ListFoundationModels in us-east-1."
    assert cli.main(["catalog", "--check", "--region", "us-west-2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_catalog_check_prints_drift_and_fails(emulated, capsys, monkeypatch):
    model = catalog.get_model(NOVA)
    stale = model.__class__(**{**model.__dict__, "customization_types": ("FINE_TUNING",)})
    monkeypatch.setattr(catalog, "list_models", lambda **_: (stale,))
    assert cli.main(["catalog", "--check", "--region", "us-east-1"]) == 1
    out = capsys.readouterr().out
    assert "customizations" in out and "DISTILLATION, FINE_TUNING" in out


def test_preflight_model_availability_against_the_emulated_account(emulated):
    ok = check_model_availability(emulated, NOVA, "FINE_TUNING", TODAY)
    assert ok.ok and "offered in this region (ACTIVE)" in ok.detail
    elsewhere = check_model_availability(
        emulated, "meta.llama3-1-8b-instruct-v1:0:128k", "FINE_TUNING", TODAY
    )
    assert not elsewhere.ok and "not offered in this region" in elsewhere.detail
    unknown = check_model_availability(emulated, "acme.nothing-v1:0", "FINE_TUNING", TODAY)
    assert not unknown.ok and unknown.fix


def test_preflight_model_availability_warns_on_legacy_and_fails_at_end_of_life():
    class Bedrock:
        def __init__(self, lifecycle):
            self.lifecycle = lifecycle

        def get_foundation_model(self, modelIdentifier):
            details = summary(modelIdentifier)
            details["modelLifecycle"] = self.lifecycle
            return {"modelDetails": details}

    legacy = check_model_availability(
        Bedrock({"status": "LEGACY", "endOfLifeTime": datetime(2027, 3, 1)}), NOVA, "FINE_TUNING", TODAY
    )
    assert legacy.ok and "warning: the model is LEGACY (end of life 2027-03-01)" in legacy.detail
    eol = check_model_availability(
        Bedrock({"status": "LEGACY", "endOfLifeTime": datetime(2026, 9, 10)}), NOVA, "FINE_TUNING", TODAY
    )
    assert not eol.ok and "reached end of life (end of life 2026-09-10)" in eol.detail
    unsupported = check_model_availability(
        Bedrock({"status": "ACTIVE"}), NOVA, "CONTINUED_PRE_TRAINING", TODAY
    )
    assert not unsupported.ok and "not CONTINUED_PRE_TRAINING" in unsupported.detail


def test_an_end_of_life_model_missing_from_the_listing_is_no_drift():
    haiku = catalog.get_model("anthropic.claude-3-haiku-20240307-v1:0:200k")
    assert haiku.lifecycle.status_on(TODAY) == "EOL"
    assert find_drift([haiku], [], "us-west-2", TODAY) == []
    drift = find_drift([haiku], [summary(haiku.id, ("FINE_TUNING",))], "us-west-2", TODAY)
    assert [(d.aspect, d.catalog, d.account) for d in drift] == [("lifecycle", "EOL", "ACTIVE")]
