"""Request and response JSON shapes of bedrock-runtime, per model family.

``InvokeModel`` takes a body whose shape depends on the model family (Titan, Claude, Llama, Cohere,
Nova, imported models); ``Converse`` has one shape for all models. This module turns those bodies
into a family-neutral :class:`ChatRequest` and renders answers back in each family's own response
shape. It is pure: standard library only, no I/O, no clock, no randomness.

Validation follows what the real service rejects (missing required fields, wrong types, out-of-range
numbers, unknown keys for the strict families); every error is a ``ValueError`` whose message names
the offending field, so the emulator can answer with a ``ValidationException``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ChatRequest",
    "family_of",
    "parse_converse",
    "parse_invoke_body",
    "render_converse",
    "render_invoke_body",
]

FAMILIES = ("titan", "anthropic", "meta", "cohere", "nova", "imported", "unknown")
ANTHROPIC_VERSION = "bedrock-2023-05-31"
STOP_REASONS = ("end_turn", "max_tokens", "stop_sequence", "tool_use")


@dataclass
class ChatRequest:
    """A model request reduced to what the emulated models need, whatever API it came from."""

    system: str = ""
    """System prompt, blocks joined with a blank line ("" if none)."""
    messages: list[dict] = field(default_factory=list)
    """Turns as ``{"role": "user" | "assistant", "text": str}``, oldest first."""
    max_tokens: int | None = None
    """Output token budget, or None when the request sets none."""
    stop_sequences: list[str] = field(default_factory=list)
    """Strings that end the generation (not included in the output)."""
    tool_config: dict | None = None
    """Converse ``toolConfig`` (or an equivalent built from a native body), passed through."""


# --------------------------------------------------------------------------------------------------
# Model ids
# --------------------------------------------------------------------------------------------------

# Geographic prefixes of cross-region inference profiles ("us.amazon.nova-lite-v1:0").
_PROFILE_PREFIX = re.compile(r"^(?:us|eu|apac|ap|ca|jp|au|us-gov|global)\.")


def family_of(model_id: str) -> str:
    """Return the request/response family of a model id, ARN or inference-profile id.

    Accepts base model ids with or without the ``:N:ctx`` suffix, foundation-model, custom-model and
    inference-profile ARNs, geographic inference-profile ids and imported-model ARNs. Returns one of
    ``titan``, ``anthropic``, ``meta``, ``cohere``, ``nova``, ``imported`` or ``unknown``; never raises.
    """
    if not isinstance(model_id, str) or not model_id.strip():
        return "unknown"
    text = model_id.strip().lower()
    if ":imported-model/" in text:
        return "imported"
    if text.startswith("arn:"):
        # arn:aws:bedrock:<region>:<account>:<resource-type>/<resource>
        resource = text.split(":", 5)[-1]
        _, _, text = resource.partition("/")
    text = _PROFILE_PREFIX.sub("", text)
    vendor, _, name = text.partition(".")
    if vendor == "amazon":
        if name.startswith(("titan-text", "titan-tg1")):
            return "titan"
        if name.startswith("nova") and not name.startswith(("nova-canvas", "nova-reel", "nova-sonic")):
            return "nova"
        return "unknown"
    if vendor == "anthropic" and name.startswith("claude"):
        return "anthropic"
    if vendor == "meta" and name.startswith("llama"):
        return "meta"
    if vendor == "cohere" and name.startswith("command"):
        return "cohere"
    return "unknown"


# --------------------------------------------------------------------------------------------------
# Field validation helpers
# --------------------------------------------------------------------------------------------------


def _require_object(value: Any, name: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object")
    return value


def _check_keys(obj: dict, allowed: set[str], where: str) -> None:
    """Reject keys the model does not know (as the strict families do: "extraneous key")."""
    extra = sorted(set(obj) - allowed)
    if extra:
        prefix = f"{where}." if where else ""
        raise ValueError(f"extraneous key [{prefix}{extra[0]}] is not permitted")


def _string(obj: dict, key: str, *, required: bool = False, non_empty: bool = False) -> str | None:
    if key not in obj or obj[key] is None:
        if required:
            raise ValueError(f"{key} is required")
        return None
    value = obj[key]
    if not isinstance(value, str):
        raise ValueError(f"{key} must be a string")
    if non_empty and not value.strip():
        raise ValueError(f"{key} must not be empty")
    return value


def _integer(obj: dict, key: str, low: int, high: int, *, required: bool = False) -> int | None:
    if key not in obj or obj[key] is None:
        if required:
            raise ValueError(f"{key} is required")
        return None
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{key} must be an integer")
    if not low <= value <= high:
        raise ValueError(f"{key} must be between {low} and {high}, got {value}")
    return value


def _number(obj: dict, key: str, low: float, high: float) -> float | None:
    if key not in obj or obj[key] is None:
        return None
    value = obj[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} must be a number")
    if not low <= value <= high:
        raise ValueError(f"{key} must be between {low} and {high}, got {value}")
    return float(value)


def _string_list(obj: dict, key: str, max_items: int = 1000) -> list[str]:
    if key not in obj or obj[key] is None:
        return []
    value = obj[key]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{key} must be a list of strings")
    if len(value) > max_items:
        raise ValueError(f"{key} accepts at most {max_items} items, got {len(value)}")
    return list(value)


def _check_roles(messages: list[dict], name: str, *, alternate: bool) -> None:
    """The first turn must come from the user; optionally roles must alternate."""
    if not messages:
        raise ValueError(f"{name} must contain at least one message")
    if messages[0]["role"] != "user":
        raise ValueError(f"{name}.0.role: the first message must use the user role")
    if alternate:
        for index in range(1, len(messages)):
            if messages[index]["role"] == messages[index - 1]["role"]:
                raise ValueError(f"{name}.{index}.role: roles must alternate between user and assistant")


# --------------------------------------------------------------------------------------------------
# Converse-style content blocks ({"text": ...}, {"toolUse": ...}, {"toolResult": ...}, ...)
# --------------------------------------------------------------------------------------------------

_CONVERSE_BLOCKS = {
    "text",
    "image",
    "document",
    "video",
    "toolUse",
    "toolResult",
    "guardContent",
    "cachePoint",
    "reasoningContent",
    "citationsContent",
}


def _converse_block_text(block: dict) -> str:
    """Text carried by one Converse/Nova content block ("" for media and cache points)."""
    if "text" in block:
        if not isinstance(block["text"], str):
            raise ValueError("content.text must be a string")
        return block["text"]
    if "toolResult" in block:
        parts = []
        for item in _require_object(block["toolResult"], "toolResult").get("content") or []:
            if isinstance(item, dict) and isinstance(item.get("text"), str):
                parts.append(item["text"])
            elif isinstance(item, dict) and "json" in item:
                parts.append(str(item["json"]))
        return "\n".join(parts)
    if "guardContent" in block:
        guarded = block["guardContent"]
        if isinstance(guarded, dict) and isinstance(guarded.get("text"), dict):
            return str(guarded["text"].get("text", ""))
    return ""


def _converse_messages(raw: Any, name: str = "messages") -> list[dict]:
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{name} must be a non-empty list")
    messages = []
    for index, message in enumerate(raw):
        where = f"{name}.{index}"
        message = _require_object(message, where)
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise ValueError(f"{where}.role must be 'user' or 'assistant'")
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise ValueError(f"{where}.content must be a non-empty list of content blocks")
        texts = []
        for position, block in enumerate(content):
            block = _require_object(block, f"{where}.content.{position}")
            if not block or not set(block) & _CONVERSE_BLOCKS:
                raise ValueError(f"{where}.content.{position} is not a known content block")
            if "text" in block and isinstance(block["text"], str) and not block["text"].strip():
                raise ValueError(f"{where}.content.{position}.text is blank; add text to the content block")
            texts.append(_converse_block_text(block))
        messages.append({"role": role, "text": "\n".join(t for t in texts if t)})
    return messages


def _converse_system(raw: Any, name: str = "system") -> str:
    if raw is None:
        return ""
    if not isinstance(raw, list):
        raise ValueError(f"{name} must be a list of content blocks")
    parts = []
    for index, block in enumerate(raw):
        block = _require_object(block, f"{name}.{index}")
        if "text" in block:
            if not isinstance(block["text"], str):
                raise ValueError(f"{name}.{index}.text must be a string")
            parts.append(block["text"])
    return "\n\n".join(parts)


def _tool_config(raw: Any, name: str = "toolConfig") -> dict | None:
    if raw is None:
        return None
    config = _require_object(raw, name)
    tools = config.get("tools")
    if not isinstance(tools, list) or not tools:
        raise ValueError(f"{name}.tools must be a non-empty list")
    for index, tool in enumerate(tools):
        tool = _require_object(tool, f"{name}.tools.{index}")
        if "toolSpec" in tool:
            spec = _require_object(tool["toolSpec"], f"{name}.tools.{index}.toolSpec")
            if not isinstance(spec.get("name"), str) or not spec["name"]:
                raise ValueError(f"{name}.tools.{index}.toolSpec.name is required")
            if not isinstance(spec.get("inputSchema"), dict):
                raise ValueError(f"{name}.tools.{index}.toolSpec.inputSchema is required")
    return config


# --------------------------------------------------------------------------------------------------
# InvokeModel request bodies
# --------------------------------------------------------------------------------------------------

_TITAN_KEYS = {"inputText", "textGenerationConfig"}
_TITAN_CONFIG_KEYS = {"maxTokenCount", "temperature", "topP", "stopSequences"}
_ANTHROPIC_KEYS = {
    "anthropic_version",
    "anthropic_beta",
    "max_tokens",
    "system",
    "messages",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "tools",
    "tool_choice",
    "metadata",
    "thinking",
}
_META_KEYS = {"prompt", "max_gen_len", "temperature", "top_p", "images"}
_COHERE_KEYS = {
    "prompt",
    "max_tokens",
    "temperature",
    "p",
    "k",
    "stop_sequences",
    "return_likelihoods",
    "stream",
    "num_generations",
    "logit_bias",
    "truncate",
}
_NOVA_KEYS = {"schemaVersion", "system", "messages", "inferenceConfig", "toolConfig"}
_NOVA_CONFIG_KEYS = {
    "maxTokens",
    "max_new_tokens",
    "temperature",
    "topP",
    "top_p",
    "topK",
    "top_k",
    "stopSequences",
}

# Llama 3 chat template: <|start_header_id|>role<|end_header_id|>\n\ntext<|eot_id|>
_LLAMA3_TURN = re.compile(
    r"<\|start_header_id\|>\s*(\w+)\s*<\|end_header_id\|>(.*?)(?=<\|eot_id\|>|<\|start_header_id\|>|$)", re.S
)
_LLAMA_SPECIAL = re.compile(r"<\|[a-z_]+\|>|</?s>")
# Llama 2 chat template: [INST] <<SYS>>\n...\n<</SYS>>\n\nuser text [/INST] answer
_LLAMA2_SYS = re.compile(r"<<SYS>>(.*?)<</SYS>>", re.S)
_LLAMA2_TURN = re.compile(r"\[INST\](.*?)\[/INST\]([^\[]*)", re.S)


def _parse_llama_prompt(prompt: str) -> tuple[str, list[dict]]:
    """Recover (system, messages) from a raw prompt, stripping Llama 2/3 chat-template tokens."""
    if "<|start_header_id|>" in prompt:
        system_parts, messages = [], []
        for role, text in _LLAMA3_TURN.findall(prompt):
            text = _LLAMA_SPECIAL.sub("", text).strip()
            role = role.lower()
            if role == "system":
                system_parts.append(text)
            elif role in ("user", "ipython"):
                messages.append({"role": "user", "text": text})
            elif role == "assistant" and text:
                messages.append({"role": "assistant", "text": text})
        if messages:
            return "\n\n".join(p for p in system_parts if p), messages
    if "[INST]" in prompt:
        system_match = _LLAMA2_SYS.search(prompt)
        system = system_match.group(1).strip() if system_match else ""
        messages = []
        for user, answer in _LLAMA2_TURN.findall(_LLAMA2_SYS.sub("", prompt)):
            messages.append({"role": "user", "text": _LLAMA_SPECIAL.sub("", user).strip()})
            answer = _LLAMA_SPECIAL.sub("", answer).strip()
            if answer:
                messages.append({"role": "assistant", "text": answer})
        if messages:
            return system, messages
    return "", [{"role": "user", "text": _LLAMA_SPECIAL.sub("", prompt).strip()}]


def _parse_titan(body: dict) -> ChatRequest:
    _check_keys(body, _TITAN_KEYS, "")
    text = _string(body, "inputText", required=True, non_empty=True)
    assert text is not None
    config = _require_object(body.get("textGenerationConfig") or {}, "textGenerationConfig")
    _check_keys(config, _TITAN_CONFIG_KEYS, "textGenerationConfig")
    max_tokens = _integer(config, "maxTokenCount", 0, 8192)
    _number(config, "temperature", 0.0, 1.0)
    _number(config, "topP", 0.0, 1.0)
    stops = _string_list(config, "stopSequences")
    # Titan prompts are often written as "User: question\nBot:"; keep only the question.
    user_text = re.sub(r"\n?\s*Bot:\s*$", "", text.strip())
    user_text = re.sub(r"^\s*User:\s*", "", user_text).strip() or text
    return ChatRequest("", [{"role": "user", "text": user_text}], max_tokens, stops, None)


def _anthropic_content(content: Any, where: str) -> str:
    if isinstance(content, str):
        if not content:
            raise ValueError(f"{where}.content must not be empty")
        return content
    if not isinstance(content, list) or not content:
        raise ValueError(f"{where}.content must be a string or a non-empty list of content blocks")
    texts = []
    for position, block in enumerate(content):
        block = _require_object(block, f"{where}.content.{position}")
        kind = block.get("type")
        if not isinstance(kind, str):
            raise ValueError(f"{where}.content.{position}.type is required")
        if kind == "text":
            if not isinstance(block.get("text"), str):
                raise ValueError(f"{where}.content.{position}.text must be a string")
            texts.append(block["text"])
        elif kind == "tool_result":
            inner = block.get("content")
            if isinstance(inner, str):
                texts.append(inner)
            elif isinstance(inner, list):
                texts.extend(
                    i["text"] for i in inner if isinstance(i, dict) and isinstance(i.get("text"), str)
                )
    return "\n".join(t for t in texts if t)


def _anthropic_tools(body: dict) -> dict | None:
    """Translate Anthropic ``tools``/``tool_choice`` into an equivalent Converse toolConfig."""
    tools = body.get("tools")
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise ValueError("tools must be a list")
    specs = []
    for index, tool in enumerate(tools):
        tool = _require_object(tool, f"tools.{index}")
        if not isinstance(tool.get("name"), str):
            raise ValueError(f"tools.{index}.name is required")
        schema = tool.get("input_schema", {"type": "object", "properties": {}})
        specs.append(
            {
                "toolSpec": {
                    "name": tool["name"],
                    "description": tool.get("description", ""),
                    "inputSchema": {"json": schema},
                }
            }
        )
    config: dict = {"tools": specs}
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        if choice.get("type") == "tool" and isinstance(choice.get("name"), str):
            config["toolChoice"] = {"tool": {"name": choice["name"]}}
        elif choice.get("type") == "any":
            config["toolChoice"] = {"any": {}}
        elif choice.get("type") == "auto":
            config["toolChoice"] = {"auto": {}}
    return config


def _parse_anthropic(body: dict) -> ChatRequest:
    _check_keys(body, _ANTHROPIC_KEYS, "")
    version = _string(body, "anthropic_version", required=True)
    if version != ANTHROPIC_VERSION:
        raise ValueError(f"anthropic_version must be {ANTHROPIC_VERSION!r}, got {version!r}")
    max_tokens = _integer(body, "max_tokens", 1, 1_000_000, required=True)
    _number(body, "temperature", 0.0, 1.0)
    _number(body, "top_p", 0.0, 1.0)
    _integer(body, "top_k", 0, 1_000_000)
    system = body.get("system")
    if system is None:
        system_text = ""
    elif isinstance(system, str):
        system_text = system
    elif isinstance(system, list):
        system_text = "\n\n".join(
            b["text"]
            for b in system
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        )
    else:
        raise ValueError("system must be a string or a list of text blocks")
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ValueError("messages must be a non-empty list")
    messages = []
    for index, message in enumerate(raw):
        where = f"messages.{index}"
        message = _require_object(message, where)
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise ValueError(f"{where}.role must be 'user' or 'assistant'")
        if "content" not in message:
            raise ValueError(f"{where}.content is required")
        messages.append({"role": role, "text": _anthropic_content(message["content"], where)})
    _check_roles(messages, "messages", alternate=True)
    stops = _string_list(body, "stop_sequences", max_items=8191)
    return ChatRequest(system_text, messages, max_tokens, stops, _anthropic_tools(body))


def _parse_meta(body: dict) -> ChatRequest:
    _check_keys(body, _META_KEYS, "")
    prompt = _string(body, "prompt", required=True, non_empty=True)
    assert prompt is not None
    max_tokens = _integer(body, "max_gen_len", 1, 2048)
    _number(body, "temperature", 0.0, 1.0)
    _number(body, "top_p", 0.0, 1.0)
    system, messages = _parse_llama_prompt(prompt)
    return ChatRequest(system, messages, max_tokens, [], None)


def _parse_cohere(body: dict) -> ChatRequest:
    _check_keys(body, _COHERE_KEYS, "")
    prompt = _string(body, "prompt", required=True, non_empty=True)
    assert prompt is not None
    max_tokens = _integer(body, "max_tokens", 1, 4096)
    _number(body, "temperature", 0.0, 5.0)
    _number(body, "p", 0.0, 1.0)
    _integer(body, "k", 0, 500)
    _integer(body, "num_generations", 1, 5)
    stops = _string_list(body, "stop_sequences", max_items=4)
    if "return_likelihoods" in body and body["return_likelihoods"] not in ("GENERATION", "ALL", "NONE"):
        raise ValueError("return_likelihoods must be GENERATION, ALL or NONE")
    if "truncate" in body and body["truncate"] not in ("NONE", "START", "END"):
        raise ValueError("truncate must be NONE, START or END")
    return ChatRequest("", [{"role": "user", "text": prompt.strip()}], max_tokens, stops, None)


def _parse_nova(body: dict) -> ChatRequest:
    _check_keys(body, _NOVA_KEYS, "")
    version = body.get("schemaVersion")
    if version is not None and version != "messages-v1":
        raise ValueError(f"schemaVersion must be 'messages-v1', got {version!r}")
    system = _converse_system(body.get("system"))
    messages = _converse_messages(body.get("messages"))
    _check_roles(messages, "messages", alternate=True)
    config = _require_object(body.get("inferenceConfig") or {}, "inferenceConfig")
    _check_keys(config, _NOVA_CONFIG_KEYS, "inferenceConfig")
    max_tokens = _integer(config, "maxTokens", 1, 10_000)
    alias = _integer(config, "max_new_tokens", 1, 10_000)
    _number(config, "temperature", 0.0, 1.0)
    _number(config, "topP", 0.0, 1.0)
    _number(config, "top_p", 0.0, 1.0)
    stops = _string_list(config, "stopSequences", max_items=4)
    tools = _tool_config(body.get("toolConfig"))
    return ChatRequest(system, messages, max_tokens if max_tokens is not None else alias, stops, tools)


def _parse_imported(body: dict) -> ChatRequest:
    # Imported models run a Llama-style completion API and tolerate extra sampling keys.
    if "prompt" not in body and "messages" in body:
        # OpenAI-style chat completion body, also accepted by Custom Model Import.
        raw = body["messages"]
        if not isinstance(raw, list) or not raw:
            raise ValueError("messages must be a non-empty list")
        system_parts, messages = [], []
        for index, message in enumerate(raw):
            message = _require_object(message, f"messages.{index}")
            content = message.get("content")
            if not isinstance(content, str):
                raise ValueError(f"messages.{index}.content must be a string")
            if message.get("role") == "system":
                system_parts.append(content)
            elif message.get("role") in ("user", "assistant"):
                messages.append({"role": message["role"], "text": content})
            else:
                raise ValueError(f"messages.{index}.role must be system, user or assistant")
        system = "\n\n".join(system_parts)
    else:
        prompt = _string(body, "prompt", required=True, non_empty=True)
        assert prompt is not None
        system, messages = _parse_llama_prompt(prompt)
    max_gen_len = _integer(body, "max_gen_len", 1, 1_000_000)
    max_tokens = _integer(body, "max_tokens", 1, 1_000_000)
    _number(body, "temperature", 0.0, 2.0)
    _number(body, "top_p", 0.0, 1.0)
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else _string_list(body, "stop")
    return ChatRequest(system, messages, max_gen_len if max_gen_len is not None else max_tokens, stops, None)


def _guess_family(body: dict) -> str:
    """Pick a parser for an unknown model id from the body's keys."""
    if "inputText" in body:
        return "titan"
    if "anthropic_version" in body:
        return "anthropic"
    if "schemaVersion" in body or "inferenceConfig" in body:
        return "nova"
    return "imported"


