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

import base64
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EMBEDDING_FAMILIES",
    "ChatRequest",
    "EmbeddingRequest",
    "converse_supported",
    "family_of",
    "imported_api",
    "parse_converse",
    "parse_embedding_body",
    "parse_invoke_body",
    "render_converse",
    "render_embedding_body",
    "render_imported_body",
    "render_invoke_body",
]

FAMILIES = (
    "titan",
    "anthropic",
    "meta",
    "cohere",
    "nova",
    "titan-embed",
    "titan-embed-image",
    "cohere-embed",
    "imported",
    "unknown",
)
#: Families whose InvokeModel returns embeddings, not text (Converse refuses them).
EMBEDDING_FAMILIES = ("titan-embed", "titan-embed-image", "cohere-embed")
CONVERSE_UNSUPPORTED = (
    "This action doesn't support the model that you provided. Try again with a supported text or chat model."
)
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
    documents: list[dict] = field(default_factory=list)
    """Converse ``document`` blocks of the user turns, oldest first, as ``{"name", "format", "bytes" |
    "text" | "s3_uri"}`` (see :func:`_converse_document`)."""


# --------------------------------------------------------------------------------------------------
# Model ids
# --------------------------------------------------------------------------------------------------

# Geographic prefixes of cross-region inference profiles ("us.amazon.nova-lite-v1:0").
_PROFILE_PREFIX = re.compile(r"^(?:us|eu|apac|ap|ca|jp|au|us-gov|global)\.")


