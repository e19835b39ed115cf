"""Preflight: check a customization job's setup before anything billable starts.

Bedrock reports most setup mistakes only after the job has started: missing objects, a role it cannot
assume, a role without the network-interface permissions, subnets that do not cover every Availability
Zone, a security group without its self-referencing rules, no route to S3 from the subnets. Each check here
is a function over boto3 clients returning a :class:`Check` (name, pass/fail, what was found, how to fix
it) and makes read-only calls only. :func:`run_preflight` runs them all, never stopping at the first
failure, and returns a :class:`PreflightReport`.

The role check is static analysis of the role's policy documents (IAM's policy simulator needs
permissions callers rarely have, and the local emulator has none): every action and resource of the policy
:func:`bedrock_customization.iam.service_role_policy` would generate for this job must be covered by an
Allow statement (wildcards in actions and resources are honoured, conditions are not evaluated) and not by
an unconditional Deny.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from bedrock_customization import catalog
from bedrock_customization import iam as iam_policy
from bedrock_customization.artifacts import parse_s3_uri
from bedrock_customization.exceptions import (
    BedrockCustomizationError,
    HyperparameterError,
    UnknownModelError,
    UnsupportedCustomizationError,
)

__all__ = [
    "Check",
    "Clients",
    "PreflightFailed",
    "PreflightReport",
    "PreflightSpec",
    "check_availability_zones",
    "check_base_model",
    "check_customization_type",
    "check_model_availability",
    "check_hyperparameters",
    "check_kms_endpoint",
    "check_kms_key",
    "check_output_location",
    "check_role_permissions",
    "check_role_trust",
    "check_s3_route",
    "check_security_groups",
    "check_subnets",
    "check_training_data",
    "parse_s3_uri",
    "run_preflight",
    "split_list",
]

_GONE = ("deleted", "deleting", "failed", "rejected", "expired")


class PreflightFailed(BedrockCustomizationError):
    """At least one preflight check failed; ``report`` has them all."""

    def __init__(self, report: PreflightReport) -> None:
        self.report = report
        super().__init__(report.summary() + "\n" + report.render())

    def __reduce__(self):
        return type(self), (self.report,)


@dataclass(frozen=True)
class Check:
    """The outcome of one check: ``detail`` says what was found, ``fix`` what to do when it failed."""

    name: str
    ok: bool
    detail: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True)
class PreflightReport:
    """Every check of one preflight run, in the order they ran."""

    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok)

    def summary(self) -> str:
        failed = self.failed
        if not failed:
            return f"Preflight passed: all {len(self.checks)} checks passed."
        return (
            f"Preflight failed: {len(failed)} of {len(self.checks)} checks failed "
            f"({', '.join(check.name for check in failed)})."
        )

    def render(self, failed_only: bool = False) -> str:
        """One ``PASS``/``FAIL`` line per check, each failure followed by its fix."""
        checks = self.failed if failed_only else self.checks
        width = max((len(check.name) for check in checks), default=0)
        lines = []
        for check in checks:
            lines.append(f"{'PASS' if check.ok else 'FAIL'}  {check.name.ljust(width)}  {check.detail}")
            if not check.ok and check.fix:
                lines.append(f"{'':4}  {'':{width}}  fix: {check.fix}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "failed": [check.name for check in self.failed],
            "checks": [check.to_dict() for check in self.checks],
        }

    def task_result(self, log: Any) -> dict[str, Any]:
        """What a preflight task returns: the report logged line by line, :class:`PreflightFailed` unless every
        check passed, else :meth:`to_dict` (for XCom)."""
        for line in self.render().splitlines():
            log.info("%s", line)
        if not self.ok:
            raise PreflightFailed(self)
        log.info("%s", self.summary())
        return self.to_dict()


@dataclass(frozen=True)
class PreflightSpec:
    """What a customization job will be given; mirrors CreateModelCustomizationJob's parameters."""

    region: str
    base_model: str
    role_arn: str
    training_uri: str
    output_uri: str
    validation_uris: tuple[str, ...] = ()
    customization_type: str = "FINE_TUNING"
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    kms_key: str | None = None
    subnet_ids: tuple[str, ...] = ()
    security_group_ids: tuple[str, ...] = ()
    require_all_azs: bool = True
    #: Validation files given but not passed to the job because the model takes no validation set.
    ignored_validation_uris: tuple[str, ...] = ()
    #: The evaluation's metrics and LLM judge: the models they call besides the two compared (the judge, the
    #: ``semantic`` metric's embedding model) must answer before anything billable starts.
    evaluation_metrics: tuple[str, ...] = ()
    judge_model_id: str | None = None
    #: The Lambda grader of a REINFORCEMENT_FINE_TUNING job (rftConfig.graderConfig.lambdaGrader.lambdaArn).
    grader_lambda_arn: str | None = None
    #: The S3 prefix of the model invocation logs the job trains on (invocationLogsConfig), if any.
    invocation_logs_uri: str | None = None

    def __post_init__(self) -> None:
        for name in ("validation_uris", "subnet_ids", "security_group_ids", "evaluation_metrics"):
            object.__setattr__(self, name, tuple(split_list(getattr(self, name))))
        if self.validation_uris and not _takes_validation_set(self.base_model, self.customization_type):
            # The job will not be given them (Nova 2 Lite fine-tuning): neither checked nor granted.
            object.__setattr__(self, "ignored_validation_uris", self.validation_uris)
            object.__setattr__(self, "validation_uris", ())
        problems = []
        logs = (self.invocation_logs_uri,) if self.invocation_logs_uri else ()
        for uri in (self.training_uri, self.output_uri, *self.validation_uris, *logs):
            try:
                parse_s3_uri(uri)
            except BedrockCustomizationError as exc:
                problems.append(str(exc))
        if bool(self.subnet_ids) != bool(self.security_group_ids):
            problems.append(
                "a VPC configuration needs both subnet ids and security group ids "
                f"(got {len(self.subnet_ids)} subnets, {len(self.security_group_ids)} security groups)"
            )
        if not iam_policy.ROLE_ARN.match(self.role_arn or ""):
            problems.append(
                f"role {self.role_arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)"
            )
        if self.grader_lambda_arn and not iam_policy.LAMBDA_ARN.match(self.grader_lambda_arn):
            problems.append(
                f"grader_lambda_arn {self.grader_lambda_arn!r} is not a Lambda function ARN "
                "(arn:aws:lambda:<region>:<account>:function:<name>)"
            )
        if problems:
            raise BedrockCustomizationError("; ".join(problems))

    @property
    def vpc(self) -> bool:
        return bool(self.subnet_ids)

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4]


