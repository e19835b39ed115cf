"""Extra links: console URLs per resource kind, that each operator stores its link, and the run results link.

Operators run against the in-process emulator with a task instance that records XCom pushes; the stored
link is rendered with the link class's ``format_link``, as Airflow does when the task pushes its links.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import types
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

import pytest

from bedrock_customization.links.bedrock import (
    CONSOLE_LINKS,
    BedrockCustomizationJobLink,
    BedrockCustomModelDeploymentLink,
    BedrockCustomModelLink,
    BedrockEvaluationJobLink,
    BedrockImportedModelLink,
    BedrockModelImportJobLink,
    BedrockProvisionedThroughputLink,
    BedrockRunResultsLink,
)
from tests.serving_helpers import NOVA, NOVA_MICRO, QUICK, REGION, FakeTI, emulator, trained_model

ACCOUNT = "123456789012"
CONSOLE = "https://console.aws.amazon.com/bedrock/home?region={region}#"
RUN_ID = "scheduled__2026-03-01T00:00:00+00:00"


@dataclass
class RecordingTI(FakeTI):
    """A task instance that keeps what is pushed to XCom (the stored links)."""

    xcom: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcom[key] = value


def context(task_id: str = "task", run_id: str = RUN_ID) -> dict[str, Any]:
    from airflow.sdk.execution_time.context import OutletEventAccessors

    return {"ti": RecordingTI(task_id=task_id, run_id=run_id), "outlet_events": OutletEventAccessors()}


def stored_url(ctx: dict[str, Any], link: type) -> str:
    """The URL of ``link`` as the task stored it (fails when it stored none)."""
    value = ctx["ti"].xcom[link.key]
    return link().format_link(**value)


def quoted(arn: str) -> str:
    return urllib.parse.quote(arn, safe="")


# --------------------------------------------------------------------------------------------- URL formats

ARNS = {
    BedrockCustomizationJobLink: f"arn:aws:bedrock:eu-central-1:{ACCOUNT}:model-customization-job/"
    "amazon.nova-micro-v1:0:128k/abc123def456",
    BedrockCustomModelLink: f"arn:aws:bedrock:eu-central-1:{ACCOUNT}:custom-model/"
    "amazon.nova-micro-v1:0:128k/abc123def456",
    BedrockProvisionedThroughputLink: f"arn:aws:bedrock:eu-central-1:{ACCOUNT}:provisioned-model/abc123def456",
    BedrockCustomModelDeploymentLink: f"arn:aws:bedrock:eu-central-1:{ACCOUNT}:custom-model-deployment/abc123",
    BedrockModelImportJobLink: f"arn:aws:bedrock:eu-central-1:{ACCOUNT}:model-import-job/abc123def456",
    BedrockImportedModelLink: f"arn:aws:bedrock:eu-central-1:{ACCOUNT}:imported-model/abc123def456",
    BedrockEvaluationJobLink: f"arn:aws:bedrock:eu-central-1:{ACCOUNT}:evaluation-job/abc123def456",
}
#: The console page of each kind; ``{arn}`` is the escaped ARN.
PAGES = {
    BedrockCustomizationJobLink: "/custom-models/item?arn={arn}",
    BedrockCustomModelLink: "/custom-models/item?arn={arn}",
    BedrockProvisionedThroughputLink: "/provisioned-throughput/details?arn={arn}",
    BedrockCustomModelDeploymentLink: "/custom-models",
    BedrockModelImportJobLink: "/imported-models",
    BedrockImportedModelLink: "/imported-models",
    BedrockEvaluationJobLink: "/model-evaluation",
}


@pytest.mark.parametrize("link", CONSOLE_LINKS, ids=lambda link: link.__name__)
@pytest.mark.parametrize(
    ("partition", "domain"), [("aws", "aws.amazon.com"), ("aws-cn", "amazonaws.cn")], ids=["aws", "aws-cn"]
)
def test_console_url_of_each_kind_for_an_arn_and_region(link, partition, domain):
    arn = ARNS[link]
    hook = types.SimpleNamespace(conn_region_name="eu-central-1", conn_partition=partition)
    ctx = context()
    link.persist_arn(ctx, types.SimpleNamespace(do_xcom_push=True), arn, hook=hook)

    stored = ctx["ti"].xcom[link.key]
    assert stored["region_name"] == "eu-central-1" and stored[link.arn_field] == quoted(arn)
    expected = CONSOLE.format(region="eu-central-1") + PAGES[link].format(arn=quoted(arn))
    assert stored_url(ctx, link) == expected.replace("aws.amazon.com", domain)


def test_no_arn_stores_no_link_and_a_broken_hook_does_not_fail_the_task():
    ctx = context()
    operator = types.SimpleNamespace(do_xcom_push=True)
    BedrockCustomModelLink.persist_arn(ctx, operator, None, hook=types.SimpleNamespace())
    BedrockCustomModelLink.persist_arn(ctx, operator, ARNS[BedrockCustomModelLink])  # no hook at all
    assert ctx["ti"].xcom == {}


def test_every_link_has_its_own_key_and_name_and_is_registered():
    from airflow.providers_manager import ProvidersManager

    from bedrock_customization.provider_info import get_provider_info

    assert len({link.key for link in CONSOLE_LINKS}) == len(CONSOLE_LINKS)
    assert len({link.name for link in (*CONSOLE_LINKS, BedrockRunResultsLink)}) == len(CONSOLE_LINKS) + 1
    registered = set(ProvidersManager().extra_links_class_names)
    for link in (*CONSOLE_LINKS, BedrockRunResultsLink):
        path = f"{link.__module__}.{link.__name__}"
        assert path in get_provider_info()["extra-links"] and path in registered


# --------------------------------------------------------------------------------------------- run results


def test_run_results_link_points_at_the_plugin_tab_of_the_run_with_the_run_id_escaped():
    from bedrock_customization.ui.plugin import BedrockCustomizationPlugin

    routes = {view["url_route"] for view in BedrockCustomizationPlugin.external_views}
    assert "bedrock-results" in routes  # the tab the link opens
    from airflow.models.taskinstancekey import TaskInstanceKey

    key = TaskInstanceKey(
        "bedrock_retraining", "evaluation.evaluate", "manual__2026-03-01T00:00:00+00:00/x", 1
    )
    assert BedrockRunResultsLink().get_link(None, ti_key=key) == (
        "/dags/bedrock_retraining/runs/manual__2026-03-01T00%3A00%3A00%2B00%3A00%2Fx/plugin/bedrock-results"
    )


def test_result_producing_operators_have_the_run_results_link():
    from bedrock_customization.operators.evaluation import BedrockEvaluateModelsOperator
    from bedrock_customization.operators.evaluation_job import BedrockCompareEvaluationJobsOperator
    from bedrock_customization.operators.metrics import CollectTrainingMetricsOperator
    from bedrock_customization.operators.promotion import BedrockPromoteModelOperator

    for operator in (
        CollectTrainingMetricsOperator,
        BedrockEvaluateModelsOperator,
        BedrockCompareEvaluationJobsOperator,
        BedrockPromoteModelOperator,
    ):
        links = operator.operator_extra_links
        assert any(isinstance(link, BedrockRunResultsLink) for link in links), operator


# --------------------------------------------------------------------------------------------- every creator links

#: A create call, or a job operator's declared one (``create_job = "create_..."``, called by the base).
_CREATE_CALL = re.compile(r"\.create_[a-z_]+\(|create_job = \"create_[a-z_]+\"")


def _operator_classes() -> list[type]:
    from airflow.sdk import BaseOperator

    import bedrock_customization.operators as package

    found = []
    for module_info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, BaseOperator) and cls.__module__ == module.__name__:
                found.append(cls)
    return found


def _calls_create(cls: type) -> bool:
    """Whether the class, or a base of ours or of the Amazon provider's Bedrock operators, calls create_*."""
    for base in cls.__mro__:
        module = getattr(base, "__module__", "")
        if module.startswith(("bedrock_customization.", "airflow.providers.amazon.aws.operators.bedrock")):
            if _CREATE_CALL.search(inspect.getsource(base)):
                return True
    return False


