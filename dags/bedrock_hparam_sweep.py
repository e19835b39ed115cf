"""
### Bedrock hyperparameter sweep

Fine-tune one Bedrock base model once per hyperparameter configuration of a grid (or an explicit list),
on the data snapshot of the run's logical date; rank the configurations by final validation loss; publish
a leaderboard; optionally serve, evaluate and promote the best `top_k`; leave nothing billable behind. The
same pipeline as `bedrock_retraining` (`bedrock_customization.pipeline`), with many configurations, and the
same customization types (`customization_type`: a reinforcement fine-tuning sweep varies the RFT
hyperparameters; a distillation, which takes none, is a sweep of one).

1. **plan**: expand and validate the search space against the model catalog. Every invalid configuration
   is listed with the allowed range and the run fails here, before any job. Configurations are
   normalised to Bedrock's strings (missing hyperparameters take the catalog's defaults), duplicates
   merged, each identified by a `config_hash`. Finds the date's data snapshot.
2. **data**: `prepare_dataset` and `preflight`, once per run (checked against the configuration with the
   lowest token limit per record).
3. **training**: `customize_model` (one mapped job per configuration, at most as many at once as the pool
   `bedrock_customization_jobs` has slots: the account's concurrent-job quota; create the pool with
   `--include-deferred`, since the task waits for its job deferred, unless `[bedrock_customization]
   deferrable` is False: then every wait of this DAG blocks a worker slot), `training_metrics` and
   `leaderboard`: `leaderboard.json`, `leaderboard.csv` and `leaderboard.png` (bar chart, winner in green)
   under `s3://<bucket>/sweeps/<logical date>/`, SSE-KMS.
4. With `evaluate_top_k`: **serving** (`deploy_on_demand` or `provision_throughput`, per `serving`, for each
   of the `top_k` best),
   **evaluation** (each against the champion of the registry `bedrock-retraining`, else the base model;
   `choose_candidate`: the best evaluated one) and **release** (`promote_model`, as the retraining DAG: it
   replaces the champion, or is rejected or inconclusive and the champion stays).
5. **teardown**: `delete_serving` (every throughput and deployment of this run that is not serving), `reject_losers`
   (every configuration that did not win is tagged `decision=reject` and, with `retention=delete`, its
   custom model deleted; the winners and the serving champion never), then `delete_models`: the run's models
   nothing decided on are tagged `decision=keep` when the run succeeded (the winners without evaluation),
   else `decision=failed` (kept for a re-run of the date; the janitor deletes them after its
   `retention_days`).

**Data snapshot.** Each logical date sweeps its own data: `dataset_key` in the landing-zone bucket with
`{date}` replaced by the run's logical date (default `raw/{date}/qa_pairs.jsonl` → `raw/2026-01-02/
qa_pairs.jsonl`, the layout the retraining DAG and the bootstrap use). A run without a logical date uses
the date of its `run_after`. When the date has no snapshot the run fails before any job, unless
`fallback_dataset_key` names a fixed key to use instead (for demos, e.g. `raw/qa_pairs.jsonl`); the
leaderboard then records `"source": "fallback"`.

**Re-runs and backfills are idempotent.** Job names, `clientRequestToken`s and S3 prefixes derive from
(DAG id, logical date, `config_hash`), not from the run id: the customization task gets
`idempotency_key="<dag_id>/<YYYY-MM-DD>/<config_hash>"`. A backfill or a re-run of a date that was already
swept re-attaches to its jobs (Completed ones return at once) and creates none; only new configurations
start jobs. Evaluation throughputs are per run: the teardown deletes them, except one that became serving.

**S3 layout.** What the jobs read and write sits where the landing zone's service role may:
`runs/<dag_id>/<YYYY-MM-DD>/data/` (prepared dataset) and `runs/<dag_id>/<YYYY-MM-DD>/output/<config_hash>/`
(each job's output and metrics). What the DAG writes goes to `sweeps/<YYYY-MM-DD>/`: `leaderboard.json`,
`leaderboard.csv`, `leaderboard.png` and `evaluation/<config_hash>/`.

**Schedule.** None by default: trigger it. Airflow backfills only DAGs with a periodic schedule, so to
backfill set `[bedrock_customization] sweep_schedule` (`AIRFLOW__BEDROCK_CUSTOMIZATION__SWEEP_SCHEDULE`),
e.g. `@daily`, which also sweeps every day from then on.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag

from bedrock_customization import settings
from bedrock_customization.notifications import TOPIC_FROM_VARIABLE, sns_notifiers
from bedrock_customization.pipeline import params, stages, tasks

#: The winner competes with, and replaces, the champion of the retraining DAG: one champion per use case.
REGISTRY = "bedrock-retraining"


@dag(
    dag_id="bedrock_hparam_sweep",
    schedule=settings.sweep_schedule(),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["bedrock", "model-customization", "hyperparameter-sweep"],
    default_args=params.default_args(),
    params={
        **params.model(),
        **params.customization(),
        "search_space": Param(
            {"epochCount": [2, 4], "learningRate": [0.00001, 0.0001]},
            type=["object", "array"],
            description="A grid (hyperparameter -> list of values; every combination runs) or a list of "
            "configurations (objects). Checked against the catalog; missing ones take its defaults.",
        ),
        "max_configurations": Param(
            16,
            type="integer",
            minimum=1,
            description="Refuse larger sweeps (each configuration is a billed job).",
        ),
        **params.data(fallback=True),
        "top_k": Param(
            1, type="integer", minimum=1, description="Configurations selected from the leaderboard."
        ),
        "evaluate_top_k": Param(
            True,
            type="boolean",
            description="Serve, evaluate and promote the top_k (else: leaderboard only).",
        ),
        **params.evaluation(),
        **params.retention("Custom models of configurations that did not win"),
    },
    doc_md=__doc__,
    **sns_notifiers(
        TOPIC_FROM_VARIABLE,
        xcom_task_ids={
            "evaluation": tasks.CHOSEN,
            "promotion": tasks.PROMOTION,
            "leaderboard": tasks.LEADERBOARD,
        },
    ),
)
def bedrock_hparam_sweep():
    # A failed sweep's models are kept for a re-run of the date (it re-attaches to their jobs).
    stages.pipeline(tasks.plan(scope="date"), REGISTRY, failed_retention="keep", pool=stages.JOB_POOL)


bedrock_hparam_sweep()

if __name__ == "__main__":
    bedrock_hparam_sweep().test()
