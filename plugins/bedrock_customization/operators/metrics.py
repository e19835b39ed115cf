"""Operator collecting a finished customization job's training metrics into a summary and a loss curve."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException

from bedrock_customization import artifacts, catalog
from bedrock_customization.exceptions import BedrockCustomizationError
from bedrock_customization.links.bedrock import BedrockCustomizationJobLink, BedrockRunResultsLink
from bedrock_customization.operators.base import s3_client
from bedrock_customization.training_metrics import (
    LOSS_CURVE_FILE,
    SUMMARY_FILE,
    TRAINING_CSV,
    VALIDATION_CSVS,
    MetricsError,
    job_folder,
    parse_training_csv,
    parse_validation_csv,
    render_loss_curve,
    summarize,
)

if TYPE_CHECKING:
    from airflow.sdk import Context


class CollectTrainingMetricsOperator(AwsBaseOperator[BedrockHook]):
    """
    Summarise a customization job's training metrics and draw its loss curve, next to the metrics in S3.

    Reads the job (its ``outputDataConfig`` and ``epochCount``), then
    ``model-customization-job-<id>/training_artifacts/step_wise_training_metrics.csv`` and, when present, the
    validation metrics CSV (with or without the inner ``validation/`` folder). Writes ``metrics_summary.json``
    and ``loss_curve.png`` into ``model-customization-job-<id>/``, encrypted with SSE-KMS (``kms_key_id``,
    else the AWS managed key ``aws/s3``). Returns the summary (see
    :meth:`bedrock_customization.training_metrics.MetricsSummary.to_dict`) plus ``job_arn``, ``job_name``,
    ``status``, ``training_metrics_uri``, ``validation_metrics_uri`` (None without validation metrics),
    ``summary_uri`` and ``loss_curve_uri``.

    :param job_arn: ARN (or name) of the model customization job. (templated)
    :param kms_key_id: KMS key for SSE-KMS of the two files written. Default none: the AWS managed key
        ``aws/s3``. (templated)
    """

    aws_hook_class = BedrockHook
    template_fields: Sequence[str] = aws_template_fields("job_arn", "kms_key_id")
    operator_extra_links = (BedrockCustomizationJobLink(), BedrockRunResultsLink())

    def __init__(self, *, job_arn: str, kms_key_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job_arn = job_arn
        self.kms_key_id = kms_key_id

    def execute(self, context: Context) -> dict[str, Any]:
        job = self.hook.conn.get_model_customization_job(jobIdentifier=self.job_arn)
        name, arn, status = job["jobName"], job["jobArn"], job["status"]
        BedrockCustomizationJobLink.persist_arn(context, self, arn)
        if status in ("InProgress", "Stopping"):
            raise AirflowException(
                f"Customization job {name} is still {status}: Bedrock writes its metrics when it finishes ({arn})"
            )
        bucket, folder = job_folder(job["outputDataConfig"]["s3Uri"], arn)
        s3 = s3_client(self)

        training_key = folder + TRAINING_CSV
        training_text = _read(s3, bucket, training_key)
        if training_text is None:
            raise MetricsError(
                f"s3://{bucket}/{training_key} does not exist: customization job {name} ({status}) wrote no "
                "training metrics"
            )
        training = parse_training_csv(training_text, f"s3://{bucket}/{training_key}")

        validation, validation_uri = [], None
        for relative in VALIDATION_CSVS:
            text = _read(s3, bucket, folder + relative)
            if text is not None:
                validation_uri = f"s3://{bucket}/{folder}{relative}"
                validation = parse_validation_csv(text, validation_uri)
                break
        else:
            if (job.get("validationDataConfig") or {}).get("validators"):
                self.log.warning(
                    "Job %s had validation data but s3://%s/%s has no validation metrics CSV.",
                    name,
                    bucket,
                    folder + "validation_artifacts/",
                )

        summary = summarize(training, validation, _epoch_count(job))
        report = {
            "job_arn": arn,
            "job_name": name,
            "status": status,
            **summary.to_dict(),
            "training_metrics_uri": f"s3://{bucket}/{training_key}",
            "validation_metrics_uri": validation_uri,
        }
        png = render_loss_curve(summary, f"Loss per epoch: {name}")

        summary_uri = artifacts.s3_uri(bucket, folder + SUMMARY_FILE)
        curve_uri = artifacts.s3_uri(bucket, folder + LOSS_CURVE_FILE)
        body = json.dumps(report, indent=2, allow_nan=False).encode()
        artifacts.put_object(
            s3, summary_uri, body, content_type="application/json", kms_key_id=self.kms_key_id
        )
        artifacts.put_object(s3, curve_uri, png, content_type="image/png", kms_key_id=self.kms_key_id)
        self.log.info(
            "Job %s: final training loss %s, final validation loss %s, best epoch %s, %d of %s epochs%s%s.",
            name,
            report["final_training_loss"],
            report["final_validation_loss"],
            report["best_epoch"],
            report["epochs_logged"],
            report["epoch_count"] if report["epoch_count"] is not None else "?",
            "; stopped early" if report["early_stopping_detected"] else "",
            "; DIVERGED" if report["diverged"] else "",
        )
        return {**report, "summary_uri": summary_uri, "loss_curve_uri": curve_uri}


def _read(s3: Any, bucket: str, key: str) -> str | None:
    """The object's text, or None when it does not exist."""
    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
    except s3.exceptions.NoSuchKey:
        return None


def _epoch_count(job: dict[str, Any]) -> int | None:
    """The job's ``epochCount``, else the catalog default of its base model, else None."""
    value = (job.get("hyperParameters") or {}).get("epochCount")
    if value is not None:
        try:
            return int(float(value))
        except ValueError:
            return None
    try:
        spec = catalog.get_model(job.get("baseModelArn", "")).hyperparameters.get("epochCount")
    except BedrockCustomizationError:
        return None
    return int(spec.default) if spec is not None else None
