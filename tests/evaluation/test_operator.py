"""BedrockEvaluateModelsOperator against the in-process emulator: a fine-tuned model vs its base model."""

from __future__ import annotations

import json

import pytest

from bedrock_customization.evaluation import EvaluationError
from bedrock_customization.evaluation.samples import parse_sample_size
from bedrock_customization.operators.evaluation import BedrockEvaluateModelsOperator

from .conftest import BUCKET, JUDGE, NOVA_MICRO_ON_DEMAND, REGION

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OUTPUT = f"s3://{BUCKET}/evaluation/run-1/"


def operator(fine_tuned: dict, **overrides) -> BedrockEvaluateModelsOperator:
    kwargs = {
        "task_id": "evaluate",
        "aws_conn_id": None,
        "region_name": REGION,
        "validation_data_uri": fine_tuned["validation_uri"],
        "output_uri": OUTPUT,
        "baseline_model_id": NOVA_MICRO_ON_DEMAND,
        "baseline_label": "Nova Micro (base)",
        "candidate_model_id": fine_tuned["throughput_arn"],
        "candidate_label": "fine-tuned",
        "sample_size": 16,
        "seed": 7,
        "retry_base_delay": 0.01,
        "retry_max_delay": 0.05,
        **overrides,
    }
    return BedrockEvaluateModelsOperator(**kwargs)


def read(s3, uri: str) -> bytes:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def test_template_fields_cover_every_uri_and_id():
    fields = set(BedrockEvaluateModelsOperator.template_fields)
    assert {
        "validation_data_uri",
        "output_uri",
        "baseline_model_id",
        "candidate_model_id",
        "judge_model_id",
        "kms_key_id",
        "baseline_label",
        "candidate_label",
        "sample_size",
        "seed",
        "margin",
    } <= fields


def test_botocore_retries_are_off_for_runtime_calls():
    op = BedrockEvaluateModelsOperator(
        task_id="t",
        validation_data_uri="s3://bucket/v.jsonl",
        output_uri="s3://bucket/out/",
        baseline_model_id="a",
        candidate_model_id="b",
        botocore_config={"read_timeout": 300, "retries": {"max_attempts": 10}},
    )
    assert op._hook_parameters["config"] == {
        "read_timeout": 300,
        "retries": {"mode": "standard", "total_max_attempts": 1},
    }


def test_candidate_wins_and_every_output_is_written(fine_tuned, s3, tmp_path):
    import boto3

    key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    summary = operator(fine_tuned, kms_key_id=key_arn).execute({})

    assert summary["decision"] == "promote"
    assert summary["samples"] == 16
    test = summary["significance"]
    assert test["n"] == 16 and test["seed"] == summary["seed"]
    assert test["ci_low"] > 20 and test["p_value"] < 0.001
    assert summary["primary_metric"] == "chrf" and summary["margin"] == 0.0
    assert list(summary["metrics"]) == ["rouge_l", "chrf", "exact_match"]
    baseline, candidate = summary["baseline"], summary["candidate"]
    assert baseline["model_id"] == NOVA_MICRO_ON_DEMAND and baseline["label"] == "Nova Micro (base)"
    assert candidate["model_id"] == fine_tuned["throughput_arn"] and candidate["label"] == "fine-tuned"
    assert candidate["chrf"] > baseline["chrf"] + 20
    assert candidate["rouge_l"] > baseline["rouge_l"] + 0.2
    assert candidate["exact_match"] >= baseline["exact_match"]
    assert summary["retries"] == {"baseline": 0, "candidate": 0}
    json.dumps(summary)  # XCom-serialisable

    uris = summary["uris"]
    assert uris == {
        "responses": OUTPUT + "responses.jsonl",
        "summary": OUTPUT + "summary.json",
        "report": OUTPUT + "report.md",
        "chart": OUTPUT + "metrics_chart.png",
    }
    rows = [json.loads(line) for line in read(s3, uris["responses"]).decode().splitlines()]
    assert len(rows) == 16
    assert set(rows[0]) == {
        "index",
        "line",
        "prompt",
        "reference",
        "baseline_response",
        "candidate_response",
        "scores",
    }
    assert set(rows[0]["scores"]) == {"baseline", "candidate"}
    assert set(rows[0]["scores"]["candidate"]) == {"rouge_l", "chrf", "exact_match"}
    assert [r["index"] for r in rows] == sorted(r["index"] for r in rows)
    assert all(r["line"] == r["index"] + 1 for r in rows)
    assert any("Kumo Ledger" in r["candidate_response"] or "KL-" in r["candidate_response"] for r in rows)

    assert json.loads(read(s3, uris["summary"])) == summary
    report = read(s3, uris["report"]).decode()
    assert report.startswith("# Model evaluation: PROMOTE")
    assert "| chrF (primary) | 0-100 |" in report and "| ROUGE-L | 0-1 |" in report
    assert "## Largest gains for the candidate (chrF)" in report and "## Largest losses" in report
    assert "95% confidence interval [+" in report and "n = 16 paired samples" in report
    assert (
        "Rule: promote if ci_low > margin; reject if ci_high < margin; else inconclusive (margin 0)."
        in report
    )
    assert (
        "![Mean scores per metric (chrF ÷ 100; error bars: 95% bootstrap interval of each model's mean)]"
        "(metrics_chart.png)" in report
    )

    png = read(s3, uris["chart"])
    assert png.startswith(PNG_SIGNATURE) and len(png) > 10_000
    (tmp_path / "metrics_chart.png").write_bytes(png)
    for uri in uris.values():
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn


