"""The FastAPI app of the results plugin, mounted by the API server at ``/bedrock-customization`` (see
:mod:`.plugin`).

Routes (both require an authenticated Airflow user allowed to read the DAG's runs, through Airflow's own
``requires_access_dag`` dependency: the JWT of the ``Authorization: Bearer`` header or of the UI's ``_token``
cookie; no token is 401, an invalid one 403):

* ``GET /run?dag_id=…&run_id=…[&task_id=…]``: the run's results page (HTML);
* ``GET /object?dag_id=…&run_id=…&key=…``: one S3 object of that run (a chart, a report, a CSV...), only
  under the run's own prefixes or ``registry/<name>.json`` (see :mod:`.artifacts`), else 404.

The bucket is the landing zone's (Airflow Variable ``bedrock_customization``, key ``bucket``), never taken
from the request; S3 is read through the ``aws_default`` connection, so the page works against the local
emulator (the connection's ``endpoint_url``) and AWS alike. The run must exist in the metadata database.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.common.db.common import SessionDep
from airflow.api_fastapi.core_api.security import requires_access_dag
from airflow.models.dagrun import DagRun
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from bedrock_customization.ui import artifacts, render
from bedrock_customization.ui.artifacts import Folder

AWS_CONN_ID = "aws_default"
VARIABLE = "bedrock_customization"
#: Objects larger than this are not served (a link to the S3 console would be the way then).
MAX_OBJECT_BYTES = 25 * 1024 * 1024
#: JSON and Markdown read to build the page.
MAX_DOCUMENT_BYTES = 2 * 1024 * 1024
MAX_LISTED_OBJECTS = 2000
MAX_REGISTRIES = 20
PAGE_POLICY = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'self'"
)
OBJECT_POLICY = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'self'"
)
#: Shown inline; anything else is a download.
INLINE_TYPES = {
    ".png": "image/png",
    ".json": "application/json",
    ".csv": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
    ".jsonl": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".log": "text/plain; charset=utf-8",
}
#: Which section a task's tab opens on (by task id without its group, else by group).
TASK_SECTIONS = {
    "customize": "training",
    "customize_model": "training",
    "training_metrics": "training",
    "training": "training",
    "provision_throughput": "evaluation",
    "deploy_on_demand": "evaluation",
    "evaluate": "evaluation",
    "evaluation": "evaluation",
    "leaderboard": "leaderboard",
    "promote_model": "registry",
    "release": "registry",
}
SECTIONS = ("decision", "training", "evaluation", "leaderboard", "registry", "files")


class ObjectTooLarge(Exception):
    """An S3 object larger than the plugin serves or reads."""


def run_url(dag_id: str, run_id: str) -> str:
    """Relative URL of a run's page (relative: it works under any API base path)."""
    return "run?" + urlencode({"dag_id": dag_id, "run_id": run_id})


def object_url(dag_id: str, run_id: str, key: str) -> str:
    """Relative URL of one of a run's S3 objects."""
    return "object?" + urlencode({"dag_id": dag_id, "run_id": run_id, "key": key})


def landing_zone_bucket() -> str | None:
    """The ``bucket`` of the Airflow Variable ``bedrock_customization``, or None without one."""
    from airflow.models.variable import Variable

    try:
        value = Variable.get(VARIABLE, default_var=None, deserialize_json=True)
    except ValueError:  # not JSON
        return None
    bucket = value.get("bucket") if isinstance(value, dict) else None
    return bucket if isinstance(bucket, str) and bucket else None


def s3_client() -> Any:
    """A boto3 S3 client of the ``aws_default`` connection."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=AWS_CONN_ID).get_conn()


def _missing(error: Exception) -> bool:
    code = getattr(error, "response", {}).get("Error", {}).get("Code")
    return code in ("NoSuchKey", "404", "NotFound", "NoSuchBucket")


def read_object(s3: Any, bucket: str, key: str, limit: int) -> bytes | None:
    """The object's bytes; None when it does not exist; raises ObjectTooLarge above ``limit`` bytes."""
    from botocore.exceptions import ClientError

    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _missing(error):
            return None
        raise
    if response.get("ContentLength", 0) > limit:
        response["Body"].close()
        raise ObjectTooLarge(f"s3://{bucket}/{key} has {response['ContentLength']} bytes (limit {limit})")
    return response["Body"].read()


