"""Custom models and provisioned throughput."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from include.local_aws import CONFIG

from .helpers import (
    NOVA,
    NOVA_MICRO,
    REGION,
    completed_model,
    error_code,
    provisioned,
    put_jsonl,
    qa_records,
    wait_for,
)

PT_ARN = re.compile(r"arn:aws:bedrock:us-east-1:123456789012:provisioned-model/[a-z0-9]{12}")
MICRO_ARN = f"arn:aws:bedrock:{REGION}::foundation-model/{NOVA_MICRO}"


def nova_lite_model(s3: Any, bedrock: Any, name: str = "lite") -> str:
    """A completed custom model of another base model (Nova Lite); returns its ARN."""
    data = put_jsonl(s3, f"{name}.jsonl", qa_records(20))
    arn = bedrock.create_model_customization_job(
        jobName=f"{name}-job", customModelName=f"{name}-model", roleArn="arn:aws:iam::123456789012:role/r",
        baseModelIdentifier=NOVA, trainingDataConfig={"s3Uri": data}, outputDataConfig={"s3Uri": "s3://data/out"},
    )["jobArn"]
    return wait_for(
        lambda: bedrock.get_model_customization_job(jobIdentifier=arn), lambda j: j["status"] == "Completed"
    )["outputModelArn"]


def test_custom_model_by_name_or_arn_and_listing(s3: Any, bedrock: Any) -> None:
    first = completed_model(s3, bedrock, "job-a")
    nova_lite_model(s3, bedrock, "lite")

    by_name = bedrock.get_custom_model(modelIdentifier="job-a-model")
    by_arn = bedrock.get_custom_model(modelIdentifier=first["outputModelArn"])
    assert by_name["modelArn"] == by_arn["modelArn"] == first["outputModelArn"]
    assert by_name["creationTime"] == by_arn["creationTime"]

    summaries = bedrock.list_custom_models(sortOrder="Ascending")["modelSummaries"]
    assert [s["modelName"] for s in summaries] == ["job-a-model", "lite-model"]
    assert summaries[0]["baseModelArn"] == MICRO_ARN and summaries[0]["modelStatus"] == "Active"
    only_micro = bedrock.list_custom_models(baseModelArnEquals=MICRO_ARN)["modelSummaries"]
    assert [s["modelName"] for s in only_micro] == ["job-a-model"]
    assert [s["modelName"] for s in bedrock.list_custom_models(nameContains="lite")["modelSummaries"]] == [
        "lite-model"
    ]
    page = bedrock.list_custom_models(maxResults=1)
    assert len(page["modelSummaries"]) == 1 and page["nextToken"]


def test_delete_custom_model(s3: Any, bedrock: Any) -> None:
    job = completed_model(s3, bedrock)
    response = bedrock.delete_custom_model(modelIdentifier=job["outputModelArn"])
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    for identifier in (job["outputModelArn"], "job-1-model"):
        with pytest.raises(ClientError) as exc:
            bedrock.get_custom_model(modelIdentifier=identifier)
        code, message, status = error_code(exc)
        assert (code, status) == ("ResourceNotFoundException", 404) and identifier in message
    with pytest.raises(ClientError) as exc:
        bedrock.delete_custom_model(modelIdentifier="job-1-model")
    assert error_code(exc)[2] == 404


def test_delete_refused_while_a_throughput_uses_the_model(s3: Any, bedrock: Any) -> None:
    job = completed_model(s3, bedrock)
    pt = provisioned(bedrock, job["outputModelArn"], "serving-pt")
    with pytest.raises(ClientError) as exc:
        bedrock.delete_custom_model(modelIdentifier="job-1-model")
    code, message, _ = error_code(exc)
    assert code == "ConflictException" and "serving-pt" in message
    bedrock.delete_provisioned_model_throughput(provisionedModelId=pt)
    bedrock.delete_custom_model(modelIdentifier="job-1-model")


def test_custom_model_tags(s3: Any, bedrock: Any) -> None:
    arn = completed_model(s3, bedrock)["outputModelArn"]
    bedrock.tag_resource(resourceARN=arn, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}])
    bedrock.untag_resource(resourceARN=arn, tagKeys=["a"])
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "b", "value": "2"}]
    with pytest.raises(ClientError) as exc:
        bedrock.list_tags_for_resource(resourceARN=arn.replace(arn[-12:], "000000000000"))
    assert error_code(exc)[0] == "ResourceNotFoundException"


def test_throughput_lifecycle(s3: Any, bedrock: Any) -> None:
    model_arn = completed_model(s3, bedrock)["outputModelArn"]
    response = bedrock.create_provisioned_model_throughput(
        modelUnits=2, provisionedModelName="pt-1", modelId="job-1-model", tags=[{"key": "env", "value": "dev"}],
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201
    arn = response["provisionedModelArn"]
    assert PT_ARN.fullmatch(arn)
    first = bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
    assert first["status"] == "Creating"
    ready = wait_for(
        lambda: bedrock.get_provisioned_model_throughput(provisionedModelId="pt-1"), lambda pt: pt["status"] == "InService"
    )
    assert ready["provisionedModelArn"] == arn and ready["provisionedModelName"] == "pt-1"
    assert ready["modelArn"] == ready["desiredModelArn"] == model_arn
    assert ready["foundationModelArn"] == MICRO_ARN
    assert ready["modelUnits"] == ready["desiredModelUnits"] == 2
    assert "commitmentDuration" not in ready and "commitmentExpirationTime" not in ready  # no commitment
    assert "failureMessage" not in ready
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "env", "value": "dev"}]

    listed = bedrock.list_provisioned_model_throughputs(statusEquals="InService", modelArnEquals=model_arn)
    assert [p["provisionedModelArn"] for p in listed["provisionedModelSummaries"]] == [arn]
    assert bedrock.list_provisioned_model_throughputs(nameContains="zzz")["provisionedModelSummaries"] == []

    assert bedrock.delete_provisioned_model_throughput(provisionedModelId="pt-1")["ResponseMetadata"]["HTTPStatusCode"] == 200
    with pytest.raises(ClientError) as exc:
        bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
    assert error_code(exc)[:1] == ("ResourceNotFoundException",) and error_code(exc)[2] == 404
    # Deleting the throughput leaves the model in place.
    assert bedrock.get_custom_model(modelIdentifier=model_arn)["modelStatus"] == "Active"


def test_throughput_idempotency_and_duplicate_names(s3: Any, bedrock: Any) -> None:
    model_arn = completed_model(s3, bedrock)["outputModelArn"]
    kwargs = {"modelUnits": 1, "provisionedModelName": "pt-1", "modelId": model_arn}
    first = bedrock.create_provisioned_model_throughput(clientRequestToken="tok-1", **kwargs)["provisionedModelArn"]
    again = bedrock.create_provisioned_model_throughput(clientRequestToken="tok-1", **kwargs)["provisionedModelArn"]
    assert first == again
    with pytest.raises(ClientError) as exc:
        bedrock.create_provisioned_model_throughput(clientRequestToken="tok-2", **kwargs)
    code, message, _ = error_code(exc)
    assert code == "ValidationException" and "pt-1" in message
    assert len(bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]) == 1


def test_throughput_for_unknown_model_is_rejected(bedrock: Any) -> None:
    missing = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.titan-text-express-v1:0:8k/abcdefabcdef"
    for model_id in (missing, "no-such-model"):
        with pytest.raises(ClientError) as exc:
            bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt", modelId=model_id)
        code, message, _ = error_code(exc)
        assert code == "ResourceNotFoundException" and model_id in message


def test_throughput_for_a_base_model(bedrock: Any) -> None:
    arn = provisioned(bedrock, NOVA_MICRO, "base-pt")
    pt = bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
    assert pt["modelArn"] == pt["foundationModelArn"] == MICRO_ARN


def test_update_swaps_model_in_place(s3: Any, bedrock: Any) -> None:
    old = completed_model(s3, bedrock, "job-old")["outputModelArn"]
    new = completed_model(s3, bedrock, "job-new")["outputModelArn"]
    arn = provisioned(bedrock, old)
    bedrock.update_provisioned_model_throughput(provisionedModelId=arn, desiredModelId=new)
    updating = bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
    assert updating["status"] == "Updating"
    assert updating["modelArn"] == old and updating["desiredModelArn"] == new
    done = wait_for(
        lambda: bedrock.get_provisioned_model_throughput(provisionedModelId=arn), lambda pt: pt["status"] == "InService"
    )
    assert done["modelArn"] == done["desiredModelArn"] == new
    assert done["provisionedModelArn"] == arn

    bedrock.update_provisioned_model_throughput(provisionedModelId="pt-1", desiredProvisionedModelName="pt-renamed")
    assert bedrock.get_provisioned_model_throughput(provisionedModelId="pt-renamed")["provisionedModelArn"] == arn
    # The old model is free again.
    bedrock.delete_custom_model(modelIdentifier=old)


def test_update_rejects_a_model_with_another_base(s3: Any, bedrock: Any) -> None:
    micro_model = completed_model(s3, bedrock)["outputModelArn"]
    arn = provisioned(bedrock, micro_model)
    lite_model = nova_lite_model(s3, bedrock)
    with pytest.raises(ClientError) as exc:
        bedrock.update_provisioned_model_throughput(provisionedModelId=arn, desiredModelId=lite_model)
    code, message, _ = error_code(exc)
    assert code == "ValidationException" and "same base model" in message
    pt = bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
    assert pt["status"] == "InService" and pt["modelArn"] == micro_model


def test_fail_throughputs_knob(bedrock: Any) -> None:
    CONFIG.update(fail_throughputs="^broken")
    arn = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="broken-pt", modelId=NOVA_MICRO
    )["provisionedModelArn"]
    pt = wait_for(
        lambda: bedrock.get_provisioned_model_throughput(provisionedModelId=arn), lambda p: p["status"] != "Creating"
    )
    assert pt["status"] == "Failed" and "broken-pt" in pt["failureMessage"]
    assert provisioned(bedrock, NOVA_MICRO, "healthy-pt")
