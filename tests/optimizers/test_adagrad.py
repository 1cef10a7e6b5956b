"""Adagrad and Adadelta: PyTorch parity, Keras's formulas, defaults, bad input."""

import numpy as np
import pytest

from shinsou import Variable, optimizers
from support import torch


def test_adagrad_matches_torch_without_epsilon(problem, trajectory):
    # Same initial accumulator (Keras's default 0.1); PyTorch adds eps outside the root.
    ours = trajectory.shinsou(optimizers.Adagrad(learning_rate=0.1, epsilon=0.0), *problem)
    theirs = trajectory.torch(
        lambda p: torch.optim.Adagrad(p, lr=0.1, initial_accumulator_value=0.1, eps=0.0),
        *problem,
    )
    trajectory.assert_same(ours, theirs)


def test_adagrad_follows_keras_formula(problem, trajectory):
    def keras_step(w, g, state, t):
        accumulator = state["acc"] = state.get("acc", 0.2) + g * g
        w -= 0.1 * g / np.sqrt(accumulator + 0.5)

    optimizer = optimizers.Adagrad(0.1, initial_accumulator_value=0.2, epsilon=0.5)
    trajectory.assert_same(
        trajectory.shinsou(optimizer, *problem), trajectory.reference(keras_step, *problem)
    )


def test_adadelta_matches_torch(problem, trajectory):
    # Both put epsilon inside both roots: the formulas are identical.
    ours = trajectory.shinsou(optimizers.Adadelta(learning_rate=1.0, rho=0.9), *problem)
    theirs = trajectory.torch(
        lambda p: torch.optim.Adadelta(p, lr=1.0, rho=0.9, eps=1e-7), *problem
    )
    trajectory.assert_same(ours, theirs)


def test_adadelta_follows_keras_formula(problem, trajectory):
    def keras_step(w, g, state, t):
        acc_g = state["g"] = 0.9 * state.get("g", 0.0) + 0.1 * g * g
        delta = -np.sqrt(state.get("d", 0.0) + 0.01) / np.sqrt(acc_g + 0.01) * g
        state["d"] = 0.9 * state.get("d", 0.0) + 0.1 * delta * delta
        w += 0.5 * delta

    optimizer = optimizers.Adadelta(learning_rate=0.5, rho=0.9, epsilon=0.01)
    trajectory.assert_same(
        trajectory.shinsou(optimizer, *problem), trajectory.reference(keras_step, *problem)
    )


def test_defaults_and_slots():
    adagrad = optimizers.Adagrad()
    config = adagrad.get_config()
    assert (config["name"], config["initial_accumulator_value"], config["epsilon"]) == (
        "adagrad",
        0.1,
        1e-7,
    )
    adagrad.build([Variable(np.zeros(3, "float32"), name="w")])
    accumulator = adagrad.variables[-1]
    assert accumulator.name == "w_accumulator"
    np.testing.assert_allclose(accumulator.numpy(), 0.1)
    adadelta = optimizers.Adadelta().get_config()
    assert (adadelta["name"], adadelta["rho"], adadelta["learning_rate"]) == (
        "adadelta",
        0.95,
        pytest.approx(0.001),
    )


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Adagrad: initial_accumulator_value must be >= 0.0"):
        optimizers.Adagrad(initial_accumulator_value=-1.0)
    with pytest.raises(ValueError, match=r"Adadelta: rho must be in \[0.0, 1.0\]"):
        optimizers.Adadelta(rho=2.0)
