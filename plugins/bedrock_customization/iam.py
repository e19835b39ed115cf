"""Least-privilege IAM documents for the Bedrock service role of customization and model import jobs.

Pure functions returning policy documents as dicts; nothing here talks to AWS. The statements and their
``Sid`` values are stable: ``include/infra/landing_zone.yaml`` carries the same policy for its own resources,
and preflight (``preflight.py``) checks a role against what :func:`service_role_policy` would grant.

Scope of the generated permission policy:

* S3: ``s3:GetObject`` on the data prefixes (training, validation, model import sources), ``s3:GetObject``
  and ``s3:PutObject`` on the output prefix, ``s3:ListBucket`` on the bucket. A prefix is an S3 key prefix:
  end it with ``/`` to mean a folder; IAM wildcards (``runs/*/data/``) are allowed. No prefix means the
  whole bucket. The output prefix is a folder, so a missing trailing ``/`` is added.
* KMS (with a customer-managed key): ``kms:Decrypt``, ``kms:GenerateDataKey``, ``kms:DescribeKey``,
  ``kms:CreateGrant`` on that key, only through Bedrock and S3 (``kms:ViaService``).
* VPC (with subnets and security groups): the ENI statements Bedrock needs to place its network interfaces
  in your subnets, tagged ``BedrockManaged=true`` and ``BedrockModelCustomizationJobArn``.

The trust policy lets only ``bedrock.amazonaws.com`` assume the role, and only for jobs of this account
and region (``aws:SourceAccount``, ``aws:SourceArn``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from bedrock_customization.artifacts import is_bucket_name
from bedrock_customization.exceptions import BedrockCustomizationError

__all__ = [
    "BEDROCK_SERVICE_PRINCIPAL",
    "ENI_TAG_JOB_ARN",
    "ENI_TAG_MANAGED",
    "KMS_KEY_ACTIONS",
    "SIDS",
    "VPC_SIDS",
    "key_policy_statement",
    "normalize_policy",
    "partition_for",
    "service_role_policy",
    "service_role_documents",
    "trust_policy",
]

BEDROCK_SERVICE_PRINCIPAL = "bedrock.amazonaws.com"
#: Tags Bedrock puts on the network interfaces it creates in your subnets.
ENI_TAG_MANAGED = "BedrockManaged"
ENI_TAG_JOB_ARN = "BedrockModelCustomizationJobArn"
KMS_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant")
DESCRIBE_ACTIONS = (
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeVpcs",
    "ec2:DescribeDhcpOptions",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
)
ENI_MANAGE_ACTIONS = (
    "ec2:CreateNetworkInterfacePermission",
    "ec2:DeleteNetworkInterface",
    "ec2:DeleteNetworkInterfacePermission",
)

SID_READ_DATA = "ReadTrainingData"
SID_LIST_BUCKET = "ListDataBucket"
SID_WRITE_OUTPUT = "WriteOutput"
SID_USE_KEY = "UseDataKey"
SID_DESCRIBE_NETWORK = "DescribeNetwork"
SID_CREATE_ENI = "CreateBedrockEni"
SID_ENI_IN_SUBNETS = "CreateEniInJobSubnets"
SID_MANAGE_ENI = "ManageBedrockEni"
SID_TAG_ENI = "TagBedrockEniOnCreate"
SID_TRUST = "BedrockAssumeRole"
SID_KEY_POLICY = "BedrockServiceRoleUseOfKey"
SID_INVOKE_GRADER = "InvokeRftGrader"
#: Every Sid of the permission policy, in the order statements appear.
SIDS = (
    SID_READ_DATA,
    SID_LIST_BUCKET,
    SID_WRITE_OUTPUT,
    SID_USE_KEY,
    SID_DESCRIBE_NETWORK,
    SID_CREATE_ENI,
    SID_ENI_IN_SUBNETS,
    SID_MANAGE_ENI,
    SID_TAG_ENI,
)
#: The statements a VPC-bound job needs on top of S3 (and KMS).
VPC_SIDS = (SID_DESCRIBE_NETWORK, SID_CREATE_ENI, SID_ENI_IN_SUBNETS, SID_MANAGE_ENI, SID_TAG_ENI)

_VERSION = "2012-10-17"
_ACCOUNT = re.compile(r"^\d{12}$")
#: What the policy's inputs look like (the landing zone and preflight check the same).
REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
KMS_KEY_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/[A-Za-z0-9-]+$")
SUBNET_ID = re.compile(r"^subnet-[0-9a-f]+$")
SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]+$")
#: LambdaGraderConfig.lambdaArn (Bedrock API reference): a function ARN, optionally with a version or alias.
LAMBDA_ARN = re.compile(
    r"^arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}(-gov)?-[a-z]+-\d{1}:\d{12}:function:[a-zA-Z0-9-_\.]+"
    r"(:(\$LATEST|[a-zA-Z0-9-_]+))?$"
)


def partition_for(region: str) -> str:
    """The ARN partition of ``region``: ``aws``, ``aws-cn`` or ``aws-us-gov``."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def trust_policy(*, region: str, account: str, model_import: bool = False) -> dict[str, Any]:
    """Trust policy: ``bedrock.amazonaws.com`` may assume the role for this account's jobs in ``region``."""
    _check(region=region, account=account)
    return {
        "Version": _VERSION,
        "Statement": [
            {
                "Sid": SID_TRUST,
                "Effect": "Allow",
                "Principal": {"Service": BEDROCK_SERVICE_PRINCIPAL},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account},
                    "ArnEquals": {"aws:SourceArn": _job_arn_patterns(region, account, model_import)},
                },
            }
        ],
    }


