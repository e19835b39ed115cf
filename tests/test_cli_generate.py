"""``bedrock-customize generate-eval-set`` against the in-process emulator: a PDF on disk becomes a held-out
set in the base model's format, training prompts are left out, and bad input is a clear error (exit 1)."""

from __future__ import annotations

import json

import pytest
from fpdf import FPDF

from bedrock_customization.cli import main
from bedrock_customization.evaluation.samples import read_samples

REGION = "us-east-1"
FACTS = [
    "The Vega plan includes twelve seats and priority support.",
    "Invoices for the Vega plan are sent on the first day of each month.",
    "Seats on the Vega plan can be moved between users once a week.",
]


@pytest.fixture
def emulator(monkeypatch):
    from include import local_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with local_aws.mock():
        yield


@pytest.fixture
def documents(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, " ".join(FACTS))
    pdf.output(str(folder / "vega_plan.pdf"))
    (folder / "notes.bin").write_bytes(b"\0")  # not a document type: skipped in a folder
    return folder


def generate(*extra: str, documents, tmp_path) -> list[str]:
    return [
        "generate-eval-set",
        "--documents",
        str(documents),
        "--model-id",
        "amazon.nova-micro-v1:0",
        "--base-model",
        "meta.llama3-1-8b-instruct-v1:0:128k",
        "--output",
        str(tmp_path / "out" / "eval.jsonl"),
        *extra,
    ]


def test_writes_the_set_and_its_report_without_training_prompts(emulator, documents, tmp_path, capsys):
    assert main(generate("--count", "3", documents=documents, tmp_path=tmp_path)) == 0
    first = (tmp_path / "out" / "eval.jsonl").read_text()
    leaked = json.loads(first.splitlines()[0])
    training = tmp_path / "train.jsonl"
    training.write_text(json.dumps(leaked) + "\n")
    capsys.readouterr()

    assert (
        main(
            generate("--count", "2", "--training-data", str(training), documents=documents, tmp_path=tmp_path)
        )
        == 0
    )

    out = capsys.readouterr().out
    assert "Wrote 2 question/answer pairs (prompt_completion) from 1 documents" in out
    assert "dropped: exact_training 1" in out
    samples = read_samples((tmp_path / "out" / "eval.jsonl").read_text())
    assert [s.reference for s in samples] == FACTS[1:]
    assert leaked["prompt"] not in [s.prompt for s in samples]
    report = json.loads((tmp_path / "out" / "eval.report.json").read_text())
    assert report["documents"][0]["name"] == "vega-plan" and report["dropped"] == {"exact_training": 1}


def test_bad_input_is_a_clear_error(emulator, documents, tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(generate(documents=missing, tmp_path=tmp_path)) == 1
    assert f"error: Documents {missing} do not exist" in capsys.readouterr().err
    rtf = tmp_path / "notes.rtf"
    rtf.write_text("x")
    assert main(generate(documents=rtf, tmp_path=tmp_path)) == 1
    assert "notes.rtf: unsupported document type '.rtf'" in capsys.readouterr().err
    assert main(generate("--count", "0", documents=documents, tmp_path=tmp_path)) == 2
    assert "0 is not a positive integer" in capsys.readouterr().err
    assert main([*generate(documents=documents, tmp_path=tmp_path)[:-2], "--output", str(tmp_path)]) == 1
    assert "is a folder: give the file" in capsys.readouterr().err
