"""Amazon Bedrock control plane for the local emulator: backend state and moto response handlers.

``LocalBedrockBackend`` replaces moto's Bedrock backend (it subclasses it, so moto's model
invocation logging operations keep working). ``register_handlers()`` adds one handler per
operation in ``OPERATIONS`` to moto's ``BedrockResponse``; each handler parses the request with
moto's botocore-model parser and answers with an ``ActionResult``, so HTTP status codes (201, 202,
...), timestamps and error codes come from the botocore service model, as on the real service.

Status transitions are computed lazily from wall-clock time whenever a resource is read; the
delays (and the ``fail_jobs``/``fail_throughputs`` decisions) are taken from ``CONFIG`` when the
resource is created or the transition starts, so later config changes do not affect it.
"""

from __future__ import annotations

import base64
import json
import math
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from moto.bedrock.models import BedrockBackend
from moto.core.base_backend import BackendDict
from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.core.utils import camelcase_to_underscores
from moto.moto_api._internal import mock_random
from moto.utilities.utils import get_partition

from . import catalog, invocation_logs, loss
from .config import CONFIG

# ---------------------------------------------------------------------------------------------
# Errors (codes are shape names of the botocore model, which gives the HTTP status)


class ValidationException(ServiceException):
    """400 ValidationException."""

    code = "ValidationException"


class ResourceNotFoundException(ServiceException):
    """404 ResourceNotFoundException."""

    code = "ResourceNotFoundException"


class ConflictException(ServiceException):
    """400 ConflictException (declared by e.g. StopModelCustomizationJob, DeleteCustomModel)."""

    code = "ConflictException"


class TooManyTagsException(ServiceException):
    """400 TooManyTagsException."""

    code = "TooManyTagsException"


class ThrottlingException(ServiceException):
    """429 ThrottlingException."""

    code = "ThrottlingException"


# ---------------------------------------------------------------------------------------------
# Constraints from the botocore model

