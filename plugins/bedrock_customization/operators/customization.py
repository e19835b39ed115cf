"""A Bedrock model customization job (optionally VPC-bound) that retries and re-runs re-attach to."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators import bedrock as amazon_bedrock
from airflow.providers.amazon.aws.utils import validate_execute_complete_event
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException

from bedrock_customization import catalog, settings, tagging
from bedrock_customization.exceptions import BedrockCustomizationError
from bedrock_customization.links.bedrock import BedrockCustomizationJobLink, BedrockCustomModelLink
from bedrock_customization.naming import client_request_token, resource_name
from bedrock_customization.triggers.bedrock import BedrockCustomizeModelCompletedTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

# Tags marking a resource as created by this provider, and by which task of which run. Cleanup code relies
# on exactly these key names.
MANAGED_BY_TAG = tagging.MANAGED_BY
DAG_ID_TAG = tagging.DAG_ID
RUN_ID_TAG = tagging.RUN_ID
TASK_ID_TAG = tagging.TASK_ID
IDEMPOTENCY_KEY_TAG = tagging.IDEMPOTENCY_KEY
MANAGED_BY = tagging.MANAGED_BY_VALUE
MAX_TAGS = 200
MAX_IDEMPOTENCY_KEY_LENGTH = 256  # a tag value

#: Request keys set from first-class parameters; ``customization_job_kwargs`` may not contain them.
_MANAGED_REQUEST_KEYS = {
    "jobName": "job_name",
    "customModelName": "custom_model_name",
    "roleArn": "role_arn",
    "baseModelIdentifier": "base_model_id",
    "trainingDataConfig": "training_data_uri",
    "validationDataConfig": "validation_data_uri",
    "outputDataConfig": "output_data_uri",
    "hyperParameters": "hyperparameters",
    "customizationType": "customization_type",
    "customizationConfig": "teacher_model_id",
    "vpcConfig": "subnet_ids / security_group_ids",
    "customModelKmsKeyId": "kms_key_id",
    "jobTags": "job_tags",
    "customModelTags": "model_tags",
    "clientRequestToken": "(derived from the task instance)",
}
_CUSTOM_MODEL_ARN = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*:\d{12}:custom-model/(?P<base>[^/]+)/[a-z0-9]+$"
)
# StopModelCustomizationJob errors meaning the job is no longer running.
_ALREADY_FINISHED = ("ValidationException", "ConflictException", "ResourceNotFoundException")


tag_value = tagging.clean_value


@dataclass(frozen=True)
class JobIdentity:
    """The work a customization job belongs to; every name, token and tag derives from it.

    By default that is the task instance (dag_id, run_id, task_id, map_index). With an ``idempotency_key``
    it is (dag_id, task_id, idempotency_key): runs with other run ids (a backfill, a re-run of the same
    logical date) and other map indexes that give the same key share the job. The tags still record the
    real run id.
    """

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1
    idempotency_key: str | None = None

    @classmethod
    def from_context(cls, context: Context, idempotency_key: str | None = None) -> JobIdentity:
        ti = context["ti"]
        map_index = getattr(ti, "map_index", -1)
        return cls(
            ti.dag_id,
            ti.run_id,
            ti.task_id,
            -1 if map_index is None else int(map_index),
            idempotency_key or None,
        )

    @property
    def _parts(self) -> tuple[object, ...]:
        if self.idempotency_key:
            return self.dag_id, self.task_id, "idempotency-key", self.idempotency_key
        return self.dag_id, self.run_id, self.task_id, self.map_index

    def job_name(self, prefix: str | None = None) -> str:
        """``jobName``: ``prefix`` (default ``<dag_id>-<task_id>``) plus a digest of the task instance."""
        return resource_name(prefix or f"{self.dag_id}-{self.task_id}", *self._parts, "job")

    def model_name(self, prefix: str | None = None) -> str:
        """``customModelName``: ``prefix`` (default ``<dag_id>-<task_id>``) plus a digest of the task instance."""
        return resource_name(prefix or f"{self.dag_id}-{self.task_id}", *self._parts, "model")

    @property
    def token(self) -> str:
        """The job's ``clientRequestToken``."""
        return client_request_token(*self._parts, "model-customization-job")

    def tags(self) -> dict[str, str]:
        """The provider's tags for resources this task instance creates."""
        tags = {
            MANAGED_BY_TAG: MANAGED_BY,
            DAG_ID_TAG: tag_value(self.dag_id),
            RUN_ID_TAG: tag_value(self.run_id),
            TASK_ID_TAG: tag_value(self.task_id),
        }
        if self.idempotency_key:
            tags[IDEMPOTENCY_KEY_TAG] = tag_value(self.idempotency_key)
        return tags

    def owns(self, job: Mapping[str, Any], tags: Mapping[str, str] | None = None) -> bool:
        """Whether ``job`` (GetModelCustomizationJob) was created for this identity.

        True when the job carries this identity's ``clientRequestToken``, or, failing that, when ``tags`` (the
        job's tags) name this DAG and task and either this run or, with an idempotency key, the same key
        (whatever run created it).
        """
        if job.get("clientRequestToken") == self.token:
            return True
        if tags is None:
            return False
        expected = self.tags()
        if self.idempotency_key:
            del expected[RUN_ID_TAG]
        return all(tags.get(key) == value for key, value in expected.items())


