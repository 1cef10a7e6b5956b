"""Adam, AdamW, Adamax, Nadam: PyTorch parity, Keras's formulas (epsilon placement), config."""

import math

import numpy as np
import pytest

from shinsou import optimizers
from support import torch


def keras_adam(lr, beta_1, beta_2, epsilon, amsgrad=False, weight_decay=0.0):
    """Keras's Adam (and AdamW) step, in float64."""

    def step(w, g, state, t):
        w -= w * weight_decay * lr
        m = state["m"] = state.get("m", 0.0) + (g - state.get("m", 0.0)) * (1 - beta_1)
        v = state["v"] = state.get("v", 0.0) + (g * g - state.get("v", 0.0)) * (1 - beta_2)
        if amsgrad:
            v = state["v_hat"] = np.maximum(state.get("v_hat", 0.0), v)
        alpha = lr * math.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        w -= m * alpha / (np.sqrt(v) + epsilon)

    return step


# Keras adds epsilon to sqrt(v), PyTorch to sqrt(v / (1 - beta_2**t)): Keras's epsilon is
# PyTorch's eps * sqrt(1 - beta_2**t), i.e. at step 1 Keras's default 1e-7 acts like PyTorch's
# 3.2e-6, which moves the update of a gradient element of 1e-3 by 0.3%. So the PyTorch
# comparisons use epsilon=1e-10 on both sides (a difference of ~1e-9 relative), and the
# reference tests below use a large epsilon, where the placement matters, to pin Keras's
# formula down.
@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_matches_torch(problem, trajectory, amsgrad):
    optimizer = optimizers.Adam(learning_rate=0.05, epsilon=1e-10, amsgrad=amsgrad)
    theirs = trajectory.torch(
        lambda p: torch.optim.Adam(p, lr=0.05, eps=1e-10, amsgrad=amsgrad), *problem
    )
    trajectory.assert_same(trajectory.shinsou(optimizer, *problem), theirs)


def test_adamw_matches_torch(problem, trajectory):
    optimizer = optimizers.AdamW(learning_rate=0.05, weight_decay=0.2, epsilon=1e-10)
    ours = trajectory.shinsou(optimizer, *problem)
    theirs = trajectory.torch(
        lambda p: torch.optim.AdamW(p, lr=0.05, eps=1e-10, weight_decay=0.2), *problem
    )
    trajectory.assert_same(ours, theirs)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_follows_keras_epsilon_placement(problem, trajectory, amsgrad):
    optimizer = optimizers.Adam(learning_rate=0.05, epsilon=0.1, amsgrad=amsgrad)
    ours = trajectory.shinsou(optimizer, *problem)
    reference = trajectory.reference(keras_adam(0.05, 0.9, 0.999, 0.1, amsgrad), *problem)
    trajectory.assert_same(ours, reference)
    if torch is not None:  # ... which is not PyTorch's at this epsilon
        theirs = trajectory.torch(lambda p: torch.optim.Adam(p, lr=0.05, eps=0.1), *problem)
        assert not np.allclose(ours[-1][0], theirs[-1][0], rtol=1e-3)


def test_adamw_follows_keras_formula(problem, trajectory):
    optimizer = optimizers.AdamW(learning_rate=0.05, weight_decay=0.3, epsilon=0.1)
    reference = trajectory.reference(keras_adam(0.05, 0.9, 0.999, 0.1, weight_decay=0.3), *problem)
    trajectory.assert_same(trajectory.shinsou(optimizer, *problem), reference)


def test_adamax_matches_torch_without_epsilon(problem, trajectory):
    # PyTorch adds eps inside the max, Keras to the denominator: they agree at eps=0.
    ours = trajectory.shinsou(optimizers.Adamax(learning_rate=0.05, epsilon=0.0), *problem)
    theirs = trajectory.torch(lambda p: torch.optim.Adamax(p, lr=0.05, eps=0.0), *problem)
    trajectory.assert_same(ours, theirs)


def test_adamax_follows_keras_formula(problem, trajectory):
    def keras_step(w, g, state, t):
        m = state["m"] = state.get("m", 0.0) + (g - state.get("m", 0.0)) * 0.1
        u = state["u"] = np.maximum(0.999 * state.get("u", 0.0), np.abs(g))
        w -= 0.05 / (1 - 0.9**t) * m / (u + 0.1)

    ours = trajectory.shinsou(optimizers.Adamax(learning_rate=0.05, epsilon=0.1), *problem)
    trajectory.assert_same(ours, trajectory.reference(keras_step, *problem))


