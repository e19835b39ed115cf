"""The sweep's pure functions (expand, validate, rank, leaderboard) and the customization operator's
``idempotency_key`` (which the sweep relies on for backfills and re-runs)."""

from __future__ import annotations

import csv
import io
import json
import pickle

import pytest

from bedrock_customization import sweep
from bedrock_customization.exceptions import HyperparameterError, UnknownModelError
from bedrock_customization.lifecycle import ResourceIdentity
from bedrock_customization.operators.customization import BedrockVpcCustomizeModelOperator
from bedrock_customization.tagging import IDEMPOTENCY_KEY as IDEMPOTENCY_KEY_TAG
from bedrock_customization.tagging import RUN_ID as RUN_ID_TAG
from tests.records import conversation_jsonl

NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"
JOB_TOKEN = "model-customization-job"  # the token kind of the customization job's clientRequestToken
GRID = {"epochCount": [2, 4], "learningRate": [0.00001, 0.0001]}


# ------------------------------------------------------------------------------------------------ expand


def test_a_grid_expands_to_every_combination_first_key_slowest():
    assert sweep.expand(GRID) == [
        {"epochCount": 2, "learningRate": 0.00001},
        {"epochCount": 2, "learningRate": 0.0001},
        {"epochCount": 4, "learningRate": 0.00001},
        {"epochCount": 4, "learningRate": 0.0001},
    ]


def test_a_scalar_grid_value_is_one_value_and_a_list_is_taken_as_configurations():
    assert sweep.expand({"epochCount": [1, 2], "batchSize": 1}) == [
        {"epochCount": 1, "batchSize": 1},
        {"epochCount": 2, "batchSize": 1},
    ]
    configs = [{"epochCount": 3}, {}, {"learningRate": "0.0001"}]
    assert sweep.expand(configs) == configs


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({}, "grid is empty"),
        ([], "list of configurations is empty"),
        ({"epochCount": []}, "epochCount has an empty list"),
        ({"epochCount": {"a": 1}}, "expected a list of values"),
        ([{"epochCount": 2}, 3], "Configuration 2 must be an object"),
        ("epochCount=2", "must be a grid"),
    ],
)
def test_malformed_search_spaces_are_refused(space, message):
    with pytest.raises(sweep.SweepError, match=message):
        sweep.expand(space)


# ---------------------------------------------------------------------------------------------- validate


def test_validate_normalises_fills_defaults_and_hashes_stably():
    configs = sweep.validate(NOVA_MICRO, sweep.expand(GRID))
    assert [c.index for c in configs] == [0, 1, 2, 3]
    first = configs[0]
    assert first.hyperparameters == {
        "epochCount": "2",
        "learningRate": "0.00001",
        "learningRateWarmupSteps": "10",
    }
    assert first.swept == {"epochCount": "2", "learningRate": "0.00001"}
    assert first.label == "epochCount=2 learningRate=0.00001"
    assert len({c.config_hash for c in configs}) == 4
    # Strings or numbers, any key order: the same configuration, the same hash.
    again = sweep.validate(NOVA_MICRO, [{"learningRate": "1e-05", "epochCount": "2"}])[0]
    assert again.config_hash == first.config_hash == sweep.config_hash(NOVA_MICRO, first.hyperparameters)
    # The hash is the digest of the model and the sorted normalised values, nothing else.
    assert first.config_hash == sweep.config_hash(NOVA_MICRO, dict(reversed(list(first.hyperparameters.items()))))
    assert sweep.config_hash(LLAMA, first.hyperparameters) != first.config_hash
    assert sweep.SweepConfig.from_dict(json.loads(json.dumps(first.to_dict()))) == first


def test_duplicates_after_normalisation_are_merged_into_one_job():
    configs = sweep.validate(
        NOVA_MICRO,
        [{"epochCount": 2}, {"epochCount": "2", "learningRateWarmupSteps": 10}, {"epochCount": 3}, {"epochCount": 2.0}],
    )
    assert [c.positions for c in configs] == [(1, 2, 4), (3,)]
    assert [c.index for c in configs] == [0, 1]
    (note,) = sweep.duplicates(configs)
    assert "configurations 1, 2, 4 are the same" in note