JOB_NAME = r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*"
RESOURCE_NAME = r"([0-9a-zA-Z][_-]?)+"
ROLE_ARN = r"arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+"
# LambdaGraderConfig.lambdaArn (API reference page API_LambdaGraderConfig), at most 512 characters.
LAMBDA_ARN = (
    r"arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}(-gov)?-[a-z]+-\d{1}:\d{12}:function:[a-zA-Z0-9-_\.]+"
    r"(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
S3_URI = r"s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?"
MODEL_ID = r"[a-z0-9-]{1,63}[.]{1}[a-z0-9-]{1,63}([.]?[a-z0-9-]{1,63})([:][a-z0-9-]{1,63}){0,2}"
TOKEN = r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?"
CUSTOMIZATION_TYPES = ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION", "REINFORCEMENT_FINE_TUNING")
COMMITMENTS = catalog.COMMITMENT_DAYS
MAX_TAGS = 200
NAME_IN_USE = "The provided job name is currently in use."

#: Hugging Face ``model_type`` values and architecture classes that Custom Model Import accepts
#: (from the emulator's catalog; page model-customization-import-model).
IMPORT_MODEL_TYPES = tuple(catalog.IMPORT_ARCHITECTURES)
IMPORT_ARCHITECTURES = tuple(cls for group in catalog.IMPORT_ARCHITECTURES.values() for cls in group)

_service_model: Any = None


def _input_shape(operation: str) -> Any:
    """botocore's input shape of a Bedrock operation (service model loaded once)."""
    global _service_model
    if _service_model is None:
        import botocore.session

        _service_model = botocore.session.get_session().get_service_model("bedrock")
    return _service_model.operation_model(operation).input_shape


def check_uri_identifiers(operation: str, params: dict[str, Any]) -> None:
    """ValidationException for URI (path) identifiers that violate the pattern/length botocore declares.

    botocore validates types and required members on the client but not patterns, so a request with
    a malformed identifier reaches the service, which answers ValidationException.
    """
    shape = _input_shape(operation)
    if shape is None:
        return
    for name, member in shape.members.items():
        if member.serialization.get("location") != "uri" or name not in params:
            continue
        value = params[name]
        meta = member.metadata
        if not isinstance(value, str):
            continue
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            raise _constraint_error(name, value, f"Member must satisfy regular expression pattern: {meta['pattern']}")
        if "max" in meta and len(value) > meta["max"]:
            raise _constraint_error(name, value, f"Member must have length less than or equal to {meta['max']}")


def _constraint_error(name: str, value: Any, constraint: str) -> ValidationException:
    return ValidationException(
        f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: {constraint}"
    )


def _required(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value is None or value == "":
        raise ValidationException(
            f"1 validation error detected: Value null at '{name}' failed to satisfy constraint: "
            "Member must not be null"
        )
    return value


def _check_pattern(name: str, value: Any, pattern: str, max_len: int | None = None) -> None:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise _constraint_error(name, value, f"Member must satisfy regular expression pattern: {pattern}")
    if max_len is not None and len(value) > max_len:
        raise _constraint_error(name, value, f"Member must have length less than or equal to {max_len}")


def _check_enum(name: str, value: Any, allowed: Iterable[str]) -> None:
    allowed = list(allowed)
    if value not in allowed:
        raise _constraint_error(name, value, f"Member must satisfy enum value set: [{', '.join(allowed)}]")


def _check_tags(name: str, tags: Any) -> dict[str, str]:
    tags = tags or []
    if len(tags) > MAX_TAGS:
        raise TooManyTagsException(f"The number of tags in '{name}' exceeds the limit of {MAX_TAGS}.")
    result: dict[str, str] = {}
    for tag in tags:
        if not isinstance(tag, dict) or "key" not in tag or "value" not in tag:
            raise _constraint_error(name, tag, "Each tag must have a key and a value")
        result[str(tag["key"])] = str(tag["value"])
    return result


def _check_vpc(vpc: Any) -> None:
    if vpc is None:
        return
    subnets = vpc.get("subnetIds") or []
    groups = vpc.get("securityGroupIds") or []
    if not 1 <= len(subnets) <= 16:
        raise _constraint_error(
            "vpcConfig.subnetIds", subnets, "Member must have length between 1 and 16"
        )
    if not 1 <= len(groups) <= 5:
        raise _constraint_error(
            "vpcConfig.securityGroupIds", groups, "Member must have length between 1 and 5"
        )


def _check_token(token: Any) -> None:
    if token is not None:
        _check_pattern("clientRequestToken", token, TOKEN, 256)


# ---------------------------------------------------------------------------------------------
# Small helpers


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def new_id() -> str:
    """A 12 character lowercase alphanumeric resource id, as in Bedrock ARNs."""
    return mock_random.get_random_string(length=12, lower_case=True)


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> (bucket, key); the key may be empty."""
    rest = uri[len("s3://") :] if uri.startswith("s3://") else uri
    bucket, _, key = rest.partition("/")
    return bucket, key


def foundation_id(identifier: str) -> str:
    """The foundation model id from an id or a foundation-model ARN."""
    return identifier.split("foundation-model/", 1)[1] if "foundation-model/" in identifier else identifier


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if value is not None}


def _kms_arn(key_id: str | None, region: str, account: str) -> str | None:
    if not key_id or key_id.startswith("arn:"):
        return key_id
    return f"arn:{get_partition(region)}:kms:{region}:{account}:{key_id if key_id.startswith('alias/') else 'key/' + key_id}"


class S3Access:
    """Reads and writes objects in moto's S3 backend (same account, same process)."""

    def __init__(self, account_id: str, region: str) -> None:
        from moto.s3.models import s3_backends

        self.backend = s3_backends[account_id][get_partition(region)]

    def bucket_exists(self, bucket: str) -> bool:
        """Whether the bucket exists."""
        from moto.s3.exceptions import MissingBucket

        try:
            self.backend.get_bucket(bucket)
        except MissingBucket:
            return False
        return True

    def read(self, uri: str) -> tuple[bytes, str] | None:
        """(content, etag) of the object at ``uri``, or None when it does not exist."""
        from moto.s3.exceptions import MissingBucket

        bucket, key = parse_s3_uri(uri)
        if not key:
            return None
        try:
            obj = self.backend.get_object(bucket, key)
        except MissingBucket:
            return None
        if obj is None:
            return None
        return bytes(obj.value), str(obj.etag)

    def keys(self, uri: str) -> list[str] | None:
        """Keys below the folder ``uri``, or None when the bucket does not exist."""
        bucket, prefix = parse_s3_uri(uri)
        if not self.bucket_exists(bucket):
            return None
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        names = [name for name in self.backend.get_bucket(bucket).keys.keys() if name.startswith(prefix)]
        return [name for name in names if self.backend.get_object(bucket, name) is not None]

    def write(self, bucket: str, key: str, content: bytes) -> None:
        """Put an object; moto applies the bucket's default encryption (e.g. SSE-KMS)."""
        self.backend.put_object(bucket, key, content)


def count_records(content: bytes | None) -> int:
    """Number of non-blank lines of a JSON Lines file."""
    if not content:
        return 0
    return sum(1 for line in content.decode("utf-8", errors="replace").splitlines() if line.strip())


# ---------------------------------------------------------------------------------------------
# Records


@dataclass
class CustomizationJob:
    """A model customization job."""

    arn: str
    name: str
    custom_model_name: str
    custom_model_arn: str
    role_arn: str
    token: str | None
    base_model_id: str
    base_model_arn: str
    customization_type: str
    kms_key_arn: str | None
    hyper_parameters: dict[str, str]
    training_data_config: dict[str, Any]
    validation_data_config: dict[str, Any] | None
    output_data_config: dict[str, Any]
    vpc_config: dict[str, Any] | None
    customization_config: dict[str, Any] | None
    custom_model_tags: dict[str, str]
    created: datetime
    deadline: datetime
    forced_failure: str | None = None
    status: str = "InProgress"
    last_modified: datetime | None = None
    end_time: datetime | None = None
    failure_message: str | None = None
    training_loss: float | None = None
    validation_loss: float | None = None
    #: What a job trained on invocation logs learned (``invocation_logs.Learned``), once it finished.
    learned: Any = None

    @property
    def job_id(self) -> str:
        """Last ARN segment."""
        return self.arn.rsplit("/", 1)[-1]

    def describe(self) -> dict[str, Any]:
        """GetModelCustomizationJob output."""
        completed = self.status == "Completed"
        return _clean(
            {
                "jobArn": self.arn,
                "jobName": self.name,
                "outputModelName": self.custom_model_name,
                "outputModelArn": self.custom_model_arn if completed else None,
                "clientRequestToken": self.token,
                "roleArn": self.role_arn,
                "status": self.status,
                "failureMessage": self.failure_message if self.status == "Failed" else None,
                "creationTime": self.created,
                "lastModifiedTime": self.last_modified or self.created,
                "endTime": self.end_time,
                "baseModelArn": self.base_model_arn,
                "hyperParameters": self.hyper_parameters,
                "trainingDataConfig": self.training_data_config,
                "validationDataConfig": self.validation_data_config or {"validators": []},
                "outputDataConfig": self.output_data_config,
                "customizationType": self.customization_type,
                "outputModelKmsKeyArn": self.kms_key_arn,
                "trainingMetrics": _training_metrics(self.training_loss),
                "validationMetrics": _validation_metrics(self.validation_loss),
                "vpcConfig": self.vpc_config,
                "customizationConfig": self.customization_config,
            }
        )

    def summary(self) -> dict[str, Any]:
        """ListModelCustomizationJobs entry."""
        return _clean(
            {
                "jobArn": self.arn,
                "baseModelArn": self.base_model_arn,
                "jobName": self.name,
                "status": self.status,
                "lastModifiedTime": self.last_modified or self.created,
                "creationTime": self.created,
                "endTime": self.end_time,
                "customModelArn": self.custom_model_arn if self.status == "Completed" else None,
                "customModelName": self.custom_model_name,
                "customizationType": self.customization_type,
            }
        )


def _training_metrics(value: float | None) -> dict[str, float] | None:
    return None if value is None else {"trainingLoss": value}


def _validation_metrics(value: float | None) -> list[dict[str, float]] | None:
    return None if value is None else [{"validationLoss": value}]


@dataclass
class CustomModel:
    """A custom model produced by a completed customization job."""

    arn: str
    name: str
    job: CustomizationJob
    created: datetime
    status: str = "Active"

    @property
    def base_model_id(self) -> str:
        """Foundation model id of the base model."""
        return self.job.base_model_id

    @property
    def base_model_arn(self) -> str:
        """Foundation model ARN of the base model."""
        return self.job.base_model_arn

    def describe(self) -> dict[str, Any]:
        """GetCustomModel output."""
        job = self.job
        return _clean(
            {
                "modelArn": self.arn,
                "modelName": self.name,
                "jobName": job.name,
                "jobArn": job.arn,
                "baseModelArn": job.base_model_arn,
                "customizationType": job.customization_type,
                "modelKmsKeyArn": job.kms_key_arn,
                "hyperParameters": job.hyper_parameters,
                "trainingDataConfig": job.training_data_config,
                "validationDataConfig": job.validation_data_config,
                "outputDataConfig": job.output_data_config,
                "trainingMetrics": _training_metrics(job.training_loss),
                "validationMetrics": _validation_metrics(job.validation_loss),
                "creationTime": self.created,
                "customizationConfig": job.customization_config,
                "modelStatus": self.status,
            }
        )

    def summary(self, account_id: str) -> dict[str, Any]:
        """ListCustomModels entry."""
        return _clean(
            {
                "modelArn": self.arn,
                "modelName": self.name,
                "creationTime": self.created,
                "baseModelArn": self.job.base_model_arn,
                "baseModelName": self.job.base_model_id.split(":", 1)[0],
                "customizationType": self.job.customization_type,
                "ownerAccountId": account_id,
                "modelStatus": self.status,
            }
        )


@dataclass
class ProvisionedThroughput:
    """A provisioned model throughput."""

    arn: str
    name: str
    token: str | None
    model_units: int
    model_arn: str
    desired_model_arn: str
    foundation_model_arn: str
    commitment: str | None
    created: datetime
    deadline: datetime
    forced_failure: bool = False
    status: str = "Creating"
    last_modified: datetime | None = None
    failure_message: str | None = None

    def describe(self) -> dict[str, Any]:
        """GetProvisionedModelThroughput output (also the List entry)."""
        expiration = None
        if self.commitment:
            expiration = self.created + timedelta(days=COMMITMENTS[self.commitment])
        return _clean(
            {
                "modelUnits": self.model_units,
                "desiredModelUnits": self.model_units,
                "provisionedModelName": self.name,
                "provisionedModelArn": self.arn,
                "modelArn": self.model_arn,
                "desiredModelArn": self.desired_model_arn,
                "foundationModelArn": self.foundation_model_arn,
                "status": self.status,
                "creationTime": self.created,
                "lastModifiedTime": self.last_modified or self.created,
                "failureMessage": self.failure_message if self.status == "Failed" else None,
                "commitmentDuration": self.commitment,
                "commitmentExpirationTime": expiration,
            }
        )


@dataclass
class ImportJob:
    """A custom model import job."""

    arn: str
    name: str
    imported_model_name: str
    imported_model_arn: str
    role_arn: str
    token: str | None
    model_data_source: dict[str, Any]
    vpc_config: dict[str, Any] | None
    kms_key_arn: str | None
    imported_model_tags: dict[str, str]
    created: datetime
    deadline: datetime
    status: str = "InProgress"
    last_modified: datetime | None = None
    end_time: datetime | None = None
    failure_message: str | None = None

    def describe(self) -> dict[str, Any]:
        """GetModelImportJob output."""
        return _clean(
            {
                "jobArn": self.arn,
                "jobName": self.name,
                "importedModelName": self.imported_model_name,
                "importedModelArn": self.imported_model_arn if self.status == "Completed" else None,
                "roleArn": self.role_arn,
                "modelDataSource": self.model_data_source,
                "status": self.status,
                "failureMessage": self.failure_message if self.status == "Failed" else None,
                "creationTime": self.created,
                "lastModifiedTime": self.last_modified or self.created,
                "endTime": self.end_time,
                "vpcConfig": self.vpc_config,
                "importedModelKmsKeyArn": self.kms_key_arn,
            }
        )

    def summary(self) -> dict[str, Any]:
        """ListModelImportJobs entry."""
        return _clean(
            {
                "jobArn": self.arn,
                "jobName": self.name,
                "status": self.status,
                "lastModifiedTime": self.last_modified or self.created,
                "creationTime": self.created,
                "endTime": self.end_time,
                "importedModelArn": self.imported_model_arn if self.status == "Completed" else None,
                "importedModelName": self.imported_model_name,
            }
        )


@dataclass
class ImportedModel:
    """A model imported by a completed import job."""

    arn: str
    name: str
    job: ImportJob
    architecture: str
    instruct_supported: bool
    created: datetime

    def describe(self) -> dict[str, Any]:
        """GetImportedModel output."""
        return _clean(
            {
                "modelArn": self.arn,
                "modelName": self.name,
                "jobName": self.job.name,
                "jobArn": self.job.arn,
                "modelDataSource": self.job.model_data_source,
                "creationTime": self.created,
                "modelArchitecture": self.architecture,
                "modelKmsKeyArn": self.job.kms_key_arn,
                "instructSupported": self.instruct_supported,
                "customModelUnits": {"customModelUnitsPerModelCopy": 1, "customModelUnitsVersion": "v1.0"},
            }
        )

    def summary(self) -> dict[str, Any]:
        """ListImportedModels entry."""
        return {
            "modelArn": self.arn,
            "modelName": self.name,
            "creationTime": self.created,
            "instructSupported": self.instruct_supported,
            "modelArchitecture": self.architecture,
        }


@dataclass
class Deployment:
    """An on-demand custom model deployment."""

    arn: str
    name: str
    model_arn: str
    description: str | None
    token: str | None
    created: datetime
    deadline: datetime
    status: str = "Creating"
    last_updated: datetime | None = None
    forced_failure: bool = False
    failure_message: str | None = None

    def describe(self) -> dict[str, Any]:
        """GetCustomModelDeployment output."""
        return _clean(
            {
                "customModelDeploymentArn": self.arn,
                "modelDeploymentName": self.name,
                "modelArn": self.model_arn,
                "createdAt": self.created,
                "status": self.status,
                "description": self.description,
                "failureMessage": self.failure_message if self.status == "Failed" else None,
                "lastUpdatedAt": self.last_updated or self.created,
            }
        )

    def summary(self) -> dict[str, Any]:
        """ListCustomModelDeployments entry."""
        return {
            "customModelDeploymentArn": self.arn,
            "customModelDeploymentName": self.name,
            "modelArn": self.model_arn,
            "createdAt": self.created,
            "status": self.status,
            "lastUpdatedAt": self.last_updated or self.created,
        }


T = TypeVar("T")


def _page(items: list[T], params: dict[str, Any]) -> tuple[list[T], str | None]:
    """Apply maxResults/nextToken (an opaque offset) to an already sorted list."""
    max_results = params.get("maxResults") or 1000
    if not 1 <= int(max_results) <= 1000:
        raise _constraint_error("maxResults", max_results, "Member must have value between 1 and 1000")
    start = 0
    token = params.get("nextToken")
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode().split(":", 1)[1])
        except (ValueError, IndexError, UnicodeDecodeError):
            raise ValidationException("The provided pagination token is invalid.") from None
    end = start + int(max_results)
    next_token = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode() if end < len(items) else None
    return items[start:end], next_token


def _filter_sort(
    items: Iterable[Any],
    params: dict[str, Any],
    created: Callable[[Any], datetime],
    name: Callable[[Any], str],
    after: str = "creationTimeAfter",
    before: str = "creationTimeBefore",
) -> list[Any]:
    """Filter by creation time and nameContains, then sort by creation time."""
    result = list(items)
    if params.get(after):
        result = [item for item in result if created(item) > _utc(params[after])]  # type: ignore[operator]
    if params.get(before):
        result = [item for item in result if created(item) < _utc(params[before])]  # type: ignore[operator]
    if params.get("nameContains"):
        result = [item for item in result if params["nameContains"] in name(item)]
    if params.get("sortBy", "CreationTime") != "CreationTime":
        _check_enum("sortBy", params.get("sortBy"), ["CreationTime"])
    order = params.get("sortOrder") or "Descending"
    _check_enum("sortOrder", order, ["Ascending", "Descending"])
    return sorted(result, key=lambda item: (created(item), name(item)), reverse=order == "Descending")


def _customizable_in(region: str) -> list[str]:
    """Model ids with at least one customization offered in ``region`` (not EOL)."""
    return [
        m.model_id
        for m in catalog.MODELS.values()
        if catalog.customizations_in(m, region) and catalog.lifecycle(m) != "EOL"
    ]


# ---------------------------------------------------------------------------------------------
# Backend


class LocalBedrockBackend(BedrockBackend):
    """Bedrock control-plane state for one account and region."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.lock = threading.RLock()
        self.jobs: dict[str, CustomizationJob] = {}
        self.models: dict[str, CustomModel] = {}
        self.throughputs: dict[str, ProvisionedThroughput] = {}
        self.import_jobs: dict[str, ImportJob] = {}
        self.imported_models: dict[str, ImportedModel] = {}
        self.deployments: dict[str, Deployment] = {}
        self.evaluation_jobs: dict[str, Any] = {}  # evaluation_jobs.EvaluationJob by ARN
        self.tags: dict[str, dict[str, str]] = {}

    @property
    def _url_module(self) -> Any:  # type: ignore[override]
        """Serve the same URLs as moto's Bedrock backend."""
        import moto.bedrock.urls

        return moto.bedrock.urls

    def _arn(self, resource: str) -> str:
        return f"arn:{get_partition(self.region_name)}:bedrock:{self.region_name}:{self.account_id}:{resource}"

    def foundation_model_arn(self, model_id: str) -> str:
        """``arn:aws:bedrock:REGION::foundation-model/<id>``."""
        return f"arn:{get_partition(self.region_name)}:bedrock:{self.region_name}::foundation-model/{model_id}"

    def s3(self) -> S3Access:
        """Access to the emulated S3 of this account."""
        return S3Access(self.account_id, self.region_name)

    # -- lookups ---------------------------------------------------------------------------

    @staticmethod
    def _find(items: dict[str, T], identifier: str, name_of: Callable[[T], str]) -> T | None:
        if identifier in items:
            return items[identifier]
        return next((item for item in items.values() if name_of(item) == identifier), None)

    def find_job(self, identifier: str) -> CustomizationJob:
        """A customization job by name or ARN (refreshed)."""
        job = self._find(self.jobs, identifier, lambda j: j.name)
        if job is None:
            raise ResourceNotFoundException(f"Model customization job {identifier} was not found.")
        self._refresh_job(job)
        return job

    def find_custom_model(self, identifier: str) -> CustomModel | None:
        """A custom model by name or ARN, or None."""
        self._refresh_all_jobs()
        return self._find(self.models, identifier, lambda m: m.name)

    def get_model(self, identifier: str) -> CustomModel:
        """A custom model by name or ARN, else ResourceNotFoundException."""
        model = self.find_custom_model(identifier)
        if model is None:
            raise ResourceNotFoundException(f"Custom model {identifier} was not found.")
        return model

    def find_throughput(self, identifier: str) -> ProvisionedThroughput | None:
        """A provisioned throughput by name or ARN (refreshed), or None."""
        throughput = self._find(self.throughputs, identifier, lambda t: t.name)
        if throughput is not None:
            self._refresh_throughput(throughput)
        return throughput

    def get_throughput(self, identifier: str) -> ProvisionedThroughput:
        """A provisioned throughput by name or ARN, else ResourceNotFoundException."""
        throughput = self.find_throughput(identifier)
        if throughput is None:
            raise ResourceNotFoundException(f"Provisioned model throughput {identifier} was not found.")
        return throughput

    def find_import_job(self, identifier: str) -> ImportJob:
        """A model import job by name or ARN (refreshed)."""
        job = self._find(self.import_jobs, identifier, lambda j: j.name)
        if job is None:
            raise ResourceNotFoundException(f"Model import job {identifier} was not found.")
        self._refresh_import(job)
        return job

    def find_imported_model(self, identifier: str) -> ImportedModel | None:
        """An imported model by name or ARN, or None."""
        self._refresh_all_imports()
        return self._find(self.imported_models, identifier, lambda m: m.name)

    def find_deployment(self, identifier: str) -> Deployment | None:
        """A custom model deployment by name or ARN (refreshed), or None."""
        deployment = self._find(self.deployments, identifier, lambda d: d.name)
        if deployment is not None:
            self._refresh_deployment(deployment)
        return deployment

    # -- lifecycles ------------------------------------------------------------------------

    def _refresh_all_jobs(self) -> None:
        for job in list(self.jobs.values()):
            self._refresh_job(job)

    def _refresh_all_imports(self) -> None:
        for job in list(self.import_jobs.values()):
            self._refresh_import(job)

    def _refresh_job(self, job: CustomizationJob) -> None:
        now = utcnow()
        if job.status == "InProgress" and now >= job.deadline:
            self._finish_job(job)
        elif job.status == "Stopping" and now >= job.deadline:
            job.status = "Stopped"
            job.end_time = job.last_modified = job.deadline

    def _job_failure(self, job: CustomizationJob, s3: S3Access) -> str | None:
        if job.forced_failure is not None:
            return job.forced_failure
        training_uri = job.training_data_config.get("s3Uri", "")
        if "invocationLogsConfig" in job.training_data_config:
            job.learned = self._learn_from_logs(job, s3)
            if job.learned.failure:
                return job.learned.failure
        elif s3.read(training_uri) is None:
            return (
                f"Training data not found: the S3 object {training_uri} does not exist or the "
                "service role cannot read it."
            )
        for validator in (job.validation_data_config or {}).get("validators", []):
            if s3.read(validator["s3Uri"]) is None:
                return (
                    f"Validation data not found: the S3 object {validator['s3Uri']} does not exist or "
                    "the service role cannot read it."
                )
        output_uri = job.output_data_config["s3Uri"]
        if not s3.bucket_exists(parse_s3_uri(output_uri)[0]):
            return f"Output location {output_uri} is not accessible: the bucket does not exist."
        return None

    def _finish_job(self, job: CustomizationJob) -> None:
        """Complete or fail a job whose deadline passed; runs once per job."""
        s3 = self.s3()
        job.end_time = job.last_modified = job.deadline
        failure = self._job_failure(job, s3)
        if job.learned is not None:  # invocation logs: the records that passed the filters
            n_train = job.learned.records
        else:
            training = s3.read(job.training_data_config.get("s3Uri", ""))
            n_train = count_records(training[0] if training else None)
            if failure is None and n_train == 0:
                failure = f"Training data {job.training_data_config['s3Uri']} contains no records."
            if failure is None:
                failure = self._records_failure(job, s3)
        if failure is not None:
            job.status = "Failed"
            job.failure_message = failure
            return
        validators = (job.validation_data_config or {}).get("validators", [])
        n_validation = sum(count_records((s3.read(v["s3Uri"]) or (b"", ""))[0]) for v in validators)
        curves = loss.simulate(job.base_model_id, job.hyper_parameters, n_train, n_validation)
        job.training_loss = curves.final_training_loss
        job.validation_loss = curves.final_validation_loss if validators else None
        self._write_metrics(job, curves, s3, bool(validators))
        job.status = "Completed"
        model = CustomModel(job.custom_model_arn, job.custom_model_name, job, job.deadline)
        self.models[model.arn] = model
        self.tags[model.arn] = dict(job.custom_model_tags)

    @staticmethod
    def _records_failure(job: CustomizationJob, s3: S3Access) -> str | None:
        """Check every record against the model's documented format and record limits (when the job runs)."""
        model = catalog.get(job.base_model_id)
        customization = model.customization(job.customization_type) if model else None
        if customization is None:
            return None
        description, format_source = catalog.RECORD_FORMATS[customization.record_format]
        limits_source = catalog.page_url(customization.records_source or format_source)

        def check(kind: str, uri: str) -> tuple[int, str | None]:
            found = s3.read(uri)
            content = found[0] if found else b""
            count, problem = catalog.check_jsonl(
                content, customization.record_format, customization.reserved_words, customization.reasoning_content
            )
            if problem is not None:
                return count, (
                    f"{kind} data validation failed for {uri}: {problem}. Records for {job.customization_type} "
                    f"of {job.base_model_id} must have the format {description} "
                    f"(see {catalog.page_url(format_source)})."
                )
            return count, None

        n_train, failure = check("Training", job.training_data_config.get("s3Uri", ""))
        if failure:
            return failure
        low, high = customization.min_records, customization.max_records
        if (low is not None and n_train < low) or (high is not None and n_train > high):
            return (
                f"Training data {job.training_data_config['s3Uri']} has {n_train} records; {job.base_model_id} "
                f"requires between {low or 1} and {high or 'any number of'} training records (see {limits_source})."
            )
        n_validation = 0
        for validator in (job.validation_data_config or {}).get("validators", []):
            count, failure = check("Validation", validator["s3Uri"])
            if failure:
                return failure
            n_validation += count
        limit = customization.max_validation_records
        if limit is not None and n_validation > limit:
            return (
                f"Validation data has {n_validation} records; {job.base_model_id} accepts at most {limit} "
                f"validation records (see {limits_source})."
            )
        return None

    def _write_metrics(self, job: CustomizationJob, curves: loss.LossCurves, s3: S3Access, validate: bool) -> None:
        bucket, prefix = parse_s3_uri(job.output_data_config["s3Uri"])
        folder = f"{prefix.rstrip('/')}/" if prefix.strip("/") else ""
        folder += f"model-customization-job-{job.job_id}/"
        perplexity = not job.base_model_id.startswith("anthropic.")

        def row(step: int, epoch: int, value: float) -> str:
            cells = [str(step), str(epoch), f"{value:.6f}"]
            if perplexity:
                cells.append(f"{math.exp(min(value, 50.0)):.6f}")
            return ",".join(cells)

        extra = ",perplexity" if perplexity else ""
        lines = [f"step_number,epoch_number,training_loss{extra}"]
        lines += [row(point.step, point.epoch, point.loss) for point in curves.training]
        s3.write(bucket, folder + "training_artifacts/step_wise_training_metrics.csv", ("\n".join(lines) + "\n").encode())
        if validate:
            lines = [f"step_number,epoch_number,validation_loss{extra}"]
            lines += [row(p.epoch * curves.steps_per_epoch, p.epoch, p.loss) for p in curves.validation]
            inner = "validation/" if CONFIG.metrics_layout == "nested" else ""
            key = f"{folder}validation_artifacts/post_fine_tuning_validation/{inner}validation_metrics.csv"
            s3.write(bucket, key, ("\n".join(lines) + "\n").encode())

    def _refresh_throughput(self, throughput: ProvisionedThroughput) -> None:
        if throughput.status not in ("Creating", "Updating") or utcnow() < throughput.deadline:
            return
        throughput.last_modified = throughput.deadline
        if throughput.status == "Creating" and throughput.forced_failure:
            throughput.status = "Failed"
            throughput.failure_message = (
                f"Failed to create provisioned model throughput {throughput.name}: insufficient capacity "
                f"for {throughput.model_units} model unit(s) of the requested model. Try again later."
            )
            return
        throughput.model_arn = throughput.desired_model_arn
        throughput.status = "InService"

    def _refresh_import(self, job: ImportJob) -> None:
        if job.status != "InProgress" or utcnow() < job.deadline:
            return
        job.end_time = job.last_modified = job.deadline
        outcome = self._inspect_import(job.model_data_source["s3DataSource"]["s3Uri"])
        if isinstance(outcome, str):
            job.status = "Failed"
            job.failure_message = outcome
            return
        architecture, instruct = outcome
        job.status = "Completed"
        model = ImportedModel(job.imported_model_arn, job.imported_model_name, job, architecture, instruct, job.deadline)
        self.imported_models[model.arn] = model
        self.tags[model.arn] = dict(job.imported_model_tags)

    def _inspect_import(self, uri: str) -> tuple[str, bool] | str:
        """(architecture, instructSupported) of a Hugging Face folder, or a failure message."""
        s3 = self.s3()
        keys = s3.keys(uri)
        if keys is None:
            return f"The S3 location {uri} does not exist or is not accessible."
        bucket, _ = parse_s3_uri(uri)
        config_key = next((k for k in keys if k.rsplit("/", 1)[-1] == "config.json"), None)
        if config_key is None:
            return f"Model import failed: config.json was not found in {uri}."
        if not any(k.endswith(".safetensors") for k in keys):
            return (
                f"Model import failed: no .safetensors weight files were found in {uri}. "
                "Only Hugging Face weights in safetensors format are supported."
            )
        content = s3.read(f"s3://{bucket}/{config_key}")
        try:
            config = json.loads(content[0]) if content else None
        except (ValueError, UnicodeDecodeError):
            config = None
        if not isinstance(config, dict):
            return f"Model import failed: config.json in {uri} is not a valid JSON object."
        model_type = config.get("model_type")
        architectures = config.get("architectures") or []
        if not catalog.import_architecture_ok(model_type, list(architectures)):
            return (
                f"Model import failed: unsupported model architecture {architectures or None} "
                f"(model_type {model_type!r}). Supported architectures: {catalog.IMPORT_NAMES} "
                f"(see {catalog.page_url(catalog.IMPORT_PAGE)})."
            )
        instruct = False
        for key in keys:
            if key.endswith("tokenizer_config.json"):
                tokenizer = s3.read(f"s3://{bucket}/{key}")
                instruct = instruct or bool(tokenizer and b"chat_template" in tokenizer[0])
        return str(model_type or architectures[0]), instruct

    def _refresh_deployment(self, deployment: Deployment) -> None:
        if deployment.status == "Creating" and utcnow() >= deployment.deadline:
            deployment.status = "Failed" if deployment.forced_failure else "Active"
            deployment.last_updated = deployment.deadline
            if deployment.forced_failure:
                deployment.failure_message = (
                    f"Failed to create custom model deployment {deployment.name}: the model could not be "
                    "deployed for on-demand inference. Try again later."
                )

    # -- customization jobs ----------------------------------------------------------------

    def _base_model(self, identifier: str) -> tuple[str, str]:
        """(foundation id, foundation ARN) for a base model identifier (id, ARN or custom model)."""
        pattern = _input_shape("CreateModelCustomizationJob").members["baseModelIdentifier"].metadata["pattern"]
        if not re.fullmatch(pattern, identifier):
            raise ValidationException(
                f"The provided base model identifier {identifier} is invalid: baseModelIdentifier must satisfy "
                f"the pattern {pattern}."
            )
        if "custom-model/" in identifier or "." not in identifier:
            source = self.find_custom_model(identifier)
            if source is None:
                raise ResourceNotFoundException(
                    f"The custom model {identifier} given as baseModelIdentifier was not found."
                )
            return source.base_model_id, source.base_model_arn
        model_id = foundation_id(identifier)
        if not re.fullmatch(MODEL_ID, model_id):
            raise ValidationException(f"The provided base model identifier {identifier} is invalid.")
        return model_id, self.foundation_model_arn(model_id)

    def foundation_model(self, model_id: str, field_name: str) -> catalog.FoundationModel:
        """The catalog entry of a foundation model usable in this region, else the service's error."""
        model = catalog.get(model_id)
        if model is None:
            raise ResourceNotFoundException(
                f"The foundation model {model_id} given as {field_name} was not found: no such model in Amazon "
                "Bedrock."
            )
        if catalog.lifecycle(model) == "EOL":
            raise ValidationException(
                f"The foundation model {model_id} given as {field_name} reached end of life on "
                f"{model.eol_date.isoformat() if model.eol_date else 'an earlier date'} and can no longer be used "
                f"(see {catalog.page_url(model.lifecycle_source or catalog.LIFECYCLE)})."
            )
        return model

    def _customization_rules(self, base_model_id: str, params: dict[str, Any], customization_type: str) -> None:
        """Refuse what AWS documents as refused for this base model, customization type and region."""
        model = self.foundation_model(base_model_id, "baseModelIdentifier")
        region = self.region_name
        if not model.customizations:
            raise ValidationException(
                f"The base model {base_model_id} (baseModelIdentifier) does not support customization. "
                f"Customizable models in {region}: {', '.join(_customizable_in(region)) or 'none'} "
                f"(see {catalog.page_url(catalog.FINE_TUNING_PAGE)})."
            )
        customization = model.customization(customization_type)
        if customization is None:
            offered = ", ".join(c.kind for c in model.customizations)
            raise ValidationException(
                f"customizationType {customization_type} is not supported for base model {base_model_id}. "
                f"Supported customization types: {offered}."
            )
        if region not in customization.regions:
            raise ValidationException(
                f"customizationType {customization_type} of base model {base_model_id} (baseModelIdentifier) is "
                f"not offered in {region}. Supported Regions: {', '.join(customization.regions)} "
                f"(see {catalog.page_url(customization.source)})."
            )
        self._check_customization_config(customization, base_model_id, params.get("customizationConfig"))
        if customization_type == "REINFORCEMENT_FINE_TUNING":
            rft = params["customizationConfig"]["rftConfig"]  # present: checked just above
            self._check_grader(rft["graderConfig"]["lambdaGrader"]["lambdaArn"])
        self._check_hyper_parameters(customization, base_model_id, params)
        validators = (params.get("validationDataConfig") or {}).get("validators") or []
        if validators and not customization.validation:
            raise ValidationException(
                f"validationDataConfig is not supported for {customization_type} of base model {base_model_id}: "
                f"this model takes no validation set (see {catalog.page_url(customization.records_source or customization.source)})."
            )

    @staticmethod
    def _check_customization_config(
        customization: catalog.Customization, base_model_id: str, config: dict[str, Any] | None
    ) -> None:
        config = config or {}
        kind = customization.kind
        if kind == "DISTILLATION":
            teacher = ((config.get("distillationConfig") or {}).get("teacherModelConfig") or {}).get(
                "teacherModelIdentifier"
            )
            if not teacher:
                raise ValidationException(
                    "customizationConfig.distillationConfig.teacherModelConfig.teacherModelIdentifier is required "
                    f"for DISTILLATION of base model {base_model_id}."
                )
            problem = catalog.teacher_problem(base_model_id, str(teacher))  # catalog.DISTILLATION
            if problem:
                raise ValidationException(problem)
        elif config.get("distillationConfig") is not None:
            raise ValidationException(
                f"customizationConfig.distillationConfig is only allowed with customizationType DISTILLATION, not {kind}."
            )
        if kind == "REINFORCEMENT_FINE_TUNING":
            lambda_arn = (((config.get("rftConfig") or {}).get("graderConfig") or {}).get("lambdaGrader") or {}).get(
                "lambdaArn"
            )
            if not lambda_arn:
                raise ValidationException(
                    "customizationConfig.rftConfig.graderConfig.lambdaGrader.lambdaArn is required for "
                    f"REINFORCEMENT_FINE_TUNING of base model {base_model_id}."
                )
            field = "customizationConfig.rftConfig.graderConfig.lambdaGrader.lambdaArn"
            _check_pattern(field, lambda_arn, LAMBDA_ARN, 512)
        elif config.get("rftConfig") is not None:
            raise ValidationException(
                f"customizationConfig.rftConfig is only allowed with customizationType REINFORCEMENT_FINE_TUNING, not {kind}."
            )

    def _check_grader(self, lambda_arn: str) -> None:
        """The grader is a Lambda function of this account and region that exists. The emulator looks it up
        in moto's Lambda backend (GetFunction, no Docker) and does not invoke it: reward calls are not
        emulated. The service role invokes the reward function (rft-access-security)."""
        from moto.awslambda.exceptions import UnknownFunctionException
        from moto.awslambda.models import lambda_backends

        field = "customizationConfig.rftConfig.graderConfig.lambdaGrader.lambdaArn"
        account, region = lambda_arn.split(":")[4], lambda_arn.split(":")[3]
        if region != self.region_name or account != self.account_id:
            raise ValidationException(
                f"{field} {lambda_arn} must be a Lambda function of account {self.account_id} in "
                f"{self.region_name}, where the job runs (see {catalog.page_url(catalog.RFT_ACCESS)})."
            )
        try:
            lambda_backends[account][region].get_function(lambda_arn)
        except UnknownFunctionException:
            raise ValidationException(
                f"{field}: the Lambda function {lambda_arn} does not exist "
                f"(see {catalog.page_url(catalog.RFT_ACCESS)})."
            ) from None

    def _check_invocation_logs(self, training: dict[str, Any], customization_type: str) -> None:
        """trainingDataConfig.invocationLogsConfig (rules and pages: ``invocation_logs``); the job then trains on
        the logs (API_TrainingDataConfig documents no rule for an s3Uri given as well)."""
        config = training["invocationLogsConfig"]
        problem = invocation_logs.config_problem(config)
        if problem:
            raise ValidationException(problem)
        uri = config["invocationLogSource"]["s3Uri"]
        _check_pattern("trainingDataConfig.invocationLogsConfig.invocationLogSource.s3Uri", uri, S3_URI, 1024)
        if customization_type not in invocation_logs.TYPES:
            pages = ", ".join(catalog.page_url(p) for p in (invocation_logs.PAGE_DISTILLATION, invocation_logs.PAGE_RFT))
            raise ValidationException(
                f"trainingDataConfig.invocationLogsConfig is not supported for customizationType {customization_type}: "
                f"invocation logs are training data of {' and '.join(invocation_logs.TYPES)} only (see {pages}). "
                "Give the training data in trainingDataConfig.s3Uri."
            )
        if not self._log_keys(uri):
            raise ValidationException(
                f"No invocation logs found at {uri} (trainingDataConfig.invocationLogsConfig.invocationLogSource."
                "s3Uri): the prefix holds no objects, or the bucket does not exist. Point it at the S3 prefix "
                f"model invocation logging delivers to (see {catalog.page_url(invocation_logs.PAGE_LOGGING)})."
            )

    def _log_keys(self, uri: str) -> list[str]:
        """The keys of the invocation logs at ``uri``: the object it names (InvocationLogSource.s3Uri: "the URI
        of an invocation log"), else every object under it as a prefix."""
        s3 = self.s3()
        if not uri.endswith("/") and s3.read(uri) is not None:
            return [parse_s3_uri(uri)[1]]
        return sorted(s3.keys(uri) or [])

    def _learn_from_logs(self, job: CustomizationJob, s3: S3Access) -> invocation_logs.Learned:
        """Read, filter and learn the invocation log records under the job's prefix, when the job runs."""
        from .answers import base_answer
        from .bodies import ChatRequest

        config = job.training_data_config["invocationLogsConfig"]
        uri = config["invocationLogSource"]["s3Uri"]
        bucket, _ = parse_s3_uri(uri)
        objects = [(key, (s3.read(f"s3://{bucket}/{key}") or (b"", ""))[0]) for key in self._log_keys(uri)]
        records, unreadable = invocation_logs.read_objects(objects)
        if unreadable and not records:
            return invocation_logs.Learned(
                failure=f"Invocation logs under {uri} hold no {invocation_logs.SCHEMA_TYPE} records "
                f"({', '.join(unreadable[:3])}; see {catalog.page_url(invocation_logs.PAGE_LOGGING)})."
            )
        teacher = None
        if job.customization_type == "DISTILLATION":
            teacher_id = job.customization_config["distillationConfig"]["teacherModelConfig"]["teacherModelIdentifier"]

            def teacher(prompt: str) -> str:  # the teacher answers the logged prompts (emulated base answer)
                return base_answer(ChatRequest(messages=[{"role": "user", "text": prompt}]), teacher_id)

        return invocation_logs.learn(config, records, job.customization_type, teacher, catalog.page_url)

    @staticmethod
    def _check_hyper_parameters(customization: catalog.Customization, base_model_id: str, params: dict[str, Any]) -> None:
        given = params.get("hyperParameters") or {}
        where = "hyperParameters"
        if customization.hyper_parameters_in != "hyperParameters":
            if given:
                raise ValidationException(
                    f"hyperParameters is not supported for {customization.kind}; set "
                    f"{customization.hyper_parameters_in} instead."
                )
            where = customization.hyper_parameters_in
            rft = ((params.get("customizationConfig") or {}).get("rftConfig") or {}).get("hyperParameters") or {}
            given = {key: str(value) for key, value in rft.items()}
        allowed = [hp.name for hp in customization.hyper_parameters]
        for name, raw in given.items():
            hp = customization.hyper_parameter(name)
            if hp is None:
                raise ValidationException(
                    f"{where}.{name} is not a supported hyperparameter for {customization.kind} of base model "
                    f"{base_model_id}. Supported hyperparameters: {', '.join(allowed) or 'none'} "
                    f"(see {catalog.page_url(customization.hyper_parameters[0].source if customization.hyper_parameters else customization.source)})."
                )
            problem = hp.problem(raw)
            if problem is not None:
                raise ValidationException(
                    f"{where}.{name}: {problem}. {name} of base model {base_model_id} must be "
                    f"{'an' if hp.kind == 'integer' else 'a'} {hp.kind} {hp.range_text()} "
                    f"(see {catalog.page_url(hp.source)})."
                )

    def create_model_customization_job(self, params: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        """CreateModelCustomizationJob."""
        token = params.get("clientRequestToken")
        _check_token(token)
        if token:
            existing = next((job for job in self.jobs.values() if job.token == token), None)
            if existing is not None:
                return {"jobArn": existing.arn}
        name = _required(params, "jobName")
        _check_pattern("jobName", name, JOB_NAME, 63)
        model_name = _required(params, "customModelName")
        _check_pattern("customModelName", model_name, RESOURCE_NAME, 63)
        role = _required(params, "roleArn")
        _check_pattern("roleArn", role, ROLE_ARN, 2048)
        base_model_id, base_model_arn = self._base_model(_required(params, "baseModelIdentifier"))
        training = _required(params, "trainingDataConfig")
        if training.get("invocationLogsConfig") is not None:
            self._check_invocation_logs(training, params.get("customizationType") or "FINE_TUNING")
        else:
            _check_pattern("trainingDataConfig.s3Uri", training.get("s3Uri"), S3_URI, 1024)
        output = _required(params, "outputDataConfig")
        _check_pattern("outputDataConfig.s3Uri", output.get("s3Uri"), S3_URI, 1024)
        validation = params.get("validationDataConfig")
        if validation is not None:
            validators = validation.get("validators") or []
            if len(validators) > 10:
                raise _constraint_error(
                    "validationDataConfig.validators", len(validators), "Member must have length less than or equal to 10"
                )
            for validator in validators:
                _check_pattern("validationDataConfig.validators.s3Uri", validator.get("s3Uri"), S3_URI, 1024)
        customization_type = params.get("customizationType") or "FINE_TUNING"
        _check_enum("customizationType", customization_type, CUSTOMIZATION_TYPES)
        hyper_parameters = params.get("hyperParameters") or {}
        for key, value in hyper_parameters.items():
            if not isinstance(value, str):
                raise _constraint_error(f"hyperParameters.{key}", value, "Member must be a string")
        self._customization_rules(base_model_id, params, customization_type)
        _check_vpc(params.get("vpcConfig"))
        job_tags = _check_tags("jobTags", params.get("jobTags"))
        model_tags = _check_tags("customModelTags", params.get("customModelTags"))
        if any(job.name == name for job in self.jobs.values()):
            raise ValidationException(NAME_IN_USE)
        busy = any(job.custom_model_name == model_name and job.status in ("InProgress", "Stopping") for job in self.jobs.values())
        if busy or self.find_custom_model(model_name) is not None:
            raise ValidationException(f"The provided custom model name {model_name} is currently in use.")

        now = utcnow()
        job = CustomizationJob(
            arn=self._arn(f"model-customization-job/{base_model_id}/{new_id()}"),
            name=name,
            custom_model_name=model_name,
            custom_model_arn=self._arn(f"custom-model/{base_model_id}/{new_id()}"),
            role_arn=role,
            token=token,
            base_model_id=base_model_id,
            base_model_arn=base_model_arn,
            customization_type=customization_type,
            kms_key_arn=_kms_arn(params.get("customModelKmsKeyId"), self.region_name, self.account_id),
            hyper_parameters=dict(hyper_parameters),
            training_data_config=dict(training),
            validation_data_config=validation,
            output_data_config=dict(output),
            vpc_config=params.get("vpcConfig"),
            customization_config=params.get("customizationConfig"),
            custom_model_tags=model_tags,
            created=now,
            deadline=now + timedelta(seconds=CONFIG.job_seconds),
            forced_failure=CONFIG.fail_message if CONFIG.matches("fail_jobs", name) else None,
        )
        self.jobs[job.arn] = job
        self.tags[job.arn] = job_tags
        return {"jobArn": job.arn}

    def get_model_customization_job(self, params: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        """GetModelCustomizationJob."""
        return self.find_job(_required(params, "jobIdentifier")).describe()

    def list_model_customization_jobs(self, params: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        """ListModelCustomizationJobs."""
        self._refresh_all_jobs()
        jobs = _filter_sort(self.jobs.values(), params, lambda j: j.created, lambda j: j.name)
        if params.get("statusEquals"):
            jobs = [job for job in jobs if job.status == params["statusEquals"]]
        page, token = _page(jobs, params)
        return _clean({"modelCustomizationJobSummaries": [job.summary() for job in page], "nextToken": token})

    def stop_model_customization_job(self, params: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        """StopModelCustomizationJob: InProgress -> Stopping -> Stopped."""
        job = self.find_job(_required(params, "jobIdentifier"))
        if job.status != "InProgress":
            raise ConflictException(
                f"Model customization job {job.name} cannot be stopped because its status is {job.status}; "
                "only a job that is InProgress can be stopped."
            )
        now = utcnow()
        job.status = "Stopping"
        job.last_modified = now
        job.deadline = now + timedelta(seconds=CONFIG.stop_seconds)
        return {}

    # -- custom models ---------------------------------------------------------------------

    def get_custom_model(self, params: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        """GetCustomModel."""
        return self.get_model(_required(params, "modelIdentifier")).describe()

    def list_custom_models(self, params: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        """ListCustomModels."""
        self._refresh_all_jobs()
        models = _filter_sort(self.models.values(), params, lambda m: m.created, lambda m: m.name)
        for key in ("baseModelArnEquals", "foundationModelArnEquals"):
            if params.get(key):
                models = [m for m in models if m.base_model_arn == params[key]]
        if params.get("modelStatus"):
            models = [m for m in models if m.status == params["modelStatus"]]
        page, token = _page(models, params)
        return _clean({"modelSummaries": [m.summary(self.account_id) for m in page], "nextToken": token})

    def delete_custom_model(self, params: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        """DeleteCustomModel; refused while a throughput or deployment uses the model."""
        model = self.get_model(_required(params, "modelIdentifier"))
        for throughput in self.throughputs.values():
            self._refresh_throughput(throughput)
            if model.arn in (throughput.model_arn, throughput.desired_model_arn):
                raise ConflictException(
                    f"Custom model {model.name} is in use by provisioned model throughput "
                    f"{throughput.name} ({throughput.arn}). Delete the provisioned throughput first."
                )
        for deployment in self.deployments.values():
            if deployment.model_arn == model.arn:
                raise ConflictException(
                    f"Custom model {model.name} is in use by custom model deployment {deployment.name} "
                    f"({deployment.arn}). Delete the deployment first."
                )
        del self.models[model.arn]
        self.tags.pop(model.arn, None)
        return {}

    # -- provisioned throughput ------------------------------------------------------------

    def _throughput_model(self, identifier: str, field_name: str) -> tuple[str, str]:
        """(model ARN, foundation model ARN) of a model a throughput may serve."""
        if "imported-model/" in identifier:
            raise ValidationException(
                f"Provisioned Throughput is not supported for imported model {identifier}; invoke it on demand."
            )
        if "custom-model/" in identifier or "." not in identifier:
            model = self.find_custom_model(identifier)
            if model is None:
                raise ResourceNotFoundException(f"The model {identifier} specified in {field_name} was not found.")
            if model.status != "Active":
                raise ValidationException(f"The model {identifier} is not Active (status {model.status}).")
            return model.arn, model.base_model_arn
        model_id = foundation_id(identifier)
        if not re.fullmatch(MODEL_ID, model_id):
            raise ValidationException(f"The provided model identifier {identifier} is invalid.")
        model = self.foundation_model(model_id, field_name)
        if "PROVISIONED" not in model.inference_types or self.region_name not in model.regions:
            offered = [
                m.model_id
                for m in catalog.MODELS.values()
                if "PROVISIONED" in m.inference_types and self.region_name in m.regions and catalog.lifecycle(m) != "EOL"
            ]
            raise ValidationException(
                f"Provisioned Throughput is not supported for the model {model_id} ({field_name}) in "
                f"{self.region_name}. Use a model id for Provisioned Throughput, one of: {', '.join(offered)} "
                f"(see {catalog.page_url(catalog.PT_SUPPORTED)})."
            )
        arn = self.foundation_model_arn(model_id)
        return arn, arn

    def create_provisioned_model_throughput(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateProvisionedModelThroughput."""
        token = params.get("clientRequestToken")
        _check_token(token)
        if token:
            existing = next((t for t in self.throughputs.values() if t.token == token), None)
            if existing is not None:
                return {"provisionedModelArn": existing.arn}
        name = _required(params, "provisionedModelName")
        _check_pattern("provisionedModelName", name, RESOURCE_NAME, 63)
        units = _required(params, "modelUnits")
        if not isinstance(units, int) or units < 1:
            raise _constraint_error("modelUnits", units, "Member must have value greater than or equal to 1")
        commitment = params.get("commitmentDuration")
        if commitment is not None:
            _check_enum("commitmentDuration", commitment, COMMITMENTS)
        tags = _check_tags("tags", params.get("tags"))
        model_arn, foundation_arn = self._throughput_model(_required(params, "modelId"), "modelId")
        if model_arn == foundation_arn and commitment is None:
            model = catalog.get(foundation_id(foundation_arn))
            if model is not None and not model.base_no_commitment:
                raise ValidationException(
                    f"commitmentDuration is required for a Provisioned Throughput of the base model "
                    f"{model.model_id}: no-commitment purchase is not supported for this base model. Allowed "
                    f"values: {', '.join(COMMITMENTS)} (custom models also allow no commitment; see "
                    f"{catalog.page_url(catalog.PT_SUPPORTED)})."
                )
        if any(t.name == name for t in self.throughputs.values()):
            raise ValidationException(f"A provisioned model throughput named {name} already exists.")
        now = utcnow()
        throughput = ProvisionedThroughput(
            arn=self._arn(f"provisioned-model/{new_id()}"),
            name=name,
            token=token,
            model_units=units,
            model_arn=model_arn,
            desired_model_arn=model_arn,
            foundation_model_arn=foundation_arn,
            commitment=commitment,
            created=now,
            deadline=now + timedelta(seconds=CONFIG.throughput_seconds),
            forced_failure=CONFIG.matches("fail_throughputs", name),
        )
        self.throughputs[throughput.arn] = throughput
        self.tags[throughput.arn] = tags
        return {"provisionedModelArn": throughput.arn}

    def get_provisioned_model_throughput(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetProvisionedModelThroughput."""
        return self.get_throughput(_required(params, "provisionedModelId")).describe()

    def list_provisioned_model_throughputs(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListProvisionedModelThroughputs."""
        for throughput in self.throughputs.values():
            self._refresh_throughput(throughput)
        items = _filter_sort(self.throughputs.values(), params, lambda t: t.created, lambda t: t.name)
        if params.get("statusEquals"):
            items = [t for t in items if t.status == params["statusEquals"]]
        if params.get("modelArnEquals"):
            items = [t for t in items if t.model_arn == params["modelArnEquals"]]
        page, token = _page(items, params)
        return _clean({"provisionedModelSummaries": [t.describe() for t in page], "nextToken": token})

    def update_provisioned_model_throughput(self, params: dict[str, Any]) -> dict[str, Any]:
        """UpdateProvisionedModelThroughput: rename and/or swap the model in place."""
        throughput = self.get_throughput(_required(params, "provisionedModelId"))
        new_name = params.get("desiredProvisionedModelName")
        new_model = params.get("desiredModelId")
        if throughput.status != "InService":
            raise ValidationException(
                f"Provisioned model throughput {throughput.name} cannot be updated while its status is "
                f"{throughput.status}."
            )
        if new_name is not None:
            _check_pattern("desiredProvisionedModelName", new_name, RESOURCE_NAME, 63)
            if any(t.name == new_name and t is not throughput for t in self.throughputs.values()):
                raise ValidationException(f"A provisioned model throughput named {new_name} already exists.")
        model_arn = None
        if new_model is not None and throughput.model_arn == throughput.foundation_model_arn:
            raise ValidationException(
                f"desiredModelId cannot be set for provisioned model throughput {throughput.name}: it serves the "
                f"base model {throughput.foundation_model_arn}, and only a throughput serving a custom model can "
                f"change its model (see {catalog.page_url(catalog.SWITCH_SOURCE)})."
            )
        if new_model is not None:
            model_arn, foundation_arn = self._throughput_model(new_model, "desiredModelId")
            if foundation_arn != throughput.foundation_model_arn:
                raise ValidationException(
                    f"The desired model {new_model} is based on {foundation_arn}, but provisioned model "
                    f"throughput {throughput.name} serves a model based on {throughput.foundation_model_arn}. "
                    "The new model must have the same base model."
                )
        now = utcnow()
        if new_name is not None:
            throughput.name = new_name
            throughput.last_modified = now
        if model_arn is not None and model_arn != throughput.model_arn:
            throughput.desired_model_arn = model_arn
            throughput.status = "Updating"
            throughput.last_modified = now
            throughput.deadline = now + timedelta(seconds=CONFIG.throughput_seconds)
        return {}

    def delete_provisioned_model_throughput(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteProvisionedModelThroughput."""
        throughput = self.get_throughput(_required(params, "provisionedModelId"))
        if throughput.commitment and throughput.status != "Failed":
            expiration = throughput.created + timedelta(days=COMMITMENTS[throughput.commitment])
            if utcnow() < expiration:
                raise ConflictException(
                    f"Provisioned model throughput {throughput.name} has a {throughput.commitment} commitment term "
                    f"that ends {expiration.isoformat()}; it cannot be deleted before the term ends "
                    f"(see {catalog.page_url(catalog.DELETE_BEFORE_TERM_SOURCE)})."
                )
        del self.throughputs[throughput.arn]
        self.tags.pop(throughput.arn, None)
        return {}

    # -- model import ----------------------------------------------------------------------

    def create_model_import_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateModelImportJob."""
        token = params.get("clientRequestToken")
        _check_token(token)
        if token:
            existing = next((job for job in self.import_jobs.values() if job.token == token), None)
            if existing is not None:
                return {"jobArn": existing.arn}
        name = _required(params, "jobName")
        _check_pattern("jobName", name, JOB_NAME, 63)
        model_name = _required(params, "importedModelName")
        _check_pattern("importedModelName", model_name, RESOURCE_NAME, 63)
        role = _required(params, "roleArn")
        _check_pattern("roleArn", role, ROLE_ARN, 2048)
        source = _required(params, "modelDataSource")
        uri = (source.get("s3DataSource") or {}).get("s3Uri")
        _check_pattern("modelDataSource.s3DataSource.s3Uri", uri, S3_URI, 1024)
        _check_vpc(params.get("vpcConfig"))
        job_tags = _check_tags("jobTags", params.get("jobTags"))
        model_tags = _check_tags("importedModelTags", params.get("importedModelTags"))
        if any(job.name == name for job in self.import_jobs.values()):
            raise ValidationException(NAME_IN_USE)
        busy = any(j.imported_model_name == model_name and j.status == "InProgress" for j in self.import_jobs.values())
        if busy or self.find_imported_model(model_name) is not None:
            raise ValidationException(f"The provided imported model name {model_name} is currently in use.")
        now = utcnow()
        job = ImportJob(
            arn=self._arn(f"model-import-job/{new_id()}"),
            name=name,
            imported_model_name=model_name,
            imported_model_arn=self._arn(f"imported-model/{new_id()}"),
            role_arn=role,
            token=token,
            model_data_source=source,
            vpc_config=params.get("vpcConfig"),
            kms_key_arn=_kms_arn(params.get("importedModelKmsKeyId"), self.region_name, self.account_id),
            imported_model_tags=model_tags,
            created=now,
            deadline=now + timedelta(seconds=CONFIG.import_seconds),
        )
        self.import_jobs[job.arn] = job
        self.tags[job.arn] = job_tags
        return {"jobArn": job.arn}

    def get_model_import_job(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetModelImportJob."""
        return self.find_import_job(_required(params, "jobIdentifier")).describe()

    def list_model_import_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListModelImportJobs."""
        self._refresh_all_imports()
        jobs = _filter_sort(self.import_jobs.values(), params, lambda j: j.created, lambda j: j.name)
        if params.get("statusEquals"):
            jobs = [job for job in jobs if job.status == params["statusEquals"]]
        page, token = _page(jobs, params)
        return _clean({"modelImportJobSummaries": [job.summary() for job in page], "nextToken": token})

    def get_imported_model(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetImportedModel."""
        identifier = _required(params, "modelIdentifier")
        model = self.find_imported_model(identifier)
        if model is None:
            raise ResourceNotFoundException(f"Imported model {identifier} was not found.")
        return model.describe()

    def list_imported_models(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListImportedModels."""
        self._refresh_all_imports()
        models = _filter_sort(self.imported_models.values(), params, lambda m: m.created, lambda m: m.name)
        page, token = _page(models, params)
        return _clean({"modelSummaries": [m.summary() for m in page], "nextToken": token})

    def delete_imported_model(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteImportedModel."""
        identifier = _required(params, "modelIdentifier")
        model = self.find_imported_model(identifier)
        if model is None:
            raise ResourceNotFoundException(f"Imported model {identifier} was not found.")
        del self.imported_models[model.arn]
        self.tags.pop(model.arn, None)
        return {}

    # -- custom model deployments ----------------------------------------------------------

    def create_custom_model_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        """CreateCustomModelDeployment (on-demand inference for a custom model)."""
        token = params.get("clientRequestToken")
        _check_token(token)
        if token:
            existing = next((d for d in self.deployments.values() if d.token == token), None)
            if existing is not None:
                return {"customModelDeploymentArn": existing.arn}
        name = _required(params, "modelDeploymentName")
        _check_pattern("modelDeploymentName", name, RESOURCE_NAME, 63)
        model_id = _required(params, "modelArn")
        model = self.find_custom_model(model_id)
        if model is None:
            raise ResourceNotFoundException(f"Custom model {model_id} was not found.")
        self._check_deployment_eligible(model)
        tags = _check_tags("tags", params.get("tags"))
        if any(d.name == name for d in self.deployments.values()):
            raise ValidationException(f"A custom model deployment named {name} already exists.")
        now = utcnow()
        deployment = Deployment(
            arn=self._arn(f"custom-model-deployment/{new_id()}"),
            name=name,
            model_arn=model.arn,
            description=params.get("description"),
            token=token,
            created=now,
            deadline=now + timedelta(seconds=CONFIG.deployment_seconds),
            forced_failure=CONFIG.matches("fail_deployments", name),
        )
        self.deployments[deployment.arn] = deployment
        self.tags[deployment.arn] = tags
        return {"customModelDeploymentArn": deployment.arn}

    def _check_deployment_eligible(self, model: CustomModel) -> None:
        """On-demand deployment: supported base models, customized on/after 2025-07-16, supported Regions."""
        page = catalog.page_url(catalog.DEPLOY_ON_DEMAND)
        if self.region_name not in catalog.DEPLOYMENT_REGIONS:
            raise ValidationException(
                f"Custom model {model.name} (modelArn) cannot be deployed for on-demand inference in "
                f"{self.region_name}. Supported Regions: {', '.join(catalog.DEPLOYMENT_REGIONS)} (see {page})."
            )
        base = catalog.get(model.base_model_id)
        if base is None or not base.on_demand_deployment:
            supported = [m.model_id for m in catalog.MODELS.values() if m.on_demand_deployment and m.customizations]
            raise ValidationException(
                f"Custom model {model.name} (modelArn) is based on {model.base_model_id}, which does not support "
                f"on-demand deployment. Supported base models: {', '.join(supported)} (see {page})."
            )
        if model.created < catalog.DEPLOYMENT_CUSTOMIZED_SINCE:
            raise ValidationException(
                f"Custom model {model.name} (modelArn) was customized on {model.created.date().isoformat()}; only "
                f"models customized on or after {catalog.DEPLOYMENT_CUSTOMIZED_SINCE.date().isoformat()} can be "
                f"deployed for on-demand inference (see {page})."
            )
        if model.status != "Active":
            raise ValidationException(f"Custom model {model.name} (modelArn) is not Active (status {model.status}).")

    def _get_deployment(self, params: dict[str, Any]) -> Deployment:
        identifier = _required(params, "customModelDeploymentIdentifier")
        deployment = self.find_deployment(identifier)
        if deployment is None:
            raise ResourceNotFoundException(f"Custom model deployment {identifier} was not found.")
        return deployment

    def get_custom_model_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetCustomModelDeployment."""
        return self._get_deployment(params).describe()

    def list_custom_model_deployments(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListCustomModelDeployments."""
        for deployment in self.deployments.values():
            self._refresh_deployment(deployment)
        items = _filter_sort(
            self.deployments.values(), params, lambda d: d.created, lambda d: d.name, "createdAfter", "createdBefore"
        )
        if params.get("statusEquals"):
            items = [d for d in items if d.status == params["statusEquals"]]
        if params.get("modelArnEquals"):
            items = [d for d in items if d.model_arn == params["modelArnEquals"]]
        page, token = _page(items, params)
        return _clean({"modelDeploymentSummaries": [d.summary() for d in page], "nextToken": token})

    def delete_custom_model_deployment(self, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteCustomModelDeployment."""
        deployment = self._get_deployment(params)
        del self.deployments[deployment.arn]
        self.tags.pop(deployment.arn, None)
        return {}

    # -- foundation models -----------------------------------------------------------------

    def _foundation_summary(self, model: catalog.FoundationModel) -> dict[str, Any]:
        """FoundationModelSummary / FoundationModelDetails for this region (EOL models never get here)."""
        lifecycle: dict[str, Any] = {"status": catalog.lifecycle(model)}
        if model.eol_date is not None:
            lifecycle["endOfLifeTime"] = datetime(
                model.eol_date.year, model.eol_date.month, model.eol_date.day, tzinfo=UTC
            )
        return {
            "modelArn": self.foundation_model_arn(model.model_id),
            "modelId": model.model_id,
            "modelName": model.name,
            "providerName": model.provider,
            "inputModalities": [m for m in model.input_modalities if m in ("TEXT", "IMAGE", "EMBEDDING")],
            "outputModalities": list(model.output_modalities),
            "responseStreamingSupported": model.streaming,
            "customizationsSupported": [
                kind for kind in catalog.customizations_in(model, self.region_name) if kind in catalog.LISTED_CUSTOMIZATIONS
            ],
            "inferenceTypesSupported": list(model.inference_types),
            "modelLifecycle": lifecycle,
        }

    def list_foundation_models(self, params: dict[str, Any]) -> dict[str, Any]:
        """ListFoundationModels for this region, from the emulator's catalog."""
        provider = params.get("byProvider")
        if provider is not None:
            _check_pattern("byProvider", provider, r"[A-Za-z0-9- ]{1,63}")
        for name, allowed in (
            ("byCustomizationType", catalog.LISTED_CUSTOMIZATIONS),
            ("byOutputModality", ("TEXT", "IMAGE", "EMBEDDING")),
            ("byInferenceType", ("ON_DEMAND", "PROVISIONED")),
        ):
            if params.get(name) is not None:
                _check_enum(name, params[name], allowed)
        summaries = [self._foundation_summary(m) for m in catalog.listed(self.region_name)]
        if provider:
            summaries = [s for s in summaries if s["providerName"].lower() == provider.lower()]
        if params.get("byCustomizationType"):
            summaries = [s for s in summaries if params["byCustomizationType"] in s["customizationsSupported"]]
        if params.get("byOutputModality"):
            summaries = [s for s in summaries if params["byOutputModality"] in s["outputModalities"]]
        if params.get("byInferenceType"):
            summaries = [s for s in summaries if params["byInferenceType"] in s["inferenceTypesSupported"]]
        return {"modelSummaries": summaries}

    def get_foundation_model(self, params: dict[str, Any]) -> dict[str, Any]:
        """GetFoundationModel (id or foundation-model ARN) for this region."""
        identifier = _required(params, "modelIdentifier")
        model_id = foundation_id(identifier)
        model = catalog.get(model_id)
        if model is None or self.region_name not in model.regions:
            raise ResourceNotFoundException(f"The foundation model {identifier} was not found in {self.region_name}.")
        if catalog.lifecycle(model) == "EOL":
            raise ResourceNotFoundException(
                f"The foundation model {identifier} reached end of life on {model.eol_date} and is no longer available."
            )
        return {"modelDetails": self._foundation_summary(model)}

    # -- tags ------------------------------------------------------------------------------

    def _tags_of(self, arn: str) -> dict[str, str]:
        self._refresh_all_jobs()
        self._refresh_all_imports()
        if arn not in self.tags:
            raise ResourceNotFoundException(f"The resource {arn} was not found.")
        return self.tags[arn]

    def tag_resource(self, params: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        """TagResource."""
        tags = self._tags_of(_required(params, "resourceARN"))
        new = _check_tags("tags", params.get("tags"))
        if len({**tags, **new}) > MAX_TAGS:
            raise TooManyTagsException(f"A resource can have at most {MAX_TAGS} tags.")
        tags.update(new)
        return {}

    def untag_resource(self, params: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        """UntagResource."""
        tags = self._tags_of(_required(params, "resourceARN"))
        for key in params.get("tagKeys") or []:
            tags.pop(key, None)
        return {}

    def list_tags_for_resource(self, params: dict[str, Any]) -> dict[str, Any]:  # type: ignore[override]
        """ListTagsForResource."""
        tags = self._tags_of(_required(params, "resourceARN"))
        return {"tags": [{"key": key, "value": value} for key, value in tags.items()]}


bedrock_backends: BackendDict[LocalBedrockBackend] = BackendDict(LocalBedrockBackend, "bedrock")

# ---------------------------------------------------------------------------------------------
# moto response handlers

#: Operations answered by ``LocalBedrockBackend`` (method name = snake_case of the operation).
OPERATIONS = (
    "CreateModelCustomizationJob",
    "GetModelCustomizationJob",
    "ListModelCustomizationJobs",
    "StopModelCustomizationJob",
    "GetCustomModel",
    "ListCustomModels",
    "DeleteCustomModel",
    "CreateProvisionedModelThroughput",
    "GetProvisionedModelThroughput",
    "ListProvisionedModelThroughputs",
    "UpdateProvisionedModelThroughput",
    "DeleteProvisionedModelThroughput",
    "CreateModelImportJob",
    "GetModelImportJob",
    "ListModelImportJobs",
    "GetImportedModel",
    "ListImportedModels",
    "DeleteImportedModel",
    "CreateCustomModelDeployment",
    "GetCustomModelDeployment",
    "ListCustomModelDeployments",
    "DeleteCustomModelDeployment",
    "ListFoundationModels",
    "GetFoundationModel",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
)


def request_params(response: Any) -> dict[str, Any]:
    """Parse the current request with moto's botocore-model parser (body, URI and query params)."""
    response.automated_parameter_parsing = True
    response.parse_parameters(response.normalized_request)
    return dict(response.params)


def _make_handler(operation: str, method_name: str) -> Callable[[Any], ActionResult]:
    def handler(self: Any) -> ActionResult:
        params = request_params(self)
        check_uri_identifiers(operation, params)
        backend = bedrock_backends[self.current_account][self.region]
        with backend.lock:
            return ActionResult(getattr(backend, method_name)(params))

    handler.__name__ = method_name
    handler.__doc__ = f"Local emulation of {method_name}."
    return handler


def register_handlers(response_class: type) -> None:
    """Add (or replace) one handler per operation in ``OPERATIONS`` on moto's BedrockResponse."""
    for operation in OPERATIONS:
        name = camelcase_to_underscores(operation)
        setattr(response_class, name, _make_handler(operation, name))
    from . import evaluation_jobs  # CreateEvaluationJob and friends live in their own module

    evaluation_jobs.register_handlers(response_class)


__all__ = [
    "LocalBedrockBackend",
    "bedrock_backends",
    "register_handlers",
    "OPERATIONS",
]
