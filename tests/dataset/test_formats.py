"""Every input form converts to every model family's record format, and the texts survive the trip."""

from __future__ import annotations

import json

import orjson
import pytest

from bedrock_customization import catalog
from bedrock_customization.dataset.formats import ENCODERS
from bedrock_customization.dataset.mapping import FieldMapping
from bedrock_customization.dataset.prepare import prepare

from .helpers import PLAIN, SUFFIX, WRITERS, check_record, qa_records, read_jsonl, write_jsonl

SYSTEM = 'You answer "briefly" in English or 日本語.'
TARGETS = [
    (model.id, ctype, model.record_formats[ctype])
    for model in catalog.list_models()
    for ctype in model.customization_types
    if model.record_formats[ctype] in ENCODERS
]
CHAT_FORMATS = ("claude_messages", "bedrock_conversation_2024", "distillation_prompts", "rft_prompts")
VARIANTS = {
    "plain": {},
    "bom_crlf_blank_lines": {"bom": True, "crlf": True, "blank_every": 3},
}


def _mapping(record_format: str) -> FieldMapping:
    if record_format == "continued_pretraining":
        return FieldMapping(text_key="text")
    if record_format in CHAT_FORMATS:
        return FieldMapping(prompt_key="question", completion_key="answer", system_prompt=SYSTEM)
    return FieldMapping(prompt_key="question", completion_key="answer")


def _expected(record: dict[str, str], record_format: str) -> list[tuple[str, str]]:
    if record_format == "continued_pretraining":
        return [("text", record["text"])]
    return [("user", record["question"]), ("assistant", record["answer"])]


def test_every_customizable_model_and_type_is_covered():
    formats = {fmt for _, _, fmt in TARGETS}
    # continued_pretraining was Titan Text's (withdrawn): it is covered by forcing the format below.
    assert formats == set(catalog.RECORD_FORMATS) - {"continued_pretraining"}
    assert set(ENCODERS) == set(catalog.RECORD_FORMATS)
    assert {model for model, _, _ in TARGETS} == {m.id for m in catalog.list_models()} - {PLAIN}


def test_continued_pretraining_records_can_still_be_written(tmp_path):
    records = qa_records(20)
    write_jsonl(tmp_path / "raw.jsonl", records)
    report = prepare(
        tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=PLAIN, record_format="continued_pretraining",
        mapping=FieldMapping(text_key="text"), validation_fraction=0,
    )  # fmt: skip
    assert any("continued_pretraining was forced" in warning for warning in report.warnings)
    written = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert [record["input"] for record in written] == [record["text"] for record in records]


def test_continued_pretraining_maps_text_key_for_a_model_that_offers_it(tmp_path, monkeypatch):
    from bedrock_customization.exceptions import InvalidDatasetError

    from .helpers import offer_continued_pre_training

    offer_continued_pre_training(monkeypatch)
    rows = [{"body": f"Plan {i} includes {i * 10} GB of storage.", "id": i} for i in range(12)]
    write_jsonl(tmp_path / "docs.jsonl", rows)
    report = prepare(
        tmp_path / "docs.jsonl", tmp_path / "out", base_model_id=PLAIN, customization_type="CONTINUED_PRE_TRAINING",
        mapping=FieldMapping(text_key="body"), validation_fraction=0,
    )  # fmt: skip
    assert report.record_format == "continued_pretraining"
    assert not any("forced" in warning for warning in report.warnings)
    assert read_jsonl(tmp_path / "out" / "train.jsonl") == [{"input": row["body"]} for row in rows]
    # Question/answer data has no text field: the error names the option to set.
    write_jsonl(tmp_path / "qa.jsonl", qa_records(12))
    with pytest.raises(InvalidDatasetError, match="text_key"):
        prepare(
            tmp_path / "qa.jsonl", tmp_path / "out2", base_model_id=PLAIN, customization_type="CONTINUED_PRE_TRAINING",
            mapping=FieldMapping(text_key="body"), validation_fraction=0,
        )  # fmt: skip


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("input_format", ["json", "jsonl", "csv"])
@pytest.mark.parametrize(
    ("model_id", "ctype", "record_format"), TARGETS, ids=[f"{m}-{c}" for m, c, _ in TARGETS]
)
def test_round_trip(tmp_path, model_id, ctype, record_format, input_format, variant):
    records = qa_records(130)
    source = tmp_path / f"raw{SUFFIX[input_format]}"
    options = dict(VARIANTS[variant])
    if input_format == "jsonl" and variant == "plain":
        options["ensure_ascii"] = True  # \uXXXX escapes in the input must come out as the same text
    WRITERS[input_format](source, records, **options)

    report = prepare(
        source,
        tmp_path / "out",
        base_model_id=model_id,
        customization_type=ctype,
        mapping=_mapping(record_format),
        validation_fraction=0.05,
        seed=3,
    )

    assert report.ok and report.records_read == 130 and report.records_rejected == 0
    assert report.record_format == record_format and report.input_format == input_format
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "report.json",
        "train.jsonl",
        "validation.jsonl",
    ]
    written = []
    for name in ("train.jsonl", "validation.jsonl"):
        raw_lines = (tmp_path / "out" / name).read_bytes().splitlines()
        for raw in raw_lines:
            record = orjson.loads(raw)
            turns = check_record(record, record_format)
            written.append(turns)
            if record_format in ("claude_messages", "bedrock_conversation_2024", "distillation_prompts"):
                system = (
                    record["system"] if record_format == "claude_messages" else record["system"][0]["text"]
                )
                assert system == SYSTEM
            if record_format == "rft_prompts":
                assert record["messages"][0] == {"role": "system", "content": SYSTEM}
            if input_format != "jsonl" or variant != "plain":  # no escapes in the input: canonical bytes
                assert raw == orjson.dumps(record)
    assert sorted(written) == sorted(_expected(r, record_format) for r in records)
    summary = json.loads((tmp_path / "out" / "report.json").read_text())
    assert summary["ok"] is True
    assert summary["train"]["records"] + summary["validation"]["records"] == 130


