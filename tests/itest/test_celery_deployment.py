"""``make itest``: the DAGs on a real deployment, started natively from docker-compose.yaml.

PostgreSQL, Redis, the emulator, ``airflow-init``'s commands, then the API server, scheduler, dag processor,
triggerer and a Celery worker (``include.deployment``; the same commands and configuration as the compose
file). Everything is driven through the authenticated REST API, the way a user would (every run with
``serving: provisioned``: the throughput waits and the in-place switch are what a deployment must carry; the
on-demand path is the same operator lifecycle, run end to end by tests/test_retraining_dag.py):

1. ``bedrock_retraining`` with a conf: it succeeds; the customization and throughput waits are ``deferred``
   while the emulated job/throughput is in progress, and past a short grace period of each deferral they hold
   no Celery worker slot; every task ran on the Celery worker; only the serving throughput is left.
2. ``bedrock_hparam_sweep`` with a 2x2 grid: never more customization jobs at once than the pool has slots.
3. The same retraining DAG with ``[bedrock_customization] deferrable = False`` on the worker: the waits hold
   one worker slot each. The worker is then killed (SIGKILL to its whole process tree, as if its machine died)
   mid-job and started again: the run still succeeds, with one customization job and one evaluation
   throughput, because the retry re-attaches to the job instead of creating another.
4. A deferred ``customize_model`` marked failed through the REST API: our trigger's ``on_kill`` stops the
   customization job (a user kill must not leave it training and billing).
5. The triggerer restarted while ``customize_model`` is deferred: the job is left alone (a restart or
   redistribution is not a kill) and the new triggerer finishes the wait.

The figures (worker-slot occupancy, durations) are printed; run with ``-s`` to see them.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from urllib.parse import quote

import pytest

from include.deployment import wait_for

pytestmark = [pytest.mark.itest, pytest.mark.slow]

RETRAINING = "bedrock_retraining"
SWEEP = "bedrock_hparam_sweep"
CUSTOMIZE = "training.customize_model"
PROVISION = "serving.provision_throughput"
SWEEP_CUSTOMIZE = "training.customize_model"
POOL = "bedrock_customization_jobs"
ADMIN = ("admin", "admin")
# Long enough to observe the waits, and to keep clear of the Airflow 3.3.2 race where a trigger fires before
# the scheduler has handled the deferral (apache/airflow#67287).
EMULATOR = {"LOCAL_AWS_JOB_SECONDS": "45", "LOCAL_AWS_THROUGHPUT_SECONDS": "30"}
# A task turns `deferred` in the database a moment before the Celery worker finishes the task that deferred and
# frees its slot (a few seconds on a loaded machine). Past this many seconds into a deferral, no slot may be held.
DEFERRAL_GRACE_SECONDS = 8.0
READY_TIMEOUT = 300
RUN_TIMEOUT = 600
FIGURES: dict[str, object] = {}


class Api:
    """The Airflow REST API as admin (SimpleAuthManager token)."""

    def __init__(self, base_url: str):
        import httpx

        self.http = httpx.Client(base_url=base_url, timeout=30)
        token = self.http.post("/auth/token", json={"username": ADMIN[0], "password": ADMIN[1]})
        assert token.status_code == 201, token.text
        assert (
            self.http.post("/auth/token", json={"username": ADMIN[0], "password": "wrong"}).status_code == 401
        )
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def get(self, path: str, **params) -> dict:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def trigger(self, dag_id: str, conf: dict) -> str:
        unpaused = self.http.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        assert unpaused.status_code == 200, unpaused.text
        response = self.http.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf})
        assert response.status_code == 200, response.text
        assert response.json()["conf"] == conf
        return response.json()["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")["state"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
        return self.get(path, limit=100)["task_instances"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    from include import deployment as native

    try:
        native.ensure_servers()
    except native.DeploymentUnavailable as error:
        pytest.skip(str(error))
    began = time.monotonic()
    stack = native.start(tmp_path_factory.mktemp("deployment"), emulator_env=EMULATOR)
    try:
        stack.wait_ready(READY_TIMEOUT)
        FIGURES["ready_seconds"] = round(time.monotonic() - began, 1)
        yield stack
    finally:
        pids = stack.pids()
        stack.stop()
        import psutil

        left = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
        FIGURES["total_seconds"] = round(time.monotonic() - began, 1)
        print(f"\nmake itest figures: {json.dumps(FIGURES, indent=1)}")
        assert pids and not left, f"processes left after stop(): {left}"


@pytest.fixture(scope="module")
def api(deployment):
    client = Api(deployment.api_url)
    wait_for("DAGs parsed", lambda: all(
        client.http.get(f"/api/v2/dags/{dag_id}").status_code == 200 for dag_id in (RETRAINING, SWEEP)
    ), 120)  # fmt: skip
    yield client
    client.http.close()


@pytest.fixture(scope="module")
def aws(deployment):
    import boto3

    def client(service: str):
        return boto3.client(
            service,
            endpoint_url=deployment.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    return client


_WORKLOAD_FIELD = re.compile(r'"(task_id|run_id|map_index)":\s*"?([^",}]*)')


def active_workloads(deployment) -> list[tuple[str, str]] | None:
    """(run_id, task_id) of each task the Celery workers execute now; each holds one worker slot. ``None`` when
    no worker answered in time (a loaded machine, a restarting worker): unknown, not "no slot held"."""
    from celery import Celery

    app = Celery(broker=deployment.broker_url)
    try:
        active = app.control.inspect(timeout=3.0).active()
    finally:
        app.close()
    if not active:
        return None
    workloads = []
    for task in (task for tasks in active.values() for task in tasks):
        fields = dict(_WORKLOAD_FIELD.findall(str(task.get("args"))))  # the ExecuteTask workload's JSON
        workloads.append((fields.get("run_id", "?"), fields.get("task_id", "?")))
    return workloads


class RunResources:
    """The emulator's jobs and throughputs of one DAG run, told apart by the ownership tags the operators set."""

    def __init__(self, aws, dag_id: str, run_id: str):
        self.bedrock, self.dag_id, self.run_id = aws("bedrock"), dag_id, run_id
        self._ours: dict[str, bool] = {}

    def ours(self, arn: str) -> bool:
        from bedrock_customization.tagging import from_aws, same_run

        if arn not in self._ours:
            try:
                tags = from_aws(self.bedrock.list_tags_for_resource(resourceARN=arn)["tags"])
            except Exception:  # deleted between the listing and this call
                return False
            self._ours[arn] = same_run(tags, self.dag_id, self.run_id)
        return self._ours[arn]

    def jobs(self) -> list[dict]:
        summaries = self.bedrock.list_model_customization_jobs(maxResults=100)[
            "modelCustomizationJobSummaries"
        ]
        return [job for job in summaries if self.ours(job["jobArn"])]

    def throughputs(self) -> list[dict]:
        summaries = self.bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
        return [t for t in summaries if self.ours(t["provisionedModelArn"])]