def test_every_invalid_configuration_is_listed_with_the_allowed_range():
    grid = {"epochCount": [0, 4, 20], "learningRate": [0.00001, 2]}
    with pytest.raises(sweep.InvalidSweepError) as caught:
        sweep.validate(NOVA_MICRO, sweep.expand(grid))
    error = caught.value
    assert isinstance(error, HyperparameterError)
    assert (error.invalid, error.total) == (5, 6)  # only epochCount=4 with learningRate=0.00001 is valid
    message = str(error)
    assert message.startswith(
        f"5 of 6 hyperparameter configurations are invalid for {NOVA_MICRO}; no job was started"
    )
    assert (
        f"configuration 1 of 6 (epochCount=0, learningRate=1e-05): epochCount=0 is outside 1..5 for {NOVA_MICRO}"
        in message
    )
    assert "configuration 4 of 6 (epochCount=4, learningRate=2): learningRate=2 is outside 1e-06..0.0001" in message
    assert "configuration 3 of 6" not in message
    # Configuration 6 has two problems: both are listed.
    assert sum(problem.startswith("configuration 6 of 6") for problem in error.problems) == 2
    assert len(error.problems) == 7
    assert str(pickle.loads(pickle.dumps(error))) == message


def test_unknown_hyperparameters_and_models_are_refused():
    with pytest.raises(sweep.InvalidSweepError, match="Did you mean epochCount"):
        sweep.validate(NOVA_MICRO, [{"epochs": 3}])
    with pytest.raises(UnknownModelError):
        sweep.validate("amazon.titan-nope", [{}])


def test_a_sweep_larger_than_max_configurations_is_refused():
    grid = {"epochCount": [1, 2, 3], "learningRate": [0.00001, 0.0001]}
    assert len(sweep.validate(NOVA_MICRO, sweep.expand(grid), max_configurations=6)) == 6
    with pytest.raises(sweep.SweepError, match="6 distinct configurations, more than max_configurations=5"):
        sweep.validate(NOVA_MICRO, sweep.expand(grid), max_configurations=5)


def test_the_dataset_is_checked_for_the_configuration_with_the_lowest_token_limit():
    # No model AWS offers for fine-tuning today has a batch-size-dependent token limit (Titan Text had):
    # the configurations carry the limits their values would imply; an unknown limit (None) is the loosest.
    configs = [
        sweep.SweepConfig(index, f"hash{index}", {"batchSize": size}, {"batchSize": size}, (index + 1,), limit)
        for index, (size, limit) in enumerate([("1", 4096), ("8", 2048), ("2", 2048), ("4", None)])
    ]
    assert sweep.strictest(configs).hyperparameters["batchSize"] == "8"  # lowest limit, earliest on a tie
    # A limit that does not depend on the values: the same for every configuration, the first one is taken.
    nova = sweep.validate(NOVA_MICRO, [{"epochCount": 1}, {"epochCount": 2}])
    assert [c.max_tokens_per_record for c in nova] == [32000, 32000] and sweep.strictest(nova).index == 0
    assert sweep.strictest(sweep.validate(LLAMA, [{"epochCount": 1}, {"epochCount": 2}])).index == 0


# ------------------------------------------------------------------------------------------- ranking


def _entry(index: int, loss, diverged: bool = False, **extra) -> dict:
    return {
        "index": index,
        "config_hash": f"hash{index}",
        "label": f"epochCount={index}",
        "swept": {"epochCount": str(index)},
        "hyperparameters": {"epochCount": str(index), "batchSize": "1"},
        "final_validation_loss": loss,
        "diverged": diverged,
        "model_arn": f"arn:model/{index}",
        **extra,
    }


def test_rank_orders_by_final_validation_loss_missing_and_diverged_last():
    ranked = sweep.rank(
        [
            _entry(0, 0.9),
            _entry(1, None),
            _entry(2, 0.4),
            _entry(3, 0.1, diverged=True),
            _entry(4, float("nan")),
            _entry(5, 0.4),
        ]
    )
    assert [e["index"] for e in ranked] == [2, 5, 0, 3, 1, 4]  # a tie goes to the earlier configuration
    assert [e["rank"] for e in ranked] == [1, 2, 3, 4, 5, 6]


