"""BedrockEvaluationJobOperator (one native evaluation job) and BedrockCompareEvaluationJobsOperator.

S3 is the in-process emulator; the evaluation-job calls are answered by :class:`FakeEvaluationJobs` on the
operator's real botocore client (the emulator has no evaluation jobs), so every request is still validated
against botocore's service model.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest

from bedrock_customization.evaluation import EvaluationError
from bedrock_customization.lifecycle import ResourceIdentity
from bedrock_customization.operators.evaluation_job import (
    BedrockCompareEvaluationJobsOperator,
    BedrockEvaluationJobOperator,
)
from bedrock_customization.triggers.bedrock import BedrockEvaluationJobCompletedTrigger

from .conftest import BUCKET, JUDGE, REGION, ROLE, put_jsonl
from .fake_evaluation_jobs import FakeEvaluationJobs

DAG_ID, RUN_ID, TASK_ID = "bedrock_retraining", "manual__2026-03-01T00:00:00+00:00", "evaluate_candidate"
THROUGHPUT = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456"
OUTPUT = f"s3://{BUCKET}/runs/r1/bedrock_evaluation/"
NAME_PATTERN = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,62}$")


class TI:
    """What the operators read from ``context["ti"]``, plus the XCom store of the extra links."""

    def __init__(self, task_id: str = TASK_ID, run_id: str = RUN_ID) -> None:
        self.dag_id, self.run_id, self.task_id, self.map_index = DAG_ID, run_id, task_id, -1
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def context(task_id: str = TASK_ID, run_id: str = RUN_ID) -> dict[str, Any]:
    return {"ti": TI(task_id, run_id)}


@pytest.fixture
def validation_uri(s3) -> str:
    records = [
        {"prompt": f"What does plan {i} cost?", "completion": f"Plan {i} costs ${10 * i}."} for i in range(9)
    ]
    return put_jsonl(s3, "data/validation.jsonl", records)


@pytest.fixture
def fake() -> FakeEvaluationJobs:
    return FakeEvaluationJobs()


def job_op(fake: FakeEvaluationJobs, validation_uri: str, **overrides: Any) -> BedrockEvaluationJobOperator:
    kwargs = {
        "task_id": TASK_ID,
        "aws_conn_id": None,
        "region_name": REGION,
        "model_id": THROUGHPUT,
        "role_arn": ROLE,
        "validation_data_uri": validation_uri,
        "output_uri": OUTPUT,
        "sample_size": 5,
        "seed": 3,
        "description": "candidate fine-tuned",
        "wait_for_completion": False,
        "deferrable": False,
        "waiter_delay": 0,
        "waiter_max_attempts": 10,
        **overrides,
    }
    op = BedrockEvaluationJobOperator(**kwargs)
    fake.install(op.hook.conn)
    return op


def read(s3: Any, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


# ------------------------------------------------------------------------------------------- the job


def test_the_dataset_is_written_before_the_create_and_the_create_carries_token_and_tags(
    s3, fake, validation_uri
):
    arn = job_op(fake, validation_uri, job_tags={"team": "ml"}).execute(context())

    (request,) = fake.of("CreateEvaluationJob")
    identity = ResourceIdentity(DAG_ID, RUN_ID, TASK_ID)
    assert request["clientRequestToken"] == identity.token("evaluation-job")
    assert request["jobName"] == identity.name("evaluation-job").lower()
    assert NAME_PATTERN.match(request["jobName"])
    tags = {tag["key"]: tag["value"] for tag in request["jobTags"]}
    assert tags["bedrock-customization:managed-by"] == "airflow" and tags["team"] == "ml"
    assert tags["bedrock-customization:dag-id"] == DAG_ID and tags["bedrock-customization:run-id"] == RUN_ID
    assert tags["bedrock-customization:task-id"] == TASK_ID
    assert request["outputDataConfig"] == {"s3Uri": OUTPUT}
    assert request["jobDescription"] == "candidate fine-tuned"
    assert request["inferenceConfig"]["models"][0]["bedrockModel"]["modelIdentifier"] == THROUGHPUT

    (config,) = request["evaluationConfig"]["automated"]["datasetMetricConfigs"]
    dataset = config["dataset"]["datasetLocation"]["s3Uri"]
    assert re.fullmatch(re.escape(OUTPUT) + r"datasets/[0-9a-f]{16}\.jsonl", dataset)
    lines = [json.loads(line) for line in read(s3, dataset).decode().splitlines()]
    assert len(lines) == 5 and set(lines[0]) == {"prompt", "referenceResponse"}
    bucket, _, key = dataset.removeprefix("s3://").partition("/")
    assert s3.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "aws:kms"
    assert arn == fake.jobs[arn]["jobArn"]  # returns the job ARN


def test_a_retry_reattaches_to_its_job_by_name(s3, fake, validation_uri):
    first = job_op(fake, validation_uri).execute(context())
    again = job_op(fake, validation_uri).execute(context())  # a retry: a new operator, the same task instance
    assert again == first
    assert len(fake.of("CreateEvaluationJob")) == 1
    assert fake.of("ListEvaluationJobs")[-1]["nameContains"] == fake.jobs[first]["jobName"]

    # Another run creates its own job, over the same (shared) dataset object.
    other = job_op(fake, validation_uri).execute(context(run_id="manual__other"))
    assert other != first and len(fake.of("CreateEvaluationJob")) == 2
    datasets = {
        r["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["dataset"]["datasetLocation"]["s3Uri"]
        for r in fake.of("CreateEvaluationJob")
    }
    assert len(datasets) == 1


def test_a_job_under_our_name_that_is_not_ours_is_not_adopted(s3, fake, validation_uri):
    from airflow.providers.common.compat.sdk import AirflowFailException

    name = ResourceIdentity(DAG_ID, RUN_ID, TASK_ID).name("evaluation-job").lower()
    fake.add(name, tags=[{"key": "owner", "value": "someone else"}])
    with pytest.raises(AirflowFailException, match="was not created by this DAG run"):
        job_op(fake, validation_uri).execute(context())
    assert fake.of("CreateEvaluationJob") == []


def test_deferrable_defers_to_the_evaluation_job_trigger(s3, fake, validation_uri):
    from airflow.providers.common.compat.sdk import TaskDeferred

    op = job_op(fake, validation_uri, deferrable=True, waiter_delay=30, waiter_max_attempts=7)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, BedrockEvaluationJobCompletedTrigger)
    path, kwargs = trigger.serialize()
    (arn,) = fake.jobs
    assert path == "bedrock_customization.triggers.bedrock.BedrockEvaluationJobCompletedTrigger"
    assert kwargs["job_arn"] == arn and kwargs["waiter_delay"] == 30 and kwargs["waiter_max_attempts"] == 7
    assert deferred.value.method_name == "execute_complete"

    assert op.execute_complete(context(), {"status": "success", "job_arn": arn}) == arn


def test_the_synchronous_wait_polls_until_completed(s3, validation_uri):
    fake = FakeEvaluationJobs(polls=3)
    arn = job_op(fake, validation_uri, wait_for_completion=True).execute(context())
    assert fake.jobs[arn]["status"] == "Completed"
    assert len(fake.of("GetEvaluationJob")) >= 4  # after the create, the waiter, then the final read


def test_a_failed_job_fails_the_task_with_its_failure_messages(s3, validation_uri):
    from airflow.providers.common.compat.sdk import AirflowFailException

    fake = FakeEvaluationJobs(
        polls=1, outcome="Failed", failure_messages=["AccessDenied on s3://x", "The role cannot invoke"]
    )
    with pytest.raises(AirflowFailException) as failed:
        job_op(fake, validation_uri, wait_for_completion=True).execute(context())
    message = str(failed.value)
    assert "ended Failed: AccessDenied on s3://x; The role cannot invoke" in message
    assert "A retry re-attaches to the same job" in message and "a new DAG run" in message


def test_on_kill_stops_the_job_and_a_finished_job_is_left_alone(s3, fake, validation_uri):
    op = job_op(fake, validation_uri)
    arn = op.execute(context())
    op.on_kill()
    assert fake.of("StopEvaluationJob") == [{"jobIdentifier": arn}]
    assert fake.jobs[arn]["status"] == "Stopping"
    op.on_kill()  # stopping already: Bedrock answers ValidationException, logged, not raised
    assert len(fake.of("StopEvaluationJob")) == 2


def test_bad_inputs_fail_before_any_aws_call(s3, fake, validation_uri):
    with pytest.raises(EvaluationError, match="role_arn must be given"):
        job_op(fake, validation_uri, role_arn="").execute(context())
    with pytest.raises(EvaluationError, match="output_uri 's3://b/out/' is not an S3 URI"):
        job_op(fake, validation_uri, output_uri="s3://b/out/").execute(context())
    with pytest.raises(EvaluationError, match="task_type 'Chat' is not one of"):
        job_op(fake, validation_uri, evaluation_task_type="Chat").execute(context())
    with pytest.raises(EvaluationError, match="sample_size must be a number"):
        job_op(fake, validation_uri, sample_size="some").execute(context())
    assert fake.calls == []
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/")


def test_template_fields_and_judge_request(s3, fake, validation_uri):
    assert {
        "model_id",
        "role_arn",
        "validation_data_uri",
        "output_uri",
        "judge_model_id",
        "idempotency_key",
    } <= set(BedrockEvaluationJobOperator.template_fields)
    job_op(fake, validation_uri, judge_model_id=JUDGE, kms_key_id="alias/lz").execute(context())
    (request,) = fake.of("CreateEvaluationJob")
    automated = request["evaluationConfig"]["automated"]
    assert automated["evaluatorModelConfig"] == {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]}
    assert request["customerEncryptionKeyId"] == "alias/lz"


# ------------------------------------------------------------------------------------------- the trigger


def test_the_trigger_stops_the_job_when_the_deferred_task_is_killed(monkeypatch):
    from botocore.exceptions import ClientError

    stopped: list[str] = []

    class Client:
        def __init__(self, error: str | None = None) -> None:
            self.error = error

        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc):
            return False

        async def stop_evaluation_job(self, jobIdentifier):
            if self.error:
                raise ClientError({"Error": {"Code": self.error, "Message": "finished"}}, "StopEvaluationJob")
            stopped.append(jobIdentifier)

    arn = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/000000000001"
    trigger = BedrockEvaluationJobCompletedTrigger(job_arn=arn, waiter_delay=5, aws_conn_id=None)
    assert trigger.waiter_args == {"jobIdentifier": arn} and trigger.attempts == 240
    assert trigger.status_queries == ["status", "failureMessages"]

    for error in (None, "ValidationException"):

        class Hook:
            async def get_async_conn(self, error=error):
                return Client(error)

        monkeypatch.setattr(trigger, "hook", lambda: Hook())
        asyncio.run(trigger.on_kill())
    assert stopped == [arn]


# ------------------------------------------------------------------------------------------- the comparison


def finished_job(
    fake: FakeEvaluationJobs, s3: Any, role: str, scores: list[dict[str, float]], **extra
) -> str:
    """A Completed job of ``role`` whose results (one record per score dict) are in S3."""
    name = f"eval-{role}"
    arn = fake.add(
        name,
        status="Completed",
        evaluationConfig={
            "automated": {
                "datasetMetricConfigs": [
                    {
                        "taskType": "QuestionAndAnswer",
                        "dataset": {
                            "name": "validation",
                            "datasetLocation": {"s3Uri": f"{OUTPUT}datasets/d.jsonl"},
                        },
                        "metricNames": ["Builtin.Accuracy"],
                    }
                ],
                **extra,
            }
        },
        inferenceConfig={"models": [{"bedrockModel": {"modelIdentifier": f"model-{role}"}}]},
        outputDataConfig={"s3Uri": OUTPUT},
    )
    records = [
        {
            "automatedEvaluationResult": {"scores": [{"metricName": k, "result": v} for k, v in s.items()]},
            "inputRecord": {"prompt": f"question {i}", "referenceResponse": f"answer {i}"},
        }
        for i, s in enumerate(scores)
    ]
    key = f"runs/r1/bedrock_evaluation/{name}/{arn[-12:]}/models/m/taskTypes/QuestionAndAnswer/datasets/validation/x_output.jsonl"
    s3.put_object(Bucket=BUCKET, Key=key, Body="".join(json.dumps(r) + "\n" for r in records).encode())
    return arn


def compare_op(fake: FakeEvaluationJobs, **overrides: Any) -> BedrockCompareEvaluationJobsOperator:
    kwargs = {
        "task_id": "compare",
        "aws_conn_id": None,
        "region_name": REGION,
        "output_uri": f"s3://{BUCKET}/runs/r1/evaluation/",
        "candidate_label": "fine-tuned",
        **overrides,
    }
    op = BedrockCompareEvaluationJobsOperator(**kwargs)
    fake.install(op.hook.conn)
    return op


def test_two_finished_jobs_give_the_summary_report_and_decision(s3, fake):
    from bedrock_customization.links.bedrock import BedrockEvaluationJobLink

    baseline = finished_job(fake, s3, "baseline", [{"Builtin.Accuracy": 0.2, "Builtin.Toxicity": 0.1}] * 8)
    candidate = finished_job(
        fake,
        s3,
        "candidate",
        [{"Builtin.Accuracy": 0.9, "Builtin.Toxicity": 0.0}] * 6 + [{"Builtin.Accuracy": 0.5}] * 2,
    )
    ctx = context("compare")
    summary = compare_op(fake, baseline_job_arn=baseline, candidate_job_arn=candidate, margin="0.1").execute(
        ctx
    )

    assert summary["decision"] == "promote" and summary["primary_metric"] == "Builtin.Accuracy"
    assert summary["baseline"] == {
        "model_id": "model-baseline",
        "label": "baseline",
        "Builtin.Accuracy": 0.2,
        "Builtin.Toxicity": 0.1,
    }
    assert summary["candidate"]["label"] == "fine-tuned" and summary["candidate"]["Builtin.Accuracy"] == 0.8
    assert summary["samples"] == 8 and summary["margin"] == 0.1
    # Paired by inputRecord: +0.7 on six prompts, +0.3 on two; the interval clears the margin.
    test = summary["significance"]
    assert test["n"] == 8 and test["mean_difference"] == 0.6 and test["ci_low"] > 0.1 and test["seed"] == 42
    assert summary["evaluation_jobs"] == {"baseline": baseline, "candidate": candidate}
    assert summary["mode"] == "bedrock_evaluation_job"
    prefix = f"s3://{BUCKET}/runs/r1/evaluation/"
    assert summary["uris"] == {
        "summary": prefix + "summary.json",
        "report": prefix + "report.md",
        "chart": prefix + "metrics_chart.png",
    }
    assert json.loads(read(s3, summary["uris"]["summary"])) == json.loads(json.dumps(summary, default=str))
    assert read(s3, summary["uris"]["report"]).decode().startswith("# Model evaluation: PROMOTE")
    assert read(s3, summary["uris"]["chart"]).startswith(b"\x89PNG")
    stored = ctx["ti"].xcom[BedrockEvaluationJobLink.key]
    assert stored["job_arns"] == {"baseline": baseline, "candidate": candidate}

    with pytest.raises(EvaluationError, match="lower-is-better"):
        compare_op(
            fake, baseline_job_arn=baseline, candidate_job_arn=candidate, primary_metric="Builtin.Toxicity"
        ).execute(context("compare"))


def test_only_completed_jobs_are_compared(s3, fake):
    from airflow.providers.common.compat.sdk import AirflowFailException

    baseline = finished_job(fake, s3, "baseline", [{"Builtin.Accuracy": 0.2}])
    failed = fake.add(
        "eval-failed",
        status="Failed",
        failureMessages=["Throttled too often"],
        outputDataConfig={"s3Uri": OUTPUT},
    )
    with pytest.raises(
        AirflowFailException, match=r"candidate evaluation job eval-failed .* is Failed.*Throttled too often"
    ):
        compare_op(fake, baseline_job_arn=baseline, candidate_job_arn=failed).execute(context("compare"))
    silent = fake.add("eval-silent", status="Completed", outputDataConfig={"s3Uri": OUTPUT})
    with pytest.raises(EvaluationError, match="eval-silent wrote no \\*_output.jsonl"):
        compare_op(fake, baseline_job_arn=baseline, candidate_job_arn=silent).execute(context("compare"))
