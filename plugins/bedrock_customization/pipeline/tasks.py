"""The TaskFlow glue between the pipeline's operators: plan, leaderboard, candidate choice, losers' cleanup.

Each task is a few lines around a pure function of :mod:`~bedrock_customization.pipeline.plan`,
:mod:`~bedrock_customization.sweep` or :mod:`~bedrock_customization.promotion`; heavy imports stay inside
the task bodies so DAG files parse fast.
"""

from __future__ import annotations

from airflow.sdk import task

AWS_CONN_ID = "aws_default"

#: Task ids the teardowns and the notifications read XComs from.
PLAN = "plan"
#: The serving tasks (``plan["serving_kind"]``): a throughput or an on-demand deployment per candidate.
SERVING_TASKS = {"provisioned": "serving.provision_throughput", "on_demand": "serving.deploy_on_demand"}
LEADERBOARD = "training.leaderboard"
CHOSEN = "evaluation.choose_candidate"
PROMOTION = "release.promote_model"
#: The scoring tasks of the evaluation engines (``params.engine``): Converse, or native jobs then a comparison.
EVALUATE = "evaluation.evaluate"
NATIVE_JOBS = ("evaluation.baseline_job", "evaluation.candidate_job")
COMPARE_JOBS = "evaluation.compare_jobs"


@task(task_id=PLAN)
def plan(scope: str = "run", params: dict | None = None, dag_run=None) -> dict:
    """Validate the params against the model catalog (fail before any job) and derive the run's names."""
    import pendulum
    from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from bedrock_customization import cost
    from bedrock_customization.landing_zone import LandingZone
    from bedrock_customization.pipeline.plan import plan_run

    cost.configured_table()  # a bad [bedrock_customization] prices override fails here, before any job

    def landing_zone() -> LandingZone:
        return LandingZone.from_variable(
            require_vpc=params.get("use_vpc", True)
            and not (params.get("subnet_ids") and params.get("security_group_ids"))
        )

    s3 = S3Hook(aws_conn_id=AWS_CONN_ID)
    day = pendulum.instance(dag_run.logical_date or dag_run.run_after).in_timezone("UTC").date()
    return plan_run(
        params,
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        day=day,
        landing_zone=landing_zone,
        key_exists=lambda bucket, key: s3.check_for_key(key, bucket_name=bucket),
        scope=scope,
        region=BedrockHook(aws_conn_id=AWS_CONN_ID).conn_region_name,
    )


@task
def configurations(jobs: list) -> list:
    """The customization kwargs of each configuration (Airflow maps over a task's return value only)."""
    return list(jobs)


def job_arn(result: dict) -> str:
    """The job ARN of one customization result (for mapping the metrics task over the jobs)."""
    return result["job_arn"]


@task
def leaderboard(run: dict, jobs: list, metrics: list, prepared: dict | None = None, dag_run=None) -> dict:
    """Rank the configurations by final validation loss, each with its estimated training cost (from the
    dataset step's summary ``prepared``: its ``train_tokens``); a sweep writes the leaderboard JSON, CSV and
    chart."""
    import logging

    from bedrock_customization import cost, sweep

    log = logging.getLogger(__name__)
    entries = sweep.merge_results(run["configs"], list(jobs), list(metrics))
    table = cost.configured_table()
    entries = cost.training_estimates(
        entries, run["base_model_id"], (prepared or {}).get("train_tokens"), table
    )
    document = sweep.leaderboard(
        entries,
        top_k=run["top_k"],
        require_loss=run["scope"] == "date",
        dag_id=dag_run.dag_id,
        run_id=dag_run.run_id,
        logical_date=run["logical_date"],
        base_model_id=run["base_model_id"],
        customization_type=run["customization_type"],
        dataset={"raw_uri": run["raw_uri"], "source": run["data_source"], "data_uri": run["data_uri"]},
        prices=cost.prices_for(run["base_model_id"], table),
    )
    if run["leaderboard_uri"]:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        document["uris"] = sweep.write_leaderboard(
            S3Hook(aws_conn_id=AWS_CONN_ID).get_conn(), document, run["results_uri"], run["kms_key_arn"]
        )
        log.info(
            "Leaderboard of %d configurations, best %s first:\n%s",
            len(document["entries"]),
            document["metric"],
            sweep.leaderboard_table(document),
        )
    if document["winner"] is None:
        log.warning("No configuration has a model that may be evaluated; nothing is selected.")
    return document


