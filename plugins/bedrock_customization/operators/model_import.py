"""Operators for Bedrock Custom Model Import: preflight and import job.

The import job operator is idempotent like the customization operator: its job name and
``clientRequestToken`` derive from dag_id/run_id/task_id/map_index, so a retried or cleared task re-attaches
to the job its first try created instead of importing the model twice. The checks that can run before any
AWS call (names, VPC, tags) do, and :class:`BedrockModelImportPreflightOperator` checks the model folder
before anything billable starts. The pure checks live in :mod:`bedrock_customization.model_import`; the
smoke test and the delete of an imported model are :mod:`~bedrock_customization.operators.imported_model`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowFailException

from bedrock_customization import model_import, tagging
from bedrock_customization.links.bedrock import BedrockImportedModelLink, BedrockModelImportJobLink
from bedrock_customization.operators.base import BedrockJobOperator
from bedrock_customization.triggers.bedrock import BedrockModelImportJobCompletedTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from bedrock_customization.lifecycle import ResourceIdentity


class BedrockCreateModelImportJobOperator(BedrockJobOperator):
    """
    Import a Hugging Face model from S3 into Bedrock (Custom Model Import) and wait until it is imported.

    The job name and ``clientRequestToken`` derive from the DAG id, run id, task id and map index: a retried
    or cleared task finds the job its first try created (by name) and re-attaches to it. An InProgress job
    is waited on, a Completed one returns at once, a Failed one fails the task with the job's
    ``failureMessage`` without retrying (Bedrock does not restart an import job: fix the folder and trigger a
    new DAG run). A job found under the derived name that this run did not create fails the task, and so
    does an imported model that already has ``imported_model_name``. Job and model are tagged
    ``bedrock-customization:managed-by=airflow`` plus ``…:dag-id``, ``…:run-id`` and ``…:task-id``.

    Killing the task stops nothing: Bedrock has no API to stop a model import job, so the job runs to its
    end (killed while deferred, the trigger logs a warning naming the job); a retry re-attaches to it, and an
    unwanted model is removed with
    :class:`~bedrock_customization.operators.imported_model.BedrockDeleteImportedModelOperator`. An
    ``execution_timeout`` bounds the deferred wait too (Airflow 3.3 does not count it while a task is deferred).

    Returns ``{"job_arn", "imported_model_arn", "imported_model_name"}`` (use ``multiple_outputs=True``);
    ``imported_model_arn`` is None while the job is still running (``wait_for_completion=False``).

    :param model_data_uri: ``s3://`` folder of the Hugging Face model (``config.json``, ``*.safetensors``,
        tokenizer files). (templated)
    :param imported_model_name: Name of the imported model, used as given (1-63 letters, digits, single
        ``-``/``_``). Default: ``<dag_id>-<task_id>-<digest of the task instance>``. (templated)

    and the parameters every job takes (:class:`~bedrock_customization.operators.base.BedrockJobOperator`):
    ``role_arn`` (the role that reads the folder), ``job_name``, ``kms_key_id`` (of the imported model),
    ``subnet_ids``, ``security_group_ids``, ``job_tags``, ``model_tags`` (of the imported model) and the four
    knobs of the wait.
    """

    template_fields: Sequence[str] = aws_template_fields(
        "model_data_uri",
        "role_arn",
        "imported_model_name",
        "job_name",
        "kms_key_id",
        "subnet_ids",
        "security_group_ids",
        "job_tags",
        "model_tags",
    )
    ui_color = "#e8f0fb"
    operator_extra_links = (BedrockModelImportJobLink(), BedrockImportedModelLink())

    resource_kind = "model import job"
    trigger_class = BedrockModelImportJobCompletedTrigger
    token_kind = "model-import-job"
    name_kind = "model-import-job"
    get_job = "get_model_import_job"
    create_job = "create_model_import_job"
    model_tags_key = "importedModelTags"
    model_kms_key = "importedModelKmsKeyId"

    def __init__(self, *, model_data_uri: str, imported_model_name: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_data_uri = model_data_uri
        self.imported_model_name = imported_model_name

    # ------------------------------------------------------------------------------------------- the lifecycle

    def before_create(self, identity: ResourceIdentity) -> None:
        """The imported model name must be free: Bedrock would fail the job only at its end."""
        name = self._request["importedModelName"]
        model = self.hook.describe("get_imported_model", modelIdentifier=name)
        if model is None:
            return
        tags = self.tags_of(model["modelArn"]) or {}
        ours = tagging.same_run(tags, identity.dag_id, identity.run_id)
        created = "this DAG run" if ours else "another run"
        raise AirflowFailException(
            f"An imported model named {name} already exists ({model['modelArn']}, created by {created}). Choose "
            "another imported_model_name, or delete that model first (BedrockDeleteImportedModelOperator)."
        )

    def create(self, identity: ResourceIdentity, token: str) -> str:
        self.log.info(
            "Creating model import job %s: %s -> imported model %s.",
            self._request["jobName"],
            self.model_data_uri,
            self._request["importedModelName"],
        )
        return super().create(identity, token)

    def stop(self, arn: str) -> None:
        """Nothing to stop: Bedrock has no StopModelImportJob; the job runs on and a retry re-attaches."""
        self.log.info(
            "Bedrock cannot stop model import job %s; it runs to its end. A retry of this task re-attaches to "
            "it; delete an unwanted imported model with BedrockDeleteImportedModelOperator.",
            arn,
        )

    def failure_message(self, resource: Mapping[str, Any]) -> str:
        reason = resource.get("failureMessage") or "Bedrock gave no failureMessage"
        source = resource.get("modelDataSource", {}).get("s3DataSource", {}).get("s3Uri")
        return (
            f"Bedrock model import job {resource['jobName']} failed: {reason} ({resource['jobArn']}, source "
            f"{source}). Retrying re-attaches to the same failed job: fix the model folder "
            "(BedrockModelImportPreflightOperator lists what Bedrock needs) and trigger a new DAG run."
        )

    def finish(self, resource: Mapping[str, Any]) -> Any:
        """As the base; a completed job whose imported model was deleted since fails the task."""
        if resource.get("status") == "Completed" and not self.hook.describe(
            "get_imported_model", modelIdentifier=resource["importedModelArn"]
        ):
            raise AirflowFailException(
                f"Model import job {resource['jobName']} completed, but its imported model "
                f"{resource['importedModelArn']} has been deleted since. Trigger a new DAG run to import the "
                "model again."
            )
        return super().finish(resource)

    def result(self, resource: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "job_arn": resource["jobArn"],
            "imported_model_arn": resource.get("importedModelArn"),
            "imported_model_name": resource.get("importedModelName"),
        }

    def persist_links(self, context: Context, resource: Mapping[str, Any]) -> None:
        """The links to the job and, once it has one, to its imported model."""
        BedrockModelImportJobLink.persist_arn(context, self, resource["jobArn"])
        BedrockImportedModelLink.persist_arn(context, self, resource.get("importedModelArn"))

    # ------------------------------------------------------------------------------------------- the request

    def build_request(self, identity: ResourceIdentity) -> dict[str, Any]:
        """CreateModelImportJob parameters; every check here runs before any AWS call."""
        model_name = model_import.check_imported_model_name(
            self.imported_model_name or identity.name("imported-model")
        )
        source = {"s3DataSource": {"s3Uri": model_import.folder_uri(self.model_data_uri)}}
        return {**self.job_request(identity), "importedModelName": model_name, "modelDataSource": source}


# --------------------------------------------------------------------------------------------- preflight


class BedrockModelImportPreflightOperator(AwsBaseOperator[AwsBaseHook]):
    """
    Check a Hugging Face model folder in S3 before importing it; fail listing every problem at once.

    Read-only S3 calls (list the folder, read ``config.json`` and the safetensors index, read the first bytes
    of each weight file): supported architecture, safetensors weights, tokenizer files, total size. Returns the
    report (``{"ok", "failed", "checks"}``) when every check passes.

    :param model_data_uri: ``s3://`` folder of the model. (templated)
    :param max_total_bytes: Largest total size of the folder. Default
        :data:`~bedrock_customization.model_import.DEFAULT_MAX_TOTAL_BYTES` (200 GiB, UNVERIFIED against
        Bedrock's own limit). (templated)
    """

    aws_hook_class = AwsBaseHook
    template_fields: Sequence[str] = aws_template_fields("model_data_uri", "max_total_bytes")
    ui_color = "#f0e4ec"

    def __init__(
        self,
        *,
        model_data_uri: str,
        max_total_bytes: int = model_import.DEFAULT_MAX_TOTAL_BYTES,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_data_uri = model_data_uri
        self.max_total_bytes = max_total_bytes

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        return {**super()._hook_parameters, "client_type": "s3"}

    def execute(self, context: Context) -> dict[str, Any]:
        report = model_import.run_import_preflight(
            self.hook.conn, self.model_data_uri, int(self.max_total_bytes)
        )
        return report.task_result(self.log)
