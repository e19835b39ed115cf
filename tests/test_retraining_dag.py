"""The retraining DAG end to end with ``dag.test()`` against the local emulator, with deferrable waits.

The emulator runs in this process (a server thread) or as ``python -m include.local_aws`` in a child
process, the way ``make run`` and docker-compose run it. The scenarios follow a model's life: a first
candidate beats the base model and becomes the champion (served on demand where Bedrock offers it), a better
one replaces it (in place on a serving throughput, or as a new deployment), a worse one is rejected, and an
evaluation that crashes still leaves nothing billing.
"""

from __future__ import annotations

import itertools
import json
import urllib.request

import pendulum
import pytest

pytestmark = pytest.mark.slow

EMULATOR_TIMINGS = {"job_seconds": 3, "throughput_seconds": 1, "deployment_seconds": 1}
#: Each run of a worker takes the next logical date (distinct runs in the session's database); the landing
#: zone gets data for every one of them. Raise it when a worker runs more DAG runs than this.
DATA_DAYS = 40
_days = itertools.count(1)


@pytest.fixture
def in_process_emulator():
    from include.local_aws.config import CONFIG
    from include.local_aws.server import LocalAwsServer

    server = LocalAwsServer(port=0)
    server.start()
    # moto's state is process-wide: start from an empty account, whatever ran before in this process.
    urllib.request.urlopen(urllib.request.Request(f"{server.endpoint_url}/moto-api/reset", method="POST"))
    CONFIG.update(**EMULATOR_TIMINGS)
    yield server.endpoint_url
    CONFIG.reset()
    # Leave an empty account behind too: later tests in this process may list what is there.
    urllib.request.urlopen(urllib.request.Request(f"{server.endpoint_url}/moto-api/reset", method="POST"))
    server.stop()


@pytest.fixture
def server_process_emulator():
    from include.local_stack import start_emulator

    emulator = start_emulator(env={f"LOCAL_AWS_{k.upper()}": str(v) for k, v in EMULATOR_TIMINGS.items()})
    yield emulator.endpoint_url
    emulator.stop()


@pytest.fixture
def retraining(airflow_db, use_endpoint, monkeypatch):
    """Returns ``start(endpoint)`` bootstrapping the landing zone, and ``run(conf)`` running the DAG."""
    from include.bootstrap import bootstrap
    from include.local_stack import REGION, retraining_summary, run_dag

    state = {}

    def start(endpoint_url: str) -> dict:
        use_endpoint(endpoint_url)
        dates = [pendulum.datetime(2026, 1, 1).add(days=d).date() for d in range(1, DATA_DAYS + 1)]
        state["landing_zone"] = bootstrap(REGION, dates=dates)
        monkeypatch.setenv("AIRFLOW_VAR_BEDROCK_CUSTOMIZATION", json.dumps(state["landing_zone"]))
        return state["landing_zone"]

    def run(conf: dict | None = None) -> tuple[object, dict]:
        # Distinct logical dates keep runs apart in the session's metadata database.
        day = next(_days)
        assert day <= DATA_DAYS, f"this worker ran more than {DATA_DAYS} retraining runs: raise DATA_DAYS"
        logical_date = pendulum.datetime(2026, 1, 1, tz="UTC").add(days=day)
        dag_run = run_dag("bedrock_retraining", run_conf=conf, logical_date=logical_date, retry_delay=0.5)
        return dag_run, retraining_summary(dag_run, state["landing_zone"])

    return start, run


def _clients():
    import boto3

    from include.local_stack import REGION

    return boto3.client("bedrock", region_name=REGION), boto3.client("s3", region_name=REGION)


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _alive(bedrock) -> list[dict]:
    return bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]


def _deployments(bedrock) -> list[str]:
    return [
        d["customModelDeploymentArn"]
        for d in bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
    ]


def _record_triggers(monkeypatch) -> list[str]:
    from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

    ran: list[str] = []
    original_run = AwsBaseWaiterTrigger.run

    async def recording_run(self):
        ran.append(type(self).__name__)
        async for event in original_run(self):
            yield event

    monkeypatch.setattr(AwsBaseWaiterTrigger, "run", recording_run)
    return ran