def keras_nadam(lr, beta_1, beta_2, epsilon):
    """Keras's Nadam step, in float64 (the momentum product is shared by all variables)."""
    products = {}

    def step(w, g, state, t):
        u_t = beta_1 * (1 - 0.5 * 0.96**t)
        u_next = beta_1 * (1 - 0.5 * 0.96 ** (t + 1))
        if t not in products:
            products[t] = products.get(t - 1, 1.0) * u_t
        product = products[t]
        m = state["m"] = state.get("m", 0.0) + (g - state.get("m", 0.0)) * (1 - beta_1)
        v = state["v"] = state.get("v", 0.0) + (g * g - state.get("v", 0.0)) * (1 - beta_2)
        m_hat = u_next * m / (1 - product * u_next) + (1 - u_t) * g / (1 - product)
        v_hat = v / (1 - beta_2**t)
        w -= lr * m_hat / (np.sqrt(v_hat) + epsilon)

    return step


def test_nadam_follows_keras_formula(problem, trajectory):
    ours = trajectory.shinsou(optimizers.Nadam(learning_rate=0.05, epsilon=0.1), *problem)
    reference = trajectory.reference(keras_nadam(0.05, 0.9, 0.999, 0.1), *problem)
    trajectory.assert_same(ours, reference)


def test_nadam_matches_torch_with_keras_momentum_schedule(problem, trajectory):
    # Keras's u_t = beta_1 * (1 - 0.5 * 0.96**t) is PyTorch's NAdam with momentum_decay=1
    # (PyTorch's default 0.004 is another schedule); the epsilon placement is the same.
    ours = trajectory.shinsou(optimizers.Nadam(learning_rate=0.05), *problem)
    theirs = trajectory.torch(
        lambda p: torch.optim.NAdam(p, lr=0.05, eps=1e-7, momentum_decay=1.0), *problem
    )
    trajectory.assert_same(ours, theirs)


def test_defaults_and_config_keys():
    base_keys = {
        "name",
        "learning_rate",
        "weight_decay",
        "clipnorm",
        "global_clipnorm",
        "clipvalue",
        "use_ema",
        "ema_momentum",
        "ema_overwrite_frequency",
        "loss_scale_factor",
        "gradient_accumulation_steps",
    }
    adam = optimizers.Adam().get_config()
    assert set(adam) == base_keys | {"beta_1", "beta_2", "epsilon", "amsgrad"}
    assert (adam["name"], adam["beta_1"], adam["beta_2"], adam["epsilon"]) == (
        "adam",
        0.9,
        0.999,
        1e-7,
    )
    assert adam["learning_rate"] == pytest.approx(0.001)
    adamw = optimizers.AdamW().get_config()
    assert (adamw["name"], adamw["weight_decay"]) == ("adamw", 0.004)
    assert set(optimizers.Adamax().get_config()) == base_keys | {"beta_1", "beta_2", "epsilon"}
    assert optimizers.Nadam().get_config()["name"] == "nadam"


def test_slot_variables_in_keras_order():
    from shinsou import Variable

    a, b = Variable(np.zeros(2, "float32"), name="a"), Variable(np.zeros(3, "float32"), name="b")
    adam = optimizers.Adam(amsgrad=True)
    adam.build([a, b])
    assert [v.name for v in adam.variables] == [
        "iteration",
        "learning_rate",
        "a_momentum",  # Keras interleaves the slots it creates together, per variable
        "a_velocity",
        "b_momentum",
        "b_velocity",
        "a_velocity_hat",
        "b_velocity_hat",
    ]
    adamax = optimizers.Adamax()
    adamax.build(
        [Variable(np.zeros(2, "float32"), name="a"), Variable(np.zeros(1, "float32"), name="b")]
    )
    assert [v.name for v in adamax.variables][2:] == [
        "a_momentum",
        "a_norm",
        "b_momentum",
        "b_norm",
    ]
    nadam = optimizers.Nadam()
    nadam.build([Variable(np.zeros(2, "float32"), name="a")])
    assert [v.name for v in nadam.variables][-1] == "u_product"


def test_rejects_bad_arguments():
    with pytest.raises(
        ValueError, match=r"Adam: beta_1 must be in \[0.0, 1.0\); received beta_1=1.0"
    ):
        optimizers.Adam(beta_1=1.0)
    with pytest.raises(ValueError, match="Nadam: epsilon must be >= 0.0"):
        optimizers.Nadam(epsilon=-1e-7)
    with pytest.raises(ValueError, match="AdamW: weight_decay must be a float"):
        optimizers.AdamW(weight_decay=None)
    with pytest.raises(ValueError, match="Adamax: argument\\(s\\) not recognized: \\{'betas'"):
        optimizers.Adamax(betas=(0.9, 0.99))
