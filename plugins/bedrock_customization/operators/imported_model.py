"""Operators on a model imported with Custom Model Import: smoke-test it, delete it.

The import itself (preflight and import job) is :mod:`~bedrock_customization.operators.model_import`; the
pure checks and request bodies live in :mod:`bedrock_customization.model_import`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.bedrock import BedrockRuntimeHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowFailException

from bedrock_customization import model_import, tagging
from bedrock_customization.hooks.bedrock import BedrockCustomizationHook
from bedrock_customization.links.bedrock import BedrockImportedModelLink
from bedrock_customization.operators.base import BedrockDeleteOperator, error_code

if TYPE_CHECKING:
    from airflow.sdk import Context

#: InvokeModel errors worth retrying in the smoke test: an imported model scaled to zero answers
#: ``ModelNotReadyException`` while Bedrock loads it (a cold start can take minutes).
_RETRYABLE_INVOKE = ("ModelNotReadyException", "ThrottlingException", "ServiceUnavailableException")


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
