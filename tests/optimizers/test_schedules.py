"""Learning-rate schedules: values against the documented formulas, PyTorch parity where
PyTorch has the same schedule, config round trips and bad input."""

import math

import numpy as np
import pytest

from shinsou.optimizers import schedules
from support import torch

STEPS = [0, 1, 5, 9, 10, 11, 25, 40, 100]


def values(schedule, steps=STEPS):
    results = [schedule(step) for step in steps]
    assert all(r.dtype == np.float32 and r.shape == () for r in results)
    return np.array([float(r) for r in results])


@pytest.mark.parametrize("staircase", [False, True])
def test_exponential_decay(staircase):
    schedule = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5, staircase=staircase)
    exponent = [s // 10 if staircase else s / 10 for s in STEPS]
    np.testing.assert_allclose(values(schedule), [0.1 * 0.5**e for e in exponent], rtol=1e-6)


def test_piecewise_constant_decay():
    schedule = schedules.PiecewiseConstantDecay([5, 10], [1.0, 0.5, 0.1])
    expected = [1.0, 1.0, 1.0, 0.5, 0.5, 0.1, 0.1, 0.1, 0.1]  # values[0] while step <= 5
    np.testing.assert_allclose(values(schedule), expected, rtol=1e-6)


@pytest.mark.parametrize("cycle", [False, True])
def test_polynomial_decay(cycle):
    schedule = schedules.PolynomialDecay(0.1, 10, end_learning_rate=0.01, power=0.5, cycle=cycle)
    expected = []
    for step in STEPS:
        if cycle:
            decay_steps = 10 * (math.ceil(step / 10) if step else 1)
        else:
            decay_steps, step = 10, min(step, 10)
        expected.append((0.1 - 0.01) * (1 - step / decay_steps) ** 0.5 + 0.01)
    np.testing.assert_allclose(values(schedule), expected, rtol=1e-6)


@pytest.mark.parametrize("staircase", [False, True])
def test_inverse_time_decay(staircase):
    schedule = schedules.InverseTimeDecay(0.1, decay_steps=4, decay_rate=0.5, staircase=staircase)
    ratio = [s // 4 if staircase else s / 4 for s in STEPS]
    np.testing.assert_allclose(values(schedule), [0.1 / (1 + 0.5 * r) for r in ratio], rtol=1e-6)


def test_cosine_decay_without_warmup():
    schedule = schedules.CosineDecay(0.1, decay_steps=20, alpha=0.1)
    expected = [
        0.1 * ((1 - 0.1) * 0.5 * (1 + math.cos(math.pi * min(s, 20) / 20)) + 0.1) for s in STEPS
    ]
    np.testing.assert_allclose(values(schedule), expected, rtol=1e-6)


def test_cosine_decay_with_warmup():
    schedule = schedules.CosineDecay(
        0.0, decay_steps=30, alpha=0.0, warmup_target=0.2, warmup_steps=10
    )
    expected = []
    for step in STEPS:
        step = min(step, 40)
        if step < 10:
            expected.append(0.2 * step / 10)
        else:
            expected.append(0.2 * 0.5 * (1 + math.cos(math.pi * (step - 10) / 30)))
    np.testing.assert_allclose(values(schedule), expected, rtol=1e-6, atol=1e-9)


def test_cosine_decay_matches_torch_cosine_annealing():
    if torch is None:
        pytest.skip("PyTorch is not installed")
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=20, eta_min=0.01)
    theirs = []
    for _ in range(21):
        theirs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    ours = values(schedules.CosineDecay(0.1, 20, alpha=0.1), range(21))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5)


