"""Which S3 objects belong to a DAG run, and what each of them is. Pure: keys in, decisions out.

A run may only see its own prefixes in the landing-zone bucket, plus the model registries:

* every DAG: ``runs/<dag_id>/<digest(dag_id, run_id)>/`` (the retraining DAG's ``plan``);
* the sweep DAG also: ``runs/<dag_id>/<YYYY-MM-DD>/`` and ``sweeps/<YYYY-MM-DD>/``, the date being the run's
  logical date (else its ``run_after``) in UTC, as its ``plan`` derives them;
* ``registry/<name>.json`` for any valid registry name (the champion history).

Anything else, including keys with ``..``, empty segments, backslashes or control characters, is refused.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from bedrock_customization.evaluation.report import CHART_NAME
from bedrock_customization.evaluation.storage import REPORT_NAME, RESPONSES_NAME, SUMMARY_NAME
from bedrock_customization.naming import digest
from bedrock_customization.promotion import (
    ON_DEMAND,
    REGISTRY_PREFIX,
    is_valid_name,
    serving_kind_of,
    upgraded,
)
from bedrock_customization.training_metrics import LOSS_CURVE_FILE
from bedrock_customization.training_metrics import SUMMARY_FILE as METRICS_SUMMARY_FILE

#: DAGs that write the sweep layout (per logical date) besides the per-run prefix.
SWEEP_DAG_IDS = frozenset({"bedrock_hparam_sweep"})
LEADERBOARD_STEM = "leaderboard"
MAX_KEY_LENGTH = 1024
_UNSAFE_KEY = re.compile(r"[\x00-\x1f\x7f\\]")


def run_date(logical_date: datetime | None, run_after: datetime) -> date:
    """The date a sweep run files its work under: its logical date, else ``run_after``, in UTC."""
    moment = logical_date or run_after
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date()


def run_prefixes(dag_id: str, run_id: str, day: date) -> tuple[str, ...]:
    """The S3 key prefixes (each ending in ``/``) the run ``dag_id``/``run_id`` writes its results under."""
    prefixes = [f"runs/{dag_id}/{digest(dag_id, run_id)}/"]
    if dag_id in SWEEP_DAG_IDS:
        prefixes += [f"runs/{dag_id}/{day.isoformat()}/", f"sweeps/{day.isoformat()}/"]
    return tuple(prefixes)


def is_safe_key(key: object) -> bool:
    """A plain object key: no leading ``/``, no empty, ``.`` or ``..`` segment, no backslash or control
    character, at most 1024 characters, not a folder."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH or _UNSAFE_KEY.search(key):
        return False
    return all(part not in ("", ".", "..") for part in key.split("/"))


def is_registry_key(key: str) -> bool:
    """Whether ``key`` is ``registry/<name>.json`` for a valid registry name."""
    if not key.startswith(REGISTRY_PREFIX) or not key.endswith(".json"):
        return False
    name = key[len(REGISTRY_PREFIX) : -len(".json")]
    return "/" not in name and is_valid_name(name)


def is_allowed(key: object, prefixes: Iterable[str]) -> bool:
    """Whether the run with ``prefixes`` may read ``key``: under one of them, or a registry object."""
    if not is_safe_key(key):
        return False
    assert isinstance(key, str)
    return is_registry_key(key) or any(key.startswith(prefix) for prefix in prefixes)


def resolve_relative(base_key: str, reference: str) -> str | None:
    """The key a relative reference in the object ``base_key`` (e.g. an image in a report) points at.

    None for anything that is not a plain relative path (a URL, an absolute path, a fragment, a query).
    """
    if not reference or reference.startswith(("/", "#", "?")) or ":" in reference.split("/")[0]:
        return None
    if "?" in reference or "#" in reference:
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base_key), reference))
    return joined if is_safe_key(joined) else None


@dataclass
class Folder:
    """One folder's recognised files (``role -> key``), e.g. ``{"loss_curve": ..., "summary": ...}``."""

    folder: str
    label: str
    files: dict[str, str] = field(default_factory=dict)


@dataclass
class Artifacts:
    """A run's objects, sorted into what the page shows."""

    training: list[Folder] = field(default_factory=list)
    evaluations: list[Folder] = field(default_factory=list)
    leaderboards: list[Folder] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not self.files


