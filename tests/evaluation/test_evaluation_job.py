"""BedrockEvaluationJobOperator (one native evaluation job) and BedrockCompareEvaluationJobsOperator.

AWS is the in-process emulator, which runs evaluation jobs as Bedrock documents them (request checks, the
lifecycle, the ``*_output.jsonl`` results in S3), so the operators' requests and the result parser are
tested against that format.
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

from .conftest import BUCKET, NOVA_MICRO_ON_DEMAND, REGION, ROLE, _wait, put_jsonl

DAG_ID, RUN_ID, TASK_ID = "bedrock_retraining", "manual__2026-03-01T00:00:00+00:00", "evaluate_candidate"
OUTPUT = f"s3://{BUCKET}/runs/r1/bedrock_evaluation/"
NAME_PATTERN = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,62}$")
#: An evaluator model of the judge page (model-evaluation-type-judge-prompt) that the emulator serves.
JUDGE = "amazon.nova-pro-v1:0"


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
def bedrock(aws) -> Any:
    import boto3

    return boto3.client("bedrock", region_name=REGION)


def job_op(validation_uri: str, **overrides: Any) -> BedrockEvaluationJobOperator:
    kwargs = {
        "task_id": TASK_ID,
        "aws_conn_id": None,
        "region_name": REGION,
        "model_id": NOVA_MICRO_ON_DEMAND,
        "role_arn": ROLE,
        "validation_data_uri": validation_uri,
        "output_uri": OUTPUT,
        "sample_size": 5,
        "seed": 3,
        "description": "candidate fine-tuned",
        "wait_for_completion": False,
        "deferrable": False,
        # A deadline (about 20 s), not a count of instant polls: a busy machine reaches Completed later.
        "waiter_delay": 0.05,
        "waiter_max_attempts": 400,
        **overrides,
    }
    return BedrockEvaluationJobOperator(**kwargs)


def read(s3: Any, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def jobs(bedrock: Any) -> list[dict[str, Any]]:
    return bedrock.list_evaluation_jobs().get("jobSummaries", [])


# ------------------------------------------------------------------------------------------- the job


def test_the_dataset_is_written_before_the_create_and_the_create_carries_token_and_tags(
    s3, bedrock, validation_uri
):
    arn = job_op(validation_uri, job_tags={"team": "ml"}).execute(context())

    job = bedrock.get_evaluation_job(jobIdentifier=arn)  # the emulator accepted the request as AWS would
    identity = ResourceIdentity(DAG_ID, RUN_ID, TASK_ID)
    assert job["jobName"] == identity.name("evaluation-job").lower()
    assert NAME_PATTERN.match(job["jobName"])
    tags = {tag["key"]: tag["value"] for tag in bedrock.list_tags_for_resource(resourceARN=arn)["tags"]}
    assert tags["bedrock-customization:managed-by"] == "airflow" and tags["team"] == "ml"
    assert tags["bedrock-customization:dag-id"] == DAG_ID and tags["bedrock-customization:run-id"] == RUN_ID
    assert tags["bedrock-customization:task-id"] == TASK_ID
    assert job["outputDataConfig"] == {"s3Uri": OUTPUT}
    assert job["jobDescription"] == "candidate fine-tuned"
    assert job["inferenceConfig"]["models"][0]["bedrockModel"]["modelIdentifier"] == NOVA_MICRO_ON_DEMAND

    (config,) = job["evaluationConfig"]["automated"]["datasetMetricConfigs"]
    dataset = config["dataset"]["datasetLocation"]["s3Uri"]
    assert re.fullmatch(re.escape(OUTPUT) + r"datasets/[0-9a-f]{16}\.jsonl", dataset)
    lines = [json.loads(line) for line in read(s3, dataset).decode().splitlines()]
    assert len(lines) == 5 and set(lines[0]) == {"prompt", "referenceResponse"}
    bucket, _, key = dataset.removeprefix("s3://").partition("/")
    assert s3.head_object(Bucket=bucket, Key=key)["ServerSideEncryption"] == "aws:kms"
    # The same token again is an idempotent repeat: the emulator answers with the same job.
    request = {
        "clientRequestToken": identity.token("evaluation-job"),
        "jobName": "another-name",
        "roleArn": ROLE,
        "evaluationConfig": job["evaluationConfig"],
        "inferenceConfig": job["inferenceConfig"],
        "outputDataConfig": job["outputDataConfig"],
    }
    assert bedrock.create_evaluation_job(**request)["jobArn"] == arn


def test_a_retry_reattaches_to_its_job_by_name(s3, bedrock, validation_uri):
    first = job_op(validation_uri).execute(context())
    again = job_op(validation_uri).execute(context())  # a retry: a new operator, the same task instance
    assert again == first and len(jobs(bedrock)) == 1

    # Another run creates its own job, over the same (shared) dataset object.
    other = job_op(validation_uri).execute(context(run_id="manual__other"))
    assert other != first and len(jobs(bedrock)) == 2
    datasets = {
        bedrock.get_evaluation_job(jobIdentifier=arn)["evaluationConfig"]["automated"][
            "datasetMetricConfigs"
        ][0]["dataset"]["datasetLocation"]["s3Uri"]
        for arn in (first, other)
    }
    assert len(datasets) == 1


def test_a_job_under_our_name_that_is_not_ours_is_not_adopted(s3, bedrock, validation_uri):
    from airflow.providers.common.compat.sdk import AirflowFailException

    theirs = job_op(validation_uri, job_name="someone").execute(context(run_id="manual__theirs"))
    job = bedrock.get_evaluation_job(jobIdentifier=theirs)
    name = ResourceIdentity(DAG_ID, RUN_ID, TASK_ID).name("evaluation-job").lower()
    bedrock.create_evaluation_job(
        jobName=name,
        roleArn=ROLE,
        evaluationConfig=job["evaluationConfig"],
        inferenceConfig=job["inferenceConfig"],
        outputDataConfig=job["outputDataConfig"],
        jobTags=[{"key": "owner", "value": "someone else"}],
    )
    with pytest.raises(AirflowFailException, match="was not created by this DAG run"):
        job_op(validation_uri).execute(context())
    assert len(jobs(bedrock)) == 2


def test_deferrable_defers_to_the_evaluation_job_trigger(s3, bedrock, validation_uri):
    from airflow.providers.common.compat.sdk import TaskDeferred

    op = job_op(validation_uri, deferrable=True, waiter_delay=30, waiter_max_attempts=7)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, BedrockEvaluationJobCompletedTrigger)
    path, kwargs = trigger.serialize()
    (summary,) = jobs(bedrock)
    arn = summary["jobArn"]
    assert path == "bedrock_customization.triggers.bedrock.BedrockEvaluationJobCompletedTrigger"
    assert kwargs["job_arn"] == arn and kwargs["waiter_delay"] == 30 and kwargs["waiter_max_attempts"] == 7
    assert deferred.value.method_name == "execute_complete"

    # The trigger fires once the job completed; the operator then reads the job again.
    _wait(
        lambda: bedrock.get_evaluation_job(jobIdentifier=arn)["status"], lambda status: status == "Completed"
    )
    assert op.execute_complete(context(), {"status": "success", "job_arn": arn}) == arn


def test_the_synchronous_wait_polls_until_completed(s3, bedrock, validation_uri):
    arn = job_op(validation_uri, wait_for_completion=True).execute(context())
    job = bedrock.get_evaluation_job(jobIdentifier=arn)
    assert job["status"] == "Completed"
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"runs/r1/bedrock_evaluation/{job['jobName']}/")
    assert [o["Key"] for o in listed["Contents"]][0].endswith("_output.jsonl")


def test_a_failed_job_fails_the_task_with_its_failure_messages(s3, bedrock, fine_tuned):
    from airflow.providers.common.compat.sdk import AirflowFailException

    from include.local_aws import CONFIG

    CONFIG.update(evaluation_seconds=4)  # still running when the throughput goes, on a loaded machine too
    op = job_op(fine_tuned["validation_uri"], model_id=fine_tuned["throughput_arn"], waiter_delay=0.2)
    arn = op.execute(context())
    # The throughput goes away while the job runs: the job fails, and so does the task, with the reason.
    bedrock.delete_provisioned_model_throughput(provisionedModelId=fine_tuned["throughput_arn"])
    with pytest.raises(AirflowFailException) as failed:
        job_op(
            fine_tuned["validation_uri"],
            model_id=fine_tuned["throughput_arn"],
            wait_for_completion=True,
            waiter_delay=0.2,
        ).execute(context())
    message = str(failed.value)
    assert f"ended Failed: Model inference failed for {fine_tuned['throughput_arn']}" in message
    assert arn in message and "A retry re-attaches to the same job" in message and "a new DAG run" in message


def test_on_kill_stops_the_job_and_a_finished_job_is_left_alone(s3, bedrock, validation_uri):
    from include.local_aws import CONFIG

    CONFIG.update(evaluation_seconds=30, stop_seconds=30)
    op = job_op(validation_uri)
    arn = op.execute(context())
    op.on_kill()
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Stopping"
    op.on_kill()  # stopping already: Bedrock answers ConflictException, logged, not raised
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Stopping"


def test_bad_inputs_fail_before_any_aws_call(s3, bedrock, validation_uri):
    with pytest.raises(EvaluationError, match="role_arn must be given"):
        job_op(validation_uri, role_arn="").execute(context())
    with pytest.raises(EvaluationError, match="output_uri 's3://b/out/' is not an S3 URI"):
        job_op(validation_uri, output_uri="s3://b/out/").execute(context())
    with pytest.raises(EvaluationError, match="task_type 'Chat' is not one of"):
        job_op(validation_uri, evaluation_task_type="Chat").execute(context())
    with pytest.raises(EvaluationError, match="sample_size must be a number"):
        job_op(validation_uri, sample_size="some").execute(context())
    deployment = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdefghij12"
    with pytest.raises(EvaluationError, match="evaluation jobs cannot evaluate.*serving=provisioned"):
        job_op(validation_uri, model_id=deployment).execute(context())
    assert jobs(bedrock) == []
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="runs/")


def test_template_fields_and_judge_request(s3, bedrock, validation_uri):
    assert {
        "model_id",
        "role_arn",
        "validation_data_uri",
        "output_uri",
        "judge_model_id",
        "idempotency_key",
    } <= set(BedrockEvaluationJobOperator.template_fields)
    arn = job_op(validation_uri, judge_model_id=JUDGE, kms_key_id="alias/lz").execute(context())
    job = bedrock.get_evaluation_job(jobIdentifier=arn)
    automated = job["evaluationConfig"]["automated"]
    assert automated["evaluatorModelConfig"] == {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]}
    assert job["customerEncryptionKeyId"].endswith(":alias/lz")


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


def compare_op(**overrides: Any) -> BedrockCompareEvaluationJobsOperator:
    kwargs = {
        "task_id": "compare",
        "aws_conn_id": None,
        "region_name": REGION,
        "output_uri": f"s3://{BUCKET}/runs/r1/evaluation/",
        "candidate_label": "fine-tuned",
        **overrides,
    }
    return BedrockCompareEvaluationJobsOperator(**kwargs)


def both_jobs(fine_tuned: dict[str, str], **overrides: Any) -> dict[str, str]:
    """The base model's and the fine-tuned model's finished evaluation jobs on the same prompts."""
    arns = {}
    for role, model in (("baseline", NOVA_MICRO_ON_DEMAND), ("candidate", fine_tuned["throughput_arn"])):
        arns[role] = job_op(
            fine_tuned["validation_uri"],
            task_id=f"evaluate_{role}",
            model_id=model,
            sample_size=None,
            wait_for_completion=True,
            waiter_delay=0.1,
            **overrides,
        ).execute(context(f"evaluate_{role}"))
    return arns


def test_two_finished_jobs_give_the_summary_report_and_decision(s3, fine_tuned):
    from bedrock_customization.links.bedrock import BedrockEvaluationJobLink

    arns = both_jobs(fine_tuned)
    ctx = context("compare")
    summary = compare_op(
        baseline_job_arn=arns["baseline"], candidate_job_arn=arns["candidate"], margin="0.1"
    ).execute(ctx)

    # The emulator's fine-tuned model answers from its training data; the base model does not.
    assert summary["decision"] == "promote" and summary["primary_metric"] == "Builtin.Accuracy"
    assert set(summary["baseline"]) == {
        "model_id",
        "label",
        "Builtin.Accuracy",
        "Builtin.Robustness",
        "Builtin.Toxicity",
    }
    assert summary["baseline"]["model_id"] == NOVA_MICRO_ON_DEMAND
    assert summary["candidate"]["model_id"] == fine_tuned["throughput_arn"]
    assert summary["candidate"]["label"] == "fine-tuned"
    assert summary["candidate"]["Builtin.Accuracy"] > summary["baseline"]["Builtin.Accuracy"] + 0.3
    samples = summary["samples"]
    assert samples > 10 and summary["margin"] == 0.1
    # Paired by inputRecord: every prompt both jobs answered; the interval clears the margin.
    test = summary["significance"]
    assert test["n"] == samples and "unpaired" not in test and test["ci_low"] > 0.1 and test["seed"] == 42
    assert summary["evaluation_jobs"] == arns and summary["mode"] == "bedrock_evaluation_job"
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
    assert stored["job_arns"] == arns

    for lower_is_better in ("Builtin.Toxicity", "Builtin.Robustness"):
        with pytest.raises(EvaluationError, match=f"primary_metric {lower_is_better} is lower-is-better"):
            compare_op(
                baseline_job_arn=arns["baseline"],
                candidate_job_arn=arns["candidate"],
                primary_metric=lower_is_better,
            ).execute(context("compare"))


def test_judged_jobs_decide_on_correctness(s3, fine_tuned):
    arns = both_jobs(fine_tuned, judge_model_id=JUDGE)
    summary = compare_op(baseline_job_arn=arns["baseline"], candidate_job_arn=arns["candidate"]).execute(
        context("compare")
    )
    assert summary["primary_metric"] == "Builtin.Correctness" and summary["judge_model_id"] == JUDGE
    assert summary["decision"] == "promote"
    assert summary["candidate"]["Builtin.Correctness"] > summary["baseline"]["Builtin.Correctness"]


def test_only_completed_jobs_are_compared(s3, bedrock, fine_tuned):
    from airflow.providers.common.compat.sdk import AirflowFailException

    from include.local_aws import CONFIG

    arns = both_jobs(fine_tuned)
    CONFIG.update(evaluation_seconds=30, stop_seconds=0)
    stopped = job_op(fine_tuned["validation_uri"], task_id="stopped").execute(context("stopped"))
    bedrock.stop_evaluation_job(jobIdentifier=stopped)
    with pytest.raises(AirflowFailException, match=r"candidate evaluation job .* is Stopped, not Completed"):
        compare_op(baseline_job_arn=arns["baseline"], candidate_job_arn=stopped).execute(context("compare"))
    # A completed job whose results were removed from S3 cannot be compared either.
    name = bedrock.get_evaluation_job(jobIdentifier=arns["candidate"])["jobName"]
    for item in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"runs/r1/bedrock_evaluation/{name}/")["Contents"]:
        s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    with pytest.raises(EvaluationError, match=f"{name} wrote no \\*_output.jsonl"):
        compare_op(baseline_job_arn=arns["baseline"], candidate_job_arn=arns["candidate"]).execute(
            context("compare")
        )
