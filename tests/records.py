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
