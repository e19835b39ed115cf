"""Map an input record's fields to a neutral conversation: optional system text plus user/assistant turns.

Which fields to read is a :class:`FieldMapping`: prompt/completion keys (``question``/``answer``,
``sentence1``/``sentence2``, ...), an optional system prompt (fixed text or a per-record key), an optional key
holding a whole multi-turn conversation (a list of ``{"role", "content"}``, content a string or a list of
``{"text"}`` blocks, an optional leading ``system`` message), or a key holding continued pre-training text.
Where the catalog says the model takes reasoning content (Nova 2 Lite supervised fine-tuning), an assistant
message's content list may also hold one ``{"reasoningContent": {"reasoningText": {"text": ...}}}`` block; it is
kept on the :class:`Conversation` and written back in that shape. Elsewhere such a block is rejected.
The output record format decides which of these apply; :class:`Mapper` reads one record into a
:class:`Conversation` or raises :class:`RecordRejected` naming the field. When a mapped key is absent, the
rejection names every absent one and suggests a key the record has (:func:`suggest_keys`, from
:data:`COMMON_KEYS`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from bedrock_customization.dataset.problems import Fix, RecordRejected
from bedrock_customization.dataset.readers import RawRecord
from bedrock_customization.exceptions import DatasetConfigError

__all__ = [
    "COMMON_KEYS",
    "DEFAULT_TEXT_KEY",
    "Conversation",
    "FieldMapping",
    "Mapper",
    "Text",
    "suggest_keys",
]

USER = "user"
ASSISTANT = "assistant"
#: Key read for continued pre-training text when no ``text_key`` is given (Bedrock's own field name).
DEFAULT_TEXT_KEY = "input"
#: Formats whose records are conversations; the others are ``prompt_completion`` and ``continued_pretraining``.
CHAT_FORMATS = ("claude_messages", "bedrock_conversation_2024", "distillation_prompts", "rft_prompts")
#: Usual names of the field each mapping option reads, likeliest first; matched case-insensitively.
COMMON_KEYS: dict[str, tuple[str, ...]] = {
    "prompt_key": ("question", "prompt", "instruction", "input", "query", "user", "source", "sentence1"),
    "completion_key": ("answer", "completion", "output", "response", "target", "assistant", "sentence2"),
    "text_key": ("input", "text", "content", "document", "body"),
    "conversation_key": ("messages", "conversation", "conversations", "turns", "dialogue", "dialog"),
}
#: Keys of a record listed in a missing-field message, at most.
LISTED_KEYS = 10


@dataclass(frozen=True)
class FieldMapping:
    """Where the input keeps each part of a record.

    :param prompt_key: key of the user's prompt (default ``prompt``).
    :param completion_key: key of the expected answer (default ``completion``).
    :param system_prompt: system text given to every record, for formats that have one.
    :param system_key: key of a per-record system text; wins over ``system_prompt`` when present.
    :param conversation_key: key of a whole conversation; replaces the prompt/completion keys.
    :param text_key: key of continued pre-training text (default ``input``).
    """

    prompt_key: str = "prompt"
    completion_key: str = "completion"
    system_prompt: str | None = None
    system_key: str | None = None
    conversation_key: str | None = None
    text_key: str | None = None

    def __post_init__(self) -> None:
        for name in ("prompt_key", "completion_key", "system_key", "conversation_key", "text_key"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise DatasetConfigError(f"{name} must be a non-empty string, not {value!r}.")
        if self.system_prompt is not None and not isinstance(self.system_prompt, str):
            raise DatasetConfigError(
                f"system_prompt must be a string, not {type(self.system_prompt).__name__}."
            )
        if self.prompt_key == self.completion_key and self.conversation_key is None:
            raise DatasetConfigError(f"prompt_key and completion_key are both {self.prompt_key!r}.")


class Text:
    """A string and, when known, its JSON string literal (quotes included) to copy into the output."""

    __slots__ = ("field", "literal", "value")

    def __init__(self, value: str, literal: bytes | None, field: str) -> None:
        self.value = value
        self.literal = literal
        self.field = field


class Conversation:
    """A neutral record: ``system`` text plus ``(role, text)`` turns, or ``text`` for continued pre-training.

    ``reasoning`` maps the index of an assistant turn to its reasoning text (Nova 2 Lite), when it has one.
    """

    __slots__ = ("reasoning", "system", "text", "turns")

    def __init__(
        self,
        system: Text | None = None,
        turns: list[tuple[str, Text]] | None = None,
        text: Text | None = None,
        reasoning: dict[int, Text] | None = None,
    ) -> None:
        self.system = system
        self.turns = turns or []
        self.text = text
        self.reasoning = reasoning or {}

    def split_key(self) -> str:
        """The text that decides the train/validation side: the first user turn, or the whole text."""
        if self.text is not None:
            return self.text.value
        role, text = self.turns[0]  # validated records start with a user turn
        return text.value if role == USER else next(t.value for r, t in self.turns if r == USER)


class Mapper:
    """Reads records for one output format with one :class:`FieldMapping`."""

    def __init__(self, mapping: FieldMapping, record_format: str, *, reasoning: bool = False) -> None:
        """``reasoning``: whether assistant turns may carry reasoning content (the catalog's
        ``reasoning_content`` for the model and customization type; only bedrock_conversation_2024 has it)."""
        self.mapping = mapping
        self.format = record_format
        self.reasoning = reasoning and record_format == "bedrock_conversation_2024"
        if record_format == "continued_pretraining":
            if mapping.conversation_key or mapping.system_prompt or mapping.system_key:
                raise DatasetConfigError(
                    "continued_pretraining records hold plain text only: drop the conversation and system "
                    "options and give text_key."
                )
        elif record_format == "prompt_completion" and (mapping.system_prompt or mapping.system_key):
            raise DatasetConfigError(
                "The prompt_completion format has no system prompt; drop the system options "
                "(or prepend the instructions to each prompt yourself)."
            )
        self._system = (
            Text(mapping.system_prompt, orjson.dumps(mapping.system_prompt), "system")
            if mapping.system_prompt
            else None
        )
        self._text_key = mapping.text_key or DEFAULT_TEXT_KEY
        self._raw_keys = {
            key: orjson.dumps(key)[1:-1]
            for key in (mapping.prompt_key, mapping.completion_key, mapping.system_key, self._text_key)
            if key
        }

    def map(self, record: RawRecord) -> Conversation:
        data = record.data
        assert data is not None
        spans = record.spans
        if self.format == "continued_pretraining":
            return Conversation(text=self._text(data, spans, self._text_key))
        system = self._system
        if self.mapping.system_key is not None and self.mapping.system_key in data:
            system = self._text(data, spans, self.mapping.system_key)
        reasoning: dict[int, Text] = {}
        if self.mapping.conversation_key is not None:
            conversation_system, turns, reasoning = self._conversation(data)
            system = conversation_system or system
        elif self.format == "distillation_prompts":
            # A prompt, and its answer when the record has one (a golden example for the teacher).
            turns = [(USER, self._text(data, spans, self.mapping.prompt_key))]
            if data.get(self.mapping.completion_key) not in (None, ""):
                turns.append((ASSISTANT, self._text(data, spans, self.mapping.completion_key)))
        else:
            turns = [
                (USER, self._text(data, spans, self.mapping.prompt_key)),
                (ASSISTANT, self._text(data, spans, self.mapping.completion_key)),
            ]
        if self.format == "distillation_prompts":
            turns = _distillation_turns(turns)
        if system is not None and self.format == "prompt_completion":
            raise RecordRejected(
                "system_not_supported",
                f"the record has a system message ({system.field}) but prompt_completion records have no "
                "system prompt; remove it or choose a conversation format",
                system.field,
            )
        return Conversation(system, turns, reasoning=reasoning)

    def _text(self, data: dict[str, Any], spans: dict[bytes, bytes] | None, key: str) -> Text:
        try:
            value = data[key]
        except KeyError:
            raise self._missing(data) from None
        if not isinstance(value, str):
            raise RecordRejected("not_a_string", f"field {key!r} is {_kind(value)}, not a string", key)
        literal = spans.get(self._raw_keys[key]) if spans else None
        return Text(value, literal, key)

    def _required(self) -> list[tuple[str, str]]:
        """``(option, key)`` of the keys every record must have in this format and mapping."""
        if self.format == "continued_pretraining":
            return [("text_key", self._text_key)]
        if self.mapping.conversation_key is not None:
            return [("conversation_key", self.mapping.conversation_key)]
        required = [("prompt_key", self.mapping.prompt_key)]
        if self.format != "distillation_prompts":
            required.append(("completion_key", self.mapping.completion_key))
        return required

    def _missing(self, data: dict[str, Any]) -> RecordRejected:
        """The rejection of a record lacking required keys: names all of them and suggests replacements."""
        required = self._required()
        absent = [(option, key) for option, key in required if key not in data]
        used = {key for _, key in required if key in data}
        if self.mapping.system_key is not None:
            used.add(self.mapping.system_key)
        fixes = suggest_keys(data, absent, used)
        names = " and ".join(repr(key) for _, key in absent)
        return RecordRejected(
            "missing_field",
            f"missing field{'s' if len(absent) > 1 else ''} {names}",
            absent[0][1],
            record_keys=tuple(str(k) for k in list(data)[:LISTED_KEYS]),
            fixes=fixes,
        )

    def _conversation(
        self, data: dict[str, Any]
    ) -> tuple[Text | None, list[tuple[str, Text]], dict[int, Text]]:
        key = self.mapping.conversation_key
        assert key is not None
        if key not in data:
            raise self._missing(data)
        messages = data[key]
        if isinstance(messages, str):  # e.g. a CSV cell holding the JSON list
            try:
                messages = orjson.loads(messages)
            except orjson.JSONDecodeError:
                raise RecordRejected(
                    "bad_conversation", f"field {key!r} is a string that is not a JSON list of messages", key
                ) from None
        if not isinstance(messages, list) or not messages:
            raise RecordRejected(
                "bad_conversation",
                f"field {key!r} must be a non-empty list of {{role, content}} messages, not {_kind(messages)}",
                key,
            )
        system = None
        turns: list[tuple[str, Text]] = []
        reasoning: dict[int, Text] = {}
        for index, message in enumerate(messages):
            where = f"{key}[{index}]"
            if not isinstance(message, dict) or "role" not in message or "content" not in message:
                raise RecordRejected(
                    "bad_conversation", f"{where} must be an object with 'role' and 'content'", where
                )
            role = message["role"]
            role = role.lower() if isinstance(role, str) else role
            text, thought = _content(message["content"], f"{where}.content", role, self.reasoning)
            if role == "system" and index == 0:
                system = text
            elif role in (USER, ASSISTANT):
                if thought is not None:
                    reasoning[len(turns)] = thought
                turns.append((role, text))
            else:
                allowed = "'user' or 'assistant'" + (" ('system' only first)" if role == "system" else "")
                raise RecordRejected(
                    "role_order", f"{where}.role is {message['role']!r}; use {allowed}", where
                )
        return system, turns, reasoning


REASONING = "reasoningContent"


def _content(content: Any, where: str, role: Any = None, reasoning: bool = False) -> tuple[Text, Text | None]:
    """Message content and its reasoning text: a string, or a list holding exactly one ``{"text": ...}``
    block plus, in assistant turns of models that take it, at most one ``reasoningContent`` block."""
    thought = None
    if isinstance(content, list):
        kinds = [next(iter(block), "?") if isinstance(block, dict) and block else "?" for block in content]
        other = next((kind for kind in kinds if kind not in ("text", REASONING)), None)
        if other is not None:
            raise RecordRejected(
                "unsupported_content",
                f"{where} has a {other!r} block; only text content can be prepared",
                where,
            )
        if REASONING in kinds:
            at = kinds.index(REASONING)
            thought = _reasoning(content[at], f"{where}[{at}]", role, reasoning, kinds.count(REASONING))
        texts = [index for index, kind in enumerate(kinds) if kind == "text"]
        if len(texts) != 1:
            raise RecordRejected(
                "bad_conversation",
                f"{where} has {len(texts)} text blocks; give one text per message",
                where,
            )
        content, where = content[texts[0]]["text"], f"{where}[{texts[0]}].text"
    if not isinstance(content, str):
        raise RecordRejected("not_a_string", f"{where} is {_kind(content)}, not a string", where)
    return Text(content, None, where), thought


def _reasoning(block: dict[str, Any], where: str, role: Any, allowed: bool, count: int) -> Text:
    """The text of a ``{"reasoningContent": {"reasoningText": {"text": ...}}}`` block, where it is allowed."""
    if not allowed:
        raise RecordRejected(
            "reasoning_not_supported",
            f"{where} is a reasoningContent block; reasoning content is documented only for Nova 2 Lite "
            "supervised fine-tuning (bedrock userguide nova-2-sft-data-prep): remove it or choose that model",
            where,
        )
    if role != ASSISTANT:
        raise RecordRejected(
            "reasoning_not_supported",
            f"{where} is a reasoningContent block in a {role!r} message; reasoning goes in assistant turns only",
            where,
        )
    if count > 1:
        raise RecordRejected(
            "bad_conversation",
            f"{where.rpartition('[')[0]} has {count} reasoningContent blocks; give one",
            where,
        )
    body = block[REASONING]
    inner = body.get("reasoningText") if isinstance(body, dict) else None
    if (
        not isinstance(inner, dict)
        or set(body) != {"reasoningText"}
        or "text" not in inner
        or set(inner) - {"text", "signature"}
    ):
        raise RecordRejected(
            "bad_conversation",
            f'{where} must be {{"reasoningContent": {{"reasoningText": {{"text": "..."}}}}}} (text only; '
            "redacted or image reasoning is not supported by Nova 2 Lite fine-tuning)",
            where,
        )
    text, where = inner["text"], f"{where}.reasoningContent.reasoningText.text"  # a signature is dropped
    if not isinstance(text, str):
        raise RecordRejected("not_a_string", f"{where} is {_kind(text)}, not a string", where)
    return Text(text, None, where)


def _distillation_turns(turns: list[tuple[str, Text]]) -> list[tuple[str, Text]]:
    """Distillation prompts are one user turn, optionally followed by its answer, which is kept: AWS takes
    prompt-response pairs as golden examples for the teacher (Nova user guide customize-distill, Bedrock
    distillation-data-prep-option-1); an empty answer is dropped."""
    roles = [role for role, _ in turns]
    if roles == [USER, ASSISTANT] and not turns[1][1].value.strip():
        return turns[:1]
    if roles == [USER] or roles == [USER, ASSISTANT]:
        return turns
    raise RecordRejected(
        "role_order",
        f"distillation prompts must be a single user turn (optionally followed by its answer); got roles {roles}",
    )


def suggest_keys(
    data: dict[str, Any], absent: list[tuple[str, str]], used: Iterable[str] = ()
) -> tuple[Fix, ...]:
    """For each absent ``(option, key)``, a key of ``data`` to read instead, or None when none clearly fits.

    A key fits when its value has the option's type (a list or string for ``conversation_key``, a string
    otherwise), it is not in ``used`` or suggested for another option, and it is one of the option's
    :data:`COMMON_KEYS` (the likeliest first) or else the only candidate left.
    """
    taken = set(used)
    fixes = []
    for option, key in absent:
        wanted = (list, str) if option == "conversation_key" else (str,)
        candidates = [k for k, v in data.items() if k not in taken and isinstance(v, wanted)]
        by_name = {str(k).lower(): k for k in reversed(candidates)}
        use = next((by_name[name] for name in COMMON_KEYS.get(option, ()) if name in by_name), None)
        if use is None and len(candidates) == 1 and len(absent) == 1:
            use = candidates[0]
        if use is not None:
            taken.add(use)
        fixes.append(Fix(option, key, use))
    return tuple(fixes)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"
