"""Builders for datasets in every input form (with the physical line of each record) and output schemas."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bedrock_customization import catalog

BOM = "\ufeff"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0:200k"
NOVA = "amazon.nova-lite-v1:0:300k"
#: A prompt/completion model without record minimums whose token limit depends on the batch size (the rules
#: Titan Text had before AWS withdrew it from customization); the ``plain_model`` fixture adds it to the catalog.
PLAIN = "example.prompt-completion-v1:0:8k"
PLAIN_MODEL = {
    "id": PLAIN,
    "on_demand_id": "example.prompt-completion-v1",
    "name": "Prompt/completion test model",
    "provider": "Example",
    "family": "example-prompt-completion",
    "regions": ["us-east-1"],
    "lifecycle": {"status": "ACTIVE", "end_of_life": None, "replacements": []},
    "customization_types": ["FINE_TUNING"],
    "record_format": {"FINE_TUNING": "prompt_completion"},
    "limits": {
        "max_tokens_per_record": [
            {"batch_size_max": 1, "max_tokens": 4096},
            {"batch_size_max": 4, "max_tokens": 2048},
        ],
        "max_training_file_bytes": 1_000_000_000,
        "max_validation_file_bytes": 100_000_000,
    },
    "hyperparameters": {
        "epochCount": {"type": "int", "min": 1, "max": 10, "default": 5},
        "batchSize": {"type": "int", "min": 1, "max": 64, "default": 1},
        "learningRate": {"type": "float", "min": 0.0, "max": 1.0, "default": 1e-05},
    },
}


def offer_continued_pre_training(monkeypatch) -> str:
    """Add to the catalog, for one test, a model that offers CONTINUED_PRE_TRAINING (AWS documents it for no
    current model); returns its id."""
    cpt = {
        **PLAIN_MODEL,
        "customization_types": ["FINE_TUNING", "CONTINUED_PRE_TRAINING"],
        "record_format": {
            "FINE_TUNING": "prompt_completion",
            "CONTINUED_PRE_TRAINING": "continued_pretraining",
        },
    }
    models = (*catalog.list_models(), *catalog.parse_models({"models": [cpt]}))
    aliases = dict(catalog._aliases(models))
    monkeypatch.setattr(catalog, "_catalog", lambda: (models, aliases))
    return PLAIN
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
LLAMA31 = "meta.llama3-1-8b-instruct-v1:0:128k"
LLAMA32 = "meta.llama3-2-1b-instruct-v1:0:128k"


def qa_records(count: int, *, start: int = 0) -> list[dict[str, str]]:
    """Question/answer/text records whose texts exercise escaping: quotes, backslashes, newlines, non-ASCII."""
    return [
        {
            "question": f'Question {i}: what does "café\\path" {{x}} [y] <b> mean? 質問{i}',
            "answer": f"Answer {i}.\nSecond line\twith a tab, ümlaut and 日本語テキスト.",
            "text": f"Document {i}: plain text for continued pre-training.\n段落 {i}.",
        }
        for i in range(start, start + count)
    ]


def write_jsonl(
    path: Path,
    records: Sequence[Any],
    *,
    bom: bool = False,
    crlf: bool = False,
    blank_every: int = 0,
    ensure_ascii: bool = False,
) -> list[int]:
    """Write one record per line (strings are written verbatim); returns each record's line number."""
    newline = "\r\n" if crlf else "\n"
    parts, lines, line = [BOM if bom else ""], [], 1
    for index, record in enumerate(records):
        text = record if isinstance(record, str) else json.dumps(record, ensure_ascii=ensure_ascii)
        parts.append(text + newline)
        lines.append(line)
        line += 1
        if blank_every and index % blank_every == blank_every - 1:
            parts.append("   " + newline + newline)
            line += 2
    path.write_bytes("".join(parts).encode("utf-8", "surrogatepass"))
    return lines


def write_json_array(
    path: Path,
    records: Sequence[Any],
    *,
    bom: bool = False,
    crlf: bool = False,
    blank_every: int = 0,
    indent: int | None = 2,
) -> list[int]:
    """Write a JSON array (pretty-printed elements span lines); returns the line each element starts on."""
    newline = "\r\n" if crlf else "\n"
    parts, lines, line = [(BOM if bom else "") + "[" + newline], [], 2
    for index, record in enumerate(records):
        text = json.dumps(record, indent=indent, ensure_ascii=False).replace("\n", newline)
        text = "  " + text + ("," if index < len(records) - 1 else "") + newline
        parts.append(text)
        lines.append(line)
        line += text.count("\n")
        if blank_every and index % blank_every == blank_every - 1:
            parts.append(newline)
            line += 1
    parts.append("]" + newline)
    path.write_bytes("".join(parts).encode("utf-8", "surrogatepass"))
    return lines


