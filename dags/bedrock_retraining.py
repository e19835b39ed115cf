"""
### Bedrock retraining

Fine-tune a Bedrock base model on the question/answer data in the landing-zone bucket (or distil it from a
teacher: `customization_type` DISTILLATION with `teacher_model_id`; or reinforce it with a Lambda grader:
REINFORCEMENT_FINE_TUNING with `grader_lambda_arn`; either may train on model invocation logs instead of the
data file: `invocation_logs_uri`, filtered by `invocation_logs_metadata`, while the data's validation split
stays the evaluation's held-out set), inside the VPC and
with the customer-managed KMS key; serve it (`serving`: on demand where Bedrock offers it, else on a provisioned
throughput); compare it with the model it would
replace (the current champion, else the base model); promote it, reject it or, when the evaluation cannot
tell them apart, keep the champion (inconclusive); leave nothing billable behind.
The same pipeline as `bedrock_hparam_sweep`, with one configuration (`bedrock_customization.pipeline`).

1. **plan**: validate the params (hyperparameters against the model catalog) and derive names; fails at once
   when the date's data is missing.
2. **data**: `prepare_dataset` converts, validates and splits the raw data into the model's format (SSE-KMS);
   `preflight` checks VPC, KMS, S3, IAM role, the model as the region offers it and the hyperparameters.
3. **training**: `customize_model` (deferred; retries re-attach, never duplicate), `training_metrics` (loss
   summary and loss-curve PNG next to the job's output), `leaderboard` (a diverged model goes no further).
4. **serving**: `deploy_on_demand` (a custom model deployment, billed per token) or `provision_throughput` (a
   no-commitment throughput, billed per model unit-hour), as `serving` resolved in the plan (deferred).
5. **evaluation**: `select_baseline`, `evaluate` (both models answer the held-out prompts; ROUGE-L, chrF,
   exact match over the validation split, up to `eval_samples`; promote only when the 95% confidence
   interval of the candidate's mean per-sample gain in `primary_metric` clears `margin`, reject when it
   lies below, else inconclusive; report, responses and chart in S3), `choose_candidate`.
6. **release**: `promote_model`: a winner replaces the champion in place on its serving throughput, or the
   deployment or throughput it was evaluated on becomes the serving one (the one it replaces is deleted); a
   rejected or inconclusive candidate's deployment or throughput (and model, per `retention`) is deleted. The registry object `registry/bedrock-retraining.json` records the
   champion.
7. **teardown**, whatever failed before: `delete_serving` (every throughput and deployment of this run that
   is not serving), `reject_losers`, then `delete_models`: the run's custom model, unless the registry names it, is
   deleted (`retention=delete`) or tagged `decision=failed` for the janitor (`retention=keep`).

**When it runs**: on the cron schedule `[bedrock_customization] retraining_schedule` (default weekly, Monday
03:00 UTC) *and* whenever the asset `bedrock_retraining_raw_data` is updated (post an asset event when new
data lands), or from the trigger form. The raw data is read from `dataset_key`, where `{date}` is the run's
logical date (`raw/{date}/qa_pairs.jsonl` → `raw/2026-11-23/qa_pairs.jsonl`).

The landing zone (bucket, KMS key, role, subnets, security group, SNS topic) comes from the Airflow Variable
`bedrock_customization`, written by `make run`'s bootstrap (`python -m include.bootstrap`). AWS access goes
through the connection `aws_default`; point its `endpoint_url` at the local emulator or leave it out for
real AWS.

**Waits**: the customization job, the deployments and the throughputs are waited for in the triggerer; with
`[bedrock_customization] deferrable = False` (`AIRFLOW__BEDROCK_CUSTOMIZATION__DEFERRABLE=False`, e.g. a
deployment without a triggerer) the tasks wait in their worker slots instead.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag

from bedrock_customization import settings
from bedrock_customization.notifications import sns_notifiers
from bedrock_customization.pipeline import params, stages, tasks

REGISTRY = "bedrock-retraining"
RAW_DATA = Asset(name="bedrock_retraining_raw_data", uri="bedrock-customization://raw-data")
TOPIC = "{{ params.notification_topic or var.json.get('bedrock_customization', {}).get('topic_arn', '') }}"


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
    default_args=params.default_args(),
    params={
        **params.model(),
        **params.customization(),
        "hyperparameters": Param(
            {},
            type="object",
            description="Bedrock hyperParameters; validated against the model catalog, missing ones take its "
            "defaults.",
        ),
        **params.data(),
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
        **params.evaluation(),
        **params.retention("A model not promoted (rejected, run failed)"),
    },
    doc_md=__doc__,
    **sns_notifiers(TOPIC, xcom_task_ids={"evaluation": tasks.CHOSEN, "promotion": tasks.PROMOTION}),
)
def bedrock_retraining():
    stages.pipeline(tasks.plan(scope="run"), REGISTRY, failed_retention="{{ params.retention }}")


bedrock_retraining()

if __name__ == "__main__":
    bedrock_retraining().test()
