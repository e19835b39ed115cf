"""From per-sample scores to per-metric means (the decision on them is :mod:`.significance`'s)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from statistics import fmean

__all__ = ["mean_scores"]


def mean_scores(rows: Sequence[Mapping[str, float]], metrics: Iterable[str]) -> dict[str, float]:
    """Per-metric mean over samples (``rows[i][metric]``), rounded to 4 decimals; 0.0 when there are no rows."""
    return {metric: round(fmean(row[metric] for row in rows), 4) if rows else 0.0 for metric in metrics}