def family_of(model_id: str) -> str:
    """Return the request/response family of a model id, ARN or inference-profile id.

    Accepts base model ids with or without the ``:N:ctx`` suffix, foundation-model, custom-model and
    inference-profile ARNs, geographic inference-profile ids and imported-model ARNs. Returns one of
    ``titan``, ``anthropic``, ``meta``, ``cohere``, ``nova``, the embedding families ``titan-embed`` (Titan
    Text Embeddings G1/V2), ``titan-embed-image`` (Titan Multimodal Embeddings G1) and ``cohere-embed``
    (Cohere Embed v3), ``imported`` or ``unknown``; never raises.
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
        if name.startswith(("titan-embed-text", "titan-embed-g1-text")):
            return "titan-embed"
        if name.startswith("titan-embed-image"):
            return "titan-embed-image"
        if name.startswith("nova") and not name.startswith(("nova-canvas", "nova-reel", "nova-sonic")):
            return "nova"
        return "unknown"
    if vendor == "anthropic" and name.startswith("claude"):
        return "anthropic"
    if vendor == "meta" and name.startswith("llama"):
        return "meta"
    if vendor == "cohere" and name.startswith("command"):
        return "cohere"
    if vendor == "cohere" and name.startswith("embed"):
        return "cohere-embed"
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


def _role_messages(raw: Any, name: str) -> Iterator[tuple[str, dict, str]]:
    """Each message of a non-empty list as (its path in the body, the message, its user/assistant role)."""
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{name} must be a non-empty list")
    for index, message in enumerate(raw):
        where = f"{name}.{index}"
        message = _require_object(message, where)
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise ValueError(f"{where}.role must be 'user' or 'assistant'")
        yield where, message, role


def _converse_messages(raw: Any, name: str = "messages") -> list[dict]:
    messages = []
    for where, message, role in _role_messages(raw, name):
        content = message.get("content")
        if not isinstance(content, list) or not content:
            raise ValueError(f"{where}.content must be a non-empty list of content blocks")
        texts, documents = [], []
        for position, block in enumerate(content):
            block = _require_object(block, f"{where}.content.{position}")
            if not block or not set(block) & _CONVERSE_BLOCKS:
                raise ValueError(f"{where}.content.{position} is not a known content block")
            if "text" in block and isinstance(block["text"], str) and not block["text"].strip():
                raise ValueError(f"{where}.content.{position}.text is blank; add text to the content block")
            if "document" in block:
                here = f"{where}.content.{position}.document"
                documents.append(_converse_document(block["document"], here))
            texts.append(_converse_block_text(block))
        if documents:
            # API reference, Message.content: "You can only include images and documents if the role is
            # user"; "If you include a ContentBlock with a document field in the array, you must also include
            # a ContentBlock with a text field."
            if role != "user":
                raise ValueError(f"{where}: only user messages can include documents")
            if not any("text" in block for block in content):
                raise ValueError(f"{where}.content: a message with a document must also include a text block")
        messages.append({"role": role, "text": "\n".join(t for t in texts if t)})
        if documents:
            messages[-1]["documents"] = documents
    return messages


# Converse documents. API reference, DocumentBlock
# (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_DocumentBlock.html): name 1-200
# characters, "Alphanumeric characters, Whitespace characters (no more than one in a row), Hyphens,
# Parentheses, Square brackets"; format pdf | csv | doc | docx | xls | xlsx | html | txt | md; source a union
# of bytes | s3Location | text | content (DocumentSource; bytes at least 1). API reference, Message
# (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Message.html): "You can include up to
# five documents. Each document's size must be no more than 4.5 MB." The service's messages for too many
# documents and for duplicate names are the ones users report (aws-samples/generative-ai-use-cases#1685).
DOCUMENT_FORMATS = ("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md")
MAX_DOCUMENTS = 5
#: 4.5 MB read as MiB, the larger reading: the emulator refuses only what the service surely refuses.
MAX_DOCUMENT_BYTES = int(4.5 * 1024 * 1024)
MAX_DOCUMENT_NAME = 200
_DOCUMENT_SOURCES = ("bytes", "s3Location", "text", "content")
TOO_MANY_DOCUMENTS = "You can't include more than 5 documents in a request."
DUPLICATE_DOCUMENT_NAMES = (
    "Messages can't contain duplicate document names. Rename the document and retry your request."
)


def _document_name_problem(name: str) -> str | None:
    if not 1 <= len(name) <= MAX_DOCUMENT_NAME:
        return f"must have 1 to {MAX_DOCUMENT_NAME} characters"
    for index, char in enumerate(name):
        if char.isspace():
            if index and name[index - 1].isspace():
                return "has two whitespace characters in a row"
        elif not (char.isalnum() or char in "-()[]"):
            return (
                f"has {char!r}: only alphanumeric characters, single whitespace characters, hyphens, "
                "parentheses and square brackets are allowed"
            )
    return None


def _converse_document(raw: Any, where: str) -> dict:
    """A validated document block as ``{"name", "format", "bytes" | "text" | "s3_uri"}``."""
    block = _require_object(raw, where)
    _check_keys(block, {"name", "format", "source", "context", "citations"}, where)
    name = block.get("name")
    if not isinstance(name, str):
        raise ValueError(f"{where}.name is required")
    problem = _document_name_problem(name)
    if problem:
        raise ValueError(f"{where}.name {name!r} {problem}")
    fmt = block.get("format", "txt")
    if fmt not in DOCUMENT_FORMATS:
        raise ValueError(f"{where}.format must be one of {', '.join(DOCUMENT_FORMATS)}, got {fmt!r}")
    source = _require_object(block.get("source"), f"{where}.source")
    given = [key for key in source if source[key] is not None]
    if len(given) != 1 or given[0] not in _DOCUMENT_SOURCES:
        raise ValueError(f"{where}.source must have exactly one of {', '.join(_DOCUMENT_SOURCES)}")
    kind = given[0]
    document = {"name": name, "format": fmt}
    if kind == "bytes":
        if not isinstance(source["bytes"], str):
            raise ValueError(f"{where}.source.bytes must be base64-encoded bytes")
        try:
            data = base64.b64decode(source["bytes"], validate=True)
        except ValueError:
            raise ValueError(f"{where}.source.bytes is not valid base64") from None
        if not data:
            raise ValueError(f"{where}.source.bytes must not be empty")
        if len(data) > MAX_DOCUMENT_BYTES:
            raise ValueError(
                f"{where}: the document {name!r} has {len(data):,} bytes; each document's size must be no "
                "more than 4.5 MB"
            )
        document["bytes"] = data
    elif kind == "text":
        if not isinstance(source["text"], str):
            raise ValueError(f"{where}.source.text must be a string")
        document["text"] = source["text"]
    elif kind == "content":
        items = source["content"]
        if not isinstance(items, list) or not all(
            isinstance(item, dict) and isinstance(item.get("text"), str) for item in items
        ):
            raise ValueError(f"{where}.source.content must be a list of {{text}} blocks")
        document["text"] = "\n".join(item["text"] for item in items)
    else:
        location = _require_object(source["s3Location"], f"{where}.source.s3Location")
        uri = location.get("uri")
        if not isinstance(uri, str) or not uri.startswith("s3://"):
            raise ValueError(f"{where}.source.s3Location.uri must be an s3:// URI")
        document["s3_uri"] = uri
    return document


def _request_documents(messages: list[dict]) -> list[dict]:
    """Every document of the request, checked across messages: at most five, names unique."""
    documents = [document for message in messages for document in message.get("documents", ())]
    if len(documents) > MAX_DOCUMENTS:
        raise ValueError(TOO_MANY_DOCUMENTS)
    names = [document["name"] for document in documents]
    if len(set(names)) != len(names):
        raise ValueError(DUPLICATE_DOCUMENT_NAMES)
    return documents


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
    _tool_choice(config, name)
    return config


# ToolChoice (https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ToolChoice.html): a union of
# auto {} | any {} | tool {name}; the tool it names must be one of the request's tools
# (https://docs.aws.amazon.com/bedrock/latest/userguide/tool-use.html). ToolName: 1-64 of [a-zA-Z0-9_-].
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def _tool_choice(config: dict, name: str) -> None:
    if config.get("toolChoice") is None:
        return
    choice = _require_object(config["toolChoice"], f"{name}.toolChoice")
    given = [key for key in choice if choice[key] is not None]
    if len(given) != 1 or given[0] not in ("auto", "any", "tool"):
        raise ValueError(f"{name}.toolChoice must have exactly one of auto, any, tool")
    kind = given[0]
    value = _require_object(choice[kind], f"{name}.toolChoice.{kind}")
    if kind != "tool":
        _check_keys(value, set(), f"{name}.toolChoice.{kind}")
        return
    tool_name = value.get("name")
    if not isinstance(tool_name, str) or not _TOOL_NAME.match(tool_name):
        raise ValueError(f"{name}.toolChoice.tool.name must be 1-64 characters of [a-zA-Z0-9_-]")
    names = [
        tool["toolSpec"].get("name")
        for tool in config["tools"]
        if isinstance(tool, dict) and isinstance(tool.get("toolSpec"), dict)
    ]
    if tool_name not in names:
        raise ValueError(
            f"{name}.toolChoice.tool.name {tool_name!r} is not one of the tools in {name}.tools: "
            + ", ".join(map(str, names))
        )


# --------------------------------------------------------------------------------------------------
# InvokeModel request bodies
# --------------------------------------------------------------------------------------------------

_TITAN_KEYS = {"inputText", "textGenerationConfig"}
_TITAN_CONFIG_KEYS = {"maxTokenCount", "temperature", "topP", "stopSequences"}
_ANTHROPIC_KEYS = {
    "anthropic_version", "anthropic_beta", "max_tokens", "system", "messages", "temperature", "top_p",
    "top_k", "stop_sequences", "tools", "tool_choice", "metadata", "thinking"
}
_META_KEYS = {"prompt", "max_gen_len", "temperature", "top_p", "images"}
_COHERE_KEYS = {
    "prompt", "max_tokens", "temperature", "p", "k", "stop_sequences", "return_likelihoods", "stream",
    "num_generations", "logit_bias", "truncate"
}
_NOVA_KEYS = {"schemaVersion", "system", "messages", "inferenceConfig", "toolConfig"}
_NOVA_CONFIG_KEYS = {
    "maxTokens", "max_new_tokens", "temperature", "topP", "top_p", "topK", "top_k", "stopSequences"
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
    messages = []
    for where, message, role in _role_messages(body.get("messages"), "messages"):
        if "content" not in message:
            raise ValueError(f"{where}.content is required")
        messages.append({"role": role, "text": _anthropic_content(message["content"], where)})
    _check_roles(messages, "messages", alternate=True)
    stops = _string_list(body, "stop_sequences", max_items=8191)
    return ChatRequest(system_text, messages, max_tokens, stops, _anthropic_tools(body))


def _prompt_body(body: dict, keys: set[str], max_tokens_key: str, max_tokens: int) -> tuple[str, int | None]:
    """The prompt and the token limit of a prompt-style body (Meta, Cohere), its keys checked."""
    _check_keys(body, keys, "")
    prompt = _string(body, "prompt", required=True, non_empty=True)
    assert prompt is not None
    return prompt, _integer(body, max_tokens_key, 1, max_tokens)


def _parse_meta(body: dict) -> ChatRequest:
    prompt, max_tokens = _prompt_body(body, _META_KEYS, "max_gen_len", 2048)
    _number(body, "temperature", 0.0, 1.0)
    _number(body, "top_p", 0.0, 1.0)
    system, messages = _parse_llama_prompt(prompt)
    return ChatRequest(system, messages, max_tokens, [], None)


def _parse_cohere(body: dict) -> ChatRequest:
    prompt, max_tokens = _prompt_body(body, _COHERE_KEYS, "max_tokens", 4096)
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
            content = _openai_content(message.get("content"), f"messages.{index}")
            if message.get("role") in ("system", "developer"):
                system_parts.append(content)
            elif message.get("role") in ("user", "assistant"):
                messages.append({"role": message["role"], "text": content})
            elif message.get("role") == "tool":
                messages.append({"role": "user", "text": content})
            else:
                raise ValueError(f"messages.{index}.role must be system, developer, user, assistant or tool")
        if not messages:
            raise ValueError("messages must contain a user message")
        system = "\n\n".join(system_parts)
    else:
        prompt = _string(body, "prompt", required=True, non_empty=True)
        assert prompt is not None
        system, messages = _parse_llama_prompt(prompt)
    max_gen_len = _integer(body, "max_gen_len", 1, 1_000_000)
    max_tokens = _integer(body, "max_tokens", 1, 1_000_000)
    if max_tokens is None:
        max_tokens = _integer(body, "max_completion_tokens", 1, 1_000_000)
    _number(body, "temperature", 0.0, 2.0)
    _number(body, "top_p", 0.0, 1.0)
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else _string_list(body, "stop")
    return ChatRequest(system, messages, max_gen_len if max_gen_len is not None else max_tokens, stops, None)


def _openai_content(content: Any, where: str) -> str:
    """Text of an OpenAI chat message content: a string or a list of parts (images are skipped)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for position, part in enumerate(content):
            part = _require_object(part, f"{where}.content.{position}")
            if part.get("type") == "text":
                if not isinstance(part.get("text"), str):
                    raise ValueError(f"{where}.content.{position}.text must be a string")
                texts.append(part["text"])
            elif part.get("type") not in ("image_url", "input_audio", "file"):
                raise ValueError(f"{where}.content.{position}.type {part.get('type')!r} is not supported")
        return "\n".join(texts)
    raise ValueError(f"{where}.content must be a string or a list of content parts")


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
    "serviceTier",
    "outputConfig",
}
PERFORMANCE_LATENCIES = ("standard", "optimized")
SERVICE_TIERS = ("priority", "default", "flex", "reserved")
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
    documents = _request_documents(messages)
    performance = _require_object(body.get("performanceConfig") or {}, "performanceConfig")
    if performance.get("latency", "standard") not in PERFORMANCE_LATENCIES:
        raise ValueError(f"performanceConfig.latency must be one of {', '.join(PERFORMANCE_LATENCIES)}")
    if body.get("serviceTier") is not None:
        tier = _require_object(body["serviceTier"], "serviceTier")
        if tier.get("type") not in SERVICE_TIERS:
            raise ValueError(f"serviceTier.type must be one of {', '.join(SERVICE_TIERS)}")
    return ChatRequest(system, messages, max_tokens, stops, tools, documents)


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


