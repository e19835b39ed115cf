"""The Markdown report and the PNG chart, from a hand-made summary."""

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


@pytest.fixture(scope="module")
def evaluated():
    metrics = create_metrics(["rouge_l", "chrf", "exact_match"])
    rows = score_rows(SAMPLES, RESPONSES, metrics)
    summary = summarize(
        rows, metrics, MODELS, "chrf", 5.0, dataset_uri="s3://b/v.jsonl", sample_size=None, seed=42
    )
    return rows, summary


def test_rows_and_summary(evaluated):
    rows, summary = evaluated
    assert rows[0]["scores"]["candidate"] == {"rouge_l": 1.0, "chrf": 100.0, "exact_match": 1.0}
    assert rows[3]["scores"]["baseline"]["exact_match"] == 1.0
    assert summary["baseline"]["exact_match"] == 0.25 and summary["candidate"]["exact_match"] == 0.25
    assert summary["candidate"]["chrf"] > summary["baseline"]["chrf"] + 5
    assert summary["decision"] == "promote" and summary["samples"] == 4
    assert summary["metrics"]["chrf"] == {"label": "chrF", "scale": 100.0}


def test_markdown_report(evaluated):
    rows, summary = evaluated
    report = render_markdown(summary, rows, examples=2)
    assert report.startswith("# Model evaluation: PROMOTE\n")
    assert "| baseline | base \\| Nova | `amazon.nova-micro-v1:0` |" in report
    assert "| metric | range | baseline | candidate | difference |" in report
    assert (
        f"| chrF (primary) | 0-100 | {summary['baseline']['chrf']:.2f} | {summary['candidate']['chrf']:.2f} | +"
        in report
    )
    assert "| Exact match | 0-1 | 0.2500 | 0.2500 | +0.0000 |" in report
    assert "Samples: all 4 records of `s3://b/v.jsonl`." in report
    gains, losses = report.split("## Largest gains")[1].split("## Largest losses")
    assert "### Sample 0 (line 1)" in gains and "### Sample 3 (line 4)" in losses
    assert "> Sprout has 5 users." in losses


def test_chart_is_a_png():
    rows = score_rows(SAMPLES, RESPONSES, create_metrics(["chrf", "rouge_l"]))
    summary = summarize(rows, create_metrics(["chrf", "rouge_l"]), MODELS, "chrf", 0.0)
    png = render_chart(summary)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert width > 500 and height > 400