@pytest.mark.parametrize("emulator", ["in_process_emulator", "server_process_emulator"])
def test_first_candidate_beats_the_base_model_and_becomes_the_champion_served_on_demand(
    emulator, retraining, monkeypatch, request
):
    start, run = retraining
    triggers_run = _record_triggers(monkeypatch)
    landing_zone = start(request.getfixturevalue(emulator))

    dag_run, summary = run()  # the form's defaults: serving auto, Nova Micro in us-east-1

    assert summary["state"] == "success", summary
    assert summary["decision"] == "promote" and summary["promotion"] == "evaluation_became_serving"
    baseline, candidate = summary["evaluation"]["baseline"], summary["evaluation"]["candidate"]
    assert baseline["model_id"] == "amazon.nova-micro-v1:0"  # no champion yet: the base model
    assert candidate["chrf"] > baseline["chrf"] + 20 and candidate["rouge_l"] > baseline["rouge_l"]
    assert summary["evaluation_samples"] >= 20
    # The whole validation split (under the eval_samples cap); the gain is far outside the interval's noise.
    significance = summary["significance"]
    assert significance["n"] == summary["evaluation_samples"] and significance["ci_low"] > 20
    assert significance["p_value"] < 0.001 and significance["rule"].startswith("promote if ci_low > margin")

    bedrock, s3 = _clients()
    # Bedrock deploys Nova Micro custom models on demand: no throughput was bought, and the deployment the
    # candidate was evaluated on now serves the champion, as the registry records.
    assert _alive(bedrock) == [] and summary["serving_kind"] == "on_demand"
    assert _deployments(bedrock) == [summary["serving_arn"]] == [candidate["model_id"]]
    assert summary["billable_resources_left"] == []
    deployment = bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=summary["serving_arn"])
    assert deployment["status"] == "Active" and deployment["modelArn"] == summary["custom_model_arn"]

    job = bedrock.get_model_customization_job(jobIdentifier=summary["job_arn"])
    assert job["status"] == "Completed" and job["outputModelArn"] == summary["custom_model_arn"]
    assert sorted(job["vpcConfig"]["subnetIds"]) == sorted(landing_zone["subnet_ids"])
    assert job["vpcConfig"]["securityGroupIds"] == landing_zone["security_group_ids"]
    tags = {t["key"]: t["value"] for t in bedrock.list_tags_for_resource(resourceARN=job["jobArn"])["tags"]}
    assert tags["bedrock-customization:run-id"] == dag_run.run_id

    # The run's estimated cost: each item's arithmetic, and the breakdown adds up to the total.
    parts = summary["estimated_cost"]["breakdown"]
    assert set(parts) == {"training", "evaluation_candidate", "evaluation_baseline", "storage_first_month"}
    assert summary["estimated_cost"]["unpriced"] == []
    total = sum(part["estimated_cost_usd"] for part in parts.values())
    assert summary["estimated_cost_usd"] == pytest.approx(total, abs=1e-6) and total > 0
    training = parts["training"]  # the training records' estimated tokens x the job's epochs x the price
    assert training["tokens"] == training["training_tokens"] * int(job["hyperParameters"]["epochCount"]) > 0
    assert training["estimated_cost_usd"] == pytest.approx(
        training["tokens"] / 1000 * training["price_per_1k_tokens"], abs=1e-6
    )
    # Both models answered on demand, billed by their Converse usage tokens: no model unit-hours.
    for asked in (parts["evaluation_candidate"], parts["evaluation_baseline"]):
        assert asked["input_tokens"] > 0 and asked["output_tokens"] > 0 and "model_units" not in asked
        assert asked["estimated_cost_usd"] == pytest.approx(
            asked["input_tokens"] / 1000 * asked["input_price_per_1k_tokens"]
            + asked["output_tokens"] / 1000 * asked["output_price_per_1k_tokens"],
            abs=1e-6,
        )
    assert parts["storage_first_month"]["models"] == 1  # the promoted candidate is kept

    # Training data encrypted with the landing zone's key; loss curve, report and chart written to S3.
    bucket, key = _split(job["trainingDataConfig"]["s3Uri"])
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == landing_zone["kms_key_arn"]
    for uri in (summary["loss_curve"], summary["evaluation_report"]):
        bucket, key = _split(uri)
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert body.startswith(b"\x89PNG") if key.endswith(".png") else b"chrf" in body.lower()
    bucket, key = _split(summary["evaluation_report"])
    report = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert b"## Cost (estimated)" in report and b"https://aws.amazon.com/bedrock/pricing/" in report

    # Both long waits deferred to triggers (run inline by dag.test) instead of blocking a worker.
    assert "BedrockCustomizeModelCompletedTrigger" in triggers_run
    assert "BedrockCustomModelDeploymentActiveTrigger" in triggers_run
    assert "BedrockProvisionedThroughputInServiceTrigger" not in triggers_run


