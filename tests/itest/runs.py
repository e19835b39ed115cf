"""Driving and observing DAG runs on the native Celery deployment of ``tests/itest`` (see its conftest).

Everything goes through the authenticated REST API, the way a user would, plus two views a user has too: the
emulator's resources of a run (told apart by the ownership tags the operators set) and which tasks hold Celery
worker slots (``celery inspect active``).
"""

from __future__ import annotations

import json
import re
import statistics
import time
from urllib.parse import quote

from include.deployment import wait_for

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


KILL_DEADLINE = 60.0  # seconds from "mark failed" to the job Stopping; the deployment polls every 10 s
STOPPED = ("Stopping", "Stopped")
#: What the trigger logs (into the task's log) after each status check: it is in the triggerer, polling.
TRIGGER_POLLED = "Status of Bedrock model customization job is"


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
