"""Contract tests: the emulator enforces AWS's documented rules from its own table (include/local_aws/catalog.py).

For every rule: one request AWS would reject is rejected with the error code botocore declares for the
operation and a message naming the field; one request AWS would accept is accepted. Cases are generated
from the table where possible.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from include.local_aws import catalog
from include.local_aws.bedrock import bedrock_backends

from .helpers import (
    ACCOUNT,
    BUCKET,
    NOVA_MICRO,
    ROLE,
    TITAN,
    client,
    completed_model,
    conversation,
    create_job,
    error_code,
    prompt_completion_records,
    provisioned,
    put_jsonl,
    qa_records,
    wait_for,
    wait_job,
)

REGIONS = ("us-east-1", "us-west-2")
SERVICE = botocore.session.get_session().get_service_model("bedrock")


def active(model: catalog.FoundationModel) -> bool:
    return catalog.lifecycle(model) != "EOL"


def current_teacher(student_id: str) -> str | None:
    """A distillation teacher of ``student_id`` before its end of life, or None."""
    return next(
        (t.model_id for t in catalog.TEACHERS if catalog.teacher_problem(student_id, t.model_id) is None),
        None,
    )


CUSTOMIZATIONS = [
    (model, c, region)
    for model in catalog.MODELS.values()
    if active(model)
    for c in model.customizations
    # A student whose every teacher is past end of life takes no distillation job (tested below).
    if c.kind != "DISTILLATION" or current_teacher(model.model_id)
    for region in c.regions
]
CASE_IDS = [f"{m.model_id}-{c.kind}-{r}" for m, c, r in CUSTOMIZATIONS]


def job_kwargs(
    model_id: str, customization: catalog.Customization | None = None, **extra: Any
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "jobName": "rule-job",
        "customModelName": "rule-model",
        "roleArn": ROLE,
        "baseModelIdentifier": model_id,
        "trainingDataConfig": {"s3Uri": f"s3://{BUCKET}/train.jsonl"},
        "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/out"},
    }
    if customization is not None:
        kwargs["customizationType"] = customization.kind
        if customization.kind == "DISTILLATION":
            kwargs["customizationConfig"] = {
                "distillationConfig": {
                    "teacherModelConfig": {"teacherModelIdentifier": current_teacher(model_id) or "none.none"}
                }
            }
        if customization.kind == "REINFORCEMENT_FINE_TUNING":
            kwargs["customizationConfig"] = {
                "rftConfig": {"graderConfig": {"lambdaGrader": {"lambdaArn": grader_function()}}}
            }
    kwargs.update(extra)
    return kwargs


def grader_function(name: str = "g") -> str:
    """The ARN of an RFT grader Lambda function, created in moto's Lambda backend unless it exists."""
    from tests.grader import create_grader

    lambda_client = client("lambda")
    try:
        return lambda_client.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    except lambda_client.exceptions.ResourceNotFoundException:
        return create_grader(lambda_client, client("iam"), name)


def with_hyper_parameters(
    kwargs: dict[str, Any], customization: catalog.Customization, values: dict[str, str]
) -> dict:
    if customization.hyper_parameters_in == "hyperParameters":
        return {**kwargs, "hyperParameters": values}
    config = json.loads(json.dumps(kwargs["customizationConfig"]))
    config["rftConfig"]["hyperParameters"] = {
        k: (float(v) if "." in v or "e" in v else int(v)) for k, v in values.items()
    }
    return {**kwargs, "customizationConfig": config}


def rejected(call: Any, code: str, *needles: str) -> str:
    with pytest.raises(ClientError) as exc:
        call()
    got, message, _ = error_code(exc)
    assert got == code, message
    for needle in needles:
        assert needle in message, message
    return message


# ---------------------------------------------------------------------------------------------
# ListFoundationModels / GetFoundationModel answer from the table and validate against botocore