def test_a_distilled_student_is_evaluated_and_promoted_like_a_fine_tuned_one(in_process_emulator, retraining):
    start, run = retraining
    start(in_process_emulator)

    _, summary = run({"customization_type": "DISTILLATION", "teacher_model_id": "amazon.nova-pro-v1:0"})

    assert summary["state"] == "success", summary
    bedrock, s3 = _clients()
    job = bedrock.get_model_customization_job(jobIdentifier=summary["job_arn"])
    assert job["status"] == "Completed" and job["customizationType"] == "DISTILLATION"
    teacher = job["customizationConfig"]["distillationConfig"]["teacherModelConfig"]
    assert teacher["teacherModelIdentifier"] == "amazon.nova-pro-v1:0"
    assert not job.get("hyperParameters")  # a distillation job takes none
    # The sample data's answers went along as golden examples: every record is a prompt and its answer.
    bucket, key = _split(job["trainingDataConfig"]["s3Uri"])
    records = [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines()]
    assert records and all([m["role"] for m in r["messages"]] == ["user", "assistant"] for r in records)
    # The student learned: it beats its base model and becomes the champion, served on demand like a
    # fine-tuned Nova Micro; only its deployment is left.
    baseline, candidate = summary["evaluation"]["baseline"], summary["evaluation"]["candidate"]
    assert summary["decision"] == "promote" and candidate["chrf"] > baseline["chrf"] + 20
    assert _alive(bedrock) == [] and _deployments(bedrock) == [summary["serving_arn"]] == [
        candidate["model_id"]
    ]
    assert summary["billable_resources_left"] == []


