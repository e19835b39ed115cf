"""``make airflow`` end to end: the emulator and ``airflow standalone``, driven through the REST API.

The stack is started with ``include.airflow_local.start`` (not ``make``, so the installed venv is used) in
a temporary AIRFLOW_HOME on free ports, so a user's own stack on 8080/4566 is not disturbed. The test logs
in as admin/admin with SimpleAuthManager's ``POST /auth/token``, unpauses and triggers
``bedrock_retraining`` with ``POST /api/v2/dags/bedrock_retraining/dagRuns``, waits for the run to succeed,
then posts an event on the DAG's raw-data asset and waits for the scheduler's asset-triggered run to succeed
(the customization job and the on-demand deployment are deferred to the triggerer), and stops every process it
started by process id.

With a 3 s job, a trigger can fire before the scheduler has seen the deferral's executor event; Airflow
3.3.2 then fails that try (apache/airflow#67287, fixed after 3.3.2) and the DAG's retry re-attaches to the
job, which costs the 30 s retry delay but still succeeds.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest

EMULATOR_TIMINGS = {
    "LOCAL_AWS_JOB_SECONDS": "3",
    "LOCAL_AWS_THROUGHPUT_SECONDS": "1",
    "LOCAL_AWS_DEPLOYMENT_SECONDS": "1",
}
READY_TIMEOUT = 120
PARSE_TIMEOUT = 90
RUN_TIMEOUT = 600  # a deadline, not an expectation: the run takes ~1 min on an idle machine
RUN_CONF = {"eval_samples": 6}
RAW_DATA_URI = "bedrock-customization://raw-data"


def _wait(what: str, check, timeout: float, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not done after {timeout:.0f} s")
        time.sleep(interval)


def _tail(path: Path, lines: int) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"({error})"


def _diagnose(client, stack, dag_id: str, run_id: str | None) -> None:
    """Print what is needed to see why a run did not succeed: task states and the tails of their logs."""
    print(f"\n--- diagnosis (AIRFLOW_HOME {stack.airflow_home}) ---")
    if run_id:
        try:
            response = client.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances")
            for ti in response.json().get("task_instances", []):
                print(f"{ti['task_id']:40} {ti['state']!s:16} try {ti['try_number']}")
        except Exception as error:  # the API server may be the problem
            print(f"task instances unavailable: {error}")
        run_logs = stack.airflow_home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}"
        for log in sorted(run_logs.glob("**/*.log")):
            print(f"\n--- {log.relative_to(stack.airflow_home)} ---\n{_tail(log, 40)}")
    if stack.log_path:
        print(f"\n--- airflow standalone output ({stack.log_path}) ---\n{_tail(stack.log_path, 80)}")


def test_standalone_env_fits_a_small_machine_and_the_chosen_ports(tmp_path):
    from include.airflow_local import SIMPLE_AUTH_MANAGER, standalone_env

    env = standalone_env(tmp_path, "http://127.0.0.1:4599", port=8111, host="0.0.0.0", worker_log_port=9001)
    assert env["AIRFLOW_HOME"] == str(tmp_path.resolve())
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{tmp_path.resolve() / 'airflow.db'}"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4"
    assert env["AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE"] == "True"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"] == SIMPLE_AUTH_MANAGER
    assert env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] == "admin:admin"
    assert env["AIRFLOW__API__PORT"] == "8111"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://127.0.0.1:8111/execution/"
    assert env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "9001"
    assert json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"] == "http://127.0.0.1:4599"
    assert env["PATH"].split(os.pathsep)[0] == str(Path(sys.executable).parent)  # standalone runs `airflow`


def test_passwords_file_gives_a_known_login(tmp_path):
    from include.airflow_local import PASSWORDS_FILE, write_passwords

    path = write_passwords(tmp_path, "s3cret")
    assert path == tmp_path / PASSWORDS_FILE == tmp_path / "simple_auth_manager_passwords.json.generated"
    assert json.loads(path.read_text()) == {"admin": "s3cret"}
    assert path.stat().st_mode & 0o777 == 0o600


def test_busy_ports(tmp_path):
    from include.airflow_local import pick_port, port_is_free, start

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert not port_is_free(port)
        assert pick_port(port) != port and port_is_free(pick_port(port))
        with pytest.raises(RuntimeError, match=f"Port {port} is in use"):
            start(port=port, airflow_home=tmp_path)  # nothing is started then


@pytest.mark.slow
def test_make_airflow_runs_the_retraining_dag_from_the_rest_api(tmp_path):
    import httpx
    import psutil

    from include.airflow_local import ADMIN_USER, DAG_ID, POOL, VARIABLE, free_port, start

    timings: dict[str, float] = {}
    began = time.monotonic()
    stack = start(
        port=free_port(),
        emulator_port=free_port(),
        airflow_home=tmp_path / "airflow",
        emulator_env=EMULATOR_TIMINGS,
        log_file=tmp_path / "standalone.log",
    )
    client = httpx.Client(base_url=stack.api_url, timeout=30)
    run_id = None
    try:
        stack.wait_ready(timeout=READY_TIMEOUT)
        timings["ready"] = time.monotonic() - began

        login = client.post("/auth/token", json={"username": ADMIN_USER, "password": "admin"})
        assert login.status_code == 201, login.text
        assert (
            client.post("/auth/token", json={"username": ADMIN_USER, "password": "wrong"}).status_code == 401
        )
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"

        _wait(
            f"{DAG_ID} parsed",
            lambda: client.get(f"/api/v2/dags/{DAG_ID}").status_code == 200,
            PARSE_TIMEOUT,
        )
        variable = client.get(f"/api/v2/variables/{VARIABLE}")
        assert variable.status_code == 200, variable.text
        assert json.loads(variable.json()["value"])["bucket"] == stack.landing_zone["bucket"]
        pool = client.get(f"/api/v2/pools/{POOL}")
        assert pool.status_code == 200, pool.text
        assert pool.json()["slots"] == 2 and pool.json()["include_deferred"] is True, pool.text

        unpaused = client.patch(f"/api/v2/dags/{DAG_ID}", json={"is_paused": False})
        assert unpaused.status_code == 200 and unpaused.json()["is_paused"] is False, unpaused.text
        # Airflow 3: logical_date is a required field of the body; null makes a run without one.
        triggered = client.post(
            f"/api/v2/dags/{DAG_ID}/dagRuns", json={"logical_date": None, "conf": RUN_CONF}
        )
        assert triggered.status_code == 200, triggered.text
        run_id = triggered.json()["dag_run_id"]
        assert triggered.json()["conf"] == RUN_CONF
        timings["triggered"] = time.monotonic() - began

        def finished():
            state = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}").json()["state"]
            return state if state in ("success", "failed") else None

        try:
            state = _wait(f"run {run_id}", finished, RUN_TIMEOUT, interval=2)
        except TimeoutError:
            state = "timed out"
        timings["run"] = time.monotonic() - began - timings["triggered"]
        if state != "success":
            _diagnose(client, stack, DAG_ID, run_id)
        assert state == "success"

        tis = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances").json()
        states = {ti["task_id"]: ti["state"] for ti in tis["task_instances"]}
        # The default engine scores through Converse, and serving auto deploys Nova Micro on demand: the native
        # evaluation-job tasks and the throughput are skipped.
        native = {f"evaluation.{task}" for task in ("baseline_job", "candidate_job", "compare_requests", "compare_jobs")}
        skipped = native | {"serving.provision_throughput"}
        assert states and {task for task, state in states.items() if state != "success"} == skipped, states
        assert {states[task] for task in skipped} == {"skipped"}, states

        # New raw data landed: an event on the DAG's raw-data asset makes the scheduler start a run.
        (asset,) = client.get("/api/v2/assets", params={"uri_pattern": RAW_DATA_URI}).json()["assets"]
        event = client.post("/api/v2/assets/events", json={"asset_id": asset["id"], "extra": {"from": "test"}})
        assert event.status_code == 200, event.text
        run_id = None

        def asset_run_finished():
            nonlocal run_id
            runs = client.get(f"/api/v2/dags/{DAG_ID}/dagRuns", params={"run_type": "asset_triggered"}).json()
            if not runs["dag_runs"]:
                return None
            run_id = runs["dag_runs"][0]["dag_run_id"]
            state = runs["dag_runs"][0]["state"]
            return state if state in ("success", "failed") else None

        try:
            state = _wait("asset-triggered run", asset_run_finished, RUN_TIMEOUT, interval=2)
        except TimeoutError:
            state = "timed out"
        timings["asset_run"] = time.monotonic() - began - timings["triggered"] - timings["run"]
        if state != "success":
            _diagnose(client, stack, DAG_ID, run_id)
        assert state == "success"
    except Exception:
        if run_id is None:
            _diagnose(client, stack, DAG_ID, None)
        raise
    finally:
        client.close()
        pids = stack.pids()
        stopping = time.monotonic()
        stack.stop()
        timings["stop"] = time.monotonic() - stopping
        leftovers = []
        for pid in pids:
            try:
                process = psutil.Process(pid)
                if process.status() != psutil.STATUS_ZOMBIE:
                    leftovers.append(f"{pid} {' '.join(process.cmdline())}")
            except psutil.NoSuchProcess:
                pass
        timings["total"] = time.monotonic() - began
        print(f"\nmake airflow e2e timings (s): { {k: round(v, 1) for k, v in timings.items()} }")
    assert pids, "the stack reported no processes"
    assert not leftovers, f"processes still running after stop(): {leftovers}"
