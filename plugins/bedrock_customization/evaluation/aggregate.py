"""From per-sample scores to per-metric means, and from means to the promotion decision."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from statistics import fmean

from bedrock_customization.evaluation.errors import EvaluationError

__all__ = ["decide", "mean_scores"]


def mean_scores(rows: Sequence[Mapping[str, float]], metrics: Iterable[str]) -> dict[str, float]:
    """Per-metric mean over samples (``rows[i][metric]``), rounded to 4 decimals; 0.0 when there are no rows."""
    return {metric: round(fmean(row[metric] for row in rows), 4) if rows else 0.0 for metric in metrics}


def decide(baseline: Mapping[str, float], candidate: Mapping[str, float], metric: str, margin: float) -> str:
    """``"promote"`` when the candidate beats the baseline on ``metric`` by at least ``margin``, else ``"reject"``."""
    missing = [
        role for role, means in (("baseline", baseline), ("candidate", candidate)) if metric not in means
    ]
    if missing:
        raise EvaluationError(
            f"Cannot decide on {metric!r}: the {' and '.join(missing)} scores do not include it "
            f"(have: {', '.join(sorted(set(baseline) | set(candidate)))})"
        )
    return "promote" if candidate[metric] >= baseline[metric] + margin else "reject"
