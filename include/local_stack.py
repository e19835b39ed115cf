"""The local stack used by ``make run`` and the end-to-end tests: emulator process, Airflow env, DAG runs.

Nothing here is product code. The DAGs see the emulator only through the ``aws_default`` connection's
``endpoint_url``, exactly as they would see real AWS without it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
# Emulator timings for a quick local run; each can be overridden from the environment.
EMULATOR_DEFAULTS = {"LOCAL_AWS_JOB_SECONDS": "8", "LOCAL_AWS_THROUGHPUT_SECONDS": "3"}


@dataclass
class EmulatorProcess:
    """``python -m include.local_aws`` running in a child process."""

    endpoint_url: str
    process: subprocess.Popen = field(repr=False)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_emulator(port: int = 0, host: str = "127.0.0.1", env: dict[str, str] | None = None) -> EmulatorProcess:
    """Start the emulator server and wait for its ``listening on`` line."""
    child_env = {**EMULATOR_DEFAULTS, **os.environ, **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", "include.local_aws", "--host", host, "--port", str(port)],
        cwd=ROOT,
        env=child_env,
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if "listening on" in line:
            return EmulatorProcess(endpoint_url=line.rsplit(" ", 1)[-1].strip(), process=process)
    process.kill()
    raise RuntimeError(f"The local AWS emulator did not start (exit code {process.poll()}).")


def aws_connection_uri(endpoint_url: str | None, region: str = REGION) -> str:
    """The ``aws_default`` connection as JSON: the emulator when ``endpoint_url`` is set, else real AWS."""
    extra: dict[str, str] = {"region_name": region}
    conn: dict = {"conn_type": "aws", "extra": extra}
    if endpoint_url:
        extra["endpoint_url"] = endpoint_url
        conn.update(login="testing", password="testing")
    return json.dumps(conn)


def airflow_env(airflow_home: Path, endpoint_url: str | None) -> dict[str, str]:
    """Environment for Airflow processes working on this project against ``endpoint_url``."""
    env = {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__BEDROCK_CUSTOMIZATION__POLL_INTERVAL": os.environ.get(
            "AIRFLOW__BEDROCK_CUSTOMIZATION__POLL_INTERVAL", "2"
        ),
        "AIRFLOW_CONN_AWS_DEFAULT": aws_connection_uri(endpoint_url),
        "AWS_DEFAULT_REGION": REGION,
    }
    if endpoint_url:
        env.update(AWS_ENDPOINT_URL=endpoint_url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    return env


def migrate_db(env: dict[str, str]) -> None:
    """``airflow db migrate`` for the metadata database in ``AIRFLOW_HOME`` (idempotent)."""
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], env={**os.environ, **env}, check=True, capture_output=True)


def run_dag(dag_id: str, run_conf: dict | None = None, logical_date=None, retry_delay: float | None = None):
    """Parse the project's DAGs and run one with ``dag.test()``; returns the DagRun.

    ``retry_delay`` (seconds) shortens every task's retry delay, for tests of failure paths.
    """
    from datetime import timedelta

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    dag = bag.get_dag(dag_id)
    if retry_delay is not None:
        for task in dag.tasks:
            task.retry_delay = timedelta(seconds=retry_delay)
    return dag.test(run_conf=run_conf, logical_date=logical_date)


def xcom_values(dag_run) -> dict[str, object]:
    """``return_value`` XComs of a finished run, by task id."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id, key="return_value")
        ).all()
        return {row.task_id: XComModel.deserialize_value(row) for row in rows}


def serving_resources_alive(region: str = REGION) -> list[dict]:
    """Every provisioned throughput (billed hourly until deleted) and on-demand custom model deployment that
    exists: ``{"arn", "name", "status", "kind"}``."""
    import boto3

    bedrock = boto3.client("bedrock", region_name=region)
    throughputs = bedrock.list_provisioned_model_throughputs().get("provisionedModelSummaries", [])
    deployments = bedrock.list_custom_model_deployments().get("modelDeploymentSummaries", [])
    return [
        {"arn": t["provisionedModelArn"], "name": t["provisionedModelName"], "status": t["status"], "kind": "provisioned"}
        for t in throughputs
    ] + [
        {
            "arn": d["customModelDeploymentArn"],
            "name": d["customModelDeploymentName"],
            "status": d["status"],
            "kind": "on_demand",
        }
        for d in deployments
    ]


def champion_serving(bucket: str, registry_name: str = "bedrock-retraining", region: str = REGION) -> dict:
    """What serves the champion the model registry records: ``{"serving_arn", "serving_kind"}`` (None each
    without a champion)."""
    import boto3

    from bedrock_customization.promotion import load_registry

    registry, _ = load_registry(boto3.client("s3", region_name=region), bucket, registry_name)
    return {key: (registry or {}).get(key) for key in ("serving_arn", "serving_kind")}


def retraining_summary(dag_run, landing_zone: dict) -> dict:
    """The one-line result ``make run`` prints.

    ``billable_resources_left`` lists the throughputs and deployments alive that do not serve the registry's
    champion: the serving one is kept on purpose, anything else is a leak.
    """
    values = xcom_values(dag_run)
    job = values.get("training.customize_model") or {}
    metrics = values.get("training.training_metrics") or {}
    evaluation = values.get("evaluation.choose_candidate") or {}
    promotion = values.get("release.promote_model") or {}
    champion = champion_serving(landing_zone["bucket"])
    return {
        "dag_id": dag_run.dag_id,
        "run_id": dag_run.run_id,
        "state": str(dag_run.state),
        "job_arn": job.get("job_arn"),
        "custom_model_arn": job.get("model_arn"),
        "validation_loss": metrics.get("final_validation_loss"),
        "loss_curve": metrics.get("loss_curve_uri"),
        "evaluation": {
            role: evaluation[role] for role in ("baseline", "candidate") if evaluation.get(role) is not None
        },
        "evaluation_samples": evaluation.get("samples"),
        "evaluation_report": (evaluation.get("evaluation_uris") or {}).get("report"),
        "significance": evaluation.get("significance"),
        "decision": evaluation.get("decision"),
        "promotion": promotion.get("outcome"),
        # The run's estimate (training, evaluation serving, storage): see bedrock_customization.cost.
        "estimated_cost_usd": (evaluation.get("estimated_cost") or {}).get("estimated_cost_usd"),
        "estimated_cost": evaluation.get("estimated_cost"),
        # on_demand: a custom model deployment (per token); provisioned: a throughput (per model unit-hour).
        **champion,
        "billable_resources_left": [r for r in serving_resources_alive() if r["arn"] != champion["serving_arn"]],
    }