def test_every_operator_that_creates_a_bedrock_resource_declares_a_console_link():
    creators = [cls for cls in _operator_classes() if _calls_create(cls)]
    names = {cls.__name__ for cls in creators}
    # The check finds the creators (it is not vacuous).
    assert {
        "BedrockVpcCustomizeModelOperator",
        "BedrockCreateProvisionedModelThroughputOperator",
        "BedrockCreateCustomModelDeploymentOperator",
        "BedrockCreateModelImportJobOperator",
        "BedrockEvaluationJobOperator",
    } <= names
    for cls in creators:
        links = [link for link in cls.operator_extra_links if isinstance(link, tuple(CONSOLE_LINKS))]
        assert links, f"{cls.__name__} creates a Bedrock resource but declares no console link"


# --------------------------------------------------------------------------------------------- operators store them


@pytest.fixture
def aws(monkeypatch):
    with emulator(monkeypatch) as clients:
        yield clients


def _assert_links_to(ctx: dict[str, Any], link: type, arn: str) -> None:
    assert ctx["ti"].xcom[link.key][link.arn_field] == quoted(arn)
    assert stored_url(ctx, link).startswith(CONSOLE.format(region=REGION))


def test_throughput_create_and_update_store_the_throughput_link_before_waiting(aws):
    from airflow.providers.common.compat.sdk import TaskDeferred

    from bedrock_customization.operators.throughput import (
        BedrockCreateProvisionedModelThroughputOperator,
        BedrockUpdateProvisionedThroughputOperator,
    )

    old, new = trained_model(aws, "links-old"), trained_model(aws, "links-new")
    create = BedrockCreateProvisionedModelThroughputOperator(
        task_id="provision_throughput",
        model_units=1,
        provisioned_model_name="links-tp",
        model_id=old,
        **{**QUICK, "deferrable": True},
    )
    ctx = context("provision_throughput")
    with pytest.raises(TaskDeferred) as deferred:
        create.execute(ctx)
    arn = deferred.value.trigger.serialize()[1]["provisioned_model_id"]
    _assert_links_to(ctx, BedrockProvisionedThroughputLink, arn)
    assert stored_url(ctx, BedrockProvisionedThroughputLink).endswith(
        f"#/provisioned-throughput/details?arn={quoted(arn)}"
    )

    update = BedrockUpdateProvisionedThroughputOperator(
        task_id="update", provisioned_model_id="links-tp", desired_model_id=new, **QUICK
    )
    ctx = context("update")
    assert update.execute(ctx) == arn
    _assert_links_to(ctx, BedrockProvisionedThroughputLink, arn)