@dataclass(frozen=True)
class Clients:
    """The boto3 clients preflight reads from."""

    ec2: Any
    s3: Any
    iam: Any
    kms: Any
    bedrock: Any
    #: bedrock-runtime: only the evaluation-models check uses it.
    runtime: Any = None
    #: lambda: only the grader check (reinforcement fine-tuning) uses it.
    lambda_: Any = None

    @classmethod
    def from_session(cls, session: Any, region: str) -> Clients:
        """Clients of a boto3 session (the standard credential chain; ``AWS_ENDPOINT_URL`` is honoured)."""
        names = {"ec2": "ec2", "s3": "s3", "iam": "iam", "kms": "kms", "bedrock": "bedrock"}
        names["runtime"] = "bedrock-runtime"
        names["lambda_"] = "lambda"
        return cls(**{field: session.client(name, region_name=region) for field, name in names.items()})


# ------------------------------------------------------------------------------------------------ runner


def _takes_validation_set(base_model: str, customization_type: str) -> bool:
    """The catalog's answer; True when the catalog cannot tell (base-model and customization-type report why)."""
    try:
        return catalog.validation_set_supported(base_model, customization_type)
    except BedrockCustomizationError:
        return True


def run_preflight(spec: PreflightSpec, clients: Clients) -> PreflightReport:
    """Run every check that applies to ``spec`` and return them all (failures never stop the run)."""
    key_arn = _guarded_key(clients.kms, spec.kms_key)
    plan: list[tuple[str, Callable[[], Check]]] = [
        ("base-model", lambda: check_base_model(spec.base_model, spec.region)),
        ("customization-type", lambda: check_customization_type(spec.base_model, spec.customization_type)),
        (
            "model-availability",
            lambda: check_model_availability(clients.bedrock, spec.base_model, spec.customization_type),
        ),
        (
            "hyperparameters",
            lambda: check_hyperparameters(spec.base_model, spec.hyperparameters, spec.customization_type),
        ),
        (
            "training-data",
            lambda: _note_ignored(
                check_training_data(clients.s3, spec.training_uri, spec.validation_uris), spec
            ),
        ),
        (
            "output-bucket",
            lambda: check_output_location(clients.s3, clients.kms, spec.output_uri, spec.kms_key),
        ),
    ]
    if spec.kms_key:
        plan.append(("kms-key", lambda: check_kms_key(clients.kms, spec.kms_key, spec.role_arn)))
    plan += [
        ("role-trust", lambda: check_role_trust(clients.iam, spec.role_arn, spec.region)),
        ("role-permissions", lambda: check_role_permissions(clients.iam, spec, key_arn or spec.kms_key)),
    ]
    if spec.vpc:
        plan += [
            ("subnets", lambda: check_subnets(clients.ec2, spec.subnet_ids)),
            (
                "availability-zones",
                lambda: check_availability_zones(clients.ec2, spec.subnet_ids, spec.require_all_azs),
            ),
            (
                "security-groups",
                lambda: check_security_groups(clients.ec2, spec.security_group_ids, spec.subnet_ids),
            ),
            ("s3-route", lambda: check_s3_route(clients.ec2, spec.subnet_ids, spec.region)),
        ]
        if spec.kms_key:
            plan.append(
                (
                    "kms-endpoint",
                    lambda: check_kms_endpoint(
                        clients.ec2, spec.subnet_ids, spec.security_group_ids, spec.region
                    ),
                )
            )
    if spec.invocation_logs_uri:
        plan.append(("invocation-logs", lambda: check_invocation_logs(clients.s3, spec.invocation_logs_uri)))
    if spec.grader_lambda_arn or spec.customization_type == "REINFORCEMENT_FINE_TUNING":
        plan.append(("grader-lambda", lambda: check_grader_lambda(clients.lambda_, spec)))
    if _evaluation_model_metrics(spec):
        plan.append(("evaluation-models", lambda: check_evaluation_models(clients.runtime, spec)))
    return PreflightReport(tuple(_guarded(name, run) for name, run in plan))


def _note_ignored(check: Check, spec: PreflightSpec) -> Check:
    """Say which validation files the job will not be given (the model takes no validation set)."""
    if not spec.ignored_validation_uris:
        return check
    note = (
        f"; not checked: {', '.join(spec.ignored_validation_uris)} ({spec.base_model} takes no validation set "
        f"for {spec.customization_type}, so the job is not given it)"
    )
    return replace(check, detail=check.detail + note)


def _guarded_key(kms: Any, key: str | None) -> str | None:
    """The key's ARN for the role check; the key as given when it cannot be described (kms-key reports why)."""
    from botocore.exceptions import BotoCoreError, ClientError

    if not key:
        return None
    try:
        return _resolve_key(kms, key)
    except (BotoCoreError, ClientError):
        return key