_ROLES = {
    LOSS_CURVE_FILE: ("training", "loss_curve"),
    METRICS_SUMMARY_FILE: ("training", "summary"),
    CHART_NAME: ("evaluations", "chart"),
    REPORT_NAME: ("evaluations", "report"),
    SUMMARY_NAME: ("evaluations", "summary"),
    RESPONSES_NAME: ("evaluations", "responses"),
    f"{LEADERBOARD_STEM}.png": ("leaderboards", "chart"),
    f"{LEADERBOARD_STEM}.json": ("leaderboards", "json"),
    f"{LEADERBOARD_STEM}.csv": ("leaderboards", "csv"),
}
# A folder is a training or evaluation result only with its main file (summary.json alone is ambiguous).
_REQUIRED = {
    "training": ("loss_curve", "summary"),
    "evaluations": ("summary", "report"),
    "leaderboards": ("json", "chart"),
}


def label_of(key: str, prefixes: Iterable[str]) -> str:
    """``key`` relative to the prefix it is under (the prefix itself when it is directly there)."""
    for prefix in prefixes:
        if key.startswith(prefix):
            return key[len(prefix) :] or prefix
    return key


def classify(objects: Iterable[Mapping[str, Any]], prefixes: Iterable[str]) -> Artifacts:
    """Sort listed objects (``{"key", "size", ...}``) into training, evaluation and leaderboard folders.

    A folder counts as training with a loss curve or a metrics summary, as an evaluation with its
    ``summary.json`` (an evaluation job's own files under it are ignored), as a leaderboard with its JSON.
    """
    prefixes = tuple(prefixes)
    artifacts = Artifacts()
    groups: dict[tuple[str, str], Folder] = {}
    for obj in sorted(objects, key=lambda o: o["key"]):
        key = obj["key"]
        artifacts.files.append({**obj, "label": label_of(key, prefixes)})
        section_role = _ROLES.get(posixpath.basename(key))
        if section_role is None:
            continue
        section, role = section_role
        folder = posixpath.dirname(key) + "/"
        group = groups.setdefault((section, folder), Folder(folder, label_of(folder, prefixes)))
        group.files[role] = key
    for (section, _), group in sorted(groups.items()):
        if any(role in group.files for role in _REQUIRED[section]):
            getattr(artifacts, section).append(group)
    return artifacts


#: Champion fields shown in the history, in order.
CHAMPION_FIELDS = (
    "version",
    "promoted_at",
    "serving_model_arn",
    "serving_arn",
    "serving_kind",
    "base_model_id",
    "dag_id",
    "run_id",
    "figures",
)


def champion_history(registry: Mapping[str, Any] | None, max_depth: int = 50) -> list[dict[str, Any]]:
    """The champions a registry object records, newest first (it and its ``previous`` chain), a schema-1
    record read as schema 2; each with ``serving_text`` (:func:`serving_text`)."""
    history: list[dict[str, Any]] = []
    node: Any = registry
    while isinstance(node, Mapping) and len(history) < max_depth:
        node = upgraded(node)
        if any(node.get(name) is not None for name in CHAMPION_FIELDS):
            entry = {name: node.get(name) for name in CHAMPION_FIELDS}
            history.append({**entry, "serving_text": serving_text(entry)})
        node = node.get("previous")
    return history


def serving_text(entry: Mapping[str, Any]) -> str:
    """How a registry entry's champion is served: ``"on demand (custom model deployment) <arn>"`` or
    ``"provisioned throughput <arn>"``; ``""`` when it names no serving resource."""
    arn = entry.get("serving_arn")
    if not arn:
        return ""
    kind = entry.get("serving_kind") or serving_kind_of(str(arn))
    return f"{'on demand (custom model deployment)' if kind == ON_DEMAND else 'provisioned throughput'} {arn}"


def figure_text(figures: object) -> str:
    """``"chrF: 18.34 → 80.92"`` from a registry entry's ``figures`` (the evaluation summary the promotion
    recorded: ``primary_metric``, ``metrics``, ``baseline``, ``candidate``); ``""`` when there are none."""
    if not isinstance(figures, Mapping):
        return ""
    metric = figures.get("primary_metric") or figures.get("metric")
    baseline, candidate = figures.get("baseline"), figures.get("candidate")
    metrics = figures.get("metrics")
    info = metrics.get(metric) if isinstance(metrics, Mapping) else None
    label = info.get("label", metric) if isinstance(info, Mapping) else metric
    if isinstance(baseline, Mapping) and isinstance(candidate, Mapping) and metric:
        before, after = baseline.get(metric), candidate.get(metric)
        if isinstance(before, int | float) and isinstance(after, int | float):
            return f"{label}: {before:.4g} → {after:.4g}"
    return str(label or "")


def champion_status(history: list[Mapping[str, Any]], dag_id: str, run_id: str) -> str | None:
    """``"champion"`` when the newest entry is this run's model, ``"replaced"`` when an older one is."""
    for position, entry in enumerate(history):
        if entry.get("dag_id") == dag_id and entry.get("run_id") == run_id:
            return "champion" if position == 0 else "replaced"
    return None
