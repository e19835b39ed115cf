"""Nova 2 Lite fine-tuning: reasoning content in assistant turns, and a validation split kept for evaluation only."""

from __future__ import annotations

import pytest

from bedrock_customization.cli import main
from bedrock_customization.dataset.mapping import FieldMapping
from bedrock_customization.dataset.prepare import prepare, resolve_target
from bedrock_customization.exceptions import InvalidDatasetError

from .helpers import LLAMA32, NOVA, NOVA_2_LITE, check_record, qa_records, read_jsonl, write_jsonl

CONVERSATION = FieldMapping(conversation_key="messages")


def _thinking(i: int, reasoning: object = None, *, role: str = "assistant") -> dict[str, object]:
    """A conversation whose ``role`` turn carries a reasoning block (``reasoning`` replaces the block)."""
    block = (
        reasoning
        if reasoning is not None
        else {"reasoningContent": {"reasoningText": {"text": f"Think {i}."}}}
    )
    user: list[object] = [{"text": f"Question {i}: what is {i} + {i}?"}]
    assistant: list[object] = [{"text": f"{2 * i}"}]
    (assistant if role == "assistant" else user).insert(0, block)
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def test_reasoning_content_is_kept_in_the_documented_shape(tmp_path):
    write_jsonl(tmp_path / "raw.jsonl", [_thinking(i) for i in range(40)])
    report = prepare(
        tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=NOVA_2_LITE, mapping=CONVERSATION,
        validation_fraction=0,
    )  # fmt: skip
    assert report.records_written == 40
    records = read_jsonl(tmp_path / "out" / "train.jsonl")
    by_question = {r["messages"][0]["content"][0]["text"]: r for r in records}
    record = by_question["Question 3: what is 3 + 3?"]
    assert record["messages"][1]["content"] == [
        {"reasoningContent": {"reasoningText": {"text": "Think 3."}}},
        {"text": "6"},
    ]
    assert record["schemaVersion"] == "bedrock-conversation-2024"


def test_a_reasoning_signature_is_dropped_and_reasoning_counts_toward_tokens(tmp_path, patch_limits):
    signed = {"reasoningContent": {"reasoningText": {"text": "Think.", "signature": "sig"}}}
    write_jsonl(tmp_path / "raw.jsonl", [_thinking(i, signed) for i in range(10)])
    prepare(tmp_path / "raw.jsonl", tmp_path / "a", base_model_id=NOVA_2_LITE, mapping=CONVERSATION,
            validation_fraction=0)  # fmt: skip
    content = read_jsonl(tmp_path / "a" / "train.jsonl")[0]["messages"][1]["content"]
    assert content[0] == {"reasoningContent": {"reasoningText": {"text": "Think."}}}

    patch_limits(NOVA_2_LITE, max_tokens_per_record=20)
    long = {"reasoningContent": {"reasoningText": {"text": "x" * 60}}}
    write_jsonl(tmp_path / "long.jsonl", [_thinking(i, long) for i in range(10)])
    with pytest.raises(InvalidDatasetError) as excinfo:
        prepare(tmp_path / "long.jsonl", tmp_path / "b", base_model_id=NOVA_2_LITE, mapping=CONVERSATION)
    assert excinfo.value.report.rejection_counts == {"too_many_tokens": 10}


@pytest.mark.parametrize(
    ("model_id", "record", "reason", "message"),
    [
        (NOVA, _thinking(1), "reasoning_not_supported", "documented only for Nova 2 Lite"),
        (LLAMA32, _thinking(1), "reasoning_not_supported", "documented only for Nova 2 Lite"),
        (NOVA_2_LITE, _thinking(1, role="user"), "reasoning_not_supported", "assistant turns only"),
        (
            NOVA_2_LITE,
            _thinking(1, {"reasoningContent": {"redactedContent": "abc"}}),
            "bad_conversation",
            "redacted or image reasoning is not supported",
        ),
        (
            NOVA_2_LITE,
            _thinking(1, {"reasoningContent": {"reasoningText": {"text": " "}}}),
            "empty_field",
            "empty",
        ),
        (
            NOVA_2_LITE,
            _thinking(1, {"reasoningContent": {"reasoningText": {"text": "Assistant: yes"}}}),
            "reserved_word",
            "'Assistant:'",
        ),
    ],
    ids=["nova-1", "llama-3.2", "user-turn", "redacted", "empty", "reserved-word"],
)
def test_reasoning_content_is_rejected_where_not_documented(tmp_path, model_id, record, reason, message):
    write_jsonl(tmp_path / "raw.jsonl", [record, *[_thinking(i, {"text": "x"}) for i in range(2)]])
    with pytest.raises(InvalidDatasetError) as excinfo:
        prepare(tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=model_id, mapping=CONVERSATION)
    report = excinfo.value.report
    assert reason in report.rejection_counts
    assert any(message in example.message for example in report.rejections)


