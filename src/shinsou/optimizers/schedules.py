"""Learning-rate schedules (``keras.optimizers.schedules``): the learning rate as a function
of the optimizer's step.

A schedule is called with the step (an int, or the optimizer's ``iterations`` variable) and
returns the learning rate for that step as a float32 scalar tensor. Pass one as any
optimizer's ``learning_rate``; the optimizer evaluates it at ``optimizer.iterations`` before
each update. The formulas, argument names, defaults and ``get_config`` keys are Keras's.

Example:
    >>> from shinsou.optimizers import schedules
    >>> schedule = schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    >>> round(float(schedule(20)), 6)
    0.025
"""

from __future__ import annotations

import bisect
import itertools
import math
import numbers

from .. import backend
from ..backend import xp
from ..tensor import Tensor


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step)`` and ``get_config()``.

    Example:
        >>> class Halving(LearningRateSchedule):
        ...     def __init__(self, initial_learning_rate):
        ...         self.initial_learning_rate = initial_learning_rate
        ...     def __call__(self, step):
        ...         return self.initial_learning_rate / 2 ** int(step)
        ...     def get_config(self):
        ...         return {"initial_learning_rate": self.initial_learning_rate}
        >>> Halving(1.0)(3)
        0.125
    """

    def __call__(self, step):
        raise NotImplementedError(
            f"learning rate schedule '{type(self).__name__}' must override __call__(self, step)"
        )

    def get_config(self) -> dict:
        raise NotImplementedError(
            f"learning rate schedule '{type(self).__name__}' must override get_config() to be "
            "serializable"
        )

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _as_float(value) -> float:
    return float(value.data if isinstance(value, Tensor) else value)


def _result(value: float) -> Tensor:
    return Tensor._wrap(xp.asarray(value, dtype=backend.floatx()))


def _check_number(schedule, name, value, minimum=None, strictly_positive=False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise TypeError(f"{schedule}: {name} must be a number; received {name}={value!r}")
    if strictly_positive and value <= 0:
        raise ValueError(f"{schedule}: {name} must be > 0; received {name}={value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{schedule}: {name} must be >= {minimum}; received {name}={value!r}")


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``; with
    ``staircase=True`` the exponent is ``floor(step / decay_steps)``.

    Example:
        >>> schedule = ExponentialDecay(1.0, decay_steps=2, decay_rate=0.5, staircase=True)
        >>> [float(schedule(step)) for step in range(5)]
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="ExponentialDecay",
    ):
        _check_number("ExponentialDecay", "initial_learning_rate", initial_learning_rate)
        _check_number("ExponentialDecay", "decay_steps", decay_steps, strictly_positive=True)
        _check_number("ExponentialDecay", "decay_rate", decay_rate)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        exponent = _as_float(step) / self.decay_steps
        if self.staircase:
            exponent = math.floor(exponent)
        return _result(self.initial_learning_rate * self.decay_rate**exponent)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, and ``values[-1]`` after the last boundary.

    Example:
        >>> schedule = PiecewiseConstantDecay([10, 20], [1.0, 0.5, 0.1])
        >>> [round(float(schedule(step)), 6) for step in (10, 11, 20, 21)]
        [1.0, 0.5, 0.5, 0.1]
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "PiecewiseConstantDecay: boundaries must have one element fewer than values; "
                f"received {len(boundaries)} boundaries {boundaries} and {len(values)} values "
                f"{values}"
            )
        for index, value in enumerate(boundaries):
            _check_number("PiecewiseConstantDecay", f"boundaries[{index}]", value)
        if any(low >= high for low, high in itertools.pairwise(boundaries)):
            raise ValueError(
                f"PiecewiseConstantDecay: boundaries must increase strictly; received {boundaries}"
            )
        for index, value in enumerate(values):
            _check_number("PiecewiseConstantDecay", f"values[{index}]", value)
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step):
        # The number of boundaries strictly below the step picks the interval.
        return _result(self.values[bisect.bisect_left(self.boundaries, _as_float(step))])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """From ``initial_learning_rate`` to ``end_learning_rate`` over ``decay_steps``:
    ``(initial - end) * (1 - min(step, decay_steps) / decay_steps) ** power + end``. With
    ``cycle=True``, ``decay_steps`` is stretched to the first multiple above the step instead.

    Example:
        >>> schedule = PolynomialDecay(1.0, decay_steps=4, end_learning_rate=0.0)
        >>> [float(schedule(step)) for step in (0, 2, 4, 8)]
        [1.0, 0.5, 0.0, 0.0]
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        _check_number("PolynomialDecay", "initial_learning_rate", initial_learning_rate)
        _check_number("PolynomialDecay", "decay_steps", decay_steps, strictly_positive=True)
        _check_number("PolynomialDecay", "end_learning_rate", end_learning_rate)
        _check_number("PolynomialDecay", "power", power)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = cycle
        self.name = name

    def __call__(self, step):
        step = _as_float(step)
        decay_steps = float(self.decay_steps)
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        fraction_left = 1.0 - step / decay_steps
        span = self.initial_learning_rate - self.end_learning_rate
        return _result(span * fraction_left**self.power + self.end_learning_rate)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)``; with
    ``staircase=True`` the ratio ``step / decay_steps`` is floored.

    Example:
        >>> schedule = InverseTimeDecay(1.0, decay_steps=1, decay_rate=1.0)
        >>> [float(schedule(step)) for step in (0, 1, 3)]
        [1.0, 0.5, 0.25]
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        decay_rate,
        staircase=False,
        name="InverseTimeDecay",
    ):
        _check_number("InverseTimeDecay", "initial_learning_rate", initial_learning_rate)
        _check_number("InverseTimeDecay", "decay_steps", decay_steps, strictly_positive=True)
        _check_number("InverseTimeDecay", "decay_rate", decay_rate)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = staircase
        self.name = name

    def __call__(self, step):
        ratio = _as_float(step) / self.decay_steps
        if self.staircase:
            ratio = math.floor(ratio)
        return _result(self.initial_learning_rate / (1.0 + self.decay_rate * ratio))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


