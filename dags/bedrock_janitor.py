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
are kept. The rules live in `bedrock_customization.janitor` (pure, tested).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from bedrock_customization.retries import FAIL_FAST

AWS_CONN_ID = "aws_default"


@task
def repair_promotions(params: dict | None = None) -> list:
    """Roll back in-place promotions abandoned half-way (a registry intent older than the longest switch)."""
    import logging

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Variable

    from bedrock_customization import promotion
    from bedrock_customization.exceptions import RegistryConflictError
    from bedrock_customization.hooks.bedrock import BedrockCustomizationHook
    from bedrock_customization.operators.promotion import load_settled_registry, waiter_settle

    log = logging.getLogger(__name__)
    bucket = params["registry_bucket"] or (
        Variable.get("bedrock_customization", deserialize_json=True, default=None) or {}
    ).get("bucket")
    if not bucket:
        return []
    s3, hook = S3Hook(aws_conn_id=AWS_CONN_ID).get_conn(), BedrockCustomizationHook(aws_conn_id=AWS_CONN_ID)
    repaired = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=promotion.REGISTRY_PREFIX):
        for item in page.get("Contents", []):
            name = item["Key"].removeprefix(promotion.REGISTRY_PREFIX).removesuffix(".json")
            if not item["Key"].endswith(".json") or not promotion.is_valid_name(name):
                continue
            pending = (promotion.load_registry(s3, bucket, name)[0] or {}).get("pending")
            if not pending:
                continue
            if params["dry_run"]:
                log.info("Dry run: registry %s has a promotion intent %s; not repaired.", name, pending)
                continue
            try:
                registry, _ = load_settled_registry(
                    hook.conn, s3, bucket, name, settle=waiter_settle(hook), log=log
                )
            except RegistryConflictError as in_progress:
                log.info("Registry %s: %s", name, in_progress)
                continue
            if "pending" not in (registry or {}):
                repaired.append({"registry": name, "rolled_back": pending})
    return repaired


@task
def take_inventory(params: dict | None = None) -> dict:
    """List throughputs, deployments, custom and imported models and jobs with tags; the registries' ARNs."""
    import logging

    from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.sdk import Variable

    from bedrock_customization import inventory

    log = logging.getLogger(__name__)
    bucket = params["registry_bucket"]
    if not bucket:
        landing_zone = Variable.get("bedrock_customization", deserialize_json=True, default=None) or {}
        bucket = landing_zone.get("bucket")
    resources = inventory.list_resources(BedrockHook(aws_conn_id=AWS_CONN_ID).conn)
    registries = {}
    if bucket:
        registries = inventory.registry_protected_arns(S3Hook(aws_conn_id=AWS_CONN_ID).get_conn(), bucket)
    else:
        log.warning(
            "No registry bucket: only the role=serving tag protects serving throughputs, and models with "
            "decision=promote or no decision are kept."
        )
    log.info(
        "Inventory: %d throughputs, %d deployments, %d custom models, %d imported models, %d jobs to "
        "consider; registries: %s",
        len(resources["throughputs"]),
        len(resources["deployments"]),
        len(resources["models"]),
        len(resources["imported_models"]),
        len(resources["jobs"]),
        registries or "none",
    )
    return {**resources, "registries": registries, "registries_read": bool(bucket)}


