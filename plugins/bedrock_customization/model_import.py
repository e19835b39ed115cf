"""Custom Model Import: check a Hugging Face model folder before importing it, and smoke-test the result.

Bedrock's CreateModelImportJob reports a bad folder only when the job ends Failed, after the import has
started. :func:`run_import_preflight` reads the folder first (ListObjectsV2, a GetObject of ``config.json``
and of the safetensors index, a 9-byte ranged GetObject per weight file; nothing billable) and reports every
problem at once, as the customization preflight does (:class:`~bedrock_customization.preflight.Check`,
:class:`~bedrock_customization.preflight.PreflightReport`):

* ``model-folder``: the ``s3://`` URI parses and the folder holds files at its top level;
* ``config``: ``config.json`` exists and is a JSON object;
* ``architecture``: ``architectures[0]`` (or ``model_type``) is an architecture Custom Model Import accepts
  (:data:`SUPPORTED_ARCHITECTURES`, :data:`SUPPORTED_MODEL_TYPES`) and the two agree;
* ``weights``: ``*.safetensors`` files exist, are real safetensors (not Git LFS pointer files) and, with a
  ``model.safetensors.index.json``, every shard it names is there;
* ``tokenizer``: ``tokenizer.json`` or ``tokenizer.model``, and ``tokenizer_config.json``;
* ``size``: the folder's total size is within :data:`DEFAULT_MAX_TOTAL_BYTES`.

The smoke test (:func:`smoke_test_body`, :func:`check_smoke_response`) sends an imported model a request
in the API format its architecture takes (:func:`invoke_format`: the BedrockCompletion body ``{"prompt",
"max_gen_len", ...}`` answered with ``{"generation", ...}`` for Llama, Mistral, Mixtral, Flan-T5, GPTBigCode
and Qwen; the OpenAI ChatCompletion body ``{"messages", "max_tokens", ...}`` answered with ``{"choices":
[{"message": {"content"}}], ...}`` for GPT-OSS, which takes only OpenAI-compatible bodies) with
``stop: ["\\n\\n"]``, and checks the stop sequence was honoured: a public write-up of Custom Model Import
found it was not, and an application relying on it would then get run-on answers.

Pure apart from the S3 client passed in; no Airflow import.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bedrock_customization.artifacts import parse_s3_folder, parse_s3_uri, s3_uri
from bedrock_customization.exceptions import BedrockCustomizationError
from bedrock_customization.preflight import Check, PreflightReport, _guarded

__all__ = [
    "BEDROCK_COMPLETION",
    "DEFAULT_MAX_TOTAL_BYTES",
    "DEFAULT_SMOKE_PROMPT",
    "DEFAULT_STOP",
    "INVOKE_FORMATS",
    "OPENAI_CHAT_COMPLETION",
    "SUPPORTED_ARCHITECTURES",
    "SUPPORTED_MODEL_TYPES",
    "InvokeAnswer",
    "ModelFolder",
    "SmokeTestOutcome",
    "architecture_family",
    "check_architecture",
    "check_config",
    "check_folder",
    "check_imported_model_name",
    "check_size",
    "check_smoke_response",
    "check_tokenizer",
    "check_weights",
    "folder_uri",
    "invoke_format",
    "list_model_folder",
    "parse_invoke_response",
    "run_import_preflight",
    "smoke_test_body",
]

#: Hugging Face architecture classes (``config.json`` ``architectures[0]``) Custom Model Import accepts, and
#: the model family each belongs to.
SUPPORTED_ARCHITECTURES: dict[str, str] = {
    "LlamaForCausalLM": "Llama 2 / Llama 3.x",
    "MistralForCausalLM": "Mistral",
    "MixtralForCausalLM": "Mixtral",
    "T5ForConditionalGeneration": "Flan-T5",
    "GPTBigCodeForCausalLM": "GPTBigCode",
    "Qwen2ForCausalLM": "Qwen2 / Qwen2.5",
    "Qwen2VLForConditionalGeneration": "Qwen2-VL",
    "Qwen2_5_VLForConditionalGeneration": "Qwen2.5-VL",
    "Qwen3ForCausalLM": "Qwen3",
    "GptOssForCausalLM": "GPT-OSS",
}
#: ``config.json`` ``model_type`` values of the same families.
SUPPORTED_MODEL_TYPES: dict[str, str] = {
    "llama": "Llama 2 / Llama 3.x",
    "mistral": "Mistral",
    "mixtral": "Mixtral",
    "t5": "Flan-T5",
    "gpt_bigcode": "GPTBigCode",
    "qwen2": "Qwen2 / Qwen2.5",
    "qwen2_vl": "Qwen2-VL",
    "qwen2_5_vl": "Qwen2.5-VL",
    "qwen3": "Qwen3",
    "gpt_oss": "GPT-OSS",
}
#: Largest folder (all files, bytes) the preflight accepts: 200 GiB, which holds a 70B-parameter model in
#: 16-bit weights (about 141 GB). UNVERIFIED: Bedrock's documented limit could not be confirmed; pass
#: ``max_total_bytes`` to change it.
DEFAULT_MAX_TOTAL_BYTES = 200 * 1024**3
#: A prompt that makes a model answer in several paragraphs, so that ``stop: ["\n\n"]`` must cut it.
DEFAULT_SMOKE_PROMPT = (
    "Explain in three short paragraphs, separated by blank lines, what a smoke test is, why teams run one "
    "after deploying a model, and what it should check."
)
DEFAULT_STOP = "\n\n"

INDEX_FILE = "model.safetensors.index.json"
_LFS_POINTER = b"version https://git-lfs"
# A safetensors file starts with the header length (unsigned 64-bit little endian) and a JSON header.
_MAX_HEADER_BYTES = 100 * 1024**2
_WEIGHT_FORMATS = (".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack")
_STOP_REASONS = ("stop", "stop_sequence", "end_turn")


# ------------------------------------------------------------------------------------------- the folder


def folder_uri(uri: str) -> str:
    """``uri`` as a folder URI (ending in ``/``); raises :class:`BedrockCustomizationError` if not ``s3://``."""
    return s3_uri(*parse_s3_folder(str(uri or "").strip()))