def watch_run(
    api, deployment, aws, dag_id: str, run_id: str, task_ids: set[str], on_sample=None
) -> list[dict]:
    """Poll the run until it ends; one sample a second: the watched tasks' states, the run's emulator jobs and
    throughputs, and which of its tasks hold worker slots. ``on_sample(samples)`` may act (kill the worker)."""
    resources = RunResources(aws, dag_id, run_id)
    samples: list[dict] = []
    deadline = time.monotonic() + RUN_TIMEOUT
    while True:
        state = api.run_state(dag_id, run_id)
        if state in ("success", "failed"):
            return samples
        if time.monotonic() > deadline:
            raise TimeoutError(f"{dag_id} {run_id}: still {state} after {RUN_TIMEOUT} s")
        tis = {ti["task_id"] + (f"[{ti['map_index']}]" if ti["map_index"] > 0 else ""): ti
               for ti in api.task_instances(dag_id, run_id) if ti["task_id"] in task_ids}  # fmt: skip
        jobs, throughputs = resources.jobs(), resources.throughputs()
        workloads = active_workloads(deployment)
        samples.append(
            {
                "t": time.monotonic(),
                "states": {key: ti["state"] for key, ti in tis.items()},
                "jobs": sorted(j["jobArn"] for j in jobs),
                "jobs_in_progress": sorted(j["jobArn"] for j in jobs if j["status"] == "InProgress"),
                "throughputs": {t["provisionedModelArn"]: t["provisionedModelName"] for t in throughputs},
                "throughputs_creating": [
                    t["provisionedModelArn"] for t in throughputs if t["status"] == "Creating"
                ],
                # None where the workers did not answer (such samples say nothing about slots)
                "busy_slots": None if workloads is None else len(workloads),
                "slots": None if workloads is None else [task for run, task in workloads if run == run_id],
            }
        )
        if on_sample is not None:
            on_sample(samples)
        time.sleep(1.0)


