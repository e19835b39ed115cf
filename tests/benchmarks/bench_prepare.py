"""Benchmark ``prepare`` against a load-everything baseline; run by hand, prints one JSON line.

    .venv/bin/python tests/benchmarks/bench_prepare.py [--gen PATH/gen_qa.py] [--rounds 3] [--skip-large]

1. Generates a 200 MB JSON array of 10,000 question/answer records (``gen_qa.py 200 10000``) and, in fresh
   subprocesses, alternately runs
   - ``prepare`` for Claude 3 Haiku (keys question/answer, full validation, 5% validation split: Haiku allows
     at most 1,000 validation records), and
   - the baseline: ``json.load`` of the whole array, then ``json.dumps`` of each record to a JSONL file, no
     validation.
   Each child times its own work (imports included); peak RSS is the child's ``ru_maxrss`` from ``wait4``.
   Throughput is the median over ``--rounds`` (the best round and the CPU-time ratio are printed too, as
   shared machines make wall-clock figures noisy).
2. Generates a 1 GB array of 20,000 records (``gen_qa.py 1000 20000``) and prepares it for Nova Lite, for
   peak RSS (the baseline would need about 3.4 GB there).

Targets: prepare's records/s >= 1.5x the baseline's; peak RSS <= 64 MiB for both inputs. Generated files
live in a temporary directory that is removed at the end. Not collected by pytest (``tests/benchmarks`` is
excluded and the name does not match ``test_*.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLAUDE_HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
NOVA_LITE = "amazon.nova-lite-v1:0:300k"
DEFAULT_GEN = "/work/shared/bench/gen_qa.py"
TARGET_RATIO = 1.5
TARGET_RSS_MIB = 64


# ------------------------------------------------------------------------------------------------ children


def child_baseline(source: str, out: str) -> dict:
    started = time.perf_counter()
    with open(source, encoding="utf-8") as f:
        records = json.load(f)
    with open(out, "w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record) + "\n")
    return {"records": len(records), "seconds": time.perf_counter() - started}


def child_prepare(source: str, out: str, model: str) -> dict:
    started = time.perf_counter()
    from bedrock_customization.dataset.mapping import FieldMapping
    from bedrock_customization.dataset.prepare import prepare

    report = prepare(
        source,
        out,
        base_model_id=model,
        mapping=FieldMapping(prompt_key="question", completion_key="answer"),
        validation_fraction=0.05,
        seed=1,
    )
    seconds = time.perf_counter() - started
    return {
        "records": report.records_written,
        "seconds": seconds,
        "ok": report.ok,
        "rejected": report.records_rejected,
        "warnings": report.warnings,
        "tokens": {"p50": report.tokens.p50, "p95": report.tokens.p95, "max": report.tokens.max},
    }


# ------------------------------------------------------------------------------------------------- parent


def run_child(*args: str) -> dict:
    """Run this file as a child; returns its JSON result plus wall time, CPU time and peak RSS (MiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child {args} failed with exit code {proc.returncode}")
    result = json.loads(output)
    result["wall_seconds"] = round(time.perf_counter() - started, 3)
    result["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 3)
    result["peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)  # Linux reports KiB
    result["records_per_second"] = round(result["records"] / result["seconds"], 1)
    return result


def generate(gen: str, size_mb: int, records: int, path: Path) -> None:
    subprocess.run([sys.executable, gen, str(size_mb), str(records), str(path)], check=True)


def clear(path: Path) -> None:
    if path.is_dir():
        for item in path.iterdir():
            item.unlink()
        path.rmdir()
    elif path.exists():
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--gen", default=os.environ.get("BENCH_GEN_QA", DEFAULT_GEN), help="path of gen_qa.py"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each (default 3)")
    parser.add_argument("--skip-large", action="store_true", help="skip the 1 GB Nova Lite run")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        result = child_baseline(*rest) if kind == "baseline" else child_prepare(*rest)
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory(prefix="bench-prepare-") as tmp:
        work = Path(tmp)
        small = work / "qa200.json"
        generate(args.gen, 200, 10_000, small)
        baselines, prepares = [], []
        for _ in range(args.rounds):
            baselines.append(run_child("baseline", str(small), str(work / "baseline.jsonl")))
            clear(work / "baseline.jsonl")
            prepares.append(run_child("prepare", str(small), str(work / "out"), CLAUDE_HAIKU))
            clear(work / "out")
        assert all(p["ok"] and p["records"] == 10_000 for p in prepares), prepares
        clear(small)
        base_rps = statistics.median(b["records_per_second"] for b in baselines)
        prep_rps = statistics.median(p["records_per_second"] for p in prepares)
        base_best = max(b["records_per_second"] for b in baselines)
        prep_best = max(p["records_per_second"] for p in prepares)
        base_cpu = min(b["cpu_seconds"] for b in baselines)
        prep_cpu = min(p["cpu_seconds"] for p in prepares)
        results = {
            "input_200mb": {
                "records": 10_000,
                "model": CLAUDE_HAIKU,
                "baseline_records_per_second": base_rps,
                "prepare_records_per_second": prep_rps,
                "throughput_ratio": round(prep_rps / base_rps, 2),
                "throughput_ratio_best_of_rounds": round(prep_best / base_best, 2),
                "cpu_seconds_ratio_best_of_rounds": round(base_cpu / prep_cpu, 2),
                "baseline_peak_rss_mib": max(b["peak_rss_mib"] for b in baselines),
                "prepare_peak_rss_mib": max(p["peak_rss_mib"] for p in prepares),
                "baseline_runs": [(b["records_per_second"], b["cpu_seconds"]) for b in baselines],
                "prepare_runs": [(p["records_per_second"], p["cpu_seconds"]) for p in prepares],
                "warnings": prepares[0]["warnings"],
            }
        }
        if not args.skip_large:
            large = work / "qa1000.json"
            generate(args.gen, 1000, 20_000, large)
            size = large.stat().st_size
            nova = run_child("prepare", str(large), str(work / "out"), NOVA_LITE)
            assert nova["ok"] and nova["records"] == 20_000, nova
            clear(work / "out")
            clear(large)
            results["input_1gb"] = {
                "records": 20_000,
                "bytes": size,
                "model": NOVA_LITE,
                "prepare_records_per_second": nova["records_per_second"],
                "prepare_peak_rss_mib": nova["peak_rss_mib"],
                "tokens": nova["tokens"],
            }
        small_rss = results["input_200mb"]["prepare_peak_rss_mib"]
        large_rss = results.get("input_1gb", {}).get("prepare_peak_rss_mib", 0)
        results["targets"] = {
            "throughput_ratio_min": TARGET_RATIO,
            "peak_rss_mib_max": TARGET_RSS_MIB,
            "met": results["input_200mb"]["throughput_ratio"] >= TARGET_RATIO
            and max(small_rss, large_rss) <= TARGET_RSS_MIB,
        }
    print(json.dumps(results, ensure_ascii=False))


if __name__ == "__main__":
    main()
