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

TITAN_EXPRESS = "amazon.titan-text-express-v1:0:8k"  # withdrawn
TITAN_LITE = "amazon.titan-text-lite-v1:0:4k"  # withdrawn
TITAN_PREMIER = "amazon.titan-text-premier-v1:0:32k"  # withdrawn
CLAUDE_HAIKU = "anthropic.claude-3-haiku-20240307-v1:0:200k"
LLAMA31_8B = "meta.llama3-1-8b-instruct-v1:0:128k"
LLAMA32_90B = "meta.llama3-2-90b-instruct-v1:0:128k"
NOVA_LITE = "amazon.nova-lite-v1:0:300k"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
COHERE = "cohere.command-text-v14:7:4k"  # withdrawn
COHERE_LIGHT = "cohere.command-light-text-v14:7:4k"  # withdrawn
LLAMA32_1B = "meta.llama3-2-1b-instruct-v1:0:128k"
FT_PAGE = "https://docs.aws.amazon.com/bedrock/latest/userguide/custom-model-fine-tuning.html"
WITHDRAWN = (TITAN_EXPRESS, TITAN_LITE, TITAN_PREMIER, COHERE, COHERE_LIGHT)

# Facts section 0a (the newest fine-tuning table) and 1: id -> (regions, fine-tuning record format).
FACTS_MODELS = {
    NOVA_2_LITE: (("us-east-1",), "bedrock_conversation_2024"),
    NOVA_LITE: (("us-east-1",), "bedrock_conversation_2024"),
    NOVA_MICRO: (("us-east-1",), "bedrock_conversation_2024"),
    "amazon.nova-pro-v1:0:300k": (("us-east-1",), "bedrock_conversation_2024"),
    CLAUDE_HAIKU: (("us-west-2",), "claude_messages"),
    LLAMA31_8B: (("us-west-2",), "prompt_completion"),
    "meta.llama3-1-70b-instruct-v1:0:128k": (("us-west-2",), "prompt_completion"),
    "meta.llama3-2-1b-instruct-v1:0:128k": (("us-west-2",), "bedrock_conversation_2024"),
    "meta.llama3-2-3b-instruct-v1:0:128k": (("us-west-2",), "bedrock_conversation_2024"),
    "meta.llama3-2-11b-instruct-v1:0:128k": (("us-west-2",), "bedrock_conversation_2024"),
    LLAMA32_90B: (("us-west-2",), "bedrock_conversation_2024"),
}

# Facts section 3: id -> {name: (min, max, default)}.
FACTS_HYPERPARAMETERS = {
    CLAUDE_HAIKU: {
        "epochCount": (1, 10, 2),
        "batchSize": (4, 256, 32),
        "learningRateMultiplier": (0.1, 2, 1),
        "earlyStoppingThreshold": (0, 0.1, 0.001),
        "earlyStoppingPatience": (1, 10, 2),
    },
    LLAMA32_90B: {"epochCount": (1, 10, 5), "batchSize": (1, 1, 1), "learningRate": (5e-6, 0.1, 1e-4)},
    NOVA_MICRO: {
        "epochCount": (1, 5, 2),
        "learningRate": (1e-6, 1e-4, 1e-5),
        "learningRateWarmupSteps": (0, 100, 10),
    },
}
# Facts section 0a / RFTHyperParameters API reference: name -> (min, max); no documented defaults.
RFT_RANGES = {
    "epochCount": (1, 50),
    "batchSize": (16, 512),
    "learningRate": (1e-7, 1e-3),
    "maxPromptLength": (1, None),
    "trainingSamplePerPrompt": (2, 16),
    "inferenceMaxTokens": (1, None),
    "evalInterval": (1, 100),
}

# The Titan Text G1 Express entry as it was catalogued before its withdrawal: the batch-size-dependent token
# limit it introduced stays supported by the catalog and is tested on it.
TITAN_LIKE = {
    "id": "example.titan-like-v1:0:8k",
    "on_demand_id": "example.titan-like-v1",
    "name": "Titan-like",
    "provider": "Example",
    "family": "titan-like",
    "regions": ["us-east-1"],
    "lifecycle": {"status": "ACTIVE", "end_of_life": None, "replacements": []},
    "customization_types": ["FINE_TUNING"],
    "record_format": {"FINE_TUNING": "prompt_completion"},
    "limits": {
        "max_tokens_per_record": [
            {"batch_size_max": 1, "max_tokens": 4096},
            {"batch_size_max": 4, "max_tokens": 2048},
        ]
    },
    "hyperparameters": {
        "epochCount": {"type": "int", "min": 1, "max": 10, "default": 5},
        "batchSize": {"type": "int", "min": 1, "max": 64, "default": 1},
        "learningRate": {"type": "float", "min": 0.0, "max": 1.0, "default": 1e-05},
    },
}
TITAN = TITAN_LIKE["id"]


