"""BedrockVpcCustomizeModelOperator against the local emulator: re-attach, kill, failures, request shape."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from bedrock_customization import catalog
from bedrock_customization.exceptions import BedrockCustomizationError, HyperparameterError
from bedrock_customization.lifecycle import ResourceIdentity
from bedrock_customization.operators.customization import BedrockVpcCustomizeModelOperator
from bedrock_customization.tagging import DAG_ID as DAG_ID_TAG
from bedrock_customization.tagging import MANAGED_BY as MANAGED_BY_TAG
from bedrock_customization.tagging import RUN_ID as RUN_ID_TAG
from bedrock_customization.tagging import TASK_ID as TASK_ID_TAG
from tests.records import conversation_jsonl

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/BedrockCustomization"
BUCKET = "landing"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"  # FINE_TUNING only
RUN_ID = "manual__2026-03-01T00:00:00+00:00"
JOB_TOKEN = "model-customization-job"  # the token kind of the job's clientRequestToken
FAIL_MESSAGE = (
    "Training data s3://landing/train.jsonl line 7: the completion is empty. Fix the record and retry."
)


class FakeTaskInstance:
    """What the operator reads from ``context["ti"]``, plus an XCom store for the extra link."""

    def __init__(self, dag_id="retrain", run_id=RUN_ID, task_id="customize", map_index=-1):
        self.dag_id, self.run_id, self.task_id, self.map_index = dag_id, run_id, task_id, map_index
        self.xcom: dict[str, Any] = {}

    def xcom_push(self, key, value):
        self.xcom[key] = value


def context(**kwargs) -> dict[str, Any]:
    return {"ti": FakeTaskInstance(**kwargs)}


def operator(**kwargs) -> BedrockVpcCustomizeModelOperator:
    params = {
        "task_id": "customize",
        "role_arn": ROLE,
        "base_model_id": NOVA_MICRO,
        "training_data_uri": f"s3://{BUCKET}/train.jsonl",
        "validation_data_uri": f"s3://{BUCKET}/validation.jsonl",
        "output_data_uri": f"s3://{BUCKET}/output/",
        "hyperparameters": {"epochCount": 2},
        "deferrable": False,
        "waiter_delay": 1,
        "waiter_max_attempts": 30,
        **kwargs,
    }
    return BedrockVpcCustomizeModelOperator(**params)


def _put_data(s3) -> None:
    records = conversation_jsonl((f"q{i}", f"a{i}") for i in range(30))
    s3.create_bucket(Bucket=BUCKET)
    for name in ("train.jsonl", "validation.jsonl"):
        s3.put_object(Bucket=BUCKET, Key=name, Body=records.encode())


@pytest.fixture
def emulator_config():
    from include.local_aws import CONFIG

    CONFIG.reset()
    CONFIG.update(job_seconds=0.3, stop_seconds=0.2)
    yield CONFIG
    CONFIG.reset()


@pytest.fixture
def aws(monkeypatch, emulator_config):
    """In-process emulator with the landing bucket and data; yields boto3 clients."""
    from include import local_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with local_aws.mock():
        import boto3

        clients = {name: boto3.client(name, region_name=REGION) for name in ("s3", "bedrock", "kms")}
        _put_data(clients["s3"])
        yield clients


@pytest.fixture
def no_aws(monkeypatch):
    """Fail the test if the operator touches its hook (i.e. would call AWS)."""

    def forbidden(self):
        raise AssertionError("the operator called AWS")

    monkeypatch.setattr(BedrockVpcCustomizeModelOperator, "hook", property(forbidden))


def jobs(bedrock) -> list[dict]:
    return bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]


def tags_of(bedrock, arn: str) -> dict[str, str]:
    return {t["key"]: t["value"] for t in bedrock.list_tags_for_resource(resourceARN=arn)["tags"]}


# ------------------------------------------------------------------------------------------ names and request


def test_names_and_token_are_deterministic_and_valid():
    identity = ResourceIdentity("bedrock_retraining", RUN_ID, "customize_model")
    again = ResourceIdentity("bedrock_retraining", RUN_ID, "customize_model")
    assert (identity.name("job"), identity.name("model"), identity.token(JOB_TOKEN)) == (
        again.name("job"),
        again.name("model"),
        again.token(JOB_TOKEN),
    )
    assert identity.name("job").startswith("bedrock-retraining-customize-model-")
    for name in (identity.name("job"), identity.name("model"), identity.name("job", "x" * 100)):
        assert len(name) <= 63
        assert re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*", name)
        assert re.fullmatch(r"([0-9a-zA-Z][_-]?){1,63}", name)
    assert identity.name("job", "nightly.ft").startswith("nightly-ft-")
    others = [
        ResourceIdentity("bedrock_retraining", RUN_ID, "customize_model", map_index=0),
        ResourceIdentity("bedrock_retraining", "manual__2026-03-02", "customize_model"),
        ResourceIdentity("bedrock_retraining", RUN_ID, "other_task"),
    ]
    assert len({identity.name("job"), *(o.name("job") for o in others)}) == 4
    assert len({identity.token(JOB_TOKEN), *(o.token(JOB_TOKEN) for o in others)}) == 4


def test_ownership_by_token_or_by_tags():
    identity = ResourceIdentity("dag", "run~1", "task")
    assert identity.tags()[RUN_ID_TAG] == "run_1"  # "~" is not allowed in Bedrock tag values
    assert identity.owns(identity.token(JOB_TOKEN), None, JOB_TOKEN)
    assert not identity.owns("other", None, JOB_TOKEN)
    assert identity.owns("other", identity.tags(), JOB_TOKEN)
    assert not identity.owns(None, {**identity.tags(), RUN_ID_TAG: "run_2"}, JOB_TOKEN)


def test_invalid_hyperparameters_fail_before_any_aws_call(no_aws):
    op = operator(hyperparameters={"epochCount": 99, "learningRat": 0.1})
    with pytest.raises(HyperparameterError) as err:
        op.execute(context())
    with pytest.raises(HyperparameterError) as expected:
        catalog.validate_hyperparameters(NOVA_MICRO, {"epochCount": 99, "learningRat": 0.1})
    assert str(err.value) == str(expected.value)


def test_invalid_hyperparameters_create_no_job(aws):
    with pytest.raises(HyperparameterError):
        operator(hyperparameters={"epochCount": "two"}).execute(context())
    assert jobs(aws["bedrock"]) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"subnet_ids": ["subnet-1"]}, "security_group_ids is empty"),
        ({"security_group_ids": "sg-1"}, "subnet_ids is empty"),
        ({"subnet_ids": [f"subnet-{i}" for i in range(17)], "security_group_ids": ["sg-1"]}, "1 to 16"),
        ({"subnet_ids": ["subnet-1"], "security_group_ids": [f"sg-{i}" for i in range(6)]}, "1 to 5"),
        ({"customization_type": "DISTILLATION", "base_model_id": NOVA_MICRO}, "needs teacher_model_id"),
        ({"teacher_model_id": "amazon.nova-pro-v1:0"}, "only used by DISTILLATION"),
        ({"customization_type": "DISTILLATION", "base_model_id": NOVA_2_LITE}, "does not support DISTILLATION"),
        ({"customization_job_kwargs": {"clientRequestToken": "mine"}}, "may not set clientRequestToken"),
        ({"validation_data_uri": [f"s3://{BUCKET}/v{i}.jsonl" for i in range(11)]}, "at most 10"),
    ],
)
def test_bad_settings_fail_before_any_aws_call(no_aws, kwargs, message):
    with pytest.raises(BedrockCustomizationError, match=re.escape(message)):
        operator(**kwargs).execute(context())


def test_request_from_a_custom_model_arn_is_checked_against_its_base_model():
    base = f"arn:aws:bedrock:{REGION}:123456789012:custom-model/{NOVA_MICRO}/abcdef123456"
    request = operator(base_model_id=base).build_request(ResourceIdentity("d", "r", "t"))
    assert request["baseModelIdentifier"] == base
    assert request["hyperParameters"] == {"epochCount": "2"}


# ------------------------------------------------------------------------------------------ against the emulator


def test_vpc_kms_key_and_tags_reach_the_api(aws):
    key_arn = aws["kms"].create_key()["KeyMetadata"]["Arn"]
    op = operator(
        subnet_ids="subnet-aaa, subnet-bbb",
        security_group_ids=["sg-123"],
        kms_key_id=key_arn,
        job_tags={"team": "ml", RUN_ID_TAG: "spoofed"},
        model_tags=[{"key": "stage", "value": "candidate"}],
        wait_for_completion=False,
    )
    ctx = context()
    result = op.execute(ctx)

    job = aws["bedrock"].get_model_customization_job(jobIdentifier=result["job_arn"])
    identity = ResourceIdentity("retrain", RUN_ID, "customize")
    assert job["vpcConfig"] == {"subnetIds": ["subnet-aaa", "subnet-bbb"], "securityGroupIds": ["sg-123"]}
    assert job["outputModelKmsKeyArn"] == key_arn
    assert job["hyperParameters"] == {"epochCount": "2"}
    assert job["clientRequestToken"] == identity.token(JOB_TOKEN)
    assert job["validationDataConfig"] == {"validators": [{"s3Uri": f"s3://{BUCKET}/validation.jsonl"}]}
    assert result == {
        "job_arn": job["jobArn"],
        "job_name": identity.name("job"),
        "model_arn": None,
        "model_name": identity.name("model"),
    }
    assert tags_of(aws["bedrock"], job["jobArn"]) == {
        "team": "ml",
        MANAGED_BY_TAG: "airflow",
        DAG_ID_TAG: "retrain",
        RUN_ID_TAG: RUN_ID,
        TASK_ID_TAG: "customize",
    }
    link = ctx["ti"].xcom["bedrock_customization_job"]
    assert link["region_name"] == REGION
    url = op.operator_extra_links[0].format_link(**link)
    assert url.startswith(
        f"https://console.aws.amazon.com/bedrock/home?region={REGION}#/custom-models/item?arn=arn%3Aaws%3Abedrock"
    )


def test_distillation_builds_customization_config(aws):
    op = operator(
        base_model_id=NOVA_MICRO,
        customization_type="distillation",
        teacher_model_id="amazon.nova-pro-v1:0",
        teacher_max_response_length="1000",
        hyperparameters=None,
        validation_data_uri=None,
        wait_for_completion=False,
    )
    job = aws["bedrock"].get_model_customization_job(jobIdentifier=op.execute(context())["job_arn"])
    assert job["customizationType"] == "DISTILLATION"
    assert job["customizationConfig"] == {
        "distillationConfig": {
            "teacherModelConfig": {
                "teacherModelIdentifier": "amazon.nova-pro-v1:0",
                "maxResponseLengthForInference": 1000,
            }
        }
    }
    assert "hyperParameters" not in job or job["hyperParameters"] == {}


def test_distillation_from_invocation_logs_sends_them_instead_of_the_files(aws):
    from tests.records import invocation_log, invocation_log_object

    logs = f"s3://{BUCKET}/AWSLogs/123456789012/BedrockModelInvocationLogs/"
    body = invocation_log_object([invocation_log("q1", "a1", {"app": "support-bot"})])
    aws["s3"].put_object(Bucket=BUCKET, Key="AWSLogs/123456789012/BedrockModelInvocationLogs/a.json.gz", Body=body)
    config = {
        "invocationLogSource": {"s3Uri": logs},
        "usePromptResponse": True,
        "requestMetadataFilters": {"equals": {"app": "support-bot"}},
    }
    op = operator(
        customization_type="DISTILLATION",
        teacher_model_id="amazon.nova-pro-v1:0",
        hyperparameters=None,
        invocation_logs_config=config,
        wait_for_completion=False,
    )
    job = aws["bedrock"].get_model_customization_job(jobIdentifier=op.execute(context())["job_arn"])
    assert job["trainingDataConfig"] == {"invocationLogsConfig": config}
    # The prepared validation split is not the logs' validation set: the pipeline keeps it for evaluation.
    assert not (job.get("validationDataConfig") or {}).get("validators")


def test_invocation_logs_for_fine_tuning_or_without_a_source_fail_before_any_aws_call(no_aws):
    logs = {"invocationLogSource": {"s3Uri": f"s3://{BUCKET}/AWSLogs/"}}
    with pytest.raises(BedrockCustomizationError, match="trains DISTILLATION or REINFORCEMENT_FINE_TUNING jobs"):
        operator(invocation_logs_config=logs).build_request(ResourceIdentity("retrain", RUN_ID, "customize"))
    distil = {"customization_type": "DISTILLATION", "teacher_model_id": "amazon.nova-pro-v1:0", "hyperparameters": None}
    with pytest.raises(BedrockCustomizationError, match="needs invocationLogSource.s3Uri"):
        operator(invocation_logs_config={"usePromptResponse": True}, **distil).build_request(
            ResourceIdentity("retrain", RUN_ID, "customize")
        )


def test_a_retried_task_reattaches_instead_of_creating_a_twin(aws, emulator_config):
    emulator_config.update(job_seconds=60)  # still InProgress when the retry comes
    first = operator(wait_for_completion=False).execute(context())
    # A retry runs a fresh operator instance in a new process with the same dag/run/task/map index.
    second = operator(wait_for_completion=False).execute(context())
    assert second == first
    assert [j["jobArn"] for j in jobs(aws["bedrock"])] == [first["job_arn"]]
    # Mapped instances are distinct jobs.
    mapped = operator(wait_for_completion=False).execute(context(map_index=0))
    assert mapped["job_arn"] != first["job_arn"]
    assert len(jobs(aws["bedrock"])) == 2


def test_a_rerun_of_a_completed_job_returns_at_once_with_the_same_arns(aws):
    first = operator().execute(context())
    model = aws["bedrock"].get_custom_model(modelIdentifier=first["model_arn"])
    assert model["jobArn"] == first["job_arn"]
    assert tags_of(aws["bedrock"], first["model_arn"])[RUN_ID_TAG] == RUN_ID

    # Completed: no deferral (that would raise TaskDeferred), no waiter, no second job.
    again_op = operator(deferrable=True)
    again_op.hook.get_waiter = None  # any wait would fail with a TypeError
    again = again_op.execute(context())
    assert again == first
    assert len(jobs(aws["bedrock"])) == 1


def test_a_completed_job_links_its_custom_model_and_a_running_one_only_the_job(aws, emulator_config):
    from bedrock_customization.links.bedrock import BedrockCustomModelLink

    ctx = context()
    result = operator().execute(ctx)
    link = ctx["ti"].xcom["bedrock_custom_model"]
    assert link["region_name"] == REGION
    url = BedrockCustomModelLink().format_link(**link)
    quoted = result["model_arn"].replace(":", "%3A").replace("/", "%2F")
    console = f"https://console.aws.amazon.com/bedrock/home?region={REGION}"
    assert url == f"{console}#/custom-models/item?arn={quoted}"

    emulator_config.update(job_seconds=60)
    running = context(run_id="manual__running")
    operator(wait_for_completion=False).execute(running)
    assert "bedrock_customization_job" in running["ti"].xcom
    assert "bedrock_custom_model" not in running["ti"].xcom


def test_a_killed_task_stops_its_job(aws, emulator_config):
    from airflow.providers.common.compat.sdk import AirflowFailException

    emulator_config.update(job_seconds=60)  # still InProgress when the kill comes, also under load
    op = operator(wait_for_completion=False)
    result = op.execute(context())
    op.on_kill()
    job = aws["bedrock"].get_model_customization_job(jobIdentifier=result["job_arn"])
    assert job["status"] in ("Stopping", "Stopped")
    op.on_kill()  # no longer running: ignored
    with pytest.raises(AirflowFailException, match="was stopped"):
        operator().execute(context())
    assert len(jobs(aws["bedrock"])) == 1


def test_on_kill_before_any_job_does_nothing(no_aws):
    operator().on_kill()


def test_a_failed_job_fails_the_task_with_its_failure_message(aws, emulator_config):
    from airflow.providers.common.compat.sdk import AirflowFailException

    emulator_config.update(fail_jobs=".", fail_message=FAIL_MESSAGE)
    with pytest.raises(AirflowFailException, match=re.escape(FAIL_MESSAGE)):
        operator().execute(context())
    # The retry re-attaches to the failed job, fails the same way and creates nothing.
    with pytest.raises(AirflowFailException, match=re.escape(FAIL_MESSAGE)) as err:
        operator().execute(context())
    assert "new DAG run" in str(err.value)
    assert len(jobs(aws["bedrock"])) == 1


def test_a_job_of_another_run_under_the_same_name_is_not_adopted(aws):
    from airflow.providers.common.compat.sdk import AirflowFailException

    identity = ResourceIdentity("retrain", RUN_ID, "customize")
    aws["bedrock"].create_model_customization_job(
        jobName=identity.name("job"),
        customModelName="someone-elses-model",
        roleArn=ROLE,
        baseModelIdentifier=NOVA_MICRO,
        trainingDataConfig={"s3Uri": f"s3://{BUCKET}/train.jsonl"},
        outputDataConfig={"s3Uri": f"s3://{BUCKET}/elsewhere/"},
        clientRequestToken="someone-else",
    )
    with pytest.raises(AirflowFailException, match="not created by this DAG run"):
        operator(wait_for_completion=False).execute(context())
    assert len(jobs(aws["bedrock"])) == 1


def test_provider_registers_the_extra_link():
    from airflow.providers_manager import ProvidersManager

    from bedrock_customization.provider_info import get_provider_info

    path = "bedrock_customization.links.bedrock.BedrockCustomizationJobLink"
    assert path in get_provider_info()["extra-links"]
    assert path in ProvidersManager().extra_links_class_names


# ------------------------------------------------------------------------------------------ deferrable, via the trigger


@pytest.fixture(scope="module")
def server():
    from include.local_aws.server import LocalAwsServer

    running = LocalAwsServer(port=0)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def served(server, use_endpoint, emulator_config):
    """The emulator server, reset, with the landing bucket; ``aws_default`` points at it."""
    import urllib.request

    import boto3

    urllib.request.urlopen(
        urllib.request.Request(server.endpoint_url + "/moto-api/reset", method="POST"), timeout=10
    )
    use_endpoint(server.endpoint_url)
    clients = {
        name: boto3.client(
            name,
            region_name=REGION,
            endpoint_url=server.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for name in ("s3", "bedrock")
    }
    _put_data(clients["s3"])
    return clients


async def _first_event(trigger):
    async for event in trigger.run():
        return event.payload
    raise AssertionError("the trigger ended without an event")


@pytest.mark.slow
@pytest.mark.parametrize("outcome", ["Completed", "Failed"])
def test_deferrable_job_resumes_with_the_result_or_the_failure_message(served, emulator_config, outcome):
    from airflow.providers.amazon.aws.triggers.bedrock import BedrockCustomizeModelCompletedTrigger
    from airflow.providers.common.compat.sdk import AirflowFailException, TaskDeferred

    if outcome == "Failed":
        emulator_config.update(fail_jobs=".", fail_message=FAIL_MESSAGE)
    ctx = context(run_id=f"manual__{outcome}")
    with pytest.raises(TaskDeferred) as deferred:
        operator(deferrable=True).execute(ctx)
    trigger = deferred.value.trigger
    assert isinstance(trigger, BedrockCustomizeModelCompletedTrigger)
    assert deferred.value.method_name == "execute_complete"
    event = asyncio.run(asyncio.wait_for(_first_event(trigger), timeout=20))

    resumed = operator(deferrable=True)  # execute_complete runs on a fresh instance
    if outcome == "Completed":
        assert event["status"] == "success"
        result = resumed.execute_complete(ctx, event)
        job = served["bedrock"].get_model_customization_job(jobIdentifier=result["job_arn"])
        assert job["status"] == "Completed"
        assert result["model_arn"] == job["outputModelArn"]
    else:
        assert event["status"] == "error"
        assert FAIL_MESSAGE not in event.get("message", "")  # the trigger's event carries only the status
        with pytest.raises(AirflowFailException, match=re.escape(FAIL_MESSAGE)):
            resumed.execute_complete(ctx, event)


# ------------------------------------------------------------------------------ reinforcement fine-tuning


def _rft(aws, **kwargs) -> BedrockVpcCustomizeModelOperator:
    from tests.grader import rft_jsonl

    aws["s3"].put_object(
        Bucket=BUCKET, Key="rft.jsonl", Body=rft_jsonl((f"q{i}", f"a{i}") for i in range(120)).encode()
    )
    return operator(
        base_model_id=NOVA_2_LITE,
        customization_type="REINFORCEMENT_FINE_TUNING",
        training_data_uri=f"s3://{BUCKET}/rft.jsonl",
        validation_data_uri=None,
        hyperparameters={"epochCount": "3", "learningRate": 0.0001, "reasoningEffort": "low"},
        **kwargs,
    )


def test_reinforcement_fine_tuning_sends_the_grader_and_typed_hyperparameters(aws):
    import boto3

    from tests.grader import create_grader

    grader = create_grader(
        boto3.client("lambda", region_name=REGION), boto3.client("iam", region_name=REGION)
    )
    result = _rft(aws, grader_lambda_arn=grader).execute(context())

    job = aws["bedrock"].get_model_customization_job(jobIdentifier=result["job_arn"])
    assert job["status"] == "Completed" and job["customizationType"] == "REINFORCEMENT_FINE_TUNING"
    assert job["customizationConfig"] == {
        "rftConfig": {
            "graderConfig": {"lambdaGrader": {"lambdaArn": grader}},
            "hyperParameters": {"epochCount": 3, "learningRate": 0.0001, "reasoningEffort": "low"},
        }
    }
    assert not job.get("hyperParameters")  # RFT's go in rftConfig


def test_reinforcement_fine_tuning_with_a_grader_that_does_not_exist_creates_no_job(aws):
    from botocore.exceptions import ClientError

    missing = f"arn:aws:lambda:{REGION}:123456789012:function:no-such-grader"
    with pytest.raises(ClientError, match="Lambda function .*no-such-grader does not exist"):
        _rft(aws, grader_lambda_arn=missing).execute(context())
    assert jobs(aws["bedrock"]) == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"customization_type": "REINFORCEMENT_FINE_TUNING", "base_model_id": NOVA_2_LITE},
            "needs grader_lambda_arn",
        ),
        (
            {"customization_type": "REINFORCEMENT_FINE_TUNING", "base_model_id": NOVA_2_LITE,
             "grader_lambda_arn": "reward-function"},
            "is not a Lambda function ARN",
        ),
        (
            {"grader_lambda_arn": f"arn:aws:lambda:{REGION}:123456789012:function:g"},
            "only used by REINFORCEMENT",
        ),
    ],
)  # fmt: skip
def test_bad_rft_settings_fail_before_any_aws_call(no_aws, kwargs, message):
    kwargs.setdefault("hyperparameters", None)
    with pytest.raises(BedrockCustomizationError, match=re.escape(message)):
        operator(validation_data_uri=None, **kwargs).execute(context())
