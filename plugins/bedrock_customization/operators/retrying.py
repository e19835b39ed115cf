"""Throttling retries of the bedrock-runtime calls our operators make: counted, logged and capped here.

botocore's own retries are off for these calls (:data:`~bedrock_customization.evaluation.invoke.NO_BOTOCORE_RETRIES`),
so each retry is ours: it shows in the task log and in the figures the operator returns.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bedrock_customization.evaluation.invoke import (
    NO_BOTOCORE_RETRIES,
    RetryCounter,
    RetryPolicy,
    call_with_retries,
)


class ThrottlingRetriesMixin:
    """For an ``AwsBaseOperator`` whose runtime calls go through :meth:`_retrying` (list it first in the
    bases); the operator sets ``throttling_retries``."""

    throttling_retries: RetryPolicy

    @property
    def _hook_parameters(self) -> dict[str, Any]:
        parameters = super()._hook_parameters  # type: ignore[misc]
        return {**parameters, "config": {**(self.botocore_config or {}), **NO_BOTOCORE_RETRIES}}  # type: ignore[attr-defined]

    def _retrying(
        self, call: Callable[[], Any], what: str, counter: RetryCounter | None = None, key: str = ""
    ) -> Any:
        """``call()``, retrying throttling with :attr:`throttling_retries`; each retry is logged and, with
        ``counter``, counted under ``key``."""

        def on_retry(retry: int, code: str, delay: float) -> None:
            if counter is not None:
                counter.add(key)
            self.log.warning(  # type: ignore[attr-defined]
                "%s: %s; retry %d of %d in %.2f s.",
                what,
                code,
                retry,
                self.throttling_retries.max_attempts - 1,
                delay,
            )

        result, _ = call_with_retries(call, what=what, policy=self.throttling_retries, on_retry=on_retry)
        return result
