"""SNS notifications land in an SQS queue subscribed to the topic, carrying the decision and the figures."""

from __future__ import annotations

import json

import pendulum
import pytest

from bedrock_customization.notifications import (
    TOPIC_FROM_VARIABLE,
    BedrockRunNotifier,
    failure_notifier,
    run_summary,
    sns_notifiers,
    success_notifier,
)

EVALUATION = {
    "baseline": {"model_id": "amazon.nova-micro-v1:0", "chrf": 17.9},
    "candidate": {"model_id": "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc", "chrf": 72.4},
    "samples": 12,
    "metric": "chrf",
    "decision": "promote",
}
PROMOTION = {"decision": "promote", "outcome": "updated_in_place", "registry_version": 2}


class FakeTI:
    def __init__(self, xcoms: dict | None):
        self.xcoms = xcoms

    def xcom_pull(self, task_ids: str):
        if self.xcoms is None:
            raise RuntimeError("XCom backend unavailable")
        return self.xcoms.get(task_ids)


def callback_context(xcoms: dict | None) -> dict:
    from airflow.sdk import DAG

    dag = DAG("bedrock_retraining", schedule=None)
    return {
        "dag": dag,
        "run_id": "manual__2026-03-01T00:00:00+00:00",
        "ti": FakeTI(xcoms),
        "params": {"margin": 0.0},
        "reason": "success",
    }


def subscribed_queue(sns, sqs, topic_arn: str) -> str:
    url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return url


def received(sqs, url: str) -> list[dict]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    return [json.loads(m["Body"]) for m in messages]


@pytest.fixture
def sns_sqs(monkeypatch):
    import boto3

    from include import local_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with local_aws.mock():
        sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="bedrock-retraining")["TopicArn"]
        yield sns, sqs, topic, subscribed_queue(sns, sqs, topic)


def test_success_notification_carries_the_decision_and_figures(sns_sqs):
    sns, sqs, topic, url = sns_sqs
    notifier = success_notifier(topic, region_name="us-east-1")
    context = callback_context({"evaluate": EVALUATION, "promote_model": PROMOTION})
    notifier(context)
    notifier(callback_context({"evaluate": {**EVALUATION, "decision": "reject"}}))  # reusable: renders a copy

    first, second = received(sqs, url)
    assert first["TopicArn"] == topic
    assert first["Subject"] == "Bedrock bedrock_retraining: success (promote)"
    headline, _, body = first["Message"].partition("\n\n")
    assert headline == (
        "Bedrock bedrock_retraining run manual__2026-03-01T00:00:00+00:00: success, decision promote; "
        "chrf: candidate 72.4 vs baseline 17.9"
    )
    summary = json.loads(body)
    assert summary["decision"] == "promote" and summary["state"] == "success"
    assert summary["figures"]["candidate"]["chrf"] == 72.4 and "decision" not in summary["figures"]
    assert summary["promotion"]["outcome"] == "updated_in_place"
    assert summary["params"] == {"margin": 0.0}
    assert first["MessageAttributes"]["decision"] == {"Type": "String", "Value": "promote"}
    assert first["MessageAttributes"]["state"] == {"Type": "String", "Value": "success"}
    assert second["Subject"].endswith("(reject)")
    assert notifier.message.startswith("{{")  # the original templates are untouched


def test_an_inconclusive_decision_is_sent_with_its_interval_p_value_n_and_rule(sns_sqs):
    from bedrock_customization.evaluation.significance import RULE, paired_decision

    significance = paired_decision([17.0, 18.0] * 6, [17.5, 17.7] * 6, metric="chrf", seed=42)
    assert significance["decision"] == "inconclusive"
    evaluation = {**EVALUATION, "decision": "inconclusive", "significance": significance}
    promotion = {"decision": "inconclusive", "outcome": "inconclusive", "registry_version": 1}
    sns, sqs, topic, url = sns_sqs
    success_notifier(topic, region_name="us-east-1")(
        callback_context({"evaluate": evaluation, "promote_model": promotion})
    )

    [message] = received(sqs, url)
    assert message["Subject"] == "Bedrock bedrock_retraining: success (inconclusive)"
    assert message["MessageAttributes"]["decision"] == {"Type": "String", "Value": "inconclusive"}
    headline, _, body = message["Message"].partition("\n\n")
    assert headline.endswith(
        f"decision inconclusive; chrf: candidate 72.4 vs baseline 17.9; chrf difference candidate - baseline "
        f"+0.1000, 95% CI [{significance['ci_low']:+.4f}, {significance['ci_high']:+.4f}], "
        f"p = {significance['p_value']:.4f}, n = 12; rule: {RULE} (margin 0)"
    )
    sent = json.loads(body)["significance"]
    assert sent == significance and sent["rule"] == RULE and sent["samples_needed"] > 12


