"""Generate a held-out evaluation set from documents (PDF, text) with a model, through Converse.

The model gets the documents as Converse ``document`` content blocks with one instruction, and must call the
tool ``record_qa_pairs`` (forced through ``toolChoice``, as :mod:`~bedrock_customization.evaluation.judge`
forces its tool): an array of ``{question, answer}`` objects, read from the ``toolUse`` input, never from
prose. Then every pair is

1. normalised (:func:`~bedrock_customization.evaluation.text.normalize_answer`) and dropped when its question
   repeats a training prompt (no leakage), a held-out prompt already kept, or an earlier generated question:
   exactly after normalisation, or nearly (Jaccard similarity of the questions' word sets at least
   ``near_duplicate_threshold``, 0.8 by default);
2. validated as a record of the base model's training format with the prepare step's own
   :class:`~bedrock_customization.dataset.validation.RecordValidator` (empty texts, control characters, Nova's
   reserved words, token limits) and encoded by :mod:`~bedrock_customization.dataset.formats`;

and the report says how many were dropped and why. File limits of a validation set do not apply: the set is
held out for this project's evaluation and never given to a customization job.

Converse's limits (API reference, ``Message`` and ``DocumentBlock``): at most 5 documents per request, each at
most 4.5 MB; a document ``name`` of 1-200 characters, only alphanumerics, single whitespace characters,
hyphens, parentheses and square brackets, unique within the request; ``format`` one of :data:`FORMATS`'s
values; a message with a document also needs a text block. Documents are sent in batches of 5 (one request per
batch), text documents over the size are split into parts on line boundaries, other formats over it fail
naming the file; to reach ``count`` pairs the batches are asked again (up to ``max_rounds`` rounds), each time
listing the questions already kept so that the model writes new ones.

Nothing here talks to AWS: :func:`generate` takes a ``converse`` callable with the signature of boto3's
``bedrock-runtime`` ``converse(**request)``; :func:`read_documents` and :func:`read_text` take an S3 client.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bedrock_customization import artifacts, catalog
from bedrock_customization.evaluation.errors import EvaluationError
from bedrock_customization.evaluation.samples import read_samples
from bedrock_customization.evaluation.text import normalize_answer, tokenize

__all__ = [
    "FORMATS",
    "MAX_DOCUMENTS_PER_REQUEST",
    "MAX_DOCUMENT_BYTES",
    "TOOL_NAME",
    "Document",
    "GeneratedSet",
    "GenerationError",
    "Deduplicator",
    "batches",
    "generate",
    "generation_request",
    "parse_pairs",
    "prompts_of",
    "read_documents",
    "read_text",
    "to_documents",
]

TOOL_NAME = "record_qa_pairs"
#: File extension -> Converse ``DocumentFormat`` (pdf | csv | doc | docx | xls | xlsx | html | txt | md).
FORMATS = {
    ".pdf": "pdf",
    ".csv": "csv",
    ".doc": "doc",
    ".docx": "docx",
    ".xls": "xls",
    ".xlsx": "xlsx",
    ".html": "html",
    ".htm": "html",
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
}
#: Formats that are plain text and may be split into parts on line boundaries.
TEXT_FORMATS = ("txt", "md", "csv", "html")
MAX_DOCUMENTS_PER_REQUEST = 5
#: 4.5 MB, read as 4,500,000 bytes (the smaller reading of "MB").
MAX_DOCUMENT_BYTES = 4_500_000
MAX_NAME_CHARS = 200
#: Pairs asked for in one request at most (the answer must fit ``maxTokens``).
MAX_PAIRS_PER_REQUEST = 25
#: Questions listed as "already written" in a later request, at most (the most recent ones).
MAX_AVOID = 100
DEFAULT_NEAR_DUPLICATE = 0.8
DEFAULT_INFERENCE_CONFIG = {"maxTokens": 4096, "temperature": 0.0}
#: Record formats a question/answer pair can be written in.
QA_FORMATS = ("prompt_completion", "claude_messages", "bedrock_conversation_2024")

Converse = Callable[..., Mapping[str, Any]]

_SYSTEM = (
    "You write evaluation data for a question-answering assistant. From the documents you are given, write "
    "question and answer pairs and record them with the {tool} tool.\n"
    "- Each question can be answered from the documents alone and stands on its own: name its subject, "
    "never 'the document' or 'the text'.\n"
    "- Each answer is correct according to the documents, complete and concise (one to three sentences).\n"
    "- Cover different facts; no two questions ask the same thing.\n"
    "- Write in the language of the documents."
)
# A Converse document name: alphanumerics, single whitespace characters, hyphens, parentheses, brackets.
_NAME_FORBIDDEN = re.compile(r"[^0-9A-Za-z\s\-\(\)\[\]]+")
_SPACES = re.compile(r"\s+")


class GenerationError(EvaluationError):
    """Documents, options or the model's reply that do not allow generating an evaluation set."""


