"""Model invocation logs as customization training data (``trainingDataConfig.invocationLogsConfig``).

Pure functions; the backend (``bedrock.py``) reads the S3 objects and turns the problems returned here into
its errors. The rules and where AWS documents them:

* ``InvocationLogsConfig`` / ``InvocationLogSource`` / ``RequestMetadataFilters`` (API reference pages
  API_InvocationLogsConfig, API_InvocationLogSource, API_RequestMetadataFilters,
  API_RequestMetadataBaseFilters; botocore ``bedrock`` 2023-04-20): ``invocationLogSource`` is required and a
  union whose one member is ``s3Uri``; ``requestMetadataFilters`` is a union of ``equals`` / ``notEquals``
  (string maps of exactly one entry) and ``andAll`` / ``orAll`` (1-16 base filters, each ``equals`` and/or
  ``notEquals``); keys match ``[a-zA-Z0-9\\s._:/=+$@-]{1,256}``, values the same with length 0-256;
  ``usePromptResponse`` defaults to False.
* The records (user guide page model-invocation-logging): invocation logs delivered to S3 are JSON records
  (``schemaType`` ``ModelInvocationLog``, ``timestamp``, ``modelId``, ``operation``, ``input.inputBodyJson``,
  ``output.outputBodyJson``, ``requestMetadata``), gzipped objects of one record per line.
* Which jobs take them: the data preparation pages of distillation (distillation-data-prep-option-2) and
  reinforcement fine-tuning (rft-option-2) document invocation logs as "Option 2"; the fine-tuning and
  continued pre-training data pages document only an S3 dataset.
* Distillation (distillation-data-prep-option-2): prompts only (``usePromptResponse`` False) lets Bedrock have
  the teacher answer them; prompt-response pairs use the logged responses without re-generating them; "a
  maximum of 15K prompts or prompt-response pairs". Records that do not match the filter are dropped
  (page add-metadata-to-prompts: the request metadata identifies the prompt-response pairs to use).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Customization types whose data preparation pages document invocation logs (see the module docstring).
TYPES = ("DISTILLATION", "REINFORCEMENT_FINE_TUNING")
#: distillation-data-prep-option-2: "a maximum of 15K prompts or prompt-response pairs".
MAX_DISTILLATION_RECORDS = 15_000
SCHEMA_TYPE = "ModelInvocationLog"
#: RequestMetadataMapKeyString / RequestMetadataMapValueString (API_RequestMetadataFilters).
METADATA_KEY = re.compile(r"[a-zA-Z0-9\s._:/=+$@-]{1,256}")
METADATA_VALUE = re.compile(r"[a-zA-Z0-9\s._:/=+$@-]{0,256}")
MAX_FILTERS = 16
FILTER_MEMBERS = ("equals", "notEquals", "andAll", "orAll")

PAGE_DISTILLATION = "distillation-data-prep-option-2"
PAGE_RFT = "rft-option-2"
PAGE_LOGGING = "model-invocation-logging"
API_FILTERS = "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_RequestMetadataFilters.html"
API_CONFIG = "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_InvocationLogsConfig.html"


def config_problem(config: Any) -> str | None:
    """What is wrong with the shape of ``invocationLogsConfig`` (the s3Uri pattern is the caller's)."""
    where = "trainingDataConfig.invocationLogsConfig"
    if not isinstance(config, Mapping):
        return f"{where} must be a structure (see {API_CONFIG})."
    source = config.get("invocationLogSource")
    if not isinstance(source, Mapping) or set(source) != {"s3Uri"}:
        return (
            f"{where}.invocationLogSource is required and is a union: set exactly one member, s3Uri "
            f"(see {API_CONFIG})."
        )
    use = config.get("usePromptResponse")
    if use is not None and not isinstance(use, bool):
        return f"{where}.usePromptResponse must be a boolean (see {API_CONFIG})."
    filters = config.get("requestMetadataFilters")
    if filters is None:
        return None
    where += ".requestMetadataFilters"
    if (
        not isinstance(filters, Mapping)
        or len([m for m in FILTER_MEMBERS if filters.get(m) is not None]) != 1
    ):
        return f"{where} is a union: set exactly one of {', '.join(FILTER_MEMBERS)} (see {API_FILTERS})."
    for member in ("equals", "notEquals"):
        if filters.get(member) is not None:
            return _map_problem(f"{where}.{member}", filters[member])
    member = "andAll" if filters.get("andAll") is not None else "orAll"
    items = filters[member]
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_FILTERS:
        return f"{where}.{member} must hold between 1 and {MAX_FILTERS} base filters (see {API_FILTERS})."
    for index, item in enumerate(items):
        if not isinstance(item, Mapping) or set(item) - {"equals", "notEquals"}:
            return f"{where}.{member}[{index}] takes only equals and notEquals (see {API_FILTERS})."
        for name, mapping in item.items():
            problem = _map_problem(f"{where}.{member}[{index}].{name}", mapping)
            if problem:
                return problem
    return None


def _map_problem(where: str, mapping: Any) -> str | None:
    """RequestMetadataMap: exactly one string entry whose key and value match the documented patterns."""
    if not isinstance(mapping, Mapping) or len(mapping) != 1:
        return f"{where} must be a map of exactly one key to one value (see {API_FILTERS})."
    ((key, value),) = mapping.items()
    if not isinstance(key, str) or not METADATA_KEY.fullmatch(key):
        return f"{where}: key {key!r} must match [a-zA-Z0-9\\s._:/=+$@-]{{1,256}} (see {API_FILTERS})."
    if not isinstance(value, str) or not METADATA_VALUE.fullmatch(value):
        return f"{where}: value {value!r} must match [a-zA-Z0-9\\s._:/=+$@-]{{0,256}} (see {API_FILTERS})."
    return None


def _base_matches(base: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
    equal = all(metadata.get(k) == v for k, v in (base.get("equals") or {}).items())
    unequal = all(metadata.get(k) != v for k, v in (base.get("notEquals") or {}).items())
    return equal and unequal


def matches(filters: Mapping[str, Any] | None, metadata: Any) -> bool:
    """Whether a record's ``requestMetadata`` passes ``requestMetadataFilters`` (no filters: every record)."""
    if not filters:
        return True
    metadata = metadata if isinstance(metadata, Mapping) else {}
    if filters.get("andAll") is not None:
        return all(_base_matches(base, metadata) for base in filters["andAll"])
    if filters.get("orAll") is not None:
        return any(_base_matches(base, metadata) for base in filters["orAll"])
    return _base_matches(filters, metadata)


def read_objects(objects: Iterable[tuple[str, bytes]]) -> tuple[list[dict[str, Any]], list[str]]:
    """The invocation log records of the objects (gzipped or not, one JSON record per line) and the keys of
    objects that hold no records in that form."""
    records: list[dict[str, Any]] = []
    unreadable: list[str] = []
    for key, content in objects:
        if content[:2] == b"\x1f\x8b":
            try:
                content = gzip.decompress(content)
            except (OSError, EOFError):
                unreadable.append(key)
                continue
        found = []
        for line in content.decode("utf-8", errors="replace").splitlines():
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and record.get("schemaType") == SCHEMA_TYPE:
                found.append(record)
        if found:
            records.extend(found)
        else:
            unreadable.append(key)
    return records, unreadable


def _text(content: Any) -> str:
    """Text of a message content: a string or a list of ``{"text": ...}`` blocks."""
    if isinstance(content, str):
        return content.strip()
    if isinstance(content, list):
        parts = [b["text"] for b in content if isinstance(b, Mapping) and isinstance(b.get("text"), str)]
        return "\n".join(parts).strip()
    return ""


def prompt_of(body: Any) -> str:
    """The last user turn of a logged request body: Converse and Messages-style ``messages``, Llama ``prompt``,
    Titan ``inputText``."""
    if not isinstance(body, Mapping):
        return ""
    messages = body.get("messages")
    if isinstance(messages, list):
        users = [m for m in messages if isinstance(m, Mapping) and m.get("role") == "user"]
        return _text(users[-1].get("content")) if users else ""
    for name in ("prompt", "inputText"):
        if isinstance(body.get(name), str):
            return body[name].strip()
    return ""


def response_of(body: Any) -> str:
    """The answer of a logged response body: Converse/Nova ``output.message``, Anthropic ``content``, Llama
    ``generation``, Titan ``results[].outputText``."""
    if isinstance(body, list):  # streamed responses are logged as a list of chunks
        return "".join(response_of(chunk) for chunk in body).strip()
    if not isinstance(body, Mapping):
        return ""
    message = (body.get("output") or {}).get("message") if isinstance(body.get("output"), Mapping) else None
    if isinstance(message, Mapping):
        return _text(message.get("content"))
    if isinstance(body.get("content"), list):
        return _text(body["content"])
    if isinstance(body.get("generation"), str):
        return body["generation"].strip()
    results = body.get("results")
    if isinstance(results, list):
        return "".join(r.get("outputText", "") for r in results if isinstance(r, Mapping)).strip()
    if isinstance(body.get("outputText"), str):
        return body["outputText"].strip()
    return ""


@dataclass
class Learned:
    """What a job learns from the logs: (prompt, answer) pairs, prompts nobody answered, or why it fails."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    records: int = 0
    failure: str | None = None


def learn(
    config: Mapping[str, Any],
    records: list[dict[str, Any]],
    customization_type: str,
    teacher: Callable[[str], str] | None,
    page_url: Callable[[str], str],
) -> Learned:
    """The training examples of the records that pass the filters.

    With ``usePromptResponse`` each record contributes its logged prompt and response, and a record without
    a response fails the job. Without it only the prompts are used: a distillation teacher (``teacher``)
    answers each; reinforcement fine-tuning keeps them as prompts (its grader is not emulated).
    """
    uri = config["invocationLogSource"]["s3Uri"]
    use_responses = bool(config.get("usePromptResponse"))
    kept = [r for r in records if matches(config.get("requestMetadataFilters"), r.get("requestMetadata"))]
    page = PAGE_DISTILLATION if customization_type == "DISTILLATION" else PAGE_RFT
    if not kept:
        return Learned(
            failure=f"No invocation log record under {uri} matches requestMetadataFilters "
            f"(see {page_url(page)})."
        )
    if customization_type == "DISTILLATION" and len(kept) > MAX_DISTILLATION_RECORDS:
        return Learned(
            records=len(kept),
            failure=f"{len(kept)} invocation log records under {uri} match; distillation takes at most "
            f"{MAX_DISTILLATION_RECORDS} prompts or prompt-response pairs (see {page_url(PAGE_DISTILLATION)}).",
        )
    learned = Learned(records=len(kept))
    for record in kept:
        missing = f"invocation log record {record.get('requestId', '?')} under {uri} has no"
        prompt = prompt_of((record.get("input") or {}).get("inputBodyJson"))
        if not prompt:
            learned.failure = (
                f"The {missing} text prompt in input.inputBodyJson (see {page_url(PAGE_LOGGING)})."
            )
            return learned
        if use_responses:
            response = response_of((record.get("output") or {}).get("outputBodyJson"))
            if not response:
                learned.failure = (
                    f"usePromptResponse is true, but the {missing} response in output.outputBodyJson "
                    f"(see {page_url(page)})."
                )
                return learned
            learned.pairs.append((prompt, response))
        elif teacher is not None:
            learned.pairs.append((prompt, teacher(prompt)))
        else:
            learned.unanswered.append(prompt)
    return learned