def test_merge_results_pairs_jobs_by_order_and_metrics_by_job_arn():
    configs = [c.to_dict() for c in sweep.validate(NOVA_MICRO, sweep.expand({"epochCount": [2, 4]}))]
    jobs = [
        {"job_arn": "arn:job/a", "job_name": "a", "model_arn": "arn:model/a"},
        {"job_arn": "arn:job/b", "job_name": "b", "model_arn": "arn:model/b"},
    ]
    metrics = [
        {"job_arn": "arn:job/b", "final_validation_loss": 0.5, "diverged": False, "best_epoch": 4},
        {"job_arn": "arn:job/a", "final_validation_loss": 0.7, "diverged": False, "best_epoch": 2},
    ]
    entries = sweep.merge_results(configs, jobs, metrics)
    assert [(e["label"], e["job_name"], e["final_validation_loss"]) for e in entries] == [
        ("epochCount=2", "a", 0.7),
        ("epochCount=4", "b", 0.5),
    ]
    with pytest.raises(sweep.SweepError, match="2 configurations but 1 job results"):
        sweep.merge_results(configs, jobs[:1], metrics)


def test_leaderboard_selects_the_top_k_eligible_and_names_the_winner():
    entries = [_entry(0, 0.9), _entry(1, 0.1, diverged=True), _entry(2, 0.3), _entry(3, None), _entry(4, 0.5)]
    document = sweep.leaderboard(entries, top_k=2, dag_id="sweep", logical_date="2026-01-02")
    assert document["winner"] == "hash2"
    assert [(e["config_hash"], e["selected"]) for e in document["entries"]] == [
        ("hash2", True),
        ("hash4", True),
        ("hash0", False),
        ("hash1", False),  # diverged: never selected
        ("hash3", False),
    ]
    assert document["metric"] == "final_validation_loss" and document["swept"] == ["epochCount"]
    assert document["dag_id"] == "sweep" and document["schema"] == 1
    assert sweep.leaderboard([_entry(0, None)])["winner"] is None
    with pytest.raises(sweep.SweepError, match="top_k"):
        sweep.leaderboard(entries, top_k=0)


def test_leaderboard_csv_has_one_row_per_configuration_in_rank_order():
    document = sweep.leaderboard([_entry(0, 0.9), _entry(1, 0.2)], top_k=1)
    rows = list(csv.DictReader(io.StringIO(sweep.leaderboard_csv(document))))
    assert list(rows[0])[:3] == ["rank", "config_hash", "epochCount"]
    assert [(r["rank"], r["epochCount"], r["final_validation_loss"], r["selected"]) for r in rows] == [
        ("1", "1", "0.2", "True"),
        ("2", "0", "0.9", "False"),
    ]
    assert rows[0]["model_arn"] == "arn:model/1" and rows[0]["best_epoch"] == ""


def test_the_chart_is_a_png_even_without_losses():
    document = sweep.leaderboard(
        [_entry(0, 0.9), _entry(1, 0.2), _entry(2, None), _entry(3, 3.0, True)], top_k=2
    )
    png = sweep.render_chart(document)
    assert png.startswith(b"\x89PNG") and len(png) > 5000
    assert sweep.render_chart(sweep.leaderboard([_entry(0, None)]), title="t").startswith(b"\x89PNG")


def test_leaderboard_table_has_a_header_and_one_aligned_line_per_configuration_in_rank_order():
    document = sweep.leaderboard([_entry(0, 0.9), _entry(1, 0.2), _entry(2, None)], top_k=2)
    header, rule, *rows = sweep.leaderboard_table(document).splitlines()
    assert header.split() == ["rank", "config", "epochCount", *sweep.RESULT_FIELDS[:5], "selected"]
    assert [row.split()[:3] for row in rows] == [
        ["1", "hash1", "1"],
        ["2", "hash0", "0"],
        ["3", "hash2", "2"],
    ]
    assert [row.split()[-1] for row in rows] == ["winner", "True", "False"]
    # Aligned: the config column starts at the same place on every line.
    assert {row.index("hash") for row in rows} == {header.index("config")}
    assert "arn:model" not in header + "".join(rows)  # the ARNs and URIs stay in the JSON and CSV


