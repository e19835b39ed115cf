"""Every DAG file imports cleanly, declares tags and retries, and makes no AWS call while being parsed."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[1] / "dags"


@pytest.fixture(scope="module")
def dagbag():
    import botocore.endpoint
    from airflow.dag_processing.dagbag import DagBag

    calls = []

    def refuse(self, operation_model, request_dict):
        calls.append(operation_model.name)
        raise AssertionError(f"AWS call {operation_model.name} while parsing DAGs")

    original = botocore.endpoint.Endpoint.make_request
    botocore.endpoint.Endpoint.make_request = refuse
    try:
        bag = DagBag(dag_folder=str(DAGS))
    finally:
        botocore.endpoint.Endpoint.make_request = original
    bag.aws_calls = calls
    return bag


def test_every_dag_file_imports(dagbag):
    assert dagbag.import_errors == {}
    assert {Path(f).name for f in DAGS.glob("*.py")} <= {Path(d.fileloc).name for d in dagbag.dags.values()}


def test_parsing_makes_no_aws_call(dagbag):
    assert dagbag.aws_calls == []


@pytest.mark.parametrize("dag_id", ["bedrock_retraining", "bedrock_janitor", "bedrock_model_import", "bedrock_hparam_sweep"])
def test_expected_dags_exist(dagbag, dag_id):
    assert dag_id in dagbag.dags


def test_dags_have_tags_retries_and_docs(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag_id}.{task.task_id} has retries={task.retries}"


DEFERRABLE_ENV = "AIRFLOW__BEDROCK_CUSTOMIZATION__DEFERRABLE"
#: The tasks that wait for Bedrock (jobs, throughputs); each must follow ``[bedrock_customization] deferrable``.
WAITS = {
    ("bedrock_retraining", "training.customize_model"),
    ("bedrock_retraining", "evaluation.provision_throughput"),
    ("bedrock_retraining", "release.promote_model"),
    ("bedrock_hparam_sweep", "customize"),
    ("bedrock_hparam_sweep", "provision_throughput"),
    ("bedrock_hparam_sweep", "promote_model"),
    ("bedrock_model_import", "import_model"),
}


def _parse(monkeypatch, deferrable: str | None, path: Path = DAGS):
    """Parse ``path`` with the setting ``deferrable`` (None: unset); the DAG files read it at parse time."""
    from airflow.dag_processing.dagbag import DagBag

    if deferrable is None:
        monkeypatch.delenv(DEFERRABLE_ENV, raising=False)
    else:
        monkeypatch.setenv(DEFERRABLE_ENV, deferrable)
    bag = DagBag(dag_folder=str(path))
    assert bag.import_errors == {}
    return bag


def _deferrable(task) -> bool | None:
    """A task's ``deferrable`` (a mapped task's from its partial arguments); None when it has none."""
    partial_kwargs = getattr(task, "partial_kwargs", None)
    if partial_kwargs is not None:
        return partial_kwargs.get("deferrable")
    return getattr(task, "deferrable", None)


@pytest.mark.parametrize(("value", "expected"), [(None, True), ("True", True), ("False", False)])
def test_retraining_waits_follow_the_deferrable_setting(monkeypatch, value, expected):
    dag = _parse(monkeypatch, value, DAGS / "bedrock_retraining.py").dags["bedrock_retraining"]
    assert dag.get_task("training.customize_model").deferrable is expected
    assert dag.get_task("evaluation.provision_throughput").deferrable is expected


@pytest.mark.parametrize(("value", "expected"), [(None, True), ("False", False)])
def test_every_wait_of_every_dag_follows_the_deferrable_setting(monkeypatch, value, expected):
    bag = _parse(monkeypatch, value)
    waits = {
        (dag_id, task.task_id): _deferrable(task)
        for dag_id, dag in bag.dags.items()
        for task in dag.tasks
        if _deferrable(task) is not None
    }
    assert WAITS <= waits.keys()
    assert waits == dict.fromkeys(waits, expected)
