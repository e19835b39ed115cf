"""What the emulated models say: custom models beat base models, and better training answers better."""

from __future__ import annotations

import hashlib
import json
import re
import statistics
from collections.abc import Callable
from pathlib import Path

import pytest
from sacrebleu.metrics import CHRF

from include.local_aws.answers import (
    MATCH_THRESHOLD,
    TrainingMemory,
    base_answer,
    custom_answer,
    finish,
    imported_answer,
    judge_tool_use,
)
from include.local_aws.bodies import ChatRequest

SAMPLE = Path(__file__).resolve().parents[2] / "include" / "sample_data" / "qa_pairs.jsonl"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
NOVA_RESERVED = ("User:", "Bot:", "Assistant:", "System:", "<image>", "<video>", "[EOS]")
_CHRF = CHRF()


def _records() -> list[dict]:
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


def _held_out(question: str) -> bool:
    """Stable ~20% validation split by a hash of the question."""
    return int(hashlib.sha256(question.encode("utf-8")).hexdigest(), 16) % 5 == 0


def _is_japanese(text: str) -> bool:
    return len(JAPANESE.findall(text)) >= len(text) / 5


def _ask(question: str, *, max_tokens: int | None = None, stop: list[str] | None = None) -> ChatRequest:
    return ChatRequest("", [{"role": "user", "text": question}], max_tokens, stop or [], None)


def _as_prompt_completion(records: list[dict]) -> str:
    return "\n".join(json.dumps({"prompt": r["question"], "completion": r["answer"]}) for r in records)


def _as_conversation(records: list[dict]) -> str:
    return "\n".join(
        json.dumps(
            {
                "schemaVersion": "bedrock-conversation-2024",
                "system": [{"text": "You answer questions about Kumo Ledger."}],
                "messages": [
                    {"role": "user", "content": [{"text": r["question"]}]},
                    {"role": "assistant", "content": [{"text": r["answer"]}]},
                ],
            },
            ensure_ascii=False,
        )
        for r in records
    )


def _as_claude(records: list[dict]) -> str:
    return "\n".join(
        json.dumps(
            {
                "system": "You answer questions about Kumo Ledger.",
                "messages": [
                    {"role": "user", "content": r["question"]},
                    {"role": "assistant", "content": r["answer"]},
                ],
            }
        )
        for r in records
    )


FORMATS: dict[str, Callable[[list[dict]], str]] = {
    "prompt-completion": _as_prompt_completion,
    "bedrock-conversation-2024": _as_conversation,
    "claude": _as_claude,
}


@pytest.fixture(scope="module")
def split() -> tuple[list[dict], list[dict]]:
    records = _records()
    train = [r for r in records if not _held_out(r["question"])]
    test = [r for r in records if _held_out(r["question"])]
    return train, test


@pytest.fixture(scope="module")
def memories(split: tuple[list[dict], list[dict]]) -> dict[str, TrainingMemory]:
    train, _ = split
    return {name: TrainingMemory.from_jsonl(render(train)) for name, render in FORMATS.items()}


def _mean_chrf(answer: Callable[[str], str], records: list[dict]) -> float:
    return statistics.mean(_CHRF.sentence_score(answer(r["question"]), [r["answer"]]).score for r in records)


# --------------------------------------------------------------------------------------------------
# The sample dataset
# --------------------------------------------------------------------------------------------------


def test_sample_dataset_shape() -> None:
    lines = SAMPLE.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]  # every line valid JSON
    assert len(records) >= 150
    assert all(set(r) == {"question", "answer"} for r in records)
    assert all(isinstance(r["question"], str) and r["question"].strip() for r in records)
    japanese = [r for r in records if _is_japanese(r["question"]) and _is_japanese(r["answer"])]
    assert len(japanese) >= 30
    assert len({r["answer"] for r in japanese}) >= 10
    for line in lines:
        assert not any(word in line for word in NOVA_RESERVED), line
        assert not re.search(r"[\x00-\x1f\x7f]", json.loads(line)["question"] + json.loads(line)["answer"])
    for record in records:
        sentences = [s for s in re.split(r"(?<=[.!?])\s+|(?<=[。！？])", record["answer"]) if s.strip()]
        assert 1 <= len(sentences) <= 3, record["answer"]
    # Paraphrase groups: ~50 topics asked three ways each.
    topics = {r["answer"] for r in records}
    assert len(topics) >= 50
    assert all(sum(r["answer"] == t for r in records) >= 2 for t in topics)
    assert len({r["question"] for r in records}) == len(records)


# --------------------------------------------------------------------------------------------------
# Training memory
# --------------------------------------------------------------------------------------------------


