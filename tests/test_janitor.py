"""The janitor: its pure plan on hand-made inventories, and the DAG end to end against the emulator server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pendulum
import pytest

from bedrock_customization import janitor, tagging

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LIMITS = {"ttl_hours": 6, "retention_days": 7, "max_job_hours": 48}


def reset_account(endpoint_url: str) -> None:
    """An empty emulated account: these tests list everything in it."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint_url}/moto-api/reset", method="POST"))


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
            model("m/tagged-failed", 10, ours("manual__r9", decision="failed")),
            model("m/promoted", 30, ours("manual__r5", decision="promote")),
            model("m/undecided", 30, ours("manual__r6")),
            model("m/champion", 30, ours("manual__r7", decision="reject")),
            model("m/previous-champion", 30, ours("manual__r10", decision="promote")),
            model("m/in-use", 30, ours("manual__r8", decision="reject")),
            model("m/kept", 300, ours("manual__r11", decision="keep")),
            model("m/theirs", 30, {"decision": "reject"}),
        ],
        jobs=[
            job("job/failed", "Failed", 240, ours("manual__r4")),
            job("job/theirs", "Failed", 240, {}),
        ],
        serving=["m/champion", "m/previous-champion"],
    )
    deleted = {a.arn: a.reason for a in result.actions if a.action == janitor.DELETE_CUSTOM_MODEL}
    assert set(deleted) == {"m/rejected", "m/failed-run", "m/tagged-failed", "m/promoted"}
    assert "decision=reject" in deleted["m/rejected"]
    assert "customization job failed Failed" in deleted["m/failed-run"]
    assert "decision=failed" in deleted["m/tagged-failed"]
    assert "decision=promote but no model registry names it" in deleted["m/promoted"]
    assert {a.age for a in result.actions} >= {"10.0 d", "30.0 d"}
    reasons = {s.arn: s.reason for s in result.spared}
    assert "within 7 days retention" in reasons["m/rejected-recently"]
    assert reasons["m/undecided"] == "decision=none recorded, no completed job of ours"
    assert reasons["m/champion"].startswith("serving")
    assert reasons["m/previous-champion"].startswith("serving")
    assert reasons["m/in-use"] == "used by a provisioned throughput or deployment that stays"
    assert reasons["m/kept"] == "kept on purpose (decision=keep)"
    assert result.not_ours == 2


def test_a_model_with_no_decision_goes_retention_days_after_its_job_completed():
    def completed(name: str, days_ago: float) -> dict:
        return {
            **job(f"job/{name}", "Completed", days_ago * 24 + 3, ours(f"manual__{name}")),
            "model_arn": f"m/{name}",
            "ended": (NOW - timedelta(days=days_ago)).isoformat(),
        }

    models = [
        model("m/old", 10, ours("manual__old")),
        model("m/recent", 2, ours("manual__recent")),
        model("m/named", 10, ours("manual__named")),
        model("m/promoted", 10, ours("manual__promoted", decision="promote")),
    ]
    jobs = [completed("old", 10), completed("recent", 2), completed("named", 10)]
    result = plan(models=models, jobs=jobs, serving=["m/named"])
    deleted = {a.arn: a.reason for a in result.actions}
    assert set(deleted) == {"m/old", "m/promoted"}
    assert "no decision recorded, no registry names it, its job old completed 10.0 d ago" in deleted["m/old"]
    reasons = {s.arn: s.reason for s in result.spared}
    assert "completed 2.0 d ago, within 7 days retention" in reasons["m/recent"]
    assert reasons["m/named"].startswith("serving")

    # Without the registries nobody can tell whether a registry names them: kept.
    blind = plan(models=models, jobs=jobs, serving=[], registries_read=False)
    assert blind.actions == ()
    assert "no model registry was read" in {s.arn: s.reason for s in blind.spared}["m/old"]


def deployment(arn: str, hours_old: float, tags: dict, model: str = "m") -> dict:
    return {
        "arn": arn,
        "name": arn.rsplit("/", 1)[-1],
        "status": "Active",
        "created": NOW - timedelta(hours=hours_old),
        "tags": tags,
        "model_arn": model,
    }


