"""SGD: PyTorch parity (plain, momentum, Nesterov), Keras's formula, defaults, bad input."""

import numpy as np
import pytest

from shinsou import Variable, optimizers
from support import torch


@pytest.mark.parametrize(
    "momentum, nesterov", [(0.0, False), (0.9, False), (0.9, True), (0.5, True)]
)
def test_sgd_matches_torch(problem, trajectory, momentum, nesterov):
    # Keras's velocity is -learning_rate times PyTorch's buffer (dampening 0), so the two
    # agree step for step while the learning rate is constant.
    ours = trajectory.shinsou(
        optimizers.SGD(learning_rate=0.1, momentum=momentum, nesterov=nesterov), *problem
    )
    theirs = trajectory.torch(
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=momentum, nesterov=nesterov), *problem
    )
    trajectory.assert_same(ours, theirs)


def test_sgd_follows_keras_formula_with_changing_learning_rate(problem, trajectory):
    # With a schedule the two conventions part ways; Keras's is velocity = m * v - lr * g.
    schedule = optimizers.schedules.InverseTimeDecay(0.2, decay_steps=1, decay_rate=0.5)

    def keras_step(w, g, state, t):
        lr = 0.2 / (1 + 0.5 * (t - 1))
        velocity = state.get("v", 0.0) * 0.9 - lr * g
        state["v"] = velocity
        w += 0.9 * velocity - lr * g

    ours = trajectory.shinsou(
        optimizers.SGD(learning_rate=schedule, momentum=0.9, nesterov=True), *problem
    )
    trajectory.assert_same(ours, trajectory.reference(keras_step, *problem))


def test_sgd_defaults_and_config():
    optimizer = optimizers.SGD()
    config = optimizer.get_config()
    assert config["name"] == "SGD"
    assert config["learning_rate"] == pytest.approx(0.01)
    assert (config["momentum"], config["nesterov"]) == (0.0, False)
    clone = optimizers.SGD.from_config(optimizers.SGD(0.5, momentum=0.8).get_config())
    assert (clone.momentum, float(clone.learning_rate)) == (0.8, 0.5)


def test_sgd_creates_momentum_slots_only_with_momentum():
    w = Variable(np.zeros((2, 3), "float32"), name="w")
    plain, heavy = optimizers.SGD(), optimizers.SGD(momentum=0.9)
    plain.build([w])
    heavy.build([Variable(np.zeros((2, 3), "float32"), name="w")])
    assert [v.name for v in plain.variables] == ["iteration", "learning_rate"]
    assert [v.name for v in heavy.variables] == ["iteration", "learning_rate", "w_momentum"]


def test_sgd_rejects_bad_arguments():
    with pytest.raises(
        ValueError, match=r"SGD: momentum must be in \[0.0, 1.0\]; received momentum=1.5"
    ):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(
        ValueError, match="learning_rate must be >= 0.0; received learning_rate=-0.1"
    ):
        optimizers.SGD(learning_rate=-0.1)
    with pytest.raises(
        TypeError, match="learning_rate must be a number; received learning_rate='fast'"
    ):
        optimizers.SGD(learning_rate="fast")
