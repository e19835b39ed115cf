"""The run teardown's first task against the in-process emulator: it deletes the run's provisioned throughputs
and on-demand custom model deployments that are not serving, so the losers' models can be deleted after it."""

from __future__ import annotations

import logging

import pytest

from bedrock_customization import tagging
from bedrock_customization.exceptions import ResourceInUseError
from bedrock_customization.hooks.bedrock import BedrockCustomizationHook
from bedrock_customization.operators.deployment import BedrockCreateCustomModelDeploymentOperator
from bedrock_customization.operators.teardown import BedrockDeleteRunServingOperator, reject_models
from bedrock_customization.operators.throughput import BedrockCreateProvisionedModelThroughputOperator
from bedrock_customization.promotion import save_registry
from tests.serving_helpers import BUCKET, QUICK, emulator, make_context, trained_model

RUN, OTHER_RUN = "manual__run-a", "manual__run-b"


@pytest.fixture
def aws(monkeypatch):
    with emulator(monkeypatch) as clients:
        yield clients


def deploy(model_arn: str, name: str, run_id: str = RUN, **kwargs) -> str:
    """A deployment made by a task of ``run_id`` (tagged as ours, for that run), one task per name."""
    task_id = f"deploy_{name}"
    return BedrockCreateCustomModelDeploymentOperator(
        task_id=task_id, model_arn=model_arn, deployment_name=name, **{**QUICK, **kwargs}
    ).execute(make_context(task_id, run_id))


def alive_deployments(aws) -> set[str]:
    summaries = aws.bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
    return {d["customModelDeploymentArn"] for d in summaries}


def test_teardown_deletes_the_runs_deployments_and_throughputs_and_spares_the_serving_ones(aws):
    model, champion = trained_model(aws, "candidate"), trained_model(aws, "champion")
    evaluation = deploy(model, "eval-dep")
    throughput = BedrockCreateProvisionedModelThroughputOperator(
        task_id="provision", model_units=1, provisioned_model_name="eval-tp", model_id=model, **QUICK
    ).execute(make_context("provision", RUN))
    tagged_serving = deploy(model, "serving-dep", tags={tagging.ROLE: tagging.ROLE_SERVING})
    kept = deploy(model, "kept-dep", tags={tagging.DECISION: tagging.DECISION_KEEP})
    registered = deploy(champion, "champion-dep")  # this run's, but the registry serves it
    other_run = deploy(model, "other-run-dep", run_id=OTHER_RUN)
    untagged = aws.bedrock.create_custom_model_deployment(modelDeploymentName="untagged-dep", modelArn=model)[
        "customModelDeploymentArn"
    ]
    save_registry(
        aws.s3,
        BUCKET,
        "qa",
        {"schema": 2, "serving_arn": registered, "serving_kind": "on_demand", "serving_model_arn": champion},
        None,
    )

    teardown = BedrockDeleteRunServingOperator(
        task_id="delete_serving",
        serving_names=["untagged-dep", "never-made", ""],  # by name: created without our tags
        registry_bucket=BUCKET,
        registry_name="qa",
    )
    result = teardown.execute(make_context("delete_serving", RUN))
    assert result["deleted_throughputs"] == [throughput]
    assert sorted(result["deleted_deployments"]) == sorted([evaluation, untagged])
    assert sorted(result["spared"]) == sorted([tagged_serving, kept, registered])
    assert result["already_gone"] == ["never-made"]
    assert alive_deployments(aws) == {tagged_serving, kept, registered, other_run}
    assert aws.bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"] == []

    again = teardown.execute(make_context("delete_serving", RUN))  # a retry, or a second teardown
    assert again["deleted_deployments"] == again["deleted_throughputs"] == []
    assert again["already_gone"] == ["never-made", "untagged-dep"]

    # Without the registry, a deployment it names is only protected by its tags: this one has none that spare it.
    unprotected = BedrockDeleteRunServingOperator(task_id="delete_serving").execute(
        make_context("delete_serving", RUN)
    )
    assert unprotected["deleted_deployments"] == [registered]


def test_a_losers_model_is_deleted_once_the_teardown_deleted_its_evaluation_deployment(aws):
    hook = BedrockCustomizationHook.for_client(aws.bedrock)
    log = logging.getLogger(__name__)
    run_tags = tagging.run_tags("bedrock_retraining", RUN, "customize")
    loser = trained_model(aws, "loser", tags=run_tags)
    deploy(loser, "loser-eval-dep")
    losers = [{"model_arn": loser, "rank": 2, "label": "lr=0.0001"}]

    with pytest.raises(ResourceInUseError, match="loser-eval-dep"):
        hook.delete_custom_model(loser)  # why the deployments go first
    assert reject_models(hook, losers, set(), delete=True, log=log)["kept"] == [loser]

    BedrockDeleteRunServingOperator(task_id="delete_serving").execute(make_context("delete_serving", RUN))
    assert reject_models(hook, losers, set(), delete=True, log=log)["deleted"] == [loser]
    assert aws.bedrock.list_custom_models()["modelSummaries"] == []
