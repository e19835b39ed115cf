"""Deterministic loss curves for emulated model customization jobs (pure; no moto, no I/O).

The model is a toy but behaves the way real fine-tuning runs do, so that hyperparameter sweeps
have a meaningful winner:

* training loss decays exponentially with training progress (in epochs), so more epochs always
  end lower; progress per epoch shrinks as the learning rate moves away from the family's
  optimum (Titan/Cohere/Nova 1e-5, Llama 1e-4, Claude ``learningRateMultiplier`` 1.0);
* a learning rate more than ~10x the optimum diverges: the loss rises step after step;
* validation loss (one value per epoch) adds an overfitting term that grows with epochs and
  shrinks with dataset size, so it is U-shaped with an optimum epoch count that grows with the
  number of training records, plus a penalty growing with ``|log10(lr / optimum)|``;
* ``batchSize`` sets the steps per epoch (``ceil(n / batch)``) and nudges the loss up a little;
  warm-up steps slow the first steps slightly.

Noise is tiny and seeded from the inputs only, so the same inputs always give the same curves.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass

#: Longest training curve returned; longer runs are logged every k-th step (and the last step).
MAX_LOGGED_STEPS = 5000


@dataclass(frozen=True)
class FamilyProfile:
    """Default hyperparameters and loss scale of one base-model family."""

    epochs: int
    batch_size: int
    learning_rate: float
    warmup_steps: int
    learning_rate_key: str
    start_loss: float


PROFILES: dict[str, FamilyProfile] = {
    "titan": FamilyProfile(5, 1, 1e-5, 5, "learningRate", 2.6),
    "anthropic": FamilyProfile(2, 32, 1.0, 0, "learningRateMultiplier", 1.9),
    "meta": FamilyProfile(5, 1, 1e-4, 0, "learningRate", 2.2),
    "cohere": FamilyProfile(1, 8, 1e-5, 0, "learningRate", 2.5),
    "nova": FamilyProfile(2, 1, 1e-5, 10, "learningRate", 2.3),
}


@dataclass(frozen=True)
class StepLoss:
    """Training loss after one optimizer step (``epoch`` is 1-based)."""

    step: int
    epoch: int
    loss: float


@dataclass(frozen=True)
class EpochLoss:
    """Validation loss at the end of one epoch (1-based)."""

    epoch: int
    loss: float


@dataclass(frozen=True)
class LossCurves:
    """Simulated metrics of one customization job."""

    family: str
    epochs: int
    batch_size: int
    steps_per_epoch: int
    training: list[StepLoss]
    validation: list[EpochLoss]
    diverged: bool

    @property
    def total_steps(self) -> int:
        """Number of optimizer steps of the whole run."""
        return self.epochs * self.steps_per_epoch

    @property
    def final_training_loss(self) -> float:
        """Training loss at the last step."""
        return self.training[-1].loss

    @property
    def final_validation_loss(self) -> float | None:
        """Validation loss after the last epoch, or None without validation data."""
        return self.validation[-1].loss if self.validation else None


def family_of(base_model_id: str) -> str:
    """The loss profile for a base model id or ARN (defaults to Titan's)."""
    model = base_model_id.rsplit("/", 1)[-1].lower()
    if model.startswith("anthropic."):
        return "anthropic"
    if model.startswith("meta."):
        return "meta"
    if model.startswith("cohere."):
        return "cohere"
    if model.startswith("amazon.nova"):
        return "nova"
    return "titan"


def _number(hyperparameters: dict[str, str], key: str, default: float) -> float:
    try:
        value = float(hyperparameters[key])
    except (KeyError, TypeError, ValueError):
        return default
    return value if math.isfinite(value) else default


def _seed(*parts: object) -> int:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()
    return int(digest[:16], 16)


def simulate(
    base_model_id: str,
    hyperparameters: dict[str, str],
    n_train_records: int,
    n_validation_records: int,
) -> LossCurves:
    """Per-step training loss and per-epoch validation loss for a job with these inputs."""
    family = family_of(base_model_id)
    profile = PROFILES[family]
    epochs = max(1, int(_number(hyperparameters, "epochCount", profile.epochs)))
    batch = max(1, int(_number(hyperparameters, "batchSize", profile.batch_size)))
    lr = _number(hyperparameters, profile.learning_rate_key, profile.learning_rate)
    warmup = max(0, int(_number(hyperparameters, "learningRateWarmupSteps", profile.warmup_steps)))
    n_train = max(1, n_train_records)
    steps_per_epoch = math.ceil(n_train / batch)
    total = epochs * steps_per_epoch
    rng = random.Random(_seed(family, sorted(hyperparameters.items()), n_train_records, n_validation_records))

    log_ratio = math.log10(lr / profile.learning_rate) if lr > 0 else -3.0
    distance = abs(log_ratio)
    diverged = log_ratio > 1.05
    batch_effect = 0.012 * math.log2(batch)
    rate = 1.0 / (1.0 + 1.2 * distance) / (1.0 + 0.04 * math.log2(batch))
    start = profile.start_loss
    train_floor = 0.06 * start + batch_effect + 0.3 * distance**2
    blowup = 0.25 * (log_ratio - 0.8)

    def train_loss(progress: float) -> float:
        if diverged:
            return min(50.0, start * (1.0 + blowup * progress))
        return train_floor + (start - train_floor) * math.exp(-rate * progress)

    stride = max(1, math.ceil(total / MAX_LOGGED_STEPS))
    training: list[StepLoss] = []
    progress = 0.0
    for step in range(1, total + 1):
        ramp = min(1.0, step / warmup) if warmup else 1.0
        progress += ramp / steps_per_epoch
        noise = rng.uniform(-0.004, 0.004)
        if step % stride == 0 or step == total:
            epoch = (step - 1) // steps_per_epoch + 1
            training.append(StepLoss(step, epoch, round(train_loss(progress) * (1 + noise), 6)))

    validation: list[EpochLoss] = []
    if n_validation_records > 0:
        val_floor = 0.12 * start + batch_effect + 0.35 * distance**2
        overfit = 0.02 * start / math.sqrt(n_train / 100.0)
        warm_epochs = warmup / steps_per_epoch / 2.0
        for epoch in range(1, epochs + 1):
            seen = max(0.0, epoch - warm_epochs)
            if diverged:
                value = min(50.0, start * 1.1 * (1.0 + blowup * seen))
            else:
                value = val_floor + (start - val_floor) * math.exp(-rate * seen) + overfit * epoch
            value *= 1 + rng.uniform(-0.002, 0.002)
            validation.append(EpochLoss(epoch, round(value, 6)))

    return LossCurves(family, epochs, batch, steps_per_epoch, training, validation, diverged)