@pytest.fixture
def titan_like(monkeypatch):
    """The catalog with the Titan-like model added (catalog functions resolve ids through ``_catalog``)."""
    models = (*catalog.list_models(), *catalog.parse_models({"models": [TITAN_LIKE]}))
    aliases = dict(catalog._aliases(models))
    monkeypatch.setattr(catalog, "_catalog", lambda: (models, aliases))
    return TITAN


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


def test_hyperparameter_types():
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
    assert catalog.list_models(customization_type="CONTINUED_PRE_TRAINING") == ()  # documented for Titan only
    assert catalog.get_model(NOVA_2_LITE).customization_types == ("FINE_TUNING", "REINFORCEMENT_FINE_TUNING")
    assert [m.id for m in catalog.list_models(customization_type="REINFORCEMENT_FINE_TUNING")] == [
        NOVA_2_LITE
    ]
    assert catalog.record_format(NOVA_2_LITE, "REINFORCEMENT_FINE_TUNING") == "rft_prompts"
    for model_id in (NOVA_MICRO, NOVA_LITE, "amazon.nova-pro-v1:0:300k"):
        assert catalog.record_format(model_id, "DISTILLATION") == "distillation_prompts"
    assert {m.id for m in catalog.list_models(customization_type="DISTILLATION")} == {
        NOVA_MICRO,
        NOVA_LITE,
        "amazon.nova-pro-v1:0:300k",
    }
    assert {m.id for m in catalog.list_models() if m.supports_on_demand_deployment} == {
        NOVA_MICRO,
        NOVA_LITE,
        "amazon.nova-pro-v1:0:300k",
    }
    assert catalog.get_model(NOVA_LITE).multimodal and not catalog.get_model(NOVA_MICRO).multimodal


def test_families_group_models_and_filters_work():
    assert catalog.list_families() == ("nova-2", "nova", "claude-3-haiku", "llama-3.1", "llama-3.2")
    assert len(catalog.list_models(family="llama-3.2")) == 4
    assert {m.id for m in catalog.list_models(region="us-east-1")} == {
        NOVA_2_LITE,
        NOVA_MICRO,
        NOVA_LITE,
        "amazon.nova-pro-v1:0:300k",
    }
    with pytest.raises(BedrockCustomizationError, match="Did you mean 'llama-3.2'"):
        catalog.list_models(family="llama-3.3")


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


def test_inference_profile_and_versioned_prefix_resolve():
    assert catalog.get_model("us.meta.llama3-2-1b-instruct-v1:0").id == LLAMA32_1B
    assert catalog.get_model("meta.llama3-2-1b-instruct-v1").id == LLAMA32_1B


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
    with pytest.raises(
        UnsupportedCustomizationError, match=f"Base models that support DISTILLATION: {NOVA_MICRO}"
    ):
        catalog.record_format(CLAUDE_HAIKU, "DISTILLATION")
    with pytest.raises(UnsupportedCustomizationError, match="DISTILLATION"):
        catalog.validate_hyperparameters(LLAMA31_8B, {}, "DISTILLATION")


def test_customization_type_spelling_is_normalised_and_bogus_names_raise():
    assert catalog.record_format(NOVA_LITE, "distillation") == "distillation_prompts"
    assert catalog.record_format(NOVA_2_LITE, "reinforcement-fine-tuning") == "rft_prompts"
    with pytest.raises(UnsupportedCustomizationError, match="not a Bedrock customizationType"):
        catalog.supports(NOVA_LITE, "PRETRAINING")


# ----------------------------------------------------------------------------------- hyperparameters


@pytest.mark.parametrize("model_id", [m.id for m in catalog.list_models()])
def test_defaults_are_valid_for_every_model(model_id):
    for ctype in catalog.get_model(model_id).customization_types:
        defaults = catalog.default_hyperparameters(model_id, ctype)
        assert all(isinstance(v, str) for v in defaults.values())
        assert catalog.validate_hyperparameters(model_id, defaults, ctype) == defaults


