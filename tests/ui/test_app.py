"""The results plugin inside Airflow's own API app (``create_app``), against the in-process emulator.

The plugin is found through its ``airflow.plugins`` entry point and mounted by Airflow's ``init_plugins``;
requests log in with SimpleAuthManager's ``POST /auth/token`` like the UI, so authentication and the DAG-run
permission are Airflow's own. S3 is moto with the project's extension (``include.local_aws.mock``), reached
through the ``aws_default`` connection.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from bedrock_customization.naming import digest

BUCKET = "landing-zone-ui-test"
OTHER_BUCKET = "someone-elses-bucket"
RETRAINING = "bedrock_retraining"
SWEEP = "bedrock_hparam_sweep"
RUN_ID = "manual__2026-01-05T10:00:00+00:00"
OTHER_RUN_ID = "manual__2026-01-04T10:00:00+00:00"
SWEEP_RUN_ID = "manual__2026-01-06T08:00:00+00:00"
MISSING_RUN_ID = "manual__1999-01-01T00:00:00+00:00"
PREFIX = f"runs/{RETRAINING}/{digest(RETRAINING, RUN_ID)}/"
OTHER_PREFIX = f"runs/{RETRAINING}/{digest(RETRAINING, OTHER_RUN_ID)}/"
JOB_FOLDER = PREFIX + "output/model-customization-job-abc123/"
# A real (tiny) PNG: the browser would refuse anything else, and the test compares bytes.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f3c56d0000000049454e44ae426082"
)
REPORT = """# Model evaluation: PROMOTE

The candidate beats the baseline on **chrF**.

| metric | baseline | candidate |
|---|---:|---:|
| chrF | 40.00 | 55.25 |

![Mean scores per metric](metrics_chart.png)

