"""Benchmark the significance-gated decision against a plain bootstrap baseline; run by hand, prints JSON.

    .venv/bin/python tests/benchmarks/bench_significance.py [--samples 3000] [--resamples 2000] [--rounds 5]

Alternately times, in this process, ``paired_decision`` (percentile bootstrap interval plus sign-flip p-value)
and the baseline: the same number of bootstrap means of the per-sample differences with ``random.choices`` and
``statistics.fmean``, no p-value. Reports each one's median seconds over ``--rounds`` and their ratio (the
machines are shared, so the ratio is the figure to compare between runs, not the seconds). Not collected by
pytest (``tests/benchmarks`` is excluded and the name does not match ``test_*.py``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

from bedrock_customization.evaluation.significance import paired_decision


def baseline_bootstrap(differences: list[float], resamples: int, seed: int) -> tuple[float, float]:
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(differences, k=len(differences))) for _ in range(resamples))
    return means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(7)
    baseline = [rng.uniform(0, 100) for _ in range(args.samples)]
    candidate = [score + rng.gauss(0.3, 5) for score in baseline]
    differences = [c - b for b, c in zip(baseline, candidate, strict=True)]
    timings: dict[str, list[float]] = {"paired_decision": [], "baseline": []}
    for _ in range(args.rounds):
        began = time.perf_counter()
        paired_decision(baseline, candidate, metric="chrf", resamples=args.resamples)
        timings["paired_decision"].append(time.perf_counter() - began)
        began = time.perf_counter()
        baseline_bootstrap(differences, args.resamples, seed=42)
        timings["baseline"].append(time.perf_counter() - began)
    medians = {name: round(statistics.median(values), 4) for name, values in timings.items()}
    print(
        json.dumps(
            {
                "samples": args.samples,
                "resamples": args.resamples,
                "rounds": args.rounds,
                "median_seconds": medians,
                "ratio_to_baseline": round(medians["paired_decision"] / medians["baseline"], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
