"""The landing zone: the account resources every DAG uses, validated once. Pure except :meth:`from_variable`.

It is the JSON value of the Airflow Variable ``bedrock_customization``, which the bootstrap
(``python -m include.bootstrap``, run by ``make run``, ``make airflow`` and compose's ``airflow-init``)
writes::

    {"region": "us-east-1", "bucket": "...", "role_arn": "arn:aws:iam::<account>:role/...",
     "kms_key_arn": "arn:aws:kms:<region>:<account>:key/...", "vpc_id": "vpc-...",
     "subnet_ids": ["subnet-..."], "security_group_ids": ["sg-..."],
     "topic_arn": "arn:aws:sns:<region>:<account>:bedrock-customization"}

``bucket``, ``role_arn`` and ``kms_key_arn`` are required; ``subnet_ids`` and ``security_group_ids`` too
unless the jobs run outside a VPC; ``region``, ``vpc_id`` and ``topic_arn`` are optional. Other keys are
ignored. Every problem is reported at once, in one :class:`LandingZoneError` that names the Variable, each
key and how to set it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bedrock_customization.artifacts import SCHEME, is_bucket_name
from bedrock_customization.exceptions import LandingZoneError
from bedrock_customization.iam import KMS_KEY_ARN, REGION, ROLE_ARN, SECURITY_GROUP_ID, SUBNET_ID

VARIABLE = "bedrock_customization"
_VPC_ID = re.compile(r"^vpc-[0-9a-f]+$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
#: An example of each key, for the error message.
_EXAMPLES = {
    "bucket": "my-bedrock-data",
    "role_arn": "arn:aws:iam::123456789012:role/bedrock-customization",
    "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
    "subnet_ids": ["subnet-0123456789abcdef0"],
    "security_group_ids": ["sg-0123456789abcdef0"],
}


@dataclass(frozen=True)
class LandingZone:
    """The landing zone's resources; construct with :meth:`from_mapping` or :meth:`from_variable`.

    :param bucket: The data bucket (SSE-KMS): datasets, job output, evaluation results, model registries.
    :param role_arn: The Bedrock service role the jobs run as.
    :param kms_key_arn: The KMS key of the bucket, the jobs' output and the custom models.
    :param subnet_ids: The jobs' private subnets (VPC). Default none.
    :param security_group_ids: The jobs' security groups (VPC). Default none.
    :param topic_arn: SNS topic of run notifications. Default none.
    :param region: The region the landing zone was deployed in. Default none.
    :param vpc_id: The VPC of the subnets. Default none.
    """

    bucket: str
    role_arn: str
    kms_key_arn: str
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    topic_arn: str | None = None
    region: str | None = None
    vpc_id: str | None = None

    def __post_init__(self) -> None:
        for name in ("subnet_ids", "security_group_ids"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        problems = _problems(asdict(self), require_vpc=False)
        if problems:
            raise _error(VARIABLE, problems)

    @property
    def vpc(self) -> bool:
        """Whether the landing zone has a VPC configuration for the jobs."""
        return bool(self.subnet_ids)

    @classmethod
    def from_mapping(
        cls, value: object, *, variable: str = VARIABLE, require_vpc: bool = True
    ) -> LandingZone:
        """The landing zone of the Variable's deserialized value ``value``.

        :param variable: The Variable's name, for the error message.
        :param require_vpc: Whether ``subnet_ids`` and ``security_group_ids`` must be given (jobs in the VPC).
        :raises LandingZoneError: naming ``variable``, every missing or invalid key and how to set them.
        """
        if not isinstance(value, Mapping):
            raise _error(variable, [f"its value must be a JSON object, not {type(value).__name__}"])
        problems = _problems(value, require_vpc=require_vpc)
        if problems:
            raise _error(variable, problems)
        return cls(
            bucket=value["bucket"],
            role_arn=value["role_arn"],
            kms_key_arn=value["kms_key_arn"],
            subnet_ids=tuple(value.get("subnet_ids") or ()),
            security_group_ids=tuple(value.get("security_group_ids") or ()),
            topic_arn=value.get("topic_arn") or None,
            region=value.get("region") or None,
            vpc_id=value.get("vpc_id") or None,
        )

    @classmethod
    def from_variable(cls, name: str = VARIABLE, *, require_vpc: bool = True) -> LandingZone:
        """The landing zone of the Airflow Variable ``name`` (JSON); call it at run time, in a task, not at
        DAG parse time. Raises :class:`LandingZoneError` when the Variable is missing, not JSON or invalid
        (see :meth:`from_mapping`)."""
        from airflow.sdk import Variable

        value = Variable.get(name, default=None)
        if value is None:
            raise _error(name, ["it is not set"])
        try:
            value = json.loads(value) if isinstance(value, str) else value
        except ValueError as error:
            raise _error(name, [f"its value is not JSON ({error})"]) from None
        return cls.from_mapping(value, variable=name, require_vpc=require_vpc)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, the keys of the Variable (lists for the ids)."""
        values = asdict(self)
        return {key: list(value) if isinstance(value, tuple) else value for key, value in values.items()}


