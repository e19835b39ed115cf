"""Training records in the format of the tests' default base model, Nova Micro (bedrock-conversation-2024).

Tests that train a model in the emulator write these rather than Titan's old ``{"prompt", "completion"}``
records: AWS no longer offers Titan Text for fine-tuning.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

#: The default base model of the DAGs, and of the tests that customize a model.
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
#: Its on-demand id (what a base-model baseline is invoked with).
NOVA_MICRO_ON_DEMAND = "amazon.nova-micro-v1:0"
#: Fine-tuning only, no validation set, no on-demand deployment of its custom models.
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"


def conversation(prompt: str, completion: str) -> dict:
    """One single-turn bedrock-conversation-2024 record."""
    return {
        "schemaVersion": "bedrock-conversation-2024",
        "messages": [
            {"role": "user", "content": [{"text": prompt}]},
            {"role": "assistant", "content": [{"text": completion}]},
        ],
    }


def conversation_jsonl(pairs: Iterable[tuple[str, str]]) -> str:
    """JSON Lines of :func:`conversation` records, one per (prompt, completion), newline-terminated."""
    return "".join(json.dumps(conversation(prompt, completion)) + "\n" for prompt, completion in pairs)


def invocation_log(
    prompt: str,
    response: str | None,
    metadata: dict[str, str] | None = None,
    *,
    request_id: str = "00000000-0000-0000-0000-000000000000",
    model_id: str = "amazon.nova-pro-v1:0",
) -> dict:
    """One model invocation log record of a Converse call, as model invocation logging delivers it to S3
    (user guide pages model-invocation-logging and add-metadata-to-prompts): ``schemaType``, ``timestamp``,
    ``modelId``, ``input.inputBodyJson``, ``output.outputBodyJson`` and the caller's ``requestMetadata``.
    ``response=None`` logs a call without output (e.g. text data delivery of the output off)."""
    record: dict = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": "2026-11-20T10:15:00Z",
        "accountId": "123456789012",
        "identity": {"arn": "arn:aws:sts::123456789012:assumed-role/support-bot/session"},
        "region": "us-east-1",
        "requestId": request_id,
        "operation": "Converse",
        "modelId": model_id,
        "input": {
            "inputContentType": "application/json",
            "inputBodyJson": {
                "messages": [{"role": "user", "content": [{"text": prompt}]}],
                "inferenceConfig": {"maxTokens": 512},
            },
            "inputTokenCount": max(1, len(prompt) // 4),
        },
    }
    if response is not None:
        record["output"] = {
            "outputContentType": "application/json",
            "outputBodyJson": {
                "output": {"message": {"role": "assistant", "content": [{"text": response}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": max(1, len(prompt) // 4), "outputTokens": max(1, len(response) // 4)},
            },
            "outputTokenCount": max(1, len(response) // 4),
        }
    if metadata:
        record["requestMetadata"] = dict(metadata)
    return record


def invocation_log_object(records: Iterable[dict]) -> bytes:
    """A gzipped S3 object of invocation log records, one JSON record per line (model-invocation-logging)."""
    import gzip

    return gzip.compress("".join(json.dumps(record) + "\n" for record in records).encode())
