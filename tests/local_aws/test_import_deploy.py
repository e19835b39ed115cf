"""Custom model import and custom model deployments."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .helpers import BUCKET, ROLE, completed_model, error_code, wait_for

IMPORT_JOB_ARN = re.compile(r"arn:aws:bedrock:us-east-1:123456789012:model-import-job/[a-z0-9]{12}")
IMPORTED_ARN = re.compile(r"arn:aws:bedrock:us-east-1:123456789012:imported-model/[a-z0-9]{12}")
DEPLOYMENT_ARN = re.compile(r"arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/[a-z0-9]{12}")


def upload_hf_folder(s3: Any, prefix: str, config: dict | None, weights: bool = True) -> str:
    if config is not None:
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/config.json", Body=json.dumps(config).encode())
    if weights:
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/model-00001-of-00001.safetensors", Body=b"\0" * 16)
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/tokenizer_config.json", Body=b'{"chat_template": "{{ x }}"}')
    return f"s3://{BUCKET}/{prefix}/"


def start_import(bedrock: Any, uri: str, name: str = "import-1", **extra: Any) -> str:
    return bedrock.create_model_import_job(
        jobName=name,
        importedModelName=f"{name}-model",
        roleArn=ROLE,
        modelDataSource={"s3DataSource": {"s3Uri": uri}},
        **extra,
    )["jobArn"]


def wait_import(bedrock: Any, arn: str) -> dict:
    return wait_for(lambda: bedrock.get_model_import_job(jobIdentifier=arn), lambda j: j["status"] != "InProgress")


def test_import_succeeds(s3: Any, bedrock: Any) -> None:
    uri = upload_hf_folder(s3, "llama", {"architectures": ["LlamaForCausalLM"], "model_type": "llama"})
    response = bedrock.create_model_import_job(
        jobName="import-1", importedModelName="my-llama", roleArn=ROLE,
        modelDataSource={"s3DataSource": {"s3Uri": uri}},
        jobTags=[{"key": "kind", "value": "job"}], importedModelTags=[{"key": "kind", "value": "model"}],
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    arn = response["jobArn"]
    assert IMPORT_JOB_ARN.fullmatch(arn)
    assert bedrock.get_model_import_job(jobIdentifier=arn)["status"] == "InProgress"
    job = wait_import(bedrock, "import-1")
    assert job["status"] == "Completed" and IMPORTED_ARN.fullmatch(job["importedModelArn"])
    assert job["importedModelName"] == "my-llama" and "endTime" in job

    by_name = bedrock.get_imported_model(modelIdentifier="my-llama")
    by_arn = bedrock.get_imported_model(modelIdentifier=job["importedModelArn"])
    assert by_name["modelArn"] == by_arn["modelArn"] == job["importedModelArn"]
    assert by_name["jobArn"] == arn and by_name["modelArchitecture"] == "llama"
    assert by_name["instructSupported"] is True
    assert [m["modelName"] for m in bedrock.list_imported_models()["modelSummaries"]] == ["my-llama"]
    summaries = bedrock.list_model_import_jobs(statusEquals="Completed")["modelImportJobSummaries"]
    assert [j["jobArn"] for j in summaries] == [arn]
    assert bedrock.list_tags_for_resource(resourceARN=job["importedModelArn"])["tags"] == [
        {"key": "kind", "value": "model"}
    ]
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "kind", "value": "job"}]

    bedrock.delete_imported_model(modelIdentifier="my-llama")
    with pytest.raises(ClientError) as exc:
        bedrock.get_imported_model(modelIdentifier=job["importedModelArn"])
    assert error_code(exc)[2] == 404


def test_import_is_idempotent_by_token(s3: Any, bedrock: Any) -> None:
    uri = upload_hf_folder(s3, "m", {"model_type": "mistral", "architectures": ["MistralForCausalLM"]})
    first = start_import(bedrock, uri, clientRequestToken="tok-1")
    assert start_import(bedrock, uri, clientRequestToken="tok-1") == first
    assert len(bedrock.list_model_import_jobs()["modelImportJobSummaries"]) == 1


@pytest.mark.parametrize(
    ("config", "weights", "expected"),
    [
        ({"architectures": ["BertForMaskedLM"], "model_type": "bert"}, True, "unsupported model architecture"),
        ({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}, False, ".safetensors"),
        (None, True, "config.json"),
    ],
)
def test_import_failures(s3: Any, bedrock: Any, config: dict | None, weights: bool, expected: str) -> None:
    uri = upload_hf_folder(s3, "bad", config, weights)
    job = wait_import(bedrock, start_import(bedrock, uri))
    assert job["status"] == "Failed" and expected in job["failureMessage"]
    assert "importedModelArn" not in job
    assert bedrock.list_imported_models()["modelSummaries"] == []


def test_supported_architectures(s3: Any, bedrock: Any) -> None:
    configs = {
        "qwen": {"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]},
        "flan": {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"]},
        "oss": {"model_type": "gpt_oss", "architectures": ["GptOssForCausalLM"]},
        "qwen-vl": {"model_type": "qwen2_5_vl", "architectures": ["Qwen2_5_VLForConditionalGeneration"]},
    }
    arns = [start_import(bedrock, upload_hf_folder(s3, name, cfg), f"imp-{name}") for name, cfg in configs.items()]
    assert [wait_import(bedrock, arn)["status"] for arn in arns] == ["Completed"] * 4


def test_unknown_import_job_is_404(bedrock: Any) -> None:
    with pytest.raises(ClientError) as exc:
        bedrock.get_model_import_job(jobIdentifier="missing-import")
    assert error_code(exc)[0] == "ResourceNotFoundException" and "missing-import" in error_code(exc)[1]


def test_custom_model_deployment_lifecycle(s3: Any, bedrock: Any) -> None:
    model_arn = completed_model(s3, bedrock)["outputModelArn"]
    response = bedrock.create_custom_model_deployment(modelDeploymentName="dep-1", modelArn=model_arn, description="d")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    arn = response["customModelDeploymentArn"]
    assert DEPLOYMENT_ARN.fullmatch(arn)
    assert bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)["status"] == "Creating"
    active = wait_for(
        lambda: bedrock.get_custom_model_deployment(customModelDeploymentIdentifier="dep-1"),
        lambda d: d["status"] == "Active",
    )
    assert active["modelArn"] == model_arn and active["modelDeploymentName"] == "dep-1"
    summaries = bedrock.list_custom_model_deployments(statusEquals="Active")["modelDeploymentSummaries"]
    assert [d["customModelDeploymentArn"] for d in summaries] == [arn]

    with pytest.raises(ClientError) as exc:
        bedrock.delete_custom_model(modelIdentifier=model_arn)
    assert error_code(exc)[0] == "ConflictException" and "dep-1" in error_code(exc)[1]

    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=arn)
    with pytest.raises(ClientError) as exc:
        bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)
    assert error_code(exc)[2] == 404
    bedrock.delete_custom_model(modelIdentifier=model_arn)


def test_fail_deployments_knob(s3: Any, bedrock: Any) -> None:
    from include.local_aws.config import CONFIG

    model_arn = completed_model(s3, bedrock)["outputModelArn"]
    CONFIG.update(fail_deployments="^broken")
    arn = bedrock.create_custom_model_deployment(modelDeploymentName="broken-dep", modelArn=model_arn)[
        "customModelDeploymentArn"
    ]
    bedrock.create_custom_model_deployment(modelDeploymentName="healthy-dep", modelArn=model_arn)
    failed = wait_for(
        lambda: bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn),
        lambda d: d["status"] != "Creating",
    )
    assert failed["status"] == "Failed" and "broken-dep" in failed["failureMessage"]
    healthy = wait_for(
        lambda: bedrock.get_custom_model_deployment(customModelDeploymentIdentifier="healthy-dep"),
        lambda d: d["status"] != "Creating",
    )
    assert healthy["status"] == "Active" and "failureMessage" not in healthy


def test_deployment_of_unknown_model(bedrock: Any) -> None:
    missing = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/abcdefabcdef"
    with pytest.raises(ClientError) as exc:
        bedrock.create_custom_model_deployment(modelDeploymentName="dep", modelArn=missing)
    assert error_code(exc)[0] == "ResourceNotFoundException"
