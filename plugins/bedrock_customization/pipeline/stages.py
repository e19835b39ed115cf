"""Stage factories: the task groups both training DAGs compose, in the order of the data path.

``run = plan(scope)`` -> :func:`data` -> :func:`training` -> :func:`serving` -> :func:`evaluation` ->
:func:`release` -> :func:`teardown`. Every stage takes the plan (an XComArg) and what earlier stages returned,
and returns what later ones need. The training, serving and evaluation stages are mapped over the plan's
configurations: the retraining DAG is the sweep's single-configuration case. :func:`pipeline` composes them
all; it is what each training DAG's body calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from airflow.sdk import TaskGroup

from bedrock_customization.pipeline import tasks

AWS_CONN_ID = tasks.AWS_CONN_ID
#: The pool limiting concurrent customization jobs (create it with the account's quota as slots).
JOB_POOL = "bedrock_customization_jobs"


@dataclass
class Data:
    dataset: Any
    preflight: Any
    #: The held-out set the evaluation asks: ``.output["uri"]`` (``params.eval_set``).
    held_out: Any = None


@dataclass
class Training:
    customize: Any
    metrics: Any
    board: Any


@dataclass
class Serving:
    candidates: Any
    #: The tasks that create the serving resources (throughputs or deployments; the teardown waits for them).
    create: list
    #: The ARN serving each candidate, in the candidates' order.
    served: Any


@dataclass
class Evaluation:
    baseline: Any
    evaluate: Any
    chosen: Any


def data(run: Any) -> Data:
    """Convert, validate and split the raw data; check the account before anything billable."""
    from bedrock_customization.operators.dataset import PrepareBedrockDatasetOperator
    from bedrock_customization.operators.eval_set import GenerateBedrockEvalSetOperator
    from bedrock_customization.operators.preflight import BedrockCustomizationPreflightOperator

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
            text_key=run["text_key"],
            validation_fraction="{{ params.validation_fraction }}",
            seed="{{ params.seed }}",
            # plan validated the hyperparameters; the data needs only the batch size they settle.
            batch_size=run["batch_size"],
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
            # The judge and the semantic metric's embedding model answer a probe before any job is paid for.
            evaluation_metrics="{{ (params.metrics + [params.primary_metric]) | join(',') }}",
            judge_model_id="{{ params.judge_model_id or '' }}",
            grader_lambda_arn=run["grader_lambda_arn"],
            invocation_logs_config=run["invocation_logs"],
        )
        # What the evaluation will ask (params.eval_set): the split, question/answer pairs a model writes
        # from documents, or both; generated and checked here, before the checks and any job.
        held_out = GenerateBedrockEvalSetOperator(
            task_id="held_out_set",
            multiple_outputs=True,
            aws_conn_id=AWS_CONN_ID,
            eval_set="{{ params.get('eval_set') or 'split' }}",
            split_uri=dataset.output["validation_uri"],
            documents_uri="{{ params.get('eval_documents_uri') or '' }}",
            model_id="{{ params.get('eval_generator_model_id') "
            "or ti.xcom_pull(task_ids='plan')['base_inference_id'] }}",
            base_model_id=run["base_model_id"],
            count="{{ params.get('eval_generated_pairs') or 32 }}",
            training_data_uri=dataset.output["train_uri"],
            output_uri=run["data_uri"],
            kms_key_id=run["kms_key_arn"],
        )
        held_out >> preflight
    return Data(dataset, preflight, held_out)


def training(run: Any, data: Data, pool: str | None = None) -> Training:
    """One customization job per configuration (re-attached on retry), its metrics, and their ranking."""
    from bedrock_customization.operators.customization import BedrockVpcCustomizeModelOperator
    from bedrock_customization.operators.metrics import CollectTrainingMetricsOperator

    with TaskGroup("training", tooltip="The customization jobs, their metrics and ranking"):
        configurations = tasks.configurations(run["jobs"])
        # After the checks (as the jobs are): the grid then shows the stages in the order they run.
        data.preflight >> configurations
        customize = BedrockVpcCustomizeModelOperator.partial(
            task_id="customize_model",
            **({"pool": pool} if pool else {}),
            map_index_template="{{ task.hyperparameters | dictsort | map('join', '=') | join(' ') }}",
            aws_conn_id=AWS_CONN_ID,
            role_arn=run["role_arn"],
            base_model_id=run["base_model_id"],
            customization_type=run["customization_type"],
            teacher_model_id=run["teacher_model_id"],
            grader_lambda_arn=run["grader_lambda_arn"],
            # With invocation logs the job trains on them; the prepared split still feeds the evaluation.
            invocation_logs_config=run["invocation_logs"],
            training_data_uri=data.dataset.output["train_uri"],
            validation_data_uri=data.dataset.output["validation_uri"],
            kms_key_id=run["kms_key_arn"],
            subnet_ids=run["subnet_ids"],
            security_group_ids=run["security_group_ids"],
        ).expand_kwargs(configurations)
        metrics = CollectTrainingMetricsOperator.partial(
            task_id="training_metrics",
            map_index_template="{{ task.job_arn.rsplit('/', 1)[-1] }}",
            aws_conn_id=AWS_CONN_ID,
            kms_key_id=run["kms_key_arn"],
        ).expand(job_arn=customize.output.map(tasks.job_arn))
        board = tasks.leaderboard(run, customize.output, metrics.output, data.dataset.output["summary"])
    return Training(customize, metrics, board)


def serving(run: Any, training: Training) -> Serving:
    """Serve each selected configuration as ``params.serving`` resolved in the plan: an on-demand custom model
    deployment (billed per token) or a provisioned throughput (per model unit-hour). Deferred; retries
    re-attach."""
    from bedrock_customization.operators.deployment import BedrockCreateCustomModelDeploymentOperator
    from bedrock_customization.operators.throughput import BedrockCreateProvisionedModelThroughputOperator

    with TaskGroup("serving", tooltip="Serve the selected candidates"):
        candidates = tasks.select_candidates(run, training.board)
        provision = BedrockCreateProvisionedModelThroughputOperator.partial(
            task_id="provision_throughput",
            aws_conn_id=AWS_CONN_ID,
            model_units="{{ params.model_units }}",
        ).expand_kwargs(candidates.map(tasks.throughput_request))
        deploy = BedrockCreateCustomModelDeploymentOperator.partial(
            task_id="deploy_on_demand",
            aws_conn_id=AWS_CONN_ID,
            # The plan already chose on_demand from the catalog; the service has the last word.
            check_catalog=False,
        ).expand_kwargs(candidates.map(tasks.deployment_request))
        candidates >> tasks.serving_kind(run) >> [provision, deploy]
        served = tasks.served(candidates)
        [provision, deploy] >> served
    return Serving(candidates, [provision, deploy], served)


def evaluation(run: Any, data: Data, training: Training, serving: Serving, registry: str) -> Evaluation:
    """Each candidate and the model it would replace answer the held-out prompts; choose the best."""
    from bedrock_customization.operators.evaluation import BedrockEvaluateModelsOperator
    from bedrock_customization.operators.evaluation_job import (
        BedrockCompareEvaluationJobsOperator,
        BedrockEvaluationJobOperator,
    )

    with TaskGroup("evaluation", tooltip="Compare the candidates with the champion"):
        baseline = tasks.select_baseline(run, registry)
        requests = tasks.evaluation_requests(run, training.board, serving.candidates, serving.served)
        evaluate = BedrockEvaluateModelsOperator.partial(
            task_id="evaluate",
            aws_conn_id=AWS_CONN_ID,
            validation_data_uri=data.held_out.output["uri"],
            baseline_model_id=baseline["model_id"],
            baseline_label=baseline["source"],
            sample_size="{{ params.eval_samples }}",
            metrics="{{ (params.metrics + [params.primary_metric]) | join(',') }}",
            primary_metric="{{ params.primary_metric }}",
            judge_model_id="{{ params.judge_model_id or '' }}",
            margin="{{ params.margin }}",
            confidence="{{ params.confidence }}",
            kms_key_id=run["kms_key_arn"],
        ).expand_kwargs(requests)
        # params.engine: the Converse scoring above, or a native Bedrock evaluation job per model (deferred to
        # the triggerer) and their comparison, which returns the same summary.
        native = {
            role: BedrockEvaluationJobOperator.partial(
                task_id=f"{role}_job",
                aws_conn_id=AWS_CONN_ID,
                role_arn=run["role_arn"],
                validation_data_uri=data.held_out.output["uri"],
                sample_size="{{ params.eval_samples }}",
                judge_model_id="{{ params.judge_model_id or '' }}",
                kms_key_id=run["kms_key_arn"],
                **({"model_id": baseline["model_id"]} if role == "baseline" else {}),
            ).expand_kwargs(requests.map(job_request))
            for role, job_request in (
                ("baseline", tasks.baseline_job_request),
                ("candidate", tasks.candidate_job_request),
            )
        }
        compare = BedrockCompareEvaluationJobsOperator.partial(
            task_id="compare_jobs",
            aws_conn_id=AWS_CONN_ID,
            baseline_label=baseline["source"],
            margin="{{ params.margin }}",
            confidence="{{ params.confidence }}",
            kms_key_id=run["kms_key_arn"],
        ).expand_kwargs(
            tasks.compare_requests(requests, native["baseline"].output, native["candidate"].output)
        )
        requests >> tasks.evaluation_engine() >> [evaluate, *native.values()]
        summaries = tasks.evaluation_summaries(requests)
        [evaluate, compare] >> summaries
        chosen = tasks.choose_candidate(training.board, serving.candidates, serving.served, summaries)
    return Evaluation(baseline, evaluate, chosen)


def release(run: Any, evaluation: Evaluation, registry: str) -> Any:
    """Promote the chosen candidate (a champion's throughput switched to it in place, or the throughput or
    deployment it was evaluated on becomes serving) or reject it; the registry records the champion."""
    from bedrock_customization.operators.promotion import BedrockPromoteModelOperator

    with TaskGroup("release", tooltip="Promote or reject"):
        promote = BedrockPromoteModelOperator(
            task_id="promote_model",
            aws_conn_id=AWS_CONN_ID,
            registry_name=registry,
            registry_bucket=run["bucket"],
            registry_kms_key_id=run["kms_key_arn"],
            decision=evaluation.chosen["decision"],
            candidate_model_arn=evaluation.chosen["model_arn"],
            base_model_id=run["base_model_id"],
            evaluation_serving_arn=evaluation.chosen["serving_arn"],
            figures=evaluation.chosen,
            baseline=evaluation.baseline,
            retention="{{ params.retention }}",
        )
    return promote


def teardown(
    run: Any, training: Training, serving: Serving, promote: Any, registry: str, failed_retention: str
):
    """Whatever failed before: delete the run's throughputs and deployments that are not serving, reject the
    losers' models, then decide on the run's models nothing decided on (``failed_retention`` for a failed
    run's)."""
    from bedrock_customization.operators.teardown import (
        BedrockDeleteRunModelsOperator,
        BedrockDeleteRunServingOperator,
    )

    with TaskGroup("teardown", tooltip="Leave nothing billable behind"):
        unserved = BedrockDeleteRunServingOperator(
            task_id="delete_serving",
            aws_conn_id=AWS_CONN_ID,
            serving_names=run["serving_names"],
            registry_bucket=run["bucket"],
            registry_name=registry,
        )
        losers = tasks.reject_losers(registry, "{{ params.retention }}")
        undecided = BedrockDeleteRunModelsOperator(
            task_id="delete_models",
            aws_conn_id=AWS_CONN_ID,
            retention=failed_retention,
            registry_bucket=run["bucket"],
            registry_name=registry,
        )
    # `plan` is a setup of every teardown, so they run whatever failed after it (and not when it failed).
    # It also waits for every serving task (a mapped one may still be creating when a sibling failed).
    [promote, *serving.create] >> unserved.as_teardown(setups=[run.operator])
    [training.board, unserved] >> losers.as_teardown(setups=[run.operator])
    losers >> undecided.as_teardown(setups=[run.operator])


def pipeline(run: Any, registry: str, *, failed_retention: str, pool: str | None = None) -> None:
    """The whole data path, every stage in order: what a training DAG's body is."""
    prepared = data(run)
    trained = training(run, prepared, pool=pool)
    served = serving(run, trained)
    evaluated = evaluation(run, prepared, trained, served, registry)
    promote = release(run, evaluated, registry)
    teardown(run, trained, served, promote, registry, failed_retention)