@dataclass(frozen=True)
class Document:
    """One Converse document: its ``name`` in the request, ``format``, bytes and where it came from."""

    name: str
    format: str
    data: bytes
    source: str

    def block(self) -> dict[str, Any]:
        """The Converse ``document`` content block."""
        return {"document": {"format": self.format, "name": self.name, "source": {"bytes": self.data}}}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "format": self.format, "bytes": len(self.data), "source": self.source}


# ------------------------------------------------------------------------------------------- documents


def document_format(source: str) -> str:
    """The Converse format of a file by its extension; :class:`GenerationError` naming the file otherwise."""
    suffix = Path(source.rsplit("/", 1)[-1]).suffix.lower()
    if suffix not in FORMATS:
        raise GenerationError(
            f"{source}: unsupported document type {suffix or '(no extension)'!r}; Converse takes "
            f"{', '.join(sorted(set(FORMATS.values())))} ({', '.join(FORMATS)})"
        )
    return FORMATS[suffix]


def document_name(source: str, taken: set[str]) -> str:
    """A valid, unique Converse document name from a file name: its stem with other characters as ``-``."""
    stem = Path(source.rsplit("/", 1)[-1]).stem
    base = _SPACES.sub(" ", _NAME_FORBIDDEN.sub("-", stem)).strip() or "document"
    base = base[: MAX_NAME_CHARS - 8].strip()
    name, number = base, 1
    while name.lower() in taken:
        number += 1
        name = f"{base} ({number})"
    taken.add(name.lower())
    return name


def _text_parts(data: bytes, limit: int) -> list[bytes]:
    """``data`` cut on line boundaries into parts of at most ``limit`` bytes (a longer line is cut too)."""
    parts, current = [], b""
    for line in data.splitlines(keepends=True):
        while len(line) > limit:
            if current:
                parts.append(current)
                current = b""
            cut = limit
            while cut > 0 and (line[cut] & 0xC0) == 0x80:  # never inside a UTF-8 sequence
                cut -= 1
            parts.append(line[:cut])
            line = line[cut:]
        if len(current) + len(line) > limit:
            parts.append(current)
            current = b""
        current += line
    if current:
        parts.append(current)
    return parts


def to_documents(files: Iterable[tuple[str, bytes]], max_bytes: int = MAX_DOCUMENT_BYTES) -> list[Document]:
    """Converse documents of ``(source, bytes)`` files: format from the extension, a unique valid name, and
    text files over ``max_bytes`` split into parts ("name (part 2)"); other formats over it fail."""
    taken: set[str] = set()
    documents = []
    for source, data in files:
        fmt = document_format(source)
        if not data:
            raise GenerationError(f"{source} is empty; remove it or give it content")
        if len(data) <= max_bytes:
            documents.append(Document(document_name(source, taken), fmt, data, source))
            continue
        if fmt not in TEXT_FORMATS:
            raise GenerationError(
                f"{source} has {len(data):,} bytes; Converse takes documents of at most {max_bytes:,} bytes "
                f"(4.5 MB): split the {fmt} file into smaller files (e.g. fewer pages each)"
            )
        stem = Path(source.rsplit("/", 1)[-1]).stem
        for number, part in enumerate(_text_parts(data, max_bytes), start=1):
            name = document_name(f"{stem} part {number}", taken)
            documents.append(Document(name, fmt, part, f"{source} (part {number})"))
    if not documents:
        raise GenerationError("No documents to generate questions from")
    return documents


