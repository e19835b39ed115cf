"""The emulator over HTTP: LocalAwsServer, control endpoints, the CLI, aiobotocore."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from include.local_aws import CONFIG

from .helpers import (
    BUCKET,
    NO_RETRY,
    NOVA_MICRO,
    REGION,
    TITAN,
    create_job,
    error_code,
    http,
    put_jsonl,
    qa_records,
    server_client,
    wait_job,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clients(endpoint: str) -> tuple[Any, Any]:
    s3 = server_client(endpoint, "s3")
    s3.create_bucket(Bucket=BUCKET)
    put_jsonl(s3, "train.jsonl", qa_records(20))
    return s3, server_client(endpoint, "bedrock")


def test_create_answers_201_and_get_by_arn(clients: tuple[Any, Any]) -> None:
    s3, bedrock = clients
    response = bedrock.create_model_customization_job(
        jobName="server-job",
        customModelName="server-model",
        roleArn="arn:aws:iam::123456789012:role/r",
        baseModelIdentifier=NOVA_MICRO,
        trainingDataConfig={"s3Uri": f"s3://{BUCKET}/train.jsonl"},
        outputDataConfig={"s3Uri": f"s3://{BUCKET}/out"},
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    arn = response["jobArn"]
    assert bedrock.get_model_customization_job(jobIdentifier=arn)["jobName"] == "server-job"
    job = wait_job(bedrock, arn)
    assert job["status"] == "Completed"
    model = bedrock.get_custom_model(modelIdentifier=job["outputModelArn"])
    assert model["modelArn"] == job["outputModelArn"]
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="out/")["KeyCount"] == 1
    with pytest.raises(ClientError) as exc:
        bedrock.stop_model_customization_job(jobIdentifier=arn)
    assert error_code(exc)[0] == "ConflictException"
    throughput = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="server-pt", modelId=job["outputModelArn"]
    )
    assert throughput["ResponseMetadata"]["HTTPStatusCode"] == 201
    pt_arn = throughput["provisionedModelArn"]
    assert bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)["provisionedModelName"] == "server-pt"


def test_stop_by_arn_over_http(clients: tuple[Any, Any]) -> None:
    _, bedrock = clients
    CONFIG.update(job_seconds=30)
    arn = create_job(bedrock, "stoppable")
    bedrock.stop_model_customization_job(jobIdentifier=arn)
    assert wait_job(bedrock, arn)["status"] == "Stopped"


def test_errors_keep_codes_over_http(clients: tuple[Any, Any], endpoint: str) -> None:
    _, bedrock = clients
    with pytest.raises(ClientError) as exc:
        bedrock.get_custom_model(modelIdentifier="missing-model")
    assert error_code(exc) == ("ResourceNotFoundException", "Custom model missing-model was not found.", 404)
    CONFIG.update(throttle_every=1)
    runtime = server_client(endpoint, "bedrock-runtime", config=NO_RETRY)
    with pytest.raises(ClientError) as exc:
        runtime.invoke_model(modelId=TITAN, body=b'{"inputText": "hi"}')
    assert error_code(exc)[0] == "ThrottlingException" and error_code(exc)[2] == 429


def test_reset_clears_state(clients: tuple[Any, Any], endpoint: str) -> None:
    _, bedrock = clients
    create_job(bedrock, "to-be-reset")
    assert http("POST", endpoint + "/moto-api/reset")[0] == 200
    assert bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []


def test_control_endpoints(endpoint: str) -> None:
    assert http("GET", endpoint + "/_local_aws/health") == (200, {"status": "ok"})
    status, config = http("GET", endpoint + "/_local_aws/config")
    assert status == 200 and config["job_seconds"] == 0.2 and config["metrics_layout"] == "nested"
    status, config = http("POST", endpoint + "/_local_aws/config", {"job_seconds": 3, "fail_jobs": "^x"})
    assert status == 200 and config["job_seconds"] == 3.0 and config["fail_jobs"] == "^x"
    assert config["stop_seconds"] == 0.1  # untouched knobs stay
    assert CONFIG.job_seconds == 3.0
    assert http("POST", endpoint + "/_local_aws/config", {"nope": 1})[0] == 400
    assert http("POST", endpoint + "/_local_aws/config", {"metrics_layout": "weird"})[0] == 400
    assert http("POST", endpoint + "/_local_aws/config", {"fail_jobs": "("})[0] == 400
    status, config = http("DELETE", endpoint + "/_local_aws/config")
    assert status == 200 and config["job_seconds"] == 20.0


def test_aiobotocore_reads_jobs(clients: tuple[Any, Any], endpoint: str) -> None:
    from aiobotocore.session import get_session

    _, bedrock = clients
    arn = create_job(bedrock, "async-job")

    async def read() -> dict:
        session = get_session()
        async with session.create_client(
            "bedrock",
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        ) as client:
            return await client.get_model_customization_job(jobIdentifier=arn)

    job = asyncio.run(read())
    assert job["jobArn"] == arn and job["status"] in ("InProgress", "Completed")


def test_cli_serves_and_stops_on_sigterm() -> None:
    env = {**os.environ, "LOCAL_AWS_JOB_SECONDS": "7", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "include.local_aws", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("local_aws listening on http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[-1]
        assert http("GET", url + "/_local_aws/health") == (200, {"status": "ok"})
        assert http("GET", url + "/_local_aws/config")[1]["job_seconds"] == 7.0
        bedrock = server_client(url, "bedrock")
        assert bedrock.list_custom_models()["modelSummaries"] == []
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
