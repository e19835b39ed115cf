"""Deterministic names and idempotency tokens for the AWS resources a DAG run creates.

A retried or re-run task must find the resource its first try created instead of creating a twin, so every
name and ``clientRequestToken`` is derived from what identifies the work (dag_id, run_id, task_id, map_index,
configuration), never from the clock.
"""

from __future__ import annotations

import hashlib
import re

# jobName / provisionedModelName / customModelName: 1-63 chars, [a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*
MAX_NAME_LENGTH = 63
_UNSAFE = re.compile(r"[^a-zA-Z0-9]+")


def digest(*parts: object, length: int = 12) -> str:
    """Stable short hex digest of the parts (order matters)."""
    joined = "\x1f".join(str(p) for p in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:length]


def resource_name(prefix: str, *parts: object) -> str:
    """A Bedrock-safe resource name: a readable prefix plus a digest of ``parts``, at most 63 characters."""
    suffix = digest(*parts)
    readable = _UNSAFE.sub("-", prefix).strip("-")[: MAX_NAME_LENGTH - len(suffix) - 1].strip("-")
    return f"{readable}-{suffix}" if readable else suffix


def client_request_token(*parts: object) -> str:
    """An idempotency token (1-256 chars, ``[a-zA-Z0-9](-*[a-zA-Z0-9])*``) derived from ``parts``."""
    return digest(*parts, length=48)
