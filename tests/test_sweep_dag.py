"""The hyperparameter sweep DAG end to end with ``dag.test()`` against the in-process emulator.

A 2x2 grid finds the configuration the emulator's loss model says is best and promotes it; a backfill of
three dates sweeps each date's own data snapshot and a re-run of one of them creates no job; an invalid grid
fails at the first task, before any job, naming the allowed range.

``dag.test()`` ignores pools (it runs every schedulable task instance itself, without the scheduler's pool
check), so the pool ``bedrock_customization_jobs`` need not exist here.
"""

from __future__ import annotations

import json
import urllib.request

import pendulum
import pytest

pytestmark = pytest.mark.slow

NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
GRID = {"epochCount": [2, 4], "learningRate": [0.00001, 0.0001]}
DAG_ID = "bedrock_hparam_sweep"


@pytest.fixture
def emulator():
    from include.local_aws.config import CONFIG
    from include.local_aws.server import LocalAwsServer

    server = LocalAwsServer(port=0)
    server.start()
    # moto's state is process-wide: start from an empty account, whatever ran before in this process.
    urllib.request.urlopen(urllib.request.Request(f"{server.endpoint_url}/moto-api/reset", method="POST"))
    CONFIG.update(job_seconds=2, throughput_seconds=1)
    yield server.endpoint_url
    CONFIG.reset()
    server.stop()


@pytest.fixture
def landing_zone(airflow_db, use_endpoint, emulator, monkeypatch):
    from include.bootstrap import bootstrap
    from include.local_stack import REGION

    use_endpoint(emulator)
    zone = bootstrap(REGION, dates=[pendulum.date(2026, 3, 1)])
    monkeypatch.setenv("AIRFLOW_VAR_BEDROCK_CUSTOMIZATION", json.dumps(zone))
    return zone


def _run(conf: dict, day: pendulum.Date):
    from include.local_stack import run_dag, xcom_values

    dag_run = run_dag(
        DAG_ID,
        run_conf=conf,
        logical_date=pendulum.datetime(day.year, day.month, day.day, tz="UTC"),
        retry_delay=0.5,
    )
    return dag_run, xcom_values(dag_run)


def _clients():
    import boto3

    from include.local_stack import REGION

    return boto3.client("bedrock", region_name=REGION), boto3.client("s3", region_name=REGION)


def _jobs(bedrock) -> list[dict]:
    return bedrock.list_model_customization_jobs(maxResults=100)["modelCustomizationJobSummaries"]


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _records(s3, uri: str) -> int:
    bucket, key = _split(uri)
    return sum(
        1 for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines() if line.strip()
    )


def _states(dag_run) -> dict[str, list[str]]:
    states: dict[str, list[str]] = {}
    for ti in sorted(dag_run.get_task_instances(), key=lambda ti: (ti.task_id, ti.map_index)):
        states.setdefault(ti.task_id, []).append(str(ti.state))
    return states