def test_default_strings_are_plain_decimals():
    assert catalog.default_hyperparameters(NOVA_MICRO) == {
        "epochCount": "2",
        "learningRate": "0.00001",
        "learningRateWarmupSteps": "10",
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
            LLAMA31_8B,
            {"epochCount": 0, "batchSize": 16, "learningRate": "abc", "epochs": 2},
        )
    problems = excinfo.value.problems
    assert len(problems) == 4
    assert problems[0] == f"epochCount=0 is outside 1..10 for {LLAMA31_8B} (default 5)"
    assert problems[1] == f"batchSize=16 is not allowed for {LLAMA31_8B}: batchSize is fixed at 1"
    assert "learningRate=abc is not a number" in problems[2]
    assert "Did you mean epochCount?" in problems[3]
    assert str(excinfo.value).startswith(f"4 hyperparameter problems for {LLAMA31_8B}:")


def test_fixed_batch_sizes():
    for model_id in (LLAMA31_8B, LLAMA32_90B):
        with pytest.raises(HyperparameterError, match="batchSize is fixed at 1"):
            catalog.validate_hyperparameters(model_id, {"batchSize": 2})
    assert catalog.validate_hyperparameters(CLAUDE_HAIKU, {"batchSize": 32}) == {"batchSize": "32"}


# ---------------------------------------------------------------- batch/token rule (Titan-like model)


def test_batch_size_sets_the_token_limit(titan_like):
    assert catalog.max_tokens_per_record(TITAN) == 4096
    assert catalog.max_tokens_per_record(TITAN, 1) == 4096
    assert catalog.max_tokens_per_record(TITAN, 2) == 2048
    assert catalog.max_tokens_per_record(TITAN, "4") == 2048
    with pytest.raises(HyperparameterError, match="batchSize=65 is outside 1..64"):
        catalog.max_tokens_per_record(TITAN, 65)


def test_other_models_have_a_flat_token_limit():
    assert catalog.max_tokens_per_record(CLAUDE_HAIKU) == 32_000
    assert catalog.max_tokens_per_record(NOVA_LITE, batch_size=8) == 32_000  # Nova has no batchSize
    assert catalog.max_tokens_per_record(LLAMA32_90B) == 10_000


def test_validation_result_explains_the_token_limit(titan_like):
    result = catalog.validate_hyperparameters(TITAN, {"batchSize": "3"})
    assert result.max_tokens_per_record == 2048
    assert result.notes == (
        f"batchSize=3 allows at most 2048 tokens (prompt + completion) per record for {TITAN}; "
        "batchSize 1 allows 4096",
    )
    beyond = catalog.validate_hyperparameters(TITAN, {"batchSize": 16})
    assert beyond.max_tokens_per_record == 2048 and "undocumented" in beyond.notes[0]
    assert catalog.validate_hyperparameters(TITAN, {}).max_tokens_per_record == 4096


def test_batch_size_too_large_for_the_longest_record_is_a_problem(titan_like):
    with pytest.raises(HyperparameterError, match="longest record has about 3000 tokens; use batchSize <= 1"):
        catalog.validate_hyperparameters(TITAN, {"batchSize": 2}, longest_record_tokens=3000)
    with pytest.raises(HyperparameterError, match="no batch size fits: shorten records to 4096 tokens"):
        catalog.validate_hyperparameters(TITAN, {}, longest_record_tokens=5000)
    assert catalog.validate_hyperparameters(TITAN, {"batchSize": 1}, longest_record_tokens=3000)


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


def test_active_models_have_no_warning():
    for model in catalog.list_models():
        if model.id != CLAUDE_HAIKU:
            assert catalog.lifecycle_warning(model.id, today=date(2026, 12, 2)) is None, model.id


def test_helpers_on_the_dataclasses():
    model = catalog.get_model(NOVA_LITE)
    assert model.foundation_model_arn("us-east-1") == (
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0:300k"
    )
    assert catalog.get_model(CLAUDE_HAIKU).limits.estimate_tokens(10) == 4
    assert hash(model) == hash(catalog.get_model("amazon.nova-lite-v1:0"))


# ----------------------------------------------------------------------- sources and review (2026-12-02)