def test_deployments_and_imported_models_of_ours_are_cleaned_serving_and_untagged_spared():
    result = plan(
        deployments=[
            deployment("dep/orphan", 10, ours(), model="m/freed"),
            deployment("dep/serving", 500, ours(role="serving"), model="m/deployed"),
            deployment("dep/registry", 500, ours(), model="m/x"),
            deployment("dep/young", 1, ours()),
            deployment("dep/theirs", 500, {}, model="im/theirs-uses"),
        ],
        models=[
            model("m/freed", 10, ours(decision="reject")),
            model("m/deployed", 10, ours(decision="reject")),
        ],
        imported_models=[
            model("im/killed-run", 0.5, ours("manual__killed", decision="delete")),
            model("im/smoke-testing", 0.1, ours("manual__now", decision="delete")),
            model("im/untagged-decision", 10, ours("manual__old")),
            model("im/recent", 2, ours("manual__recent")),
            model("im/kept", 100, ours("manual__kept", decision="keep")),
            model("im/serving", 100, ours("manual__serving")),
            model("im/theirs-uses", 100, ours("manual__used")),
            model("im/not-ours", 100, {}),
        ],
        serving=["dep/registry", "im/serving"],
    )
    assert sorted((a.action, a.arn) for a in result.actions) == [
        (janitor.DELETE_CUSTOM_MODEL, "m/freed"),
        (janitor.DELETE_DEPLOYMENT, "dep/orphan"),
        (janitor.DELETE_IMPORTED_MODEL, "im/killed-run"),
        (janitor.DELETE_IMPORTED_MODEL, "im/untagged-decision"),
    ]
    reasons = {a.arn: a.reason for a in [*result.actions, *result.spared]}
    assert "not serving, 10.0 h old (TTL 6 h)" in reasons["dep/orphan"]
    assert "decision=delete" in reasons["im/killed-run"] and "manual__killed" in reasons["im/killed-run"]
    assert "within its limit" in reasons["im/smoke-testing"] and "within its limit" in reasons["im/recent"]
    assert reasons["dep/serving"] == "tagged role=serving" and reasons["dep/registry"].startswith("serving")
    assert reasons["m/deployed"] == "used by a provisioned throughput or deployment that stays"
    assert reasons["im/kept"] == "kept on purpose (decision=keep)"
    assert reasons["im/serving"].startswith("serving")
    assert reasons["im/theirs-uses"] == "used by a provisioned throughput or deployment that stays"
    assert "im/not-ours" not in reasons and result.not_ours == 2


def test_report_counts_each_action_and_says_it_in_one_line():
    planned = [
        {"action": janitor.DELETE_THROUGHPUT, "arn": "tp/a"},
        {"action": janitor.DELETE_IMPORTED_MODEL, "arn": "im/a"},
        {"action": janitor.DELETE_IMPORTED_MODEL, "arn": "im/b"},
    ]
    dry = janitor.report(planned, dry_run=True, spared=4, not_ours=2)
    assert dry["counts"][janitor.DELETE_IMPORTED_MODEL] == {"planned": 2, "done": 0, "failed": 0}
    assert dry["counts"][janitor.STOP_JOB] == {"planned": 0, "done": 0, "failed": 0}
    assert janitor.summary_line(dry) == (
        "Janitor would: delete_throughput 1 planned; delete_imported_model 2 planned. "
        "Kept 4 of ours; 2 not ours."
    )
    real = janitor.report(planned, planned[:2], planned[2:], dry_run=False)
    assert real["counts"][janitor.DELETE_IMPORTED_MODEL] == {"planned": 2, "done": 1, "failed": 1}
    assert "delete_imported_model 2 planned, 1 done, 1 failed" in janitor.summary_line(real)


@pytest.mark.parametrize(
    ("tags", "protected", "retention", "run_failed", "expected"),
    [
        # The run failed after its job completed: the model goes, or is marked for the janitor.
        ({}, (), "delete", True, ("delete", "failed")),
        ({}, (), "keep", True, ("keep", "failed")),
        # The promotion never committed (the registry does not name it).
        ({"decision": "promote"}, (), "delete", True, ("delete", "failed")),
        ({"decision": "promote"}, (), "keep", True, ("keep", "failed")),
        # Rejected: the promotion deleted it already, unless it was still in use.
        ({"decision": "reject"}, (), "delete", False, ("delete", None)),
        ({"decision": "reject"}, (), "keep", False, ("spare", None)),
        # The run succeeded without deciding on it (a sweep's winner without evaluation): kept for good.
        ({}, (), "delete", False, ("keep", "keep")),
        # Unknown outcome: never deleted, never kept for good.
        ({}, (), "delete", None, ("keep", "failed")),
        ({"decision": "failed"}, (), "delete", None, ("keep", "failed")),
        # Never: what the registry names, what serves, what is kept on purpose, a committed promotion.
        ({"decision": "promote"}, ("m/1",), "delete", True, ("spare", None)),
        ({}, ("m/1",), "delete", True, ("spare", None)),
        ({"role": "serving"}, (), "delete", True, ("spare", None)),
        ({"decision": "keep"}, (), "delete", True, ("spare", None)),
        ({"decision": "promote"}, (), "delete", False, ("spare", None)),
    ],
)
def test_teardown_fate_of_a_runs_model(tags, protected, retention, run_failed, expected):
    tag_set = ours(**tags)
    fate = janitor.teardown_fate(
        arn="m/1", tags=tag_set, protected=protected, retention=retention, run_failed=run_failed
    )
    assert (fate.action, fate.tag) == expected, fate.reason


