"""The first step of every training DAG: validate the params once and derive everything the run needs.

:func:`plan_run` is pure: it takes the params, the run's identity, the landing zone and a way to ask whether
an S3 key exists, and returns the plan (a JSON-serialisable dict every later task reads instead of checking
the params again). Two scopes:

* ``"run"`` (retraining): one configuration from ``hyperparameters``; names, tokens and S3 prefixes derive
  from the run, so every run trains anew (``runs/<dag_id>/<digest of the run>/``);
* ``"date"`` (sweep): a grid or list from ``search_space``; names and prefixes derive from the logical date
  and the configuration's hash, so a re-run or backfill of a date re-attaches to its jobs
  (``runs/<dag_id>/<YYYY-MM-DD>/``; the leaderboard and evaluations under ``sweeps/<YYYY-MM-DD>/``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from bedrock_customization import artifacts, catalog, iam, sweep
from bedrock_customization.exceptions import BedrockCustomizationError
from bedrock_customization.naming import digest, resource_name

log = logging.getLogger(__name__)

SCOPES = ("run", "date")
#: How candidates are served for the evaluation (and, when promoted, as the champion): ``auto`` is
#: ``on_demand`` where the catalog documents on-demand deployment of the base model's custom models in the
#: region, else ``provisioned``.
SERVING_CHOICES = ("auto", "on_demand", "provisioned")


class MissingDataError(BedrockCustomizationError):
    """The raw data of the run's date is not in the bucket."""


def configurations(
    params: Mapping[str, Any], model_id: str, customization_type: str
) -> list[sweep.SweepConfig]:
    """The validated configurations: the sweep's ``search_space``, else the one ``hyperparameters``."""
    space = params.get("search_space")
    if space is None:
        space = [dict(params.get("hyperparameters") or {})]
    return sweep.validate(
        model_id,
        sweep.expand(space),
        customization_type,
        max_configurations=params.get("max_configurations"),
    )


def check_customization(
    params: Mapping[str, Any], model_id: str, today: date | None = None
) -> tuple[str, str | None]:
    """(customization type, teacher model id or None), checked against the catalog.

    The type must be one ``model_id`` offers ``today`` (default: today, when the job is created; a
    DISTILLATION student needs a teacher before end of life); ``teacher_model_id`` must be a documented
    teacher of the model and is refused for other types; ``text_key`` only maps continued pre-training text.
    """
    ctype = catalog.check_customization(model_id, params.get("customization_type") or "FINE_TUNING", today)
    teacher = str(params.get("teacher_model_id") or "").strip() or None
    if ctype == "DISTILLATION":
        catalog.check_teacher(model_id, teacher, today)
    elif teacher:
        raise BedrockCustomizationError(
            f"teacher_model_id={teacher} is only used by DISTILLATION, not {ctype}: clear it, or set "
            "customization_type to DISTILLATION."
        )
    if params.get("text_key") and ctype != "CONTINUED_PRE_TRAINING":
        raise BedrockCustomizationError(
            f"text_key={params['text_key']} maps the text of CONTINUED_PRE_TRAINING records, not {ctype}: clear "
            "it (prompt_key and completion_key map the other types)."
        )
    return ctype, teacher


def check_grader(params: Mapping[str, Any], customization_type: str) -> str | None:
    """``grader_lambda_arn``: required by REINFORCEMENT_FINE_TUNING (a Lambda function ARN), refused
    otherwise."""
    grader = str(params.get("grader_lambda_arn") or "").strip() or None
    if customization_type != "REINFORCEMENT_FINE_TUNING":
        if grader:
            raise BedrockCustomizationError(
                f"grader_lambda_arn={grader} is only used by REINFORCEMENT_FINE_TUNING, not "
                f"{customization_type}: clear it, or set customization_type to REINFORCEMENT_FINE_TUNING."
            )
        return None
    if not grader:
        raise BedrockCustomizationError(
            "customization_type REINFORCEMENT_FINE_TUNING needs grader_lambda_arn: the ARN of the Lambda "
            "function that scores the model's responses (arn:aws:lambda:<region>:<account>:function:<name>)."
        )
    if not iam.LAMBDA_ARN.match(grader):
        raise BedrockCustomizationError(
            f"grader_lambda_arn={grader} is not a Lambda function ARN: give "
            "arn:aws:lambda:<region>:<account>:function:<name> (optionally :<version or alias>)."
        )
    return grader