def test_throttling_is_retried_and_gives_the_same_summary(fine_tuned, s3, capfd):
    from include.local_aws import CONFIG

    calm = operator(fine_tuned, output_uri=f"s3://{BUCKET}/calm/").execute({})
    CONFIG.update(throttle_every=3)
    capfd.readouterr()
    throttled = operator(fine_tuned, output_uri=f"s3://{BUCKET}/throttled/").execute({})
    logged = capfd.readouterr()

    retries = throttled["retries"]
    assert retries["baseline"] + retries["candidate"] >= 10  # every third of 32+ calls
    assert calm["retries"] == {"baseline": 0, "candidate": 0}
    for role in ("baseline", "candidate"):
        assert throttled[role] == calm[role]
    assert throttled["decision"] == calm["decision"] == "promote"
    warnings = [
        line for line in (logged.out + logged.err).splitlines() if "ThrottlingException; retry" in line
    ]
    assert len(warnings) == retries["baseline"] + retries["candidate"]
    assert "model" in warnings[0] and "sample" in warnings[0]
    rows = [json.loads(line) for line in read(s3, throttled["uris"]["responses"]).decode().splitlines()]
    calm_rows = [json.loads(line) for line in read(s3, calm["uris"]["responses"]).decode().splitlines()]
    assert rows == calm_rows


def test_sampling_is_deterministic_by_seed(fine_tuned, s3):
    def indices(seed: int, name: str) -> list[int]:
        summary = operator(fine_tuned, sample_size=5, seed=seed, output_uri=f"s3://{BUCKET}/{name}/").execute(
            {}
        )
        return [
            json.loads(line)["index"] for line in read(s3, summary["uris"]["responses"]).decode().splitlines()
        ]

    first = indices(11, "a")
    assert first == indices(11, "b")
    assert first != indices(12, "c")
    assert len(first) == 5


def test_a_missing_candidate_fails_with_the_model_and_sample(fine_tuned, s3):
    missing = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/doesnotexist1"
    with pytest.raises(EvaluationError) as raised:
        operator(fine_tuned, candidate_model_id=missing, max_concurrency=2).execute({})
    message = str(raised.value)
    assert f"candidate model {missing}" in message
    assert "on sample" in message and "validation.jsonl" in message
    assert "ResourceNotFoundException" in message
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="evaluation/")  # nothing half-written


def test_exhausted_retries_fail_with_a_clear_message(fine_tuned, s3):
    from include.local_aws import CONFIG

    CONFIG.update(throttle_every=1)
    with pytest.raises(EvaluationError, match=r"still failed after 2 attempts \(ThrottlingException"):
        operator(fine_tuned, max_attempts=2, sample_size=2).execute({})


def test_llm_judge_through_the_operator(fine_tuned, s3):
    summary = operator(fine_tuned, sample_size=6, judge_model_id=JUDGE, primary_metric="llm_judge").execute(
        {}
    )
    assert list(summary["metrics"]) == ["rouge_l", "chrf", "exact_match", "llm_judge"]
    assert summary["metrics"]["llm_judge"] == {"label": "LLM judge", "scale": 10.0}
    assert summary["candidate"]["llm_judge"] > summary["baseline"]["llm_judge"] + 2
    # The judge's per-sample scores (mean over both answer orders) decide.
    assert summary["significance"]["metric"] == "llm_judge" and summary["decision"] == "promote"
    assert summary["retries"] == {"baseline": 0, "candidate": 0, "judge": 0}
    judge = summary["judge"]
    assert (judge["samples"], judge["order_flips"], judge["order_flip_rate"]) == (6, 0, 0.0)
    for name in ("correctness", "completeness", "helpfulness"):
        assert judge["criteria"]["candidate"][name] > judge["criteria"]["baseline"][name]
    row = json.loads(read(s3, summary["uris"]["responses"]).decode().splitlines()[0])
    details = row["details"]["candidate"]["llm_judge"]
    assert set(details) == {
        "correctness",
        "completeness",
        "helpfulness",
        "overall",
        "orders",
        "order_flipped",
    }
    assert row["scores"]["candidate"]["llm_judge"] == details["overall"]
    # The baseline's answer is Response A first, then Response B.
    assert [order["position"] for order in details["orders"]] == ["Response B", "Response A"]
    report = read(s3, summary["uris"]["report"]).decode()
    assert "## Judge" in report and "order of the two responses is arbitrary" in report
    assert "Judge's reasons:" in report and "closer to the reference" in report


