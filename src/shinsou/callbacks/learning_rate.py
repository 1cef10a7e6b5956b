"""Callbacks that change the optimizer's learning rate between epochs: ReduceLROnPlateau
(when progress stalls) and LearningRateScheduler (by a function of the epoch).

Both read and write ``model.optimizer.learning_rate`` and add the rate in force to the
epoch's logs as ``"learning_rate"`` (so it lands in ``history.history``), as Keras 3 does.

Example:
    >>> from types import SimpleNamespace
    >>> model = SimpleNamespace(optimizer=SimpleNamespace(learning_rate=0.1))
    >>> scheduler = LearningRateScheduler(lambda epoch, lr: lr / 2)
    >>> scheduler.set_model(model)
    >>> scheduler.on_epoch_begin(0)
    >>> model.optimizer.learning_rate
    0.05
"""

from __future__ import annotations

import inspect
import numbers

import numpy

from .callback import Callback
from .monitor import (
    MODES,
    check_choice,
    check_count,
    check_monitor,
    check_number,
    infer_direction,
    is_improvement,
    monitored_value,
)
from .progbar import print_msg


def _optimizer_of(owner, model):
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not hasattr(optimizer, "learning_rate"):
        raise ValueError(
            f"{owner} needs a compiled model whose optimizer has a learning_rate; "
            f"model.optimizer is {optimizer!r}"
        )
    return optimizer


def _as_float(value) -> float:
    return float(numpy.asarray(value, dtype="float64"))


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved for
    ``patience`` epochs (``keras.callbacks.ReduceLROnPlateau``).

    Args:
        monitor: the logged quantity to watch.
        factor: ``new_lr = lr * factor``, below 1.
        patience: epochs without improvement before the rate is reduced.
        verbose: 1 prints a line at each reduction.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (from the metric; losses go down).
        min_delta: a change smaller than this is no improvement.
        cooldown: epochs to wait after a reduction before counting again.
        min_lr: the rate never goes below this.

    Example:
        >>> ReduceLROnPlateau(factor=0.5, patience=2).factor
        0.5
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__()
        owner = "ReduceLROnPlateau"
        check_monitor(owner, monitor)
        check_number(owner, "factor", factor)
        if not 0 <= factor < 1:
            raise ValueError(f"{owner}: factor must be in [0, 1), received factor={factor!r}")
        check_count(owner, "patience", patience)
        check_choice(owner, "mode", mode, MODES)
        check_number(owner, "min_delta", min_delta)
        check_count(owner, "cooldown", cooldown)
        check_number(owner, "min_lr", min_lr)
        if min_lr < 0:
            raise ValueError(f"{owner}: min_lr must be >= 0, received min_lr={min_lr!r}")
        self.monitor = monitor
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.min_delta = abs(min_delta)
        self.cooldown = cooldown
        self.min_lr = min_lr
        self._reset()

    def _reset(self):
        self.wait = 0
        self.cooldown_counter = 0
        self.best = None

    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = _optimizer_of("ReduceLROnPlateau", self.model)
        logs["learning_rate"] = _as_float(optimizer.learning_rate)
        current = monitored_value("ReduceLROnPlateau", self.monitor, logs)
        if current is None:
            return
        # Keras's rule for "auto": anything not known to go up is minimized.
        direction = self.mode
        if direction == "auto":
            direction = infer_direction(self.monitor, self.model) or "min"
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if is_improvement(direction, current, self.best, self.min_delta):
            self.best = current
            self.wait = 0
            return
        if self.in_cooldown():
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        old_lr = _as_float(optimizer.learning_rate)
        if old_lr > numpy.float32(self.min_lr):
            new_lr = max(old_lr * self.factor, self.min_lr)
            optimizer.learning_rate = new_lr
            if self.verbose > 0:
                print_msg(
                    f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}."
                )
            self.cooldown_counter = self.cooldown
            self.wait = 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch to ``schedule(epoch, lr)``
    (``keras.callbacks.LearningRateScheduler``); ``schedule(epoch)`` works too.

    Args:
        schedule: a function of the epoch index (from 0) and the current rate, returning
            the new rate as a float.
        verbose: 1 prints the rate set at each epoch.

    Example:
        >>> def halve_after_two(epoch, lr):
        ...     return lr if epoch < 2 else lr * 0.5
        >>> LearningRateScheduler(halve_after_two).schedule is halve_after_two
        True
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                "LearningRateScheduler: schedule must be a function (epoch, lr) -> lr, "
                f"received {type(schedule).__name__}: {schedule!r}"
            )
        self.schedule = schedule
        self.verbose = verbose
        self._takes_rate = _accepts_two_arguments(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = _optimizer_of("LearningRateScheduler", self.model)
        if self._takes_rate:
            learning_rate = self.schedule(epoch, _as_float(optimizer.learning_rate))
        else:
            learning_rate = self.schedule(epoch)
        rate = _scalar_rate(learning_rate)
        if rate is None:
            raise ValueError(
                f"LearningRateScheduler: the schedule must return a float; at epoch {epoch} it "
                f"returned {learning_rate!r}"
            )
        learning_rate = rate
        optimizer.learning_rate = learning_rate
        if self.verbose > 0:
            print_msg(
                f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to "
                f"{learning_rate}."
            )

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            optimizer = _optimizer_of("LearningRateScheduler", self.model)
            logs["learning_rate"] = _as_float(optimizer.learning_rate)


def _scalar_rate(value):
    """``value`` as a float if it is one real number (Python, NumPy or 0-d tensor), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if hasattr(value, "__array__"):
        array = numpy.asarray(value)
        if array.ndim == 0 and array.dtype.kind in "fiu":
            return float(array)
    return None


def _accepts_two_arguments(function) -> bool:
    """Whether ``function`` can be called as ``function(epoch, lr)``."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some builtins have no signature: try the new form
        return True
    try:
        signature.bind(0, 0.0)
    except TypeError:
        return False
    return True
