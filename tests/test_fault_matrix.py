"""The fault matrix: the retraining DAG driven through the faults that cost money or corrupt state.

Each case runs the real DAG with ``dag.test()`` against the in-process emulator, injects one fault and checks
the same invariants afterwards:

- **billable**: no throughput or deployment is left but the one serving the champion, and no custom model but the
  champion's and the one it replaced (kept on purpose for a roll-back: ``champion_retention=keep``);
- **registry**: the registry names what really serves (the serving resource's model is the registry's model,
  no half-applied intent is left);
- **duplicates**: one customization job per run.

The kill cases need the real scheduler, triggerer and workers and run in ``make itest``
(``tests/itest/test_celery_faults.py``): a kill while deferred stops the job, a triggerer restart does not,
a SIGKILLed worker's retry re-attaches. The table (case | expected | observed) is printed at the end
(``pytest -s``).
"""

from __future__ import annotations

import itertools
import json

import pendulum
import pytest

from tests.test_retraining_dag import in_process_emulator, retraining  # noqa: F401 (fixtures)

pytestmark = pytest.mark.slow

REGISTRY = "bedrock-retraining"
MATRIX: list[tuple[str, str, str]] = []
_days = itertools.cycle(range(1, 15))  # the dates the landing-zone bootstrap uploads data for


@pytest.fixture(scope="module", autouse=True)
def print_matrix():
    yield
    from tabulate import tabulate

    print("\nFault matrix (retraining DAG, dag.test() on the emulator):")
    print(tabulate(MATRIX, headers=["case", "expected", "observed"], tablefmt="github"))


def clients():
    import boto3

    from include.local_stack import REGION

    return boto3.client("bedrock", region_name=REGION), boto3.client("s3", region_name=REGION)


def observe(landing_zone: dict, dag_run, kept: set[str] = frozenset()) -> dict:
    """What is left after a run, and whether it is consistent."""
    from bedrock_customization.promotion import load_registry
    from bedrock_customization.tagging import from_aws, same_run

    bedrock, s3 = clients()
    registry, _ = load_registry(s3, landing_zone["bucket"], REGISTRY)
    registry = registry or {}
    alive = {  # every throughput and on-demand deployment: ARN -> (name, model it serves)
        t["provisionedModelArn"]: (t["provisionedModelName"], t["modelArn"])
        for t in bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
    } | {
        d["customModelDeploymentArn"]: (d["customModelDeploymentName"], d["modelArn"])
        for d in bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
    }
    serving = registry.get("serving_arn")
    served = alive.get(serving, (None, None))[1]
    models = {m["modelArn"] for m in bedrock.list_custom_models()["modelSummaries"]}
    jobs = [
        job
        for job in bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]
        if same_run(from_aws(bedrock.list_tags_for_resource(resourceARN=job["jobArn"])["tags"]), dag_run.dag_id,
                    dag_run.run_id)
    ]  # fmt: skip
    champion = registry.get("serving_model_arn")
    kept = {*kept, (registry.get("previous") or {}).get("serving_model_arn")}  # champion_retention=keep
    return {
        "state": str(dag_run.state),
        "leaked_serving": [name for arn, (name, _) in alive.items() if arn != serving],
        "leaked_models": sorted(models - {champion} - set(kept) - {None}),
        "registry_version": registry.get("version"),
        "registry_consistent": "pending" not in registry and served == champion,
        "jobs_of_run": len(jobs),
        "tasks": {ti.task_id: (ti.state, ti.try_number) for ti in dag_run.get_task_instances()},
    }


def run(conf: dict | None = None, logical_date=None):
    """A retraining run; its candidates are served on provisioned throughputs unless ``conf`` says otherwise
    (the throughput's faults: in-place switches, hourly billing)."""
    from include.local_stack import run_dag

    conf = {"serving": "provisioned", **(conf or {})}
    logical_date = logical_date or pendulum.datetime(2026, 1, 1, tz="UTC").add(days=next(_days))
    return run_dag("bedrock_retraining", run_conf=conf, logical_date=logical_date, retry_delay=0.5)


def record(case: str, expected: str, seen: dict, **extra) -> None:
    failed = sorted(
        task for task, (state, _) in seen["tasks"].items() if state in ("failed", "upstream_failed")
    )
    observed = (
        f"{seen['state']}; failed: {', '.join(failed) or '-'}; leaked serving {len(seen['leaked_serving'])},"
        f" models {len(seen['leaked_models'])}; registry v{seen['registry_version']} "
        f"{'consistent' if seen['registry_consistent'] else 'INCONSISTENT'}; jobs {seen['jobs_of_run']}"
    )
    observed += "".join(f"; {key} {value}" for key, value in extra.items())
    MATRIX.append((case, expected, observed))


def assert_clean(seen: dict, jobs: int = 1) -> None:
    assert seen["leaked_serving"] == [], seen
    assert seen["leaked_models"] == [], seen
    assert seen["registry_consistent"], seen
    assert seen["jobs_of_run"] == jobs, seen


@pytest.fixture
def zone(in_process_emulator, retraining):  # noqa: F811
    start, _ = retraining
    return start(in_process_emulator)