@task
def select_candidates(run: dict, board: dict, dag_run=None) -> list:
    """The selected configurations whose models still exist, each as ``{"name", "model_arn"}`` of the
    throughput or deployment that serves it ([] without evaluation)."""
    import logging

    from bedrock_customization.hooks.bedrock import BedrockCustomizationHook
    from bedrock_customization.pipeline.plan import serving_name

    log = logging.getLogger(__name__)
    if not run["evaluate"]:
        log.info("evaluate_top_k is off: the leaderboard is the result; nothing is served.")
        return []
    bedrock = BedrockCustomizationHook(aws_conn_id=AWS_CONN_ID).conn
    requests = []
    for entry in board["entries"]:
        if not entry["selected"]:
            continue
        try:
            bedrock.get_custom_model(modelIdentifier=entry["model_arn"])
        except bedrock.exceptions.ResourceNotFoundException:  # an earlier run of this date deleted it
            log.warning(
                "The model of #%s %s (%s) was deleted.", entry["rank"], entry["label"], entry["model_arn"]
            )
            continue
        name = serving_name(dag_run.dag_id, dag_run.run_id, entry["config_hash"], run["scope"])
        requests.append({"name": name, "model_arn": entry["model_arn"]})
    return requests


@task.branch
def serving_kind(run: dict) -> str:
    """Serve the candidates as the plan resolved ``params.serving``: a provisioned throughput or an on-demand
    custom model deployment each."""
    return SERVING_TASKS[run["serving_kind"]]


def throughput_request(candidate: dict) -> dict:
    """A candidate's provisioned throughput (an ``XComArg.map`` over the selected candidates)."""
    return {"provisioned_model_name": candidate["name"], "model_id": candidate["model_arn"]}


def deployment_request(candidate: dict) -> dict:
    """A candidate's on-demand custom model deployment (an ``XComArg.map``)."""
    return {"deployment_name": candidate["name"], "model_arn": candidate["model_arn"]}


def mapped_results(ti, task_ids: tuple[str, ...], count: int) -> list | None:
    """The ``count`` mapped results of the first of ``task_ids`` that returned one per index (the others were
    skipped by a branch), or None."""
    indexes = list(range(count))
    for task_id in task_ids:
        results = ti.xcom_pull(task_ids=task_id, map_indexes=indexes)
        if results and all(result is not None for result in results):
            return list(results)
    return None


@task(trigger_rule="none_failed_min_one_success")
def served(candidates: list, ti=None) -> list:
    """The ARN serving each candidate, from the serving task the branch ran (a throughput or a deployment;
    Converse and InvokeModel take either as ``modelId``); skipped, with what follows, without candidates."""
    from airflow.providers.common.compat.sdk import AirflowSkipException

    if not candidates:
        raise AirflowSkipException("No candidate is served: nothing is evaluated or promoted.")
    arns = mapped_results(ti, tuple(SERVING_TASKS.values()), len(candidates))
    if arns is None:
        raise RuntimeError(
            f"No serving task of {sorted(SERVING_TASKS.values())} returned an ARN per candidate."
        )
    return arns


@task
def select_baseline(run: dict, registry: str) -> dict:
    """The model the candidates must beat: the registry's champion, else the base model."""
    from bedrock_customization.operators import registry as model_registry

    return model_registry.select_baseline(
        AWS_CONN_ID, run["bucket"], registry, run["base_model_id"], run["base_inference_id"]
    )


@task
def evaluation_requests(run: dict, board: dict, candidates: list, serving: list) -> list:
    """One evaluation per served candidate: the ARN serving it, its label and output prefix, and what the cost
    estimate needs beyond what the evaluation measures (a throughput's model units and creation time; a
    deployment is billed by the tokens the evaluation counts)."""
    from airflow.providers.amazon.aws.hooks.bedrock import BedrockHook

    from bedrock_customization.pipeline.plan import evaluation_uri

    bedrock = BedrockHook(aws_conn_id=AWS_CONN_ID).conn
    by_model = {e["model_arn"]: e for e in board["entries"]}
    requests = []
    for candidate, serving_arn in zip(candidates, serving, strict=True):
        entry = by_model[candidate["model_arn"]]
        label = f"#{entry['rank']} {entry['label']}" if len(board["entries"]) > 1 else "candidate"
        throughput = None
        if run["serving_kind"] == "provisioned":
            described = bedrock.get_provisioned_model_throughput(provisionedModelId=serving_arn)
            throughput = {
                "model_units": described.get("modelUnits"),
                "created": described["creationTime"].isoformat(),
            }
        requests.append(
            {
                "candidate_model_id": serving_arn,
                "candidate_label": label,
                "output_uri": evaluation_uri(run, entry["config_hash"]),
                "cost_context": {
                    "base_model_id": run["base_model_id"],
                    "training_tokens": entry.get("train_tokens"),
                    "epochs": (entry.get("hyperparameters") or {}).get("epochCount"),
                    "throughput": throughput,
                },
            }
        )
    return requests


