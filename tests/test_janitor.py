"""The janitor: its pure plan on hand-made inventories, and the DAG end to end against the emulator server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pendulum
import pytest

from bedrock_customization import janitor, tagging

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LIMITS = {"ttl_hours": 6, "retention_days": 7, "max_job_hours": 48}


def ours(run_id: str = "manual__r1", **extra: str) -> dict[str, str]:
    return tagging.run_tags("bedrock_retraining", run_id, "task", **extra)


def throughput(arn: str, hours_old: float, tags: dict, model: str = "m") -> dict:
    return {
        "arn": arn,
        "name": arn.rsplit("/", 1)[-1],
        "status": "InService",
        "created": (NOW - timedelta(hours=hours_old)).isoformat(),
        "tags": tags,
        "model_arn": model,
        "desired_model_arn": model,
    }


def model(arn: str, days_old: float, tags: dict) -> dict:
    return {
        "arn": arn,
        "name": arn.rsplit("/", 1)[-1],
        "created": NOW - timedelta(days=days_old),
        "tags": tags,
    }


def job(arn: str, status: str, hours_old: float, tags: dict) -> dict:
    return {
        "arn": arn,
        "name": arn.rsplit("/", 1)[-1],
        "status": status,
        "created": NOW - timedelta(hours=hours_old),
        "tags": tags,
    }


def plan(throughputs=(), models=(), jobs=(), serving=(), **limits):
    return janitor.plan(
        throughputs=throughputs,
        models=models,
        jobs=jobs,
        serving_arns=serving,
        now=NOW,
        **{**LIMITS, **limits},
    )


def test_orphan_throughput_is_deleted_serving_and_untagged_are_spared():
    result = plan(
        throughputs=[
            throughput("tp/orphan", 10, ours(role="evaluation"), model="m/orphan"),
            throughput("tp/serving-by-registry", 500, ours(role="evaluation"), model="m/champion"),
            throughput("tp/serving-by-tag", 500, ours(role="serving"), model="m/other"),
            throughput("tp/young", 1, ours(role="evaluation")),
            throughput("tp/not-ours", 500, {"team": "search"}, model="m/theirs"),
        ],
        serving=["tp/serving-by-registry", "m/champion"],
    )
    assert [(a.action, a.arn) for a in result.actions] == [("delete_throughput", "tp/orphan")]
    assert "not serving, 10.0 h old (TTL 6 h)" in result.actions[0].reason
    assert "manual__r1" in result.actions[0].reason
    reasons = {s.arn: s.reason for s in result.spared}
    assert reasons["tp/serving-by-registry"].startswith("serving")
    assert reasons["tp/serving-by-tag"] == "tagged role=serving"
    assert "within the 6 h TTL" in reasons["tp/young"]
    assert "tp/not-ours" not in reasons and result.not_ours == 1


def test_models_of_rejected_and_failed_runs_go_after_retention():
    result = plan(
        throughputs=[throughput("tp/keeps", 1, ours(), model="m/in-use")],
        models=[
            model("m/rejected", 10, ours("manual__r2", decision="reject")),
            model("m/rejected-recently", 2, ours("manual__r3", decision="reject")),
            model("m/failed-run", 10, ours("manual__r4")),
            model("m/promoted", 30, ours("manual__r5", decision="promote")),
            model("m/undecided", 30, ours("manual__r6")),
            model("m/champion", 30, ours("manual__r7", decision="reject")),
            model("m/in-use", 30, ours("manual__r8", decision="reject")),
            model("m/theirs", 30, {"decision": "reject"}),
        ],
        jobs=[
            job("job/failed", "Failed", 240, ours("manual__r4")),
            job("job/theirs", "Failed", 240, {}),
        ],
        serving=["m/champion"],
    )
    deleted = {a.arn: a.reason for a in result.actions if a.action == janitor.DELETE_CUSTOM_MODEL}
    assert set(deleted) == {"m/rejected", "m/failed-run"}
    assert "decision=reject" in deleted["m/rejected"]
    assert "customization job failed Failed" in deleted["m/failed-run"]
    reasons = {s.arn: s.reason for s in result.spared}
    assert "within 7 days retention" in reasons["m/rejected-recently"]
    assert reasons["m/promoted"].startswith("decision=promote")
    assert "none recorded" in reasons["m/undecided"]
    assert reasons["m/champion"].startswith("serving")
    assert reasons["m/in-use"] == "used by a provisioned throughput that stays"
    assert result.not_ours == 2


def test_a_model_whose_throughput_is_deleted_now_is_not_protected_by_it():
    result = plan(
        throughputs=[throughput("tp/orphan", 10, ours(), model="m/rejected")],
        models=[model("m/rejected", 10, ours(decision="reject"))],
    )
    assert [a.action for a in result.actions] == [janitor.DELETE_THROUGHPUT, janitor.DELETE_CUSTOM_MODEL]


def test_long_running_jobs_of_ours_are_stopped():
    result = plan(
        jobs=[
            job("job/stuck", "InProgress", 50, ours()),
            job("job/fresh", "InProgress", 3, ours()),
            job("job/theirs", "InProgress", 500, {}),
        ]
    )
    assert [(a.action, a.arn) for a in result.actions] == [("stop_job", "job/stuck")]
    assert "InProgress for 50.0 h, longer than the 48 h maximum" in result.actions[0].reason


def test_plan_is_json_ready_and_checks_its_limits():
    result = plan(throughputs=[throughput("tp/orphan", 10, ours())])
    assert json.loads(json.dumps(result.to_dict()))["actions"][0]["arn"] == "tp/orphan"
    with pytest.raises(ValueError, match="negative"):
        plan(ttl_hours=-1)
    with pytest.raises(ValueError, match="timezone"):
        plan(throughputs=[{**throughput("tp/x", 1, ours()), "created": "2026-03-10T00:00:00"}])


# --------------------------------------------------------------------------------------------- the DAG


@pytest.mark.slow
def test_janitor_dag_deletes_the_orphan_and_spares_serving(airflow_db, use_endpoint):
    import boto3

    from include.local_aws.config import CONFIG
    from include.local_aws.server import LocalAwsServer
    from include.local_stack import run_dag, xcom_values
    from tests.local_aws.helpers import completed_model

    with LocalAwsServer(port=0) as server:
        use_endpoint(server.endpoint_url)
        CONFIG.update(job_seconds=0.1, throughput_seconds=0.1)
        try:
            s3, bedrock = (
                boto3.client("s3", region_name="us-east-1"),
                boto3.client("bedrock", region_name="us-east-1"),
            )
            s3.create_bucket(Bucket="data")
            model = completed_model(s3, bedrock, "janitor", records=10)["outputModelArn"]

            def make(name: str, tag_set: dict | None) -> str:
                kwargs = {"tags": tagging.to_aws(tag_set)} if tag_set else {}
                return bedrock.create_provisioned_model_throughput(
                    modelUnits=1, provisionedModelName=name, modelId=model, **kwargs
                )["provisionedModelArn"]

            orphan = make("orphan", ours("manual__crashed", role="evaluation"))
            serving = make("serving", ours("manual__champion", role="evaluation"))
            untagged = make("someone-elses", None)
            s3.put_object(
                Bucket="data",
                Key="registry/qa.json",
                Body=json.dumps({"serving_throughput_arn": serving, "serving_model_arn": model}).encode(),
            )
            conf = {"ttl_hours": 0, "registry_bucket": "data"}

            def alive() -> set[str]:
                summaries = bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
                return {t["provisionedModelArn"] for t in summaries}

            dry = run_dag(
                "bedrock_janitor", {**conf, "dry_run": True}, pendulum.datetime(2026, 3, 1, 1, tz="UTC")
            )
            assert dry.state == "success"
            assert alive() == {orphan, serving, untagged}
            assert xcom_values(dry)["clean_up"]["done"] == []

            real = run_dag("bedrock_janitor", conf, pendulum.datetime(2026, 3, 1, 2, tz="UTC"))
            assert real.state == "success"
            assert alive() == {serving, untagged}
            done = xcom_values(real)["clean_up"]["done"]
            assert [(a["action"], a["arn"]) for a in done] == [("delete_throughput", orphan)]
        finally:
            CONFIG.reset()