def service_role_policy(
    *,
    region: str,
    account: str,
    bucket: str,
    data_prefixes: Iterable[str] = (),
    output_prefix: str | None = None,
    kms_key_arn: str | None = None,
    subnet_ids: Sequence[str] = (),
    security_group_ids: Sequence[str] = (),
    data_objects: Iterable[str] = (),
    grader_lambda_arn: str | None = None,
) -> dict[str, Any]:
    """The permission policy of the service role, narrowed to one bucket, its prefixes, a key and a VPC.

    :param data_prefixes: key prefixes the job reads (training and validation data, import sources);
        none (and no ``data_objects``) means the whole bucket.
    :param output_prefix: key prefix (a folder) the job writes to; ``None`` or empty means the whole bucket.
    :param kms_key_arn: ARN of the customer-managed key encrypting the bucket and the custom model.
    :param subnet_ids: subnets of the job's ``vpcConfig``; requires ``security_group_ids`` and vice versa.
    :param data_objects: exact object keys the job reads, granted without a trailing wildcard (preflight uses
        this to check a role against the objects of one job).
    :param grader_lambda_arn: the Lambda grader of reinforcement fine-tuning jobs; the role may invoke it
        (page rft-access-security: lambda:InvokeFunction on the reward function).
    """
    _check(
        region=region,
        account=account,
        bucket=bucket,
        kms_key_arn=kms_key_arn,
        grader_lambda_arn=grader_lambda_arn,
    )
    subnets, groups = _vpc(subnet_ids, security_group_ids)
    partition = partition_for(region)
    s3 = f"arn:{partition}:s3:::{bucket}"
    reads = [f"{s3}/{_key(prefix)}*" for prefix in data_prefixes] + [f"{s3}/{_key(k)}" for k in data_objects]
    statements: list[dict[str, Any]] = [
        _allow(SID_READ_DATA, ["s3:GetObject"], _unique(reads) or [f"{s3}/*"]),
        _allow(SID_LIST_BUCKET, ["s3:ListBucket"], [s3]),
        _allow(SID_WRITE_OUTPUT, ["s3:GetObject", "s3:PutObject"], [f"{s3}/{_folder(output_prefix)}*"]),
    ]
    if kms_key_arn:
        statements.append(
            _allow(
                SID_USE_KEY,
                list(KMS_KEY_ACTIONS),
                [kms_key_arn],
                {
                    "StringEquals": {
                        "kms:ViaService": [f"bedrock.{region}.amazonaws.com", f"s3.{region}.amazonaws.com"]
                    }
                },
            )
        )
    if subnets:
        statements.extend(_vpc_statements(partition, region, account, subnets, groups))
    if grader_lambda_arn:
        statements.append(_allow(SID_INVOKE_GRADER, ["lambda:InvokeFunction"], [grader_lambda_arn]))
    return {"Version": _VERSION, "Statement": statements}


def service_role_documents(
    *, region: str, account: str, bucket: str, model_import: bool = False, **policy_kwargs: Any
) -> dict[str, dict[str, Any]]:
    """``{"policy": ..., "trust_policy": ...}`` as the ``iam-policy`` command prints them."""
    return {
        "policy": service_role_policy(region=region, account=account, bucket=bucket, **policy_kwargs),
        "trust_policy": trust_policy(region=region, account=account, model_import=model_import),
    }


def key_policy_statement(*, role_arn: str, region: str) -> dict[str, Any]:
    """The KMS key policy statement letting the service role use the key through Bedrock."""
    return {
        "Sid": SID_KEY_POLICY,
        "Effect": "Allow",
        "Principal": {"AWS": role_arn},
        "Action": list(KMS_KEY_ACTIONS),
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:ViaService": f"bedrock.{region}.amazonaws.com"}},
    }


def normalize_policy(document: dict[str, Any]) -> dict[str, Any]:
    """A canonical form for comparing policies by structure: scalars become sorted lists, keys are sorted.

    ``"Action": "s3:GetObject"`` and ``"Action": ["s3:GetObject"]`` normalise to the same value, as do
    condition values given as a string or a one-element list. Statements keep their order.
    """

    def values(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: values(value[key]) for key in sorted(value)}
        items = value if isinstance(value, list) else [value]
        return sorted(str(item) for item in items)

    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    out = []
    for statement in statements:
        canonical: dict[str, Any] = {}
        for key in sorted(statement):
            value = statement[key]
            if key in ("Sid", "Effect"):
                canonical[key] = value
            elif key in ("Principal", "NotPrincipal") and value == "*":
                canonical[key] = "*"
            else:
                canonical[key] = values(value)
        out.append(canonical)
    return {"Version": document.get("Version"), "Statement": out}


