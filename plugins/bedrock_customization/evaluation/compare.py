"""Score two models' responses to the same samples, summarise per metric and decide on the paired differences.

Pure: the responses are already collected (see the operator); the judge metric, if any, carries its own
converse callable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bedrock_customization.evaluation import significance
from bedrock_customization.evaluation.aggregate import mean_scores
from bedrock_customization.evaluation.errors import EvaluationError
from bedrock_customization.evaluation.metrics import Metric
from bedrock_customization.evaluation.samples import Sample

__all__ = ["ROLES", "score_rows", "summarize"]

ROLES = ("baseline", "candidate")


def score_rows(
    samples: Sequence[Sample], responses: Mapping[str, Sequence[str]], metrics: Sequence[Metric]
) -> list[dict[str, Any]]:
    """One row per sample: index, line, prompt, reference, both responses, every metric's score for both.

    A paired metric (the LLM judge) sees both responses of a sample together. Scores that carry details (the
    judge's per-criterion scores and reasons in each answer order) add ``details[role][metric]``.
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
        scored = metric.score_pair(responses["baseline"], responses["candidate"], references, prompts)
        for role, scores in zip(ROLES, scored, strict=True):
            for row, score in zip(rows, scores, strict=True):
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
    *,
    confidence: float = significance.DEFAULT_CONFIDENCE,
    resamples: int = significance.DEFAULT_RESAMPLES,
    seed: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """The evaluation summary: for each role its ``model_id``, ``label`` and mean per metric; the decision
    (``promote``, ``reject`` or ``inconclusive``) and its ``significance``
    (:func:`~bedrock_customization.evaluation.significance.paired_decision` of the per-sample
    ``primary_metric`` scores: interval, p-value, n, rule), and ``intervals`` (each model's mean per metric,
    bootstrapped: the chart's error bars); both bootstrapped with ``seed``.

    ``models[role]`` has ``model_id`` and ``label``. ``extra`` keys are added as they are.
    """
    names = [metric.name for metric in metrics]
    if primary_metric not in names:
        raise EvaluationError(f"primary_metric {primary_metric!r} is not among the metrics {names}")
    summary: dict[str, Any] = {}
    for role in ROLES:
        means = mean_scores([row["scores"][role] for row in rows], names)
        summary[role] = {"model_id": models[role]["model_id"], "label": models[role]["label"], **means}
    test = significance.paired_decision(
        [row["scores"]["baseline"][primary_metric] for row in rows],
        [row["scores"]["candidate"][primary_metric] for row in rows],
        metric=primary_metric,
        margin=margin,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )
    summary.update(
        {
            "metrics": {metric.name: {"label": metric.label, "scale": metric.scale} for metric in metrics},
            "primary_metric": primary_metric,
            "margin": margin,
            "samples": len(rows),
            "seed": seed,
            "decision": test["decision"],
            "significance": test,
            "intervals": significance.model_intervals(
                {
                    role: {name: [row["scores"][role][name] for row in rows] for name in names}
                    for role in ROLES
                },
                confidence,
                resamples,
                seed,
            ),
            **extra,
        }
    )
    return summary
