"""The bedrock-customize command line: version, catalog, exit codes, prepare's defaults and progress, help."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from bedrock_customization import __version__, catalog, cli_prepare
from bedrock_customization.cli import COMMANDS, build_parser, main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"bedrock-customize {__version__}"


def test_catalog_table_lists_every_model(capsys):
    assert main(["catalog"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    for column in (
        "MODEL",
        "FAMILY",
        "REGIONS",
        "LIFECYCLE",
        "CUSTOMIZATION",
        "RECORD FORMAT",
        "HYPERPARAMETERS",
    ):
        assert column in header
    for model in catalog.list_models():
        assert model.id in out
    assert "learningRate 5e-06..0.1 (0.0001)" in out
    assert "learningRate 1e-06..0.0001 (1e-05)" in out  # Nova
    assert "tokens <=16000" in out and "validation <=1000" in out
    assert "EOL 2026-09-10" in out


def test_catalog_json_is_valid_and_complete(capsys):
    assert main(["catalog", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)
    assert [m["id"] for m in models] == [m.id for m in catalog.list_models()]
    haiku = next(m for m in models if m["family"] == "claude-3-haiku")
    assert haiku["record_format"] == {"FINE_TUNING": "claude_messages"}
    assert haiku["hyperparameters"]["batchSize"]["default"] == 32


def test_catalog_family_filter(capsys):
    assert main(["catalog", "--json", "--family", "llama-3.2"]) == 0
    ids = [m["id"] for m in json.loads(capsys.readouterr().out)]
    assert len(ids) == 4 and all(i.startswith("meta.llama3-2-") for i in ids)
    assert main(["catalog", "--family", "nova"]) == 0
    out = capsys.readouterr().out
    assert "amazon.nova-lite-v1:0:300k" in out and "meta.llama" not in out


def test_catalog_region_filter(capsys):
    assert main(["catalog", "--json", "--region", "us-west-2", "--family", "llama-3.1"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["catalog", "--json", "--region", "us-east-1", "--family", "llama-3.1"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # Llama 3.1 is customizable in us-west-2 only
    assert main(["catalog", "--region", "eu-west-1"]) == 0
    assert "No customizable base model in region eu-west-1" in capsys.readouterr().out


def test_unknown_family_is_a_domain_error_without_traceback(capsys):
    assert main(["catalog", "--family", "titan"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("bedrock-customize: error: Unknown model family 'titan'")
    assert "Traceback" not in captured.err


def test_bad_subcommand_and_missing_subcommand_are_usage_errors(capsys):
    assert main(["bogus"]) == 2
    assert "invalid choice: 'bogus'" in capsys.readouterr().err
    assert main([]) == 2


def test_commands_are_registered():
    assert [command.name for command in COMMANDS] == [
        "catalog",
        "iam-policy",
        "preflight",
        "prepare",
        "generate-eval-set",
    ]


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "bedrock-customize"
    completed = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"bedrock-customize {__version__}"


# ------------------------------------------------------------------------------------ prepare, preflight


NOVA_MICRO = "amazon.nova-micro-v1:0:128k"


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def _dag_params(*names: str) -> dict[str, object]:
    """The defaults of the training DAGs' data params (``bedrock_customization.pipeline.params``)."""
    from bedrock_customization.pipeline import params

    defaults = {name: param.value for name, param in params.data().items()}
    return {name: defaults[name] for name in names}


def test_prepare_defaults_are_the_retraining_dags(tmp_path, capsys):
    expected = _dag_params("prompt_key", "completion_key", "seed", "validation_fraction")
    args = build_parser().parse_args(["prepare", "raw.jsonl", "--base-model", "m", "--out", "o"])
    assert {name: getattr(args, name) for name in expected} == expected
    # a question/answer file needs no mapping option, and the split is the DAG's
    (tmp_path / "raw.jsonl").write_text(
        "".join(json.dumps({"question": f"q{i}", "answer": f"a{i}"}) + "\n" for i in range(40))
    )
    code = main(["prepare", str(tmp_path / "raw.jsonl"), "--base-model", NOVA_MICRO,
                 "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert (
        report["seed"] == expected["seed"]
        and report["validation_fraction"] == expected["validation_fraction"]
    )
    capsys.readouterr()
    assert main(["prepare", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "prompt field (default: question, as in the retraining DAG)" in help_text
    assert "split seed (default: 42, as in the retraining DAG)" in help_text


def _prepare_many(tmp_path: Path) -> list[str]:
    (tmp_path / "raw.jsonl").write_text(
        "".join(json.dumps({"question": f"q{i}", "answer": f"a{i}"}) + "\n" for i in range(2_000))
    )
    return ["prepare", str(tmp_path / "raw.jsonl"), "--base-model", NOVA_MICRO,
            "--out", str(tmp_path / "out")]  # fmt: skip


def test_prepare_shows_no_progress_when_stderr_is_not_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli_prepare, "PROGRESS_DELAY", 0)  # would show at once on a terminal
    assert main(_prepare_many(tmp_path)) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert "wrote " in captured.out and "%|" not in captured.out


def test_prepare_shows_progress_on_stderr_when_it_is_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli_prepare, "PROGRESS_DELAY", 0)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    args = _prepare_many(tmp_path)
    assert main(args) == 0
    shown = terminal.getvalue()
    assert f"{args[1]}:" in shown and "%|" in shown and shown.endswith("\r")  # drawn, then cleared
    assert "%|" not in capsys.readouterr().out


def test_preflight_help_tells_where_the_region_comes_from(capsys, monkeypatch):
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    assert main(["preflight", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "--region R region of the job; required, as neither $AWS_REGION nor $AWS_DEFAULT_REGION is set"
        in text
    )
    uris = ["--training-uri", "s3://bucket/data/train.jsonl", "--output-uri", "s3://bucket/output/"]
    assert main(["preflight", "--base-model", "m", "--role-arn", "r", *uris]) == 2
    assert "the following arguments are required: --region" in capsys.readouterr().err
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert main(["preflight", "--help"]) == 0
    assert "region of the job (default: eu-west-1, from $AWS_DEFAULT_REGION)" in " ".join(
        capsys.readouterr().out.split()
    )
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    assert main(["preflight", "--help"]) == 0
    assert "(default: us-west-2, from $AWS_REGION)" in " ".join(capsys.readouterr().out.split())
