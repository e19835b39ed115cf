"""The pure planner both training DAGs start with (bedrock_customization.pipeline.plan)."""

from __future__ import annotations

from datetime import date

import pytest

from bedrock_customization import sweep
from bedrock_customization.exceptions import BedrockCustomizationError, HyperparameterError
from bedrock_customization.landing_zone import LandingZone
from bedrock_customization.pipeline.plan import MissingDataError, plan_run

ZONE = LandingZone.from_mapping(
    {
        "bucket": "landing-zone",
        "role_arn": "arn:aws:iam::123456789012:role/bedrock",
        "kms_key_arn": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "subnet_ids": ["subnet-0a", "subnet-0b"],
        "security_group_ids": ["sg-0a"],
    }
)
DAY = date(2026, 3, 1)
BASE = {"base_model_id": "amazon.nova-micro-v1:0:128k", "dataset_key": "raw/{date}/qa_pairs.jsonl"}


def _plan(
    params, scope="run", keys=("raw/2026-03-01/qa_pairs.jsonl",), run_id="manual__1", region="us-east-1"
):
    return plan_run(
        {**BASE, **params},
        dag_id="dag",
        run_id=run_id,
        day=DAY,
        landing_zone=lambda: ZONE,
        key_exists=lambda bucket, key: bucket == "landing-zone" and key in keys,
        scope=scope,
        region=region,
    )


def test_a_retraining_plans_one_job_per_run_with_defaults_filled():
    first = _plan({"hyperparameters": {"epochCount": 3}})
    again = _plan({"hyperparameters": {"epochCount": 3}}, run_id="manual__2")
    assert len(first["jobs"]) == 1 and first["jobs"][0]["hyperparameters"]["epochCount"] == "3"
    assert "learningRate" in first["jobs"][0]["hyperparameters"]  # the catalog's default
    assert "idempotency_key" not in first["jobs"][0]  # every run trains anew
    assert first["data_uri"] != again["data_uri"] and first["serving_names"] != again["serving_names"]
    assert first["raw_uri"] == "s3://landing-zone/raw/2026-03-01/qa_pairs.jsonl"
    assert first["subnet_ids"] == ["subnet-0a", "subnet-0b"] and first["leaderboard_uri"] is None


def test_auto_serving_is_on_demand_where_bedrock_offers_it_else_provisioned():
    assert _plan({})["serving_kind"] == "on_demand"  # Nova Micro custom models deploy on demand in us-east-1
    assert _plan({"serving": "provisioned"})["serving_kind"] == "provisioned"
    # Not documented in eu-west-1, nor at all for Llama custom models: auto falls back to a throughput.
    assert _plan({}, region="eu-west-1")["serving_kind"] == "provisioned"
    llama = {"base_model_id": "meta.llama3-1-8b-instruct-v1:0:128k"}
    assert _plan(llama)["serving_kind"] == "provisioned"


def test_on_demand_serving_where_bedrock_does_not_offer_it_fails_in_the_plan_naming_the_fix():
    with pytest.raises(BedrockCustomizationError, match="us-east-1, us-west-2, not eu-west-1.*provisioned"):
        _plan({"serving": "on_demand"}, region="eu-west-1")
    with pytest.raises(
        BedrockCustomizationError, match="not documented for custom models of meta.llama3-1-8b"
    ):
        _plan({"serving": "on_demand", "base_model_id": "meta.llama3-1-8b-instruct-v1:0:128k"})
    with pytest.raises(BedrockCustomizationError, match="serving='cheap' is not one of auto, on_demand"):
        _plan({"serving": "cheap"})
    # Native evaluation jobs evaluate throughputs, not deployments: auto provisions, on_demand is refused.
    assert _plan({"engine": "bedrock_evaluation_job"})["serving_kind"] == "provisioned"
    with pytest.raises(BedrockCustomizationError, match="evaluation jobs cannot evaluate a custom model deploy"):
        _plan({"serving": "on_demand", "engine": "bedrock_evaluation_job"})


