"""Native Bedrock model evaluation jobs (``CreateEvaluationJob``): the prompt dataset, the request, the results.

An automatic evaluation job evaluates one model, so comparing two models takes two jobs over the same dataset.
Without a judge the job computes the built-in metrics ``Builtin.Accuracy``, ``Builtin.Robustness`` and
``Builtin.Toxicity``; with ``judge_model_id`` it is a model-as-a-judge job with ``Builtin.Correctness``,
``Builtin.Completeness`` and ``Builtin.Helpfulness``. Results land under
``<output>/<job name>/<job id>/models/<model>/taskTypes/<task>/datasets/<dataset>/<id>_output.jsonl``, one
record per prompt with ``automatedEvaluationResult.scores`` = ``[{"metricName", "result"}, ...]`` and the
``inputRecord`` it answered.

The decision is the Converse scoring's (:mod:`.significance`) on per-sample differences: the two jobs'
records are paired by their ``inputRecord`` (prompt and reference response). Records that do not pair (no
``inputRecord``, or a prompt only one job scored) are left out of the test, and when none pair the means
alone cannot show a difference is real: the decision is ``inconclusive`` and ``significance.reason`` says so.

The operators are ``bedrock_customization.operators.evaluation_job``: one job per model
(``BedrockEvaluationJobOperator``), then the comparison of two finished jobs
(``BedrockCompareEvaluationJobsOperator``, which :func:`summarize_jobs` serves).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from statistics import fmean
from typing import Any

from bedrock_customization import artifacts
from bedrock_customization.evaluation import significance
from bedrock_customization.evaluation.compare import ROLES
from bedrock_customization.evaluation.errors import EvaluationError
from bedrock_customization.evaluation.samples import Sample
from bedrock_customization.naming import digest

__all__ = [
    "AUTOMATIC_METRICS",
    "JUDGE_METRICS",
    "OUTPUT_SUFFIX",
    "TASK_TYPES",
    "check_task_type",
    "dataset_jsonl",
    "dataset_uri",
    "evaluation_job_name",
    "evaluation_job_request",
    "job_facts",
    "mean_results",
    "paired_results",
    "summarize_jobs",
]

TASK_TYPES = ("Summarization", "Classification", "QuestionAndAnswer", "Generation", "Custom")
AUTOMATIC_METRICS = ("Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity")
JUDGE_METRICS = ("Builtin.Correctness", "Builtin.Completeness", "Builtin.Helpfulness")
#: Metrics where a lower value is better; they cannot be the primary metric of a promote/reject decision.
#: Robustness measures how much the output changes when the prompt is perturbed: low means the model performs
#: well (user guide page model-evaluation-report-programmatic).
LOWER_IS_BETTER = frozenset(
    {"Builtin.Toxicity", "Builtin.Robustness", "Builtin.Harmfulness", "Builtin.Stereotyping"}
)
_MAX_NAME = 63
#: The per-prompt result files of a job, under its output folder.
OUTPUT_SUFFIX = "_output.jsonl"


def check_task_type(task_type: str) -> str:
    """``task_type`` when Bedrock knows it; else an :class:`EvaluationError` listing the task types."""
    if task_type not in TASK_TYPES:
        raise EvaluationError(f"task_type {task_type!r} is not one of {', '.join(TASK_TYPES)}")
    return task_type


def dataset_jsonl(samples: Sequence[Sample], category: str | None = None) -> str:
    """The evaluation job's prompt dataset: ``{"prompt", "referenceResponse"[, "category"]}`` per line.

    Conversation history and system text are not part of this format; only the last user turn is sent.
    """
    lines = []
    for sample in samples:
        record: dict[str, str] = {"prompt": sample.prompt, "referenceResponse": sample.reference}
        if category:
            record["category"] = category
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def dataset_uri(folder_uri: str, dataset: str) -> str:
    """Where the dataset text ``dataset`` goes under ``folder_uri``: ``datasets/<digest of the text>.jsonl``, so
    jobs over the same samples share one object and a rewrite never changes what a running job reads."""
    return artifacts.join(folder_uri, f"datasets/{digest(dataset, length=16)}.jsonl")


def evaluation_job_name(base: str, role: str) -> str:
    """A valid job name (lowercase ``[a-z0-9-]``, at most 63 characters) from ``base`` and the role."""
    cleaned = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in base.lower())
    cleaned = "-".join(part for part in cleaned.split("-") if part)
    suffix = f"-{role}"
    return (cleaned[: _MAX_NAME - len(suffix)].rstrip("-") or "evaluation") + suffix


def evaluation_job_request(
    *,
    job_name: str,
    role_arn: str,
    model_id: str,
    dataset_uri: str,
    output_uri: str,
    dataset_name: str = "validation",
    task_type: str = "QuestionAndAnswer",
    metric_names: Sequence[str] | None = None,
    judge_model_id: str | None = None,
    inference_config: Mapping[str, Any] | None = None,
    kms_key_id: str | None = None,
    tags: Sequence[Mapping[str, str]] | None = None,
    client_request_token: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``bedrock.create_evaluation_job`` evaluating ``model_id`` on one custom dataset."""
    check_task_type(task_type)
    metrics = list(metric_names or (JUDGE_METRICS if judge_model_id else AUTOMATIC_METRICS))
    automated: dict[str, Any] = {
        "datasetMetricConfigs": [
            {
                "taskType": task_type,
                "dataset": {"name": dataset_name, "datasetLocation": {"s3Uri": dataset_uri}},
                "metricNames": metrics,
            }
        ]
    }
    if judge_model_id:
        automated["evaluatorModelConfig"] = {"bedrockEvaluatorModels": [{"modelIdentifier": judge_model_id}]}
    model: dict[str, Any] = {"modelIdentifier": model_id}
    if inference_config:
        model["inferenceParams"] = json.dumps({"inferenceConfig": dict(inference_config)})
    request: dict[str, Any] = {
        "jobName": job_name,
        "roleArn": role_arn,
        "applicationType": "ModelEvaluation",
        "evaluationConfig": {"automated": automated},
        "inferenceConfig": {"models": [{"bedrockModel": model}]},
        "outputDataConfig": {"s3Uri": output_uri},
    }
    if description:
        request["jobDescription"] = description[:200]
    if kms_key_id:
        request["customerEncryptionKeyId"] = kms_key_id
    if tags:
        request["jobTags"] = [dict(tag) for tag in tags]
    if client_request_token:
        request["clientRequestToken"] = client_request_token
    return request