# ------------------------------------------------------------------------------------------------ helpers


def _vpc_statements(
    partition: str, region: str, account: str, subnets: list[str], groups: list[str]
) -> list[dict[str, Any]]:
    ec2 = f"arn:{partition}:ec2:{region}:{account}"
    enis = [f"{ec2}:network-interface/*"]
    subnet_arns = [f"{ec2}:subnet/{subnet}" for subnet in subnets]
    group_arns = [f"{ec2}:security-group/{group}" for group in groups]
    jobs = [f"arn:{partition}:bedrock:{region}:{account}:model-customization-job/*"]
    return [
        _allow(SID_DESCRIBE_NETWORK, list(DESCRIBE_ACTIONS), ["*"]),
        _allow(
            SID_CREATE_ENI,
            ["ec2:CreateNetworkInterface"],
            enis,
            {
                "StringEquals": {f"aws:RequestTag/{ENI_TAG_MANAGED}": ["true"]},
                "ArnEquals": {f"aws:RequestTag/{ENI_TAG_JOB_ARN}": jobs},
            },
        ),
        _allow(SID_ENI_IN_SUBNETS, ["ec2:CreateNetworkInterface"], subnet_arns + group_arns),
        _allow(
            SID_MANAGE_ENI,
            list(ENI_MANAGE_ACTIONS),
            enis,
            {
                "ArnEquals": {"ec2:Subnet": subnet_arns, f"ec2:ResourceTag/{ENI_TAG_JOB_ARN}": jobs},
                "StringEquals": {f"ec2:ResourceTag/{ENI_TAG_MANAGED}": ["true"]},
            },
        ),
        _allow(
            SID_TAG_ENI,
            ["ec2:CreateTags"],
            enis,
            {
                "StringEquals": {"ec2:CreateAction": ["CreateNetworkInterface"]},
                "ForAllValues:StringEquals": {"aws:TagKeys": [ENI_TAG_MANAGED, ENI_TAG_JOB_ARN]},
            },
        ),
    ]


def _allow(
    sid: str, actions: list[str], resources: list[str], condition: dict[str, Any] | None = None
) -> dict[str, Any]:
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources}
    if condition:
        statement["Condition"] = condition
    return statement


def _job_arn_patterns(region: str, account: str, model_import: bool) -> list[str]:
    base = f"arn:{partition_for(region)}:bedrock:{region}:{account}"
    kinds = ["model-customization-job", *(["model-import-job"] if model_import else [])]
    return [f"{base}:{kind}/*" for kind in kinds]


def _vpc(subnet_ids: Sequence[str], security_group_ids: Sequence[str]) -> tuple[list[str], list[str]]:
    subnets, groups = _unique(subnet_ids), _unique(security_group_ids)
    if bool(subnets) != bool(groups):
        raise BedrockCustomizationError(
            "A VPC configuration needs both subnets and security groups: "
            + ("add --security-group-ids" if subnets else "add --subnet-ids")
        )
    bad = [s for s in subnets if not SUBNET_ID.match(s)]
    bad += [g for g in groups if not SECURITY_GROUP_ID.match(g)]
    if bad:
        raise BedrockCustomizationError(
            f"Not a subnet or security group id: {', '.join(bad)} (expected subnet-… and sg-…)"
        )
    return subnets, groups


def _check(
    *,
    region: str,
    account: str,
    bucket: str | None = None,
    kms_key_arn: str | None = None,
    grader_lambda_arn: str | None = None,
) -> None:
    problems = []
    if not REGION.match(region or ""):
        problems.append(f"region {region!r} is not an AWS region name such as us-east-1")
    if not _ACCOUNT.match(account or ""):
        problems.append(f"account {account!r} is not a 12-digit AWS account id")
    if bucket is not None and not is_bucket_name(bucket):
        problems.append(f"bucket {bucket!r} is not an S3 bucket name (give the name, not s3://…)")
    if kms_key_arn and not KMS_KEY_ARN.match(kms_key_arn):
        problems.append(f"KMS key {kms_key_arn!r} is not a key ARN (arn:aws:kms:<region>:<account>:key/<id>)")
    if grader_lambda_arn and not LAMBDA_ARN.match(grader_lambda_arn):
        problems.append(
            f"grader {grader_lambda_arn!r} is not a Lambda function ARN "
            "(arn:aws:lambda:<region>:<account>:function:<name>)"
        )
    if problems:
        raise BedrockCustomizationError("; ".join(problems))


def _key(prefix: str) -> str:
    return prefix.lstrip("/")


def _folder(prefix: str | None) -> str:
    key = _key(prefix or "")
    return key if not key or key.endswith("/") else key + "/"


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(item for item in items if item))