def test_a_student_distilled_from_invocation_logs_is_promoted(in_process_emulator, retraining):
    import boto3

    from include.bootstrap import SAMPLE_DATA
    from include.local_stack import REGION
    from tests.records import invocation_log, invocation_log_object

    start, run = retraining
    landing_zone = start(in_process_emulator)
    bucket = landing_zone["bucket"]
    logs = "AWSLogs/123456789012/BedrockModelInvocationLogs/us-east-1/"
    # What model invocation logging delivered: the support bot's Converse calls (request metadata
    # app=support-bot, the right answers) and, logged first, playground calls of the same questions whose
    # answers are wrong (app=playground). Only the filter keeps the student from learning the wrong ones.
    pairs = [json.loads(line) for line in SAMPLE_DATA.read_text().splitlines() if line.strip()]
    playground = [
        invocation_log(p["question"], f"{p['question']} No idea, ask someone else.", {"app": "playground"},
                       request_id=f"playground-{i}")
        for i, p in enumerate(pairs)
    ]  # fmt: skip
    support = [
        invocation_log(p["question"], p["answer"], {"app": "support-bot"}, request_id=f"support-{i}")
        for i, p in enumerate(pairs)
    ]
    _, s3 = _clients()
    for hour, records in (("09", playground), ("10", support)):
        key = f"{logs}2026/11/20/{hour}/invocation-logs-batch.json.gz"
        s3.put_object(Bucket=bucket, Key=key, Body=invocation_log_object(records))
    # The user's part (rft-access-security, "Invocation log access"): the service role may read the logs.
    boto3.client("iam", region_name=REGION).put_role_policy(
        RoleName=landing_zone["role_arn"].split("/")[-1],
        PolicyName="invocation-logs",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                            "Resource": f"arn:aws:s3:::{bucket}/{logs}*"}]}
        ),
    )  # fmt: skip

    _, summary = run(
        {"customization_type": "DISTILLATION", "teacher_model_id": "amazon.nova-pro-v1:0",
         "invocation_logs_uri": f"s3://{bucket}/{logs}", "invocation_logs_use_responses": True,
         "invocation_logs_metadata": {"app": "support-bot"}}
    )  # fmt: skip

    bedrock, _ = _clients()
    job = bedrock.get_model_customization_job(jobIdentifier=summary["job_arn"])
    assert job["status"] == "Completed" and job["customizationType"] == "DISTILLATION", job
    assert job["trainingDataConfig"] == {
        "invocationLogsConfig": {
            "invocationLogSource": {"s3Uri": f"s3://{bucket}/{logs}"},
            "usePromptResponse": True,
            "requestMetadataFilters": {"equals": {"app": "support-bot"}},
        }
    }
    assert not (job.get("validationDataConfig") or {}).get("validators")
    assert summary["state"] == "success", summary
    # Asked the held-out questions of the prepared split, the student answers like the support bot, not like
    # the playground calls the filter dropped: it beats its base model and becomes the champion.
    baseline, candidate = summary["evaluation"]["baseline"], summary["evaluation"]["candidate"]
    assert summary["decision"] == "promote" and candidate["chrf"] > baseline["chrf"] + 20
    assert summary["billable_resources_left"] == []


def test_reinforcement_fine_tuning_is_graded_by_the_lambda_and_promoted_like_a_fine_tuned_one(
    in_process_emulator, retraining
):
    import boto3

    from include.local_stack import REGION
    from tests.grader import create_grader

    start, run = retraining
    landing_zone = start(in_process_emulator)
    # The user's part: a reward function in the region, and the service role allowed to invoke it.
    grader = create_grader(
        boto3.client("lambda", region_name=REGION), boto3.client("iam", region_name=REGION)
    )
    boto3.client("iam", region_name=REGION).put_role_policy(
        RoleName=landing_zone["role_arn"].split("/")[-1],
        PolicyName="rft-grader",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17",
             "Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": grader}]}
        ),
    )  # fmt: skip

    _, summary = run(
        {"base_model_id": "amazon.nova-2-lite-v1:0:256k", "customization_type": "REINFORCEMENT_FINE_TUNING",
         "grader_lambda_arn": grader, "hyperparameters": {"epochCount": 2, "reasoningEffort": "low"}}
    )  # fmt: skip

    assert summary["state"] == "success", summary
    bedrock, s3 = _clients()
    job = bedrock.get_model_customization_job(jobIdentifier=summary["job_arn"])
    assert job["status"] == "Completed" and job["customizationType"] == "REINFORCEMENT_FINE_TUNING"
    assert job["customizationConfig"]["rftConfig"] == {
        "graderConfig": {"lambdaGrader": {"lambdaArn": grader}},
        "hyperParameters": {"epochCount": 2, "reasoningEffort": "low"},
    }
    assert not job.get("hyperParameters") and not (job.get("validationDataConfig") or {}).get("validators")
    # The training records are prompts with the sample data's answers as the grader's reference answers.
    bucket, key = _split(job["trainingDataConfig"]["s3Uri"])
    records = [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines()]
    assert len(records) >= 100 and all(
        [m["role"] for m in r["messages"]] == ["user"] and r["reference_answer"] for r in records
    )
    # The tuned model beats its base model and becomes the champion; AWS documents no on-demand deployment
    # for Nova 2 Lite custom models, so serving auto provisioned a throughput, the only resource left.
    baseline, candidate = summary["evaluation"]["baseline"], summary["evaluation"]["candidate"]
    assert summary["decision"] == "promote" and candidate["chrf"] > baseline["chrf"] + 20
    (alive,) = _alive(bedrock)
    assert summary["serving_kind"] == "provisioned" and _deployments(bedrock) == []
    assert alive["provisionedModelArn"] == summary["serving_arn"] == candidate["model_id"]
    assert summary["billable_resources_left"] == []


