"""Human-readable outputs of an evaluation: a Markdown report and a PNG bar chart (matplotlib, Agg).

Both show the decision with its statistics (:mod:`.significance`): the interval of the mean per-sample
difference, the p-value, n and the rule; the chart's error bars are each model's bootstrapped mean interval.
"""

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


def _signed(value: float, scale: float) -> str:
    return ("+" if value >= 0 else "−") + _value(abs(value), scale)


def _error_bar_note(summary: Mapping[str, Any]) -> str:
    """What the chart's error bars are, or "" when it has none (no per-sample scores)."""
    if not any((summary.get("intervals") or {}).get(role) for role in ("baseline", "candidate")):
        return ""
    confidence = (summary.get("significance") or {}).get("confidence", 0.95)
    return f"error bars: {confidence:.0%} bootstrap interval of each model's mean"


#: The report's first sentence per decision, before the means.
_HEADLINES = {
    "promote": "The candidate beats the baseline by more than the margin on **{label}**",
    "reject": "The candidate falls short of the baseline plus the margin on **{label}**",
    "inconclusive": "Whether the candidate beats the baseline by more than the margin on **{label}** is not "
    "clear from these samples, so the champion stays",
}


def _significance_lines(summary: Mapping[str, Any], label: str, scale: float) -> list[str]:
    """The decision section: the paired difference's interval, the p-value, n, the rule and its outcome."""
    test = summary.get("significance")
    if not test:
        return []
    lines = ["", "## Decision", ""]
    if test.get("ci_low") is not None:
        lines += [
            f"- Per-sample difference candidate − baseline in {label}: mean "
            f"{_signed(test['mean_difference'], scale)}, {test['confidence']:.0%} confidence interval "
            f"[{_signed(test['ci_low'], scale)}, {_signed(test['ci_high'], scale)}] (paired percentile "
            f"bootstrap, {test['resamples']} resamples, seed {test['seed']}).",
            f"- p-value {test['p_value']:.4f} (two-sided sign-flip test against a mean difference of the "
            f"margin); n = {test['n']} paired samples.",
        ]
    else:
        lines.append(f"- No confidence interval: n = {test['n']} paired samples.")
    lines.append(f"- Rule: {test['rule']} (margin {test['margin']:g}).")
    outcome = f"- Decision: **{test['decision']}**: {test['reason']}."
    if test["decision"] == "inconclusive" and test.get("samples_needed"):
        more = test["samples_needed"] - test["n"]
        outcome += (
            f" About {test['samples_needed']} samples ({more} more) would likely decide, if the difference and "
            "its spread stay as observed: raise `eval_samples` or hold out more validation data."
        )
    if test.get("unpaired"):
        outcome += f" {test['unpaired']} records did not pair between the two jobs and are left out."
    return [*lines, outcome]


def _changed_samples(
    rows: Sequence[Mapping[str, Any]], primary: str, label: str, scale: float, examples: int
) -> list[str]:
    """The largest gains and losses on the primary metric, among the samples whose score changed."""
    if not rows:
        return []

    def change(row: Mapping[str, Any]) -> float:
        return row["scores"]["candidate"][primary] - row["scores"]["baseline"][primary]

    gains = sorted((r for r in rows if change(r) > 0), key=lambda r: (-change(r), r["index"]))
    losses = sorted((r for r in rows if change(r) < 0), key=lambda r: (change(r), r["index"]))
    if not gains and not losses:
        return [
            "",
            "## Largest gains and losses",
            "",
            f"No sample's {label} changed: both models scored the same on all {len(rows)} samples.",
        ]
    lines = [
        "",
        f"Samples whose {label} changed: {len(gains)} rose, {len(losses)} fell, "
        f"{len(rows) - len(gains) - len(losses)} unchanged; the largest changes follow.",
    ]
    for title, chosen, none in (
        (f"Largest gains for the candidate ({label})", gains, f"No sample's {label} rose."),
        (f"Largest losses for the candidate ({label})", losses, f"No sample's {label} fell."),
    ):
        lines += ["", f"## {title}"]
        if not chosen:
            lines += ["", none]
        for row in chosen[:examples]:
            base, cand = row["scores"]["baseline"][primary], row["scores"]["candidate"][primary]
            lines += [
                "",
                f"### Sample {row['index']} (line {row['line']}): "
                f"{label} {_value(base, scale)} → {_value(cand, scale)}",
            ]
            for heading, key in _SAMPLE_PARTS:
                lines += ["", f"{heading}:", "", _quote(row[key])]
            lines += _judge_reasons(row)
    return lines


