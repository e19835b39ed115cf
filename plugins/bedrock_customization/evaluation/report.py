"""Human-readable outputs of an evaluation: a Markdown report and a PNG bar chart (matplotlib, Agg)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["CHART_NAME", "render_chart", "render_markdown", "score_summary"]

CHART_NAME = "metrics_chart.png"
_EXCERPT = 400


def _scaled_note(metrics: Mapping[str, Mapping[str, Any]]) -> str:
    """``"chrF ÷ 100"`` for every metric whose scale is not 0-1."""
    notes = [
        f"{info['label']} ÷ {info['scale']:g}" for info in metrics.values() if float(info["scale"]) != 1.0
    ]
    return ", ".join(notes)


def _value(value: float, scale: float) -> str:
    return f"{value:.2f}" if scale > 1 else f"{value:.4f}"


#: What the report shows of each listed sample, in order: (heading, the row's key).
_SAMPLE_PARTS = (
    ("Prompt", "prompt"),
    ("Reference", "reference"),
    ("Baseline", "baseline_response"),
    ("Candidate", "candidate_response"),
)


def _quote(text: str) -> str:
    text = text.strip()
    if len(text) > _EXCERPT:
        text = text[:_EXCERPT].rstrip() + " …"
    return "\n".join(f"> {line}" if line else ">" for line in (text or "(empty)").splitlines())


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], examples: int = 3) -> str:
    """The report: models, metric means with differences, the decision, and the largest gains and losses."""
    metrics: Mapping[str, Mapping[str, Any]] = summary["metrics"]
    primary = summary["primary_metric"]
    baseline, candidate = summary["baseline"], summary["candidate"]
    scale = float(metrics[primary]["scale"])
    label = metrics[primary]["label"]
    needed = baseline[primary] + summary["margin"]
    verdict = "beats" if summary["decision"] == "promote" else "does not beat"
    lines = [
        f"# Model evaluation: {summary['decision'].upper()}",
        "",
        f"The candidate {verdict} the baseline on **{label}**: {_value(candidate[primary], scale)} vs "
        f"{_value(baseline[primary], scale)}; promotion needs at least {_value(needed, scale)} "
        f"(baseline + margin {summary['margin']:g}). Mean over {summary['samples']} samples.",
        "",
        "| role | label | model id |",
        "|---|---|---|",
        *(
            f"| {role} | {_cell(summary[role]['label'])} | `{summary[role]['model_id']}` |"
            for role in ("baseline", "candidate")
        ),
        "",
        "## Metrics",
        "",
        "| metric | range | baseline | candidate | difference |",
        "|---|---|---:|---:|---:|",
    ]
    for name, info in metrics.items():
        metric_scale = float(info["scale"])
        low = 1 if name == "llm_judge" else 0
        marker = " (primary)" if name == primary else ""
        difference = candidate[name] - baseline[name]
        lines.append(
            f"| {info['label']}{marker} | {low}-{metric_scale:g} | {_value(baseline[name], metric_scale)} | "
            f"{_value(candidate[name], metric_scale)} | {'+' if difference >= 0 else '−'}"
            f"{_value(abs(difference), metric_scale)} |"
        )
    retries = summary.get("retries") or {}
    if retries:
        counts = ", ".join(f"{key} {count}" for key, count in retries.items())
        lines += ["", f"Retried calls (throttling or model not ready): {counts}."]
    if summary.get("dataset_uri"):
        sampled = (
            f"a seeded sample (seed {summary.get('seed')}) of {summary['samples']}"
            if summary.get("sample_size")
            else f"all {summary['samples']}"
        )
        lines += ["", f"Samples: {sampled} records of `{summary['dataset_uri']}`."]
    note = _scaled_note(metrics)
    lines += ["", f"![Mean scores per metric{f' ({note})' if note else ''}]({CHART_NAME})"]

    ranked = sorted(
        rows,
        key=lambda row: (
            row["scores"]["candidate"][primary] - row["scores"]["baseline"][primary],
            -row["index"],
        ),
    )
    count = min(examples, len(ranked) // 2) if len(ranked) > 1 else len(ranked)
    best, worst = list(reversed(ranked[len(ranked) - count :])), ranked[:count] if len(ranked) > 1 else []
    for title, chosen in (
        (f"Largest gains for the candidate ({label})", best),
        (f"Largest losses for the candidate ({label})", worst),
    ):
        if not chosen:
            continue
        lines += ["", f"## {title}"]
        for row in chosen:
            base, cand = row["scores"]["baseline"][primary], row["scores"]["candidate"][primary]
            lines += [
                "",
                f"### Sample {row['index']} (line {row['line']}): {label} {_value(base, scale)} → {_value(cand, scale)}",
            ]
            for title, key in _SAMPLE_PARTS:
                lines += ["", f"{title}:", "", _quote(row[key])]
    return "\n".join(lines) + "\n"


def score_summary(summary: Mapping[str, Any]) -> str:
    """For the task log: both models' mean per metric as an aligned text table, then the decision."""
    from bedrock_customization.tables import text_table

    rows = [(name, summary["baseline"][name], summary["candidate"][name]) for name in summary["metrics"]]
    table = text_table(rows, ("metric", "baseline", "candidate"), floatfmt=".4f")
    return (
        f"Mean scores:\n{table}\nDecision on {summary['primary_metric']} (margin {summary['margin']:g}): "
        f"{summary['decision']}."
    )


def render_chart(summary: Mapping[str, Any]) -> bytes:
    """A PNG grouped bar chart of both models' means per metric, on one 0-1 axis (each mean ÷ the metric's scale)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics: Mapping[str, Mapping[str, Any]] = summary["metrics"]
    names = list(metrics)
    width = 0.38
    figure = Figure(figsize=(max(6.0, 1.9 * len(names) + 2), 4.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colours = {"baseline": "#8c9bab", "candidate": "#1f77b4"}
    for offset, role in ((-width / 2, "baseline"), (width / 2, "candidate")):
        values = [summary[role][name] / float(metrics[name]["scale"]) for name in names]
        bars = axes.bar(
            [i + offset for i in range(len(names))],
            values,
            width,
            label=f"{role}: {summary[role]['label']}",
            color=colours[role],
        )
        axes.bar_label(bars, labels=[f"{value:.2f}" for value in values], padding=2, fontsize=9)
    ticks = []
    for name in names:
        info = metrics[name]
        suffix = f"\n(÷ {float(info['scale']):g})" if float(info["scale"]) != 1.0 else ""
        primary = " ★" if name == summary["primary_metric"] else ""
        ticks.append(f"{info['label']}{primary}{suffix}")
    axes.set_xticks(range(len(names)), ticks)
    axes.set_ylim(0, 1.15)
    note = _scaled_note(metrics)
    axes.set_ylabel(f"mean score, 0-1{f' ({note})' if note else ''}")
    axes.set_title(
        f"Baseline vs candidate on {summary['samples']} samples: {summary['decision']} "
        f"(★ primary: {metrics[summary['primary_metric']]['label']})",
        fontsize=11,
    )
    axes.legend(loc="upper left", fontsize=9, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
