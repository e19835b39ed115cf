"""Native Bedrock evaluation jobs: request building (checked against botocore's service model), result parsing,
and the ``evaluation_job_complete`` waiter's acceptors. The emulator has no evaluation jobs, so nothing here
runs one end to end."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path

import pytest

from bedrock_customization.evaluation import EvaluationError
from bedrock_customization.evaluation.bedrock_job import (
    AUTOMATIC_METRICS,
    JUDGE_METRICS,
    dataset_jsonl,
    evaluation_job_name,
    evaluation_job_request,
    mean_results,
)
from bedrock_customization.evaluation.samples import Sample
from bedrock_customization.operators.evaluation import BedrockEvaluateModelsOperator

from .conftest import JUDGE, ROLE

WAITERS = (
    Path(__file__).resolve().parents[2] / "plugins" / "bedrock_customization" / "waiters" / "bedrock.json"
)
THROUGHPUT = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdef123456"
KMS = "arn:aws:kms:us-east-1:123456789012:key/0c0b9e35-41c3-4d29-9bd6-7f5f5f1f2f3f"
NAME_PATTERN = re.compile(r"^[a-z0-9](-*[a-z0-9]){0,62}$")


def service_model():
    import botocore.session

    return botocore.session.get_session().get_service_model("bedrock")


def assert_valid(request: dict) -> None:
    """botocore's client-side validation of a CreateEvaluationJob request (types, required members, lengths)."""
    from botocore.validate import ParamValidator

    shape = service_model().operation_model("CreateEvaluationJob").input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()


def test_automatic_job_request():
    request = evaluation_job_request(
        job_name="eval-abc-candidate",
        role_arn=ROLE,
        model_id=THROUGHPUT,
        dataset_uri="s3://bucket/eval/bedrock_evaluation/dataset.jsonl",
        output_uri="s3://bucket/eval/bedrock_evaluation/",
        inference_config={"maxTokens": 512, "temperature": 0.0},
        kms_key_id=KMS,
        client_request_token="token-1",
        tags=[{"key": "bedrock-customization:managed-by", "value": "airflow"}],
    )
    assert_valid(request)
    (config,) = request["evaluationConfig"]["automated"]["datasetMetricConfigs"]
    assert config == {
        "taskType": "QuestionAndAnswer",
        "dataset": {
            "name": "validation",
            "datasetLocation": {"s3Uri": "s3://bucket/eval/bedrock_evaluation/dataset.jsonl"},
        },
        "metricNames": list(AUTOMATIC_METRICS),
    }
    assert "evaluatorModelConfig" not in request["evaluationConfig"]["automated"]
    (model,) = request["inferenceConfig"]["models"]
    assert model["bedrockModel"]["modelIdentifier"] == THROUGHPUT
    assert json.loads(model["bedrockModel"]["inferenceParams"]) == {
        "inferenceConfig": {"maxTokens": 512, "temperature": 0.0}
    }
    assert request["customerEncryptionKeyId"] == KMS and request["applicationType"] == "ModelEvaluation"
    task_types = service_model().shape_for("EvaluationTaskType").enum
    assert config["taskType"] in task_types


def test_judge_job_request():
    request = evaluation_job_request(
        job_name="eval-abc-baseline",
        role_arn=ROLE,
        model_id="amazon.nova-micro-v1:0",
        dataset_uri="s3://bucket/d.jsonl",
        output_uri="s3://bucket/out/",
        judge_model_id=JUDGE,
    )
    assert_valid(request)
    automated = request["evaluationConfig"]["automated"]
    assert automated["datasetMetricConfigs"][0]["metricNames"] == list(JUDGE_METRICS)
    assert automated["evaluatorModelConfig"] == {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]}
    with pytest.raises(EvaluationError, match="task_type 'Chat' is not one of"):
        evaluation_job_request(
            job_name="x",
            role_arn=ROLE,
            model_id="m",
            dataset_uri="s3://b/d",
            output_uri="s3://b/o",
            task_type="Chat",
        )