def write_csv(
    path: Path,
    rows: Sequence[dict[str, Any]],
    *,
    bom: bool = False,
    crlf: bool = False,
    blank_every: int = 0,
    fieldnames: Sequence[str] | None = None,
) -> list[int]:
    """Write a CSV with a header (quoted fields keep their newlines); returns the line each row starts on."""
    newline = "\r\n" if crlf else "\n"
    fieldnames = list(fieldnames or rows[0])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames, lineterminator=newline)
    writer.writeheader()
    lines, line = [], 2
    for index, row in enumerate(rows):
        before = buffer.tell()
        writer.writerow(row)
        lines.append(line)
        line += buffer.getvalue()[before:].count("\n")
        if blank_every and index % blank_every == blank_every - 1:
            buffer.write(newline)
            line += 1
    path.write_bytes(((BOM if bom else "") + buffer.getvalue()).encode("utf-8"))
    return lines


WRITERS: dict[str, Callable[..., list[int]]] = {
    "json": write_json_array,
    "jsonl": write_jsonl,
    "csv": write_csv,
}
SUFFIX = {"json": ".json", "jsonl": ".jsonl", "csv": ".csv"}


# ---------------------------------------------------------------------------------------- output schemas


def _texts_ok(*values: Any) -> None:
    for value in values:
        assert isinstance(value, str) and value.strip(), value


def _alternating(roles: list[str]) -> None:
    assert roles and roles[0] == "user" and roles[-1] == "assistant", roles
    assert all(a != b for a, b in zip(roles, roles[1:], strict=False)), roles


def check_record(record: dict[str, Any], record_format: str) -> list[tuple[str, str]]:
    """Assert ``record`` matches ``record_format``; returns its (role, text) turns (``("text", ...)`` for CPT)."""
    if record_format == "prompt_completion":
        assert set(record) == {"prompt", "completion"}
        _texts_ok(record["prompt"], record["completion"])
        return [("user", record["prompt"]), ("assistant", record["completion"])]
    if record_format == "continued_pretraining":
        assert set(record) == {"input"}
        _texts_ok(record["input"])
        return [("text", record["input"])]
    if record_format == "claude_messages":
        assert set(record) <= {"system", "messages"} and "messages" in record
        if "system" in record:
            _texts_ok(record["system"])
        turns = []
        for message in record["messages"]:
            assert set(message) == {"role", "content"}
            _texts_ok(message["content"])
            turns.append((message["role"], message["content"]))
        _alternating([role for role, _ in turns])
        return turns
    if record_format == "rft_prompts":
        assert set(record) == {"messages", "reference_answer"}
        messages = record["messages"]
        if messages[0]["role"] == "system":
            _texts_ok(messages[0]["content"])
            messages = messages[1:]
        turns = [(message["role"], message["content"]) for message in messages]
        assert all(set(message) == {"role", "content"} for message in messages)
        _texts_ok(*(text for _, text in turns), record["reference_answer"])
        turns.append(("assistant", record["reference_answer"]))  # the answer the grader scores against
        _alternating([role for role, _ in turns])
        return turns
    assert record_format in ("bedrock_conversation_2024", "distillation_prompts")
    assert set(record) <= {"schemaVersion", "system", "messages"}
    assert record["schemaVersion"] == "bedrock-conversation-2024"
    for block in record.get("system", []):
        assert set(block) == {"text"}
        _texts_ok(block["text"])
    turns = []
    for message in record["messages"]:
        assert set(message) == {"role", "content"}
        (block,) = message["content"]
        assert set(block) == {"text"}
        _texts_ok(block["text"])
        turns.append((message["role"], block["text"]))
    if record_format == "distillation_prompts":
        assert [role for role, _ in turns] in (["user"], ["user", "assistant"])
    else:
        _alternating([role for role, _ in turns])
    return turns


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def with_plain_model(monkeypatch: Any) -> None:
    """Add :data:`PLAIN_MODEL` to the catalog for one test (catalog look-ups go through ``catalog._catalog``)."""
    models = (*catalog.list_models(), *catalog.parse_models({"models": [PLAIN_MODEL]}))
    aliases = dict(catalog._aliases(models))
    monkeypatch.setattr(catalog, "_catalog", lambda: (models, aliases))


def model_with_limits(model_id: str, **limits: Any) -> Callable[[str], catalog.BaseModel]:
    """A ``catalog.get_model`` replacement giving ``model_id`` different limits (others unchanged)."""
    real = catalog.get_model

    def get_model(requested: str) -> catalog.BaseModel:
        model = real(requested)
        if model.id == model_id:
            return dataclasses.replace(model, limits=dataclasses.replace(model.limits, **limits))
        return model

    return get_model
