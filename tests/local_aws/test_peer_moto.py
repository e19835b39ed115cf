"""Peer suite: moto's own Bedrock tests, run against our emulator.

moto ships its tests in its sdist on PyPI (``tests/test_bedrock/``, ``tests/test_bedrockruntime/``; the
Bedrock Agent suites are not ours and are not run). This module downloads the sdist of the installed moto
version with ``pip download`` into a cache directory (reused when present; never copied into this
repository), runs those two suites with pytest in a subprocess with ``-p local_aws_peer_plugin``
(``tests/local_aws/peer/``), which calls ``include.local_aws.install()`` before moto's tests import, and
compares the outcome with ``DEVIATIONS``: moto tests that fail against the emulator because AWS, not moto,
is right. The comparison is strict:

* a failing moto test that is not listed fails the build;
* a listed test must still fail, and with a message matching its ``match`` regex (so a test that starts
  failing for another reason is noticed);
* a listed test that passes, or that moto no longer has, fails the build (the list is stale).

To update the list after an emulator change, run this module, read the report, and edit ``DEVIATIONS``
(one entry per moto test id). The cache directory is ``$BEDROCK_CUSTOMIZATION_PEER_CACHE`` or
``${XDG_CACHE_HOME:-~/.cache}/bedrock-customization/peer-suites``. Without network access to PyPI and
without a cached copy the test fails with a clear message; it never skips.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = Path(__file__).resolve().parent / "peer"
PLUGIN = "local_aws_peer_plugin"
SUITES = ("tests/test_bedrock", "tests/test_bedrockruntime")
# What the suites need from the sdist besides themselves: moto's test package, conftest and pytest config.
SUPPORT_FILES = ("tests/__init__.py", "tests/conftest.py", "tests/markers.py", "pyproject.toml")
DOWNLOAD_TIMEOUT = 300
RUN_TIMEOUT = 300


@dataclass(frozen=True)
class Deviation:
    """Why a moto test fails against the emulator: what AWS does, and where AWS documents it."""

    reason: str
    source: str
    match: str  # regex searched in the failure message; the test must fail for this reason


CREATE_JOB_API = (
    "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_CreateModelCustomizationJob.html"
)
INVOKE_MODEL_API = "https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_InvokeModel.html"

# moto's Bedrock tests create their jobs with ``roleArn="testrole"``. AWS validates the request members
# against the API's constraints and answers 400 ValidationException ("1 validation error detected: Value
# 'testrole' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern ...")
# before anything else, so every moto test that creates a job fails at that call.
ROLE_ARN = Deviation(
    reason="moto accepts roleArn='testrole'; AWS (and the emulator) refuse it: roleArn must match "
    "^arn:aws(-[^:]{1,12})?:iam::([0-9]{12})?:role/.+$ (400 ValidationException)",
    source=CREATE_JOB_API + " (Request Parameters: roleArn, Pattern)",
    match=r"ValidationException.*'testrole' at 'roleArn'",
)
# ``modelId="test-model-id"``: not a model Bedrock knows (nor an ARN, an inference profile or a provisioned
# model). AWS answers 400 ValidationException "The provided model identifier is invalid."; moto returns an
# empty 200.
INVALID_MODEL_ID = Deviation(
    reason="moto answers InvokeModel for modelId='test-model-id' with 200; AWS (and the emulator) answer "
    "400 ValidationException 'The provided model identifier is invalid.'",
    source=INVOKE_MODEL_API + " (modelId; Errors: ValidationException, HTTP 400)",
    match=r"The provided model identifier is invalid|400",
)

_BEDROCK = "tests/test_bedrock/test_bedrock.py::"
DEVIATIONS: dict[str, Deviation] = {
    **{
        _BEDROCK + name: ROLE_ARN
        for name in (
            "test_create_model_customization_job",
            "test_get_model_customization_job",
            "test_tag_resource_model_customization_job",
            "test_untag_resource",
            "test_untag_resource_custom_model",
            "test_list_tags_for_resource",
            "test_get_custom_model",
            "test_get_custom_model_arn",
            "test_get_custom_model_arn_not_found",
            "test_list_custom_models",
            "test_list_model_customization_jobs",
            "test_delete_custom_model",
            "test_delete_custom_model_not_found",
            "test_stop_model_customization_job",
            "test_create_model_customization_job_duplicate_job_name",
            "test_create_model_customization_job_duplicate_model_name",
            "test_create_model_customization_job_tags",
            "test_get_model_customization_job_not_found",
            "test_stop_model_customization_job_not_found",
            "test_list_model_customization_jobs_max_results",
            "test_list_model_customization_jobs_name_contains",
            "test_list_model_customization_jobs_creation_time_before",
            "test_list_model_customization_jobs_creation_time_after",
            "test_list_model_customization_jobs_status",
            "test_list_model_customization_jobs_ascending_sort",
            "test_list_model_customization_jobs_descending_sort",
            "test_list_model_customization_jobs_bad_sort_by",
            "test_list_custom_models_max_results",
            "test_list_custom_models_name_contains",
            "test_list_custom_models_creation_time_before",
            "test_list_custom_models_creation_time_after",
            "test_list_custom_models_ascending_sort",
            "test_list_custom_models_descending_sort",
            "test_list_custom_models_bad_sort_order",
            "test_list_custom_models_bad_sort_by",
            "test_list_custom_models_base_model_arn_equals",
            "test_tag_resource_not_found",
            "test_tag_resource_too_many",
            "test_untag_resource_not_found",
            "test_list_tags_for_resource_not_found",
        )
    },
    "tests/test_bedrockruntime/test_bedrockruntime.py::test_invoke_model": INVALID_MODEL_ID,
    "tests/test_bedrockruntime/test_server.py::test_invoke_model": INVALID_MODEL_ID,
}


# ------------------------------------------------------------------------------------------- the sdist


def cache_root() -> Path:
    if override := os.environ.get("BEDROCK_CUSTOMIZATION_PEER_CACHE"):
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bedrock-customization" / "peer-suites"


def _wanted(relative: str) -> bool:
    return relative in SUPPORT_FILES or any(relative.startswith(suite + "/") for suite in SUITES)


def fetch_moto_tests(version: str, root: Path) -> Path:
    """moto's Bedrock test suites of ``version``, extracted under ``root`` (downloaded once, then reused)."""
    target = root / f"moto-{version}"
    if (target / ".complete").exists():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as tmp:
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
            "--disable-pip-version-check", "-d", tmp, f"moto=={version}",
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=DOWNLOAD_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"downloading the moto {version} sdist timed out after {DOWNLOAD_TIMEOUT}s: {command}"
            )
        sdists = sorted(Path(tmp).glob("moto-*.tar.gz"))
        if done.returncode != 0 or not sdists:
            pytest.fail(
                f"could not download the moto {version} sdist from PyPI (needed for moto's own Bedrock tests; "
                f"this test needs PyPI access once, then uses the cache {root}).\n"
                f"command: {' '.join(command)}\nexit code: {done.returncode}\n{done.stderr[-3000:]}"
            )
        staging = Path(tmp) / "extracted"
        with tarfile.open(sdists[0]) as archive:
            members = []
            for member in archive.getmembers():
                top, _, relative = member.name.partition("/")
                if top == f"moto-{version}" and _wanted(relative) and (member.isfile() or member.isdir()):
                    member.name = relative
                    members.append(member)
            archive.extractall(staging, members=members, filter="data")
        missing = [path for path in (*SUITES, *SUPPORT_FILES) if not (staging / path).exists()]
        if missing:
            pytest.fail(
                f"the moto {version} sdist lacks {missing}; update SUITES/SUPPORT_FILES in {__file__}"
            )
        (staging / ".complete").write_text(f"moto {version} test suites from {sdists[0].name}\n")
        try:
            staging.rename(target)
        except OSError:  # another process finished first; or a broken leftover without .complete
            if not (target / ".complete").exists():
                shutil.rmtree(target, ignore_errors=True)
                staging.rename(target)
    return target


