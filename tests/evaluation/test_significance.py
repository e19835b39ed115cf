"""The significance-gated decision on known cases: paired bootstrap interval, sign-flip p-value, samples needed."""

from __future__ import annotations

import random

import pytest

from bedrock_customization.evaluation.errors import EvaluationError
from bedrock_customization.evaluation.significance import (
    RULE,
    describe,
    mean_intervals,
    minimum_samples,
    model_intervals,
    paired_decision,
    undecided,
)


def scores(n: int, shift: float, noise: float, seed: int = 1) -> tuple[list[float], list[float]]:
    """Baseline scores and candidate scores ``shift`` higher on average, with ``noise`` per sample."""
    rng = random.Random(seed)
    baseline = [rng.uniform(10, 60) for _ in range(n)]
    return baseline, [b + shift + rng.gauss(0, noise) for b in baseline]


def test_identical_models_are_inconclusive():
    baseline, _ = scores(40, 0, 0)
    result = paired_decision(baseline, list(baseline), metric="chrf", seed=7)
    assert result["decision"] == "inconclusive"
    assert "same chrf on every one of the 40 samples" in result["reason"]
    assert (result["mean_difference"], result["ci_low"], result["ci_high"], result["p_value"]) == (0, 0, 0, 1)
    assert result["samples_needed"] is None  # no amount of samples tells identical models apart


def test_a_clearly_better_model_is_promoted():
    baseline, candidate = scores(35, 40, 8)
    result = paired_decision(baseline, candidate, metric="chrf", seed=42)
    assert result["decision"] == "promote" and result["ci_low"] > 30 and result["p_value"] < 0.001
    assert result["n"] == 35 and result["samples_needed"] is None
    assert result["rule"] == RULE and result["resamples"] == 2000 and result["seed"] == 42


def test_a_clearly_worse_model_is_rejected():
    baseline, candidate = scores(35, -5, 3)
    result = paired_decision(baseline, candidate, metric="chrf", seed=42)
    assert result["decision"] == "reject" and result["ci_high"] < 0 and result["p_value"] < 0.01


def test_the_margin_moves_the_bar():
    baseline, candidate = scores(200, 3, 2)
    assert paired_decision(baseline, candidate, metric="chrf", margin=0.0)["decision"] == "promote"
    assert paired_decision(baseline, candidate, metric="chrf", margin=10.0)["decision"] == "reject"
    # A margin inside the interval: the candidate may or may not be 3 better: keep the champion.
    within = paired_decision(baseline, candidate, metric="chrf", margin=3.0)
    assert within["decision"] == "inconclusive" and within["ci_low"] < 3 < within["ci_high"]


def test_too_few_samples_are_inconclusive():
    assert minimum_samples(0.95) == 6 and minimum_samples(0.99) == 8 and minimum_samples(0.5) == 2
    assert paired_decision([], [], metric="chrf")["decision"] == "inconclusive"
    one = paired_decision([10.0], [90.0], metric="chrf")
    assert one["decision"] == "inconclusive" and one["n"] == 1 and "too few" in one["reason"]
    # Five samples all far better: a bootstrap of 5 would look decisive, but 5 coin flips cannot reach 5%.
    five = paired_decision([10.0] * 5, [60.0, 70.0, 65.0, 80.0, 75.0], metric="chrf")
    assert five["decision"] == "inconclusive" and five["samples_needed"] == 6
    assert five["p_value"] == pytest.approx(2 / 32, abs=1e-4)  # exact: every sign pattern of 5
    six = paired_decision([10.0] * 6, [60.0, 70.0, 65.0, 80.0, 75.0, 62.0], metric="chrf")
    assert six["decision"] == "promote" and six["p_value"] == pytest.approx(2 / 64, abs=1e-4)


def test_a_few_unchanged_samples_and_one_gain_do_not_promote():
    # The case: most samples unchanged, the mean moved by one sample: not a real improvement.
    baseline = [50.0] * 12
    candidate = [50.0] * 11 + [53.5]
    result = paired_decision(baseline, candidate, metric="chrf")
    assert result["mean_difference"] == pytest.approx(0.2917, abs=1e-4)
    assert result["decision"] == "inconclusive" and result["ci_low"] == 0.0


