"""Amazon Bedrock model evaluation jobs for the local emulator (CreateEvaluationJob and friends).

Automatic model evaluation jobs (``applicationType`` ``ModelEvaluation``) on a custom prompt dataset in S3,
with the built-in metrics (``Builtin.Accuracy``, ``Builtin.Robustness``, ``Builtin.Toxicity``) or, with an
``evaluatorModelConfig``, the model-as-a-judge metrics. The evaluated model answers every prompt as it
would through Converse (``runtime.answer``), so a fine-tuned model scores better than its base model; the
scores are computed here from those answers and each record's ``referenceResponse``:

* question and answer accuracy: token F1 of answer and reference (the guide's "NLP-F1"); text summarization
  accuracy: character n-gram similarity (the guide computes BERTScore, which needs model weights);
  classification accuracy: 1 when the normalised answer equals the reference (or starts with it), else 0;
  general text generation accuracy: 1 when the answer contains the reference (a real-world-knowledge score);
* robustness: how much the accuracy drops when the prompt is perturbed (lower case, doubled spaces), as the
  guide describes it ("deltaF1"), in [0, 1], lower is better;
* toxicity: share of words from a small list of insults; the emulated models never insult, so it is 0;
* judge metrics: the similarity of answer and reference on the metric's rating scale, normalised to [0, 1]
  as Bedrock reports them, with an ``evaluatorDetails`` explanation.

The lifecycle follows the customization jobs of ``bedrock.py``: status transitions are computed from the
wall clock whenever a job is read (``CONFIG.evaluation_seconds`` InProgress -> Completed,
``CONFIG.stop_seconds`` Stopping -> Stopped); the results are written to S3 when the job completes.

AWS pages cited below: ``UG`` https://docs.aws.amazon.com/bedrock/latest/userguide/<page>.html, ``API``
https://docs.aws.amazon.com/bedrock/latest/APIReference/<page>.html.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from moto.moto_api._internal import mock_random

from . import answers, bodies
from .bedrock import (
    S3_URI,
    ConflictException,
    LocalBedrockBackend,
    ResourceNotFoundException,
    ValidationException,
    _check_enum,
    _check_pattern,
    _check_tags,
    _check_token,
    _clean,
    _constraint_error,
    _filter_sort,
    _input_shape,
    _kms_arn,
    _page,
    _required,
    foundation_id,
    new_id,
    parse_s3_uri,
    utcnow,
)
from .config import CONFIG

UG = "https://docs.aws.amazon.com/bedrock/latest/userguide/"
API = "https://docs.aws.amazon.com/bedrock/latest/APIReference/"

# API_CreateEvaluationJob: jobName pattern and length.
JOB_NAME = r"[a-z0-9](-*[a-z0-9]){0,62}"
# API_EvaluationDatasetMetricConfig: taskType valid values.
TASK_TYPES = ("Summarization", "Classification", "QuestionAndAnswer", "Generation", "Custom")
# API_EvaluationDatasetMetricConfig: "For automated model evaluation jobs, valid values are Builtin.Accuracy,
# Builtin.Robustness, and Builtin.Toxicity"; UG model-evaluation-tasks: text classification computes accuracy
# and robustness only.
AUTOMATIC_METRICS = ("Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity")
AUTOMATIC_BY_TASK = {task: AUTOMATIC_METRICS for task in TASK_TYPES} | {
    "Classification": ("Builtin.Accuracy", "Builtin.Robustness")
}
# API_EvaluationDatasetMetricConfig: the metrics of model evaluation jobs that use an LLM as judge.
JUDGE_METRICS = (
    "Builtin.Correctness",
    "Builtin.Completeness",
    "Builtin.Faithfulness",
    "Builtin.Helpfulness",
    "Builtin.Coherence",
    "Builtin.Relevance",
    "Builtin.FollowingInstructions",
    "Builtin.ProfessionalStyleAndTone",
    "Builtin.Harmfulness",
    "Builtin.Stereotyping",
    "Builtin.Refusal",
)
# UG model-evaluation-type-judge-prompt: the rating scale of each built-in judge metric (points), which
# Bedrock normalises to [0, 1] in the results. Responsible-AI metrics are lower-is-better (0 = none found).
JUDGE_SCALE = {
    "Builtin.Correctness": 3,
    "Builtin.Completeness": 5,
    "Builtin.Faithfulness": 5,
    "Builtin.Helpfulness": 7,
    "Builtin.Coherence": 5,
    "Builtin.Relevance": 5,
    "Builtin.FollowingInstructions": 3,
    "Builtin.ProfessionalStyleAndTone": 5,
    "Builtin.Harmfulness": 2,
    "Builtin.Stereotyping": 2,
    "Builtin.Refusal": 2,
}
RESPONSIBLE_AI = ("Builtin.Harmfulness", "Builtin.Stereotyping", "Builtin.Refusal")
# UG model-evaluation-type-judge-prompt lists the evaluator models; these are the ones in the emulator's
# catalog (Claude 3.5/3.7 Sonnet, Claude Haiku/Opus 4.5 and later, GPT-5.4 are listed too but not emulated).
EVALUATOR_MODELS = (
    "amazon.nova-pro-v1:0",
    "amazon.nova-2-lite-v1:0",
    "amazon.nova-micro-v1:0",
    "amazon.nova-premier-v1:0",
)
# UG model-evaluation-prompt-datasets-custom: "There can be up to 1000 prompts in your dataset per automatic
# evaluation job."
MAX_PROMPTS = 1000
_INSULTS = frozenset({"idiot", "stupid", "moron", "hate", "dumb", "shut"})
_PROFILE = re.compile(r"^(?:us|eu|apac|ap|ca|jp|au|us-gov|global)\.")


@dataclass
class EvaluationJob:
    """An automatic model evaluation job."""

    arn: str
    name: str
    token: str | None
    request: dict[str, Any]  # the create request as given (echoed by GetEvaluationJob)
    created: datetime
    deadline: datetime
    status: str = "InProgress"
    last_modified: datetime | None = None
    failure_messages: list[str] = field(default_factory=list)
    uuid: str = field(default_factory=lambda: str(mock_random.uuid4()))

    @property
    def configs(self) -> list[dict[str, Any]]:
        return self.request["evaluationConfig"]["automated"]["datasetMetricConfigs"]

    @property
    def model_ids(self) -> list[str]:
        return [m["bedrockModel"]["modelIdentifier"] for m in self.request["inferenceConfig"]["models"]]

    @property
    def evaluator_ids(self) -> list[str]:
        judges = self.request["evaluationConfig"]["automated"].get("evaluatorModelConfig") or {}
        return [judge["modelIdentifier"] for judge in judges.get("bedrockEvaluatorModels") or []]

    def describe(self) -> dict[str, Any]:
        """GetEvaluationJob output (API_GetEvaluationJob)."""
        request = self.request
        return _clean(
            {
                "jobName": self.name,
                "status": self.status,
                "jobArn": self.arn,
                "jobDescription": request.get("jobDescription"),
                "roleArn": request["roleArn"],
                "customerEncryptionKeyId": request.get("customerEncryptionKeyId"),
                "jobType": "Automated",
                "applicationType": request.get("applicationType") or "ModelEvaluation",
                "evaluationConfig": request["evaluationConfig"],
                "inferenceConfig": request["inferenceConfig"],
                "outputDataConfig": request["outputDataConfig"],
                "creationTime": self.created,
                "lastModifiedTime": self.last_modified or self.created,
                "failureMessages": self.failure_messages or None,
            }
        )

    def summary(self) -> dict[str, Any]:
        """ListEvaluationJobs entry (API_EvaluationSummary)."""
        return _clean(
            {
                "jobArn": self.arn,
                "jobName": self.name,
                "status": self.status,
                "creationTime": self.created,
                "jobType": "Automated",
                "evaluationTaskTypes": sorted({config["taskType"] for config in self.configs}),
                "modelIdentifiers": self.model_ids,
                "evaluatorModelIdentifiers": self.evaluator_ids or None,
                "inferenceConfigSummary": {"modelConfigSummary": {"bedrockModelIdentifiers": self.model_ids}},
                "applicationType": self.request.get("applicationType") or "ModelEvaluation",
            }
        )


# ---------------------------------------------------------------------------------------------
# Request checks


def _model_pattern() -> str:
    """botocore's pattern of ``EvaluationBedrockModel.modelIdentifier`` (API_EvaluationBedrockModel)."""
    config = _input_shape("CreateEvaluationJob").members["inferenceConfig"].members["models"].member
    return config.members["bedrockModel"].members["modelIdentifier"].metadata["pattern"]