def _cosine(fraction: float, alpha: float) -> float:
    """The cosine curve from 1 (fraction 0) down to ``alpha`` (fraction 1)."""
    return (1.0 - alpha) * 0.5 * (1.0 + math.cos(math.pi * fraction)) + alpha


class CosineDecay(LearningRateSchedule):
    """Cosine decay with an optional linear warmup (SGDR without restarts).

    Without ``warmup_target``: ``initial_learning_rate * ((1 - alpha) * 0.5 * (1 +
    cos(pi * min(step, decay_steps) / decay_steps)) + alpha)``. With it, the rate first rises
    linearly from ``initial_learning_rate`` to ``warmup_target`` over ``warmup_steps``, then
    decays from ``warmup_target`` the same way over ``decay_steps``.

    Example:
        >>> schedule = CosineDecay(0.0, decay_steps=10, warmup_target=1.0, warmup_steps=4)
        >>> [round(float(schedule(step)), 4) for step in (0, 2, 4, 9, 14)]
        [0.0, 0.5, 1.0, 0.5, 0.0]
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        name="CosineDecay",
        warmup_target=None,
        warmup_steps=0,
    ):
        _check_number("CosineDecay", "initial_learning_rate", initial_learning_rate)
        _check_number("CosineDecay", "decay_steps", decay_steps, strictly_positive=True)
        _check_number("CosineDecay", "alpha", alpha)
        if warmup_target is not None:
            _check_number("CosineDecay", "warmup_target", warmup_target)
        _check_number("CosineDecay", "warmup_steps", warmup_steps, minimum=0)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_steps = warmup_steps
        self.warmup_target = warmup_target

    def __call__(self, step):
        step = _as_float(step)
        if self.warmup_target is None:
            fraction = min(step, self.decay_steps) / self.decay_steps
            return _result(self.initial_learning_rate * _cosine(fraction, self.alpha))
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            rise = self.warmup_target - self.initial_learning_rate
            return _result(self.initial_learning_rate + rise * step / self.warmup_steps)
        fraction = (step - self.warmup_steps) / self.decay_steps
        return _result(self.warmup_target * _cosine(fraction, self.alpha))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): the first period lasts ``first_decay_steps``,
    each next one ``t_mul`` times longer and starting ``m_mul`` times lower; each decays from
    its start to ``alpha`` times ``initial_learning_rate``.

    Example:
        >>> schedule = CosineDecayRestarts(1.0, first_decay_steps=2, t_mul=2.0)
        >>> [round(float(schedule(step)), 4) for step in (0, 1, 2, 4, 6)]
        [1.0, 0.5, 1.0, 0.5, 1.0]
    """

    def __init__(
        self,
        initial_learning_rate,
        first_decay_steps,
        t_mul=2.0,
        m_mul=1.0,
        alpha=0.0,
        name="SGDRDecay",
    ):
        name_ = "CosineDecayRestarts"
        _check_number(name_, "initial_learning_rate", initial_learning_rate)
        _check_number(name_, "first_decay_steps", first_decay_steps, strictly_positive=True)
        _check_number(name_, "t_mul", t_mul, strictly_positive=True)
        _check_number(name_, "m_mul", m_mul, minimum=0)
        _check_number(name_, "alpha", alpha)
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = first_decay_steps
        self._t_mul = t_mul
        self._m_mul = m_mul
        self.alpha = alpha
        self.name = name

    def __call__(self, step):
        fraction = _as_float(step) / self.first_decay_steps
        t_mul = float(self._t_mul)
        if t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            # Period i lasts t_mul**i first periods, so restart i begins after the geometric
            # sum (1 - t_mul**i) / (1 - t_mul) of them.
            restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            elapsed = (1.0 - t_mul**restart) / (1.0 - t_mul)
            fraction = (fraction - elapsed) / t_mul**restart
        cosine = 0.5 * self._m_mul**restart * (1.0 + math.cos(math.pi * fraction))
        return _result(self.initial_learning_rate * ((1.0 - self.alpha) * cosine + self.alpha))

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