def _guarded(name: str, run: Callable[[], Check]) -> Check:
    """Run one check; an AWS error (no credentials, access denied) fails that check, not the run."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return run()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", str(exc))
        operation = getattr(exc, "operation_name", "the call")
        return Check(
            name,
            False,
            f"could not check: {operation} failed with {code}: {message}",
            f"let the caller use {operation} (read-only) on the resource, or fix the id it names",
        )
    except BotoCoreError as exc:
        return Check(name, False, f"could not check: {exc}", "configure AWS credentials and region")
    except BedrockCustomizationError as exc:
        return Check(name, False, f"could not check: {exc}", "fix the value it names")


# ------------------------------------------------------------------------------------- catalog checks


def check_base_model(model_id: str, region: str) -> Check:
    """The base model is in the catalog, customizable in ``region`` and not past end of life."""
    name = "base-model"
    try:
        model = catalog.get_model(model_id)
    except UnknownModelError as exc:
        return Check(name, False, str(exc), "choose a model from `bedrock-customize catalog`")
    if region not in model.regions:
        here = [m.id for m in catalog.list_models(region=region)]
        found = f"{model.id} is customizable in {', '.join(model.regions)}, not in {region}"
        fix = f"run the job in {' or '.join(model.regions)}"
        return Check(name, False, found, fix + _or_one_of(f"choose a model customizable in {region}", here))
    warning = catalog.lifecycle_warning(model.id)
    if warning and model.lifecycle.status_on(date.today()) == "EOL":
        return Check(name, False, warning, "choose an active model (`bedrock-customize catalog`)")
    detail = f"{model.id} ({model.provider} {model.name}) is customizable in {region}"
    return Check(name, True, detail + (f"; warning: {warning}" if warning else ""))


def check_model_availability(
    bedrock: Any, model_id: str, customization_type: str, today: date | None = None
) -> Check:
    """What the account's Bedrock says of the base model (GetFoundationModel): offered in the region, still
    customizable for the type, and its lifecycle: LEGACY passes with a warning, end of life fails."""
    from botocore.exceptions import ClientError

    from bedrock_customization.catalog_drift import LISTED_TYPES, live_lifecycle

    name = "model-availability"
    today = today or date.today()
    try:
        details = bedrock.get_foundation_model(modelIdentifier=model_id)["modelDetails"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code not in ("ResourceNotFoundException", "ValidationException"):
            raise
        return Check(
            name,
            False,
            f"{model_id} is not offered in this region: GetFoundationModel answered {code}: "
            f"{exc.response.get('Error', {}).get('Message', '')}",
            "choose a model that `bedrock-customize catalog --check` finds in the region, or change region",
        )
    status = live_lifecycle(details, today)
    end = (details.get("modelLifecycle") or {}).get("endOfLifeTime")
    end_text = f" (end of life {end:%Y-%m-%d})" if isinstance(end, date) else ""
    if status == "EOL":
        return Check(
            name,
            False,
            f"{model_id} has reached end of life{end_text}: Bedrock refuses new customization jobs",
            "choose an active model (`bedrock-customize catalog`)",
        )
    ctype = customization_type.upper().replace("-", "_")
    offered = details.get("customizationsSupported") or []
    if ctype in LISTED_TYPES and ctype not in offered:
        return Check(
            name,
            False,
            f"GetFoundationModel lists {model_id} with customizations {', '.join(offered) or 'none'}, "
            f"not {ctype}",
            "choose a customization type or model the region offers (`bedrock-customize catalog --check`)",
        )
    detail = f"{model_id} is offered in this region ({status})"
    if status == "LEGACY":
        detail += f"; warning: the model is LEGACY{end_text}, plan a move to an active model"
    return Check(name, True, detail)


#: Metrics that call a model of their own: the LLM judge (Converse) and ``semantic`` (an embedding model).
_MODEL_METRICS = ("llm_judge", "semantic")


def _evaluation_model_metrics(spec: PreflightSpec) -> list[str]:
    names = [name for name in _MODEL_METRICS if name in spec.evaluation_metrics]
    if spec.judge_model_id and "llm_judge" not in names:
        names.append("llm_judge")
    return names


def check_evaluation_models(runtime: Any, spec: PreflightSpec) -> Check:
    """The models the evaluation calls besides the two it compares answer one small probe each (the judge one
    judgement, the embedding model one embedding): access, model id and region are then known to work
    before any job is paid for. The probes are the ones the evaluation itself starts with."""
    from bedrock_customization.evaluation.errors import EvaluationError
    from bedrock_customization.evaluation.metrics import create_metrics

    name = "evaluation-models"
    names = _evaluation_model_metrics(spec)
    options = {
        "llm_judge": {"converse": runtime.converse, "model_id": spec.judge_model_id},
        "semantic": {"invoke_model": runtime.invoke_model},
    }
    try:
        metrics = create_metrics(names, {metric: options[metric] for metric in names})
    except EvaluationError as exc:
        return Check(
            name,
            False,
            str(exc),
            "give the worker's role bedrock:InvokeModel on the model it names, or choose another judge model "
            "or metric",
        )
    return Check(name, True, "answered a probe: " + "; ".join(metric.description for metric in metrics))


def check_customization_type(model_id: str, customization_type: str) -> Check:
    """The base model offers the customization type."""
    name = "customization-type"
    try:
        model = catalog.get_model(model_id)
        if model.supports(customization_type):
            return Check(name, True, f"{model.id} supports {customization_type.upper().replace('-', '_')}")
    except UnknownModelError:
        return Check(
            name, False, f"unknown base model {model_id!r}", "fix the base model first (see base-model)"
        )
    except UnsupportedCustomizationError as exc:
        return Check(name, False, str(exc), f"use one of {', '.join(catalog.CUSTOMIZATION_TYPES)}")
    ctype = customization_type.upper().replace("-", "_")
    others = [m.id for m in catalog.list_models(customization_type=ctype)]
    found = f"{model.id} does not support {ctype}; it supports {', '.join(model.customization_types)}"
    fix = f"use customization type {' or '.join(model.customization_types)}"
    return Check(name, False, found, fix + _or_one_of(f"a base model that supports {ctype}", others))


def _or_one_of(alternative: str, model_ids: Sequence[str]) -> str:
    """``", or <alternative>: <model ids>"`` for a fix, or nothing when there are no such models."""
    return f", or {alternative}: {', '.join(model_ids)}" if model_ids else ""


def check_hyperparameters(
    model_id: str, hyperparameters: Mapping[str, Any], customization_type: str
) -> Check:
    """The hyperparameters are names and values the base model accepts.

    When the model does not offer ``customization_type`` (reported by ``customization-type``), the values
    are still checked against the model's ranges.
    """
    name = "hyperparameters"
    try:
        model = catalog.get_model(model_id)
    except UnknownModelError:
        return Check(
            name,
            False,
            f"cannot check against the unknown base model {model_id!r}",
            "fix the base model first (see base-model)",
        )
    try:
        supported = model.supports(customization_type)
    except UnsupportedCustomizationError:
        supported = False
    ctype = customization_type if supported else model.customization_types[0]
    try:
        values = catalog.validate_hyperparameters(model.id, hyperparameters, ctype)
    except HyperparameterError as exc:
        return Check(
            name,
            False,
            "; ".join(exc.problems),
            f"use values in range (`bedrock-customize catalog --json` lists each one for {exc.model_id})",
        )
    shown = ", ".join(f"{k}={v}" for k, v in values.items()) or "none given (Bedrock defaults)"
    return Check(name, True, f"{shown} valid for {values.model_id}")


# ------------------------------------------------------------------------------------------- S3 checks


def check_training_data(s3: Any, training_uri: str, validation_uris: Sequence[str] = ()) -> Check:
    """The training object and every validation object exist (HeadObject)."""
    name = "training-data"
    found, missing = [], []
    for uri in (training_uri, *validation_uris):
        bucket, key = parse_s3_uri(uri)
        if not key or key.endswith("/"):
            missing.append(f"{uri} (a folder; give the .jsonl object)")
            continue
        try:
            head = s3.head_object(Bucket=bucket, Key=key)
        except s3.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("404", "NoSuchKey", "NotFound", "NoSuchBucket"):
                raise
            missing.append(f"{uri} (not found)")
            continue
        found.append(f"{uri} ({head.get('ContentLength', 0)} bytes)")
    if missing:
        return Check(
            name,
            False,
            "missing: " + "; ".join(missing),
            "upload the prepared JSON Lines files to these keys (or fix the URIs)",
        )
    return Check(name, True, "found " + ", ".join(found))


def check_invocation_logs(s3: Any, logs_uri: str) -> Check:
    """The invocation logs prefix holds objects (ListObjectsV2): Bedrock reads the logs delivered there."""
    name = "invocation-logs"
    bucket, prefix = parse_s3_uri(logs_uri)
    try:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1000)
    except s3.exceptions.NoSuchBucket:
        listed = {}
    objects = listed.get("Contents") or []
    if not objects:
        return Check(
            name,
            False,
            f"no objects under {logs_uri}",
            "point invocation_logs_uri at the S3 prefix model invocation logging delivers to (its s3Config "
            "bucketName and keyPrefix), and turn logging on (PutModelInvocationLoggingConfiguration)",
        )
    more = "+" if listed.get("IsTruncated") else ""
    return Check(name, True, f"{len(objects)}{more} objects under {logs_uri}")


def check_output_location(s3: Any, kms: Any, output_uri: str, kms_key: str | None) -> Check:
    """The output bucket exists and, with a key, encrypts by default with SSE-KMS by that key."""
    name = "output-bucket"
    bucket, _ = parse_s3_uri(output_uri)
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
        return Check(
            name, False, f"bucket {bucket} does not exist", f"create bucket {bucket} or fix the output URI"
        )
    rules = _bucket_encryption(s3, bucket)
    kms_rules = [
        r["ApplyServerSideEncryptionByDefault"]
        for r in rules
        if r.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse")
    ]
    if not kms_key:
        default = rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] if rules else "none"
        return Check(name, True, f"bucket {bucket} exists (default encryption: {default})")
    key_arn = _resolve_key(kms, kms_key)
    fix = (
        f"aws s3api put-bucket-encryption --bucket {bucket} --server-side-encryption-configuration "
        + shlex.quote(
            json.dumps(
                {
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {
                                "SSEAlgorithm": "aws:kms",
                                "KMSMasterKeyID": key_arn,
                            },
                            "BucketKeyEnabled": True,
                        }
                    ]
                }
            )
        )
    )
    if not kms_rules:
        current = rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] if rules else "none"
        return Check(
            name, False, f"bucket {bucket} does not encrypt with SSE-KMS by default (default: {current})", fix
        )
    bucket_key = kms_rules[0].get("KMSMasterKeyID")
    bucket_key_arn = _resolve_key(kms, bucket_key) if bucket_key else "the AWS managed key aws/s3"
    if bucket_key_arn != key_arn:
        return Check(name, False, f"bucket {bucket} encrypts with {bucket_key_arn}, not {key_arn}", fix)
    return Check(name, True, f"bucket {bucket} encrypts by default with SSE-KMS by {key_arn}")


def _bucket_encryption(s3: Any, bucket: str) -> list[dict[str, Any]]:
    try:
        return s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except s3.exceptions.ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        return []


# ------------------------------------------------------------------------------------------ KMS checks


def _resolve_key(kms: Any, key: str) -> str:
    """The ARN of a key given by id, ARN, alias name or alias ARN (unchanged when it cannot be described)."""
    try:
        return kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    except kms.exceptions.ClientError:
        return key


def _key_metadata(kms: Any, kms_key: str, name: str) -> dict[str, Any] | Check:
    """DescribeKey's ``KeyMetadata``; the failed check ``name`` when there is no such key."""
    try:
        return kms.describe_key(KeyId=kms_key)["KeyMetadata"]
    except kms.exceptions.NotFoundException:
        return Check(name, False, f"KMS key {kms_key} not found", "create the key or fix the key id")