@dataclass(frozen=True)
class ModelFolder:
    """The objects below a model folder: ``files`` at its top level, ``nested`` deeper (relative key -> bytes)."""

    uri: str
    files: Mapping[str, int] = field(default_factory=dict)
    nested: Mapping[str, int] = field(default_factory=dict)
    bucket_missing: bool = False

    @property
    def bucket(self) -> str:
        return parse_s3_uri(self.uri)[0]

    @property
    def prefix(self) -> str:
        return parse_s3_uri(self.uri)[1]

    @property
    def total_bytes(self) -> int:
        return sum(self.files.values()) + sum(self.nested.values())

    def key(self, name: str) -> str:
        """The S3 key of the top-level file ``name``."""
        return f"{self.prefix}{name}"

    def safetensors(self) -> list[str]:
        return sorted(name for name in self.files if name.endswith(".safetensors"))

    def nested_named(self, name: str) -> list[str]:
        """Nested files called ``name`` (``sub/config.json``...)."""
        return sorted(path for path in self.nested if path.rsplit("/", 1)[-1] == name)


def list_model_folder(s3: Any, uri: str) -> ModelFolder:
    """List the folder's objects (ListObjectsV2, paginated)."""
    uri = folder_uri(uri)
    bucket, prefix = parse_s3_uri(uri)
    files: dict[str, int] = {}
    nested: dict[str, int] = {}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                relative = item["Key"][len(prefix) :]
                if not relative or relative.endswith("/"):
                    continue
                (nested if "/" in relative else files)[relative] = int(item.get("Size", 0))
    except s3.exceptions.NoSuchBucket:
        return ModelFolder(uri, bucket_missing=True)
    return ModelFolder(uri, files, nested)