def test_two_reasoning_blocks_in_one_turn_are_rejected(tmp_path):
    block = {"reasoningContent": {"reasoningText": {"text": "Think."}}}
    record = _thinking(1)
    record["messages"][1]["content"].insert(0, block)
    write_jsonl(tmp_path / "raw.jsonl", [record])
    with pytest.raises(InvalidDatasetError) as excinfo:
        prepare(tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=NOVA_2_LITE, mapping=CONVERSATION)
    assert "2 reasoningContent blocks" in excinfo.value.report.rejections[0].message


def test_the_validation_split_is_kept_for_evaluation_and_flagged(tmp_path):
    target = resolve_target(NOVA_2_LITE)
    assert (target.validation_set, target.reasoning) == (False, True)
    assert resolve_target(NOVA).validation_set and not resolve_target(NOVA).reasoning
    write_jsonl(tmp_path / "raw.jsonl", qa_records(60))
    report = prepare(
        tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=NOVA_2_LITE,
        mapping=FieldMapping(prompt_key="question", completion_key="answer"), validation_fraction=0.25,
    )  # fmt: skip
    validation = read_jsonl(tmp_path / "out" / "validation.jsonl")
    assert validation and all(check_record(r, "bedrock_conversation_2024") for r in validation)
    assert any(
        "takes no validation set for FINE_TUNING" in warning and "held out for evaluation only" in warning
        for warning in report.warnings
    )
    other = prepare(
        tmp_path / "raw.jsonl", tmp_path / "nova", base_model_id=NOVA,
        mapping=FieldMapping(prompt_key="question", completion_key="answer"),
    )  # fmt: skip
    assert not any("takes no validation set" in warning for warning in other.warnings)


def test_cli_prepares_reasoning_records(tmp_path, capsys):
    write_jsonl(tmp_path / "raw.jsonl", [_thinking(i) for i in range(12)])
    code = main(["prepare", str(tmp_path / "raw.jsonl"), "--base-model", NOVA_2_LITE, "--out",
                 str(tmp_path / "out"), "--conversation-key", "messages"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    records = read_jsonl(tmp_path / "out" / "train.jsonl") + read_jsonl(tmp_path / "out" / "validation.jsonl")
    assert all("reasoningContent" in r["messages"][1]["content"][0] for r in records)


def test_reinforcement_fine_tuning_records_are_prompts_with_a_reference_answer(tmp_path):
    from bedrock_customization.evaluation.samples import read_samples

    raw = [{"question": f"What is {i} + {i}?", "answer": f"{2 * i}"} for i in range(130)]
    write_jsonl(tmp_path / "raw.jsonl", raw)
    mapping = FieldMapping(prompt_key="question", completion_key="answer", system_prompt="Add.")
    report = prepare(
        tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=NOVA_2_LITE,
        customization_type="REINFORCEMENT_FINE_TUNING", mapping=mapping, validation_fraction=0.1,
    )  # fmt: skip
    assert report.records_written == 130
    records = read_jsonl(tmp_path / "out" / "train.jsonl")
    by_question = {r["messages"][1]["content"]: r for r in records}
    assert by_question["What is 3 + 3?"] == {
        "messages": [{"role": "system", "content": "Add."}, {"role": "user", "content": "What is 3 + 3?"}],
        "reference_answer": "6",
    }
    # The held-out split reads back as prompt and reference for the evaluation.
    (sample, *_) = read_samples((tmp_path / "out" / "validation.jsonl").read_text())
    assert sample.system == "Add." and sample.reference == str(2 * int(sample.prompt.split()[2]))
    # RFT needs at least 100 training records (rft-prepare-data), more than Nova 2 Lite's fine-tuning minimum.
    with pytest.raises(InvalidDatasetError, match="needs at least 100: add records or lower the validation"):
        prepare(
            tmp_path / "raw.jsonl", tmp_path / "few", base_model_id=NOVA_2_LITE,
            customization_type="REINFORCEMENT_FINE_TUNING", mapping=mapping, validation_fraction=0.3,
        )  # fmt: skip