def test_a_sweep_plans_a_job_per_distinct_configuration_keyed_by_date():
    space = {"epochCount": [2, 4], "learningRate": [0.00001, 0.0001]}
    run = _plan({"search_space": space, "top_k": 2}, scope="date")
    again = _plan({"search_space": space, "top_k": 2}, scope="date", run_id="backfill__x")
    assert len(run["jobs"]) == 4 and run["top_k"] == 2
    assert [j["idempotency_key"] for j in run["jobs"]] == [j["idempotency_key"] for j in again["jobs"]]
    assert run["data_uri"] == "s3://landing-zone/runs/dag/2026-03-01/data/"
    assert run["leaderboard_uri"] == "s3://landing-zone/sweeps/2026-03-01/leaderboard.json"


def test_every_invalid_configuration_is_named_before_any_job():
    with pytest.raises(HyperparameterError, match="configuration 2 of 2"):
        _plan({"search_space": [{"epochCount": 2}, {"epochCount": 999}]}, scope="date")


def test_missing_data_names_the_key_and_the_fallback_is_used_when_present():
    with pytest.raises(MissingDataError, match="s3://landing-zone/raw/2026-03-01/qa_pairs.jsonl"):
        _plan({}, keys=())
    run = _plan({"fallback_dataset_key": "raw/qa_pairs.jsonl"}, keys=("raw/qa_pairs.jsonl",), scope="date")
    assert run["data_source"] == "fallback" and run["raw_uri"].endswith("/raw/qa_pairs.jsonl")


def test_top_k_larger_than_the_sweep_fails():
    with pytest.raises(BedrockCustomizationError, match="top_k=3"):
        _plan({"search_space": {"epochCount": [2, 4]}, "top_k": 3}, scope="date")


def test_without_vpc_the_job_gets_no_subnets():
    assert _plan({"use_vpc": False})["subnet_ids"] is None


@pytest.mark.parametrize(
    "params", [{"primary_metric": "llm_judge"}, {"metrics": ["chrf", "llm_judge"], "judge_model_id": None}]
)
def test_the_llm_judge_metric_without_a_judge_model_fails_before_any_job(params):
    with pytest.raises(BedrockCustomizationError, match="llm_judge, but judge_model_id is empty: set"):
        _plan(params)
    assert _plan({**params, "judge_model_id": "amazon.nova-pro-v1:0"})["jobs"]


# ------------------------------------------------------------------------------- customization types


def test_distillation_plans_the_teacher_and_sends_no_hyperparameters():
    run = _plan({"customization_type": "DISTILLATION", "teacher_model_id": "us.amazon.nova-pro-v1:0"})
    assert run["customization_type"] == "DISTILLATION"
    assert run["teacher_model_id"] == "us.amazon.nova-pro-v1:0"
    assert run["jobs"][0]["hyperparameters"] == {}  # a distillation job takes none
    with pytest.raises(HyperparameterError, match="takes no hyperparameters; remove it"):
        _plan(
            {"customization_type": "DISTILLATION", "teacher_model_id": "amazon.nova-pro-v1:0",
             "hyperparameters": {"epochCount": 2}}
        )  # fmt: skip


@pytest.mark.parametrize(
    ("teacher", "why"),
    [
        (None, "teacher_model_id is empty"),
        ("meta.llama3-1-70b-instruct-v1:0", "is not a documented distillation teacher"),
        ("amazon.nova-premier-v1:0", "past end of life since 2026-09-14"),
    ],
)
def test_a_bad_teacher_fails_listing_the_valid_ones(teacher, why):
    with pytest.raises(BedrockCustomizationError, match=why) as err:
        _plan({"customization_type": "DISTILLATION", "teacher_model_id": teacher})
    assert "Valid teachers: amazon.nova-pro-v1:0" in str(err.value)


