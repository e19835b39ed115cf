"""The emulator's model evaluation jobs: CreateEvaluationJob checks, lifecycle, S3 output, stop, list."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError

from include.local_aws import CONFIG

from .helpers import BUCKET, ROLE, completed_model, error_code, provisioned, put_jsonl, qa_pairs, wait_for

BASE = "amazon.nova-micro-v1:0"
JUDGE = "amazon.nova-pro-v1:0"
OUTPUT = f"s3://{BUCKET}/evaluation/"


@pytest.fixture
def dataset(s3: Any) -> str:
    """A custom prompt dataset: the training questions, asked again, with their answers as references."""
    records = [{"prompt": q, "referenceResponse": a, "category": "plans"} for q, a in qa_pairs(12)]
    return put_jsonl(s3, "evaluation/datasets/qa.jsonl", records)


def request(dataset_uri: str, model: str = BASE, name: str = "eval-1", **overrides: Any) -> dict[str, Any]:
    automated: dict[str, Any] = {
        "datasetMetricConfigs": [
            {
                "taskType": "QuestionAndAnswer",
                "dataset": {"name": "qa", "datasetLocation": {"s3Uri": dataset_uri}},
                "metricNames": ["Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"],
            }
        ]
    }
    kwargs: dict[str, Any] = {
        "jobName": name,
        "roleArn": ROLE,
        "applicationType": "ModelEvaluation",
        "evaluationConfig": {"automated": automated},
        "inferenceConfig": {
            "models": [
                {
                    "bedrockModel": {
                        "modelIdentifier": model,
                        "inferenceParams": json.dumps({"inferenceConfig": {"maxTokens": 256}}),
                    }
                }
            ]
        },
        "outputDataConfig": {"s3Uri": OUTPUT},
    }
    kwargs.update(overrides)
    return kwargs


def finished(bedrock: Any, arn: str) -> dict[str, Any]:
    return wait_for(
        lambda: bedrock.get_evaluation_job(jobIdentifier=arn),
        lambda job: job["status"] not in ("InProgress", "Stopping"),
    )


def results(s3: Any, job: dict[str, Any]) -> tuple[list[str], list[dict]]:
    """The keys of the job's ``*_output.jsonl`` files and their records."""
    prefix = "evaluation/" + job["jobName"] + "/"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]
    records = []
    for key in keys:
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
        records += [json.loads(line) for line in body.splitlines() if line.strip()]
    return keys, records


def mean(records: list[dict], metric: str) -> float:
    values = [
        s["result"]
        for r in records
        for s in r["automatedEvaluationResult"]["scores"]
        if s["metricName"] == metric
    ]
    return sum(values) / len(values)


def test_a_job_completes_after_some_polls_and_writes_aws_s_layout(
    s3: Any, bedrock: Any, dataset: str
) -> None:
    CONFIG.update(evaluation_seconds=2)  # the first read sees InProgress, on a loaded machine too
    response = bedrock.create_evaluation_job(**request(dataset, jobDescription="base model"))
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202  # botocore's responseCode
    arn = response["jobArn"]
    assert re.fullmatch(r"arn:aws:bedrock:us-east-1:123456789012:evaluation-job/[a-z0-9]{12}", arn)
    first = bedrock.get_evaluation_job(jobIdentifier=arn)
    assert first["status"] == "InProgress" and first["jobType"] == "Automated"
    assert first["jobDescription"] == "base model" and first["outputDataConfig"] == {"s3Uri": OUTPUT}
    assert results(s3, first)[0] == []  # nothing is written before the job completes
    job = finished(bedrock, arn)
    assert job["status"] == "Completed" and job["lastModifiedTime"] >= job["creationTime"]

    keys, records = results(s3, job)
    # UG model-evaluation-report-s3: <output>/<job name>/<job uuid>/models/<model>/taskTypes/<task>/datasets/
    # <dataset>/<file uuid>_output.jsonl
    (key,) = keys
    assert re.fullmatch(
        r"evaluation/eval-1/[0-9a-f-]{36}/models/amazon\.nova-micro-v1:0/taskTypes/QuestionAndAnswer/"
        r"datasets/qa/[0-9a-f-]{36}_output\.jsonl",
        key,
    ), key
    assert len(records) == 12
    record = records[0]
    assert set(record) == {"automatedEvaluationResult", "inputRecord", "modelResponses"}
    assert record["inputRecord"] == {
        "prompt": qa_pairs(12)[0][0],
        "referenceResponse": qa_pairs(12)[0][1],
        "category": "plans",
    }
    assert [s["metricName"] for s in record["automatedEvaluationResult"]["scores"]] == [
        "Builtin.Accuracy",
        "Builtin.Robustness",
        "Builtin.Toxicity",
    ]
    (answer,) = record["modelResponses"]
    assert answer["modelIdentifier"] == BASE and answer["response"]
    assert 0.0 <= mean(records, "Builtin.Accuracy") < 0.5 and mean(records, "Builtin.Toxicity") == 0.0