def list_objects(s3: Any, bucket: str, prefixes: tuple[str, ...], limit: int) -> tuple[list[dict], bool]:
    """Objects under the prefixes (key, size, last_modified) and whether the listing stopped at ``limit``."""
    objects: list[dict] = []
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if len(objects) >= limit:
                    return objects, True
                objects.append(
                    {"key": item["Key"], "size": item.get("Size"), "last_modified": item.get("LastModified")}
                )
    return objects, False


def find_run(session: Any, dag_id: str, run_id: str) -> DagRun:
    """The DAG run, or 404."""
    run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if run is None:
        raise HTTPException(status_code=404, detail=f"DAG {dag_id!r} has no run {run_id!r}.")
    return run


def prefixes_of(run: DagRun) -> tuple[str, ...]:
    return artifacts.run_prefixes(run.dag_id, run.run_id, artifacts.run_date(run.logical_date, run.run_after))


def section_order(task_id: str | None, sweep: bool = False) -> list[str]:
    """The page's sections: a sweep's leaderboard after the decision, the section of ``task_id`` (a task
    instance's tab) first."""
    order = list(SECTIONS)
    if sweep:
        order.remove("leaderboard")
        order.insert(1, "leaderboard")
    if task_id:
        group, _, name = task_id.rpartition(".")
        first = TASK_SECTIONS.get(name) or TASK_SECTIONS.get(group.split(".")[0] if group else "")
        if first:
            order.remove(first)
            order.insert(0, first)
    return order


