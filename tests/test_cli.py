"""The bedrock-customize command line: version, catalog table and JSON, filters and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bedrock_customization import __version__, catalog
from bedrock_customization.cli import COMMANDS, main


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
    assert "tokens <=2048 @batch<=4" in out
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
    assert main(["catalog", "--json", "--region", "us-east-1", "--family", "titan-text"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
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
    assert [command.name for command in COMMANDS] == ["catalog", "iam-policy", "preflight", "prepare"]


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "bedrock-customize"
    completed = subprocess.run(
        [str(script), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip() == f"bedrock-customize {__version__}"
