"""The provider's retry policy: errors a retry cannot fix fail at once; passing states keep their retries."""

from __future__ import annotations

import pytest
from airflow.sdk import RetryAction

from bedrock_customization import exceptions
from bedrock_customization.evaluation.errors import EvaluationError, RetriesExhaustedError
from bedrock_customization.retries import FAIL_FAST


def action(error: BaseException) -> RetryAction:
    return FAIL_FAST.evaluate(error, try_number=1, max_tries=2).action


@pytest.mark.parametrize(
    "error",
    [
        exceptions.HyperparameterError("amazon.nova-lite-v1:0:300k", ["epochCount=50 is outside 1..5"]),
        exceptions.UnknownModelError("amazon.nova-nope", ["amazon.nova-lite-v1:0:300k"]),
        exceptions.InvalidDatasetError("line 3: missing field 'prompt'"),
        exceptions.DatasetConfigError("s3://bucket/raw/2026-01-01/qa_pairs.jsonl does not exist"),
        exceptions.BedrockCustomizationError("Invalid registry name ''"),
        EvaluationError("sample 3 failed: ValidationException: the model does not support Converse"),
    ],
)
def test_user_errors_fail_at_once(error):
    assert action(error) is RetryAction.FAIL


def test_a_failed_preflight_fails_at_once():
    from bedrock_customization.preflight import PreflightFailed, PreflightReport

    assert action(PreflightFailed(PreflightReport(checks=()))) is RetryAction.FAIL


@pytest.mark.parametrize(
    "error",
    [
        exceptions.RegistryConflictError("registry changed"),
        exceptions.ResourceInUseError("model in use by a throughput"),
        exceptions.ResourceFailedError("throughput Failed"),
        exceptions.PromotionRolledBackError("rolled back"),
        RetriesExhaustedError("sample 3 still failed after 8 attempts (ThrottlingException)"),
        ConnectionError("endpoint unreachable"),
    ],
)
def test_passing_states_and_other_errors_keep_airflows_retries(error):
    assert action(error) is RetryAction.DEFAULT