# ------------------------------------------------------------------------------------------- pure checks


def check_folder(folder: ModelFolder) -> Check:
    """The folder exists and has files at its top level (Bedrock reads the folder, not its subfolders)."""
    name = "model-folder"
    if folder.bucket_missing:
        return Check(
            name,
            False,
            f"bucket {folder.bucket} does not exist ({folder.uri})",
            "fix the bucket in model_data_uri, or create it and upload the model",
        )
    if not folder.files:
        where = f"; it has subfolders only: {', '.join(sorted(folder.nested)[:5])}" if folder.nested else ""
        return Check(
            name,
            False,
            f"no files directly in {folder.uri}{where}",
            "upload the Hugging Face model files (config.json, *.safetensors, tokenizer files) to this folder, "
            "or point model_data_uri at the folder that holds them",
        )
    return Check(name, True, f"{len(folder.files)} files in {folder.uri}")


def check_config(folder: ModelFolder, config: Any, error: str | None = None) -> Check:
    """``config.json`` exists at the top of the folder and is a JSON object."""
    name = "config"
    if "config.json" not in folder.files:
        nested = folder.nested_named("config.json")
        hint = (
            f"; found {nested[0]}: point model_data_uri at s3://{folder.bucket}/{folder.prefix}"
            f"{nested[0].rsplit('/', 1)[0]}/"
            if nested
            else "; upload the model's config.json (save_pretrained writes it)"
        )
        return Check(name, False, f"config.json: not found in {folder.uri}", "add config.json" + hint)
    if error is not None or not isinstance(config, Mapping):
        found = error or f"a JSON {type(config).__name__}, not an object"
        return Check(
            name,
            False,
            f"config.json ({folder.uri}config.json): {found}",
            "re-export config.json with the model's save_pretrained()",
        )
    return Check(name, True, f"config.json is a JSON object with {len(config)} fields")


def architecture_family(config: Mapping[str, Any]) -> tuple[str | None, str]:
    """(family, what was read) for a ``config.json``; family is None when not supported."""
    architectures = config.get("architectures")
    model_type = config.get("model_type")
    if isinstance(architectures, list) and architectures:
        first = str(architectures[0])
        return SUPPORTED_ARCHITECTURES.get(first), f"architectures[0] = {first!r}"
    if isinstance(model_type, str) and model_type:
        return SUPPORTED_MODEL_TYPES.get(model_type), f"model_type = {model_type!r} (no architectures)"
    return None, "neither architectures nor model_type"


def check_architecture(config: Mapping[str, Any] | None) -> Check:
    """``architectures[0]`` (else ``model_type``) is supported, and ``model_type`` names the same family."""
    name = "architecture"
    if not isinstance(config, Mapping):
        return Check(name, False, "cannot check without a readable config.json", "fix config.json first")
    family, found = architecture_family(config)
    supported = ", ".join(f"{arch} ({fam})" for arch, fam in SUPPORTED_ARCHITECTURES.items())
    if family is None:
        return Check(
            name,
            False,
            f"config.json: {found} is not an architecture Custom Model Import supports",
            f"import a model of a supported architecture: {supported}; or convert it to one",
        )
    model_type = config.get("model_type")
    if isinstance(model_type, str) and model_type and SUPPORTED_MODEL_TYPES.get(model_type) != family:
        return Check(
            name,
            False,
            f"config.json: {found} is {family}, but model_type = {model_type!r} is "
            f"{SUPPORTED_MODEL_TYPES.get(model_type) or 'not supported'}",
            "fix model_type or architectures in config.json so both name the model's real architecture",
        )
    return Check(name, True, f"{found}: {family}")


