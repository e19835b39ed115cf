"""``make itest``: kills and restarts on a real deployment (tests/itest/conftest.py), through the REST API.

Each run is ``bedrock_retraining`` with ``serving: provisioned``, on a deployment of this module's own, in
this order (the last one changes the worker's configuration):

1. A deferred ``customize_model`` marked failed: our trigger's ``on_kill`` stops the customization job (a user
   kill must not leave it training and billing).
2. The triggerer restarted while ``customize_model`` is deferred: the job is left alone (a restart or
   redistribution is not a kill) and the new triggerer finishes the wait.
3. ``[bedrock_customization] deferrable = False`` on the worker: the waits hold one worker slot each. The
   worker is then killed (SIGKILL to its whole process tree, as if its machine died) mid-job and started
   again: the run still succeeds, with one customization job and one evaluation throughput, because the
   retry re-attaches to the job instead of creating another.

The first two need jobs longer than the emulator's 45 s: it takes a job's duration when the job is created, so
``LongJobs`` raises it through the emulator's /_local_aws/config for those runs only.
"""

from __future__ import annotations

import time

import pytest

from include.deployment import wait_for
from tests.itest.runs import (
    CUSTOMIZE,
    KILL_DEADLINE,
    PROVISION,
    RETRAINING,
    STOPPED,
    LongJobs,
    RunResources,
    assert_succeeded,
    diagnose,
    leftover_throughputs,
    slots_held,
    summary,
    ti_path,
    wait_all_runs,
    wait_run_end,
    wait_until_the_trigger_polls,
    waiting,
    watch_run,
)

pytestmark = [pytest.mark.itest, pytest.mark.slow]


def test_marking_a_deferred_customization_failed_stops_its_job(deployment, api, aws, figures):
    wait_all_runs(api, RETRAINING)
    with LongJobs(deployment, 600):  # far longer than the test: only the kill can end it
        run_id = api.trigger(RETRAINING, {"eval_samples": 6, "serving": "provisioned"})
        job = wait_until_the_trigger_polls(api, deployment, aws, run_id)

    marked = time.monotonic()
    response = api.http.patch(ti_path(run_id), json={"new_state": "failed"})
    assert response.status_code == 200, response.text
    resources = RunResources(aws, RETRAINING, run_id)
    stopped = wait_for(
        "the job stopping",
        lambda: [j for j in resources.jobs() if j["status"] in STOPPED],
        KILL_DEADLINE,
        interval=0.5,
    )
    figures["kill_of_a_deferred_customization"] = {
        "seconds_from_mark_failed_to_job_stopping": round(time.monotonic() - marked, 1),
        "job_status_then": stopped[0]["status"],
        "deadline_seconds": KILL_DEADLINE,
    }
    assert [j["jobArn"] for j in stopped] == [job["jobArn"]]
    assert wait_run_end(api, run_id) == "failed"
    customize = api.get(ti_path(run_id))
    assert customize["state"] == "failed" and customize["try_number"] == 1, customize
    assert [j["status"] for j in resources.jobs()] == ["Stopped"], "one job, stopped; no retry made another"
    assert not leftover_throughputs(api, aws)