def batches(documents: Sequence[Document]) -> list[list[Document]]:
    """The documents in groups of :data:`MAX_DOCUMENTS_PER_REQUEST`, one group per request."""
    size = MAX_DOCUMENTS_PER_REQUEST
    return [list(documents[i : i + size]) for i in range(0, len(documents), size)]


def read_documents(locations: Sequence[str], s3_client: Any = None) -> list[tuple[str, bytes]]:
    """``(source, bytes)`` of every document at ``locations``: local files or folders, S3 objects or prefixes.

    A folder or prefix contributes its files with a document extension (:data:`FORMATS`), sorted; a file named
    directly must have one. :class:`GenerationError` names a location with nothing to read.
    """
    files: list[tuple[str, bytes]] = []
    for location in locations:
        found = (
            _read_s3(location, s3_client) if location.startswith(artifacts.SCHEME) else _read_local(location)
        )
        if not found:
            raise GenerationError(
                f"No documents at {location}: expected {', '.join(sorted(FORMATS))} files there"
            )
        files.extend(found)
    return files


def _read_local(location: str) -> list[tuple[str, bytes]]:
    path = Path(location).expanduser()
    if path.is_file():
        document_format(str(path))
        return [(str(path), path.read_bytes())]
    if path.is_dir():
        return [
            (str(item), item.read_bytes())
            for item in sorted(path.rglob("*"))
            if item.is_file() and item.suffix.lower() in FORMATS and not item.name.startswith(".")
        ]
    raise GenerationError(f"Documents {location} do not exist (no such file or folder)")


def _read_s3(uri: str, s3: Any) -> list[tuple[str, bytes]]:
    if s3 is None:
        raise GenerationError(f"Reading {uri} needs an S3 client")
    bucket, key = artifacts.parse_s3_uri(uri, what="documents", error=GenerationError)
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        keys.extend(item["Key"] for item in page.get("Contents", []))
    if key in keys and not key.endswith("/"):
        document_format(uri)
        chosen = [key]
    else:
        folder = key if not key or key.endswith("/") else f"{key}/"
        chosen = sorted(
            k
            for k in keys
            if k.startswith(folder) and Path(k).suffix.lower() in FORMATS and not k.endswith("/")
        )
    return [(artifacts.s3_uri(bucket, k), s3.get_object(Bucket=bucket, Key=k)["Body"].read()) for k in chosen]


def read_text(location: str, s3_client: Any = None, what: str = "training data") -> str:
    """The UTF-8 text of a local file or S3 object; :class:`GenerationError` naming ``what`` otherwise."""
    if location.startswith(artifacts.SCHEME):
        bucket, key = artifacts.parse_s3_uri(location, what=what, error=GenerationError)
        try:
            data = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3_client.exceptions.NoSuchKey:
            raise GenerationError(f"The {what} {location} does not exist") from None
    else:
        path = Path(location).expanduser()
        if not path.is_file():
            raise GenerationError(f"The {what} {location} does not exist")
        data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise GenerationError(f"The {what} {location} is not UTF-8 text: {err}") from None


def prompts_of(text: str, source: str) -> list[str]:
    """Every user prompt of a JSON Lines dataset in a Bedrock training format (all user turns of a
    conversation); what generated questions must not repeat."""
    return [
        prompt
        for sample in read_samples(text, source)
        for prompt in (*(turn for role, turn in sample.history if role == "user"), sample.prompt)
    ]


# --------------------------------------------------------------------------------------------- request