def waiting(samples: list[dict], task: str, resource: str, states=("deferred", "running")) -> list[dict]:
    """The samples in which ``task`` waited (in ``states``) while the run's ``resource`` was in progress."""
    return [s for s in samples if s[resource] and s["states"].get(task) in states]


def slots_held(samples: list[dict], task: str) -> list[int]:
    """Worker slots ``task`` held in each sample where the workers answered."""
    return [s["slots"].count(task) for s in samples if s["slots"] is not None]


def deferrals(samples: list[dict], task: str, resource: str) -> list[list[dict]]:
    """Each uninterrupted stretch of samples in which ``task`` was deferred while the run's ``resource`` was in
    progress (a try that resumes and defers again starts a new stretch)."""
    stretches: list[list[dict]] = []
    previous = None
    for sample in samples:
        if sample[resource] and sample["states"].get(task) == "deferred":
            if previous is None:
                stretches.append([])
            stretches[-1].append(sample)
            previous = sample
        else:
            previous = None
    return stretches


def deferred_slot_use(samples: list[dict], task: str, resource: str) -> dict:
    """How many worker slots ``task`` held while deferred on ``resource``: after the grace period of each
    deferral (``settled``, which must be all zeros) and in slot-seconds over all deferrals (each sample's count
    times the time to the next sample), with the seconds spent deferred."""
    settled: list[int] = []
    slot_seconds = deferred_seconds = 0.0
    for stretch in deferrals(samples, task, resource):
        began = stretch[0]["t"]
        for sample, after in zip(stretch, [*stretch[1:], None], strict=True):
            held = None if sample["slots"] is None else sample["slots"].count(task)
            dt = (after["t"] if after else sample["t"] + 1.0) - sample["t"]
            deferred_seconds += dt
            if held is None:
                continue
            slot_seconds += held * dt
            if sample["t"] - began > DEFERRAL_GRACE_SECONDS:
                settled.append(held)
    return {
        "settled": settled,
        "slot_seconds": round(slot_seconds, 1),
        "deferred_seconds": round(deferred_seconds, 1),
    }


def wait_all_runs(api, dag_id: str) -> None:
    """Wait until no run of ``dag_id`` is queued or running (e.g. the one Airflow starts on unpause)."""

    def idle():
        return not api.get(f"/api/v2/dags/{dag_id}/dagRuns", state=["queued", "running"])["dag_runs"]

    wait_for(f"{dag_id} idle", idle, RUN_TIMEOUT, interval=2)


def diagnose(api, deployment, dag_id: str, run_id: str) -> str:
    from include.deployment import tail

    lines = [f"{dag_id} {run_id}:"]
    for ti in api.task_instances(dag_id, run_id):
        lines.append(f"  {ti['task_id']}[{ti['map_index']}] {ti['state']} try {ti['try_number']}")
    for name, server in deployment.components.items():
        lines.append(f"--- {name} ({server.log}) ---\n{tail(server.log, 25)}")
    return "\n".join(lines)


def assert_succeeded(api, deployment, dag_id: str, run_id: str) -> list[dict]:
    state = api.run_state(dag_id, run_id)
    assert state == "success", diagnose(api, deployment, dag_id, run_id)
    tis = api.task_instances(dag_id, run_id)
    bad = {ti["task_id"]: ti["state"] for ti in tis if ti["state"] not in ("success", "skipped")}
    assert not bad, bad
    return tis


def leftover_throughputs(api, aws) -> list[str]:
    """Throughputs alive that are not the serving one the registry records (they would bill for nothing)."""
    from bedrock_customization.promotion import load_registry

    bucket = json.loads(api.get("/api/v2/variables/bedrock_customization")["value"])["bucket"]
    registry, _ = load_registry(aws("s3"), bucket, "bedrock-retraining")
    serving = (registry or {}).get("serving_arn")
    alive = aws("bedrock").list_provisioned_model_throughputs()["provisionedModelSummaries"]
    return [t["provisionedModelArn"] for t in alive if t["provisionedModelArn"] != serving]


def summary(values: list[int]) -> dict:
    if not values:
        return {"samples": 0}
    return {
        "samples": len(values),
        "min": min(values),
        "max": max(values),
        "median": statistics.median(values),
    }


