"""The Airflow plugin: the results app on the API server and a "Bedrock results" tab on runs and tasks.

Registered by the ``airflow.plugins`` entry point in pyproject.toml, which Airflow 3.3 loads in every
process. Not by a ``plugins`` entry of the provider info: Airflow loads those only with
``[core] lazy_discover_providers = False``, and both at once would register the plugin twice. The package
directory is also inside ``make airflow``'s plugins folder, where ``plugins/.airflowignore`` keeps Airflow's
file loader from importing it a second time.

Importing this module is cheap (workers and the DAG processor load plugins too): the FastAPI app, with its
Airflow API and S3 imports, is built on the API server's first request to it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import AirflowPlugin

URL_PREFIX = "/bedrock-customization"
APP_FACTORY = "bedrock_customization.ui.app:create_app"


def _site_path(path: str) -> str:
    """``path`` under the API server's base URL path (``[api] base_url``, e.g. ``/airflow``)."""
    from airflow.configuration import conf

    base = urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    return f"{base}{path}"


class LazyApp:
    """An ASGI app that imports and builds ``factory`` (``module:function``) on its first call."""

    def __init__(self, factory: str) -> None:
        self.factory = factory
        self._app: Any = None

    def app(self) -> Any:
        if self._app is None:
            from importlib import import_module

            module, _, function = self.factory.partition(":")
            self._app = getattr(import_module(module), function)()
        return self._app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self.app()(scope, receive, send)


def external_views() -> list[dict[str, str]]:
    """The "Bedrock results" tab of a DAG run and of a task instance; the UI fills in the placeholders."""
    page = _site_path(f"{URL_PREFIX}/run")
    return [
        {
            "name": "Bedrock results",
            "href": page + "?dag_id={DAG_ID}&run_id={RUN_ID}",
            "destination": "dag_run",
            "url_route": "bedrock-results",
        },
        {
            "name": "Bedrock results",
            "href": page + "?dag_id={DAG_ID}&run_id={RUN_ID}&task_id={TASK_ID}",
            "destination": "task_instance",
            "url_route": "bedrock-task-results",
        },
    ]


class BedrockCustomizationPlugin(AirflowPlugin):
    """Loss curves, evaluation charts and reports, decisions, leaderboards and champion history in the UI."""

    name = "bedrock_customization"
    fastapi_apps = [
        {
            "app": LazyApp(APP_FACTORY),
            "url_prefix": URL_PREFIX,
            "name": "Amazon Bedrock customization results",
        }
    ]
    external_views = external_views()
