"""bedrock-runtime InvokeModel/Converse routing, errors and throttling."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from include.local_aws import CONFIG
from include.local_aws.answers import similarity

from .helpers import BUCKET, NOVA_MICRO, ROLE, TITAN, completed_model, error_code, provisioned, wait_for

QUESTION = "What is the storage quota of plan 7?"
ANSWER = "Plan 7 includes 70 GB of storage."


def invoke(runtime: Any, model_id: str, body: dict) -> dict:
    response = runtime.invoke_model(modelId=model_id, body=json.dumps(body))
    assert response["contentType"] == "application/json"
    return json.loads(response["body"].read())


def titan_text(runtime: Any, model_id: str, prompt: str = QUESTION) -> str:
    return invoke(runtime, model_id, {"inputText": prompt})["results"][0]["outputText"]


def nova_text(runtime: Any, model_id: str, prompt: str = QUESTION) -> str:
    """InvokeModel with a Nova body (custom models are Nova Micro models, the tests' default base)."""
    body = invoke(runtime, model_id, {"messages": [{"role": "user", "content": [{"text": prompt}]}]})
    return body["output"]["message"]["content"][0]["text"]


def converse_text(runtime: Any, model_id: str, prompt: str = QUESTION) -> str:
    response = runtime.converse(modelId=model_id, messages=[{"role": "user", "content": [{"text": prompt}]}])
    assert response["stopReason"] == "end_turn"
    assert response["usage"]["inputTokens"] > 0
    return response["output"]["message"]["content"][0]["text"]


@pytest.mark.parametrize(
    "model_id",
    [
        "amazon.titan-text-express-v1",
        TITAN,
        f"arn:aws:bedrock:us-east-1::foundation-model/{TITAN}",
    ],
)
def test_base_titan_forms(runtime: Any, model_id: str) -> None:
    body = invoke(runtime, model_id, {"inputText": QUESTION, "textGenerationConfig": {"maxTokenCount": 200}})
    assert body["inputTextTokenCount"] > 0
    assert body["results"][0]["completionReason"] == "FINISH"
    assert ANSWER not in body["results"][0]["outputText"]


def test_base_families_have_their_own_shapes(runtime: Any) -> None:
    claude = invoke(
        runtime,
        "anthropic.claude-3-haiku-20240307-v1:0",
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200, "messages": [{"role": "user", "content": QUESTION}]},
    )
    assert claude["type"] == "message" and claude["content"][0]["type"] == "text"
    llama = invoke(runtime, "meta.llama3-1-8b-instruct-v1:0", {"prompt": QUESTION})
    assert llama["generation"] and llama["stop_reason"] == "stop"
    nova = invoke(
        runtime, "us.amazon.nova-lite-v1:0", {"messages": [{"role": "user", "content": [{"text": QUESTION}]}]}
    )
    assert nova["output"]["message"]["content"][0]["text"]
    assert converse_text(runtime, "us.amazon.nova-lite-v1:0")


def test_provisioned_custom_model_answers_from_training_data(s3: Any, bedrock: Any, runtime: Any) -> None:
    job = completed_model(s3, bedrock, records=20)
    arn = provisioned(bedrock, job["outputModelArn"])
    custom = nova_text(runtime, arn)
    base = nova_text(runtime, NOVA_MICRO)
    assert similarity(custom, ANSWER) > 0.5 > similarity(base, ANSWER)
    assert similarity(converse_text(runtime, arn), ANSWER) > 0.5
    assert nova_text(runtime, "pt-1") == custom  # by throughput name


def test_throughput_on_base_model_answers_like_base(bedrock: Any, runtime: Any) -> None:
    arn = provisioned(bedrock, TITAN, "base-pt", commitmentDuration="OneMonth")
    assert titan_text(runtime, arn) == titan_text(runtime, TITAN)
    arn = provisioned(bedrock, NOVA_MICRO, "nova-pt")  # Nova base models allow no commitment
    assert nova_text(runtime, arn) == nova_text(runtime, NOVA_MICRO)


def test_custom_model_invoked_directly_is_rejected(s3: Any, bedrock: Any, runtime: Any) -> None:
    model_arn = completed_model(s3, bedrock)["outputModelArn"]
    with pytest.raises(ClientError) as exc:
        nova_text(runtime, model_arn)
    code, message, status = error_code(exc)
    assert (code, status) == ("ValidationException", 400) and "Provisioned Throughput" in message


def test_throughput_not_in_service_is_rejected(s3: Any, bedrock: Any, runtime: Any) -> None:
    CONFIG.update(throughput_seconds=30)
    arn = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="slow-pt", modelId=NOVA_MICRO
    )["provisionedModelArn"]
    with pytest.raises(ClientError) as exc:
        titan_text(runtime, arn)
    code, message, _ = error_code(exc)
    assert code == "ValidationException" and "Creating" in message


