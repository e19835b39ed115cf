"""Hyperparameter sweeps: expand a search space, check it against the model catalog, rank the results.

Pure: no AWS, no Airflow (matplotlib only inside :func:`render_chart`). The sweep DAG
(``dags/bedrock_hparam_sweep.py``) runs one customization job per configuration and calls these.

* :func:`expand` turns a grid ``{"epochCount": [2, 4], "learningRate": [1e-5, 1e-4]}`` (every combination,
  in the grid's key order) or an explicit list of configurations ``[{"epochCount": 2}, ...]`` into a list
  of configurations.
* :func:`validate` checks every configuration with :func:`bedrock_customization.catalog.validate_hyperparameters`,
  raising one :class:`InvalidSweepError` that lists *every* invalid configuration with the catalog's
  messages (which name the allowed range), or returns :class:`SweepConfig` objects: values normalised to
  the strings Bedrock expects, missing hyperparameters filled with the catalog defaults, duplicates
  merged, each with a stable :func:`config_hash`.
* :func:`merge_results` joins each configuration with its job and metrics summary, :func:`rank` orders them by
  final validation loss; :func:`leaderboard`, :func:`leaderboard_csv` and :func:`render_chart` build the
  JSON document, the CSV and the PNG bar chart of the leaderboard.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bedrock_customization import catalog
from bedrock_customization.exceptions import BedrockCustomizationError, HyperparameterError
from bedrock_customization.naming import digest

log = logging.getLogger(__name__)

__all__ = [
    "COST_FIELD",
    "LEADERBOARD_SCHEMA",
    "RANK_METRIC",
    "RESULT_FIELDS",
    "InvalidSweepError",
    "SweepConfig",
    "SweepError",
    "choose",
    "config_hash",
    "duplicates",
    "expand",
    "leaderboard",
    "leaderboard_csv",
    "leaderboard_table",
    "losers",
    "merge_results",
    "rank",
    "render_chart",
    "strictest",
    "validate",
    "write_leaderboard",
]

LEADERBOARD_SCHEMA = 1
#: The figure configurations are ranked by (lower is better).
RANK_METRIC = "final_validation_loss"
#: Result fields copied into each leaderboard entry, in the CSV's column order (after the hyperparameters).
RESULT_FIELDS = (
    "final_validation_loss",
    "best_validation_loss",
    "best_epoch",
    "final_training_loss",
    "diverged",
    "job_name",
    "job_arn",
    "model_arn",
    "summary_uri",
    "loss_curve_uri",
)


#: Each entry's estimated training cost (:func:`bedrock_customization.cost.training_estimates`): the
#: leaderboard's "loss vs cost" column, shown when the entries carry it.
COST_FIELD = "estimated_training_cost_usd"


def _cost_columns(entries: Sequence[Mapping[str, Any]]) -> list[str]:
    return [COST_FIELD] if any(COST_FIELD in entry for entry in entries) else []


class SweepError(BedrockCustomizationError):
    """The search space itself is malformed (not a grid nor a list of configurations, empty, too large)."""


class InvalidSweepError(HyperparameterError):
    """Some configurations are invalid for the base model; ``problems`` has one sentence per problem.

    Each problem names the configuration (1-based position in the expanded list, and its values) and carries
    the catalog's message, which names the allowed range and the default.
    """

    def __init__(self, model_id: str, problems: Sequence[str], invalid: int = 0, total: int = 0) -> None:
        super().__init__(model_id, problems)
        self.invalid = invalid or len(self.problems)
        self.total = total or self.invalid
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        self.args = (
            f"{self.invalid} of {self.total} hyperparameter configurations are invalid for {model_id}; "
            f"no job was started. Fix or drop them:\n{lines}",
        )

    def __reduce__(self):
        return type(self), (self.model_id, self.problems, self.invalid, self.total)


# --------------------------------------------------------------------------------------------- expansion


def expand(space: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The configurations of a search space, as given (values not yet checked nor normalised).

    A mapping is a grid: each key maps to a list of values (a single value means a one-element list) and
    every combination is returned, the first key varying slowest. A list is taken as explicit configurations
    (each a mapping; ``{}`` means "all defaults").
    """
    if isinstance(space, Mapping):
        if not space:
            raise SweepError("The grid is empty: give at least one hyperparameter with a list of values.")
        axes: list[list[Any]] = []
        for name, values in space.items():
            if not isinstance(name, str) or not name:
                raise SweepError(f"Grid keys must be hyperparameter names, not {name!r}.")
            if isinstance(values, Mapping):
                raise SweepError(
                    f"Grid key {name}: expected a list of values, got a mapping {dict(values)!r}."
                )
            listed = list(values) if isinstance(values, list | tuple) else [values]
            if not listed:
                raise SweepError(f"Grid key {name} has an empty list of values.")
            axes.append(listed)
        return [dict(zip(space.keys(), combination, strict=True)) for combination in itertools.product(*axes)]
    if isinstance(space, str | bytes) or not isinstance(space, Sequence):
        raise SweepError(
            'The search space must be a grid (an object of lists, e.g. {"epochCount": [2, 4]}) or a list of '
            f"configurations (a list of objects), not {type(space).__name__}."
        )
    if not space:
        raise SweepError("The list of configurations is empty: give at least one.")
    configurations: list[dict[str, Any]] = []
    for position, item in enumerate(space, start=1):
        if not isinstance(item, Mapping):
            raise SweepError(f"Configuration {position} must be an object of hyperparameters, not {item!r}.")
        configurations.append(dict(item))
    return configurations


