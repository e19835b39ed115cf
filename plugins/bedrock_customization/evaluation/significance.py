"""Is the candidate's gain real? A paired bootstrap interval and a sign-flip p-value for the mean per-sample
difference of the primary metric, and the decision they support.

Both models answer the same samples, so each sample gives one difference ``candidate - baseline``. The
decision compares the ``confidence`` interval of the mean difference (percentile bootstrap, ``resamples``
resamples of the samples) with ``margin`` (:data:`RULE`):

* **promote** when the whole interval lies above the margin (``ci_low > margin``);
* **reject** when the whole interval lies below it (``ci_high < margin``);
* **inconclusive** otherwise: the champion stays. ``samples_needed`` estimates how many samples would likely
  decide: the ``n`` at which the normal-approximation half-width ``z * sd / sqrt(n)`` of the interval, with the
  observed standard deviation of the differences, falls below ``|mean difference - margin|``.

Too little evidence is inconclusive whatever the interval says: fewer samples than :func:`minimum_samples`
(the smallest ``n`` at which a sign-flip test can reach ``1 - confidence`` at all: 6 at 95%; a bootstrap of 2
samples spans only the two values seen), or every difference 0 (the models scored alike on every sample).
The p-value (two-sided sign-flip test of "the differences are symmetric around ``margin``": exact over all
sign patterns when they number ``resamples`` or fewer) is reported next to the interval; it does not decide.

Pure standard library and deterministic: every draw comes from ``random.Random(seed)``. 2000 resamples of
3000 samples take about half a second.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Hashable, Mapping, Sequence
from statistics import NormalDist, fmean, stdev
from typing import Any

from bedrock_customization.evaluation.errors import EvaluationError

__all__ = [
    "DECISIONS",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "RULE",
    "describe",
    "mean_intervals",
    "minimum_samples",
    "model_intervals",
    "paired_decision",
    "undecided",
]

DECISIONS = ("promote", "reject", "inconclusive")
DEFAULT_CONFIDENCE = 0.95
DEFAULT_RESAMPLES = 2000
RULE = "promote if ci_low > margin; reject if ci_high < margin; else inconclusive"
TEST = (
    "paired percentile bootstrap of the mean difference candidate - baseline; "
    "two-sided sign-flip p-value against a mean difference of margin"
)
_DIGITS = 4
_BITS = bytes.maketrans(b"01", b"\x00\x01")


def _check(confidence: float, resamples: int) -> None:
    if not 0.5 <= confidence < 1:
        raise EvaluationError(f"confidence must be at least 0.5 and below 1 (e.g. 0.95), got {confidence}")
    if resamples < 100:
        raise EvaluationError(f"resamples must be at least 100 (e.g. 2000), got {resamples}")


def minimum_samples(confidence: float = DEFAULT_CONFIDENCE) -> int:
    """The fewest paired samples that can decide: ``2 / 2**n <= 1 - confidence`` (6 at 95%, 8 at 99%)."""
    return max(2, math.ceil(math.log2(2 / (1 - confidence)) - 1e-9))


def _quantile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted values, interpolated linearly between order statistics."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def mean_intervals(
    columns: Mapping[Hashable, Sequence[float]],
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[Hashable, tuple[float, float]]:
    """The percentile bootstrap ``confidence`` interval of the mean of each column (equal lengths, at least 1).

    Every resample draws one set of sample indices and applies it to all columns (paired), so the whole
    bootstrap costs one draw per sample and resample however many columns there are.
    """
    _check(confidence, resamples)
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1 or 0 in lengths:
        raise EvaluationError(f"Cannot bootstrap columns of lengths {sorted(lengths)}: need one length, >= 1")
    if not columns:
        return {}
    n = lengths.pop()
    rng = random.Random(seed)
    indices = range(n)
    means: dict[Hashable, list[float]] = {name: [] for name in columns}
    getters = {name: list(values).__getitem__ for name, values in columns.items()}
    for _ in range(resamples):
        drawn = rng.choices(indices, k=n)
        for name, get in getters.items():
            means[name].append(sum(map(get, drawn)) / n)
    alpha = 1 - confidence
    intervals = {}
    for name, values in means.items():
        values.sort()
        intervals[name] = (_quantile(values, alpha / 2), _quantile(values, 1 - alpha / 2))
    return intervals


def model_intervals(
    scores: Mapping[str, Mapping[str, Sequence[float]]],
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, dict[str, list[float]]]:
    """The bootstrap interval of each model's mean score per metric, for the chart's error bars:
    ``scores[role][metric]`` (per-sample values) -> ``{role: {metric: [low, high]}}`` (4 decimals); a metric
    without scores has no interval. Columns of one length share their resamples."""
    by_length: dict[int, dict[Hashable, Sequence[float]]] = {}
    for role, columns in scores.items():
        for metric, values in columns.items():
            if values:
                by_length.setdefault(len(values), {})[(role, metric)] = values
    result: dict[str, dict[str, list[float]]] = {role: {} for role in scores}
    for columns in by_length.values():
        for (role, metric), (low, high) in mean_intervals(columns, confidence, resamples, seed).items():
            result[role][metric] = [round(low, _DIGITS), round(high, _DIGITS)]
    return result


def _sign_flip_p_value(
    differences: Sequence[float], margin: float, resamples: int, rng: random.Random
) -> float:
    """Two-sided p-value of ``|sum(d - margin)|`` under random sign flips: exact when ``2**n <= resamples``,
    else Monte Carlo with ``resamples`` draws and the usual +1 correction."""
    shifted = [value - margin for value in differences]
    n, total = len(shifted), math.fsum(shifted)
    observed = abs(total)
    if observed == 0:
        return 1.0
    threshold = observed - 1e-9 * max(1.0, observed)  # ties with the observed statistic count as extreme

    def extreme(mask: int) -> bool:
        flipped = bytes(format(mask, f"0{n}b"), "ascii").translate(_BITS)
        return abs(total - 2 * math.fsum(itertools.compress(shifted, flipped))) >= threshold

    if 2**n <= resamples:
        return sum(map(extreme, range(2**n))) / 2**n
    hits = sum(extreme(rng.getrandbits(n)) for _ in range(resamples))
    return (1 + hits) / (1 + resamples)


def _samples_needed(n: int, sd: float, gap: float, confidence: float) -> int | None:
    """How many samples would shrink the interval's half-width below ``gap`` (None: cannot tell)."""
    if n < 2 or sd == 0 or gap == 0:
        return None
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    return max(n + 1, math.ceil((z * sd / gap) ** 2))