def test_deployment_serves_the_custom_model(s3: Any, bedrock: Any, runtime: Any) -> None:
    model_arn = completed_model(s3, bedrock, records=20)["outputModelArn"]
    arn = bedrock.create_custom_model_deployment(modelDeploymentName="dep", modelArn=model_arn)[
        "customModelDeploymentArn"
    ]
    wait_for(
        lambda: bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)["status"],
        lambda status: status == "Active",
    )
    assert similarity(nova_text(runtime, arn), ANSWER) > 0.5


def test_imported_model(s3: Any, bedrock: Any, runtime: Any) -> None:
    s3.put_object(Bucket=BUCKET, Key="hf/config.json", Body=b'{"model_type": "llama", "architectures": ["LlamaForCausalLM"]}')
    s3.put_object(Bucket=BUCKET, Key="hf/model.safetensors", Body=b"\0")
    job_arn = bedrock.create_model_import_job(
        jobName="imp", importedModelName="my-llama", roleArn=ROLE,
        modelDataSource={"s3DataSource": {"s3Uri": f"s3://{BUCKET}/hf/"}},
    )["jobArn"]
    job = wait_for(lambda: bedrock.get_model_import_job(jobIdentifier=job_arn), lambda j: j["status"] == "Completed")
    body = invoke(runtime, job["importedModelArn"], {"prompt": QUESTION, "max_gen_len": 300})
    assert "my-llama" in body["generation"]
    assert {"prompt_token_count", "generation_token_count", "stop_reason"} <= set(body)
    assert "my-llama" in converse_text(runtime, job["importedModelArn"])


def test_unknown_models(runtime: Any) -> None:
    with pytest.raises(ClientError) as exc:
        titan_text(runtime, "acme.nonexistent-model-v1")
    assert error_code(exc)[:1] == ("ValidationException",)
    missing = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefabcdef"
    with pytest.raises(ClientError) as exc:
        titan_text(runtime, missing)
    code, message, status = error_code(exc)
    assert (code, status) == ("ResourceNotFoundException", 404) and missing in message


def test_malformed_bodies(runtime: Any) -> None:
    with pytest.raises(ClientError) as exc:
        invoke(runtime, TITAN, {"prompt": "titan wants inputText"})
    code, message, _ = error_code(exc)
    assert code == "ValidationException" and message
    with pytest.raises(ClientError) as exc:
        runtime.invoke_model(modelId=TITAN, body=b"not json")
    assert error_code(exc)[0] == "ValidationException"
    with pytest.raises(ClientError) as exc:
        runtime.converse(modelId=TITAN, messages=[{"role": "assistant", "content": [{"text": "hi"}]}])
    assert error_code(exc)[0] == "ValidationException"


def test_converse_tool_use(runtime: Any) -> None:
    response = runtime.converse(
        modelId="anthropic.claude-3-haiku-20240307-v1:0",
        messages=[{
            "role": "user",
            "content": [{"text": "Grade it.\n<reference>Plan 7 has 70 GB.</reference>\n<response>Plan 7 has 70 GB.</response>"}],
        }],
        toolConfig={
            "tools": [{"toolSpec": {"name": "grade", "inputSchema": {"json": {
                "type": "object",
                "properties": {"score": {"type": "integer", "minimum": 1, "maximum": 10}, "reason": {"type": "string"}},
            }}}}],
            "toolChoice": {"tool": {"name": "grade"}},
        },
    )
    assert response["stopReason"] == "tool_use"
    block = response["output"]["message"]["content"][0]["toolUse"]
    assert block["name"] == "grade" and block["toolUseId"]
    assert 8 <= block["input"]["score"] <= 10 and isinstance(block["input"]["reason"], str)


def test_stop_sequences_and_max_tokens(runtime: Any) -> None:
    response = runtime.converse(
        modelId="amazon.nova-lite-v1:0",
        messages=[{"role": "user", "content": [{"text": QUESTION}]}],
        inferenceConfig={"maxTokens": 3},
    )
    assert response["stopReason"] == "max_tokens" and response["usage"]["outputTokens"] <= 3


def test_throttling_every_nth_call(runtime: Any) -> None:
    CONFIG.update(throttle_every=3)
    outcomes = []
    for _ in range(6):
        try:
            titan_text(runtime, TITAN)
            outcomes.append("ok")
        except ClientError as err:
            assert err.response["Error"]["Message"] == "Too many requests, please wait before trying again."
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            outcomes.append(err.response["Error"]["Code"])
    assert outcomes == ["ok", "ok", "ThrottlingException"] * 2
    CONFIG.reset()
    CONFIG.update(throttle_every=2)
    titan_text(runtime, TITAN)
    with pytest.raises(ClientError):
        converse_text(runtime, TITAN)
