"""Generate the held-out evaluation set from documents with a model through Converse, or pass the split on."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.bedrock import BedrockRuntimeHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from bedrock_customization import artifacts
from bedrock_customization.evaluation.generate import (
    DEFAULT_NEAR_DUPLICATE,
    GenerationError,
    generate,
    prompts_of,
    read_documents,
    read_text,
    to_documents,
)
from bedrock_customization.evaluation.invoke import RetryCounter, RetryPolicy
from bedrock_customization.operators.base import s3_client
from bedrock_customization.operators.retrying import ThrottlingRetriesMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

#: What the evaluation uses: the validation split, the generated set, or both (split records first).
EVAL_SETS = ("split", "generated", "both")
SET_NAME = "eval_set.jsonl"
REPORT_NAME = "eval_set_report.json"


def _locations(value: str | Sequence[str] | None) -> list[str]:
    """Document locations from a list, or from a comma-separated string (a rendered template)."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else [str(item) for item in value]
    return [item.strip() for item in items if item and item.strip()]


class GenerateBedrockEvalSetOperator(ThrottlingRetriesMixin, AwsBaseOperator[BedrockRuntimeHook]):
    """
    Write the held-out set an evaluation uses: question/answer pairs a model generates from documents, the
    validation split, or both.

    With ``eval_set="generated"`` or ``"both"`` the documents at ``documents_uri`` (S3 objects or prefixes of
    PDF, text, Markdown, HTML, CSV or Office files) go to ``model_id`` through Converse as document blocks, and
    the model must record ``count`` pairs with a forced tool call; pairs that repeat a prompt of
    ``training_data_uri`` (or of the split, with ``both``) or each other, exactly or nearly, are dropped, and
    the rest are validated and written in ``base_model_id``'s training format
    (:mod:`bedrock_customization.evaluation.generate`). Throttling is retried here with backoff and jitter, as
    in the evaluation (botocore's own retries are off). ``output_uri`` gets ``eval_set.jsonl`` (with
    ``both``: the split's records, then the generated ones) and ``eval_set_report.json`` (requests, pairs
    kept, dropped per reason with examples), with SSE-KMS. With ``eval_set="split"`` nothing is called or
    written and the split is passed on.

    Returns ``{"uri", "eval_set", "records", "generated", "split_records", "report_uri", "dropped",
    "requests", "retries"}``: ``uri`` is the file to evaluate on.

    :param documents_uri: S3 URIs of documents or prefixes, a list or comma-separated. (templated)
    :param output_uri: S3 prefix for ``eval_set.jsonl`` and its report. (templated)
    :param model_id: The model that writes the pairs (it must take documents and forced tool use in Converse,
        e.g. Anthropic Claude 3 or later, Amazon Nova). (templated)
    :param base_model_id: The model being customized: its record format and rules apply. (templated)
    :param count: Pairs to generate. (templated; default 32)
    :param eval_set: ``split``, ``generated`` or ``both``. (templated; default ``generated``)
    :param split_uri: The validation split (JSON Lines), for ``split`` and ``both``. (templated)
    :param training_data_uri: Training data (JSON Lines) whose prompts the questions must not repeat.
        (templated; default none)
    :param near_duplicate_threshold: Word-set Jaccard similarity from which two questions are duplicates.
        (templated; default 0.8)
    :param inference_config: Converse ``inferenceConfig``. (templated; default ``{"maxTokens": 4096,
        "temperature": 0.0}``)
    :param max_attempts: Attempts per call before failing. (default 8)
    :param retry_base_delay: Seconds before the first retry; doubles each retry, with jitter. (default 1.0)
    :param retry_max_delay: Longest wait between attempts, in seconds. (default 20.0)
    :param kms_key_id: KMS key for SSE-KMS. (templated; default ``aws/s3``)
    """

    aws_hook_class = BedrockRuntimeHook
    template_fields: Sequence[str] = aws_template_fields(
        "documents_uri",
        "output_uri",
        "model_id",
        "base_model_id",
        "count",
        "eval_set",
        "split_uri",
        "training_data_uri",
        "near_duplicate_threshold",
        "inference_config",
        "kms_key_id",
    )
    template_fields_renderers = {"inference_config": "json"}
    ui_color = "#d8e7f5"

    def __init__(
        self,
        *,
        output_uri: str,
        base_model_id: str,
        documents_uri: str | Sequence[str] | None = None,
        model_id: str | None = None,
        count: int | str = 32,
        eval_set: str = "generated",
        split_uri: str | None = None,
        training_data_uri: str | None = None,
        near_duplicate_threshold: float | str = DEFAULT_NEAR_DUPLICATE,
        inference_config: dict[str, Any] | None = None,
        max_attempts: int = 8,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 20.0,
        kms_key_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.documents_uri = documents_uri
        self.output_uri = output_uri
        self.model_id = model_id
        self.base_model_id = base_model_id
        self.count = count
        self.eval_set = eval_set
        self.split_uri = split_uri
        self.training_data_uri = training_data_uri
        self.near_duplicate_threshold = near_duplicate_threshold
        self.inference_config = inference_config
        self.throttling_retries = RetryPolicy(max_attempts, retry_base_delay, retry_max_delay)
        self.kms_key_id = kms_key_id

    @cached_property
    def _s3_client(self) -> Any:
        return s3_client(self)

    def _options(self) -> tuple[str, list[str], int]:
        """(eval_set, document locations, count), checked before any call."""
        mode = str(self.eval_set or "").strip().lower()
        if mode not in EVAL_SETS:
            raise GenerationError(f"eval_set must be one of {', '.join(EVAL_SETS)}, not {self.eval_set!r}")
        locations = _locations(self.documents_uri)
        if mode == "both" and not self.split_uri:
            raise GenerationError(
                "eval_set 'both' evaluates on the validation split too, but there is none: raise "
                "validation_fraction, or use eval_set 'generated'"
            )
        if mode == "split":
            return mode, locations, 0
        if not locations:
            raise GenerationError(
                f"eval_set {mode!r} generates questions from documents: set documents_uri (the DAG param "
                "eval_documents_uri) to S3 URIs of PDF or text files or of their prefix"
            )
        if not self.model_id:
            raise GenerationError("Generating an evaluation set needs model_id (the model that writes it)")
        try:
            count = int(self.count)
        except (TypeError, ValueError):
            raise GenerationError(f"count must be a positive integer, not {self.count!r}") from None
        return mode, locations, count

    def execute(self, context: Context) -> dict[str, Any]:
        mode, locations, count = self._options()
        if mode == "split":
            if self.split_uri:
                self.log.info(
                    "eval_set is 'split': the evaluation uses the validation split %s.", self.split_uri
                )
            else:
                self.log.warning("eval_set is 'split' but the data has no validation split to evaluate on.")
            return {"uri": self.split_uri, "eval_set": mode, "generated": 0, "report_uri": None}
        s3 = self._s3_client
        documents = to_documents(read_documents(locations, s3_client=s3))
        training = (
            prompts_of(read_text(self.training_data_uri, s3), self.training_data_uri)
            if self.training_data_uri
            else []
        )
        split_text = read_text(self.split_uri, s3, what="validation split") if mode == "both" else ""
        held_out = prompts_of(split_text, str(self.split_uri)) if split_text else []
        split_records = sum(1 for line in split_text.splitlines() if line.strip())
        self.log.info(
            "Asking %s for %d question/answer pairs from %d documents (%d training prompts, %d held-out "
            "prompts to avoid).",
            self.model_id,
            count,
            len(documents),
            len(training),
            len(held_out),
        )
        runtime, counter = self.hook.conn, RetryCounter()

        def converse(**request: Any) -> Any:
            what = f"Converse with {self.model_id} to generate evaluation questions"
            return self._retrying(lambda: runtime.converse(**request), what, counter, "generator")

        result = generate(
            converse,
            self.model_id,
            documents,
            count,
            base_model_id=self.base_model_id,
            training_prompts=training,
            held_out_prompts=held_out,
            near_duplicate_threshold=float(self.near_duplicate_threshold),
            inference_config=self.inference_config,
        )
        retries = counter.as_dict(("generator",))["generator"]
        report = {**result.report, "eval_set": mode, "split_uri": self.split_uri, "retries": retries}
        for warning in report["warnings"]:
            self.log.warning("%s", warning)
        split_body = split_text.encode("utf-8")
        if split_body and not split_body.endswith(b"\n"):
            split_body += b"\n"
        uri = artifacts.join(self.output_uri, SET_NAME)
        report_uri = artifacts.join(self.output_uri, REPORT_NAME)
        artifacts.put_object(s3, uri, split_body + result.jsonl(), "application/jsonl", self.kms_key_id)
        artifacts.put_object(
            s3,
            report_uri,
            json.dumps(report, indent=2, ensure_ascii=False),
            "application/json",
            self.kms_key_id,
        )
        self.log.info(
            "Wrote %s: %d generated records%s (%d received in %d requests; dropped: %s).",
            uri,
            report["generated"],
            f" after {split_records} records of the split" if split_records else "",
            report["received"],
            report["requests"],
            report["dropped"] or "none",
        )
        return {
            "uri": uri,
            "eval_set": mode,
            "records": split_records + report["generated"],
            "generated": report["generated"],
            "split_records": split_records,
            "report_uri": report_uri,
            "dropped": report["dropped"],
            "requests": report["requests"],
            "retries": retries,
        }