# --------------------------------------------------------------------------------------------------
# Imported models (Custom Model Import): the API format follows the architecture and the body
# --------------------------------------------------------------------------------------------------

IMPORTED_APIS = ("bedrock-completion", "openai-completion", "openai-chat-completion")
_OPENAI_REASONS = {"end_turn": "stop", "max_tokens": "length", "stop_sequence": "stop", "tool_use": "tool_calls"}


def _architecture_key(architecture: str | None) -> str:
    """``GptOssForCausalLM``, ``gpt_oss`` and ``GPT-OSS`` all become ``gptoss...``."""
    return re.sub(r"[^a-z0-9]", "", str(architecture or "").lower())


def openai_only(architecture: str | None) -> bool:
    """GPT-OSS imports speak only the OpenAI-compatible schemas (Completion and ChatCompletion)."""
    return _architecture_key(architecture).startswith("gptoss")


def imported_api(body: dict, architecture: str | None) -> str:
    """Which Custom Model Import API format a body uses for a model of ``architecture``.

    A ``messages`` body is an OpenAI ChatCompletion; a ``prompt`` body is the BedrockCompletion format
    (``generation`` answer), except for GPT-OSS, whose completion requests follow the OpenAI Completions
    schema (``choices[].text`` answer).
    """
    if isinstance(body, dict) and "messages" in body and "prompt" not in body:
        return "openai-chat-completion"
    return "openai-completion" if openai_only(architecture) else "bedrock-completion"


