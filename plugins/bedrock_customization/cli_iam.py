"""``bedrock-customize iam-policy``: print the least-privilege service-role policy and trust policy as JSON.

Pure: nothing is read from AWS. Registered in ``cli.COMMANDS`` as a ``Command`` built from :data:`NAME`,
:data:`HELP`, :func:`add_arguments` and :func:`run`.
"""

from __future__ import annotations

import argparse
import json

from bedrock_customization import iam
from bedrock_customization.exceptions import BedrockCustomizationError
from bedrock_customization.preflight import split_list

NAME = "iam-policy"
HELP = (
    "Print the least-privilege Bedrock service-role policy and trust policy (JSON) for a bucket, key and VPC."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--region", required=True, metavar="R", help="region of the jobs, e.g. us-east-1")
    parser.add_argument("--account", required=True, metavar="A", help="12-digit account id of the jobs")
    parser.add_argument("--bucket", required=True, metavar="B", help="the data bucket (name or s3://name)")
    parser.add_argument(
        "--prefix",
        nargs="+",
        default=[],
        metavar="P",
        help="key prefixes the jobs read (training/validation data, import sources), e.g. data/; "
        "IAM wildcards allowed; s3://B/P works too (default: the whole bucket)",
    )
    parser.add_argument(
        "--output-prefix",
        metavar="P",
        help="key prefix (folder) the jobs write to, e.g. output/ (default: the whole bucket)",
    )
    parser.add_argument("--kms-key", metavar="ARN", help="ARN of the customer-managed KMS key")
    parser.add_argument(
        "--subnet-ids",
        nargs="+",
        default=[],
        metavar="ID",
        help="subnets of vpcConfig (space- or comma-separated)",
    )
    parser.add_argument(
        "--security-group-ids",
        nargs="+",
        default=[],
        metavar="ID",
        help="security groups of vpcConfig (space- or comma-separated)",
    )
    parser.add_argument(
        "--import",
        dest="model_import",
        action="store_true",
        help="also let the role serve model import jobs (trust model-import-job/*)",
    )


def run(args: argparse.Namespace) -> int:
    bucket = _bucket(args.bucket)
    documents = iam.service_role_documents(
        region=args.region,
        account=args.account,
        bucket=bucket,
        model_import=args.model_import,
        data_prefixes=[_key(bucket, p) for p in split_list(args.prefix)],
        output_prefix=_key(bucket, args.output_prefix) if args.output_prefix else None,
        kms_key_arn=args.kms_key,
        subnet_ids=split_list(args.subnet_ids),
        security_group_ids=split_list(args.security_group_ids),
    )
    print(json.dumps(documents, indent=2))
    return 0


def _bucket(value: str) -> str:
    return value.removeprefix("s3://").rstrip("/")


def _key(bucket: str, prefix: str) -> str:
    """A key prefix given bare (``data/``) or as ``s3://bucket/data/`` of the same bucket."""
    if not prefix.startswith("s3://"):
        return prefix
    name, _, key = prefix.removeprefix("s3://").partition("/")
    if name != bucket:
        raise BedrockCustomizationError(f"{prefix} is not in bucket {bucket}; the policy covers one bucket")
    return key
