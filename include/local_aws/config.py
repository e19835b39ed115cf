"""Runtime knobs of the local AWS emulator.

One process-wide object, ``CONFIG``, holds them. Defaults come from environment variables read at
import time and again by ``CONFIG.reset()``; ``CONFIG.update(**kw)`` changes them at run time (the
server also exposes ``GET``/``POST /_local_aws/config``). Delays are in seconds and may be fractions;
all status transitions are computed lazily from wall-clock time when a resource is read.

| knob                 | env var                          | default    | meaning |
|----------------------|----------------------------------|------------|---------|
| `job_seconds`        | `LOCAL_AWS_JOB_SECONDS`          | `20`       | customization job InProgress -> Completed (or Failed) |
| `stop_seconds`       | `LOCAL_AWS_STOP_SECONDS`         | `1`        | customization job Stopping -> Stopped |
| `throughput_seconds` | `LOCAL_AWS_THROUGHPUT_SECONDS`   | `5`        | provisioned throughput Creating/Updating -> InService |
| `import_seconds`     | `LOCAL_AWS_IMPORT_SECONDS`       | `10`       | model import job InProgress -> Completed (or Failed) |
| `deployment_seconds` | `LOCAL_AWS_DEPLOYMENT_SECONDS`   | `5`        | custom model deployment Creating -> Active |
| `evaluation_seconds` | `LOCAL_AWS_EVALUATION_SECONDS`   | `10`       | evaluation job InProgress -> Completed (or Failed); Stopping -> Stopped takes `stop_seconds` |
| `fail_jobs`          | `LOCAL_AWS_FAIL_JOBS`            | `""`       | regex; customization jobs whose name matches end Failed |
| `fail_message`       | `LOCAL_AWS_FAIL_MESSAGE`         | see below  | failureMessage of jobs failed by `fail_jobs` |
| `fail_throughputs`   | `LOCAL_AWS_FAIL_THROUGHPUTS`     | `""`       | regex; provisioned throughputs whose name matches end Failed |
| `fail_deployments`   | `LOCAL_AWS_FAIL_DEPLOYMENTS`     | `""`       | regex; custom model deployments whose name matches end Failed |
| `throttle_every`     | `LOCAL_AWS_THROTTLE_EVERY`       | `0`        | every Nth InvokeModel/Converse call answers 429 ThrottlingException (0 = off) |
| `metrics_layout`     | `LOCAL_AWS_METRICS_LAYOUT`       | `nested`   | `nested`: `.../post_fine_tuning_validation/validation/validation_metrics.csv`; `flat`: without `validation/` |

Regexes are searched (``re.search``) in the name; empty regexes never match. Delays and failure
decisions are taken when a resource is created (or a transition such as a stop or an update starts),
so changing the config later does not affect resources already on their way. ``reset()`` restores the
environment defaults and zeroes the throttle counter.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field, fields
from typing import Any

DEFAULT_FAIL_MESSAGE = (
    "Internal error: the training process terminated unexpectedly. "
    "Retry the job; if the problem persists, contact AWS Support."
)
METRICS_LAYOUTS = ("nested", "flat")

_ENV = {
    "job_seconds": "LOCAL_AWS_JOB_SECONDS",
    "stop_seconds": "LOCAL_AWS_STOP_SECONDS",
    "throughput_seconds": "LOCAL_AWS_THROUGHPUT_SECONDS",
    "import_seconds": "LOCAL_AWS_IMPORT_SECONDS",
    "deployment_seconds": "LOCAL_AWS_DEPLOYMENT_SECONDS",
    "evaluation_seconds": "LOCAL_AWS_EVALUATION_SECONDS",
    "fail_jobs": "LOCAL_AWS_FAIL_JOBS",
    "fail_message": "LOCAL_AWS_FAIL_MESSAGE",
    "fail_throughputs": "LOCAL_AWS_FAIL_THROUGHPUTS",
    "fail_deployments": "LOCAL_AWS_FAIL_DEPLOYMENTS",
    "throttle_every": "LOCAL_AWS_THROTTLE_EVERY",
    "metrics_layout": "LOCAL_AWS_METRICS_LAYOUT",
}


@dataclass
class LocalAwsConfig:
    """The emulator's knobs; see the module docstring."""

    job_seconds: float = 20.0
    stop_seconds: float = 1.0
    throughput_seconds: float = 5.0
    import_seconds: float = 10.0
    deployment_seconds: float = 5.0
    evaluation_seconds: float = 10.0
    fail_jobs: str = ""
    fail_message: str = DEFAULT_FAIL_MESSAGE
    fail_throughputs: str = ""
    fail_deployments: str = ""
    throttle_every: int = 0
    metrics_layout: str = "nested"
    _calls: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_env(cls) -> LocalAwsConfig:
        """A config with the defaults overridden by ``LOCAL_AWS_*`` environment variables."""
        config = cls()
        config.reset()
        return config

    def knob_names(self) -> list[str]:
        """Public knob names, in declaration order."""
        return [f.name for f in fields(self) if not f.name.startswith("_")]

    def update(self, **kw: Any) -> dict[str, Any]:
        """Set some knobs (values are coerced and checked); returns the full config."""
        converted = {name: self._convert(name, value) for name, value in kw.items()}
        with self._lock:
            for name, value in converted.items():
                setattr(self, name, value)
        return self.as_dict()

    def as_dict(self) -> dict[str, Any]:
        """The public knobs as a JSON-ready dict."""
        return {name: getattr(self, name) for name in self.knob_names()}

    def reset(self) -> None:
        """Restore the environment defaults and zero the throttle counter."""
        defaults = LocalAwsConfig.__dataclass_fields__
        values: dict[str, Any] = {name: defaults[name].default for name in self.knob_names()}
        for name, env in _ENV.items():
            if os.environ.get(env) is not None:
                values[name] = self._convert(name, os.environ[env])
        with self._lock:
            for name, value in values.items():
                setattr(self, name, value)
            self._calls = 0

    def count_runtime_call(self) -> bool:
        """Count one runtime call; True when this call must be throttled."""
        with self._lock:
            self._calls += 1
            return self.throttle_every > 0 and self._calls % self.throttle_every == 0

    def _convert(self, name: str, value: Any) -> Any:
        if name not in self.knob_names():
            raise ValueError(f"unknown config knob: {name}")
        kind = type(LocalAwsConfig.__dataclass_fields__[name].default)
        try:
            if kind is float:
                converted: Any = float(value)
                if converted < 0:
                    raise ValueError
            elif kind is int:
                converted = int(value)
                if converted < 0:
                    raise ValueError
            else:
                converted = "" if value is None else str(value)
        except (TypeError, ValueError):
            raise ValueError(f"invalid value for {name}: {value!r}") from None
        if name in ("fail_jobs", "fail_throughputs", "fail_deployments"):
            try:
                re.compile(converted)
            except re.error as err:
                raise ValueError(f"invalid regex for {name}: {err}") from None
        if name == "metrics_layout" and converted not in METRICS_LAYOUTS:
            raise ValueError(f"metrics_layout must be one of {', '.join(METRICS_LAYOUTS)}")
        return converted

    def matches(self, knob: str, name: str) -> bool:
        """Whether the regex knob ``knob`` (e.g. ``fail_jobs``) matches ``name``; empty never matches."""
        pattern = getattr(self, knob)
        return bool(pattern) and re.search(pattern, name) is not None


CONFIG = LocalAwsConfig.from_env()
