"""The model catalog encodes the Bedrock facts (models, formats, limits, hyperparameters) and checks input."""

from __future__ import annotations

import json
import pickle
from datetime import date
from importlib import resources

import pytest

from bedrock_customization import catalog
from bedrock_customization.exceptions import (
    BedrockCustomizationError,
    HyperparameterError,
    UnknownModelError,
    UnsupportedCustomizationError,
)

TITAN_EXPRESS = "amazon.titan-text-express-v1:0:8k"
TITAN_LITE = "amazon.titan-text-lite-v1:0:4k"
TITAN_PREMIER = "amazon.titan-text-premier-v1:0:32k"
CLAUDE_HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
LLAMA31_8B = "meta.llama3-1-8b-instruct-v1:0:128k"
LLAMA32_90B = "meta.llama3-2-90b-instruct-v1:0:128k"
NOVA_LITE = "amazon.nova-lite-v1:0:300k"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
COHERE = "cohere.command-text-v14:7:4k"
COHERE_LIGHT = "cohere.command-light-text-v14:7:4k"

# Facts section 0 and 1: id -> (regions, fine-tuning record format).
FACTS_MODELS = {
    NOVA_2_LITE: (("us-east-1",), "bedrock_conversation_2024"),
    NOVA_LITE: (("us-east-1",), "bedrock_conversation_2024"),
    NOVA_MICRO: (("us-east-1",), "bedrock_conversation_2024"),
    "amazon.nova-pro-v1:0:300k": (("us-east-1",), "bedrock_conversation_2024"),
    TITAN_EXPRESS: (("us-east-1", "us-west-2"), "prompt_completion"),
    CLAUDE_HAIKU: (("us-west-2",), "claude_messages"),
    LLAMA31_8B: (("us-west-2",), "prompt_completion"),
    "meta.llama3-1-70b-instruct-v1:0:128k": (("us-west-2",), "prompt_completion"),
    "meta.llama3-2-1b-instruct-v1:0:128k": (("us-west-2",), "bedrock_conversation_2024"),
    "meta.llama3-2-3b-instruct-v1:0:128k": (("us-west-2",), "bedrock_conversation_2024"),
    "meta.llama3-2-11b-instruct-v1:0:128k": (("us-west-2",), "bedrock_conversation_2024"),
    LLAMA32_90B: (("us-west-2",), "bedrock_conversation_2024"),
    COHERE: (("us-east-1",), "prompt_completion"),
    COHERE_LIGHT: (("us-east-1",), "prompt_completion"),
}

# Facts section 3: id -> {name: (min, max, default)}.
FACTS_HYPERPARAMETERS = {
    TITAN_EXPRESS: {
        "epochCount": (1, 10, 5),
        "batchSize": (1, 64, 1),
        "learningRate": (0, 1, 1e-5),
        "learningRateWarmupSteps": (0, 250, 5),
    },
    TITAN_PREMIER: {
        "epochCount": (1, 5, 2),
        "batchSize": (1, 1, 1),
        "learningRate": (1e-7, 1e-5, 1e-6),
        "learningRateWarmupSteps": (0, 20, 5),
    },
    CLAUDE_HAIKU: {
        "epochCount": (1, 10, 2),
        "batchSize": (4, 256, 32),
        "learningRateMultiplier": (0.1, 2, 1),
        "earlyStoppingThreshold": (0, 0.1, 0.001),
        "earlyStoppingPatience": (1, 10, 2),
    },
    COHERE: {
        "epochCount": (1, 100, 1),
        "batchSize": (8, 8, 8),
        "learningRate": (5e-6, 0.1, 1e-5),
        "earlyStoppingThreshold": (0, 0.1, 0.01),
        "earlyStoppingPatience": (1, 10, 6),
        "evalPercentage": (5, 50, 20),
    },
    LLAMA32_90B: {"epochCount": (1, 10, 5), "batchSize": (1, 1, 1), "learningRate": (5e-6, 0.1, 1e-4)},
    NOVA_MICRO: {
        "epochCount": (1, 5, 2),
        "learningRate": (1e-6, 1e-4, 1e-5),
        "learningRateWarmupSteps": (0, 100, 10),
    },
}


# ------------------------------------------------------------------------------------------- the data