def test_a_teacher_without_distillation_and_a_type_the_model_lacks_fail():
    with pytest.raises(BedrockCustomizationError, match="only used by DISTILLATION, not FINE_TUNING"):
        _plan({"teacher_model_id": "amazon.nova-pro-v1:0"})
    # Nova Pro's only documented teacher (Nova Premier) is past end of life: nothing can teach it now.
    with pytest.raises(
        BedrockCustomizationError, match="every teacher documented for it is past end of life"
    ):
        _plan({"base_model_id": "amazon.nova-pro-v1:0:300k", "customization_type": "DISTILLATION"})
    with pytest.raises(BedrockCustomizationError) as err:
        _plan({"customization_type": "CONTINUED_PRE_TRAINING"})
    assert str(err.value).startswith(
        "amazon.nova-micro-v1:0:128k (Nova Micro) cannot be customized with CONTINUED_PRE_TRAINING"
    )
    assert "It offers FINE_TUNING, DISTILLATION" in str(err.value)
    assert "No catalogued base model offers CONTINUED_PRE_TRAINING now" in str(err.value)
    with pytest.raises(
        BedrockCustomizationError, match="text_key=body maps the text of CONTINUED_PRE_TRAINING"
    ):
        _plan({"text_key": "body"})


def test_continued_pre_training_plans_its_text_key_for_a_model_that_offers_it(monkeypatch):
    from tests.dataset.helpers import PLAIN, offer_continued_pre_training

    offer_continued_pre_training(monkeypatch)
    run = _plan({"base_model_id": PLAIN, "customization_type": "CONTINUED_PRE_TRAINING", "text_key": "body"})
    assert run["customization_type"] == "CONTINUED_PRE_TRAINING" and run["text_key"] == "body"
    from bedrock_customization.pipeline import params

    assert "CONTINUED_PRE_TRAINING" in params.customization_types()
    assert "text_key" in params.customization()


def test_the_form_offers_only_types_and_teachers_a_current_model_has():
    from bedrock_customization.pipeline import params

    form = params.customization()
    types = ["FINE_TUNING", "DISTILLATION", "REINFORCEMENT_FINE_TUNING"]
    assert form["customization_type"].schema["enum"] == types
    assert form["teacher_model_id"].schema["examples"] == ["amazon.nova-pro-v1:0"]
    assert form["teacher_model_id"].value is None
    assert form["grader_lambda_arn"].value is None  # required by the plan for RFT only
    assert "text_key" not in form  # no current model offers continued pre-training


def _entry(config_hash, loss, model_arn="arn:m", diverged=False):
    return {
        "index": 0,
        "config_hash": config_hash,
        "label": config_hash,
        "hyperparameters": {"epochCount": "2"},
        "final_validation_loss": loss,
        "diverged": diverged,
        "model_arn": f"{model_arn}/{config_hash}",
    }


def test_a_single_model_without_validation_loss_is_still_evaluated_in_a_retraining():
    entries = [_entry("a", None)]
    assert sweep.leaderboard(entries, require_loss=True)["winner"] is None
    assert sweep.leaderboard(entries, require_loss=False)["winner"] == "a"
    assert sweep.leaderboard([_entry("a", 0.2, diverged=True)], require_loss=False)["winner"] is None


def test_the_chosen_candidate_is_the_best_one_its_evaluation_promotes_and_the_rest_lose():
    board = sweep.leaderboard([_entry("a", 0.2), _entry("b", 0.3), _entry("c", 0.4)], top_k=2)
    candidates = [{"model_arn": e["model_arn"]} for e in board["entries"] if e["selected"]]
    summaries = [
        {"primary_metric": "chrf", "decision": "reject", "candidate": {"chrf": 80.0}},
        {"primary_metric": "chrf", "decision": "promote", "candidate": {"chrf": 70.0}},
    ]
    chosen = sweep.choose(board, candidates, ["arn:t/a", "arn:t/b"], summaries)
    assert chosen["config_hash"] == "b" and chosen["serving_arn"] == "arn:t/b"
    assert sorted(e["config_hash"] for e in sweep.losers(board, chosen, evaluated=True)) == ["a", "c"]
    assert [e["config_hash"] for e in sweep.losers(board, None, evaluated=True)] == ["c"]

    # An inconclusive evaluation is no promotion: the promoted one wins although it scored lower; with none
    # promoted, the best-scoring one is chosen and its "inconclusive" goes on to the promotion (champion kept).
    summaries[0]["decision"] = "inconclusive"
    assert sweep.choose(board, candidates, ["arn:t/a", "arn:t/b"], summaries)["config_hash"] == "b"
    summaries[1]["decision"] = "reject"
    chosen = sweep.choose(board, candidates, ["arn:t/a", "arn:t/b"], summaries)
    assert (chosen["config_hash"], chosen["decision"]) == ("a", "inconclusive")


