"""Training metrics: CSV parsing, the summary, the loss curve, and the operator against the emulator."""

from __future__ import annotations

import io
import json
import math

import pytest

from bedrock_customization.training_metrics import (
    LOSS_CURVE_FILE,
    SUMMARY_FILE,
    TRAINING_CSV,
    VALIDATION_CSVS,
    MetricRow,
    MetricsError,
    job_folder,
    parse_training_csv,
    parse_validation_csv,
    render_loss_curve,
    summarize,
)
from tests.records import NOVA_MICRO, conversation_jsonl

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/amazon.nova-micro-v1:0:128k/abc123def456"

TRAINING_WITH_PERPLEXITY = """step_number,epoch_number,training_loss,perplexity
1,1,2.50,12.18
2,1,2.10,8.17
3,2,1.60,4.95
4,2,1.40,4.06
5,3,1.10,3.00
6,3,1.00,2.72
"""
# Claude writes no perplexity column.
TRAINING_WITHOUT_PERPLEXITY = """step_number,epoch_number,training_loss
1,1,2.5
2,1,2.1
3,2,1.6
4,2,1.4
5,3,1.1
6,3,1.0
"""
VALIDATION = """step_number,epoch_number,validation_loss,perplexity
2,1,1.90,6.69
4,2,1.20,3.32
6,3,1.35,3.86
"""


def test_training_csv_with_and_without_perplexity_parse_alike():
    with_perplexity = parse_training_csv(TRAINING_WITH_PERPLEXITY)
    without = parse_training_csv(TRAINING_WITHOUT_PERPLEXITY)
    assert [(r.step, r.epoch, r.loss) for r in with_perplexity] == [
        (r.step, r.epoch, r.loss) for r in without
    ]
    assert with_perplexity[-1].perplexity == 2.72
    assert all(r.perplexity is None for r in without)
    assert summarize(without).final_perplexity is None
    assert summarize(with_perplexity).final_perplexity == 2.72


def test_summary_of_a_run_with_validation():
    summary = summarize(
        parse_training_csv(TRAINING_WITH_PERPLEXITY), parse_validation_csv(VALIDATION), epoch_count=3
    )
    data = summary.to_dict()
    assert data["first_training_loss"] == 2.5
    assert data["final_training_loss"] == 1.0
    assert data["final_validation_loss"] == 1.35
    assert data["per_epoch"] == [
        {"epoch": 1, "training_loss": pytest.approx(2.3), "validation_loss": 1.9},
        {"epoch": 2, "training_loss": pytest.approx(1.5), "validation_loss": 1.2},
        {"epoch": 3, "training_loss": pytest.approx(1.05), "validation_loss": 1.35},
    ]
    assert (data["best_epoch"], data["best_validation_loss"]) == (2, 1.2)
    assert (data["epochs_logged"], data["epoch_count"], data["steps"]) == (3, 3, 6)
    assert data["early_stopping_detected"] is False
    assert data["diverged"] is False
    assert data["has_validation"] is True
    json.dumps(data, allow_nan=False)


def test_missing_validation_gives_no_best_epoch():
    data = summarize(parse_training_csv(TRAINING_WITHOUT_PERPLEXITY)).to_dict()
    assert data["final_validation_loss"] is None
    assert data["best_epoch"] is None and data["best_validation_loss"] is None
    assert data["has_validation"] is False
    assert all(epoch["validation_loss"] is None for epoch in data["per_epoch"])


def test_fewer_epochs_than_epoch_count_means_early_stopping():
    training = parse_training_csv(TRAINING_WITHOUT_PERPLEXITY)
    assert summarize(training, epoch_count=5).early_stopping_detected is True
    assert summarize(training, epoch_count=3).early_stopping_detected is False
    assert summarize(training, epoch_count=None).early_stopping_detected is False


def test_zero_based_epochs_are_counted_not_maxed():
    text = "step_number,epoch_number,training_loss\n0,0,2.0\n1,0,1.8\n2,1,1.5\n3,1,1.4\n"
    summary = summarize(parse_training_csv(text), epoch_count=2)
    assert summary.epochs_logged == 2
    assert summary.early_stopping_detected is False
    assert [e.epoch for e in summary.epochs] == [0, 1]


def test_rising_or_non_finite_training_loss_is_divergence():
    rising = [MetricRow(1, 1, 2.0), MetricRow(2, 1, 2.5), MetricRow(3, 2, 3.5)]
    assert summarize(rising).diverged is True
    exploded = [MetricRow(1, 1, 2.0), MetricRow(2, 1, float("inf"))]
    summary = summarize(exploded)
    assert summary.diverged is True
    assert summary.to_dict()["final_training_loss"] is None
    json.dumps(summary.to_dict(), allow_nan=False)
    nan_text = "step_number,epoch_number,training_loss\n1,1,2.0\n2,1,nan\n"
    assert math.isnan(parse_training_csv(nan_text)[-1].loss)
    assert summarize(parse_training_csv(nan_text)).diverged is True