<script>alert("report")</script>
[escape](javascript:alert(1)) ![outside](../../../../raw/qa_pairs.jsonl)
"""
EVALUATION_SUMMARY = {
    "baseline": {"model_id": "amazon.nova-micro-v1:0", "label": "base model", "chrf": 40.0, "rouge_l": 0.3},
    "candidate": {
        "model_id": "arn:aws:bedrock:candidate",
        "label": "candidate",
        "chrf": 55.25,
        "rouge_l": 0.4,
    },
    "metrics": {"chrf": {"label": "chrF", "scale": 100.0}, "rouge_l": {"label": "ROUGE-L", "scale": 1.0}},
    "primary_metric": "chrf",
    "margin": 0.0,
    "samples": 6,
    "decision": "promote",
    "significance": {
        "decision": "promote",
        "metric": "chrf",
        "mean_difference": 15.25,
        "ci_low": 9.1,
        "ci_high": 21.4,
        "confidence": 0.95,
        "p_value": 0.0312,
        "n": 6,
        "margin": 0.0,
        "rule": "promote if ci_low > margin; reject if ci_high < margin; else inconclusive",
    },
}
METRICS_SUMMARY = {
    "job_name": "retraining-abc123",
    "final_training_loss": 0.42,
    "final_validation_loss": 0.51,
    "best_epoch": 2,
    "best_validation_loss": 0.5,
    "epochs_logged": 2,
    "epoch_count": 2,
    "early_stopping_detected": False,
    "diverged": False,
}
SERVING = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/serving12345"
REGISTRY = {
    "schema": 2,
    "name": "bedrock-retraining",
    "version": 2,
    "serving_model_arn": "arn:aws:bedrock:us-east-1:123456789012:custom-model/new",
    "serving_arn": SERVING,
    "serving_kind": "on_demand",
    "base_model_id": "amazon.nova-micro-v1:0:128k",
    "promoted_at": "2026-01-05T11:00:00+00:00",
    "dag_id": RETRAINING,
    "run_id": RUN_ID,
    "figures": EVALUATION_SUMMARY,
    "previous": {
        "version": 1,
        "serving_model_arn": "arn:aws:bedrock:us-east-1:123456789012:custom-model/old",
        "promoted_at": "2026-01-04T11:00:00+00:00",
        "dag_id": RETRAINING,
        "run_id": OTHER_RUN_ID,
    },
}
SWEEP_DAY = "2026-01-06"
LEADERBOARD = {
    "schema": 1,
    "metric": "final_validation_loss",
    "top_k": 1,
    "swept": ["learningRate"],
    "winner": "cafe0001",
    "entries": [
        {
            "rank": 1,
            "config_hash": "cafe0001",
            "label": "learningRate=1e-05",
            "hyperparameters": {"learningRate": "0.00001"},
            "final_validation_loss": 0.4,
            "best_epoch": 2,
            "diverged": False,
            "selected": True,
        },
        {
            "rank": 2,
            "config_hash": "cafe0002",
            "label": "learningRate=0.0001",
            "hyperparameters": {"learningRate": "0.0001"},
            "final_validation_loss": 0.9,
            "best_epoch": 1,
            "diverged": False,
            "selected": False,
        },
    ],
}


def _objects() -> dict[tuple[str, str], bytes]:
    sweep_job = f"runs/{SWEEP}/{SWEEP_DAY}/output/cafe0001/model-customization-job-s1/"
    return {
        (BUCKET, JOB_FOLDER + "loss_curve.png"): PNG,
        (BUCKET, JOB_FOLDER + "metrics_summary.json"): json.dumps(METRICS_SUMMARY).encode(),
        (BUCKET, PREFIX + "evaluation/summary.json"): json.dumps(EVALUATION_SUMMARY).encode(),
        (BUCKET, PREFIX + "evaluation/report.md"): REPORT.encode(),
        (BUCKET, PREFIX + "evaluation/metrics_chart.png"): PNG,
        (BUCKET, PREFIX + "data/train.jsonl"): b'{"prompt": "q", "completion": "a"}\n',
        (BUCKET, OTHER_PREFIX + "evaluation/report.md"): b"# another run's report\n",
        (BUCKET, "raw/qa_pairs.jsonl"): b'{"question": "secret?", "answer": "raw data"}\n',
        (BUCKET, "registry/bedrock-retraining.json"): json.dumps(REGISTRY).encode(),
        (BUCKET, f"sweeps/{SWEEP_DAY}/leaderboard.json"): json.dumps(LEADERBOARD).encode(),
        (BUCKET, f"sweeps/{SWEEP_DAY}/leaderboard.png"): PNG,
        (BUCKET, sweep_job + "loss_curve.png"): PNG,
        (BUCKET, sweep_job + "metrics_summary.json"): json.dumps(METRICS_SUMMARY).encode(),
        (OTHER_BUCKET, PREFIX + "evaluation/report.md"): b"# from the wrong bucket\n",
    }


@pytest.fixture(scope="module")
def api(airflow_db, tmp_path_factory):
    """Airflow's API app with SimpleAuthManager (admin/admin), two DAG runs, and S3 objects in the emulator."""
    from fastapi.testclient import TestClient

    from include import local_aws
    from include.airflow_local import ADMIN_USER, SIMPLE_AUTH_MANAGER, write_passwords

    home = tmp_path_factory.mktemp("auth")
    passwords = write_passwords(home, "admin")
    with pytest.MonkeyPatch.context() as patch, local_aws.mock():
        patch.setenv("AIRFLOW__CORE__AUTH_MANAGER", SIMPLE_AUTH_MANAGER)
        patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", f"{ADMIN_USER}:admin")
        patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
        patch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(passwords))
        patch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "ui-plugin-test-" + "s" * 64)
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        _seed_database()
        _seed_s3()
        from airflow.api_fastapi.app import create_app, purge_cached_app

        with TestClient(create_app(apps="core")) as client:
            login = client.post("/auth/token", json={"username": ADMIN_USER, "password": "admin"})
            assert login.status_code == 201, login.text
            client.token = login.json()["access_token"]
            yield client
        purge_cached_app()


def _seed_database() -> None:
    from airflow.models.dagrun import DagRun
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState

    Variable.set("bedrock_customization", json.dumps({"bucket": BUCKET}))
    runs = [
        (RETRAINING, RUN_ID, None, datetime(2026, 1, 5, 10, tzinfo=UTC)),
        (RETRAINING, OTHER_RUN_ID, None, datetime(2026, 1, 4, 10, tzinfo=UTC)),
        (SWEEP, SWEEP_RUN_ID, datetime(2026, 1, 6, tzinfo=UTC), datetime(2026, 1, 6, 8, tzinfo=UTC)),
    ]
    with create_session() as session:
        for dag_id, run_id, logical_date, run_after in runs:
            session.query(DagRun).filter(DagRun.dag_id == dag_id, DagRun.run_id == run_id).delete()
            session.add(
                DagRun(
                    dag_id=dag_id,
                    run_id=run_id,
                    run_type="manual",
                    logical_date=logical_date,
                    run_after=run_after,
                    state=DagRunState.SUCCESS,
                )
            )


def _seed_s3() -> None:
    import boto3

    s3 = boto3.client("s3", region_name="us-east-1")
    for bucket in (BUCKET, OTHER_BUCKET):
        s3.create_bucket(Bucket=bucket)
    for (bucket, key), body in _objects().items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)


