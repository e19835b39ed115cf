"""The user path in a real browser: ``make airflow``'s stack driven by headless Chromium.

The stack is started with ``include.airflow_local.start`` (as ``tests/test_make_airflow.py`` does: a temporary
AIRFLOW_HOME, free ports, the emulator's short job timings). Chromium logs in as admin/admin on
SimpleAuthManager's login page, opens each DAG's trigger form and clicks Trigger without typing anything (the
form's "Unpause on trigger" is ticked by default); the REST API confirms each run was created. Once the
retraining run has succeeded, Chromium opens the run's "Bedrock results" tab and checks that the loss curve
and the evaluation chart images in the plugin's iframe actually loaded (``naturalWidth > 0``).

Screenshots go to ``<tmp_path>/screenshots/`` and are copied to ``/tmp/ui-screenshots/``.
"""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest

from tests.test_make_airflow import EMULATOR_TIMINGS, _diagnose, _wait

DAGS = ("bedrock_retraining", "bedrock_hparam_sweep", "bedrock_model_import", "bedrock_janitor")
RETRAINING = DAGS[0]
READY_TIMEOUT = 300
PARSE_TIMEOUT = 180
UI_TIMEOUT = 120
RUN_TIMEOUT = 900
HTTP_TIMEOUT = 120


def _log_in(driver, api_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{api_url}/auth/login?next=%2F")
    wait = WebDriverWait(driver, UI_TIMEOUT)
    wait.until(EC.presence_of_element_located((By.NAME, "username"))).send_keys("admin")
    driver.find_element(By.NAME, "password").send_keys("admin")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "/auth/login" not in d.current_url)
    assert any(cookie["name"] == "_token" for cookie in driver.get_cookies())


def _manual_runs(client, dag_id: str) -> list[dict]:
    response = client.get(
        f"/api/v2/dags/{dag_id}/dagRuns", params={"run_type": "manual", "order_by": "-run_after"}
    )
    assert response.status_code == 200, response.text
    return response.json()["dag_runs"]


def _new_run(client, dag_id: str, before: int) -> dict | None:
    """The newest manual run of ``dag_id`` once there are more than ``before``."""
    runs = _manual_runs(client, dag_id)
    return runs[0] if len(runs) > before else None


def _form_problems(driver) -> str:
    """What the trigger form says is wrong (its error texts), for a form that does not submit."""
    from selenium.webdriver.common.by import By

    dialog = driver.find_elements(By.CSS_SELECTOR, '[role="dialog"]')
    errors = driver.find_elements(By.CSS_SELECTOR, '[role="dialog"] .chakra-field__errorText, [role="alert"]')
    return " | ".join(e.text for e in errors if e.text) or (
        dialog[0].text[-1500:] if dialog else "(no dialog)"
    )


def _trigger_from_form(driver, api_url: str, dag_id: str, shot) -> None:
    """Open the DAG's trigger form and submit its defaults."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, UI_TIMEOUT)
    driver.get(f"{api_url}/dags/{dag_id}")
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, '[data-testid="trigger-dag-button"]'))).click()
    submit = wait.until(
        EC.presence_of_element_located((By.CSS_SELECTOR, '[data-testid="trigger-dag-submit"]'))
    )
    time.sleep(1)  # the form validates its defaults once rendered
    try:  # a busy machine renders and validates later: a deadline, not a fixed wait
        WebDriverWait(driver, UI_TIMEOUT).until(lambda _: submit.is_enabled())
    except TimeoutException:
        pass
    shot(driver, f"{dag_id}-1-trigger-form")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", submit)
    assert submit.is_enabled(), (
        f"{dag_id}: the trigger form does not submit its defaults: {_form_problems(driver)}"
    )
    shot(driver, f"{dag_id}-2-trigger-form-bottom")
    submit.click()


def _wait_for_run(client, run_id: str) -> str:
    """The retraining run's final state ("timed out" past RUN_TIMEOUT)."""
    run_path = f"/api/v2/dags/{RETRAINING}/dagRuns/{quote(run_id, safe='')}"

    def finished():
        state = client.get(run_path).json()["state"]
        return state if state in ("success", "failed") else None

    try:
        return _wait(f"run {run_id}", finished, RUN_TIMEOUT, interval=5)
    except TimeoutError:
        return "timed out"


