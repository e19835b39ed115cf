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
