"""Killing a deferred job task stops its job (the triggers' ``on_kill``); a triggerer restart does not.

The triggers run the way the triggerer runs them (``TriggerRunner.run_trigger``), against the emulator server
over HTTP with aiobotocore, and are cancelled the way Airflow 3.3 cancels them: ``cancel_triggers()`` (the
path of a user's action, which calls ``on_kill``) or a plain task cancel (a triggerer shutting down).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from bedrock_customization.triggers.bedrock import (
    BedrockCustomizeModelCompletedTrigger,
    BedrockModelImportJobCompletedTrigger,
)
from tests.test_customization_operator import NOVA_MICRO, FakeTaskInstance, _put_data, operator

REGION = "us-east-1"
DAG_ID, TASK_ID = "bedrock_retraining", "training.customize_model"
RUNNING = ("InProgress",)
STOPPED = ("Stopping", "Stopped")


@pytest.fixture(scope="module")
def server():
    from include.local_aws.server import LocalAwsServer

    running = LocalAwsServer(port=0)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def bedrock(server, use_endpoint):
    """A reset emulator whose customization jobs run 5 minutes; ``aws_default`` points at it."""
    import boto3

    from include.local_aws import CONFIG

    urllib.request.urlopen(
        urllib.request.Request(server.endpoint_url + "/moto-api/reset", method="POST"), timeout=10
    )
    use_endpoint(server.endpoint_url)
    CONFIG.reset()
    CONFIG.update(job_seconds=300, stop_seconds=0.2)
    kwargs = {
        "region_name": REGION,
        "endpoint_url": server.endpoint_url,
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }
    _put_data(boto3.client("s3", **kwargs))
    yield boto3.client("bedrock", **kwargs)
    CONFIG.reset()


def start_job(bedrock, name: str = "job-1") -> str:
    from tests.local_aws.helpers import create_job

    return create_job(
        bedrock, name, base=NOVA_MICRO, training="s3://landing/train.jsonl", output="s3://landing/output/"
    )


def status(bedrock, arn: str) -> str:
    return bedrock.get_model_customization_job(jobIdentifier=arn)["status"]


def trigger_for(arn: str) -> BedrockCustomizeModelCompletedTrigger:
    return BedrockCustomizeModelCompletedTrigger(
        job_name=arn, waiter_delay=0.2, waiter_max_attempts=1000, aws_conn_id="aws_default"
    )


async def run_in_triggerer(trigger, monkeypatch, *, user_action: bool) -> None:
    """Run ``trigger`` as the triggerer does; once it polls the job, cancel it as a user action or a shutdown does.

    It must be polling: cancelled while it still creates its AWS client (in ``sync_to_async``), the trigger loses
    the cancel message, and with it ``on_kill`` (see ``test_a_kill_while_the_trigger_creates_its_client_is_lost``).
    """
    from airflow.jobs.triggerer_job_runner import TriggerRunner
    from airflow.providers.amazon.aws.triggers import base

    polling = asyncio.Event()
    original = base.async_wait

    async def marked(*args, **kwargs):
        polling.set()
        return await original(*args, **kwargs)

    monkeypatch.setattr(base, "async_wait", marked)
    runner = TriggerRunner()
    task = asyncio.create_task(runner.run_trigger(1, trigger, None, None))
    runner.triggers[1] = {"task": task, "name": "test trigger", "events": 0, "is_watcher": False}
    await asyncio.wait_for(polling.wait(), 30)
    await asyncio.sleep(0.3)
    assert not task.done(), "the trigger fired or failed instead of waiting"
    if user_action:  # the trigger's row is gone (task marked failed, cleared, ...): the runner's cancel path
        runner.to_cancel.append(1)
        await runner.cancel_triggers()
    else:  # shutdown: the runner's tasks are cancelled without a message
        task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)


# --------------------------------------------------------------------------------------------- serialization


def test_our_customization_trigger_serializes_like_the_amazon_one_under_its_own_path():
    from airflow.providers.amazon.aws.triggers import bedrock as amazon_triggers
    from airflow.sdk.module_loading import import_string

    kwargs = {"job_name": "arn:job", "waiter_delay": 10, "waiter_max_attempts": 5, "aws_conn_id": "aws"}
    ours = BedrockCustomizeModelCompletedTrigger(**kwargs, region_name="eu-west-1", verify=False)
    path, serialized = ours.serialize()
    assert path == "bedrock_customization.triggers.bedrock.BedrockCustomizeModelCompletedTrigger"
    assert (
        serialized
        == amazon_triggers.BedrockCustomizeModelCompletedTrigger(
            **kwargs, region_name="eu-west-1", verify=False
        ).serialize()[1]
    )
    assert isinstance(ours, amazon_triggers.BedrockCustomizeModelCompletedTrigger)
    assert import_string(path)(**serialized).serialize() == (path, serialized)


def test_the_import_trigger_serializes_as_before():
    from airflow.sdk.module_loading import import_string

    trigger = BedrockModelImportJobCompletedTrigger(job_arn="arn:import", waiter_delay=3, aws_conn_id="aws")
    path, serialized = trigger.serialize()
    assert path == "bedrock_customization.triggers.bedrock.BedrockModelImportJobCompletedTrigger"
    assert serialized == {
        "job_arn": "arn:import",
        "waiter_delay": 3,
        "waiter_max_attempts": 240,
        "aws_conn_id": "aws",
    }
    assert import_string(path)(**serialized).serialize() == (path, serialized)


# --------------------------------------------------------------------------------------- kill vs restart


def test_a_user_kill_stops_the_customization_job(bedrock, monkeypatch):
    arn = start_job(bedrock)

    asyncio.run(run_in_triggerer(trigger_for(arn), monkeypatch, user_action=True))

    assert status(bedrock, arn) in STOPPED


def test_a_triggerer_shutdown_and_cleanup_leave_the_job_running(bedrock, monkeypatch):
    arn = start_job(bedrock)
    trigger = trigger_for(arn)

    asyncio.run(run_in_triggerer(trigger, monkeypatch, user_action=False))
    asyncio.run(trigger.cleanup())  # what every exit of a trigger runs, a restart's included

    assert status(bedrock, arn) in RUNNING


@pytest.mark.parametrize("client_creation", ["ours", "the hook's sync_to_async"])
def test_a_kill_while_the_trigger_creates_its_client(bedrock, monkeypatch, client_creation):
    """The trigger creates its AWS client when it starts. In the hook's ``sync_to_async`` (asgiref), a cancel
    loses the triggerer's user-action message, so Airflow 3.3.2 does not call ``on_kill`` (the Amazon trigger's
    case); our triggers create it with ``asyncio.to_thread``, where the message, and the kill, survive."""
    from airflow.jobs.triggerer_job_runner import TriggerRunner
    from airflow.providers.amazon.aws.hooks.base_aws import AwsGenericHook
    from airflow.providers.amazon.aws.triggers import bedrock as amazon_triggers

    arn = start_job(bedrock)
    killed: list[bool] = []

    class AmazonTriggerRecordingKills(amazon_triggers.BedrockCustomizeModelCompletedTrigger):
        async def on_kill(self) -> None:
            killed.append(True)

    if client_creation == "ours":
        trigger = trigger_for(arn)
    else:
        trigger = AmazonTriggerRecordingKills(job_name=arn, waiter_delay=0.2, waiter_max_attempts=1000)
    create_client = AwsGenericHook._get_async_conn

    def slowly(self):
        time.sleep(2.0)
        return create_client(self)

    monkeypatch.setattr(AwsGenericHook, "_get_async_conn", slowly)

    async def kill_during_client_creation() -> None:
        runner = TriggerRunner()
        task = asyncio.create_task(runner.run_trigger(1, trigger, None, None))
        runner.triggers[1] = {"task": task, "name": "test trigger", "events": 0, "is_watcher": False}
        await asyncio.sleep(0.5)
        runner.to_cancel.append(1)
        await runner.cancel_triggers()
        done, _ = await asyncio.wait([task], timeout=10)
        if not done:  # the cancel was swallowed and the trigger went on polling
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(kill_during_client_creation())
    if client_creation == "ours":
        assert status(bedrock, arn) in STOPPED
    else:
        assert not killed, "Airflow called on_kill: the limit this test documents is gone"
        assert status(bedrock, arn) in RUNNING


def test_on_kill_of_a_job_that_is_not_running_is_logged_and_ignored(bedrock, capsys):
    from tests.local_aws.helpers import wait_for

    arn = start_job(bedrock)
    bedrock.stop_model_customization_job(jobIdentifier=arn)
    wait_for(lambda: status(bedrock, arn), lambda s: s == "Stopped")
    missing = arn.rsplit("/", 1)[0] + "/nosuchjob000"  # a well-formed ARN (12-character id) of no job

    asyncio.run(trigger_for(arn).on_kill())
    asyncio.run(trigger_for(missing).on_kill())

    logged = capsys.readouterr().out
    assert "is not running any more" in logged and "ConflictException" in logged  # StopModelCustomizationJob
    assert f"{missing} is not running any more" in logged and "ResourceNotFoundException" in logged


def test_an_import_job_kill_is_logged_because_bedrock_cannot_stop_it(monkeypatch, capsys):
    trigger = BedrockModelImportJobCompletedTrigger(job_arn="arn:aws:bedrock:us-east-1:1:model-import-job/x")
    monkeypatch.setattr(type(trigger), "hook", lambda self: pytest.fail("no AWS call expected"))

    asyncio.run(trigger.on_kill())

    logged = capsys.readouterr().out
    assert "Bedrock cannot stop model import job arn:aws:bedrock:us-east-1:1:model-import-job/x" in logged
    assert "BedrockDeleteImportedModelOperator" in logged


# ------------------------------------------------------------------------- the operator: deferral and timeout


def deferred_context(started_minutes_ago: float = 30) -> dict:
    ti = FakeTaskInstance(dag_id=DAG_ID, task_id=TASK_ID)
    ti.start_date = datetime.now(UTC) - timedelta(minutes=started_minutes_ago)
    return {"ti": ti}


def test_the_operator_defers_to_our_trigger_with_what_is_left_of_execution_timeout(bedrock):
    from airflow.providers.common.compat.sdk import TaskDeferred

    with pytest.raises(TaskDeferred) as deferred:
        operator(deferrable=True, execution_timeout=timedelta(hours=2)).execute(deferred_context(30))
    assert type(deferred.value.trigger) is BedrockCustomizeModelCompletedTrigger
    assert timedelta(minutes=89) < deferred.value.timeout <= timedelta(minutes=90)

    with pytest.raises(TaskDeferred) as untimed:
        operator(deferrable=True).execute(deferred_context())
    assert untimed.value.timeout is None


def test_a_deferral_timeout_stops_the_job_and_a_trigger_failure_does_not(bedrock):
    from airflow.providers.common.compat.sdk import TaskDeferred
    from airflow.sdk.exceptions import TaskDeferralError, TaskDeferralTimeout

    ctx = deferred_context()
    with pytest.raises(TaskDeferred) as deferred:
        operator(deferrable=True, execution_timeout=timedelta(hours=2)).execute(ctx)
    arn = deferred.value.trigger.serialize()[1]["job_name"]

    resumed = operator(
        deferrable=True, execution_timeout=timedelta(hours=2)
    )  # a fresh instance, as a worker has
    with pytest.raises(TaskDeferralError):
        resumed.resume_execution("__fail__", {"error": "Trigger failure"}, ctx)
    assert status(bedrock, arn) in RUNNING  # the retry re-attaches and defers again

    with pytest.raises(TaskDeferralTimeout):
        resumed.resume_execution("__fail__", {"error": "Trigger timeout"}, ctx)
    assert status(bedrock, arn) in STOPPED


def test_deferral_timeout_is_what_is_left_of_execution_timeout():
    from bedrock_customization.operators.wait import deferral_timeout

    ctx = deferred_context(started_minutes_ago=10)
    assert deferral_timeout(ctx, None) is None
    assert timedelta(minutes=49) < deferral_timeout(ctx, timedelta(hours=1)) <= timedelta(minutes=50)
    assert deferral_timeout(ctx, timedelta(minutes=5)) == timedelta(0)
    assert deferral_timeout({"ti": FakeTaskInstance()}, timedelta(hours=1)) == timedelta(hours=1)  # no start
