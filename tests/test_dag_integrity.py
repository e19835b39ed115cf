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


@pytest.mark.parametrize(
    "dag_id", ["bedrock_retraining", "bedrock_janitor", "bedrock_model_import", "bedrock_hparam_sweep"]
)
def test_expected_dags_exist(dagbag, dag_id):
    assert dag_id in dagbag.dags


def test_dags_have_tags_retries_and_docs(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        for task in dag.tasks:
            assert task.retries >= 2, f"{dag_id}.{task.task_id} has retries={task.retries}"


def test_every_task_fails_at_once_on_errors_a_retry_cannot_fix(dagbag):
    from bedrock_customization.retries import FAIL_FAST

    for dag_id, dag in dagbag.dags.items():
        for task in dag.tasks:
            assert task.retry_policy is FAIL_FAST, f"{dag_id}.{task.task_id} retries bad params and data"


DEFERRABLE_ENV = "AIRFLOW__BEDROCK_CUSTOMIZATION__DEFERRABLE"
#: The tasks that wait for Bedrock (jobs, throughputs, deployments); each must follow ``[bedrock_customization] deferrable``.
WAITS = {
    (dag_id, task_id)
    for dag_id in ("bedrock_retraining", "bedrock_hparam_sweep")
    for task_id in (
        "training.customize_model",
        "serving.provision_throughput",
        "serving.deploy_on_demand",
        "release.promote_model",
    )
} | {("bedrock_model_import", "import_model")}


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
    """A task's ``deferrable``; None when it has none. A mapped task's from its partial arguments, else what
    its operator defaults to when a worker unmaps it (a default of None: ``[bedrock_customization]
    deferrable``, read then)."""
    import inspect

    from bedrock_customization import settings

    partial_kwargs = getattr(task, "partial_kwargs", None)
    if partial_kwargs is None:
        return getattr(task, "deferrable", None)
    if "deferrable" in partial_kwargs:
        return partial_kwargs["deferrable"]
    for klass in task.operator_class.__mro__:
        if "__init__" in vars(klass):
            parameter = inspect.signature(vars(klass)["__init__"]).parameters.get("deferrable")
            if parameter is not None:
                return settings.deferrable() if parameter.default is None else parameter.default
    return None


@pytest.mark.parametrize(("value", "expected"), [(None, True), ("True", True), ("False", False)])
def test_retraining_waits_follow_the_deferrable_setting(monkeypatch, value, expected):
    dag = _parse(monkeypatch, value, DAGS / "bedrock_retraining.py").dags["bedrock_retraining"]
    assert _deferrable(dag.get_task("training.customize_model")) is expected
    assert _deferrable(dag.get_task("serving.provision_throughput")) is expected
    assert _deferrable(dag.get_task("serving.deploy_on_demand")) is expected


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


def test_every_trigger_form_submits_with_its_defaults(dagbag):
    """The trigger form takes "" in a non-nullable string field as a missing value and disables Trigger; a
    default that does not validate blocks it too. "Use the landing zone's" defaults are null instead."""
    for dag_id, dag in dagbag.dags.items():
        dag.params.validate()  # every default is valid as shipped
        for name in dag.params:
            param = dag.params.get_param(name)
            types = param.schema.get("type")
            types = set(types) if isinstance(types, list) else {types}
            if param.value is None:
                assert "null" in types, f"{dag_id}.{name}: default None but type {types}"
            assert param.value != "", f"{dag_id}.{name}: a default of '' reads as a missing value in the form"


def test_unpausing_retraining_starts_no_run_and_runs_never_overlap(dagbag):
    """The scheduler's view (the serialized DAG): on first unpause the next run is the next cron tick, in the
    future, not a run for the last tick next to the one just triggered; and runs never overlap."""
    import pendulum
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.base import TimeRestriction

    dag = DagSerialization.from_dict(DagSerialization.to_dict(dagbag.dags["bedrock_retraining"]))
    restriction = TimeRestriction(earliest=dag.start_date, latest=None, catchup=dag.catchup)
    first = dag.timetable.next_dagrun_info(last_automated_data_interval=None, restriction=restriction)
    assert first.run_after > pendulum.now("UTC"), first
    assert dag.max_active_runs == 1