def _key_failed(name: str, meta: Mapping[str, Any], problems: Sequence[str], fix: str) -> Check:
    return Check(name, False, f"KMS key {meta['Arn']}: " + "; ".join(problems), fix)


def _key_state_problems(meta: Mapping[str, Any]) -> list[str]:
    """Why a key cannot encrypt S3 objects (disabled, pending deletion, asymmetric); empty when it can."""
    problems = []
    if meta.get("KeyState", "Enabled") != "Enabled":
        problems.append(f"key state is {meta.get('KeyState')}")
    if meta.get("KeySpec", "SYMMETRIC_DEFAULT") != "SYMMETRIC_DEFAULT":
        problems.append(f"key spec is {meta.get('KeySpec')}, not SYMMETRIC_DEFAULT")
    return problems


def check_key_can_encrypt(kms: Any, kms_key: str) -> Check:
    """The key exists, is enabled and symmetric: what an SSE-KMS write with it needs (checked before the
    dataset is written, so a disabled key fails with this message rather than S3's KMS.DisabledException)."""
    name = "kms-key-state"
    meta = _key_metadata(kms, kms_key, name)
    if isinstance(meta, Check):
        return meta
    problems = _key_state_problems(meta)
    if problems:
        fix = "enable the key (aws kms enable-key / cancel-key-deletion) or configure another symmetric key"
        return _key_failed(name, meta, problems, fix)
    return Check(name, True, f"KMS key {meta['Arn']} is enabled")