#: The key part of the S3Uri pattern (API_InvocationLogSource) and the request metadata key and value patterns
#: of a filter (API_RequestMetadataFilters: 1-256 and 0-256 characters; at most 16 base filters in andAll).
_LOGS_KEY = re.compile(r"(?:[-!_*'().a-zA-Z0-9]+(?:/[-!_*'().a-zA-Z0-9]+)*)?/?")
_METADATA_KEY = re.compile(r"[a-zA-Z0-9\s._:/=+$@-]{1,256}")
_METADATA_VALUE = re.compile(r"[a-zA-Z0-9\s._:/=+$@-]{0,256}")
MAX_METADATA_FILTERS = 16


def check_invocation_logs(params: Mapping[str, Any], customization_type: str) -> dict[str, Any] | None:
    """``trainingDataConfig.invocationLogsConfig`` from ``invocation_logs_uri`` (the S3 prefix model invocation
    logging delivers to), ``invocation_logs_use_responses`` (``usePromptResponse``) and
    ``invocation_logs_metadata`` (request metadata every used call must carry: ``equals`` for one pair, else
    ``andAll`` of one-pair ``equals``, since a RequestMetadataFilters map holds one entry); None without a URI.
    Refused for types whose data pages document no invocation logs, and for a bad URI or metadata."""
    uri = str(params.get("invocation_logs_uri") or "").strip()
    use_responses = bool(params.get("invocation_logs_use_responses"))
    metadata = params.get("invocation_logs_metadata") or {}
    if not uri:
        if use_responses or metadata:
            raise BedrockCustomizationError(
                "invocation_logs_use_responses and invocation_logs_metadata only apply with invocation_logs_uri: "
                "set it to the S3 prefix of the model invocation logs, or clear them."
            )
        return None
    if customization_type not in catalog.INVOCATION_LOG_TYPES:
        types = " or ".join(catalog.INVOCATION_LOG_TYPES)
        raise BedrockCustomizationError(
            f"invocation_logs_uri={uri} trains {types} only (AWS documents invocation logs as training data of "
            f"those types), not {customization_type}: clear it, or set customization_type to DISTILLATION "
            "(with teacher_model_id)."
        )
    _, key = artifacts.parse_s3_uri(uri, what="invocation_logs_uri", error=BedrockCustomizationError)
    if len(uri) > 1024 or not _LOGS_KEY.fullmatch(key):
        raise BedrockCustomizationError(
            f"invocation_logs_uri={uri} is not an S3 URI Bedrock takes: at most 1024 characters, and key "
            "segments of letters, digits and - ! _ * ' ( ) . only (e.g. s3://bucket/AWSLogs/<account>/"
            "BedrockModelInvocationLogs/)."
        )
    if not isinstance(metadata, Mapping) or len(metadata) > MAX_METADATA_FILTERS:
        raise BedrockCustomizationError(
            f"invocation_logs_metadata must be an object of at most {MAX_METADATA_FILTERS} request metadata "
            'keys and the values they must equal, e.g. {"app": "support-bot"}.'
        )
    for name, value in metadata.items():
        if not (
            isinstance(value, str) and _METADATA_KEY.fullmatch(str(name)) and _METADATA_VALUE.fullmatch(value)
        ):
            raise BedrockCustomizationError(
                f"invocation_logs_metadata: {name!r}: {value!r} is not a request metadata filter Bedrock takes: "
                "keys of 1-256 and string values of 0-256 letters, digits, spaces and . _ : / = + $ @ - only."
            )
    config: dict[str, Any] = {"invocationLogSource": {"s3Uri": uri}, "usePromptResponse": use_responses}
    pairs = [{"equals": {str(name): value}} for name, value in metadata.items()]
    if len(pairs) == 1:
        config["requestMetadataFilters"] = pairs[0]
    elif pairs:
        config["requestMetadataFilters"] = {"andAll": pairs}
    return config


