"""The run cost estimate: the price table's provenance, its override, and the arithmetic of each item."""

from __future__ import annotations

import json
import re

import pytest

from bedrock_customization import catalog, cost, sweep
from bedrock_customization.exceptions import BedrockCustomizationError

MICRO = "amazon.nova-micro-v1:0:128k"
#: A small table with round prices, so every figure below can be checked by hand.
SMALL = {
    MICRO: {
        "training_per_1k_tokens": 0.002,
        "storage_per_month": 2.0,
        "throughput_per_model_unit_hour": 10.0,
        "on_demand_input_per_1k_tokens": 0.001,
        "on_demand_output_per_1k_tokens": 0.004,
        "custom_on_demand_input_per_1k_tokens": 0.003,
        "custom_on_demand_output_per_1k_tokens": 0.006,
    }
}
THROUGHPUT = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123"
DEPLOYMENT = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/xyz789"


def test_every_price_entry_names_its_source_and_review_date():
    table = cost.price_table()
    assert set(table) == {model.id for model in catalog.list_models()}  # one entry per catalogued model
    for model_id, entry in table.items():
        assert entry["source"].startswith("https://aws.amazon.com/bedrock/pricing"), model_id
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", entry["reviewed"]), model_id
        assert isinstance(entry["verified"], bool) and entry["note"].strip(), model_id
        for name in cost.PRICE_FIELDS:
            assert entry[name] is None or entry[name] >= 0, (model_id, name)


def test_training_is_records_tokens_times_epochs_times_price():
    # 120 records of 250 estimated tokens = 30,000 tokens per epoch; 3 epochs at $0.002 per 1,000 tokens.
    line = cost.training_cost(120 * 250, "3", 0.002)
    assert line["tokens"] == 90_000 and line["epochs"] == 3
    assert line["estimated_cost_usd"] == pytest.approx(0.18)
    assert cost.training_cost(30_000, None, 0.002)["estimated_cost_usd"] is None  # epochs unknown: unpriced
    assert cost.training_cost(30_000, 3, None)["estimated_cost_usd"] is None  # no price: unpriced, not 0


def test_throughput_is_model_units_times_started_hours_times_price():
    assert cost.throughput_cost(2, 3600, 10.0)["estimated_cost_usd"] == pytest.approx(20.0)
    line = cost.throughput_cost(2, 3601, 10.0)  # a second into the second hour: that hour is counted
    assert line["hours"] == 2 and line["estimated_cost_usd"] == pytest.approx(40.0)
    assert cost.throughput_cost(1, 40, 10.0)["hours"] == 1  # a short evaluation still pays its first hour


def test_on_demand_is_input_and_output_tokens_times_their_prices():
    line = cost.on_demand_cost(10_000, 2_000, 0.001, 0.004)
    assert line["estimated_cost_usd"] == pytest.approx(10 * 0.001 + 2 * 0.004)


def test_run_estimate_sums_its_breakdown_for_a_provisioned_candidate():
    estimate = cost.run_estimate(
        MICRO,
        cost.price_table(SMALL),
        training_tokens=30_000,
        epochs=2,
        candidate_model_id=THROUGHPUT,
        candidate_usage={"inputTokens": 5_000, "outputTokens": 1_000},  # the throughput is paid by the hour
        throughput={"model_units": 1, "seconds": 1800},
        baseline_model_id="amazon.nova-micro-v1:0",
        baseline_usage={"inputTokens": 5_000, "outputTokens": 1_000},
        kept_models=1,
    )
    parts = {name: line["estimated_cost_usd"] for name, line in estimate["breakdown"].items()}
    assert parts == pytest.approx(
        {
            "training": 60 * 0.002,
            "evaluation_candidate": 1 * 1 * 10.0,
            "evaluation_baseline": 5 * 0.001 + 1 * 0.004,
            "storage_first_month": 2.0,
        }
    )
    assert estimate["estimated_cost_usd"] == pytest.approx(sum(parts.values()))
    assert estimate["unpriced"] == [] and estimate["prices"]["model_id"] == MICRO
    assert estimate["prices"]["overridden"] == sorted(SMALL[MICRO])


def test_run_estimate_of_an_on_demand_deployment_and_a_champion_baseline():
    estimate = cost.run_estimate(
        MICRO,
        cost.price_table(SMALL),
        training_tokens=30_000,
        epochs=1,
        candidate_model_id=DEPLOYMENT,
        candidate_usage={"inputTokens": 4_000, "outputTokens": 3_000},
        baseline_model_id=THROUGHPUT,  # the champion's own throughput bills whatever the run does
        baseline_usage={"inputTokens": 4_000, "outputTokens": 3_000},
        kept_models=0,  # rejected: nothing kept
    )
    breakdown = estimate["breakdown"]
    assert set(breakdown) == {"training", "evaluation_candidate", "storage_first_month"}
    assert breakdown["evaluation_candidate"]["estimated_cost_usd"] == pytest.approx(4 * 0.003 + 3 * 0.006)
    assert breakdown["storage_first_month"]["estimated_cost_usd"] == 0
    assert estimate["estimated_cost_usd"] == pytest.approx(30 * 0.002 + 4 * 0.003 + 3 * 0.006)