# ----------------------------------------------------------------------------------------- the run


@dataclass(frozen=True)
class Outcome:
    outcome: str  # passed, failed, skipped
    message: str = ""


def run_moto_tests(suite_root: Path, report: Path) -> tuple[subprocess.CompletedProcess, dict[str, Outcome]]:
    """Run moto's suites in a subprocess with our emulator plugged in; returns the run and each test's outcome."""
    env = {
        key: value
        for key, value in os.environ.items()
        # The emulator's defaults (jobs stay InProgress for a while, as on AWS); no endpoint redirection.
        if not key.startswith(("LOCAL_AWS_", "AWS_ENDPOINT_URL", "AIRFLOW_CONN_", "PYTEST_"))
    }
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(PLUGIN_DIR)])
    env["LOCAL_AWS_PEER_REPORT"] = str(report)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    command = [
        sys.executable, "-m", "pytest", "-p", PLUGIN, "-p", "no:cacheprovider", "-q", "--color=no",
        "-o", "addopts=", "--rootdir", str(suite_root), "-W", "ignore::DeprecationWarning", *SUITES,
    ]  # fmt: skip
    try:
        done = subprocess.run(
            command, cwd=suite_root, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"moto's Bedrock tests did not finish within {RUN_TIMEOUT}s: {command}")
    if done.returncode not in (0, 1) or not report.exists():
        pytest.fail(
            f"moto's Bedrock tests could not run (exit code {done.returncode}): {' '.join(command)}\n"
            f"{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    outcomes = {nodeid: Outcome(**value) for nodeid, value in json.loads(report.read_text()).items()}
    return done, outcomes


def compare(outcomes: dict[str, Outcome], deviations: dict[str, Deviation]) -> list[str]:
    """Problems of a run against the expected deviations (empty: as expected)."""
    problems = []
    for nodeid, result in sorted(outcomes.items()):
        deviation = deviations.get(nodeid)
        if result.outcome == "failed":
            if deviation is None:
                problems.append(f"UNEXPECTED FAILURE {nodeid}: {result.message}")
            elif not re.search(deviation.match, result.message, re.DOTALL):
                problems.append(
                    f"FAILS FOR ANOTHER REASON {nodeid}: expected /{deviation.match}/ ({deviation.reason}); "
                    f"got: {result.message}"
                )
        elif result.outcome == "passed" and deviation is not None:
            problems.append(f"STALE DEVIATION {nodeid} now passes; remove it from DEVIATIONS")
    for nodeid in sorted(set(deviations) - set(outcomes)):
        problems.append(
            f"STALE DEVIATION {nodeid}: moto has no such test any more; remove it from DEVIATIONS"
        )
    return problems


@pytest.fixture(scope="module")
def moto_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    version = importlib.metadata.version("moto")
    suite_root = fetch_moto_tests(version, cache_root())
    _, outcomes = run_moto_tests(suite_root, tmp_path_factory.mktemp("peer-moto") / "report.json")
    return outcomes


# ---------------------------------------------------------------------------------------------- tests


def test_moto_bedrock_tests_fail_only_where_aws_differs_from_moto(moto_run: dict[str, Outcome]):
    counts = {
        kind: sum(r.outcome == kind for r in moto_run.values()) for kind in ("passed", "failed", "skipped")
    }
    assert sum(counts.values()) >= 40, f"moto's Bedrock suites look truncated: {counts}"
    problems = compare(moto_run, DEVIATIONS)
    summary = (
        f"moto {importlib.metadata.version('moto')} Bedrock tests against include.local_aws: {counts}; "
        f"{len(DEVIATIONS)} expected deviations"
    )
    print(summary)
    assert not problems, summary + "\n" + "\n".join(problems)


def test_every_deviation_names_its_aws_source():
    for nodeid, deviation in DEVIATIONS.items():
        assert nodeid.startswith(tuple(suite + "/" for suite in SUITES)), nodeid
        assert deviation.reason and deviation.match, nodeid
        assert deviation.source.startswith("https://docs.aws.amazon.com/"), nodeid
        re.compile(deviation.match)


def test_compare_reports_unexpected_stale_and_changed_failures():
    listed = Deviation(reason="r", source="https://docs.aws.amazon.com/x", match=r"roleArn")
    deviations = {
        "t::listed_ok": listed,
        "t::listed_passes": listed,
        "t::listed_other": listed,
        "t::gone": listed,
    }
    outcomes = {
        "t::fine": Outcome("passed"),
        "t::skipped": Outcome("skipped", "no docker"),
        "t::listed_ok": Outcome("failed", "ValidationException ... at 'roleArn' ..."),
        "t::listed_passes": Outcome("passed"),
        "t::listed_other": Outcome("failed", "KeyError: 'status'"),
        "t::new": Outcome("failed", "AssertionError"),
    }
    problems = compare(outcomes, deviations)
    assert [p.split(" t::")[0] for p in problems] == [
        "FAILS FOR ANOTHER REASON",
        "STALE DEVIATION",
        "UNEXPECTED FAILURE",
        "STALE DEVIATION",
    ]
    assert [re.search(r"t::\w+", p).group() for p in problems] == [
        "t::listed_other",
        "t::listed_passes",
        "t::new",
        "t::gone",
    ]
    assert compare({"t::listed_ok": outcomes["t::listed_ok"]}, {"t::listed_ok": listed}) == []


def test_a_missing_sdist_fails_with_a_clear_message(tmp_path, monkeypatch):
    """No network and no cache: a failure that says what is missing, never a skip."""
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path))
    monkeypatch.setenv("PIP_EXTRA_INDEX_URL", "")
    with pytest.raises(pytest.fail.Exception, match="could not download the moto 0.0.1 sdist from PyPI"):
        fetch_moto_tests("0.0.1", tmp_path / "cache")
    assert not (tmp_path / "cache" / "moto-0.0.1").exists()
