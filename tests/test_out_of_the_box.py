"""Out of the box: the README's sweep backfill works as written on a fresh ``make airflow``.

Fast and without AWS: the dates of the README's ``airflow backfill create`` are computed by running its own
``$(date ...)`` expressions in bash, and the runs Airflow would create for them come from the sweep DAG parsed
with ``AIRFLOW__BEDROCK_CUSTOMIZATION__SWEEP_SCHEDULE=@daily`` and serialized, as ``backfill create`` reads it.
Each run's date must have the sample data the bootstrap uploads. (That ``bedrock_model_import`` succeeds with
its defaults on the bootstrapped demo model is tested in ``tests/test_model_import.py``.)
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SWEEP_DAG = ROOT / "dags" / "bedrock_hparam_sweep.py"
SWEEP_ENV = "AIRFLOW__BEDROCK_CUSTOMIZATION__SWEEP_SCHEDULE"


def _backfill_block() -> str:
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), re.S)
    found = [block for block in blocks if "airflow backfill create --dag-id bedrock_hparam_sweep" in block]
    assert len(found) == 1, "the README has one sweep backfill command"
    return found[0]


def _readme_date(block: str, option: str) -> date:
    """The date the README's ``--<option> "$(...)"`` gives today, computed by bash as the user's shell would."""
    match = re.search(rf'--{option} "\$\((.+?)\)"', block)
    assert match, f"--{option} is not a $(...) date expression: {block}"
    out = subprocess.run(["bash", "-c", match.group(1)], capture_output=True, text=True, check=True).stdout
    return date.fromisoformat(out.strip())


def _sweep_dag(monkeypatch, schedule: str | None):
    """The sweep DAG parsed with ``schedule`` in the environment (None: unset), serialized as the
    dag-processor stores it (what ``airflow backfill create`` reads)."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    if schedule is None:
        monkeypatch.delenv(SWEEP_ENV, raising=False)
    else:
        monkeypatch.setenv(SWEEP_ENV, schedule)
    bag = DagBag(dag_folder=str(SWEEP_DAG))
    assert bag.import_errors == {}
    return DagSerialization.from_dict(DagSerialization.to_dict(bag.dags["bedrock_hparam_sweep"]))


def test_readme_backfill_dates_have_the_sample_data_of_a_fresh_make_airflow(monkeypatch):
    from airflow._shared.timezones.timezone import parse, utcnow

    from include.bootstrap import sample_dates

    block = _backfill_block()
    from_date, to_date = _readme_date(block, "from-date"), _readme_date(block, "to-date")
    uploaded = set(sample_dates(datetime.now(UTC).date()))
    today = max(uploaded)
    assert from_date < to_date < today  # today's run is the schedule's, started by the unpause
    assert (to_date - from_date).days == 2  # three runs
    assert {from_date, to_date} <= uploaded

    # Without the setting the sweep cannot be backfilled: hence the README's restart with it.
    assert not _sweep_dag(monkeypatch, None).timetable.periodic
    dag = _sweep_dag(monkeypatch, "@daily")
    assert dag.timetable.periodic
    # The runs `airflow backfill create` makes (airflow.models.backfill._get_info_list): the schedule's ticks
    # between the two dates (the CLI parses them as UTC midnights) whose data interval has ended.
    now = utcnow()
    infos = dag.iter_dagrun_infos_between(parse(from_date.isoformat()), parse(to_date.isoformat()))
    run_dates = [info.logical_date.date() for info in infos if info.data_interval.end < now]
    assert run_dates == [date.fromordinal(d) for d in range(from_date.toordinal(), to_date.toordinal() + 1)]
    assert set(run_dates) <= uploaded  # each run finds raw/<date>/qa_pairs.jsonl
    # Created while the DAG is paused, then unpaused: on make airflow's SQLite the other order can fail with
    # "database is locked" (the scheduler writes the sweep's scheduled run while backfill create writes).
    assert block.index("airflow backfill create") < block.index("airflow dags unpause bedrock_hparam_sweep")
    conf = json.loads(re.search(r"--dag-run-conf '(.+?)'", block).group(1))
    dag.params.deep_merge(conf).validate()  # what backfill create checks before creating any run
    assert conf["evaluate_top_k"] is False


@pytest.mark.parametrize("days", [0, 1, 2, 3, 4])
def test_readme_dates_stay_inside_the_sample_week_while_the_stack_runs(days):
    """The bootstrap runs when `make airflow` starts; the backfill may come up to four days later (the
    emulator keeps the week uploaded at the start), as the README says."""
    from datetime import timedelta

    from include.bootstrap import sample_dates

    block = _backfill_block()
    started = datetime.now(UTC).date() - timedelta(days=days)
    assert {_readme_date(block, "from-date"), _readme_date(block, "to-date")} <= set(sample_dates(started))


def test_the_sweep_schedule_reaches_airflow_standalone(monkeypatch, tmp_path):
    """The README sets it on `make airflow`'s command line; start() runs standalone with os.environ under
    standalone_env, which must not override it."""
    from include.airflow_local import SWEEP_SCHEDULE_ENV, standalone_env, sweep_schedule_note

    assert SWEEP_SCHEDULE_ENV == SWEEP_ENV
    readme = README.read_text()
    assert f"{SWEEP_ENV}=@daily make airflow" in readme
    monkeypatch.setenv(SWEEP_ENV, "@daily")
    env = standalone_env(tmp_path, "http://127.0.0.1:4599")
    assert SWEEP_ENV not in env
    import os

    assert {**os.environ, **env}[SWEEP_ENV] == "@daily"  # what start() hands to `airflow standalone`
    assert "runs @daily" in sweep_schedule_note()
    assert "no schedule" in sweep_schedule_note({}) and f"{SWEEP_ENV}=@daily make airflow" in sweep_schedule_note({})
