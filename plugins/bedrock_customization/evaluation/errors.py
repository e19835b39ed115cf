"""The evaluation's error type."""

from __future__ import annotations

from bedrock_customization.exceptions import BedrockCustomizationError


class EvaluationError(BedrockCustomizationError):
    """An evaluation that cannot run or finish: bad dataset line, unknown metric, missing package, failed call."""


class RetriesExhaustedError(EvaluationError):
    """A call kept failing with a passing error (throttling, service unavailable) through every attempt: unlike
    the other evaluation errors it may pass later, so the task keeps Airflow's retries."""
