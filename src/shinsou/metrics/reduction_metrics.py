"""Running sums and means: ``Sum``, ``Mean`` and ``MeanMetricWrapper`` (a per-sample function
averaged over everything seen).

Values are reduced to one number per sample first (the mean over trailing axes); with
``sample_weight`` the mean is ``sum(w * v) / sum(w)``, as in Keras.

Example:
    >>> m = Mean()
    >>> m.update_state([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
    >>> m.result()
    2.0
"""

from __future__ import annotations

from ..backend import xp
from ..losses.loss import apply_mask, squeeze_or_expand_to_same_rank
from ..tensor import no_grad
from .metric import Metric, to_numpy


def reduce_to_samplewise_values(values, sample_weight, reduce_fn, dtype, caller="metric"):
    """``values`` (and weights) reduced to one value per sample, weights applied.

    Returns ``(weighted values, weights)``; the weights are None when none were given.

    Example:
        >>> v, w = reduce_to_samplewise_values([[1.0, 3.0], [5.0, 7.0]], [1.0, 0.0], xp.mean,
        ...                                    "float32")
        >>> v.tolist(), w.tolist()
        ([2.0, 0.0], [1.0, 0.0])
    """
    values = to_numpy(values, dtype)
    if sample_weight is not None:
        weights = to_numpy(sample_weight, dtype)
        values, weights = squeeze_or_expand_to_same_rank(values, weights)
        if values.ndim > weights.ndim:
            values = reduce_fn(values, axis=tuple(range(weights.ndim, values.ndim)))
        try:
            weights = xp.broadcast_to(weights, values.shape)
        except ValueError:
            raise ValueError(
                f"{caller}: sample_weight of shape {weights.shape} does not fit values of "
                f"shape {values.shape}; give one weight per sample"
            ) from None
        values = values * weights
        if weights.ndim > 1:
            weights = reduce_fn(weights, axis=tuple(range(1, weights.ndim)))
    else:
        weights = None
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, weights


class Sum(Metric):
    """The (weighted) sum of all values seen.

    Example:
        >>> m = Sum()
        >>> m.update_state([1, 3, 5, 7])
        >>> m.result()
        16.0
    """

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, values, sample_weight=None):
        values, _ = reduce_to_samplewise_values(
            values, sample_weight, xp.sum, self._dtype, f"Sum '{self.name}'"
        )
        self.total.data += values.sum(dtype=self._dtype)

    def result(self) -> float:
        return float(self.total.data)


class Mean(Metric):
    """The (weighted) mean of all values seen: ``sum(w * v) / sum(w)``.

    A scalar value with a scalar weight (the trainer's ``update_state(loss, batch_size)``)
    counts as that many samples of that value.

    Example:
        >>> m = Mean()
        >>> m.update_state(2.0, sample_weight=3)
        >>> m.update_state(6.0, sample_weight=1)
        >>> m.result()
        3.0
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, values, sample_weight=None):
        if isinstance(sample_weight, (int, float)) and xp.ndim(values) == 0:
            # The trainer's path, once per batch: no arrays to build.
            self.total.data += float(values) * sample_weight
            self.count.data += sample_weight
            return
        values, weights = reduce_to_samplewise_values(
            values, sample_weight, xp.mean, self._dtype, f"{type(self).__name__} '{self.name}'"
        )
        self.total.data += values.sum(dtype=self._dtype)
        if weights is not None:
            self.count.data += weights.sum(dtype=self._dtype)
        else:
            self.count.data += values.shape[0] if values.ndim else 1

    def result(self) -> float:
        count = float(self.count.data)
        return float(self.total.data) / count if count else 0.0


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred, **kwargs)`` (one value per sample) over all samples.

    ``fn`` may return tensors or arrays; no graph is recorded. Entries masked by a Keras
    mask on ``y_pred`` (or on ``fn``'s result) are left out.

    Example:
        >>> def absolute_error(y_true, y_pred):
        ...     return abs(to_numpy(y_true) - to_numpy(y_pred))
        >>> m = MeanMetricWrapper(absolute_error, name="abs_error")
        >>> m.update_state([1.0, 2.0], [2.0, 4.0])
        >>> m.result()
        1.5
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if not callable(fn):
            raise TypeError(f"MeanMetricWrapper: fn must be callable, got {fn!r}")
        super().__init__(name=name or getattr(fn, "__name__", None), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        mask = getattr(y_pred, "_keras_mask", None)
        with no_grad():
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
        out_mask = getattr(values, "_keras_mask", None)
        if mask is not None and out_mask is not None:
            mask = xp.logical_and(to_numpy(mask), to_numpy(out_mask))
        elif out_mask is not None:
            mask = out_mask
        if mask is not None:
            weights = None if sample_weight is None else to_numpy(sample_weight, self._dtype)
            sample_weight = apply_mask(weights, to_numpy(mask), self._dtype, "sum")
        super().update_state(values, sample_weight=sample_weight)

    def get_config(self) -> dict:
        config = super().get_config()
        if type(self) is MeanMetricWrapper:
            # Built-in subclasses know their function; a bare wrapper must name it.
            from ..losses import serialize_function

            config["fn"] = serialize_function(self._fn)
        config.update(self._fn_kwargs)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if "fn" in config:
            from . import deserialize_function

            config["fn"] = deserialize_function(config["fn"])
        return cls(**config)
