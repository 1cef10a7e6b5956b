"""RMSprop: PyTorch parity, Keras's epsilon-inside-the-root formula, defaults, bad input."""

import numpy as np
import pytest

from shinsou import Variable, optimizers
from support import torch


def keras_rmsprop(lr, rho, momentum, epsilon, centered):
    def step(w, g, state, t):
        v = state["v"] = rho * state.get("v", 0.0) + (1 - rho) * g * g
        if centered:
            a = state["a"] = rho * state.get("a", 0.0) + (1 - rho) * g
            increment = lr * g / np.sqrt(v - a * a + epsilon)
        else:
            increment = lr * g / np.sqrt(v + epsilon)
        if momentum > 0:
            increment = state["m"] = momentum * state.get("m", 0.0) + increment
        w -= increment

    return step


CASES = [(0.0, False), (0.0, True), (0.9, False), (0.5, True)]


@pytest.mark.parametrize("momentum, centered", CASES)
def test_rmsprop_matches_torch_without_epsilon(problem, trajectory, momentum, centered):
    # PyTorch divides by sqrt(v) + eps, Keras by sqrt(v + eps): they agree at eps=0.
    optimizer = optimizers.RMSprop(0.01, rho=0.8, momentum=momentum, epsilon=0.0, centered=centered)
    theirs = trajectory.torch(
        lambda p: torch.optim.RMSprop(
            p, lr=0.01, alpha=0.8, eps=0.0, momentum=momentum, centered=centered
        ),
        *problem,
    )
    trajectory.assert_same(trajectory.shinsou(optimizer, *problem), theirs)


@pytest.mark.parametrize("momentum, centered", CASES)
def test_rmsprop_follows_keras_formula(problem, trajectory, momentum, centered):
    optimizer = optimizers.RMSprop(0.01, rho=0.8, momentum=momentum, epsilon=0.1, centered=centered)
    reference = trajectory.reference(keras_rmsprop(0.01, 0.8, momentum, 0.1, centered), *problem)
    trajectory.assert_same(trajectory.shinsou(optimizer, *problem), reference)


def test_rmsprop_keras_documentation_example():
    var = Variable(np.array(10.0, dtype="float32"))
    optimizers.RMSprop(learning_rate=0.1).apply([var.numpy()], [var])  # d(var**2 / 2) = var
    assert float(var.numpy()) == pytest.approx(9.683772, abs=1e-6)


def test_rmsprop_defaults_and_slots():
    config = optimizers.RMSprop().get_config()
    assert (config["name"], config["rho"], config["momentum"]) == ("rmsprop", 0.9, 0.0)
    assert (config["epsilon"], config["centered"]) == (1e-7, False)
    optimizer = optimizers.RMSprop(momentum=0.9, centered=True)
    optimizer.build([Variable(np.zeros(2, "float32"), name="w")])
    assert [v.name for v in optimizer.variables][2:] == [
        "w_velocity",
        "w_momentum",
        "w_average_gradient",
    ]


def test_rmsprop_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"RMSprop: rho must be in \[0.0, 1.0\]; received rho=1.1"):
        optimizers.RMSprop(rho=1.1)
    with pytest.raises(TypeError, match="RMSprop: epsilon must be a number"):
        optimizers.RMSprop(epsilon="small")
