"""Score two models' responses to the same samples, summarise per metric and decide.

Pure: the responses are already collected (see the operator); the judge metric, if any, carries its own
converse callable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bedrock_customization.evaluation.aggregate import decide, mean_scores
from bedrock_customization.evaluation.errors import EvaluationError
from bedrock_customization.evaluation.metrics import Metric
from bedrock_customization.evaluation.samples import Sample

__all__ = ["ROLES", "score_rows", "summarize"]

ROLES = ("baseline", "candidate")


def score_rows(
    samples: Sequence[Sample], responses: Mapping[str, Sequence[str]], metrics: Sequence[Metric]
) -> list[dict[str, Any]]:
    """One row per sample: index, line, prompt, reference, both responses, every metric's score for both.

    Scores that carry details (the LLM judge's per-criterion scores and rationale) add ``details[role][metric]``.
    """
    for role in ROLES:
        if len(responses[role]) != len(samples):
            raise EvaluationError(f"{len(responses[role])} {role} responses for {len(samples)} samples")
    prompts = [sample.prompt for sample in samples]
    references = [sample.reference for sample in samples]
    rows: list[dict[str, Any]] = [
        {
            "index": sample.index,
            "line": sample.line,
            "prompt": sample.prompt,
            "reference": sample.reference,
            "baseline_response": responses["baseline"][i],
            "candidate_response": responses["candidate"][i],
            "scores": {role: {} for role in ROLES},
        }
        for i, sample in enumerate(samples)
    ]
    for metric in metrics:
        for role in ROLES:
            for row, score in zip(rows, metric.score(responses[role], references, prompts), strict=True):
                row["scores"][role][metric.name] = round(score.value, 4)
                if score.details:
                    row.setdefault("details", {}).setdefault(role, {})[metric.name] = dict(score.details)
    return rows


def summarize(
    rows: Sequence[Mapping[str, Any]],
    metrics: Sequence[Metric],
    models: Mapping[str, Mapping[str, str]],
    primary_metric: str,
    margin: float,
    **extra: Any,
) -> dict[str, Any]:
    """The evaluation summary: for each role its ``model_id``, ``label`` and mean per metric; the decision.

    ``models[role]`` has ``model_id`` and ``label``. ``extra`` keys are added as they are.
    """
    names = [metric.name for metric in metrics]
    if primary_metric not in names:
        raise EvaluationError(f"primary_metric {primary_metric!r} is not among the metrics {names}")
    summary: dict[str, Any] = {}
    for role in ROLES:
        means = mean_scores([row["scores"][role] for row in rows], names)
        summary[role] = {"model_id": models[role]["model_id"], "label": models[role]["label"], **means}
    summary.update(
        {
            "metrics": {metric.name: {"label": metric.label, "scale": metric.scale} for metric in metrics},
            "primary_metric": primary_metric,
            "margin": margin,
            "samples": len(rows),
            "decision": decide(summary["baseline"], summary["candidate"], primary_metric, margin),
            **extra,
        }
    )
    return summary
