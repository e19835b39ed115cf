"""``bedrock-customize preflight``: check a customization job's setup in AWS before it starts.

Prints every check (``PASS``/``FAIL`` with a fix), or the report as JSON with ``--json``. Exit code 0 when
all pass, 1 when any fails, 2 on usage errors. Uses the standard AWS credential chain and honours
``AWS_ENDPOINT_URL``. Registered in ``cli.COMMANDS`` as a ``Command`` built from :data:`NAME`, :data:`HELP`,
:func:`add_arguments` and :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from bedrock_customization.artifacts import parse_s3_uri
from bedrock_customization.exceptions import BedrockCustomizationError
from bedrock_customization.preflight import Clients, PreflightSpec, run_preflight, split_list

NAME = "preflight"
HELP = (
    "Check a customization job's setup (data, bucket encryption, role, VPC, model, hyperparameters) "
    "before it starts."
)


def _s3_uri(value: str) -> str:
    try:
        parse_s3_uri(value)
    except BedrockCustomizationError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return value


def _hyperparameter(value: str) -> dict[str, str]:
    pairs = {}
    for item in split_list(value):
        name, sep, setting = item.partition("=")
        if not sep or not name:
            raise argparse.ArgumentTypeError(f"expected name=value, got {item!r}")
        pairs[name] = setting
    return pairs


def _region_option() -> tuple[str | None, str]:
    """The default region from the environment, and a help text that says where it came from (or that the
    option is required because neither variable is set)."""
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        region = os.environ.get(variable)
        if region:
            return region, f"region of the job (default: {region}, from ${variable})"
    return None, "region of the job; required, as neither $AWS_REGION nor $AWS_DEFAULT_REGION is set"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    region, region_help = _region_option()
    parser.add_argument("--region", default=region, required=region is None, metavar="R", help=region_help)
    parser.add_argument("--base-model", required=True, metavar="ID", help="baseModelIdentifier")
    parser.add_argument("--role-arn", required=True, metavar="ARN", help="the Bedrock service role")
    parser.add_argument(
        "--training-uri", required=True, type=_s3_uri, metavar="URI", help="s3://… training .jsonl"
    )
    parser.add_argument(
        "--output-uri", required=True, type=_s3_uri, metavar="URI", help="s3://… output folder"
    )
    parser.add_argument(
        "--validation-uri",
        nargs="+",
        default=[],
        type=_s3_uri,
        metavar="URI",
        help="s3://… validation .jsonl",
    )
    parser.add_argument(
        "--customization-type", default="FINE_TUNING", metavar="T", help="default FINE_TUNING"
    )
    parser.add_argument(
        "--hyperparameters",
        nargs="+",
        default=[],
        type=_hyperparameter,
        metavar="K=V",
        help="e.g. epochCount=2 learningRate=0.00001 (space- or comma-separated)",
    )
    parser.add_argument("--kms-key", metavar="KEY", help="customer-managed key (id, ARN or alias)")
    parser.add_argument(
        "--grader-lambda-arn", metavar="ARN", help="the Lambda grader of a REINFORCEMENT_FINE_TUNING job"
    )
    parser.add_argument("--subnet-ids", nargs="+", default=[], metavar="ID", help="vpcConfig subnets")
    parser.add_argument("--security-group-ids", nargs="+", default=[], metavar="ID", help="vpcConfig groups")
    parser.add_argument(
        "--no-require-all-azs",
        dest="require_all_azs",
        action="store_false",
        help="accept subnets that do not cover every Availability Zone",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args: argparse.Namespace) -> int:
    import boto3

    subnets, groups = split_list(args.subnet_ids), split_list(args.security_group_ids)
    if bool(subnets) != bool(groups):
        return _usage_error(
            f"a VPC job needs subnets and security groups: add {'--security-group-ids' if subnets else '--subnet-ids'}"
        )
    hyperparameters: dict[str, str] = {}
    for pairs in args.hyperparameters:
        hyperparameters.update(pairs)
    try:
        spec = _spec(args, subnets, groups, hyperparameters)
    except BedrockCustomizationError as exc:
        return _usage_error(str(exc))
    report = run_preflight(
        spec, Clients.from_session(boto3.session.Session(region_name=args.region), args.region)
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.render())
        print(report.summary())
    return 0 if report.ok else 1


def _usage_error(message: str) -> int:
    print(f"bedrock-customize {NAME}: error: {message}", file=sys.stderr)
    return 2


def _spec(
    args: argparse.Namespace, subnets: list[str], groups: list[str], hyperparameters: dict[str, str]
) -> PreflightSpec:
    return PreflightSpec(
        region=args.region,
        base_model=args.base_model,
        role_arn=args.role_arn,
        training_uri=args.training_uri,
        output_uri=args.output_uri,
        validation_uris=tuple(args.validation_uri),
        customization_type=args.customization_type,
        hyperparameters=hyperparameters,
        kms_key=args.kms_key,
        subnet_ids=tuple(subnets),
        security_group_ids=tuple(groups),
        require_all_azs=args.require_all_azs,
        grader_lambda_arn=args.grader_lambda_arn,
    )