def test_deterministic_under_the_seed():
    baseline, candidate = scores(60, 1, 6)
    first = paired_decision(baseline, candidate, metric="chrf", seed=3)
    assert paired_decision(baseline, candidate, metric="chrf", seed=3) == first
    other = paired_decision(baseline, candidate, metric="chrf", seed=4)
    assert (other["ci_low"], other["ci_high"]) != (first["ci_low"], first["ci_high"])
    assert other["mean_difference"] == first["mean_difference"]


@pytest.mark.parametrize("shift", [-3.0, 0.5, 2.0, 20.0])
def test_the_interval_contains_the_observed_mean_difference(shift):
    baseline, candidate = scores(80, shift, 5)
    result = paired_decision(baseline, candidate, metric="chrf", seed=11)
    assert result["ci_low"] <= result["mean_difference"] <= result["ci_high"]
    assert 0 < result["ci_high"] - result["ci_low"] < 5  # about 2 * 1.96 * 5 / sqrt(80)


def test_samples_needed_is_sensible():
    baseline, candidate = scores(30, 1.0, 6, seed=5)
    result = paired_decision(baseline, candidate, metric="chrf", seed=1)
    assert result["decision"] == "inconclusive"
    gap, sd = abs(result["mean_difference"]), result["sd"]
    expected = (1.96 * sd / gap) ** 2
    assert result["samples_needed"] > result["n"] and result["samples_needed"] == pytest.approx(
        expected, rel=0.01
    )
    # With that many samples whose differences are spread as these were, the interval clears the margin.
    repeats = -(-result["samples_needed"] // result["n"])
    bigger = paired_decision(baseline * repeats, candidate * repeats, metric="chrf", seed=1)
    assert bigger["n"] >= result["samples_needed"] and bigger["decision"] == "promote"


def test_bad_input_fails_clearly():
    with pytest.raises(EvaluationError, match="Cannot pair 2 baseline scores with 3 candidate scores"):
        paired_decision([1, 2], [1, 2, 3], metric="chrf")
    with pytest.raises(EvaluationError, match="confidence must be"):
        paired_decision([1, 2], [1, 2], metric="chrf", confidence=1.0)
    with pytest.raises(EvaluationError, match="resamples must be"):
        paired_decision([1, 2], [1, 2], metric="chrf", resamples=10)


def test_thousands_of_samples_decide():
    # Its speed is measured by tests/benchmarks/bench_significance.py (run by hand), not asserted here.
    baseline, candidate = scores(3000, 0.3, 5)
    result = paired_decision(baseline, candidate, metric="chrf", resamples=2000)
    assert result["n"] == 3000 and 0 < result["p_value"] <= 1


def test_mean_intervals_share_resamples_and_bracket_the_means():
    columns = {"a": [0.0, 1.0] * 20, "b": [1.0] * 40}
    intervals = mean_intervals(columns, seed=2)
    assert intervals["b"] == (1.0, 1.0)
    assert intervals["a"][0] < 0.5 < intervals["a"][1]
    by_model = model_intervals({"baseline": {"chrf": [10.0, 20.0, 30.0]}, "candidate": {"chrf": []}}, seed=2)
    assert (
        by_model["candidate"] == {}
        and 10 <= by_model["baseline"]["chrf"][0] < 20 < by_model["baseline"]["chrf"][1]
    )


def test_describe_states_the_interval_p_value_n_and_rule():
    baseline, candidate = scores(35, 40, 8)
    line = describe(paired_decision(baseline, candidate, metric="chrf", seed=42), digits=2)
    assert line.startswith("chrf difference candidate - baseline +") and "95% CI [+" in line
    assert "p = 0.0005, n = 35; rule: " + RULE + " (margin 0)" in line
    untested = describe(undecided("Builtin.Accuracy", 0.1, "records do not pair", n=0))
    assert untested == ("Builtin.Accuracy: no confidence interval, n = 0; rule: " + RULE + " (margin 0.1)")