def test_operator_builds_one_valid_request_per_model():
    op = BedrockEvaluateModelsOperator(
        task_id="evaluate",
        validation_data_uri="s3://bucket/data/validation.jsonl",
        output_uri="s3://bucket/runs/r1/evaluation/",
        baseline_model_id="amazon.nova-micro-v1:0",
        candidate_model_id=THROUGHPUT,
        candidate_label="fine-tuned",
        use_bedrock_evaluation_job=True,
        evaluation_role_arn=ROLE,
        kms_key_id=KMS,
    )
    requests = op.evaluation_job_requests(
        "s3://bucket/runs/r1/evaluation/bedrock_evaluation/dataset.jsonl", 42, 12
    )
    assert set(requests) == {"baseline", "candidate"}
    for role, request in requests.items():
        assert_valid(request)
        assert NAME_PATTERN.match(request["jobName"]) and request["jobName"].endswith(f"-{role}")
        assert request["outputDataConfig"] == {"s3Uri": "s3://bucket/runs/r1/evaluation/bedrock_evaluation/"}
    assert (
        requests["candidate"]["inferenceConfig"]["models"][0]["bedrockModel"]["modelIdentifier"] == THROUGHPUT
    )
    assert requests["candidate"]["jobDescription"] == "candidate fine-tuned"
    # Same inputs, same names and tokens: a retry re-attaches instead of creating twins.
    again = op.evaluation_job_requests(
        "s3://bucket/runs/r1/evaluation/bedrock_evaluation/dataset.jsonl", 42, 12
    )
    assert again == requests
    assert requests["baseline"]["clientRequestToken"] != requests["candidate"]["clientRequestToken"]

    ti = types.SimpleNamespace(
        dag_id="bedrock_retraining", run_id="manual__2026-03-01T00:00:00+00:00", task_id="evaluate"
    )
    tagged = op.evaluation_job_requests("s3://bucket/d.jsonl", 42, 12, op._run_tags({"ti": ti}))
    assert_valid(tagged["candidate"])
    tags = {t["key"]: t["value"] for t in tagged["candidate"]["jobTags"]}
    assert tags["bedrock-customization:managed-by"] == "airflow"
    assert tags["bedrock-customization:run-id"] == "manual__2026-03-01T00:00:00+00:00"
    assert op._run_tags({}) is None

    op.evaluation_role_arn = None
    with pytest.raises(EvaluationError, match="needs evaluation_role_arn"):
        op.evaluation_job_requests("s3://b/d.jsonl", 42, 12)


def test_job_names_are_valid():
    for base in ("Eval_Run 2026/03/01 manual__x", "x" * 100, "---", "評価"):
        for role in ("baseline", "candidate"):
            name = evaluation_job_name(base, role)
            assert NAME_PATTERN.match(name) and len(name) <= 63, name


def test_dataset_lines():
    samples = [
        Sample(0, 1, "How much is Grove?", "$79 per month."),
        Sample(1, 2, "料金は？", "月額79ドルです。"),
    ]
    lines = [json.loads(line) for line in dataset_jsonl(samples, category="pricing").splitlines()]
    assert lines == [
        {"prompt": "How much is Grove?", "referenceResponse": "$79 per month.", "category": "pricing"},
        {"prompt": "料金は？", "referenceResponse": "月額79ドルです。", "category": "pricing"},
    ]


def test_mean_results_reads_the_output_records():
    def record(**scores):
        return json.dumps(
            {
                "automatedEvaluationResult": {
                    "scores": [{"metricName": k, "result": v} for k, v in scores.items()]
                },
                "inputRecord": {"prompt": "q", "referenceResponse": "a"},
                "modelResponses": [{"response": "r", "modelIdentifier": THROUGHPUT}],
            }
        )

    first = "\n".join(
        [record(**{"Builtin.Accuracy": 0.5, "Builtin.Toxicity": 0.1}), record(**{"Builtin.Accuracy": 1.0})]
    )
    second = record(**{"Builtin.Accuracy": 0.0, "Builtin.Toxicity": None}) + "\n"
    assert mean_results([first, second]) == {"Builtin.Accuracy": 0.5, "Builtin.Toxicity": 0.1}
    with pytest.raises(EvaluationError, match="no scores"):
        mean_results([""])


def test_waiter_acceptors_cover_every_evaluation_job_status():
    from botocore.waiter import WaiterModel

    config = json.loads(WAITERS.read_text())
    waiter = WaiterModel(config).get_waiter("evaluation_job_complete")
    assert waiter.operation == "GetEvaluationJob"
    states = {a.expected: a.state for a in waiter.acceptors}
    assert all(a.matcher == "path" and a.argument == "status" for a in waiter.acceptors)
    assert states == {
        "Completed": "success",
        "InProgress": "retry",
        "Failed": "failure",
        "Stopping": "failure",
        "Stopped": "failure",
        "Deleting": "failure",
    }
    assert set(states) == set(service_model().shape_for("EvaluationJobStatus").enum)
    assert "jobIdentifier" in service_model().operation_model("GetEvaluationJob").input_shape.members


def test_the_provider_hook_finds_the_waiter(aws):
    from bedrock_customization.hooks.bedrock import BedrockCustomizationHook

    hook = BedrockCustomizationHook(aws_conn_id=None, region_name="us-east-1")
    waiter = hook.get_waiter("evaluation_job_complete")
    assert waiter.config.operation == "GetEvaluationJob"
    assert {a.expected for a in waiter.config.acceptors} >= {"Completed", "InProgress", "Failed", "Stopped"}
