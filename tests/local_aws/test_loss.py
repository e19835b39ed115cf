"""The deterministic loss-curve model (pure)."""

from __future__ import annotations

import math

from include.local_aws.loss import simulate

from .helpers import CLAUDE, TITAN

LLAMA = "meta.llama3-1-8b-instruct-v1:0:128k"


def best_epoch(n_train: int) -> int:
    curves = simulate(TITAN, {"epochCount": "10", "batchSize": "8"}, n_train, 50)
    losses = [point.loss for point in curves.validation]
    return losses.index(min(losses)) + 1


def test_same_inputs_same_curves() -> None:
    first = simulate(TITAN, {"epochCount": "3"}, 120, 12)
    assert first == simulate(TITAN, {"epochCount": "3"}, 120, 12)
    assert first != simulate(TITAN, {"epochCount": "3"}, 121, 12)


def test_shapes_follow_batch_size_and_epochs() -> None:
    curves = simulate(TITAN, {"epochCount": "3", "batchSize": "8"}, 100, 10)
    assert curves.steps_per_epoch == math.ceil(100 / 8)
    assert [p.step for p in curves.training] == list(range(1, 3 * 13 + 1))
    assert {p.epoch for p in curves.training} == {1, 2, 3}
    assert [p.epoch for p in curves.validation] == [1, 2, 3]
    assert simulate(TITAN, {}, 100, 0).validation == []
    assert simulate(TITAN, {}, 100, 0).final_validation_loss is None


def test_family_defaults_apply() -> None:
    claude = simulate(CLAUDE, {}, 64, 8)
    assert (claude.epochs, claude.batch_size, claude.steps_per_epoch) == (2, 32, 2)
    assert simulate(TITAN, {}, 10, 0).epochs == 5


def test_more_epochs_lower_final_training_loss() -> None:
    losses = [simulate(TITAN, {"epochCount": str(e)}, 100, 10).final_training_loss for e in (1, 2, 5, 10)]
    assert losses == sorted(losses, reverse=True)
    assert len(set(losses)) == 4


def test_training_loss_decreases_over_a_normal_run() -> None:
    curves = simulate(TITAN, {"epochCount": "4"}, 50, 0)
    assert curves.final_training_loss < curves.training[0].loss * 0.5
    assert not curves.diverged


def test_too_high_learning_rate_diverges() -> None:
    curves = simulate(TITAN, {"learningRate": "5e-4"}, 100, 10)
    assert curves.diverged
    assert curves.final_training_loss > curves.training[0].loss
    assert curves.validation[-1].loss > curves.validation[0].loss
    llama = simulate(LLAMA, {"learningRate": "1e-2"}, 100, 0)
    assert llama.diverged and llama.final_training_loss > llama.training[0].loss
    assert not simulate(LLAMA, {"learningRate": "1e-4"}, 100, 0).diverged


def test_learning_rate_optimum_near_family_default() -> None:
    def final_val(base: str, key: str, value: float) -> float:
        loss = simulate(base, {"epochCount": "3", key: repr(value)}, 200, 20).final_validation_loss
        assert loss is not None
        return loss

    titan = [final_val(TITAN, "learningRate", lr) for lr in (1e-7, 1e-6, 1e-5, 5e-5)]
    assert min(titan) == titan[2]
    assert titan[0] > titan[1] > titan[2]
    llama = [final_val(LLAMA, "learningRate", lr) for lr in (1e-5, 1e-4, 8e-4)]
    assert min(llama) == llama[1]
    claude = [final_val(CLAUDE, "learningRateMultiplier", m) for m in (0.1, 0.5, 1.0, 2.0)]
    assert min(claude) == claude[2]


def test_validation_loss_is_u_shaped_and_optimum_grows_with_data() -> None:
    curves = simulate(TITAN, {"epochCount": "10", "batchSize": "8"}, 100, 20)
    losses = [p.loss for p in curves.validation]
    best = losses.index(min(losses))
    assert 0 < best < len(losses) - 1
    assert losses[-1] > min(losses) + 0.1
    assert best_epoch(100) < best_epoch(1000) < best_epoch(10000)


def test_two_by_two_grid_has_unique_best() -> None:
    results = {}
    for epochs in ("2", "5"):
        for lr in ("1e-5", "1e-4"):
            loss = simulate(TITAN, {"epochCount": epochs, "learningRate": lr}, 100, 20).final_validation_loss
            assert loss is not None
            results[(epochs, lr)] = loss
    ranked = sorted(results.values())
    assert ranked[1] - ranked[0] > 0.01
    best = min(results, key=lambda key: results[key])
    assert best[1] == "1e-5"


def test_batch_size_and_warmup_have_mild_effects() -> None:
    base = simulate(TITAN, {"batchSize": "1"}, 100, 10).final_validation_loss
    bigger = simulate(TITAN, {"batchSize": "16"}, 100, 10).final_validation_loss
    warm = simulate(TITAN, {"learningRateWarmupSteps": "100"}, 100, 10).final_validation_loss
    assert base is not None and bigger is not None and warm is not None
    assert 0 < bigger - base < 0.5
    assert 0 <= warm - base < 0.2


def test_garbage_hyperparameters_fall_back_to_defaults() -> None:
    assert simulate(TITAN, {"epochCount": "many"}, 30, 0) == simulate(TITAN, {"epochCount": "many"}, 30, 0)
    assert simulate(TITAN, {"epochCount": "many"}, 30, 0).epochs == 5


def test_long_runs_are_subsampled() -> None:
    curves = simulate(TITAN, {"epochCount": "10"}, 10000, 0)
    assert curves.total_steps == 100000
    assert len(curves.training) <= 5000
    assert curves.training[-1].step == 100000
