"""Deterministic train/validation split.

A record's side depends only on its prompt text and a seed, so the same prompt never lands on both sides,
re-runs produce identical files, and adding records never moves existing ones to the other side.
"""

from __future__ import annotations

import hashlib

TRAIN = "train"
VALIDATION = "validation"


def assign_split(prompt: str, *, seed: int = 0, validation_fraction: float = 0.2) -> str:
    """Return ``"train"`` or ``"validation"`` for a prompt, stable across runs and machines."""
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"validation_fraction must be in [0, 1), got {validation_fraction}")
    digest = hashlib.sha256(f"{seed}\x1f{prompt}".encode()).digest()
    position = int.from_bytes(digest[:8], "big") / 2**64
    return VALIDATION if position < validation_fraction else TRAIN