# --------------------------------------------------------------------------------------------------


def test_deployment_is_the_compose_stack(deployment, api):
    health = api.get("/api/v2/monitor/health")
    components = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    assert {part: health[part]["status"] for part in components} == dict.fromkeys(components, "healthy")
    assert deployment.worker_pings(), "no Celery worker answers"
    pool = api.get(f"/api/v2/pools/{POOL}")
    assert pool["slots"] == 2 and pool["include_deferred"] is True
    landing_zone = json.loads(api.get("/api/v2/variables/bedrock_customization")["value"])
    assert landing_zone["bucket"] and landing_zone["subnet_ids"], "airflow-init bootstrapped the landing zone"


def test_retraining_waits_are_deferred_and_hold_no_worker_slot(deployment, api, aws):
    began = time.monotonic()
    run_id = api.trigger(RETRAINING, {"eval_samples": 6, "serving": "provisioned"})
    samples = watch_run(api, deployment, aws, RETRAINING, run_id, {CUSTOMIZE, PROVISION})
    tis = assert_succeeded(api, deployment, RETRAINING, run_id)
    FIGURES["retraining_run_seconds"] = round(time.monotonic() - began, 1)

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
    figures = FIGURES["deferrable_worker_slots_held_by_the_waits"] = {"grace_seconds": DEFERRAL_GRACE_SECONDS}
    for name, task, resource, least in (
        ("customization_job", CUSTOMIZE, "jobs_in_progress", 8),
        ("throughput", PROVISION, "throughputs_creating", 3),
    ):
        use = deferred_slot_use(samples, task, resource)
        figures[name] = {
            "after_grace": summary(use["settled"]),
            **{k: v for k, v in use.items() if k != "settled"},
        }
        assert len(use["settled"]) >= least, ("too few samples past the grace period", name, use)
        assert set(use["settled"]) == {0}, (name, use)
        assert use["slot_seconds"] <= 2 * DEFERRAL_GRACE_SECONDS < use["deferred_seconds"], (name, use)
    figures["all_tasks_of_all_runs_meanwhile"] = summary([
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


def test_sweep_runs_at_most_the_pool_size_of_jobs_at_once(deployment, api, aws):
    began = time.monotonic()
    grid = {"epochCount": [1, 2], "learningRate": [0.00001, 0.0001]}
    run_id = api.trigger(SWEEP, {"search_space": grid, "eval_samples": 4, "serving": "provisioned"})
    samples = watch_run(api, deployment, aws, SWEEP, run_id, {SWEEP_CUSTOMIZE})
    tis = assert_succeeded(api, deployment, SWEEP, run_id)
    FIGURES["sweep_run_seconds"] = round(time.monotonic() - began, 1)

    mapped = [ti for ti in tis if ti["task_id"] == SWEEP_CUSTOMIZE]
    assert len(mapped) == 4 and all(ti["pool"] == POOL for ti in mapped)
    holding = [sum(1 for state in s["states"].values() if state in ("running", "deferred")) for s in samples]
    in_progress = [len(s["jobs_in_progress"]) for s in samples]
    FIGURES["sweep_max_at_once"] = {
        "mapped_tasks_holding_pool_slots": max(holding),
        "jobs_in_progress": max(in_progress),
    }
    assert max(holding) == 2 and max(in_progress) == 2, (holding, in_progress)
    assert len({arn for s in samples for arn in s["jobs"]}) == 4, "one job per configuration, no duplicates"
    assert not leftover_throughputs(api, aws)


def test_without_deferral_waits_hold_a_slot_and_a_killed_worker_leaves_no_duplicate(deployment, api, aws):
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
    FIGURES["non_deferrable_run_seconds"] = round(time.monotonic() - began, 1)
    assert killed, "the worker was never killed: the job was not seen waiting in a worker slot"

    before_kill = [s for s in samples if s["t"] < killed["at"]]
    job_slots = slots_held(
        waiting(before_kill, CUSTOMIZE, "jobs_in_progress", states=("running",)), CUSTOMIZE
    )
    throughput_slots = slots_held(
        waiting(samples, PROVISION, "throughputs_creating", states=("running",)), PROVISION
    )
    FIGURES["non_deferrable_worker_slots_held_by_the_waits"] = {
        "customization_job": summary(job_slots),
        "throughput": summary(throughput_slots) if throughput_slots else None,
    }
    assert set(job_slots) == {1}, job_slots
    assert throughput_slots and max(throughput_slots) == 1, throughput_slots

    customize = next(ti for ti in tis if ti["task_id"] == CUSTOMIZE)
    FIGURES["killed_worker"] = {
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


# --------------------------------------------------------------------------------------------------
# A kill of a deferred customization stops its job; a triggerer restart does not. Appended last, so the timing of
# the tests above is untouched. These runs need longer jobs than EMULATOR's 45 s: the emulator takes its job
# duration when a job is created, so it is raised through its /_local_aws/config for the runs here only.

KILL_DEADLINE = 60.0  # seconds from "mark failed" to the job Stopping; the deployment polls every 10 s
STOPPED = ("Stopping", "Stopped")
#: What the trigger logs (into the task's log) after each status check: it is in the triggerer, polling.
TRIGGER_POLLED = "Status of Bedrock model customization job is"


def deferrable_again(deployment) -> None:
    """Undo the ``deferrable = False`` override of the test above, if it ran: restart the worker and the dag
    processor with the compose settings only."""
    names = [name for name in ("airflow-worker", "airflow-dag-processor") if deployment.overrides.get(name)]
    for name in names:
        deployment.stop_component(name)
        deployment.start_component(name, overrides={})
    if names:
        wait_for("the worker answers", deployment.worker_pings, 120)


class LongJobs:
    """Customization jobs created inside the block run ``seconds`` in the emulator."""

    def __init__(self, deployment, seconds: float):
        import httpx

        self.http = httpx.Client(timeout=10)
        self.url, self.seconds = f"{deployment.endpoint_url}/_local_aws/config", seconds

    def __enter__(self):
        self.before = self.http.get(self.url).json()["job_seconds"]
        self.http.post(self.url, json={"job_seconds": self.seconds}).raise_for_status()
        return self

    def __exit__(self, *exc):
        self.http.post(self.url, json={"job_seconds": self.before}).raise_for_status()
        self.http.close()


def ti_path(run_id: str, task_id: str = CUSTOMIZE, map_index: int = 0) -> str:
    """The API path of a (mapped: the retraining maps its one configuration) task instance."""
    return f"/api/v2/dags/{RETRAINING}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/{map_index}"


def task_log(api, run_id: str, try_number: int = 1) -> str:
    """The task's log as the UI shows it (while deferred, with the trigger's lines from the triggerer)."""
    response = api.http.get(
        f"{ti_path(run_id).rsplit('/', 1)[0]}/logs/{try_number}",
        params={"full_content": True, "map_index": 0},
        headers={"Accept": "application/json"},
    )
    return response.text if response.status_code == 200 else ""


def wait_until_the_trigger_polls(api, deployment, aws, run_id: str) -> dict:
    """Wait until customize_model is deferred on an InProgress job and its trigger has checked the job's status
    in the triggerer; returns the job."""
    resources = RunResources(aws, RETRAINING, run_id)

    def polling():
        # The mapped task instance exists once its configurations are known (404 until then).
        response = api.http.get(ti_path(run_id))
        state = response.json()["state"] if response.status_code == 200 else None
        assert state in (None, "scheduled", "queued", "running", "deferred"), diagnose(
            api, deployment, RETRAINING, run_id
        )
        jobs = resources.jobs() if state == "deferred" else []
        if len(jobs) == 1 and jobs[0]["status"] == "InProgress" and TRIGGER_POLLED in task_log(api, run_id):
            return jobs[0]
        return None

    return wait_for("customize_model deferred, its trigger polling", polling, RUN_TIMEOUT, interval=1)


def wait_run_end(api, run_id: str, on_poll=None) -> str:
    def ended():
        if on_poll is not None:
            on_poll()
        state = api.run_state(RETRAINING, run_id)
        return state if state in ("success", "failed") else None

    return wait_for(f"{RETRAINING} {run_id} ends", ended, RUN_TIMEOUT, interval=1)


def test_marking_a_deferred_customization_failed_stops_its_job(deployment, api, aws):
    deferrable_again(deployment)
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
    FIGURES["kill_of_a_deferred_customization"] = {
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


def test_a_triggerer_restart_leaves_a_deferred_job_running(deployment, api, aws):
    deferrable_again(deployment)
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
    FIGURES["triggerer_restart_mid_job"] = {
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
