"""Stream records out of a JSON array, JSON Lines or CSV file, local or on S3, with their physical lines.

Nothing here holds more than a window of the input: JSON arrays and JSON Lines are read in chunks of
:data:`CHUNK_BYTES` and parsed one record at a time, CSV row by row. Each record comes out as a
:class:`RawRecord` carrying the physical line where it starts (for a JSON array, the line of the element's
opening brace; for CSV, the first line of the row), counted in ``\\n`` so CRLF files number right.

JSON arrays are split into elements by a small scanner of our own rather than ijson, because ijson reports
no positions. The scanner only finds string and bracket boundaries (the bytes between quotes are skipped with
``bytes.find``, a memchr); each element is then parsed by orjson, which does the real validation. As a
by-product the scanner returns the raw JSON string literal of each top-level string value, so writers can
copy text straight into the output instead of decoding and re-encoding it (see ``formats``).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from bedrock_customization.artifacts import SCHEME, parse_s3_uri
from bedrock_customization.dataset.problems import FatalInputError, Problem
from bedrock_customization.exceptions import DatasetConfigError

__all__ = [
    "CHUNK_BYTES",
    "INPUT_FORMATS",
    "MAX_RECORD_BYTES",
    "RawRecord",
    "Source",
    "detect_format",
    "open_source",
    "read_csv",
    "read_json_array",
    "read_jsonl",
    "read_records",
]

#: Bytes read from the input at a time.
CHUNK_BYTES = 1 << 20
#: Largest record accepted (8 MiB). No model's token limit admits a record anywhere near this long, so a
#: longer one is either far too long or a string that never ends; reading stops instead of buffering more.
MAX_RECORD_BYTES = 8 << 20
INPUT_FORMATS = ("auto", "json", "jsonl", "csv")

_BOM = b"\xef\xbb\xbf"
_OTHER_BOMS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16 (and UTF-32 LE, which starts with FF FE too)
_WS = re.compile(rb"[ \t\r\n]*")
_BRACKET = re.compile(rb"[\[\]{}]")
_SCALAR_END = re.compile(rb"[,\]\s]")
_OPEN = frozenset(b"{[")


@dataclass(slots=True)
class RawRecord:
    """One record as read: its object, or the problem that kept it from being read.

    ``spans`` maps a top-level key, as it is spelled between the quotes in the input, to the raw JSON string
    literal (quotes included) of its value, for values that are strings; ``None`` for CSV input.
    """

    line: int
    data: dict[str, Any] | None
    spans: dict[bytes, bytes] | None = None
    problem: Problem | None = None


# ------------------------------------------------------------------------------------------------ sources


class _BodyReader(io.RawIOBase):
    """Raw-stream adapter for a botocore ``StreamingBody`` so it can sit under an ``io.BufferedReader``."""

    def __init__(self, body: Any) -> None:
        self._body = body
        self._position = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


@dataclass
class Source:
    """An opened input: a buffered binary stream, a display name and its size when known."""

    name: str
    stream: io.BufferedReader
    size: int | None

    def close(self) -> None:
        self.stream.close()

    def position(self) -> int | None:
        """Bytes consumed so far (None when the stream cannot tell), e.g. for a progress bar."""
        try:
            return self.stream.tell()
        except (OSError, ValueError):
            return None

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(source: str | os.PathLike[str], *, s3_client: Any = None) -> Source:
    """Open a local path or an ``s3://bucket/key`` URI for streaming.

    S3 objects are streamed from ``GetObject`` with ``s3_client`` or, when none is given, a boto3 client
    built from the standard credential chain (boto3 honours ``AWS_ENDPOINT_URL``). A missing input raises
    :class:`DatasetConfigError`.
    """
    name = os.fspath(source)
    if name.startswith(SCHEME):
        return _open_s3(name, s3_client)
    try:
        stream = open(name, "rb", buffering=CHUNK_BYTES)  # closed by Source.close
    except FileNotFoundError as exc:
        raise DatasetConfigError(f"Input file {name} does not exist.") from exc
    except IsADirectoryError as exc:
        raise DatasetConfigError(f"Input {name} is a directory; give the path of a file.") from exc
    except PermissionError as exc:
        raise DatasetConfigError(f"Input file {name} cannot be read: permission denied.") from exc
    return Source(name, stream, os.fstat(stream.fileno()).st_size)


def _open_s3(uri: str, s3_client: Any) -> Source:
    bucket, key = parse_s3_uri(uri, what="Input", error=DatasetConfigError)
    if not key:
        raise DatasetConfigError(f"Input {uri!r} is not an S3 object URI; expected s3://bucket/key.")
    if s3_client is None:
        import boto3

        s3_client = boto3.client("s3")
    try:
        response = s3_client.get_object(Bucket=bucket, Key=key)
    except Exception as exc:
        # botocore's errors (ClientError for NoSuchKey or AccessDenied, NoCredentialsError, ...) are the user's
        # to fix; anything else is a bug and keeps its traceback.
        if not type(exc).__module__.startswith("botocore"):
            raise
        raise DatasetConfigError(f"Cannot read input {uri}: {exc}") from exc
    stream = io.BufferedReader(_BodyReader(response["Body"]), buffer_size=CHUNK_BYTES)
    return Source(uri, stream, response.get("ContentLength"))


def detect_format(source: Source, input_format: str = "auto") -> str:
    """``json``, ``jsonl`` or ``csv``: as given, else ``csv`` for a ``.csv`` name, else by the first byte.

    Content decides between a JSON array (``[``) and JSON Lines, whatever the extension says, because
    ``.json`` files holding one object per line are common. Raises for UTF-16/32 input.
    """
    head = source.stream.peek(64)[:64]
    if head.startswith(_OTHER_BOMS) or (len(head) > 1 and b"\x00" in head[:2]):
        raise DatasetConfigError(f"Input {source.name} looks like UTF-16 or UTF-32 text; save it as UTF-8.")
    if input_format not in INPUT_FORMATS:
        raise DatasetConfigError(
            f"Unknown input format {input_format!r}; use one of {', '.join(INPUT_FORMATS)}."
        )
    if input_format != "auto":
        return input_format
    if source.name.lower().endswith((".csv", ".csv.txt")):
        return "csv"
    first = head.removeprefix(_BOM).lstrip(b" \t\r\n")[:1]
    return "json" if first == b"[" else "jsonl"


def read_records(source: Source, input_format: str) -> Iterator[RawRecord]:
    """Records of ``source`` in the (detected) ``input_format``."""
    if input_format == "json":
        return read_json_array(source.stream)
    if input_format == "jsonl":
        return read_jsonl(source.stream)
    if input_format == "csv":
        return read_csv(source.stream)
    raise DatasetConfigError(f"Unknown input format {input_format!r}; use json, jsonl or csv.")


# --------------------------------------------------------------------------------------------- JSON parse


def parse_object(raw: bytes | memoryview, line: int, spans: dict[bytes, bytes] | None) -> RawRecord:
    """Parse one JSON value that should be an object; problems come back in the record, never raised."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data, problem = _diagnose(bytes(raw), line)
        if problem is not None:
            return RawRecord(line, None, problem=problem)
        spans = None  # the stdlib decoded what orjson refused (e.g. a lone surrogate): no raw reuse
    if not isinstance(data, dict):
        kind = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
            type(data), "a number"
        )
        message = f"the record is {kind}, not a JSON object with named fields"
        return RawRecord(line, None, problem=Problem("not_an_object", message, line))
    return RawRecord(line, data, spans)


