"""Operators for Bedrock Custom Model Import: preflight, import job, smoke test, imported model delete.

The import job operator is idempotent like the customization operator: its job name and
``clientRequestToken`` derive from dag_id/run_id/task_id/map_index, so a retried or cleared task re-attaches
to the job its first try created instead of importing the model twice. The checks that can run before any
AWS call (names, VPC, tags) do, and :class:`BedrockModelImportPreflightOperator` checks the model folder
before anything billable starts. The pure checks live in :mod:`bedrock_customization.model_import`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.bedrock import BedrockRuntimeHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowFailException

from bedrock_customization import model_import, tagging
from bedrock_customization.hooks.bedrock import BedrockCustomizationHook
from bedrock_customization.links.bedrock import BedrockImportedModelLink, BedrockModelImportJobLink
from bedrock_customization.operators.base import BedrockDeleteOperator, BedrockResourceOperator, error_code
from bedrock_customization.preflight import PreflightFailed
from bedrock_customization.triggers.bedrock import BedrockModelImportJobCompletedTrigger
from bedrock_customization.vpc import vpc_config

if TYPE_CHECKING:
    from airflow.sdk import Context

    from bedrock_customization.lifecycle import ResourceIdentity

#: InvokeModel errors worth retrying in the smoke test: an imported model scaled to zero answers
#: ``ModelNotReadyException`` while Bedrock loads it (a cold start can take minutes).
_RETRYABLE_INVOKE = ("ModelNotReadyException", "ThrottlingException", "ServiceUnavailableException")


class BedrockCreateModelImportJobOperator(BedrockResourceOperator):
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
    unwanted model is removed with :class:`BedrockDeleteImportedModelOperator`. An ``execution_timeout`` bounds
    the deferred wait too (Airflow 3.3 does not count it while a task is deferred).

    Returns ``{"job_arn", "imported_model_arn", "imported_model_name"}`` (use ``multiple_outputs=True``);
    ``imported_model_arn`` is None while the job is still running (``wait_for_completion=False``).

    :param model_data_uri: ``s3://`` folder of the Hugging Face model (``config.json``, ``*.safetensors``,
        tokenizer files). (templated)
    :param role_arn: Service role Bedrock assumes to read the folder. (templated)
    :param imported_model_name: Name of the imported model, used as given (1-63 letters, digits, single
        ``-``/``_``). Default: ``<dag_id>-<task_id>-<digest of the task instance>``. (templated)
    :param job_name: Prefix of the job name; a digest of the task instance is always appended. Default
        ``<dag_id>-<task_id>``. (templated)
    :param kms_key_id: KMS key (id, ARN or alias) encrypting the imported model. Default: AWS owned.
        (templated)
    :param subnet_ids: Subnets of ``vpcConfig`` (1-16); a list or a comma-separated string. Default none: no
        VPC. (templated)
    :param security_group_ids: Security groups of ``vpcConfig`` (1-5); required with ``subnet_ids`` and only
        with it. (templated)
    :param job_tags: Extra job tags, a mapping or ``[{"key", "value"}]``; the provider's tags win. (templated)
    :param model_tags: Extra imported model tags, as ``job_tags``. (templated)
    :param wait_for_completion: Wait for the job to finish. Default True.
    :param waiter_delay: Seconds between status checks. Default: the ``poll_interval`` setting.
    :param waiter_max_attempts: Status checks before giving up the wait (the job keeps running). Default:
        ``job_timeout`` / ``poll_interval``.
    :param deferrable: Wait in the triggerer instead of a worker slot. (default:
        ``[bedrock_customization] deferrable``)
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
    arn_key = "jobArn"
    trigger_class = BedrockModelImportJobCompletedTrigger
    timeout_option = "job_timeout"
    token_kind = "model-import-job"
    name_parameter = "job_name"

    def __init__(
        self,
        *,
        model_data_uri: str,
        role_arn: str,
        imported_model_name: str | None = None,
        job_name: str | None = None,
        kms_key_id: str | None = None,
        subnet_ids: Sequence[str] | str | None = None,
        security_group_ids: Sequence[str] | str | None = None,
        job_tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        model_tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_data_uri = model_data_uri
        self.role_arn = role_arn
        self.imported_model_name = imported_model_name
        self.job_name = job_name
        self.kms_key_id = kms_key_id
        self.subnet_ids = subnet_ids
        self.security_group_ids = security_group_ids
        self.job_tags = job_tags
        self.model_tags = model_tags
        self._request: dict[str, Any] = {}

    # ------------------------------------------------------------------------------------------- the lifecycle

    def prepare(self, identity: ResourceIdentity) -> None:
        self._request = self.build_request(identity)

    def resource_name(self, identity: ResourceIdentity) -> str:
        return identity.name("model-import-job", self.job_name)

    def describe(self, identifier: str) -> dict[str, Any] | None:
        return self.hook.describe("get_model_import_job", jobIdentifier=identifier)

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
        request = {**self._request, "clientRequestToken": token}
        self.log.info(
            "Creating model import job %s: %s -> imported model %s.",
            request["jobName"],
            self.model_data_uri,
            request["importedModelName"],
        )
        return self.hook.conn.create_model_import_job(**request)["jobArn"]

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
        request: dict[str, Any] = {
            "jobName": self.resource_name(identity),
            "importedModelName": model_name,
            "roleArn": self.role_arn,
            "modelDataSource": {"s3DataSource": {"s3Uri": model_import.folder_uri(self.model_data_uri)}},
            "clientRequestToken": self.request_token(identity),
            "jobTags": identity.aws_tags(self.job_tags, what="job_tags"),
            "importedModelTags": identity.aws_tags(self.model_tags, what="model_tags"),
        }
        vpc = vpc_config(self.subnet_ids, self.security_group_ids)
        if vpc:
            request["vpcConfig"] = vpc
        if self.kms_key_id:
            request["importedModelKmsKeyId"] = self.kms_key_id
        return request


# --------------------------------------------------------------------------------------------- delete


class BedrockDeleteImportedModelOperator(BedrockDeleteOperator):
    """
    Delete a model imported with Custom Model Import; a model that is already gone counts as deleted.

    Returns True when this call deleted it, False when there was nothing to delete (or, with
    ``only_this_run``, when the model is not this run's).

    :param model_id: Name or ARN of the imported model; empty means nothing to delete. (templated)
    :param only_this_run: Delete only a model whose tags say this DAG run created it, so a teardown that
        names the model before it exists never deletes someone else's model of that name. Default False.
    """

    template_fields: Sequence[str] = aws_template_fields("model_id")
    resource_kind = "imported model"
    id_parameter = "model_id"

    def __init__(self, *, model_id: str | None, only_this_run: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id
        self.only_this_run = only_this_run

    def delete(self, identifier: str) -> bool:
        return self.hook.delete_imported_model(identifier)

    def execute(self, context: Context) -> bool:
        if self.model_id and self.only_this_run and not self._of_this_run(context["ti"]):
            return False
        return super().execute(context)

    def _of_this_run(self, ti: Any) -> bool:
        model = self.hook.describe("get_imported_model", modelIdentifier=self.model_id)
        if model is None:
            self.log.info("Imported model %s does not exist; nothing to delete.", self.model_id)
            return False
        tags = self.hook.resource_tags(model["modelArn"]) or {}
        if tagging.same_run(tags, ti.dag_id, ti.run_id):
            return True
        self.log.warning(
            "Imported model %s (%s) was not created by run %s of %s (tags %s); leaving it alone.",
            self.model_id,
            model["modelArn"],
            ti.run_id,
            ti.dag_id,
            tags,
        )
        return False


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
        for line in report.render().splitlines():
            self.log.info("%s", line)
        if not report.ok:
            raise PreflightFailed(report)
        self.log.info("%s", report.summary())
        return report.to_dict()


# --------------------------------------------------------------------------------------------- smoke test


class BedrockImportedModelSmokeTestOperator(AwsBaseOperator[BedrockRuntimeHook]):
    """
    Invoke an imported model once and check it answers and honours the stop sequence.

    Sends the body the model's architecture takes (:func:`~bedrock_customization.model_import.invoke_format`):
    the BedrockCompletion body (``prompt``, ``max_gen_len``, ``temperature``, ``top_p``, ``stop: ["\\n\\n"]``)
    for Llama, Mistral, Mixtral, Flan-T5, GPTBigCode and Qwen models, an OpenAI ChatCompletion body
    (``messages``, ``max_tokens``, ...) for GPT-OSS; with a prompt that asks for several paragraphs. Fails
    (without retrying) when the answer is empty, runs past the stop sequence, or hits ``max_gen_len`` first.
    The architecture is read with GetImportedModel (``modelArchitecture``) unless ``architecture`` is given;
    when it cannot be read the BedrockCompletion body is sent. A cold model's ``ModelNotReadyException`` (and
    throttling) is retried with backoff for up to ``ready_timeout`` seconds. Returns ``{"ok", "generation",
    "stop_reason", "problems", "prompt_token_count", "generation_token_count", "api_format", "architecture",
    "model_id"}``.

    :param model_id: ARN of the imported model. (templated)
    :param architecture: The model's architecture (``config.json`` ``architectures[0]`` or ``model_type``,
        e.g. ``GptOssForCausalLM``/``gpt_oss``), to skip the GetImportedModel call. (templated)
    :param prompt: The prompt. Default :data:`~bedrock_customization.model_import.DEFAULT_SMOKE_PROMPT`.
        (templated)
    :param stop_sequences: Stop sequences to send and check. Default ``["\\n\\n"]``. (not templated)
    :param max_gen_len: Token budget of the answer. Default 512. (templated)
    :param temperature: Default 0.1. (templated)
    :param ready_timeout: Seconds to keep retrying while the model loads. Default 600.
    """

    aws_hook_class = BedrockRuntimeHook
    # stop_sequences is not templated: Jinja drops a template's trailing newline, which would turn "\n\n"
    # into "\n".
    template_fields: Sequence[str] = aws_template_fields(
        "model_id", "prompt", "max_gen_len", "temperature", "architecture"
    )
    ui_color = "#e6f4ea"
    operator_extra_links = (BedrockImportedModelLink(),)

    def __init__(
        self,
        *,
        model_id: str,
        prompt: str = model_import.DEFAULT_SMOKE_PROMPT,
        stop_sequences: Sequence[str] = (model_import.DEFAULT_STOP,),
        max_gen_len: int = 512,
        temperature: float = 0.1,
        ready_timeout: float = 600,
        architecture: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id
        self.architecture = architecture
        self.prompt = prompt
        self.stop_sequences = stop_sequences
        self.max_gen_len = max_gen_len
        self.temperature = temperature
        self.ready_timeout = ready_timeout

    def execute(self, context: Context) -> dict[str, Any]:
        import json

        if not self.model_id:
            raise AirflowFailException("No imported model to smoke-test: model_id is empty.")
        if str(self.model_id).startswith("arn:"):
            BedrockImportedModelLink.persist_arn(context, self, self.model_id)
        stops = [self.stop_sequences] if isinstance(self.stop_sequences, str) else list(self.stop_sequences)
        architecture = self.architecture or self._architecture()
        body = model_import.smoke_test_body(
            self.prompt, stops, int(self.max_gen_len), float(self.temperature), architecture=architecture
        )
        self.log.info(
            "Imported model %s (architecture %s) takes the %s format.",
            self.model_id,
            architecture or "unknown",
            model_import.invoke_format(architecture),
        )
        raw = self._invoke(json.dumps(body))
        try:
            response = json.loads(raw)
        except ValueError as error:
            raise AirflowFailException(
                f"Imported model {self.model_id} answered something that is not JSON: {raw[:200]!r}"
            ) from error
        outcome = model_import.check_smoke_response(response, stops, architecture)
        self.log.info(
            "Imported model %s answered (stop_reason %r, %s tokens): %r",
            self.model_id,
            outcome.stop_reason,
            outcome.generation_token_count,
            outcome.generation[:500],
        )
        if not outcome.ok:
            problems = "\n".join(f"  - {problem}" for problem in outcome.problems)
            raise AirflowFailException(
                f"Smoke test of imported model {self.model_id} failed:\n{problems}\n"
                f"Generation: {outcome.generation[:1000]!r}"
            )
        self.log.info("Smoke test passed: the model answered and stopped at %r.", stops)
        return {**outcome.to_dict(), "architecture": architecture, "model_id": self.model_id}

    def _architecture(self) -> str | None:
        """GetImportedModel's ``modelArchitecture``, or None (logged) when it cannot be read."""
        from botocore.exceptions import BotoCoreError, ClientError

        control = BedrockCustomizationHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        )
        try:
            return control.conn.get_imported_model(modelIdentifier=self.model_id).get("modelArchitecture")
        except (BotoCoreError, ClientError) as error:
            self.log.warning(
                "Could not read the architecture of %s (%s); sending the BedrockCompletion body.",
                self.model_id,
                error,
            )
            return None

    def _invoke(self, body: str) -> bytes:
        deadline = time.monotonic() + float(self.ready_timeout)
        delay = 2.0
        while True:
            try:
                response = self.hook.conn.invoke_model(
                    modelId=self.model_id,
                    body=body,
                    contentType="application/json",
                    accept="application/json",
                )
                return response["body"].read()
            except Exception as error:
                code = error_code(error)
                if code not in _RETRYABLE_INVOKE or time.monotonic() + delay > deadline:
                    raise
                self.log.info("InvokeModel answered %s; retrying in %.0f s.", code, delay)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