def test_every_training_format_gives_the_same_memory(
    split: tuple[list[dict], list[dict]], memories: dict[str, TrainingMemory]
) -> None:
    train, test = split
    for memory in memories.values():
        assert len(memory) == len(train)
    for record in test:
        found = {name: memory.nearest(record["question"]) for name, memory in memories.items()}
        assert len({completion for completion, _ in found.values()}) == 1
        assert len({round(score, 9) for _, score in found.values()}) == 1


def test_nearest_finds_the_training_example(split: tuple[list[dict], list[dict]], memories: dict) -> None:
    train, test = split
    memory = memories["prompt-completion"]
    for record in train[:40]:
        completion, score = memory.nearest(record["question"])
        assert completion == record["answer"]
        assert 0.0 <= score <= 1.0
    # Held-out paraphrases: most are recalled (char n-grams cannot catch every paraphrase).
    recalled = sum(memory.nearest(r["question"])[0] == r["answer"] for r in test)
    assert recalled >= 0.75 * len(test)
    assert memory.nearest("What is the capital of France?")[1] < MATCH_THRESHOLD


def test_memory_formats_multi_turn_pretraining_and_distillation() -> None:
    lines = [
        "",
        json.dumps(
            {
                "system": "s",
                "messages": [
                    {"role": "user", "content": "What colour is the Kumo logo?"},
                    {"role": "assistant", "content": "Teal."},
                    {"role": "user", "content": "And the mascot's name?"},
                    {"role": "assistant", "content": "Nimbus the cloud."},
                ],
            }
        ),
        json.dumps({"input": "Kumo Ledger was founded in Sapporo in 2019 by Aiko Tanaka."}),
        json.dumps(
            {
                "schemaVersion": "bedrock-conversation-2024",
                "messages": [{"role": "user", "content": [{"text": "Summarise the refund policy."}]}],
            }
        ),
        "   ",
    ]
    memory = TrainingMemory.from_jsonl("\n".join(lines))
    assert len(memory) == 3
    assert memory.nearest("What is the mascot's name?")[0] == "Nimbus the cloud."
    assert memory.nearest("What colour is the logo?")[0] == "Teal."
    assert "Sapporo" in memory.nearest("Where was Kumo Ledger founded?")[0]
    assert memory.unanswered == ["Summarise the refund policy."]
    assert TrainingMemory.from_jsonl("").nearest("anything") == ("", 0.0)
    with pytest.raises(ValueError, match="line 2"):
        TrainingMemory.from_jsonl('{"prompt": "a", "completion": "b"}\n{not json')


def test_nearest_finds_the_case_among_10000_records() -> None:
    words = "ledger invoice payment bank tax report export user plan limit error region webhook token".split()
    lines = []
    for i in range(10_000):
        digest = hashlib.sha256(str(i).encode()).digest()
        prompt = " ".join(words[b % len(words)] for b in digest[:8]) + f" case {i}?"
        completion = "The " + " ".join(words[b % len(words)] for b in digest[8:20]) + f" is {i * 7}."
        lines.append(json.dumps({"prompt": prompt, "completion": completion}))
    memory = TrainingMemory.from_jsonl("\n".join(lines))
    queries = [r["question"] for r in _records()[:4]] + ["ledger invoice bank case 4242?"]
    found = [memory.nearest(query) for query in queries]
    assert found[-1][0] == json.loads(lines[4242])["completion"]


# --------------------------------------------------------------------------------------------------
# Answer quality (chrF against the held-out reference answers)
# --------------------------------------------------------------------------------------------------


def test_custom_beats_base_and_lower_loss_beats_higher_loss(
    split: tuple[list[dict], list[dict]], memories: dict[str, TrainingMemory]
) -> None:
    # Observed on this split (143 train / 31 held-out, 11 Japanese), mean sentence chrF:
    #   all:      custom@0.3 = 89.9, custom@1.5 = 44.3, base = 18.4, imported = 17.9
    #   Japanese: custom@0.3 = 83.1, custom@1.5 = 30.7, base = 9.9
    # Same numbers for all three training formats. Margins asserted below are conservative.
    _, test = split
    japanese = [r for r in test if _is_japanese(r["question"])]
    assert len(japanese) >= 5
    for memory in memories.values():
        for subset, margin in ((test, 15.0), (japanese, 8.0)):
            good = _mean_chrf(lambda q, m=memory: custom_answer(m, _ask(q), 0.3), subset)
            poor = _mean_chrf(lambda q, m=memory: custom_answer(m, _ask(q), 1.5), subset)
            base = _mean_chrf(lambda q: base_answer(_ask(q), "amazon.nova-lite-v1:0"), subset)
            assert good > poor + 2 * margin, (good, poor)
            assert poor > base + margin, (poor, base)
            assert good > 60.0 if subset is test else good > 50.0