def _auth(client) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.token}"}


def _page_url(dag_id: str = RETRAINING, run_id: str = RUN_ID, **extra: str) -> str:
    query = "&".join(
        f"{k}={quote(v, safe='')}" for k, v in {"dag_id": dag_id, "run_id": run_id, **extra}.items()
    )
    return f"/bedrock-customization/run?{query}"


def _object_url(key: str, dag_id: str = RETRAINING, run_id: str = RUN_ID) -> str:
    return f"/bedrock-customization/object?dag_id={dag_id}&run_id={quote(run_id, safe='')}&key={quote(key, safe='')}"


def test_the_plugin_is_registered_once_by_its_entry_point():
    from airflow import plugins_manager

    plugins, errors = plugins_manager._get_plugins()
    ours = [plugin for plugin in plugins if plugin.name == "bedrock_customization"]
    assert len(ours) == 1
    assert "airflow.plugins" in str(ours[0].source), ours[0].source
    # A stale plugins/*.egg-info (left by building the editable install; `make venv` removes it) makes
    # Airflow see the package twice and report the second registration as a plugin import error.
    assert not [error for source, error in errors.items() if "bedrock" in f"{source} {error}"], errors
    views = {view["destination"]: view for view in plugins_manager._get_ui_plugins()[0]}
    assert views["dag_run"]["href"] == "/bedrock-customization/run?dag_id={DAG_ID}&run_id={RUN_ID}"
    assert views["task_instance"]["href"].endswith("&task_id={TASK_ID}")
    from airflow.api_fastapi.app import RESERVED_URL_PREFIXES

    (app,) = ours[0].fastapi_apps
    assert not any(app["url_prefix"].startswith(prefix) for prefix in RESERVED_URL_PREFIXES)


def test_importing_the_plugin_does_not_build_the_app():
    import subprocess
    import sys

    code = (
        "import sys, bedrock_customization.ui.plugin as p; "
        "print(any(m in sys.modules for m in ('fastapi', 'bedrock_customization.ui.app')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True
    )
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("path", [_page_url(), _object_url(JOB_FOLDER + "loss_curve.png")])
def test_an_anonymous_request_is_refused(api, path):
    response = api.get(path)
    assert response.status_code == 401, response.text
    assert "loss_curve" not in response.text and PNG not in response.content
    assert api.get(path, headers={"Authorization": "Bearer not-a-jwt"}).status_code in (401, 403)
    api.cookies.set("_token", "forged")
    try:
        assert api.get(path).status_code in (401, 403)
    finally:
        api.cookies.clear()


def test_the_ui_cookie_is_accepted(api):
    api.cookies.set("_token", api.token)
    try:
        response = api.get(_page_url())
    finally:
        api.cookies.clear()
    assert response.status_code == 200, response.text


def test_the_run_page_shows_loss_curve_evaluation_report_decision_and_champion_history(api):
    response = api.get(_page_url(), headers=_auth(api))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    html = response.text
    curve = _object_url(JOB_FOLDER + "loss_curve.png").removeprefix("/bedrock-customization/")
    assert f'class="chart loss-curve" src="{curve.replace("&", "&amp;")}"' in html
    assert 'class="chart evaluation-chart"' in html
    # The report, rendered: its heading and table, its chart pointed at the plugin, its script escaped.
    assert "<h1>Model evaluation: PROMOTE</h1>" in html and "<table>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "javascript:alert" not in html.replace("[escape](javascript:alert(1))", "")
    assert "[image: outside]" in html and "raw%2Fqa_pairs" not in html
    # Decision and figures.
    assert '<span class="badge good">promote</span>' in html
    text = " ".join(html.split())
    assert "95% CI [9.1, 21.4], p = 0.0312, n = 6. Rule: promote if ci_low &gt; margin" in text
    assert "55.25" in html and "0.51" in html
    # The champion history: this run is version 2, the champion; version 1 before it.
    assert "<code>bedrock-retraining</code>" in html and "current champion" in html
    assert "custom-model/new" in html and "custom-model/old" in html and "(this run)" in html
    assert "chrF: 40 → 55.25" in html
    assert f'Serving: <span class="mono">on demand (custom model deployment) {SERVING}</span>' in html
    # Only this run's files.
    assert "data/train.jsonl" in html and "another run" not in html and OTHER_PREFIX not in html