def test_a_triggerer_restart_leaves_a_deferred_job_running(deployment, api, aws, figures):
    wait_all_runs(api, RETRAINING)
    with LongJobs(deployment, 90):  # still running after the restart, then done within the run's time
        run_id = api.trigger(RETRAINING, {"eval_samples": 6, "serving": "provisioned"})
        job = wait_until_the_trigger_polls(api, deployment, aws, run_id)

    resources = RunResources(aws, RETRAINING, run_id)
    statuses: list[str] = []

    def record() -> None:
        statuses.extend(j["status"] for j in resources.jobs())

    began = time.monotonic()
    deployment.stop_component("airflow-triggerer")  # SIGTERM: a shutdown; its triggers are cancelled
    record()
    stopped_in = round(time.monotonic() - began, 1)
    deployment.start_component("airflow-triggerer")
    state = wait_run_end(api, run_id, on_poll=record)
    assert state == "success", diagnose(api, deployment, RETRAINING, run_id)

    customize = api.get(ti_path(run_id))
    figures["triggerer_restart_mid_job"] = {
        "seconds_to_stop_the_triggerer": stopped_in,
        "job_statuses_seen": {status: statuses.count(status) for status in dict.fromkeys(statuses)},
        "customize_model_tries": customize["try_number"],
    }
    assert statuses[0] == "InProgress", "the job was still running right after the triggerer stopped"
    assert not set(statuses) & set(STOPPED), statuses
    assert statuses[-1] == "Completed"
    assert [j["jobArn"] for j in resources.jobs()] == [job["jobArn"]]
    # The task stayed deferred through the restart: the new triggerer took over the wait (no second try).
    assert customize["state"] == "success" and customize["try_number"] == 1, customize
    assert not leftover_throughputs(api, aws)


def test_without_deferral_waits_hold_a_slot_and_a_killed_worker_leaves_no_duplicate(
    deployment, api, aws, figures
):
    # The same DAG with the provider's `deferrable` setting off, where DAG files are parsed: the worker that
    # runs the tasks and the dag processor.
    off = {"AIRFLOW__BEDROCK_CUSTOMIZATION__DEFERRABLE": "False"}
    for name in ("airflow-worker", "airflow-dag-processor"):
        deployment.stop_component(name)
        deployment.start_component(name, overrides=off)
    wait_for("the worker answers", deployment.worker_pings, 120)
    began = time.monotonic()
    run_id = api.trigger(RETRAINING, {"eval_samples": 6, "serving": "provisioned"})
    killed: dict[str, float] = {}

    def kill_mid_job(samples: list[dict]) -> None:
        held = waiting(samples, CUSTOMIZE, "jobs_in_progress", states=("running",))
        if not killed and len(held) >= 8:  # the slot was measured for a while: now lose the worker's machine
            killed["at"] = time.monotonic()
            deployment.stop_component("airflow-worker", signum=9)
            deployment.start_component("airflow-worker")
            killed["restarted"] = time.monotonic()

    samples = watch_run(api, deployment, aws, RETRAINING, run_id, {CUSTOMIZE, PROVISION}, kill_mid_job)
    tis = assert_succeeded(api, deployment, RETRAINING, run_id)
    figures["non_deferrable_run_seconds"] = round(time.monotonic() - began, 1)
    assert killed, "the worker was never killed: the job was not seen waiting in a worker slot"

    before_kill = [s for s in samples if s["t"] < killed["at"]]
    job_slots = slots_held(
        waiting(before_kill, CUSTOMIZE, "jobs_in_progress", states=("running",)), CUSTOMIZE
    )
    throughput_slots = slots_held(
        waiting(samples, PROVISION, "throughputs_creating", states=("running",)), PROVISION
    )
    figures["non_deferrable_worker_slots_held_by_the_waits"] = {
        "customization_job": summary(job_slots),
        "throughput": summary(throughput_slots) if throughput_slots else None,
    }
    assert set(job_slots) == {1}, job_slots
    assert throughput_slots and max(throughput_slots) == 1, throughput_slots

    customize = next(ti for ti in tis if ti["task_id"] == CUSTOMIZE)
    figures["killed_worker"] = {
        "customize_model_tries": customize["try_number"],
        "seconds_from_kill_to_run_end": round(time.monotonic() - killed["at"], 1),
    }
    assert customize["try_number"] >= 2, "the killed try was retried"
    assert len({arn for s in samples for arn in s["jobs"]}) == 1, (
        "the retry re-attached to the job: no second job"
    )
    evaluation = {
        arn for s in samples for arn, name in s["throughputs"].items() if name.startswith("retraining-eval")
    }
    assert len(evaluation) == 1, f"one evaluation throughput: {evaluation}"
    assert not leftover_throughputs(api, aws), "only the serving throughput may be left"
