"""Compare a candidate model with the model it would replace, on validation prompts, and decide."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.bedrock import BedrockRuntimeHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from bedrock_customization import settings
from bedrock_customization.evaluation.compare import ROLES, score_rows, summarize
from bedrock_customization.evaluation.errors import EvaluationError
from bedrock_customization.evaluation.invoke import (
    NO_BOTOCORE_RETRIES,
    RetryCounter,
    RetryPolicy,
    call_with_retries,
    converse_request,
    reply_text,
)
from bedrock_customization.evaluation.metrics import DEFAULT_METRICS, Metric, create_metrics
from bedrock_customization.evaluation.samples import Sample, read_samples, select_samples
from bedrock_customization.links.bedrock import BedrockEvaluationJobLink, BedrockRunResultsLink

if TYPE_CHECKING:
    from airflow.sdk import Context

DEFAULT_INFERENCE_CONFIG = {"maxTokens": 512, "temperature": 0.0}
RESPONSES_NAME = "responses.jsonl"
SUMMARY_NAME = "summary.json"
REPORT_NAME = "report.md"
JOB_PREFIX = "bedrock_evaluation"


def _s3_split(uri: str) -> tuple[str, str]:
    """(bucket, key) of an ``s3://bucket/key`` URI."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not uri.startswith("s3://") or not bucket:
        raise EvaluationError(f"{uri!r} is not an s3://bucket/key URI")
    return bucket, key


def _names(metrics: Sequence[str] | str) -> list[str]:
    """Metric names from a list, or from a comma-separated string (a rendered template)."""
    if isinstance(metrics, str):
        return [name.strip() for name in metrics.split(",") if name.strip()]
    return [str(name) for name in metrics]


def _join(prefix: str, name: str) -> str:
    return f"{prefix.rstrip('/')}/{name}"


