"""Peer suite: the official Amazon provider's Bedrock operators, sensors, waiters and triggers on the emulator.

The classes under test are apache-airflow-providers-amazon's own (``airflow.providers.amazon.aws``), not this
project's subclasses: what a user of the stock provider meets when pointing ``aws_default`` at the emulator
server. Operators and sensors run in place with a minimal context; deferrable ones raise ``TaskDeferred``,
whose trigger is serialized, rebuilt the way the triggerer rebuilds it, and run with asyncio (aiobotocore over
HTTP); the resulting event goes back to the operator's ``execute_complete``.

The request is one AWS accepts: ``amazon.nova-micro-v1:0:128k`` in us-east-1, ``bedrock-conversation-2024``
training records in S3, ``epochCount`` "1" (see the Nova customization pages of the Bedrock user guide).
"""

from __future__ import annotations

import asyncio
import importlib
import json
from typing import Any

import pytest

from include.local_aws import CONFIG

from .helpers import ROLE, server_client, wait_for, wait_job

REGION = "us-east-1"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
BUCKET = "peer-provider"
TRAINING = f"s3://{BUCKET}/nova/train.jsonl"
OUTPUT = f"s3://{BUCKET}/nova/output/"
HYPERPARAMETERS = {"epochCount": "1"}
CONN = {"aws_conn_id": "aws_default", "region_name": REGION}


def conversation_records(n: int) -> list[dict]:
    return [
        {
            "schemaVersion": "bedrock-conversation-2024",
            "system": [{"text": "You answer questions about storage plans."}],
            "messages": [
                {"role": "user", "content": [{"text": f"How much storage does plan {i} include?"}]},
                {"role": "assistant", "content": [{"text": f"Plan {i} includes {10 * i} GB of storage."}]},
            ],
        }
        for i in range(n)
    ]


@pytest.fixture
def aws(endpoint: str, use_endpoint: Any) -> dict[str, Any]:
    """The reset emulator server with the training data in S3; ``aws_default`` points at it."""
    use_endpoint(endpoint)
    s3 = server_client(endpoint, "s3")
    s3.create_bucket(Bucket=BUCKET)
    body = "".join(json.dumps(record) + "\n" for record in conversation_records(32))
    s3.put_object(Bucket=BUCKET, Key="nova/train.jsonl", Body=body.encode())
    return {"bedrock": server_client(endpoint, "bedrock"), "s3": s3}


def customize_operator(job_name: str = "peer-job", **kwargs: Any) -> Any:
    from airflow.providers.amazon.aws.operators.bedrock import BedrockCustomizeModelOperator

    params: dict[str, Any] = {
        "task_id": "customize",
        "job_name": job_name,
        "custom_model_name": f"{job_name}-model",
        "role_arn": ROLE,
        "base_model_id": NOVA_MICRO,
        "training_data_uri": TRAINING,
        "output_data_uri": OUTPUT,
        "hyperparameters": HYPERPARAMETERS,
        "waiter_delay": 1,
        "waiter_max_attempts": 30,
        "deferrable": False,
        **CONN,
        **kwargs,
    }
    return BedrockCustomizeModelOperator(**params)


def throughput_operator(model_id: str, name: str = "peer-pt", **kwargs: Any) -> Any:
    from airflow.providers.amazon.aws.operators.bedrock import BedrockCreateProvisionedModelThroughputOperator

    params: dict[str, Any] = {
        "task_id": "provision",
        "model_units": 1,
        "provisioned_model_name": name,
        "model_id": model_id,
        "waiter_delay": 1,
        "waiter_max_attempts": 30,
        "deferrable": False,
        **CONN,
        **kwargs,
    }
    return BedrockCreateProvisionedModelThroughputOperator(**params)


def deferred(call: Any) -> Any:
    """The trigger of the ``TaskDeferred`` that ``call()`` raises, rebuilt from its serialized form."""
    from airflow.sdk.exceptions import TaskDeferred

    with pytest.raises(TaskDeferred) as exc:
        call()
    classpath, kwargs = exc.value.trigger.serialize()
    module, _, name = classpath.rpartition(".")
    assert module == "airflow.providers.amazon.aws.triggers.bedrock", classpath
    return getattr(importlib.import_module(module), name)(**kwargs), exc.value.method_name


