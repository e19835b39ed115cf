"""Throughput, custom model and deployment operators against the in-process emulator; waiters vs sensors."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from bedrock_customization import tagging
from bedrock_customization.exceptions import (
    BedrockCustomizationError,
    ResourceFailedError,
    ResourceInUseError,
)
from bedrock_customization.operators.custom_model import BedrockDeleteCustomModelOperator
from bedrock_customization.operators.deployment import (
    BedrockCreateCustomModelDeploymentOperator,
    BedrockDeleteCustomModelDeploymentOperator,
)
from bedrock_customization.operators.teardown import BedrockDeleteRunServingOperator
from bedrock_customization.operators.throughput import (
    BedrockCreateProvisionedModelThroughputOperator,
    BedrockDeleteProvisionedThroughputOperator,
    BedrockUpdateProvisionedThroughputOperator,
)
from tests.records import NOVA_2_LITE
from tests.serving_helpers import (
    NOVA,
    QUICK,
    alive_throughputs,
    emulator,
    make_context,
    tags_of,
    trained_model,
)


@pytest.fixture
def aws(monkeypatch):
    with emulator(monkeypatch) as clients:
        yield clients


def create_op(
    model_arn: str, name: str = "eval-tp", **kwargs
) -> BedrockCreateProvisionedModelThroughputOperator:
    return BedrockCreateProvisionedModelThroughputOperator(
        task_id="provision_throughput",
        model_units=1,
        provisioned_model_name=name,
        model_id=model_arn,
        **{**QUICK, **kwargs},
    )


def test_create_is_idempotent_tagged_and_uncommitted(aws):
    model = trained_model(aws, "idem")
    context = make_context("provision_throughput")
    first = create_op(model, tags={"team": "ml"}).execute(context)
    second = create_op(model, tags={"team": "ml"}).execute(context)  # a retry of the same task

    assert first == second
    [throughput] = alive_throughputs(aws)
    assert throughput["provisionedModelArn"] == first and throughput["status"] == "InService"
    assert "commitmentDuration" not in throughput
    assert tags_of(aws, first) == {
        tagging.MANAGED_BY: "airflow",
        tagging.DAG_ID: "bedrock_retraining",
        tagging.RUN_ID: "manual__2026-03-01T00:00:00+00:00",
        tagging.TASK_ID: "provision_throughput",
        tagging.ROLE: "evaluation",
        "team": "ml",
    }


def test_create_honours_the_token_and_tags_of_create_throughput_kwargs(aws):
    model = trained_model(aws, "kwargs")
    kwargs = {"clientRequestToken": "tok-1", "tags": [{"key": "extra", "value": "yes"}]}
    arn = create_op(model, create_throughput_kwargs=kwargs, commitment_duration="OneMonth").execute(
        make_context()
    )
    described = aws.bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
    assert described["commitmentDuration"] == "OneMonth"
    assert tags_of(aws, arn)["extra"] == "yes" and tagging.is_ours(tags_of(aws, arn))
    # The same token with another name re-attaches instead of buying a second throughput.
    assert (
        aws.bedrock.create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName="other", modelId=model, clientRequestToken="tok-1"
        )["provisionedModelArn"]
        == arn
    )


def test_create_refuses_a_name_taken_by_another_model(aws):
    first, second = trained_model(aws, "first"), trained_model(aws, "second")
    create_op(first, name="taken").execute(make_context())
    with pytest.raises(BedrockCustomizationError, match="already exists .* not "):
        create_op(second, name="taken").execute(make_context())


def test_failed_throughput_fails_with_its_failure_message_and_a_retry_recreates_it(aws):
    from include.local_aws import CONFIG

    model = trained_model(aws, "doomed")
    CONFIG.update(fail_throughputs="doomed")
    with pytest.raises(ResourceFailedError, match="insufficient capacity"):
        create_op(model, name="doomed-tp").execute(make_context())
    CONFIG.update(fail_throughputs="")
    arn = create_op(model, name="doomed-tp").execute(make_context())
    [throughput] = alive_throughputs(aws)
    assert throughput["provisionedModelArn"] == arn and throughput["status"] == "InService"


def test_create_defers_to_our_trigger(aws):
    from airflow.providers.common.compat.sdk import TaskDeferred

    from bedrock_customization.triggers.bedrock import BedrockProvisionedThroughputInServiceTrigger
    from tests.local_aws.helpers import wait_for

    model = trained_model(aws, "defer")
    op = create_op(model, deferrable=True)
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(make_context())
    trigger = deferred.value.trigger
    assert isinstance(trigger, BedrockProvisionedThroughputInServiceTrigger)
    arn = trigger.serialize()[1]["provisioned_model_id"]
    # The trigger fires once the throughput is InService; the operator then reads its status.
    wait_for(
        lambda: aws.bedrock.get_provisioned_model_throughput(provisionedModelId=arn)["status"],
        lambda status: status == "InService",
    )
    assert op.execute_complete({}, {"status": "success", "provisioned_model_id": arn}) == arn


def test_update_swaps_the_model_in_place_and_is_idempotent(aws):
    old, new = trained_model(aws, "old"), trained_model(aws, "new")
    arn = create_op(old, name="serving-tp").execute(make_context())
    update = BedrockUpdateProvisionedThroughputOperator(
        task_id="update", provisioned_model_id="serving-tp", desired_model_id=new, **QUICK
    )
    assert update.execute(make_context("update")) == arn
    [throughput] = alive_throughputs(aws)
    assert throughput["provisionedModelArn"] == arn
    assert throughput["modelArn"] == new and throughput["status"] == "InService"

    modified = throughput["lastModifiedTime"]
    assert update.execute(make_context("update")) == arn  # already serving: nothing to do
    assert alive_throughputs(aws)[0]["lastModifiedTime"] == modified
    # The model it served before is free again.
    assert BedrockDeleteCustomModelOperator(task_id="rm", model_id=old).execute(make_context()) is True


def test_delete_throughput_already_gone_is_success(aws):
    model = trained_model(aws, "gone")
    arn = create_op(model, name="short-lived").execute(make_context())
    delete = BedrockDeleteProvisionedThroughputOperator(task_id="delete", provisioned_model_id=arn)
    assert delete.execute(make_context()) is True
    assert delete.execute(make_context()) is False
    assert (
        BedrockDeleteProvisionedThroughputOperator(
            task_id="delete", provisioned_model_id="never-created"
        ).execute(make_context())
        is False
    )
    assert (
        BedrockDeleteProvisionedThroughputOperator(task_id="d", provisioned_model_id=None).execute({})
        is False
    )


def test_delete_custom_model_in_use_says_who_uses_it(aws):
    model = trained_model(aws, "busy")
    arn = create_op(model, name="busy-tp").execute(make_context())
    delete_model = BedrockDeleteCustomModelOperator(task_id="rm", model_id=model)
    with pytest.raises(ResourceInUseError, match=r"busy-tp .*Delete those"):
        delete_model.execute(make_context())
    aws.bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)
    assert delete_model.execute(make_context()) is True
    assert delete_model.execute(make_context()) is False  # already gone


def test_on_demand_deployment_only_for_base_models_that_offer_it(aws):
    nova = trained_model(aws, "nova", base=NOVA)
    deploy = BedrockCreateCustomModelDeploymentOperator(
        task_id="deploy", model_arn=nova, deployment_name="nova-dep", **QUICK
    )
    first = deploy.execute(make_context("deploy"))
    assert deploy.execute(make_context("deploy")) == first
    deployments = aws.bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
    assert [d["customModelDeploymentArn"] for d in deployments] == [first]
    assert deployments[0]["status"] == "Active"
    assert tagging.is_ours(tags_of(aws, first))

    delete = BedrockDeleteCustomModelDeploymentOperator(task_id="undeploy", deployment_id=first)
    assert delete.execute(make_context()) is True and delete.execute(make_context()) is False

    # Nova 2 Lite custom models are served by provisioned throughput only (and it takes no validation set).
    nova_2 = trained_model(aws, "nova-2", base=NOVA_2_LITE, validation=False)
    with pytest.raises(BedrockCustomizationError, match="cannot be deployed on demand"):
        BedrockCreateCustomModelDeploymentOperator(
            task_id="deploy", model_arn=nova_2, deployment_name="nova-2-dep", **QUICK
        ).execute(make_context())


def test_a_killed_deployment_create_leaves_nothing_once_the_run_teardown_ran(aws):
    from include.local_aws import CONFIG

    run = "manual__killed"
    model = trained_model(aws, "killed")
    CONFIG.update(deployment_seconds=30)  # still Creating when the task is killed
    deploy = BedrockCreateCustomModelDeploymentOperator(
        task_id="deploy",
        model_arn=model,
        deployment_name="killed-dep",
        **{**QUICK, "wait_for_completion": False},
    )
    arn = deploy.execute(make_context("deploy", run))
    deploy.on_kill()  # the create leaves the deployment to the run's teardown (and the janitor)

    result = BedrockDeleteRunServingOperator(task_id="delete_serving").execute(make_context("cleanup", run))
    assert result["deleted_deployments"] == [arn]
    assert aws.bedrock.list_custom_model_deployments()["modelDeploymentSummaries"] == []
    free = BedrockDeleteCustomModelOperator(task_id="delete_model", model_id=model)
    assert free.execute(make_context()) is True  # nothing uses the model any more


def test_teardown_deletes_the_runs_non_serving_throughputs_only(aws):
    from include.local_aws import CONFIG

    run, other_run = "manual__run-a", "manual__run-b"
    models = [trained_model(aws, f"m{i}") for i in range(5)]
    evaluation = create_op(models[0], name="eval").execute(make_context("provision", run))
    serving = create_op(models[1], name="serving", throughput_role="serving").execute(make_context("p", run))
    others = create_op(models[2], name="other-run").execute(make_context("provision", other_run))
    untagged = aws.bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="not-ours", modelId=models[3]
    )["provisionedModelArn"]
    CONFIG.update(throughput_seconds=30)  # this one is still Creating when the teardown runs
    creating = create_op(models[4], name="creating", wait_for_completion=False).execute(
        make_context("p2", run)
    )

    teardown = BedrockDeleteRunServingOperator(task_id="cleanup")
    result = teardown.execute(make_context("cleanup", run))
    assert sorted(result["deleted_throughputs"]) == sorted([evaluation, creating])
    assert result["spared"] == [serving]
    alive = {t["provisionedModelArn"] for t in alive_throughputs(aws)}
    assert alive == {serving, others, untagged}

    again = teardown.execute(make_context("cleanup", run))  # a retry, or a second teardown
    assert again == {
        "deleted_throughputs": [],
        "deleted_deployments": [],
        "spared": [serving],
        "already_gone": [],
    }
    nothing = BedrockDeleteRunServingOperator(task_id="cleanup", serving_names=["never-made"])
    assert nothing.execute(make_context("cleanup", "manual__run-c")) == {
        "deleted_throughputs": [],
        "deleted_deployments": [],
        "spared": [],
        "already_gone": ["never-made"],
    }


def test_waiter_json_and_sensor_states_agree():
    from bedrock_customization.hooks.bedrock import WAITERS_FILE, BedrockCustomizationHook
    from bedrock_customization.sensors.bedrock import (
        BedrockCustomModelDeploymentActiveSensor,
        BedrockProvisionedThroughputInServiceSensor,
    )

    waiters = json.loads(WAITERS_FILE.read_text())["waiters"]
    for sensor in (BedrockProvisionedThroughputInServiceSensor, BedrockCustomModelDeploymentActiveSensor):
        acceptors = waiters[sensor.WAITER_NAME]["acceptors"]
        by_state = {
            state: {a["expected"] for a in acceptors if a["state"] == state}
            for state in ("retry", "success", "failure")
        }
        assert by_state["retry"] == set(sensor.INTERMEDIATE_STATES)
        assert by_state["success"] == set(sensor.SUCCESS_STATES)
        assert by_state["failure"] == set(sensor.FAILURE_STATES)
        assert all(a["matcher"] == "path" and a["argument"] == "status" for a in acceptors)
    hook = BedrockCustomizationHook(aws_conn_id=None, region_name="us-east-1")
    assert set(waiters) <= set(hook.list_waiters())


def test_sensor_pokes_until_in_service(aws):
    from bedrock_customization.sensors.bedrock import BedrockProvisionedThroughputInServiceSensor
    from include.local_aws.config import CONFIG

    model = trained_model(aws, "sensed")
    CONFIG.update(throughput_seconds=3)  # the first poke must come before it is in service, also under load
    arn = create_op(model, name="sensed", wait_for_completion=False).execute(make_context())
    sensor = BedrockProvisionedThroughputInServiceSensor(task_id="s", provisioned_model_id=arn)
    assert sensor.poke({}) is False
    deadline = time.monotonic() + 30
    while not sensor.poke({}):
        assert time.monotonic() < deadline, "never in service"
        time.sleep(0.2)


def test_trigger_waits_with_aiobotocore_against_the_server(use_endpoint):
    """The deferred half: our trigger finds our waiter and reports InService (and Failed) over HTTP."""
    import boto3

    from bedrock_customization.triggers.bedrock import BedrockProvisionedThroughputInServiceTrigger
    from include.local_aws.config import CONFIG
    from include.local_aws.server import LocalAwsServer
    from tests.serving_helpers import completed_job

    with LocalAwsServer(port=0) as server:
        use_endpoint(server.endpoint_url)
        CONFIG.update(job_seconds=0.1, throughput_seconds=0.5, fail_throughputs="bad")
        try:
            kwargs = {"region_name": "us-east-1", "endpoint_url": server.endpoint_url}
            s3, bedrock = boto3.client("s3", **kwargs), boto3.client("bedrock", **kwargs)
            s3.create_bucket(Bucket="data")
            model = completed_job(s3, bedrock, "trig", records=10)["outputModelArn"]
            events = {}
            for name in ("good", "bad"):
                arn = bedrock.create_provisioned_model_throughput(
                    modelUnits=1, provisionedModelName=name, modelId=model
                )["provisionedModelArn"]
                trigger = BedrockProvisionedThroughputInServiceTrigger(
                    provisioned_model_id=arn,
                    waiter_delay=0.2,
                    waiter_max_attempts=50,
                    aws_conn_id="aws_default",
                )
                events[name] = asyncio.run(_first_event(trigger))
        finally:
            CONFIG.reset()
    assert events["good"]["status"] == "success"
    assert events["bad"]["status"] == "error" and "insufficient capacity" in events["bad"]["message"]


async def _first_event(trigger):
    async for event in trigger.run():
        return event.payload


def test_delete_waits_for_a_throughput_that_refuses_deletion_while_creating():
    """Real Bedrock may refuse to delete a Creating throughput: wait for it to settle, then delete."""
    from types import SimpleNamespace

    from bedrock_customization.hooks.bedrock import BedrockCustomizationHook

    class Refused(Exception):
        pass

    class Gone(Exception):
        pass

    calls = []
    statuses = iter(["Creating", "Creating", "InService"])

    def delete(provisionedModelId):
        calls.append("delete")
        if len(calls) == 1:
            raise Refused("cannot delete while Creating")

    conn = SimpleNamespace(
        exceptions=SimpleNamespace(
            ValidationException=Refused, ConflictException=Refused, ResourceNotFoundException=Gone
        ),
        delete_provisioned_model_throughput=delete,
        get_provisioned_model_throughput=lambda provisionedModelId: {"status": next(statuses)},
    )
    assert BedrockCustomizationHook.for_client(conn).delete_throughput("tp", wait=(0, 10)) is True
    assert calls == ["delete", "delete"]