def paired_decision(
    baseline: Sequence[float],
    candidate: Sequence[float],
    *,
    metric: str,
    margin: float = 0.0,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> dict[str, Any]:
    """The decision on the paired per-sample scores ``baseline[i]``, ``candidate[i]`` of ``metric`` (see the
    module docstring), with its figures: ``decision``, ``reason``, ``metric``, ``mean_difference``, ``sd``,
    ``ci_low``, ``ci_high``, ``confidence``, ``p_value``, ``n``, ``resamples``, ``seed``, ``margin``, ``rule``,
    ``test``, ``samples_needed`` (None unless inconclusive) and ``minimum_samples``.

    Figures are rounded to 4 decimals and the decision is taken on the rounded figures, so it follows from
    the numbers shown.
    """
    _check(confidence, resamples)
    if len(baseline) != len(candidate):
        raise EvaluationError(
            f"Cannot pair {len(baseline)} baseline scores with {len(candidate)} candidate scores of {metric}"
        )
    differences = [float(c) - float(b) for b, c in zip(baseline, candidate, strict=True)]
    n, least = len(differences), minimum_samples(confidence)
    result = undecided(metric, margin, "", n=n, confidence=confidence, resamples=resamples, seed=seed)
    if n == 0:
        result["reason"] = "there are no paired samples"
        return result
    mean = fmean(differences)
    sd = stdev(differences) if n > 1 else 0.0
    rng = random.Random(seed)
    if n > 1:
        low, high = mean_intervals({"difference": differences}, confidence, resamples, rng.getrandbits(64))[
            "difference"
        ]
    else:
        low = high = mean
    figures = {
        "mean_difference": round(mean, _DIGITS),
        "sd": round(sd, _DIGITS),
        "ci_low": round(low, _DIGITS),
        "ci_high": round(high, _DIGITS),
        "p_value": round(_sign_flip_p_value(differences, margin, resamples, rng), _DIGITS),
    }
    result.update(figures)
    interval = f"the {confidence:.0%} interval [{figures['ci_low']:g}, {figures['ci_high']:g}]"
    if not any(differences):
        result["reason"] = f"both models scored the same {metric} on every one of the {n} samples"
    elif n < least:
        result["reason"] = (
            f"{n} samples are too few to decide at {confidence:.0%} confidence (at least {least} are needed)"
        )
        result["samples_needed"] = max(least, _samples_needed(n, sd, abs(mean - margin), confidence) or least)
    elif figures["ci_low"] > margin:
        result.update(decision="promote", reason=f"{interval} lies above the margin {margin:g}")
    elif figures["ci_high"] < margin:
        result.update(decision="reject", reason=f"{interval} lies below the margin {margin:g}")
    else:
        needed = _samples_needed(n, sd, abs(mean - margin), confidence)
        result.update(
            reason=f"{interval} contains the margin {margin:g}"
            + (f": about {needed} samples would likely decide" if needed else ""),
            samples_needed=needed,
        )
    return result


def undecided(
    metric: str,
    margin: float,
    reason: str,
    *,
    n: int = 0,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int | None = None,
) -> dict[str, Any]:
    """The figures of :func:`paired_decision` for an evaluation that cannot be tested (e.g. scores that do not
    pair up): ``inconclusive`` for ``reason``, no interval, no p-value."""
    return {
        "decision": "inconclusive",
        "reason": reason,
        "metric": metric,
        "mean_difference": None,
        "sd": None,
        "ci_low": None,
        "ci_high": None,
        "confidence": confidence,
        "p_value": None,
        "n": n,
        "resamples": resamples,
        "seed": seed,
        "margin": margin,
        "rule": RULE,
        "test": TEST,
        "samples_needed": None,
        "minimum_samples": minimum_samples(confidence),
    }


def describe(significance: Mapping[str, Any], digits: int = 4) -> str:
    """One line for logs, reports and notifications: the mean difference, interval, p-value, n and rule."""
    if significance.get("ci_low") is None:
        return (
            f"{significance['metric']}: no confidence interval, n = {significance['n']}; "
            f"rule: {significance['rule']} (margin {significance['margin']:g})"
        )
    return (
        f"{significance['metric']} difference candidate - baseline {significance['mean_difference']:+.{digits}f}, "
        f"{significance['confidence']:.0%} CI [{significance['ci_low']:+.{digits}f}, "
        f"{significance['ci_high']:+.{digits}f}], p = {significance['p_value']:.4f}, n = {significance['n']}; "
        f"rule: {significance['rule']} (margin {significance['margin']:g})"
    )
