"""Readers stream any input with exact line numbers; the JSON scanner survives chunk boundaries."""

from __future__ import annotations

import io
import json

import orjson
import pytest

from bedrock_customization.dataset import readers
from bedrock_customization.dataset.mapping import FieldMapping
from bedrock_customization.dataset.prepare import prepare

from .helpers import PLAIN, qa_records, write_json_array, write_jsonl

TRICKY = [
    {"question": 'brackets } ] { [ and "quotes" \\" inside', "answer": "backslash at end \\"},
    {
        "question": 'escaped \\\\" quote',
        "answer": "unicode \u00e9\u3042 \U0001f600",
        "meta": {"n": [1, {"x": "}"}]},
    },
    {"meta": [], "question": "q3", "n": 3.5, "answer": "a3", "flag": True, "none": None},
    {"question": "", "answer": "keys in other order"},
]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
def test_json_array_elements_and_lines_across_chunk_boundaries(monkeypatch, chunk):
    monkeypatch.setattr(readers, "CHUNK_BYTES", chunk)
    text = (
        "\ufeff[\r\n"
        + ",\r\n\r\n".join(json.dumps(r, indent=1).replace("\n", "\r\n") for r in TRICKY)
        + "\r\n]\r\n"
    )
    records = list(readers.read_json_array(io.BytesIO(text.encode())))
    assert [r.data for r in records] == TRICKY
    expected_lines, line = [], 2
    for record in TRICKY:
        expected_lines.append(line)
        line += json.dumps(record, indent=1).count("\n") + 2
    assert [r.line for r in records] == expected_lines
    for record in records:  # the raw literals equal the decoded values
        for key, literal in (record.spans or {}).items():
            assert orjson.loads(bytes(literal)) == record.data[orjson.loads(b'"' + key + b'"')]
    assert set(records[2].spans) == {b"question", b"answer"}


def test_jsonl_literals_and_blank_lines():
    text = b'\xef\xbb\xbf{"question": "q\\u00e9", "answer": "a"}\r\n\r\n  \r\n{"answer": "b", "question": "p"}\r\n'
    records = list(readers.read_jsonl(io.BytesIO(text)))
    assert [(r.line, r.data) for r in records] == [
        (1, {"question": "q\u00e9", "answer": "a"}),
        (4, {"answer": "b", "question": "p"}),
    ]
    assert records[0].spans == {b"question": b'"q\\u00e9"', b"answer": b'"a"'}


def test_reused_literals_keep_escapes_and_decode_to_the_same_text(tmp_path):
    write_jsonl(
        tmp_path / "raw.jsonl", [{"question": 'caf\u00e9 "x"\n', "answer": "/path\\to"}], ensure_ascii=True
    )
    prepare(tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=PLAIN, validation_fraction=0,
            mapping=FieldMapping("question", "answer"))  # fmt: skip
    line = (tmp_path / "out" / "train.jsonl").read_bytes()
    assert line == b'{"prompt":"caf\\u00e9 \\"x\\"\\n","completion":"/path\\\\to"}\n'
    assert json.loads(line) == {"prompt": 'caf\u00e9 "x"\n', "completion": "/path\\to"}


def test_input_format_detection(tmp_path):
    write_jsonl(tmp_path / "lines.json", qa_records(3))  # .json holding JSON Lines
    write_json_array(tmp_path / "array.jsonl", qa_records(3))  # .jsonl holding an array
    (tmp_path / "data.txt").write_text("question,answer\nq,a\n")
    for name, expected in (("lines.json", "jsonl"), ("array.jsonl", "json")):
        with readers.open_source(tmp_path / name) as source:
            assert readers.detect_format(source) == expected
    with readers.open_source(tmp_path / "data.txt") as source:
        assert readers.detect_format(source, "csv") == "csv"
    (tmp_path / "utf16.json").write_bytes("[]".encode("utf-16"))
    with readers.open_source(tmp_path / "utf16.json") as source, pytest.raises(Exception, match="UTF-16"):
        readers.detect_format(source)