def test_a_provisioned_champion_is_replaced_in_place_and_a_worse_candidate_is_rejected(
    in_process_emulator, retraining, monkeypatch
):
    start, run = retraining
    start(in_process_emulator)
    bedrock, _ = _clients()
    # The shipped table has no throughput price (unconfirmed): the setting supplies one, so every item is priced.
    monkeypatch.setenv(
        "AIRFLOW__BEDROCK_CUSTOMIZATION__PRICES",
        json.dumps({"amazon.nova-micro-v1:0:128k": {"throughput_per_model_unit_hour": 12.5}}),
    )

    _, first = run({"serving": "provisioned", "hyperparameters": {"epochCount": "2"}})
    assert first["state"] == "success" and first["promotion"] == "evaluation_became_serving"
    serving = first["serving_arn"]
    (alive,) = _alive(bedrock)  # exactly one throughput: the evaluation one, now serving
    assert alive["provisionedModelArn"] == serving and first["serving_kind"] == "provisioned"
    assert _deployments(bedrock) == [] and first["billable_resources_left"] == []
    paid = first["estimated_cost"]["breakdown"]["evaluation_candidate"]  # a few seconds pay the first hour
    assert paid["model_units"] == alive["modelUnits"] and paid["hours"] == 1
    assert paid["estimated_cost_usd"] == pytest.approx(alive["modelUnits"] * 12.5)
    assert first["estimated_cost"]["unpriced"] == []

    # Four epochs fit this data better than two: the new candidate beats the champion, not just the base.
    second_run, second = run({"serving": "provisioned", "hyperparameters": {"epochCount": "4"}})
    assert second["state"] == "success", second
    # The deferred in-place update resumed on its first try (dag.test() hands back only the trigger's event).
    promote = next(ti for ti in second_run.get_task_instances() if ti.task_id == "release.promote_model")
    assert promote.try_number == 1
    assert second["evaluation"]["baseline"]["model_id"] == serving
    assert second["decision"] == "promote" and second["promotion"] == "updated_in_place"
    assert second["serving_arn"] == serving  # no second throughput bought
    (alive,) = _alive(bedrock)
    described = bedrock.get_provisioned_model_throughput(provisionedModelId=serving)
    assert described["modelArn"] == second["custom_model_arn"]

    # The top of Nova Micro's learning-rate range, ten times its optimum, fits this data worse than the
    # champion: rejected, its throughput and model deleted.
    _, third = run(
        {"serving": "provisioned", "hyperparameters": {"epochCount": "4", "learningRate": "0.0001"}}
    )
    assert third["state"] == "success", third
    assert third["decision"] == "reject" and third["promotion"] == "rejected"
    assert [t["provisionedModelArn"] for t in _alive(bedrock)] == [serving]
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_custom_model(modelIdentifier=third["custom_model_arn"])
    assert third["billable_resources_left"] == []
    assert third["significance"]["ci_high"] < 0 and third["significance"]["n"] == third["evaluation_samples"]

    # The champion's own configuration again: a model that answers every prompt as the champion does. No
    # evidence either way: inconclusive, the champion stays and the candidate goes like a rejected one.
    _, fourth = run({"serving": "provisioned", "hyperparameters": {"epochCount": "4"}})
    assert fourth["state"] == "success", fourth
    assert fourth["decision"] == "inconclusive" and fourth["promotion"] == "inconclusive"
    assert "scored the same chrf on every one of the" in fourth["significance"]["reason"]
    assert [t["provisionedModelArn"] for t in _alive(bedrock)] == [serving]
    described = bedrock.get_provisioned_model_throughput(provisionedModelId=serving)
    assert described["modelArn"] == second["custom_model_arn"]
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_custom_model(modelIdentifier=fourth["custom_model_arn"])
    assert fourth["billable_resources_left"] == []


