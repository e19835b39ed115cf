"""Operator preparing a Bedrock training dataset: convert, validate, split, publish to S3 with SSE-KMS."""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.s3 import S3Hook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.sdk.exceptions import AirflowFailException

from bedrock_customization import artifacts
from bedrock_customization.exceptions import DatasetConfigError, InvalidDatasetError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from bedrock_customization.dataset.report import PrepareReport


class InvalidDatasetFailure(AirflowFailException):
    """The dataset failed validation; the message is the readable report. Fails without retries."""


class PrepareBedrockDatasetOperator(AwsBaseOperator[S3Hook]):
    """
    Convert, validate and split a dataset for a Bedrock base model and publish it to S3 with SSE-KMS.

    Reads a JSON array, JSON Lines or CSV file from S3 or a local path, prepares it in a local temporary
    directory with :func:`bedrock_customization.dataset.prepare.prepare` (streaming: memory does not grow
    with the input), and only when every check passed uploads ``train.jsonl``, ``validation.jsonl`` (when
    any record is held out) and ``report.json`` under ``output_uri``. Each file goes to a temporary key
    first and is then copied to its final key, so no reader ever sees a partial object there; the report
    comes last, so its presence means the files beside it are complete. On invalid data the task fails
    (without retries) with the report's reasons and line numbers, and nothing is written to S3.

    Returns ``{"train_uri", "validation_uri", "report_uri", "summary"}``; ``validation_uri`` is None when no
    record was held out, ``summary`` holds the report's counts, token statistics and warnings.

    :param input_uri: ``s3://bucket/key`` or local path of the raw dataset. (templated)
    :param output_uri: ``s3://bucket/prefix`` the prepared files are written under. (templated)
    :param base_model_id: The base model the data is for. (templated)
    :param customization_type: Default ``FINE_TUNING``. (templated)
    :param record_format: Force an output format instead of the catalog's. Default none. (templated)
    :param prompt_key: Input field of the prompt. Default ``prompt``. (templated)
    :param completion_key: Input field of the completion. Default ``completion``. (templated)
    :param system_prompt: System text for every record. Default none. (templated)
    :param system_key: Input field of a per-record system text. Default none. (templated)
    :param conversation_key: Input field holding a whole conversation. Default none. (templated)
    :param text_key: Input field of continued pre-training text. Default ``input``. (templated)
    :param validation_fraction: Share of prompts held out for validation, in [0, 1). Default 0.2. (templated)
    :param seed: Split seed. Default 0. (templated)
    :param hyperparameters: The job's hyperparameters; checked, and batchSize sets Titan's token limit.
        Default none. (templated)
    :param batch_size: Batch size, when not given in ``hyperparameters``. Default none. (templated)
    :param kms_key_id: KMS key (id, ARN or alias) for SSE-KMS. Default none: the account's ``aws/s3`` key.
        (templated)
    :param on_invalid: ``fail`` (default) or ``skip`` invalid records (skipped ones are reported). (templated)
    :param dedupe: Drop exact duplicates. Default False.
    :param input_format: ``auto`` (default), ``json``, ``jsonl`` or ``csv``. (templated)
    """

    aws_hook_class = S3Hook
    template_fields: Sequence[str] = aws_template_fields(
        "input_uri",
        "output_uri",
        "base_model_id",
        "customization_type",
        "record_format",
        "prompt_key",
        "completion_key",
        "system_prompt",
        "system_key",
        "conversation_key",
        "text_key",
        "validation_fraction",
        "seed",
        "hyperparameters",
        "batch_size",
        "kms_key_id",
        "on_invalid",
        "input_format",
    )
    template_fields_renderers = {"hyperparameters": "json"}

    def __init__(
        self,
        *,
        input_uri: str,
        output_uri: str,
        base_model_id: str,
        customization_type: str = "FINE_TUNING",
        record_format: str | None = None,
        prompt_key: str = "prompt",
        completion_key: str = "completion",
        system_prompt: str | None = None,
        system_key: str | None = None,
        conversation_key: str | None = None,
        text_key: str | None = None,
        validation_fraction: float | str = 0.2,
        seed: int | str = 0,
        hyperparameters: dict[str, Any] | str | None = None,
        batch_size: int | str | None = None,
        kms_key_id: str | None = None,
        on_invalid: str = "fail",
        dedupe: bool = False,
        input_format: str = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.input_uri = input_uri
        self.output_uri = output_uri
        self.base_model_id = base_model_id
        self.customization_type = customization_type
        self.record_format = record_format
        self.prompt_key = prompt_key
        self.completion_key = completion_key
        self.system_prompt = system_prompt
        self.system_key = system_key
        self.conversation_key = conversation_key
        self.text_key = text_key
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.hyperparameters = hyperparameters
        self.batch_size = batch_size
        self.kms_key_id = kms_key_id
        self.on_invalid = on_invalid
        self.dedupe = dedupe
        self.input_format = input_format

    def execute(self, context: Context) -> dict[str, Any]:
        from bedrock_customization.dataset.mapping import FieldMapping
        from bedrock_customization.dataset.prepare import prepare

        bucket, prefix = artifacts.parse_s3_folder(
            self.output_uri, what="output_uri", error=DatasetConfigError
        )
        hyperparameters = self.hyperparameters
        if isinstance(hyperparameters, str):
            hyperparameters = json.loads(hyperparameters) if hyperparameters.strip() else None
        mapping = FieldMapping(
            prompt_key=self.prompt_key,
            completion_key=self.completion_key,
            system_prompt=self.system_prompt or None,
            system_key=self.system_key or None,
            conversation_key=self.conversation_key or None,
            text_key=self.text_key or None,
        )
        s3 = self.hook.conn
        if self.kms_key_id:
            self._check_key()
        with tempfile.TemporaryDirectory(prefix="bedrock-prepare-") as workdir:
            try:
                report = prepare(
                    self.input_uri,
                    workdir,
                    base_model_id=self.base_model_id,
                    customization_type=self.customization_type,
                    record_format=self.record_format or None,
                    mapping=mapping,
                    validation_fraction=float(self.validation_fraction),
                    seed=int(self.seed),
                    batch_size=self.batch_size or None,
                    hyperparameters=hyperparameters,
                    on_invalid=self.on_invalid,
                    dedupe=bool(self.dedupe),
                    input_format=self.input_format,
                    s3_client=s3,
                )
            except InvalidDatasetError as exc:
                raise InvalidDatasetFailure(str(exc)) from None
            for warning in report.warnings:
                self.log.warning("%s", warning)
            uris = self._publish(s3, bucket, prefix, Path(workdir), report)
        self.log.info("Prepared dataset:\n%s", report.render())
        return {**uris, "summary": report.summary()}

    def _check_key(self) -> None:
        """Fail before any work or write when the KMS key cannot encrypt (disabled, pending deletion, missing):
        S3 would otherwise refuse the first upload with a less helpful KMS error."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        from bedrock_customization.preflight import PreflightFailed, PreflightReport, check_key_can_encrypt

        kms = AwsBaseHook(**{**self._hook_parameters, "client_type": "kms"}).conn
        check = check_key_can_encrypt(kms, self.kms_key_id)
        if not check.ok:
            raise PreflightFailed(PreflightReport((check,)))

    def _publish(
        self, s3: Any, bucket: str, prefix: str, workdir: Path, report: PrepareReport
    ) -> dict[str, Any]:
        """Upload to temporary keys, copy to the final keys (report last), delete the temporaries."""
        from bedrock_customization.dataset.prepare import REPORT_FILE, VALIDATION_FILE

        encryption = artifacts.sse_kms_args(self.kms_key_id)
        staging = f"{prefix}_partial/{uuid.uuid4().hex}/"
        outputs = [output for output in (report.train, report.validation) if output is not None]
        uris: dict[str, Any] = {"train_uri": None, "validation_uri": None, "report_uri": None}
        staged: list[str] = []
        published: list[str] = []
        try:
            for output in outputs:
                staged.append(f"{staging}{output.name}.partial")
                s3.upload_file(str(workdir / output.name), bucket, staged[-1], ExtraArgs=encryption)
            # From here the prefix changes: first remove what would describe or sit beside the new files.
            s3.delete_object(Bucket=bucket, Key=prefix + REPORT_FILE)
            if report.validation is None:
                s3.delete_object(Bucket=bucket, Key=prefix + VALIDATION_FILE)
            for output, temporary in zip(outputs, staged, strict=True):
                final = prefix + output.name
                published.append(final)
                s3.copy({"Bucket": bucket, "Key": temporary}, bucket, final, ExtraArgs=encryption)
                output.uri = artifacts.s3_uri(bucket, final)
                uris[output.name.removesuffix(".jsonl") + "_uri"] = output.uri
            staged.append(f"{staging}{REPORT_FILE}.partial")
            artifacts.put_object(
                s3,
                artifacts.s3_uri(bucket, staged[-1]),
                report.to_json(),
                content_type="application/json",
                kms_key_id=self.kms_key_id,
            )
            published.append(prefix + REPORT_FILE)
            s3.copy({"Bucket": bucket, "Key": staged[-1]}, bucket, prefix + REPORT_FILE, ExtraArgs=encryption)
            uris["report_uri"] = artifacts.s3_uri(bucket, prefix + REPORT_FILE)
        except BaseException:
            for key in published:  # take back what this run published before the failure
                _delete_quietly(s3, bucket, key)
            raise
        finally:
            for key in staged:
                _delete_quietly(s3, bucket, key)
        return uris


def _delete_quietly(s3: Any, bucket: str, key: str) -> None:
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except Exception:  # cleanup is best effort; the original error is what matters
        pass