def test_the_leaderboard_task_logs_the_leaderboard_as_a_table_one_line_per_configuration(monkeypatch, caplog):
    import logging
    import types

    from include import local_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    configs = [
        {
            **{k: v for k, v in _entry(i, None).items() if k in ("index", "config_hash", "label", "swept")},
            "hyperparameters": {"epochCount": str(i), "learningRate": "0.0001"},
        }
        for i in range(4)
    ]
    jobs = [
        {"job_arn": f"arn:job/{i}", "job_name": f"job-{i}", "model_arn": f"arn:model/{i}"} for i in range(4)
    ]
    metrics = [{"job_arn": f"arn:job/{i}", "final_validation_loss": 1.0 / (i + 1)} for i in range(4)]
    with local_aws.mock():
        import boto3

        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="landing")
        key = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]
        run = {
            "configs": configs,
            "bucket": "landing",
            "scope": "date",
            "top_k": 1,
            "results_uri": "s3://landing/sweeps/2026-03-01/",
            "leaderboard_uri": "s3://landing/sweeps/2026-03-01/leaderboard.json",
            "kms_key_arn": key,
            "logical_date": "2026-03-01",
            "base_model_id": NOVA_MICRO,
            "customization_type": "FINE_TUNING",
            "raw_uri": "s3://landing/raw.jsonl",
            "data_source": "dated",
            "data_uri": "s3://landing/data/",
        }
        caplog.set_level(logging.INFO)
        from bedrock_customization.pipeline import tasks

        document = tasks.leaderboard.function(
            run, jobs, metrics, dag_run=types.SimpleNamespace(dag_id="sweep", run_id="r1")
        )

    [logged] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Leaderboard of")]
    lines = logged.splitlines()
    assert lines[0] == "Leaderboard of 4 configurations, best final_validation_loss first:"
    assert lines[1:] == sweep.leaderboard_table(document).splitlines()
    rows = lines[3:]
    assert len(rows) == 4 and [row.split()[1] for row in rows] == ["hash3", "hash2", "hash1", "hash0"]


# ---------------------------------------------------------------------------------- idempotency key


def test_an_idempotency_key_replaces_run_id_and_map_index_in_names_and_token():
    plain = ResourceIdentity("sweep", "manual__1", "customize", 0)
    first = ResourceIdentity("sweep", "manual__1", "customize", 0, idempotency_key="sweep/2026-01-02/abc")
    rerun = ResourceIdentity("sweep", "backfill__2", "customize", 3, idempotency_key="sweep/2026-01-02/abc")
    other = ResourceIdentity("sweep", "manual__1", "customize", 0, idempotency_key="sweep/2026-01-03/abc")
    assert (first.name("job"), first.name("model"), first.token(JOB_TOKEN)) == (
        rerun.name("job"),
        rerun.name("model"),
        rerun.token(JOB_TOKEN),
    )
    assert (
        first.token(JOB_TOKEN) != plain.token(JOB_TOKEN)
        and first.token(JOB_TOKEN) != other.token(JOB_TOKEN)
        and first.name("job") != other.name("job")
    )
    # Without a key nothing changes: the names of existing runs stay the same.
    assert plain.name("job") == ResourceIdentity("sweep", "manual__1", "customize", 0, None).name("job")
    # Tags record the real run id and the key; another run with the same key owns the job by its tags.
    assert (
        first.tags()[RUN_ID_TAG] == "manual__1"
        and first.tags()[IDEMPOTENCY_KEY_TAG] == "sweep/2026-01-02/abc"
    )
    assert rerun.owns("lost", first.tags(), JOB_TOKEN)
    assert not other.owns("lost", first.tags(), JOB_TOKEN)
    assert not rerun.owns("lost", plain.tags(), JOB_TOKEN)
    assert not plain.owns("lost", {**plain.tags(), RUN_ID_TAG: "manual__2"}, JOB_TOKEN)


