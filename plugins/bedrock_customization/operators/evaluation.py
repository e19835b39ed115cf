"""Compare a candidate model with the model it would replace on validation prompts, through Converse, and decide.

Native Bedrock evaluation jobs (CreateEvaluationJob) are the other engine: ``operators/evaluation_job.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.hooks.bedrock import BedrockRuntimeHook
from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from bedrock_customization.evaluation.compare import ROLES, score_rows, summarize
from bedrock_customization.evaluation.errors import EvaluationError
from bedrock_customization.evaluation.invoke import (
    RetryCounter,
    RetryPolicy,
    converse_request,
    reply_text,
)
from bedrock_customization.evaluation.judge import JUDGE_MODELS_HINT, judge_details, judge_summary
from bedrock_customization.evaluation.metrics import (
    DEFAULT_METRICS,
    Metric,
    create_metrics,
    parse_metric_names,
)
from bedrock_customization.evaluation.report import score_summary
from bedrock_customization.evaluation.samples import Sample, parse_sample_size
from bedrock_customization.evaluation.storage import describe_selection, load_samples, output_uris, publish
from bedrock_customization.links.bedrock import BedrockRunResultsLink
from bedrock_customization.operators.base import s3_client
from bedrock_customization.operators.retrying import ThrottlingRetriesMixin

if TYPE_CHECKING:
    from airflow.sdk import Context

DEFAULT_INFERENCE_CONFIG = {"maxTokens": 512, "temperature": 0.0}


class BedrockEvaluateModelsOperator(ThrottlingRetriesMixin, AwsBaseOperator[BedrockRuntimeHook]):
    """
    Ask a baseline and a candidate model the same validation prompts, score both, and decide: promote, reject or
    inconclusive.

    Every prompt goes to both models through the Converse API (so every model family works alike), at most
    ``max_concurrency`` calls at a time. Throttling, ServiceUnavailable and ModelNotReady are retried here with
    exponential backoff and jitter (botocore's own retries are off for these calls, so the count is ours and shows
    in the logs and the summary); other errors fail the task at once, naming the model and the sample.

    Writes under ``output_uri``: ``responses.jsonl`` (per sample: index, line, prompt, reference, both responses,
    both models' scores), ``summary.json`` (the return value), ``report.md`` and ``metrics_chart.png``; with
    SSE-KMS (the AWS managed key ``aws/s3`` unless ``kms_key_id`` is given). Returns the summary: ``baseline`` and ``candidate`` (``model_id``,
    ``label`` and the mean of every metric), ``decision`` and ``significance``, ``samples``, ``retries`` and
    ``uris``. The decision is taken on the per-sample differences candidate - baseline of ``primary_metric``
    (:mod:`bedrock_customization.evaluation.significance`): ``"promote"`` when the lower bound of their mean's
    ``confidence`` interval (paired bootstrap, ``resamples`` resamples, seeded by ``seed``) is above ``margin``,
    ``"reject"`` when its upper bound is below, else ``"inconclusive"`` (the champion stays; ``significance``
    says how many samples would likely decide).

    Bedrock's built-in metrics come from native evaluation jobs instead:
    :class:`~bedrock_customization.operators.evaluation_job.BedrockEvaluationJobOperator` (one per model) and
    :class:`~bedrock_customization.operators.evaluation_job.BedrockCompareEvaluationJobsOperator`, which writes
    the same summary, report and chart.

    :param validation_data_uri: S3 URI of a JSON Lines validation file in a Bedrock training format
        (prompt/completion, Claude messages or bedrock-conversation-2024). (templated)
    :param output_uri: S3 prefix for the outputs. (templated)
    :param candidate_model_id: Model id or ARN of the candidate: the ARN of its deployment or throughput. (templated)
    :param baseline_model_id: The model the candidate would replace: the serving throughput ARN if any, else the
        base model's on-demand id. (templated)
    :param baseline_label: Name of the baseline in the report and chart. (templated; default ``"baseline"``)
    :param candidate_label: Name of the candidate in the report and chart. (templated; default ``"candidate"``)
    :param metrics: Metric names from the registry. (templated; default ``rouge_l``, ``chrf``, ``exact_match``)
    :param primary_metric: The metric that decides. (templated; default ``chrf``)
    :param margin: How much the candidate must win by, in the primary metric's units. (templated; default 0)
    :param sample_size: Number of prompts, chosen by ``seed``; None or 0 for all. (templated; default all)
    :param seed: Seed of the sample and of the bootstrap. (templated; default 42)
    :param confidence: Confidence level of the interval that decides. (templated; default 0.95)
    :param resamples: Bootstrap resamples. (default 2000)
    :param judge_model_id: A Bedrock model that grades both models' answers side by side, in both orders
        (:mod:`bedrock_customization.evaluation.judge`); adds the ``llm_judge`` metric (mean of correctness,
        completeness and helpfulness, 1-10) and the summary's ``judge`` (means per criterion, order flips,
        rubric). Probed with one small judgement before any prompt. (templated; default none: no judge)
    :param metric_options: Options per metric, e.g. ``{"bertscore": {"model_type": "/models/xlmr"}}`` or
        ``{"semantic": {"model_id": "amazon.titan-embed-text-v2:0", "dimensions": 512}}`` (the ``semantic``
        metric embeds through InvokeModel, retried like the Converse calls and counted as ``embeddings``).
        (templated)
    :param inference_config: Converse ``inferenceConfig`` for both models. (templated; default
        ``{"maxTokens": 512, "temperature": 0.0}``)
    :param max_concurrency: Model calls in flight at once. (default 4)
    :param max_attempts: Attempts per call before failing. (default 8)
    :param retry_base_delay: Seconds before the first retry; doubles each retry, with jitter. (default 1.0)
    :param retry_max_delay: Longest wait between attempts, in seconds. (default 20.0)
    :param kms_key_id: KMS key for SSE-KMS on every object written. (templated; default ``aws/s3``)
    :param cost_context: ``base_model_id``, ``training_tokens`` and ``epochs`` of the candidate's training, and
        for a candidate on a throughput ``throughput`` (``model_units``, ``created`` ISO time): with it the
        summary gets ``estimated_cost`` (:func:`bedrock_customization.cost.run_estimate`: training, the
        candidate's throughput hours or on-demand tokens, the baseline's on-demand tokens, storage). The
        summary's ``usage`` holds each model's Converse input and output tokens either way. (default none)
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
        "confidence",
        "judge_model_id",
        "metric_options",
        "inference_config",
        "kms_key_id",
    )
    template_fields_renderers = {"inference_config": "json", "metric_options": "json"}
    ui_color = "#d8e7f5"
    operator_extra_links = (BedrockRunResultsLink(),)

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
        confidence: float | str = 0.95,
        resamples: int = 2000,
        judge_model_id: str | None = None,
        metric_options: Mapping[str, Mapping[str, Any]] | None = None,
        inference_config: Mapping[str, Any] | None = None,
        max_concurrency: int = 4,
        max_attempts: int = 8,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 20.0,
        kms_key_id: str | None = None,
        cost_context: Mapping[str, Any] | None = None,
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
        self.confidence = confidence
        self.resamples = resamples
        self.judge_model_id = judge_model_id
        self.metric_options = metric_options
        self.inference_config = (
            inference_config if inference_config is not None else dict(DEFAULT_INFERENCE_CONFIG)
        )
        self.max_concurrency = max_concurrency
        self.throttling_retries = RetryPolicy(max_attempts, retry_base_delay, retry_max_delay)
        self.kms_key_id = kms_key_id
        self.cost_context = cost_context
        self._cancel = threading.Event()

    # ------------------------------------------------------------------------------------------ execute

    def execute(self, context: Context) -> dict[str, Any]:
        if self.max_concurrency < 1:
            raise EvaluationError(f"max_concurrency must be at least 1, got {self.max_concurrency}")
        self._cancel.clear()
        margin, seed, sample_size = float(self.margin), int(self.seed), parse_sample_size(self.sample_size)
        uris = output_uris(self.output_uri)
        samples, total = load_samples(self._s3_client, self.validation_data_uri, sample_size, seed)
        self.log.info(
            "Evaluating on %s.", describe_selection(len(samples), total, seed, self.validation_data_uri)
        )
        return self._run_converse(samples, margin, seed, sample_size, uris)

    def on_kill(self) -> None:
        self._cancel.set()

    @cached_property
    def _s3_client(self) -> Any:
        return s3_client(self)

    def _models(self) -> dict[str, dict[str, str]]:
        return {
            "baseline": {"model_id": self.baseline_model_id, "label": self.baseline_label},
            "candidate": {"model_id": self.candidate_model_id, "label": self.candidate_label},
        }

    # ------------------------------------------------------------------------------------ converse path

    def _build_metrics(
        self, converse: Callable[..., Any], invoke_model: Callable[..., Any] | None = None
    ) -> list[Metric]:
        names = parse_metric_names(self.metrics)
        if self.judge_model_id and "llm_judge" not in names:
            names.append("llm_judge")
        if "llm_judge" in names and not self.judge_model_id:
            raise EvaluationError(
                "The 'llm_judge' metric needs judge_model_id (a Bedrock model id for the judge): set it (the "
                f"DAG param judge_model_id) to a model that supports forced tool use, {JUDGE_MODELS_HINT}, "
                "or drop llm_judge from metrics and primary_metric"
            )
        options = {name: dict(value) for name, value in (self.metric_options or {}).items()}
        if "llm_judge" in names:
            # Built (and the judge probed) here, before any model is asked a prompt.
            options["llm_judge"] = {
                "converse": converse,
                "model_id": self.judge_model_id,
                "max_workers": self.max_concurrency,
                **options.get("llm_judge", {}),
            }
        if "semantic" in names:
            # Built (and its embedding model probed) here, before any model is asked a prompt.
            options["semantic"] = {
                "invoke_model": invoke_model,
                "max_workers": self.max_concurrency,
                **options.get("semantic", {}),
            }
        return create_metrics(names, options)

    def _run_converse(
        self,
        samples: list[Sample],
        margin: float,
        seed: int,
        sample_size: int | None,
        uris: Mapping[str, str],
    ) -> dict[str, Any]:
        runtime = self.hook.conn
        counter = RetryCounter()
        judge_id = self.judge_model_id or None  # "" from a template of an unset param: no judge

        def judge_converse(**request: Any) -> Any:
            return self._retrying(
                lambda: runtime.converse(**request), f"Judge model {judge_id}", counter, "judge"
            )

        def embed_invoke(**request: Any) -> Any:
            return self._retrying(
                lambda: runtime.invoke_model(**request),
                f"Embedding model {request['modelId']}",
                counter,
                "embeddings",
            )

        metrics = self._build_metrics(judge_converse, embed_invoke)
        primary = self.primary_metric or "chrf"
        if primary not in [metric.name for metric in metrics]:
            raise EvaluationError(
                f"primary_metric {primary!r} is not among the metrics {[m.name for m in metrics]}"
            )
        models = self._models()
        usage = {role: {"inputTokens": 0, "outputTokens": 0} for role in ROLES}
        responses = self._ask_all(runtime, samples, models, counter, usage)
        rows = score_rows(samples, responses, metrics)
        keys = ("baseline", "candidate", "judge") if judge_id else ROLES
        judged = {"judge": judge_summary(judge_details(rows))} if judge_id else {}
        summary = summarize(
            rows,
            metrics,
            models,
            primary,
            margin,
            confidence=float(self.confidence),
            resamples=int(self.resamples),
            seed=seed,
            mode="converse",
            dataset_uri=self.validation_data_uri,
            sample_size=sample_size,
            judge_model_id=judge_id,
            **judged,
            inference_config=self.inference_config,
            retries=counter.as_dict(keys),
            usage=usage,
            uris=dict(uris),
        )
        if self.cost_context:
            summary["estimated_cost"] = self._estimated_cost(models, usage, summary["decision"])
        publish(self._s3_client, summary, rows, uris, self.kms_key_id)
        self.log.info("%s Outputs under %s.", score_summary(summary), self.output_uri)
        return summary

    def _ask_all(
        self,
        runtime: Any,
        samples: list[Sample],
        models: Mapping[str, Mapping[str, str]],
        counter: RetryCounter,
        usage: dict[str, dict[str, int]] | None = None,
    ) -> dict[str, list[str]]:
        """Every sample to both models, ``max_concurrency`` calls at a time; the first failure stops the rest."""
        answers: dict[str, list[str]] = {role: [""] * len(samples) for role in ROLES}
        usage_lock = threading.Lock()

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
            if usage is not None:
                with usage_lock:
                    for key in ("inputTokens", "outputTokens"):
                        usage[role][key] += int((reply.get("usage") or {}).get(key) or 0)

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

    def _estimated_cost(
        self, models: Mapping[str, Mapping[str, str]], usage: Mapping[str, Mapping[str, int]], decision: str
    ) -> dict[str, Any]:
        """The run's estimated cost (:func:`bedrock_customization.cost.run_estimate`); a candidate on a
        provisioned throughput is counted from the throughput's creation (``cost_context``) to now."""
        from datetime import UTC, datetime

        from bedrock_customization import cost

        context = dict(self.cost_context or {})
        throughput = context.get("throughput")
        if throughput and throughput.get("created"):
            created = datetime.fromisoformat(throughput["created"])
            throughput = {**throughput, "seconds": (datetime.now(UTC) - created).total_seconds()}
        return cost.run_estimate(
            context["base_model_id"],
            cost.configured_table(),
            training_tokens=context.get("training_tokens"),
            epochs=context.get("epochs"),
            candidate_model_id=models["candidate"]["model_id"],
            candidate_usage=usage["candidate"],
            throughput=throughput,
            baseline_model_id=models["baseline"]["model_id"],
            baseline_usage=usage["baseline"],
            kept_models=1 if decision == "promote" else 0,
        )
