"""``bedrock-customize prepare``: convert, validate and split a dataset into a base model's training format.

Writes ``DIR/train.jsonl``, ``DIR/validation.jsonl`` (when any record is held out) and ``DIR/report.json``.
Exit codes: 0 written; 1 invalid data (every reason printed with its line number, nothing written);
2 a usage error (bad option, unknown model, missing input). Registered in ``cli.COMMANDS`` as a ``Command``
built from :data:`NAME`, :data:`HELP`, :func:`add_arguments` and :func:`run`.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from bedrock_customization import catalog
from bedrock_customization.exceptions import (
    DatasetConfigError,
    HyperparameterError,
    InvalidDatasetError,
    UnknownModelError,
    UnsupportedCustomizationError,
)

if TYPE_CHECKING:
    from bedrock_customization.dataset.report import PrepareReport

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "prepare"
HELP = "Convert, validate and split a QA, chat or text dataset into a base model's training format."
PROG = "bedrock-customize prepare"

_USAGE_ERRORS = (DatasetConfigError, HyperparameterError, UnknownModelError, UnsupportedCustomizationError)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not in [0, 1)")
    return value


def _positive(text: str) -> int:
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
    fields.add_argument("--prompt-key", default="prompt", metavar="K", help="prompt field (default: prompt)")
    fields.add_argument(
        "--completion-key", default="completion", metavar="K", help="completion field (default: completion)"
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
        default=0.2,
        metavar="F",
        help="share of prompts held out for validation, in [0, 1) (default: 0.2)",
    )
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="split seed (default: 0)")
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
        type=_positive,
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

    try:
        mapping = FieldMapping(
            prompt_key=args.prompt_key,
            completion_key=args.completion_key,
            system_prompt=args.system,
            system_key=args.system_key,
            conversation_key=args.conversation_key,
            text_key=args.text_key,
        )
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
        )
    except InvalidDatasetError as exc:
        print(f"{PROG}: invalid data: {exc}", file=sys.stderr)
        return 1
    except _USAGE_ERRORS as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    print(report.render())
    print(f"wrote {args.out}: " + ", ".join(_written(report)))
    return 0


def _written(report: PrepareReport) -> list[str]:
    names = [output.name for output in (report.train, report.validation) if output is not None]
    return [*names, "report.json"]