ALL_SCHEDULES = {
    cls.__name__: cls
    for cls in (
        ExponentialDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        InverseTimeDecay,
        CosineDecay,
        CosineDecayRestarts,
    )
}


def serialize(learning_rate_schedule) -> dict:
    """The Keras config dict of a schedule (``module``, ``class_name``, ``config``).

    Example:
        >>> serialize(InverseTimeDecay(0.1, 10, 0.5))["class_name"]
        'InverseTimeDecay'
    """
    if not isinstance(learning_rate_schedule, LearningRateSchedule):
        raise TypeError(
            "schedules.serialize: expected a LearningRateSchedule; received "
            f"{learning_rate_schedule!r}"
        )
    return {
        "module": "keras.optimizers.schedules",
        "class_name": type(learning_rate_schedule).__name__,
        "config": learning_rate_schedule.get_config(),
        "registered_name": None,
    }


def deserialize(config, custom_objects=None):
    """A schedule from its config dict (the output of :func:`serialize`).

    ``custom_objects`` maps class names to your own ``LearningRateSchedule`` subclasses.

    Example:
        >>> schedule = deserialize(serialize(ExponentialDecay(0.1, 100, 0.9)))
        >>> type(schedule).__name__, schedule.decay_steps
        ('ExponentialDecay', 100)
    """
    if not isinstance(config, dict) or "class_name" not in config:
        raise TypeError(
            "schedules.deserialize: expected a dict with 'class_name' and 'config'; received "
            f"{config!r}"
        )
    known = {**ALL_SCHEDULES, **(custom_objects or {})}
    cls = known.get(config["class_name"])
    if cls is None:
        raise ValueError(
            f"schedules.deserialize: unknown learning rate schedule {config['class_name']!r}; "
            f"known: {', '.join(sorted(known))} (pass your own in custom_objects)"
        )
    return cls.from_config(dict(config.get("config", {})))