def test_an_unusable_judge_fails_before_any_prompt(fine_tuned, s3):
    with pytest.raises(EvaluationError, match="LLM judge cannot use acme.judge-v1:0 .*judge_model_id"):
        operator(fine_tuned, judge_model_id="acme.judge-v1:0").execute({})
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="evaluation/")


def test_semantic_similarity_through_the_operator(fine_tuned, s3):
    from include.local_aws import CONFIG

    def evaluate(name: str) -> dict:
        return operator(
            fine_tuned,
            output_uri=f"s3://{BUCKET}/{name}/",
            sample_size=6,
            metrics=["chrf", "semantic"],
            primary_metric="semantic",
            metric_options={"semantic": {"dimensions": 512}},
        ).execute({})

    summary = evaluate("calm")
    assert list(summary["metrics"]) == ["chrf", "semantic"]
    assert summary["metrics"]["semantic"] == {"label": "Semantic similarity", "scale": 1.0}
    assert summary["primary_metric"] == "semantic"
    assert 0.0 <= summary["baseline"]["semantic"] < summary["candidate"]["semantic"] - 0.2
    assert summary["candidate"]["semantic"] <= 1.0
    assert summary["retries"] == {"baseline": 0, "candidate": 0}
    row = json.loads(read(s3, summary["uris"]["responses"]).decode().splitlines()[0])
    assert set(row["scores"]["candidate"]) == {"chrf", "semantic"}

    CONFIG.update(throttle_every=4)  # embedding calls are retried and counted like the Converse calls
    throttled = evaluate("throttled")
    assert throttled["retries"]["embeddings"] >= 1
    for role in ("baseline", "candidate"):
        assert throttled[role] == summary[role]


def test_a_wrong_embedding_model_fails_before_any_prompt(fine_tuned, s3):
    with pytest.raises(EvaluationError, match=f"{NOVA_MICRO_ON_DEMAND}' is not one it knows"):
        operator(
            fine_tuned,
            metrics=["chrf", "semantic"],
            metric_options={"semantic": {"model_id": NOVA_MICRO_ON_DEMAND}},
        ).execute({})
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="evaluation/")


def test_bad_configuration_fails_before_any_model_call(fine_tuned, s3):
    with pytest.raises(EvaluationError, match="primary_metric 'bleu' is not among the metrics"):
        operator(fine_tuned, primary_metric="bleu").execute({})
    with pytest.raises(EvaluationError, match="'llm_judge' metric needs judge_model_id"):
        operator(fine_tuned, metrics=["chrf", "llm_judge"]).execute({})
    with pytest.raises(EvaluationError, match="does not exist"):
        operator(fine_tuned, validation_data_uri=f"s3://{BUCKET}/nope.jsonl").execute({})
    with pytest.raises(EvaluationError, match="output_uri 's3://b/out/' is not an S3 URI"):
        operator(fine_tuned, output_uri="s3://b/out/").execute({})
    with pytest.raises(EvaluationError, match="sample_size must be a number or 'all'"):
        operator(fine_tuned, sample_size="a few").execute({})


def test_uris_ids_and_options_render_from_templates():
    op = BedrockEvaluateModelsOperator(
        task_id="evaluate",
        validation_data_uri="s3://{{ params.bucket }}/data/validation.jsonl",
        output_uri="s3://{{ params.bucket }}/runs/{{ run_id }}/evaluation/",
        baseline_model_id="{{ params.base }}",
        candidate_model_id="{{ ti_arn }}",
        kms_key_id="{{ params.kms }}",
        judge_model_id="{{ params.judge }}",
        metrics="{{ params.metrics }}",
        sample_size="{{ params.samples }}",
        margin="{{ params.margin }}",
    )
    context = {
        "params": {
            "bucket": "lz",
            "base": NOVA_MICRO_ON_DEMAND,
            "kms": "alias/lz",
            "judge": JUDGE,
            "metrics": "chrf, rouge_l",
            "samples": "12",
            "margin": "1.5",
        },
        "run_id": "manual__1",
        "ti_arn": "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc",
    }
    op.render_template_fields(context)
    assert op.validation_data_uri == "s3://lz/data/validation.jsonl"
    assert op.output_uri == "s3://lz/runs/manual__1/evaluation/"
    assert (op.baseline_model_id, op.candidate_model_id) == (NOVA_MICRO_ON_DEMAND, context["ti_arn"])
    assert (op.kms_key_id, op.judge_model_id) == ("alias/lz", JUDGE)
    assert parse_sample_size(op.sample_size) == 12 and float(op.margin) == 1.5
    from bedrock_customization.evaluation.metrics import parse_metric_names

    assert parse_metric_names(op.metrics) == ["chrf", "rouge_l"]
