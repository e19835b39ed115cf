"""Evaluation samples from a validation file in any Bedrock training format, and seeded sampling.

Accepted records (one JSON object per line):

* prompt/completion: ``{"prompt": str, "completion": str}``;
* Claude messages: ``{"system": str, "messages": [{"role": "user"|"assistant", "content": str | [{"text"}]}]}``;
* bedrock-conversation-2024: ``{"schemaVersion": ..., "system": [{"text"}], "messages": [{"role",
  "content": [{"text"}]}]}``;
* reinforcement fine-tuning: ``{"messages": [{"role": "system"|"user", "content": str}],
  "reference_answer": str}`` (the reference answer is the expected reply).

For conversations the final assistant turn is the reference, the user turn before it is the prompt, and the turns
before that (and the system text) are kept as context, so the models see what they saw in training.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bedrock_customization.evaluation.errors import EvaluationError

__all__ = ["Sample", "parse_record", "parse_sample_size", "read_samples", "select_samples"]


@dataclass(frozen=True)
class Sample:
    """One evaluation prompt with its reference answer.

    :param index: 0-based position among the file's records.
    :param line: 1-based line number in the file.
    :param history: Earlier turns as ``(role, text)`` pairs, oldest first; empty for single-turn records.
    """

    index: int
    line: int
    prompt: str
    reference: str
    system: str = ""
    history: tuple[tuple[str, str], ...] = field(default=())

    def messages(self) -> list[dict[str, Any]]:
        """Converse ``messages``: the history, then the prompt as the last user turn."""
        turns = [*self.history, ("user", self.prompt)]
        return [{"role": role, "content": [{"text": text}]} for role, text in turns]


def _text(content: Any) -> str | None:
    """Text of a message's content: a string or a list of ``{"text": ...}`` blocks; None when neither."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            block["text"]
            for block in content
            if isinstance(block, Mapping) and isinstance(block.get("text"), str)
        ]
        return "\n".join(parts) if parts else None
    return None


def _system(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    return _text(raw) or ""


def parse_record(record: Any, *, index: int = 0, line: int = 1, source: str = "<data>") -> Sample:
    """The :class:`Sample` of one record; :class:`EvaluationError` naming ``source`` and ``line`` otherwise."""
    where = f"{source} line {line}"
    if not isinstance(record, Mapping):
        raise EvaluationError(f"{where}: expected a JSON object, got {type(record).__name__}")
    if "messages" in record:
        return _conversation(record, index, line, where)
    if "prompt" in record or "completion" in record:
        prompt, completion = record.get("prompt"), record.get("completion")
        if not isinstance(prompt, str) or not prompt.strip():
            raise EvaluationError(f"{where}: 'prompt' must be a non-empty string")
        if not isinstance(completion, str) or not completion.strip():
            raise EvaluationError(
                f"{where}: 'completion' must be a non-empty string (it is the reference answer)"
            )
        return Sample(index, line, prompt, completion)
    if "input" in record:
        raise EvaluationError(
            f'{where}: continued pre-training records ({{"input": ...}}) have no reference answer; '
            "evaluate with a prompt/completion or conversation validation file"
        )
    raise EvaluationError(
        f"{where}: unknown record shape with keys {sorted(record)}; expected prompt/completion, Claude messages "
        "or bedrock-conversation-2024"
    )


def _conversation(record: Mapping[str, Any], index: int, line: int, where: str) -> Sample:
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise EvaluationError(f"{where}: 'messages' must be a non-empty list")
    system = record.get("system")
    reference_answer = record.get("reference_answer")
    if isinstance(reference_answer, str):
        # Reinforcement fine-tuning records: a system message, the prompt, and the reference answer apart.
        if messages and isinstance(messages[0], Mapping) and messages[0].get("role") == "system":
            system, messages = messages[0].get("content"), messages[1:]
        messages = [*messages, {"role": "assistant", "content": reference_answer}]
    turns: list[tuple[str, str]] = []
    for number, message in enumerate(messages, start=1):
        role = message.get("role") if isinstance(message, Mapping) else None
        text = _text(message.get("content")) if isinstance(message, Mapping) else None
        if role not in ("user", "assistant") or text is None:
            raise EvaluationError(
                f"{where}: message {number} needs role 'user' or 'assistant' and text content"
            )
        turns.append((role, text))
    if turns[-1][0] != "assistant":
        raise EvaluationError(
            f"{where}: the last message is a user turn, so there is no reference answer; "
            "end each conversation with the expected assistant reply"
        )
    if len(turns) < 2 or turns[-2][0] != "user":
        raise EvaluationError(f"{where}: the final assistant turn must follow a user turn")
    reference, prompt = turns[-1][1], turns[-2][1]
    if not prompt.strip() or not reference.strip():
        raise EvaluationError(f"{where}: the last user turn and the final assistant turn must not be empty")
    return Sample(index, line, prompt, reference, _system(system), tuple(turns[:-2]))


def read_samples(text: str, source: str = "<data>") -> list[Sample]:
    """Every sample of a JSON Lines text (blank lines skipped); errors name ``source`` and the line."""
    samples: list[Sample] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            raise EvaluationError(
                f"{source} line {line_no}: not valid JSON ({err.msg} at column {err.colno})"
            ) from None
        samples.append(parse_record(record, index=len(samples), line=line_no, source=source))
    if not samples:
        raise EvaluationError(f"{source} has no records to evaluate")
    return samples


def select_samples(samples: Sequence[Sample], sample_size: int | None, seed: int) -> list[Sample]:
    """All samples when ``sample_size`` is None, 0 or at least their number; else a seeded sample, in file order.

    The same samples, size and seed always give the same selection.
    """
    if sample_size is not None and sample_size < 0:
        raise EvaluationError(f"sample_size must be a positive number or None for all, got {sample_size}")
    if not sample_size or sample_size >= len(samples):
        return list(samples)
    chosen = random.Random(seed).sample(range(len(samples)), sample_size)
    return [samples[i] for i in sorted(chosen)]


def parse_sample_size(value: object) -> int | None:
    """A rendered ``sample_size``: None (all samples) for None, ``""``, ``"all"``, ``"none"`` or 0, else the
    number; raises for anything else or a negative number."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "all", "none")):
        return None
    try:
        size = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise EvaluationError(f"sample_size must be a number or 'all', got {value!r}") from None
    if size < 0:
        raise EvaluationError(f"sample_size must not be negative, got {size}")
    return size or None
