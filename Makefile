# The two commands users need: `make run` and `make test`. Both set everything up on first use.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# uv is fast; set USE_UV=0 to install with plain pip. Both write the packages' bytecode at install time (uv
# with --compile-bytecode, pip by default): where PYTHONDONTWRITEBYTECODE is set, Python never caches it, and
# every Airflow process (task, DAG parse, component) would compile Airflow, botocore and moto again (3.8 s to
# import them instead of 1.6 s).
USE_UV ?= 1
export AIRFLOW_HOME := $(CURDIR)/.airflow

.PHONY: run airflow test itest uitest venv lint pytest emulator clean

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	if [ "$(USE_UV)" = "1" ] && $(PY) -m pip install -q uv && $(VENV)/bin/uv --version >/dev/null; then \
		$(VENV)/bin/uv pip install --python $(PY) --compile-bytecode -r requirements.txt; \
	else \
		$(PY) -m pip install -q -r requirements.txt; \
	fi
	touch $@

# Building the editable install leaves plugins/airflow_provider_bedrock_customization.egg-info behind, and
# plugins/ is on sys.path (the editable .pth, Airflow's plugins folder): Airflow would then see the package
# twice and load the UI plugin's `airflow.plugins` entry point twice ("already registered" import error).
# The metadata that counts is the .dist-info in site-packages.
venv: $(VENV)/.installed
	@rm -rf plugins/*.egg-info

run: venv
	$(PY) -m include.run_local

# The emulator and `airflow standalone` with the project's DAGs: UI on localhost:8080 (AIRFLOW_PORT), admin/admin.
airflow: venv
	$(PY) -m include.airflow_local

test: venv lint pytest

lint: venv
	$(VENV)/bin/ruff check .

# The suite in TEST_WORKERS pytest-xdist processes. Each file's tests stay in one worker (--dist loadfile):
# module fixtures such as the itest's deployment start once, and every worker has its own Airflow home
# (tests/conftest.py) and free ports. About half the test time waits on Airflow stacks and emulated jobs
# (the two itest deployments, the browser and make-airflow stacks), so 4 workers keep 2 cores busy: on
# this 2-core machine 13 min 10 s, against 16 min 15 s with 3.
TEST_WORKERS ?= 4
pytest: venv
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=15

# The compose deployment run natively: PostgreSQL and Redis (apt-get installs them when absent and we are
# root), the emulator, api-server, scheduler, dag-processor, triggerer and a Celery worker. `make test` runs
# it too (its tests are part of the suite); this runs only them, with their figures printed.
itest: venv
	$(PY) -m pytest -q -s -m itest tests/itest

# The UI plugin's tests, with the browser test: `make airflow`'s stack in headless Chromium (Debian's chromium
# and chromium-driver, installed with apt-get when absent and we are root). Screenshots: /tmp/ui-screenshots.
uitest: venv
	$(PY) -m pytest -q -s tests/ui

emulator: venv
	$(PY) -m include.local_aws --port 4566

clean:
	rm -rf .airflow .pytest_cache
