"""The trigger-form params the training DAGs share, each defined once, and every DAG's ``default_args``.

A DAG builds its ``params`` from these groups and adds its own (retraining: one ``hyperparameters`` object;
sweep: a ``search_space``). Reading the catalog is cheap and touches neither AWS nor the database.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import Param

from bedrock_customization import catalog
from bedrock_customization.retries import FAIL_FAST

DEFAULT_BASE_MODEL = "amazon.nova-micro-v1:0:128k"
#: Metrics the trigger forms offer (``llm_judge`` needs a judge model, ``bertscore`` an optional package).
EVALUATION_METRICS = ("chrf", "rouge_l", "exact_match", "semantic", "llm_judge")
#: Who scores the evaluation: Converse on this worker, or native Bedrock model evaluation jobs.
EVALUATION_ENGINES = ("converse", "bedrock_evaluation_job")


def judge_models() -> list[str]:
    """The judge models the trigger forms propose: the on-demand ids of catalogued models that take a forced
    tool choice in Converse (Amazon Nova, Anthropic Claude 3 and later) and have not reached end of life."""
    from datetime import date

    today = date.today()
    return [
        model.inference_id
        for model in catalog.list_models()
        if model.family.startswith(("nova", "claude")) and model.lifecycle.status_on(today) != "EOL"
    ]


def default_args(retry_delay: timedelta = timedelta(seconds=30)) -> dict[str, Any]:
    """The ``default_args`` of every DAG of this package: two retries ``retry_delay`` apart, and
    :data:`~bedrock_customization.retries.FAIL_FAST` (a failure a retry cannot fix fails at once)."""
    return {"owner": "ml-platform", "retries": 2, "retry_delay": retry_delay, "retry_policy": FAIL_FAST}


def model() -> dict[str, Param]:
    return {
        "base_model_id": Param(
            DEFAULT_BASE_MODEL,
            type="string",
            enum=[m.id for m in catalog.list_models()],
            description="The base model to customize (`bedrock-customize catalog` lists them).",
        ),
    }


#: Customization types the training pipeline runs (reinforcement fine-tuning takes grader_lambda_arn).
PIPELINE_TYPES = ("FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION", "REINFORCEMENT_FINE_TUNING")


def customization_types() -> list[str]:
    """The customization types the forms offer: those some catalogued model can use today (a DISTILLATION
    student needs a teacher before end of life); the plan checks the type against the chosen base model."""
    from datetime import date

    today = date.today()
    offered = {
        ctype for m in catalog.list_models() for ctype in catalog.offered_customization_types(m.id, today)
    }
    return [ctype for ctype in catalog.CUSTOMIZATION_TYPES if ctype in offered and ctype in PIPELINE_TYPES]


def customization() -> dict[str, Param]:
    from datetime import date

    today = date.today()
    teachers = list(
        dict.fromkeys(t.id for m in catalog.list_models() for t in catalog.distillation_teachers(m.id, today))
    )
    types = customization_types()
    form = {
        "customization_type": Param(
            "FINE_TUNING",
            type="string",
            enum=types,
            description="How the base model learns; the plan checks that the base model offers it "
            "(`bedrock-customize catalog`).",
        ),
        "teacher_model_id": Param(
            None,
            type=["null", "string"],
            examples=teachers,
            description="DISTILLATION only: the teacher that answers the prompts (a documented teacher of the "
            "base model, by id, inference profile or ARN). The data's answers, when present, are kept as "
            "examples for it.",
        ),
        "invocation_logs_uri": Param(
            None,
            type=["null", "string"],
            description="DISTILLATION or REINFORCEMENT_FINE_TUNING: train on model invocation logs instead of "
            "the prepared data: the S3 prefix model invocation logging delivers to (e.g. s3://bucket/AWSLogs/"
            "<account>/BedrockModelInvocationLogs/; the service role must read it, preflight checks). Bedrock "
            "takes at most 15,000 matching calls for distillation. The raw data at dataset_key is still "
            "prepared: its validation split stays the held-out set the evaluation asks (the job gets no "
            "validation set).",
        ),
        "invocation_logs_use_responses": Param(
            False,
            type="boolean",
            description="With invocation_logs_uri: train on the logged responses (usePromptResponse); off: "
            "only the logged prompts, which the teacher answers anew.",
        ),
        "invocation_logs_metadata": Param(
            None,
            type=["null", "object"],
            description="With invocation_logs_uri: request metadata every used call must carry, key to value, "
            'e.g. {"app": "support-bot"} (sent as requestMetadataFilters; up to 16 pairs, all must equal).',
        ),
    }
    if "REINFORCEMENT_FINE_TUNING" in types:
        form["grader_lambda_arn"] = Param(
            None,
            type=["null", "string"],
            description="REINFORCEMENT_FINE_TUNING only (required for it): the ARN of the Lambda function "
            "that scores the model's responses against each record's reference answer, in the run's region; "
            "the service role needs lambda:InvokeFunction on it (preflight checks both).",
        )
    if "CONTINUED_PRE_TRAINING" in types:  # AWS documents it for no current model (catalog notes)
        form["text_key"] = Param(
            None,
            type=["null", "string"],
            description="CONTINUED_PRE_TRAINING only: the raw field holding the unlabeled text (default `input`).",
        )
    return form


def data(fallback: bool = False) -> dict[str, Param]:
    params = {
        "dataset_key": Param(
            "raw/{date}/qa_pairs.jsonl",
            type="string",
            description="Key of the raw data in the landing-zone bucket; {date} is the run's logical date "
            "(YYYY-MM-DD).",
        ),
    }
    if fallback:
        params["fallback_dataset_key"] = Param(
            None,
            type=["null", "string"],
            description="A fixed key used when the date has no data (demos, e.g. raw/qa_pairs.jsonl); "
            "empty: fail.",
        )
    return params | {
        "prompt_key": Param("question", type="string"),
        "completion_key": Param("answer", type="string"),
        "validation_fraction": Param(0.2, type="number", minimum=0.05, maximum=0.5),
        "seed": Param(42, type="integer"),
        "on_invalid": Param("fail", type="string", enum=["fail", "skip"]),
        "use_vpc": Param(True, type="boolean", description="Run the jobs in the landing zone's subnets."),
    }


#: The default cap on held-out prompts per evaluation: the whole validation split up to this many.
EVAL_SAMPLES_CAP = 200


def evaluation(eval_samples: int = EVAL_SAMPLES_CAP) -> dict[str, Param]:
    return {
        "serving": Param(
            "auto",
            type="string",
            enum=["auto", "on_demand", "provisioned"],
            description="How the candidates are served for the evaluation, and the winner as the champion: "
            "`on_demand`, a custom model deployment billed per token (no model units; Nova Micro/Lite/Pro in "
            "us-east-1 and us-west-2); `provisioned`, a no-commitment provisioned throughput billed per model "
            "unit-hour; `auto`, on demand where Bedrock offers it for the base model and region, else "
            "provisioned.",
        ),
        "model_units": Param(
            1,
            type="integer",
            minimum=1,
            description="Model units of a provisioned throughput (serving `provisioned`, or `auto` where on "
            "demand is not offered); the account's model-unit quota applies (page `prov-thru-purchase`).",
        ),
        "eval_samples": Param(
            eval_samples,
            type="integer",
            minimum=1,
            description="A cap: every held-out prompt of the validation split is sent to both models, up to "
            "this many (a seeded sample beyond it). More samples narrow the confidence interval that decides, "
            "so fewer decisions are inconclusive; fewer than 6 never decide.",
        ),
        "metrics": Param(
            ["rouge_l", "chrf", "exact_match"],
            type="array",
            items={"type": "string", "enum": list(EVALUATION_METRICS)},
            examples=list(EVALUATION_METRICS),
            description="Metrics scored on both models (the primary metric always is). `semantic`: cosine "
            "similarity of Titan Text Embeddings V2 embeddings (one InvokeModel per distinct text; the worker "
            "needs access to amazon.titan-embed-text-v2:0). `llm_judge`: the judge's score, 1-10 (needs "
            "judge_model_id, and is scored whenever a judge is set).",
        ),
        "primary_metric": Param(
            "chrf",
            type="string",
            enum=list(EVALUATION_METRICS),
            description="The metric that decides. `llm_judge` needs judge_model_id.",
        ),
        "judge_model_id": Param(
            None,
            type=["null", "string"],
            examples=judge_models(),
            description="An LLM judge (off when empty): this Bedrock model grades both models' answers side by "
            "side against the reference, in both orders, through a forced tool call, and adds the `llm_judge` "
            "metric (1-10) and its reasons to the report. It must support forced tool use in Converse "
            "(Amazon Nova, Anthropic Claude 3 or later); any model id or inference profile may be typed. "
            "Two judge calls per sample.",
        ),
        "confidence": Param(
            0.95,
            type="number",
            minimum=0.5,
            maximum=0.999,
            description="Confidence level of the interval that decides (paired bootstrap). Higher: fewer wrong "
            "promotions, more inconclusive runs; 0.99 needs at least 8 samples to decide, 0.95 needs 6.",
        ),
        "margin": Param(
            0.0,
            type="number",
            description="How much the candidate must beat the champion by: promoted only when the 95% "
            "confidence interval of its mean per-sample gain lies above the margin, rejected when it lies "
            "below, else inconclusive (the champion stays).",
        ),
        "engine": Param(
            "converse",
            type="string",
            enum=list(EVALUATION_ENGINES),
            description="Who scores: `converse` (this worker asks both models through Converse and scores "
            "their answers with `metrics`) or `bedrock_evaluation_job` (one native Bedrock model evaluation "
            "job per model, deferred; Bedrock scores Builtin.Accuracy/Robustness/Toxicity, or with "
            "judge_model_id, an evaluator model such as amazon.nova-pro-v1:0, the model-as-a-judge metrics; "
            "Builtin.Accuracy, or Builtin.Correctness when judged, decides).",
        ),
    } | eval_set()


#: Where the held-out prompts come from (``eval_set`` param); see ``operators/eval_set.py``.
EVAL_SETS = ("split", "generated", "both")


def eval_set() -> dict[str, Param]:
    return {
        "eval_set": Param(
            "split",
            type="string",
            enum=list(EVAL_SETS),
            description="What the evaluation asks: `split` (the validation split of the data), `generated` "
            "(eval_generated_pairs question/answer pairs a model writes from the documents at "
            "eval_documents_uri; questions repeating a training prompt are dropped) or `both` (the split, then "
            "the generated pairs). The set is written next to the prepared data, with SSE-KMS.",
        ),
        "eval_documents_uri": Param(
            None,
            type=["null", "string"],
            description="For `generated` and `both`: S3 URIs of PDF, text, Markdown or HTML documents, or of "
            "their prefix (comma-separated), e.g. s3://bucket/docs/. Empty: no generation.",
        ),
        "eval_generated_pairs": Param(32, type="integer", minimum=1, maximum=500),
        "eval_generator_model_id": Param(
            None,
            type=["null", "string"],
            description="The model that writes the pairs (it must take documents and forced tool use in "
            "Converse: Amazon Nova, Anthropic Claude 3 or later). Empty: the base model's on-demand model.",
        ),
    }


def retention(what: str) -> dict[str, Param]:
    return {
        "retention": Param(
            "delete",
            type="string",
            enum=["delete", "keep"],
            description=f"{what}: deleted now, or kept (tagged, so the janitor deletes them after its "
            "retention_days).",
        ),
    }
