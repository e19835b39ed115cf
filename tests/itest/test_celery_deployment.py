"""``make itest``: the DAGs on a real deployment, started natively from docker-compose.yaml (tests/itest/conftest.py).

The deployment at work, driven through the authenticated REST API the way a user would (every run with
``serving: provisioned``: the throughput waits and the in-place switch are what a deployment must carry; the
on-demand path is the same operator lifecycle, run end to end by tests/test_retraining_dag.py):

1. ``bedrock_retraining`` with a conf: it succeeds; the customization and throughput waits are ``deferred``
   while the emulated job/throughput is in progress, and past a short grace period of each deferral they hold
   no Celery worker slot; every task ran on the Celery worker; only the serving throughput is left.
2. ``bedrock_hparam_sweep`` with a 2x2 grid: never more customization jobs at once than the pool has slots.

Kills and restarts are in test_celery_faults.py, on a deployment of their own (the two modules run in parallel).
The figures (worker-slot occupancy, durations) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.itest.runs import (
    CUSTOMIZE,
    DEFERRAL_GRACE_SECONDS,
    POOL,
    PROVISION,
    RETRAINING,
    SWEEP,
    SWEEP_CUSTOMIZE,
    assert_succeeded,
    deferred_slot_use,
    leftover_throughputs,
    summary,
    wait_all_runs,
    watch_run,
)

pytestmark = [pytest.mark.itest, pytest.mark.slow]


def test_deployment_is_the_compose_stack(deployment, api):
    health = api.get("/api/v2/monitor/health")
    components = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    assert {part: health[part]["status"] for part in components} == dict.fromkeys(components, "healthy")
    assert deployment.worker_pings(), "no Celery worker answers"
    pool = api.get(f"/api/v2/pools/{POOL}")
    assert pool["slots"] == 2 and pool["include_deferred"] is True
    landing_zone = json.loads(api.get("/api/v2/variables/bedrock_customization")["value"])
    assert landing_zone["bucket"] and landing_zone["subnet_ids"], "airflow-init bootstrapped the landing zone"


def test_retraining_waits_are_deferred_and_hold_no_worker_slot(deployment, api, aws, figures):
    began = time.monotonic()
    run_id = api.trigger(RETRAINING, {"eval_samples": 6, "serving": "provisioned"})
    samples = watch_run(api, deployment, aws, RETRAINING, run_id, {CUSTOMIZE, PROVISION})
    tis = assert_succeeded(api, deployment, RETRAINING, run_id)
    figures["retraining_run_seconds"] = round(time.monotonic() - began, 1)

    # While the emulator's job and throughput were in progress, the tasks were deferred: in the triggerer. Once a
    # task deferred, it stayed deferred until its resource was ready (it did not come back to a worker to wait).
    for task, resource, least in (
        (CUSTOMIZE, "jobs_in_progress", 20.0),
        (PROVISION, "throughputs_creating", 12.0),
    ):
        states = [(s["t"], s["states"].get(task)) for s in samples if s[resource]]
        deferred_at = [t for t, state in states if state == "deferred"]
        assert deferred_at, (task, states)
        assert all(state == "deferred" for t, state in states if t >= deferred_at[0]), (task, states)
        assert deferred_at[-1] - deferred_at[0] >= least, ("the deferred wait was not observed", task, states)

    # No worker slot is held for a deferred wait: once the worker has let go of the try that deferred (within the
    # grace period), every sample shows the slot free for the rest of the job's and the throughput's duration,
    # so the slot-seconds are bounded by the grace period, not by the length of the wait.
    slots = figures["deferrable_worker_slots_held_by_the_waits"] = {"grace_seconds": DEFERRAL_GRACE_SECONDS}
    for name, task, resource, least in (
        ("customization_job", CUSTOMIZE, "jobs_in_progress", 8),
        ("throughput", PROVISION, "throughputs_creating", 3),
    ):
        use = deferred_slot_use(samples, task, resource)
        slots[name] = {
            "after_grace": summary(use["settled"]),
            **{k: v for k, v in use.items() if k != "settled"},
        }
        assert len(use["settled"]) >= least, ("too few samples past the grace period", name, use)
        assert set(use["settled"]) == {0}, (name, use)
        assert use["slot_seconds"] <= 2 * DEFERRAL_GRACE_SECONDS < use["deferred_seconds"], (name, use)
    slots["all_tasks_of_all_runs_meanwhile"] = summary([
        s["busy_slots"] for s in samples
        if s["busy_slots"] is not None and "deferred" in (s["states"].get(CUSTOMIZE), s["states"].get(PROVISION))
    ])  # fmt: skip

    # The Celery worker executed every task: each try's workload is in the worker's log.
    worker_log = deployment.components["airflow-worker"].log.read_text(errors="replace")
    ran = [ti for ti in tis if ti["state"] == "success"]
    assert ran and all(ti["id"] in worker_log for ti in ran), "tasks that did not run on the Celery worker"

    assert len({arn for s in samples for arn in s["jobs"]}) == 1, "one customization job"
    wait_all_runs(api, RETRAINING)  # the scheduled run Airflow started on unpause
    assert not leftover_throughputs(api, aws), "only the serving throughput may be left"


def test_sweep_runs_at_most_the_pool_size_of_jobs_at_once(deployment, api, aws, figures):
    began = time.monotonic()
    grid = {"epochCount": [1, 2], "learningRate": [0.00001, 0.0001]}
    run_id = api.trigger(SWEEP, {"search_space": grid, "eval_samples": 4, "serving": "provisioned"})
    samples = watch_run(api, deployment, aws, SWEEP, run_id, {SWEEP_CUSTOMIZE})
    tis = assert_succeeded(api, deployment, SWEEP, run_id)
    figures["sweep_run_seconds"] = round(time.monotonic() - began, 1)

    mapped = [ti for ti in tis if ti["task_id"] == SWEEP_CUSTOMIZE]
    assert len(mapped) == 4 and all(ti["pool"] == POOL for ti in mapped)
    holding = [sum(1 for state in s["states"].values() if state in ("running", "deferred")) for s in samples]
    in_progress = [len(s["jobs_in_progress"]) for s in samples]
    figures["sweep_max_at_once"] = {
        "mapped_tasks_holding_pool_slots": max(holding),
        "jobs_in_progress": max(in_progress),
    }
    assert max(holding) == 2 and max(in_progress) == 2, (holding, in_progress)
    assert len({arn for s in samples for arn in s["jobs"]}) == 4, "one job per configuration, no duplicates"
    assert not leftover_throughputs(api, aws)
