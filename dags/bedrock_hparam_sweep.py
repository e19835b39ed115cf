"""
### Bedrock hyperparameter sweep

Fine-tune one Bedrock base model once per hyperparameter configuration of a grid (or an explicit list),
on the data snapshot of the run's logical date; rank the configurations by final validation loss; publish
a leaderboard; optionally serve, evaluate and promote the best `top_k`; leave nothing billable behind.

1. **plan**: expand and validate the search space against the model catalog. Every invalid configuration
   is listed with the allowed range and the run fails here, before any job. Configurations are
   normalised to Bedrock's strings (missing hyperparameters take the catalog's defaults), duplicates
   merged, each identified by a `config_hash`. Finds the date's data snapshot.
2. **prepare_dataset** and **preflight**, once per run (checked against the configuration with the lowest
   token limit per record: the largest `batchSize` for a model whose limit depends on it).
3. **customize** (one mapped job per configuration, at most as many at once as the pool
   `bedrock_customization_jobs` has slots: the account's concurrent-job quota; create the pool with
   `--include-deferred`, since the task waits for its job deferred, unless `[bedrock_customization]
   deferrable` is False: then every wait of this DAG blocks a worker slot) and **training_metrics**.
4. **leaderboard**: `leaderboard.json`, `leaderboard.csv` and `leaderboard.png` (bar chart, winner in
   green) under `s3://<bucket>/sweeps/<logical date>/`, SSE-KMS.
5. With `evaluate_top_k`: **provision_throughput** for each of the `top_k` best, **evaluate** each against
   the champion of the registry `bedrock-retraining` (else the base model), **choose_candidate** (the best
   evaluated one), **promote_model** (as the retraining DAG: it replaces the champion in place or is
   rejected).
6. Teardown: **delete_throughputs** (every throughput of this run that is not serving), then
   **delete_models**: every configuration that did not win is tagged `decision=reject` and, with
   `retention=delete`, its custom model deleted; the winners (`top_k` without evaluation) and the serving
   champion are never deleted. Last, **tag_undecided_models**: the run's models nothing decided on are
   tagged `decision=keep` when the run succeeded (the winners without evaluation), else `decision=failed`
   (kept for a re-run of the date; the janitor deletes them after its `retention_days`).

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
from airflow.sdk import Param, dag, task

from bedrock_customization import catalog, settings
from bedrock_customization.notifications import TOPIC_FROM_VARIABLE, sns_notifiers
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
#: The pool limiting concurrent customization jobs (create it with the account's quota as slots).
POOL = "bedrock_customization_jobs"
#: The winner competes with, and replaces, the champion of the retraining DAG: one champion per use case.
REGISTRY = "bedrock-retraining"
CUSTOMIZATION_TYPE = "FINE_TUNING"
THROUGHPUT_WAIT = {
    "deferrable": settings.deferrable(),
    "waiter_delay": settings.poll_interval(),
    "waiter_max_attempts": settings.max_attempts("throughput_timeout"),
}


def _job_arn(result: dict) -> str:
    """The job ARN of one customization result (for mapping the metrics task over the jobs)."""
    return result["job_arn"]


@task
def plan(params: dict | None = None, dag_run=None) -> dict:
    """Expand and validate the search space (fail before any job), find the date's data, derive names."""
    import logging

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.common.compat.sdk import AirflowFailException
    from airflow.sdk import Variable

    from bedrock_customization import sweep
    from bedrock_customization.exceptions import BedrockCustomizationError
    from bedrock_customization.tables import text_table

    log = logging.getLogger(__name__)
    try:
        model = catalog.get_model(params["base_model_id"])
        configs = sweep.validate(
            model.id,
            sweep.expand(params["search_space"]),
            CUSTOMIZATION_TYPE,
            max_configurations=params["max_configurations"],
        )
        if params["top_k"] > len(configs):
            raise sweep.SweepError(
                f"top_k={params['top_k']} but the sweep has only {len(configs)} configurations; lower top_k."
            )
    except BedrockCustomizationError as error:
        raise AirflowFailException(str(error)) from None  # a wrong search space does not get better on retry
    warning = catalog.lifecycle_warning(model.id)
    if warning:
        log.warning("%s", warning)
    for note in sweep.duplicates(configs):
        log.info("%s", note)

    landing_zone = Variable.get("bedrock_customization", deserialize_json=True)
    bucket = landing_zone["bucket"]
    dag_id = dag_run.dag_id
    day = pendulum.instance(dag_run.logical_date or dag_run.run_after).in_timezone("UTC").date()
    ds = day.isoformat()

    s3 = S3Hook(aws_conn_id=AWS_CONN_ID)
    dated_key = params["dataset_key"].replace("{date}", ds).strip("/")
    fallback_key = (params["fallback_dataset_key"] or "").strip("/")
    if s3.check_for_key(dated_key, bucket_name=bucket):
        raw_key, data_source = dated_key, "dated"
    elif fallback_key and s3.check_for_key(fallback_key, bucket_name=bucket):
        log.warning(
            "No data snapshot s3://%s/%s; using the fallback s3://%s/%s.",
            bucket,
            dated_key,
            bucket,
            fallback_key,
        )
        raw_key, data_source = fallback_key, "fallback"
    else:
        fallback = f" nor the fallback s3://{bucket}/{fallback_key}" if fallback_key else ""
        raise AirflowFailException(
            f"No data for {ds}: neither s3://{bucket}/{dated_key}{fallback} exists. Upload the date's snapshot "
            "there, or set fallback_dataset_key."
        )

    # What the jobs read and write sits where the service role may (runs/*/data/, runs/*/output/); what
    # Airflow writes (leaderboard, evaluations) under sweeps/<date>/.
    work = f"s3://{bucket}/runs/{dag_id}/{ds}"
    root = f"s3://{bucket}/sweeps/{ds}"
    strictest = sweep.strictest(configs)
    use_vpc = params["use_vpc"]
    log.info(
        "Sweeping %d configurations of %s on s3://%s/%s (%s):\n%s",
        len(configs),
        model.id,
        bucket,
        raw_key,
        data_source,
        text_table([(c.config_hash, c.label) for c in configs], ("config_hash", "configuration")),
    )
    return {
        "bucket": bucket,
        "role_arn": landing_zone["role_arn"],
        "kms_key_arn": landing_zone["kms_key_arn"],
        "subnet_ids": landing_zone["subnet_ids"] if use_vpc else None,
        "security_group_ids": landing_zone["security_group_ids"] if use_vpc else None,
        "base_model_id": model.id,
        "base_inference_id": model.inference_id,
        "customization_type": CUSTOMIZATION_TYPE,
        "logical_date": ds,
        "raw_uri": f"s3://{bucket}/{raw_key}",
        "data_source": data_source,
        "data_uri": f"{work}/data/",
        "output_uri": f"{work}/output/",
        "sweep_uri": f"{root}/",
        "strictest_hyperparameters": dict(strictest.hyperparameters),
        "configs": [config.to_dict() for config in configs],
        "jobs": [
            {
                "hyperparameters": dict(config.hyperparameters),
                "output_data_uri": f"{work}/output/{config.config_hash}/",
                "idempotency_key": f"{dag_id}/{ds}/{config.config_hash}",
                "job_name": f"{dag_id}-{day:%Y%m%d}-{config.config_hash[:8]}",
                "custom_model_name": f"{dag_id}-{day:%Y%m%d}-{config.config_hash[:8]}",
            }
            for config in configs
        ],
    }


