"""Duplicates are reported (and dropped with dedupe); the split is deterministic and keeps prompts together."""

from __future__ import annotations

import hashlib
import json

from bedrock_customization.cli import main
from bedrock_customization.dataset.mapping import FieldMapping
from bedrock_customization.dataset.prepare import prepare

from .helpers import CLAUDE, PLAIN, qa_records, read_jsonl, write_json_array, write_jsonl

QA = FieldMapping(prompt_key="question", completion_key="answer")


def _with_duplicates(tmp_path):
    records = qa_records(50)
    records += [records[3], records[7], records[3]]  # two exact duplicates of record 3, one of record 7
    records.append({**records[10], "answer": "a different answer to the same question"})
    return records, write_jsonl(tmp_path / "raw.jsonl", records)


def test_duplicates_are_reported_and_kept_by_default(tmp_path):
    records, lines = _with_duplicates(tmp_path)
    report = prepare(tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=PLAIN, mapping=QA)
    assert report.duplicates == 3 and report.duplicates_dropped == 0 and report.records_written == 54
    assert report.duplicate_examples == [
        {"line": lines[50], "duplicate_of": lines[3]},
        {"line": lines[51], "duplicate_of": lines[7]},
        {"line": lines[52], "duplicate_of": lines[3]},
    ]


def test_dedupe_drops_exact_duplicates_only(tmp_path, capsys):
    _with_duplicates(tmp_path)
    out = tmp_path / "out"
    code = main(["prepare", str(tmp_path / "raw.jsonl"), "--base-model", PLAIN, "--out", str(out),
                 "--prompt-key", "question", "--completion-key", "answer", "--dedupe"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    assert report["duplicates"] == 3 and report["duplicates_dropped"] == 3 and report["records_written"] == 51
    lines = (out / "train.jsonl").read_bytes().splitlines() + (
        out / "validation.jsonl"
    ).read_bytes().splitlines()
    assert len(lines) == len(set(lines)) == 51
    assert "3 duplicates (3 dropped)" in capsys.readouterr().out


def test_split_is_byte_identical_across_runs_and_keeps_each_prompt_on_one_side(tmp_path):
    records = qa_records(300)
    # the same prompt with different answers must land on one side
    records += [{**records[i], "answer": f"another answer {i}"} for i in range(0, 300, 7)]
    write_json_array(tmp_path / "raw.json", records)
    runs = []
    for name in ("a", "b"):
        report = prepare(tmp_path / "raw.json", tmp_path / name, base_model_id=CLAUDE, mapping=QA,
                         validation_fraction=0.25, seed=11)  # fmt: skip
        runs.append({p.name: p.read_bytes() for p in (tmp_path / name).glob("*.jsonl")})
        assert report.validation.sha256 == hashlib.sha256(runs[-1]["validation.jsonl"]).hexdigest()
    assert runs[0] == runs[1]
    train = {r["messages"][0]["content"] for r in read_jsonl(tmp_path / "a" / "train.jsonl")}
    validation = {r["messages"][0]["content"] for r in read_jsonl(tmp_path / "a" / "validation.jsonl")}
    assert train and validation and not train & validation
    assert 0.15 < len(validation) / (len(train) + len(validation)) < 0.35
    other = prepare(tmp_path / "raw.json", tmp_path / "c", base_model_id=CLAUDE, mapping=QA,
                    validation_fraction=0.25, seed=12)  # fmt: skip
    assert other.validation.sha256 != report.validation.sha256


def test_report_json_contents(tmp_path):
    write_jsonl(tmp_path / "raw.jsonl", [*qa_records(40), {"question": "q"}])
    report = prepare(tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=CLAUDE, mapping=QA,
                     on_invalid="skip", validation_fraction=0.1)  # fmt: skip
    data = json.loads((tmp_path / "out" / "report.json").read_text())
    assert data == report.to_dict()
    assert data["base_model_id"] == CLAUDE and data["record_format"] == "claude_messages"
    assert data["records_read"] == 41 and data["records_rejected"] == 1
    assert data["train"]["records"] + data["validation"]["records"] == 40
    assert (
        data["train"]["sha256"] == hashlib.sha256((tmp_path / "out" / "train.jsonl").read_bytes()).hexdigest()
    )
    assert data["train"]["bytes"] == (tmp_path / "out" / "train.jsonl").stat().st_size
    tokens = data["tokens"]
    assert (
        tokens["records"] == 40
        and 0 < tokens["p50"] <= tokens["p95"] <= tokens["max"] <= tokens["limit"] == 32000
    )
    assert any("past end of life" in w for w in data["warnings"])  # Claude 3 Haiku: a warning, not an error
    assert data["chars_per_token"] == 3
    summary = report.summary()
    assert summary["train_records"] == data["train"]["records"] and summary["rejection_counts"] == {
        "missing_field": 1
    }


def test_rejection_examples_stop_at_twenty_but_counts_go_on(tmp_path):
    records = [{"question": f"q{i}"} for i in range(30)] + qa_records(5)
    write_jsonl(tmp_path / "raw.jsonl", records)
    report = prepare(
        tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=PLAIN, mapping=QA, on_invalid="skip"
    )
    assert report.records_rejected == 30 and len(report.rejections) == 20
    assert report.rejection_counts == {"missing_field": 30}
    assert [p.line for p in report.rejections] == list(range(1, 21))


def test_a_write_failure_leaves_nothing_behind(tmp_path, monkeypatch):
    from bedrock_customization.dataset import files

    write_jsonl(tmp_path / "raw.jsonl", qa_records(30))
    (tmp_path / "out").mkdir()

    def disk_full(self, block):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.PartialFile, "_sink", disk_full)
    try:
        prepare(tmp_path / "raw.jsonl", tmp_path / "out", base_model_id=PLAIN, mapping=QA)
    except OSError as exc:
        assert exc.errno == 28
    else:
        raise AssertionError("the write error was swallowed")
    assert list((tmp_path / "out").iterdir()) == []