def first_event(trigger: Any, timeout: float = 60) -> dict[str, Any]:
    """Run the trigger with asyncio until its first event; returns the event payload."""

    async def run() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("the trigger ended without an event")

    return asyncio.run(asyncio.wait_for(run(), timeout))


def start_job(bedrock: Any, name: str) -> str:
    return bedrock.create_model_customization_job(
        jobName=name,
        customModelName=f"{name}-model",
        roleArn=ROLE,
        baseModelIdentifier=NOVA_MICRO,
        trainingDataConfig={"s3Uri": TRAINING},
        outputDataConfig={"s3Uri": OUTPUT},
        hyperParameters=HYPERPARAMETERS,
    )["jobArn"]


def custom_model(bedrock: Any, name: str = "peer-base") -> str:
    job = wait_job(bedrock, start_job(bedrock, name))
    assert job["status"] == "Completed", job
    return job["outputModelArn"]


def bedrock_hook() -> Any:
    from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook

    return BedrockHook(**CONN)


# ------------------------------------------------------------------------------------ customization


def test_customize_model_operator_creates_the_job_and_waits_with_the_provider_waiter(aws):
    job_arn = customize_operator().execute({})  # checks the 201 of CreateModelCustomizationJob itself

    job = aws["bedrock"].get_model_customization_job(jobIdentifier=job_arn)  # GET by ARN
    assert job["jobName"] == "peer-job"
    assert job["status"] == "Completed"
    assert job["baseModelArn"].endswith(f":foundation-model/{NOVA_MICRO}")
    assert job["hyperParameters"] == HYPERPARAMETERS
    model = aws["bedrock"].get_custom_model(modelIdentifier=job["outputModelArn"])
    assert model["modelName"] == "peer-job-model"


def test_customize_model_operator_renames_the_job_on_a_name_conflict(aws):
    """The operator recognises AWS's exact message for a job name in use and retries with a timestamp."""
    from botocore.exceptions import ClientError

    first = customize_operator(wait_for_completion=False).execute({})
    second_op = customize_operator(custom_model_name="peer-job-model-2", wait_for_completion=False)
    second = second_op.execute({})

    assert second != first
    assert second_op.job_name.startswith("peer-job-")
    assert aws["bedrock"].get_model_customization_job(jobIdentifier=second)["jobName"] == second_op.job_name
    strict = customize_operator(
        custom_model_name="peer-job-model-3", ensure_unique_job_name=False, wait_for_completion=False
    )
    with pytest.raises(ClientError, match="The provided job name is currently in use."):
        strict.execute({})


def test_customize_model_operator_defers_to_the_provider_trigger(aws):
    op = customize_operator(deferrable=True)
    trigger, method = deferred(lambda: op.execute({}))

    event = first_event(trigger)

    assert event == {"status": "success", "job_name": "peer-job"}
    job_arn = getattr(op, method)({}, event)
    assert aws["bedrock"].get_model_customization_job(jobIdentifier=job_arn)["status"] == "Completed"


def test_customize_model_sensor_pokes_until_completed_and_defers(aws):
    from airflow.providers.amazon.aws.sensors.bedrock import BedrockCustomizeModelCompletedSensor

    # Long enough that the first poke sees InProgress on a loaded machine (a 1 s job had completed by then).
    CONFIG.update(job_seconds=8.0)
    job_arn = start_job(aws["bedrock"], "peer-sensed")
    sensor = BedrockCustomizeModelCompletedSensor(task_id="sense", job_name=job_arn, poke_interval=1, **CONN)
    assert sensor.poke({}) is False  # InProgress
    wait_for(lambda: sensor.poke({}), bool, timeout=60)

    deferrable = BedrockCustomizeModelCompletedSensor(
        task_id="sense", job_name="peer-sensed", poke_interval=1, deferrable=True, **CONN
    )
    trigger, method = deferred(lambda: deferrable.execute({}))
    event = first_event(trigger)
    assert event == {"status": "success", "job_name": "peer-sensed"}
    assert getattr(deferrable, method)({}, event=event) is True