class Page:
    """Reads what the results page of one run shows; problems are collected, not raised."""

    def __init__(self, run: DagRun, bucket: str, s3: Any) -> None:
        self.run, self.bucket, self.s3 = run, bucket, s3
        self.prefixes = prefixes_of(run)
        self.problems: list[str] = []

    def url(self, key: str) -> str:
        return object_url(self.run.dag_id, self.run.run_id, key)

    def _read(self, key: str, limit: int = MAX_DOCUMENT_BYTES) -> bytes | None:
        try:
            return read_object(self.s3, self.bucket, key, limit)
        except Exception as error:  # shown on the page: one unreadable object must not hide the rest
            self.problems.append(f"Could not read s3://{self.bucket}/{key}: {error}")
            return None

    def json(self, key: str | None) -> Any:
        body = self._read(key) if key else None
        if body is None:
            return None
        try:
            return json.loads(body)
        except ValueError as error:
            self.problems.append(f"s3://{self.bucket}/{key} is not valid JSON: {error}")
            return None

    def resolver(self, base_key: str) -> Callable[[str], str | None]:
        """Resolves a relative reference of the object ``base_key`` to a URL, if the run may read it."""

        def resolve(reference: str) -> str | None:
            key = artifacts.resolve_relative(base_key, reference)
            return self.url(key) if key and artifacts.is_allowed(key, self.prefixes) else None

        return resolve

    def training(self, folder: Folder, labels: Mapping[str, str]) -> dict:
        files = folder.files
        return {
            "label": _config_label(folder.label, labels),
            "curve_url": self.url(files["loss_curve"]) if "loss_curve" in files else None,
            "summary": _mapping(self.json(files.get("summary"))),
            "summary_url": self.url(files["summary"]) if "summary" in files else None,
        }

    def evaluation(self, folder: Folder, labels: Mapping[str, str]) -> dict:
        files = folder.files
        summary = _mapping(self.json(files.get("summary")))
        report = self._read(files["report"]) if "report" in files else None
        return {
            "label": _config_label(folder.label, labels),
            "summary": summary,
            "rows": metric_rows(summary),
            "chart_url": self.url(files["chart"]) if "chart" in files else None,
            "report_html": render.markdown_html(
                report.decode("utf-8", "replace"), self.resolver(files["report"])
            )
            if report is not None
            else None,
            "links": {
                name: self.url(files[role])
                for name, role in (
                    ("report.md", "report"),
                    ("summary.json", "summary"),
                    ("responses", "responses"),
                )
                if role in files
            },
        }

    def leaderboard(self, folder: Folder) -> dict:
        files = folder.files
        document = _mapping(self.json(files.get("json")))
        return {
            "label": folder.label,
            "document": document,
            "entries": [e for e in document.get("entries") or [] if isinstance(e, dict)],
            "swept": list(document.get("swept") or []),
            "chart_url": self.url(files["chart"]) if "chart" in files else None,
            "links": {
                name: self.url(files[role])
                for name, role in (("leaderboard.json", "json"), ("leaderboard.csv", "csv"))
                if role in files
            },
        }

    def registries(self) -> list[dict]:
        from bedrock_customization.promotion import REGISTRY_PREFIX

        try:
            listed, _ = list_objects(self.s3, self.bucket, (REGISTRY_PREFIX,), MAX_REGISTRIES * 5)
        except Exception as error:
            self.problems.append(f"Could not list s3://{self.bucket}/{REGISTRY_PREFIX}: {error}")
            return []
        registries = []
        for item in listed:
            key = item["key"]
            if not artifacts.is_registry_key(key) or len(registries) >= MAX_REGISTRIES:
                continue
            document = self.json(key)
            if not isinstance(document, dict):
                continue
            history = artifacts.champion_history(document)
            for entry in history:
                entry["figures_text"] = artifacts.figure_text(entry.get("figures"))
                if entry.get("dag_id") and entry.get("run_id"):
                    entry["run_url"] = run_url(str(entry["dag_id"]), str(entry["run_id"]))
                entry["this_run"] = (entry.get("dag_id"), entry.get("run_id")) == (
                    self.run.dag_id,
                    self.run.run_id,
                )
            registries.append(
                {
                    "name": key[len(REGISTRY_PREFIX) : -len(".json")],
                    "url": self.url(key),
                    "history": history,
                    "pending": document.get("pending"),
                    "status": artifacts.champion_status(history, self.run.dag_id, self.run.run_id),
                }
            )
        return registries

    def context(self, task_id: str | None) -> dict:
        run = self.run
        listing: list[dict] = []
        truncated = False
        try:
            listing, truncated = list_objects(self.s3, self.bucket, self.prefixes, MAX_LISTED_OBJECTS)
        except Exception as error:
            self.problems.append(f"Could not list the run's objects in s3://{self.bucket}: {error}")
        found = artifacts.classify(listing, self.prefixes)
        leaderboards = [self.leaderboard(folder) for folder in found.leaderboards]
        labels = {
            str(entry.get("config_hash")): f"#{entry.get('rank')} {entry.get('label')}"
            for board in leaderboards
            for entry in board["entries"]
            if entry.get("config_hash")
        }
        registries = self.registries()
        ranks = {label: rank for rank, label in enumerate(labels.values())}
        training = sorted(
            (self.training(folder, labels) for folder in found.training),
            key=lambda item: ranks.get(item["label"].partition(" (")[0], len(ranks)),
        )
        evaluations = [self.evaluation(folder, labels) for folder in found.evaluations]
        return {
            "dag_id": run.dag_id,
            "run_id": run.run_id,
            "state": str(run.state.value if hasattr(run.state, "value") else run.state),
            "logical_date": run.logical_date,
            "run_after": run.run_after,
            "task_id": task_id,
            "bucket": self.bucket,
            "prefixes": self.prefixes,
            "order": section_order(task_id, sweep=bool(leaderboards)),
            "training": training,
            "evaluations": evaluations,
            "decided_promote": any(e["summary"].get("decision") == "promote" for e in evaluations),
            "leaderboards": leaderboards,
            "registries": registries,
            "champion": [r for r in registries if r["status"]],
            "files": [{**item, "url": self.url(item["key"])} for item in found.files],
            "truncated": truncated,
            "problems": self.problems,
        }


def _mapping(document: Any) -> dict:
    """``document`` when it is a JSON object, else ``{}`` (the page shows what it can)."""
    return document if isinstance(document, dict) else {}


def _config_label(folder_label: str, labels: Mapping[str, str]) -> str:
    """A sweep folder (``output/<config_hash>/…``) named after its leaderboard entry too."""
    for part in folder_label.split("/"):
        if part in labels:
            return f"{labels[part]} ({folder_label})"
    return folder_label