class BedrockVpcCustomizeModelOperator(amazon_bedrock.BedrockCustomizeModelOperator):
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

    :param role_arn: Service role Bedrock assumes for the job. (templated)
    :param base_model_id: ``baseModelIdentifier``: a catalogued base model id or ARN, or a custom model ARN to
        customize further. (templated)
    :param training_data_uri: ``s3://`` URI of the training JSON Lines file. (templated)
    :param output_data_uri: ``s3://`` folder for the job's output and metrics. (templated)
    :param validation_data_uri: ``s3://`` URI of the validation file, or a list of up to 10. Default none. Not
        passed to the job when the catalog says the model takes no validation set (Nova 2 Lite fine-tuning).
        (templated)
    :param job_name: Prefix of the job name; the digest of the task instance is always appended. Default
        ``<dag_id>-<task_id>``. (templated)
    :param custom_model_name: Prefix of the custom model name, as ``job_name``. (templated)
    :param hyperparameters: ``hyperParameters``, strings or numbers, checked against the model catalog.
        Default none (Bedrock's defaults). (templated)
    :param customization_type: ``FINE_TUNING`` (default), ``CONTINUED_PRE_TRAINING`` or ``DISTILLATION``.
        (templated)
    :param teacher_model_id: The teacher model of a ``DISTILLATION`` job (required for it). (templated)
    :param teacher_max_response_length: ``maxResponseLengthForInference`` of the teacher. Default: Bedrock's.
        (templated)
    :param subnet_ids: Subnets of ``vpcConfig`` (1-16); a list or a comma-separated string. Default none: no
        VPC. (templated)
    :param security_group_ids: Security groups of ``vpcConfig`` (1-5); required with ``subnet_ids`` and only
        with it. (templated)
    :param kms_key_id: KMS key (id, ARN or alias) encrypting the custom model. Default: AWS owned. (templated)
    :param job_tags: Extra job tags, a mapping or ``[{"key", "value"}]``; the provider's tags win. (templated)
    :param model_tags: Extra custom model tags, as ``job_tags``. (templated)
    :param customization_job_kwargs: Further CreateModelCustomizationJob parameters that have no parameter
        here. (templated)
    :param idempotency_key: What identifies the job instead of the run id and map index, up to 256
        characters, e.g. ``"{{ dag.dag_id }}/{{ ds }}/<config hash>"``. Default none: the task instance.
        (templated)
    :param wait_for_completion: Wait for the job to finish. Default True.
    :param waiter_delay: Seconds between status checks. Default: the ``poll_interval`` setting.
    :param waiter_max_attempts: Status checks before giving up the wait (the job keeps running). Default:
        ``job_timeout`` / ``poll_interval``.
    :param deferrable: Wait in the triggerer instead of a worker slot. Default True.
    """

    template_fields: Sequence[str] = aws_template_fields(
        "job_name",
        "custom_model_name",
        "role_arn",
        "base_model_id",
        "training_data_uri",
        "validation_data_uri",
        "output_data_uri",
        "hyperparameters",
        "customization_type",
        "teacher_model_id",
        "teacher_max_response_length",
        "subnet_ids",
        "security_group_ids",
        "kms_key_id",
        "job_tags",
        "model_tags",
        "customization_job_kwargs",
        "idempotency_key",
    )
    template_fields_renderers = {"hyperparameters": "json", "customization_job_kwargs": "json"}
    operator_extra_links = (BedrockCustomizationJobLink(), BedrockCustomModelLink())

    def __init__(
        self,
        *,
        role_arn: str,
        base_model_id: str,
        training_data_uri: str,
        output_data_uri: str,
        validation_data_uri: str | Sequence[str] | None = None,
        job_name: str | None = None,
        custom_model_name: str | None = None,
        hyperparameters: Mapping[str, Any] | None = None,
        customization_type: str = "FINE_TUNING",
        teacher_model_id: str | None = None,
        teacher_max_response_length: int | None = None,
        subnet_ids: Sequence[str] | str | None = None,
        security_group_ids: Sequence[str] | str | None = None,
        kms_key_id: str | None = None,
        job_tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        model_tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        customization_job_kwargs: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        wait_for_completion: bool = True,
        waiter_delay: int | None = None,
        waiter_max_attempts: int | None = None,
        deferrable: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            job_name=job_name,
            custom_model_name=custom_model_name,
            role_arn=role_arn,
            base_model_id=base_model_id,
            training_data_uri=training_data_uri,
            output_data_uri=output_data_uri,
            hyperparameters=hyperparameters if hyperparameters is not None else {},
            ensure_unique_job_name=False,
            customization_job_kwargs=customization_job_kwargs,
            wait_for_completion=wait_for_completion,
            waiter_delay=waiter_delay if waiter_delay is not None else settings.poll_interval(),
            waiter_max_attempts=(
                waiter_max_attempts
                if waiter_max_attempts is not None
                else settings.max_attempts("job_timeout")
            ),
            deferrable=deferrable,
            **kwargs,
        )
        # The parent wraps the S3 URIs in dicts here, which cannot be templated; the request is built from
        # these (templated) attributes at execution instead.
        self.training_data_uri = training_data_uri
        self.validation_data_uri = validation_data_uri
        self.output_data_uri = output_data_uri
        self.customization_type = customization_type
        self.teacher_model_id = teacher_model_id
        self.teacher_max_response_length = teacher_max_response_length
        self.subnet_ids = subnet_ids
        self.security_group_ids = security_group_ids
        self.kms_key_id = kms_key_id
        self.job_tags = job_tags
        self.model_tags = model_tags
        self.idempotency_key = idempotency_key
        self._job_arn: str | None = None

    # ------------------------------------------------------------------------------------------- execution

    def execute(self, context: Context) -> dict[str, Any]:
        identity = JobIdentity.from_context(context, self._idempotency_key())
        request = self.build_request(identity)
        self.job_name, self.custom_model_name = request["jobName"], request["customModelName"]

        job = self._find_job(self.job_name)
        if job is None:
            self.log.info(
                "Creating Bedrock model customization job %s (custom model %s, base model %s, %s).",
                self.job_name,
                self.custom_model_name,
                self.base_model_id,
                request["customizationType"],
            )
            job_arn = self.hook.conn.create_model_customization_job(**request)["jobArn"]
            job = self._describe(job_arn)
        else:
            self._check_owner(job, identity)
            self.log.info(
                "Re-attaching to customization job %s (%s), created by %s; status %s.",
                job["jobName"],
                job["jobArn"],
                f"a run with idempotency key {identity.idempotency_key}"
                if identity.idempotency_key
                else "an earlier try of this run",
                job["status"],
            )
        self._job_arn = job["jobArn"]
        self._persist_link(context, job["jobArn"])

        if job["status"] == "Completed":
            return self._persist_model_link(context, self._result(job))
        if job["status"] != "InProgress":
            raise self._job_error(job)
        if self.deferrable:
            self.log.info("Deferring until customization job %s finishes.", job["jobName"])
            self.defer(
                trigger=BedrockCustomizeModelCompletedTrigger(
                    job_name=job["jobArn"],
                    waiter_delay=self.waiter_delay,
                    waiter_max_attempts=self.waiter_max_attempts,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
                timeout=deferral_timeout(context, self.execution_timeout),
            )
        if not self.wait_for_completion:
            return self._result(job)
        from botocore.exceptions import WaiterError

        self.log.info("Waiting for customization job %s to finish.", job["jobName"])
        try:
            self.hook.get_waiter("model_customization_job_complete").wait(
                jobIdentifier=job["jobArn"],
                WaiterConfig={"Delay": self.waiter_delay, "MaxAttempts": self.waiter_max_attempts},
            )
        except WaiterError as err:
            self.log.info("Waiter stopped: %s", err)
        return self._persist_model_link(context, self._finish(job["jobArn"]))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resume after the trigger: the job's own status decides (the trigger's event carries no reason)."""
        validated = validate_execute_complete_event(event)
        if validated.get("status") != "success":
            self.log.info("Trigger reported: %s", validated.get("message", validated))
        return self._persist_model_link(context, self._finish(validated["job_name"]))

    def on_kill(self) -> None:
        """Stop the job this task created or re-attached to; a job that already finished is left alone."""
        if not self._job_arn:
            return
        from botocore.exceptions import ClientError

        try:
            self.hook.conn.stop_model_customization_job(jobIdentifier=self._job_arn)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in _ALREADY_FINISHED:
                self.log.info("Customization job %s is not running any more: %s", self._job_arn, err)
                return
            raise
        self.log.info("Stopped customization job %s.", self._job_arn)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Resume after the deferral; when it timed out (``execution_timeout``), stop the job, then fail."""
        from airflow.sdk.bases.operator import TRIGGER_FAIL_REPR, TriggerFailureReason

        if (
            next_method == TRIGGER_FAIL_REPR
            and (next_kwargs or {}).get("error") == TriggerFailureReason.TRIGGER_TIMEOUT
        ):
            self._stop_after_timeout(context)
        return super().resume_execution(next_method, next_kwargs, context)

    def _stop_after_timeout(self, context: Context) -> None:
        """Stop this task instance's job (found by its derived name): the trigger does not on a timeout."""
        try:
            identity = JobIdentity.from_context(context, self._idempotency_key())
            job = self._find_job(identity.job_name(self.job_name))
            if job is None:
                return
            self.log.warning(
                "The deferred wait for customization job %s ran past execution_timeout (%s); stopping the job.",
                job["jobArn"],
                self.execution_timeout,
            )
            self._job_arn = job["jobArn"]
            self.on_kill()
        except Exception:  # the timeout must still fail the task
            self.log.exception("Could not stop the customization job after the timeout.")

    # ------------------------------------------------------------------------------------------- the request

    def _idempotency_key(self) -> str | None:
        """The rendered key, or None; checked before any AWS call."""
        key = self.idempotency_key
        if key is None or not str(key).strip():
            return None
        key = str(key).strip()
        if len(key) > MAX_IDEMPOTENCY_KEY_LENGTH:
            raise BedrockCustomizationError(
                f"idempotency_key is {len(key)} characters long; use at most {MAX_IDEMPOTENCY_KEY_LENGTH} "
                "(it is stored as a tag value)"
            )
        return key

    def build_request(self, identity: JobIdentity) -> dict[str, Any]:
        """CreateModelCustomizationJob parameters for ``identity``; every check runs here, before any AWS call."""
        ctype = str(self.customization_type or "FINE_TUNING").strip().upper().replace("-", "_")
        model_id = _catalog_model_id(self.base_model_id)
        hyperparameters = catalog.validate_hyperparameters(model_id, self.hyperparameters or {}, ctype)
        warning = catalog.lifecycle_warning(model_id)
        if warning:
            self.log.warning("%s", warning)

        extra = dict(self.customization_job_kwargs or {})
        clashes = sorted(set(extra) & set(_MANAGED_REQUEST_KEYS))
        if clashes:
            use = ", ".join(f"{key} -> {_MANAGED_REQUEST_KEYS[key]}" for key in clashes)
            raise BedrockCustomizationError(
                f"customization_job_kwargs may not set {', '.join(clashes)}: use the operator's parameters ({use})"
            )

        request: dict[str, Any] = {
            "jobName": identity.job_name(self.job_name),
            "customModelName": identity.model_name(self.custom_model_name),
            "roleArn": self.role_arn,
            "baseModelIdentifier": self.base_model_id,
            "trainingDataConfig": {"s3Uri": self.training_data_uri},
            "outputDataConfig": {"s3Uri": self.output_data_uri},
            "customizationType": ctype,
            "clientRequestToken": identity.token,
            "jobTags": _merge_tags(self.job_tags, identity.tags(), "job_tags"),
            "customModelTags": _merge_tags(self.model_tags, identity.tags(), "model_tags"),
            **extra,
        }
        if hyperparameters:
            request["hyperParameters"] = dict(hyperparameters)
        validators = _as_list(self.validation_data_uri)
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
        vpc = _vpc_config(self.subnet_ids, self.security_group_ids)
        if vpc:
            request["vpcConfig"] = vpc
        if self.kms_key_id:
            request["customModelKmsKeyId"] = self.kms_key_id
        distillation = _distillation_config(ctype, self.teacher_model_id, self.teacher_max_response_length)
        if distillation:
            request["customizationConfig"] = distillation
        return request

    # ------------------------------------------------------------------------------------------- helpers

    def _describe(self, identifier: str) -> dict[str, Any]:
        return self.hook.conn.get_model_customization_job(jobIdentifier=identifier)

    def _find_job(self, job_name: str) -> dict[str, Any] | None:
        try:
            return self._describe(job_name)
        except self.hook.conn.exceptions.ResourceNotFoundException:
            return None

    def _check_owner(self, job: dict[str, Any], identity: JobIdentity) -> None:
        if identity.owns(job):
            return
        tags = self.hook.conn.list_tags_for_resource(resourceARN=job["jobArn"]).get("tags", [])
        if identity.owns(job, {tag["key"]: tag["value"] for tag in tags}):
            return
        if identity.idempotency_key:
            raise AirflowFailException(
                f"A customization job named {job['jobName']} already exists ({job['jobArn']}, status "
                f"{job['status']}) but was not created with this idempotency key: neither its clientRequestToken "
                f"nor its {IDEMPOTENCY_KEY_TAG} tag matches dag_id={identity.dag_id} task_id={identity.task_id} "
                f"idempotency_key={identity.idempotency_key}. Give the task another job_name."
            )
        raise AirflowFailException(
            f"A customization job named {job['jobName']} already exists ({job['jobArn']}, status "
            f"{job['status']}) but was not created by this DAG run: neither its clientRequestToken nor its "
            f"{RUN_ID_TAG} tag matches dag_id={identity.dag_id} run_id={identity.run_id} "
            f"task_id={identity.task_id}. Give the task another job_name."
        )

    def _finish(self, job_arn: str) -> dict[str, Any]:
        job = self._describe(job_arn)
        if job["status"] != "Completed":
            raise self._job_error(job)
        self.log.info(
            "Customization job %s completed: custom model %s.", job["jobName"], job.get("outputModelArn")
        )
        return self._result(job)

    def _job_error(self, job: Mapping[str, Any]) -> AirflowException:
        """The exception for a job that did not complete: Failed/Stopped fail the task, a timeout may retry."""
        name, arn, status = job["jobName"], job["jobArn"], job["status"]
        again = (
            "Retrying this task re-attaches to the same job and does not start a new one; to retrain, trigger "
            "a new DAG run (a new run id gives a new job)."
        )
        if self._idempotency_key():
            again = (
                "Retrying this task, or any run with the same idempotency key, re-attaches to the same job and "
                "does not start a new one; to retrain, change the idempotency_key."
            )
        if status == "Failed":
            reason = job.get("failureMessage") or "Bedrock gave no failureMessage"
            return AirflowFailException(f"Bedrock customization job {name} failed: {reason} ({arn}). {again}")
        if status in ("Stopping", "Stopped"):
            return AirflowFailException(
                f"Bedrock customization job {name} was stopped (status {status}, {arn}). {again}"
            )
        return AirflowException(
            f"Bedrock customization job {name} is still {status} after {self.waiter_max_attempts} status checks "
            f"{self.waiter_delay} s apart; it keeps running in Bedrock ({arn}). A retry of this task re-attaches "
            "to it; raise [bedrock_customization] job_timeout to wait longer."
        )

    @staticmethod
    def _result(job: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "job_arn": job["jobArn"],
            "job_name": job["jobName"],
            "model_arn": job.get("outputModelArn"),
            "model_name": job.get("outputModelName"),
        }

    def _persist_link(self, context: Context, job_arn: str) -> None:
        BedrockCustomizationJobLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_arn=BedrockCustomizationJobLink.quote_arn(job_arn),
        )

    def _persist_model_link(self, context: Context, result: dict[str, Any]) -> dict[str, Any]:
        """Store the link to the job's custom model once the job has one; returns ``result``."""
        BedrockCustomModelLink.persist_arn(context, self, result.get("model_arn"))
        return result