def test_every_entry_carries_its_sources_and_review_date():
    assert catalog.reviewed() == date(2026, 12, 2)
    for model in catalog.list_models():
        assert model.reviewed == date(2026, 12, 2), model.id
        assert FT_PAGE in model.sources, model.id
        assert all(source.startswith("https://docs.aws.amazon.com/") for source in model.sources)
    for item in catalog.list_withdrawn():
        assert item.reviewed == date(2026, 12, 2) and FT_PAGE in item.sources


# ------------------------------------------------------------------------------------------- withdrawn


@pytest.mark.parametrize("model_id", WITHDRAWN)
def test_withdrawn_models_are_refused_with_the_page_and_a_replacement(model_id):
    with pytest.raises(catalog.WithdrawnModelError) as excinfo:
        catalog.get_model(model_id)
    error = excinfo.value
    assert isinstance(error, UnknownModelError)
    message = str(error)
    assert "is no longer offered for customization" in message
    assert FT_PAGE in message
    assert error.replacements and all(catalog.get_model(r) for r in error.replacements)
    assert error.suggestion == error.replacements[0] and error.suggestion in message
    assert model_id not in {m.id for m in catalog.list_models()}
    restored = pickle.loads(pickle.dumps(error))
    assert str(restored) == message and restored.replacements == error.replacements


def test_withdrawn_titan_spellings_and_replacements():
    for spelling in (
        "amazon.titan-text-express-v1",
        "amazon.titan-text-express-v1:0",
        "AMAZON.TITAN-TEXT-EXPRESS-V1:0:8K",
    ):
        with pytest.raises(UnknownModelError, match="Choose amazon.nova-micro-v1:0:128k"):
            catalog.get_model(spelling)
    assert catalog.withdrawn_model(TITAN_LITE).replacements == (NOVA_MICRO,)
    assert "custom-model-supported" in " ".join(catalog.withdrawn_model(TITAN_PREMIER).sources)
    assert catalog.withdrawn_model(NOVA_LITE) is None
    assert {TITAN_EXPRESS, "amazon.titan-text-express-v1", COHERE} <= catalog.withdrawn_ids()
    with pytest.raises(UnknownModelError, match="no longer offered"):
        catalog.validate_hyperparameters(TITAN_EXPRESS, {"epochCount": 2})


def test_claude_3_haiku_stays_catalogued_as_end_of_life():
    model = catalog.get_model(CLAUDE_HAIKU)
    assert model.lifecycle.end_of_life == date(2026, 9, 10)
    assert model.lifecycle.status_on(date(2026, 12, 2)) == "EOL"


def test_inconsistent_withdrawn_entries_are_rejected():
    models = catalog.list_models()
    entry = catalog.withdrawn_model(TITAN_EXPRESS).to_dict()
    for change, detail in (
        ({"replacements": ["amazon.titan-text-lite-v1:0:4k"]}, "is not a customizable model"),
        ({"sources": []}, "needs at least one source"),
        ({"id": NOVA_LITE, "on_demand_id": "amazon.nova-lite-v1:0"}, "cannot also be customizable"),
    ):
        with pytest.raises(BedrockCustomizationError, match=detail):
            catalog.parse_withdrawn({"withdrawn": [{**entry, **change}]}, models)


# ------------------------------------------------------------------------- Nova 2 Lite per-type options


def test_nova_2_lite_sft_takes_no_validation_set_and_may_carry_reasoning():
    assert catalog.validation_set_supported(NOVA_2_LITE) is False
    assert catalog.reasoning_content_supported(NOVA_2_LITE) is True
    options = catalog.get_model(NOVA_2_LITE).options("fine-tuning")
    assert any(source.endswith("nova-2-sft-data-prep.html") for source in options.sources)
    for model in catalog.list_models():
        if model.id != NOVA_2_LITE:
            for ctype in model.customization_types:
                assert catalog.validation_set_supported(model.id, ctype), (model.id, ctype)
                assert not catalog.reasoning_content_supported(model.id, ctype), (model.id, ctype)
    with pytest.raises(UnsupportedCustomizationError):
        catalog.validation_set_supported(NOVA_2_LITE, "DISTILLATION")


