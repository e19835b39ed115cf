"""Native Bedrock model evaluation jobs: one job per model, re-attached on retries; then two finished jobs compared.

An automatic evaluation job evaluates one model, so comparing a candidate with its baseline takes two
:class:`BedrockEvaluationJobOperator` tasks over the same prompts, then :class:`BedrockCompareEvaluationJobsOperator`,
which writes the summary, report and chart that the Converse scoring operator
(``operators/evaluation.py``) writes, and decides. The request, the dataset and the result parsing are pure:
:mod:`bedrock_customization.evaluation.bedrock_job`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowFailException

from bedrock_customization import artifacts, promotion
from bedrock_customization.evaluation.bedrock_job import (
    OUTPUT_SUFFIX,
    check_task_type,
    dataset_jsonl,
    dataset_uri,
    evaluation_job_request,
    job_facts,
    summarize_jobs,
)
from bedrock_customization.evaluation.compare import ROLES
from bedrock_customization.evaluation.errors import EvaluationError
from bedrock_customization.evaluation.report import score_summary
from bedrock_customization.evaluation.samples import parse_sample_size
from bedrock_customization.evaluation.storage import (
    describe_selection,
    load_samples,
    output_uris,
    publish,
    read_texts,
    s3_location,
)
from bedrock_customization.hooks.bedrock import BedrockCustomizationHook
from bedrock_customization.links.bedrock import BedrockEvaluationJobLink, BedrockRunResultsLink
from bedrock_customization.operators.base import BedrockResourceOperator, error_code, s3_client
from bedrock_customization.triggers.bedrock import ALREADY_FINISHED, BedrockEvaluationJobCompletedTrigger

if TYPE_CHECKING:
    from airflow.sdk import Context

    from bedrock_customization.lifecycle import ResourceIdentity


class BedrockEvaluationJobOperator(BedrockResourceOperator):
    """
    Run one native Bedrock model evaluation job (CreateEvaluationJob) on held-out prompts; re-attach on retries.

    Before the create, the prompts (``sample_size`` of the records of ``validation_data_uri``, chosen by
    ``seed``; any Bedrock training format) are written with SSE-KMS as the job's dataset
    ``<output_uri>/datasets/<digest>.jsonl`` (``{"prompt", "referenceResponse"}`` lines): jobs over the same
    prompts share it. The job writes its results under ``<output_uri>/<job name>/``.

    The job name and ``clientRequestToken`` derive from the DAG id, run id, task id and map index (or
    ``idempotency_key``), so a retried or cleared task finds its job by name (ListEvaluationJobs: GetEvaluationJob
    takes only an ARN) and waits for it instead of creating a twin; a job under that name that this task did not
    create (other tags) fails the task. A Failed or Stopped job fails the task with its ``failureMessages``
    (Bedrock does not restart a job: trigger a new DAG run, or change ``idempotency_key``). Killing the task
    stops the job, also while its wait is deferred. Returns the job ARN; give the baseline's and the
    candidate's to :class:`BedrockCompareEvaluationJobsOperator`.

    :param model_id: The model to evaluate: a model id, inference profile, or provisioned throughput ARN.
        (templated)
    :param role_arn: Service role Bedrock assumes for the job. (templated)
    :param validation_data_uri: S3 URI of a JSON Lines validation file in a Bedrock training format. (templated)
    :param output_uri: S3 folder of the dataset and the job's results. (templated)
    :param sample_size: Number of prompts, chosen by ``seed``; None, 0 or ``"all"`` for all. (templated)
    :param seed: Seed of the sample. (templated; default 42)
    :param judge_model_id: A judge model: a model-as-a-judge job (``Builtin.Correctness``, ``Completeness``,
        ``Helpfulness``) instead of the automatic metrics (``Builtin.Accuracy``, ``Robustness``,
        ``Toxicity``). (templated; default none)
    :param metric_names: The job's metrics instead of those defaults. (templated)
    :param evaluation_task_type: The job's task type: ``QuestionAndAnswer`` (default), ``Summarization``,
        ``Classification``, ``Generation`` or ``Custom``. (templated)
    :param inference_config: Converse ``inferenceConfig`` of the evaluated model. (templated; default
        ``{"maxTokens": 512, "temperature": 0.0}``)
    :param kms_key_id: KMS key of the job (``customerEncryptionKeyId``) and of the dataset object.
        (templated; default: AWS owned for the job, ``aws/s3`` for the dataset)
    :param job_name: Prefix of the job name; a digest of the task instance is always appended. Default
        ``<dag_id>-<task_id>``. (templated)
    :param job_tags: Extra job tags, a mapping or ``[{"key", "value"}]``; the provider's tags win. (templated)
    :param description: ``jobDescription``, e.g. which model this is. (templated; default none)
    :param idempotency_key: What identifies the job instead of the run id and map index. (templated)
    :param wait_for_completion: Wait for the job to finish. (default: True)
    :param waiter_delay: Seconds between status checks. (default: the ``poll_interval`` setting)
    :param waiter_max_attempts: Status checks before giving up the wait (the job keeps running). (default:
        ``job_timeout`` / ``poll_interval``)
    :param deferrable: Wait in the triggerer. (default: ``[bedrock_customization] deferrable``)
    """

    template_fields: Sequence[str] = aws_template_fields(
        "model_id",
        "role_arn",
        "validation_data_uri",
        "output_uri",
        "sample_size",
        "seed",
        "judge_model_id",
        "metric_names",
        "evaluation_task_type",
        "inference_config",
        "kms_key_id",
        "job_name",
        "job_tags",
        "description",
        "idempotency_key",
    )
    template_fields_renderers = {"inference_config": "json"}
    operator_extra_links = (BedrockEvaluationJobLink(),)

    resource_kind = "evaluation job"
    arn_key = "jobArn"
    trigger_class = BedrockEvaluationJobCompletedTrigger
    status_args = ("status", "failureMessages")
    timeout_option = "job_timeout"
    token_kind = "evaluation-job"
    name_parameter = "job_name"

    def __init__(
        self,
        *,
        model_id: str,
        role_arn: str,
        validation_data_uri: str,
        output_uri: str,
        sample_size: int | str | None = None,
        seed: int | str = 42,
        judge_model_id: str | None = None,
        metric_names: Sequence[str] | None = None,
        evaluation_task_type: str = "QuestionAndAnswer",
        inference_config: Mapping[str, Any] | None = None,
        kms_key_id: str | None = None,
        job_name: str | None = None,
        job_tags: Mapping[str, str] | Sequence[Mapping[str, str]] | None = None,
        description: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model_id = model_id
        self.role_arn = role_arn
        self.validation_data_uri = validation_data_uri
        self.output_uri = output_uri
        self.sample_size = sample_size
        self.seed = seed
        self.judge_model_id = judge_model_id
        self.metric_names = metric_names
        self.evaluation_task_type = evaluation_task_type
        self.inference_config = (
            inference_config if inference_config is not None else {"maxTokens": 512, "temperature": 0.0}
        )
        self.kms_key_id = kms_key_id
        self.job_name = job_name
        self.job_tags = job_tags
        self.description = description
        self._dataset_uri: str | None = None
        self._tags: list[dict[str, str]] = []

    @cached_property
    def _s3(self) -> Any:
        return s3_client(self)

    # ------------------------------------------------------------------------------------------- the lifecycle

    def prepare(self, identity: ResourceIdentity) -> None:
        """Every check that needs no AWS: ids, URIs, sample size, seed, task type, tags."""
        missing = [name for name in ("model_id", "role_arn") if not getattr(self, name)]
        if missing:
            raise EvaluationError(f"{' and '.join(missing)} must be given")
        if promotion.serving_kind_of(self.model_id) == promotion.ON_DEMAND:
            # API_EvaluationBedrockModel: modelIdentifier takes foundation models, inference profiles,
            # provisioned throughputs and imported models, not custom model deployments.
            raise EvaluationError(
                f"model_id {self.model_id} is an on-demand custom model deployment, which Bedrock evaluation "
                "jobs cannot evaluate: serve the model on a provisioned throughput (serving=provisioned), or "
                "score it with Converse (engine=converse)."
            )
        s3_location(self.validation_data_uri, "validation_data_uri")
        s3_location(self.output_uri, "output_uri")
        parse_sample_size(self.sample_size)
        int(self.seed)
        check_task_type(self.evaluation_task_type)
        self._tags = identity.aws_tags(self.job_tags, what="job_tags")

    def resource_name(self, identity: ResourceIdentity) -> str:
        # Evaluation job names are lowercase: [a-z0-9](-*[a-z0-9]){0,62}.
        return identity.name("evaluation-job", self.job_name).lower()

    def describe(self, identifier: str) -> dict[str, Any] | None:
        """GetEvaluationJob; a name is looked up first (ListEvaluationJobs), as GetEvaluationJob takes an ARN."""
        if not identifier.startswith("arn:"):
            jobs = self.hook.paginate("list_evaluation_jobs", "jobSummaries", nameContains=identifier)
            found = next((job for job in jobs if job["jobName"] == identifier), None)
            if found is None:
                return None
            identifier = found["jobArn"]
        return self.hook.describe("get_evaluation_job", jobIdentifier=identifier)

    def before_create(self, identity: ResourceIdentity) -> None:
        """Write the prompts as the job's dataset (SSE-KMS), where the create will point the job."""
        seed = int(self.seed)
        samples, total = load_samples(
            self._s3, self.validation_data_uri, parse_sample_size(self.sample_size), seed
        )
        text = dataset_jsonl(samples)
        self._dataset_uri = dataset_uri(self.output_uri, text)
        artifacts.put_object(self._s3, self._dataset_uri, text, "application/x-ndjson", self.kms_key_id)
        self.log.info(
            "Evaluation dataset %s: %s.",
            self._dataset_uri,
            describe_selection(len(samples), total, seed, self.validation_data_uri),
        )

    def create(self, identity: ResourceIdentity, token: str) -> str:
        if self._dataset_uri is None:
            raise EvaluationError("The evaluation dataset was not written before the create")
        request = evaluation_job_request(
            job_name=self.resource_name(identity),
            role_arn=self.role_arn,
            model_id=self.model_id,
            dataset_uri=self._dataset_uri,
            output_uri=artifacts.join(self.output_uri, ""),
            task_type=self.evaluation_task_type,
            metric_names=self.metric_names or None,
            judge_model_id=self.judge_model_id or None,
            inference_config=self.inference_config,
            kms_key_id=self.kms_key_id or None,
            tags=self._tags,
            client_request_token=token,
            description=self.description or None,
        )
        self.log.info(
            "Creating evaluation job %s: %s on %s.", request["jobName"], self.model_id, self._dataset_uri
        )
        return self.hook.conn.create_evaluation_job(**request)["jobArn"]

    def stop(self, arn: str) -> None:
        """Stop the job; one that already finished is left alone."""
        from botocore.exceptions import ClientError

        try:
            self.hook.conn.stop_evaluation_job(jobIdentifier=arn)
        except ClientError as error:
            if error_code(error) not in ALREADY_FINISHED:
                raise
            self.log.info("Evaluation job %s is not running any more: %s", arn, error)
        else:
            self.log.info("Stopped evaluation job %s.", arn)

    def failure_message(self, resource: Mapping[str, Any]) -> str:
        """Failed or stopped: the task fails for good (Bedrock does not restart a job); say how to run it again."""
        reasons = "; ".join(resource.get("failureMessages") or []) or "Bedrock gave no failureMessages"
        again = "a new DAG run" if not self.idempotency_key else "another idempotency_key"
        return (
            f"Bedrock evaluation job {resource['jobName']} ended {resource.get('status')}: {reasons} "
            f"({resource['jobArn']}). A retry re-attaches to the same job; to evaluate again, use {again}."
        )

    def persist_links(self, context: Context, resource: Mapping[str, Any]) -> None:
        BedrockEvaluationJobLink.persist_arn(context, self, resource["jobArn"])


