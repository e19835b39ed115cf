"""``bedrock-customize iam-policy``: the least-privilege service-role policy and trust policy as JSON.

Printed as one object (``{"policy": ..., "trust_policy": ...}``), or with ``--output-dir`` written as one
document per file, each of which ``aws iam put-role-policy --policy-document file://...`` and ``aws iam
create-role --assume-role-policy-document file://...`` take as it is. The S3 prefixes default to the landing
zone's (``runs/*/data/`` read, ``runs/*/output/`` written, ``models/import/`` read with ``--import``), never
the whole bucket, which holds the model registry too. Pure: nothing is read from AWS. Registered in ``cli.COMMANDS`` as a ``Command`` built from :data:`NAME`,
:data:`HELP`, :func:`add_arguments` and :func:`run`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bedrock_customization import iam
from bedrock_customization.artifacts import SCHEME, parse_s3_uri
from bedrock_customization.exceptions import BedrockCustomizationError
from bedrock_customization.preflight import split_list

#: The landing zone's prefixes (include/infra/landing_zone.yaml's DataPrefix and OutputPrefix defaults, the
#: DAGs' runs/<dag>/<run>/ layout) and the model import DAG's default source folder.
DATA_PREFIX = "runs/*/data/"
OUTPUT_PREFIX = "runs/*/output/"
IMPORT_PREFIX = "models/import/"
#: The files ``--output-dir`` writes.
FILES = {"policy": "role-policy.json", "trust_policy": "trust-policy.json"}

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
        default=None,
        metavar="P",
        help="key prefixes the jobs read (training/validation data, import sources); IAM wildcards allowed; "
        f"s3://B/P works too (default: the landing zone's {DATA_PREFIX}, plus {IMPORT_PREFIX} with --import; "
        "'' grants the whole bucket)",
    )
    parser.add_argument(
        "--output-prefix",
        default=OUTPUT_PREFIX,
        metavar="P",
        help=f"key prefix (folder) the jobs write to (default: the landing zone's {OUTPUT_PREFIX}; '' grants "
        "the whole bucket)",
    )
    parser.add_argument("--kms-key", metavar="ARN", help="ARN of the customer-managed KMS key")
    parser.add_argument(
        "--grader-lambda-arn",
        metavar="ARN",
        help="the Lambda grader of reinforcement fine-tuning jobs (grants lambda:InvokeFunction on it)",
    )
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
    parser.add_argument(
        "--output-dir",
        type=Path,
        metavar="DIR",
        help=f"write {FILES['policy']} and {FILES['trust_policy']} into DIR (created if missing) instead of "
        "printing; each is a policy document the aws iam commands take as file://DIR/<file>",
    )


def run(args: argparse.Namespace) -> int:
    bucket = _bucket(args.bucket)
    prefixes = split_list(args.prefix) if args.prefix is not None else [DATA_PREFIX]
    if args.prefix is None and args.model_import:
        prefixes.append(IMPORT_PREFIX)
    documents = iam.service_role_documents(
        region=args.region,
        account=args.account,
        bucket=bucket,
        model_import=args.model_import,
        data_prefixes=[_key(bucket, p) for p in prefixes if p],  # '' (none left): the whole bucket
        output_prefix=_key(bucket, args.output_prefix) if args.output_prefix else None,
        kms_key_arn=args.kms_key,
        subnet_ids=split_list(args.subnet_ids),
        security_group_ids=split_list(args.security_group_ids),
        grader_lambda_arn=args.grader_lambda_arn,
    )
    if args.output_dir is None:
        print(json.dumps(documents, indent=2))
        return 0
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, document in documents.items():
        path = args.output_dir / FILES[name]
        path.write_text(json.dumps(document, indent=2) + "\n")
        print(path)
    return 0


def _bucket(value: str) -> str:
    return value.removeprefix(SCHEME).rstrip("/")


def _key(bucket: str, prefix: str) -> str:
    """A key prefix given bare (``data/``) or as ``s3://bucket/data/`` of the same bucket."""
    if not prefix.startswith(SCHEME):
        return prefix
    name, key = parse_s3_uri(prefix)
    if name != bucket:
        raise BedrockCustomizationError(f"{prefix} is not in bucket {bucket}; the policy covers one bucket")
    return key