def converse_supported(family: str, architecture: str | None = None) -> bool:
    """Whether Converse serves the model: not embedding models, not GPT-OSS or Qwen2/2.5(-VL) imports."""
    if family in EMBEDDING_FAMILIES:
        return False
    if family == "imported":
        key = _architecture_key(architecture)
        return not (key.startswith("gptoss") or key.startswith("qwen2"))
    return True


def render_imported_body(
    api: str,
    text: str,
    stop_reason: str,
    input_tokens: int,
    output_tokens: int,
    model_name: str,
    *,
    created: int = 0,
) -> dict:
    """An imported model's ``InvokeModel`` answer in the request's API format (see :func:`imported_api`)."""
    if stop_reason not in STOP_REASONS:
        stop_reason = "end_turn"
    usage = {
        "prompt_tokens": input_tokens,
        "completion_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
    }
    if api == "openai-chat-completion":
        return {
            "id": "chatcmpl-" + _stable_id(model_name, text, length=32),
            "object": "chat.completion",
            "created": created,
            "model": model_name,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": _OPENAI_REASONS[stop_reason],
                }
            ],
            "usage": usage,
        }
    if api == "openai-completion":
        return {
            "id": "cmpl-" + _stable_id(model_name, text, length=32),
            "object": "text_completion",
            "created": created,
            "model": model_name,
            "choices": [
                {"index": 0, "text": text, "logprobs": None, "finish_reason": _OPENAI_REASONS[stop_reason]}
            ],
            "usage": usage,
        }
    return render_invoke_body("imported", text, stop_reason, input_tokens, output_tokens, model_name)