@pytest.fixture
def aws(monkeypatch):
    from include import local_aws
    from include.local_aws import CONFIG

    CONFIG.reset()
    CONFIG.update(job_seconds=0.2)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with local_aws.mock():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="landing")
        records = conversation_jsonl((f"q{i}", f"a{i}") for i in range(20))
        for name in ("train.jsonl", "validation.jsonl"):
            s3.put_object(Bucket="landing", Key=name, Body=records.encode())
        yield boto3.client("bedrock", region_name="us-east-1")
    CONFIG.reset()


class _TaskInstance:
    def __init__(self, run_id: str, map_index: int) -> None:
        self.dag_id, self.task_id, self.run_id, self.map_index = "sweep", "customize", run_id, map_index

    def xcom_push(self, key, value) -> None:
        pass


def _operator(key: str | None, **kwargs) -> BedrockVpcCustomizeModelOperator:
    return BedrockVpcCustomizeModelOperator(
        task_id="customize",
        role_arn="arn:aws:iam::123456789012:role/BedrockCustomization",
        base_model_id=NOVA_MICRO,
        training_data_uri="s3://landing/train.jsonl",
        validation_data_uri="s3://landing/validation.jsonl",
        output_data_uri="s3://landing/output/",
        hyperparameters={"epochCount": 2},
        idempotency_key=key,
        deferrable=False,
        waiter_delay=1,
        waiter_max_attempts=30,
        **kwargs,
    )


def test_runs_with_the_same_idempotency_key_share_one_job(aws):
    key = "sweep/2026-01-02/abc"
    first = _operator(key).execute({"ti": _TaskInstance("scheduled__2026-01-02", 0)})
    # A re-run of the date: another run id, another map index (the grid grew), a fresh operator.
    again = _operator(key).execute({"ti": _TaskInstance("manual__2026-02-10", 2)})
    assert again == first
    jobs = aws.list_model_customization_jobs()["modelCustomizationJobSummaries"]
    assert [job["jobArn"] for job in jobs] == [first["job_arn"]]
    tags = {t["key"]: t["value"] for t in aws.list_tags_for_resource(resourceARN=first["job_arn"])["tags"]}
    assert tags[IDEMPOTENCY_KEY_TAG] == key and tags[RUN_ID_TAG] == "scheduled__2026-01-02"
    # Another key (another date) is another job; no key at all is per run, as before.
    _operator("sweep/2026-01-03/abc").execute({"ti": _TaskInstance("manual__2026-02-10", 0)})
    _operator(None).execute({"ti": _TaskInstance("manual__2026-02-10", 0)})
    assert len(aws.list_model_customization_jobs()["modelCustomizationJobSummaries"]) == 3


def test_a_job_under_the_derived_name_with_another_key_is_not_adopted(aws):
    from airflow.providers.common.compat.sdk import AirflowFailException

    key = "sweep/2026-01-02/abc"
    identity = ResourceIdentity("sweep", "whatever", "customize", idempotency_key=key)
    aws.create_model_customization_job(
        jobName=identity.name("job"),
        customModelName="someone-elses-model",
        roleArn="arn:aws:iam::123456789012:role/BedrockCustomization",
        baseModelIdentifier=NOVA_MICRO,
        trainingDataConfig={"s3Uri": "s3://landing/train.jsonl"},
        outputDataConfig={"s3Uri": "s3://landing/elsewhere/"},
        clientRequestToken="someone-else",
    )
    with pytest.raises(AirflowFailException, match="not created with this idempotency key"):
        _operator(key, wait_for_completion=False).execute({"ti": _TaskInstance("manual__1", 0)})


def test_an_overlong_idempotency_key_fails_before_any_aws_call():
    from bedrock_customization.exceptions import BedrockCustomizationError

    with pytest.raises(BedrockCustomizationError, match="at most 256"):
        _operator("k" * 300).execute({"ti": _TaskInstance("manual__1", 0)})
    assert "idempotency_key" in BedrockVpcCustomizeModelOperator.template_fields