def check_weights(
    folder: ModelFolder,
    headers: Mapping[str, bytes | None],
    index: Any = None,
    index_error: str | None = None,
) -> Check:
    """``*.safetensors`` files exist, start like safetensors (``headers``: their first 9 bytes) and cover the
    shards of ``model.safetensors.index.json``."""
    name = "weights"
    weights = folder.safetensors()
    if not weights:
        others = sorted(n for n in folder.files if n.endswith(_WEIGHT_FORMATS))
        found = f"; found {', '.join(others)}" if others else ""
        return Check(
            name,
            False,
            f"*.safetensors: no weight files in safetensors format in {folder.uri}{found}",
            "save the weights with save_pretrained(..., safe_serialization=True) (or convert them with the "
            "safetensors library) and upload the *.safetensors files",
        )
    problems = []
    for weight in weights:
        problem = _safetensors_problem(headers.get(weight), folder.files[weight])
        if problem:
            problems.append(f"{weight}: {problem}")
    if INDEX_FILE in folder.files:
        if index_error is not None or not isinstance(index, Mapping):
            problems.append(f"{INDEX_FILE}: not a JSON object ({index_error or type(index).__name__})")
        else:
            shards = sorted({str(s) for s in (index.get("weight_map") or {}).values()})
            missing = [shard for shard in shards if shard not in folder.files]
            if missing:
                problems.append(f"{INDEX_FILE} names shards that are missing: {', '.join(missing)}")
    if problems:
        return Check(
            name,
            False,
            "; ".join(problems),
            "upload the real weight files: a Git LFS pointer means the repository was cloned without "
            "`git lfs pull`; upload every shard the index names",
        )
    total = sum(folder.files[w] for w in weights)
    return Check(name, True, f"{len(weights)} safetensors files, {_size(total)}")


def _safetensors_problem(head: bytes | None, size: int) -> str | None:
    if head is None:
        return "could not be read"
    if head.startswith(_LFS_POINTER[: len(head)]) and len(head) >= 8:
        return "a Git LFS pointer file, not the weights"
    if len(head) < 9 or size < 10:
        return f"only {size} bytes: too short for a safetensors file"
    (length,) = struct.unpack("<Q", head[:8])
    if length < 2 or length > min(_MAX_HEADER_BYTES, size - 8) or head[8:9] != b"{":
        return "does not start with a safetensors header (8-byte length + JSON)"
    return None


def check_tokenizer(folder: ModelFolder) -> Check:
    """``tokenizer.json`` or ``tokenizer.model``, and ``tokenizer_config.json``, at the top of the folder."""
    name = "tokenizer"
    missing = []
    if "tokenizer.json" not in folder.files and "tokenizer.model" not in folder.files:
        missing.append("tokenizer.json or tokenizer.model")
    if "tokenizer_config.json" not in folder.files:
        missing.append("tokenizer_config.json")
    if missing:
        return Check(
            name,
            False,
            f"missing in {folder.uri}: {'; '.join(missing)}",
            "save the tokenizer next to the model (tokenizer.save_pretrained(folder)) and upload its files",
        )
    present = [n for n in ("tokenizer.json", "tokenizer.model", "tokenizer_config.json") if n in folder.files]
    return Check(name, True, "found " + ", ".join(present))


def check_size(folder: ModelFolder, max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES) -> Check:
    """The folder's total size (every object below it) is at most ``max_total_bytes``."""
    name = "size"
    total = folder.total_bytes
    if total > max_total_bytes:
        return Check(
            name,
            False,
            f"{folder.uri} holds {_size(total)}; the limit is {_size(max_total_bytes)}",
            "import a smaller model (fewer parameters or 16-bit weights), remove files the model does not "
            "need (optimizer state, .bin copies of the weights), or raise max_total_bytes if your quota allows",
        )
    return Check(name, True, f"{_size(total)} in total (limit {_size(max_total_bytes)})")


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


# ------------------------------------------------------------------------------------------- the runner