@task
def configurations(jobs: list) -> list:
    """The customization kwargs of each configuration (Airflow maps over a task's return value only)."""
    return list(jobs)


@task
def leaderboard(run: dict, jobs: list, metrics: list, params: dict | None = None, dag_run=None) -> dict:
    """Rank the configurations by final validation loss; write the leaderboard JSON, CSV and chart to S3."""
    import json
    import logging

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from bedrock_customization import sweep

    entries = sweep.merge_results(run["configs"], list(jobs), list(metrics))
    document = sweep.leaderboard(
        entries,
        top_k=params["top_k"],
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        logical_date=run["logical_date"],
        base_model_id=run["base_model_id"],
        customization_type=run["customization_type"],
        dataset={"raw_uri": run["raw_uri"], "source": run["data_source"], "data_uri": run["data_uri"]},
    )
    bucket, prefix = run["bucket"], run["sweep_uri"].removeprefix(f"s3://{run['bucket']}/")
    encryption = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": run["kms_key_arn"]}
    uris = {name: f"s3://{bucket}/{prefix}leaderboard.{name}" for name in ("json", "csv", "png")}
    document["uris"] = uris
    s3 = S3Hook(aws_conn_id=AWS_CONN_ID).get_conn()
    bodies = {
        "json": (json.dumps(document, indent=2).encode(), "application/json"),
        "csv": (sweep.leaderboard_csv(document).encode(), "text/csv"),
        "png": (sweep.render_chart(document), "image/png"),
    }
    for name, (body, content_type) in bodies.items():
        s3.put_object(
            Bucket=bucket,
            Key=f"{prefix}leaderboard.{name}",
            Body=body,
            ContentType=content_type,
            **encryption,
        )
    log = logging.getLogger(__name__)
    log.info(
        "Leaderboard of %d configurations, best %s first:\n%s",
        len(document["entries"]),
        document["metric"],
        sweep.leaderboard_table(document),
    )
    if document["winner"] is None:
        log.warning("No configuration has a finite validation loss without diverging; nothing is selected.")
    log.info("Leaderboard: %s (CSV %s, chart %s)", uris["json"], uris["csv"], uris["png"])
    return document