def test_teardown_fate_without_a_registry_never_deletes_a_promoted_model():
    fate = janitor.teardown_fate(
        arn="m/1",
        tags=ours(decision="promote"),
        protected=(),
        retention="delete",
        run_failed=True,
        registry_read=False,
    )
    assert fate.action == "spare"
    with pytest.raises(ValueError, match="retention"):
        janitor.teardown_fate(arn="m/1", tags={}, protected=(), retention="forever", run_failed=True)


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
    from tests.serving_helpers import completed_job

    with LocalAwsServer(port=0) as server:
        use_endpoint(server.endpoint_url)
        reset_account(server.endpoint_url)  # moto's state is process-wide: not what earlier tests left
        CONFIG.update(job_seconds=0.1, throughput_seconds=0.1)
        try:
            s3, bedrock = (
                boto3.client("s3", region_name="us-east-1"),
                boto3.client("bedrock", region_name="us-east-1"),
            )
            s3.create_bucket(Bucket="data")
            model = completed_job(s3, bedrock, "janitor", records=10)["outputModelArn"]

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


def test_the_import_dag_tags_its_model_with_what_the_run_means_to_do_with_it():
    from airflow.dag_processing.dagbag import DagBag

    from include.local_stack import ROOT

    bag = DagBag(dag_folder=str(ROOT / "dags" / "bedrock_model_import.py"))
    task = bag.dags["bedrock_model_import"].get_task("import_model")
    for delete_after_smoke_test, decision in ((True, "delete"), (False, "keep")):
        context = {"params": {"delete_after_smoke_test": delete_after_smoke_test}}
        assert task.render_template(task.model_tags, context) == {tagging.DECISION: decision}


# --------------------------------------------------------------------------------------------- run teardown


class _TI:
    """A task instance that answers ``get_ti_count`` (how many tasks of the run failed)."""

    def __init__(self, run_id: str, failed: int) -> None:
        self.dag_id, self.run_id, self.task_id, self.map_index = (
            "bedrock_retraining",
            run_id,
            "delete_models",
            -1,
        )
        self.failed = failed

    def get_ti_count(self, **query) -> int:
        assert query["run_ids"] == [self.run_id] and set(query["states"]) == {"failed", "upstream_failed"}
        return self.failed