def tool_config(count: int) -> dict[str, Any]:
    """Converse ``toolConfig``: the ``record_qa_pairs`` tool asking for ``count`` pairs, forced."""
    pair = {
        "type": "object",
        "properties": {
            "question": {"type": "string", "description": "A question the documents answer."},
            "answer": {"type": "string", "description": "The correct answer, from the documents."},
        },
        "required": ["question", "answer"],
    }
    schema = {
        "type": "object",
        "properties": {"pairs": {"type": "array", "minItems": count, "maxItems": count, "items": pair}},
        "required": ["pairs"],
    }
    return {
        "tools": [
            {
                "toolSpec": {
                    "name": TOOL_NAME,
                    "description": "Record question and answer pairs written from the documents.",
                    "inputSchema": {"json": schema},
                }
            }
        ],
        "toolChoice": {"tool": {"name": TOOL_NAME}},
    }


def instruction(count: int, avoid: Sequence[str] = ()) -> str:
    """The text block that goes with the documents."""
    text = (
        f"Write {count} new question and answer pairs from these documents and record them with {TOOL_NAME}."
    )
    if avoid:
        listed = "\n".join(f"- {question}" for question in avoid[-MAX_AVOID:])
        text += (
            "\n\nThese questions are already written; do not repeat or rephrase them:\n"
            f"<written>\n{listed}\n</written>"
        )
    return text