@pytest.mark.parametrize("model_id", sorted(FACTS_MODELS))
def test_every_model_in_the_facts_is_present_with_regions_and_format(model_id):
    regions, fmt = FACTS_MODELS[model_id]
    model = catalog.get_model(model_id)
    assert model.id == model_id
    assert model.regions == regions
    assert catalog.record_format(model_id) == fmt
    assert catalog.supports(model_id, "FINE_TUNING")


def test_on_demand_ids_drop_the_customization_suffix():
    assert catalog.get_model(NOVA_LITE).on_demand_id == "amazon.nova-lite-v1:0"
    assert catalog.get_model(TITAN_EXPRESS).on_demand_id == "amazon.titan-text-express-v1"
    for model in catalog.list_models():
        assert model.id.startswith(model.on_demand_id)
        assert model.id != model.on_demand_id


@pytest.mark.parametrize("model_id", sorted(FACTS_HYPERPARAMETERS))
def test_hyperparameter_ranges_and_defaults_match_the_facts(model_id):
    specs = catalog.get_model(model_id).hyperparameters
    expected = FACTS_HYPERPARAMETERS[model_id]
    assert set(specs) == set(expected)
    for name, (low, high, default) in expected.items():
        spec = specs[name]
        assert (spec.min, spec.max, spec.default) == pytest.approx((low, high, default), rel=1e-12), name


def test_cohere_light_batch_size_range_and_hyperparameter_types():
    assert catalog.get_model(COHERE_LIGHT).hyperparameters["batchSize"].max == 32
    llama = catalog.get_model(LLAMA31_8B).hyperparameters
    assert llama["epochCount"].type == "int"
    assert llama["learningRate"].type == "float"


def test_limits_match_the_facts():
    claude = catalog.get_model(CLAUDE_HAIKU).limits
    assert (claude.min_training_records, claude.max_training_records) == (32, 10_000)
    assert (claude.max_validation_records, claude.max_total_records) == (1_000, 10_000)
    assert claude.max_tokens_per_record == 32_000
    assert claude.chars_per_token == 3
    assert (claude.max_training_file_bytes, claude.max_validation_file_bytes) == (10 * 10**9, 10**9)

    titan = catalog.get_model(TITAN_EXPRESS).limits
    assert [(s.batch_size_max, s.max_tokens) for s in titan.token_steps] == [(1, 4096), (4, 2048)]
    assert (titan.max_training_file_bytes, titan.max_validation_file_bytes) == (10**9, 100 * 10**6)
    lite = catalog.get_model(TITAN_LITE).limits
    assert [(s.batch_size_max, s.max_tokens) for s in lite.token_steps] == [(2, 4096), (6, 2048)]

    cohere = catalog.get_model(COHERE).limits
    assert (cohere.max_input_tokens, cohere.max_output_tokens) == (4096, 2048)
    assert (cohere.max_training_records, cohere.max_validation_records) == (10_000, 1_000)

    assert catalog.get_model(LLAMA31_8B).limits.max_tokens_per_record == 16_000
    assert catalog.get_model(LLAMA32_90B).limits.max_tokens_per_record == 10_000
    assert catalog.get_model("meta.llama3-2-11b-instruct-v1:0:128k").limits.max_image_bytes == 10 * 10**6
    llama = catalog.get_model(LLAMA31_8B).limits
    assert (llama.min_training_records, llama.max_training_records) == (100, 10_000)

    nova = catalog.get_model(NOVA_LITE).limits
    assert (nova.min_training_records, nova.max_training_records) == (8, 20_000)
    assert nova.max_tokens_per_record == 32_000
    assert nova.max_images_per_sample == 10
    assert catalog.get_model(NOVA_MICRO).limits.max_images_per_sample is None


def test_customization_types_and_deployment_flags():
    assert catalog.get_model(TITAN_EXPRESS).customization_types == ("FINE_TUNING", "CONTINUED_PRE_TRAINING")
    assert catalog.record_format(TITAN_LITE, "CONTINUED_PRE_TRAINING") == "continued_pretraining"
    assert not catalog.supports(TITAN_PREMIER, "CONTINUED_PRE_TRAINING")
    for model_id in (NOVA_MICRO, NOVA_LITE, "amazon.nova-pro-v1:0:300k"):
        assert catalog.record_format(model_id, "DISTILLATION") == "distillation_prompts"
    assert {m.id for m in catalog.list_models(customization_type="DISTILLATION")} == {
        NOVA_MICRO,
        NOVA_LITE,
        "amazon.nova-pro-v1:0:300k",
    }
    assert {m.family for m in catalog.list_models() if m.supports_on_demand_deployment} == {"nova", "nova-2"}
    assert catalog.get_model(NOVA_LITE).multimodal and not catalog.get_model(NOVA_MICRO).multimodal