def test_unpriced_items_are_listed_and_left_out_of_the_total():
    estimate = cost.run_estimate(
        MICRO,
        cost.price_table({MICRO: {"throughput_per_model_unit_hour": None}}),
        training_tokens=1_000,
        epochs=1,
        candidate_model_id=THROUGHPUT,
        throughput={"model_units": 1, "seconds": 60},
        kept_models=1,
    )
    assert estimate["unpriced"] == ["evaluation_candidate"]
    priced = [
        line["estimated_cost_usd"] for line in estimate["breakdown"].values() if line["estimated_cost_usd"]
    ]
    assert estimate["estimated_cost_usd"] == pytest.approx(sum(priced))


def test_leaderboard_entries_carry_their_training_cost_and_the_csv_shows_it():
    entries = [
        {"index": i, "config_hash": f"h{i}", "label": f"e{e}", "hyperparameters": {"epochCount": str(e)}}
        for i, e in enumerate((1, 3))
    ]
    annotated = cost.training_estimates(entries, MICRO, 10_000, cost.price_table(SMALL))
    assert [e["estimated_training_cost_usd"] for e in annotated] == pytest.approx([0.02, 0.06])
    document = sweep.leaderboard(annotated, top_k=1, require_loss=False)
    header = sweep.leaderboard_csv(document).splitlines()[0].split(",")
    assert sweep.COST_FIELD in header


def test_settings_override_is_merged_over_the_table(monkeypatch, tmp_path):
    from bedrock_customization import settings

    monkeypatch.setenv(
        "AIRFLOW__BEDROCK_CUSTOMIZATION__PRICES", json.dumps({MICRO: {"throughput_per_model_unit_hour": 7.5}})
    )
    entry = cost.prices_for("amazon.nova-micro-v1:0", cost.configured_table())  # an alias finds the entry
    assert entry["throughput_per_model_unit_hour"] == 7.5 and entry["overridden"] == [
        "throughput_per_model_unit_hour"
    ]
    assert (
        entry["training_per_1k_tokens"] == cost.price_table()[MICRO]["training_per_1k_tokens"]
    )  # others kept

    path = tmp_path / "prices.json"
    path.write_text(json.dumps({MICRO: {"storage_per_month": 3}}))
    monkeypatch.setenv("AIRFLOW__BEDROCK_CUSTOMIZATION__PRICES", str(path))
    assert cost.prices_for(MICRO, cost.configured_table())["storage_per_month"] == 3

    path.write_text("{not json")
    with pytest.raises(BedrockCustomizationError, match="prices.json.*not valid JSON"):
        settings.prices_override()
    monkeypatch.setenv("AIRFLOW__BEDROCK_CUSTOMIZATION__PRICES", json.dumps({MICRO: {"trainig": 1}}))
    with pytest.raises(cost.PriceError, match="unknown field.*trainig"):
        cost.configured_table()
    monkeypatch.setenv(
        "AIRFLOW__BEDROCK_CUSTOMIZATION__PRICES", json.dumps({MICRO: {"storage_per_month": -1}})
    )
    with pytest.raises(cost.PriceError, match="storage_per_month must be a non-negative number"):
        cost.configured_table()


def test_the_notification_headline_and_the_report_state_the_estimate():
    from bedrock_customization.evaluation.report import _cost_lines
    from bedrock_customization.notifications import run_summary
    from tests.test_notifications import EVALUATION, callback_context

    # training 50,000 tokens x 2 epochs at $0.002 per 1,000 = $0.20, plus a month of storage at $2.00
    estimate = cost.run_estimate(
        MICRO, cost.price_table(SMALL), training_tokens=50_000, epochs=2, kept_models=1
    )
    assert estimate["estimated_cost_usd"] == pytest.approx(2.2)
    figures = {**EVALUATION, "estimated_cost": estimate}
    summary = run_summary(callback_context({"eval": figures}), "success", {"evaluation": "eval"})
    assert summary["estimated_cost_usd"] == pytest.approx(2.2)
    assert summary["headline"].endswith("; estimated cost $2.20")
    section = "\n".join(_cost_lines(estimate))
    assert "## Cost (estimated)" in section
    assert (
        "| training | 0.2000 | 50,000 training tokens x 2 epochs = 100,000 tokens at $0.002 per 1,000 |"
        in section
    )
    assert "| **total** | **2.2000** |" in section
    assert "https://aws.amazon.com/bedrock/pricing/, reviewed 2026-12-03" in section