def _image_loaded(driver, image) -> bool:
    return bool(driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", image))


@pytest.mark.slow
def test_trigger_every_dag_from_its_form_and_see_the_results_in_the_plugin(tmp_path, browser, screenshots):
    import httpx
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait

    from include.airflow_local import ADMIN_USER, free_port, start

    timings: dict[str, float] = {}
    began = time.monotonic()
    stack = start(
        port=free_port(),
        emulator_port=free_port(),
        airflow_home=tmp_path / "airflow",
        emulator_env=EMULATOR_TIMINGS,
        log_file=tmp_path / "standalone.log",
    )
    client = httpx.Client(base_url=stack.api_url, timeout=HTTP_TIMEOUT)
    run_id = None
    try:
        stack.wait_ready(timeout=READY_TIMEOUT)
        timings["ready"] = time.monotonic() - began
        login = client.post("/auth/token", json={"username": ADMIN_USER, "password": "admin"})
        assert login.status_code == 201, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"

        # The plugin is loaded once by the API server, and refuses anonymous requests.
        errors = client.get("/api/v2/plugins/importErrors").json()["import_errors"]
        assert not [e for e in errors if "bedrock" in str(e)], errors
        names = [plugin["name"] for plugin in client.get("/api/v2/plugins").json()["plugins"]]
        assert names.count("bedrock_customization") == 1, names
        anonymous = httpx.get(
            f"{stack.api_url}/bedrock-customization/run",
            params={"dag_id": RETRAINING, "run_id": "x"},
            timeout=HTTP_TIMEOUT,
        )
        assert anonymous.status_code == 401, anonymous.text

        for dag_id in DAGS:
            _wait(
                f"{dag_id} parsed",
                lambda d=dag_id: client.get(f"/api/v2/dags/{d}").status_code == 200,
                PARSE_TIMEOUT,
            )
        _log_in(browser, stack.api_url)
        WebDriverWait(browser, UI_TIMEOUT).until(lambda d: "nav.home" not in d.page_source)  # translations
        screenshots(browser, "0-home")
        state = None
        for dag_id in DAGS:
            before = len(_manual_runs(client, dag_id))
            _trigger_from_form(browser, stack.api_url, dag_id, screenshots)
            run = _wait(f"a run of {dag_id} created", lambda d=dag_id, n=before: _new_run(client, d, n), 90)
            assert run["triggered_by"] == "ui", run
            # The UI then shows the new run (slowly on a busy machine); the screenshot is for people.
            try:
                WebDriverWait(browser, 30).until(lambda d, i=dag_id: f"/dags/{i}/runs/" in d.current_url)
            except TimeoutException:
                pass
            screenshots(browser, f"{dag_id}-3-after-trigger")
            # Not asserted: the form's "unpause on trigger" side request, which airflow standalone's SQLite
            # database may refuse under load ("database is locked"); the run itself was created above.
            if dag_id == RETRAINING:
                # Finished before the sweep is triggered: both promote into the same registry, and a champion
                # promoted by the sweep mid-evaluation would (rightly) refuse this run's promotion.
                timings["triggered"] = time.monotonic() - began
                run_id = run["dag_run_id"]
                state = _wait_for_run(client, run_id)
                timings["retraining_run"] = time.monotonic() - began - timings["triggered"]
        if state != "success":
            _diagnose(client, stack, RETRAINING, run_id)
        assert state == "success"

        # The run's "Bedrock results" tab: the plugin's page in an iframe, with the loss curve loaded.
        browser.get(f"{stack.api_url}/dags/{RETRAINING}/runs/{quote(run_id, safe='')}/plugin/bedrock-results")
        wait = WebDriverWait(browser, UI_TIMEOUT)
        frame = wait.until(
            EC.presence_of_element_located((By.CSS_SELECTOR, 'iframe[title="Bedrock results"]'))
        )
        assert "/bedrock-customization/run?" in frame.get_attribute("src")
        browser.switch_to.frame(frame)
        curve = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "img.loss-curve")))
        chart = browser.find_element(By.CSS_SELECTOR, "img.evaluation-chart")
        wait.until(lambda d: _image_loaded(d, curve) and _image_loaded(d, chart))
        assert "Model evaluation" in browser.find_element(By.CSS_SELECTOR, ".report").text
        decision = browser.find_element(By.XPATH, '//h2[@id="decision"]/following-sibling::div[1]').text
        assert "PROMOTE" in decision or "REJECT" in decision, decision
        browser.switch_to.default_content()
        screenshots(browser, "retraining-4-results-tab")
        # The same page on its own, whole, to look at every chart and the report.
        browser.get(
            f"{stack.api_url}/bedrock-customization/run?dag_id={RETRAINING}&run_id={quote(run_id, safe='')}"
        )
        wait.until(lambda d: _image_loaded(d, d.find_element(By.CSS_SELECTOR, "img.loss-curve")))
        screenshots(browser, "retraining-5-results-page", full_page=True)
        timings["total"] = time.monotonic() - began
        states = {dag_id: _manual_runs(client, dag_id)[0]["state"] for dag_id in DAGS}
        print(f"\nrun states at the end: {states}\ndecision: {decision!r}")
    except Exception:
        if run_id is None:
            _diagnose(client, stack, RETRAINING, None)
        raise
    finally:
        client.close()
        stack.stop()
        print(f"\nbrowser test timings (s): { {k: round(v, 1) for k, v in timings.items()} }")