def _records(output_texts: Iterable[str]) -> Iterator[tuple[tuple[str, str] | None, dict[str, float]]]:
    """Each record of a job's ``*_output.jsonl`` texts: its (prompt, reference response), None without an
    ``inputRecord``, and its numeric scores by ``metricName`` (missing or null scores left out)."""
    for text in output_texts:
        for line in text.splitlines():
            if not line.strip():
                continue
            record = json.loads(line)
            scores = {}
            for score in (record.get("automatedEvaluationResult") or {}).get("scores") or []:
                name, result = score.get("metricName"), score.get("result")
                if isinstance(name, str) and isinstance(result, int | float) and not isinstance(result, bool):
                    scores[name] = float(result)
            given = record.get("inputRecord")
            key = (str(given.get("prompt")), str(given.get("referenceResponse"))) if given else None
            yield key, scores


def _scores(output_texts: Iterable[str]) -> dict[str, list[float]]:
    """Every record's ``result`` per ``metricName``."""
    values: dict[str, list[float]] = {}
    for _, scores in _records(output_texts):
        for name, result in scores.items():
            values.setdefault(name, []).append(result)
    return values


def mean_results(output_texts: Iterable[str]) -> dict[str, float]:
    """Mean ``result`` per ``metricName`` over the records of a job's ``*_output.jsonl`` files.

    Records whose score is missing or null (the judge could not score them) are left out of that metric's mean.
    """
    values = _scores(output_texts)
    if not values:
        raise EvaluationError("The evaluation job's output has no scores")
    return {name: round(fmean(scores), 4) for name, scores in values.items()}


def paired_results(
    baseline_texts: Iterable[str], candidate_texts: Iterable[str], metric: str
) -> tuple[list[float], list[float]]:
    """The ``metric`` scores of both jobs' records that answered the same ``inputRecord``, in pairs (a prompt
    that appears twice pairs in order); records without ``inputRecord`` or without the score do not pair."""
    waiting: dict[tuple[str, str], list[float]] = {}
    for key, scores in _records(baseline_texts):
        if key is not None and metric in scores:
            waiting.setdefault(key, []).append(scores[metric])
    baseline, candidate = [], []
    for key, scores in _records(candidate_texts):
        if key is not None and metric in scores and waiting.get(key):
            baseline.append(waiting[key].pop(0))
            candidate.append(scores[metric])
    return baseline, candidate