def test_a_2x2_grid_promotes_the_configuration_with_the_lowest_validation_loss(landing_zone):
    from include.local_aws.loss import simulate
    from include.local_stack import champion_serving

    day = pendulum.date(2026, 3, 1)  # the bootstrap uploaded this date's snapshot
    # The best two are served on demand (serving auto) and evaluated; 6 samples is the least that can decide.
    dag_run, values = _run({"search_space": GRID, "top_k": 2, "eval_samples": 8}, day)

    assert str(dag_run.state) == "success", _states(dag_run)
    bedrock, s3 = _clients()
    plan, board = values["plan"], values["training.leaderboard"]
    assert plan["data_source"] == "dated" and plan["raw_uri"].endswith("raw/2026-03-01/qa_pairs.jsonl")

    # The expected winner, independently: the emulator's loss model on the prepared record counts.
    dataset = values["data.prepare_dataset"]
    n_train, n_validation = _records(s3, dataset["train_uri"]), _records(s3, dataset["validation_uri"])
    expected = {
        config["config_hash"]: simulate(
            NOVA_MICRO, config["hyperparameters"], n_train, n_validation
        ).final_validation_loss
        for config in plan["configs"]
    }
    best = min(expected, key=expected.get)
    assert board["winner"] == best
    entries = board["entries"]
    assert [e["config_hash"] for e in entries] == sorted(expected, key=expected.get)
    assert entries[0]["swept"] == {"epochCount": "4", "learningRate": "0.00001"}
    for entry in entries:
        assert entry["final_validation_loss"] == pytest.approx(expected[entry["config_hash"]], abs=1e-5)

    # One job per configuration, named and tagged by date and configuration, run in the pool.
    jobs = _jobs(bedrock)
    assert len(jobs) == 4
    for entry in entries:
        tags = {
            t["key"]: t["value"] for t in bedrock.list_tags_for_resource(resourceARN=entry["job_arn"])["tags"]
        }
        assert tags["bedrock-customization:idempotency-key"] == f"{DAG_ID}/2026-03-01/{entry['config_hash']}"
        assert tags["bedrock-customization:run-id"] == dag_run.run_id
        assert entry["job_name"].startswith(f"bedrock-hparam-sweep-20260301-{entry['config_hash'][:8]}-")
        job = bedrock.get_model_customization_job(jobIdentifier=entry["job_arn"])
        output = f"/runs/{DAG_ID}/2026-03-01/output/{entry['config_hash']}/"
        assert job["outputDataConfig"]["s3Uri"].endswith(output)
    customize = [ti for ti in dag_run.get_task_instances() if ti.task_id == "training.customize_model"]
    assert {ti.pool for ti in customize} == {"bedrock_customization_jobs"}
    assert sorted(ti.rendered_map_index for ti in customize)[0] == (
        "epochCount=2 learningRate=0.00001 learningRateWarmupSteps=10"
    )

    # Leaderboard JSON, CSV and chart under sweeps/<date>/, encrypted with the landing zone's key.
    for suffix, check in (
        ("json", lambda body: json.loads(body)["winner"] == best),
        ("csv", lambda body: body.decode().splitlines()[1].startswith(f"1,{best},4,0.00001,")),
        ("png", lambda body: body.startswith(b"\x89PNG")),
    ):
        key = f"sweeps/2026-03-01/leaderboard.{suffix}"
        assert board["uris"][suffix] == f"s3://{landing_zone['bucket']}/{key}"
        obj = s3.get_object(Bucket=landing_zone["bucket"], Key=key)
        assert obj["ServerSideEncryption"] == "aws:kms" and obj["SSEKMSKeyId"] == landing_zone["kms_key_arn"]
        assert check(obj["Body"].read()), suffix

    # Both selected configurations were deployed on demand (no throughput bought) and evaluated.
    served = values["serving.served"]
    assert len(served) == 2 and all(":custom-model-deployment/" in arn for arn in served)
    assert _states(dag_run)["serving.provision_throughput"] == ["skipped"]
    # The winner beat the base model and serves; the other three models are gone, and so is the runner-up's
    # deployment: one deployment is left, no throughput.
    chosen, promotion = values["evaluation.choose_candidate"], values["release.promote_model"]
    assert chosen["config_hash"] == best and chosen["baseline"]["model_id"] == "amazon.nova-micro-v1:0"
    assert promotion["decision"] == "promote" and promotion["outcome"] == "evaluation_became_serving"
    assert chosen["significance"]["n"] == 8 and chosen["significance"]["ci_low"] > chosen["margin"]
    champion = champion_serving(landing_zone["bucket"])
    assert champion == {"serving_arn": promotion["serving_arn"], "serving_kind": "on_demand"}
    assert champion["serving_arn"] == chosen["serving_arn"] in served
    assert bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"] == []
    deployments = bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
    assert [d["customModelDeploymentArn"] for d in deployments] == [champion["serving_arn"]]
    models = {m["modelArn"] for m in bedrock.list_custom_models()["modelSummaries"]}
    assert models == {entries[0]["model_arn"]}
    assert sorted(values["teardown.reject_losers"]["deleted"]) == sorted(e["model_arn"] for e in entries[1:])