@pytest.mark.parametrize("t_mul, m_mul", [(2.0, 1.0), (1.0, 0.5), (1.5, 0.8)])
def test_cosine_decay_restarts(t_mul, m_mul):
    schedule = schedules.CosineDecayRestarts(0.1, 4, t_mul=t_mul, m_mul=m_mul, alpha=0.05)
    expected = []
    for step in range(60):
        start, length, restart = 0.0, 4.0, 0  # walk the periods one by one
        while step >= start + length:
            start, length, restart = start + length, length * t_mul, restart + 1
        cosine = 0.5 * m_mul**restart * (1 + math.cos(math.pi * (step - start) / length))
        expected.append(0.1 * ((1 - 0.05) * cosine + 0.05))
    np.testing.assert_allclose(values(schedule, range(60)), expected, rtol=1e-5, atol=1e-8)


def test_cosine_decay_restarts_matches_torch_warm_restarts():
    if torch is None:
        pytest.skip("PyTorch is not installed")
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=0.1)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(optimizer, T_0=3, T_mult=2)
    theirs = []
    for _ in range(30):
        theirs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    ours = values(schedules.CosineDecayRestarts(0.1, 3, t_mul=2.0), range(30))
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-8)


ALL = [
    schedules.ExponentialDecay(0.1, 100, 0.9, staircase=True),
    schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001]),
    schedules.PolynomialDecay(0.1, 100, power=2.0, cycle=True),
    schedules.InverseTimeDecay(0.1, 10, 0.5),
    schedules.CosineDecay(0.1, 100, alpha=0.1, warmup_target=0.2, warmup_steps=10),
    schedules.CosineDecayRestarts(0.1, 10, t_mul=1.5, m_mul=0.9, alpha=0.01),
]


@pytest.mark.parametrize("schedule", ALL, ids=lambda s: type(s).__name__)
def test_config_round_trip(schedule):
    clone = type(schedule).from_config(schedule.get_config())
    assert clone.get_config() == schedule.get_config()
    revived = schedules.deserialize(schedules.serialize(schedule))
    assert type(revived) is type(schedule)
    np.testing.assert_array_equal(values(revived), values(schedule))


def test_keras_config_keys():
    assert set(schedules.CosineDecay(0.1, 10).get_config()) == {
        "initial_learning_rate",
        "decay_steps",
        "alpha",
        "name",
        "warmup_target",
        "warmup_steps",
    }
    assert schedules.CosineDecayRestarts(0.1, 10).get_config()["name"] == "SGDRDecay"
    assert schedules.serialize(ALL[0])["module"] == "keras.optimizers.schedules"


def test_custom_schedule_and_custom_objects():
    class Halving(schedules.LearningRateSchedule):
        def __init__(self, rate):
            self.rate = rate

        def __call__(self, step):
            return self.rate / 2 ** int(step)

        def get_config(self):
            return {"rate": self.rate}

    config = schedules.serialize(Halving(1.0))
    assert schedules.deserialize(config, custom_objects={"Halving": Halving})(2) == 0.25
    with pytest.raises(ValueError, match="unknown learning rate schedule 'Halving'"):
        schedules.deserialize(config)
    with pytest.raises(NotImplementedError, match="must override __call__"):
        schedules.LearningRateSchedule()(0)


def test_bad_arguments():
    with pytest.raises(ValueError, match="ExponentialDecay: decay_steps must be > 0"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="boundaries must have one element fewer than values"):
        schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.01])
    with pytest.raises(ValueError, match="boundaries must increase strictly"):
        schedules.PiecewiseConstantDecay([20, 10], [0.1, 0.01, 0.001])
    with pytest.raises(TypeError, match="CosineDecay: initial_learning_rate must be a number"):
        schedules.CosineDecay("0.1", 10)
    with pytest.raises(ValueError, match="CosineDecayRestarts: first_decay_steps must be > 0"):
        schedules.CosineDecayRestarts(0.1, -5)
    with pytest.raises(TypeError, match="expected a LearningRateSchedule"):
        schedules.serialize(0.1)
    with pytest.raises(TypeError, match="expected a dict with 'class_name'"):
        schedules.deserialize("ExponentialDecay")