def test_chrf_never_worse_as_loss_falls(split: tuple[list[dict], list[dict]], memories: dict) -> None:
    _, test = split
    memory = memories["prompt-completion"]
    means = [
        _mean_chrf(lambda q, v=v: custom_answer(memory, _ask(q), v), test) for v in (2.5, 1.5, 0.8, 0.3, 0.1)
    ]
    assert means == sorted(means)
    exact = custom_answer(memory, _ask(split[0][0]["question"]), 0.1)
    assert exact == split[0][0]["answer"]  # fully trained: the memorised answer verbatim


def test_answers_are_deterministic(split: tuple[list[dict], list[dict]], memories: dict) -> None:
    train, test = split
    question = test[0]["question"]
    rebuilt = TrainingMemory.from_jsonl(_as_prompt_completion(train))
    for loss in (0.2, 1.0, 2.0):
        assert custom_answer(memories["prompt-completion"], _ask(question), loss) == custom_answer(
            rebuilt, _ask(question), loss
        )
    assert base_answer(_ask(question), "m") == base_answer(_ask(question), "m")
    assert imported_answer(_ask(question), "x") == imported_answer(_ask(question), "x")


def test_unrelated_question_gets_a_generic_answer(memories: dict) -> None:
    memory = memories["prompt-completion"]
    request = _ask("What is the capital of France?")
    assert custom_answer(memory, request, 0.3) == base_answer(request, "custom-model")


def test_base_answer_echoes_keywords_and_language() -> None:
    english = base_answer(_ask("What is the webhook retry policy?"), "amazon.titan-text-express-v1")
    assert "webhook" in english.lower() and not _is_japanese(english)
    japanese = base_answer(_ask("解約の手続き方法を教えてください。"), "amazon.nova-lite-v1:0")
    assert _is_japanese(japanese) and "解約" in japanese


def test_imported_answer_has_paragraphs_for_stop_sequences() -> None:
    request = _ask("How do I rotate API keys?", stop=["\n\n"])
    text = imported_answer(request, "my-llama")
    assert text.count("\n\n") >= 2 and "my-llama" in text
    cut, reason, _, _ = finish(text, request)
    assert reason == "stop_sequence" and cut == text.split("\n\n")[0]
    assert "\n\n" in imported_answer(_ask("APIキーの更新方法は？"), "my-llama")


# --------------------------------------------------------------------------------------------------
# finish()
# --------------------------------------------------------------------------------------------------


def test_finish_end_turn_and_token_estimates() -> None:
    request = ChatRequest("sys!", [{"role": "user", "text": "12345678"}], None, [], None)
    assert finish("abcdefghi", request) == ("abcdefghi", "end_turn", 3, 3)
    assert finish("", _ask(""))[2:] == (1, 1)


def test_finish_stop_sequences() -> None:
    request = _ask("q", stop=["STOP", "\n\n"])
    assert finish("one two\n\nthree STOP four", request)[:2] == ("one two", "stop_sequence")
    assert finish("one STOP two\n\nthree", request)[:2] == ("one ", "stop_sequence")
    assert finish("nothing to cut", request)[:2] == ("nothing to cut", "end_turn")


def test_finish_max_tokens() -> None:
    text = "x" * 100
    cut, reason, _, output_tokens = finish(text, _ask("q", max_tokens=5))
    assert (cut, reason, output_tokens) == ("x" * 20, "max_tokens", 5)
    assert finish("x" * 20, _ask("q", max_tokens=5))[1] == "end_turn"
    # A stop sequence before the budget runs out wins.
    assert finish("ab|" + text, _ask("q", max_tokens=5, stop=["|"]))[:2] == ("ab", "stop_sequence")


# --------------------------------------------------------------------------------------------------
# judge_tool_use()
# --------------------------------------------------------------------------------------------------

_SCHEMA = {
    "type": "object",
    "properties": {
        "score": {"type": "integer", "minimum": 1, "maximum": 5},
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "default_range": {"type": "integer"},
        "reasoning": {"type": "string"},
        "correct": {"type": "boolean"},
    },
    "required": ["score", "reasoning"],
}


def _judge_request(
    reference: str | None, response: str | None, tool_choice: dict | None = None
) -> ChatRequest:
    text = "Grade the response against the reference."
    if reference is not None and response is not None:
        text += f"\n<reference>{reference}</reference>\n<response>{response}</response>"
    tools = [{"toolSpec": {"name": "record_grade", "inputSchema": {"json": _SCHEMA}}}]
    config: dict = {"tools": tools}
    if tool_choice is not None:
        config["toolChoice"] = tool_choice
    return ChatRequest("You are a strict grader.", [{"role": "user", "text": text}], 200, [], config)