def check_kms_key(kms: Any, kms_key: str, role_arn: str) -> Check:
    """The key exists, is enabled, symmetric and customer managed, and its policy lets the role use it."""
    name = "kms-key"
    meta = _key_metadata(kms, kms_key, name)
    if isinstance(meta, Check):
        return meta
    problems = _key_state_problems(meta)
    if meta.get("KeyManager", "CUSTOMER") != "CUSTOMER":
        problems.append("it is an AWS managed key; Bedrock needs a customer-managed key")
    policy = _document(kms.get_key_policy(KeyId=meta["KeyId"], PolicyName="default")["Policy"])
    account_root = f"arn:{role_arn.split(':')[1]}:iam::{role_arn.split(':')[4]}:root"
    grantees = []
    for statement in _statements(policy):
        principals = _principals(statement, "AWS")
        if statement.get("Effect") == "Allow" and _covers_actions(statement, iam_policy.KMS_KEY_ACTIONS):
            grantees.extend(
                p for p in principals if p in (role_arn, account_root, "*", role_arn.split(":")[4])
            )
    if not grantees:
        problems.append(
            f"its key policy neither grants {role_arn} nor delegates to the account ({account_root})"
        )
    if problems:
        statement = iam_policy.key_policy_statement(role_arn=role_arn, region=meta["Arn"].split(":")[3])
        fix = "use an enabled symmetric customer-managed key whose policy has the statement "
        return _key_failed(name, meta, problems, fix + json.dumps(statement))
    via = "the role directly" if role_arn in grantees else "IAM policies of the account"
    return Check(name, True, f"KMS key {meta['Arn']} is enabled and usable by {via}")


# ------------------------------------------------------------------------------------------ IAM checks


def check_role_trust(iam: Any, role_arn: str, region: str) -> Check:
    """The role trusts ``bedrock.amazonaws.com`` for customization jobs of its account in ``region``."""
    name = "role-trust"
    role_name = role_arn.split("/")[-1]
    account = role_arn.split(":")[4]
    fix = f"aws iam update-assume-role-policy --role-name {role_name} --policy-document " + shlex.quote(
        json.dumps(iam_policy.trust_policy(region=region, account=account))
    )
    try:
        role = iam.get_role(RoleName=role_name)["Role"]
    except iam.exceptions.NoSuchEntityException:
        return Check(
            name, False, f"role {role_arn} does not exist", "create it: `bedrock-customize iam-policy`"
        )
    document = _document(role["AssumeRolePolicyDocument"])
    sample_job = (
        f"arn:{iam_policy.partition_for(region)}:bedrock:{region}:{account}:model-customization-job/x"
    )
    trusted, rejected = [], []
    for statement in _statements(document):
        services = _principals(statement, "Service")
        if statement.get("Effect") != "Allow" or not _covers_actions(statement, ["sts:AssumeRole"]):
            continue
        if iam_policy.BEDROCK_SERVICE_PRINCIPAL not in services:
            trusted.extend(services + _principals(statement, "AWS"))
            continue
        reason = _trust_condition_problem(statement.get("Condition", {}), account, sample_job)
        if reason:
            rejected.append(reason)
        else:
            return Check(
                name, True, f"{role_arn} trusts {iam_policy.BEDROCK_SERVICE_PRINCIPAL} for {sample_job[:-1]}*"
            )
    if rejected:
        return Check(name, False, f"{role_arn} trusts bedrock.amazonaws.com but " + "; ".join(rejected), fix)
    others = f" (it trusts {', '.join(trusted)})" if trusted else ""
    return Check(
        name, False, f"{role_arn} does not trust {iam_policy.BEDROCK_SERVICE_PRINCIPAL}{others}", fix
    )


def _trust_condition_problem(condition: Mapping[str, Any], account: str, job_arn: str) -> str | None:
    for operator, keys in condition.items():
        for key, value in keys.items():
            values = [str(v) for v in (value if isinstance(value, list) else [value])]
            if key.lower() == "aws:sourceaccount" and not any(_matches(v, account) for v in values):
                return f"only for source account {', '.join(values)}, not {account}"
            if key.lower() == "aws:sourcearn" and not any(_matches(v, job_arn) for v in values):
                return f"only for source ARNs {', '.join(values)}, which exclude {job_arn[:-1]}* ({operator})"
    return None


def check_grader_lambda(lambda_client: Any, spec: PreflightSpec) -> Check:
    """A REINFORCEMENT_FINE_TUNING job's grader is a Lambda function of the job's region that exists; other
    types take none. (role-permissions checks that the role may invoke it: page rft-access-security.)"""
    name = "grader-lambda"
    arn = spec.grader_lambda_arn
    if spec.customization_type != "REINFORCEMENT_FINE_TUNING":
        return Check(
            name,
            False,
            f"grader_lambda_arn {arn} is only used by REINFORCEMENT_FINE_TUNING, not "
            f"{spec.customization_type}",
            "clear grader_lambda_arn, or set customization_type to REINFORCEMENT_FINE_TUNING",
        )
    if not arn:
        return Check(
            name,
            False,
            "a REINFORCEMENT_FINE_TUNING job needs a Lambda grader and none was given",
            f"set grader_lambda_arn to the ARN of the reward function (a Lambda function in {spec.region})",
        )
    region = arn.split(":")[3]
    if region != spec.region:
        return Check(
            name,
            False,
            f"grader {arn} is in {region}, but the job runs in {spec.region}",
            f"deploy the reward function in {spec.region} and give its ARN",
        )
    try:
        config = lambda_client.get_function(FunctionName=arn)["Configuration"]
    except lambda_client.exceptions.ResourceNotFoundException:
        return Check(
            name,
            False,
            f"grader Lambda function {arn} does not exist in {spec.region}",
            f"create the reward function {arn.split(':')[6]} in {spec.region}, or fix grader_lambda_arn",
        )
    state = config.get("State") or "Active"
    if state == "Failed":
        return Check(
            name,
            False,
            f"grader {arn} is in state Failed ({config.get('StateReason') or 'no reason given'})",
            "fix and redeploy the reward function",
        )
    return Check(name, True, f"grader {config['FunctionArn']} exists in {spec.region} (state {state})")


