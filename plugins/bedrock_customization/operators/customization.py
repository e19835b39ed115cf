"""A Bedrock model customization job (optionally VPC-bound) that retries and re-runs re-attach to."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from bedrock_customization import catalog, iam
from bedrock_customization.exceptions import BedrockCustomizationError
from bedrock_customization.links.bedrock import BedrockCustomizationJobLink, BedrockCustomModelLink
from bedrock_customization.operators.base import BedrockJobOperator, error_code
from bedrock_customization.triggers.bedrock import ALREADY_FINISHED, BedrockCustomizeModelCompletedTrigger
from bedrock_customization.vpc import as_list

if TYPE_CHECKING:
    from airflow.sdk import Context

    from bedrock_customization.lifecycle import ResourceIdentity

#: Request keys set from first-class parameters; ``customization_job_kwargs`` may not contain them.
_MANAGED_REQUEST_KEYS = {
    "jobName": "job_name",
    "customModelName": "custom_model_name",
    "roleArn": "role_arn",
    "baseModelIdentifier": "base_model_id",
    "trainingDataConfig": "training_data_uri / invocation_logs_config",
    "validationDataConfig": "validation_data_uri",
    "outputDataConfig": "output_data_uri",
    "hyperParameters": "hyperparameters",
    "customizationType": "customization_type",
    "customizationConfig": "teacher_model_id / grader_lambda_arn",
    "vpcConfig": "subnet_ids / security_group_ids",
    "customModelKmsKeyId": "kms_key_id",
    "jobTags": "job_tags",
    "customModelTags": "model_tags",
    "clientRequestToken": "(derived from the task instance)",
}
_CUSTOM_MODEL_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d{12}:custom-model/(?P<base>[^/]+)/[a-z0-9]+$"
)


class BedrockVpcCustomizeModelOperator(BedrockJobOperator):
    """
    Run a Bedrock model customization job, optionally in a VPC, and re-attach to it on retries and re-runs.

    Names and the ``clientRequestToken`` derive from the DAG id, run id, task id and map index, so a retried or
    cleared task finds the job its first try created (looked up by name) instead of creating a twin: an
    InProgress job is waited on, a Completed one returns at once, a Failed or Stopped one fails the task with
    the job's ``failureMessage`` without retrying. Bedrock does not restart a finished job, so retraining
    needs a new DAG run (a new run id gives new names and a new token). A job found under the derived name
    that this run did not create (other token and tags) fails the task; choose another ``job_name``.

    With ``idempotency_key`` the key replaces the run id and map index: names and token derive from the DAG
    id, task id and key, so any run that renders the same key (a backfill or a re-run of the same logical
    date, whose run ids differ) re-attaches to the job instead of training again. The key is recorded in the
    tag ``bedrock-customization:idempotency-key`` and a job is adopted when its token or that tag (with the
    DAG id and task id tags) matches; the run id tag still names the run that created the job. To train
    again for the same key, change the key (e.g. add a version to it).

    Hyperparameters, the customization type and the VPC settings are checked before any AWS call. Job and
    model are tagged ``bedrock-customization:managed-by=airflow`` plus ``…:dag-id``, ``…:run-id`` and
    ``…:task-id`` (and ``…:idempotency-key`` with a key). Killing the task stops the job, also while its
    wait is deferred (the trigger's ``on_kill``), and so does an ``execution_timeout`` (which Airflow 3.3 does not
    count while a task is deferred: the deferral gets what is left of it as its timeout). Returns
    ``{"job_arn", "job_name", "model_arn", "model_name"}`` (``model_arn`` is None until the job has completed).

    :param base_model_id: ``baseModelIdentifier``: a catalogued base model id or ARN, or a custom model ARN to
        customize further. (templated)
    :param training_data_uri: ``s3://`` URI of the training JSON Lines file; not sent with
        ``invocation_logs_config``. (templated)
    :param invocation_logs_config: Train on model invocation logs instead (``DISTILLATION`` or
        ``REINFORCEMENT_FINE_TUNING``): ``trainingDataConfig.invocationLogsConfig``, i.e.
        ``{"invocationLogSource": {"s3Uri": ...}, "usePromptResponse": bool, "requestMetadataFilters": {...}}``
        (the pipeline's plan builds it). ``training_data_uri`` and ``validation_data_uri`` are then not sent:
        the pipeline keeps the prepared split for its evaluation. Default none. (templated)
    :param output_data_uri: ``s3://`` folder for the job's output and metrics. (templated)
    :param validation_data_uri: ``s3://`` URI of the validation file, or a list of up to 10. Default none. Not
        passed to the job when the catalog says the model takes no validation set (Nova 2 Lite fine-tuning).
        (templated)
    :param custom_model_name: Prefix of the custom model name, as ``job_name``. (templated)
    :param hyperparameters: ``hyperParameters``, strings or numbers, checked against the model catalog.
        Default none (Bedrock's defaults). (templated)
    :param customization_type: ``FINE_TUNING`` (default), ``CONTINUED_PRE_TRAINING``, ``DISTILLATION`` or
        ``REINFORCEMENT_FINE_TUNING``. (templated)
    :param teacher_model_id: The teacher model of a ``DISTILLATION`` job (required for it). (templated)
    :param teacher_max_response_length: ``maxResponseLengthForInference`` of the teacher. Default: Bedrock's.
        (templated)
    :param grader_lambda_arn: The Lambda grader (reward function) of a ``REINFORCEMENT_FINE_TUNING`` job
        (required for it): ``customizationConfig.rftConfig.graderConfig.lambdaGrader.lambdaArn``; the job's
        hyperparameters then go in ``rftConfig.hyperParameters``, typed. (templated)
    :param customization_job_kwargs: Further CreateModelCustomizationJob parameters that have no parameter
        here. (templated)
    :param idempotency_key: What identifies the job instead of the run id and map index, up to 256
        characters, e.g. ``"{{ dag.dag_id }}/{{ ds }}/<config hash>"``. Default none: the task instance.
        (templated)

    and the parameters every job takes (:class:`~bedrock_customization.operators.base.BedrockJobOperator`):
    ``role_arn``, ``job_name``, ``kms_key_id`` (of the custom model), ``subnet_ids``, ``security_group_ids``,
    ``job_tags``, ``model_tags`` (of the custom model) and the four knobs of the wait.
    """

    template_fields: Sequence[str] = aws_template_fields(
        "job_name",
        "custom_model_name",
        "role_arn",
        "base_model_id",
        "training_data_uri",
        "invocation_logs_config",
        "validation_data_uri",
        "output_data_uri",
        "hyperparameters",
        "customization_type",
        "teacher_model_id",
        "teacher_max_response_length",
        "grader_lambda_arn",
        "subnet_ids",
        "security_group_ids",
        "kms_key_id",
        "job_tags",
        "model_tags",
        "customization_job_kwargs",
        "idempotency_key",
    )
    template_fields_renderers = {
        "hyperparameters": "json",
        "customization_job_kwargs": "json",
        "invocation_logs_config": "json",
    }
    operator_extra_links = (BedrockCustomizationJobLink(), BedrockCustomModelLink())

    resource_kind = "customization job"
    trigger_class = BedrockCustomizeModelCompletedTrigger
    token_kind = "model-customization-job"
    name_kind = "job"
    get_job = "get_model_customization_job"
    create_job = "create_model_customization_job"
    model_tags_key = "customModelTags"
    model_kms_key = "customModelKmsKeyId"

    def __init__(
        self,
        *,
        base_model_id: str,
        training_data_uri: str,
        output_data_uri: str,
        validation_data_uri: str | Sequence[str] | None = None,
        custom_model_name: str | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        customization_type: str = "FINE_TUNING",
        teacher_model_id: str | None = None,
        teacher_max_response_length: int | None = None,
        grader_lambda_arn: str | None = None,
        customization_job_kwargs: dict[str, Any] | None = None,
        invocation_logs_config: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.invocation_logs_config = invocation_logs_config
        self.base_model_id = base_model_id
        self.training_data_uri = training_data_uri
        self.validation_data_uri = validation_data_uri
        self.output_data_uri = output_data_uri
        self.custom_model_name = custom_model_name
        self.hyperparameters = hyperparameters if hyperparameters is not None else {}
        self.customization_type = customization_type
        self.teacher_model_id = teacher_model_id
        self.teacher_max_response_length = teacher_max_response_length
        self.grader_lambda_arn = grader_lambda_arn
        self.customization_job_kwargs = customization_job_kwargs

    # ------------------------------------------------------------------------------------------- the lifecycle

    def create(self, identity: ResourceIdentity, token: str) -> str:
        self.log.info(
            "Creating Bedrock model customization job %s (custom model %s, base model %s, %s).",
            self._request["jobName"],
            self._request["customModelName"],
            self.base_model_id,
            self._request["customizationType"],
        )
        return super().create(identity, token)

    def stop(self, arn: str) -> None:
        """Stop the job; one that already finished is left alone."""
        from botocore.exceptions import ClientError

        try:
            self.hook.conn.stop_model_customization_job(jobIdentifier=arn)
        except ClientError as error:
            if error_code(error) not in ALREADY_FINISHED:
                raise
            self.log.info("Customization job %s is not running any more: %s", arn, error)
            return
        self.log.info("Stopped customization job %s.", arn)

    def failure_message(self, resource: Mapping[str, Any]) -> str:
        """Failed or stopped: the task fails for good (Bedrock does not restart a job); say how to train again."""
        name, arn, status = resource["jobName"], resource["jobArn"], resource["status"]
        again = (
            "Retrying this task re-attaches to the same job and does not start a new one; to retrain, trigger "
            "a new DAG run (a new run id gives a new job)."
        )
        if self.idempotency_key and str(self.idempotency_key).strip():
            again = (
                "Retrying this task, or any run with the same idempotency key, re-attaches to the same job and "
                "does not start a new one; to retrain, change the idempotency_key."
            )
        if status == "Failed":
            reason = resource.get("failureMessage") or "Bedrock gave no failureMessage"
            return f"Bedrock customization job {name} failed: {reason} ({arn}). {again}"
        return f"Bedrock customization job {name} was stopped (status {status}, {arn}). {again}"

    def result(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "job_arn": resource["jobArn"],
            "job_name": resource["jobName"],
            "model_arn": resource.get("outputModelArn"),
            "model_name": resource.get("outputModelName"),
        }

    def persist_links(self, context: Context, resource: Mapping[str, Any]) -> None:
        """The job's link, and its custom model's once the job has completed."""
        BedrockCustomizationJobLink.persist_arn(context, self, resource["jobArn"])
        if resource.get("status") == "Completed":
            BedrockCustomModelLink.persist_arn(context, self, resource.get("outputModelArn"))

    # ------------------------------------------------------------------------------------------- the request

    def build_request(self, identity: ResourceIdentity) -> dict[str, Any]:
        """CreateModelCustomizationJob parameters for ``identity``; every check runs here, before any AWS call."""
        ctype = str(self.customization_type or "FINE_TUNING").strip().upper().replace("-", "_")
        model_id = _catalog_model_id(self.base_model_id)
        catalog.record_format(model_id, ctype)  # raises when the model does not offer the type
        distillation = _distillation_config(ctype, self.teacher_model_id, self.teacher_max_response_length)
        grader = str(self.grader_lambda_arn or "").strip() or None
        if grader and ctype != "REINFORCEMENT_FINE_TUNING":
            raise BedrockCustomizationError(
                f"grader_lambda_arn is only used by REINFORCEMENT_FINE_TUNING jobs, not {ctype}; remove it "
                "or set customization_type='REINFORCEMENT_FINE_TUNING'"
            )
        # The guard before the billable call (the operator also runs without the pipeline's plan); the model's
        # lifecycle is reported once a run, by plan and the preflight, not again per job.
        hyperparameters = catalog.validate_hyperparameters(model_id, self.hyperparameters or {}, ctype)

        extra = dict(self.customization_job_kwargs or {})
        clashes = sorted(set(extra) & set(_MANAGED_REQUEST_KEYS))
        if clashes:
            use = ", ".join(f"{key} -> {_MANAGED_REQUEST_KEYS[key]}" for key in clashes)
            raise BedrockCustomizationError(
                f"customization_job_kwargs may not set {', '.join(clashes)}: use the operator's parameters ({use})"
            )

        request: dict[str, Any] = {
            **self.job_request(identity),
            "customModelName": identity.name("model", self.custom_model_name),
            "baseModelIdentifier": self.base_model_id,
            "trainingDataConfig": _training_data_config(ctype, self.training_data_uri, self.invocation_logs_config),
            "outputDataConfig": {"s3Uri": self.output_data_uri},
            "customizationType": ctype,
            **extra,
        }
        if ctype == "REINFORCEMENT_FINE_TUNING":
            request["customizationConfig"] = _rft_config(model_id, grader, hyperparameters)
        elif hyperparameters:
            request["hyperParameters"] = dict(hyperparameters)
        validators = as_list(self.validation_data_uri)
        if validators and self.invocation_logs_config:
            self.log.info(
                "Training on invocation logs: not passing the validation set %s to the job (it stays available "
                "for evaluation).",
                ", ".join(validators),
            )
            validators = []
        if len(validators) > 10:
            raise BedrockCustomizationError(
                f"validation_data_uri: {len(validators)} files given; Bedrock accepts at most 10 validators"
            )
        if validators and not catalog.validation_set_supported(model_id, ctype):
            self.log.warning(
                "%s takes no validation set for %s (the catalog's customization_options): not passing %s to the "
                "job; it stays available for evaluation.",
                model_id,
                ctype,
                ", ".join(validators),
            )
            validators = []
        if validators:
            request["validationDataConfig"] = {"validators": [{"s3Uri": uri} for uri in validators]}
        if distillation:
            request["customizationConfig"] = distillation
        return request


# ------------------------------------------------------------------------------------------------ pure helpers


def _catalog_model_id(base_model_id: str) -> str:
    """The catalogued base model behind ``base_model_id`` (a custom model ARN names its base model)."""
    match = _CUSTOM_MODEL_ARN.match(str(base_model_id).strip())
    return match["base"] if match else str(base_model_id)


def _rft_config(model_id: str, grader: str | None, hyperparameters: Mapping[str, str]) -> dict:
    """``rftConfig``: the Lambda grader, and the validated hyperparameters typed as RFTHyperParameters."""
    if not grader:
        raise BedrockCustomizationError(
            "A REINFORCEMENT_FINE_TUNING job needs grader_lambda_arn (the ARN of the Lambda function that "
            "scores the model's responses)"
        )
    if not iam.LAMBDA_ARN.match(grader):
        raise BedrockCustomizationError(
            f"grader_lambda_arn {grader!r} is not a Lambda function ARN "
            "(arn:aws:lambda:<region>:<account>:function:<name>)"
        )
    specs = catalog.get_model(model_id).hyperparameters_for("REINFORCEMENT_FINE_TUNING")
    convert = {"int": int, "float": float, "str": str}
    typed = {name: convert[specs[name].type](value) for name, value in hyperparameters.items()}
    config: dict[str, Any] = {"graderConfig": {"lambdaGrader": {"lambdaArn": grader}}}
    if typed:
        config["hyperParameters"] = typed
    return {"rftConfig": config}


def _training_data_config(ctype: str, training_uri: str | None, logs: Mapping[str, Any] | None) -> dict:
    """``trainingDataConfig``: the training file, or ``invocationLogsConfig`` for the types AWS documents it for."""
    if not logs:
        return {"s3Uri": training_uri}
    if ctype not in catalog.INVOCATION_LOG_TYPES:
        raise BedrockCustomizationError(
            f"invocation_logs_config trains {' or '.join(catalog.INVOCATION_LOG_TYPES)} jobs only, not {ctype}; "
            "remove it or change customization_type"
        )
    source = (logs.get("invocationLogSource") or {}).get("s3Uri") if isinstance(logs, Mapping) else None
    if not str(source or "").startswith("s3://"):
        raise BedrockCustomizationError(
            "invocation_logs_config needs invocationLogSource.s3Uri, the s3:// prefix of the invocation logs"
        )
    return {"invocationLogsConfig": dict(logs)}


def _distillation_config(ctype: str, teacher: str | None, max_response_length: int | str | None) -> dict:
    if ctype != "DISTILLATION":
        if teacher:
            raise BedrockCustomizationError(
                f"teacher_model_id is only used by DISTILLATION jobs, not {ctype}; remove it or set "
                "customization_type='DISTILLATION'"
            )
        return {}
    if not teacher:
        raise BedrockCustomizationError(
            "A DISTILLATION job needs teacher_model_id (the teacher model's id or ARN)"
        )
    teacher_config: dict[str, Any] = {"teacherModelIdentifier": str(teacher)}
    if max_response_length not in (None, ""):
        teacher_config["maxResponseLengthForInference"] = int(max_response_length)
    return {"distillationConfig": {"teacherModelConfig": teacher_config}}