def _judge_reasons(row: Mapping[str, Any]) -> list[str]:
    """The LLM judge's scores and reasons for one sample, in each answer order; [] without a judge."""
    details = row.get("details") or {}
    baseline = (details.get("baseline") or {}).get("llm_judge")
    candidate = (details.get("candidate") or {}).get("llm_judge")
    if not baseline or not candidate:
        return []
    lines = ["", "Judge's reasons:", ""]
    for number, (base, cand) in enumerate(zip(baseline["orders"], candidate["orders"], strict=True), 1):
        reasons = " ".join(str(cand.get("rationale") or "").split()) or "(the judge gave no reasons)"
        lines.append(
            f"- Order {number}, baseline as {base['position']} and candidate as {cand['position']}: baseline "
            f"{base['overall']:.2f}, candidate {cand['overall']:.2f}. {reasons}"
        )
    if candidate.get("order_flipped"):
        lines.append("- The verdict changed when the answers swapped places.")
    return lines


def _judge_lines(summary: Mapping[str, Any]) -> list[str]:
    """The judge section: what was asked, each model's mean per criterion, the order flips and the rubric."""
    judge = summary.get("judge")
    if not judge:
        return []
    criteria = judge["criteria"]
    lines = [
        "",
        "## Judge",
        "",
        f"`{summary.get('judge_model_id')}` graded both models' answers to each sample side by side, twice: "
        "the second time with the answers swapped. Each model's score is the mean over the two orders, which "
        "cancels a preference for either position.",
        "",
        "| criterion (1-10) | baseline | candidate | difference |",
        "|---|---:|---:|---:|",
    ]
    for name, base in criteria["baseline"].items():
        cand = criteria["candidate"][name]
        if base is None or cand is None:
            continue
        lines.append(f"| {name} | {base:.2f} | {cand:.2f} | {_signed(cand - base, 10.0)} |")
    if judge.get("order_flip_rate") is not None:
        lines += [
            "",
            f"Position bias: the verdict (which answer is better, or a tie) changed when the answers swapped "
            f"places on {judge['order_flips']} of {judge['samples']} samples ({judge['order_flip_rate']:.0%}).",
        ]
    rubric = "\n".join(f"> {line}" if line else ">" for line in str(judge.get("rubric", "")).splitlines())
    if rubric:
        lines += [
            "",
            "Rubric (the judge's system prompt; the scores arrive through a forced tool call):",
            "",
            rubric,
        ]
    return lines


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
    """The report: models, metric means with differences, the decision with its interval, p-value, n and rule,
    the LLM judge's figures and rubric (with a judge), and the largest gains and losses among the samples whose
    primary metric changed (with the judge's reasons in both answer orders)."""
    metrics: Mapping[str, Mapping[str, Any]] = summary["metrics"]
    primary = summary["primary_metric"]
    baseline, candidate = summary["baseline"], summary["candidate"]
    scale = float(metrics[primary]["scale"])
    label = metrics[primary]["label"]
    headline = _HEADLINES.get(summary["decision"], "The decision on **{label}**").format(label=label)
    lines = [
        f"# Model evaluation: {summary['decision'].upper()}",
        "",
        f"{headline}: mean {_value(candidate[primary], scale)} vs {_value(baseline[primary], scale)} over "
        f"{summary['samples']} samples (margin {summary['margin']:g}).",
        *_significance_lines(summary, label, scale),
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
        size = summary.get("sample_size")
        sampled = (
            f"a seeded sample (seed {summary.get('seed')}) of {summary['samples']}"
            if size and summary["samples"] >= size  # else the file held fewer records than the cap
            else f"all {summary['samples']}"
        )
        lines += ["", f"Samples: {sampled} records of `{summary['dataset_uri']}`."]
    notes = "; ".join(filter(None, (_scaled_note(metrics), _error_bar_note(summary))))
    lines += ["", f"![Mean scores per metric{f' ({notes})' if notes else ''}]({CHART_NAME})"]
    lines += _judge_lines(summary)
    lines += _cost_lines(summary.get("estimated_cost"))
    lines += _changed_samples(rows, primary, label, scale, examples)
    return "\n".join(lines) + "\n"


def _cost_lines(estimate: Mapping[str, Any] | None) -> list[str]:
    """The "Cost (estimated)" section: each item with its basis, the total, the prices' source and review."""
    if not estimate:
        return []
    lines = ["", "## Cost (estimated)", "", "| item | estimated USD | basis |", "|---|---:|---|"]
    for name, line in estimate["breakdown"].items():
        value = line["estimated_cost_usd"]
        lines.append(
            f"| {name} | {'unpriced' if value is None else f'{value:,.4f}'} | {_cell(line['basis'])} |"
        )
    lines.append(f"| **total** | **{estimate['estimated_cost_usd']:,.4f}** | sum of the priced items |")
    prices = estimate.get("prices") or {}
    verified = "verified" if prices.get("verified") else "not verified against the AWS page"
    lines += [
        "",
        f"Prices of `{prices.get('model_id')}` from {prices.get('source')}, reviewed {prices.get('reviewed')} "
        f"({verified}){'; overridden: ' + ', '.join(prices['overridden']) if prices.get('overridden') else ''}. "
        "An estimate, not a bill.",
    ]
    if estimate.get("unpriced"):
        lines.append(f"Unpriced (no price known): {', '.join(estimate['unpriced'])}.")
    lines += [f"- {assumption}" for assumption in estimate.get("assumptions") or []]
    return lines


def score_summary(summary: Mapping[str, Any]) -> str:
    """For the task log: both models' mean per metric as an aligned text table, then the decision with its
    interval, p-value, n and rule."""
    from bedrock_customization.tables import text_table

    rows = [(name, summary["baseline"][name], summary["candidate"][name]) for name in summary["metrics"]]
    from bedrock_customization.evaluation.significance import describe

    table = text_table(rows, ("metric", "baseline", "candidate"), floatfmt=".4f")
    text = (
        f"Mean scores:\n{table}\nDecision on {summary['primary_metric']} (margin {summary['margin']:g}): "
        f"{summary['decision']}."
    )
    test = summary.get("significance")
    if test:
        text += f"\n{describe(test)}.\nWhy: {test['reason']}."
        if test["decision"] == "inconclusive" and test.get("samples_needed"):
            text += f" About {test['samples_needed']} samples would likely decide."
    return text


def render_chart(summary: Mapping[str, Any]) -> bytes:
    """A PNG grouped bar chart of both models' means per metric, on one 0-1 axis (each mean ÷ the metric's scale),
    with error bars from ``summary["intervals"]`` (each model's bootstrapped mean) where it has them."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics: Mapping[str, Mapping[str, Any]] = summary["metrics"]
    names = list(metrics)
    width = 0.38
    figure = Figure(figsize=(max(6.0, 1.9 * len(names) + 2), 4.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colours = {"baseline": "#8c9bab", "candidate": "#1f77b4"}
    intervals = summary.get("intervals") or {}
    for offset, role in ((-width / 2, "baseline"), (width / 2, "candidate")):
        scales = [float(metrics[name]["scale"]) for name in names]
        values = [summary[role][name] / scale for name, scale in zip(names, scales, strict=True)]
        spans = [  # (below, above) the mean: the error bar of each metric's interval, 0 without one
            (value - bound[0] / scale, bound[1] / scale - value) if bound else (0.0, 0.0)
            for value, scale, bound in zip(
                values, scales, [(intervals.get(role) or {}).get(name) for name in names], strict=True
            )
        ]
        errors = (
            [[max(0.0, span[side]) for span in spans] for side in (0, 1)] if any(map(any, spans)) else None
        )
        bars = axes.bar(
            [i + offset for i in range(len(names))],
            values,
            width,
            yerr=errors,
            capsize=4,
            error_kw={"elinewidth": 1, "ecolor": "#333333"},
            label=f"{role}: {summary[role]['label']}",
            color=colours[role],
        )
        for bar, value, span in zip(bars, values, spans, strict=True):  # each value above its error bar
            x = bar.get_x() + bar.get_width() / 2
            axes.text(
                x, value + max(0.0, span[1]) + 0.015, f"{value:.2f}", ha="center", va="bottom", fontsize=9
            )
    ticks = []
    for name in names:
        info = metrics[name]
        suffix = f"\n(÷ {float(info['scale']):g})" if float(info["scale"]) != 1.0 else ""
        star = " ★" if name == summary["primary_metric"] else ""
        ticks.append(f"{info['label']}{star}{suffix}")
    axes.set_xticks(range(len(names)), ticks)
    axes.set_ylim(0, 1.15)
    note = _scaled_note(metrics)
    axes.set_ylabel(f"mean score, 0-1{f' ({note})' if note else ''}")
    primary = summary["primary_metric"]
    title = (
        f"Baseline vs candidate on {summary['samples']} samples: {summary['decision']} "
        f"(★ primary: {metrics[primary]['label']})"
    )
    test = summary.get("significance") or {}
    if test.get("ci_low") is not None:
        scale = float(metrics[primary]["scale"])
        title += (
            f"\ndifference {_signed(test['mean_difference'], scale)}, {test['confidence']:.0%} CI "
            f"[{_signed(test['ci_low'], scale)}, {_signed(test['ci_high'], scale)}], p = {test['p_value']:.4f}, "
            f"n = {test['n']}\nrule: {test['rule']} (margin {test['margin']:g})"
        )
    axes.set_title(title, fontsize=9 if "\n" in title else 11)
    bars_note = _error_bar_note(summary)
    if bars_note:
        axes.text(
            1.0, 1.0, bars_note.capitalize(), transform=axes.transAxes, ha="right", va="top", fontsize=8
        )
    axes.legend(loc="upper left", fontsize=9, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