def check_role_permissions(iam: Any, spec: PreflightSpec, key_arn: str | None = None) -> Check:
    """The role's policies grant every action and resource the generated policy for this job grants."""
    name = "role-permissions"
    role_name = spec.role_arn.split("/")[-1]
    try:
        policies = _role_policies(iam, role_name)
    except iam.exceptions.NoSuchEntityException:
        return Check(name, False, f"role {spec.role_arn} does not exist", "create the role (see role-trust)")
    required = _required_statements(spec, key_arn)
    statements = [s for _, document in policies for s in _statements(document)]
    missing: dict[str, tuple[dict[str, None], dict[str, None]]] = {}  # Sid -> (actions, resources)
    for statement in required:
        for action in _listify(statement["Action"]):
            for resource in _listify(statement["Resource"]):
                if not _allowed(statements, action, resource):
                    actions, resources = missing.setdefault(statement["Sid"], ({}, {}))
                    actions[action] = resources[resource] = None
    names = ", ".join(policy for policy, _ in policies) or "none"
    if not missing:
        return Check(
            name, True, f"{spec.role_arn} grants all {len(required)} required statements (policies: {names})"
        )
    detail = "; ".join(f"{sid}: {', '.join(a)} on {', '.join(r)}" for sid, (a, r) in missing.items())
    return Check(
        name,
        False,
        f"{spec.role_arn} lacks statements {', '.join(missing)} ({detail}); policies read: {names}",
        f"add the statements {', '.join(missing)} printed by `{_iam_policy_command(spec, key_arn)}` "
        f"to a policy of {role_name}",
    )


def _required_statements(spec: PreflightSpec, key_arn: str | None) -> list[dict[str, Any]]:
    """The generated policy's statements for this job: exact objects read, output prefix written."""
    output_bucket, output_key = parse_s3_uri(spec.output_uri)
    reads: dict[str, list[str]] = {}
    for uri in (spec.training_uri, *spec.validation_uris):
        bucket, key = parse_s3_uri(uri)
        reads.setdefault(bucket, []).append(key)
    # The job reads every invocation log under the prefix (rft-access-security, "Invocation log access").
    prefixes: dict[str, list[str]] = {}
    if spec.invocation_logs_uri:
        bucket, key = parse_s3_uri(spec.invocation_logs_uri)
        prefixes.setdefault(bucket, []).append(key)
        reads.setdefault(bucket, [])
    statements: list[dict[str, Any]] = []
    for bucket in dict.fromkeys([*reads, output_bucket]):
        policy = iam_policy.service_role_policy(
            region=spec.region,
            account=spec.account,
            bucket=bucket,
            data_objects=reads.get(bucket, []),
            data_prefixes=prefixes.get(bucket, []),
            output_prefix=output_key,
            kms_key_arn=key_arn if bucket == output_bucket and _is_key_arn(key_arn) else None,
            subnet_ids=spec.subnet_ids if bucket == output_bucket else (),
            security_group_ids=spec.security_group_ids if bucket == output_bucket else (),
            grader_lambda_arn=spec.grader_lambda_arn
            if bucket == output_bucket and spec.customization_type == "REINFORCEMENT_FINE_TUNING"
            else None,
        )
        for statement in policy["Statement"]:
            sid = statement["Sid"]
            if sid == iam_policy.SID_READ_DATA and bucket not in reads:
                continue
            if sid == iam_policy.SID_WRITE_OUTPUT and bucket != output_bucket:
                continue
            statements.append(statement)
    return statements


def _iam_policy_command(spec: PreflightSpec, key_arn: str | None) -> str:
    bucket, key = parse_s3_uri(spec.output_uri)
    parts = ["bedrock-customize", "iam-policy", "--region", spec.region, "--account", spec.account]
    parts += ["--bucket", bucket]
    logs = (spec.invocation_logs_uri,) if spec.invocation_logs_uri else ()
    data = [parse_s3_uri(uri)[1] for uri in (spec.training_uri, *spec.validation_uris, *logs)]
    folders = sorted({k.rsplit("/", 1)[0] + "/" if "/" in k else "" for k in data} - {""})
    if folders:
        parts += ["--prefix", *folders]
    if key:
        parts += ["--output-prefix", key]
    if _is_key_arn(key_arn):
        parts += ["--kms-key", str(key_arn)]
    if spec.vpc:
        parts += ["--subnet-ids", *spec.subnet_ids, "--security-group-ids", *spec.security_group_ids]
    if spec.grader_lambda_arn:
        parts += ["--grader-lambda-arn", spec.grader_lambda_arn]
    return shlex.join(parts)


def _role_policies(iam: Any, role_name: str) -> list[tuple[str, dict[str, Any]]]:
    """(name, document) of every inline and attached managed policy of the role."""
    iam.get_role(RoleName=role_name)  # NoSuchEntity when the role is missing
    documents = []
    for page in iam.get_paginator("list_role_policies").paginate(RoleName=role_name):
        for policy_name in page["PolicyNames"]:
            document = iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"]
            documents.append((policy_name, _document(document)))
    for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=role_name):
        for attached in page["AttachedPolicies"]:
            arn = attached["PolicyArn"]
            version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
            document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
            documents.append((attached["PolicyName"], _document(document)))
    return documents


# ------------------------------------------------------------------------------------------ VPC checks


def check_subnets(ec2: Any, subnet_ids: Sequence[str]) -> Check:
    """Every subnet exists and all are in one VPC."""
    name = "subnets"
    subnets = _subnets(ec2, subnet_ids)
    missing = [s for s in subnet_ids if s not in subnets]
    if missing:
        return Check(name, False, f"subnets not found: {', '.join(missing)}", "fix the subnet ids")
    by_vpc: dict[str, list[str]] = {}
    for subnet_id in subnet_ids:
        by_vpc.setdefault(subnets[subnet_id]["VpcId"], []).append(subnet_id)
    if len(by_vpc) > 1:
        main = _job_vpc(subnets, subnet_ids)
        spread = "; ".join(f"{', '.join(ids)} in {vpc}" for vpc, ids in by_vpc.items())
        strays = [s for vpc, ids in by_vpc.items() if vpc != main for s in ids]
        return Check(
            name,
            False,
            f"subnets are in {len(by_vpc)} VPCs: {spread}",
            f"use subnets of one VPC: replace {', '.join(strays)} with subnets of {main}",
        )
    vpc = next(iter(by_vpc))
    return Check(name, True, f"{len(subnet_ids)} subnets in {vpc}")


