"""
### Bedrock retraining

Fine-tune a Bedrock base model on the question/answer data in the landing-zone bucket, inside the VPC and
with the customer-managed KMS key; serve it on a provisioned throughput; compare it with the model it would
replace (the current champion, else the base model); promote it or reject it; leave nothing billable behind.

1. **plan**: validate the params (hyperparameters against the model catalog) and derive names.
2. **prepare_dataset**: convert, validate and split the raw data into the model's format (SSE-KMS).
3. **preflight**: read-only checks of VPC, KMS, S3, IAM role, model and hyperparameters.
4. **customize_model**: the customization job (deferred; retries re-attach, never duplicate).
5. **training_metrics**: loss summary and loss-curve PNG next to the job's output.
6. **provision_throughput**: an evaluation throughput for the custom model (deferred).
7. **select_baseline** and **evaluate**: both models answer the held-out prompts; ROUGE-L, chrF, exact
   match; report, responses and chart in S3.
8. **promote_model**: a winner replaces the champion in place on the serving throughput (or the
   evaluation throughput becomes the serving one); a loser's throughput (and model, per `retention`) is
   deleted. The registry object `registry/bedrock-retraining.json` records the champion.
9. **delete_throughputs** (teardown): deletes every throughput of this run that is not serving, whatever
   failed before it; then **delete_models** (teardown): the run's custom model, unless the registry names
   it, is deleted (`retention=delete`) or tagged `decision=failed` for the janitor (`retention=keep`).

**When it runs**: on the cron schedule `[bedrock_customization] retraining_schedule` (default weekly, Monday
03:00 UTC) *and* whenever the asset `bedrock_retraining_raw_data` is updated (post an asset event when new
data lands), or from the trigger form. The raw data is read from `dataset_key`, where `{date}` is the run's
logical date (`raw/{date}/qa_pairs.jsonl` → `raw/2026-11-23/qa_pairs.jsonl`).

The landing zone (bucket, KMS key, role, subnets, security group, SNS topic) comes from the Airflow Variable
`bedrock_customization`, written by `make run`'s bootstrap (`python -m include.bootstrap`). AWS access goes
through the connection `aws_default`; point its `endpoint_url` at the local emulator or leave it out for
real AWS.

**Waits**: the customization job and the throughputs are waited for in the triggerer; with
`[bedrock_customization] deferrable = False` (`AIRFLOW__BEDROCK_CUSTOMIZATION__DEFERRABLE=False`, e.g. a
deployment without a triggerer) the tasks wait in their worker slots instead.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, TaskGroup, dag, task

from bedrock_customization import catalog, settings
from bedrock_customization.notifications import sns_notifiers
from bedrock_customization.operators.bedrock import (
    BedrockCreateProvisionedModelThroughputOperator,
    BedrockDeleteRunModelsOperator,
    BedrockDeleteRunThroughputsOperator,
)
from bedrock_customization.operators.customization import BedrockVpcCustomizeModelOperator
from bedrock_customization.operators.dataset import PrepareBedrockDatasetOperator
from bedrock_customization.operators.evaluation import BedrockEvaluateModelsOperator
from bedrock_customization.operators.metrics import CollectTrainingMetricsOperator
from bedrock_customization.operators.preflight import BedrockCustomizationPreflightOperator
from bedrock_customization.operators.promotion import BedrockPromoteModelOperator
from bedrock_customization.retries import FAIL_FAST

AWS_CONN_ID = "aws_default"
REGISTRY = "bedrock-retraining"
RAW_DATA = Asset(name="bedrock_retraining_raw_data", uri="bedrock-customization://raw-data")
TOPIC = "{{ params.notification_topic or var.json.get('bedrock_customization', {}).get('topic_arn', '') }}"
THROUGHPUT_WAIT = {
    "deferrable": settings.deferrable(),
    "waiter_delay": settings.poll_interval(),
    "waiter_max_attempts": settings.max_attempts("throughput_timeout"),
}


@task
def plan(params: dict | None = None, dag_run=None) -> dict:
    """Validate the params against the model catalog and derive this run's locations and names."""
    import logging

    from airflow.sdk import Variable

    from bedrock_customization import catalog
    from bedrock_customization.naming import digest, resource_name

    landing_zone = Variable.get("bedrock_customization", deserialize_json=True)
    model = catalog.get_model(params["base_model_id"])
    warning = catalog.lifecycle_warning(model.id)
    if warning:
        logging.getLogger(__name__).warning("%s", warning)
    customization_type = params["customization_type"]
    catalog.record_format(model.id, customization_type)  # raises with the supported types
    hyperparameters = catalog.validate_hyperparameters(
        model.id, params["hyperparameters"], customization_type, fill_defaults=True
    )

    dag_id, run_id = dag_run.dag_id, dag_run.run_id
    bucket = landing_zone["bucket"]
    prefix = f"s3://{bucket}/runs/{dag_id}/{digest(dag_id, run_id)}"
    use_vpc = params["use_vpc"]
    run_date = (dag_run.logical_date or dag_run.run_after).date().isoformat()
    return {
        "bucket": bucket,
        "role_arn": landing_zone["role_arn"],
        "kms_key_arn": params["kms_key_id"] or landing_zone["kms_key_arn"],
        "subnet_ids": (params["subnet_ids"] or landing_zone["subnet_ids"]) if use_vpc else None,
        "security_group_ids": (params["security_group_ids"] or landing_zone["security_group_ids"])
        if use_vpc
        else None,
        "base_model_id": model.id,
        "base_inference_id": model.inference_id,
        "customization_type": customization_type,
        "hyperparameters": dict(hyperparameters),
        "raw_uri": f"s3://{bucket}/{params['dataset_key'].replace('{date}', run_date)}",
        "data_uri": f"{prefix}/data/",
        "output_uri": f"{prefix}/output/",
        "evaluation_uri": f"{prefix}/evaluation/",
        "throughput_name": resource_name("retraining-eval", dag_id, run_id, "throughput"),
        "model_units": params["model_units"],
    }