def run_import_preflight(
    s3: Any, model_data_uri: str, max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES
) -> PreflightReport:
    """Read the model folder (read-only S3 calls) and run every check; failures never stop the run."""
    listed: list[ModelFolder] = []

    def listing() -> Check:
        listed.append(list_model_folder(s3, model_data_uri))
        return check_folder(listed[0])

    checks = [_guarded("model-folder", listing)]
    if not checks[0].ok:
        return PreflightReport(tuple(checks))
    folder = listed[0]
    config, config_error = _read_json(s3, folder, "config.json")
    index, index_error = _read_json(s3, folder, INDEX_FILE)
    checks += [
        _guarded("config", lambda: check_config(folder, config, config_error)),
        _guarded("architecture", lambda: check_architecture(config if config_error is None else None)),
        _guarded("weights", lambda: check_weights(folder, _weight_heads(s3, folder), index, index_error)),
        _guarded("tokenizer", lambda: check_tokenizer(folder)),
        _guarded("size", lambda: check_size(folder, max_total_bytes)),
    ]
    return PreflightReport(tuple(checks))


def _read_json(s3: Any, folder: ModelFolder, name: str) -> tuple[Any, str | None]:
    """(parsed content, error) of a top-level JSON file; (None, None) when it is absent."""
    from botocore.exceptions import BotoCoreError, ClientError

    if name not in folder.files:
        return None, None
    try:
        body = s3.get_object(Bucket=folder.bucket, Key=folder.key(name))["Body"].read()
    except (BotoCoreError, ClientError) as exc:
        return None, f"could not be read ({exc})"
    try:
        return json.loads(body), None
    except (ValueError, UnicodeDecodeError) as exc:
        return None, f"invalid JSON: {exc}"


def _weight_heads(s3: Any, folder: ModelFolder) -> dict[str, bytes | None]:
    """The first 9 bytes of each safetensors file (header length + first header character)."""
    heads: dict[str, bytes | None] = {}
    for name in folder.safetensors():
        if folder.files[name] == 0:
            heads[name] = b""
            continue
        response = s3.get_object(Bucket=folder.bucket, Key=folder.key(name), Range="bytes=0-8")
        heads[name] = response["Body"].read()[:9]
    return heads


# ------------------------------------------------------------------------------------------- smoke test


#: Custom Model Import API formats: the request body InvokeModel takes and the answer's text field.
BEDROCK_COMPLETION = "bedrock-completion"
OPENAI_CHAT_COMPLETION = "openai-chat-completion"
OPENAI_COMPLETION = "openai-completion"
INVOKE_FORMATS: dict[str, dict[str, str]] = {
    BEDROCK_COMPLETION: {
        "request": '{"prompt", "max_gen_len", "temperature", "top_p", "stop"}',
        "response": '{"generation", "prompt_token_count", "generation_token_count", "stop_reason"}',
        "text": "generation",
    },
    OPENAI_CHAT_COMPLETION: {
        "request": '{"messages": [{"role", "content"}], "max_tokens", "temperature", "top_p", "stop"}',
        "response": '{"choices": [{"message": {"content"}, "finish_reason"}], "usage"}',
        "text": "choices[0].message.content",
    },
    OPENAI_COMPLETION: {
        "request": '{"prompt", "max_tokens", "temperature", "top_p", "stop"}',
        "response": '{"choices": [{"text", "finish_reason"}], "usage"}',
        "text": "choices[0].text",
    },
}
#: The format the smoke test uses per model family (:data:`SUPPORTED_ARCHITECTURES` values); families not
#: listed take :data:`BEDROCK_COMPLETION`. GPT-OSS imports take OpenAI-compatible bodies only (user guide,
#: "Invoke your imported model"; Converse is not supported for them either).
FAMILY_FORMATS: dict[str, str] = {"GPT-OSS": OPENAI_CHAT_COMPLETION}


def invoke_format(architecture: str | None) -> str:
    """The API format of an imported model of ``architecture``.

    ``architecture`` may be a ``config.json`` ``architectures[0]`` (``GptOssForCausalLM``), a ``model_type``
    (``gpt_oss``), a family name (``GPT-OSS``) or GetImportedModel's ``modelArchitecture``, in any case and
    punctuation; None or an unknown value gives :data:`BEDROCK_COMPLETION`.
    """
    text = str(architecture or "").strip()
    family = SUPPORTED_ARCHITECTURES.get(text) or SUPPORTED_MODEL_TYPES.get(text.lower())
    if family is None:
        key = re.sub(r"[^a-z0-9]", "", text.lower())
        family = "GPT-OSS" if key.startswith("gptoss") else None
    return FAMILY_FORMATS.get(family or "", BEDROCK_COMPLETION)


