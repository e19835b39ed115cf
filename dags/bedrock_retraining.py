"""
### Bedrock retraining

Fine-tune a Bedrock base model on the question/answer data in the landing-zone bucket, serve it on a
provisioned throughput, compare it with the base model on held-out prompts, and delete the throughput.

Stages: **plan** (names, tokens, validated hyperparameters) → **prepare** (convert and split the raw data,
write train/validation JSONL with SSE-KMS) → **customize** (Bedrock customization job, deferrable) →
**serve** (provisioned throughput, deferrable) → **evaluate** (base vs custom on validation prompts, chrF) →
**cleanup** (teardown: the throughput is deleted whatever failed before).

The landing zone (bucket, role, KMS key) comes from the Airflow Variable `bedrock_customization`
(JSON: `bucket`, `role_arn`, `kms_key_arn`), written by `make run`'s bootstrap. AWS access goes through the
connection `aws_default`; point its `endpoint_url` at the local emulator or leave it out for real AWS.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag, task

from bedrock_customization import settings
from bedrock_customization.operators.bedrock import (
    BedrockCreateProvisionedModelThroughputOperator,
    BedrockCustomizeModelOperator,
    BedrockDeleteProvisionedThroughputOperator,
)

AWS_CONN_ID = "aws_default"


@task
def plan(params: dict | None = None, dag_run=None) -> dict:
    """Validate the inputs and derive every resource name and idempotency token for this run."""
    from airflow.sdk import Variable

    from bedrock_customization import catalog
    from bedrock_customization.naming import client_request_token, digest, resource_name

    landing_zone = Variable.get("bedrock_customization", deserialize_json=True)
    base_model_id = params["base_model_id"]
    model = catalog.get_model(base_model_id)
    warning = catalog.lifecycle_warning(base_model_id)
    if warning:
        print(f"WARNING: {warning}")
    hyperparameters = dict(catalog.validate_hyperparameters(base_model_id, params["hyperparameters"], fill_defaults=True))

    dag_id, run_id = dag_run.dag_id, dag_run.run_id
    prefix = f"runs/{dag_id}/{digest(dag_id, run_id)}"
    bucket = landing_zone["bucket"]
    return {
        "bucket": bucket,
        "role_arn": landing_zone["role_arn"],
        "kms_key_arn": landing_zone["kms_key_arn"],
        "base_model_id": model.id,
        "base_inference_id": model.on_demand_id,
        "hyperparameters": hyperparameters,
        "model_units": params["model_units"],
        "raw_uri": f"s3://{bucket}/{params['dataset_key']}",
        "data_prefix": f"{prefix}/data",
        "output_uri": f"s3://{bucket}/{prefix}/output/",
        "job_name": resource_name("retraining", dag_id, run_id, "customize"),
        "job_token": client_request_token(dag_id, run_id, "customize"),
        "model_name": resource_name("retrained", dag_id, run_id, "model"),
        "throughput_name": resource_name("retraining-eval", dag_id, run_id, "throughput"),
        "throughput_token": client_request_token(dag_id, run_id, "throughput"),
        "tags": [
            {"key": "bedrock-customization:managed-by", "value": "airflow"},
            {"key": "bedrock-customization:dag-id", "value": dag_id},
            {"key": "bedrock-customization:run-id", "value": run_id},
        ],
    }


@task
def prepare_dataset(plan: dict, params: dict | None = None) -> dict:
    """Convert the raw question/answer JSONL to prompt/completion records and split train/validation."""
    import json

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from bedrock_customization.dataset.split import assign_split

    s3 = S3Hook(aws_conn_id=AWS_CONN_ID)
    bucket, key = S3Hook.parse_s3_url(plan["raw_uri"])
    raw = s3.read_key(key, bucket_name=bucket)
    sides: dict[str, list[str]] = {"train": [], "validation": []}
    for line_no, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        prompt, completion = record[params["prompt_key"]], record[params["completion_key"]]
        if not prompt or not completion:
            raise ValueError(f"{plan['raw_uri']} line {line_no}: empty prompt or completion")
        side = assign_split(prompt, seed=params["seed"], validation_fraction=params["validation_fraction"])
        sides[side].append(json.dumps({"prompt": prompt, "completion": completion}, ensure_ascii=False))

    uris = {}
    for side, lines in sides.items():
        key = f"{plan['data_prefix']}/{side}.jsonl"
        s3.get_conn().put_object(
            Bucket=plan["bucket"],
            Key=key,
            Body=("\n".join(lines) + "\n").encode(),
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=plan["kms_key_arn"],
        )
        uris[f"{side}_uri"] = f"s3://{plan['bucket']}/{key}"
    return {**uris, "train_records": len(sides["train"]), "validation_records": len(sides["validation"])}


@task
def describe_custom_model(job_arn: str) -> dict:
    """Read the finished job: the custom model it produced and its final losses."""
    from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook

    job = BedrockHook(aws_conn_id=AWS_CONN_ID).conn.get_model_customization_job(jobIdentifier=job_arn)
    validation = job.get("validationMetrics") or [{}]
    return {
        "job_arn": job["jobArn"],
        "model_arn": job["outputModelArn"],
        "training_loss": job.get("trainingMetrics", {}).get("trainingLoss"),
        "validation_loss": validation[-1].get("validationLoss"),
    }


@task
def evaluate(plan: dict, dataset: dict, throughput_arn: str, params: dict | None = None) -> dict:
    """Ask the base model and the custom model the held-out prompts; score both against the references."""
    import json

    from airflow.providers.amazon.aws.hooks.bedrock import BedrockRuntimeHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from bedrock_customization.evaluation import decide, mean_chrf

    bucket, key = S3Hook.parse_s3_url(dataset["validation_uri"])
    lines = S3Hook(aws_conn_id=AWS_CONN_ID).read_key(key, bucket_name=bucket).splitlines()
    samples = [json.loads(line) for line in lines if line.strip()][: params["eval_samples"]]
    runtime = BedrockRuntimeHook(aws_conn_id=AWS_CONN_ID).conn

    def ask(model_id: str, prompt: str) -> str:
        response = runtime.converse(
            modelId=model_id,
            messages=[{"role": "user", "content": [{"text": prompt}]}],
            inferenceConfig={"maxTokens": 512, "temperature": 0.0},
        )
        return "".join(block.get("text", "") for block in response["output"]["message"]["content"])

    figures = {}
    for role, model_id in (("baseline", plan["base_inference_id"]), ("candidate", throughput_arn)):
        pairs = [(ask(model_id, s["prompt"]), s["completion"]) for s in samples]
        figures[role] = {"model_id": model_id, "chrf": mean_chrf(pairs)}
    decision = decide(figures["baseline"], figures["candidate"], "chrf", params["margin"])
    print(f"Evaluation on {len(samples)} prompts: {figures}; decision: {decision}")
    return {**figures, "samples": len(samples), "metric": "chrf", "decision": decision}


@dag(
    dag_id="bedrock_retraining",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["bedrock", "model-customization", "retraining"],
    default_args={"owner": "ml-platform", "retries": 2, "retry_delay": pendulum.duration(seconds=30)},
    params={
        "base_model_id": Param("amazon.titan-text-express-v1:0:8k", type="string"),
        "hyperparameters": Param(
            {},
            type="object",
            description="Bedrock hyperParameters; validated against the model catalog, missing ones take its defaults.",
        ),
        "dataset_key": Param("raw/qa_pairs.jsonl", type="string", description="Key of the raw JSONL data."),
        "prompt_key": Param("question", type="string"),
        "completion_key": Param("answer", type="string"),
        "validation_fraction": Param(0.2, type="number", minimum=0.05, maximum=0.5),
        "seed": Param(42, type="integer"),
        "eval_samples": Param(12, type="integer", minimum=1),
        "model_units": Param(1, type="integer", minimum=1),
        "margin": Param(0.0, type="number", description="chrF points the candidate must win by."),
    },
    doc_md=__doc__,
)
def bedrock_retraining():
    run = plan()
    dataset = prepare_dataset(run)

    customize = BedrockCustomizeModelOperator(
        task_id="customize_model",
        aws_conn_id=AWS_CONN_ID,
        job_name=run["job_name"],
        custom_model_name=run["model_name"],
        role_arn=run["role_arn"],
        base_model_id=run["base_model_id"],
        training_data_uri=dataset["train_uri"],
        output_data_uri=run["output_uri"],
        hyperparameters=run["hyperparameters"],
        ensure_unique_job_name=False,
        customization_job_kwargs={
            "clientRequestToken": run["job_token"],
            "validationDataConfig": {"validators": [{"s3Uri": dataset["validation_uri"]}]},
            "customModelKmsKeyId": run["kms_key_arn"],
            "jobTags": run["tags"],
            "customModelTags": run["tags"],
        },
        deferrable=True,
        waiter_delay=settings.poll_interval(),
        waiter_max_attempts=settings.max_attempts("job_timeout"),
    )
    model = describe_custom_model(customize.output)

    provision = BedrockCreateProvisionedModelThroughputOperator(
        task_id="provision_throughput",
        aws_conn_id=AWS_CONN_ID,
        model_units=run["model_units"],
        provisioned_model_name=run["throughput_name"],
        model_id=model["model_arn"],
        create_throughput_kwargs={"clientRequestToken": run["throughput_token"], "tags": run["tags"]},
        deferrable=True,
        waiter_delay=settings.poll_interval(),
        waiter_max_attempts=settings.max_attempts("throughput_timeout"),
    )
    # Deleted by name, so a throughput whose creation task failed after the API call is found too.
    delete = BedrockDeleteProvisionedThroughputOperator(
        task_id="delete_throughput",
        aws_conn_id=AWS_CONN_ID,
        provisioned_model_id=run["throughput_name"],
    )
    evaluate(run, dataset, provision.output) >> delete.as_teardown(setups=provision)


bedrock_retraining()

if __name__ == "__main__":
    bedrock_retraining().test()