# ------------------------------------------------------------------------------ reinforcement fine-tuning

NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
GRADER = "arn:aws:lambda:us-east-1:123456789012:function:reward"


def test_reinforcement_fine_tuning_plans_the_grader_and_its_own_hyperparameters():
    run = _plan(
        {"base_model_id": NOVA_2_LITE, "customization_type": "REINFORCEMENT_FINE_TUNING",
         "grader_lambda_arn": GRADER, "hyperparameters": {"epochCount": 3, "reasoningEffort": "low"}}
    )  # fmt: skip
    assert run["customization_type"] == "REINFORCEMENT_FINE_TUNING" and run["grader_lambda_arn"] == GRADER
    # RFT's own hyperparameters (no documented defaults: nothing is added)
    assert run["jobs"][0]["hyperparameters"] == {"epochCount": "3", "reasoningEffort": "low"}


def test_a_sweep_of_reinforcement_fine_tuning_plans_one_rft_job_per_configuration():
    run = _plan(
        {"base_model_id": NOVA_2_LITE, "customization_type": "REINFORCEMENT_FINE_TUNING", "grader_lambda_arn": GRADER,
         "search_space": {"epochCount": [2, 4], "trainingSamplePerPrompt": [4]}, "top_k": 2},
        scope="date",
    )  # fmt: skip
    assert [job["hyperparameters"] for job in run["jobs"]] == [
        {"epochCount": "2", "trainingSamplePerPrompt": "4"},
        {"epochCount": "4", "trainingSamplePerPrompt": "4"},
    ]
    assert run["serving_kind"] == "provisioned"  # no on-demand deployment of Nova 2 Lite custom models


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({}, "REINFORCEMENT_FINE_TUNING needs grader_lambda_arn"),
        ({"grader_lambda_arn": "reward"}, "grader_lambda_arn=reward is not a Lambda function ARN"),
        (
            {"grader_lambda_arn": GRADER, "hyperparameters": {"batchSize": 8}},
            r"batchSize.*16\.\.512",
        ),
        (
            {"grader_lambda_arn": GRADER, "hyperparameters": {"learningRateWarmupSteps": 10}},
            "learningRateWarmupSteps",
        ),
    ],
)
def test_reinforcement_fine_tuning_without_a_valid_grader_or_hyperparameters_fails(params, why):
    with pytest.raises(BedrockCustomizationError, match=why):
        _plan({"base_model_id": NOVA_2_LITE, "customization_type": "REINFORCEMENT_FINE_TUNING", **params})


def test_a_grader_for_another_type_or_rft_on_a_model_without_it_fails():
    with pytest.raises(
        BedrockCustomizationError, match="only used by REINFORCEMENT_FINE_TUNING, not FINE_TUNING"
    ):
        _plan({"base_model_id": NOVA_2_LITE, "grader_lambda_arn": GRADER})
    with pytest.raises(
        BedrockCustomizationError, match="cannot be customized with REINFORCEMENT_FINE_TUNING"
    ):
        _plan({"customization_type": "REINFORCEMENT_FINE_TUNING", "grader_lambda_arn": GRADER})


# ------------------------------------------------------------------------------- invocation logs as data

