"""Request parsing and response rendering of bedrock-runtime bodies, per model family."""

from __future__ import annotations

import json

import pytest

from include.local_aws.bodies import (
    ChatRequest,
    family_of,
    parse_converse,
    parse_invoke_body,
    render_converse,
    render_invoke_body,
)

# --------------------------------------------------------------------------------------------------
# family_of
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "family"),
    [
        ("amazon.titan-text-express-v1", "titan"),
        ("amazon.titan-text-express-v1:0:8k", "titan"),
        ("amazon.titan-text-lite-v1", "titan"),
        ("amazon.titan-text-premier-v1:0", "titan"),
        ("amazon.titan-tg1-large", "titan"),
        ("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-text-express-v1", "titan"),
        (
            "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.titan-text-express-v1:0:8k/abc123",
            "titan",
        ),
        ("anthropic.claude-3-haiku-20240307-v1:0", "anthropic"),
        ("anthropic.claude-3-haiku-20240307-v1:0:200k", "anthropic"),
        ("us.anthropic.claude-3-haiku-20240307-v1:0", "anthropic"),
        ("arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0", "anthropic"),
        ("meta.llama3-1-8b-instruct-v1:0", "meta"),
        ("meta.llama3-2-1b-instruct-v1:0:128k", "meta"),
        ("us.meta.llama3-2-1b-instruct-v1:0", "meta"),
        (
            "arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.meta.llama3-2-3b-instruct-v1:0",
            "meta",
        ),
        ("cohere.command-text-v14", "cohere"),
        ("cohere.command-light-text-v14:7:4k", "cohere"),
        ("amazon.nova-lite-v1:0", "nova"),
        ("amazon.nova-micro-v1:0:128k", "nova"),
        ("amazon.nova-2-lite-v1:0:256k", "nova"),
        ("us.amazon.nova-lite-v1:0", "nova"),
        ("eu.amazon.nova-pro-v1:0", "nova"),
        ("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0", "nova"),
        ("arn:aws:bedrock:us-east-1:123456789012:imported-model/abcd1234efgh", "imported"),
        ("amazon.titan-embed-text-v2:0", "titan-embed"),
        ("amazon.titan-embed-text-v1", "titan-embed"),
        ("amazon.titan-embed-image-v1", "titan-embed-image"),
        ("cohere.embed-english-v3", "cohere-embed"),
        ("amazon.nova-canvas-v1:0", "unknown"),
        ("mistral.mistral-7b-instruct-v0:2", "unknown"),
        ("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/xyz", "unknown"),
        ("", "unknown"),
        ("arn:", "unknown"),
        (None, "unknown"),
        (42, "unknown"),
    ],
)
def test_family_of(model_id: object, family: str) -> None:
    assert family_of(model_id) == family  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Titan
# --------------------------------------------------------------------------------------------------


def test_titan_round_trip() -> None:
    body = {
        "inputText": "User: What plans does Kumo Ledger offer?\nBot:",
        "textGenerationConfig": {
            "maxTokenCount": 256,
            "temperature": 0.2,
            "topP": 0.9,
            "stopSequences": ["|"],
        },
    }
    request = parse_invoke_body("titan", body)
    assert request.messages == [{"role": "user", "text": "What plans does Kumo Ledger offer?"}]
    assert request.max_tokens == 256
    assert request.stop_sequences == ["|"]
    assert request.system == "" and request.tool_config is None

    out = render_invoke_body("titan", "Three plans.", "max_tokens", 12, 3, "amazon.titan-text-express-v1")
    assert out == {
        "inputTextTokenCount": 12,
        "results": [{"tokenCount": 3, "outputText": "Three plans.", "completionReason": "LENGTH"}],
    }
    for reason, titan in [("end_turn", "FINISH"), ("stop_sequence", "STOP_CRITERIA_MET")]:
        rendered = render_invoke_body("titan", "x", reason, 1, 1, "amazon.titan-text-express-v1")
        assert rendered["results"][0]["completionReason"] == titan


def test_titan_minimal_body() -> None:
    request = parse_invoke_body("titan", {"inputText": "Hello"})
    assert request.messages == [{"role": "user", "text": "Hello"}]
    assert request.max_tokens is None and request.stop_sequences == []


# --------------------------------------------------------------------------------------------------
# Anthropic
# --------------------------------------------------------------------------------------------------