def test_an_on_demand_champion_is_replaced_by_the_better_deployment_and_a_provisioned_one_goes(
    in_process_emulator, retraining
):
    start, run = retraining
    start(in_process_emulator)
    bedrock, _ = _clients()

    # A champion on a throughput (an earlier choice of serving=provisioned)...
    _, first = run({"serving": "provisioned", "hyperparameters": {"epochCount": "2"}})
    assert first["state"] == "success" and first["serving_kind"] == "provisioned"

    # ...is replaced by a better candidate served on demand (serving auto): its deployment becomes the
    # champion's and the throughput, billed by the hour, is deleted.
    _, second = run({"hyperparameters": {"epochCount": "4"}})
    assert second["state"] == "success", second
    assert second["evaluation"]["baseline"]["model_id"] == first["serving_arn"]
    assert second["decision"] == "promote" and second["promotion"] == "evaluation_became_serving"
    assert second["serving_kind"] == "on_demand" and _alive(bedrock) == []
    assert _deployments(bedrock) == [second["serving_arn"]] and second["billable_resources_left"] == []
    # The champion's estimated cost has no model unit-hours: both models answered on demand.
    assert "model_units" not in second["estimated_cost"]["breakdown"]["evaluation_candidate"]

    # A worse candidate on demand is rejected: its deployment and model go, the champion's deployment stays.
    _, third = run({"hyperparameters": {"epochCount": "4", "learningRate": "0.0001"}})
    assert third["state"] == "success", third
    assert third["evaluation"]["baseline"]["model_id"] == second["serving_arn"]
    assert third["decision"] == "reject" and third["promotion"] == "rejected"
    assert _deployments(bedrock) == [second["serving_arn"]] and third["billable_resources_left"] == []
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_custom_model(modelIdentifier=third["custom_model_arn"])


def test_an_llm_judge_grades_both_answer_orders_and_its_reasons_reach_the_report(
    in_process_emulator, retraining
):
    start, run = retraining
    start(in_process_emulator)

    _, summary = run(
        {
            "judge_model_id": "amazon.nova-pro-v1:0",
            "metrics": ["chrf", "llm_judge"],
            "primary_metric": "llm_judge",
            "eval_samples": 12,
            "confidence": 0.99,
        }
    )

    assert summary["state"] == "success", summary
    baseline, candidate = summary["evaluation"]["baseline"], summary["evaluation"]["candidate"]
    # The judge prefers the fine-tuned model's answers (closer to the references) over the base model's, and
    # its per-sample scores, each the mean over both answer orders, decide.
    assert candidate["llm_judge"] > baseline["llm_judge"] + 2
    assert summary["significance"]["metric"] == "llm_judge" and summary["decision"] == "promote"
    assert summary["significance"]["confidence"] == 0.99  # the form's confidence reaches the decision
    _, s3 = _clients()
    bucket, key = _split(summary["evaluation_report"])
    report = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert "## Judge" in report and "`amazon.nova-pro-v1:0` graded both models' answers" in report
    assert "Position bias: the verdict (which answer is better, or a tie) changed" in report
    assert "Rubric (the judge's system prompt" in report
    reasons = [line for line in report.splitlines() if line.startswith("- Order ")]
    assert reasons and all("closer to the reference" in line for line in reasons)
    assert any(
        line.startswith("- Order 2, baseline as Response B and candidate as Response A") for line in reasons
    )


def _break_the_champion(s3, bucket: str) -> None:
    """The registry names a champion whose throughput someone deleted by hand: evaluation fails mid-way."""
    from bedrock_customization.promotion import save_registry

    missing = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/deletedbyhand"
    save_registry(
        s3,
        bucket,
        "bedrock-retraining",
        {
            "serving_throughput_arn": missing,
            "serving_model_arn": "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/gone",
            "base_model_id": "amazon.nova-micro-v1:0:128k",
        },
        None,
    )


