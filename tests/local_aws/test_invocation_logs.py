"""Customization jobs trained on model invocation logs (trainingDataConfig.invocationLogsConfig)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from include.local_aws.answers import similarity
from tests.records import invocation_log, invocation_log_object

from .helpers import BUCKET, NOVA_MICRO, ROLE, client, error_code, provisioned, qa_pairs, wait_job

TEACHER = "amazon.nova-pro-v1:0"
LOGS = f"s3://{BUCKET}/AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/"
WRONG = "Please contact the sales team; storage is not included in any plan."


def put_logs(s3: Any, records: list[dict], name: str = "2026/11/20/10/batch-1.json.gz") -> None:
    key = LOGS.removeprefix(f"s3://{BUCKET}/") + name
    s3.put_object(Bucket=BUCKET, Key=key, Body=invocation_log_object(records))


def support_and_playground_logs(n: int = 20) -> list[dict]:
    """The support bot's calls (tagged app=support-bot, right answers) and playground calls of the same
    questions (tagged app=playground, a wrong answer)."""
    records = []
    for i, (question, answer) in enumerate(qa_pairs(n)):
        records.append(invocation_log(question, answer, {"app": "support-bot"}, request_id=f"s-{i}"))
        records.append(invocation_log(question, WRONG, {"app": "playground"}, request_id=f"p-{i}"))
    return records


def distill(bedrock: Any, name: str = "distil-1", **logs_config: Any) -> str:
    config = {"invocationLogSource": {"s3Uri": LOGS}, **logs_config}
    return bedrock.create_model_customization_job(
        jobName=name,
        customModelName=f"{name}-model",
        roleArn=ROLE,
        baseModelIdentifier=NOVA_MICRO,
        customizationType="DISTILLATION",
        customizationConfig={
            "distillationConfig": {"teacherModelConfig": {"teacherModelIdentifier": TEACHER}}
        },
        trainingDataConfig={"invocationLogsConfig": config},
        outputDataConfig={"s3Uri": f"s3://{BUCKET}/output"},
    )["jobArn"]


def answer(model_arn: str, prompt: str) -> str:
    serving = provisioned(client("bedrock"), model_arn, name=f"pt-{model_arn[-6:]}")
    response = client("bedrock-runtime").converse(
        modelId=serving, messages=[{"role": "user", "content": [{"text": prompt}]}]
    )
    return response["output"]["message"]["content"][0]["text"]


def test_the_logged_responses_of_the_filtered_calls_are_what_the_student_learns(s3: Any) -> None:
    bedrock = client("bedrock")
    put_logs(s3, support_and_playground_logs())

    arn = distill(bedrock, usePromptResponse=True, requestMetadataFilters={"equals": {"app": "support-bot"}})
    job = wait_job(bedrock, arn)

    assert job["status"] == "Completed", job
    assert job["trainingDataConfig"]["invocationLogsConfig"]["requestMetadataFilters"] == {
        "equals": {"app": "support-bot"}
    }
    question, right = qa_pairs(20)[7]
    said = answer(job["outputModelArn"], question)
    assert similarity(said, right) > 0.8 > 0.5 > similarity(said, WRONG)


def test_without_a_filter_the_playground_answers_are_learned_too(s3: Any) -> None:
    bedrock = client("bedrock")
    put_logs(s3, support_and_playground_logs())

    job = wait_job(bedrock, distill(bedrock, usePromptResponse=True))

    assert job["status"] == "Completed", job
    # Every question was logged twice; the earliest record of a question (the support bot's) wins the tie,
    # but the wrong answer is in the student's memory: a question about it recalls it.
    said = answer(job["outputModelArn"], "Which team do I contact, as storage is not in any plan?")
    assert similarity(said, WRONG) > 0.5


def test_prompts_only_are_answered_by_the_teacher_not_by_the_logged_responses(s3: Any) -> None:
    bedrock = client("bedrock")
    put_logs(s3, support_and_playground_logs())

    job = wait_job(bedrock, distill(bedrock, requestMetadataFilters={"equals": {"app": "support-bot"}}))

    assert job["status"] == "Completed", job
    question, logged = qa_pairs(20)[3]
    teacher_says = client("bedrock-runtime").converse(
        modelId=TEACHER, messages=[{"role": "user", "content": [{"text": question}]}]
    )["output"]["message"]["content"][0]["text"]
    said = answer(job["outputModelArn"], question)
    assert similarity(said, teacher_says) > similarity(said, logged)


def test_and_all_and_or_all_combine_base_filters(s3: Any) -> None:
    bedrock = client("bedrock")
    records = [
        invocation_log(q, a, {"app": "support-bot", "tier": "gold" if i % 2 else "free"}, request_id=f"r-{i}")
        for i, (q, a) in enumerate(qa_pairs(10))
    ]
    put_logs(s3, records)
    gold = {"andAll": [{"equals": {"app": "support-bot"}}, {"notEquals": {"tier": "free"}}]}
    nobody = {"orAll": [{"equals": {"app": "playground"}}, {"equals": {"tier": "platinum"}}]}

    completed = wait_job(
        bedrock, distill(bedrock, "gold", usePromptResponse=True, requestMetadataFilters=gold)
    )
    failed = wait_job(
        bedrock, distill(bedrock, "none", usePromptResponse=True, requestMetadataFilters=nobody)
    )

    assert completed["status"] == "Completed", completed
    assert failed["status"] == "Failed" and "matches requestMetadataFilters" in failed["failureMessage"]


@pytest.mark.parametrize(
    ("logs_config", "message"),
    [
        ({"requestMetadataFilters": {"equals": {"app": "a"}, "notEquals": {"app": "b"}}}, "union"),
        ({"requestMetadataFilters": {"equals": {"app": "a", "team": "b"}}}, "exactly one key"),
        ({"requestMetadataFilters": {"equals": {"app name!": "a"}}}, "must match"),
        (
            {"requestMetadataFilters": {"andAll": [{"equals": {"k": str(i)}} for i in range(17)]}},
            "between 1 and 16",
        ),
    ],
)
def test_request_metadata_filters_follow_the_api_shape(s3: Any, logs_config: dict, message: str) -> None:
    put_logs(s3, support_and_playground_logs(2))
    # botocore checks unions itself: without its validation the request reaches the service.
    unchecked = client("bedrock", config=Config(parameter_validation=False))
    with pytest.raises(ClientError) as exc:
        distill(unchecked, **logs_config)
    code, text, status = error_code(exc)
    assert (code, status) == ("ValidationException", 400) and message in text


def test_the_logs_must_be_there_and_feed_only_distillation_or_rft(s3: Any) -> None:
    bedrock = client("bedrock")
    with pytest.raises(ClientError) as exc:
        distill(bedrock)
    code, text, _ = error_code(exc)
    assert code == "ValidationException" and LOGS in text and "No invocation logs" in text

    put_logs(s3, support_and_playground_logs(2))
    with pytest.raises(ClientError) as exc:
        bedrock.create_model_customization_job(
            jobName="ft",
            customModelName="ft-model",
            roleArn=ROLE,
            baseModelIdentifier=NOVA_MICRO,
            trainingDataConfig={"invocationLogsConfig": {"invocationLogSource": {"s3Uri": LOGS}}},
            outputDataConfig={"s3Uri": f"s3://{BUCKET}/output"},
        )
    code, text, _ = error_code(exc)
    assert code == "ValidationException" and "not supported for customizationType FINE_TUNING" in text
    assert "distillation-data-prep-option-2" in text


def test_logged_calls_without_responses_fail_a_prompt_response_job(s3: Any) -> None:
    bedrock = client("bedrock")
    put_logs(s3, [invocation_log("What is plan 1?", "Plan 1 has 10 GB."), invocation_log("And plan 2?", None,
             request_id="no-output")])  # fmt: skip

    job = wait_job(bedrock, distill(bedrock, usePromptResponse=True))

    assert job["status"] == "Failed" and "no-output" in job["failureMessage"]
    assert "usePromptResponse" in job["failureMessage"]


def test_more_than_15k_prompts_fail_the_job(s3: Any) -> None:
    bedrock = client("bedrock")
    put_logs(
        s3, [invocation_log(f"Question {i}?", None, {"app": "bot"}, request_id=str(i)) for i in range(15_001)]
    )

    job = wait_job(bedrock, distill(bedrock, requestMetadataFilters={"equals": {"app": "bot"}}))

    assert (
        job["status"] == "Failed"
        and "15001" in job["failureMessage"]
        and "at most 15000" in job["failureMessage"]
    )