# -------------------------------------------------------------------------------------------- validation


def config_hash(
    model_id: str, hyperparameters: Mapping[str, str], customization_type: str = "FINE_TUNING"
) -> str:
    """A stable 12-hex-digit id of a configuration: a digest of the model, type and sorted normalised values.

    Pass values normalised by the catalog (strings, defaults filled), so that ``{"epochCount": 4}`` and
    ``{"epochCount": "4"}`` get the same hash.
    """
    items = [f"{name}={value}" for name, value in sorted(hyperparameters.items())]
    return digest(model_id, str(customization_type).upper(), *items)


@dataclass(frozen=True)
class SweepConfig:
    """One validated configuration of a sweep.

    :ivar index: position in the validated (deduplicated) list, from 0; the mapped task's map index.
    :ivar config_hash: see :func:`config_hash`.
    :ivar hyperparameters: every hyperparameter of the model as Bedrock's strings (defaults filled).
    :ivar swept: the normalised values of the hyperparameters the search space names.
    :ivar positions: 1-based positions in the expanded search space that normalised to this configuration.
    :ivar max_tokens_per_record: the token limit per record these values imply (Titan: set by batchSize).
    """

    index: int
    config_hash: str
    hyperparameters: Mapping[str, str]
    swept: Mapping[str, str]
    positions: tuple[int, ...] = ()
    max_tokens_per_record: int | None = field(default=None, compare=False)

    @property
    def label(self) -> str:
        """``epochCount=4 learningRate=0.00001`` (the swept values; ``defaults`` when none)."""
        return " ".join(f"{name}={value}" for name, value in self.swept.items()) or "defaults"

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "config_hash": self.config_hash,
            "label": self.label,
            "hyperparameters": dict(self.hyperparameters),
            "swept": dict(self.swept),
            "positions": list(self.positions),
            "max_tokens_per_record": self.max_tokens_per_record,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SweepConfig:
        return cls(
            index=int(data["index"]),
            config_hash=str(data["config_hash"]),
            hyperparameters=dict(data["hyperparameters"]),
            swept=dict(data.get("swept") or {}),
            positions=tuple(data.get("positions") or ()),
            max_tokens_per_record=data.get("max_tokens_per_record"),
        )


def _given(configuration: Mapping[str, Any]) -> str:
    return ", ".join(f"{name}={value}" for name, value in configuration.items()) or "all defaults"


