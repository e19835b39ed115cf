"""Model customization jobs: creation, validation, lifecycle, failures, stop, metrics in S3."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from include.local_aws import CONFIG

from .helpers import (
    BUCKET,
    NOVA_MICRO,
    REGION,
    ROLE,
    client,
    create_job,
    error_code,
    put_jsonl,
    qa_records,
    wait_for,
    wait_job,
)

JOB_ARN = re.compile(
    r"arn:aws:bedrock:us-east-1:123456789012:model-customization-job/"
    r"amazon\.nova-micro-v1:0:128k/[a-z0-9]{12}"
)
MODEL_ARN = re.compile(r"arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon\.nova-micro-v1:0:128k/[a-z0-9]{12}")


@pytest.fixture
def training(s3: Any) -> str:
    return put_jsonl(s3, "train.jsonl", qa_records(30))


def read_csv(s3: Any, key: str) -> list[dict[str, str]]:
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def metrics_keys(s3: Any, job_arn: str) -> list[str]:
    job_id = job_arn.rsplit("/", 1)[-1]
    prefix = f"output/model-customization-job-{job_id}/"
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []))


def test_create_answers_201_with_real_arn(bedrock: Any, training: str) -> None:
    response = bedrock.create_model_customization_job(
        jobName="job-1",
        customModelName="model-1",
        roleArn=ROLE,
        baseModelIdentifier=NOVA_MICRO,
        trainingDataConfig={"s3Uri": training},
        outputDataConfig={"s3Uri": f"s3://{BUCKET}/output"},
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert JOB_ARN.fullmatch(response["jobArn"])


@pytest.mark.parametrize("by", ["name", "arn"])
def test_job_completes_and_creates_the_model(bedrock: Any, s3: Any, training: str, by: str) -> None:
    validation = put_jsonl(s3, "validation.jsonl", qa_records(5))
    arn = create_job(
        bedrock,
        training=training,
        validation=validation,
        hyperParameters={"epochCount": "2", "learningRate": "0.00001"},
        jobTags=[{"key": "team", "value": "ml"}],
        customModelTags=[{"key": "stage", "value": "candidate"}],
        vpcConfig={"subnetIds": ["subnet-1"], "securityGroupIds": ["sg-1"]},
        customModelKmsKeyId="alias/bedrock",
    )
    identifier = "job-1" if by == "name" else arn
    job = bedrock.get_model_customization_job(jobIdentifier=identifier)
    assert job["status"] == "InProgress"
    assert "outputModelArn" not in job and "endTime" not in job and "trainingMetrics" not in job

    job = wait_job(bedrock, identifier)
    assert job["status"] == "Completed"
    assert job["jobArn"] == arn and job["jobName"] == "job-1" and job["outputModelName"] == "job-1-model"
    assert MODEL_ARN.fullmatch(job["outputModelArn"])
    assert job["baseModelArn"] == f"arn:aws:bedrock:{REGION}::foundation-model/{NOVA_MICRO}"
    assert job["roleArn"] == ROLE and job["customizationType"] == "FINE_TUNING"
    assert job["hyperParameters"] == {"epochCount": "2", "learningRate": "0.00001"}
    assert job["vpcConfig"] == {"subnetIds": ["subnet-1"], "securityGroupIds": ["sg-1"]}
    assert job["outputModelKmsKeyArn"].endswith(":alias/bedrock")
    assert job["creationTime"] <= job["endTime"] == job["lastModifiedTime"]
    assert job["trainingMetrics"]["trainingLoss"] > 0
    assert job["validationMetrics"][0]["validationLoss"] > 0
    assert "failureMessage" not in job

    model = bedrock.get_custom_model(modelIdentifier=job["outputModelArn"])
    assert model["modelArn"] == job["outputModelArn"] and model["modelName"] == "job-1-model"
    assert model["jobArn"] == arn and model["modelStatus"] == "Active"
    assert model["baseModelArn"] == job["baseModelArn"]
    assert model["trainingMetrics"] == job["trainingMetrics"]
    assert model["validationMetrics"] == job["validationMetrics"]
    assert model["trainingDataConfig"] == {"s3Uri": training}
    assert bedrock.list_tags_for_resource(resourceARN=model["modelArn"])["tags"] == [
        {"key": "stage", "value": "candidate"}
    ]
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "team", "value": "ml"}]
    # Completion happens exactly once: a second read changes nothing.
    assert bedrock.get_model_customization_job(jobIdentifier=arn)["outputModelArn"] == job["outputModelArn"]
    assert len(bedrock.list_custom_models()["modelSummaries"]) == 1


def test_same_token_is_idempotent(bedrock: Any, training: str) -> None:
    first = create_job(bedrock, training=training, clientRequestToken="token-1")
    again = create_job(bedrock, training=training, clientRequestToken="token-1")
    assert first == again
    assert len(bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]) == 1


def test_duplicate_name_with_other_token(bedrock: Any, training: str) -> None:
    create_job(bedrock, training=training, clientRequestToken="token-1")
    with pytest.raises(ClientError) as exc:
        create_job(bedrock, training=training, model_name="other", clientRequestToken="token-2")
    assert error_code(exc) == ("ValidationException", "The provided job name is currently in use.", 400)


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"jobName": "-bad-start"}, "jobName"),
        ({"jobName": "x" * 64}, "jobName"),
        ({"customModelName": "has space"}, "customModelName"),
        ({"trainingDataConfig": {"s3Uri": "https://example.com/train.jsonl"}}, "trainingDataConfig.s3Uri"),
        ({"outputDataConfig": {"s3Uri": "s3://UPPER/out"}}, "outputDataConfig.s3Uri"),
        ({"vpcConfig": {"subnetIds": [f"subnet-{i}" for i in range(17)], "securityGroupIds": ["sg"]}}, "subnetIds"),
        ({"vpcConfig": {"subnetIds": ["subnet-1"], "securityGroupIds": [f"sg-{i}" for i in range(6)]}}, "securityGroupIds"),
        ({"customizationType": "MAGIC"}, "customizationType"),
        ({"hyperParameters": {"epochCount": 2}}, "hyperParameters.epochCount"),
        ({"roleArn": "not-a-role"}, "roleArn"),
        ({"baseModelIdentifier": "Not A Model"}, "base model"),
    ],
)
def test_invalid_requests_are_rejected(aws: None, training: str, override: dict, field: str) -> None:
    unchecked = client("bedrock", config=Config(parameter_validation=False))
    kwargs: dict[str, Any] = {
        "jobName": "job-1",
        "customModelName": "model-1",
        "roleArn": ROLE,
        "baseModelIdentifier": NOVA_MICRO,
        "trainingDataConfig": {"s3Uri": training},
        "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/output"},
        **override,
    }
    with pytest.raises(ClientError) as exc:
        unchecked.create_model_customization_job(**kwargs)
    code, message, status = error_code(exc)
    assert (code, status) == ("ValidationException", 400)
    assert field in message
    assert unchecked.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []


def test_fail_jobs_knob(bedrock: Any, training: str) -> None:
    CONFIG.update(fail_jobs="^doomed-", fail_message="Simulated failure for testing.")
    arn = create_job(bedrock, "doomed-1", training=training)
    ok = create_job(bedrock, "fine-1", training=training)
    job = wait_job(bedrock, arn)
    assert job["status"] == "Failed"
    assert job["failureMessage"] == "Simulated failure for testing."
    assert "outputModelArn" not in job and "endTime" in job
    assert wait_job(bedrock, ok)["status"] == "Completed"
    assert [m["modelName"] for m in bedrock.list_custom_models()["modelSummaries"]] == ["fine-1-model"]


def test_missing_training_object_fails_naming_it(bedrock: Any, s3: Any) -> None:
    arn = create_job(bedrock, training=f"s3://{BUCKET}/missing/train.jsonl")
    job = wait_job(bedrock, arn)
    assert job["status"] == "Failed"
    assert f"s3://{BUCKET}/missing/train.jsonl" in job["failureMessage"]


def test_missing_output_bucket_fails(bedrock: Any, training: str) -> None:
    arn = create_job(bedrock, training=training, output="s3://no-such-bucket/out")
    job = wait_job(bedrock, arn)
    assert job["status"] == "Failed"
    assert "s3://no-such-bucket/out" in job["failureMessage"]


def test_stop_job(bedrock: Any, training: str) -> None:
    CONFIG.update(job_seconds=30)
    arn = create_job(bedrock, training=training)
    response = bedrock.stop_model_customization_job(jobIdentifier=arn)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert bedrock.get_model_customization_job(jobIdentifier=arn)["status"] == "Stopping"
    job = wait_job(bedrock, "job-1")
    assert job["status"] == "Stopped" and "endTime" in job and "outputModelArn" not in job
    with pytest.raises(ClientError) as exc:
        bedrock.stop_model_customization_job(jobIdentifier="job-1")
    assert error_code(exc)[0] == "ConflictException"


def test_stop_completed_job_is_rejected(bedrock: Any, training: str) -> None:
    arn = create_job(bedrock, training=training)
    wait_job(bedrock, arn)
    with pytest.raises(ClientError) as exc:
        bedrock.stop_model_customization_job(jobIdentifier=arn)
    code, message, _ = error_code(exc)
    assert code == "ConflictException" and "Completed" in message


def test_unknown_job_is_404(bedrock: Any) -> None:
    with pytest.raises(ClientError) as exc:
        bedrock.get_model_customization_job(jobIdentifier="nope")
    code, message, status = error_code(exc)
    assert (code, status) == ("ResourceNotFoundException", 404) and "nope" in message
    arn = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.titan-text-express-v1:0:8k/abcdefabcdef"
    with pytest.raises(ClientError) as exc:
        bedrock.stop_model_customization_job(jobIdentifier=arn)
    assert error_code(exc)[0] == "ResourceNotFoundException" and arn in error_code(exc)[1]


def test_list_filters_sorts_and_paginates(bedrock: Any, training: str) -> None:
    CONFIG.update(fail_jobs="^bad")
    for name in ("alpha-1", "alpha-2", "beta-1", "bad-1"):
        create_job(bedrock, name, training=training)
    wait_job(bedrock, "bad-1")

    def names(**kwargs: Any) -> list[str]:
        return [s["jobName"] for s in bedrock.list_model_customization_jobs(**kwargs)["modelCustomizationJobSummaries"]]

    assert names(sortOrder="Ascending") == ["alpha-1", "alpha-2", "beta-1", "bad-1"]
    assert names() == ["bad-1", "beta-1", "alpha-2", "alpha-1"]
    assert names(nameContains="alpha", sortOrder="Ascending") == ["alpha-1", "alpha-2"]
    assert names(statusEquals="Failed") == ["bad-1"]
    assert sorted(names(statusEquals="Completed")) == ["alpha-1", "alpha-2", "beta-1"]
    summary = bedrock.list_model_customization_jobs(nameContains="beta")["modelCustomizationJobSummaries"][0]
    assert summary["customModelName"] == "beta-1-model" and summary["customModelArn"].startswith("arn:aws:bedrock:")
    page = bedrock.list_model_customization_jobs(maxResults=3, sortOrder="Ascending")
    assert len(page["modelCustomizationJobSummaries"]) == 3 and page["nextToken"]
    rest = bedrock.list_model_customization_jobs(maxResults=3, sortOrder="Ascending", nextToken=page["nextToken"])
    assert [s["jobName"] for s in rest["modelCustomizationJobSummaries"]] == ["bad-1"] and "nextToken" not in rest
    paginator = bedrock.get_paginator("list_model_customization_jobs")
    assert sum(len(p["modelCustomizationJobSummaries"]) for p in paginator.paginate(PaginationConfig={"PageSize": 1})) == 4


@pytest.mark.parametrize(
    ("layout", "inner"), [("nested", "post_fine_tuning_validation/validation/"), ("flat", "post_fine_tuning_validation/")]
)
def test_metrics_csvs_in_both_layouts(bedrock: Any, s3: Any, training: str, layout: str, inner: str) -> None:
    CONFIG.update(metrics_layout=layout)
    validation = put_jsonl(s3, "validation.jsonl", qa_records(4))
    arn = create_job(bedrock, training=training, validation=validation, hyperParameters={"epochCount": "3"})
    job = wait_job(bedrock, arn)
    job_id = arn.rsplit("/", 1)[-1]
    folder = f"output/model-customization-job-{job_id}/"
    assert metrics_keys(s3, arn) == [
        folder + "training_artifacts/step_wise_training_metrics.csv",
        folder + f"validation_artifacts/{inner}validation_metrics.csv",
    ]
    train_rows = read_csv(s3, folder + "training_artifacts/step_wise_training_metrics.csv")
    assert list(train_rows[0]) == ["step_number", "epoch_number", "training_loss", "perplexity"]
    assert len(train_rows) == 3 * 30  # Nova takes no batchSize: batch 1 -> 30 steps per epoch
    assert [row["step_number"] for row in train_rows[:3]] == ["1", "2", "3"]
    assert float(train_rows[-1]["training_loss"]) == pytest.approx(job["trainingMetrics"]["trainingLoss"])
    assert float(train_rows[0]["perplexity"]) == pytest.approx(
        2.718281828 ** float(train_rows[0]["training_loss"]), rel=1e-4
    )
    val_rows = read_csv(s3, folder + f"validation_artifacts/{inner}validation_metrics.csv")
    assert list(val_rows[0]) == ["step_number", "epoch_number", "validation_loss", "perplexity"]
    assert [row["epoch_number"] for row in val_rows] == ["1", "2", "3"]
    assert float(val_rows[-1]["validation_loss"]) == pytest.approx(job["validationMetrics"][0]["validationLoss"])


def test_no_validation_csv_without_validators(bedrock: Any, s3: Any) -> None:
    training = put_jsonl(s3, "nova.jsonl", qa_records(40))
    arn = create_job(bedrock, training=training, output=f"s3://{BUCKET}/output/")
    job = wait_job(bedrock, arn)
    assert job["status"] == "Completed" and "validationMetrics" not in job
    keys = metrics_keys(s3, arn)
    assert len(keys) == 1 and keys[0].endswith("training_artifacts/step_wise_training_metrics.csv")
    rows = read_csv(s3, keys[0])
    assert list(rows[0]) == ["step_number", "epoch_number", "training_loss", "perplexity"]
    assert len(rows) == 2 * 40  # Nova defaults: 2 epochs, batch 1 -> 40 steps per epoch for 40 records


def test_metrics_are_encrypted_with_the_bucket_default_kms_key(bedrock: Any, s3: Any, training: str) -> None:
    key_id = client("kms").create_key()["KeyMetadata"]["KeyId"]
    s3.create_bucket(Bucket="secure-output")
    s3.put_bucket_encryption(
        Bucket="secure-output",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}]
        },
    )
    arn = create_job(bedrock, training=training, output="s3://secure-output/runs")
    assert wait_job(bedrock, arn)["status"] == "Completed"
    objects = s3.list_objects_v2(Bucket="secure-output")["Contents"]
    assert objects
    head = s3.head_object(Bucket="secure-output", Key=objects[0]["Key"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert key_id in head["SSEKMSKeyId"]


def test_loss_reflects_hyperparameters(bedrock: Any, s3: Any) -> None:
    training = put_jsonl(s3, "sweep/train.jsonl", qa_records(100))
    validation = put_jsonl(s3, "sweep/validation.jsonl", qa_records(20))
    losses = {}
    for epochs in ("2", "5"):
        for lr in ("0.00001", "0.0001"):
            name = f"sweep-e{epochs}-lr{lr.replace('.', '')}"
            create_job(
                bedrock, name, training=training, validation=validation,
                hyperParameters={"epochCount": epochs, "learningRate": lr},
            )
            losses[(epochs, lr)] = name
    results = {
        key: wait_job(bedrock, name)["validationMetrics"][0]["validationLoss"] for key, name in losses.items()
    }
    ranked = sorted(results.values())
    assert ranked[0] < ranked[1]
    train = {key: bedrock.get_model_customization_job(jobIdentifier=name)["trainingMetrics"]["trainingLoss"]
             for key, name in losses.items()}
    assert train[("5", "0.00001")] < train[("2", "0.00001")]


def test_record_count_drives_steps(bedrock: Any, s3: Any) -> None:
    training = put_jsonl(s3, "blank-lines.jsonl", qa_records(10))
    s3.put_object(
        Bucket=BUCKET,
        Key="blank-lines.jsonl",
        Body=s3.get_object(Bucket=BUCKET, Key="blank-lines.jsonl")["Body"].read() + b"\n\n   \n",
    )
    arn = create_job(bedrock, training=training, hyperParameters={"epochCount": "1"})
    wait_job(bedrock, arn)
    rows = read_csv(s3, metrics_keys(s3, arn)[0])
    assert len(rows) == 10


def test_empty_training_file_fails(bedrock: Any, s3: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="empty.jsonl", Body=b"\n")
    arn = create_job(bedrock, training=f"s3://{BUCKET}/empty.jsonl")
    job = wait_for(lambda: bedrock.get_model_customization_job(jobIdentifier=arn), lambda j: j["status"] != "InProgress")
    assert job["status"] == "Failed" and "no records" in job["failureMessage"]