def _diagnose(raw: bytes, line: int) -> tuple[Any, Problem | None]:
    """Explain why orjson refused ``raw`` (with the stdlib's messages), or decode what only orjson refuses."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        at = line + raw.count(b"\n", 0, exc.start)
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        bad = raw[exc.start : exc.start + 3]
        if bad[:1] == b"\xed" and len(bad) > 1 and 0xA0 <= bad[1] <= 0xBF:
            message = f"an encoded UTF-16 surrogate (bytes {bad.hex(' ')}) at line {at} column {column}"
            return None, Problem("lone_surrogate", message + "; fix the text encoding", line)
        message = f"byte 0x{raw[exc.start]:02x} at line {at} column {column} is not valid UTF-8; save the file as UTF-8"
        return None, Problem("invalid_utf8", message, line)
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        at = line + exc.lineno - 1
        return None, Problem("malformed_json", f"{exc.msg} at line {at} column {exc.colno}", line)
    except RecursionError:
        return None, Problem("malformed_json", "the record is nested too deeply", line)


# ------------------------------------------------------------------------------------------ JSON scanning


def _string_end(data: bytes | bytearray, pos: int) -> int:
    """Index just past the closing quote of the string whose content starts at ``pos``; -1 if not in data."""
    find = data.find
    while True:
        quote = find(b'"', pos)
        if quote < 0:
            return -1
        back = quote - 1
        if data[back] != 92:  # no backslash before the quote
            return quote + 1
        while data[back] == 92:
            back -= 1
        if (quote - 1 - back) % 2 == 0:  # an even run of backslashes escapes itself, not the quote
            return quote + 1
        pos = quote + 1


def _scan_container(
    data: bytes | bytearray, start: int
) -> tuple[int, int, dict[bytes, tuple[int, int]]] | None:
    """Scan the object or array opening at ``start``: ``(end, newlines, spans)``, or None if data ends first.

    ``newlines`` counts the line breaks between tokens, which in valid JSON are all of them (strings cannot
    hold a raw line break), so strings are never scanned twice. ``spans`` locates the literals of top-level
    string values by key. Correct for valid JSON, which orjson checks afterwards; for invalid JSON the scan
    only has to stop somewhere, and the caller counts that record's lines in full.
    """
    depth = 0
    pos = start
    size = len(data)
    newlines = 0
    is_object = data[start] == 123
    spans: dict[bytes, tuple[int, int]] = {}
    key: tuple[int, int] | None = None  # the last top-level string, if it may be a key
    value_of: bytes | None = None  # the key whose string value is the next string
    find = data.find
    count = data.count
    while True:
        quote = find(b'"', pos)
        stop = size if quote < 0 else quote
        if stop > pos:
            for match in _BRACKET.finditer(data, pos, stop):
                if data[match.start()] in _OPEN:
                    depth += 1
                else:
                    depth -= 1
                    if depth == 0:
                        return match.end(), newlines + count(b"\n", pos, match.end()), spans
            newlines += count(b"\n", pos, stop)
            if key is not None:
                if quote >= 0 and depth == 1 and stop - pos < 64 and data[pos:stop].strip() == b":":
                    value_of = bytes(data[key[0] : key[1]])
                key = None
        if quote < 0:
            return None
        end = _string_end(data, quote + 1)
        if end < 0:
            return None
        if depth == 1 and is_object:
            if value_of is not None:
                spans[value_of] = (quote, end)
                value_of = None
            else:
                key = (quote + 1, end - 1)
        pos = end


class _Window:
    """A window on a binary stream, and the line number at position ``mark`` in it."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.data = bytearray()  # deleting from the front of a bytearray is cheap, appending amortised
        self.eof = False
        self.line = 1
        self.mark = 0

    def advance(self, pos: int, newlines: int | None = None) -> int:
        """Move the mark to ``pos``, counting the line breaks on the way unless ``newlines`` is known."""
        if newlines is None:
            newlines = self.data.count(b"\n", self.mark, pos)
        self.line += newlines
        self.mark = pos
        return self.line

    def more(self, keep_from: int, at_least: int = 0) -> int:
        """Drop the data before ``keep_from`` and append at least one chunk; returns the shift of positions."""
        if self.mark < keep_from:
            self.advance(keep_from)
        chunk = self.stream.read(max(CHUNK_BYTES, at_least))
        if not chunk:
            self.eof = True
        del self.data[:keep_from]
        self.data += chunk
        self.mark -= keep_from
        return keep_from

    def skip_ws(self, pos: int) -> int:
        """Position of the next non-whitespace byte at or after ``pos`` (``len(data)`` at end of input)."""
        while True:
            end = _WS.match(self.data, pos).end()
            if end < len(self.data) or self.eof:
                return end
            pos = end - self.more(end)


