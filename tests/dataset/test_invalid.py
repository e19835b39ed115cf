"""Every kind of bad input fails the CLI with exit code 1, names the line, and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bedrock_customization.cli import main
from bedrock_customization.dataset import readers

from .helpers import CLAUDE, NOVA, PLAIN, qa_records, read_jsonl, write_csv, write_json_array, write_jsonl

QA = ["--prompt-key", "question", "--completion-key", "answer"]


def run(capsys, source: Path, out: Path, *args: str) -> tuple[int, str]:
    code = main(["prepare", str(source), "--out", str(out), *QA, *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err


def assert_nothing_written(out: Path) -> None:
    assert not out.exists() or sorted(p.name for p in out.iterdir()) == []


def _with_bad(bad: object, count: int = 12, at: int = 4) -> list[object]:
    records: list[object] = list(qa_records(count))
    records.insert(at, bad)
    return records


RECORD_CASES = {
    # name: (bad record, model, expected reason, text expected in the message)
    "missing_field": ({"question": "q only"}, PLAIN, "missing_field", "missing field 'answer'"),
    "empty_string": ({"question": "q", "answer": " \n\t"}, PLAIN, "empty_field", "'answer' is empty"),
    "non_string": ({"question": "q", "answer": 42}, PLAIN, "not_a_string", "'answer' is a number (42)"),
    "null": ({"question": None, "answer": "a"}, PLAIN, "not_a_string", "'question' is null"),
    "too_many_tokens": (
        {"question": "q", "answer": "x" * 128_001},
        NOVA,
        "too_many_tokens",
        "32,000-token limit",
    ),
    "nova_reserved_word": ({"question": "q", "answer": "Bot: hello"}, NOVA, "reserved_word", "'Bot:'"),
    "nova_reserved_tag": (
        {"question": "see <image> here", "answer": "a"},
        NOVA,
        "reserved_word",
        "'<image>'",
    ),
    "control_character": ({"question": "bell \u0007", "answer": "a"}, PLAIN, "control_character", "U+0007"),
    "c1_control": ({"question": "q", "answer": "x\u0085y"}, PLAIN, "control_character", "U+0085"),
    "escaped_control": ({"question": "q", "answer": "form\ffeed"}, PLAIN, "control_character", "U+000C"),
    "not_an_object": (["question", "answer"], PLAIN, "not_an_object", "an array"),
}


@pytest.mark.parametrize("input_format", ["jsonl", "json"])
@pytest.mark.parametrize("case", sorted(RECORD_CASES))
def test_bad_record(tmp_path, capsys, case, input_format):
    bad, model, reason, words = RECORD_CASES[case]
    source = tmp_path / f"raw.{input_format}"
    writer = write_jsonl if input_format == "jsonl" else write_json_array
    lines = writer(source, _with_bad(bad), crlf=True, blank_every=2)
    out = tmp_path / "out"
    out.mkdir()

    code, err = run(capsys, source, out, "--base-model", model, "--validation-fraction", "0")

    assert code == 1
    assert f"line {lines[4]}: {reason}: " in err and words in err
    assert "nothing was written" in err
    assert_nothing_written(out)


def test_lone_surrogate(tmp_path, capsys):
    good = [json.dumps(r) for r in qa_records(9)]
    lines = write_jsonl(
        tmp_path / "raw.jsonl", [*good[:3], '{"question": "q", "answer": "half \\ud800 pair"}', *good[3:]]
    )
    code, err = run(capsys, tmp_path / "raw.jsonl", tmp_path / "out", "--base-model", PLAIN)
    assert code == 1 and f"line {lines[3]}: lone_surrogate: " in err and "U+D800" in err
    assert_nothing_written(tmp_path / "out")


def test_encoded_surrogate_and_invalid_utf8(tmp_path, capsys):
    good = [json.dumps(r).encode() for r in qa_records(6)]
    raw = b"\n".join(
        [
            *good[:2],
            b'{"question": "q", "answer": "\xed\xa0\x80"}',
            good[2],
            b'{"question": "\xff", "answer": "a"}',
            *good[3:],
        ]
    )
    (tmp_path / "raw.jsonl").write_bytes(raw + b"\n")
    code, err = run(capsys, tmp_path / "raw.jsonl", tmp_path / "out", "--base-model", PLAIN)
    assert code == 1
    assert "line 3: lone_surrogate: " in err and "line 5: invalid_utf8: byte 0xff at line 5 column 15" in err
    assert_nothing_written(tmp_path / "out")


def test_bad_role_order(tmp_path, capsys):
    chats = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]}
        for i in range(12)
    ]
    chats.insert(5, {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]})
    chats.insert(
        7,
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
                {"role": "user", "content": "q2"},
            ]
        },
    )
    chats.insert(9, {"messages": [{"role": "user", "content": "q"}, {"role": "bot", "content": "a"}]})
    lines = write_json_array(tmp_path / "chat.json", chats)
    code, err = run(
        capsys,
        tmp_path / "chat.json",
        tmp_path / "out",
        "--base-model",
        NOVA,
        "--conversation-key",
        "messages",
    )
    assert code == 1
    assert f"line {lines[5]}: role_order: roles must start with user, alternate and end with assistant" in err
    assert f"line {lines[7]}: role_order: " in err
    assert f"line {lines[9]}: role_order: messages[1].role is 'bot'" in err
    assert_nothing_written(tmp_path / "out")


def test_token_limit_depends_on_batch_size(tmp_path, capsys):
    records = [
        *qa_records(5),
        {"question": "long", "answer": "w" * 8_400},
    ]  # about 2,101 tokens at 4 chars/token
    lines = write_jsonl(tmp_path / "raw.jsonl", records)
    code, err = run(
        capsys, tmp_path / "raw.jsonl", tmp_path / "ok", "--base-model", PLAIN, "--batch-size", "1"
    )
    assert code == 0
    code, err = run(
        capsys, tmp_path / "raw.jsonl", tmp_path / "bad", "--base-model", PLAIN, "--batch-size", "2"
    )
    assert code == 1
    assert f"line {lines[5]}: too_many_tokens: about 2,101 tokens" in err
    assert (
        "2,048-token limit of example.prompt-completion-v1:0:8k at batchSize 2; batchSize <= 1 allows 4,096"
        in err
    )
    assert_nothing_written(tmp_path / "bad")
    code, err = run(
        capsys, tmp_path / "raw.jsonl", tmp_path / "bad", "--base-model", PLAIN, "--batch-size", "65"
    )
    assert code == 2 and "batchSize=65 is outside 1..64" in err


def test_prompt_and_completion_limits(tmp_path, capsys, patch_limits):
    # Cohere Command had separate input and output limits (4,096 + 2,048 tokens); no current model does.
    patch_limits(PLAIN, max_input_tokens=4096, max_output_tokens=2048)
    write_jsonl(tmp_path / "raw.jsonl", [*qa_records(3), {"question": "q", "answer": "y" * 8_200}])
    code, err = run(capsys, tmp_path / "raw.jsonl", tmp_path / "out", "--base-model", PLAIN)
    assert (
        code == 1
        and "line 4: too_many_tokens: the completion has about 2,050 tokens, over the 2,048-token output"
        in err
    )


# ------------------------------------------------------------------------------------------ file limits


def test_too_few_records(tmp_path, capsys):
    write_jsonl(tmp_path / "raw.jsonl", qa_records(5))
    code, err = run(
        capsys, tmp_path / "raw.jsonl", tmp_path / "out", "--base-model", NOVA, "--validation-fraction", "0"
    )
    assert code == 1
    assert "too_few_records: 5 training records; amazon.nova-lite-v1:0:300k needs at least 8" in err
    assert_nothing_written(tmp_path / "out")


def test_too_many_records(tmp_path, capsys, patch_limits):
    patch_limits(PLAIN, max_training_records=5)
    write_jsonl(tmp_path / "raw.jsonl", qa_records(6))
    code, err = run(
        capsys, tmp_path / "raw.jsonl", tmp_path / "out", "--base-model", PLAIN, "--validation-fraction", "0"
    )
    assert code == 1
    assert (
        "too_many_records: at least 6 training records (reading stopped at line 6, where the limit was "
        "passed); example.prompt-completion-v1:0:8k allows at most 5: sample the data down" in err
    )
    assert_nothing_written(tmp_path / "out")


def test_too_many_validation_records(tmp_path, capsys, patch_limits):
    patch_limits(CLAUDE, min_training_records=1, max_validation_records=2)
    write_jsonl(tmp_path / "raw.jsonl", qa_records(40))
    code, err = run(
        capsys,
        tmp_path / "raw.jsonl",
        tmp_path / "out",
        "--base-model",
        CLAUDE,
        "--validation-fraction",
        "0.5",
    )
    assert code == 1
    assert (
        "too_many_validation_records: at least 3 validation records (fraction 0.5) (reading stopped at" in err
    )
    assert "allows at most 2: lower the validation fraction" in err
    assert_nothing_written(tmp_path / "out")


def test_too_many_total_records(tmp_path, capsys, patch_limits):
    patch_limits(CLAUDE, min_training_records=1, max_total_records=30)
    write_jsonl(tmp_path / "raw.jsonl", qa_records(40))
    code, err = run(
        capsys,
        tmp_path / "raw.jsonl",
        tmp_path / "out",
        "--base-model",
        CLAUDE,
        "--validation-fraction",
        "0.5",
    )
    assert code == 1
    assert (
        "too_many_total_records: at least 31 records in total (reading stopped at line 31, where the limit "
        f"was passed); {CLAUDE} allows at most 30: sample the data down" in err
    )
    assert_nothing_written(tmp_path / "out")


@pytest.mark.parametrize(
    ("limits", "fraction", "expected"),
    [
        (
            {"max_training_file_bytes": 1_000},
            "0",
            "training_file_too_large: the training file would be at least ",
        ),
        (
            {"max_validation_file_bytes": 100},
            "0.3",
            "validation_file_too_large: the validation file would be at least ",
        ),
    ],
    ids=["training", "validation"],
)
def test_training_and_validation_files_too_large(tmp_path, capsys, patch_limits, limits, fraction, expected):
    patch_limits(PLAIN, **limits)
    write_jsonl(tmp_path / "raw.jsonl", qa_records(30))
    code, err = run(
        capsys,
        tmp_path / "raw.jsonl",
        tmp_path / "out",
        "--base-model",
        PLAIN,
        "--validation-fraction",
        fraction,
    )
    assert code == 1
    assert expected in err and f"allows at most {next(iter(limits.values())):,}" in err
    assert_nothing_written(tmp_path / "out")


def test_no_records(tmp_path, capsys):
    (tmp_path / "empty.json").write_text("[ ]\n")
    code, err = run(capsys, tmp_path / "empty.json", tmp_path / "out", "--base-model", PLAIN)
    assert code == 1 and "no_records" in err
    assert_nothing_written(tmp_path / "out")


# ---------------------------------------------------------------------------------------- malformed input


def test_malformed_jsonl_lines(tmp_path, capsys):
    good = [json.dumps(r) for r in qa_records(6)]
    lines = write_jsonl(
        tmp_path / "raw.jsonl",
        [good[0], '{"question": "q", "answer": "a",}', good[1], '{"question": "q" "answer": 1}', *good[2:]],
        blank_every=1,
    )
    code, err = run(capsys, tmp_path / "raw.jsonl", tmp_path / "out", "--base-model", PLAIN)
    assert code == 1
    assert (
        f"line {lines[1]}: malformed_json: " in err
        and f"line {lines[3]}: malformed_json: Expecting ':' delimiter" not in err
    )
    assert f"line {lines[3]}: malformed_json: Expecting ',' delimiter at line {lines[3]} column 18" in err
    assert_nothing_written(tmp_path / "out")


def test_malformed_element_inside_a_json_array(tmp_path, capsys):
    text = '[\n  {"question": "q1", "answer": "a1"},\n  {"question": "q2",\n   "answer" "a2"},\n  {"question": "q3", "answer": "a3"}\n]\n'
    (tmp_path / "raw.json").write_text(text)
    code, err = run(capsys, tmp_path / "raw.json", tmp_path / "out", "--base-model", PLAIN)
    assert code == 1 and "line 3: malformed_json: Expecting ':' delimiter at line 4 column 13" in err
    assert_nothing_written(tmp_path / "out")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[\n{"question": "q", "answer": "a"}\n{"question": "q", "answer": "a"}\n]',
            "line 3: malformed_json: expected ',' or ']' after the record starting at line 2",
        ),
        ('[\n{"question": "q", "answer": "a"},\n]\n', "line 3: malformed_json: trailing comma"),
        ('[\n{"question": "q", "answer": "a"}\n', "the input ends before the JSON array is closed"),
        (
            '[\n\n{"question": "q", "answer": "a\n',
            "line 3: malformed_json: the input ends inside this record",
        ),
        ('{"question": "q", "answer": "a"}\n[1]\n', "line 2: not_an_object"),
        ('[{"question": "q", "answer": "a"}] x', "line 1: malformed_json: unexpected data after the end"),
    ],
    ids=[
        "missing_comma",
        "trailing_comma",
        "unclosed_array",
        "unclosed_string",
        "jsonl_array_line",
        "trailing_data",
    ],
)
def test_malformed_json_structure(tmp_path, capsys, text, expected):
    (tmp_path / "raw.json").write_text(text)
    code, err = run(capsys, tmp_path / "raw.json", tmp_path / "out", "--base-model", PLAIN)
    assert code == 1 and expected in err, err
    assert_nothing_written(tmp_path / "out")


def test_malformed_csv(tmp_path, capsys):
    (tmp_path / "raw.csv").write_text(
        'question,answer\r\n"q1","a1\r\nstill a1"\r\n\r\nq2,"a2" x\r\nq3,a3\r\n'
    )
    code, err = run(capsys, tmp_path / "raw.csv", tmp_path / "out", "--base-model", PLAIN)
    assert code == 1 and "line 5: malformed_csv: " in err and "in the row starting at line 5" in err
    assert_nothing_written(tmp_path / "out")


def test_csv_row_with_wrong_field_count_and_unclosed_quote(tmp_path, capsys):
    (tmp_path / "raw.csv").write_text('question,answer\nq1,a1\nq2,a2,extra\n"q3,a3\nq4,a4\n')
    code, err = run(capsys, tmp_path / "raw.csv", tmp_path / "out", "--base-model", PLAIN)
    assert code == 1
    assert "line 3: csv_field_count: the row has 3 fields but the header (line 1) has 2" in err
    assert "line 4: malformed_csv: unexpected end of data" in err
    assert_nothing_written(tmp_path / "out")


def test_oversized_record(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(readers, "MAX_RECORD_BYTES", 1_000)
    records = [*qa_records(3), {"question": "q", "answer": "z" * 2_000}, *qa_records(3)]
    write_jsonl(tmp_path / "raw.jsonl", records)
    code, err = run(capsys, tmp_path / "raw.jsonl", tmp_path / "out", "--base-model", PLAIN)
    assert code == 1 and "line 4: record_too_large: " in err
    code, err = run(
        capsys, tmp_path / "raw.jsonl", tmp_path / "out", "--base-model", PLAIN, "--on-invalid", "skip",
        "--validation-fraction", "0",
    )  # fmt: skip
    assert code == 0 and len(read_jsonl(tmp_path / "out" / "train.jsonl")) == 6
    lines = write_json_array(tmp_path / "raw.json", records)
    code, err = run(capsys, tmp_path / "raw.json", tmp_path / "out2", "--base-model", PLAIN)
    assert code == 1 and f"line {lines[3]}: record_too_large: " in err
    monkeypatch.setattr(readers, "CHUNK_BYTES", 64)  # the record no longer fits the window: reading stops
    code, err = run(
        capsys, tmp_path / "raw.json", tmp_path / "out2", "--base-model", PLAIN, "--on-invalid", "skip"
    )
    assert code == 1 and f"line {lines[3]}: record_too_large: " in err and "reading cannot go on" in err
    assert_nothing_written(tmp_path / "out2")


# ------------------------------------------------------------------------------------------ skip, usage


def test_skip_drops_and_reports_bad_records(tmp_path, capsys):
    records: list[object] = list(qa_records(10))
    records[2] = {"question": "q"}
    records[6] = {"question": "bell \u0007", "answer": "a"}
    lines = write_json_array(tmp_path / "raw.json", records, crlf=True)
    code, _ = run(
        capsys,
        tmp_path / "raw.json",
        tmp_path / "out",
        "--base-model",
        PLAIN,
        "--on-invalid",
        "skip",
        "--validation-fraction",
        "0",
    )
    assert code == 0
    assert len(read_jsonl(tmp_path / "out" / "train.jsonl")) == 8
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["records_read"] == 10 and report["records_rejected"] == 2 and report["records_written"] == 8
    assert report["rejection_counts"] == {"missing_field": 1, "control_character": 1}
    assert [(r["line"], r["reason"], r["field"]) for r in report["rejections"]] == [
        (lines[2], "missing_field", "answer"),
        (lines[6], "control_character", "question"),
    ]
    assert any("2 invalid records were skipped" in w for w in report["warnings"])


def test_skip_still_fails_on_file_limits(tmp_path, capsys):
    write_jsonl(tmp_path / "raw.jsonl", [*qa_records(5), {"question": "q"}])
    code, err = run(
        capsys, tmp_path / "raw.jsonl", tmp_path / "out", "--base-model", NOVA, "--on-invalid", "skip"
    )
    assert code == 1 and "too_few_records" in err
    assert_nothing_written(tmp_path / "out")


def test_failure_keeps_previous_results_and_leaves_no_temporaries(tmp_path, capsys):
    write_jsonl(tmp_path / "good.jsonl", qa_records(10))
    write_jsonl(tmp_path / "bad.jsonl", [*qa_records(10), {"question": ""}])
    out = tmp_path / "out"
    assert run(capsys, tmp_path / "good.jsonl", out, "--base-model", PLAIN)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert run(capsys, tmp_path / "bad.jsonl", out, "--base-model", PLAIN)[0] == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ["--base-model", PLAIN, "--validation-fraction", "1"],
            "is not in [0, 1)",
        ),
        (["--base-model", "nope"], "Unknown base model 'nope'"),
        (
            ["--base-model", "amazon.titan-text-express-v1:0:8k"],
            "is no longer offered for customization",
        ),
        (["--base-model", PLAIN, "--customization-type", "DISTILLATION"], "does not support DISTILLATION"),
        (["--base-model", PLAIN, "--system", "Be brief."], "prompt_completion format has no system prompt"),
        (["--base-model", PLAIN, "--format", "nope"], "invalid choice: 'nope'"),
        (["--base-model", PLAIN, "--input-format", "xml"], "invalid choice: 'xml'"),
    ],
)
def test_usage_errors_exit_2(tmp_path, capsys, args, expected):
    write_jsonl(tmp_path / "raw.jsonl", qa_records(3))
    code, err = run(capsys, tmp_path / "raw.jsonl", tmp_path / "out", *args)
    assert code == 2 and expected in err
    assert_nothing_written(tmp_path / "out")


def test_missing_input_is_a_usage_error(tmp_path, capsys):
    code, err = run(capsys, tmp_path / "nope.jsonl", tmp_path / "out", "--base-model", PLAIN)
    assert code == 2 and "does not exist" in err


def test_csv_with_bom_crlf_and_quoted_newlines_reports_row_start_lines(tmp_path, capsys):
    rows = qa_records(8)
    rows[5] = {"question": "multi\nline\nquestion", "answer": "", "text": "t"}
    lines = write_csv(tmp_path / "raw.csv", rows, bom=True, crlf=True, blank_every=2)
    code, err = run(capsys, tmp_path / "raw.csv", tmp_path / "out", "--base-model", PLAIN)
    assert code == 1 and f"line {lines[5]}: empty_field: 'answer' is empty" in err
    assert lines[5] > 10  # the quoted newlines of earlier rows were counted


def test_prepare_is_a_registered_command(capsys):
    from bedrock_customization.cli import COMMANDS

    assert "prepare" in [command.name for command in COMMANDS]
    assert main(["prepare", "--help"]) == 0
    assert "--conversation-key K" in capsys.readouterr().out


def test_escapes_neither_hide_nor_invent_problems(tmp_path, capsys):
    good = [json.dumps(r) for r in qa_records(9)]
    lines = [
        *good[:3],
        '{"question": "User\\u003a hi", "answer": "a"}',  # reserved word spelled with an escape
        '{"question": "path C:\\\\new\\\\table", "answer": "tab\\there \\"quoted\\" \\/ ok"}',  # harmless
        '{"question": "q", "answer": "x\\u007fy"}',  # DEL, escaped
        *good[3:],
    ]
    numbers = write_jsonl(tmp_path / "raw.jsonl", lines)
    code, err = run(
        capsys,
        tmp_path / "raw.jsonl",
        tmp_path / "out",
        "--base-model",
        NOVA,
        "--on-invalid",
        "skip",
        "--validation-fraction",
        "0",
    )
    assert code == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [(r["line"], r["reason"]) for r in report["rejections"]] == [
        (numbers[3], "reserved_word"),
        (numbers[5], "control_character"),
    ]