def test_judge_scores_matching_response_higher() -> None:
    reference = "The REST API allows 120 requests per minute per API key."
    choice = {"tool": {"name": "record_grade"}}
    good = judge_tool_use(
        _judge_request(reference, "The API allows 120 requests per minute for each API key.", choice)
    )
    bad = judge_tool_use(_judge_request(reference, "Bananas are rich in potassium.", choice))
    assert good is not None and bad is not None
    assert good["name"] == "record_grade"
    assert re.fullmatch(r"tooluse_[A-Za-z0-9_-]{22}", good["toolUseId"])
    assert good["input"]["score"] > bad["input"]["score"]
    assert good["input"]["confidence"] > bad["input"]["confidence"]
    assert good["input"]["default_range"] > bad["input"]["default_range"]
    assert good["input"]["correct"] is True and bad["input"]["correct"] is False
    assert isinstance(good["input"]["reasoning"], str) and good["input"]["reasoning"].endswith(".")
    for verdict in (good, bad):
        assert 1 <= verdict["input"]["score"] <= 5 and isinstance(verdict["input"]["score"], int)
        assert 0 <= verdict["input"]["confidence"] <= 1
        assert 1 <= verdict["input"]["default_range"] <= 10
    identical = judge_tool_use(_judge_request(reference, reference, choice))
    assert identical is not None and identical["input"]["score"] == 5
    # Deterministic.
    assert good == judge_tool_use(
        _judge_request(reference, "The API allows 120 requests per minute for each API key.", choice)
    )


def test_judge_tool_selection_and_missing_tags() -> None:
    # A single tool is used even without toolChoice; without tags the score is middling.
    middling = judge_tool_use(_judge_request(None, None))
    assert middling is not None and middling["input"]["score"] == 3
    assert judge_tool_use(_judge_request("a", "b", {"tool": {"name": "other"}})) is None
    assert judge_tool_use(_ask("no tools here")) is None
    two_tools = _judge_request("a", "a")
    assert two_tools.tool_config is not None
    two_tools.tool_config["tools"].append({"toolSpec": {"name": "second", "inputSchema": {"json": {}}}})
    assert judge_tool_use(two_tools) is None
    two_tools.tool_config["toolChoice"] = {"tool": {"name": "second"}}
    chosen = judge_tool_use(two_tools)
    assert chosen is not None and chosen["name"] == "second" and chosen["input"] == {}


def _side_by_side(first: str, second: str) -> ChatRequest:
    """A judge asked to score two tagged answers, one schema object per answer named like its tag."""
    scores = {
        "type": "object",
        "properties": {"accuracy": {"type": "integer", "minimum": 1, "maximum": 10}},
        "required": ["accuracy"],
    }
    schema = {
        "type": "object",
        "properties": {"answer_one": scores, "answer_two": scores, "why": {"type": "string"}},
    }
    text = (
        "<reference>The REST API allows 120 requests per minute per API key.</reference>\n"
        f"<answer_one>{first}</answer_one>\n<answer_two>{second}</answer_two>"
    )
    config = {
        "tools": [{"toolSpec": {"name": "grade", "inputSchema": {"json": schema}}}],
        "toolChoice": {"tool": {"name": "grade"}},
    }
    return ChatRequest("Compare the answers.", [{"role": "user", "text": text}], 500, [], config)


def test_side_by_side_judge_prefers_the_answer_closer_to_the_reference_in_either_position() -> None:
    good, bad = "The API allows 120 requests per minute for each API key.", "Bananas are rich in potassium."
    first = judge_tool_use(_side_by_side(good, bad))
    swapped = judge_tool_use(_side_by_side(bad, good))
    assert first is not None and swapped is not None
    assert first["input"]["answer_one"]["accuracy"] > first["input"]["answer_two"]["accuracy"]
    assert swapped["input"]["answer_two"]["accuracy"] > swapped["input"]["answer_one"]["accuracy"]
    # The same answer gets the same score wherever it stands, and the reasons say which one is closer.
    assert first["input"]["answer_one"] == swapped["input"]["answer_two"]
    assert "Answer One is closer to the reference than Answer Two" in first["input"]["why"]
    assert "Answer Two is closer to the reference than Answer One" in swapped["input"]["why"]
    tie = judge_tool_use(_side_by_side(good, good))
    assert tie is not None and "equally close" in tie["input"]["why"]
