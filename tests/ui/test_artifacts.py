"""Which keys a run may read, and how its objects are sorted for the page (pure, no Airflow, no AWS)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bedrock_customization.naming import digest
from bedrock_customization.ui import artifacts
from bedrock_customization.ui.render import markdown_html

RUN = "manual__2026-01-05T10:00:00+00:00"
PREFIX = f"runs/bedrock_retraining/{digest('bedrock_retraining', RUN)}/"
DAY = date(2026, 1, 5)


def test_a_retraining_run_reads_its_own_prefix_only():
    assert artifacts.run_prefixes("bedrock_retraining", RUN, DAY) == (PREFIX,)


def test_a_sweep_run_reads_its_date_folders_too():
    dag = "bedrock_hparam_sweep"
    assert artifacts.run_prefixes(dag, RUN, DAY) == (
        f"runs/{dag}/{digest(dag, RUN)}/",
        f"runs/{dag}/2026-01-05/",
        "sweeps/2026-01-05/",
    )


def test_run_date_is_the_utc_logical_date_else_run_after():
    late = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
    assert artifacts.run_date(late, datetime(2026, 2, 1, tzinfo=UTC)) == DAY
    assert artifacts.run_date(None, late) == DAY


@pytest.mark.parametrize(
    "key",
    [
        PREFIX + "output/model-customization-job-abc/loss_curve.png",
        PREFIX + "evaluation/report.md",
        "registry/bedrock-retraining.json",
    ],
)
def test_allowed_keys(key):
    assert artifacts.is_allowed(key, (PREFIX,))


@pytest.mark.parametrize(
    "key",
    [
        "",
        "raw/qa_pairs.jsonl",
        "runs/bedrock_retraining/000000000000/output/loss_curve.png",  # another run
        PREFIX.rstrip("/"),  # the folder itself
        PREFIX,  # a folder, not an object
        PREFIX + "../000000000000/output/loss_curve.png",
        PREFIX + "./output/loss_curve.png",
        PREFIX + "output//loss_curve.png",
        PREFIX + "output\\..\\x.png",
        PREFIX + "output/\x00.png",
        "/" + PREFIX + "output/loss_curve.png",
        "s3://other-bucket/" + PREFIX + "output/loss_curve.png",
        "registry/../raw/qa_pairs.jsonl",
        "registry/team/x.json",
        "registry/.hidden.json",
        "registry/x.txt",
        PREFIX + "x" * 1100,
        None,
    ],
)
def test_refused_keys(key):
    assert not artifacts.is_allowed(key, (PREFIX,))


def test_relative_references_resolve_inside_the_folder_or_not_at_all():
    base = PREFIX + "evaluation/report.md"
    assert artifacts.resolve_relative(base, "metrics_chart.png") == PREFIX + "evaluation/metrics_chart.png"
    assert artifacts.resolve_relative(base, "../output/x.png") == PREFIX + "output/x.png"
    for outside in ("https://example.com/x.png", "data:image/png;base64,AAAA", "/etc/passwd", "#top", "?x=1"):
        assert artifacts.resolve_relative(base, outside) is None
    # Resolves to a key, which the caller then checks against the run's prefixes.
    escaped = artifacts.resolve_relative(base, "../../../../raw/qa_pairs.jsonl")
    assert escaped == "raw/qa_pairs.jsonl" and not artifacts.is_allowed(escaped, (PREFIX,))
    assert artifacts.resolve_relative(base, "../" * 5 + "x.png") is None  # above the bucket's root


def test_classify_sorts_training_evaluation_and_leaderboard_folders():
    job = PREFIX + "output/model-customization-job-abc/"
    keys = [
        job + "loss_curve.png",
        job + "metrics_summary.json",
        job + "training_artifacts/step_wise_training_metrics.csv",
        PREFIX + "evaluation/summary.json",
        PREFIX + "evaluation/report.md",
        PREFIX + "evaluation/metrics_chart.png",
        PREFIX + "evaluation/responses.jsonl",
        PREFIX + "sweep/leaderboard.json",
        PREFIX + "sweep/leaderboard.png",
        PREFIX + "data/train.jsonl",
    ]
    found = artifacts.classify([{"key": key, "size": 1} for key in keys], (PREFIX,))
    (training,) = found.training
    assert training.label == "output/model-customization-job-abc/"
    assert training.files == {"loss_curve": job + "loss_curve.png", "summary": job + "metrics_summary.json"}
    (evaluation,) = found.evaluations
    assert set(evaluation.files) == {"summary", "report", "chart", "responses"}
    (board,) = found.leaderboards
    assert board.files == {
        "json": PREFIX + "sweep/leaderboard.json",
        "chart": PREFIX + "sweep/leaderboard.png",
    }
    assert [f["label"] for f in found.files][0] == "data/train.jsonl"
    assert len(found.files) == len(keys)


def test_champion_history_follows_the_previous_chain():
    registry = {
        "version": 2,
        "dag_id": "bedrock_retraining",
        "run_id": "b",
        "figures": {
            "primary_metric": "chrf",
            "metrics": {"chrf": {"label": "chrF", "scale": 100.0}},
            "baseline": {"chrf": 40.0},
            "candidate": {"chrf": 55.25},
        },
        "previous": {"version": 1, "dag_id": "bedrock_retraining", "run_id": "a", "previous": None},
    }
    history = artifacts.champion_history(registry)
    assert [entry["version"] for entry in history] == [2, 1]
    assert artifacts.figure_text(history[0]["figures"]) == "chrF: 40 → 55.25"
    assert (
        artifacts.figure_text({"metric": "chrf", "baseline": {"chrf": 1}, "candidate": {"chrf": 2}})
        == "chrf: 1 → 2"
    )
    assert artifacts.figure_text(None) == "" and artifacts.figure_text({}) == ""
    assert artifacts.champion_status(history, "bedrock_retraining", "b") == "champion"
    assert artifacts.champion_status(history, "bedrock_retraining", "a") == "replaced"
    assert artifacts.champion_status(history, "bedrock_retraining", "c") is None
    assert artifacts.champion_history(None) == []


def test_champion_history_says_how_each_champion_is_served_also_for_a_schema_1_record():
    deployment = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdef123456"
    throughput = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456"
    registry = {
        "version": 2,
        "serving_arn": deployment,
        "serving_kind": "on_demand",
        "previous": {"version": 1, "serving_throughput_arn": throughput},  # written before on-demand serving
    }
    history = artifacts.champion_history(registry)
    assert [entry["serving_text"] for entry in history] == [
        f"on demand (custom model deployment) {deployment}",
        f"provisioned throughput {throughput}",
    ]
    assert history[1]["serving_kind"] == "provisioned"
    assert artifacts.serving_text({"version": 3}) == ""


def test_markdown_is_rendered_without_raw_html_scripts_or_outside_images():
    html = markdown_html(
        "# Report <script>alert(1)</script>\n\n"
        '<img src=x onerror="alert(2)">\n\n'
        "[click](javascript:alert(3)) [docs](https://example.com) [chart](metrics_chart.png)\n\n"
        "![chart](metrics_chart.png) ![tracker](https://example.com/t.png) ![other](../../x.png)\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n",
        lambda reference: f"object?key={reference}" if reference == "metrics_chart.png" else None,
    )
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert "javascript:" not in html.replace("[click](javascript:alert(3))", "")
    assert '<a href="https://example.com" rel="noopener noreferrer">docs</a>' in html
    assert '<a href="object?key=metrics_chart.png">chart</a>' in html
    assert '<img src="object?key=metrics_chart.png" alt="chart" loading="lazy">' in html
    assert "example.com/t.png" not in html and "[image: tracker]" in html and "[image: other]" in html
    assert "<table>" in html