@task
def select_baseline(run: dict) -> dict:
    """The model the candidate must beat: the registry's champion, else the base model."""
    from bedrock_customization.operators import promotion

    return promotion.select_baseline(
        AWS_CONN_ID, run["bucket"], REGISTRY, run["base_model_id"], run["base_inference_id"]
    )


@dag(
    dag_id="bedrock_retraining",
    # No start_date and run_immediately=False: unpausing starts nothing; the first scheduled run is the next
    # cron tick (a run for the last tick would train on the data of a day long past, next to a manual run).
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(settings.retraining_schedule(), timezone="UTC", run_immediately=False),
        assets=[RAW_DATA],
    ),
    catchup=False,
    # One run at a time: two runs would each compare with the same champion and the later one would replace
    # the other's model without ever being compared with it (the registry's compare-and-swap stops that too).
    max_active_runs=1,
    tags=["bedrock", "model-customization", "retraining"],
    default_args={
        "owner": "ml-platform",
        "retries": 2,
        "retry_delay": pendulum.duration(seconds=30),
        "retry_policy": FAIL_FAST,
    },
    params={
        "base_model_id": Param(
            "amazon.nova-micro-v1:0:128k",
            type="string",
            enum=[model.id for model in catalog.list_models()],
            description="The base model to customize (`bedrock-customize catalog` lists them).",
        ),
        "customization_type": Param(
            "FINE_TUNING", type="string", enum=["FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"]
        ),
        "hyperparameters": Param(
            {},
            type="object",
            description="Bedrock hyperParameters; validated against the model catalog, missing ones take its defaults.",
        ),
        "dataset_key": Param(
            "raw/{date}/qa_pairs.jsonl",
            type="string",
            description="Key of the raw data in the landing-zone bucket; {date} is the run's logical date.",
        ),
        "prompt_key": Param("question", type="string"),
        "completion_key": Param("answer", type="string"),
        "validation_fraction": Param(0.2, type="number", minimum=0.05, maximum=0.5),
        "seed": Param(42, type="integer"),
        "on_invalid": Param("fail", type="string", enum=["fail", "skip"]),
        "use_vpc": Param(True, type="boolean", description="Run the job in the landing zone's subnets."),
        "subnet_ids": Param([], type="array", description="Subnets for the job; empty: the landing zone's."),
        "security_group_ids": Param(
            [], type="array", description="Security groups; empty: the landing zone's."
        ),
        "kms_key_id": Param(
            None,
            type=["null", "string"],
            description="KMS key for data and model; empty: the landing zone's.",
        ),
        "notification_topic": Param(
            None, type=["null", "string"], description="SNS topic ARN; empty: the landing zone's."
        ),
        "model_units": Param(1, type="integer", minimum=1),
        "eval_samples": Param(24, type="integer", minimum=1),
        "primary_metric": Param("chrf", type="string", enum=["chrf", "rouge_l", "exact_match"]),
        "margin": Param(0.0, type="number", description="How much the candidate must win by (metric units)."),
        "retention": Param(
            "delete",
            type="string",
            enum=["delete", "keep"],
            description="A model not promoted (rejected, run failed): deleted, or kept for the janitor.",
        ),
    },
    doc_md=__doc__,
    **sns_notifiers(
        TOPIC, xcom_task_ids={"evaluation": "evaluation.evaluate", "promotion": "release.promote_model"}
    ),
)
def bedrock_retraining():
    run = plan()

    with TaskGroup("data", tooltip="Convert, validate and split the data; check the account"):
        dataset = PrepareBedrockDatasetOperator(
            task_id="prepare_dataset",
            multiple_outputs=True,
            aws_conn_id=AWS_CONN_ID,
            input_uri=run["raw_uri"],
            output_uri=run["data_uri"],
            base_model_id=run["base_model_id"],
            customization_type=run["customization_type"],
            prompt_key="{{ params.prompt_key }}",
            completion_key="{{ params.completion_key }}",
            validation_fraction="{{ params.validation_fraction }}",
            seed="{{ params.seed }}",
            hyperparameters=run["hyperparameters"],
            kms_key_id=run["kms_key_arn"],
            on_invalid="{{ params.on_invalid }}",
        )

        preflight = BedrockCustomizationPreflightOperator(
            task_id="preflight",
            aws_conn_id=AWS_CONN_ID,
            base_model_id=run["base_model_id"],
            role_arn=run["role_arn"],
            training_data_uri=dataset.output["train_uri"],
            validation_data_uris=dataset.output["validation_uri"],
            output_data_uri=run["output_uri"],
            customization_type=run["customization_type"],
            hyperparameters=run["hyperparameters"],
            kms_key_id=run["kms_key_arn"],
            subnet_ids=run["subnet_ids"],
            security_group_ids=run["security_group_ids"],
        )

    with TaskGroup("training", tooltip="The customization job and its metrics"):
        customize = BedrockVpcCustomizeModelOperator(
            task_id="customize_model",
            multiple_outputs=True,
            aws_conn_id=AWS_CONN_ID,
            role_arn=run["role_arn"],
            base_model_id=run["base_model_id"],
            customization_type=run["customization_type"],
            training_data_uri=dataset.output["train_uri"],
            validation_data_uri=dataset.output["validation_uri"],
            output_data_uri=run["output_uri"],
            hyperparameters=run["hyperparameters"],
            kms_key_id=run["kms_key_arn"],
            subnet_ids=run["subnet_ids"],
            security_group_ids=run["security_group_ids"],
            deferrable=settings.deferrable(),
        )
        preflight >> customize

        metrics = CollectTrainingMetricsOperator(
            task_id="training_metrics",
            aws_conn_id=AWS_CONN_ID,
            job_arn=customize.output["job_arn"],
            kms_key_id=run["kms_key_arn"],
        )

    with TaskGroup("evaluation", tooltip="Serve the candidate and compare it with the champion"):
        provision = BedrockCreateProvisionedModelThroughputOperator(
            task_id="provision_throughput",
            aws_conn_id=AWS_CONN_ID,
            model_units=run["model_units"],
            provisioned_model_name=run["throughput_name"],
            model_id=customize.output["model_arn"],
            **THROUGHPUT_WAIT,
        )
        metrics >> provision

        baseline = select_baseline(run)
        evaluate = BedrockEvaluateModelsOperator(
            task_id="evaluate",
            multiple_outputs=True,
            aws_conn_id=AWS_CONN_ID,
            validation_data_uri=dataset.output["validation_uri"],
            output_uri=run["evaluation_uri"],
            baseline_model_id=baseline["model_id"],
            baseline_label=baseline["source"],
            candidate_model_id=provision.output,
            sample_size="{{ params.eval_samples }}",
            primary_metric="{{ params.primary_metric }}",
            margin="{{ params.margin }}",
            kms_key_id=run["kms_key_arn"],
        )

    with TaskGroup("release", tooltip="Promote or reject"):
        promote = BedrockPromoteModelOperator(
            task_id="promote_model",
            aws_conn_id=AWS_CONN_ID,
            registry_name=REGISTRY,
            registry_bucket=run["bucket"],
            registry_kms_key_id=run["kms_key_arn"],
            decision=evaluate.output["decision"],
            candidate_model_arn=customize.output["model_arn"],
            base_model_id=run["base_model_id"],
            evaluation_throughput_arn=provision.output,
            figures=evaluate.output,
            baseline=baseline,
            retention="{{ params.retention }}",
            **THROUGHPUT_WAIT,
        )

    # `plan` is a setup too, so the teardown runs even when the throughput task itself failed after its
    # create call (a setup-only teardown would be skipped then, leaving the throughput billing).
    cleanup = BedrockDeleteRunThroughputsOperator(
        task_id="delete_throughputs",
        aws_conn_id=AWS_CONN_ID,
        provisioned_model_ids=[run["throughput_name"]],
        registry_bucket=run["bucket"],
        registry_name=REGISTRY,
    )
    promote >> cleanup.as_teardown(setups=[run.operator, provision])
    # Then the run's custom model unless promoted: deleted, or with retention=keep tagged for the janitor.
    delete_models = BedrockDeleteRunModelsOperator(
        task_id="delete_models",
        aws_conn_id=AWS_CONN_ID,
        retention="{{ params.retention }}",
        registry_bucket=run["bucket"],
        registry_name=REGISTRY,
    )
    cleanup >> delete_models.as_teardown(setups=[run.operator])


bedrock_retraining()

if __name__ == "__main__":
    bedrock_retraining().test()