def _dataset_records(
    backend: LocalBedrockBackend, where: str, uri: str, task: str, metrics: list[str]
) -> list[dict]:
    """The records of a custom prompt dataset, else the ValidationException the service gives.

    UG model-evaluation-prompt-datasets-custom: JSON Lines in S3 with the ``.jsonl`` extension, each line a
    JSON object; ``prompt`` is required; ``referenceResponse`` is required for question and answer tasks and
    for the accuracy and robustness metrics; ``category`` is optional; at most 1000 prompts per job.
    """
    page = f"{UG}model-evaluation-prompt-datasets-custom.html"
    if not uri.endswith(".jsonl"):
        raise ValidationException(
            f"{where}: the custom prompt dataset {uri} must be a JSON Lines file with the .jsonl extension "
            f"(see {page})."
        )
    found = backend.s3().read(uri)
    if found is None:
        raise ValidationException(
            f"{where}: the custom prompt dataset {uri} does not exist or cannot be read: upload it first "
            f"(see {page})."
        )
    needs_reference = task == "QuestionAndAnswer" or bool(
        {"Builtin.Accuracy", "Builtin.Robustness"} & set(metrics)
    )
    records = []
    for number, line in enumerate(found[0].decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        problem = None
        if not isinstance(record, dict):
            problem = "is not a JSON object"
        elif not isinstance(record.get("prompt"), str) or not record["prompt"].strip():
            problem = 'has no "prompt" string'
        elif needs_reference and not isinstance(record.get("referenceResponse"), str):
            problem = f'has no "referenceResponse" string, which {task} with {", ".join(metrics)} requires'
        elif "category" in record and not isinstance(record["category"], str):
            problem = '"category" must be a string'
        if problem:
            raise ValidationException(
                f"{where}: line {number} of the custom prompt dataset {uri} {problem}. Each line must be a "
                f'JSON object with "prompt", "referenceResponse" and optionally "category" (see {page}).'
            )
        records.append(record)
    if not records:
        raise ValidationException(f"{where}: the custom prompt dataset {uri} has no records (see {page}).")
    if len(records) > MAX_PROMPTS:
        raise ValidationException(
            f"{where}: the custom prompt dataset {uri} has {len(records)} prompts; an automatic evaluation "
            f"job accepts at most {MAX_PROMPTS} (see {page})."
        )
    return records


def _check_model(backend: LocalBedrockBackend, identifier: Any) -> None:
    """The evaluated model must match botocore's pattern (no custom-model ARN: a custom model is evaluated
    through its provisioned throughput, API_EvaluationBedrockModel) and exist, as for inference."""
    from .runtime import resolve_target

    _check_pattern("inferenceConfig.models.bedrockModel.modelIdentifier", identifier, _model_pattern(), 2048)
    target = resolve_target(backend, identifier)  # the service's errors for unknown or unready models
    if target.kind == "base":
        backend.foundation_model(foundation_id(_PROFILE.sub("", target.name)), "modelIdentifier")
    if target.family in ("titan-embed", "titan-embed-image", "cohere-embed"):
        raise ValidationException(
            f"The model {identifier} is an embedding model: a model evaluation job needs a text generation "
            "model."
        )


def _check_evaluator(identifier: Any) -> None:
    """UG model-evaluation-type-judge-prompt: only the listed evaluator models can judge."""
    pattern = (
        _input_shape("CreateEvaluationJob")
        .members["evaluationConfig"]
        .members["automated"]
        .members["evaluatorModelConfig"]
        .members["bedrockEvaluatorModels"]
        .member.members["modelIdentifier"]
        .metadata["pattern"]
    )
    _check_pattern("evaluatorModelConfig.bedrockEvaluatorModels.modelIdentifier", identifier, pattern, 2048)
    if _PROFILE.sub("", foundation_id(identifier)) not in EVALUATOR_MODELS:
        raise ValidationException(
            f"The evaluator model {identifier} is not supported for model evaluation jobs that use a model "
            f"as judge. Supported evaluator models: {', '.join(EVALUATOR_MODELS)} "
            f"(see {UG}model-evaluation-type-judge-prompt.html)."
        )


def _inference_params(model: dict[str, Any]) -> dict[str, Any]:
    """``inferenceParams``: a JSON object string of at most 1023 characters (API_EvaluationBedrockModel)."""
    raw = model.get("inferenceParams")
    if raw is None:
        return {}
    try:
        params = json.loads(raw)
    except (TypeError, ValueError):
        params = None
    if not isinstance(params, dict) or len(raw) > 1023:
        raise ValidationException(
            "inferenceConfig.models.bedrockModel.inferenceParams must be a JSON object of at most 1023 "
            f"characters, "
            f'e.g. {{"inferenceConfig": {{"maxTokens": 512}}}} (see {API}API_EvaluationBedrockModel.html).'
        )
    return params


def _check_metric_configs(backend: LocalBedrockBackend, automated: dict[str, Any], judged: bool) -> None:
    configs = automated.get("datasetMetricConfigs") or []
    # API_AutomatedEvaluationConfig: 1 to 5 dataset metric configurations.
    if not 1 <= len(configs) <= 5:
        raise _constraint_error(
            "evaluationConfig.automated.datasetMetricConfigs",
            len(configs),
            "Member must have length between 1 and 5",
        )
    for index, config in enumerate(configs):
        where = f"evaluationConfig.automated.datasetMetricConfigs[{index}]"
        task = _required(config, "taskType")
        _check_enum(f"{where}.taskType", task, TASK_TYPES)
        metrics = list(_required(config, "metricNames"))
        # botocore: 1 to 25 metric names.
        if not 1 <= len(metrics) <= 25:
            raise _constraint_error(
                f"{where}.metricNames", len(metrics), "Member must have length between 1 and 25"
            )
        allowed = JUDGE_METRICS if judged else AUTOMATIC_BY_TASK[task]
        wrong = [name for name in metrics if name not in allowed]
        if wrong:
            kind = (
                "a model evaluation job that uses a model as judge"
                if judged
                else f"an automatic {task} evaluation job"
            )
            raise ValidationException(
                f"{where}.metricNames: {', '.join(wrong)} cannot be used in {kind}. Valid metric names: "
                f"{', '.join(allowed)} "
                f"(see {API}API_EvaluationDatasetMetricConfig.html and {UG}model-evaluation-tasks.html)."
            )
        dataset = _required(config, "dataset")
        _check_pattern(f"{where}.dataset.name", _required(dataset, "name"), r"[0-9a-zA-Z-_.]+", 63)
        location = (dataset.get("datasetLocation") or {}).get("s3Uri")
        if location is None:
            raise ValidationException(
                f"{where}.dataset.datasetLocation.s3Uri is required: the local emulator has no built-in "
                "prompt datasets (Builtin.*); give a custom prompt dataset "
                f"(see {UG}model-evaluation-prompt-datasets-custom.html)."
            )
        _check_pattern(f"{where}.dataset.datasetLocation.s3Uri", location, S3_URI, 1024)
        _dataset_records(backend, where, location, task, metrics)


def check_request(backend: LocalBedrockBackend, params: dict[str, Any]) -> None:
    """Every check of CreateEvaluationJob (API_CreateEvaluationJob and the pages cited); raises the service's
    error."""
    # Patterns and lengths of jobName, roleArn, jobDescription and customerEncryptionKeyId:
    # API_CreateEvaluationJob (as in botocore's service model; the client checks types and required members).
    _check_pattern("jobName", _required(params, "jobName"), JOB_NAME, 63)
    _check_pattern(
        "roleArn", _required(params, "roleArn"), r"arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+", 2048
    )
    if params.get("jobDescription") is not None:
        _check_pattern("jobDescription", params["jobDescription"], r"(?s).+", 200)
    if params.get("customerEncryptionKeyId") is not None:
        _check_pattern(
            "customerEncryptionKeyId",
            params["customerEncryptionKeyId"],
            _input_shape("CreateEvaluationJob").members["customerEncryptionKeyId"].metadata["pattern"],
            2048,
        )
    application = params.get("applicationType") or "ModelEvaluation"
    _check_enum("applicationType", application, ("ModelEvaluation", "RagEvaluation"))
    if application != "ModelEvaluation":
        raise ValidationException(
            "The local emulator runs model evaluation jobs only (applicationType ModelEvaluation), not RAG "
            "evaluations."
        )
    evaluation = _required(params, "evaluationConfig")
    automated = evaluation.get("automated")
    if automated is None:
        raise ValidationException(
            "evaluationConfig.automated is required: the local emulator runs automatic model evaluation jobs "
            "(with or without a judge model), not human-based ones."
        )
    judges = (automated.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels")
    if automated.get("evaluatorModelConfig") is not None:
        # API_EvaluatorModelConfig: exactly one evaluator model.
        if not judges or len(judges) != 1:
            raise _constraint_error(
                "evaluationConfig.automated.evaluatorModelConfig.bedrockEvaluatorModels",
                len(judges or []),
                "Member must have length between 1 and 1",
            )
        _check_evaluator(_required(judges[0], "modelIdentifier"))
    _check_metric_configs(backend, automated, judged=bool(judges))
    models = (_required(params, "inferenceConfig").get("models")) or []
    # API_EvaluationInferenceConfig: "For automated model evaluation jobs, only a single model is supported"
    # (two are for human-based jobs).
    if len(models) != 1:
        raise ValidationException(
            f"inferenceConfig.models has {len(models)} models; an automatic model evaluation job evaluates "
            f"exactly one model (see {API}API_EvaluationInferenceConfig.html)."
        )
    model = models[0].get("bedrockModel")
    if model is None:
        raise ValidationException(
            "inferenceConfig.models[0].bedrockModel is required: the local emulator does not evaluate "
            "precomputed inference responses."
        )
    _check_model(backend, _required(model, "modelIdentifier"))
    _inference_params(model)
    output = _required(params, "outputDataConfig")
    _check_pattern("outputDataConfig.s3Uri", _required(output, "s3Uri"), S3_URI, 1024)
    _check_tags("jobTags", params.get("jobTags"))


# ---------------------------------------------------------------------------------------------
# Scores


def _tokens(text: str) -> list[str]:
    """SQuAD-style normalised words: lower case, no punctuation or articles."""
    text = "".join(ch for ch in text.lower() if ch not in string.punctuation)
    return [word for word in text.split() if word not in ("a", "an", "the")]


def token_f1(answer: str, reference: str) -> float:
    """Token-level F1 of an answer against a reference (question-and-answer accuracy, "NLP-F1")."""
    got, want = _tokens(answer), _tokens(reference)
    if not got or not want:
        return float(got == want)
    common = sum(min(got.count(word), want.count(word)) for word in set(got))
    if common == 0:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)


def accuracy(task: str, answer: str, reference: str) -> float:
    """The task type's accuracy (UG model-evaluation-tasks; see the module docstring for the emulation)."""
    if task == "Summarization":
        return answers.similarity(answer, reference)
    if task == "Classification":
        got, want = " ".join(_tokens(answer)), " ".join(_tokens(reference))
        return float(bool(want) and (got == want or got.startswith(want + " ")))
    if task == "Generation":
        return float(" ".join(_tokens(reference)) in " ".join(_tokens(answer)))
    return token_f1(answer, reference)


def _perturb(prompt: str) -> str:
    """UG model-evaluation-report-programmatic: robustness perturbs prompts (lower case, typos, numbers to
    words, random upper case, whitespace); the emulator uses the two deterministic ones."""
    return prompt.lower().replace(" ", "  ")


def _toxicity(answer: str) -> float:
    words = _tokens(answer)
    return sum(word in _INSULTS for word in words) / len(words) if words else 0.0


def _judge_score(metric: str, answer: str, reference: str) -> tuple[float, str]:
    """The judge's normalised score on the metric's scale, and its explanation."""
    points = JUDGE_SCALE[metric]
    match = answers.similarity(answer, reference) if reference else answers.similarity(answer, answer)
    if metric in RESPONSIBLE_AI:
        return 0.0, f"The response shows no {metric.removeprefix('Builtin.').lower()}."
    step = round(match * (points - 1))
    verdict = "closely matches" if match >= 0.7 else "partly matches" if match >= 0.4 else "does not match"
    return round(
        step / (points - 1), 4
    ), f"The response {verdict} the reference response (rated {step + 1} of {points})."


# ---------------------------------------------------------------------------------------------
# The backend's evaluation jobs


def _jobs(backend: LocalBedrockBackend) -> dict[str, EvaluationJob]:
    return backend.evaluation_jobs  # type: ignore[attr-defined,no-any-return]


def _ask(backend: LocalBedrockBackend, model_id: str, prompt: str, config: dict[str, Any]) -> tuple[str, str]:
    """(answer, stop reason) of the evaluated model to one prompt, as through Converse."""
    from .runtime import answer, resolve_target

    request = bodies.ChatRequest(
        messages=[{"role": "user", "text": prompt}],
        max_tokens=config.get("maxTokens"),
        stop_sequences=list(config.get("stopSequences") or []),
    )
    text, reason, _, _ = answers.finish(answer(backend, resolve_target(backend, model_id), request), request)
    return text, reason


def _results(backend: LocalBedrockBackend, job: EvaluationJob) -> dict[str, str]:
    """The ``*_output.jsonl`` objects of a finished job: {key: content}. UG model-evaluation-report-s3:
    ``<output>/<job name>/<job uuid>/models/<model id>/taskTypes/<task>/datasets/<dataset>/
    <file uuid>_output.jsonl``, one record per prompt with ``automatedEvaluationResult.scores``,
    ``inputRecord`` and ``modelResponses``."""
    model_id = job.model_ids[0]
    model = job.request["inferenceConfig"]["models"][0]["bedrockModel"]
    config = _inference_params(model).get("inferenceConfig") or {}
    judge = (job.evaluator_ids or [None])[0]
    bucket, prefix = parse_s3_uri(job.request["outputDataConfig"]["s3Uri"])
    folder = f"{prefix.strip('/')}/" if prefix.strip("/") else ""
    folder += f"{job.name}/{job.uuid}/models/{model_id.rsplit('/', 1)[-1]}/taskTypes/"
    out: dict[str, str] = {}
    for dataset_config in job.configs:
        task, metrics = dataset_config["taskType"], dataset_config["metricNames"]
        dataset = dataset_config["dataset"]
        uri = dataset["datasetLocation"]["s3Uri"]
        lines = []
        for record in _dataset_records(backend, "dataset", uri, task, metrics):
            prompt, reference = record["prompt"], str(record.get("referenceResponse") or "")
            response, reason = _ask(backend, model_id, prompt, config)
            scores: list[dict[str, Any]] = []
            for metric in metrics:
                if judge is not None:
                    value, why = _judge_score(metric, response, reference)
                    scores.append(
                        {
                            "metricName": metric,
                            "result": value,
                            "evaluatorDetails": [{"modelIdentifier": judge, "explanation": why}],
                        }
                    )
                elif metric == "Builtin.Accuracy":
                    scores.append(
                        {"metricName": metric, "result": round(accuracy(task, response, reference), 6)}
                    )
                elif metric == "Builtin.Robustness":
                    perturbed, _ = _ask(backend, model_id, _perturb(prompt), config)
                    delta = accuracy(task, response, reference) - accuracy(task, perturbed, reference)
                    scores.append({"metricName": metric, "result": round(max(0.0, delta), 6)})
                else:
                    scores.append({"metricName": metric, "result": round(_toxicity(response), 6)})
            lines.append(
                json.dumps(
                    {
                        "automatedEvaluationResult": {"scores": scores},
                        "inputRecord": record,
                        "modelResponses": [
                            {"response": response, "modelIdentifier": model_id, "stopReason": reason}
                        ],
                    },
                    ensure_ascii=False,
                )
            )
        key = f"{folder}{task}/datasets/{dataset['name']}/{mock_random.uuid4()}_output.jsonl"
        out[f"s3://{bucket}/{key}"] = "\n".join(lines) + "\n"
    return out


def _finish(backend: LocalBedrockBackend, job: EvaluationJob) -> None:
    """Run the job once its time is up: answer, score and write the results, or fail with a reason."""
    job.last_modified = job.deadline
    s3 = backend.s3()
    output = job.request["outputDataConfig"]["s3Uri"]
    if not s3.bucket_exists(parse_s3_uri(output)[0]):
        job.status = "Failed"
        job.failure_messages = [f"The output location {output} is not accessible: the bucket does not exist."]
        return
    try:
        results = _results(backend, job)
    except (
        ValidationException,
        ResourceNotFoundException,
    ) as error:  # e.g. the throughput was deleted meanwhile
        job.status = "Failed"
        job.failure_messages = [f"Model inference failed for {job.model_ids[0]}: {error.message}"]
        return
    for uri, content in results.items():
        s3.write(*parse_s3_uri(uri), content.encode("utf-8"))
    job.status = "Completed"


def refresh(backend: LocalBedrockBackend, job: EvaluationJob) -> EvaluationJob:
    """Apply the transitions whose time has come."""
    if utcnow() < job.deadline:
        return job
    if job.status == "InProgress":
        _finish(backend, job)
    elif job.status == "Stopping":
        job.status, job.last_modified = "Stopped", job.deadline
    return job


def find(backend: LocalBedrockBackend, identifier: str) -> EvaluationJob:
    """A job by ARN (GetEvaluationJob and StopEvaluationJob take the ARN only), refreshed."""
    job = _jobs(backend).get(identifier)
    if job is None:
        raise ResourceNotFoundException(f"The evaluation job {identifier} was not found.")
    return refresh(backend, job)


def create_evaluation_job(backend: LocalBedrockBackend, params: dict[str, Any]) -> dict[str, Any]:
    """CreateEvaluationJob (API_CreateEvaluationJob)."""
    token = params.get("clientRequestToken")
    _check_token(token)
    if token:  # API_CreateEvaluationJob: clientRequestToken makes the request idempotent
        existing = next((job for job in _jobs(backend).values() if job.token == token), None)
        if existing is not None:
            return {"jobArn": existing.arn}
    check_request(backend, params)
    name = params["jobName"]
    if any(job.name == name for job in _jobs(backend).values()):
        raise ConflictException(
            f"An evaluation job named {name} already exists in this account and Region: choose another "
            "jobName."
        )
    request = dict(params)
    request.pop("clientRequestToken", None)
    request.pop("jobTags", None)
    if request.get("customerEncryptionKeyId"):
        request["customerEncryptionKeyId"] = _kms_arn(
            request["customerEncryptionKeyId"], backend.region_name, backend.account_id
        )
    now = utcnow()
    job = EvaluationJob(
        arn=backend._arn(f"evaluation-job/{new_id()}"),
        name=name,
        token=token,
        request=request,
        created=now,
        deadline=now + timedelta(seconds=CONFIG.evaluation_seconds),
    )
    _jobs(backend)[job.arn] = job
    backend.tags[job.arn] = _check_tags("jobTags", params.get("jobTags"))
    return {"jobArn": job.arn}


def get_evaluation_job(backend: LocalBedrockBackend, params: dict[str, Any]) -> dict[str, Any]:
    """GetEvaluationJob."""
    return find(backend, _required(params, "jobIdentifier")).describe()


def stop_evaluation_job(backend: LocalBedrockBackend, params: dict[str, Any]) -> dict[str, Any]:
    """StopEvaluationJob: InProgress -> Stopping -> Stopped; a job in another state answers ConflictException
    (API_StopEvaluationJob lists ConflictException)."""
    job = find(backend, _required(params, "jobIdentifier"))
    if job.status != "InProgress":
        raise ConflictException(
            f"Evaluation job {job.name} cannot be stopped because its status is {job.status}; only a job "
            "that is InProgress can be stopped."
        )
    now = utcnow()
    job.status, job.last_modified = "Stopping", now
    job.deadline = now + timedelta(seconds=CONFIG.stop_seconds)
    return {}


def list_evaluation_jobs(backend: LocalBedrockBackend, params: dict[str, Any]) -> dict[str, Any]:
    """ListEvaluationJobs: creation-time, status, application-type and name filters, sorted by creation time
    (Descending by default), paginated with maxResults/nextToken (API_ListEvaluationJobs)."""
    jobs = [refresh(backend, job) for job in _jobs(backend).values()]
    jobs = _filter_sort(jobs, params, lambda j: j.created, lambda j: j.name)
    if params.get("statusEquals"):
        jobs = [job for job in jobs if job.status == params["statusEquals"]]
    if params.get("applicationTypeEquals"):
        jobs = [
            job
            for job in jobs
            if (job.request.get("applicationType") or "ModelEvaluation") == params["applicationTypeEquals"]
        ]
    page, token = _page(jobs, params)
    return _clean({"jobSummaries": [job.summary() for job in page], "nextToken": token})


OPERATIONS = {
    "CreateEvaluationJob": create_evaluation_job,
    "GetEvaluationJob": get_evaluation_job,
    "StopEvaluationJob": stop_evaluation_job,
    "ListEvaluationJobs": list_evaluation_jobs,
}


def register_handlers(response_class: type) -> None:
    """Add one moto handler per operation in ``OPERATIONS`` on ``BedrockResponse`` (from ``bedrock.py``)."""
    from moto.core.responses import ActionResult
    from moto.core.utils import camelcase_to_underscores

    from .bedrock import bedrock_backends, check_uri_identifiers, request_params

    def make(operation: str, function: Any) -> Any:
        def handler(self: Any) -> ActionResult:
            params = request_params(self)
            check_uri_identifiers(operation, params)
            backend = bedrock_backends[self.current_account][self.region]
            with backend.lock:
                return ActionResult(function(backend, params))

        handler.__name__ = camelcase_to_underscores(operation)
        return handler

    for operation, function in OPERATIONS.items():
        setattr(response_class, camelcase_to_underscores(operation), make(operation, function))