@pytest.fixture
def champion(zone):
    """A first run that became the champion (registry version 1)."""
    dag_run = run({"hyperparameters": {"epochCount": "2"}})
    seen = observe(zone, dag_run)
    assert seen["state"] == "success" and seen["registry_version"] == 1, seen
    return seen


# --------------------------------------------------------------------------------------------------


def test_job_fails(zone):
    from include.local_aws.config import CONFIG

    CONFIG.update(fail_jobs=".")
    dag_run = run()
    seen = observe(zone, dag_run)
    record("job fails", "run failed at customize_model; nothing left; registry untouched", seen)
    assert seen["state"] == "failed" and seen["tasks"]["training.customize_model"][0] == "failed"
    assert_clean(seen)
    assert seen["registry_version"] is None


def test_throughput_fails(zone):
    from include.local_aws.config import CONFIG

    CONFIG.update(fail_throughputs="retraining-eval")
    dag_run = run()
    seen = observe(zone, dag_run)
    record("throughput fails", "run failed; throughput and custom model deleted", seen)
    assert seen["state"] == "failed" and seen["tasks"]["serving.provision_throughput"][0] == "failed"
    assert_clean(seen)


def test_deployment_fails(zone):
    from include.local_aws.config import CONFIG

    CONFIG.update(fail_deployments="retraining-eval")
    dag_run = run({"serving": "on_demand"})
    seen = observe(zone, dag_run)
    record("on-demand deployment fails", "run failed; deployment and custom model deleted", seen)
    assert seen["state"] == "failed" and seen["tasks"]["serving.deploy_on_demand"][0] == "failed"
    assert_clean(seen)


@pytest.mark.parametrize("serving", ["provisioned", "on_demand"])
def test_evaluation_crashes_after_a_champion(zone, champion, monkeypatch, serving):
    """The candidate's evaluation fails (the emulator throttles every call, past all retries): its throughput
    or deployment and its model go, the champion (on its throughput) keeps serving."""
    from bedrock_customization.evaluation.invoke import RetryPolicy
    from bedrock_customization.operators.evaluation import BedrockEvaluateModelsOperator
    from include.local_aws.config import CONFIG

    evaluate = BedrockEvaluateModelsOperator.execute

    def with_short_backoff(self, context):  # the same retries, 2 attempts 10 ms apart instead of 8 up to 20 s
        self.throttling_retries = RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.01)
        return evaluate(self, context)

    monkeypatch.setattr(BedrockEvaluateModelsOperator, "execute", with_short_backoff)
    CONFIG.update(throttle_every=1)
    dag_run = run({"serving": serving, "hyperparameters": {"epochCount": "4"}, "eval_samples": 2})
    CONFIG.update(throttle_every=0)
    seen = observe(zone, dag_run)
    record(
        f"Converse throttled every call (candidate {serving})",
        "run failed at evaluate; candidate cleaned up; champion serves",
        seen,
    )
    assert seen["state"] == "failed" and seen["tasks"]["evaluation.evaluate"][0] == "failed"
    assert_clean(seen)
    assert seen["registry_version"] == 1


def test_promotion_fails_between_switch_and_registry_write(zone, champion, monkeypatch):
    """Every commit of the registry fails: each try rolls the serving throughput back; the run fails saying so
    and the champion still serves, as the registry says."""
    from bedrock_customization import promotion

    real = promotion.save_registry

    def no_commit(s3, bucket, name, registry, etag, kms_key_id=None):
        if "pending" not in registry and registry.get("version", 0) > 1:  # a commit, not an intent or undo
            raise ConnectionError("S3 unreachable")
        return real(s3, bucket, name, registry, etag, kms_key_id)

    monkeypatch.setattr(promotion, "save_registry", no_commit)
    dag_run = run({"hyperparameters": {"epochCount": "4"}})
    seen = observe(zone, dag_run)
    record(
        "promotion fails between switch and registry write", "rolled back; champion serves; run failed", seen
    )
    assert seen["state"] == "failed" and seen["tasks"]["release.promote_model"][0] == "failed"
    assert seen["registry_version"] == 1 and seen["registry_consistent"], seen
    assert_clean(seen)


def test_registry_changed_by_a_concurrent_promotion(zone, champion, monkeypatch):
    """Another run promotes while this one evaluates: this candidate was never compared with the new champion,
    so it is not promoted; the run fails saying so, and its throughput and model are cleaned up."""
    from bedrock_customization import promotion
    from bedrock_customization.operators.evaluation import BedrockEvaluateModelsOperator

    evaluate = BedrockEvaluateModelsOperator.execute

    def evaluate_then_someone_promotes(self, context):
        result = evaluate(self, context)
        _, s3 = clients()
        registry, etag = promotion.load_registry(s3, zone["bucket"], REGISTRY)
        promotion.save_registry(
            s3, zone["bucket"], REGISTRY, {**registry, "version": 2, "run_id": "other"}, etag
        )
        return result

    monkeypatch.setattr(BedrockEvaluateModelsOperator, "execute", evaluate_then_someone_promotes)
    dag_run = run({"hyperparameters": {"epochCount": "4"}})
    seen = observe(zone, dag_run)
    record(
        "registry write conflict (concurrent promotion)", "not promoted; run failed clearly; cleaned up", seen
    )
    assert seen["state"] == "failed" and seen["tasks"]["release.promote_model"] == ("failed", 1)
    assert seen["registry_version"] == 2
    assert_clean(seen)