@task
def select_candidates(board: dict, params: dict | None = None, dag_run=None) -> list:
    """The selected configurations whose models still exist, as throughput requests ([] without evaluation)."""
    import logging

    from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook

    from bedrock_customization.naming import resource_name

    log = logging.getLogger(__name__)
    if not params["evaluate_top_k"]:
        log.info("evaluate_top_k is off: the leaderboard is the result; nothing is provisioned.")
        return []
    bedrock = BedrockHook(aws_conn_id=AWS_CONN_ID).conn
    requests = []
    for entry in board["entries"]:
        if not entry["selected"]:
            continue
        try:
            bedrock.get_custom_model(modelIdentifier=entry["model_arn"])
        except bedrock.exceptions.ResourceNotFoundException:
            # An earlier run of this date rejected and deleted it; its job is not run again.
            log.warning(
                "The model of #%s %s (%s) was deleted.", entry["rank"], entry["label"], entry["model_arn"]
            )
            continue
        requests.append(
            {
                "provisioned_model_name": resource_name(
                    "sweep-eval", dag_run.dag_id, dag_run.run_id, entry["config_hash"]
                ),
                "model_id": entry["model_arn"],
            }
        )
    return requests


@task
def select_baseline(run: dict) -> dict:
    """The model the candidates must beat: the registry's champion, else the base model."""
    from bedrock_customization.operators import promotion

    return promotion.select_baseline(
        AWS_CONN_ID, run["bucket"], REGISTRY, run["base_model_id"], run["base_inference_id"]
    )


@task
def evaluation_requests(run: dict, board: dict, candidates: list, throughputs: list) -> list:
    """One evaluation per provisioned candidate: its throughput, label and output prefix."""
    by_model = {e["model_arn"]: e for e in board["entries"]}
    requests = []
    for candidate, throughput_arn in zip(candidates, throughputs, strict=True):
        entry = by_model[candidate["model_id"]]
        requests.append(
            {
                "candidate_model_id": throughput_arn,
                "candidate_label": f"#{entry['rank']} {entry['label']}",
                "output_uri": f"{run['sweep_uri']}evaluation/{entry['config_hash']}/",
            }
        )
    return requests


@task
def choose_candidate(board: dict, candidates: list, throughputs: list, evaluations: list) -> dict:
    """The candidate to promote: the best-scoring one the evaluation says to promote, else the best one."""
    import logging

    by_model = {e["model_arn"]: e for e in board["entries"]}
    scored = []
    for candidate, throughput_arn, summary in zip(candidates, throughputs, evaluations, strict=True):
        entry = by_model[candidate["model_id"]]
        metric = summary["primary_metric"]
        wins = summary["decision"] == "promote"
        scored.append((wins, summary["candidate"][metric], -entry["rank"], entry, throughput_arn, summary))
    _, score, _, entry, throughput_arn, summary = max(scored, key=lambda item: item[:3])
    logging.getLogger(__name__).info(
        "Chosen: #%s %s (%s %s), decision %s.",
        entry["rank"],
        entry["label"],
        summary["primary_metric"],
        score,
        summary["decision"],
    )
    return {
        **{key: value for key, value in summary.items() if key != "uris"},
        "metric": summary["primary_metric"],
        "evaluation_uris": summary.get("uris"),
        "config_hash": entry["config_hash"],
        "label": entry["label"],
        "rank": entry["rank"],
        "hyperparameters": entry["hyperparameters"],
        "final_validation_loss": entry["final_validation_loss"],
        "model_arn": entry["model_arn"],
        "throughput_arn": throughput_arn,
        "leaderboard_uri": board["uris"]["json"],
    }


