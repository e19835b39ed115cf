"""The ``bedrock-customize`` command line.

Each subcommand is a :class:`Command` in :data:`COMMANDS`: a name, a help line, a function that adds its
arguments and a function that runs it and returns the exit code. To add one, write those two functions and
append a ``Command``. Exit codes: 0 success, 1 a domain error (message on stderr, no traceback), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from bedrock_customization import __version__, catalog, cli_generate, cli_iam, cli_preflight, cli_prepare
from bedrock_customization.exceptions import BedrockCustomizationError

PROG = "bedrock-customize"


@dataclass(frozen=True)
class Command:
    """A subcommand: ``add_arguments(parser)`` declares its options, ``run(args)`` returns the exit code."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# ---------------------------------------------------------------------------------------------- catalog


def _catalog_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the models as a JSON list")
    parser.add_argument("--family", metavar="F", help="only models of this family, e.g. nova or llama-3.2")
    parser.add_argument(
        "--region", metavar="R", help="only models customizable in this region, e.g. us-west-2"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare the catalog with ListFoundationModels in --region (default: $AWS_REGION or "
        "$AWS_DEFAULT_REGION) of the current credentials (AWS_ENDPOINT_URL honoured) and print the "
        "differences (the whole catalog; --family is ignored); exit code 1 when there are any",
    )


def _run_catalog(args: argparse.Namespace) -> int:
    if args.check:
        return _run_catalog_check(args)
    models = catalog.list_models(family=args.family, region=args.region)
    if args.json:
        print(json.dumps([model.to_dict() for model in models], indent=2))
        return 0
    if not models:
        regions = sorted({r for m in catalog.list_models(family=args.family) for r in m.regions})
        print(f"No customizable base model in region {args.region}; catalog regions: {', '.join(regions)}")
        return 0
    print(render_catalog(models))
    return 0


def _run_catalog_check(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from bedrock_customization import catalog_drift

    region = args.region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if not region:
        raise BedrockCustomizationError("catalog --check needs --region (or $AWS_REGION / $AWS_DEFAULT_REGION)")
    try:
        summaries = boto3.client("bedrock", region_name=region).list_foundation_models()["modelSummaries"]
    except (BotoCoreError, ClientError) as exc:
        raise BedrockCustomizationError(
            f"ListFoundationModels in {region} failed: {exc}; check the credentials and that the caller may "
            "use bedrock:ListFoundationModels"
        ) from exc
    models = catalog.list_models()
    drift = catalog_drift.find_drift(models, summaries, region, date.today(), catalog.withdrawn_ids())
    if args.json:
        print(json.dumps([d.to_dict() for d in drift], indent=2))
    else:
        print(catalog_drift.render_drift(drift, region))
    return 1 if drift else 0


def render_catalog(models: Sequence[catalog.BaseModel], today: date | None = None) -> str:
    """Fixed-width table of models, one block of lines per model."""
    today = today or date.today()
    headers = [
        "MODEL",
        "FAMILY",
        "REGIONS",
        "LIFECYCLE",
        "CUSTOMIZATION",
        "RECORD FORMAT",
        "LIMITS",
        "HYPERPARAMETERS",
    ]
    rows = []
    for model in models:
        features = [
            label
            for label, present in (
                ("multimodal", model.multimodal),
                ("on-demand deployment", model.supports_on_demand_deployment),
            )
            if present
        ]
        lifecycle = model.lifecycle.status_on(today)
        if model.lifecycle.end_of_life:
            lifecycle += f" {model.lifecycle.end_of_life.isoformat()}"
        rows.append(
            [
                [model.id, f"{model.provider} {model.name}", *([", ".join(features)] if features else [])],
                [model.family],
                list(model.regions),
                [lifecycle],
                [_customization_line(model, ctype, today) for ctype in model.customization_types],
                [model.record_formats[ctype] for ctype in model.customization_types],
                _limit_lines(model.limits),
                [spec.compact() for spec in model.hyperparameters.values()],
            ]
        )
    return render_table(headers, rows)


def _customization_line(model: catalog.BaseModel, ctype: str, today: date) -> str:
    """The type, and for DISTILLATION the teachers it can have on ``today``."""
    if ctype != "DISTILLATION":
        return ctype
    teachers = [teacher.id for teacher in catalog.distillation_teachers(model.id, today)]
    return f"{ctype} (teacher {' or '.join(teachers)})" if teachers else f"{ctype} (no current teacher)"


def _limit_lines(limits: catalog.Limits) -> list[str]:
    lines = []
    low, high = limits.min_training_records, limits.max_training_records
    if low is not None or high is not None:
        lines.append(f"train {low or 1}..{high}" if high is not None else f"train >={low}")
    if limits.max_validation_records is not None:
        lines.append(f"validation <={limits.max_validation_records}")
    if limits.max_total_records is not None:
        lines.append(f"total <={limits.max_total_records}")
    if limits.token_steps:
        lines.extend(f"tokens <={s.max_tokens} @batch<={s.batch_size_max}" for s in limits.token_steps)
    else:
        lines.append(f"tokens <={limits.max_tokens_per_record}")
    if limits.max_input_tokens is not None and limits.max_output_tokens is not None:
        lines.append(f"  (in {limits.max_input_tokens} + out {limits.max_output_tokens})")
    lines.append(f"~{limits.chars_per_token:g} chars/token")
    if limits.max_training_file_bytes is not None:
        files = _size(limits.max_training_file_bytes)
        if limits.max_validation_file_bytes is not None:
            files += f" / {_size(limits.max_validation_file_bytes)}"
        lines.append(f"files <={files}")
    if limits.max_images_per_sample is not None:
        lines.append(f"images <={limits.max_images_per_sample}/record")
    if limits.max_image_bytes is not None:
        lines.append(f"image <={_size(limits.max_image_bytes)}")
    return lines


def _size(num_bytes: int) -> str:
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if num_bytes >= factor and num_bytes % factor == 0:
            return f"{num_bytes // factor} {unit}"
    return f"{num_bytes} B"


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Sequence[str]]]) -> str:
    """Left-aligned columns; each cell is a list of lines and rows are separated by a blank line."""
    widths = [len(h) for h in headers]
    for row in rows:
        for column, cell in enumerate(row):
            widths[column] = max([widths[column], *(len(line) for line in cell)])

    def line(cells: Sequence[str]) -> str:
        return "  ".join(text.ljust(width) for text, width in zip(cells, widths, strict=True)).rstrip()

    out = [line(headers), line(["-" * w for w in widths])]
    for index, row in enumerate(rows):
        if index:
            out.append("")
        for k in range(max(len(cell) for cell in row)):
            out.append(line([cell[k] if k < len(cell) else "" for cell in row]))
    return "\n".join(out)


CATALOG = Command(
    name="catalog",
    help="List the customizable base models with their formats, limits and hyperparameters.",
    add_arguments=_catalog_arguments,
    run=_run_catalog,
)

#: Registered subcommands, in the order ``--help`` lists them.
COMMANDS: list[Command] = [
    CATALOG,
    Command(cli_iam.NAME, cli_iam.HELP, cli_iam.add_arguments, cli_iam.run),
    Command(cli_preflight.NAME, cli_preflight.HELP, cli_preflight.add_arguments, cli_preflight.run),
    Command(cli_prepare.NAME, cli_prepare.HELP, cli_prepare.add_arguments, cli_prepare.run),
    Command(cli_generate.NAME, cli_generate.HELP, cli_generate.add_arguments, cli_generate.run),
]


# ------------------------------------------------------------------------------------------------- main


def build_parser(commands: Sequence[Command] | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Prepare, check and inspect Amazon Bedrock model customization."
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS if commands is None else commands:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(command=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code instead of exiting."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help / --version (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return args.command.run(args)
    except BedrockCustomizationError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `bedrock-customize catalog | head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