def generation_request(
    model_id: str,
    documents: Sequence[Document],
    count: int,
    avoid: Sequence[str] = (),
    inference_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``converse`` asking ``model_id`` for ``count`` pairs from ``documents``."""
    if not 1 <= len(documents) <= MAX_DOCUMENTS_PER_REQUEST:
        raise GenerationError(
            f"A request takes 1 to {MAX_DOCUMENTS_PER_REQUEST} documents, not {len(documents)}"
        )
    return {
        "modelId": model_id,
        "system": [{"text": _SYSTEM.format(tool=TOOL_NAME)}],
        "messages": [
            {
                "role": "user",
                "content": [*(d.block() for d in documents), {"text": instruction(count, avoid)}],
            }
        ],
        "inferenceConfig": dict(inference_config or DEFAULT_INFERENCE_CONFIG),
        "toolConfig": tool_config(count),
    }


def parse_pairs(reply: Mapping[str, Any]) -> tuple[list[tuple[str, str]], int]:
    """``(pairs, malformed)`` from a reply's ``record_qa_pairs`` toolUse block: the (question, answer) pairs
    with two non-blank strings, and how many items were not such a pair.

    :class:`GenerationError` when the model called no such tool or its input has no ``pairs`` list.
    """
    content = ((reply.get("output") or {}).get("message") or {}).get("content") or []
    tool_use = next(
        (
            block["toolUse"]
            for block in content
            if isinstance(block, Mapping)
            and isinstance(block.get("toolUse"), Mapping)
            and block["toolUse"].get("name") == TOOL_NAME
        ),
        None,
    )
    if tool_use is None:
        said = " ".join(str(b.get("text", "")) for b in content if isinstance(b, Mapping)).strip()
        raise GenerationError(
            f"The model did not call the {TOOL_NAME} tool (stopReason {reply.get('stopReason')!r}); it "
            f"replied: {said[:200]!r}. Use a model that supports documents and forced tool use in Converse "
            "(toolChoice 'tool'), such as Anthropic Claude 3 or later or Amazon Nova."
        )
    raw = tool_use.get("input")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise GenerationError(f"The {TOOL_NAME} input is not JSON: {raw[:200]!r}") from None
    items = raw.get("pairs") if isinstance(raw, Mapping) else None
    if not isinstance(items, list):
        raise GenerationError(
            f"The {TOOL_NAME} input has no 'pairs' list of {{question, answer}} objects: {str(raw)[:200]!r}"
        )
    pairs, malformed = [], 0
    for item in items:
        question = item.get("question") if isinstance(item, Mapping) else None
        answer = item.get("answer") if isinstance(item, Mapping) else None
        if isinstance(question, str) and isinstance(answer, str) and question.strip() and answer.strip():
            pairs.append((question.strip(), answer.strip()))
        else:
            malformed += 1
    return pairs, malformed


# ------------------------------------------------------------------------------------------ duplicates


def _words(text: str) -> frozenset[str]:
    return frozenset(tokenize(text))


class Deduplicator:
    """Texts seen so far, by origin (``training``, ``held_out``, ``generated``): finds a new text's exact
    (after :func:`normalize_answer`) or near (word-set Jaccard >= ``threshold``) duplicate."""

    def __init__(self, threshold: float = DEFAULT_NEAR_DUPLICATE) -> None:
        if not 0 < threshold <= 1:
            raise GenerationError(f"near_duplicate_threshold must be in (0, 1], not {threshold!r}")
        self.threshold = threshold
        self._exact: dict[str, tuple[str, str]] = {}
        self._entries: list[tuple[frozenset[str], str, str]] = []
        self._index: dict[str, list[int]] = {}

    def add(self, text: str, origin: str) -> None:
        self._exact.setdefault(normalize_answer(text), (origin, text))
        words = _words(text)
        if not words:
            return
        position = len(self._entries)
        self._entries.append((words, origin, text))
        for word in words:
            self._index.setdefault(word, []).append(position)

    def find(self, text: str) -> tuple[str, str, str] | None:
        """``(kind, origin, matched text)`` with kind ``exact`` or ``near``, or None when ``text`` is new."""
        exact = self._exact.get(normalize_answer(text))
        if exact is not None:
            return "exact", *exact
        words = _words(text)
        if not words:
            return None
        overlaps = Counter(position for word in words for position in self._index.get(word, ()))
        best, best_score = None, 0.0
        for position, shared in overlaps.items():
            other = self._entries[position][0]
            score = shared / (len(words) + len(other) - shared)
            if score > best_score:
                best, best_score = position, score
        if best is not None and best_score >= self.threshold:
            _, origin, matched = self._entries[best]
            return "near", origin, matched
        return None


# ---------------------------------------------------------------------------------------------- result


@dataclass
class GeneratedSet:
    """The generated records (JSON Lines, one ``bytes`` line each), the kept pairs, and the report."""

    records: list[bytes] = field(default_factory=list)
    pairs: list[dict[str, str]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)

    def jsonl(self) -> bytes:
        return b"".join(self.records)


def _validator(base_model_id: str) -> tuple[Any, Callable[[Any], bytes], str, list[str]]:
    """(validator, encoder, record format, warnings) of the prepare step for ``base_model_id``."""
    from bedrock_customization.dataset.formats import ENCODERS
    from bedrock_customization.dataset.prepare import resolve_target
    from bedrock_customization.dataset.validation import RecordValidator, reserved_words_apply

    target = resolve_target(base_model_id)
    if target.record_format not in QA_FORMATS:
        raise GenerationError(
            f"{target.model.id} takes {target.record_format} records for {target.customization_type}, which "
            "hold no reference answer: an evaluation set needs one of " + ", ".join(QA_FORMATS)
        )
    validator = RecordValidator(
        target.record_format, target.rule, reserved_words=reserved_words_apply(target.model)
    )
    lifecycle = catalog.lifecycle_warning(target.model.id)  # the other warnings are about training files
    return validator, ENCODERS[target.record_format], target.record_format, [lifecycle] if lifecycle else []


def generate(
    converse: Converse,
    model_id: str,
    documents: Sequence[Document],
    count: int,
    *,
    base_model_id: str,
    training_prompts: Iterable[str] = (),
    held_out_prompts: Iterable[str] = (),
    near_duplicate_threshold: float = DEFAULT_NEAR_DUPLICATE,
    inference_config: Mapping[str, Any] | None = None,
    max_rounds: int = 3,
) -> GeneratedSet:
    """Ask ``model_id`` for ``count`` question/answer pairs from ``documents``; dedupe, validate, encode.

    :param converse: ``converse(**request)`` of a bedrock-runtime client (retrying throttling).
    :param base_model_id: The model being customized: its training format and rules apply to the records.
    :param training_prompts: Prompts of the training data; a question repeating one is dropped (leakage).
    :param held_out_prompts: Prompts of records evaluated with these (the split, when both are used).
    :param near_duplicate_threshold: Word-set Jaccard similarity from which two questions are duplicates.
    :param max_rounds: How many times every batch of documents may be asked, at most, to reach ``count``.
    :raises GenerationError: bad options, a reply without the tool call, or no usable pair at all.
    """
    from bedrock_customization.dataset.mapping import ASSISTANT, USER, Conversation, Text
    from bedrock_customization.dataset.problems import RecordRejected

    if not isinstance(count, int) or count < 1:
        raise GenerationError(f"count must be a positive integer, not {count!r}")
    if max_rounds < 1:
        raise GenerationError(f"max_rounds must be at least 1, not {max_rounds!r}")
    validator, encode, record_format, warnings = _validator(base_model_id)
    seen = Deduplicator(near_duplicate_threshold)
    for prompt in training_prompts:
        seen.add(prompt, "training")
    for prompt in held_out_prompts:
        seen.add(prompt, "held_out")
    groups = batches(documents)
    result = GeneratedSet()
    dropped: Counter[str] = Counter()
    examples: list[dict[str, str]] = []
    received = requests = 0

    rejected: list[str] = []  # questions dropped: listed as written too, so that the model moves on

    def drop(reason: str, question: str, matched: str = "") -> None:
        dropped[reason] += 1
        rejected.append(question)
        if len(examples) < 10:
            examples.append(
                {"reason": reason, "question": question, **({"matched": matched} if matched else {})}
            )

    for _ in range(max_rounds):
        before = len(result.pairs)
        for position, group in enumerate(groups):
            need = count - len(result.pairs)
            if need <= 0:
                break
            ask = min(MAX_PAIRS_PER_REQUEST, math.ceil(need / (len(groups) - position)))
            avoid = [*(pair["question"] for pair in result.pairs), *rejected]
            reply = converse(**generation_request(model_id, group, ask, avoid, inference_config))
            requests += 1
            pairs, malformed = parse_pairs(reply)
            received += len(pairs) + malformed
            dropped.update({"malformed": malformed} if malformed else {})
            for question, answer in pairs:
                if len(result.pairs) >= count:
                    drop("over_count", question)
                    continue
                duplicate = seen.find(question)
                if duplicate is not None:
                    kind, origin, matched = duplicate
                    drop(f"{kind}_{origin}", question, matched)
                    continue
                record = Conversation(
                    None,
                    [(USER, Text(question, None, "question")), (ASSISTANT, Text(answer, None, "answer"))],
                )
                try:
                    validator.validate(record)
                except RecordRejected as exc:
                    drop(f"invalid_{exc.reason}", question, exc.message)
                    continue
                seen.add(question, "generated")
                result.records.append(encode(record))
                result.pairs.append(
                    {"question": question, "answer": answer, "documents": ", ".join(d.name for d in group)}
                )
        if len(result.pairs) >= count or len(result.pairs) == before:
            break
    if not result.pairs:
        raise GenerationError(
            f"{model_id} gave no usable question/answer pair from {len(documents)} documents "
            f"({received} received; dropped: {dict(dropped) or 'none'}); check the documents have text"
        )
    if len(result.pairs) < count:
        warnings.append(
            f"only {len(result.pairs)} of {count} pairs after {requests} requests: add documents or lower "
            "the count"
        )
    result.report = {
        "model_id": model_id,
        "base_model_id": base_model_id,
        "record_format": record_format,
        "requested": count,
        "generated": len(result.pairs),
        "received": received,
        "requests": requests,
        "documents": [d.describe() for d in documents],
        "near_duplicate_threshold": near_duplicate_threshold,
        "dropped": dict(sorted(dropped.items())),
        "dropped_examples": examples,
        "warnings": warnings,
    }
    return result
