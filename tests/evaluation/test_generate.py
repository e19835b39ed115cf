"""evaluation.generate without AWS: the Converse request, the tool reply, dedupe against training data,
validation in the model's format, documents' names and sizes, and clear errors."""

from __future__ import annotations

import json

import pytest

from bedrock_customization.evaluation.errors import EvaluationError
from bedrock_customization.evaluation.generate import (
    MAX_DOCUMENTS_PER_REQUEST,
    TOOL_NAME,
    Deduplicator,
    Document,
    GenerationError,
    generate,
    generation_request,
    parse_pairs,
    prompts_of,
    read_documents,
    to_documents,
)
from bedrock_customization.evaluation.samples import read_samples
from bedrock_customization.exceptions import UnknownModelError

NOVA = "amazon.nova-micro-v1:0:128k"
LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
DOC = Document("guide", "pdf", b"%PDF-1.4 ...", "s3://b/docs/guide.pdf")


def reply(pairs, name: str = TOOL_NAME) -> dict:
    return {
        "output": {
            "message": {
                "content": [{"toolUse": {"toolUseId": "t1", "name": name, "input": {"pairs": pairs}}}]
            }
        },
        "stopReason": "tool_use",
    }


class FakeModel:
    """A converse callable answering from a script of pair lists, recording every request."""

    def __init__(self, *answers: list) -> None:
        self.answers = list(answers)
        self.requests: list[dict] = []

    def __call__(self, **request) -> dict:
        self.requests.append(request)
        pairs = self.answers.pop(0) if self.answers else []
        return reply([{"question": q, "answer": a} for q, a in pairs])


def test_request_sends_documents_and_forces_the_tool():
    docs = to_documents([("docs/User Guide v2.pdf", b"%PDF"), ("docs/user_guide  v2.md", b"# Guide\n")])
    request = generation_request(MODEL, docs, 7, avoid=["What is X?"])

    content = request["messages"][0]["content"]
    assert [block["document"]["name"] for block in content[:2]] == ["User Guide v2", "user-guide v2"]
    assert [block["document"]["format"] for block in content[:2]] == ["pdf", "md"]
    assert content[0]["document"]["source"] == {"bytes": b"%PDF"}
    assert "7 new question and answer pairs" in content[2]["text"] and "- What is X?" in content[2]["text"]
    tool = request["toolConfig"]
    assert tool["toolChoice"] == {"tool": {"name": TOOL_NAME}}
    array = tool["tools"][0]["toolSpec"]["inputSchema"]["json"]["properties"]["pairs"]
    assert array["minItems"] == array["maxItems"] == 7
    assert array["items"]["required"] == ["question", "answer"]


def test_document_rules_before_any_call(tmp_path):
    with pytest.raises(GenerationError, match=r"notes\.rtf: unsupported document type '\.rtf'"):
        to_documents([("notes.rtf", b"x")])
    with pytest.raises(GenerationError, match="split the pdf file"):
        to_documents([("big.pdf", b"x" * 11)], max_bytes=10)
    same = to_documents([("a/Guide.pdf", b"%PDF"), ("b/guide.txt", b"text")])
    assert [d.name for d in same] == ["Guide", "guide (2)"]  # unique in a request, whatever the case
    parts = to_documents([("big.txt", b"line one\nline two\nline three\n")], max_bytes=11)
    assert [d.name for d in parts] == ["big part 1", "big part 2", "big part 3"]
    assert b"".join(d.data for d in parts) == b"line one\nline two\nline three\n"
    with pytest.raises(GenerationError, match="1 to 5 documents"):
        generation_request(MODEL, [DOC] * (MAX_DOCUMENTS_PER_REQUEST + 1), 3)
    with pytest.raises(GenerationError, match="do not exist"):
        read_documents([str(tmp_path / "missing")])
    (tmp_path / "a.txt").write_text("Alpha.")
    (tmp_path / "skip.bin").write_bytes(b"\0")
    assert read_documents([str(tmp_path)]) == [(str(tmp_path / "a.txt"), b"Alpha.")]


def test_parse_reads_the_tool_input_and_counts_malformed_items():
    pairs, malformed = parse_pairs(
        reply(
            [
                {"question": " Q1? ", "answer": "A1."},
                {"question": "Q2?"},
                "text",
                {"question": "", "answer": "A"},
            ]
        )
    )
    assert pairs == [("Q1?", "A1.")] and malformed == 3
    as_string = reply([])
    as_string["output"]["message"]["content"][0]["toolUse"]["input"] = json.dumps(
        {"pairs": [{"question": "Q?", "answer": "A."}]}
    )
    assert parse_pairs(as_string) == ([("Q?", "A.")], 0)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"output": {"message": {"content": [{"text": "Here are pairs: Q: ..."}]}}, "stopReason": "end_turn"},
         "did not call the record_qa_pairs tool (stopReason 'end_turn'); it replied: 'Here are pairs"),
        (reply([], name="other_tool"), "did not call the record_qa_pairs tool"),
        ({"output": {"message": {"content": [{"toolUse": {"name": TOOL_NAME, "input": {"items": []}}}]}}},
         "has no 'pairs' list"),
        ({"output": {"message": {"content": [{"toolUse": {"name": TOOL_NAME, "input": "{oops"}}]}}},
         "input is not JSON"),
    ],
)  # fmt: skip
def test_malformed_tool_output_is_a_clear_error(answer, message):
    with pytest.raises(GenerationError) as caught:
        parse_pairs(answer)
    assert message in str(caught.value)