def test_families_group_models_and_filters_work():
    assert catalog.list_families() == (
        "nova-2",
        "nova",
        "titan-text",
        "titan-premier",
        "claude-3-haiku",
        "llama-3.1",
        "llama-3.2",
        "cohere-command",
    )
    assert len(catalog.list_models(family="llama-3.2")) == 4
    assert {m.id for m in catalog.list_models(region="us-west-2", family="titan-text")} == {
        TITAN_EXPRESS,
        TITAN_LITE,
    }
    with pytest.raises(BedrockCustomizationError, match="Did you mean 'titan-text'"):
        catalog.list_models(family="titan")


def test_data_file_has_no_image_models_and_round_trips():
    document = json.loads(resources.files("bedrock_customization").joinpath("data/models.json").read_text())
    assert any("Image models" in note for note in document["_notes"])
    assert not any("canvas" in m["id"] or "image" in m["id"] for m in document["models"])
    assert (
        catalog.parse_models({"models": [m.to_dict() for m in catalog.list_models()]})
        == catalog.list_models()
    )


def test_inconsistent_data_is_rejected_with_the_model_named():
    entry = catalog.get_model(NOVA_LITE).to_dict()
    entry["record_format"] = {"FINE_TUNING": "bedrock_conversation_2024"}  # DISTILLATION has no format
    with pytest.raises(BedrockCustomizationError, match="amazon.nova-lite-v1:0:300k: record_format"):
        catalog.parse_models({"models": [entry]})
    entry = catalog.get_model(LLAMA31_8B).to_dict()
    entry["hyperparameters"]["epochCount"]["default"] = 11
    with pytest.raises(BedrockCustomizationError, match="epochCount: default 11"):
        catalog.parse_models({"models": [entry]})


# ---------------------------------------------------------------------------------------------- lookup


@pytest.mark.parametrize(
    "spelling",
    [
        NOVA_LITE,
        "amazon.nova-lite-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0:300k",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0",
        "  Amazon.Nova-Lite-v1:0:300k ",
    ],
)
def test_id_forms_resolve(spelling):
    assert catalog.get_model(spelling).id == NOVA_LITE


def test_titan_on_demand_id_and_versioned_prefix_resolve():
    assert catalog.get_model("amazon.titan-text-express-v1").id == TITAN_EXPRESS
    assert catalog.get_model("amazon.titan-text-express-v1:0").id == TITAN_EXPRESS


def test_unknown_id_suggests_the_closest_and_lists_known_ids():
    with pytest.raises(UnknownModelError) as excinfo:
        catalog.get_model("anthropic.claude-3-haiku-20240307-v2:0")
    error = excinfo.value
    assert isinstance(error, BedrockCustomizationError)
    assert error.suggestion == CLAUDE_HAIKU
    assert f"Did you mean '{CLAUDE_HAIKU}'" in str(error)
    assert LLAMA31_8B in str(error) and len(error.known) == len(catalog.list_models())
    with pytest.raises(UnknownModelError):
        catalog.get_model(
            "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-lite-v1:0:300k/abc"
        )


def test_exceptions_survive_pickling():
    error = pickle.loads(pickle.dumps(HyperparameterError(LLAMA31_8B, ["a", "b"])))
    assert error.problems == ["a", "b"] and "2 hyperparameter problems" in str(error)
    error = pickle.loads(pickle.dumps(UnknownModelError("x", ["a"], "a")))
    assert error.suggestion == "a"


# ------------------------------------------------------------------------------------ record formats


def test_unsupported_customization_type_names_the_supported_ones():
    with pytest.raises(UnsupportedCustomizationError) as excinfo:
        catalog.record_format(CLAUDE_HAIKU, "CONTINUED_PRE_TRAINING")
    error = excinfo.value
    assert error.supported == ("FINE_TUNING",)
    assert "it supports FINE_TUNING" in str(error)
    assert TITAN_EXPRESS in str(error)  # where continued pre-training is available
    with pytest.raises(UnsupportedCustomizationError, match="DISTILLATION"):
        catalog.validate_hyperparameters(LLAMA31_8B, {}, "DISTILLATION")