def test_anthropic_round_trip() -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 300,
        "system": "You are a support agent.",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
            {"role": "user", "content": [{"type": "text", "text": "What is the API rate limit?"}]},
        ],
        "stop_sequences": ["\n\nHuman:"],
        "temperature": 0.5,
        "top_k": 250,
    }
    request = parse_invoke_body("anthropic", body)
    assert request.system == "You are a support agent."
    assert [m["role"] for m in request.messages] == ["user", "assistant", "user"]
    assert request.messages[-1]["text"] == "What is the API rate limit?"
    assert request.max_tokens == 300
    assert request.stop_sequences == ["\n\nHuman:"]

    model_id = "anthropic.claude-3-haiku-20240307-v1:0"
    out = render_invoke_body(
        "anthropic", "120 per minute.", "stop_sequence", 30, 4, model_id, stop_sequence="\n\n"
    )
    assert set(out) == {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
    assert out["id"].startswith("msg_bdrk_")
    assert out["type"] == "message" and out["role"] == "assistant"
    assert out["model"] == "claude-3-haiku-20240307"
    assert out["content"] == [{"type": "text", "text": "120 per minute."}]
    assert out["stop_reason"] == "stop_sequence" and out["stop_sequence"] == "\n\n"
    assert out["usage"] == {"input_tokens": 30, "output_tokens": 4}
    assert render_invoke_body("anthropic", "x", "end_turn", 1, 1, model_id)["stop_sequence"] is None
    assert render_invoke_body("anthropic", "x", "max_tokens", 1, 1, model_id)["stop_reason"] == "max_tokens"
    # Deterministic ids: same inputs, same id.
    assert out["id"] == render_invoke_body("anthropic", "120 per minute.", "end_turn", 1, 1, model_id)["id"]


def test_anthropic_tools_become_tool_config() -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Grade it"}],
        "tools": [
            {"name": "grade", "description": "d", "input_schema": {"type": "object", "properties": {}}}
        ],
        "tool_choice": {"type": "tool", "name": "grade"},
    }
    config = parse_invoke_body("anthropic", body).tool_config
    assert config is not None
    assert config["tools"][0]["toolSpec"]["name"] == "grade"
    assert config["tools"][0]["toolSpec"]["inputSchema"]["json"] == {"type": "object", "properties": {}}
    assert config["toolChoice"] == {"tool": {"name": "grade"}}


# --------------------------------------------------------------------------------------------------
# Meta (Llama)
# --------------------------------------------------------------------------------------------------