def test_rft_hyperparameters_match_the_api_reference():
    specs = catalog.get_model(NOVA_2_LITE).hyperparameters_for("REINFORCEMENT_FINE_TUNING")
    assert set(specs) == {*RFT_RANGES, "reasoningEffort"}
    for name, (low, high) in RFT_RANGES.items():
        assert (
            (specs[name].min, specs[name].max) == pytest.approx((low, high))
            if high
            else specs[name].min == low
        )
        assert specs[name].default is None  # AWS documents no defaults: nothing is sent
    effort = specs["reasoningEffort"]
    assert (effort.type, effort.choices) == ("str", ("low", "medium", "high"))
    assert (
        catalog.get_model(NOVA_2_LITE).hyperparameters_for("FINE_TUNING")
        is catalog.get_model(NOVA_2_LITE).hyperparameters
    )
    assert catalog.default_hyperparameters(NOVA_2_LITE, "REINFORCEMENT_FINE_TUNING") == {}


def test_rft_values_are_checked_and_normalised():
    result = catalog.validate_hyperparameters(
        NOVA_2_LITE,
        {
            "epochCount": 3,
            "batchSize": "64",
            "learningRate": 1e-5,
            "reasoningEffort": " High ",
            "maxPromptLength": 4096,
            "trainingSamplePerPrompt": 8,
            "evalInterval": 10,
        },
        "REINFORCEMENT_FINE_TUNING",
        fill_defaults=True,
    )
    assert result == {
        "epochCount": "3",
        "batchSize": "64",
        "learningRate": "0.00001",
        "reasoningEffort": "high",
        "maxPromptLength": "4096",
        "trainingSamplePerPrompt": "8",
        "evalInterval": "10",
    }
    with pytest.raises(HyperparameterError) as excinfo:
        catalog.validate_hyperparameters(
            NOVA_2_LITE,
            {
                "batchSize": 8,
                "trainingSamplePerPrompt": 17,
                "reasoningEffort": "max",
                "maxPromptLength": 0,
                "learningRateWarmupSteps": 5,
            },
            "REINFORCEMENT_FINE_TUNING",
        )
    problems = excinfo.value.problems
    assert problems[0].startswith("batchSize=8 is outside 16..512")
    assert problems[1].startswith("trainingSamplePerPrompt=17 is outside 2..16")
    assert problems[2] == f"reasoningEffort=max is not one of low, medium, high for {NOVA_2_LITE}"
    assert problems[3].startswith("maxPromptLength=0 is outside >= 1")
    assert "learningRateWarmupSteps is not a hyperparameter" in problems[4]
    # the fine-tuning hyperparameters of the same model are unchanged
    assert catalog.validate_hyperparameters(NOVA_2_LITE, {"learningRateWarmupSteps": 5}) == {
        "learningRateWarmupSteps": "5"
    }


def test_string_choice_specs_parse_and_reject_ranges():
    entry = catalog.get_model(NOVA_2_LITE).to_dict()
    spec = entry["customization_options"]["REINFORCEMENT_FINE_TUNING"]["hyperparameters"]["reasoningEffort"]
    spec["min"] = 1
    with pytest.raises(BedrockCustomizationError, match="has choices and no range"):
        catalog.parse_models({"models": [entry]})
    entry = catalog.get_model(NOVA_2_LITE).to_dict()
    entry["customization_options"]["DISTILLATION"] = {"validation_set": True}
    with pytest.raises(BedrockCustomizationError, match="customization_options for types the model lacks"):
        catalog.parse_models({"models": [entry]})


# --------------------------------------------------------------------------- baseline inference ids


def test_llama_3_2_and_nova_2_lite_baselines_use_inference_profiles():
    for size in ("1b", "3b", "11b", "90b"):
        model = catalog.get_model(f"meta.llama3-2-{size}-instruct-v1:0:128k")
        assert model.inference_profile_id == f"us.meta.llama3-2-{size}-instruct-v1:0"
        assert model.inference_id == model.inference_profile_id
        assert any(source.endswith("inference-profiles-support.html") for source in model.sources)
    assert catalog.get_model(NOVA_2_LITE).inference_id == "us.amazon.nova-2-lite-v1:0"
    for model_id in (NOVA_LITE, NOVA_MICRO, LLAMA31_8B, CLAUDE_HAIKU):
        model = catalog.get_model(model_id)
        assert model.inference_profile_id is None and model.inference_id == model.on_demand_id