def test_run_teardown_deletes_what_the_run_did_not_promote_and_spares_the_rest(monkeypatch):
    from bedrock_customization.operators.teardown import (
        BedrockDeleteRunModelsOperator,
        BedrockDeleteRunServingOperator,
    )
    from bedrock_customization.promotion import save_registry
    from tests.serving_helpers import BUCKET, emulator, make_context, trained_model

    run, other_run = "manual__crashed", "manual__other"
    with emulator(monkeypatch) as aws:

        def made(name: str, run_id: str = run, **extra: str) -> str:
            return trained_model(
                aws, name, tags=tagging.run_tags("bedrock_retraining", run_id, "customize", **extra)
            )

        failed = made("failed")  # the job completed, then the evaluation crashed
        uncommitted = made("uncommitted", decision="promote")
        rejected = made("rejected", decision="reject")
        champion = made("champion", decision="promote")
        previous = made("previous", decision="promote")
        kept = made("kept", decision="keep")
        served = made("served")  # someone else's throughput still serves it
        deployed = made("deployed")
        other = made("other", other_run)
        untagged = trained_model(aws, "untagged")
        save_registry(
            aws.s3,
            BUCKET,
            "qa",
            {"serving_model_arn": champion, "previous": {"serving_model_arn": previous}},
            None,
        )
        bedrock = aws.bedrock
        throughput = bedrock.create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName="theirs", modelId=served
        )["provisionedModelArn"]
        deployment = bedrock.create_custom_model_deployment(
            modelDeploymentName="run-dep",
            modelArn=deployed,
            tags=tagging.to_aws(tagging.run_tags("bedrock_retraining", run, "deploy")),
        )["customModelDeploymentArn"]

        def teardown(retention: str, failed_tasks: int) -> tuple[dict, dict]:
            context = {**make_context("delete_models", run), "ti": _TI(run, failed_tasks)}
            serving = BedrockDeleteRunServingOperator(task_id="delete_serving").execute(context)
            return serving, BedrockDeleteRunModelsOperator(
                task_id="delete_models",
                retention=retention,
                registry_bucket=BUCKET,
                registry_name="qa",
                waiter_delay=0,
                waiter_max_attempts=2,
            ).execute(context)

        def alive() -> set[str]:
            return {m["modelArn"] for m in bedrock.list_custom_models()["modelSummaries"]}

        def decision(arn: str) -> str | None:
            tags = tagging.from_aws(bedrock.list_tags_for_resource(resourceARN=arn)["tags"])
            return tags.get(tagging.DECISION)

        serving, result = teardown("delete", failed_tasks=1)
        assert serving["deleted_deployments"] == [deployment]
        assert sorted(result["deleted"]) == sorted([failed, uncommitted, rejected, deployed])
        assert sorted(result["spared"]) == sorted([champion, previous, kept])
        assert result["kept"] == [served]  # still used: tagged for the janitor, not deleted
        assert alive() == {champion, previous, kept, served, other, untagged}
        assert decision(served) == "failed" and decision(other) is None and decision(champion) == "promote"
        assert bedrock.list_custom_model_deployments()["modelDeploymentSummaries"] == []

        bedrock.delete_provisioned_model_throughput(provisionedModelId=throughput)
        _, again = teardown("delete", failed_tasks=1)  # a retry: the model is free now
        assert again["deleted"] == [served] and again["kept"] == []


def test_run_teardown_with_retention_keep_tags_and_a_successful_run_keeps_its_undecided_models(monkeypatch):
    from bedrock_customization.operators.teardown import BedrockDeleteRunModelsOperator
    from tests.serving_helpers import emulator, make_context, trained_model

    with emulator(monkeypatch) as aws:
        tags = tagging.run_tags("bedrock_retraining", "manual__a", "customize")
        model_a = trained_model(aws, "a", tags=tags)
        model_b = trained_model(aws, "b", tags={**tags, tagging.RUN_ID: "manual__b"})

        def teardown(run_id: str, failed_tasks: int | None) -> dict:
            context = make_context("delete_models", run_id)
            if failed_tasks is not None:
                context["ti"] = _TI(run_id, failed_tasks)
            return BedrockDeleteRunModelsOperator(task_id="delete_models", retention="keep").execute(context)

        assert teardown("manual__a", failed_tasks=1)["kept"] == [model_a]
        assert teardown("manual__b", failed_tasks=0)["kept"] == [model_b]
        tags_of = {
            arn: tagging.from_aws(aws.bedrock.list_tags_for_resource(resourceARN=arn)["tags"])
            for arn in (model_a, model_b)
        }
        assert tags_of[model_a][tagging.DECISION] == "failed"  # the janitor deletes it after retention_days
        assert tags_of[model_b][tagging.DECISION] == "keep"  # e.g. a sweep's winner without evaluation

        # Unknown outcome (no task states to read) with retention=delete: tagged, not deleted.
        model_c = trained_model(aws, "c", tags={**tags, tagging.RUN_ID: "manual__c"})
        result = BedrockDeleteRunModelsOperator(task_id="delete_models").execute(
            make_context("delete_models", "manual__c")
        )
        assert result["kept"] == [model_c] and result["deleted"] == []


