"""Callbacks that end training early: EarlyStopping (no more progress) and TerminateOnNaN.

Example:
    >>> from types import SimpleNamespace
    >>> model = SimpleNamespace(stop_training=False)
    >>> stopper = EarlyStopping(monitor="loss", patience=1)
    >>> stopper.set_model(model)
    >>> stopper.on_train_begin()
    >>> for epoch, loss in enumerate([0.5, 0.4, 0.45, 0.46]):
    ...     stopper.on_epoch_end(epoch, {"loss": loss})
    ...     if model.stop_training:
    ...         break
    >>> stopper.stopped_epoch, stopper.best
    (2, 0.4)
"""

from __future__ import annotations

import math
import numbers

from .callback import Callback
from .monitor import (
    MODES,
    check_choice,
    check_count,
    check_monitor,
    check_number,
    is_improvement,
    monitored_value,
    resolve_mode,
)
from .progbar import print_msg


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has stopped improving (``keras.callbacks.EarlyStopping``).

    Args:
        monitor: the logged quantity to watch, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        min_delta: a change smaller than this is no improvement.
        patience: epochs without improvement after which training stops.
        verbose: 1 prints a line when training is stopped or weights are restored.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (decided from the metric or its name).
        baseline: a value the quantity must beat; until it does, ``patience`` keeps running.
        restore_best_weights: at the end, put back the weights of the best epoch.
        start_from_epoch: epochs of warm-up before watching starts.

    Example:
        >>> EarlyStopping(monitor="val_accuracy", patience=3).patience
        3
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__()
        check_monitor("EarlyStopping", monitor)
        check_number("EarlyStopping", "min_delta", min_delta)
        check_count("EarlyStopping", "patience", patience)
        check_choice("EarlyStopping", "mode", mode, MODES)
        check_number("EarlyStopping", "baseline", baseline, allow_none=True)
        check_count("EarlyStopping", "start_from_epoch", start_from_epoch)
        self.monitor = monitor
        self.min_delta = abs(min_delta)
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._direction = None  # "min" or "max", settled at the first epoch end
        self._reset()

    def _reset(self):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_train_begin(self, logs=None):
        self._reset()  # the same object may serve several fits

    def on_epoch_end(self, epoch, logs=None):
        if self._direction is None:
            # Decided late: the model's compiled metrics exist only once it has trained.
            self._direction = resolve_mode("EarlyStopping", self.monitor, self.mode, self.model)
        if self.best is None:
            self.best = math.inf if self._direction == "min" else -math.inf
        current = monitored_value("EarlyStopping", self.monitor, logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()  # so far, these are the best
            self.best_epoch = epoch
        self.wait += 1
        if is_improvement(self._direction, current, self.best, self.min_delta):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            # Patience restarts only when the baseline is beaten too.
            if self.baseline is None or is_improvement(
                self._direction, current, self.baseline, self.min_delta
            ):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print_msg(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print_msg(
                    "Restoring model weights from the end of the best epoch: "
                    f"{self.best_epoch + 1}."
                )
            self.model.set_weights(self.best_weights)

    def get_monitor_value(self, logs):
        """``logs[monitor]``, or None (with a warning naming the available keys)."""
        return monitored_value("EarlyStopping", self.monitor, logs)


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite.

    Args:
        raise_error: raise a RuntimeError at once instead of stopping after the batch
            (then ``on_train_end`` is not called, so backups and checkpoints stay as they are).

    Example:
        >>> from types import SimpleNamespace
        >>> callback = TerminateOnNaN()
        >>> callback.set_model(SimpleNamespace(stop_training=False))
        >>> callback.on_batch_end(7, {"loss": float("nan")})
        Batch 7: Invalid loss, terminating training
        >>> callback.model.stop_training
        True
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = bool(raise_error)

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if not isinstance(loss, numbers.Real) or math.isfinite(loss):
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                "Terminating training immediately."
            )
        print_msg(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True