_PARSERS = {
    "titan": _parse_titan,
    "anthropic": _parse_anthropic,
    "meta": _parse_meta,
    "cohere": _parse_cohere,
    "nova": _parse_nova,
    "imported": _parse_imported,
}


def parse_invoke_body(family: str, body: dict) -> ChatRequest:
    """Parse an ``InvokeModel`` body of the given family.

    Raises ``ValueError`` (message naming the field) on a body the real model would reject. For the
    ``unknown`` family the parser is chosen from the body's keys.
    """
    body = _require_object(body, "body")
    if family not in _PARSERS:
        family = _guess_family(body)
    return _PARSERS[family](body)


# --------------------------------------------------------------------------------------------------
# InvokeModel response bodies
# --------------------------------------------------------------------------------------------------


def _stable_id(*parts: str, length: int = 24) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:length]


def _stable_uuid(*parts: str) -> str:
    h = _stable_id(*parts, length=32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _anthropic_model_name(model_id: str) -> str:
    """``anthropic.claude-3-haiku-20240307-v1:0`` -> ``claude-3-haiku-20240307`` (best effort)."""
    match = re.search(r"anthropic\.(claude[\w.-]*?)(?:-v\d+(?::\w+)*)?(?:/|$)", model_id)
    return match.group(1) if match else model_id


_TITAN_REASONS = {
    "end_turn": "FINISH",
    "max_tokens": "LENGTH",
    "stop_sequence": "STOP_CRITERIA_MET",
    "tool_use": "FINISH",
}
_LLAMA_REASONS = {"end_turn": "stop", "max_tokens": "length", "stop_sequence": "stop", "tool_use": "stop"}
_COHERE_REASONS = {
    "end_turn": "COMPLETE",
    "max_tokens": "MAX_TOKENS",
    "stop_sequence": "COMPLETE",
    "tool_use": "COMPLETE",
}


def render_invoke_body(
    family: str,
    text: str,
    stop_reason: str,
    input_tokens: int,
    output_tokens: int,
    model_id: str,
    *,
    stop_sequence: str | None = None,
    prompt: str = "",
) -> dict:
    """Render an answer as the family's ``InvokeModel`` response body.

    ``stop_reason`` is Converse-style (``end_turn``, ``max_tokens``, ``stop_sequence``, ``tool_use``)
    and is mapped to the family's vocabulary. The optional ``stop_sequence`` (the sequence that
    matched) and ``prompt`` (echoed by Cohere) only fill fields that would otherwise be null/empty.
    Unknown families get the Llama-style completion shape used by imported models.
    """
    if stop_reason not in STOP_REASONS:
        stop_reason = "end_turn"
    if family == "titan":
        return {
            "inputTextTokenCount": input_tokens,
            "results": [
                {
                    "tokenCount": output_tokens,
                    "outputText": text,
                    "completionReason": _TITAN_REASONS[stop_reason],
                }
            ],
        }
    if family == "anthropic":
        return {
            "id": "msg_bdrk_" + _stable_id(model_id, text),
            "type": "message",
            "role": "assistant",
            "model": _anthropic_model_name(model_id),
            "content": [{"type": "text", "text": text}],
            "stop_reason": stop_reason if stop_reason != "tool_use" else "end_turn",
            "stop_sequence": stop_sequence if stop_reason == "stop_sequence" else None,
            "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
        }
    if family == "cohere":
        return {
            "id": _stable_uuid(model_id, prompt, text),
            "generations": [
                {
                    "id": _stable_uuid(model_id, text),
                    "text": text,
                    "finish_reason": _COHERE_REASONS[stop_reason],
                }
            ],
            "prompt": prompt,
        }
    if family == "nova":
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": stop_reason,
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            },
        }
    # meta, imported and unknown: Llama-style completion.
    return {
        "generation": text,
        "prompt_token_count": input_tokens,
        "generation_token_count": output_tokens,
        "stop_reason": _LLAMA_REASONS[stop_reason],
    }


