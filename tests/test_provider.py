"""The provider is installed and registered with Airflow, and Airflow's plugin loader leaves it alone."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

import bedrock_customization
from bedrock_customization.provider_info import get_provider_info

PLUGINS = Path(__file__).resolve().parents[1] / "plugins"


def test_entry_point_resolves_to_provider_info():
    (entry,) = [e for e in entry_points(group="apache_airflow_provider") if e.value.startswith("bedrock_customization")]
    info = entry.load()()
    assert info["package-name"] == "airflow-provider-bedrock-customization"
    assert info["versions"] == [bedrock_customization.__version__]


def test_airflow_providers_manager_lists_the_provider_and_its_config():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-bedrock-customization" in manager.providers
    sections = dict(manager.provider_configs)["airflow-provider-bedrock-customization"]
    expected = get_provider_info()["config"]["bedrock_customization"]["options"]
    assert sections["bedrock_customization"]["options"].keys() == expected.keys()


def test_settings_are_read_from_airflow_config(monkeypatch):
    from bedrock_customization import settings

    monkeypatch.setenv("AIRFLOW__BEDROCK_CUSTOMIZATION__POLL_INTERVAL", "7")
    monkeypatch.setenv("AIRFLOW__BEDROCK_CUSTOMIZATION__JOB_TIMEOUT", "70")
    assert settings.poll_interval() == 7
    assert settings.max_attempts("job_timeout") == 10


def test_deferrable_defaults_to_true(monkeypatch):
    from bedrock_customization import settings

    monkeypatch.delenv("AIRFLOW__BEDROCK_CUSTOMIZATION__DEFERRABLE", raising=False)
    assert settings.deferrable() is True


@pytest.mark.parametrize(
    ("value", "expected"), [("False", False), ("false", False), ("0", False), ("True", True)]
)
def test_deferrable_is_read_from_airflow_config(monkeypatch, value, expected):
    from bedrock_customization import settings

    monkeypatch.setenv("AIRFLOW__BEDROCK_CUSTOMIZATION__DEFERRABLE", value)
    assert settings.deferrable() is expected


def test_deferrable_is_declared_in_the_provider_config():
    option = get_provider_info()["config"]["bedrock_customization"]["options"]["deferrable"]
    assert option["type"] == "boolean"
    assert option["default"] == "True"
    assert option["description"] and option["version_added"]


def test_plugin_loader_does_not_import_the_package_by_path():
    from airflow._shared.module_loading import find_path_from_directory

    files = [Path(f) for f in find_path_from_directory(str(PLUGINS), ".airflowignore", "glob")]
    assert not [f for f in files if "bedrock_customization" in f.parts]


def test_provider_info_lists_every_operator_sensor_hook_and_trigger_module_and_follows_the_schema():
    import importlib
    import json

    import jsonschema
    from airflow import __file__ as airflow_init

    info = get_provider_info()
    for role in ("operators", "sensors", "hooks", "triggers"):
        [entry] = info[role]
        assert entry["integration-name"] == info["integrations"][0]["integration-name"]
        folder = PLUGINS / "bedrock_customization" / role
        on_disk = {
            f"bedrock_customization.{role}.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__"
        }
        assert set(entry["python-modules"]) == on_disk
        for module in entry["python-modules"]:
            importlib.import_module(module)
    assert "bedrock_customization.operators.throughput" in info["operators"][0]["python-modules"]
    schema = json.loads((Path(airflow_init).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(info, schema)