def test_deployment_stores_the_deployment_link(aws):
    from bedrock_customization.operators.deployment import BedrockCreateCustomModelDeploymentOperator

    nova = trained_model(aws, "links-nova", base=NOVA)
    ctx = context("deploy")
    arn = BedrockCreateCustomModelDeploymentOperator(
        task_id="deploy", model_arn=nova, deployment_name="links-dep", **QUICK
    ).execute(ctx)
    _assert_links_to(ctx, BedrockCustomModelDeploymentLink, arn)


def test_customization_stores_the_job_link_before_deferring(aws):
    from airflow.providers.common.compat.sdk import TaskDeferred

    from bedrock_customization.operators.customization import BedrockVpcCustomizeModelOperator
    from include.local_aws import CONFIG
    from tests.local_aws.helpers import BUCKET, put_jsonl
    from tests.serving_helpers import qa_conversations

    CONFIG.update(job_seconds=60)  # still InProgress when the operator defers
    training = put_jsonl(aws.s3, "links/train.jsonl", qa_conversations(20))
    op = BedrockVpcCustomizeModelOperator(
        task_id="customize",
        job_name="links-customize",
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/BedrockCustomization",
        base_model_id=NOVA_MICRO,
        training_data_uri=training,
        output_data_uri=f"s3://{BUCKET}/links/output/",
        hyperparameters={"epochCount": "1"},
        deferrable=True,
    )
    ctx = context("customize")
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    _assert_links_to(ctx, BedrockCustomizationJobLink, deferred.value.trigger.serialize()[1]["job_name"])


def test_training_metrics_store_the_job_link(aws):
    from bedrock_customization.operators.metrics import CollectTrainingMetricsOperator
    from tests.serving_helpers import completed_job

    job = completed_job(aws.s3, aws.bedrock, "links-metrics", records=20)
    ctx = context("training_metrics")
    CollectTrainingMetricsOperator(task_id="training_metrics", job_arn=job["jobArn"]).execute(ctx)
    _assert_links_to(ctx, BedrockCustomizationJobLink, job["jobArn"])


