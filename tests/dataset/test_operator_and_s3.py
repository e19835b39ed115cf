"""The operator publishes to S3 with SSE-KMS only after validation passed; the CLI reads s3:// inputs."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from .helpers import NOVA, PLAIN, qa_records, read_jsonl, write_jsonl

BUCKET = "landing-zone"
REGION = "us-east-1"


@pytest.fixture
def s3(monkeypatch, tmp_path):
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        json.dumps(
            {"conn_type": "aws", "login": "testing", "password": "testing", "extra": {"region_name": REGION}}
        ),
    )
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
        yield client, key_arn


def _upload(client, tmp_path, records, key="raw/qa.jsonl"):
    write_jsonl(tmp_path / "raw.jsonl", records)
    client.upload_file(str(tmp_path / "raw.jsonl"), BUCKET, key)
    return f"s3://{BUCKET}/{key}"


def _keys(client, prefix=""):
    return sorted(o["Key"] for o in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def _operator(**kwargs):
    from bedrock_customization.operators.dataset import PrepareBedrockDatasetOperator

    defaults = {
        "task_id": "prepare_dataset",
        "output_uri": f"s3://{BUCKET}/runs/r1/data",
        "base_model_id": NOVA,
        "prompt_key": "question",
        "completion_key": "answer",
        "validation_fraction": "0.2",  # templated fields may arrive as strings
        "seed": "42",
    }
    return PrepareBedrockDatasetOperator(**{**defaults, **kwargs})


def test_operator_uploads_with_sse_kms_and_returns_uris(s3, tmp_path):
    client, key_arn = s3
    source = _upload(client, tmp_path, qa_records(60))
    result = _operator(input_uri=source, kms_key_id=key_arn, system_prompt="Answer briefly.").execute(
        context={}
    )

    assert result["train_uri"] == f"s3://{BUCKET}/runs/r1/data/train.jsonl"
    assert result["validation_uri"] == f"s3://{BUCKET}/runs/r1/data/validation.jsonl"
    assert result["report_uri"] == f"s3://{BUCKET}/runs/r1/data/report.json"
    summary = result["summary"]
    assert summary["ok"] and summary["train_records"] + summary["validation_records"] == 60
    assert summary["record_format"] == "bedrock_conversation_2024"
    assert _keys(client, "runs/") == [
        "runs/r1/data/report.json",
        "runs/r1/data/train.jsonl",
        "runs/r1/data/validation.jsonl",
    ]  # the temporary keys are gone
    for name in ("train.jsonl", "validation.jsonl", "report.json"):
        head = client.head_object(Bucket=BUCKET, Key=f"runs/r1/data/{name}")
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == key_arn
    body = client.get_object(Bucket=BUCKET, Key="runs/r1/data/train.jsonl")["Body"].read().decode()
    first = json.loads(body.splitlines()[0])
    assert first["schemaVersion"] == "bedrock-conversation-2024" and first["system"] == [
        {"text": "Answer briefly."}
    ]
    report = json.loads(client.get_object(Bucket=BUCKET, Key="runs/r1/data/report.json")["Body"].read())
    assert report["train"]["uri"] == result["train_uri"]
    assert report["train"]["sha256"] == summary["train_sha256"]
    json.dumps(result)  # XCom-serializable


def test_operator_writes_nothing_on_invalid_data(s3, tmp_path):
    from bedrock_customization.operators.dataset import InvalidDatasetFailure

    client, key_arn = s3
    records = qa_records(60)
    records[7] = {"question": "Assistant: hi", "answer": "a"}
    source = _upload(client, tmp_path, records)
    with pytest.raises(InvalidDatasetFailure) as failure:
        _operator(input_uri=source, kms_key_id=key_arn).execute(context={})
    assert "line 8: reserved_word: 'question' contains 'Assistant:'" in str(failure.value)
    assert _keys(client) == ["raw/qa.jsonl"]


def test_operator_template_fields_and_hyperparameters(s3, tmp_path):
    from bedrock_customization.operators.dataset import InvalidDatasetFailure, PrepareBedrockDatasetOperator

    assert {"input_uri", "output_uri", "base_model_id", "kms_key_id", "prompt_key", "hyperparameters"} <= set(
        PrepareBedrockDatasetOperator.template_fields
    )
    client, key_arn = s3
    source = _upload(client, tmp_path, [*qa_records(20), {"question": "q", "answer": "w" * 9_000}])
    operator = _operator(input_uri=source, base_model_id=PLAIN, kms_key_id=key_arn,
                         hyperparameters='{"epochCount": "2", "batchSize": "4"}')  # fmt: skip
    with pytest.raises(InvalidDatasetFailure, match="2,048-token limit .* at batchSize 4"):
        operator.execute(context={})
    assert _keys(client, "runs/") == []


def test_cli_reads_s3_input(s3, tmp_path, capsys):
    from bedrock_customization.cli import main

    client, _ = s3
    source = _upload(client, tmp_path, qa_records(30))
    code = main(["prepare", source, "--base-model", PLAIN, "--out", str(tmp_path / "out"),
                 "--prompt-key", "question", "--completion-key", "answer", "--validation-fraction", "0"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert len(read_jsonl(tmp_path / "out" / "train.jsonl")) == 30
    code = main(
        ["prepare", f"s3://{BUCKET}/missing.jsonl", "--base-model", PLAIN, "--out", str(tmp_path / "o2")]
    )
    assert code == 2 and "NoSuchKey" in capsys.readouterr().err


@pytest.mark.parametrize("state", ["disabled", "pending deletion", "missing"])
def test_operator_checks_the_kms_key_before_any_work_or_write(s3, tmp_path, state):
    from bedrock_customization.preflight import PreflightFailed

    client, key_arn = s3
    kms = boto3.client("kms", region_name=REGION)
    if state == "disabled":
        kms.disable_key(KeyId=key_arn.rsplit("/", 1)[-1])
    elif state == "pending deletion":
        kms.schedule_key_deletion(KeyId=key_arn.rsplit("/", 1)[-1], PendingWindowInDays=7)
    else:
        key_arn = key_arn.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    source = _upload(client, tmp_path, qa_records(60))
    with pytest.raises(PreflightFailed) as failure:
        _operator(input_uri=source, kms_key_id=key_arn).execute(context={})
    message = str(failure.value)
    assert key_arn.rsplit("/", 1)[-1] in message
    assert {
        "disabled": "key state is Disabled",
        "pending deletion": "PendingDeletion",
        "missing": "not found",
    }[state] in message
    assert _keys(client) == ["raw/qa.jsonl"]  # nothing written
