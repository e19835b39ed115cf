"""Which failures a retry can fix: the provider's Airflow retry policy.

Bad params, bad data and a failed preflight raise the package's domain errors
(:class:`~bedrock_customization.exceptions.BedrockCustomizationError`). Trying again 30 s later cannot fix
them, so :data:`FAIL_FAST` fails the task at once with the same message (as ``AirflowFailException``
would). The few domain errors that describe a passing state keep Airflow's normal retries: a registry
written by a concurrent promotion, a resource still in use for a moment, a throughput that failed to come up,
a promotion that was rolled back, calls still throttled after every attempt.

Use it as a task's or a DAG's ``retry_policy`` (``default_args={"retry_policy": FAIL_FAST}``); every DAG of
this package does, through :func:`bedrock_customization.pipeline.params.default_args`.
"""

from __future__ import annotations

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule

from bedrock_customization.evaluation.errors import RetriesExhaustedError
from bedrock_customization.exceptions import (
    BedrockCustomizationError,
    PromotionRolledBackError,
    RegistryConflictError,
    ResourceFailedError,
    ResourceInUseError,
)

FAIL_FAST = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=[
                RegistryConflictError,
                ResourceInUseError,
                ResourceFailedError,
                PromotionRolledBackError,
                RetriesExhaustedError,
            ],
            action=RetryAction.DEFAULT,
        ),
        RetryRule(
            exception=BedrockCustomizationError,
            action=RetryAction.FAIL,
            reason="The params, data or account setup must change first: a retry cannot fix this.",
        ),
    ]
)