# ------------------------------------------------------------------------------------------------ pure helpers


def deferral_timeout(context: Context, execution_timeout: timedelta | None) -> timedelta | None:
    """What is left of ``execution_timeout`` for a deferred wait; None without one.

    Airflow 3.3 applies ``execution_timeout`` to ``execute`` only, not to the time a task spends deferred
    (the deferral's own ``timeout`` bounds that), so an operator passes this as ``defer(timeout=...)``.
    """
    if execution_timeout is None:
        return None
    started = getattr(context.get("ti"), "start_date", None)
    if not isinstance(started, datetime):
        return execution_timeout
    if started.tzinfo is None:
        started = started.replace(tzinfo=UTC)
    return max(execution_timeout - (datetime.now(UTC) - started), timedelta(0))


def _catalog_model_id(base_model_id: str) -> str:
    """The catalogued base model behind ``base_model_id`` (a custom model ARN names its base model)."""
    match = _CUSTOM_MODEL_ARN.match(str(base_model_id).strip())
    return match["base"] if match else str(base_model_id)


def _as_list(value: Sequence[str] | str | None) -> list[str]:
    """A list of non-empty strings from a list or a comma-separated string."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def _vpc_config(
    subnet_ids: Sequence[str] | str | None, security_group_ids: Sequence[str] | str | None
) -> dict:
    subnets, groups = _as_list(subnet_ids), _as_list(security_group_ids)
    if not subnets and not groups:
        return {}
    if not subnets or not groups:
        missing = "subnet_ids" if not subnets else "security_group_ids"
        raise BedrockCustomizationError(
            f"vpcConfig needs both subnet_ids and security_group_ids; {missing} is empty. Give both, or neither "
            "for a job outside a VPC."
        )
    if len(subnets) > 16:
        raise BedrockCustomizationError(f"subnet_ids: {len(subnets)} subnets given; Bedrock accepts 1 to 16")
    if len(groups) > 5:
        raise BedrockCustomizationError(
            f"security_group_ids: {len(groups)} groups given; Bedrock accepts 1 to 5"
        )
    return {"subnetIds": subnets, "securityGroupIds": groups}


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


def _merge_tags(
    user_tags: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None, managed: Mapping[str, str], what: str
) -> list[dict[str, str]]:
    """User tags (a mapping or Bedrock's key/value list) plus the provider's, which win, as Bedrock's list."""
    combined: dict[str, str] = {}
    if isinstance(user_tags, Mapping):
        combined.update({str(key): str(value) for key, value in user_tags.items()})
    else:
        for item in user_tags or ():
            if not isinstance(item, Mapping) or "key" not in item:
                raise BedrockCustomizationError(
                    f"{what}: expected a mapping or a list of {{'key': ..., 'value': ...}}, got {item!r}"
                )
            combined[str(item["key"])] = str(item.get("value", ""))
    combined.update(managed)
    if len(combined) > MAX_TAGS:
        raise BedrockCustomizationError(
            f"{what}: {len(combined)} tags including the provider's {len(managed)}; Bedrock allows {MAX_TAGS}"
        )
    return [{"key": key, "value": value} for key, value in combined.items()]