def smoke_test_body(
    prompt: str = DEFAULT_SMOKE_PROMPT,
    stop: Sequence[str] = (DEFAULT_STOP,),
    max_gen_len: int = 512,
    temperature: float = 0.1,
    top_p: float = 0.9,
    architecture: str | None = None,
) -> dict[str, Any]:
    """The InvokeModel body for an imported model of ``architecture`` (see :func:`invoke_format`).

    BedrockCompletion: ``{"prompt", "max_gen_len", "temperature", "top_p", "stop"}``; OpenAI ChatCompletion
    (GPT-OSS): ``{"messages": [{"role": "user", "content": prompt}], "max_tokens", "temperature", "top_p",
    "stop"}``.
    """
    if not str(prompt or "").strip():
        raise BedrockCustomizationError("The smoke test prompt is empty; give a prompt that asks for text")
    if int(max_gen_len) < 1:
        raise BedrockCustomizationError(f"max_gen_len must be at least 1, got {max_gen_len}")
    sampling = {"temperature": float(temperature), "top_p": float(top_p), "stop": [str(s) for s in stop]}
    if invoke_format(architecture) == OPENAI_CHAT_COMPLETION:
        return {
            "messages": [{"role": "user", "content": str(prompt)}],
            "max_tokens": int(max_gen_len),
            **sampling,
        }
    return {"prompt": str(prompt), "max_gen_len": int(max_gen_len), **sampling}


@dataclass(frozen=True)
class InvokeAnswer:
    """The text, stop reason and token counts of an imported model's InvokeModel answer, whatever its format."""

    text: str
    stop_reason: str | None
    prompt_tokens: int | None
    generation_tokens: int | None
    api_format: str


def _first_choice(response: Mapping[str, Any]) -> Mapping[str, Any] | None:
    choices = response.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        return choices[0]
    return None


def _bedrock_completion(response: Mapping[str, Any]) -> InvokeAnswer | None:
    text = response.get("generation")
    if not isinstance(text, str):
        return None
    return InvokeAnswer(
        text,
        _str_or_none(response.get("stop_reason")),
        _int_or_none(response.get("prompt_token_count")),
        _int_or_none(response.get("generation_token_count")),
        BEDROCK_COMPLETION,
    )


def _openai(response: Mapping[str, Any], chat: bool) -> InvokeAnswer | None:
    choice = _first_choice(response)
    if choice is None:
        return None
    message = choice.get("message")
    if chat:
        if not isinstance(message, Mapping):
            return None
        text = message.get("content")
        text = "" if text is None else text  # a tool-calling or refusing message has no content
    else:
        text = choice.get("text")
    if not isinstance(text, str):
        return None
    usage = response.get("usage") if isinstance(response.get("usage"), Mapping) else {}
    return InvokeAnswer(
        text,
        _str_or_none(choice.get("finish_reason")),
        _int_or_none(usage.get("prompt_tokens")),
        _int_or_none(usage.get("completion_tokens")),
        OPENAI_CHAT_COMPLETION if chat else OPENAI_COMPLETION,
    )


_PARSERS = {
    BEDROCK_COMPLETION: _bedrock_completion,
    OPENAI_CHAT_COMPLETION: lambda response: _openai(response, chat=True),
    OPENAI_COMPLETION: lambda response: _openai(response, chat=False),
}