def test_conversations_convert_between_chat_formats(tmp_path):
    """A multi-turn Claude-style dataset becomes bedrock-conversation-2024 records with every turn."""
    conversations = [
        {
            "system": f"System {i}",
            "messages": [
                {"role": "user", "content": f"Hi {i}"},
                {"role": "assistant", "content": [{"text": f"Hello {i}"}]},
                {"role": "User", "content": f"More {i}?"},
                {"role": "assistant", "content": f"Sure {i}."},
            ],
        }
        for i in range(10)
    ]
    WRITERS["jsonl"](tmp_path / "chat.jsonl", conversations)
    report = prepare(
        tmp_path / "chat.jsonl",
        tmp_path / "out",
        base_model_id="amazon.nova-micro-v1:0:128k",
        mapping=FieldMapping(conversation_key="messages", system_key="system"),
        validation_fraction=0,
    )
    assert report.ok and report.validation is None
    assert not (tmp_path / "out" / "validation.jsonl").exists()
    records = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert len(records) == 10
    for i, record in enumerate(records):
        turns = check_record(record, "bedrock_conversation_2024")
        assert record["system"] == [{"text": f"System {i}"}]
        assert turns == [
            ("user", f"Hi {i}"),
            ("assistant", f"Hello {i}"),
            ("user", f"More {i}?"),
            ("assistant", f"Sure {i}."),
        ]


def test_conversation_with_leading_system_message_to_claude(tmp_path):
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Be kind."},
                {"role": "user", "content": f"Q{i}"},
                {"role": "assistant", "content": f"A{i}"},
            ]
        }
        for i in range(40)
    ]
    WRITERS["json"](tmp_path / "chat.json", rows)
    prepare(
        tmp_path / "chat.json",
        tmp_path / "out",
        base_model_id="anthropic.claude-3-haiku-20240307-v1:0:200k",
        mapping=FieldMapping(conversation_key="messages"),
        validation_fraction=0,
    )
    records = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert records[0] == {
        "system": "Be kind.",
        "messages": [{"role": "user", "content": "Q0"}, {"role": "assistant", "content": "A0"}],
    }


def test_distillation_keeps_the_answers_of_conversations_as_golden_examples(tmp_path):
    rows = [
        {"messages": [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": f"A{i}"}]}
        for i in range(8)
    ]
    WRITERS["jsonl"](tmp_path / "d.jsonl", rows)
    prepare(
        tmp_path / "d.jsonl",
        tmp_path / "out",
        base_model_id="amazon.nova-pro-v1:0:300k",
        customization_type="DISTILLATION",
        mapping=FieldMapping(conversation_key="messages"),
        validation_fraction=0,
    )
    records = read_jsonl(tmp_path / "out" / "train.jsonl")
    assert [check_record(r, "distillation_prompts") for r in records] == [
        [("user", f"Q{i}"), ("assistant", f"A{i}")] for i in range(8)
    ]


def test_distillation_takes_prompts_with_and_without_answers(tmp_path):
    # Prompts only, answered ones, and an empty answer (a prompt only): the assistant turn is optional.
    rows = [{"question": f"Q{i}"} for i in range(4)] + [
        {"question": f"Q{i}", "answer": f"A{i}" if i % 2 else ""} for i in range(4, 10)
    ]
    WRITERS["jsonl"](tmp_path / "d.jsonl", rows)
    report = prepare(
        tmp_path / "d.jsonl",
        tmp_path / "out",
        base_model_id="amazon.nova-micro-v1:0:128k",
        customization_type="DISTILLATION",
        mapping=FieldMapping(prompt_key="question", completion_key="answer"),
        validation_fraction=0,
    )
    assert report.record_format == "distillation_prompts"
    turns = [check_record(r, "distillation_prompts") for r in read_jsonl(tmp_path / "out" / "train.jsonl")]
    assert sorted(turns) == sorted(
        [[("user", f"Q{i}")] for i in (0, 1, 2, 3, 4, 6, 8)]
        + [[("user", f"Q{i}"), ("assistant", f"A{i}")] for i in (5, 7, 9)]
    )


def test_forced_format_is_used_and_warned_about(tmp_path):
    WRITERS["jsonl"](tmp_path / "qa.jsonl", qa_records(10))
    report = prepare(
        tmp_path / "qa.jsonl",
        tmp_path / "out",
        base_model_id="amazon.nova-lite-v1:0:300k",
        record_format="prompt_completion",
        mapping=FieldMapping("question", "answer"),
        validation_fraction=0,
    )
    assert report.record_format == "prompt_completion"
    assert any("forced" in w for w in report.warnings)
    assert all(set(r) == {"prompt", "completion"} for r in read_jsonl(tmp_path / "out" / "train.jsonl"))


def test_csv_conversation_cell_holds_json(tmp_path):
    rows = [
        {
            "id": str(i),
            "chat": json.dumps(
                [{"role": "user", "content": f"Q{i}"}, {"role": "assistant", "content": f"A{i}"}]
            ),
        }
        for i in range(8)
    ]
    WRITERS["csv"](tmp_path / "c.csv", rows)
    prepare(
        tmp_path / "c.csv",
        tmp_path / "out",
        base_model_id="amazon.nova-lite-v1:0:300k",
        mapping=FieldMapping(conversation_key="chat"),
        validation_fraction=0,
    )
    assert len(read_jsonl(tmp_path / "out" / "train.jsonl")) == 8