class BedrockEvaluateModelsOperator(AwsBaseOperator[BedrockRuntimeHook]):
    """
    Ask a baseline and a candidate model the same validation prompts, score both, and decide promote/reject.

    Every prompt goes to both models through the Converse API (so every model family works alike), at most
    ``max_concurrency`` calls at a time. Throttling, ServiceUnavailable and ModelNotReady are retried here with
    exponential backoff and jitter (botocore's own retries are off for these calls, so the count is ours and shows
    in the logs and the summary); other errors fail the task at once, naming the model and the sample.

    Writes under ``output_uri``: ``responses.jsonl`` (per sample: index, line, prompt, reference, both responses,
    both models' scores), ``summary.json`` (the return value), ``report.md`` and ``metrics_chart.png``; with
    SSE-KMS when ``kms_key_id`` is given. Returns the summary: ``baseline`` and ``candidate`` (``model_id``,
    ``label`` and the mean of every metric), ``decision`` (``"promote"`` when the candidate's mean on
    ``primary_metric`` is at least the baseline's plus ``margin``, else ``"reject"``), ``samples``, ``retries`` and
    ``uris``.

    With ``use_bedrock_evaluation_job=True`` a native Bedrock evaluation job (one per model) computes Bedrock's
    built-in metrics instead (model-as-a-judge metrics when ``judge_model_id`` is set); the operator writes the
    prompt dataset, creates both jobs, waits for them and reads their results.

    :param validation_data_uri: S3 URI of a JSON Lines validation file in a Bedrock training format
        (prompt/completion, Claude messages or bedrock-conversation-2024). (templated)
    :param output_uri: S3 prefix for the outputs. (templated)
    :param candidate_model_id: Model id or ARN of the candidate, usually a provisioned throughput ARN. (templated)
    :param baseline_model_id: The model the candidate would replace: the serving throughput ARN if any, else the
        base model's on-demand id. (templated)
    :param baseline_label: Name of the baseline in the report and chart. (templated; default ``"baseline"``)
    :param candidate_label: Name of the candidate in the report and chart. (templated; default ``"candidate"``)
    :param metrics: Metric names from the registry. (templated; default ``rouge_l``, ``chrf``, ``exact_match``)
    :param primary_metric: The metric that decides. (templated; default ``chrf``, or ``Builtin.Accuracy`` /
        ``Builtin.Correctness`` for Bedrock evaluation jobs)
    :param margin: How much the candidate must win by, in the primary metric's units. (templated; default 0)
    :param sample_size: Number of prompts, chosen by ``seed``; None or 0 for all. (templated; default all)
    :param seed: Seed of the sample. (templated; default 42)
    :param judge_model_id: A Bedrock model that grades both models' answers; adds the ``llm_judge`` metric
        (mean of correctness, completeness and helpfulness, 1-10). (templated; default none)
    :param metric_options: Options per metric, e.g. ``{"bertscore": {"model_type": "/models/xlmr"}}``. (templated)
    :param inference_config: Converse ``inferenceConfig`` for both models. (templated; default
        ``{"maxTokens": 512, "temperature": 0.0}``)
    :param max_concurrency: Model calls in flight at once. (default 4)
    :param max_attempts: Attempts per call before failing. (default 8)
    :param retry_base_delay: Seconds before the first retry; doubles each retry, with jitter. (default 1.0)
    :param retry_max_delay: Longest wait between attempts, in seconds. (default 20.0)
    :param kms_key_id: KMS key for SSE-KMS on every object written (and the evaluation jobs). (templated)
    :param use_bedrock_evaluation_job: Use native Bedrock evaluation jobs instead of Converse. (default False)
    :param evaluation_role_arn: Service role for the evaluation jobs (required with them). (templated)
    :param evaluation_job_name: Base of the two job names (``-baseline``/``-candidate`` appended); default derived
        from the inputs, so a retry re-attaches to the same jobs. (templated)
    :param evaluation_task_type: Task type of the evaluation jobs. (templated; default ``QuestionAndAnswer``)
    :param waiter_delay: Seconds between evaluation job status checks. (default: the ``poll_interval`` setting)
    :param waiter_max_attempts: Status checks before giving up. (default: ``job_timeout`` / ``poll_interval``)
    """

    aws_hook_class = BedrockRuntimeHook
    template_fields: Sequence[str] = aws_template_fields(
        "validation_data_uri",
        "output_uri",
        "candidate_model_id",
        "baseline_model_id",
        "baseline_label",
        "candidate_label",
        "metrics",
        "primary_metric",
        "margin",
        "sample_size",
        "seed",
        "judge_model_id",
        "metric_options",
        "inference_config",
        "kms_key_id",
        "evaluation_role_arn",
        "evaluation_job_name",
        "evaluation_task_type",
    )
    template_fields_renderers = {"inference_config": "json", "metric_options": "json"}
    ui_color = "#d8e7f5"
    operator_extra_links = (BedrockEvaluationJobLink(), BedrockRunResultsLink())

    def __init__(
        self,
        *,
        validation_data_uri: str,
        output_uri: str,
        candidate_model_id: str,
        baseline_model_id: str,
        baseline_label: str = "baseline",
        candidate_label: str = "candidate",
        metrics: Sequence[str] = DEFAULT_METRICS,
        primary_metric: str | None = None,
        margin: float | str = 0.0,
        sample_size: int | str | None = None,
        seed: int | str = 42,
        judge_model_id: str | None = None,
        metric_options: Mapping[str, Mapping[str, Any]] | None = None,
        inference_config: Mapping[str, Any] | None = None,
        max_concurrency: int = 4,
        max_attempts: int = 8,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 20.0,
        kms_key_id: str | None = None,
        use_bedrock_evaluation_job: bool = False,
        evaluation_role_arn: str | None = None,
        evaluation_job_name: str | None = None,
        evaluation_task_type: str = "QuestionAndAnswer",
        waiter_delay: int | None = None,
        waiter_max_attempts: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.validation_data_uri = validation_data_uri
        self.output_uri = output_uri
        self.candidate_model_id = candidate_model_id
        self.baseline_model_id = baseline_model_id
        self.baseline_label = baseline_label
        self.candidate_label = candidate_label
        self.metrics = metrics
        self.primary_metric = primary_metric
        self.margin = margin
        self.sample_size = sample_size
        self.seed = seed
        self.judge_model_id = judge_model_id
        self.metric_options = metric_options
        self.inference_config = (
            inference_config if inference_config is not None else dict(DEFAULT_INFERENCE_CONFIG)
        )
        self.max_concurrency = max_concurrency
        self.throttling_retries = RetryPolicy(max_attempts, retry_base_delay, retry_max_delay)
        self.kms_key_id = kms_key_id
        self.use_bedrock_evaluation_job = use_bedrock_evaluation_job
        self.evaluation_role_arn = evaluation_role_arn
        self.evaluation_job_name = evaluation_job_name
        self.evaluation_task_type = evaluation_task_type
        self.waiter_delay = waiter_delay
        self.waiter_max_attempts = waiter_max_attempts
        self._cancel = threading.Event()
        self._job_arns: list[str] = []

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        # Runtime calls make one attempt each in botocore: retries are ours (counted, logged, capped).
        return {**super()._hook_parameters, "config": {**(self.botocore_config or {}), **NO_BOTOCORE_RETRIES}}

    # ------------------------------------------------------------------------------------------ execute

    def execute(self, context: Context) -> dict[str, Any]:
        if self.max_concurrency < 1:
            raise EvaluationError(f"max_concurrency must be at least 1, got {self.max_concurrency}")
        self._cancel.clear()
        margin, seed, sample_size = float(self.margin), int(self.seed), self._sample_size()
        samples = self._read_samples(sample_size, seed)
        if self.use_bedrock_evaluation_job:
            return self._run_evaluation_jobs(
                samples, margin, seed, sample_size, self._run_tags(context), context=context
            )
        return self._run_converse(samples, margin, seed, sample_size)

    def on_kill(self) -> None:
        self._cancel.set()
        if self._job_arns:
            conn = self._bedrock_hook().conn
            for arn in self._job_arns:
                try:
                    conn.stop_evaluation_job(jobIdentifier=arn)
                    self.log.info("Stopped evaluation job %s.", arn)
                except Exception as err:  # a job that already finished cannot be stopped
                    self.log.warning("Could not stop evaluation job %s: %s", arn, err)

    def _sample_size(self) -> int | None:
        value = self.sample_size
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "all", "none")):
            return None
        try:
            size = int(value)
        except (TypeError, ValueError):
            raise EvaluationError(f"sample_size must be a number or 'all', got {value!r}") from None
        if size < 0:
            raise EvaluationError(f"sample_size must not be negative, got {size}")
        return size or None

    @cached_property
    def _s3_client(self) -> Any:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        ).get_conn()

    def _read_samples(self, sample_size: int | None, seed: int) -> list[Sample]:
        bucket, key = _s3_split(self.validation_data_uri)
        s3 = self._s3_client
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            raise EvaluationError(f"Validation data {self.validation_data_uri} does not exist") from None
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as err:
            raise EvaluationError(f"{self.validation_data_uri} is not UTF-8 text: {err}") from None
        everything = read_samples(text, self.validation_data_uri)
        chosen = select_samples(everything, sample_size, seed)
        how = (
            f"a sample of {len(chosen)} (seed {seed})"
            if len(chosen) < len(everything)
            else f"all {len(chosen)}"
        )
        self.log.info("Evaluating on %s of %d records of %s.", how, len(everything), self.validation_data_uri)
        return chosen

    def _put(self, uri: str, body: bytes, content_type: str) -> str:
        bucket, key = _s3_split(uri)
        extra: dict[str, Any] = {"ContentType": content_type}
        if self.kms_key_id:
            extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=self.kms_key_id)
        self._s3_client.put_object(Bucket=bucket, Key=key, Body=body, **extra)
        return uri

    def _models(self) -> dict[str, dict[str, str]]:
        return {
            "baseline": {"model_id": self.baseline_model_id, "label": self.baseline_label},
            "candidate": {"model_id": self.candidate_model_id, "label": self.candidate_label},
        }

    # ------------------------------------------------------------------------------------ converse path

    def _retrying(self, call: Callable[[], Any], what: str, counter: RetryCounter, key: str) -> Any:
        def on_retry(retry: int, code: str, delay: float) -> None:
            counter.add(key)
            self.log.warning(
                "%s: %s; retry %d of %d in %.2f s.",
                what,
                code,
                retry,
                self.throttling_retries.max_attempts - 1,
                delay,
            )

        result, _ = call_with_retries(call, what=what, policy=self.throttling_retries, on_retry=on_retry)
        return result

    def _build_metrics(self, converse: Callable[..., Any]) -> list[Metric]:
        names = _names(self.metrics)
        if self.judge_model_id and "llm_judge" not in names:
            names.append("llm_judge")
        if "llm_judge" in names and not self.judge_model_id:
            raise EvaluationError(
                "The 'llm_judge' metric needs judge_model_id (a Bedrock model id for the judge)"
            )
        options = {name: dict(value) for name, value in (self.metric_options or {}).items()}
        if "llm_judge" in names:
            options["llm_judge"] = {
                "converse": converse,
                "model_id": self.judge_model_id,
                "max_workers": self.max_concurrency,
                **options.get("llm_judge", {}),
            }
        return create_metrics(names, options)

    def _run_converse(
        self, samples: list[Sample], margin: float, seed: int, sample_size: int | None
    ) -> dict[str, Any]:
        runtime = self.hook.conn
        counter = RetryCounter()
        judge_id = self.judge_model_id

        def judge_converse(**request: Any) -> Any:
            return self._retrying(
                lambda: runtime.converse(**request), f"Judge model {judge_id}", counter, "judge"
            )

        metrics = self._build_metrics(judge_converse)
        primary = self.primary_metric or "chrf"
        if primary not in [metric.name for metric in metrics]:
            raise EvaluationError(
                f"primary_metric {primary!r} is not among the metrics {[m.name for m in metrics]}"
            )
        models = self._models()
        responses = self._ask_all(runtime, samples, models, counter)
        rows = score_rows(samples, responses, metrics)
        prefix = self.output_uri
        uris = {
            "responses": _join(prefix, RESPONSES_NAME),
            "summary": _join(prefix, SUMMARY_NAME),
            "report": _join(prefix, REPORT_NAME),
            "chart": _join(prefix, "metrics_chart.png"),
        }
        keys = ("baseline", "candidate", "judge") if judge_id else ROLES
        summary = summarize(
            rows,
            metrics,
            models,
            primary,
            margin,
            mode="converse",
            dataset_uri=self.validation_data_uri,
            sample_size=sample_size,
            seed=seed,
            judge_model_id=judge_id,
            inference_config=self.inference_config,
            retries=counter.as_dict(keys),
            uris=uris,
        )
        self._write_outputs(summary, rows, uris)
        return summary

    def _ask_all(
        self,
        runtime: Any,
        samples: list[Sample],
        models: Mapping[str, Mapping[str, str]],
        counter: RetryCounter,
    ) -> dict[str, list[str]]:
        """Every sample to both models, ``max_concurrency`` calls at a time; the first failure stops the rest."""
        answers: dict[str, list[str]] = {role: [""] * len(samples) for role in ROLES}

        def ask(role: str, position: int) -> None:
            if self._cancel.is_set():
                raise EvaluationError("Evaluation cancelled")
            sample, model_id = samples[position], models[role]["model_id"]
            what = (
                f"Converse with the {role} model {model_id} on sample {sample.index} "
                f"(line {sample.line} of {self.validation_data_uri})"
            )
            request = converse_request(model_id, sample, self.inference_config)
            reply = self._retrying(lambda: runtime.converse(**request), what, counter, role)
            answers[role][position] = reply_text(reply)

        with ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="evaluate") as pool:
            futures = [pool.submit(ask, role, i) for i in range(len(samples)) for role in ROLES]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            failed = next((f for f in futures if f in done and f.exception() is not None), None)
            if failed is not None:
                self._cancel.set()
                for future in pending:
                    future.cancel()
                raise failed.exception()  # type: ignore[misc]
        retries = counter.as_dict(ROLES)
        self.log.info(
            "Got %d answers from each model (retries: baseline %d, candidate %d).",
            len(samples),
            retries["baseline"],
            retries["candidate"],
        )
        return answers

    def _write_outputs(
        self, summary: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], uris: Mapping[str, str]
    ) -> None:
        from bedrock_customization.evaluation.report import render_chart, render_markdown

        if "responses" in uris:
            lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
            self._put(uris["responses"], lines.encode("utf-8"), "application/x-ndjson")
        self._put(uris["chart"], render_chart(summary), "image/png")
        self._put(
            uris["report"], render_markdown(summary, rows).encode("utf-8"), "text/markdown; charset=utf-8"
        )
        self._put(
            uris["summary"],
            json.dumps(summary, indent=2, ensure_ascii=False).encode("utf-8"),
            "application/json",
        )
        self._log_table(summary)

    def _log_table(self, summary: Mapping[str, Any]) -> None:
        from bedrock_customization.tables import text_table

        rows = [(name, summary["baseline"][name], summary["candidate"][name]) for name in summary["metrics"]]
        self.log.info(
            "Mean scores:\n%s", text_table(rows, ("metric", "baseline", "candidate"), floatfmt=".4f")
        )
        self.log.info(
            "Decision on %s (margin %g): %s. Outputs under %s.",
            summary["primary_metric"],
            summary["margin"],
            summary["decision"],
            self.output_uri,
        )

    # ----------------------------------------------------------------------- Bedrock evaluation jobs

    def _bedrock_hook(self) -> Any:
        from bedrock_customization.hooks.bedrock import BedrockCustomizationHook

        return BedrockCustomizationHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        )

    def evaluation_job_requests(
        self,
        samples_uri: str,
        seed: int,
        sample_size: int | None,
        tags: Sequence[Mapping[str, str]] | None = None,
    ) -> dict[str, dict]:
        """The ``create_evaluation_job`` request of each role (pure; used by :meth:`execute` and tests)."""
        from bedrock_customization.evaluation.bedrock_job import evaluation_job_name, evaluation_job_request
        from bedrock_customization.naming import client_request_token, digest

        if not self.evaluation_role_arn:
            raise EvaluationError(
                "use_bedrock_evaluation_job=True needs evaluation_role_arn (the job's service role)"
            )
        base = self.evaluation_job_name or "eval-" + digest(
            self.validation_data_uri,
            self.output_uri,
            self.baseline_model_id,
            self.candidate_model_id,
            seed,
            sample_size,
        )
        requests = {}
        for role, model in self._models().items():
            name = evaluation_job_name(base, role)
            requests[role] = evaluation_job_request(
                job_name=name,
                role_arn=self.evaluation_role_arn,
                model_id=model["model_id"],
                dataset_uri=samples_uri,
                output_uri=_join(self.output_uri, JOB_PREFIX) + "/",
                task_type=self.evaluation_task_type,
                judge_model_id=self.judge_model_id,
                inference_config=self.inference_config,
                kms_key_id=self.kms_key_id,
                client_request_token=client_request_token(name, samples_uri, model["model_id"]),
                tags=tags,
                description=f"{role} {model['label']}",
            )
        return requests

    def _run_evaluation_jobs(
        self,
        samples: list[Sample],
        margin: float,
        seed: int,
        sample_size: int | None,
        tags: Sequence[Mapping[str, str]] | None,
        context: Context | None = None,
    ) -> dict[str, Any]:
        from airflow.providers.amazon.aws.utils.waiter_with_logging import wait as wait_for

        from bedrock_customization.evaluation.bedrock_job import (
            JUDGE_METRICS,
            LOWER_IS_BETTER,
            dataset_jsonl,
            mean_results,
        )
        from bedrock_customization.evaluation.report import render_chart, render_markdown

        primary = self.primary_metric or (
            "Builtin.Correctness" if self.judge_model_id else "Builtin.Accuracy"
        )
        if primary in LOWER_IS_BETTER:
            raise EvaluationError(
                f"primary_metric {primary} is lower-is-better; choose e.g. Builtin.Accuracy"
            )
        samples_uri = self._put(
            _join(self.output_uri, f"{JOB_PREFIX}/dataset.jsonl"),
            dataset_jsonl(samples).encode("utf-8"),
            "application/x-ndjson",
        )
        requests = self.evaluation_job_requests(samples_uri, seed, sample_size, tags)
        hook = self._bedrock_hook()
        conn = hook.conn
        arns = {role: self._create_or_find_job(conn, request) for role, request in requests.items()}
        self._job_arns = list(arns.values())
        if context is not None:
            self._persist_job_link(context, arns, hook)
        delay = self.waiter_delay or settings.poll_interval()
        attempts = self.waiter_max_attempts or settings.max_attempts("job_timeout")
        for role, arn in arns.items():
            wait_for(
                waiter=hook.get_waiter("evaluation_job_complete"),
                waiter_delay=delay,
                waiter_max_attempts=attempts,
                args={"jobIdentifier": arn},
                failure_message=f"Bedrock evaluation job of the {role} model failed",
                status_message=f"Status of the {role} evaluation job is",
                status_args=["status", "failureMessages"],
            )
        summary: dict[str, Any] = {}
        for role, model in self._models().items():
            means = mean_results(self._job_outputs(requests[role]["jobName"]))
            summary[role] = {**model, **means}
        names = sorted(set(summary["baseline"]) & set(summary["candidate"]) - {"model_id", "label"})
        if primary not in names:
            raise EvaluationError(f"primary_metric {primary} is not in the evaluation jobs' results {names}")
        from bedrock_customization.evaluation.aggregate import decide

        uris = {
            "summary": _join(self.output_uri, SUMMARY_NAME),
            "report": _join(self.output_uri, REPORT_NAME),
            "chart": _join(self.output_uri, "metrics_chart.png"),
            "dataset": samples_uri,
        }
        summary.update(
            metrics={name: {"label": name.removeprefix("Builtin."), "scale": 1.0} for name in names},
            primary_metric=primary,
            margin=margin,
            samples=len(samples),
            decision=decide(summary["baseline"], summary["candidate"], primary, margin),
            mode="bedrock_evaluation_job",
            evaluation_jobs=arns,
            judge_model_id=self.judge_model_id,
            judge_metrics=list(JUDGE_METRICS) if self.judge_model_id else [],
            dataset_uri=self.validation_data_uri,
            sample_size=sample_size,
            seed=seed,
            uris=uris,
        )
        self._put(uris["chart"], render_chart(summary), "image/png")
        self._put(
            uris["report"], render_markdown(summary, []).encode("utf-8"), "text/markdown; charset=utf-8"
        )
        self._put(uris["summary"], json.dumps(summary, indent=2).encode("utf-8"), "application/json")
        self._log_table(summary)
        return summary

    def _persist_job_link(self, context: Context, arns: Mapping[str, str], hook: Any) -> None:
        """Store the link to the evaluation jobs (the candidate's ARN, and every role's)."""
        BedrockEvaluationJobLink.persist_arn(
            context, self, arns.get("candidate"), hook=hook, job_arns=dict(arns)
        )

    @staticmethod
    def _run_tags(context: Context | Mapping[str, Any] | None) -> list[dict[str, str]] | None:
        """Ownership tags (managed-by, dag id, run id, task id) of the running task; None outside a task."""
        ti = context.get("ti") if context else None
        if ti is None:
            return None
        from bedrock_customization import tagging

        return tagging.to_aws(tagging.run_tags(ti.dag_id, ti.run_id, ti.task_id))

    def _create_or_find_job(self, conn: Any, request: Mapping[str, Any]) -> str:
        """Create the job; when its name exists already (a retry), re-attach to it."""
        try:
            arn = conn.create_evaluation_job(**request)["jobArn"]
            self.log.info("Created evaluation job %s (%s).", request["jobName"], arn)
            return arn
        except conn.exceptions.ConflictException:
            for page in conn.get_paginator("list_evaluation_jobs").paginate(nameContains=request["jobName"]):
                for job in page.get("jobSummaries", []):
                    if job.get("jobName") == request["jobName"]:
                        self.log.info(
                            "Re-attaching to evaluation job %s (%s).", job["jobName"], job["jobArn"]
                        )
                        return job["jobArn"]
            raise

    def _job_outputs(self, job_name: str) -> list[str]:
        bucket, prefix = _s3_split(_join(self.output_uri, f"{JOB_PREFIX}/{job_name}/"))
        s3 = self._s3_client
        texts = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith("_output.jsonl"):
                    texts.append(s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8"))
        if not texts:
            raise EvaluationError(
                f"Evaluation job {job_name} wrote no *_output.jsonl under s3://{bucket}/{prefix}"
            )
        return texts