def test_model_import_stores_the_job_and_model_links_and_the_smoke_test_the_model_link(aws):
    from airflow.providers.common.compat.sdk import TaskDeferred

    from bedrock_customization.operators.imported_model import BedrockImportedModelSmokeTestOperator
    from bedrock_customization.operators.model_import import BedrockCreateModelImportJobOperator
    from include.local_aws import CONFIG
    from tests.test_model_import import ROLE, upload_model

    CONFIG.update(import_seconds=3)  # still running when the operator defers
    uri = upload_model(aws.s3, "models/links")
    op = BedrockCreateModelImportJobOperator(
        task_id="import_model", model_data_uri=uri, role_arn=ROLE, **{**QUICK, "deferrable": True}
    )
    ctx = context("import_model")
    with pytest.raises(TaskDeferred) as deferred:
        op.execute(ctx)
    job_arn = deferred.value.trigger.serialize()[1]["job_arn"]
    _assert_links_to(ctx, BedrockModelImportJobLink, job_arn)

    from tests.local_aws.helpers import wait_for

    wait_for(
        lambda: aws.bedrock.get_model_import_job(jobIdentifier=job_arn)["status"],
        lambda status: status == "Completed",
    )
    result = op.execute_complete(ctx, {"status": "success", "job_arn": job_arn})
    _assert_links_to(ctx, BedrockImportedModelLink, result["imported_model_arn"])

    ctx = context("smoke_test")
    BedrockImportedModelSmokeTestOperator(
        task_id="smoke_test", model_id=result["imported_model_arn"]
    ).execute(ctx)
    _assert_links_to(ctx, BedrockImportedModelLink, result["imported_model_arn"])


def test_promotion_to_a_throughput_stores_the_throughput_link(aws):
    from bedrock_customization.operators.promotion import BedrockPromoteModelOperator
    from bedrock_customization.operators.throughput import BedrockCreateProvisionedModelThroughputOperator

    aws.s3.create_bucket(Bucket="models")
    model = trained_model(aws, "links-promote")
    throughput = BedrockCreateProvisionedModelThroughputOperator(
        task_id="provision_throughput",
        model_units=1,
        provisioned_model_name="links-promote-tp",
        model_id=model,
        **QUICK,
    ).execute(context("provision_throughput"))
    ctx = context("promote_model")
    result = BedrockPromoteModelOperator(
        task_id="promote_model",
        registry_name="links",
        registry_bucket="models",
        decision="promote",
        candidate_model_arn=model,
        base_model_id=NOVA_MICRO,
        evaluation_serving_arn=throughput,
        **QUICK,
    ).execute(ctx)
    assert result["serving_arn"] == throughput
    _assert_links_to(ctx, BedrockProvisionedThroughputLink, throughput)
    assert BedrockCustomModelDeploymentLink.key not in ctx["ti"].xcom


def test_promotion_to_an_on_demand_deployment_stores_the_deployment_link(aws):
    from bedrock_customization.operators.deployment import BedrockCreateCustomModelDeploymentOperator
    from bedrock_customization.operators.promotion import BedrockPromoteModelOperator

    aws.s3.create_bucket(Bucket="models")
    model = trained_model(aws, "links-promote-od")
    deployment = BedrockCreateCustomModelDeploymentOperator(
        task_id="deploy", model_arn=model, deployment_name="links-promote-dep", **QUICK
    ).execute(context("deploy"))
    ctx = context("promote_model")
    result = BedrockPromoteModelOperator(
        task_id="promote_model",
        registry_name="links",
        registry_bucket="models",
        decision="promote",
        candidate_model_arn=model,
        base_model_id=NOVA_MICRO,
        evaluation_serving_arn=deployment,
        **QUICK,
    ).execute(ctx)
    assert (result["serving_arn"], result["serving_kind"]) == (deployment, "on_demand")
    _assert_links_to(ctx, BedrockCustomModelDeploymentLink, deployment)
    assert BedrockProvisionedThroughputLink.key not in ctx["ti"].xcom


def test_evaluation_job_stores_the_evaluation_job_link():
    from bedrock_customization.operators.evaluation_job import BedrockEvaluationJobOperator

    op = BedrockEvaluationJobOperator(
        task_id="evaluate_candidate",
        aws_conn_id=None,
        region_name=REGION,
        model_id=ARNS[BedrockProvisionedThroughputLink],
        role_arn=f"arn:aws:iam::{ACCOUNT}:role/Evaluation",
        validation_data_uri="s3://bucket/validation.jsonl",
        output_uri="s3://bucket/evaluation/",
    )
    arn = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:evaluation-job/candidate001"
    ctx = context("evaluate_candidate")
    op.persist_links(ctx, {"jobArn": arn})
    assert ctx["ti"].xcom[BedrockEvaluationJobLink.key]["arn"] == quoted(arn)
    assert stored_url(ctx, BedrockEvaluationJobLink) == CONSOLE.format(region=REGION) + "/model-evaluation"
