"""Fixtures for the evaluation tests: the in-process emulator with a fine-tuned model on a throughput."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from include import local_aws
from include.local_aws import CONFIG
from tests.records import conversation

REGION = "us-east-1"
BUCKET = "evaluation-data"
ROLE = "arn:aws:iam::123456789012:role/BedrockCustomization"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_MICRO_ON_DEMAND = "amazon.nova-micro-v1:0"
JUDGE = "anthropic.claude-3-haiku-20240307-v1:0"
SAMPLE_DATA = Path(__file__).resolve().parents[2] / "include" / "sample_data" / "qa_pairs.jsonl"
FAST = {"job_seconds": 0.2, "throughput_seconds": 0.1, "evaluation_seconds": 0.2}


def qa_split() -> tuple[list[dict], list[dict]]:
    """The sample QA data as prompt/completion records: every third record held out for validation.

    Each topic is asked three ways, so every held-out question has two paraphrases in the training data.
    """
    records = [
        json.loads(line) for line in SAMPLE_DATA.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    pairs = [{"prompt": r["question"], "completion": r["answer"]} for r in records]
    train = [p for i, p in enumerate(pairs) if i % 3 != 2]
    validation = [p for i, p in enumerate(pairs) if i % 3 == 2]
    return train, validation


def put_jsonl(s3: Any, key: str, records: list[dict]) -> str:
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode("utf-8"))
    return f"s3://{BUCKET}/{key}"


def _wait(read, done, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached: {value}")
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def emulator_config() -> Iterator[None]:
    CONFIG.reset()
    CONFIG.update(**FAST)
    yield
    CONFIG.reset()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In-process AWS (moto + our Bedrock extension)."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with local_aws.mock():
        yield


@pytest.fixture
def s3(aws: None) -> Any:
    import boto3

    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET)
    return client


@pytest.fixture
def runtime(aws: None) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "bedrock-runtime", region_name=REGION, config=Config(retries={"total_max_attempts": 1})
    )


@pytest.fixture
def fine_tuned(s3: Any) -> dict[str, str]:
    """A completed Nova Micro customization job on the sample data, its model on an InService throughput.

    Returns the validation URI, the throughput ARN and the custom model ARN.
    """
    import boto3

    bedrock = boto3.client("bedrock", region_name=REGION)
    train, validation = qa_split()
    # Nova's training format (bedrock-conversation-2024), which the evaluation reads as well.
    train_uri = put_jsonl(s3, "data/train.jsonl", [conversation(**r) for r in train])
    validation_uri = put_jsonl(s3, "data/validation.jsonl", [conversation(**r) for r in validation])
    job_arn = bedrock.create_model_customization_job(
        jobName="eval-test-job",
        customModelName="eval-test-model",
        roleArn=ROLE,
        baseModelIdentifier=NOVA_MICRO,
        trainingDataConfig={"s3Uri": train_uri},
        validationDataConfig={"validators": [{"s3Uri": validation_uri}]},
        outputDataConfig={"s3Uri": f"s3://{BUCKET}/output/"},
        hyperParameters={"epochCount": "2", "learningRate": "0.00001", "learningRateWarmupSteps": "10"},
    )["jobArn"]
    job = _wait(
        lambda: bedrock.get_model_customization_job(jobIdentifier=job_arn),
        lambda j: j["status"] != "InProgress",
    )
    assert job["status"] == "Completed", job
    throughput_arn = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="eval-test-throughput", modelId=job["outputModelArn"]
    )["provisionedModelArn"]
    _wait(
        lambda: bedrock.get_provisioned_model_throughput(provisionedModelId=throughput_arn)["status"],
        lambda status: status == "InService",
    )
    return {
        "validation_uri": validation_uri,
        "throughput_arn": throughput_arn,
        "model_arn": job["outputModelArn"],
    }