def test_customization_failures_reach_the_waiter_trigger_and_sensor(aws):
    from airflow.providers.amazon.aws.sensors.bedrock import BedrockCustomizeModelCompletedSensor
    from airflow.providers.amazon.aws.triggers.bedrock import BedrockCustomizeModelCompletedTrigger
    from botocore.exceptions import WaiterError

    CONFIG.update(fail_jobs="doomed", fail_message="Training data line 3 is not valid JSON.")
    failed = start_job(aws["bedrock"], "peer-doomed")
    with pytest.raises(WaiterError, match="Failed"):
        bedrock_hook().get_waiter("model_customization_job_complete").wait(
            jobIdentifier=failed, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
        )
    event = first_event(BedrockCustomizeModelCompletedTrigger(job_name=failed, waiter_delay=0.2, **CONN))
    assert event["status"] == "error" and "Failed" in event["message"], event
    sensor = BedrockCustomizeModelCompletedSensor(task_id="sense", job_name=failed, **CONN)
    with pytest.raises(Exception, match="Bedrock model customization job sensor failed"):
        sensor.poke({})

    CONFIG.update(job_seconds=30, stop_seconds=0.2)
    stopped = start_job(aws["bedrock"], "peer-stopped")
    aws["bedrock"].stop_model_customization_job(jobIdentifier=stopped)
    with pytest.raises(WaiterError, match="Stopp"):  # Stopping and Stopped are failure states of the waiter
        bedrock_hook().get_waiter("model_customization_job_complete").wait(
            jobIdentifier="peer-stopped", WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
        )


# ---------------------------------------------------------------------------------- provisioned throughput


def test_provisioned_throughput_operator_waits_with_the_provider_waiter(aws):
    model_arn = custom_model(aws["bedrock"])

    pt_arn = throughput_operator(model_arn).execute({})

    throughput = aws["bedrock"].get_provisioned_model_throughput(provisionedModelId=pt_arn)
    assert throughput["status"] == "InService"
    assert throughput["modelArn"] == model_arn and throughput["provisionedModelName"] == "peer-pt"


def test_provisioned_throughput_operator_and_sensor_defer_to_the_provider_trigger(aws):
    from airflow.providers.amazon.aws.sensors.bedrock import BedrockProvisionModelThroughputCompletedSensor

    # Long enough that the first poke, right after the create, still sees Creating on a loaded machine (at
    # 1 s it once did not); the trigger then waits it out.
    CONFIG.update(throughput_seconds=8.0)
    model_arn = custom_model(aws["bedrock"])
    op = throughput_operator(model_arn, deferrable=True)
    trigger, method = deferred(lambda: op.execute({}))
    pt_arn = trigger.serialize()[1]["provisioned_model_id"]

    sensor = BedrockProvisionModelThroughputCompletedSensor(task_id="sense", model_id=pt_arn, **CONN)
    assert sensor.poke({}) is False  # Creating
    event = first_event(trigger)
    assert event == {"status": "success", "provisioned_model_id": pt_arn}
    assert getattr(op, method)({}, event) == pt_arn
    assert sensor.poke({}) is True

    by_name = BedrockProvisionModelThroughputCompletedSensor(
        task_id="sense", model_id="peer-pt", poke_interval=1, deferrable=True, **CONN
    )
    trigger, method = deferred(lambda: by_name.execute({}))
    assert first_event(trigger)["status"] == "success"


def test_provisioned_throughput_failures_reach_the_waiter_trigger_and_sensor(aws):
    from airflow.providers.amazon.aws.sensors.bedrock import BedrockProvisionModelThroughputCompletedSensor
    from airflow.providers.amazon.aws.triggers.bedrock import BedrockProvisionModelThroughputCompletedTrigger
    from botocore.exceptions import WaiterError

    model_arn = custom_model(aws["bedrock"])
    CONFIG.update(fail_throughputs="doomed")
    pt_arn = throughput_operator(model_arn, name="peer-doomed", wait_for_completion=False).execute({})
    with pytest.raises(WaiterError, match="Failed"):
        bedrock_hook().get_waiter("provisioned_model_throughput_complete").wait(
            provisionedModelId=pt_arn, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50}
        )
    trigger = BedrockProvisionModelThroughputCompletedTrigger(
        provisioned_model_id=pt_arn, waiter_delay=0.2, **CONN
    )
    event = first_event(trigger)
    assert event["status"] == "error" and "Failed" in event["message"], event
    sensor = BedrockProvisionModelThroughputCompletedSensor(task_id="sense", model_id=pt_arn, **CONN)
    with pytest.raises(Exception, match="Bedrock provision model throughput sensor failed"):
        sensor.poke({})
