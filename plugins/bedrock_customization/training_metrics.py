"""Training metrics of a Bedrock customization job: parse its CSVs, summarise them, draw the loss curve.

Bedrock writes, under the job's output folder ``model-customization-job-<job id>/``:

* ``training_artifacts/step_wise_training_metrics.csv``: ``step_number``, ``epoch_number``,
  ``training_loss`` and, for some models, ``perplexity``;
* ``validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv`` (or the same
  without the inner ``validation/`` folder): ``step_number``, ``epoch_number``, ``validation_loss``, maybe
  ``perplexity``; absent when the job had no validation data.

Everything here is pure: text in, numbers, JSON-ready dicts and PNG bytes out. matplotlib is imported only
by :func:`render_loss_curve`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from bedrock_customization.artifacts import parse_s3_folder
from bedrock_customization.exceptions import BedrockCustomizationError

TRAINING_CSV = "training_artifacts/step_wise_training_metrics.csv"
#: Where the validation CSV may be, in the order they are tried.
VALIDATION_CSVS = (
    "validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv",
    "validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
)
SUMMARY_FILE = "metrics_summary.json"
LOSS_CURVE_FILE = "loss_curve.png"


class MetricsError(BedrockCustomizationError):
    """A metrics file that is missing, lacks a column or holds a value that is not a number."""


@dataclass(frozen=True)
class MetricRow:
    """One row of a metrics CSV; ``step`` is None when the file has no ``step_number`` column."""

    step: int | None
    epoch: int
    loss: float
    perplexity: float | None = None


@dataclass(frozen=True)
class EpochLosses:
    """Mean training and validation loss of one epoch (None when that epoch has no such rows)."""

    epoch: int
    training_loss: float | None
    validation_loss: float | None


@dataclass(frozen=True)
class MetricsSummary:
    """What a job's metrics say about the training run."""

    first_training_loss: float
    final_training_loss: float
    final_validation_loss: float | None
    final_perplexity: float | None
    epochs: tuple[EpochLosses, ...]
    epochs_logged: int
    epoch_count: int | None
    early_stopping_detected: bool
    steps: int
    best_epoch: int | None
    best_validation_loss: float | None
    diverged: bool

    @property
    def has_validation(self) -> bool:
        return self.final_validation_loss is not None or any(
            e.validation_loss is not None for e in self.epochs
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: non-finite numbers (a diverged run's ``inf``/``nan``) become None."""
        return {
            "first_training_loss": _finite(self.first_training_loss),
            "final_training_loss": _finite(self.final_training_loss),
            "final_validation_loss": _finite(self.final_validation_loss),
            "final_perplexity": _finite(self.final_perplexity),
            "epochs_logged": self.epochs_logged,
            "epoch_count": self.epoch_count,
            "early_stopping_detected": self.early_stopping_detected,
            "steps": self.steps,
            "best_epoch": self.best_epoch,
            "best_validation_loss": _finite(self.best_validation_loss),
            "diverged": self.diverged,
            "has_validation": self.has_validation,
            "per_epoch": [
                {
                    "epoch": e.epoch,
                    "training_loss": _finite(e.training_loss),
                    "validation_loss": _finite(e.validation_loss),
                }
                for e in self.epochs
            ],
        }


# ------------------------------------------------------------------------------------------------ locations


def job_id(job_arn: str) -> str:
    """The job id: the last segment of the job ARN."""
    return job_arn.rstrip("/").rsplit("/", 1)[-1]


def job_folder(output_uri: str, job_arn: str) -> tuple[str, str]:
    """(bucket, key prefix ending in ``/``) of the job's metrics folder under its ``outputDataConfig`` URI."""
    bucket, prefix = parse_s3_folder(output_uri, what="outputDataConfig.s3Uri", error=MetricsError)
    return bucket, f"{prefix}model-customization-job-{job_id(job_arn)}/"


# ------------------------------------------------------------------------------------------------ parsing


def parse_training_csv(text: str, source: str = TRAINING_CSV) -> list[MetricRow]:
    """Rows of ``step_wise_training_metrics.csv``; ``perplexity`` is optional."""
    return _parse(text, source, "training_loss", step_required=True)


def parse_validation_csv(text: str, source: str = VALIDATION_CSVS[0]) -> list[MetricRow]:
    """Rows of ``validation_metrics.csv``; ``step_number`` and ``perplexity`` are optional."""
    return _parse(text, source, "validation_loss", step_required=False)


def _parse(text: str, source: str, loss_column: str, *, step_required: bool) -> list[MetricRow]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = next(reader, None)
    if header is None:
        raise MetricsError(f"{source} is empty: expected a header with epoch_number and {loss_column}")
    columns = {name.strip().lower(): index for index, name in enumerate(header)}
    required = ["epoch_number", loss_column] + (["step_number"] if step_required else [])
    missing = [name for name in required if name not in columns]
    if missing:
        raise MetricsError(
            f"{source}: missing column(s) {', '.join(missing)}; the header is {', '.join(header) or '(empty)'}"
        )
    rows = []
    for line_no, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue

        def cell(name: str, line_no: int = line_no, cells: list[str] = cells) -> str | None:
            index = columns.get(name)
            if index is None or index >= len(cells) or not cells[index].strip():
                return None
            return cells[index].strip()

        try:
            step = cell("step_number")
            epoch = cell("epoch_number")
            loss = cell(loss_column)
            if epoch is None or loss is None:
                raise ValueError("empty epoch_number or " + loss_column)
            perplexity = cell("perplexity")
            rows.append(
                MetricRow(
                    step=None if step is None else _integer(step),
                    epoch=_integer(epoch),
                    loss=float(loss),
                    perplexity=None if perplexity is None else float(perplexity),
                )
            )
        except ValueError as err:
            raise MetricsError(f"{source} line {line_no}: {err} in {','.join(cells)!r}") from None
    return rows


def _integer(text: str) -> int:
    value = float(text)
    if not value.is_integer():
        raise ValueError(f"{text!r} is not a whole number")
    return int(value)


# ------------------------------------------------------------------------------------------------ summary


def summarize(
    training: Sequence[MetricRow], validation: Sequence[MetricRow] = (), epoch_count: int | None = None
) -> MetricsSummary:
    """Summarise the training run.

    ``epoch_count`` is the job's ``epochCount`` hyperparameter (or the model's default): fewer epochs logged
    than that means the job stopped early. A run whose final training loss is above its first (or is not a
    finite number) diverged. The best epoch has the lowest mean validation loss (the earliest on ties).
    """
    if not training:
        raise MetricsError(f"{TRAINING_CSV} has no rows: the job logged no training step")
    train_by_epoch = _mean_by_epoch(training)
    valid_by_epoch = _mean_by_epoch(validation)
    epochs = tuple(
        EpochLosses(epoch, train_by_epoch.get(epoch), valid_by_epoch.get(epoch))
        for epoch in sorted(set(train_by_epoch) | set(valid_by_epoch))
    )
    scored = [(loss, epoch) for epoch, loss in valid_by_epoch.items() if math.isfinite(loss)]
    best_loss, best_epoch = min(scored) if scored else (None, None)
    first, final = training[0].loss, training[-1].loss
    steps = [row.step for row in training if row.step is not None]
    # Epoch numbers may start at 0 or 1: count the distinct epochs, not the highest number.
    logged = len(train_by_epoch)
    return MetricsSummary(
        first_training_loss=first,
        final_training_loss=final,
        final_validation_loss=validation[-1].loss if validation else None,
        final_perplexity=training[-1].perplexity,
        epochs=epochs,
        epochs_logged=logged,
        epoch_count=epoch_count,
        early_stopping_detected=epoch_count is not None and logged < epoch_count,
        steps=max(steps) if steps else len(training),
        best_epoch=best_epoch,
        best_validation_loss=best_loss,
        diverged=not math.isfinite(final) or final > first,
    )


def _mean_by_epoch(rows: Iterable[MetricRow]) -> dict[int, float]:
    groups: dict[int, list[float]] = {}
    for row in rows:
        groups.setdefault(row.epoch, []).append(row.loss)
    return {epoch: math.fsum(values) / len(values) for epoch, values in groups.items()}


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


# ------------------------------------------------------------------------------------------------ plot


def render_loss_curve(summary: MetricsSummary, title: str) -> bytes:
    """A PNG of the mean training and validation loss per epoch, the best epoch marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(8, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    train = [(e.epoch, e.training_loss) for e in summary.epochs if _finite(e.training_loss) is not None]
    valid = [(e.epoch, e.validation_loss) for e in summary.epochs if _finite(e.validation_loss) is not None]
    if train:
        axes.plot(*zip(*train, strict=True), marker="o", color="tab:blue", label="training loss (epoch mean)")
    if valid:
        axes.plot(*zip(*valid, strict=True), marker="s", color="tab:orange", label="validation loss")
    if summary.best_epoch is not None:
        axes.axvline(
            summary.best_epoch, color="tab:green", linestyle=":", label=f"best epoch ({summary.best_epoch})"
        )
    if not train and not valid:
        axes.text(0.5, 0.5, "no finite loss values", ha="center", va="center", transform=axes.transAxes)
    notes = []
    if summary.diverged:
        notes.append("diverged")
    if summary.early_stopping_detected:
        notes.append(f"stopped early: {summary.epochs_logged} of {summary.epoch_count} epochs")
    axes.set_title(f"{title}" + (f"\n({'; '.join(notes)})" if notes else ""), fontsize=11)
    axes.set_xlabel("epoch")
    axes.set_ylabel("loss")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(True, alpha=0.3)
    if train or valid:
        axes.legend()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