def test_a_backfill_sweeps_each_dates_snapshot_and_a_rerun_creates_no_job(landing_zone):
    from include.bootstrap import SAMPLE_DATA

    bedrock, s3 = _clients()
    lines = SAMPLE_DATA.read_text(encoding="utf-8").splitlines(keepends=True)
    days = [pendulum.date(2026, 2, 1), pendulum.date(2026, 2, 2), pendulum.date(2026, 2, 3)]
    sizes = {day: size for day, size in zip(days, (120, 150, len(lines)), strict=True)}
    for day, size in sizes.items():
        s3.put_object(
            Bucket=landing_zone["bucket"],
            Key=f"raw/{day.isoformat()}/qa_pairs.jsonl",
            Body="".join(lines[:size]).encode(),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=landing_zone["kms_key_arn"],
        )
    conf = {"search_space": {"epochCount": [2, 4]}, "evaluate_top_k": False, "use_vpc": False}

    first: dict = {}
    for day in days:
        dag_run, values = _run(conf, day)
        assert str(dag_run.state) == "success", _states(dag_run)
        assert values["plan"]["raw_uri"].endswith(f"raw/{day.isoformat()}/qa_pairs.jsonl")
        assert values["data.prepare_dataset"]["summary"]["records_read"] == sizes[day]
        assert {ti.task_id for ti in dag_run.get_task_instances() if str(ti.state) == "skipped"} >= {
            "serving.provision_throughput",
            "serving.deploy_on_demand",
            "evaluation.evaluate",
            "release.promote_model",
        }
        first[day] = (dag_run.run_id, values)
    jobs = _jobs(bedrock)
    assert len(jobs) == 6  # two configurations x three dates
    # Without evaluation each date's winner is kept (the sweep's result) and the other model deleted.
    winners = {first[day][1]["training.leaderboard"]["entries"][0]["model_arn"] for day in days}
    assert {m["modelArn"] for m in bedrock.list_custom_models()["modelSummaries"]} == winners
    # The same configurations on other data: the loss differs by date, so does each date's leaderboard.
    losses = [first[day][1]["training.leaderboard"]["entries"][0]["final_validation_loss"] for day in days]
    assert len(set(losses)) == 3

    # Re-run 2026-02-02. dag.test() replaces the earlier run of that logical date with a new run whose run id
    # differs (it is made from run_after, i.e. now): only the idempotency key can lead it to the old jobs.
    day = days[1]
    dag_run, values = _run(conf, day)
    assert str(dag_run.state) == "success", _states(dag_run)
    assert dag_run.run_id != first[day][0]
    assert len(_jobs(bedrock)) == 6  # no new job
    before, after = first[day][1]["training.leaderboard"], values["training.leaderboard"]
    jobs_of = lambda board: {e["config_hash"]: e["job_arn"] for e in board["entries"]}  # noqa: E731
    assert jobs_of(after) == jobs_of(before)  # re-attached to the same two jobs
    assert after["winner"] == before["winner"] and after["run_id"] == dag_run.run_id
    for arn in jobs_of(after).values():
        tags = {t["key"]: t["value"] for t in bedrock.list_tags_for_resource(resourceARN=arn)["tags"]}
        assert tags["bedrock-customization:run-id"] == first[day][0]  # created by the first run


def test_an_invalid_grid_fails_the_first_task_before_any_job(
    airflow_db, use_endpoint, emulator, monkeypatch, capfd
):
    use_endpoint(emulator)  # no landing zone needed: nothing gets as far as reading it
    monkeypatch.setenv("AIRFLOW_VAR_BEDROCK_CUSTOMIZATION", json.dumps({"bucket": "never-read"}))
    bedrock, _ = _clients()
    grid = {"epochCount": [0, 4], "learningRate": [0.00001, 2]}
    dag_run, values = _run({"search_space": grid}, pendulum.date(2026, 3, 1))

    assert str(dag_run.state) == "failed"
    states = _states(dag_run)
    assert states.pop("plan") == ["failed"]
    assert set(sum(states.values(), [])) == {"upstream_failed"}  # nothing else ran, not even a teardown
    (plan,) = [ti for ti in dag_run.get_task_instances() if ti.task_id == "plan"]
    assert plan.try_number == 1  # not retried: a wrong grid does not get better
    assert _jobs(bedrock) == []
    log = capfd.readouterr().out
    assert f"3 of 4 hyperparameter configurations are invalid for {NOVA_MICRO}" in log
    for problem in (
        "configuration 1 of 4 (epochCount=0, learningRate=1e-05): epochCount=0 is outside 1..5",
        "configuration 2 of 4 (epochCount=0, learningRate=2): epochCount=0 is outside 1..5",
        "configuration 2 of 4 (epochCount=0, learningRate=2): learningRate=2 is outside 1e-06..0.0001",
        "configuration 4 of 4 (epochCount=4, learningRate=2): learningRate=2 is outside 1e-06..0.0001",
    ):
        assert problem in log
