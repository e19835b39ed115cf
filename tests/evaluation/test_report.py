"""The Markdown report and the PNG chart, from a hand-made summary: the decision with its statistics, the
samples whose primary metric changed, error bars."""

from __future__ import annotations

import pytest

from bedrock_customization.evaluation.compare import score_rows, summarize
from bedrock_customization.evaluation.metrics import create_metrics
from bedrock_customization.evaluation.report import render_chart, render_markdown
from bedrock_customization.evaluation.samples import Sample

SAMPLES = [
    Sample(0, 1, "How much is Grove?", "Grove costs $79 per month."),
    Sample(1, 2, "サポートの対応時間は？", "サポートは平日9時から18時まで対応しています。"),
    Sample(2, 3, "What is KL-403?", "KL-403 means the API key has expired."),
    Sample(3, 4, "Max users on Sprout?", "Sprout allows 3 users."),
]
RESPONSES = {
    "baseline": [
        "Please check our pricing page.",
        "申し訳ありませんが、分かりません。",
        "An error.",
        "Sprout allows 3 users.",
    ],
    "candidate": [
        "Grove costs $79 per month.",
        "サポートは平日9時から18時まで対応します。",
        "KL-403: the API key expired.",
        "Sprout has 5 users.",
    ],
}
MODELS = {
    "baseline": {"model_id": "amazon.nova-micro-v1:0", "label": "base | Nova"},
    "candidate": {
        "model_id": "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc",
        "label": "fine-tuned",
    },
}


def evaluate(copies: int, responses: dict | None = None, margin: float = 5.0) -> tuple[list, dict]:
    """The four samples ``copies`` times over (indices and lines run on), scored and summarised."""
    responses = responses or RESPONSES
    samples = [Sample(i, i + 1, SAMPLES[i % 4].prompt, SAMPLES[i % 4].reference) for i in range(4 * copies)]
    answers = {role: [responses[role][i % 4] for i in range(4 * copies)] for role in responses}
    metrics = create_metrics(["rouge_l", "chrf", "exact_match"])
    rows = score_rows(samples, answers, metrics)
    summary = summarize(
        rows, metrics, MODELS, "chrf", margin, dataset_uri="s3://b/v.jsonl", sample_size=None, seed=42
    )
    return rows, summary


@pytest.fixture(scope="module")
def evaluated():
    return evaluate(copies=3)


def test_rows_and_summary(evaluated):
    rows, summary = evaluated
    assert rows[0]["scores"]["candidate"] == {"rouge_l": 1.0, "chrf": 100.0, "exact_match": 1.0}
    assert rows[3]["scores"]["baseline"]["exact_match"] == 1.0
    assert summary["baseline"]["exact_match"] == 0.25 and summary["candidate"]["exact_match"] == 0.25
    assert summary["candidate"]["chrf"] > summary["baseline"]["chrf"] + 5
    assert summary["decision"] == "promote" and summary["samples"] == 12
    assert summary["metrics"]["chrf"] == {"label": "chrF", "scale": 100.0}
    test = summary["significance"]
    assert (
        test["decision"] == "promote" and test["n"] == 12 and test["seed"] == 42 and test["metric"] == "chrf"
    )
    assert test["ci_low"] > 5.0 and test["mean_difference"] == pytest.approx(
        summary["candidate"]["chrf"] - summary["baseline"]["chrf"], abs=1e-3
    )
    low, high = summary["intervals"]["candidate"]["chrf"]
    assert low < summary["candidate"]["chrf"] < high


def test_four_samples_are_too_few_to_decide():
    rows, summary = evaluate(copies=1)
    # At least the 6 any decision takes; more for differences as spread as these four (+91, +79, +53, −56).
    assert summary["decision"] == "inconclusive" and summary["significance"]["samples_needed"] == 13
    report = render_markdown(summary, rows)
    assert report.startswith("# Model evaluation: INCONCLUSIVE\n")
    assert "is not clear from these samples, so the champion stays" in report
    assert "4 samples are too few to decide at 95% confidence (at least 6 are needed)" in report
    assert "About 13 samples (9 more) would likely decide" in report


def test_markdown_report(evaluated):
    rows, summary = evaluated
    report = render_markdown(summary, rows, examples=2)
    assert report.startswith("# Model evaluation: PROMOTE\n")
    test = summary["significance"]
    decision = report.split("## Decision")[1].split("| role |")[0]
    assert (
        f"mean +{test['mean_difference']:.2f}, 95% confidence interval [+{test['ci_low']:.2f}, "
        f"+{test['ci_high']:.2f}] (paired percentile bootstrap, 2000 resamples, seed 42)" in decision
    )
    assert f"p-value {test['p_value']:.4f}" in decision and "n = 12 paired samples" in decision
    assert (
        "Rule: promote if ci_low > margin; reject if ci_high < margin; else inconclusive (margin 5)."
        in decision
    )
    assert "Decision: **promote**: the 95% interval" in decision
    assert "| baseline | base \\| Nova | `amazon.nova-micro-v1:0` |" in report
    assert "| metric | range | baseline | candidate | difference |" in report
    assert (
        f"| chrF (primary) | 0-100 | {summary['baseline']['chrf']:.2f} | {summary['candidate']['chrf']:.2f} | +"
        in report
    )
    assert "| Exact match | 0-1 | 0.2500 | 0.2500 | +0.0000 |" in report
    assert "Samples: all 12 records of `s3://b/v.jsonl`." in report
    assert "error bars: 95% bootstrap interval of each model's mean" in report
    assert "Samples whose chrF changed: 9 rose, 3 fell, 0 unchanged" in report
    gains, losses = report.split("## Largest gains")[1].split("## Largest losses")
    assert "### Sample 0 (line 1)" in gains and "### Sample 3 (line 4)" in losses
    assert gains.count("### Sample") == 2 and losses.count("### Sample") == 2
    assert "> Sprout has 5 users." in losses


def test_only_samples_whose_primary_metric_changed_are_listed():
    same_on_sprout = {**RESPONSES, "candidate": [*RESPONSES["candidate"][:3], RESPONSES["baseline"][3]]}
    rows, summary = evaluate(copies=2, responses=same_on_sprout)
    report = render_markdown(summary, rows, examples=3)
    assert "Samples whose chrF changed: 6 rose, 0 fell, 2 unchanged" in report
    gains, losses = report.split("## Largest gains")[1].split("## Largest losses")
    assert "Sprout" not in gains and "### Sample" not in losses and "No sample's chrF fell." in losses

    identical = {"baseline": RESPONSES["baseline"], "candidate": RESPONSES["baseline"]}
    rows, summary = evaluate(copies=2, responses=identical, margin=0.0)
    report = render_markdown(summary, rows)
    assert summary["decision"] == "inconclusive" and "## Largest gains for" not in report
    assert "No sample's chrF changed: both models scored the same on all 8 samples." in report


def test_chart_is_a_png_with_error_bars(evaluated):
    _, summary = evaluated
    png = render_chart(summary)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width > 500 and height > 400
    # Without per-sample scores (native evaluation jobs' unpaired case) the chart has no error bars.
    assert render_chart({**summary, "intervals": {}}) != png