class BedrockCompareEvaluationJobsOperator(AwsBaseOperator[BedrockCustomizationHook]):
    """
    Compare a candidate's finished evaluation job with its baseline's: mean per metric; promote, reject or
    inconclusive.

    Reads both jobs (GetEvaluationJob; each must be Completed, else the task fails with its
    ``failureMessages``) and their ``*_output.jsonl`` results, and writes under ``output_uri``, with SSE-KMS,
    what the Converse scoring writes: ``summary.json`` (the return value), ``report.md`` and
    ``metrics_chart.png``. The summary has ``baseline`` and ``candidate`` (``model_id``, ``label``, the mean of
    every metric both jobs computed), ``decision`` and ``significance`` (the Converse scoring's paired
    bootstrap decision on ``primary_metric``, over the records both jobs scored for the same ``inputRecord``;
    ``inconclusive`` when no record pairs, since means alone cannot show a difference is real),
    ``primary_metric``, ``samples``, ``evaluation_jobs`` and ``uris``. Read-only towards Bedrock: safe to retry.

    :param baseline_job_arn: ARN of the baseline model's evaluation job. (templated)
    :param candidate_job_arn: ARN of the candidate model's evaluation job, over the same dataset. (templated)
    :param output_uri: S3 folder for the summary, report and chart. (templated)
    :param baseline_label: Name of the baseline in the report. (templated; default ``"baseline"``)
    :param candidate_label: Name of the candidate in the report. (templated; default ``"candidate"``)
    :param primary_metric: The metric that decides, not a lower-is-better one. (templated; default
        ``Builtin.Correctness`` for judged jobs, else ``Builtin.Accuracy``)
    :param margin: How much the candidate must win by. (templated; default 0)
    :param confidence: Confidence level of the interval that decides. (templated; default 0.95)
    :param seed: Seed of the bootstrap. (templated; default 42)
    :param kms_key_id: KMS key for SSE-KMS on every object written. (templated; default ``aws/s3``)
    """

    aws_hook_class = BedrockCustomizationHook
    template_fields: Sequence[str] = aws_template_fields(
        "baseline_job_arn",
        "candidate_job_arn",
        "output_uri",
        "baseline_label",
        "candidate_label",
        "primary_metric",
        "margin",
        "confidence",
        "seed",
        "kms_key_id",
    )
    ui_color = "#d8e7f5"
    operator_extra_links = (BedrockEvaluationJobLink(), BedrockRunResultsLink())

    def __init__(
        self,
        *,
        baseline_job_arn: str,
        candidate_job_arn: str,
        output_uri: str,
        baseline_label: str = "baseline",
        candidate_label: str = "candidate",
        primary_metric: str | None = None,
        margin: float | str = 0.0,
        confidence: float | str = 0.95,
        seed: int | str = 42,
        kms_key_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.confidence = confidence
        self.seed = seed
        self.baseline_job_arn = baseline_job_arn
        self.candidate_job_arn = candidate_job_arn
        self.output_uri = output_uri
        self.baseline_label = baseline_label
        self.candidate_label = candidate_label
        self.primary_metric = primary_metric
        self.margin = margin
        self.kms_key_id = kms_key_id

    def execute(self, context: Context) -> dict[str, Any]:
        uris = output_uris(self.output_uri, responses=False)
        arns = {"baseline": self.baseline_job_arn, "candidate": self.candidate_job_arn}
        BedrockEvaluationJobLink.persist_arn(context, self, arns["candidate"], job_arns=arns)
        facts = {role: self._completed(role, arn) for role, arn in arns.items()}
        if facts["baseline"]["dataset_uri"] != facts["candidate"]["dataset_uri"]:
            self.log.warning(
                "The jobs evaluated different datasets (baseline %s, candidate %s): the comparison holds only "
                "if they hold the same prompts.",
                facts["baseline"]["dataset_uri"],
                facts["candidate"]["dataset_uri"],
            )
        s3 = s3_client(self)
        outputs = {role: self._outputs(s3, facts[role]) for role in ROLES}
        labels = {"baseline": self.baseline_label, "candidate": self.candidate_label}
        summary = summarize_jobs(
            facts,
            outputs,
            labels,
            self.primary_metric or None,
            float(self.margin),
            confidence=float(self.confidence),
            seed=int(self.seed),
            uris=uris,
        )
        publish(s3, summary, [], uris, self.kms_key_id)
        self.log.info("%s Outputs under %s.", score_summary(summary), self.output_uri)
        return summary

    def _completed(self, role: str, arn: str) -> dict[str, Any]:
        """The facts of the role's job; fails the task unless it is Completed."""
        job = self.hook.describe("get_evaluation_job", jobIdentifier=arn)
        if job is None:
            raise AirflowFailException(f"The {role} evaluation job {arn} does not exist.")
        facts = job_facts(job)
        if facts["status"] != "Completed":
            reasons = "; ".join(job.get("failureMessages") or []) or "no failureMessages"
            raise AirflowFailException(
                f"The {role} evaluation job {facts['job_name']} ({arn}) is {facts['status']}, not Completed "
                f"({reasons}): only finished jobs can be compared."
            )
        return facts

    def _outputs(self, s3: Any, facts: Mapping[str, Any]) -> list[str]:
        texts = read_texts(s3, facts["output_folder"], OUTPUT_SUFFIX)
        if not texts:
            raise EvaluationError(
                f"Evaluation job {facts['job_name']} wrote no *{OUTPUT_SUFFIX} under {facts['output_folder']}"
            )
        return texts