def test_customization_type_spelling_is_normalised_and_bogus_names_raise():
    assert catalog.record_format(TITAN_EXPRESS, "continued-pre-training") == "continued_pretraining"
    with pytest.raises(UnsupportedCustomizationError, match="not a Bedrock customizationType"):
        catalog.supports(TITAN_EXPRESS, "PRETRAINING")


# ----------------------------------------------------------------------------------- hyperparameters


@pytest.mark.parametrize("model_id", [m.id for m in catalog.list_models()])
def test_defaults_are_valid_for_every_model(model_id):
    defaults = catalog.default_hyperparameters(model_id)
    assert all(isinstance(v, str) for v in defaults.values())
    for ctype in catalog.get_model(model_id).customization_types:
        assert catalog.validate_hyperparameters(model_id, defaults, ctype) == defaults


def test_default_strings_are_plain_decimals():
    assert catalog.default_hyperparameters(TITAN_EXPRESS) == {
        "epochCount": "5",
        "batchSize": "1",
        "learningRate": "0.00001",
        "learningRateWarmupSteps": "5",
    }
    assert catalog.default_hyperparameters(LLAMA31_8B)["learningRate"] == "0.0001"


def test_strings_and_numbers_are_normalised_without_filling_defaults():
    result = catalog.validate_hyperparameters(
        CLAUDE_HAIKU, {"epochCount": 3.0, "batchSize": " 16 ", "learningRateMultiplier": "1e-1"}
    )
    assert result == {"epochCount": "3", "batchSize": "16", "learningRateMultiplier": "0.1"}
    assert type(result["epochCount"]) is str
    filled = catalog.validate_hyperparameters(CLAUDE_HAIKU, {"epochCount": 3}, fill_defaults=True)
    assert filled["epochCount"] == "3" and filled["batchSize"] == "32" and len(filled) == 5


def test_out_of_range_value_names_model_field_value_range_and_default():
    with pytest.raises(HyperparameterError) as excinfo:
        catalog.validate_hyperparameters(LLAMA31_8B, {"learningRate": "0.5"})
    assert str(excinfo.value) == (
        "learningRate=0.5 is outside 5e-06..0.1 for meta.llama3-1-8b-instruct-v1:0:128k (default 0.0001)"
    )
    assert excinfo.value.problems == [str(excinfo.value)]


def test_unknown_name_lists_allowed_names_and_suggests():
    with pytest.raises(HyperparameterError) as excinfo:
        catalog.validate_hyperparameters(NOVA_LITE, {"learningrate": "1e-5"})
    message = str(excinfo.value)
    assert "learningrate is not a hyperparameter of amazon.nova-lite-v1:0:300k" in message
    assert "Did you mean learningRate?" in message
    assert "Allowed: epochCount, learningRate, learningRateWarmupSteps" in message


@pytest.mark.parametrize("value", [2.5, "2.5", "two", True, None, "", float("nan")])
def test_non_integral_or_non_numeric_int_values_are_rejected(value):
    with pytest.raises(HyperparameterError, match=r"epochCount=.* is not an integer; allowed 1\.\.5"):
        catalog.validate_hyperparameters(NOVA_LITE, {"epochCount": value})


def test_non_numeric_float_is_rejected():
    with pytest.raises(
        HyperparameterError, match=r"learningRate='fast' is not a number|learningRate=fast is not a number"
    ):
        catalog.validate_hyperparameters(NOVA_LITE, {"learningRate": "fast"})


def test_all_problems_are_collected_in_one_error():
    with pytest.raises(HyperparameterError) as excinfo:
        catalog.validate_hyperparameters(
            COHERE,
            {"epochCount": 0, "batchSize": 16, "learningRate": "abc", "evalPercentage": 60, "epochs": 2},
        )
    problems = excinfo.value.problems
    assert len(problems) == 5
    assert problems[0] == "epochCount=0 is outside 1..100 for cohere.command-text-v14:7:4k (default 1)"
    assert (
        problems[1] == "batchSize=16 is not allowed for cohere.command-text-v14:7:4k: batchSize is fixed at 8"
    )
    assert "learningRate=abc is not a number" in problems[2]
    assert "evalPercentage=60 is outside 5..50" in problems[3]
    assert "Did you mean epochCount?" in problems[4]
    assert str(excinfo.value).startswith("5 hyperparameter problems for cohere.command-text-v14:7:4k:")