def _problems(value: Mapping[str, Any], *, require_vpc: bool) -> list[str]:
    """One sentence per missing or invalid key of a landing zone value."""
    problems = []
    bucket = value.get("bucket")
    if not bucket:
        problems.append("bucket is missing: the name of the landing zone's S3 bucket")
    elif not is_bucket_name(bucket):
        hint = (
            "give the name, not an s3:// URI"
            if str(bucket).startswith(SCHEME)
            else "3-63 lowercase letters, digits, '.' and '-'"
        )
        problems.append(f"bucket {bucket!r} is not an S3 bucket name ({hint})")
    for key, pattern, what in (
        ("role_arn", ROLE_ARN, "the ARN of the Bedrock service role (arn:aws:iam::<account>:role/<name>)"),
        ("kms_key_arn", KMS_KEY_ARN, "the ARN of the KMS key (arn:aws:kms:<region>:<account>:key/<id>)"),
    ):
        if not value.get(key):
            problems.append(f"{key} is missing: {what}")
        elif not isinstance(value[key], str) or not pattern.match(value[key]):
            problems.append(f"{key} {value[key]!r} is not {what}")
    subnets = _ids(problems, value, "subnet_ids", SUBNET_ID, "subnet-", require_vpc)
    groups = _ids(problems, value, "security_group_ids", SECURITY_GROUP_ID, "sg-", require_vpc)
    if not require_vpc and bool(subnets) != bool(groups):
        problems.append(
            "a VPC configuration needs both subnet_ids and security_group_ids "
            f"(got {len(subnets)} subnets, {len(groups)} security groups)"
        )
    for key, pattern, what in (
        ("topic_arn", _TOPIC_ARN, "an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)"),
        ("region", REGION, "an AWS region name such as us-east-1"),
        ("vpc_id", _VPC_ID, "a VPC id (vpc-...)"),
    ):
        optional = value.get(key)
        if optional and (not isinstance(optional, str) or not pattern.match(optional)):
            problems.append(f"{key} {optional!r} is not {what}")
    return problems


def _ids(
    problems: list[str],
    value: Mapping[str, Any],
    key: str,
    pattern: re.Pattern[str],
    prefix: str,
    required: bool,
) -> Sequence[str]:
    """The list of ids under ``key``, appending to ``problems`` what is wrong with it."""
    ids = value.get(key)
    if not ids:
        if required:
            problems.append(
                f"{key} is missing: a JSON list of {prefix}... ids, needed for jobs in the VPC (the DAGs' "
                "use_vpc param; with use_vpc=false it may be left out)"
            )
        return ()
    if not isinstance(ids, list | tuple) or not all(isinstance(i, str) for i in ids):
        problems.append(f"{key} {ids!r} is not a JSON list of {prefix}... ids")
        return ()
    bad = [i for i in ids if not pattern.match(i)]
    if bad:
        problems.append(f"{key} has invalid ids {bad} (each {prefix}...)")
    return ids


def _error(variable: str, problems: Sequence[str]) -> LandingZoneError:
    lines = "\n".join(f"  - {problem}" for problem in problems)
    example = json.dumps(_EXAMPLES)
    message = (
        f"The Airflow Variable {variable!r} (the landing zone) is not usable:\n{lines}\n"
        "Set it with the bootstrap, which deploys the landing zone and writes the Variable (`make run` and "
        f"`make airflow` run it; in a deployment: `python -m include.bootstrap --aws-conn-id aws_default "
        f"--variable {variable}`), or for a landing zone of your own: "
        f"`airflow variables set {variable} '{example}'` with your values."
    )
    return LandingZoneError(message, variable, problems)