def job_facts(job: Mapping[str, Any]) -> dict[str, Any]:
    """What a comparison needs from a GetEvaluationJob response: ``job_arn``, ``job_name``, ``status``,
    ``model_id``, ``judge_model_id`` (None without a judge), ``dataset_uri`` and ``output_folder`` (where the
    job's ``*_output.jsonl`` files are)."""
    automated = job.get("evaluationConfig", {}).get("automated", {})
    datasets = automated.get("datasetMetricConfigs") or [{}]
    judges = automated.get("evaluatorModelConfig", {}).get("bedrockEvaluatorModels") or [{}]
    models = job.get("inferenceConfig", {}).get("models") or [{}]
    return {
        "job_arn": job["jobArn"],
        "job_name": job["jobName"],
        "status": job.get("status"),
        "model_id": models[0].get("bedrockModel", {}).get("modelIdentifier"),
        "judge_model_id": judges[0].get("modelIdentifier"),
        "dataset_uri": datasets[0].get("dataset", {}).get("datasetLocation", {}).get("s3Uri"),
        "output_folder": artifacts.join(job["outputDataConfig"]["s3Uri"], job["jobName"]) + "/",
    }


def summarize_jobs(
    facts: Mapping[str, Mapping[str, Any]],
    outputs: Mapping[str, Sequence[str]],
    labels: Mapping[str, str],
    primary_metric: str | None,
    margin: float,
    *,
    confidence: float = significance.DEFAULT_CONFIDENCE,
    resamples: int = significance.DEFAULT_RESAMPLES,
    seed: int = 0,
    **extra: Any,
) -> dict[str, Any]:
    """The summary of a baseline job and a candidate job, in the shape of the Converse evaluation's.

    ``facts[role]`` is :func:`job_facts` of the role's job, ``outputs[role]`` the texts of its
    ``*_output.jsonl`` files, ``labels[role]`` its name in the report. ``primary_metric`` defaults to
    ``Builtin.Correctness`` for judged jobs, else ``Builtin.Accuracy``; a lower-is-better metric cannot decide.
    The decision is :func:`~.significance.paired_decision` on the records :func:`paired_results` pairs
    (``inconclusive`` when none pair: see the module docstring). ``extra`` keys are added as they are.
    """
    judge = facts["candidate"].get("judge_model_id")
    primary = primary_metric or ("Builtin.Correctness" if judge else "Builtin.Accuracy")
    if primary in LOWER_IS_BETTER:
        raise EvaluationError(f"primary_metric {primary} is lower-is-better; choose e.g. Builtin.Accuracy")
    summary: dict[str, Any] = {
        role: {"model_id": facts[role]["model_id"], "label": labels[role], **mean_results(outputs[role])}
        for role in ROLES
    }
    names = sorted(set(summary["baseline"]) & set(summary["candidate"]) - {"model_id", "label"})
    if primary not in names:
        raise EvaluationError(f"primary_metric {primary} is not in the evaluation jobs' results {names}")
    records = sum(1 for text in outputs["candidate"] for line in text.splitlines() if line.strip())
    baseline, candidate = paired_results(outputs["baseline"], outputs["candidate"], primary)
    if baseline:
        test = significance.paired_decision(
            baseline,
            candidate,
            metric=primary,
            margin=margin,
            confidence=confidence,
            resamples=resamples,
            seed=seed,
        )
    else:
        test = significance.undecided(
            primary,
            margin,
            f"no {primary} score of the candidate's job pairs with one of the baseline's by inputRecord "
            "(prompt and reference response): the means alone cannot show that a difference is real",
            confidence=confidence,
            resamples=resamples,
            seed=seed,
        )
    if test["n"] < records:
        test["unpaired"] = records - test["n"]
    scores = {role: _scores(outputs[role]) for role in ROLES}
    summary.update(
        metrics={name: {"label": name.removeprefix("Builtin."), "scale": 1.0} for name in names},
        primary_metric=primary,
        margin=margin,
        samples=records,
        seed=seed,
        decision=test["decision"],
        significance=test,
        intervals=significance.model_intervals(
            {role: {name: scores[role][name] for name in names} for role in ROLES},
            confidence,
            resamples,
            seed,
        ),
        mode="bedrock_evaluation_job",
        evaluation_jobs={role: facts[role]["job_arn"] for role in ROLES},
        judge_model_id=judge,
        judge_metrics=list(JUDGE_METRICS) if judge else [],
        dataset_uri=facts["candidate"].get("dataset_uri"),
        **extra,
    )
    return summary