@task.branch
def evaluation_engine(params: dict | None = None) -> str | list[str]:
    """Run the engine ``params.engine`` chose: Converse scoring, or a native evaluation job per model."""
    if (params or {}).get("engine", "converse") == "bedrock_evaluation_job":
        return list(NATIVE_JOBS)
    return EVALUATE


def baseline_job_request(request: dict) -> dict:
    """The baseline's native evaluation job for one candidate's evaluation request (an ``XComArg.map``)."""
    return {"output_uri": f"{request['output_uri']}jobs/", "description": "baseline"}


def candidate_job_request(request: dict) -> dict:
    """The candidate's native evaluation job for one evaluation request (an ``XComArg.map``)."""
    return {
        "model_id": request["candidate_model_id"],
        "output_uri": f"{request['output_uri']}jobs/",
        "description": request["candidate_label"],
    }


@task
def compare_requests(requests: list, baseline_jobs: list, candidate_jobs: list) -> list:
    """One comparison per candidate: its job and the baseline's job over the same prompts."""
    return [
        {
            "baseline_job_arn": baseline,
            "candidate_job_arn": candidate,
            "candidate_label": request["candidate_label"],
            "output_uri": request["output_uri"],
        }
        for request, baseline, candidate in zip(requests, baseline_jobs, candidate_jobs, strict=True)
    ]


@task(trigger_rule="none_failed_min_one_success")
def evaluation_summaries(requests: list, ti=None) -> list:
    """Each candidate's evaluation summary, from the engine that ran (the other one was skipped); the same
    shape either way, so the choice, promotion, notification and UI do not depend on the engine."""
    summaries = mapped_results(ti, (EVALUATE, COMPARE_JOBS), len(requests))
    if summaries is not None:
        return summaries
    raise RuntimeError(f"Neither {EVALUATE} nor {COMPARE_JOBS} returned an evaluation summary per candidate.")


@task
def choose_candidate(board: dict, candidates: list, serving: list, evaluations: list) -> dict:
    """The candidate to promote: the best-scoring one the evaluation says to promote, else the best one (its
    decision, reject or inconclusive, keeps the champion)."""
    import logging

    from bedrock_customization import sweep
    from bedrock_customization.evaluation.significance import describe

    chosen = sweep.choose(board, candidates, serving, evaluations)
    logging.getLogger(__name__).info(
        "Chosen: #%s %s (%s %s), decision %s%s.",
        chosen["rank"],
        chosen["label"],
        chosen["metric"],
        chosen["candidate"][chosen["metric"]],
        chosen["decision"],
        f" ({describe(chosen['significance'])})" if chosen.get("significance") else "",
    )
    return chosen


@task
def reject_losers(registry: str, retention: str = "delete", ti=None) -> dict:
    """Tag every configuration that lost (to the leaderboard or the evaluation) ``decision=reject`` and,
    with ``retention="delete"``, delete its model; the winner, the champion and its predecessor are kept."""
    import logging

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from bedrock_customization import promotion, protection, sweep
    from bedrock_customization.hooks.bedrock import BedrockCustomizationHook
    from bedrock_customization.operators.teardown import reject_models

    board = ti.xcom_pull(task_ids=LEADERBOARD)
    if not board:
        return {"deleted": [], "kept": [], "already_gone": []}
    run = ti.xcom_pull(task_ids=PLAN)
    s3 = S3Hook(aws_conn_id=AWS_CONN_ID).get_conn()
    protected = protection.protected_arns(
        promotion.load_registry(s3, run["bucket"], registry)[0], ti.xcom_pull(task_ids=PROMOTION)
    )
    return reject_models(
        BedrockCustomizationHook(aws_conn_id=AWS_CONN_ID),
        sweep.losers(board, ti.xcom_pull(task_ids=CHOSEN), evaluated=run["evaluate"]),
        protected,
        delete=str(retention).strip().lower() == "delete",
        log=logging.getLogger(__name__),
    )
