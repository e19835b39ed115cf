"""``bedrock-customize prepare``: convert, validate and split a dataset into a base model's training format.

Writes ``DIR/train.jsonl``, ``DIR/validation.jsonl`` (when any record is held out) and ``DIR/report.json``.
Exit codes: 0 written; 1 invalid data (the reasons printed grouped, with their line numbers and fixes;
nothing written); 2 a usage error (bad option, unknown model, missing input). Registered in ``cli.COMMANDS``
as a ``Command`` built from :data:`NAME`, :data:`HELP`, :func:`add_arguments` and :func:`run`.

The field mapping, seed and validation fraction default to the retraining DAG's (:data:`DAG_DEFAULTS`), so a
local run previews what the DAG will do. On a terminal, a progress bar (tqdm) shows on stderr for inputs that
take longer than :data:`PROGRESS_DELAY` seconds; it is off when stderr is not a terminal.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from bedrock_customization import catalog
from bedrock_customization.exceptions import (
    DatasetConfigError,
    HyperparameterError,
    InvalidDatasetError,
    UnknownModelError,
    UnsupportedCustomizationError,
)

if TYPE_CHECKING:
    from bedrock_customization.dataset.prepare import Progress
    from bedrock_customization.dataset.report import PrepareReport

__all__ = ["DAG_DEFAULTS", "HELP", "NAME", "add_arguments", "run"]

NAME = "prepare"
HELP = "Convert, validate and split a QA, chat or text dataset into a base model's training format."
PROG = "bedrock-customize prepare"

_USAGE_ERRORS = (DatasetConfigError, HyperparameterError, UnknownModelError, UnsupportedCustomizationError)

#: The params of the ``bedrock_retraining`` DAG (dags/bedrock_retraining.py) that ``prepare`` defaults to.
DAG_DEFAULTS: dict[str, Any] = {
    "prompt_key": "question",
    "completion_key": "answer",
    "seed": 42,
    "validation_fraction": 0.2,
}
#: Seconds before the progress bar appears (tqdm's ``delay``), so short runs print nothing extra.
PROGRESS_DELAY = 1.0


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not in [0, 1)")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive integer")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "input", metavar="INPUT", help="JSON array, JSON Lines or CSV file: a path or s3://bucket/key"
    )
    parser.add_argument("--base-model", required=True, metavar="ID", help="base model id (see `catalog`)")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory (created if missing)")
    fields = parser.add_argument_group("field mapping")
    fields.add_argument(
        "--prompt-key",
        default=DAG_DEFAULTS["prompt_key"],
        metavar="K",
        help=f"prompt field (default: {DAG_DEFAULTS['prompt_key']}, as in the retraining DAG)",
    )
    fields.add_argument(
        "--completion-key",
        default=DAG_DEFAULTS["completion_key"],
        metavar="K",
        help=f"completion field (default: {DAG_DEFAULTS['completion_key']}, as in the retraining DAG)",
    )
    fields.add_argument("--system", metavar="TEXT", help="system prompt for every record")
    fields.add_argument(
        "--system-key", metavar="K", help="per-record system prompt field (wins over --system)"
    )
    fields.add_argument(
        "--conversation-key", metavar="K", help="field holding a whole conversation: [{role, content}, ...]"
    )
    fields.add_argument("--text-key", metavar="K", help="continued pre-training text field (default: input)")
    parser.add_argument(
        "--validation-fraction",
        type=_fraction,
        default=DAG_DEFAULTS["validation_fraction"],
        metavar="F",
        help="share of prompts held out for validation, in [0, 1) "
        f"(default: {DAG_DEFAULTS['validation_fraction']:g}, as in the retraining DAG)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DAG_DEFAULTS["seed"],
        metavar="N",
        help=f"split seed (default: {DAG_DEFAULTS['seed']}, as in the retraining DAG)",
    )
    parser.add_argument(
        "--format", choices=catalog.RECORD_FORMATS, metavar="F", help="force an output record format"
    )
    parser.add_argument(
        "--customization-type",
        default="FINE_TUNING",
        metavar="T",
        help="FINE_TUNING (default), CONTINUED_PRE_TRAINING or DISTILLATION",
    )
    parser.add_argument(
        "--batch-size",
        type=positive_int,
        metavar="N",
        help="training batch size (Titan's token limit depends on it)",
    )
    parser.add_argument(
        "--on-invalid",
        choices=("fail", "skip"),
        default="fail",
        help="fail (default): any bad record fails; skip: drop bad records and report them",
    )
    parser.add_argument("--dedupe", action="store_true", help="drop exact duplicate records")
    parser.add_argument(
        "--input-format",
        choices=("auto", "json", "jsonl", "csv"),
        default="auto",
        help="input format (default: by extension and content)",
    )


def run(args: argparse.Namespace) -> int:
    from bedrock_customization.dataset.mapping import FieldMapping
    from bedrock_customization.dataset.prepare import prepare
    from bedrock_customization.dataset.problems import cli_option

    bar = _ProgressBar(args.input)
    try:
        mapping = FieldMapping(
            prompt_key=args.prompt_key,
            completion_key=args.completion_key,
            system_prompt=args.system,
            system_key=args.system_key,
            conversation_key=args.conversation_key,
            text_key=args.text_key,
        )
        try:
            report = prepare(
                args.input,
                args.out,
                base_model_id=args.base_model,
                customization_type=args.customization_type,
                record_format=args.format,
                mapping=mapping,
                validation_fraction=args.validation_fraction,
                seed=args.seed,
                batch_size=args.batch_size,
                on_invalid=args.on_invalid,
                dedupe=args.dedupe,
                input_format=args.input_format,
                progress=bar,
            )
        finally:
            bar.close()  # before any message, so none lands on the bar's line
    except InvalidDatasetError as exc:
        failed = exc.report
        message = f"{failed.headline()}\n{failed.render(cli_option)}" if failed is not None else str(exc)
        print(f"{PROG}: invalid data: {message}", file=sys.stderr)
        return 1
    except _USAGE_ERRORS as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    print(report.render(cli_option))
    print(f"wrote {args.out}: " + ", ".join(_written(report)))
    return 0


class _ProgressBar:
    """A tqdm bar on stderr over the input's bytes (its records when the size is unknown).

    Off when stderr is not a terminal (tqdm's ``disable=None``), and shown only once a run has taken
    :data:`PROGRESS_DELAY` seconds. Created on the first report, when the input's size is known.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.bar: Any = None
        self.by_bytes = False

    def __call__(self, progress: Progress) -> None:
        if self.bar is None:
            from tqdm import tqdm

            self.by_bytes = progress.total_bytes is not None and progress.bytes_read is not None
            self.bar = tqdm(
                desc=self.name,
                total=progress.total_bytes if self.by_bytes else None,
                unit="B" if self.by_bytes else " records",
                unit_scale=True,
                file=sys.stderr,
                disable=None,
                delay=PROGRESS_DELAY,
                leave=False,
                dynamic_ncols=True,
            )
        done = progress.bytes_read if self.by_bytes else progress.records_read
        self.bar.update(max(0, (done or 0) - self.bar.n))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _written(report: PrepareReport) -> list[str]:
    names = [output.name for output in (report.train, report.validation) if output is not None]
    return [*names, "report.json"]
