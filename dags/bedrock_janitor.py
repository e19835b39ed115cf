"""
### Bedrock janitor

Every hour, find the Bedrock resources this provider created and nobody cleaned up, and clean them up:

* **provisioned throughputs** tagged `bedrock-customization:managed-by=airflow` that are not serving (not in
  a model registry, not tagged `role=serving`) and older than `ttl_hours` are **deleted** (they are billed
  by the hour until then);
* **custom models** of ours, not serving, whose run rejected them (`decision=reject`) or whose customization
  job Failed/Stopped, older than `retention_days`, are **deleted**;
* **customization jobs** of ours still InProgress after `max_job_hours` are **stopped**.

Anything without our `managed-by` tag is never touched. Each action and each resource spared is logged
with its reason; with `dry_run` the janitor only logs. The serving ARNs come from every
`registry/*.json` in the landing-zone bucket (`registry_bucket`, default: the `bucket` of the Airflow
Variable `bedrock_customization`). The rules live in `bedrock_customization.janitor` (pure, tested).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from bedrock_customization.retries import FAIL_FAST

AWS_CONN_ID = "aws_default"


@task
def take_inventory(params: dict | None = None) -> dict:
    """List throughputs, custom models and customization jobs with tags, and the registries' serving ARNs."""
    from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Variable

    from bedrock_customization import inventory

    bucket = params["registry_bucket"]
    if not bucket:
        landing_zone = Variable.get("bedrock_customization", deserialize_json=True, default=None) or {}
        bucket = landing_zone.get("bucket")
    resources = inventory.list_resources(BedrockHook(aws_conn_id=AWS_CONN_ID).conn)
    registries = {}
    if bucket:
        registries = inventory.registry_serving_arns(S3Hook(aws_conn_id=AWS_CONN_ID).get_conn(), bucket)
    else:
        print("WARNING: no registry bucket; only the role=serving tag protects serving throughputs.")
    print(
        f"Inventory: {len(resources['throughputs'])} throughputs, {len(resources['models'])} custom models, "
        f"{len(resources['jobs'])} jobs to consider; registries: {registries or 'none'}"
    )
    return {**resources, "registries": registries}


@task
def plan_cleanup(found: dict, params: dict | None = None) -> dict:
    """Decide what to delete or stop, with a reason for each action and each resource spared."""
    from datetime import UTC, datetime

    from bedrock_customization import janitor

    serving = {arn for arns in found["registries"].values() for arn in arns}
    cleanup = janitor.plan(
        throughputs=found["throughputs"],
        models=found["models"],
        jobs=found["jobs"],
        serving_arns=serving,
        now=datetime.now(UTC),
        ttl_hours=params["ttl_hours"],
        retention_days=params["retention_days"],
        max_job_hours=params["max_job_hours"],
    )
    for action in cleanup.actions:
        print(f"PLAN {action.describe()}")
    for spared in cleanup.spared:
        print(f"KEEP {spared.kind} {spared.name} ({spared.arn}): {spared.reason}")
    print(f"{len(cleanup.actions)} actions; {len(cleanup.spared)} of ours kept; {cleanup.not_ours} not ours.")
    return cleanup.to_dict()


@task
def clean_up(cleanup: dict, params: dict | None = None) -> dict:
    """Carry out the plan (or only log it when dry_run); fails at the end if any action failed."""
    from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook

    from bedrock_customization import janitor
    from bedrock_customization.operators.bedrock import delete_custom_model, delete_throughput

    if params["dry_run"]:
        for action in cleanup["actions"]:
            print(
                f"DRY RUN, not done: {action['action']} {action['name']} ({action['arn']}): {action['reason']}"
            )
        return {"dry_run": True, "done": [], "failed": [], "planned": cleanup["actions"]}

    conn = BedrockHook(aws_conn_id=AWS_CONN_ID).conn
    done, failed = [], []
    for action in cleanup["actions"]:
        kind, arn = action["action"], action["arn"]
        try:
            if kind == janitor.DELETE_THROUGHPUT:
                delete_throughput(conn, arn)
            elif kind == janitor.DELETE_CUSTOM_MODEL:
                delete_custom_model(conn, arn)
            elif kind == janitor.STOP_JOB:
                try:
                    conn.stop_model_customization_job(jobIdentifier=arn)
                except conn.exceptions.ValidationException as error:
                    print(f"Job {arn} is no longer running: {error}")
        except Exception as error:  # one stubborn resource must not stop the rest; retried at the end
            print(f"FAILED {kind} {action['name']} ({arn}): {error}")
            failed.append({**action, "error": str(error)})
            continue
        print(f"DONE {kind} {action['name']} ({arn}): {action['reason']}")
        done.append(action)
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(cleanup['actions'])} janitor actions failed: {failed}")
    return {"dry_run": False, "done": done, "failed": failed, "planned": cleanup["actions"]}


@dag(
    dag_id="bedrock_janitor",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["bedrock", "model-customization", "cleanup"],
    default_args={
        "owner": "ml-platform",
        "retries": 2,
        "retry_delay": pendulum.duration(minutes=2),
        "retry_policy": FAIL_FAST,
    },
    params={
        "dry_run": Param(False, type="boolean", description="Only log what would be done."),
        "ttl_hours": Param(
            6, type="number", minimum=0, description="Delete our non-serving throughputs older than this."
        ),
        "retention_days": Param(
            7, type="number", minimum=0, description="Keep rejected/failed runs' custom models this long."
        ),
        "max_job_hours": Param(
            48, type="number", minimum=0, description="Stop our customization jobs running longer than this."
        ),
        "registry_bucket": Param(
            None,
            type=["null", "string"],
            description="Bucket with registry/*.json; empty: the bucket of the Variable bedrock_customization.",
        ),
    },
    doc_md=__doc__,
)
def bedrock_janitor():
    clean_up(plan_cleanup(take_inventory()))


dag = bedrock_janitor()

if __name__ == "__main__":
    dag.test()
