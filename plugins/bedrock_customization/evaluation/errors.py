"""The evaluation's error type."""

from __future__ import annotations

from bedrock_customization.exceptions import BedrockCustomizationError


class EvaluationError(BedrockCustomizationError):
    """An evaluation that cannot run or finish: bad dataset line, unknown metric, missing package, failed call."""
