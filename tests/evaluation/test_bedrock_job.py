"""Native Bedrock evaluation jobs, the pure side: request building (checked against botocore's service model),
the dataset, result parsing, the summary of two jobs, and the ``evaluation_job_complete`` waiter's acceptors.
The operators are tested in ``test_evaluation_job.py``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bedrock_customization.evaluation import EvaluationError
from bedrock_customization.evaluation.bedrock_job import (
    AUTOMATIC_METRICS,
    JUDGE_METRICS,
    dataset_jsonl,
    dataset_uri,
    evaluation_job_name,
    evaluation_job_request,
    job_facts,
    mean_results,
    summarize_jobs,
)
from bedrock_customization.evaluation.samples import Sample

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
            dataset_uri="s3://bucket/d",
            output_uri="s3://bucket/o",
            task_type="Chat",
        )


def test_job_facts_and_the_summary_of_two_jobs():
    def job(role: str, judge: str | None = None) -> dict:
        automated = {
            "datasetMetricConfigs": [
                {
                    "taskType": "QuestionAndAnswer",
                    "dataset": {
                        "name": "validation",
                        "datasetLocation": {"s3Uri": "s3://bucket/e/datasets/d.jsonl"},
                    },
                    "metricNames": list(JUDGE_METRICS if judge else AUTOMATIC_METRICS),
                }
            ]
        }
        if judge:
            automated["evaluatorModelConfig"] = {"bedrockEvaluatorModels": [{"modelIdentifier": judge}]}
        return {
            "jobArn": f"arn:aws:bedrock:us-east-1:123456789012:evaluation-job/{role[:4]}00000000",
            "jobName": f"eval-{role}",
            "status": "Completed",
            "evaluationConfig": {"automated": automated},
            "inferenceConfig": {"models": [{"bedrockModel": {"modelIdentifier": f"model-{role}"}}]},
            "outputDataConfig": {"s3Uri": "s3://bucket/e/"},
        }

    facts = job_facts(job("candidate", JUDGE))
    assert facts["model_id"] == "model-candidate" and facts["judge_model_id"] == JUDGE
    assert facts["output_folder"] == "s3://bucket/e/eval-candidate/"
    assert facts["dataset_uri"] == "s3://bucket/e/datasets/d.jsonl"

    def outputs(*scores: float, paired: bool = True, reverse: bool = False) -> list[str]:
        lines = [
            json.dumps(
                {
                    "automatedEvaluationResult": {
                        "scores": [{"metricName": "Builtin.Correctness", "result": s}]
                    },
                    **({"inputRecord": {"prompt": f"q{i}", "referenceResponse": "a"}} if paired else {}),
                }
            )
            for i, s in enumerate(scores)
        ]
        return ["\n".join(reversed(lines) if reverse else lines) + "\n"]

    both = {"baseline": job_facts(job("baseline", JUDGE)), "candidate": facts}
    baseline_scores, candidate_scores = (0.5, 0.6) * 4, (0.7, 0.8) * 4
    summary = summarize_jobs(
        both,
        {"baseline": outputs(*baseline_scores), "candidate": outputs(*candidate_scores, reverse=True)},
        {"baseline": "base", "candidate": "tuned"},
        None,
        0.1,
        uris={"summary": "s3://bucket/e/summary.json"},
    )
    assert summary["primary_metric"] == "Builtin.Correctness"  # judged jobs
    # Paired by prompt, not by position (the candidate's records came in reverse order): +0.2 on every one.
    assert summary["decision"] == "promote" and summary["samples"] == 8
    assert summary["significance"]["n"] == 8 and summary["significance"]["mean_difference"] == 0.2
    assert summary["significance"]["ci_low"] == summary["significance"]["ci_high"] == 0.2
    assert summary["baseline"] == {"model_id": "model-baseline", "label": "base", "Builtin.Correctness": 0.55}
    low, high = summary["intervals"]["baseline"]["Builtin.Correctness"]
    assert 0.5 <= low < 0.55 < high <= 0.6
    assert summary["metrics"] == {"Builtin.Correctness": {"label": "Correctness", "scale": 1.0}}
    assert summary["judge_metrics"] == list(JUDGE_METRICS) and summary["uris"]["summary"].endswith(
        "summary.json"
    )
    # Records without inputRecord cannot be paired: the means alone do not decide.
    unpaired = summarize_jobs(
        both,
        {
            "baseline": outputs(*baseline_scores, paired=False),
            "candidate": outputs(*candidate_scores, paired=False),
        },
        {"baseline": "base", "candidate": "tuned"},
        None,
        0.1,
    )
    assert unpaired["decision"] == "inconclusive" and unpaired["candidate"]["Builtin.Correctness"] == 0.75
    assert unpaired["significance"]["ci_low"] is None and unpaired["significance"]["unpaired"] == 8
    assert "means alone cannot show" in unpaired["significance"]["reason"]
    with pytest.raises(EvaluationError, match="Builtin.Accuracy is not in the evaluation jobs' results"):
        summarize_jobs(
            both,
            {"baseline": outputs(0.5), "candidate": outputs(0.5)},
            {"baseline": "b", "candidate": "c"},
            "Builtin.Accuracy",
            0.0,
        )


def test_the_dataset_location_depends_on_the_prompts_only():
    text = dataset_jsonl([Sample(0, 1, "q", "a")])
    uri = dataset_uri("s3://bucket/e", text)
    assert uri == dataset_uri("s3://bucket/e/", text) and re.fullmatch(
        r"s3://bucket/e/datasets/[0-9a-f]{16}\.jsonl", uri
    )
    assert uri != dataset_uri("s3://bucket/e", dataset_jsonl([Sample(0, 1, "q", "b")]))


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