def test_meta_llama3_template_is_stripped() -> None:
    prompt = (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHow do I install the CLI?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    request = parse_invoke_body(
        "meta", {"prompt": prompt, "max_gen_len": 512, "temperature": 0.1, "top_p": 0.9}
    )
    assert request.system == "Be brief."
    assert request.messages == [{"role": "user", "text": "How do I install the CLI?"}]
    assert request.max_tokens == 512

    out = render_invoke_body("meta", "pip install it.", "max_tokens", 40, 5, "meta.llama3-1-8b-instruct-v1:0")
    assert out == {
        "generation": "pip install it.",
        "prompt_token_count": 40,
        "generation_token_count": 5,
        "stop_reason": "length",
    }
    assert render_invoke_body("meta", "x", "end_turn", 1, 1, "m")["stop_reason"] == "stop"
    assert render_invoke_body("meta", "x", "stop_sequence", 1, 1, "m")["stop_reason"] == "stop"


def test_meta_multi_turn_and_plain_prompts() -> None:
    prompt = (
        "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nAnd the trial?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    request = parse_invoke_body("meta", {"prompt": prompt})
    assert [m["role"] for m in request.messages] == ["user", "assistant", "user"]
    assert request.messages[-1]["text"] == "And the trial?"
    llama2 = "<s>[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nWhat is KL-1003? [/INST]"
    request = parse_invoke_body("meta", {"prompt": llama2})
    assert request.system == "Be kind."
    assert request.messages == [{"role": "user", "text": "What is KL-1003?"}]
    assert parse_invoke_body("meta", {"prompt": "Plain text"}).messages == [
        {"role": "user", "text": "Plain text"}
    ]


# --------------------------------------------------------------------------------------------------
# Cohere
# --------------------------------------------------------------------------------------------------


def test_cohere_round_trip() -> None:
    body = {"prompt": "What is KL-5000?", "max_tokens": 200, "temperature": 0.8, "p": 0.9, "k": 10}
    body["stop_sequences"] = ["--"]
    body["return_likelihoods"] = "NONE"
    request = parse_invoke_body("cohere", body)
    assert request.messages == [{"role": "user", "text": "What is KL-5000?"}]
    assert request.max_tokens == 200 and request.stop_sequences == ["--"]

    out = render_invoke_body(
        "cohere", "Retry.", "max_tokens", 5, 2, "cohere.command-text-v14", prompt=body["prompt"]
    )
    assert set(out) == {"id", "generations", "prompt"}
    assert out["prompt"] == "What is KL-5000?"
    generation = out["generations"][0]
    assert set(generation) == {"id", "text", "finish_reason"}
    assert generation["text"] == "Retry." and generation["finish_reason"] == "MAX_TOKENS"
    assert (
        render_invoke_body("cohere", "x", "end_turn", 1, 1, "c")["generations"][0]["finish_reason"]
        == "COMPLETE"
    )


# --------------------------------------------------------------------------------------------------
# Nova
# --------------------------------------------------------------------------------------------------


def test_nova_round_trip() -> None:
    body = {
        "schemaVersion": "messages-v1",
        "system": [{"text": "Answer briefly."}],
        "messages": [{"role": "user", "content": [{"text": "Where is data stored?"}]}],
        "inferenceConfig": {"maxTokens": 128, "temperature": 0.3, "topP": 0.9, "stopSequences": ["END"]},
    }
    request = parse_invoke_body("nova", body)
    assert request.system == "Answer briefly."
    assert request.messages == [{"role": "user", "text": "Where is data stored?"}]
    assert request.max_tokens == 128 and request.stop_sequences == ["END"]

    alias = parse_invoke_body("nova", {**body, "inferenceConfig": {"max_new_tokens": 64}})
    assert alias.max_tokens == 64

    out = render_invoke_body("nova", "Tokyo.", "end_turn", 9, 2, "amazon.nova-lite-v1:0")
    assert out == {
        "output": {"message": {"role": "assistant", "content": [{"text": "Tokyo."}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 9, "outputTokens": 2, "totalTokens": 11},
    }


# --------------------------------------------------------------------------------------------------
# Imported (Custom Model Import)
# --------------------------------------------------------------------------------------------------


def test_imported_round_trip() -> None:
    request = parse_invoke_body(
        "imported",
        {"prompt": "Tell me a story", "max_gen_len": 50, "temperature": 0.7, "top_p": 0.9, "stop": ["\n\n"]},
    )
    assert request.messages == [{"role": "user", "text": "Tell me a story"}]
    assert request.max_tokens == 50 and request.stop_sequences == ["\n\n"]
    assert parse_invoke_body("imported", {"prompt": "x", "max_tokens": 7, "stop": "END"}).max_tokens == 7
    assert parse_invoke_body("imported", {"prompt": "x", "stop": "END"}).stop_sequences == ["END"]
    chat = parse_invoke_body(
        "imported", {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]}
    )
    assert chat.system == "S" and chat.messages == [{"role": "user", "text": "Q"}]

    arn = "arn:aws:bedrock:us-east-1:123456789012:imported-model/abc"
    out = render_invoke_body("imported", "Once.", "stop_sequence", 4, 2, arn)
    assert out == {
        "generation": "Once.",
        "generation_token_count": 2,
        "prompt_token_count": 4,
        "stop_reason": "stop",
    }


def test_unknown_family_guesses_from_keys() -> None:
    assert parse_invoke_body("unknown", {"inputText": "Hi"}).messages[0]["text"] == "Hi"
    assert parse_invoke_body("unknown", {"prompt": "Hi"}).messages[0]["text"] == "Hi"
    rendered = render_invoke_body("unknown", "x", "end_turn", 1, 1, "mystery")
    assert rendered["generation"] == "x"


# --------------------------------------------------------------------------------------------------
# Malformed InvokeModel bodies
# --------------------------------------------------------------------------------------------------

_CLAUDE_OK = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 10,
    "messages": [{"role": "user", "content": "Hi"}],
}
_NOVA_OK = {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}


@pytest.mark.parametrize(
    ("family", "body", "field"),
    [
        ("titan", {}, "inputText"),
        ("titan", {"inputText": ""}, "inputText"),
        ("titan", {"inputText": 5}, "inputText"),
        ("titan", {"inputText": "x", "textGenerationConfig": {"maxTokenCount": "many"}}, "maxTokenCount"),
        ("titan", {"inputText": "x", "textGenerationConfig": {"maxTokenCount": 99999}}, "maxTokenCount"),
        ("titan", {"inputText": "x", "textGenerationConfig": {"temperature": 3}}, "temperature"),
        ("titan", {"inputText": "x", "textGenerationConfig": {"stopSequences": "|"}}, "stopSequences"),
        ("titan", {"inputText": "x", "textGenerationConfig": {"max_tokens": 5}}, "max_tokens"),
        ("titan", {"inputText": "x", "prompt": "y"}, "prompt"),
        ("anthropic", {k: v for k, v in _CLAUDE_OK.items() if k != "max_tokens"}, "max_tokens"),
        ("anthropic", {k: v for k, v in _CLAUDE_OK.items() if k != "anthropic_version"}, "anthropic_version"),
        ("anthropic", {**_CLAUDE_OK, "anthropic_version": "2023-01-01"}, "anthropic_version"),
        ("anthropic", {**_CLAUDE_OK, "max_tokens": 0}, "max_tokens"),
        ("anthropic", {**_CLAUDE_OK, "messages": []}, "messages"),
        (
            "anthropic",
            {**_CLAUDE_OK, "messages": [{"role": "assistant", "content": "Hi"}]},
            "messages.0.role",
        ),
        ("anthropic", {**_CLAUDE_OK, "messages": [{"role": "bot", "content": "Hi"}]}, "messages.0.role"),
        ("anthropic", {**_CLAUDE_OK, "messages": [{"role": "user", "content": ""}]}, "messages.0.content"),
        ("anthropic", {**_CLAUDE_OK, "messages": [{"role": "user"}]}, "messages.0.content"),
        (
            "anthropic",
            {**_CLAUDE_OK, "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
            "messages.1.role",
        ),
        ("anthropic", {**_CLAUDE_OK, "prompt": "x"}, "prompt"),
        ("anthropic", {**_CLAUDE_OK, "temperature": 2}, "temperature"),
        ("meta", {}, "prompt"),
        ("meta", {"prompt": "x", "max_gen_len": 5000}, "max_gen_len"),
        ("meta", {"prompt": "x", "top_p": 1.5}, "top_p"),
        ("meta", {"prompt": "x", "max_tokens": 5}, "max_tokens"),
        ("cohere", {}, "prompt"),
        ("cohere", {"prompt": "x", "max_tokens": 0}, "max_tokens"),
        ("cohere", {"prompt": "x", "stop_sequences": ["a", "b", "c", "d", "e"]}, "stop_sequences"),
        ("cohere", {"prompt": "x", "return_likelihoods": "SOME"}, "return_likelihoods"),
        ("nova", {}, "messages"),
        ("nova", {**_NOVA_OK, "schemaVersion": "v2"}, "schemaVersion"),
        ("nova", {"messages": [{"role": "user", "content": []}]}, "messages.0.content"),
        ("nova", {"messages": [{"role": "user", "content": "Hi"}]}, "messages.0.content"),
        ("nova", {"messages": [{"role": "assistant", "content": [{"text": "Hi"}]}]}, "messages.0.role"),
        ("nova", {**_NOVA_OK, "inferenceConfig": {"maxTokens": -1}}, "maxTokens"),
        ("nova", {**_NOVA_OK, "inferenceConfig": {"max_tokens": 5}}, "max_tokens"),
        ("nova", {**_NOVA_OK, "system": "be brief"}, "system"),
        ("imported", {}, "prompt"),
        ("imported", {"prompt": "x", "max_gen_len": "ten"}, "max_gen_len"),
        ("imported", {"prompt": "x", "stop": [1]}, "stop"),
        ("titan", [], "body"),
    ],
)
def test_malformed_invoke_bodies_name_the_field(family: str, body: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        parse_invoke_body(family, body)


# --------------------------------------------------------------------------------------------------
# Converse
# --------------------------------------------------------------------------------------------------

_TOOL_CONFIG = {
    "tools": [
        {
            "toolSpec": {
                "name": "record_score",
                "description": "Record a grade.",
                "inputSchema": {"json": {"type": "object", "properties": {"score": {"type": "integer"}}}},
            }
        }
    ],
    "toolChoice": {"tool": {"name": "record_score"}},
}


def test_parse_converse() -> None:
    body = {
        "messages": [
            {"role": "user", "content": [{"text": "First"}, {"text": "question"}]},
            {"role": "assistant", "content": [{"text": "Answer"}]},
            {"role": "user", "content": [{"text": "Follow-up"}]},
        ],
        "system": [{"text": "Rule one."}, {"text": "Rule two."}],
        "inferenceConfig": {"maxTokens": 64, "temperature": 0.0, "topP": 1.0, "stopSequences": ["\n\n"]},
        "toolConfig": _TOOL_CONFIG,
    }
    request = parse_converse(body)
    assert isinstance(request, ChatRequest)
    assert request.system == "Rule one.\n\nRule two."
    assert request.messages == [
        {"role": "user", "text": "First\nquestion"},
        {"role": "assistant", "text": "Answer"},
        {"role": "user", "text": "Follow-up"},
    ]
    assert request.max_tokens == 64
    assert request.stop_sequences == ["\n\n"]
    assert request.tool_config == _TOOL_CONFIG
    minimal = parse_converse({"messages": [{"role": "user", "content": [{"text": "Hi"}]}]})
    assert minimal.system == "" and minimal.max_tokens is None and minimal.tool_config is None


def test_parse_converse_tool_result_text_is_kept() -> None:
    body = {
        "messages": [
            {"role": "user", "content": [{"text": "Grade"}]},
            {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "g", "input": {}}}]},
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "ok"}]}}]},
        ]
    }
    assert parse_converse(body).messages[-1] == {"role": "user", "text": "ok"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "assistant", "content": [{"text": "Hi"}]}]}, "messages.0.role"),
        ({"messages": [{"role": "user", "content": []}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": "Hi"}]}, "messages.0.content"),
        ({"messages": [{"role": "user", "content": [{"text": "   "}]}]}, "messages.0.content.0.text"),
        ({"messages": [{"role": "user", "content": [{"bogus": 1}]}]}, "messages.0.content.0"),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"text": "a"}]},
                    {"role": "user", "content": [{"text": "b"}]},
                ]
            },
            "messages.1.role",
        ),
        (
            {"messages": [{"role": "user", "content": [{"text": "a"}]}], "inferenceConfig": {"maxTokens": 0}},
            "maxTokens",
        ),
        (
            {
                "messages": [{"role": "user", "content": [{"text": "a"}]}],
                "inferenceConfig": {"temperature": 2},
            },
            "temperature",
        ),
        (
            {
                "messages": [{"role": "user", "content": [{"text": "a"}]}],
                "inferenceConfig": {"stopSequences": "x"},
            },
            "stopSequences",
        ),
        (
            {
                "messages": [{"role": "user", "content": [{"text": "a"}]}],
                "inferenceConfig": {"max_tokens": 5},
            },
            "max_tokens",
        ),
        ({"messages": [{"role": "user", "content": [{"text": "a"}]}], "system": "text"}, "system"),
        (
            {"messages": [{"role": "user", "content": [{"text": "a"}]}], "toolConfig": {"tools": []}},
            "toolConfig.tools",
        ),
        (
            {
                "messages": [{"role": "user", "content": [{"text": "a"}]}],
                "toolConfig": {"tools": [{"toolSpec": {"name": "x"}}]},
            },
            "inputSchema",
        ),
        ({"messages": [{"role": "user", "content": [{"text": "a"}]}], "inputText": "x"}, "inputText"),
    ],
)
def test_parse_converse_rejects_malformed(body: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        parse_converse(body)


def test_render_converse_text_and_tool_use() -> None:
    out = render_converse("Hello", "end_turn", 10, 2)
    assert out["output"] == {"message": {"role": "assistant", "content": [{"text": "Hello"}]}}
    assert out["stopReason"] == "end_turn"
    assert out["usage"] == {"inputTokens": 10, "outputTokens": 2, "totalTokens": 12}
    assert isinstance(out["metrics"]["latencyMs"], int)
    assert out == render_converse("Hello", "end_turn", 10, 2)  # deterministic

    tool_use = {"toolUseId": "tooluse_abc", "name": "record_score", "input": {"score": 7}}
    out = render_converse("", "end_turn", 10, 5, tool_use=tool_use)
    assert out["output"]["message"]["content"] == [{"toolUse": tool_use}]
    assert out["stopReason"] == "tool_use"
    json.dumps(out)  # JSON-serialisable