def test_a_fine_tuned_model_scores_better_than_its_base_model(s3: Any, bedrock: Any, dataset: str) -> None:
    model = completed_model(s3, bedrock, records=40)["outputModelArn"]
    throughput = provisioned(bedrock, model)
    base = finished(bedrock, bedrock.create_evaluation_job(**request(dataset))["jobArn"])
    tuned = finished(
        bedrock, bedrock.create_evaluation_job(**request(dataset, throughput, "eval-2"))["jobArn"]
    )
    assert base["status"] == tuned["status"] == "Completed"
    _, base_records = results(s3, base)
    keys, tuned_records = results(s3, tuned)
    assert f"/models/{throughput.rsplit('/', 1)[-1]}/" in keys[0]
    assert mean(tuned_records, "Builtin.Accuracy") > mean(base_records, "Builtin.Accuracy") + 0.3


def test_a_judge_job_scores_on_the_metric_scales_with_explanations(
    s3: Any, bedrock: Any, dataset: str
) -> None:
    automated = {
        "datasetMetricConfigs": [
            {
                "taskType": "Generation",
                "dataset": {"name": "qa", "datasetLocation": {"s3Uri": dataset}},
                "metricNames": ["Builtin.Correctness", "Builtin.Helpfulness"],
            }
        ],
        "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]},
    }
    arn = bedrock.create_evaluation_job(**request(dataset, evaluationConfig={"automated": automated}))[
        "jobArn"
    ]
    summary = bedrock.list_evaluation_jobs()["jobSummaries"][0]
    assert summary["evaluatorModelIdentifiers"] == [JUDGE] and summary["evaluationTaskTypes"] == [
        "Generation"
    ]
    job = finished(bedrock, arn)
    _, records = results(s3, job)
    scores = records[0]["automatedEvaluationResult"]["scores"]
    correctness, helpfulness = scores
    assert correctness["result"] in (0.0, 0.5, 1.0)  # a 3-point scale, normalised
    assert abs(helpfulness["result"] * 6 - round(helpfulness["result"] * 6)) < 0.01  # a 7-point scale
    assert correctness["evaluatorDetails"][0]["modelIdentifier"] == JUDGE
    assert correctness["evaluatorDetails"][0]["explanation"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"jobName": "Eval_1"}, "at 'jobName' failed to satisfy constraint"),
        ({"roleArn": "arn:aws:iam::123456789012:user/me"}, "at 'roleArn' failed to satisfy constraint"),
        ({"metricNames": ["Builtin.Correctness"]}, "Builtin.Correctness cannot be used in an automatic"),
        (
            {"taskType": "Classification", "metricNames": ["Builtin.Toxicity"]},
            "Builtin.Toxicity cannot be used in an automatic Classification",
        ),
        ({"dataset": {"name": "Builtin.BoolQ"}}, "no built-in prompt datasets"),
        (
            {"model": f"arn:aws:bedrock:us-east-1:123456789012:custom-model/{BASE}:128k/abcdefghijkl"},
            "modelIdentifier' failed to satisfy constraint",
        ),
        ({"model": "amazon.nova-giga-v9:0"}, "was not found"),
        ({"model": "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghijkl"}, "was not found"),
        ({"model": "amazon.titan-embed-text-v2:0"}, "embedding model"),
        ({"params": "maxTokens=5"}, "inferenceParams must be a JSON object"),
        (
            {"judge": "amazon.titan-text-express-v1"},
            "evaluator model amazon.titan-text-express-v1 is not supported",
        ),
        (
            {"judge": JUDGE, "metricNames": ["Builtin.Accuracy"]},
            "Builtin.Accuracy cannot be used in a model evaluation job that uses a model as judge",
        ),
        ({"models": 2}, "evaluates exactly one model"),
    ],
)
def test_requests_aws_refuses(s3: Any, bedrock: Any, dataset: str, change: dict, message: str) -> None:
    kwargs = request(dataset, change.get("model", BASE))
    config = kwargs["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]
    for key in ("taskType", "metricNames", "dataset"):
        if key in change:
            config[key] = change[key]
    if "judge" in change:
        kwargs["evaluationConfig"]["automated"]["evaluatorModelConfig"] = {
            "bedrockEvaluatorModels": [{"modelIdentifier": change["judge"]}]
        }
    if "params" in change:
        kwargs["inferenceConfig"]["models"][0]["bedrockModel"]["inferenceParams"] = change["params"]
    if "models" in change:
        kwargs["inferenceConfig"]["models"] *= 2
    for key in ("jobName", "roleArn"):
        if key in change:
            kwargs[key] = change[key]
    with pytest.raises(ClientError) as raised:
        bedrock.create_evaluation_job(**kwargs)
    code, text, status = error_code(raised)
    assert code in ("ValidationException", "ResourceNotFoundException") and status in (400, 404)
    assert message in text, text
    assert bedrock.list_evaluation_jobs().get("jobSummaries", []) == []


def test_the_dataset_is_checked_against_aws_s_format_and_limits(s3: Any, bedrock: Any) -> None:
    def refused(uri: str) -> str:
        with pytest.raises(ClientError) as raised:
            bedrock.create_evaluation_job(**request(uri))
        return error_code(raised)[1]

    assert "does not exist" in refused(f"s3://{BUCKET}/missing.jsonl")
    assert "must be a JSON Lines file with the .jsonl extension" in refused(f"s3://{BUCKET}/data.json")
    no_reference = put_jsonl(s3, "d/no-ref.jsonl", [{"prompt": "q"}])
    assert "line 1 of the custom prompt dataset" in refused(no_reference)
    assert '"referenceResponse"' in refused(no_reference)
    no_prompt = put_jsonl(
        s3, "d/no-prompt.jsonl", [{"prompt": "q", "referenceResponse": "a"}, {"question": "q"}]
    )
    assert "line 2 of the custom prompt dataset" in refused(no_prompt) and '"prompt"' in refused(no_prompt)
    too_many = put_jsonl(
        s3, "d/big.jsonl", [{"prompt": f"q{i}", "referenceResponse": "a"} for i in range(1001)]
    )
    assert "has 1001 prompts; an automatic evaluation job accepts at most 1000" in refused(too_many)


def test_token_name_conflict_and_tags(s3: Any, bedrock: Any, dataset: str) -> None:
    kwargs = request(dataset, clientRequestToken="token-1", jobTags=[{"key": "team", "value": "ml"}])
    arn = bedrock.create_evaluation_job(**kwargs)["jobArn"]
    assert bedrock.create_evaluation_job(**kwargs)["jobArn"] == arn  # idempotent repeat
    with pytest.raises(ClientError) as raised:
        bedrock.create_evaluation_job(**request(dataset, clientRequestToken="token-2"))
    assert error_code(raised)[0] == "ConflictException"
    assert bedrock.list_tags_for_resource(resourceARN=arn)["tags"] == [{"key": "team", "value": "ml"}]
    with pytest.raises(ClientError) as raised:
        bedrock.get_evaluation_job(jobIdentifier=arn[:-12] + "000000000000")
    assert error_code(raised)[0] == "ResourceNotFoundException"


def test_stop_goes_through_stopping_to_stopped_and_writes_nothing(
    s3: Any, bedrock: Any, dataset: str
) -> None:
    CONFIG.update(evaluation_seconds=30, stop_seconds=0.1)
    arn = bedrock.create_evaluation_job(**request(dataset))["jobArn"]
    bedrock.stop_evaluation_job(jobIdentifier=arn)
    assert bedrock.get_evaluation_job(jobIdentifier=arn)["status"] == "Stopping"
    job = finished(bedrock, arn)
    assert job["status"] == "Stopped" and results(s3, job)[0] == []
    with pytest.raises(ClientError) as raised:
        bedrock.stop_evaluation_job(jobIdentifier=arn)
    assert error_code(raised)[0] == "ConflictException"


def test_a_missing_output_bucket_fails_the_job(s3: Any, bedrock: Any, dataset: str) -> None:
    arn = bedrock.create_evaluation_job(
        **request(dataset, outputDataConfig={"s3Uri": "s3://no-such-bucket/x/"})
    )["jobArn"]
    job = finished(bedrock, arn)
    assert job["status"] == "Failed"
    assert "s3://no-such-bucket/x/ is not accessible" in job["failureMessages"][0]


def test_list_filters_sorts_and_pages(s3: Any, bedrock: Any, dataset: str) -> None:
    CONFIG.update(evaluation_seconds=30)
    arns = [bedrock.create_evaluation_job(**request(dataset, name=f"eval-{i}"))["jobArn"] for i in range(3)]
    bedrock.stop_evaluation_job(jobIdentifier=arns[1])
    names = [s["jobName"] for s in bedrock.list_evaluation_jobs()["jobSummaries"]]
    assert names == ["eval-2", "eval-1", "eval-0"]  # newest first by default
    ascending = bedrock.list_evaluation_jobs(sortOrder="Ascending")["jobSummaries"]
    assert [s["jobName"] for s in ascending] == ["eval-0", "eval-1", "eval-2"]
    first = bedrock.list_evaluation_jobs(maxResults=2, sortOrder="Ascending")
    assert len(first["jobSummaries"]) == 2 and first["nextToken"]
    rest = bedrock.list_evaluation_jobs(maxResults=2, sortOrder="Ascending", nextToken=first["nextToken"])
    assert [s["jobName"] for s in rest["jobSummaries"]] == ["eval-2"] and "nextToken" not in rest
    stopping = bedrock.list_evaluation_jobs(statusEquals="Stopping")["jobSummaries"]
    assert [s["jobArn"] for s in stopping] == [arns[1]]
    assert [s["jobName"] for s in bedrock.list_evaluation_jobs(nameContains="eval-2")["jobSummaries"]] == [
        "eval-2"
    ]
    assert bedrock.list_evaluation_jobs(applicationTypeEquals="RagEvaluation").get("jobSummaries", []) == []
    summary = bedrock.list_evaluation_jobs(nameContains="eval-0")["jobSummaries"][0]
    assert summary["modelIdentifiers"] == [BASE] and summary["jobType"] == "Automated"
    paginator = bedrock.get_paginator("list_evaluation_jobs")
    assert sum(len(p["jobSummaries"]) for p in paginator.paginate(PaginationConfig={"PageSize": 1})) == 3