def _run_models(bedrock, run_id: str) -> dict[str, dict[str, str]]:
    """The custom models tagged with ``run_id``, with their tags."""
    from bedrock_customization import tagging

    models = {}
    for summary in bedrock.list_custom_models()["modelSummaries"]:
        tags = tagging.from_aws(bedrock.list_tags_for_resource(resourceARN=summary["modelArn"])["tags"])
        if tags.get(tagging.RUN_ID) == tagging.clean_value(run_id):
            models[summary["modelArn"]] = tags
    return models


def test_evaluation_crash_still_deletes_the_deployment_and_the_model(in_process_emulator, retraining):
    start, run = retraining
    landing_zone = start(in_process_emulator)
    bedrock, s3 = _clients()
    _break_the_champion(s3, landing_zone["bucket"])

    dag_run, summary = run()

    assert summary["state"] == "failed"
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states["evaluation.evaluate"] == "failed" and states["serving.deploy_on_demand"] == "success"
    assert states["serving.provision_throughput"] == "skipped"
    assert states["teardown.delete_serving"] == "success" and states["teardown.delete_models"] == "success"
    assert _alive(bedrock) == [] and _deployments(bedrock) == []
    # The job completed, so the run made a custom model; it was never promoted: retention=delete removed it.
    assert summary["custom_model_arn"] and _run_models(bedrock, dag_run.run_id) == {}
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_custom_model(modelIdentifier=summary["custom_model_arn"])


def test_retention_keep_keeps_a_failed_runs_model_tagged_for_the_janitor(in_process_emulator, retraining):
    start, run = retraining
    landing_zone = start(in_process_emulator)
    bedrock, s3 = _clients()
    _break_the_champion(s3, landing_zone["bucket"])

    dag_run, summary = run({"retention": "keep"})

    assert summary["state"] == "failed" and _alive(bedrock) == [] and _deployments(bedrock) == []
    models = _run_models(bedrock, dag_run.run_id)
    assert list(models) == [summary["custom_model_arn"]]
    assert models[summary["custom_model_arn"]]["bedrock-customization:decision"] == "failed"


def test_out_of_range_hyperparameter_fails_the_first_task_before_any_job(
    in_process_emulator, retraining, capsys
):
    start, run = retraining
    start(in_process_emulator)
    bedrock, _ = _clients()

    dag_run, summary = run({"hyperparameters": {"epochCount": "50"}})

    assert summary["state"] == "failed"
    plan = next(ti for ti in dag_run.get_task_instances() if ti.task_id == "plan")
    # A retry cannot fix a bad param: the first try fails the task (the DAG's default is 2 retries).
    assert (plan.state, plan.try_number, plan.max_tries) == ("failed", 1, 2)
    assert bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []
    assert _alive(bedrock) == [] and _deployments(bedrock) == []
    # dag.test() writes the task log (logging and the task's exception) to stdout; caplog does not see it.
    assert "epochCount=50 is outside 1..5" in capsys.readouterr().out


