"""Write a neutral record as one JSON Lines record in each Bedrock training format.

========================== ===================================================================================
format                     record
========================== ===================================================================================
prompt_completion          ``{"prompt": str, "completion": str}``
claude_messages            ``{"system": str, "messages": [{"role": "user"|"assistant", "content": str}, ...]}``
bedrock_conversation_2024  ``{"schemaVersion": "bedrock-conversation-2024", "system": [{"text": str}],
                           "messages": [{"role", "content": [{"text": str}]}, ...]}``
continued_pretraining      ``{"input": str}``
distillation_prompts       ``bedrock_conversation_2024``: a user turn, and its answer when the data has one
rft_prompts                ``{"messages": [{"role": "system"|"user"|"assistant", "content": str}, ...],
                           "reference_answer": str}``: the conversation up to its last user turn, and the
                           final answer as the reference the grader scores against (OpenAI chat completion
                           format, user guide page rft-prepare-data)
========================== ===================================================================================

For Nova 2 Lite supervised fine-tuning an assistant turn of ``bedrock_conversation_2024`` may start with a
reasoning block: ``"content": [{"reasoningContent": {"reasoningText": {"text": str}}}, {"text": str}]``.

``system`` is left out when the record has no system text. Records are assembled from the texts' JSON
literals (validated beforehand), with orjson's compact separators, so the bytes equal ``orjson.dumps`` of
the same object whenever the input spelled its strings the way orjson does; the same input always gives
the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable

from bedrock_customization.dataset.mapping import USER, Conversation

__all__ = ["ENCODERS", "encode"]

_ROLE = {USER: b'{"role":"user","content":', "assistant": b'{"role":"assistant","content":'}
_SCHEMA = b'{"schemaVersion":"bedrock-conversation-2024"'
_REASONING = b'{"reasoningContent":{"reasoningText":{"text":'


def _prompt_completion(record: Conversation) -> bytes:
    (_, prompt), (_, completion) = record.turns
    return b"".join((b'{"prompt":', prompt.literal, b',"completion":', completion.literal, b"}\n"))


def _claude_messages(record: Conversation) -> bytes:
    parts = [b'{"system":', record.system.literal, b',"messages":['] if record.system else [b'{"messages":[']
    for index, (role, text) in enumerate(record.turns):
        parts += (b"," if index else b"", _ROLE[role], text.literal, b"}")
    parts.append(b"]}\n")
    return b"".join(parts)


def _bedrock_conversation(record: Conversation) -> bytes:
    parts = [_SCHEMA]
    if record.system:
        parts += (b',"system":[{"text":', record.system.literal, b"}]")
    parts.append(b',"messages":[')
    reasoning = record.reasoning
    for index, (role, text) in enumerate(record.turns):
        parts += (b"," if index else b"", _ROLE[role], b"[")
        thought = reasoning.get(index) if reasoning else None
        if thought is not None:
            parts += (_REASONING, thought.literal, b"}}},")
        parts += (b'{"text":', text.literal, b"}]}")
    parts.append(b"]}\n")
    return b"".join(parts)


def _rft_prompts(record: Conversation) -> bytes:
    parts = [b'{"messages":[']
    if record.system:
        parts += (b'{"role":"system","content":', record.system.literal, b"},")
    *prompt, (_, reference) = record.turns  # validated records end with the assistant's answer
    parts.append(b",".join(b"".join((_ROLE[role], text.literal, b"}")) for role, text in prompt))
    parts += (b'],"reference_answer":', reference.literal, b"}\n")
    return b"".join(parts)


def _continued_pretraining(record: Conversation) -> bytes:
    return b"".join((b'{"input":', record.text.literal, b"}\n"))


#: Record format name -> function returning the record's line (newline included).
ENCODERS: dict[str, Callable[[Conversation], bytes]] = {
    "prompt_completion": _prompt_completion,
    "claude_messages": _claude_messages,
    "bedrock_conversation_2024": _bedrock_conversation,
    "continued_pretraining": _continued_pretraining,
    "distillation_prompts": _bedrock_conversation,
    "rft_prompts": _rft_prompts,
}


def encode(record: Conversation, record_format: str) -> bytes:
    """One JSON Lines record (with its newline) of a validated record in ``record_format``."""
    return ENCODERS[record_format](record)