def test_dedupe_against_training_data_and_itself():
    training = ["What is the storage quota of the Pro plan?", "How do I reset my password?"]
    model = FakeModel(
        [
            ("what is the storage quota of the pro plan", "50 GB."),  # exact leak after normalisation
            ("How do I reset my password quickly?", "Use the link."),  # near leak: 6 of 7 words
            ("Which regions host the service?", "Tokyo and Osaka."),
            ("Which regions host the service ?", "Tokyo, Osaka."),  # exact duplicate of the one above
            ("How long are backups kept?", "35 days."),
        ]
    )
    result = generate(model, MODEL, [DOC], 5, base_model_id=LLAMA, training_prompts=training, max_rounds=1)

    assert [p["question"] for p in result.pairs] == [
        "Which regions host the service?",
        "How long are backups kept?",
    ]
    assert result.report["dropped"] == {"exact_generated": 1, "exact_training": 1, "near_training": 1}
    near = next(e for e in result.report["dropped_examples"] if e["reason"] == "near_training")
    assert near["matched"] == "How do I reset my password?"
    assert "only 2 of 5 pairs" in result.report["warnings"][0]
    # prompt_completion for Llama 3.1, read back by the evaluation like any validation file.
    lines = result.jsonl().decode().splitlines()
    assert json.loads(lines[0]) == {
        "prompt": "Which regions host the service?",
        "completion": "Tokyo and Osaka.",
    }
    assert [s.reference for s in read_samples(result.jsonl().decode())] == ["Tokyo and Osaka.", "35 days."]


def test_threshold_decides_what_is_near():
    strict, loose = Deduplicator(1.0), Deduplicator(0.5)
    for dedupe in (strict, loose):
        dedupe.add("How do I reset my password?", "training")
    assert strict.find("How do I reset my password quickly?") is None
    assert loose.find("How do I reset my password quickly?") == (
        "near",
        "training",
        "How do I reset my password?",
    )
    with pytest.raises(GenerationError, match=r"near_duplicate_threshold must be in \(0, 1\]"):
        Deduplicator(0)


def test_asks_again_for_the_shortfall_listing_what_is_kept():
    model = FakeModel([("Q1?", "A1."), ("Q1?", "again")], [("Q2?", "A2."), ("Q3?", "A3.")])
    result = generate(model, MODEL, [DOC], 3, base_model_id=NOVA)

    assert [p["question"] for p in result.pairs] == ["Q1?", "Q2?", "Q3?"]
    assert len(model.requests) == 2
    second = model.requests[1]
    assert (
        second["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["properties"]["pairs"]["maxItems"]
        == 2
    )
    assert "- Q1?" in second["messages"][0]["content"][-1]["text"]
    record = json.loads(result.records[0])
    assert record["schemaVersion"] == "bedrock-conversation-2024"  # Nova's format
    assert record["messages"][1]["content"] == [{"text": "A1."}]


def test_documents_are_sent_five_per_request():
    docs = [Document(f"d{i}", "txt", b"text", f"d{i}.txt") for i in range(7)]
    model = FakeModel([("Q1?", "A1."), ("Q2?", "A2.")], [("Q3?", "A3.")])
    result = generate(model, MODEL, docs, 3, base_model_id=NOVA)
    assert [len(r["messages"][0]["content"]) - 1 for r in model.requests] == [5, 2]
    assert [r["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"]["json"]["properties"]["pairs"]["maxItems"]
            for r in model.requests] == [2, 1]  # fmt: skip
    assert result.report["requests"] == 2 and result.report["generated"] == 3


def test_records_are_validated_like_the_prepared_data():
    model = FakeModel([("User: what is the plan?", "The Pro plan."), ("What is the plan?", "Pro.")])
    result = generate(model, MODEL, [DOC], 2, base_model_id=NOVA, max_rounds=1)
    assert result.report["dropped"] == {"invalid_reserved_word": 1}  # Nova's reserved words fail a job
    assert [p["question"] for p in result.pairs] == ["What is the plan?"]


def test_no_usable_pair_and_bad_options_are_errors():
    with pytest.raises(GenerationError, match=r"gave no usable question/answer pair .*exact_training"):
        generate(
            FakeModel([("Q?", "A.")]),
            MODEL,
            [DOC],
            1,
            base_model_id=NOVA,
            training_prompts=["q"],
            max_rounds=1,
        )
    with pytest.raises(GenerationError, match="count must be a positive integer"):
        generate(FakeModel(), MODEL, [DOC], 0, base_model_id=NOVA)
    with pytest.raises(UnknownModelError, match="Unknown base model 'nova-mikro'"):
        generate(FakeModel(), MODEL, [DOC], 1, base_model_id="nova-mikro")


def test_prompts_of_reads_every_training_format():
    lines = [
        {"prompt": "P1", "completion": "C1"},
        {"system": "s", "messages": [{"role": "user", "content": "U1"}, {"role": "assistant", "content": "A1"},
                                     {"role": "user", "content": "U2"}, {"role": "assistant", "content": "A2"}]},
        {"schemaVersion": "bedrock-conversation-2024", "messages": [
            {"role": "user", "content": [{"text": "N1"}]}, {"role": "assistant", "content": [{"text": "R1"}]}]},
    ]  # fmt: skip
    text = "\n".join(json.dumps(line) for line in lines) + "\n\n"
    assert prompts_of(text, "train.jsonl") == ["P1", "U1", "U2", "N1"]
    with pytest.raises(EvaluationError, match="train.jsonl line 1: not valid JSON"):
        prompts_of("{", "train.jsonl")
