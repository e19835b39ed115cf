"""Provider settings, read from Airflow's config section ``[bedrock_customization]``.

Each option can be set in ``airflow.cfg`` or with ``AIRFLOW__BEDROCK_CUSTOMIZATION__<OPTION>``. Reading the
config is cheap and touches no database, so DAG files may call these at parse time.
"""

from __future__ import annotations

SECTION = "bedrock_customization"

OPTIONS: dict[str, dict[str, str]] = {
    "retraining_schedule": {
        "description": "Cron schedule of the bedrock_retraining DAG (it also runs when its raw-data asset is updated).",
        "type": "string",
        "example": "0 3 * * *",
        "default": "0 3 * * 1",
    },
    "sweep_schedule": {
        "description": "Schedule of the bedrock_hparam_sweep DAG (cron or preset); empty: none (triggered only). "
        "Backfills need a periodic schedule.",
        "type": "string",
        "example": "@daily",
        "default": "",
    },
    "poll_interval": {
        "description": "Seconds between status checks of Bedrock jobs and throughputs (waiters and triggers).",
        "type": "integer",
        "example": "10",
        "default": "60",
    },
    "job_timeout": {
        "description": "Seconds to wait for a model customization job before giving up on the wait.",
        "type": "integer",
        "example": "86400",
        "default": "172800",
    },
    "throughput_timeout": {
        "description": "Seconds to wait for a provisioned throughput to be InService.",
        "type": "integer",
        "example": "3600",
        "default": "7200",
    },
    "deferrable": {
        "description": "Whether the provider's operators and sensors wait for Bedrock jobs, throughputs and "
        "deployments deferred, in the triggerer (True), or in the task's worker slot (False, e.g. for a "
        "deployment without a triggerer): the default of their deferrable argument. Read when the DAG files "
        "are parsed.",
        "type": "boolean",
        "example": "False",
        "default": "True",
    },
    "prices": {
        "description": "Overrides of the price table cost estimates use (bedrock_customization/data/prices.json): "
        "a JSON object, or the path of a JSON file holding one, mapping catalog model ids to the fields to "
        'replace, e.g. {"amazon.nova-micro-v1:0:128k": {"throughput_per_model_unit_hour": 20.0}}. '
        "Empty: the table as shipped.",
        "type": "string",
        "example": "/opt/airflow/config/bedrock_prices.json",
        "default": "",
    },
}


def _get_int(option: str) -> int:
    from airflow.configuration import conf

    return conf.getint(SECTION, option, fallback=int(OPTIONS[option]["default"]))


def retraining_schedule() -> str:
    from airflow.configuration import conf

    return conf.get(SECTION, "retraining_schedule", fallback=OPTIONS["retraining_schedule"]["default"])


def sweep_schedule() -> str | None:
    from airflow.configuration import conf

    value = (conf.get(SECTION, "sweep_schedule", fallback="") or "").strip()
    return None if value.lower() in ("", "none") else value


def poll_interval() -> int:
    return max(1, _get_int("poll_interval"))


def deferrable() -> bool:
    """Whether long Bedrock waits are deferred to the triggerer (the default) or block a worker.

    The default of the ``deferrable`` argument of every operator and sensor of this provider (an argument
    given wins; Airflow's ``[operators] default_deferrable`` is not read). Deferred waits free the worker slot
    for the hours a customization job or a throughput takes, but need a running triggerer; set
    ``AIRFLOW__BEDROCK_CUSTOMIZATION__DEFERRABLE=False`` on a deployment without one, and every wait
    (customization and import jobs, provisioned throughputs, deployments, promotion) polls from its worker
    instead. Operators read this when they are created, i.e. when the DAG files are parsed, so a change takes
    effect on the next parse.
    """
    from airflow.configuration import conf

    return conf.getboolean(SECTION, "deferrable", fallback=OPTIONS["deferrable"]["default"] == "True")


def max_attempts(timeout_option: str) -> int:
    """How many polls at :func:`poll_interval` fit in the timeout named by ``timeout_option``."""
    return max(1, _get_int(timeout_option) // poll_interval())


def prices_override() -> dict:
    """The ``prices`` option parsed: model id -> price fields to replace (``{}`` when unset).

    The value is a JSON object, or the path of a JSON file holding one. Raises
    :class:`~bedrock_customization.exceptions.BedrockCustomizationError` naming the option, the file and the fix.
    """
    import json
    from pathlib import Path

    from airflow.configuration import conf

    from bedrock_customization.exceptions import BedrockCustomizationError

    value = (conf.get(SECTION, "prices", fallback="") or "").strip()
    if not value:
        return {}
    where = "[bedrock_customization] prices (AIRFLOW__BEDROCK_CUSTOMIZATION__PRICES)"
    if not value.startswith("{"):
        path = Path(value).expanduser()
        try:
            value = path.read_text(encoding="utf-8")
        except OSError as error:
            raise BedrockCustomizationError(
                f"{where} names the file {path}, which cannot be read ({error.strerror}): give a JSON object "
                "or the path of a readable JSON file."
            ) from error
        where = f"{path} (from {where})"
    try:
        document = json.loads(value)
    except json.JSONDecodeError as error:
        raise BedrockCustomizationError(
            f"{where} is not valid JSON ({error.msg} at line {error.lineno} column {error.colno}): give an "
            'object such as {"amazon.nova-micro-v1:0:128k": {"throughput_per_model_unit_hour": 20.0}}.'
        ) from error
    if not isinstance(document, dict):
        raise BedrockCustomizationError(
            f"{where} must be a JSON object mapping model ids to price fields, got {type(document).__name__}."
        )
    return document