@pytest.mark.slow
def test_janitor_dag_deletes_our_orphaned_imported_model_and_deployment(airflow_db, use_endpoint):
    import boto3

    from include.local_aws.config import CONFIG
    from include.local_aws.server import LocalAwsServer
    from include.local_stack import run_dag, xcom_values
    from tests.local_aws.helpers import ROLE, wait_for
    from tests.local_aws.test_import_deploy import upload_hf_folder
    from tests.serving_helpers import completed_job

    with LocalAwsServer(port=0) as server:
        use_endpoint(server.endpoint_url)
        reset_account(server.endpoint_url)  # moto's state is process-wide: not what earlier tests left
        CONFIG.update(job_seconds=0.1, import_seconds=0.1, deployment_seconds=0.1)
        try:
            s3, bedrock = (
                boto3.client("s3", region_name="us-east-1"),
                boto3.client("bedrock", region_name="us-east-1"),
            )
            s3.create_bucket(Bucket="data")
            model = completed_job(s3, bedrock, "janitor-dep", records=10)["outputModelArn"]
            llama = {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}

            def imported(name: str, tag_set: dict | None) -> str:
                kwargs = {"importedModelTags": tagging.to_aws(tag_set)} if tag_set else {}
                job_arn = bedrock.create_model_import_job(
                    jobName=name,
                    importedModelName=name,
                    roleArn=ROLE,
                    modelDataSource={"s3DataSource": {"s3Uri": upload_hf_folder(s3, name, llama)}},
                    **kwargs,
                )["jobArn"]
                read = lambda: bedrock.get_model_import_job(jobIdentifier=job_arn)  # noqa: E731
                return wait_for(read, lambda j: j["status"] == "Completed")["importedModelArn"]

            def deployed(name: str, tag_set: dict | None) -> str:
                kwargs = {"tags": tagging.to_aws(tag_set)} if tag_set else {}
                return bedrock.create_custom_model_deployment(
                    modelDeploymentName=name, modelArn=model, **kwargs
                )["customModelDeploymentArn"]

            killed = imported("killed-import", ours("manual__killed", decision="delete"))
            kept = imported("kept-import", ours("manual__kept", decision="keep"))
            theirs = imported("their-import", None)
            orphan = deployed("orphan-dep", ours("manual__crashed"))
            serving = deployed("serving-dep", ours("manual__champion", role="serving"))
            untagged = deployed("their-dep", None)

            def alive() -> tuple[set[str], set[str]]:
                models = bedrock.list_imported_models()["modelSummaries"]
                deployments = bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
                return {m["modelArn"] for m in models}, {d["customModelDeploymentArn"] for d in deployments}

            conf = {"ttl_hours": 0, "registry_bucket": "data"}
            dry = run_dag(
                "bedrock_janitor", {**conf, "dry_run": True}, pendulum.datetime(2026, 3, 2, 1, tz="UTC")
            )
            assert dry.state == "success"
            assert alive() == ({killed, kept, theirs}, {orphan, serving, untagged})  # nothing changed
            result = xcom_values(dry)["clean_up"]
            assert result["done"] == []
            planned = sorted((a["action"], a["arn"]) for a in result["planned"])
            assert planned == [("delete_deployment", orphan), ("delete_imported_model", killed)]
            assert all(a["age"] and a["reason"] for a in result["planned"])
            counts = result["report"]["counts"]
            assert counts["delete_imported_model"]["planned"] == counts["delete_deployment"]["planned"] == 1

            real = run_dag("bedrock_janitor", conf, pendulum.datetime(2026, 3, 2, 2, tz="UTC"))
            assert real.state == "success"
            assert alive() == ({kept, theirs}, {serving, untagged})
            result = xcom_values(real)["clean_up"]
            assert sorted((a["action"], a["arn"]) for a in result["done"]) == planned
            assert result["report"]["counts"]["delete_deployment"] == {"planned": 1, "done": 1, "failed": 0}
        finally:
            CONFIG.reset()


def test_janitor_spares_the_champion_deployment_a_registry_names_and_one_tagged_serving(monkeypatch):
    from bedrock_customization.operators.janitor import BedrockJanitorOperator
    from bedrock_customization.promotion import save_registry
    from tests.serving_helpers import BUCKET, emulator, make_context, trained_model

    with emulator(monkeypatch) as aws:
        model = trained_model(aws, "janitor-on-demand")

        def deployed(name: str, tag_set: dict) -> str:
            return aws.bedrock.create_custom_model_deployment(
                modelDeploymentName=name, modelArn=model, tags=tagging.to_aws(tag_set)
            )["customModelDeploymentArn"]

        stale = deployed("stale-dep", ours("manual__crashed"))
        champion = deployed("champion-dep", ours("manual__champion"))  # no serving tag: only the registry
        serving = deployed("serving-dep", ours("manual__other", role="serving"))
        save_registry(
            aws.s3,
            BUCKET,
            "qa",
            {"schema": 2, "serving_arn": champion, "serving_kind": "on_demand", "serving_model_arn": model},
            None,
        )

        result = BedrockJanitorOperator(task_id="clean_up", ttl_hours=0, registry_bucket=BUCKET).execute(
            make_context("clean_up")
        )
        assert [(a["action"], a["arn"]) for a in result["done"]] == [(janitor.DELETE_DEPLOYMENT, stale)]
        summaries = aws.bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
        assert {d["customModelDeploymentArn"] for d in summaries} == {champion, serving}