@task
def delete_models(params: dict | None = None, ti=None) -> dict:
    """Reject (tag) every configuration that did not win and, with retention=delete, delete its model."""
    import logging

    from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from bedrock_customization import promotion, tagging
    from bedrock_customization.exceptions import ResourceInUseError
    from bedrock_customization.operators.bedrock import delete_custom_model

    log = logging.getLogger(__name__)
    result: dict[str, list[str]] = {"deleted": [], "kept": [], "already_gone": []}
    board = ti.xcom_pull(task_ids="leaderboard")
    if not board:
        log.info("No leaderboard: every model is kept (a re-run of this date re-attaches to the jobs).")
        return result
    plan_result = ti.xcom_pull(task_ids="plan")
    chosen = ti.xcom_pull(task_ids="choose_candidate")
    promoted = ti.xcom_pull(task_ids="promote_model")
    entries = board["entries"]
    losers = [e for e in entries if not e["selected"]]
    if chosen:  # the other evaluated candidates lost the evaluation to the chosen one
        losers += [e for e in entries if e["selected"] and e["config_hash"] != chosen["config_hash"]]
    elif params["evaluate_top_k"] and any(e["selected"] for e in entries):
        log.info("The evaluation did not finish: the selected models are kept.")
    registry, _ = promotion.load_registry(
        S3Hook(aws_conn_id=AWS_CONN_ID).get_conn(), plan_result["bucket"], REGISTRY
    )
    previous = (registry or {}).get("previous") or {}
    protected = promotion.serving_arns(registry) | {
        previous.get("serving_model_arn"),  # a champion kept after it was replaced
        (promoted or {}).get("serving_model_arn"),
    }
    bedrock = BedrockHook(aws_conn_id=AWS_CONN_ID).conn
    for entry in losers:
        arn = entry["model_arn"]
        if not arn or arn in protected:
            continue
        try:
            bedrock.tag_resource(
                resourceARN=arn, tags=tagging.to_aws({tagging.DECISION: tagging.DECISION_REJECT})
            )
        except bedrock.exceptions.ResourceNotFoundException:
            result["already_gone"].append(arn)
            continue
        if params["retention"] != "delete":
            result["kept"].append(arn)
            continue
        try:
            deleted = delete_custom_model(bedrock, arn)
        except ResourceInUseError as error:  # tagged decision=reject: the janitor deletes it later
            log.warning("%s", error)
            result["kept"].append(arn)
            continue
        result["deleted" if deleted else "already_gone"].append(arn)
        log.info(
            "#%s %s: custom model %s %s.",
            entry["rank"],
            entry["label"],
            arn,
            "deleted" if deleted else "already gone",
        )
    return result