def check_availability_zones(ec2: Any, subnet_ids: Sequence[str], require_all: bool = True) -> Check:
    """The subnets cover every Availability Zone of the region (Bedrock jobs failed otherwise)."""
    name = "availability-zones"
    subnets = _subnets(ec2, subnet_ids)
    zones = ec2.describe_availability_zones(
        Filters=[
            {"Name": "zone-type", "Values": ["availability-zone"]},
            {"Name": "state", "Values": ["available"]},
        ]
    )["AvailabilityZones"]
    all_zones = {z["ZoneName"]: z.get("ZoneId", "") for z in zones}
    covered = {s["AvailabilityZone"] for s in subnets.values()}
    missing = sorted(set(all_zones) - covered)
    label = ", ".join(f"{z} ({all_zones[z]})" if all_zones[z] else z for z in missing)
    if not missing:
        return Check(name, True, f"subnets cover all {len(all_zones)} AZs: {', '.join(sorted(all_zones))}")
    if not require_all:
        return Check(
            name,
            True,
            f"subnets cover {len(covered)} of {len(all_zones)} AZs (all not required); missing {label}",
        )
    vpc = _job_vpc(subnets, subnet_ids) or "the VPC"
    return Check(
        name,
        False,
        f"subnets cover {len(covered & set(all_zones))} of {len(all_zones)} AZs; missing {label}",
        f"create a private subnet in {', '.join(missing)} in {vpc} (route table with the S3 endpoint) and add "
        "it to the subnet ids; or accept fewer AZs (--no-require-all-azs, require_all_azs=False), though jobs have failed without all",
    )