def test_fixed_batch_sizes():
    for model_id in (LLAMA31_8B, LLAMA32_90B, TITAN_PREMIER):
        with pytest.raises(HyperparameterError, match="batchSize is fixed at 1"):
            catalog.validate_hyperparameters(model_id, {"batchSize": 2})
    assert catalog.validate_hyperparameters(COHERE_LIGHT, {"batchSize": 32}) == {"batchSize": "32"}


# --------------------------------------------------------------------------- Titan batch/token rule


def test_titan_batch_size_sets_the_token_limit():
    assert catalog.max_tokens_per_record(TITAN_EXPRESS) == 4096
    assert catalog.max_tokens_per_record(TITAN_EXPRESS, 1) == 4096
    assert catalog.max_tokens_per_record(TITAN_EXPRESS, 2) == 2048
    assert catalog.max_tokens_per_record(TITAN_EXPRESS, "4") == 2048
    assert catalog.max_tokens_per_record(TITAN_LITE, 2) == 4096
    assert catalog.max_tokens_per_record(TITAN_LITE, 3) == 2048
    with pytest.raises(HyperparameterError, match="batchSize=65 is outside 1..64"):
        catalog.max_tokens_per_record(TITAN_EXPRESS, 65)


def test_other_models_have_a_flat_token_limit():
    assert catalog.max_tokens_per_record(CLAUDE_HAIKU) == 32_000
    assert catalog.max_tokens_per_record(NOVA_LITE, batch_size=8) == 32_000  # Nova has no batchSize
    assert catalog.max_tokens_per_record(COHERE) == 6144


def test_titan_validation_result_explains_the_token_limit():
    result = catalog.validate_hyperparameters(TITAN_EXPRESS, {"batchSize": "3"})
    assert result.max_tokens_per_record == 2048
    assert result.notes == (
        f"batchSize=3 allows at most 2048 tokens (prompt + completion) per record for {TITAN_EXPRESS}; "
        "batchSize 1 allows 4096",
    )
    beyond = catalog.validate_hyperparameters(TITAN_EXPRESS, {"batchSize": 16})
    assert beyond.max_tokens_per_record == 2048 and "undocumented" in beyond.notes[0]
    assert catalog.validate_hyperparameters(TITAN_EXPRESS, {}).max_tokens_per_record == 4096


def test_titan_batch_size_too_large_for_the_longest_record_is_a_problem():
    with pytest.raises(HyperparameterError, match="longest record has about 3000 tokens; use batchSize <= 1"):
        catalog.validate_hyperparameters(TITAN_EXPRESS, {"batchSize": 2}, longest_record_tokens=3000)
    with pytest.raises(HyperparameterError, match="no batch size fits: shorten records to 4096 tokens"):
        catalog.validate_hyperparameters(TITAN_EXPRESS, {}, longest_record_tokens=5000)
    assert catalog.validate_hyperparameters(TITAN_LITE, {"batchSize": 2}, longest_record_tokens=3000)


# ------------------------------------------------------------------------------------------ lifecycle


def test_claude_3_haiku_is_past_end_of_life():
    warning = catalog.lifecycle_warning(CLAUDE_HAIKU, today=date(2026, 11, 21))
    assert warning is not None
    assert "past end of life since 2026-09-10" in warning
    assert "choose an active model such as amazon.nova-2-lite-v1:0:256k" in warning
    assert catalog.get_model(CLAUDE_HAIKU).lifecycle.status_on(date(2026, 11, 21)) == "EOL"


def test_claude_3_haiku_was_legacy_before_its_end_of_life():
    warning = catalog.lifecycle_warning(CLAUDE_HAIKU, today=date(2026, 5, 1))
    assert warning is not None and "is legacy and reaches end of life on 2026-09-10" in warning


def test_active_models_have_no_warning_and_legacy_cohere_warns():
    assert catalog.lifecycle_warning(NOVA_LITE, today=date(2026, 11, 21)) is None
    warning = catalog.lifecycle_warning(COHERE, today=date(2026, 11, 21))
    assert warning is not None and "is legacy" in warning and LLAMA31_8B in warning


def test_helpers_on_the_dataclasses():
    model = catalog.get_model(NOVA_LITE)
    assert model.foundation_model_arn("us-east-1") == (
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0:300k"
    )
    assert catalog.get_model(CLAUDE_HAIKU).limits.estimate_tokens(10) == 4
    assert hash(model) == hash(catalog.get_model("amazon.nova-lite-v1:0"))
