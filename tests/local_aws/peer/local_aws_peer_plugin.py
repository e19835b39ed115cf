"""pytest plugin for the moto peer suite: our emulator in place of moto's Bedrock backend.

``tests/local_aws/test_peer_moto.py`` runs moto's own Bedrock tests (from the moto sdist, in a cache
directory, never copied into this repository) in a subprocess with ``-p local_aws_peer_plugin`` and this
folder on ``PYTHONPATH``. The folder is not a package on purpose: moto's tests are the package ``tests``,
which must not clash with this repository's.
"""

from __future__ import annotations

from include import local_aws

# Before moto's test modules are imported: moto.bedrock's backend dict and response handlers are ours.
local_aws.install()


def pytest_report_header(config):
    return "local_aws peer suite: moto's Bedrock backend replaced by include.local_aws"


def pytest_configure(config):
    import moto.bedrock

    from include.local_aws import bedrock

    if moto.bedrock.bedrock_backends is not bedrock.bedrock_backends:
        raise RuntimeError("include.local_aws.install() did not replace moto's Bedrock backend")


# The outcome of each moto test, written as JSON to $LOCAL_AWS_PEER_REPORT at the end of the session:
# {nodeid: {"outcome": "passed" | "failed" | "skipped", "message": failure or skip reason}}.
_outcomes: dict[str, dict[str, str]] = {}


def _message(report) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message
    if isinstance(report.longrepr, tuple):  # a skip: (file, line, reason)
        return str(report.longrepr[-1])
    return str(report.longrepr or "")[-2000:]


def pytest_runtest_logreport(report):
    current = _outcomes.get(report.nodeid)
    if report.failed:
        if current is None or current["outcome"] != "failed":  # the first failure (setup, call or teardown)
            _outcomes[report.nodeid] = {"outcome": "failed", "message": f"[{report.when}] {_message(report)}"}
    elif report.skipped:
        if current is None:
            _outcomes[report.nodeid] = {"outcome": "skipped", "message": _message(report)}
    elif report.when == "call" and current is None:
        _outcomes[report.nodeid] = {"outcome": "passed", "message": ""}


def pytest_collectreport(report):
    if report.failed:  # an import error in a moto test module, e.g. a missing test dependency
        _outcomes[report.nodeid] = {"outcome": "failed", "message": f"[collect] {_message(report)}"}


def pytest_sessionfinish(session, exitstatus):
    import json
    import os

    if path := os.environ.get("LOCAL_AWS_PEER_REPORT"):
        with open(path, "w", encoding="utf-8") as out:
            json.dump(_outcomes, out, indent=1, sort_keys=True)
