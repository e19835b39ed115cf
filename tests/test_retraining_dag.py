"""The retraining DAG end to end with ``dag.test()`` against the local emulator, with deferrable waits.

Two ways of running the emulator: in this process (a server thread) and as ``python -m include.local_aws``
in a child process, the way ``make run`` and docker-compose run it.
"""

from __future__ import annotations

import json

import pendulum
import pytest

pytestmark = pytest.mark.slow

EMULATOR_TIMINGS = {"job_seconds": 3, "throughput_seconds": 1}


@pytest.fixture(params=["in_process", "server_process"])
def emulator_endpoint(request):
    """An emulator endpoint URL: a server thread in this process, or a separate server process."""
    if request.param == "in_process":
        from include.local_aws.config import CONFIG
        from include.local_aws.server import LocalAwsServer

        server = LocalAwsServer(port=0)
        server.start()
        CONFIG.update(**EMULATOR_TIMINGS)
        yield server.endpoint_url
        CONFIG.reset()
        server.stop()
    else:
        from include.local_stack import start_emulator

        env = {f"LOCAL_AWS_{k.upper()}": str(v) for k, v in EMULATOR_TIMINGS.items()}
        emulator = start_emulator(env=env)
        yield emulator.endpoint_url
        emulator.stop()


def test_retraining_runs_end_to_end(airflow_db, use_endpoint, emulator_endpoint, monkeypatch, request):
    import boto3
    from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

    from include.bootstrap import bootstrap
    from include.local_stack import REGION, retraining_summary, run_dag

    triggers_run = []
    original_run = AwsBaseWaiterTrigger.run

    async def recording_run(self):
        triggers_run.append(type(self).__name__)
        async for event in original_run(self):
            yield event

    monkeypatch.setattr(AwsBaseWaiterTrigger, "run", recording_run)
    use_endpoint(emulator_endpoint)
    landing_zone = bootstrap(REGION)
    monkeypatch.setenv("AIRFLOW_VAR_BEDROCK_CUSTOMIZATION", json.dumps(landing_zone))
    # Distinct logical dates keep the two parametrized runs apart in the shared metadata database.
    day = 1 if "in_process" in request.node.name else 2
    dag_run = run_dag("bedrock_retraining", logical_date=pendulum.datetime(2026, 3, day, tz="UTC"))
    summary = retraining_summary(dag_run)

    assert summary["state"] == "success", summary
    assert summary["billable_resources_left"] == []

    bedrock = boto3.client("bedrock", region_name=REGION)
    job = bedrock.get_model_customization_job(jobIdentifier=summary["job_arn"])
    assert job["status"] == "Completed"
    assert job["outputModelArn"] == summary["custom_model_arn"]
    model = bedrock.get_custom_model(modelIdentifier=summary["custom_model_arn"])
    assert model["jobArn"] == summary["job_arn"]
    tags = {t["key"]: t["value"] for t in bedrock.list_tags_for_resource(resourceARN=job["jobArn"])["tags"]}
    assert tags["bedrock-customization:run-id"] == dag_run.run_id

    # The training data was written encrypted with the landing zone's key, and metrics landed next to the output.
    s3 = boto3.client("s3", region_name=REGION)
    bucket, _, key = job["trainingDataConfig"]["s3Uri"].removeprefix("s3://").partition("/")
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == landing_zone["kms_key_arn"]
    output_keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key.split("/data/")[0])["Contents"]]
    assert any(k.endswith("training_artifacts/step_wise_training_metrics.csv") for k in output_keys)

    # The fine-tuned model knows the product it was trained on; the base model does not.
    baseline, candidate = summary["evaluation"]["baseline"], summary["evaluation"]["candidate"]
    assert summary["evaluation_samples"] >= 5
    assert candidate["chrf"] > baseline["chrf"] + 10, summary["evaluation"]
    assert summary["decision"] == "promote"

    # Both waits deferred to a trigger (run inline by dag.test) instead of blocking in a waiter.
    assert triggers_run == ["BedrockCustomizeModelCompletedTrigger", "BedrockProvisionModelThroughputCompletedTrigger"]
    throughputs = bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
    assert throughputs == []