# --------------------------------------------------------------------------------------------------
# Embedding models (Titan Text Embeddings G1/V2, Titan Multimodal Embeddings G1, Cohere Embed v3)
# --------------------------------------------------------------------------------------------------

TITAN_V2_DIMENSIONS = (256, 512, 1024)
TITAN_V1_DIMENSIONS = 1536
TITAN_IMAGE_DIMENSIONS = (256, 384, 1024)
COHERE_DIMENSIONS = 1024
TITAN_EMBED_MAX_CHARS = 50_000
COHERE_MAX_TEXTS = 96
COHERE_MAX_CHARS = 2048
COHERE_INPUT_TYPES = ("search_document", "search_query", "classification", "clustering", "image")
COHERE_EMBEDDING_TYPES = ("float", "int8", "uint8", "binary", "ubinary")


@dataclass
class EmbeddingRequest:
    """An embedding request reduced to what the emulated embedding models need."""

    texts: list[str]
    """Texts to embed, one vector each (Titan: exactly one; may be "" with an image)."""
    dimensions: int
    normalize: bool = True
    types: list[str] = field(default_factory=lambda: ["float"])
    """Requested embedding types (Titan V2 ``embeddingTypes``, Cohere ``embedding_types``)."""
    types_requested: bool = False
    """Whether the body named the types (Cohere answers a different shape then)."""
    input_type: str | None = None
    images: list[str] = field(default_factory=list)
    """Raw image payloads (base64 or data URIs), hashed into the vector."""


def _malformed(path: str, problem: str) -> ValueError:
    return ValueError(f"#{'/' + path if path else ''}: {problem}")


def _titan_v2(model_id: str) -> bool:
    return "titan-embed-text-v2" in model_id.lower()