def metric_rows(summary: Mapping[str, Any]) -> list[dict]:
    """Rows of an evaluation summary's metrics: label, baseline, candidate, difference, primary."""
    metrics = summary.get("metrics")
    baseline, candidate = summary.get("baseline") or {}, summary.get("candidate") or {}
    if (
        not isinstance(metrics, Mapping)
        or not isinstance(baseline, Mapping)
        or not isinstance(candidate, Mapping)
    ):
        return []
    rows = []
    for name, info in metrics.items():
        before, after = baseline.get(name), candidate.get(name)
        numeric = isinstance(before, int | float) and isinstance(after, int | float)
        rows.append(
            {
                "label": (info or {}).get("label", name) if isinstance(info, Mapping) else name,
                "baseline": before,
                "candidate": after,
                "difference": after - before if numeric else None,
                "primary": name == summary.get("primary_metric"),
            }
        )
    return rows


def media_type(key: str) -> tuple[str, dict[str, str]]:
    """Content type and extra headers of an object served by ``/object``."""
    suffix = posixpath.splitext(key)[1].lower()
    if suffix in INLINE_TYPES:
        return INLINE_TYPES[suffix], {}
    name = posixpath.basename(key).replace('"', "")
    return "application/octet-stream", {"Content-Disposition": f'attachment; filename="{name}"'}


def create_app() -> FastAPI:
    """The plugin's FastAPI app (no OpenAPI docs: its routes are for the UI's iframe)."""
    app = FastAPI(
        title="Amazon Bedrock customization results",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    read_runs = [Depends(requires_access_dag("GET", DagAccessEntity.RUN))]

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["Cache-Control"] = "private, no-store"
        return response

    @app.get("/run", response_class=HTMLResponse, dependencies=read_runs)
    def run_page(
        session: SessionDep,
        dag_id: str = Query(..., max_length=250),
        run_id: str = Query(..., max_length=250),
        task_id: str | None = Query(None, max_length=250),
    ) -> HTMLResponse:
        """The results of one run: loss curves, evaluations, report, decision, leaderboard, registry."""
        run = find_run(session, dag_id, run_id)
        bucket = landing_zone_bucket()
        if bucket is None:
            context = {
                "dag_id": dag_id,
                "run_id": run_id,
                "variable": VARIABLE,
            }
            return HTMLResponse(render.page("no_bucket.html", context), status_code=200)
        try:
            s3 = s3_client()
        except Exception as error:  # e.g. no such connection
            raise HTTPException(
                status_code=502, detail=f"No S3 client from the connection {AWS_CONN_ID!r}: {error}"
            ) from None
        context = Page(run, bucket, s3).context(task_id)
        context.update(run_url=run_url(dag_id, run_id))
        return HTMLResponse(render.page("run.html", context))

    @app.get("/object", dependencies=read_runs)
    def run_object(
        session: SessionDep,
        dag_id: str = Query(..., max_length=250),
        run_id: str = Query(..., max_length=250),
        key: str = Query(..., max_length=artifacts.MAX_KEY_LENGTH),
    ) -> Response:
        """One S3 object of the run (or a registry object); 404 for any other key."""
        run = find_run(session, dag_id, run_id)
        prefixes = prefixes_of(run)
        if not artifacts.is_allowed(key, prefixes):
            raise HTTPException(
                status_code=404,
                detail=f"Not a result of this run: only objects under {', '.join(prefixes)} and "
                "registry/<name>.json of the landing-zone bucket are served.",
            )
        bucket = landing_zone_bucket()
        if bucket is None:
            raise HTTPException(status_code=404, detail=f"The Airflow Variable {VARIABLE} names no bucket.")
        try:
            body = read_object(s3_client(), bucket, key, MAX_OBJECT_BYTES)
        except ObjectTooLarge as error:
            raise HTTPException(status_code=413, detail=str(error)) from None
        if body is None:
            raise HTTPException(status_code=404, detail=f"s3://{bucket}/{key} does not exist.")
        content_type, headers = media_type(key)
        headers["Content-Security-Policy"] = OBJECT_POLICY
        return Response(content=body, media_type=content_type, headers=headers)

    return app
