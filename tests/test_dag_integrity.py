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