def test_header_case_spacing_blank_lines_and_byte_order_mark_are_tolerated():
    text = "\ufeff Step_Number , Epoch_Number ,Training_Loss\n\n1,1,2.0\n,,\n2,1,1.9\n"
    assert [r.loss for r in parse_training_csv(text)] == [2.0, 1.9]


def test_validation_without_step_column():
    rows = parse_validation_csv("epoch_number,validation_loss\n1,1.5\n2,1.3\n")
    assert [(r.step, r.epoch, r.loss) for r in rows] == [(None, 1, 1.5), (None, 2, 1.3)]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is empty"),
        ("step_number,epoch_number,loss\n1,1,2.0\n", "missing column(s) training_loss"),
        ("step_number,epoch_number,training_loss\n1,1,2.0\n2,1,high\n", "line 3"),
        ("step_number,epoch_number,training_loss\n1,1.5,2.0\n", "not a whole number"),
    ],
)
def test_bad_files_name_the_problem(text, message):
    with pytest.raises(MetricsError) as err:
        parse_training_csv(text, "s3://b/x.csv")
    assert message in str(err.value)
    assert "s3://b/x.csv" in str(err.value)


def test_no_training_rows_is_an_error():
    with pytest.raises(MetricsError, match="no rows"):
        summarize(parse_training_csv("step_number,epoch_number,training_loss\n"))


@pytest.mark.parametrize(
    ("output_uri", "expected"),
    [
        ("s3://bucket/runs/1/output/", ("bucket", "runs/1/output/model-customization-job-abc123def456/")),
        ("s3://bucket/runs/1/output", ("bucket", "runs/1/output/model-customization-job-abc123def456/")),
        ("s3://bucket", ("bucket", "model-customization-job-abc123def456/")),
        ("s3://bucket/", ("bucket", "model-customization-job-abc123def456/")),
    ],
)
def test_job_folder(output_uri, expected):
    assert job_folder(output_uri, JOB_ARN) == expected


def _check_png(png: bytes) -> None:
    from matplotlib.image import imread

    assert png.startswith(PNG_SIGNATURE)
    assert len(png) > 10_000  # axes, two curves, legend and title: far more than a blank canvas
    pixels = imread(io.BytesIO(png))
    assert pixels.shape[:2] == (500, 800)
    colours = {tuple(p) for p in pixels[::7, ::7].reshape(-1, pixels.shape[2]).round(2).tolist()}
    assert len(colours) > 20  # lines, markers, text and grid in several colours


def test_loss_curve_is_a_real_png():
    summary = summarize(parse_training_csv(TRAINING_WITH_PERPLEXITY), parse_validation_csv(VALIDATION), 5)
    _check_png(render_loss_curve(summary, "Loss per epoch: job-1"))


def test_loss_curve_of_a_single_epoch_without_validation():
    summary = summarize([MetricRow(1, 1, 2.0), MetricRow(2, 1, 1.5)])
    assert render_loss_curve(summary, "one epoch").startswith(PNG_SIGNATURE)


# --------------------------------------------------------------------------------------------- the operator


REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/BedrockCustomization"
BUCKET = "metrics-bucket"


@pytest.fixture
def aws(monkeypatch):
    from include import local_aws
    from include.local_aws import CONFIG

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    CONFIG.reset()
    CONFIG.update(job_seconds=0.2)
    with local_aws.mock():
        import boto3

        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        yield {
            "s3": s3,
            "bedrock": boto3.client("bedrock", region_name=REGION),
            "kms": boto3.client("kms", region_name=REGION),
        }
    CONFIG.reset()


def _completed_job(aws, name, base=NOVA_MICRO, validation=True, epochs="3"):
    import time

    records = conversation_jsonl((f"q{i}", f"a{i}") for i in range(40))
    aws["s3"].put_object(Bucket=BUCKET, Key=f"{name}/train.jsonl", Body=records.encode())
    aws["s3"].put_object(Bucket=BUCKET, Key=f"{name}/validation.jsonl", Body=records.encode())
    kwargs = {}
    if validation:
        kwargs["validationDataConfig"] = {"validators": [{"s3Uri": f"s3://{BUCKET}/{name}/validation.jsonl"}]}
    arn = aws["bedrock"].create_model_customization_job(
        jobName=name,
        customModelName=f"{name}-model",
        roleArn=ROLE,
        baseModelIdentifier=base,
        trainingDataConfig={"s3Uri": f"s3://{BUCKET}/{name}/train.jsonl"},
        outputDataConfig={"s3Uri": f"s3://{BUCKET}/{name}/output/"},
        hyperParameters={"epochCount": epochs},
        **kwargs,
    )["jobArn"]
    deadline = time.monotonic() + 10
    while aws["bedrock"].get_model_customization_job(jobIdentifier=arn)["status"] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return arn