LOGS = "s3://central-logs/AWSLogs/123456789012/BedrockModelInvocationLogs/"
DISTIL = {"customization_type": "DISTILLATION", "teacher_model_id": "amazon.nova-pro-v1:0"}


def test_distillation_from_invocation_logs_plans_the_api_config_and_still_the_raw_data():
    one = _plan({**DISTIL, "invocation_logs_uri": LOGS, "invocation_logs_metadata": {"app": "support-bot"}})
    assert one["invocation_logs"] == {
        "invocationLogSource": {"s3Uri": LOGS},
        "usePromptResponse": False,
        "requestMetadataFilters": {"equals": {"app": "support-bot"}},
    }
    # The raw data is still prepared: its validation split is the held-out set of the evaluation.
    assert one["raw_uri"] == "s3://landing-zone/raw/2026-03-01/qa_pairs.jsonl"
    # A RequestMetadataFilters map holds one entry: several pairs that must all equal go in andAll.
    several = _plan(
        {**DISTIL, "invocation_logs_uri": LOGS, "invocation_logs_use_responses": True,
         "invocation_logs_metadata": {"app": "support-bot", "tier": "gold"}}
    )["invocation_logs"]  # fmt: skip
    assert several["usePromptResponse"] is True
    assert several["requestMetadataFilters"] == {
        "andAll": [{"equals": {"app": "support-bot"}}, {"equals": {"tier": "gold"}}]
    }
    assert "requestMetadataFilters" not in _plan({**DISTIL, "invocation_logs_uri": LOGS})["invocation_logs"]
    assert _plan(DISTIL)["invocation_logs"] is None


def test_reinforcement_fine_tuning_may_train_on_invocation_logs_too():
    rft = {
        "base_model_id": "amazon.nova-2-lite-v1:0:256k",
        "customization_type": "REINFORCEMENT_FINE_TUNING",
        "grader_lambda_arn": "arn:aws:lambda:us-east-1:123456789012:function:reward",
        "invocation_logs_uri": LOGS,
    }
    assert _plan(rft)["invocation_logs"]["invocationLogSource"] == {"s3Uri": LOGS}


@pytest.mark.parametrize(
    ("params", "why"),
    [
        ({"invocation_logs_uri": LOGS}, "trains DISTILLATION or REINFORCEMENT_FINE_TUNING only.*not FINE_TUNING"),
        ({**DISTIL, "invocation_logs_uri": "central-logs/AWSLogs/"}, "invocation_logs_uri 'central-logs/AWSLogs/' "
         "is not an S3 URI"),
        ({**DISTIL, "invocation_logs_uri": "s3://central-logs/logs with space/"}, "key segments of letters"),
        ({**DISTIL, "invocation_logs_uri": LOGS, "invocation_logs_metadata": {"app": "support bot!"}},
         "'app': 'support bot!' is not a request metadata filter"),
        ({**DISTIL, "invocation_logs_uri": LOGS, "invocation_logs_metadata": {"app": 7}}, "'app': 7 is not"),
        ({**DISTIL, "invocation_logs_uri": LOGS, "invocation_logs_metadata": {f"k{i}": "v" for i in range(17)}},
         "at most 16 request metadata keys"),
        ({**DISTIL, "invocation_logs_metadata": {"app": "bot"}}, "only apply with invocation_logs_uri"),
        ({**DISTIL, "invocation_logs_use_responses": True}, "only apply with invocation_logs_uri"),
    ],
)  # fmt: skip
def test_bad_invocation_log_settings_fail_in_the_plan_naming_the_param(params, why):
    with pytest.raises(BedrockCustomizationError, match=why):
        _plan(params)


def test_the_form_offers_the_invocation_log_params_off_by_default():
    from bedrock_customization.pipeline import params

    form = params.customization()
    assert form["invocation_logs_uri"].value is None and form["invocation_logs_metadata"].value is None
    assert form["invocation_logs_use_responses"].value is False
    assert "held-out set" in form["invocation_logs_uri"].description