def test_resolve_inference_id_upgrades_only_bare_ids_of_profiled_models():
    assert catalog.resolve_inference_id(LLAMA32_1B, "meta.llama3-2-1b-instruct-v1:0") == (
        "us.meta.llama3-2-1b-instruct-v1:0"
    )
    assert catalog.resolve_inference_id(LLAMA32_1B) == "us.meta.llama3-2-1b-instruct-v1:0"
    arn = "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/abc"
    assert catalog.resolve_inference_id(LLAMA32_1B, arn) == arn
    assert catalog.resolve_inference_id(NOVA_LITE, "amazon.nova-lite-v1:0") == "amazon.nova-lite-v1:0"
    assert (
        catalog.resolve_inference_id("example.unknown-v1:0", "example.unknown-v1:0") == "example.unknown-v1:0"
    )


# -------------------------------------------------------------------------- on-demand deployment


@pytest.mark.parametrize(
    ("model_id", "region", "customized_on", "supported"),
    [
        (NOVA_LITE, "us-east-1", None, True),
        (NOVA_MICRO, "us-west-2", date(2025, 7, 16), True),
        ("amazon.nova-pro-v1:0:300k", "us-east-1", date(2026, 1, 5), True),
        (NOVA_LITE, "us-east-1", date(2025, 7, 15), False),
        (NOVA_LITE, "eu-west-1", date(2026, 1, 5), False),
        (NOVA_2_LITE, "us-east-1", date(2026, 1, 5), False),
        (LLAMA31_8B, "us-west-2", date(2026, 1, 5), False),
        (CLAUDE_HAIKU, "us-west-2", None, False),
    ],
)
def test_on_demand_deployment_eligibility(model_id, region, customized_on, supported):
    assert catalog.on_demand_deployment_supported(model_id, region, customized_on) is supported
    problem = catalog.on_demand_deployment_problem(catalog.get_model(model_id), region, customized_on)
    assert (problem is None) is supported


def test_on_demand_deployment_reasons_and_data():
    from datetime import UTC, datetime

    deployment = catalog.get_model(NOVA_LITE).on_demand_deployment
    assert deployment.regions == ("us-east-1", "us-west-2")
    assert deployment.customized_on_or_after == date(2025, 7, 16)
    assert any(source.endswith("deploy-custom-model-on-demand.html") for source in deployment.sources)
    old = catalog.on_demand_deployment_problem(NOVA_LITE, "us-east-1", datetime(2025, 7, 1, tzinfo=UTC))
    assert "customized on 2025-07-01" in old and "on or after 2025-07-16" in old
    assert "not eu-west-1" in catalog.on_demand_deployment_problem(NOVA_LITE, "eu-west-1")
    assert "use provisioned throughput" in catalog.on_demand_deployment_problem(LLAMA31_8B, "us-west-2")


def test_distillation_teachers_follow_their_lifecycle_and_pair_only_with_catalogued_students():
    before, after = date(2026, 9, 1), date(2026, 12, 3)  # Nova Premier's end of life is 2026-09-14
    assert [t.id for t in catalog.distillation_teachers(NOVA_MICRO, before)] == [
        "amazon.nova-pro-v1:0",
        "amazon.nova-premier-v1:0",
    ]
    assert [t.id for t in catalog.distillation_teachers(NOVA_MICRO, after)] == ["amazon.nova-pro-v1:0"]
    nova_pro = "amazon.nova-pro-v1:0:300k"
    assert catalog.offered_customization_types(nova_pro, before) == ("FINE_TUNING", "DISTILLATION")
    assert catalog.offered_customization_types(nova_pro, after) == ("FINE_TUNING",)
    assert catalog.offered_customization_types(CLAUDE_HAIKU, after) == ()  # past end of life
    assert catalog.check_teacher(
        NOVA_LITE, "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0", after
    )
    entry = {
        "id": "meta.llama3-1-405b-instruct-v1:0",
        "name": "Llama 3.1 405B Instruct",
        "provider": "Meta",
        "regions": ["us-west-2"],
        "lifecycle": {"status": "ACTIVE"},
        "students": ["meta.llama3-1-8b-instruct-v1:0:128k"],  # catalogued, but not for DISTILLATION
        "sources": [
            "https://docs.aws.amazon.com/bedrock/latest/userguide/prequisites-model-distillation.html"
        ],
    }
    with pytest.raises(BedrockCustomizationError, match="no catalogued DISTILLATION model: meta.llama3-1-8b"):
        catalog.parse_teachers({"distillation_teachers": [entry]}, catalog.list_models())