def test_the_objects_of_the_run_are_served(api):
    curve = api.get(_object_url(JOB_FOLDER + "loss_curve.png"), headers=_auth(api))
    assert curve.status_code == 200 and curve.content == PNG
    assert curve.headers["content-type"] == "image/png"
    assert curve.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in curve.headers["content-security-policy"]
    report = api.get(_object_url(PREFIX + "evaluation/report.md"), headers=_auth(api))
    assert report.status_code == 200 and report.text == REPORT
    assert report.headers["content-type"].startswith("text/plain")
    registry = api.get(_object_url("registry/bedrock-retraining.json"), headers=_auth(api))
    assert registry.status_code == 200 and registry.json()["version"] == 2


@pytest.mark.parametrize(
    "key",
    [
        "raw/qa_pairs.jsonl",  # exists, but not the run's
        OTHER_PREFIX + "evaluation/report.md",  # another run's report
        PREFIX + "../" + OTHER_PREFIX.split("/")[-2] + "/evaluation/report.md",
        PREFIX + "evaluation/../../../../raw/qa_pairs.jsonl",
        "registry/../raw/qa_pairs.jsonl",
        f"s3://{OTHER_BUCKET}/{PREFIX}evaluation/report.md",
        "/" + PREFIX + "evaluation/report.md",
        PREFIX + "evaluation//report.md",
        PREFIX + "evaluation\\..\\..\\x",
        PREFIX,
    ],
)
def test_keys_outside_the_run_are_refused(api, key):
    response = api.get(_object_url(key), headers=_auth(api))
    assert response.status_code == 404, response.text
    assert "raw data" not in response.text and "another run" not in response.text


def test_the_bucket_is_never_taken_from_the_request(api):
    url = _object_url(PREFIX + "evaluation/report.md") + f"&bucket={OTHER_BUCKET}"
    response = api.get(url, headers=_auth(api))
    assert response.status_code == 200 and response.text == REPORT  # the landing zone's, not the other


def test_a_run_that_does_not_exist_is_not_found(api):
    assert api.get(_page_url(run_id=MISSING_RUN_ID), headers=_auth(api)).status_code == 404
    # A key under the missing run's own prefix is refused too: prefixes come from runs that exist.
    missing_prefix = f"runs/{RETRAINING}/{digest(RETRAINING, MISSING_RUN_ID)}/x.png"
    response = api.get(_object_url(missing_prefix, run_id=MISSING_RUN_ID), headers=_auth(api))
    assert response.status_code == 404


def test_a_sweep_run_shows_its_leaderboard_and_the_loss_curve_of_each_configuration(api):
    response = api.get(_page_url(SWEEP, SWEEP_RUN_ID), headers=_auth(api))
    assert response.status_code == 200, response.text
    html = response.text
    assert 'id="leaderboard"' in html and 'class="chart leaderboard-chart"' in html
    assert html.index('id="leaderboard"') < html.index('id="training"')  # a sweep's headline
    assert "learningRate=1e-05" in html and "cafe0002" in html
    # The configuration's loss curve, named after its leaderboard entry.
    assert "#1 learningRate=1e-05 (output/cafe0001/model-customization-job-s1/)" in html
    assert 'class="chart loss-curve"' in html
    leaderboard = api.get(
        _object_url(f"sweeps/{SWEEP_DAY}/leaderboard.png", SWEEP, SWEEP_RUN_ID), headers=_auth(api)
    )
    assert leaderboard.status_code == 200 and leaderboard.content == PNG
    # The sweep's date folders are the sweep run's only: the retraining run cannot read them.
    assert api.get(_object_url(f"sweeps/{SWEEP_DAY}/leaderboard.png"), headers=_auth(api)).status_code == 404


def test_a_task_tab_opens_on_the_tasks_section(api):
    html = api.get(_page_url(task_id="evaluation.evaluate"), headers=_auth(api)).text
    assert html.index('id="evaluation"') < html.index('id="decision"') < html.index('id="training"')
    html = api.get(_page_url(task_id="training.training_metrics"), headers=_auth(api)).text
    assert html.index('id="training"') < html.index('id="decision"')


def test_without_a_landing_zone_the_page_says_how_to_get_one(api):
    from airflow.models.variable import Variable

    Variable.delete("bedrock_customization")
    try:
        response = api.get(_page_url(), headers=_auth(api))
        refused = api.get(_object_url(JOB_FOLDER + "loss_curve.png"), headers=_auth(api))
    finally:
        Variable.set("bedrock_customization", json.dumps({"bucket": BUCKET}))
    assert response.status_code == 200 and "names no <code>bucket</code>" in response.text
    assert refused.status_code == 404
