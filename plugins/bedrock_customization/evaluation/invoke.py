"""Calling models for an evaluation: Converse requests, reply text, and retries with backoff and jitter.

Bedrock answers ``ThrottlingException`` (429), ``ServiceUnavailableException`` and ``ModelNotReadyException`` when
it is busy or a model is still loading; these are retried here rather than in botocore, so the number of attempts
is ours, is counted and shows in the logs and the summary. Any other error fails at once. Nothing here imports an
AWS SDK: calls are plain callables, and botocore errors are recognised by their ``response["Error"]["Code"]``.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from bedrock_customization.evaluation.errors import EvaluationError, RetriesExhaustedError
from bedrock_customization.evaluation.samples import Sample

__all__ = [
    "RETRYABLE_CODES",
    "RetryCounter",
    "RetryPolicy",
    "call_with_retries",
    "converse_request",
    "error_code",
    "reply_text",
]

T = TypeVar("T")

RETRYABLE_CODES = frozenset({"ThrottlingException", "ServiceUnavailableException", "ModelNotReadyException"})
#: The botocore client config for these calls: one attempt, so that retries happen (and are counted) here.
NO_BOTOCORE_RETRIES = {"retries": {"mode": "standard", "total_max_attempts": 1}}


@dataclass(frozen=True)
class RetryPolicy:
    """At most ``max_attempts`` calls; before retry n, wait between half and all of ``min(max_delay, base_delay *
    2**(n-1))`` seconds (exponential backoff with jitter)."""

    max_attempts: int = 8
    base_delay: float = 1.0
    max_delay: float = 20.0
    retryable_codes: frozenset[str] = RETRYABLE_CODES

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise EvaluationError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0:
            raise EvaluationError("retry delays must not be negative")

    def delay(self, retry: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (retry - 1))
        return ceiling / 2 + rng() * ceiling / 2


class RetryCounter:
    """Thread-safe retry counts by key (``baseline``, ``candidate``, ``judge``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, key: str, count: int = 1) -> None:
        with self._lock:
            self._counts[key] += count

    def as_dict(self, keys: tuple[str, ...] = ()) -> dict[str, int]:
        with self._lock:
            return {key: self._counts.get(key, 0) for key in (*keys, *sorted(set(self._counts) - set(keys)))}


def error_code(exc: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (or anything shaped like one); None otherwise."""
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        code = (response.get("Error") or {}).get("Code")
        return str(code) if code else None
    return None


def _message(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping) and (response.get("Error") or {}).get("Message"):
        return str(response["Error"]["Message"])
    return str(exc) or type(exc).__name__


def call_with_retries(
    call: Callable[[], T],
    *,
    what: str,
    policy: RetryPolicy = RetryPolicy(),
    on_retry: Callable[[int, str, float], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    rng: Callable[[], float] = random.random,
) -> tuple[T, int]:
    """``(call(), retries)``, retrying the policy's error codes.

    ``what`` names the call in errors (model and sample). ``on_retry(retry, code, delay)`` is called before each
    wait. Raises :class:`EvaluationError` for any other error, or when the attempts run out.
    """
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return call(), attempt - 1
        except Exception as exc:
            code = error_code(exc)
            if code not in policy.retryable_codes:
                raise EvaluationError(
                    f"{what} failed: {code or type(exc).__name__}: {_message(exc)}"
                ) from exc
            if attempt == policy.max_attempts:
                raise RetriesExhaustedError(
                    f"{what} still failed after {policy.max_attempts} attempts ({code}: {_message(exc)}); "
                    "lower max_concurrency, raise max_attempts, or check the model's quota or model units"
                ) from exc
            delay = policy.delay(attempt, rng)
            if on_retry is not None:
                on_retry(attempt, code, delay)
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def converse_request(model_id: str, sample: Sample, inference_config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``converse`` sending ``sample`` (system text, history, prompt) to ``model_id``."""
    request: dict[str, Any] = {
        "modelId": model_id,
        "messages": sample.messages(),
        "inferenceConfig": dict(inference_config),
    }
    if sample.system:
        request["system"] = [{"text": sample.system}]
    return request


def reply_text(reply: Mapping[str, Any]) -> str:
    """The text blocks of a Converse reply, joined."""
    content = ((reply.get("output") or {}).get("message") or {}).get("content") or []
    return "".join(
        block["text"]
        for block in content
        if isinstance(block, Mapping) and isinstance(block.get("text"), str)
    )