def read_json_array(stream: BinaryIO) -> Iterator[RawRecord]:
    """Elements of a top-level JSON array, each with the line of its first byte."""
    window = _Window(stream)
    while len(window.data) < len(_BOM) and not window.eof:
        window.more(0)
    if window.data.startswith(_BOM):
        del window.data[:3]
    pos = window.skip_ws(0)
    if pos == len(window.data):
        return  # empty input: no records (the file checks report it)
    if window.data[pos] != 91:
        raise _fatal(window, pos, "expected a JSON array starting with '['")
    pos = window.skip_ws(pos + 1)
    after_comma = False
    while True:
        if pos == len(window.data):
            raise _fatal(window, pos, "the input ends before the JSON array is closed with ']'")
        if window.data[pos] == 93:
            if after_comma:
                raise _fatal(window, pos, "trailing comma before ']' (not allowed in JSON)")
            pos += 1
            break
        start = pos
        line = window.advance(start)
        while True:
            scanned = _scan_value(window.data, start, window.eof)
            if scanned is not None:
                break
            if window.eof:
                message = "the input ends inside this record (an unclosed string, brace or bracket)"
                raise FatalInputError(Problem("malformed_json", message, line))
            if len(window.data) - start > MAX_RECORD_BYTES:
                message = _too_large() + " (or a string in it is never closed); reading cannot go on"
                raise FatalInputError(Problem("record_too_large", message, line))
            start -= window.more(start, at_least=len(window.data) - start)
        end, newlines, spans = scanned
        data = window.data
        if end - start > MAX_RECORD_BYTES:
            record = RawRecord(line, None, problem=Problem("record_too_large", _too_large(), line))
        else:
            literals = {key: data[a:b] for key, (a, b) in spans.items()} if spans else None
            record = parse_object(memoryview(data)[start:end], line, literals)
        # A rejected element may hold raw line breaks inside strings, which the scan did not count.
        window.advance(end, newlines if record.problem is None else None)
        yield record
        pos = window.skip_ws(end)
        if pos == len(window.data):
            raise _fatal(window, pos, "the input ends before the JSON array is closed with ']'")
        byte = window.data[pos]
        if byte == 44:  # ","
            pos = window.skip_ws(pos + 1)
            after_comma = True
        elif byte == 93:  # "]"
            pos += 1
            break
        else:
            found = bytes([byte]).decode("latin-1")
            raise _fatal(
                window, pos, f"expected ',' or ']' after the record starting at line {line}, found {found!r}"
            )
    pos = window.skip_ws(pos)
    if pos != len(window.data):
        raise _fatal(window, pos, "unexpected data after the end of the JSON array")


