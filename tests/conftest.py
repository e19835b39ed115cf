"""Shared fixtures: an isolated Airflow home (set before Airflow is imported) and the local AWS emulator."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from include.local_stack import airflow_env

AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="bedrock-customization-airflow-"))
# Airflow reads its configuration once, on import: point it at a throwaway home and this project's DAGs.
os.environ.update(airflow_env(AIRFLOW_HOME, endpoint_url=None))
os.environ["AIRFLOW__BEDROCK_CUSTOMIZATION__POLL_INTERVAL"] = "1"
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated SQLite metadata database in the test Airflow home."""
    from include.local_stack import migrate_db

    migrate_db(dict(os.environ))
    return AIRFLOW_HOME


@pytest.fixture
def use_endpoint(monkeypatch):
    """Point boto3 and Airflow's ``aws_default`` at an emulator endpoint for one test."""

    def _use(endpoint_url: str) -> None:
        for key, value in airflow_env(AIRFLOW_HOME, endpoint_url).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setenv("AIRFLOW__BEDROCK_CUSTOMIZATION__POLL_INTERVAL", "1")

    return _use


#: The files that take longest (Airflow stacks, many DAG runs), slowest first. ``make test`` runs the suite in
#: pytest-xdist workers that take one file at a time in collection order (``--dist loadfile
#: --no-loadscope-reorder``): started first, these do not leave one worker finishing alone at the end.
SLOWEST_FIRST = (
    "tests/itest/",
    "tests/ui/test_browser.py",
    "tests/test_make_airflow.py",
    "tests/test_fault_matrix.py",
    "tests/test_retraining_dag.py",
    "tests/test_sweep_dag.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(SLOWEST_FIRST) if item.nodeid.startswith(prefix)), len(SLOWEST_FIRST)
        )

    items.sort(key=rank)  # stable: the order within a file and among the rest is kept
