"""Callback: hooks that ``fit``, ``evaluate`` and ``predict`` call at each stage; and
LambdaCallback, a callback made of plain functions.

Example:
    >>> class CountEpochs(Callback):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.count = 0
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         self.count += 1
    >>> counter = CountEpochs()
    >>> for epoch in range(3):
    ...     counter.on_epoch_end(epoch, {"loss": 0.5})
    >>> counter.count
    3
"""

from __future__ import annotations

HOOK_NAMES = (
    "on_batch_begin",
    "on_batch_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
    "on_train_begin",
    "on_train_end",
    "on_test_begin",
    "on_test_end",
    "on_predict_begin",
    "on_predict_end",
)


class Callback:
    """Base class of callbacks (``keras.callbacks.Callback``): override the hooks you need.

    ``self.model`` is the model being trained and ``self.params`` the loop's settings
    (``{"verbose": ..., "epochs": ..., "steps": ...}``); both are set before the first hook.
    ``logs`` holds the metric results so far (``{"loss": 0.2, "accuracy": 0.9}``; validation
    results at epoch end are prefixed with ``val_``).

    Example:
        >>> callback = Callback()
        >>> callback.set_params({"verbose": 1, "epochs": 2, "steps": 10})
        >>> callback.params["epochs"], callback.model is None
        (2, True)
    """

    def __init__(self):
        self.params = None
        self._model = None

    def set_params(self, params) -> None:
        self.params = params

    def set_model(self, model) -> None:
        self._model = model

    @property
    def model(self):
        """The model these hooks observe (set by the training loop)."""
        return self._model

    def on_batch_begin(self, batch, logs=None):
        """Older name of :meth:`on_train_batch_begin` (still called by it)."""

    def on_batch_end(self, batch, logs=None):
        """Older name of :meth:`on_train_batch_end` (still called by it)."""

    def on_epoch_begin(self, epoch, logs=None):
        """At the start of epoch ``epoch`` (counted from 0) of ``fit``."""

    def on_epoch_end(self, epoch, logs=None):
        """At the end of an epoch; ``logs`` has the epoch's training and ``val_`` results.
        Keys added to ``logs`` here reach the callbacks after this one and the History."""

    def on_train_batch_begin(self, batch, logs=None):
        """Before training batch ``batch`` (counted from 0 within the epoch)."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """After a training batch; ``logs`` has the epoch's running results."""
        self.on_batch_end(batch, logs=logs)

    def on_test_batch_begin(self, batch, logs=None):
        """Before a batch of ``evaluate``."""

    def on_test_batch_end(self, batch, logs=None):
        """After a batch of ``evaluate``; ``logs`` has the running results."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Before a batch of ``predict``."""

    def on_predict_batch_end(self, batch, logs=None):
        """After a batch of ``predict``; ``logs["outputs"]`` holds the batch's outputs."""

    def on_train_begin(self, logs=None):
        """When ``fit`` starts."""

    def on_train_end(self, logs=None):
        """When ``fit`` ends normally; ``logs`` are the last epoch's."""

    def on_test_begin(self, logs=None):
        """When ``evaluate`` starts."""

    def on_test_end(self, logs=None):
        """When ``evaluate`` ends; ``logs`` are its results."""

    def on_predict_begin(self, logs=None):
        """When ``predict`` starts."""

    def on_predict_end(self, logs=None):
        """When ``predict`` ends."""


class LambdaCallback(Callback):
    """A callback built from functions (``keras.callbacks.LambdaCallback``).

    ``on_epoch_begin``/``on_epoch_end`` take ``(epoch, logs)``, ``on_train_begin``/
    ``on_train_end`` take ``(logs)``, the batch hooks take ``(batch, logs)``; any other hook
    of :class:`Callback` may be given by name as a keyword.

    Example:
        >>> seen = []
        >>> callback = LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
        >>> callback.on_epoch_end(0, {}); callback.on_epoch_end(1, {})
        >>> seen
        [0, 1]
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        unknown = sorted(name for name in kwargs if name not in HOOK_NAMES)
        if unknown:
            raise TypeError(
                f"LambdaCallback: unknown hooks {unknown}; valid hook names are {list(HOOK_NAMES)}"
            )
        hooks = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
            **kwargs,
        }
        for name, function in hooks.items():
            if function is None:
                continue
            if not callable(function):
                raise TypeError(
                    f"LambdaCallback: {name} must be a function, received "
                    f"{type(function).__name__}: {function!r}"
                )
            setattr(self, name, function)