def check_security_groups(ec2: Any, group_ids: Sequence[str], subnet_ids: Sequence[str]) -> Check:
    """The groups are in the subnets' VPC and allow all traffic from themselves, inbound and outbound."""
    name = "security-groups"
    found = {
        g["GroupId"]: g
        for g in ec2.describe_security_groups(Filters=[{"Name": "group-id", "Values": list(group_ids)}])[
            "SecurityGroups"
        ]
    }
    missing = [g for g in group_ids if g not in found]
    if missing:
        return Check(
            name, False, f"security groups not found: {', '.join(missing)}", "fix the security group ids"
        )
    vpc = _job_vpc(_subnets(ec2, subnet_ids), subnet_ids)
    problems, fixes = [], []
    elsewhere = [f"{g} is in {found[g]['VpcId']}" for g in group_ids if vpc and found[g].get("VpcId") != vpc]
    if elsewhere:
        problems.append(f"not in the subnets' VPC {vpc}: {'; '.join(elsewhere)}")
        fixes.append(f"use security groups of {vpc}")
    members = set(group_ids)
    first = group_ids[0]
    for direction, key in (("inbound", "IpPermissions"), ("outbound", "IpPermissionsEgress")):
        if not any(_self_rule(found[g][key], members) for g in group_ids):
            problems.append(
                f"no {direction} rule allows all traffic {'from' if direction == 'inbound' else 'to'} "
                f"{', '.join(group_ids)} itself (a 0.0.0.0/0 rule does not count)"
            )
            verb = "ingress" if direction == "inbound" else "egress"
            fixes.append(
                f"aws ec2 authorize-security-group-{verb} --group-id {first} --ip-permissions "
                + shlex.quote(json.dumps([{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": first}]}]))
            )
    if problems:
        return Check(name, False, "; ".join(problems), "; ".join(fixes))
    return Check(
        name, True, f"{', '.join(group_ids)} in {vpc}, all traffic allowed within, inbound and outbound"
    )


def _self_rule(permissions: Iterable[Mapping[str, Any]], members: set[str]) -> bool:
    return any(
        p.get("IpProtocol") == "-1"
        and any(pair.get("GroupId") in members for pair in p.get("UserIdGroupPairs", []))
        for p in permissions
    )


def check_s3_route(ec2: Any, subnet_ids: Sequence[str], region: str) -> Check:
    """Each subnet's route table reaches S3 through a gateway endpoint (or a NAT gateway)."""
    name = "s3-route"
    subnets = _subnets(ec2, subnet_ids)
    vpc = _job_vpc(subnets, subnet_ids)
    if vpc is None:
        return Check(name, False, "none of the subnets exists", "fix the subnet ids first (see subnets)")
    service = f"com.amazonaws.{region}.s3"
    endpoints = [
        e
        for e in ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
        if e["ServiceName"] == service
        and e.get("VpcEndpointType", "Gateway") == "Gateway"
        and e.get("State", "available").lower() not in _GONE
    ]
    endpoint_ids = {e["VpcEndpointId"] for e in endpoints}
    endpoint_tables = {t for e in endpoints for t in e.get("RouteTableIds", [])}
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
    blocked: dict[str, list[str]] = {}
    via: set[str] = set()
    for subnet_id in subnet_ids:
        if subnets.get(subnet_id, {}).get("VpcId") != vpc:
            continue  # reported by the subnets check
        table = _route_table_of(tables, subnet_id)
        if table is None:
            blocked.setdefault("no route table", []).append(subnet_id)
            continue
        routes = table.get("Routes", [])
        if table["RouteTableId"] in endpoint_tables or any(
            r.get("GatewayId") in endpoint_ids for r in routes
        ):
            via.add("S3 gateway endpoint")
        elif any(
            r.get("NatGatewayId")
            and r.get("DestinationCidrBlock") == "0.0.0.0/0"
            and r.get("State") != "blackhole"
            for r in routes
        ):
            via.add("NAT gateway")
        else:
            blocked.setdefault(table["RouteTableId"], []).append(subnet_id)
    if not blocked:
        return Check(
            name,
            True,
            f"the route tables of all {len(subnet_ids)} subnets reach S3 via {' and '.join(sorted(via))}",
        )
    detail = "; ".join(f"{table} ({', '.join(ids)})" for table, ids in blocked.items())
    tables_to_add = " ".join(t for t in blocked if t.startswith("rtb-"))
    if endpoints:
        fix = (
            f"aws ec2 modify-vpc-endpoint --vpc-endpoint-id {endpoints[0]['VpcEndpointId']} "
            f"--add-route-table-ids {tables_to_add}"
        )
    else:
        fix = (
            f"aws ec2 create-vpc-endpoint --vpc-id {vpc} --vpc-endpoint-type Gateway "
            f"--service-name {service} --route-table-ids {tables_to_add}"
        )
    return Check(name, False, f"no route to S3 (gateway endpoint or NAT) from route tables {detail}", fix)


def _route_table_of(tables: Sequence[Mapping[str, Any]], subnet_id: str) -> Mapping[str, Any] | None:
    """The subnet's explicitly associated route table, else the VPC's main route table."""
    for table in tables:
        if any(a.get("SubnetId") == subnet_id for a in table.get("Associations", [])):
            return table
    for table in tables:
        if any(a.get("Main") for a in table.get("Associations", [])):
            return table
    return None


def check_kms_endpoint(ec2: Any, subnet_ids: Sequence[str], group_ids: Sequence[str], region: str) -> Check:
    """With a customer-managed key: a KMS interface endpoint in the VPC, private DNS, HTTPS from the jobs."""
    name = "kms-endpoint"
    subnets = _subnets(ec2, subnet_ids)
    vpc = _job_vpc(subnets, subnet_ids)
    if vpc is None:
        return Check(name, False, "none of the subnets exists", "fix the subnet ids first (see subnets)")
    services = (f"com.amazonaws.{region}.kms", f"com.amazonaws.{region}.kms-fips")
    endpoints = [
        e
        for e in ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
        if e["ServiceName"] in services
        and e.get("VpcEndpointType") == "Interface"
        and e.get("State", "available").lower() not in _GONE
    ]
    if not endpoints:
        return Check(
            name,
            False,
            f"no KMS interface endpoint ({services[0]}) in {vpc}",
            f"aws ec2 create-vpc-endpoint --vpc-id {vpc} --vpc-endpoint-type Interface --service-name {services[0]} "
            f"--subnet-ids {' '.join(subnet_ids)} --security-group-ids <group allowing TCP 443 from "
            f"{', '.join(group_ids)}> --private-dns-enabled",
        )
    endpoint = endpoints[0]
    problems = []
    if not endpoint.get("PrivateDnsEnabled", False):
        problems.append("private DNS is disabled, so kms.<region>.amazonaws.com does not resolve to it")
    endpoint_groups = [g["GroupId"] for g in endpoint.get("Groups", [])]
    rules = (
        ec2.describe_security_groups(GroupIds=endpoint_groups)["SecurityGroups"] if endpoint_groups else []
    )
    cidrs = [s["CidrBlock"] for s in subnets.values() if s.get("VpcId") == vpc]
    if not any(_allows_https_from(g["IpPermissions"], set(group_ids), cidrs) for g in rules):
        problems.append(
            f"its security groups ({', '.join(endpoint_groups) or 'none'}) do not allow TCP 443 from "
            f"{', '.join(group_ids)}"
        )
    if problems:
        return Check(
            name,
            False,
            f"KMS endpoint {endpoint['VpcEndpointId']}: " + "; ".join(problems),
            f"enable private DNS and allow TCP 443 from {', '.join(group_ids)} in the endpoint's security group",
        )
    return Check(
        name,
        True,
        f"KMS interface endpoint {endpoint['VpcEndpointId']} in {vpc}, HTTPS allowed from the jobs",
    )


def _allows_https_from(
    permissions: Iterable[Mapping[str, Any]], groups: set[str], cidrs: Sequence[str]
) -> bool:
    for p in permissions:
        protocol = str(p.get("IpProtocol"))
        if protocol != "-1" and not (
            protocol in ("tcp", "6") and p.get("FromPort", 0) <= 443 <= p.get("ToPort", 65535)
        ):
            continue
        if any(pair.get("GroupId") in groups for pair in p.get("UserIdGroupPairs", [])):
            return True
        ranges = [ipaddress.ip_network(r["CidrIp"], strict=False) for r in p.get("IpRanges", [])]
        if cidrs and all(any(ipaddress.ip_network(c).subnet_of(r) for r in ranges) for c in cidrs):
            return True
    return False


def _subnets(ec2: Any, subnet_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    if not subnet_ids:
        return {}
    found = ec2.describe_subnets(Filters=[{"Name": "subnet-id", "Values": list(subnet_ids)}])["Subnets"]
    return {s["SubnetId"]: s for s in found}


def _job_vpc(subnets: Mapping[str, Mapping[str, Any]], subnet_ids: Sequence[str]) -> str | None:
    """The VPC holding most of the subnets (the first subnet's on a tie)."""
    vpcs = [subnets[s]["VpcId"] for s in subnet_ids if s in subnets]
    if not vpcs:
        return None
    counts = Counter(vpcs)
    best = max(counts.values())
    return next(v for v in vpcs if counts[v] == best)


# ---------------------------------------------------------------------------------- policy analysis


def _document(document: Any) -> dict[str, Any]:
    """A policy document as a dict, whether boto3 decoded it or returned (URL-encoded) JSON text."""
    if isinstance(document, dict):
        return document
    text = str(document)
    if text.lstrip().startswith("%7B") or "%22" in text:
        text = urllib.parse.unquote(text)
    return json.loads(text)


def _statements(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _listify(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _principals(statement: Mapping[str, Any], kind: str) -> list[str]:
    principal = statement.get("Principal", {})
    if principal == "*":
        return ["*"]
    return _listify(principal.get(kind)) if isinstance(principal, dict) else []


def _matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM wildcard matching: ``*`` any run of characters, ``?`` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) is not None


def _covers_actions(statement: Mapping[str, Any], actions: Iterable[str]) -> bool:
    return all(_action_in(statement, action) for action in actions)


def _action_in(statement: Mapping[str, Any], action: str) -> bool:
    if "NotAction" in statement:
        return not any(_matches(p, action, ignore_case=True) for p in _listify(statement["NotAction"]))
    return any(_matches(p, action, ignore_case=True) for p in _listify(statement.get("Action")))


def _resource_in(statement: Mapping[str, Any], resource: str) -> bool:
    """Whether the statement's resources include ``resource``; a required pattern must match literally."""
    if "NotResource" in statement:
        return not any(_matches(p, resource) for p in _listify(statement["NotResource"]))
    return any(_matches(p, resource) for p in _listify(statement.get("Resource")))


def _allowed(statements: Sequence[Mapping[str, Any]], action: str, resource: str) -> bool:
    """Some Allow statement covers (action, resource) and no unconditional Deny does."""
    for statement in statements:
        if statement.get("Effect") == "Deny" and "Condition" not in statement:
            if _action_in(statement, action) and _resource_in(statement, resource):
                return False
    return any(
        statement.get("Effect") == "Allow"
        and _action_in(statement, action)
        and _resource_in(statement, resource)
        for statement in statements
    )


def _is_key_arn(key: str | None) -> bool:
    return bool(key) and re.match(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/", str(key)) is not None


def split_list(values: str | Iterable[str] | None) -> list[str]:
    """Ids given space- or comma-separated, in one string or several: ``["a,b", "c"]`` -> ``[a, b, c]``."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    return [part for item in items for part in re.split(r"[,\s]+", str(item)) if part]
