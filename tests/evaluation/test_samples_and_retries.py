"""Validation records in every Bedrock training format, seeded sampling, and retries with backoff."""

from __future__ import annotations

import json

import pytest

from bedrock_customization.evaluation import EvaluationError
from bedrock_customization.evaluation.invoke import (
    RetryPolicy,
    call_with_retries,
    converse_request,
    error_code,
    reply_text,
)
from bedrock_customization.evaluation.samples import Sample, parse_record, read_samples, select_samples

PROMPT_COMPLETION = {"prompt": "How much is Grove?", "completion": "$79 per month."}
CLAUDE = {
    "system": "You are Kumo Ledger support.",
    "messages": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "How much is Grove?"},
        {"role": "assistant", "content": "$79 per month."},
    ],
}
CONVERSATION_2024 = {
    "schemaVersion": "bedrock-conversation-2024",
    "system": [{"text": "You are Kumo Ledger support."}],
    "messages": [
        {"role": "user", "content": [{"text": "How much is Grove?"}]},
        {"role": "assistant", "content": [{"text": "$79 per month."}]},
    ],
}


def jsonl(*records) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def test_every_format_gives_prompt_and_reference():
    samples = read_samples(jsonl(PROMPT_COMPLETION, CLAUDE, CONVERSATION_2024) + "\n", "s3://b/v.jsonl")
    assert [(s.index, s.line, s.prompt, s.reference) for s in samples] == [
        (0, 1, "How much is Grove?", "$79 per month."),
        (1, 2, "How much is Grove?", "$79 per month."),
        (2, 3, "How much is Grove?", "$79 per month."),
    ]
    assert (
        samples[0].system == "" and samples[1].system == samples[2].system == "You are Kumo Ledger support."
    )
    assert samples[1].history == (("user", "Hi"), ("assistant", "Hello! How can I help?"))
    assert samples[2].history == ()


def test_converse_request_carries_system_and_history():
    sample = parse_record(CLAUDE)
    request = converse_request("m", sample, {"maxTokens": 64, "temperature": 0.0})
    assert request["system"] == [{"text": "You are Kumo Ledger support."}]
    assert [m["role"] for m in request["messages"]] == ["user", "assistant", "user"]
    assert request["messages"][-1] == {"role": "user", "content": [{"text": "How much is Grove?"}]}
    assert "system" not in converse_request("m", parse_record(PROMPT_COMPLETION), {})


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"prompt": "q"}, "line 4: 'completion' must be a non-empty string"),
        ({"input": "text"}, "line 4: continued pre-training records"),
        ({"messages": [{"role": "user", "content": "q"}]}, "line 4: the last message is a user turn"),
        ({"messages": [{"role": "system", "content": "x"}]}, "line 4: message 1 needs role"),
        (
            {"question": "q", "answer": "a"},
            r"line 4: unknown record shape with keys \['answer', 'question'\]",
        ),
    ],
)
def test_bad_records_name_the_file_and_line(record, message):
    text = jsonl(PROMPT_COMPLETION, PROMPT_COMPLETION) + "\n" + jsonl(record)
    with pytest.raises(EvaluationError, match=rf"s3://b/v\.jsonl {message}"):
        read_samples(text, "s3://b/v.jsonl")


def test_invalid_json_and_empty_files():
    with pytest.raises(EvaluationError, match="v.jsonl line 2: not valid JSON"):
        read_samples(jsonl(PROMPT_COMPLETION) + "{oops\n", "v.jsonl")
    with pytest.raises(EvaluationError, match="has no records"):
        read_samples("\n\n", "v.jsonl")


def test_sampling_is_deterministic_by_seed_and_keeps_file_order():
    samples = [Sample(i, i + 1, f"q{i}", f"a{i}") for i in range(50)]
    first = select_samples(samples, 10, seed=7)
    assert first == select_samples(samples, 10, seed=7)
    assert [s.index for s in first] == sorted(s.index for s in first)
    assert len(first) == 10 and len({s.index for s in first}) == 10
    assert [s.index for s in select_samples(samples, 10, seed=8)] != [s.index for s in first]
    assert select_samples(samples, None, seed=7) == samples
    assert select_samples(samples, 0, seed=7) == samples
    assert select_samples(samples, 500, seed=7) == samples


# ------------------------------------------------------------------------------------------------ retries


class ClientErrorLike(Exception):
    """Shaped like botocore's ClientError."""

    def __init__(self, code: str, message: str = "slow down") -> None:
        super().__init__(f"{code}: {message}")
        self.response = {"Error": {"Code": code, "Message": message}}


def flaky(failures: list[str]):
    """A call failing with each code in ``failures`` in turn, then answering ``"ok"``."""
    calls = []

    def call():
        calls.append(1)
        if len(calls) <= len(failures):
            raise ClientErrorLike(failures[len(calls) - 1])
        return "ok"

    return call, calls


def test_retryable_errors_are_retried_with_growing_jittered_delays():
    call, calls = flaky(["ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException"])
    slept, retries_seen = [], []
    result, retries = call_with_retries(
        call,
        what="Converse with the candidate model m on sample 3",
        policy=RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=3.0),
        on_retry=lambda n, code, delay: retries_seen.append((n, code)),
        sleep=slept.append,
        rng=lambda: 1.0,
    )
    assert (result, retries, len(calls)) == ("ok", 3, 4)
    assert retries_seen == [
        (1, "ThrottlingException"),
        (2, "ServiceUnavailableException"),
        (3, "ModelNotReadyException"),
    ]
    assert slept == [1.0, 2.0, 3.0]  # 1, 2, then capped at max_delay
    policy = RetryPolicy(base_delay=2.0, max_delay=100.0)
    assert policy.delay(3, rng=lambda: 0.0) == 4.0 and policy.delay(3, rng=lambda: 1.0) == 8.0


def test_other_errors_fail_at_once_naming_the_call():
    call, calls = flaky(["ResourceNotFoundException"])
    with pytest.raises(
        EvaluationError, match="candidate model m on sample 3 failed: ResourceNotFoundException: slow down"
    ):
        call_with_retries(call, what="Converse with the candidate model m on sample 3", sleep=lambda s: None)
    assert len(calls) == 1


def test_attempts_are_capped():
    call, calls = flaky(["ThrottlingException"] * 10)
    with pytest.raises(
        EvaluationError, match="sample 3 still failed after 3 attempts \\(ThrottlingException"
    ):
        call_with_retries(call, what="sample 3", policy=RetryPolicy(max_attempts=3), sleep=lambda s: None)
    assert len(calls) == 3


def test_error_code_and_reply_text():
    assert error_code(ClientErrorLike("ThrottlingException")) == "ThrottlingException"
    assert error_code(ValueError("x")) is None
    reply = {"output": {"message": {"content": [{"text": "a"}, {"image": {}}, {"text": "b"}]}}}
    assert reply_text(reply) == "ab"
    assert reply_text({}) == ""
