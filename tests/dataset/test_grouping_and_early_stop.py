"""Repeated problems are reported once per kind with their lines and fix; hard limits stop reading at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bedrock_customization.cli import main
from bedrock_customization.dataset import prepare as prepare_module
from bedrock_customization.dataset.mapping import FieldMapping, suggest_keys
from bedrock_customization.dataset.prepare import PROGRESS_EVERY, prepare
from bedrock_customization.dataset.problems import Fix, Problem
from bedrock_customization.dataset.report import MAX_GROUPS, MAX_RUNS, RejectionLog
from bedrock_customization.exceptions import InvalidDatasetError

from .helpers import LLAMA31, PLAIN, qa_records, write_json_array, write_jsonl


def _wrong_key_file(path: Path) -> None:
    """Lines 1-2 and 175-200 use 'prompt'/'answer'; lines 3-174 use 'question'/'answer'."""
    records = [{"prompt": f"p{i}", "answer": f"a{i}"} for i in range(200)]
    for i in range(2, 174):
        records[i] = {"question": f"q{i}", "answer": f"a{i}"}
    write_jsonl(path, records)


# ---------------------------------------------------------------------------------------------- grouping


def test_a_wrong_key_is_reported_once_with_its_lines_count_and_the_option_to_use(tmp_path, capsys):
    _wrong_key_file(tmp_path / "raw.jsonl")
    out = tmp_path / "out"
    code = main(["prepare", str(tmp_path / "raw.jsonl"), "--base-model", PLAIN, "--out", str(out),
                 "--prompt-key", "prompt"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert (
        "\n  lines 3-174: missing_field: missing field 'prompt' (172 times); the records have 'question', "
        "'answer': use --prompt-key question\n" in err
    )
    assert err.count("missing field") == 1
    assert "rejections by reason: missing_field 172" in err
    assert not (tmp_path / "out").exists()


def test_the_operator_message_groups_the_same_way_and_spells_the_keyword(tmp_path):
    """The operator fails with ``str(InvalidDatasetError)``: the same grouped report, its own option names."""
    _wrong_key_file(tmp_path / "raw.jsonl")
    with pytest.raises(InvalidDatasetError) as caught:
        prepare(tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=PLAIN,
                mapping=FieldMapping(prompt_key="prompt", completion_key="answer"))  # fmt: skip
    message = str(caught.value)
    assert (
        "lines 3-174: missing_field: missing field 'prompt' (172 times); the records have 'question', "
        "'answer': use prompt_key='question'" in message
    )
    assert message.count("missing field") == 1


def test_files_with_the_usual_other_names_get_both_options_suggested(tmp_path, capsys):
    write_jsonl(tmp_path / "raw.jsonl", [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(50)])
    code = main(["prepare", str(tmp_path / "raw.jsonl"), "--base-model", PLAIN, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 1
    assert (
        "lines 1-50: missing_field: missing fields 'question' and 'answer' (50 times); the records have "
        "'prompt', 'completion': use --prompt-key prompt --completion-key completion" in err
    )
    code = main(["prepare", str(tmp_path / "raw.jsonl"), "--base-model", PLAIN, "--out", str(tmp_path / "o"),
                 "--prompt-key", "prompt", "--completion-key", "completion"])  # fmt: skip
    assert code == 0, capsys.readouterr().err


def test_scattered_and_varying_problems_list_their_runs_of_lines(tmp_path, capsys):
    records: list[object] = list(qa_records(40))
    for i in (4, 5, 6, 15, 30, 31):
        records[i] = {
            "question": "q",
            "answer": "w" * (17_000 + i),
        }  # over Titan's 4,096 tokens, by varying amounts
    lines = write_json_array(tmp_path / "raw.json", records, indent=None)
    code = main(["prepare", str(tmp_path / "raw.json"), "--base-model", PLAIN, "--out", str(tmp_path / "o"),
                 "--batch-size", "1"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    (group,) = [line for line in err.splitlines() if "too_many_tokens" in line and "times" in line]
    assert group.startswith(
        f"  lines {lines[4]}-{lines[6]}, {lines[15]}, {lines[30]}-{lines[31]}: too_many_tokens: "
    )
    assert "about 4,252 tokens" in group  # line 5's record (17,004 characters), the first of the group
    assert group.endswith(f"(6 times; line {lines[4]} shown)")


def test_rejection_groups_stay_bounded_whatever_the_input():
    log = RejectionLog()
    for number in range(1, 100_001):
        if number % 3:  # runs of two consecutive records, then a gap
            log.add(Problem("missing_field", "missing field 'answer'", number + 1, "answer"), number)
        else:  # 26 kinds of message, each seen with many column numbers
            kind = "abcdefghijklmnopqrstuvwxyz"[number % 26]
            log.add(Problem("malformed_json", f"unexpected {kind!r} at column {number}", number + 1), number)
    assert len(log) == 100_000
    assert len(log.groups) == MAX_GROUPS
    assert all(len(group.runs) <= MAX_RUNS for group in log.groups.values())
    assert sum(group.count for group in log.groups.values()) + log.ungrouped == 100_000 and log.ungrouped > 0
    missing = next(group for group in log.groups.values() if group.first.reason == "missing_field")
    assert missing.count == 66_667 and missing.where() == "lines 2-3, 5-6, 8-9, 11-12, ..., 100001"


def test_suggested_keys():
    assert suggest_keys(
        {"id": 7, "prompt": "p", "completion": "c"},
        [("prompt_key", "question"), ("completion_key", "answer")],
    ) == (Fix("prompt_key", "question", "prompt"), Fix("completion_key", "answer", "completion"))
    assert suggest_keys({"Text": "t", "id": "x1"}, [("text_key", "input")]) == (
        Fix("text_key", "input", "Text"),
    )
    assert suggest_keys({"question": "q"}, [("completion_key", "answer")], used={"question"}) == (
        Fix("completion_key", "answer", None),
    )
    rejected = Problem("missing_field", "missing field 'answer'", 3, "answer", ("question",), (Fix(
        "completion_key", "answer", None),))  # fmt: skip
    assert rejected.render() == (
        "line 3: missing_field: missing field 'answer'; the record has 'question': add 'answer' or choose "
        "the key with completion_key=..."
    )


# -------------------------------------------------------------------------------------------- early stop


def _guarded(limit: int):
    """A ``read_records`` that fails the run if more than ``limit`` records are asked of it."""
    real = prepare_module.read_records

    def read_records(source, input_format):
        for count, record in enumerate(real(source, input_format), 1):
            if count > limit:
                raise AssertionError(f"record {count} was read after the limit was certainly passed")
            yield record

    return read_records


def test_reading_stops_at_the_record_that_passes_the_record_limit(
    tmp_path, capsys, monkeypatch, patch_limits
):
    patch_limits(LLAMA31, max_training_records=100)
    write_jsonl(tmp_path / "raw.jsonl", qa_records(5_000))
    monkeypatch.setattr(prepare_module, "read_records", _guarded(101))
    out = tmp_path / "o"
    code = main(["prepare", str(tmp_path / "raw.jsonl"), "--base-model", LLAMA31, "--out", str(out),
                 "--validation-fraction", "0"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert "problem; reading stopped at line 101; nothing was written." in err
    assert (
        "too_many_records: at least 101 training records (reading stopped at line 101, where the limit was "
        f"passed); {LLAMA31} allows at most 100: sample the data down" in err
    )
    assert "records: 101 read (reading stopped early)" in err
    assert not (tmp_path / "o").exists()


def test_reading_stops_where_the_training_file_passes_its_size_limit(tmp_path, patch_limits):
    write_jsonl(tmp_path / "raw.jsonl", qa_records(500))
    prepare(tmp_path / "raw.jsonl", tmp_path / "all", base_model_id=PLAIN, validation_fraction=0,
            mapping=FieldMapping("question", "answer"))  # fmt: skip
    sizes = [len(line) for line in (tmp_path / "all" / "train.jsonl").read_bytes().splitlines(keepends=True)]
    total, passed = 0, None
    for count, size in enumerate(sizes, 1):
        total += size
        if total > 10_000:
            passed = count
            break
    assert passed is not None and passed < 500
    patch_limits(PLAIN, max_training_file_bytes=10_000)
    with pytest.raises(InvalidDatasetError) as caught:
        prepare(tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=PLAIN, validation_fraction=0,
                mapping=FieldMapping("question", "answer"))  # fmt: skip
    report = caught.value.report
    assert report.records_read == passed and report.stopped_at_line == passed
    assert [p.reason for p in report.file_problems] == ["training_file_too_large"]
    assert report.file_problems[0].message.startswith(f"the training file would be at least {total:,} bytes")
    assert not (tmp_path / "out").exists()


def test_a_file_exactly_at_the_limit_is_read_to_the_end_and_accepted(tmp_path, patch_limits):
    patch_limits(PLAIN, max_training_records=30)
    write_jsonl(tmp_path / "raw.jsonl", qa_records(30))
    report = prepare(tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=PLAIN, validation_fraction=0,
                     mapping=FieldMapping("question", "answer"))  # fmt: skip
    assert report.ok and report.records_read == 30 and report.stopped_at_line is None


def test_progress_reports_records_and_bytes_up_to_the_whole_file(tmp_path):
    write_jsonl(tmp_path / "raw.jsonl", qa_records(3 * PROGRESS_EVERY + 5))
    seen = []
    prepare(tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=PLAIN,
            mapping=FieldMapping("question", "answer"), progress=seen.append)  # fmt: skip
    size = (tmp_path / "raw.jsonl").stat().st_size
    assert [p.records_read for p in seen] == [PROGRESS_EVERY, 2 * PROGRESS_EVERY, 3 * PROGRESS_EVERY, 773]
    assert all(p.total_bytes == size for p in seen)
    assert [p.bytes_read for p in seen] == sorted(p.bytes_read for p in seen) and seen[-1].bytes_read == size