@pytest.mark.parametrize("layout", ["nested", "flat"])
def test_operator_writes_summary_and_png_next_to_the_metrics(aws, layout):
    from bedrock_customization.operators.metrics import CollectTrainingMetricsOperator
    from include.local_aws import CONFIG

    CONFIG.update(metrics_layout=layout)
    arn = _completed_job(aws, f"job-{layout}")
    result = CollectTrainingMetricsOperator(task_id="metrics", job_arn=arn).execute({})

    folder = f"job-{layout}/output/model-customization-job-{arn.rsplit('/', 1)[-1]}/"
    assert result["summary_uri"] == f"s3://{BUCKET}/{folder}{SUMMARY_FILE}"
    assert result["loss_curve_uri"] == f"s3://{BUCKET}/{folder}{LOSS_CURVE_FILE}"
    inner = VALIDATION_CSVS[0] if layout == "nested" else VALIDATION_CSVS[1]
    assert result["validation_metrics_uri"] == f"s3://{BUCKET}/{folder}{inner}"
    assert result["training_metrics_uri"] == f"s3://{BUCKET}/{folder}{TRAINING_CSV}"

    job = aws["bedrock"].get_model_customization_job(jobIdentifier=arn)
    assert result["final_training_loss"] == pytest.approx(job["trainingMetrics"]["trainingLoss"])
    assert result["final_validation_loss"] == pytest.approx(job["validationMetrics"][-1]["validationLoss"])
    assert (result["epochs_logged"], result["epoch_count"], result["early_stopping_detected"]) == (
        3,
        3,
        False,
    )
    assert result["best_epoch"] in (1, 2, 3)
    assert result["job_name"] == f"job-{layout}" and result["status"] == "Completed"

    stored = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key=folder + SUMMARY_FILE)["Body"].read())
    assert stored == {k: v for k, v in result.items() if k not in ("summary_uri", "loss_curve_uri")}
    png = aws["s3"].get_object(Bucket=BUCKET, Key=folder + LOSS_CURVE_FILE)
    assert png["ContentType"] == "image/png"
    body = png["Body"].read()
    _check_png(body)


def test_operator_without_validation_data_and_without_perplexity(aws):
    from bedrock_customization.operators.metrics import CollectTrainingMetricsOperator

    arn = _completed_job(aws, "no-validation-job", validation=False, epochs="2")
    # Claude jobs write no perplexity column; Claude 3 Haiku, the only Claude model, reached its end of life,
    # so the column is dropped from this job's CSV, as Claude writes it.
    key = f"no-validation-job/output/model-customization-job-{arn.rsplit('/', 1)[-1]}/{TRAINING_CSV}"
    rows = aws["s3"].get_object(Bucket=BUCKET, Key=key)["Body"].read().decode().splitlines()
    assert rows[0].endswith(",perplexity")
    body = "".join(row.rsplit(",", 1)[0] + "\n" for row in rows)
    aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=body.encode())
    result = CollectTrainingMetricsOperator(task_id="metrics", job_arn=arn).execute({})
    assert result["validation_metrics_uri"] is None
    assert result["final_validation_loss"] is None and result["best_epoch"] is None
    assert result["final_perplexity"] is None
    assert result["epochs_logged"] == 2
    png = (
        aws["s3"]
        .get_object(Bucket=BUCKET, Key=result["loss_curve_uri"].split(f"{BUCKET}/", 1)[1])["Body"]
        .read()
    )
    assert png.startswith(PNG_SIGNATURE)


def test_operator_encrypts_with_the_given_kms_key(aws):
    from bedrock_customization.operators.metrics import CollectTrainingMetricsOperator

    key_arn = aws["kms"].create_key()["KeyMetadata"]["Arn"]
    arn = _completed_job(aws, "kms-job")
    result = CollectTrainingMetricsOperator(task_id="metrics", job_arn=arn, kms_key_id=key_arn).execute({})
    for uri in (result["summary_uri"], result["loss_curve_uri"]):
        head = aws["s3"].head_object(Bucket=BUCKET, Key=uri.split(f"{BUCKET}/", 1)[1])
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == key_arn


def test_operator_refuses_a_running_job(aws):
    from airflow.providers.common.compat.sdk import AirflowException

    from bedrock_customization.operators.metrics import CollectTrainingMetricsOperator
    from include.local_aws import CONFIG

    CONFIG.update(job_seconds=60)
    aws["s3"].put_object(Bucket=BUCKET, Key="t.jsonl", Body=conversation_jsonl(("q", "a") for _ in range(8)).encode())
    arn = aws["bedrock"].create_model_customization_job(
        jobName="running",
        customModelName="running-model",
        roleArn=ROLE,
        baseModelIdentifier=NOVA_MICRO,
        trainingDataConfig={"s3Uri": f"s3://{BUCKET}/t.jsonl"},
        outputDataConfig={"s3Uri": f"s3://{BUCKET}/out/"},
    )["jobArn"]
    with pytest.raises(AirflowException, match="still InProgress"):
        CollectTrainingMetricsOperator(task_id="metrics", job_arn=arn).execute({})