def _parse_titan_embed(body: dict, model_id: str) -> EmbeddingRequest:
    v2 = _titan_v2(model_id)
    allowed = {"inputText", "dimensions", "normalize", "embeddingTypes"} if v2 else {"inputText"}
    extra = sorted(set(body) - allowed)
    if extra:
        raise _malformed("", f"extraneous key [{extra[0]}] is not permitted")
    if "inputText" not in body or body["inputText"] is None:
        raise _malformed("", "required key [inputText] not found")
    text = body["inputText"]
    if not isinstance(text, str):
        raise _malformed("inputText", f"expected type: String, found: {type(text).__name__}")
    if not text.strip():
        raise _malformed("inputText", "expected minLength: 1, actual: 0")
    if len(text) > TITAN_EMBED_MAX_CHARS:
        raise _malformed("inputText", f"expected maxLength: {TITAN_EMBED_MAX_CHARS}, actual: {len(text)}")
    if not v2:
        return EmbeddingRequest([text], TITAN_V1_DIMENSIONS)
    dimensions = body.get("dimensions", 1024)
    if isinstance(dimensions, bool) or dimensions not in TITAN_V2_DIMENSIONS:
        raise _malformed("dimensions", f"{dimensions} is not a valid enum value (accepted: 256, 512, 1024)")
    normalize = body.get("normalize", True)
    if not isinstance(normalize, bool):
        raise _malformed("normalize", f"expected type: Boolean, found: {type(normalize).__name__}")
    types = body.get("embeddingTypes", ["float"])
    if (
        not isinstance(types, list)
        or not types
        or any(t not in ("float", "binary") for t in types)
        or len(set(types)) != len(types)
    ):
        raise _malformed("embeddingTypes", f"{types!r} is not valid: use a list of \"float\", \"binary\" or both")
    return EmbeddingRequest([text], int(dimensions), normalize, list(types), "embeddingTypes" in body)


def _parse_titan_embed_image(body: dict) -> EmbeddingRequest:
    extra = sorted(set(body) - {"inputText", "inputImage", "embeddingConfig"})
    if extra:
        raise _malformed("", f"extraneous key [{extra[0]}] is not permitted")
    text = body.get("inputText")
    image = body.get("inputImage")
    if text is not None and not isinstance(text, str):
        raise _malformed("inputText", f"expected type: String, found: {type(text).__name__}")
    if image is not None and (not isinstance(image, str) or not image):
        raise _malformed("inputImage", "expected a base64-encoded image string")
    if not (text and text.strip()) and not image:
        raise _malformed("", "at least one of [inputText, inputImage] is required")
    config = body.get("embeddingConfig") or {}
    if not isinstance(config, dict):
        raise _malformed("embeddingConfig", "expected type: JSONObject")
    extra = sorted(set(config) - {"outputEmbeddingLength"})
    if extra:
        raise _malformed("embeddingConfig", f"extraneous key [{extra[0]}] is not permitted")
    length = config.get("outputEmbeddingLength", 1024)
    if isinstance(length, bool) or length not in TITAN_IMAGE_DIMENSIONS:
        raise _malformed(
            "embeddingConfig/outputEmbeddingLength", f"{length} is not a valid enum value (accepted: 256, 384, 1024)"
        )
    return EmbeddingRequest([text or ""], int(length), True, ["float"], False, None, [image] if image else [])


def _parse_cohere_embed(body: dict) -> EmbeddingRequest:
    extra = sorted(set(body) - {"texts", "images", "input_type", "truncate", "embedding_types"})
    if extra:
        raise ValueError(f"extraneous key [{extra[0]}] is not permitted")
    input_type = body.get("input_type")
    if input_type is None:
        raise ValueError("input_type is required: use search_document, search_query, classification or clustering")
    if input_type not in COHERE_INPUT_TYPES:
        raise ValueError(f"input_type must be one of {', '.join(COHERE_INPUT_TYPES)}, got {input_type!r}")
    texts, images = body.get("texts"), body.get("images")
    if texts is not None and images is not None:
        raise ValueError("only one of texts or images may be given")
    if images is not None:
        if not isinstance(images, list) or len(images) != 1 or not isinstance(images[0], str):
            raise ValueError("images must be a list of exactly one image data URI")
        if not images[0].startswith(("data:image/jpeg;base64,", "data:image/png;base64,")):
            raise ValueError("images[0] must be a data URI of an image/jpeg or image/png image")
        texts_list: list[str] = [""]
    else:
        if texts is None:
            raise ValueError("texts is required")
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise ValueError("texts must be a list of strings")
        if len(texts) > COHERE_MAX_TEXTS:
            raise ValueError(f"texts accepts at most {COHERE_MAX_TEXTS} items, got {len(texts)}")
        truncate = body.get("truncate", "NONE")
        if truncate not in ("NONE", "START", "END"):
            raise ValueError("truncate must be NONE, START or END")
        texts_list = []
        for index, text in enumerate(texts):
            if len(text) > COHERE_MAX_CHARS:
                if truncate == "NONE":
                    raise ValueError(
                        f"texts.{index} is {len(text)} characters long; the limit is {COHERE_MAX_CHARS} "
                        "(set truncate to START or END to cut it)"
                    )
                text = text[-COHERE_MAX_CHARS:] if truncate == "START" else text[:COHERE_MAX_CHARS]
            texts_list.append(text)
    types = body.get("embedding_types")
    if types is not None and (
        not isinstance(types, list) or not types or any(t not in COHERE_EMBEDDING_TYPES for t in types)
    ):
        raise ValueError(f"embedding_types must be a non-empty list of {', '.join(COHERE_EMBEDDING_TYPES)}")
    return EmbeddingRequest(
        texts_list, COHERE_DIMENSIONS, True, list(types or ["float"]), types is not None, input_type, list(images or [])
    )