def _scan_value(
    data: bytearray, start: int, eof: bool
) -> tuple[int, int | None, dict[bytes, tuple[int, int]]] | None:
    byte = data[start]
    if byte in _OPEN:
        return _scan_container(data, start)
    if byte == 34:
        end = _string_end(data, start + 1)
        return None if end < 0 else (end, None, {})
    match = _SCALAR_END.search(data, start)
    if match is None:
        return (len(data), None, {}) if eof else None
    return match.start(), None, {}


def _too_large() -> str:
    return f"the record is larger than {MAX_RECORD_BYTES:,} bytes, far beyond any model's token limit"


def _fatal(window: _Window, pos: int, message: str) -> FatalInputError:
    line = window.advance(pos)
    return FatalInputError(Problem("malformed_json", f"{message} (line {line})", line))


# ------------------------------------------------------------------------------------------- JSON Lines


def read_jsonl(stream: BinaryIO) -> Iterator[RawRecord]:
    """One record per non-blank line; a bad line is reported and reading goes on."""
    readline = stream.readline
    line = 0
    while True:
        raw = readline(MAX_RECORD_BYTES)
        if not raw:
            return
        line += 1
        if line == 1 and raw.startswith(_BOM):
            raw = raw[3:]
        if len(raw) >= MAX_RECORD_BYTES and not raw.endswith(b"\n"):
            while True:  # discard the rest of the line without holding it
                rest = readline(CHUNK_BYTES)
                if not rest or rest.endswith(b"\n"):
                    break
            yield RawRecord(line, None, problem=Problem("record_too_large", _too_large(), line))
            continue
        first = _WS.match(raw).end()
        if first == len(raw):
            continue  # blank line
        literals = None
        if raw[first] == 123:
            scanned = _scan_container(raw, first)
            if scanned is not None and scanned[2]:
                literals = {key: raw[a:b] for key, (a, b) in scanned[2].items()}
        yield parse_object(raw, line, literals)


# -------------------------------------------------------------------------------------------------- CSV


def read_csv(stream: BinaryIO) -> Iterator[RawRecord]:
    """Rows of a CSV file with a header row, as dicts of strings, each with the line where the row starts.

    Quoted fields may span lines. A row with the wrong number of fields is reported and skipped; a quoting
    error or a field over the csv module's size limit stops reading (the row boundaries are lost).
    """
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, strict=True)
    header: list[str] | None = None
    header_line = 0
    consumed = 0  # physical lines read so far
    try:
        for row in reader:
            line, consumed = consumed + 1, reader.line_num
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # blank line
            if header is None:
                header, header_line = row, line
                duplicates = sorted({name for name in row if row.count(name) > 1})
                if duplicates:
                    message = f"the header names {', '.join(map(repr, duplicates))} more than once"
                    raise FatalInputError(Problem("malformed_csv", message, line))
                continue
            if len(row) != len(header):
                message = (
                    f"the row has {len(row)} fields but the header (line {header_line}) has {len(header)}; "
                    "quote fields that contain commas"
                )
                yield RawRecord(line, None, problem=Problem("csv_field_count", message, line))
                continue
            yield RawRecord(line, dict(zip(header, row, strict=True)))
    except csv.Error as exc:
        line = consumed + 1
        message = f"{exc} in the row starting at line {line} (an unclosed or misplaced quote?)"
        raise FatalInputError(Problem("malformed_csv", message, line)) from None
    except UnicodeDecodeError as exc:
        line = consumed + 1
        message = f"the text near line {line} is not valid UTF-8 ({exc.reason}); save the file as UTF-8"
        raise FatalInputError(Problem("invalid_utf8", message, line)) from None
    finally:
        text.detach()