def check_judge(params: Mapping[str, Any]) -> None:
    """The ``llm_judge`` metric (in ``metrics`` or as ``primary_metric``) needs ``judge_model_id``: fail before
    any job rather than after training and provisioning."""
    wanted = [*(params.get("metrics") or []), params.get("primary_metric")]
    if "llm_judge" in wanted and not params.get("judge_model_id"):
        raise BedrockCustomizationError(
            "metrics or primary_metric name llm_judge, but judge_model_id is empty: set judge_model_id to a "
            "model that supports forced tool use in Converse (Amazon Nova such as amazon.nova-pro-v1:0, or "
            "Anthropic Claude 3 or later), or choose another metric."
        )


def resolve_serving(params: Mapping[str, Any], model: catalog.BaseModel, region: str | None) -> str:
    """``on_demand`` (a custom model deployment, billed per token) or ``provisioned`` (a throughput, billed per
    model unit-hour), from the ``serving`` param (default ``auto``), the catalog's on-demand rules for the
    base model and the AWS connection's ``region``, and the evaluation ``engine`` (native evaluation jobs take
    no deployment). ``on_demand`` where Bedrock does not offer it fails here, before any job."""
    wanted = str(params.get("serving") or "auto").strip().lower()
    if wanted not in SERVING_CHOICES:
        raise BedrockCustomizationError(
            f"serving={params.get('serving')!r} is not one of {', '.join(SERVING_CHOICES)}."
        )
    if wanted == "provisioned":
        return "provisioned"
    if params.get("engine") == "bedrock_evaluation_job":
        # API_EvaluationBedrockModel: an evaluation job's modelIdentifier takes provisioned throughputs, not
        # custom model deployments.
        if wanted == "on_demand":
            raise BedrockCustomizationError(
                "serving=on_demand, but engine=bedrock_evaluation_job: Bedrock evaluation jobs cannot evaluate a "
                "custom model deployment. Set serving to provisioned or auto, or engine to converse."
            )
        log.info("engine=bedrock_evaluation_job: a provisioned throughput serves the candidates.")
        return "provisioned"
    # The jobs are created today, after every documented customization-date threshold: only base and region.
    problem = (
        catalog.on_demand_deployment_problem(model, region)
        if region
        else "the AWS connection names no region, so on-demand support cannot be checked"
    )
    if problem and wanted == "on_demand":
        raise BedrockCustomizationError(
            f"serving=on_demand, but {problem}. Set serving to provisioned (or auto, which falls back to it)."
        )
    if problem:
        log.info("serving=auto: a provisioned throughput serves the candidates, since %s.", problem)
        return "provisioned"
    return "on_demand"


def resolve_raw_key(
    params: Mapping[str, Any], bucket: str, day: date, key_exists: Callable[[str], bool]
) -> tuple[str, str]:
    """(key, source) of the raw data: ``dataset_key`` with ``{date}`` filled (``dated``), else
    ``fallback_dataset_key`` (``fallback``); :class:`MissingDataError` naming both when neither exists."""
    dated = str(params["dataset_key"]).replace("{date}", day.isoformat()).strip("/")
    fallback = str(params.get("fallback_dataset_key") or "").strip("/")
    if key_exists(dated):
        return dated, "dated"
    if fallback and key_exists(fallback):
        log.warning(
            "No data snapshot s3://%s/%s; using the fallback s3://%s/%s.", bucket, dated, bucket, fallback
        )
        return fallback, "fallback"
    also = f" nor the fallback s3://{bucket}/{fallback}" if fallback else ""
    raise MissingDataError(
        f"No data for {day.isoformat()}: neither s3://{bucket}/{dated}{also} exists. Upload the date's data "
        "there" + (", or set fallback_dataset_key." if "fallback_dataset_key" in params else ".")
    )