def validate(
    model_id: str,
    configurations: Sequence[Mapping[str, Any]],
    customization_type: str = "FINE_TUNING",
    *,
    max_configurations: int | None = None,
) -> list[SweepConfig]:
    """Check every configuration against the catalog; normalise, fill defaults, merge duplicates.

    Raises :class:`InvalidSweepError` listing every problem of every invalid configuration (nothing is
    returned for a partly invalid sweep), :class:`SweepError` when more than ``max_configurations`` distinct
    configurations remain, and the catalog's errors for an unknown model or unsupported customization type.
    """
    model = catalog.get_model(model_id)
    catalog.record_format(model.id, customization_type)  # raises with the supported types
    ctype = str(customization_type).strip().upper().replace("-", "_")
    problems: list[str] = []
    invalid = 0
    total = len(configurations)
    swept_names = list(dict.fromkeys(str(name) for configuration in configurations for name in configuration))
    by_hash: dict[str, SweepConfig] = {}
    for position, configuration in enumerate(configurations, start=1):
        try:
            values = catalog.validate_hyperparameters(model.id, configuration, ctype, fill_defaults=True)
        except HyperparameterError as error:
            invalid += 1
            problems.extend(
                f"configuration {position} of {total} ({_given(configuration)}): {problem}"
                for problem in error.problems
            )
            continue
        key = config_hash(model.id, values, ctype)
        if key in by_hash:
            first = by_hash[key]
            by_hash[key] = SweepConfig(
                first.index,
                key,
                first.hyperparameters,
                first.swept,
                (*first.positions, position),
                first.max_tokens_per_record,
            )
            continue
        swept = {name: values[name] for name in swept_names if name in values}
        by_hash[key] = SweepConfig(
            len(by_hash), key, dict(values), swept, (position,), values.max_tokens_per_record
        )
    if problems:
        raise InvalidSweepError(model.id, problems, invalid, total)
    configs = list(by_hash.values())
    if max_configurations is not None and len(configs) > int(max_configurations):
        raise SweepError(
            f"The search space has {len(configs)} distinct configurations, more than max_configurations="
            f"{max_configurations}: every one is a customization job (billed). Narrow the grid or raise "
            "max_configurations."
        )
    return configs


def duplicates(configs: Sequence[SweepConfig]) -> list[str]:
    """Sentences naming the configurations that normalised to the same values (merged into one job)."""
    return [
        f"configurations {', '.join(str(p) for p in config.positions)} are the same ({config.label}); "
        "one job runs for them"
        for config in configs
        if len(config.positions) > 1
    ]


def strictest(configs: Sequence[SweepConfig]) -> SweepConfig:
    """The configuration with the lowest token limit per record (Titan: the largest batchSize).

    The dataset is prepared and checked once for every configuration; checking it with this one makes sure
    every job accepts it.
    """
    if not configs:
        raise SweepError("No configurations.")
    return min(
        configs,
        key=lambda c: (c.max_tokens_per_record if c.max_tokens_per_record is not None else math.inf, c.index),
    )


# --------------------------------------------------------------------------------------------- ranking