def parse_invoke_response(response: Mapping[str, Any], architecture: str | None = None) -> InvokeAnswer | None:
    """Read an imported model's answer: the architecture's format first (:func:`invoke_format`), then the other
    Custom Model Import formats (a model imported after November 2025 may answer in any of them); None
    when the response is in none of them."""
    if not isinstance(response, Mapping):
        return None
    expected = invoke_format(architecture)
    for name in (expected, *(f for f in _PARSERS if f != expected)):
        parsed = _PARSERS[name](response)
        if parsed is not None:
            return parsed
    return None


@dataclass(frozen=True)
class SmokeTestOutcome:
    """What the smoke test found: ``problems`` is empty when the model passed."""

    generation: str
    stop_reason: str | None
    problems: tuple[str, ...]
    prompt_token_count: int | None = None
    generation_token_count: int | None = None
    api_format: str = BEDROCK_COMPLETION

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "generation": self.generation,
            "stop_reason": self.stop_reason,
            "problems": list(self.problems),
            "prompt_token_count": self.prompt_token_count,
            "generation_token_count": self.generation_token_count,
            "api_format": self.api_format,
        }


def check_smoke_response(
    response: Mapping[str, Any], stop: Sequence[str] = (DEFAULT_STOP,), architecture: str | None = None
) -> SmokeTestOutcome:
    """Check an InvokeModel answer against the request's stops.

    The answer is read with :func:`parse_invoke_response` (``generation`` for BedrockCompletion,
    ``choices[0].message.content`` for OpenAI ChatCompletion, ``choices[0].text`` for OpenAI Completion).
    Passes when the model answered something, stopped (``stop_reason``/``finish_reason`` ``stop``), and no
    stop sequence occurs in the text (one at the very end is tolerated: some serving stacks return the
    sequence that matched).
    """
    expected = invoke_format(architecture)
    parsed = parse_invoke_response(response, architecture)
    if parsed is None:
        keys = ", ".join(sorted(map(str, response))) if isinstance(response, Mapping) else ""
        return SmokeTestOutcome(
            "",
            None,
            (
                f"the response has no {INVOKE_FORMATS[expected]['text']!r} text (keys: {keys or 'none'}); the "
                f"model does not answer in the {expected} format ({INVOKE_FORMATS[expected]['response']}) or any "
                "other Custom Model Import format",
            ),
            api_format=expected,
        )
    generation, stop_reason = parsed.text, parsed.stop_reason
    problems: list[str] = []
    if not generation.strip():
        problems.append("the model returned an empty generation; check the prompt format the model expects")
    for sequence in stop:
        body = generation[: -len(sequence)] if sequence and generation.endswith(sequence) else generation
        if sequence and sequence in body:
            problems.append(
                f"the stop sequence {sequence!r} was not honoured: the generation continues past it at "
                f"character {body.index(sequence)} (stop_reason {stop_reason!r}); do not rely on 'stop' with "
                "this model: cut the text at the sequence in the client, or limit max_gen_len"
            )
    if stop_reason == "length":
        problems.append(
            "the generation hit max_gen_len (stop_reason 'length') before any stop sequence, so the test "
            "cannot tell whether 'stop' works; raise max_gen_len or use a prompt that asks for several paragraphs"
        )
    elif stop_reason not in _STOP_REASONS:
        problems.append(f"unexpected stop_reason {stop_reason!r}; expected 'stop'")
    return SmokeTestOutcome(
        generation,
        stop_reason,
        tuple(problems),
        parsed.prompt_tokens,
        parsed.generation_tokens,
        parsed.api_format,
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------------------- names

_IMPORTED_MODEL_NAME = re.compile(r"^([0-9a-zA-Z][_-]?)+$")


def check_imported_model_name(name: str) -> str:
    """``name`` if it is a valid ``importedModelName`` (1-63 of ``[0-9a-zA-Z]``, single ``-``/``_`` between)."""
    name = str(name or "").strip()
    if not name or len(name) > 63 or not _IMPORTED_MODEL_NAME.match(name):
        raise BedrockCustomizationError(
            f"imported_model_name {name!r} is not valid: use 1-63 letters and digits, with single '-' or '_' "
            "between them (e.g. my-llama-3-1-8b)"
        )
    return name
