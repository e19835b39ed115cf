"""
### Bedrock janitor

Every hour, find the Bedrock resources this provider created and nobody cleaned up, and clean them up:

* **provisioned throughputs** and **custom model deployments** tagged
  `bedrock-customization:managed-by=airflow` that are not serving (not in a model registry, not tagged
  `role=serving`) and older than `ttl_hours` are **deleted** (throughputs are billed by the hour);
* **custom models** of ours are **deleted** `retention_days` after they were made when their run rejected
  them (`decision=reject`) or failed (`decision=failed`, or a customization job of the run Failed/Stopped),
  or when they say `decision=promote` but no registry names them; with no decision, `retention_days` after
  their customization job completed, when no registry names them;
* **imported models** of ours are **deleted** after `ttl_hours` when their run meant to delete them
  (`decision=delete`), else after `retention_days`;
* **customization jobs** of ours still InProgress after `max_job_hours` are **stopped**.

First, an in-place promotion abandoned half-way (its intent still in a registry after the longest switch) is
rolled back: the serving throughput serves the registry's model again. Never touched: anything without our
`managed-by` tag, anything a model registry names (the champion, the
previous champion, a pending switch), anything tagged `role=serving` or `decision=keep`, and a model a
remaining throughput or deployment uses. Every planned action is logged as a table with the resource, its
age and the reason (each resource spared too); with `dry_run` the janitor only logs. The janitor returns a
report: counts per action planned, done and failed. The protected ARNs come from every `registry/*.json` in
the landing-zone bucket (`registry_bucket`, default: the `bucket` of the Airflow Variable
`bedrock_customization`); without a registry bucket, models whose deletion depends on "no registry names it"
are kept. The rules live in `bedrock_customization.janitor` (pure, tested); the task is
`BedrockJanitorOperator` (`bedrock_customization.operators.janitor`).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag

from bedrock_customization.operators.janitor import BedrockJanitorOperator
from bedrock_customization.pipeline import params


@dag(
    dag_id="bedrock_janitor",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["bedrock", "model-customization", "cleanup"],
    default_args=params.default_args(retry_delay=pendulum.duration(minutes=2)),
    params={
        "dry_run": Param(False, type="boolean", description="Only log what would be done."),
        "ttl_hours": Param(
            6,
            type="number",
            minimum=0,
            description="Delete our non-serving throughputs and deployments older than this (hours).",
        ),
        "retention_days": Param(
            7,
            type="number",
            minimum=0,
            description="Keep rejected, failed or unpromoted runs' custom and imported models this long.",
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
    BedrockJanitorOperator(
        task_id="clean_up",
        aws_conn_id="aws_default",
        dry_run="{{ params.dry_run }}",
        ttl_hours="{{ params.ttl_hours }}",
        retention_days="{{ params.retention_days }}",
        max_job_hours="{{ params.max_job_hours }}",
        registry_bucket="{{ params.registry_bucket or '' }}",
    )


dag = bedrock_janitor()

if __name__ == "__main__":
    dag.test()