@task
def plan_cleanup(found: dict, params: dict | None = None) -> dict:
    """Decide what to delete or stop, with a reason for each action and each resource spared."""
    import logging
    from datetime import UTC, datetime

    from bedrock_customization import janitor
    from bedrock_customization.tables import text_table

    serving = {arn for arns in found["registries"].values() for arn in arns}
    cleanup = janitor.plan(
        throughputs=found["throughputs"],
        models=found["models"],
        jobs=found["jobs"],
        deployments=found.get("deployments", []),
        imported_models=found.get("imported_models", []),
        registries_read=found.get("registries_read", True),
        serving_arns=serving,
        now=datetime.now(UTC),
        ttl_hours=params["ttl_hours"],
        retention_days=params["retention_days"],
        max_job_hours=params["max_job_hours"],
    )
    log = logging.getLogger(__name__)
    columns = ("action", "kind", "name", "age", "arn", "reason")
    if cleanup.actions:
        rows = [[getattr(action, column) for column in columns] for action in cleanup.actions]
        log.info("Planned actions:\n%s", text_table(rows, columns))
    if cleanup.spared:
        rows = [[getattr(spared, column) for column in columns[1:]] for spared in cleanup.spared]
        log.info("Ours, kept:\n%s", text_table(rows, columns[1:]))
    log.info(
        "%d actions; %d of ours kept; %d not ours.",
        len(cleanup.actions),
        len(cleanup.spared),
        cleanup.not_ours,
    )
    return cleanup.to_dict()


@task
def clean_up(cleanup: dict, params: dict | None = None) -> dict:
    """Carry out the plan (or only log it when dry_run); fails at the end if any action failed."""
    import logging

    from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook

    from bedrock_customization import janitor
    from bedrock_customization.operators.bedrock import (
        delete_custom_model,
        delete_deployment,
        delete_throughput,
    )
    from bedrock_customization.operators.model_import import delete_imported_model
    from bedrock_customization.tables import text_table

    log = logging.getLogger(__name__)
    columns = ("action", "kind", "name", "age", "arn", "reason")
    counts = {"spared": len(cleanup["spared"]), "not_ours": cleanup["not_ours"]}
    if params["dry_run"]:
        rows = [[action.get(column, "") for column in columns] for action in cleanup["actions"]]
        log.info("Dry run, %d actions not done:\n%s", len(rows), text_table(rows, columns))
        report = janitor.report(cleanup["actions"], dry_run=True, **counts)
        log.info("%s", janitor.summary_line(report))
        return {"dry_run": True, "done": [], "failed": [], "planned": cleanup["actions"], "report": report}

    conn = BedrockHook(aws_conn_id=AWS_CONN_ID).conn
    done, failed = [], []
    for action in cleanup["actions"]:
        kind, arn = action["action"], action["arn"]
        try:
            if kind == janitor.DELETE_THROUGHPUT:
                delete_throughput(conn, arn)
            elif kind == janitor.DELETE_CUSTOM_MODEL:
                delete_custom_model(conn, arn)
            elif kind == janitor.DELETE_DEPLOYMENT:
                delete_deployment(conn, arn)
            elif kind == janitor.DELETE_IMPORTED_MODEL:
                delete_imported_model(conn, arn)
            elif kind == janitor.STOP_JOB:
                try:
                    conn.stop_model_customization_job(jobIdentifier=arn)
                except conn.exceptions.ValidationException as error:
                    log.info("Job %s is no longer running: %s", arn, error)
        except Exception as error:  # one stubborn resource must not stop the rest; retried at the end
            log.error("FAILED %s %s (%s): %s", kind, action["name"], arn, error)
            failed.append({**action, "error": str(error)})
            continue
        done.append(action)
    if done or failed:
        rows = [[a["action"], a["name"], a["arn"], a.get("error", "done")] for a in [*done, *failed]]
        log.info("Janitor actions:\n%s", text_table(rows, ("action", "name", "arn", "outcome")))
    report = janitor.report(cleanup["actions"], done, failed, dry_run=False, **counts)
    log.info("%s", janitor.summary_line(report))
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(cleanup['actions'])} janitor actions failed: {failed}")
    return {"dry_run": False, "done": done, "failed": failed, "planned": cleanup["actions"], "report": report}


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
    # A half-applied promotion is rolled back first: the inventory then sees what really serves.
    inventory = take_inventory()
    repair_promotions() >> inventory
    clean_up(plan_cleanup(inventory))


dag = bedrock_janitor()

if __name__ == "__main__":
    dag.test()
