"""CallbackList (the training loop's single entry point to all callbacks) and History (the
per-epoch record that ``fit`` returns).

Example:
    >>> history = History()
    >>> callbacks = CallbackList([history], epochs=2, steps=1, verbose=0)
    >>> callbacks.on_train_begin()
    >>> for epoch in range(2):
    ...     callbacks.on_epoch_begin(epoch)
    ...     callbacks.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1), "accuracy": 0.5})
    >>> history.epoch, history.history
    ([0, 1], {'accuracy': [0.5, 0.5], 'loss': [1.0, 0.5]})
"""

from __future__ import annotations

import numbers

import numpy

from ..tensor import Tensor
from ..utils import tree
from .callback import Callback
from .progbar import ProgbarLogger

_MODES = ("train", "test", "predict")


class History(Callback):
    """Records each epoch's logs: ``history.history["loss"]`` is the list of epoch losses,
    ``history.epoch`` the list of epoch indices. ``fit`` returns it.

    Example:
        >>> history = History()
        >>> history.on_train_begin()
        >>> history.on_epoch_end(0, {"loss": 0.3, "val_loss": 0.4})
        >>> history.history
        {'loss': [0.3], 'val_loss': [0.4]}
    """

    def __init__(self):
        super().__init__()
        self.history: dict[str, list] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            self.model.history = self  # the latest state, even if fit is interrupted


def _python_value(value):
    """A scalar log value as a Python float; anything else unchanged."""
    if isinstance(value, Tensor):
        value = value.numpy()
    if isinstance(value, numpy.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def _pythonify_logs(logs) -> dict:
    """Logs in sorted key order with scalar values as floats (nested dicts flattened), the
    form in which Keras hands batch logs to callbacks."""
    result = {}
    for key, value in sorted((logs or {}).items()):
        if isinstance(value, dict):
            result.update(_pythonify_logs(value))
        else:
            result[key] = _python_value(value)
    return result


def _order_epoch_logs(logs: dict) -> dict:
    """Put epoch logs in Keras's order — training results sorted by name, then the sorted
    ``val_`` results — in place, so what callbacks add to them reaches the later ones."""
    ordered = sorted(logs.items(), key=lambda item: (item[0].startswith("val_"), item[0]))
    logs.clear()
    logs.update((key, _python_value(value)) for key, value in ordered)
    return logs


class CallbackList(Callback):
    """All the callbacks of one ``fit``/``evaluate``/``predict`` call, called together.

    Args:
        callbacks: a list of :class:`Callback` objects (or None).
        add_history: add a :class:`History` unless the list has one.
        add_progbar: add a :class:`ProgbarLogger` unless the list has one.
        model: the model, given to every callback.
        mode: ``"train"``, ``"test"`` or ``"predict"``: which loop this list serves.
        **params: the loop's settings (``verbose``, ``epochs``, ``steps``), given to every
            callback as ``callback.params``.

    Example:
        >>> callbacks = CallbackList(None, add_history=True, epochs=1, steps=1, verbose=0)
        >>> [type(c).__name__ for c in callbacks.callbacks]
        ['History']
    """

    def __init__(
        self,
        callbacks=None,
        add_history=False,
        add_progbar=False,
        model=None,
        mode="train",
        **params,
    ):
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"CallbackList: mode must be one of {_MODES}, received {mode!r}")
        self.mode = mode
        self.callbacks = tree.flatten(callbacks) if callbacks else []
        for index, callback in enumerate(self.callbacks):
            _check_callback(callback, index)
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if self._history is None and add_history:
            self._history = History()
            self.callbacks.append(self._history)
        if self._progbar is None and add_progbar:
            self._progbar = ProgbarLogger()
            self.callbacks.append(self._progbar)
        if params:
            params = {"verbose": 1, "epochs": 1, "steps": None, **params}
        self.set_model(model)
        self.set_params(params)

    @property
    def history(self):
        """The :class:`History` callback of this list (None without one)."""
        return self._history

    def append(self, callback) -> None:
        """Add a callback, giving it this list's model and params."""
        _check_callback(callback, len(self.callbacks))
        self.callbacks.append(callback)
        if self.model is not None:
            callback.set_model(self.model)
        if self.params:
            callback.set_params(self.params)

    def set_params(self, params) -> None:
        self.params = params
        if params:
            for callback in self.callbacks:
                callback.set_params(params)

    def set_model(self, model) -> None:
        if model is None:
            return
        super().set_model(model)
        if self._history is not None:
            model.history = self._history
        for callback in self.callbacks:
            callback.set_model(model)

    # -- fit --------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_train_begin(logs)

    def on_train_end(self, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        logs = _order_epoch_logs(logs if logs is not None else {})
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)

    def on_batch_begin(self, batch, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_batch_begin(batch, logs=logs)

    def on_batch_end(self, batch, logs=None):
        logs = _pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_batch_end(batch, logs=logs)

    def on_train_batch_begin(self, batch, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_train_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        logs = _pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_train_batch_end(batch, logs=logs)

    # -- evaluate ---------------------------------------------------------------------
    def on_test_begin(self, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_test_begin(logs)

    def on_test_end(self, logs=None):
        logs = _pythonify_logs(logs)  # a sorted copy: evaluate returns its own dict in order
        for callback in self.callbacks:
            callback.on_test_end(logs)

    def on_test_batch_begin(self, batch, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_test_batch_begin(batch, logs=logs)

    def on_test_batch_end(self, batch, logs=None):
        logs = _pythonify_logs(logs)
        for callback in self.callbacks:
            callback.on_test_batch_end(batch, logs=logs)

    # -- predict ----------------------------------------------------------------------
    def on_predict_begin(self, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_predict_begin(logs)

    def on_predict_end(self, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_predict_end(logs)

    def on_predict_batch_begin(self, batch, logs=None):
        logs = logs if logs is not None else {}
        for callback in self.callbacks:
            callback.on_predict_batch_begin(batch, logs=logs)

    def on_predict_batch_end(self, batch, logs=None):
        logs = logs if logs is not None else {}  # the outputs: passed as they are
        for callback in self.callbacks:
            callback.on_predict_batch_end(batch, logs=logs)


def _check_callback(callback, index) -> None:
    if not isinstance(callback, Callback):
        raise TypeError(
            f"callbacks must be shinsou.callbacks.Callback objects; item {index} is "
            f"{type(callback).__name__}: {callback!r}"
        )
