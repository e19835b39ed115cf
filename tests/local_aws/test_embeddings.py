"""bedrock-runtime fidelity: embedding models, response headers, imported models per architecture."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from botocore.exceptions import ClientError

from .helpers import BUCKET, ROLE, error_code, wait_for

V2 = "amazon.titan-embed-text-v2:0"
SIMILAR = ("How do I reset my password?", "How can I reset the password of my account")
UNRELATED = "The weather in Paris is sunny and warm today."


def invoke(runtime: Any, model_id: str, body: dict, **kwargs: Any) -> dict:
    return json.loads(runtime.invoke_model(modelId=model_id, body=json.dumps(body), **kwargs)["body"].read())


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def titan(runtime: Any, text: str, model_id: str = V2, **body: Any) -> dict:
    return invoke(runtime, model_id, {"inputText": text, **body})


def test_titan_v2_embeddings_carry_signal(runtime: Any) -> None:
    a, b, c = (titan(runtime, text)["embedding"] for text in (*SIMILAR, UNRELATED))
    assert len(a) == 1024 and math.isclose(sum(x * x for x in a), 1.0, rel_tol=1e-6)
    assert cosine(a, b) > 0.5 > 0.2 > cosine(a, c)
    assert titan(runtime, SIMILAR[0])["embedding"] == a  # deterministic
    assert titan(runtime, SIMILAR[0], model_id=f"us.{V2}")["embedding"] == a  # same model, same space


def test_titan_v2_options(runtime: Any) -> None:
    body = titan(runtime, SIMILAR[0], dimensions=256, normalize=False, embeddingTypes=["float", "binary"])
    assert len(body["embedding"]) == 256 and body["inputTextTokenCount"] > 0
    assert body["embeddingsByType"]["float"] == body["embedding"]
    assert body["embeddingsByType"]["binary"] == [1 if v > 0 else 0 for v in body["embedding"]]
    assert not math.isclose(sum(x * x for x in body["embedding"]), 1.0, rel_tol=1e-3)
    assert list(titan(runtime, "x", dimensions=512)["embeddingsByType"]) == ["float"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "required key [inputText] not found"),
        ({"inputText": ""}, "#/inputText"),
        ({"inputText": "x", "dimensions": 100}, "#/dimensions: 100 is not a valid enum value"),
        ({"inputText": "x", "normalize": "yes"}, "#/normalize"),
        ({"inputText": "x", "embeddingTypes": ["int8"]}, "#/embeddingTypes"),
        ({"inputText": "x", "textGenerationConfig": {}}, "extraneous key [textGenerationConfig]"),
    ],
)
def test_titan_v2_invalid_bodies(runtime: Any, body: dict, fragment: str) -> None:
    with pytest.raises(ClientError) as exc:
        invoke(runtime, V2, body)
    code, message, status = error_code(exc)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("Malformed input request:") and fragment in message


def test_titan_v1_and_multimodal(runtime: Any) -> None:
    v1 = titan(runtime, SIMILAR[0], model_id="amazon.titan-embed-text-v1")
    assert set(v1) == {"embedding", "inputTextTokenCount"} and len(v1["embedding"]) == 1536
    with pytest.raises(ClientError):
        titan(runtime, "x", model_id="amazon.titan-embed-text-v1", dimensions=256)  # G1 takes inputText only
    image = invoke(
        runtime,
        "amazon.titan-embed-image-v1",
        {"inputText": SIMILAR[0], "embeddingConfig": {"outputEmbeddingLength": 384}},
    )
    assert len(image["embedding"]) == 384
    with pytest.raises(ClientError):
        invoke(runtime, "amazon.titan-embed-image-v1", {"embeddingConfig": {"outputEmbeddingLength": 384}})


def test_cohere_embed(runtime: Any) -> None:
    texts = [*SIMILAR, UNRELATED]
    body = invoke(runtime, "cohere.embed-english-v3", {"texts": texts, "input_type": "search_document"})
    assert body["response_type"] == "embeddings_floats" and body["texts"] == texts and body["id"]
    a, b, c = body["embeddings"]
    assert len(a) == 1024 and cosine(a, b) > 0.5 > 0.2 > cosine(a, c)
    typed = invoke(
        runtime,
        "cohere.embed-multilingual-v3",
        {"texts": ["hi"], "input_type": "search_query", "embedding_types": ["float", "int8", "ubinary"]},
    )
    assert typed["response_type"] == "embeddings_by_type"
    assert len(typed["embeddings"]["int8"][0]) == 1024 and len(typed["embeddings"]["ubinary"][0]) == 128
    for bad in (
        {"texts": ["x"]},
        {"texts": ["x"] * 97, "input_type": "clustering"},
        {"input_type": "clustering"},
    ):
        with pytest.raises(ClientError) as exc:
            invoke(runtime, "cohere.embed-english-v3", bad)
        assert error_code(exc)[0] == "ValidationException"


@pytest.mark.parametrize("model_id", [V2, "cohere.embed-english-v3", "amazon.titan-embed-text-v1"])
def test_converse_refuses_embedding_models(runtime: Any, model_id: str) -> None:
    with pytest.raises(ClientError) as exc:
        runtime.converse(modelId=model_id, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    code, message, status = error_code(exc)
    assert (code, status) == ("ValidationException", 400) and "doesn't support the model" in message


def test_invoke_model_headers_are_parsed_by_boto3(runtime: Any) -> None:
    plain = runtime.invoke_model(modelId=V2, body=json.dumps({"inputText": "x"}))
    assert (plain["contentType"], plain["performanceConfigLatency"], plain["serviceTier"]) == (
        "application/json",
        "standard",
        "default",
    )
    echoed = runtime.invoke_model(
        modelId="meta.llama3-1-8b-instruct-v1:0",
        body=json.dumps({"prompt": "hi"}),
        performanceConfigLatency="optimized",
        serviceTier="flex",
    )
    assert (echoed["performanceConfigLatency"], echoed["serviceTier"]) == ("optimized", "flex")


def test_converse_echoes_performance_config_and_service_tier(runtime: Any) -> None:
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    plain = runtime.converse(modelId="amazon.nova-lite-v1:0", messages=messages)
    assert plain["usage"]["totalTokens"] > 0 and plain["metrics"]["latencyMs"] > 0
    assert "performanceConfig" not in plain and "serviceTier" not in plain
    tuned = runtime.converse(
        modelId="amazon.nova-lite-v1:0",
        messages=messages,
        performanceConfig={"latency": "optimized"},
        serviceTier={"type": "priority"},
    )
    assert tuned["performanceConfig"] == {"latency": "optimized"} and tuned["serviceTier"] == {
        "type": "priority"
    }


# --------------------------------------------------------------------------------------------------
# Imported models answer in the format of their architecture
# --------------------------------------------------------------------------------------------------


def imported(s3: Any, bedrock: Any, name: str, config: dict) -> str:
    s3.put_object(Bucket=BUCKET, Key=f"{name}/config.json", Body=json.dumps(config).encode())
    s3.put_object(Bucket=BUCKET, Key=f"{name}/model.safetensors", Body=b"\0")
    job_arn = bedrock.create_model_import_job(
        jobName=f"{name}-job",
        importedModelName=name,
        roleArn=ROLE,
        modelDataSource={"s3DataSource": {"s3Uri": f"s3://{BUCKET}/{name}/"}},
    )["jobArn"]
    job = wait_for(
        lambda: bedrock.get_model_import_job(jobIdentifier=job_arn), lambda j: j["status"] == "Completed"
    )
    return job["importedModelArn"]


QUESTION = "Explain smoke tests in two paragraphs."


def test_gpt_oss_import_answers_openai_shapes(s3: Any, bedrock: Any, runtime: Any) -> None:
    arn = imported(
        s3, bedrock, "my-gpt-oss", {"model_type": "gpt_oss", "architectures": ["GptOssForCausalLM"]}
    )
    chat = invoke(runtime, arn, {"messages": [{"role": "user", "content": QUESTION}], "max_tokens": 400})
    assert chat["object"] == "chat.completion" and chat["choices"][0]["finish_reason"] == "stop"
    assert "my-gpt-oss" in chat["choices"][0]["message"]["content"]
    assert chat["usage"]["completion_tokens"] > 0
    completion = invoke(runtime, arn, {"prompt": QUESTION, "max_tokens": 400})
    assert completion["object"] == "text_completion" and completion["choices"][0]["text"]
    assert "generation" not in completion
    with pytest.raises(ClientError) as exc:
        runtime.converse(modelId=arn, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert error_code(exc)[0] == "ValidationException"


@pytest.mark.parametrize(
    ("config", "converse"),
    [
        ({"model_type": "qwen2", "architectures": ["Qwen2ForCausalLM"]}, False),
        ({"model_type": "qwen3", "architectures": ["Qwen3ForCausalLM"]}, True),
        ({"model_type": "mistral", "architectures": ["MistralForCausalLM"]}, True),
    ],
)
def test_completion_imports_answer_generation(
    s3: Any, bedrock: Any, runtime: Any, config: dict, converse: bool
) -> None:
    arn = imported(s3, bedrock, f"my-{config['model_type']}", config)
    body = invoke(runtime, arn, {"prompt": QUESTION, "max_gen_len": 400, "stop": ["\n\n"]})
    assert body["generation"] and "\n\n" not in body["generation"] and body["stop_reason"] == "stop"
    chat = invoke(
        runtime, arn, {"messages": [{"role": "user", "content": [{"type": "text", "text": QUESTION}]}]}
    )
    assert chat["choices"][0]["message"]["content"]
    messages = [{"role": "user", "content": [{"text": "hi"}]}]
    if converse:
        assert runtime.converse(modelId=arn, messages=messages)["output"]["message"]["content"][0]["text"]
    else:
        with pytest.raises(ClientError) as exc:
            runtime.converse(modelId=arn, messages=messages)
        assert error_code(exc)[0] == "ValidationException"