def test_rerun_after_success_changes_nothing(zone, champion, monkeypatch):
    """A finished run cleared and run again (Airflow keeps its run id): every task re-attaches to what it made;
    no second job or throughput, and the registry is unchanged."""
    from airflow.models.dagrun import DagRun

    date = pendulum.datetime(2026, 1, 1, tz="UTC").add(days=next(_days))
    first = run({"hyperparameters": {"epochCount": "4"}}, logical_date=date)
    before = observe(zone, first)
    assert before["state"] == "success", before
    # dag.test() replaces the run of that logical date; keep its run id, as clearing a run in the UI does.
    monkeypatch.setattr(DagRun, "generate_run_id", staticmethod(lambda **_: first.run_id))
    again = run({"hyperparameters": {"epochCount": "4"}}, logical_date=date)
    seen = observe(zone, again)
    record("re-run after success", "success; same job; nothing new; registry unchanged", seen)
    assert again.run_id == first.run_id
    assert seen["state"] == "success", seen
    assert seen["registry_version"] == before["registry_version"]
    assert_clean(seen)


def test_rows_proven_by_other_modules():
    """Listed here so the matrix is whole: the kill cases need the real scheduler, triggerer and Celery worker
    (make itest); the import DAG's and the operator-level cases have their own modules."""
    itest = "make itest (tests/itest/test_celery_faults.py)"
    for case, expected, where in (
        ("task killed while deferred", "job Stopping/Stopped within one poll (trigger on_kill)", itest),
        ("triggerer restarted while deferred", "job untouched; run succeeds on try 1", itest),
        ("worker SIGKILL, then retry", "retry re-attaches: one job, one evaluation throughput", itest),
        (
            "task killed while not deferred",
            "operator on_kill stops the job",
            "tests/test_customization_operator.py",
        ),
        ("deferral timeout", "the job is stopped", "tests/test_triggers_kill.py"),
        (
            "import DAG: smoke test fails",
            "imported model deleted by the teardown",
            "tests/test_model_import.py",
        ),
        (
            "import DAG: killed run",
            "imported model tagged decision=delete; janitor deletes it",
            "tests/test_janitor.py",
        ),
    ):
        MATRIX.append((case, expected, where))
    assert json.dumps(MATRIX)


def test_the_janitor_rolls_back_an_abandoned_half_applied_promotion(zone, champion):
    """The worker died between the switch and the commit of an in-place promotion (no roll-back ran): the
    throughput serves an uncommitted model and the registry still holds the intent. The janitor's next run
    rolls the switch back before its inventory, so registry and serving agree again."""
    from bedrock_customization import promotion
    from include.local_stack import run_dag, xcom_values
    from tests.local_aws.helpers import wait_for
    from tests.serving_helpers import completed_job

    bedrock, s3 = clients()
    registry, etag = promotion.load_registry(s3, zone["bucket"], REGISTRY)
    serving, champion_model = registry["serving_arn"], registry["serving_model_arn"]
    s3.create_bucket(Bucket="data")
    uncommitted = completed_job(s3, bedrock, "uncommitted", records=10)["outputModelArn"]
    half = promotion.with_intent(
        registry,
        throughput=serving,
        from_model=champion_model,
        to_model=uncommitted,
        dag_id="bedrock_retraining",
        run_id="manual__died",
        started_at="2020-01-01T00:00:00+00:00",  # long abandoned
    )
    promotion.save_registry(s3, zone["bucket"], REGISTRY, half, etag)
    bedrock.update_provisioned_model_throughput(provisionedModelId=serving, desiredModelId=uncommitted)
    read = lambda: bedrock.get_provisioned_model_throughput(provisionedModelId=serving)  # noqa: E731
    assert wait_for(read, lambda t: t["status"] == "InService")["modelArn"] == uncommitted

    janitor = run_dag("bedrock_janitor", {"ttl_hours": 6}, pendulum.datetime(2026, 3, 3, 1, tz="UTC"))
    assert janitor.state == "success"
    repaired = xcom_values(janitor)["clean_up"]["repaired"]
    after, _ = promotion.load_registry(s3, zone["bucket"], REGISTRY)
    served = wait_for(read, lambda t: t["status"] == "InService")["modelArn"]
    consistent = served == after["serving_model_arn"] and "pending" not in after
    MATRIX.append(
        (
            "worker dies between switch and registry write",
            "the janitor (or the next run) rolls the switch back",
            f"rolled back {[r['registry'] for r in repaired]}; registry v{after['version']} "
            + ("consistent" if consistent else "INCONSISTENT"),
        )
    )
    assert [r["registry"] for r in repaired] == [REGISTRY]
    assert consistent and after["version"] == 1 and served == champion_model
