"""Nova 2 Lite fine-tuning takes no validation set: the job and preflight leave it out; baselines use profiles."""

from __future__ import annotations

from typing import Any
from unittest import mock

from bedrock_customization import catalog
from bedrock_customization.lifecycle import ResourceIdentity
from bedrock_customization.operators.customization import BedrockVpcCustomizeModelOperator
from bedrock_customization.preflight import Check, PreflightSpec, _note_ignored, _required_statements

ROLE = "arn:aws:iam::123456789012:role/BedrockCustomization"
BUCKET = "landing"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
VALIDATION = f"s3://{BUCKET}/data/validation.jsonl"


def _request(base_model_id: str, log: Any = None, **kwargs) -> dict:
    operator = BedrockVpcCustomizeModelOperator(
        task_id="customize",
        role_arn=ROLE,
        base_model_id=base_model_id,
        training_data_uri=f"s3://{BUCKET}/data/train.jsonl",
        validation_data_uri=VALIDATION,
        output_data_uri=f"s3://{BUCKET}/output/",
        deferrable=False,
        **kwargs,
    )
    if log is None:
        return operator.build_request(ResourceIdentity("dag", "run", "task"))
    with mock.patch.object(type(operator), "log", new_callable=mock.PropertyMock, return_value=log):
        return operator.build_request(ResourceIdentity("dag", "run", "task"))


def test_the_job_is_not_given_a_validation_set_nova_2_lite_does_not_take():
    log = mock.Mock()
    request = _request(NOVA_2_LITE, log=log)
    assert "validationDataConfig" not in request
    message = " ".join(
        call.args[0] % call.args[1:]
        for call in log.warning.call_args_list
        if "validation set" in call.args[0]
    )
    assert f"{NOVA_2_LITE} takes no validation set for FINE_TUNING" in message and VALIDATION in message
    custom = f"arn:aws:bedrock:us-east-1:123456789012:custom-model/{NOVA_2_LITE}/abcdef123456"
    assert "validationDataConfig" not in _request(custom)  # a custom model of Nova 2 Lite too


def test_other_models_still_get_their_validation_set():
    assert _request(NOVA_MICRO)["validationDataConfig"] == {"validators": [{"s3Uri": VALIDATION}]}
    assert "validationDataConfig" in _request(NOVA_MICRO, customization_type="DISTILLATION",
                                              teacher_model_id="amazon.nova-pro-v1:0")  # fmt: skip


def _spec(base_model: str, **kwargs) -> PreflightSpec:
    return PreflightSpec(
        region="us-east-1",
        base_model=base_model,
        role_arn=ROLE,
        training_uri=f"s3://{BUCKET}/data/train.jsonl",
        output_uri=f"s3://{BUCKET}/output/",
        validation_uris=(VALIDATION,),
        **kwargs,
    )


def test_preflight_neither_checks_nor_grants_an_unused_validation_set():
    spec = _spec(NOVA_2_LITE)
    assert spec.validation_uris == () and spec.ignored_validation_uris == (VALIDATION,)
    resources = str(_required_statements(spec, None))
    assert "data/train.jsonl" in resources and "data/validation.jsonl" not in resources
    check = _note_ignored(Check("training-data", True, "found s3://landing/data/train.jsonl (5 bytes)"), spec)
    assert check.ok and f"not checked: {VALIDATION} ({NOVA_2_LITE} takes no validation set" in check.detail

    kept = _spec(NOVA_MICRO)
    assert kept.validation_uris == (VALIDATION,) and kept.ignored_validation_uris == ()
    assert "data/validation.jsonl" in str(_required_statements(kept, None))
    # an unknown model or type keeps the files: base-model / customization-type report the real problem
    assert _spec("acme.unknown-v1:0").validation_uris == (VALIDATION,)
    assert _spec(NOVA_2_LITE, customization_type="DISTILLATION").validation_uris == (VALIDATION,)


def test_baselines_of_profiled_models_are_invoked_through_their_profile():
    for model in catalog.list_models():
        resolved = catalog.resolve_inference_id(model.id, model.on_demand_id)
        assert resolved == (model.inference_profile_id or model.on_demand_id)