def _loss(entry: Mapping[str, Any]) -> float | None:
    value = entry.get(RANK_METRIC)
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def rank(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Entries sorted best first, each with ``rank`` (1-based) set.

    Lower ``final_validation_loss`` is better; entries without a finite one come last, and diverged runs
    after the others. Ties go to the earlier configuration (``index``), then to ``config_hash``.
    """

    def key(entry: Mapping[str, Any]) -> tuple:
        loss = _loss(entry)
        return (
            loss is None,
            bool(entry.get("diverged")),
            loss if loss is not None else 0.0,
            entry.get("index", 0),
            str(entry.get("config_hash", "")),
        )

    ranked = [dict(entry) for entry in sorted(entries, key=key)]
    for position, entry in enumerate(ranked, start=1):
        entry["rank"] = position
    return ranked


def merge_results(
    configs: Sequence[Mapping[str, Any]],
    jobs: Sequence[Mapping[str, Any] | None],
    metrics: Sequence[Mapping[str, Any] | None],
) -> list[dict[str, Any]]:
    """One entry per configuration: its dict plus its job's result and its metrics summary.

    ``jobs`` are the customization results in configuration order (``job_arn``, ``job_name``, ``model_arn``);
    metrics summaries are matched to jobs by ``job_arn``, so their order does not matter.
    """
    if len(jobs) != len(configs):
        raise SweepError(f"{len(configs)} configurations but {len(jobs)} job results")
    by_job = {m.get("job_arn"): m for m in metrics if m}
    entries = []
    for config, job in zip(configs, jobs, strict=True):
        job = job or {}
        summary = by_job.get(job.get("job_arn"), {})
        entry = {
            key: config[key]
            for key in ("index", "config_hash", "label", "swept", "hyperparameters")
            if key in config
        }
        for name in RESULT_FIELDS:
            entry[name] = job.get(name) if name in ("job_name", "job_arn", "model_arn") else summary.get(name)
        entry["diverged"] = bool(entry["diverged"])
        entries.append(entry)
    return entries


def leaderboard(
    entries: Sequence[Mapping[str, Any]],
    *,
    top_k: int = 1,
    require_loss: bool = True,
    **context: Any,
) -> dict[str, Any]:
    """The leaderboard document: ``context`` (dag_id, logical date, model, dataset...) plus ranked entries.

    The first ``top_k`` entries with a finite validation loss are ``selected`` (``winner`` is the first).
    With ``require_loss=False`` (a retraining's single configuration, or a model trained without a
    validation set) an entry with a custom model is eligible without a loss; a diverged one never is.
    """
    ranked = rank(entries)
    if top_k < 1:
        raise SweepError(f"top_k must be at least 1, got {top_k}")
    eligible = [
        entry
        for entry in ranked
        if not entry.get("diverged")
        and (_loss(entry) is not None if require_loss else bool(entry.get("model_arn")))
    ]
    chosen = {entry["config_hash"] for entry in eligible[:top_k]}
    for entry in ranked:
        entry["selected"] = entry["config_hash"] in chosen
    swept = list(dict.fromkeys(name for entry in ranked for name in (entry.get("swept") or {})))
    return {
        "schema": LEADERBOARD_SCHEMA,
        **context,
        "metric": RANK_METRIC,
        "top_k": top_k,
        "swept": swept,
        "winner": eligible[0]["config_hash"] if eligible else None,
        "entries": ranked,
    }


def write_leaderboard(s3: Any, document: Mapping[str, Any], folder_uri: str, kms_key_id: str | None) -> dict:
    """Write ``leaderboard.json``, ``.csv`` and ``.png`` under ``folder_uri`` (SSE-KMS); returns their URIs."""
    from bedrock_customization import artifacts

    uris = {name: artifacts.join(folder_uri, f"leaderboard.{name}") for name in ("json", "csv", "png")}
    full = {**document, "uris": uris}
    bodies = {
        "json": (json.dumps(full, indent=2).encode(), "application/json"),
        "csv": (leaderboard_csv(full).encode(), "text/csv"),
        "png": (render_chart(full), "image/png"),
    }
    for name, (body, content_type) in bodies.items():
        artifacts.put_object(s3, uris[name], body, content_type, kms_key_id)
    return uris


def choose(
    board: Mapping[str, Any],
    candidates: Sequence[Mapping[str, Any]],
    serving: Sequence[str],
    evaluations: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """The candidate to promote: the best-scoring one its evaluation says to promote, else the best-scoring
    one (ties: the better rank), whose ``reject`` or ``inconclusive`` the promotion carries out (the champion
    stays); its evaluation summary plus its leaderboard entry and the ARN that served it (``serving_arn``: a
    throughput or an on-demand deployment)."""
    by_model = {e["model_arn"]: e for e in board["entries"]}
    scored = []
    for candidate, serving_arn, summary in zip(candidates, serving, evaluations, strict=True):
        entry = by_model[candidate["model_arn"]]
        metric = summary["primary_metric"]
        wins = summary["decision"] == "promote"
        scored.append((wins, summary["candidate"][metric], -entry["rank"], entry, serving_arn, summary))
    if not scored:
        raise SweepError("No candidate was evaluated.")
    _, _, _, entry, serving_arn, summary = max(scored, key=lambda item: item[:3])
    return {
        **{key: value for key, value in summary.items() if key != "uris"},
        "metric": summary["primary_metric"],
        "evaluation_uris": summary.get("uris"),
        "config_hash": entry["config_hash"],
        "label": entry["label"],
        "rank": entry["rank"],
        "hyperparameters": entry["hyperparameters"],
        "final_validation_loss": entry["final_validation_loss"],
        "model_arn": entry["model_arn"],
        "serving_arn": serving_arn,
        "leaderboard_uri": (board.get("uris") or {}).get("json"),
    }


def losers(
    board: Mapping[str, Any], chosen: Mapping[str, Any] | None, evaluated: bool
) -> list[dict[str, Any]]:
    """The entries that lost: not selected by the leaderboard, or evaluated and not chosen.

    Without a ``chosen`` candidate (the evaluation did not finish) the selected entries are not losers.
    """
    entries = board["entries"]
    lost = [dict(e) for e in entries if not e["selected"]]
    if chosen:
        lost += [dict(e) for e in entries if e["selected"] and e["config_hash"] != chosen["config_hash"]]
    elif evaluated and any(e["selected"] for e in entries):
        log.info("The evaluation did not finish: the selected models are kept.")
    return lost


def leaderboard_csv(document: Mapping[str, Any]) -> str:
    """The leaderboard as CSV: rank, config_hash, the swept hyperparameters, the results, ``selected``."""
    swept = list(document.get("swept") or [])
    costs = _cost_columns(document["entries"])
    columns = ["rank", "config_hash", *swept, *RESULT_FIELDS, *costs, "selected"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for entry in document["entries"]:
        values = entry.get("hyperparameters") or {}
        row = [entry.get("rank"), entry.get("config_hash")]
        row += [values.get(name, "") for name in swept]
        row += ["" if entry.get(name) is None else entry.get(name) for name in (*RESULT_FIELDS, *costs)]
        row.append(bool(entry.get("selected")))
        writer.writerow(row)
    return buffer.getvalue()


#: Result columns of the logged leaderboard table (the ARNs and URIs are in the JSON and CSV).
TABLE_RESULT_FIELDS = RESULT_FIELDS[:5]


def leaderboard_table(document: Mapping[str, Any]) -> str:
    """The leaderboard as an aligned text table for the task log: a header, then one line per configuration.

    Columns: rank, the first 8 characters of ``config_hash``, the swept hyperparameters, the losses, best epoch,
    ``diverged`` and ``selected`` (``winner`` for the winner).
    """
    from bedrock_customization.tables import text_table

    swept = list(document.get("swept") or [])
    costs = _cost_columns(document["entries"])
    rows = []
    for entry in document["entries"]:
        values = entry.get("hyperparameters") or {}
        selected = entry.get("selected")
        if selected and entry.get("config_hash") == document.get("winner"):
            selected = "winner"
        rows.append(
            [
                entry.get("rank"),
                str(entry.get("config_hash", ""))[:8],
                *(values.get(name) for name in swept),
                *(entry.get(name) for name in (*TABLE_RESULT_FIELDS, *costs)),
                selected,
            ]
        )
    return text_table(rows, ["rank", "config", *swept, *TABLE_RESULT_FIELDS, *costs, "selected"])


def render_chart(document: Mapping[str, Any], title: str | None = None) -> bytes:
    """A PNG bar chart of the final validation loss per configuration, best at the top, the winner in green.

    Other selected configurations (top k) are blue, diverged ones red, the rest grey; entries without a
    loss are listed with "no validation loss".
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    entries = list(document["entries"])
    height = max(3.0, 0.45 * len(entries) + 1.8)
    figure = Figure(figsize=(10, height), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    labels, values, colors = [], [], []
    winner = document.get("winner")
    for entry in entries:
        loss = _loss(entry)
        name = f"#{entry.get('rank')} {entry.get('label') or entry.get('config_hash')}"
        if entry.get("diverged"):
            name += " (diverged)"
        labels.append(name)
        values.append(loss if loss is not None else 0.0)
        if entry.get("config_hash") == winner:
            colors.append("tab:green")
        elif entry.get("selected"):
            colors.append("tab:blue")
        elif entry.get("diverged"):
            colors.append("tab:red")
        else:
            colors.append("tab:gray")
    positions = list(range(len(entries)))
    bars = axes.barh(positions, values, color=colors)
    axes.set_yticks(positions, labels, fontsize=9)
    axes.invert_yaxis()  # rank 1 at the top
    finite = [v for v, e in zip(values, entries, strict=True) if _loss(e) is not None]
    span = max(finite) if finite else 1.0
    for bar, entry in zip(bars, entries, strict=True):
        loss = _loss(entry)
        text = f"{loss:.4f}" if loss is not None else "no validation loss"
        if entry.get(COST_FIELD) is not None:
            text += f"  (training ~${entry[COST_FIELD]:,.2f} estimated)"
        axes.text(
            bar.get_width() + span * 0.01,
            bar.get_y() + bar.get_height() / 2,
            text,
            va="center",
            fontsize=9,
            fontweight="bold" if entry.get("config_hash") == winner else "normal",
        )
    axes.set_xlim(0, span * 1.2)
    axes.set_xlabel("final validation loss (lower is better)")
    axes.grid(True, axis="x", alpha=0.3)
    legend = [Patch(color="tab:green", label="winner")]
    if any(e.get("selected") and e.get("config_hash") != winner for e in entries):
        legend.append(Patch(color="tab:blue", label=f"top {document.get('top_k')}"))
    if any(e.get("diverged") for e in entries):
        legend.append(Patch(color="tab:red", label="diverged"))
    legend.append(Patch(color="tab:gray", label="other"))
    axes.legend(handles=legend, loc="upper right", fontsize=9)  # the best (shortest) bars are at the top
    if title is None:
        parts = [
            str(document[key]) for key in ("dag_id", "logical_date", "base_model_id") if document.get(key)
        ]
        title = "Hyperparameter sweep: final validation loss" + (f"\n{' / '.join(parts)}" if parts else "")
    axes.set_title(title, fontsize=11)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
