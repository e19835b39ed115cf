"""The native Celery deployment the itest modules drive: one per module, so the modules run in parallel.

``deployment`` starts PostgreSQL, Redis, the emulator, ``airflow-init``'s commands, the API server, scheduler,
dag processor, triggerer and a Celery worker (``include.deployment``: the same commands and configuration as
docker-compose.yaml), and stops every process it started. ``figures`` collects what a module measures; it is
printed when the module's deployment stops (run with ``-s`` to see it).
"""

from __future__ import annotations

import json
import time

import pytest

from include.deployment import wait_for
from tests.itest.runs import EMULATOR, READY_TIMEOUT, RETRAINING, SWEEP, Api


@pytest.fixture(scope="module")
def figures() -> dict[str, object]:
    return {}


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, request, figures):
    from include import deployment as native

    try:
        native.ensure_servers()
    except native.DeploymentUnavailable as error:
        pytest.skip(str(error))
    began = time.monotonic()
    stack = native.start(tmp_path_factory.mktemp("deployment"), emulator_env=EMULATOR)
    try:
        stack.wait_ready(READY_TIMEOUT)
        figures["ready_seconds"] = round(time.monotonic() - began, 1)
        yield stack
    finally:
        pids = stack.pids()
        stack.stop()
        import psutil

        left = [pid for pid in pids if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"]
        figures["total_seconds"] = round(time.monotonic() - began, 1)
        print(f"\nmake itest figures, {request.module.__name__}: {json.dumps(figures, indent=1)}")
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