def test_native_bedrock_evaluation_jobs_decide_and_leave_nothing_billable(
    in_process_emulator, retraining, monkeypatch
):
    from include.local_aws.config import CONFIG

    start, run = retraining
    triggers_run = _record_triggers(monkeypatch)
    start(in_process_emulator)
    CONFIG.update(evaluation_seconds=2)

    dag_run, summary = run({"engine": "bedrock_evaluation_job"})

    assert summary["state"] == "success", summary
    states = {ti.task_id: ti.state for ti in dag_run.get_task_instances()}
    assert states["evaluation.evaluate"] == "skipped" and states["evaluation.compare_jobs"] == "success"
    # Bedrock's own metrics, parsed from the jobs' *_output.jsonl, decide as the Converse scores would.
    assert summary["decision"] == "promote" and summary["promotion"] == "evaluation_became_serving"
    baseline, candidate = summary["evaluation"]["baseline"], summary["evaluation"]["candidate"]
    assert baseline["model_id"] == "amazon.nova-micro-v1:0"
    assert candidate["Builtin.Accuracy"] > baseline["Builtin.Accuracy"] + 0.3
    significance = summary["significance"]
    assert significance["metric"] == "Builtin.Accuracy" and significance["ci_low"] > 0
    assert significance["n"] == summary["evaluation_samples"] >= 20

    bedrock, s3 = _clients()
    jobs = bedrock.list_evaluation_jobs()["jobSummaries"]
    assert sorted(job["status"] for job in jobs) == ["Completed", "Completed"]
    models = {m for job in jobs for m in job["modelIdentifiers"]}
    assert models == {baseline["model_id"], candidate["model_id"]}
    bucket, key = _split(summary["evaluation_report"])
    assert b"Accuracy" in s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    # The jobs' waits deferred to their trigger; nothing billable is left but the serving throughput (an
    # evaluation job evaluates a throughput, not a deployment: serving auto provisioned one).
    assert "BedrockEvaluationJobCompletedTrigger" in triggers_run
    (alive,) = _alive(bedrock)
    assert alive["provisionedModelArn"] == summary["serving_arn"] == candidate["model_id"]
    assert summary["serving_kind"] == "provisioned" and _deployments(bedrock) == []
    assert summary["billable_resources_left"] == []


def test_an_eval_set_generated_from_a_pdf_is_what_the_run_evaluates_on(in_process_emulator, retraining):
    from fpdf import FPDF

    from bedrock_customization.evaluation.samples import read_samples
    from include.local_stack import xcom_values

    facts = [
        "Kumo Ledger exports every journal to CSV files once a night.",
        "The audit trail of Kumo Ledger keeps each change for seven years.",
        "Kumo Ledger closes a fiscal period only after two approvers sign it off.",
        "Bank feeds in Kumo Ledger refresh every four hours on business days.",
        "Receipts attached to an expense in Kumo Ledger may be up to twenty megabytes.",
        "Kumo Ledger converts foreign invoices at the daily rate of the central bank.",
        "Deleted vouchers in Kumo Ledger stay in the recycle bin for thirty days.",
    ]
    start, run = retraining
    landing_zone = start(in_process_emulator)
    _, s3 = _clients()
    pdf = FPDF()  # a small product sheet, written here as a real PDF
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, " ".join(facts))
    s3.put_object(Bucket=landing_zone["bucket"], Key="docs/ledger-sheet.pdf", Body=bytes(pdf.output()))

    dag_run, summary = run(
        {
            "eval_set": "generated",
            "eval_documents_uri": f"s3://{landing_zone['bucket']}/docs/",
            "eval_generated_pairs": len(facts),
        }
    )

    assert summary["state"] == "success", summary
    held_out = xcom_values(dag_run)["data.held_out_set"]
    assert held_out["eval_set"] == "generated" and held_out["generated"] == len(facts) == held_out["records"]
    bucket, key = _split(held_out["uri"])
    response = s3.get_object(Bucket=bucket, Key=key)
    assert response["ServerSideEncryption"] == "aws:kms"
    assert response["SSEKMSKeyId"] == landing_zone["kms_key_arn"]
    generated = read_samples(response["Body"].read().decode())
    assert [sample.reference for sample in generated] == facts  # answers grounded in the PDF's sentences
    # The evaluation asked exactly the generated questions, and decided on them.
    assert summary["evaluation_samples"] == summary["significance"]["n"] == len(facts)
    assert summary["decision"] in ("promote", "reject", "inconclusive")
    bucket, key = _split(summary["evaluation_report"].rsplit("/", 1)[0] + "/responses.jsonl")
    rows = [json.loads(line) for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().splitlines()]
    assert [row["prompt"] for row in rows] == [sample.prompt for sample in generated]
    assert summary["billable_resources_left"] == []