# --------------------------------------------------------------------------------------------------
# Converse
# --------------------------------------------------------------------------------------------------

_CONVERSE_KEYS = {
    "modelId",
    "messages",
    "system",
    "inferenceConfig",
    "toolConfig",
    "guardrailConfig",
    "additionalModelRequestFields",
    "additionalModelResponseFieldPaths",
    "promptVariables",
    "requestMetadata",
    "performanceConfig",
}
_CONVERSE_CONFIG_KEYS = {"maxTokens", "temperature", "topP", "stopSequences"}


def parse_converse(body: dict) -> ChatRequest:
    """Parse a ``Converse`` request body; raises ``ValueError`` naming the field when malformed."""
    body = _require_object(body, "body")
    _check_keys(body, _CONVERSE_KEYS, "")
    messages = _converse_messages(body.get("messages"))
    _check_roles(messages, "messages", alternate=True)
    system = _converse_system(body.get("system"))
    config = _require_object(body.get("inferenceConfig") or {}, "inferenceConfig")
    _check_keys(config, _CONVERSE_CONFIG_KEYS, "inferenceConfig")
    max_tokens = _integer(config, "maxTokens", 1, 1_000_000)
    _number(config, "temperature", 0.0, 1.0)
    _number(config, "topP", 0.0, 1.0)
    stops = _string_list(config, "stopSequences", max_items=2500)
    tools = _tool_config(body.get("toolConfig"))
    return ChatRequest(system, messages, max_tokens, stops, tools)


def render_converse(
    text: str, stop_reason: str, input_tokens: int, output_tokens: int, tool_use: dict | None = None
) -> dict:
    """Render a ``Converse`` response; with ``tool_use`` the message carries a ``toolUse`` block.

    ``metrics.latencyMs`` is derived from the output size (deterministic, no clock).
    """
    if tool_use is not None:
        content: list[dict] = [{"toolUse": tool_use}]
        stop_reason = "tool_use"
    else:
        content = [{"text": text}]
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason,
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
        "metrics": {"latencyMs": 120 + 8 * output_tokens},
    }