def test_failure_notification_is_sent_even_without_xcoms(sns_sqs):
    sns, sqs, topic, url = sns_sqs
    failure_notifier(topic, region_name="us-east-1")(callback_context(None))
    [message] = received(sqs, url)
    assert message["Subject"] == "Bedrock bedrock_retraining: failure"
    assert json.loads(message["Message"].partition("\n\n")[2])["decision"] is None
    assert message["MessageAttributes"]["decision"]["Value"] == "none"


def test_custom_templates_and_factory():
    callbacks = sns_notifiers("{{ var.value.topic }}", xcom_task_ids={"evaluation": "eval"})
    assert set(callbacks) == {"on_success_callback", "on_failure_callback"}
    assert callbacks["on_failure_callback"].state == "failure"
    assert callbacks["on_success_callback"].xcom_task_ids == {"evaluation": "eval"}
    with pytest.raises(ValueError, match="state"):
        BedrockRunNotifier(state="done", target_arn="arn")
    summary = run_summary(callback_context({"eval": EVALUATION}), "success", {"evaluation": "eval"})
    assert summary["metric"] == "chrf" and summary["decision"] == "promote"


def test_no_topic_configured_means_no_notification(monkeypatch):
    """TOPIC_FROM_VARIABLE renders empty without a topic_arn in the Variable; nothing is published."""
    from airflow.sdk.execution_time.context import VariableAccessor

    monkeypatch.setenv("AIRFLOW_VAR_BEDROCK_CUSTOMIZATION", json.dumps({"bucket": "b"}))
    notifier = success_notifier(TOPIC_FROM_VARIABLE)
    context = callback_context({})
    context["var"] = {"json": VariableAccessor(deserialize_json=True)}
    notifier(context)  # no AWS call: there is no endpoint or mock here, so a publish would fail
    monkeypatch.setenv(
        "AIRFLOW_VAR_BEDROCK_CUSTOMIZATION", json.dumps({"topic_arn": "arn:aws:sns:us-east-1:1:t"})
    )
    assert notifier.render_template(TOPIC_FROM_VARIABLE, context) == "arn:aws:sns:us-east-1:1:t"


@pytest.mark.slow
def test_dag_level_callback_publishes_through_dag_test(airflow_db, use_endpoint, monkeypatch):
    """A DAG's on_success_callback, run by dag.test(), publishes to SNS; XComs come from the metadata DB."""
    import airflow.sdk
    import boto3

    from include.local_aws.server import LocalAwsServer
    from include.local_stack import run_dag

    with LocalAwsServer(port=0) as server:
        use_endpoint(server.endpoint_url)
        sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="janitor")["TopicArn"]
        url = subscribed_queue(sns, sqs, topic)

        # Parse the janitor DAG as if its file said @dag(..., on_success_callback=success_notifier(topic)).
        notifier = success_notifier(topic, xcom_task_ids={"evaluation": "clean_up"})
        original_dag = airflow.sdk.dag

        def dag_with_callback(*args, **kwargs):
            return original_dag(*args, **{**kwargs, "on_success_callback": notifier})

        monkeypatch.setattr(airflow.sdk, "dag", dag_with_callback)
        run = run_dag("bedrock_janitor", {"registry_bucket": ""}, pendulum.datetime(2026, 3, 2, tz="UTC"))
        assert run.state == "success"
        [message] = received(sqs, url)
    assert message["Subject"] == "Bedrock bedrock_janitor: success"
    summary = json.loads(message["Message"].partition("\n\n")[2])
    assert summary["run_id"] == run.run_id
    cleanup = summary["evaluation"]
    assert (cleanup["planned"], cleanup["done"], cleanup["failed"]) == ([], [], [])
