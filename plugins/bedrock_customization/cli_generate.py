"""``bedrock-customize generate-eval-set``: question/answer pairs a model writes from documents, as a held-out
evaluation set in a base model's training format.

Reads PDF, text, Markdown, HTML, CSV or Office documents (files, folders, S3 objects or prefixes), asks
``--model-id`` through Converse (documents as content blocks, a forced tool call) for ``--count`` pairs, drops
those repeating a prompt of ``--training-data`` or each other, validates them like ``prepare`` does, and
writes ``--output`` (a ``.jsonl`` path or ``s3://`` URI, written with SSE-KMS) and its report beside it
(``NAME.report.json``). Exit codes: 0 written (fewer pairs than asked is a warning on stderr); 1 bad documents,
options or model reply (the reason on stderr); 2 usage. Uses the standard AWS credential chain and honours
``AWS_ENDPOINT_URL``. Registered in ``cli.COMMANDS`` from :data:`NAME`, :data:`HELP`, :func:`add_arguments`
and :func:`run`. See :mod:`bedrock_customization.evaluation.generate`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from bedrock_customization import artifacts
from bedrock_customization.cli_prepare import positive_int
from bedrock_customization.evaluation.generate import DEFAULT_NEAR_DUPLICATE, GenerationError

__all__ = ["HELP", "NAME", "add_arguments", "run"]

NAME = "generate-eval-set"
HELP = "Generate a held-out evaluation set of question/answer pairs from documents with a Bedrock model."


def _threshold(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text} is not in (0, 1]")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--documents",
        required=True,
        nargs="+",
        metavar="PATH_OR_S3",
        help="documents: files, folders, s3://bucket/key objects or s3://bucket/prefix/ (pdf, txt, md, html, "
        "csv, doc, docx, xls, xlsx)",
    )
    parser.add_argument(
        "--model-id",
        required=True,
        metavar="ID",
        help="the model that writes the pairs; it must take documents and forced tool use in Converse "
        "(e.g. anthropic.claude-3-5-haiku-20241022-v1:0 or amazon.nova-pro-v1:0, or an inference profile)",
    )
    parser.add_argument(
        "--base-model", required=True, metavar="ID", help="the model being customized: its record format"
    )
    parser.add_argument("--count", type=positive_int, default=32, metavar="N", help="pairs to generate (32)")
    parser.add_argument(
        "--training-data",
        metavar="PATH_OR_S3",
        help="prepared training data (JSON Lines); questions repeating its prompts are dropped",
    )
    parser.add_argument(
        "--output", required=True, metavar="PATH_OR_S3", help="the .jsonl file to write, local or s3://"
    )
    parser.add_argument(
        "--near-duplicate-threshold",
        type=_threshold,
        default=DEFAULT_NEAR_DUPLICATE,
        metavar="J",
        help=f"word-set Jaccard similarity from which two questions are duplicates ({DEFAULT_NEAR_DUPLICATE})",
    )
    parser.add_argument("--kms-key-id", metavar="KEY", help="KMS key for an s3:// output (default aws/s3)")
    parser.add_argument(
        "--region",
        default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"),
        metavar="R",
        help="region of the model (default: $AWS_REGION or $AWS_DEFAULT_REGION)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def report_location(output: str) -> str:
    """``x/eval.jsonl`` -> ``x/eval.report.json``."""
    stem = output[: -len(".jsonl")] if output.endswith(".jsonl") else output
    return f"{stem}.report.json"


def _write(location: str, body: bytes, content_type: str, s3: Any, kms_key_id: str | None) -> None:
    if location.startswith(artifacts.SCHEME):
        artifacts.put_object(s3, location, body, content_type, kms_key_id)
        return
    path = Path(location).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)


def run(args: argparse.Namespace) -> int:
    import boto3
    from botocore.config import Config

    from bedrock_customization.evaluation.generate import (
        generate,
        prompts_of,
        read_documents,
        read_text,
        to_documents,
    )
    from bedrock_customization.evaluation.invoke import NO_BOTOCORE_RETRIES, call_with_retries

    if args.output.startswith(artifacts.SCHEME):
        _, key = artifacts.parse_s3_uri(args.output, what="--output", error=GenerationError)
        if not key or key.endswith("/"):
            raise GenerationError(
                f"--output {args.output} names a folder: give the object, e.g. .../eval.jsonl"
            )
    elif Path(args.output).is_dir():
        raise GenerationError(
            f"--output {args.output} is a folder: give the file, e.g. {args.output}/eval.jsonl"
        )
    if not args.region:
        raise GenerationError("Give --region (or set $AWS_REGION or $AWS_DEFAULT_REGION)")
    locations = [args.documents, [args.training_data or ""], [args.output]]
    needs_s3 = any(str(item).startswith(artifacts.SCHEME) for group in locations for item in group)
    s3 = boto3.client("s3", region_name=args.region) if needs_s3 else None
    documents = to_documents(read_documents(args.documents, s3_client=s3))
    training = prompts_of(read_text(args.training_data, s3), args.training_data) if args.training_data else []
    runtime = boto3.client("bedrock-runtime", region_name=args.region, config=Config(**NO_BOTOCORE_RETRIES))

    def converse(**request: Any) -> Any:
        reply, _ = call_with_retries(
            lambda: runtime.converse(**request), what=f"Converse with {args.model_id}"
        )
        return reply

    result = generate(
        converse,
        args.model_id,
        documents,
        args.count,
        base_model_id=args.base_model,
        training_prompts=training,
        near_duplicate_threshold=args.near_duplicate_threshold,
    )
    report = {**result.report, "output": args.output}
    report_uri = report_location(args.output)
    _write(args.output, result.jsonl(), "application/jsonl", s3, args.kms_key_id)
    _write(
        report_uri,
        json.dumps(report, indent=2, ensure_ascii=False).encode(),
        "application/json",
        s3,
        args.kms_key_id,
    )
    for warning in report["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
        return 0
    dropped = ", ".join(f"{reason} {n}" for reason, n in report["dropped"].items()) or "none"
    print(
        f"Wrote {report['generated']} question/answer pairs ({report['record_format']}) from "
        f"{len(documents)} documents to {args.output} in {report['requests']} requests; dropped: {dropped}. "
        f"Report: {report_uri}"
    )
    return 0