@dag(
    dag_id="bedrock_hparam_sweep",
    schedule=settings.sweep_schedule(),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["bedrock", "model-customization", "hyperparameter-sweep"],
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
        "search_space": Param(
            {"epochCount": [2, 4], "learningRate": [0.00001, 0.0001]},
            type=["object", "array"],
            description=(
                "A grid (hyperparameter -> list of values; every combination runs) or a list of "
                "configurations (objects). Checked against the catalog; missing ones take its defaults."
            ),
        ),
        "max_configurations": Param(
            16,
            type="integer",
            minimum=1,
            description="Refuse larger sweeps (each configuration is a billed job).",
        ),
        "dataset_key": Param(
            "raw/{date}/qa_pairs.jsonl",
            type="string",
            description="Key of the raw data in the landing-zone bucket; {date} is the run's logical date (YYYY-MM-DD).",
        ),
        "fallback_dataset_key": Param(
            None,
            type=["null", "string"],
            description="A fixed key used when the date has no snapshot (demos, e.g. raw/qa_pairs.jsonl); empty: fail.",
        ),
        "prompt_key": Param("question", type="string"),
        "completion_key": Param("answer", type="string"),
        "validation_fraction": Param(0.2, type="number", minimum=0.05, maximum=0.5),
        "seed": Param(42, type="integer"),
        "on_invalid": Param("fail", type="string", enum=["fail", "skip"]),
        "use_vpc": Param(True, type="boolean", description="Run the jobs in the landing zone's subnets."),
        "top_k": Param(
            1, type="integer", minimum=1, description="Configurations selected from the leaderboard."
        ),
        "evaluate_top_k": Param(
            True,
            type="boolean",
            description="Serve, evaluate and promote the top_k (else: leaderboard only).",
        ),
        "model_units": Param(1, type="integer", minimum=1),
        "eval_samples": Param(12, type="integer", minimum=1),
        "primary_metric": Param("chrf", type="string", enum=["chrf", "rouge_l", "exact_match"]),
        "margin": Param(0.0, type="number", description="How much a candidate must beat the champion by."),
        "retention": Param(
            "delete",
            type="string",
            enum=["delete", "keep"],
            description=(
                "Custom models of configurations that did not win: deleted now, or kept (tagged decision=reject, "
                "so the janitor deletes them after its retention_days)."
            ),
        ),
    },
    doc_md=__doc__,
    **sns_notifiers(
        TOPIC_FROM_VARIABLE,
        xcom_task_ids={
            "evaluation": "choose_candidate",
            "promotion": "promote_model",
            "leaderboard": "leaderboard",
        },
    ),
)
def bedrock_hparam_sweep():
    run = plan()

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
        hyperparameters=run["strictest_hyperparameters"],
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
        hyperparameters=run["strictest_hyperparameters"],
        kms_key_id=run["kms_key_arn"],
        subnet_ids=run["subnet_ids"],
        security_group_ids=run["security_group_ids"],
    )

    customize = BedrockVpcCustomizeModelOperator.partial(
        task_id="customize",
        pool=POOL,
        map_index_template="{{ task.hyperparameters | dictsort | map('join', '=') | join(' ') }}",
        aws_conn_id=AWS_CONN_ID,
        role_arn=run["role_arn"],
        base_model_id=run["base_model_id"],
        customization_type=run["customization_type"],
        training_data_uri=dataset.output["train_uri"],
        validation_data_uri=dataset.output["validation_uri"],
        kms_key_id=run["kms_key_arn"],
        subnet_ids=run["subnet_ids"],
        security_group_ids=run["security_group_ids"],
        deferrable=settings.deferrable(),
    ).expand_kwargs(configurations(run["jobs"]))
    preflight >> customize

    metrics = CollectTrainingMetricsOperator.partial(
        task_id="training_metrics",
        map_index_template="{{ task.job_arn.rsplit('/', 1)[-1] }}",
        aws_conn_id=AWS_CONN_ID,
        kms_key_id=run["kms_key_arn"],
    ).expand(job_arn=customize.output.map(_job_arn))

    board = leaderboard(run, customize.output, metrics.output)

    candidates = select_candidates(board)
    provision = BedrockCreateProvisionedModelThroughputOperator.partial(
        task_id="provision_throughput",
        aws_conn_id=AWS_CONN_ID,
        model_units="{{ params.model_units }}",
        **THROUGHPUT_WAIT,
    ).expand_kwargs(candidates)

    baseline = select_baseline(run)
    evaluate = BedrockEvaluateModelsOperator.partial(
        task_id="evaluate",
        aws_conn_id=AWS_CONN_ID,
        validation_data_uri=dataset.output["validation_uri"],
        baseline_model_id=baseline["model_id"],
        baseline_label=baseline["source"],
        sample_size="{{ params.eval_samples }}",
        primary_metric="{{ params.primary_metric }}",
        margin="{{ params.margin }}",
        kms_key_id=run["kms_key_arn"],
    ).expand_kwargs(evaluation_requests(run, board, candidates, provision.output))

    chosen = choose_candidate(board, candidates, provision.output, evaluate.output)
    promote = BedrockPromoteModelOperator(
        task_id="promote_model",
        aws_conn_id=AWS_CONN_ID,
        registry_name=REGISTRY,
        registry_bucket=run["bucket"],
        registry_kms_key_id=run["kms_key_arn"],
        decision=chosen["decision"],
        candidate_model_arn=chosen["model_arn"],
        base_model_id=run["base_model_id"],
        evaluation_throughput_arn=chosen["throughput_arn"],
        figures=chosen,
        baseline=baseline,
        retention="{{ params.retention }}",
        **THROUGHPUT_WAIT,
    )

    # Teardowns, in order: throughputs first (a model cannot be deleted while a throughput serves it).
    # `plan` is a setup of both, so they run whatever failed after it, and not when the plan itself failed.
    delete_throughputs = BedrockDeleteRunThroughputsOperator(
        task_id="delete_throughputs",
        aws_conn_id=AWS_CONN_ID,
        registry_bucket=run["bucket"],
        registry_name=REGISTRY,
    )
    promote >> delete_throughputs.as_teardown(setups=[run.operator, provision])
    cleanup = delete_models()
    [board, delete_throughputs] >> cleanup.as_teardown(setups=[run.operator])
    # Last, the models delete_models did not decide on: a failed run's are tagged decision=failed and kept
    # (a re-run of the date re-attaches to them; the janitor deletes them after its retention_days), a
    # successful run's (winners without evaluation) tagged decision=keep.
    keep_undecided = BedrockDeleteRunModelsOperator(
        task_id="tag_undecided_models",
        aws_conn_id=AWS_CONN_ID,
        retention="keep",
        registry_bucket=run["bucket"],
        registry_name=REGISTRY,
    )
    cleanup >> keep_undecided.as_teardown(setups=[run.operator])


bedrock_hparam_sweep()

if __name__ == "__main__":
    bedrock_hparam_sweep().test()
