"""Evaluation metrics and the promotion decision: pure functions over (response, reference) pairs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from statistics import fmean


def chrf(response: str, reference: str) -> float:
    """Sentence-level chrF (0-100) from sacrebleu; character n-grams, so it works for Japanese too."""
    from sacrebleu.metrics import CHRF

    return CHRF().sentence_score(response, [reference]).score


def mean_chrf(pairs: Iterable[tuple[str, str]]) -> float:
    """Mean sentence chrF over (response, reference) pairs; 0.0 for no pairs."""
    scores = [chrf(response, reference) for response, reference in pairs]
    return round(fmean(scores), 4) if scores else 0.0


def decide(baseline: Mapping[str, float], candidate: Mapping[str, float], metric: str, margin: float) -> str:
    """``"promote"`` when the candidate beats the baseline on ``metric`` by at least ``margin``, else ``"reject"``."""
    return "promote" if candidate[metric] >= baseline[metric] + margin else "reject"