def plan_run(
    params: Mapping[str, Any],
    *,
    dag_id: str,
    run_id: str,
    day: date,
    landing_zone: Callable[[], Any],
    key_exists: Callable[[str, str], bool],
    scope: str = "run",
    region: str | None = None,
) -> dict[str, Any]:
    """Validate the params against the catalog and derive the run's names, S3 locations and jobs.

    ``landing_zone()`` gives the :class:`~bedrock_customization.landing_zone.LandingZone`, read only once
    the params are valid; per-run params (``kms_key_id``, ``subnet_ids``, ``security_group_ids``) override
    it where the DAG offers them. ``key_exists(bucket, key)`` tells whether an S3 object exists. ``region``
    (the AWS connection's) decides what ``serving=auto`` means.
    """
    if scope not in SCOPES:
        raise ValueError(f"scope must be one of {SCOPES}, got {scope!r}")
    model = catalog.get_model(params["base_model_id"])
    customization_type, teacher = check_customization(params, model.id)
    grader = check_grader(params, customization_type)
    invocation_logs = check_invocation_logs(params, customization_type)
    configs = configurations(params, model.id, customization_type)
    check_judge(params)
    serving_kind = resolve_serving(params, model, region)
    top_k = int(params.get("top_k") or 1)
    if top_k > len(configs):
        raise sweep.SweepError(
            f"top_k={top_k} but the sweep has only {len(configs)} configurations; lower top_k."
        )
    warning = catalog.lifecycle_warning(model.id)
    if warning:
        log.warning("%s", warning)
    for note in sweep.duplicates(configs):
        log.info("%s", note)

    landing_zone = landing_zone()
    bucket = landing_zone.bucket
    raw_key, data_source = resolve_raw_key(params, bucket, day, lambda key: key_exists(bucket, key))
    ds = day.isoformat()
    work = artifacts.s3_uri(bucket, f"runs/{dag_id}/" + (digest(dag_id, run_id) if scope == "run" else ds))
    results = artifacts.s3_uri(bucket, f"sweeps/{ds}/") if scope == "date" else f"{work}/"
    use_vpc = params.get("use_vpc", True)
    jobs = []
    for config in configs:
        job: dict[str, Any] = {"hyperparameters": dict(config.hyperparameters)}
        if scope == "date":
            short = f"{dag_id}-{day:%Y%m%d}-{config.config_hash[:8]}"
            job.update(
                output_data_uri=f"{work}/output/{config.config_hash}/",
                idempotency_key=f"{dag_id}/{ds}/{config.config_hash}",
                job_name=short,
                custom_model_name=short,
            )
        else:
            job["output_data_uri"] = f"{work}/output/"
        jobs.append(job)
    return {
        "scope": scope,
        "bucket": bucket,
        "role_arn": landing_zone.role_arn,
        "kms_key_arn": params.get("kms_key_id") or landing_zone.kms_key_arn,
        "subnet_ids": list(params.get("subnet_ids") or landing_zone.subnet_ids) if use_vpc else None,
        "security_group_ids": list(params.get("security_group_ids") or landing_zone.security_group_ids)
        if use_vpc
        else None,
        "base_model_id": model.id,
        "base_inference_id": model.inference_id,
        "customization_type": customization_type,
        "teacher_model_id": teacher,
        "grader_lambda_arn": grader,
        "invocation_logs": invocation_logs,
        "text_key": params.get("text_key") or None,
        "logical_date": ds,
        "raw_uri": artifacts.s3_uri(bucket, raw_key),
        "data_source": data_source,
        "data_uri": f"{work}/data/",
        "output_uri": f"{work}/output/",
        "results_uri": results,
        "leaderboard_uri": f"{results}leaderboard.json" if scope == "date" else None,
        "top_k": top_k,
        "evaluate": bool(params.get("evaluate_top_k", True)),
        "serving_kind": serving_kind,
        "strictest_hyperparameters": dict(sweep.strictest(configs).hyperparameters),
        # The data is prepared for the configuration with the lowest token limit (Titan's depends on it).
        "batch_size": sweep.strictest(configs).hyperparameters.get("batchSize"),
        "configs": [config.to_dict() for config in configs],
        "jobs": jobs,
        "serving_names": [serving_name(dag_id, run_id, config.config_hash, scope) for config in configs],
    }


def serving_name(dag_id: str, run_id: str, config_hash: str, scope: str) -> str:
    """The name of one configuration's evaluation throughput or deployment in one run (per run even for a
    date-scoped sweep)."""
    if scope == "run":
        return resource_name("retraining-eval", dag_id, run_id, "throughput")
    return resource_name("sweep-eval", dag_id, run_id, config_hash)


def evaluation_uri(plan: Mapping[str, Any], config_hash: str) -> str:
    """Where one candidate's evaluation is written."""
    if plan["scope"] == "run":
        return f"{plan['results_uri']}evaluation/"
    return f"{plan['results_uri']}evaluation/{config_hash}/"