def parse_embedding_body(family: str, body: Any, model_id: str = "") -> EmbeddingRequest:
    """Parse an embedding model's ``InvokeModel`` body; ``ValueError`` (naming the field) when malformed.

    Titan errors use the JSON-schema wording of the real service (``#: required key [inputText] not
    found``, ``#/dimensions: 100 is not a valid enum value``).
    """
    body = _require_object(body, "body")
    if family == "titan-embed":
        return _parse_titan_embed(body, model_id)
    if family == "titan-embed-image":
        return _parse_titan_embed_image(body)
    if family == "cohere-embed":
        return _parse_cohere_embed(body)
    raise ValueError(f"{model_id or family} is not an embedding model")


def _binary(vector: list[float]) -> list[int]:
    return [1 if value > 0 else 0 for value in vector]


def _packed_bits(vector: list[float], signed: bool) -> list[int]:
    """Cohere binary/ubinary: 8 dimensions per byte, most significant bit first."""
    out = []
    for start in range(0, len(vector), 8):
        byte = 0
        for value in vector[start : start + 8]:
            byte = (byte << 1) | (1 if value > 0 else 0)
        out.append(byte - 128 if signed else byte)
    return out


def _quantized(vector: list[float], signed: bool) -> list[int]:
    peak = max((abs(v) for v in vector), default=0.0) or 1.0
    if signed:
        return [max(-128, min(127, round(v / peak * 127))) for v in vector]
    return [max(0, min(255, round((v / peak + 1.0) * 127.5))) for v in vector]


def render_embedding_body(
    family: str,
    request: EmbeddingRequest,
    vectors: list[list[float]],
    token_counts: list[int],
    *,
    model_id: str = "",
    response_id: str = "",
) -> dict:
    """Render embedding vectors (one per request text) as the family's ``InvokeModel`` response body."""
    if family == "cohere-embed":
        if request.types_requested:
            by_type: dict[str, list[list[Any]]] = {}
            for kind in request.types:
                if kind == "float":
                    by_type[kind] = vectors
                elif kind in ("int8", "uint8"):
                    by_type[kind] = [_quantized(v, kind == "int8") for v in vectors]
                else:
                    by_type[kind] = [_packed_bits(v, kind == "binary") for v in vectors]
            embeddings: Any = by_type
            response_type = "embeddings_by_type"
        else:
            embeddings, response_type = vectors, "embeddings_floats"
        result: dict[str, Any] = {
            "embeddings": embeddings,
            "id": response_id or _stable_uuid(model_id, *request.texts),
            "response_type": response_type,
            "texts": request.texts if not request.images else [],
        }
        if request.images:
            result["images"] = [{"format": "data-uri"}]
        return result
    vector, tokens = vectors[0], token_counts[0]
    if family == "titan-embed" and _titan_v2(model_id):
        by_kind: dict[str, Any] = {}
        for kind in request.types:
            by_kind[kind] = vector if kind == "float" else _binary(vector)
        return {"embedding": vector, "inputTextTokenCount": tokens, "embeddingsByType": by_kind}
    return {"embedding": vector, "inputTextTokenCount": tokens}
