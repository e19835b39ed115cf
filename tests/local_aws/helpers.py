"""Helpers and constants shared by the local AWS emulator tests."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/BedrockCustomization"
TITAN = "amazon.titan-text-express-v1:0:8k"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0:200k"
NOVA = "amazon.nova-lite-v1:0:300k"
#: The default base model of the emulator tests: customizable in us-east-1 (page custom-model-fine-tuning).
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
BUCKET = "data"
FAST = {
    "job_seconds": 0.2,
    "stop_seconds": 0.1,
    "throughput_seconds": 0.1,
    "import_seconds": 0.1,
    "deployment_seconds": 0.1,
    "evaluation_seconds": 0.2,
}
NO_RETRY = Config(retries={"total_max_attempts": 1})

_session: boto3.session.Session | None = None


def client(service: str, **kwargs: Any) -> Any:
    """A boto3 client from one shared session (moto resets boto3's default session, and
    re-loading service models for every test would dominate the run time)."""
    global _session
    if _session is None:
        _session = boto3.session.Session()
    kwargs.setdefault("region_name", REGION)
    return _session.client(service, **kwargs)


def server_client(endpoint: str, service: str, **kwargs: Any) -> Any:
    """A boto3 client talking to the server, as product code would."""
    return client(
        service,
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        **kwargs,
    )


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    """(status, decoded JSON or text) of a plain HTTP call."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode()


def wait_for(read: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 10.0) -> Any:
    """Poll ``read()`` until ``done(value)``; returns the value (fails after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached; last value: {value}")
        time.sleep(0.05)


def put_jsonl(s3_client: Any, key: str, records: list[dict], bucket: str = BUCKET) -> str:
    """Upload JSON Lines; returns the s3:// URI."""
    body = "\n".join(json.dumps(record) for record in records) + "\n"
    s3_client.put_object(Bucket=bucket, Key=key, Body=body.encode())
    return f"s3://{bucket}/{key}"


def conversation(prompt: str, answer: str | None, system: str | None = None) -> dict:
    """One ``bedrock-conversation-2024`` record (Nova, Llama 3.2); ``answer=None`` gives a prompt-only record."""
    record: dict[str, Any] = {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [{"role": "user", "content": [{"text": prompt}]}],
    }
    if system is not None:
        record["system"] = [{"text": system}]
    if answer is not None:
        record["messages"].append({"role": "assistant", "content": [{"text": answer}]})
    return record


def qa_pairs(n: int) -> list[tuple[str, str]]:
    """(question, answer) pairs with distinct, recognisable answers."""
    return [(f"What is the storage quota of plan {i}?", f"Plan {i} includes {10 * i} GB of storage.") for i in range(n)]


def qa_records(n: int) -> list[dict]:
    """``bedrock-conversation-2024`` records (the format of the default base model, Nova Micro)."""
    return [conversation(question, answer) for question, answer in qa_pairs(n)]


def prompt_completion_records(n: int) -> list[dict]:
    """``{"prompt", "completion"}`` records (Llama 3.1)."""
    return [{"prompt": question, "completion": answer} for question, answer in qa_pairs(n)]


def create_job(
    bedrock_client: Any,
    name: str = "job-1",
    model_name: str | None = None,
    base: str = NOVA_MICRO,
    training: str = f"s3://{BUCKET}/train.jsonl",
    validation: str | None = None,
    output: str = f"s3://{BUCKET}/output",
    **extra: Any,
) -> str:
    """CreateModelCustomizationJob with sensible defaults; returns the job ARN."""
    kwargs: dict[str, Any] = {
        "jobName": name,
        "customModelName": model_name or f"{name}-model",
        "roleArn": ROLE,
        "baseModelIdentifier": base,
        "trainingDataConfig": {"s3Uri": training},
        "outputDataConfig": {"s3Uri": output},
        **extra,
    }
    if validation:
        kwargs["validationDataConfig"] = {"validators": [{"s3Uri": validation}]}
    return bedrock_client.create_model_customization_job(**kwargs)["jobArn"]


def wait_job(bedrock_client: Any, identifier: str) -> dict:
    """Wait until a customization job leaves InProgress/Stopping; returns GetModelCustomizationJob."""
    return wait_for(
        lambda: bedrock_client.get_model_customization_job(jobIdentifier=identifier),
        lambda job: job["status"] not in ("InProgress", "Stopping"),
    )


def completed_model(s3_client: Any, bedrock_client: Any, name: str = "job-1", records: int = 40, **extra: Any) -> dict:
    """Train a Nova Micro model on ``qa_records``; returns the completed job description."""
    training = put_jsonl(s3_client, f"{name}/train.jsonl", qa_records(records))
    validation = put_jsonl(s3_client, f"{name}/validation.jsonl", qa_records(5))
    arn = create_job(bedrock_client, name, training=training, validation=validation, **extra)
    job = wait_job(bedrock_client, arn)
    assert job["status"] == "Completed", job
    return job


def provisioned(bedrock_client: Any, model_id: str, name: str = "pt-1", **extra: Any) -> str:
    """Create a provisioned throughput and wait until InService; returns its ARN."""
    arn = bedrock_client.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName=name, modelId=model_id, **extra
    )["provisionedModelArn"]
    wait_for(
        lambda: bedrock_client.get_provisioned_model_throughput(provisionedModelId=arn)["status"],
        lambda status: status == "InService",
    )
    return arn


def error_code(exc: pytest.ExceptionInfo[Any]) -> tuple[str, str, int]:
    """(code, message, HTTP status) of a botocore ClientError."""
    response = exc.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response["ResponseMetadata"]["HTTPStatusCode"]