def check_shape(value: Any, shape: Any, where: str) -> None:
    """Validate a parsed output value against a botocore shape (members, types, enums, required)."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), where
        assert set(value) <= set(shape.members), (where, set(value) - set(shape.members))
        for name in shape.required_members:
            assert name in value, (where, name)
        for name, item in value.items():
            check_shape(item, shape.members[name], f"{where}.{name}")
    elif kind == "list":
        assert isinstance(value, list), where
        for index, item in enumerate(value):
            check_shape(item, shape.member, f"{where}[{index}]")
    elif kind == "string":
        assert isinstance(value, str), where
        if shape.enum:
            assert value in shape.enum, (where, value)
    elif kind == "boolean":
        assert isinstance(value, bool), where
    elif kind == "timestamp":
        assert isinstance(value, dt.datetime), where


@pytest.mark.parametrize("region", REGIONS)
def test_list_foundation_models_is_the_table(aws: None, region: str) -> None:
    bedrock = client("bedrock", region_name=region)
    response = bedrock.list_foundation_models()
    output = SERVICE.operation_model("ListFoundationModels").output_shape
    check_shape(
        {k: v for k, v in response.items() if k != "ResponseMetadata"}, output, "ListFoundationModels"
    )
    listed = {s["modelId"]: s for s in response["modelSummaries"]}
    assert set(listed) == {m.model_id for m in catalog.listed(region)}
    for model_id, summary in listed.items():
        model = catalog.MODELS[model_id]
        assert summary["modelArn"] == f"arn:aws:bedrock:{region}::foundation-model/{model_id}"
        assert summary["modelLifecycle"]["status"] == catalog.lifecycle(model)
        expected = [k for k in catalog.customizations_in(model, region) if k in catalog.LISTED_CUSTOMIZATIONS]
        assert summary["customizationsSupported"] == expected
        details = bedrock.get_foundation_model(modelIdentifier=summary["modelArn"])
        check_shape(details["modelDetails"], SERVICE.shape_for("FoundationModelDetails"), model_id)
        assert details["modelDetails"] == summary
    # No Titan Text and no Cohere model is customizable; the embedding model is listed for inference.
    assert not any(
        m.startswith(("amazon.titan-text", "cohere.")) and s["customizationsSupported"]
        for m, s in listed.items()
    )
    assert listed["amazon.titan-embed-text-v2:0"]["outputModalities"] == ["EMBEDDING"]


def test_list_filters(aws: None) -> None:
    east = client("bedrock", region_name="us-east-1")
    west = client("bedrock", region_name="us-west-2")

    def ids(bedrock: Any, **filters: str) -> set[str]:
        return {s["modelId"] for s in bedrock.list_foundation_models(**filters)["modelSummaries"]}

    assert ids(east, byCustomizationType="FINE_TUNING") == {
        m.model_id
        for m in catalog.listed("us-east-1")
        if "FINE_TUNING" in catalog.customizations_in(m, "us-east-1")
    }
    assert NOVA_MICRO in ids(east, byCustomizationType="FINE_TUNING")
    assert "meta.llama3-1-8b-instruct-v1:0:128k" not in ids(east, byCustomizationType="FINE_TUNING")
    assert "meta.llama3-1-8b-instruct-v1:0:128k" in ids(
        west, byCustomizationType="FINE_TUNING", byProvider="meta"
    )
    assert all(i.startswith("meta.") for i in ids(west, byProvider="Meta"))
    assert "amazon.titan-embed-text-v2:0" in ids(east, byOutputModality="EMBEDDING")
    assert all(
        "PROVISIONED" in catalog.MODELS[i].inference_types for i in ids(east, byInferenceType="PROVISIONED")
    )
    rejected(
        lambda: east.list_foundation_models(byInferenceType="SOMETIMES"),
        "ValidationException",
        "byInferenceType",
    )


def test_eol_model_is_gone_from_listing_and_get(aws: None) -> None:
    west = client("bedrock", region_name="us-west-2")
    claude = "anthropic.claude-3-haiku-20240307-v1:0:200k"
    assert catalog.lifecycle(catalog.MODELS[claude], dt.date(2026, 9, 9)) == "LEGACY"
    assert catalog.lifecycle(catalog.MODELS[claude], dt.date(2026, 9, 10)) == "EOL"
    assert claude not in {s["modelId"] for s in west.list_foundation_models()["modelSummaries"]}
    rejected(lambda: west.get_foundation_model(modelIdentifier=claude), "ResourceNotFoundException", claude)
    rejected(
        lambda: west.get_foundation_model(modelIdentifier="acme.nothing-v1:0"), "ResourceNotFoundException"
    )


# ---------------------------------------------------------------------------------------------
# CreateModelCustomizationJob


@pytest.mark.parametrize(("model", "customization", "region"), CUSTOMIZATIONS, ids=CASE_IDS)
def test_documented_customization_is_accepted_with_documented_hyperparameters(
    aws: None, model: catalog.FoundationModel, customization: catalog.Customization, region: str
) -> None:
    bedrock = client("bedrock", region_name=region)
    base = job_kwargs(model.model_id, customization)
    lows = {hp.name: _num_text(hp.minimum, hp.kind) for hp in _bounded(customization)}
    bedrock.create_model_customization_job(**with_hyper_parameters(base, customization, lows))
    highs = {hp.name: _num_text(hp.maximum, hp.kind) for hp in _bounded(customization)}
    bedrock.create_model_customization_job(
        **with_hyper_parameters(
            {**base, "jobName": "rule-job-2", "customModelName": "rule-model-2"}, customization, highs
        )
    )


def _bounded(customization: catalog.Customization) -> list[catalog.HyperParameter]:
    """The hyperparameters with a documented numeric range (RFT's maxPromptLength, inferenceMaxTokens and
    reasoningEffort have none; test_rft_takes_every_documented_hyperparameter covers them)."""
    return [hp for hp in customization.hyper_parameters if not hp.choices and math.isfinite(hp.maximum)]


def _num_text(value: float, kind: str) -> str:
    return str(int(value)) if kind == "integer" else repr(float(value))


@pytest.mark.parametrize(("model", "customization", "region"), CUSTOMIZATIONS, ids=CASE_IDS)
def test_undocumented_hyperparameters_are_rejected(
    aws: None, model: catalog.FoundationModel, customization: catalog.Customization, region: str
) -> None:
    bedrock = client("bedrock", region_name=region)
    base = job_kwargs(model.model_id, customization)
    if customization.hyper_parameters_in == "hyperParameters":
        message = rejected(
            lambda: bedrock.create_model_customization_job(**{**base, "hyperParameters": {"notAKnob": "1"}}),
            "ValidationException",
            "hyperParameters.notAKnob",
        )
        assert all(hp.name in message for hp in customization.hyper_parameters)  # names the allowed values
    for hp in _bounded(customization):
        field = f"{customization.hyper_parameters_in}.{hp.name}"
        too_big = _num_text(hp.maximum * 10 + 1, hp.kind)
        # RFT hyperparameters are typed numbers in botocore's shape: only the range can be wrong there.
        bads = (
            [too_big]
            if customization.hyper_parameters_in != "hyperParameters"
            else [too_big, "abc", "1.5e400"]
        )
        for bad in bads:
            values = {hp.name: bad}
            rejected(
                lambda values=values: bedrock.create_model_customization_job(
                    **with_hyper_parameters(base, customization, values)
                ),
                "ValidationException",
                field,
            )
        if hp.kind == "integer" and customization.hyper_parameters_in == "hyperParameters":
            rejected(
                lambda hp=hp: bedrock.create_model_customization_job(
                    **{**base, "hyperParameters": {hp.name: "1.5"}}
                ),
                "ValidationException",
                field,
                "integer",
            )
    assert bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []


@pytest.mark.parametrize(("model", "customization", "region"), CUSTOMIZATIONS, ids=CASE_IDS)
def test_customization_outside_its_regions_is_rejected(
    aws: None, model: catalog.FoundationModel, customization: catalog.Customization, region: str
) -> None:
    others = [r for r in REGIONS if r not in customization.regions]
    if not others:
        pytest.skip("offered in both emulated Regions")
    bedrock = client("bedrock", region_name=others[0])
    message = rejected(
        lambda: bedrock.create_model_customization_job(**job_kwargs(model.model_id, customization)),
        "ValidationException",
        model.model_id,
        others[0],
    )
    assert all(r in message for r in customization.regions)


@pytest.mark.parametrize(
    "model",
    [m for m in catalog.MODELS.values() if active(m) and not m.customizations],
    ids=lambda m: m.model_id,
)
def test_models_that_are_not_customizable_are_rejected(aws: None, model: catalog.FoundationModel) -> None:
    bedrock = client("bedrock", region_name=model.regions[0])
    rejected(
        lambda: bedrock.create_model_customization_job(**job_kwargs(model.model_id)),
        "ValidationException",
        "baseModelIdentifier",
        model.model_id,
    )


@pytest.mark.parametrize(
    ("model", "kind"),
    [
        (m, kind)
        for m in catalog.MODELS.values()
        if active(m) and m.customizations
        for kind in ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION", "REINFORCEMENT_FINE_TUNING")
        if m.customization(kind) is None
    ],
    ids=lambda v: v.model_id if isinstance(v, catalog.FoundationModel) else v,
)
def test_customization_types_not_offered_are_rejected(
    aws: None, model: catalog.FoundationModel, kind: str
) -> None:
    bedrock = client("bedrock", region_name=model.customizations[0].regions[0])
    message = rejected(
        lambda: bedrock.create_model_customization_job(**job_kwargs(model.model_id, customizationType=kind)),
        "ValidationException",
        "customizationType",
        kind,
    )
    assert all(c.kind in message for c in model.customizations)


def test_titan_text_and_eol_and_unknown_base_models(aws: None) -> None:
    east = client("bedrock")
    west = client("bedrock", region_name="us-west-2")
    rejected(
        lambda: east.create_model_customization_job(**job_kwargs(TITAN)),
        "ValidationException",
        "baseModelIdentifier",
    )
    rejected(
        lambda: west.create_model_customization_job(
            **job_kwargs("anthropic.claude-3-haiku-20240307-v1:0:200k")
        ),
        "ValidationException",
        "baseModelIdentifier",
        "end of life",
        "2026-09-10",
    )
    rejected(
        lambda: east.create_model_customization_job(**job_kwargs("acme.no-such-model-v1:0")),
        "ResourceNotFoundException",
        "baseModelIdentifier",
        "acme.no-such-model-v1:0",
    )
    rejected(
        lambda: east.create_model_customization_job(**job_kwargs("no-such-custom-model")),
        "ResourceNotFoundException",
        "baseModelIdentifier",
    )


@pytest.mark.parametrize(("model", "customization", "region"), CUSTOMIZATIONS, ids=CASE_IDS)
def test_validation_set_only_where_the_model_takes_one(
    aws: None, model: catalog.FoundationModel, customization: catalog.Customization, region: str
) -> None:
    bedrock = client("bedrock", region_name=region)
    kwargs = job_kwargs(
        model.model_id,
        customization,
        validationDataConfig={"validators": [{"s3Uri": f"s3://{BUCKET}/v.jsonl"}]},
    )
    if customization.validation:
        bedrock.create_model_customization_job(**kwargs)
    else:
        rejected(
            lambda: bedrock.create_model_customization_job(**kwargs),
            "ValidationException",
            "validationDataConfig",
        )
        bedrock.create_model_customization_job(
            **{k: v for k, v in kwargs.items() if k != "validationDataConfig"}
        )


def distillation(student: str, teacher: str) -> dict[str, Any]:
    return job_kwargs(
        student,
        customizationType="DISTILLATION",
        customizationConfig={
            "distillationConfig": {"teacherModelConfig": {"teacherModelIdentifier": teacher}}
        },
    )


@pytest.mark.parametrize(
    "teacher",
    [
        "amazon.nova-pro-v1:0",
        "us.amazon.nova-pro-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
    ],
)
def test_a_documented_teacher_is_accepted_by_any_spelling(aws: None, teacher: str) -> None:
    arn = client("bedrock").create_model_customization_job(**distillation(NOVA_MICRO, teacher))["jobArn"]
    job = client("bedrock").get_model_customization_job(jobIdentifier=arn)
    assert job["customizationType"] == "DISTILLATION"
    assert (
        job["customizationConfig"]["distillationConfig"]["teacherModelConfig"]["teacherModelIdentifier"]
        == teacher
    )


def test_distillation_refuses_teachers_not_paired_with_the_student(aws: None) -> None:
    bedrock = client("bedrock")
    # Not a teacher at all (a student cannot teach itself), and Llama teaching a Nova student.
    for teacher in (NOVA_MICRO.rsplit(":", 1)[0], "meta.llama3-1-70b-instruct-v1:0"):
        error = rejected(
            lambda teacher=teacher: bedrock.create_model_customization_job(
                **distillation(NOVA_MICRO, teacher)
            ),
            "ValidationException",
            teacher,
        )
        assert "amazon.nova-pro-v1:0" in str(error)  # names the supported teachers


def test_a_teacher_past_end_of_life_is_refused_and_nova_pro_has_no_other(aws: None) -> None:
    # Nova Premier (model card: end of life 2026-09-14) was the only teacher of Nova Pro.
    bedrock = client("bedrock")
    for student in (NOVA_MICRO, "amazon.nova-pro-v1:0:300k"):
        error = rejected(
            lambda student=student: bedrock.create_model_customization_job(
                **distillation(student, "amazon.nova-premier-v1:0")
            ),
            "ValidationException",
            "end of life",
        )
        assert "2026-09-14" in str(error)


def test_distillation_and_rft_need_their_configuration(aws: None) -> None:
    bedrock = client("bedrock")
    rejected(
        lambda: bedrock.create_model_customization_job(
            **job_kwargs(NOVA_MICRO, customizationType="DISTILLATION")
        ),
        "ValidationException",
        "teacherModelIdentifier",
    )
    rejected(
        lambda: bedrock.create_model_customization_job(
            **job_kwargs("amazon.nova-2-lite-v1:0:256k", customizationType="REINFORCEMENT_FINE_TUNING")
        ),
        "ValidationException",
        "lambdaArn",
    )


# ---------------------------------------------------------------------------------------------
# Record formats are checked when the job runs


NOVA_GOOD = conversation("What is plan 1?", "Plan 1 has 10 GB.", system="You answer quota questions.")
NOVA_BAD = {
    "no-schema": {k: v for k, v in NOVA_GOOD.items() if k != "schemaVersion"},
    "prompt-completion": {"prompt": "q", "completion": "a"},
    "ends-with-user": conversation("q", None),
    "assistant-first": {**NOVA_GOOD, "messages": NOVA_GOOD["messages"][::-1]},
    "string-content": {
        **NOVA_GOOD,
        "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
    },
    "reserved-word": conversation("User: what is plan 1?", "Plan 1 has 10 GB."),
}


@pytest.mark.parametrize("case", sorted(NOVA_BAD))
def test_bad_nova_record_fails_the_job_naming_the_line(s3: Any, bedrock: Any, case: str) -> None:
    records = [NOVA_GOOD] * 9 + [NOVA_BAD[case]] + [NOVA_GOOD] * 2
    arn = create_job(bedrock, training=put_jsonl(s3, f"{case}.jsonl", records))
    job = wait_job(bedrock, arn)
    assert job["status"] == "Failed"
    assert "line 10" in job["failureMessage"] and f"s3://{BUCKET}/{case}.jsonl" in job["failureMessage"]
    assert "bedrock-conversation-2024" in job["failureMessage"]


def test_distillation_records_are_prompts_with_an_optional_answer(s3: Any, bedrock: Any) -> None:
    # Prompts alone and prompt-answer pairs train (NOVA_DISTILL); a second exchange fails the job.
    config = {
        "distillationConfig": {"teacherModelConfig": {"teacherModelIdentifier": "amazon.nova-pro-v1:0"}}
    }
    mixed = [conversation(f"Question {i}?", None if i % 2 else f"Answer {i}.") for i in range(10)]
    arn = create_job(
        bedrock, "distill-ok", training=put_jsonl(s3, "distill-ok.jsonl", mixed),
        customizationType="DISTILLATION", customizationConfig=config,
    )  # fmt: skip
    assert wait_job(bedrock, arn)["status"] == "Completed"
    two = conversation("Q?", "A.")
    two["messages"] += [{"role": "user", "content": [{"text": "Q2?"}]}]
    arn = create_job(
        bedrock, "distill-bad", training=put_jsonl(s3, "distill-bad.jsonl", [*mixed, two]),
        customizationType="DISTILLATION", customizationConfig=config,
    )  # fmt: skip
    job = wait_job(bedrock, arn)
    assert job["status"] == "Failed" and "line 11" in job["failureMessage"], job


def test_invalid_json_and_bad_validation_records_fail(s3: Any, bedrock: Any) -> None:
    s3.put_object(
        Bucket=BUCKET, Key="broken.jsonl", Body=(json.dumps(NOVA_GOOD) + "\n{not json\n").encode() * 5
    )
    job = wait_job(bedrock, create_job(bedrock, "broken", training=f"s3://{BUCKET}/broken.jsonl"))
    assert job["status"] == "Failed" and "line 2: not valid JSON" in job["failureMessage"]
    training = put_jsonl(s3, "ok.jsonl", qa_records(10))
    validation = put_jsonl(s3, "bad-val.jsonl", [{"prompt": "q", "completion": "a"}])
    job = wait_job(bedrock, create_job(bedrock, "val", training=training, validation=validation))
    assert (
        job["status"] == "Failed"
        and "Validation data" in job["failureMessage"]
        and "line 1" in job["failureMessage"]
    )


def test_record_counts_outside_the_documented_limits_fail(s3: Any, bedrock: Any) -> None:
    limits = catalog.MODELS[NOVA_MICRO].customization("FINE_TUNING")
    assert limits is not None and limits.min_records == 8
    job = wait_job(bedrock, create_job(bedrock, "few", training=put_jsonl(s3, "few.jsonl", qa_records(7))))
    assert (
        job["status"] == "Failed"
        and "7 records" in job["failureMessage"]
        and "between 8 and 20000" in job["failureMessage"]
    )
    job = wait_job(
        bedrock, create_job(bedrock, "enough", training=put_jsonl(s3, "enough.jsonl", qa_records(8)))
    )
    assert job["status"] == "Completed"


def test_llama_3_1_takes_prompt_completion_in_us_west_2(s3: Any) -> None:
    west = client("bedrock", region_name="us-west-2")
    base = "meta.llama3-1-8b-instruct-v1:0:128k"
    good = put_jsonl(s3, "llama.jsonl", prompt_completion_records(100))
    job = wait_job(
        west, create_job(west, "llama-ok", base=base, training=good, hyperParameters={"epochCount": "2"})
    )
    assert job["status"] == "Completed", job.get("failureMessage")
    wrong = put_jsonl(s3, "llama-conv.jsonl", qa_records(100))
    job = wait_job(west, create_job(west, "llama-bad", base=base, training=wrong))
    assert (
        job["status"] == "Failed"
        and "line 1" in job["failureMessage"]
        and '"prompt"' in job["failureMessage"]
    )


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("continued-pre-training", {"input": "Some domain text."}, {"input": ""}),
        (
            "claude-messages",
            {
                "system": "s",
                "messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
            },
            {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "q"}]},
        ),
        (
            "distillation-prompts",
            conversation("q", None),
            conversation("q", "a") | {"messages": conversation("q", "a")["messages"] * 2},
        ),
        (
            "image-caption",
            {"image-ref": "s3://b/i.png", "caption": "a cat"},
            {"image-ref": "https://x/i.png", "caption": "a cat"},
        ),
        ("prompt-completion", {"prompt": "q", "completion": "a"}, {"prompt": "q"}),
        (
            "rft-prompts",
            {"messages": [{"role": "user", "content": "q"}], "reference_answer": {"answer": "a"}},
            {"messages": [{"role": "user", "content": "q"}]},
        ),
    ],
)
def test_record_formats(fmt: str, good: dict, bad: dict) -> None:
    assert catalog.record_problem(fmt, good) is None
    assert catalog.record_problem(fmt, bad)


def test_fail_jobs_knob_still_wins_over_record_checks(s3: Any, bedrock: Any) -> None:
    from include.local_aws import CONFIG

    CONFIG.update(fail_jobs="^doomed", fail_message="Simulated.")
    job = wait_job(
        bedrock, create_job(bedrock, "doomed-1", training=put_jsonl(s3, "t.jsonl", qa_records(10)))
    )
    assert job["failureMessage"] == "Simulated."


# ---------------------------------------------------------------------------------------------
# Provisioned Throughput


def test_committed_throughput_cannot_be_deleted_before_the_term_ends(s3: Any, bedrock: Any) -> None:
    model = completed_model(s3, bedrock)["outputModelArn"]
    committed = provisioned(bedrock, model, "committed", commitmentDuration="OneMonth")
    rejected(
        lambda: bedrock.delete_provisioned_model_throughput(provisionedModelId=committed),
        "ConflictException",
        "committed",
        "OneMonth",
    )
    free = provisioned(bedrock, model, "no-commitment")
    bedrock.delete_provisioned_model_throughput(provisionedModelId=free)
    backend = bedrock_backends[ACCOUNT]["us-east-1"]
    backend.throughputs[committed].created -= dt.timedelta(days=31)  # the term is over
    bedrock.delete_provisioned_model_throughput(provisionedModelId=committed)


def test_base_model_throughput_cannot_switch_model(s3: Any, bedrock: Any) -> None:
    model = completed_model(s3, bedrock)["outputModelArn"]
    base_pt = provisioned(bedrock, NOVA_MICRO, "base-pt")
    rejected(
        lambda: bedrock.update_provisioned_model_throughput(provisionedModelId=base_pt, desiredModelId=model),
        "ValidationException",
        "desiredModelId",
        "base-pt",
    )
    custom_pt = provisioned(bedrock, model, "custom-pt")
    bedrock.update_provisioned_model_throughput(provisionedModelId=custom_pt, desiredModelId=NOVA_MICRO)


@pytest.mark.parametrize(
    "model",
    [
        m
        for m in catalog.MODELS.values()
        if active(m) and "PROVISIONED" in m.inference_types and "us-east-1" in m.regions
    ],
    ids=lambda m: m.model_id,
)
def test_base_model_commitment_rules(aws: None, model: catalog.FoundationModel) -> None:
    bedrock = client("bedrock")

    def create(name: str, **extra: Any) -> dict:
        return bedrock.create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName=name, modelId=model.model_id, **extra
        )

    create("committed", commitmentDuration="SixMonths")
    if model.base_no_commitment:
        create("uncommitted")
    else:
        message = rejected(
            lambda: create("uncommitted"), "ValidationException", "commitmentDuration", model.model_id
        )
        assert "OneMonth" in message and "SixMonths" in message


def test_throughput_needs_a_provisioned_model_id(aws: None) -> None:
    bedrock = client("bedrock")
    rejected(
        lambda: bedrock.create_provisioned_model_throughput(
            modelUnits=1,
            provisionedModelName="pt",
            modelId="amazon.nova-micro-v1:0",
            commitmentDuration="OneMonth",
        ),
        "ValidationException",
        "modelId",
        NOVA_MICRO,
    )


# ---------------------------------------------------------------------------------------------
# On-demand custom model deployment


def test_deployment_eligibility(s3: Any, bedrock: Any) -> None:
    model_arn = completed_model(s3, bedrock)["outputModelArn"]
    backend = bedrock_backends[ACCOUNT]["us-east-1"]
    model = backend.models[model_arn]
    model.created = dt.datetime(2025, 7, 15, tzinfo=dt.UTC)
    rejected(
        lambda: bedrock.create_custom_model_deployment(modelDeploymentName="old", modelArn=model_arn),
        "ValidationException",
        "modelArn",
        "2025-07-16",
    )
    model.created = dt.datetime(2025, 7, 16, tzinfo=dt.UTC)
    bedrock.create_custom_model_deployment(modelDeploymentName="ok", modelArn=model_arn)
    # Another Region: the same model copied into eu-west-1's state is refused there.
    bedrock_backends[ACCOUNT]["eu-west-1"].models[model_arn] = model
    europe = client("bedrock", region_name="eu-west-1")
    rejected(
        lambda: europe.create_custom_model_deployment(modelDeploymentName="eu", modelArn=model_arn),
        "ValidationException",
        "modelArn",
        "us-east-1",
        "us-west-2",
    )


def test_deployment_needs_a_supported_base_model(s3: Any) -> None:
    west = client("bedrock", region_name="us-west-2")
    data = put_jsonl(s3, "llama.jsonl", prompt_completion_records(100))
    job = wait_job(west, create_job(west, "llama", base="meta.llama3-1-8b-instruct-v1:0:128k", training=data))
    rejected(
        lambda: west.create_custom_model_deployment(
            modelDeploymentName="dep", modelArn=job["outputModelArn"]
        ),
        "ValidationException",
        "modelArn",
        "meta.llama3-1-8b-instruct-v1:0:128k",
        NOVA_MICRO,
    )


# ---------------------------------------------------------------------------------------------
# Import architectures, identifiers


@pytest.mark.parametrize(("model_type", "classes"), sorted(catalog.IMPORT_ARCHITECTURES.items()))
def test_import_architectures_from_the_table(s3: Any, bedrock: Any, model_type: str, classes: tuple) -> None:
    config = {"model_type": model_type, "architectures": list(classes)}
    s3.put_object(Bucket=BUCKET, Key=f"{model_type}/config.json", Body=json.dumps(config).encode())
    s3.put_object(Bucket=BUCKET, Key=f"{model_type}/model.safetensors", Body=b"\0")
    arn = bedrock.create_model_import_job(
        jobName=f"imp-{model_type.replace('_', '-')}",
        importedModelName=f"m-{model_type.replace('_', '-')}",
        roleArn=ROLE,
        modelDataSource={"s3DataSource": {"s3Uri": f"s3://{BUCKET}/{model_type}/"}},
    )["jobArn"]
    job = wait_for(
        lambda: bedrock.get_model_import_job(jobIdentifier=arn), lambda j: j["status"] != "InProgress"
    )
    assert job["status"] == "Completed", job.get("failureMessage")
    assert not catalog.import_architecture_ok("bert", ["BertForMaskedLM"])


@pytest.mark.parametrize(
    ("method", "field"),
    [
        ("get_model_customization_job", "jobIdentifier"),
        ("stop_model_customization_job", "jobIdentifier"),
        ("get_custom_model", "modelIdentifier"),
        ("delete_custom_model", "modelIdentifier"),
        ("get_provisioned_model_throughput", "provisionedModelId"),
        ("delete_provisioned_model_throughput", "provisionedModelId"),
        ("get_model_import_job", "jobIdentifier"),
        ("get_imported_model", "modelIdentifier"),
        ("get_custom_model_deployment", "customModelDeploymentIdentifier"),
        ("get_foundation_model", "modelIdentifier"),
    ],
)
def test_identifiers_violating_the_declared_pattern(bedrock: Any, method: str, field: str) -> None:
    rejected(
        lambda: getattr(bedrock, method)(**{field: "not valid!"}), "ValidationException", field, "pattern"
    )


# ---------------------------------------------------------------------------------------------
# Reinforcement fine-tuning: the Lambda grader and the RFT records

NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"


def _rft_records(count: int) -> list[dict]:
    return [
        {"messages": [{"role": "user", "content": f"Question {i}?"}], "reference_answer": f"Answer {i}."}
        for i in range(count)
    ]


def _rft_config(grader: str, **hyper_parameters: Any) -> dict:
    config: dict[str, Any] = {"graderConfig": {"lambdaGrader": {"lambdaArn": grader}}}
    if hyper_parameters:
        config["hyperParameters"] = hyper_parameters
    return {"rftConfig": config}


def test_rft_takes_every_documented_hyperparameter_and_trains_on_prompts_with_reference_answers(
    s3: Any, bedrock: Any
) -> None:
    every = {
        "epochCount": 2, "batchSize": 16, "learningRate": 1e-5, "maxPromptLength": 4096,
        "trainingSamplePerPrompt": 4, "inferenceMaxTokens": 1024, "reasoningEffort": "medium",
        "evalInterval": 10,
    }  # fmt: skip
    arn = create_job(
        bedrock, "rft-ok", base=NOVA_2_LITE, training=put_jsonl(s3, "rft.jsonl", _rft_records(100)),
        customizationType="REINFORCEMENT_FINE_TUNING",
        customizationConfig=_rft_config(grader_function(), **every),
    )  # fmt: skip
    job = wait_job(bedrock, arn)
    assert job["status"] == "Completed", job.get("failureMessage")
    assert job["customizationConfig"]["rftConfig"]["hyperParameters"] == every
    assert bedrock.get_custom_model(modelIdentifier=job["outputModelArn"])["customizationType"] == (
        "REINFORCEMENT_FINE_TUNING"
    )


def test_rft_refuses_a_bad_reasoning_effort_and_a_grader_that_is_not_a_lambda_function_arn(
    bedrock: Any,
) -> None:
    rejected(
        lambda: create_job(
            bedrock, "rft-effort", base=NOVA_2_LITE, customizationType="REINFORCEMENT_FINE_TUNING",
            customizationConfig=_rft_config(grader_function(), reasoningEffort="extreme"),
        ),
        "ValidationException", "reasoningEffort", "one of low, medium, high",
    )  # fmt: skip
    for bad in (
        "reward",
        "arn:aws:lambda:us-east-1:123456789012:layer:reward",
        "arn:aws:iam::123456789012:role/r",
    ):
        rejected(
            lambda bad=bad: create_job(
                bedrock, "rft-arn", base=NOVA_2_LITE, customizationType="REINFORCEMENT_FINE_TUNING",
                customizationConfig=_rft_config(bad),
            ),
            "ValidationException", "lambdaArn", "regular expression pattern",
        )  # fmt: skip


def test_rft_grader_must_exist_in_the_jobs_account_and_region(aws: None) -> None:
    bedrock = client("bedrock")
    grader = grader_function()
    missing = grader.replace(":function:g", ":function:no-such-grader")
    message = rejected(
        lambda: create_job(
            bedrock, "rft-missing", base=NOVA_2_LITE, customizationType="REINFORCEMENT_FINE_TUNING",
            customizationConfig=_rft_config(missing),
        ),
        "ValidationException", f"the Lambda function {missing} does not exist",
    )  # fmt: skip
    assert "rft-access-security" in message
    elsewhere = grader.replace("us-east-1", "us-west-2")
    rejected(
        lambda: create_job(
            bedrock, "rft-west", base=NOVA_2_LITE, customizationType="REINFORCEMENT_FINE_TUNING",
            customizationConfig=_rft_config(elsewhere),
        ),
        "ValidationException", "must be a Lambda function of account", "in us-east-1",
    )  # fmt: skip
    assert bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []


def test_rft_fails_with_too_few_prompts_or_records_without_a_reference_answer(s3: Any, bedrock: Any) -> None:
    config = _rft_config(grader_function())
    few = create_job(
        bedrock, "rft-few", base=NOVA_2_LITE, training=put_jsonl(s3, "few.jsonl", _rft_records(99)),
        customizationType="REINFORCEMENT_FINE_TUNING", customizationConfig=config,
    )  # fmt: skip
    job = wait_job(bedrock, few)
    assert job["status"] == "Failed" and "has 99 records" in job["failureMessage"]
    assert "between 100 and 20000" in job["failureMessage"] and "rft-prepare-data" in job["failureMessage"]
    records = _rft_records(100)
    del records[41]["reference_answer"]
    bad = create_job(
        bedrock, "rft-bad", base=NOVA_2_LITE, training=put_jsonl(s3, "bad.jsonl", records),
        customizationType="REINFORCEMENT_FINE_TUNING", customizationConfig=config,
    )  # fmt: skip
    job = wait_job(bedrock, bad)
    assert job["status"] == "Failed" and "line 42" in job["failureMessage"]
    assert "reference_answer" in job["failureMessage"]
