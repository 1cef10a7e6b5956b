"""Preprocessing layers: Rescaling (``x * scale + offset``) and Normalization (standardize
features with a mean and variance given or learned from data by ``adapt``).

Example:
    >>> import numpy as np
    >>> from shinsou import layers
    >>> layers.Rescaling(1 / 255)(np.array([[0, 255]], dtype="uint8")).tolist()
    [[0.0, 1.0]]
    >>> norm = layers.Normalization()
    >>> norm.adapt(np.array([[0.0, 10.0], [2.0, 30.0]]))
    >>> norm(np.array([[1.0, 20.0]])).tolist()
    [[0.0, 0.0]]
"""

from __future__ import annotations

import itertools
import math
import numbers

from .. import backend, ops
from ..backend import xp
from ..tensor import Tensor
from .base import Layer

__all__ = ["Normalization", "Rescaling"]

# The floor under the standard deviation, so constant features do not divide by zero
# (Keras's backend.epsilon()).
_EPSILON = 1e-7


def _float_tensor(inputs):
    """Integer images (uint8, say) become floatx before any arithmetic."""
    if backend.is_floating(inputs.dtype):
        return inputs
    return ops.cast(inputs, backend.floatx())


def _number_or_array(layer_name, argument, value):
    """A Python float for a scalar, a float32 tensor for per-channel values."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    try:
        array = xp.asarray(value, dtype=backend.floatx())
    except (TypeError, ValueError):
        raise ValueError(
            f"{layer_name}: {argument} must be a number or an array of numbers, received "
            f"{argument}={value!r}"
        ) from None
    return Tensor._wrap(array)


def _config_value(value):
    """Scalars stay numbers; arrays become (nested) lists so the config is plain JSON."""
    if isinstance(value, (list, tuple)) or hasattr(value, "tolist"):
        return xp.asarray(value).tolist()
    return value


class Rescaling(Layer):
    """Multiplies the inputs by ``scale`` and adds ``offset`` (numbers, or arrays that
    broadcast against the inputs, e.g. one per channel). Integer inputs become float32.

    Example:
        >>> import numpy as np
        >>> Rescaling(scale=1 / 127.5, offset=-1)(np.array([[0.0, 255.0]])).tolist()
        [[-1.0, 1.0]]
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self._scale = _number_or_array("Rescaling", "scale", scale)
        self._offset = _number_or_array("Rescaling", "offset", offset)
        self.scale, self.offset = scale, offset
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        outputs = _float_tensor(inputs) * self._scale
        if isinstance(self._offset, Tensor) or self._offset != 0.0:
            outputs = outputs + self._offset
        return outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "scale": _config_value(self.scale),
            "offset": _config_value(self.offset),
        }


def _batches(data, batch_size, steps):
    """The batches ``adapt`` reads: slices of an array, or the items of an iterable (the
    inputs of ``(x, y)`` pairs), at most ``steps`` of them."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, xp.ndarray):
        if batch_size is None:
            batches = iter([data])
        else:
            batches = (data[i : i + batch_size] for i in range(0, len(data), batch_size))
    elif hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
        batches = (item[0] if isinstance(item, tuple) else item for item in data)
    else:
        raise TypeError(
            "Normalization.adapt: data must be a NumPy array, a tensor or an iterable of batches "
            f"(a list or generator of arrays), received {type(data).__name__}"
        )
    return itertools.islice(batches, steps) if steps is not None else batches


class Normalization(Layer):
    """Standardizes features: ``(x - mean) / sqrt(variance)``, or the inverse with
    ``invert=True``.

    ``axis`` names the axes that keep their own statistics (-1: one mean and variance per
    feature; None: one for everything); the statistics are taken over all other axes. Give
    ``mean`` and ``variance`` directly, or learn them with :meth:`adapt`, which stores them
    as the non-trainable weights ``mean`` and ``variance`` (plus Keras's ``count``), so that
    ``get_weights``/``set_weights`` and saving carry them.

    Example:
        >>> import numpy as np
        >>> Normalization(mean=2.0, variance=4.0)(np.array([[0.0], [4.0]])).tolist()
        [[-1.0], [1.0]]
    """

    def __init__(self, axis=-1, mean=None, variance=None, invert=False, **kwargs):
        super().__init__(**kwargs)
        if axis is None:
            axis = ()
        elif isinstance(axis, int) and not isinstance(axis, bool):
            axis = (axis,)
        elif isinstance(axis, (list, tuple)) and all(isinstance(a, int) for a in axis):
            axis = tuple(axis)
        else:
            raise ValueError(
                f"Normalization: axis must be None, an int or a tuple of ints, received "
                f"axis={axis!r}"
            )
        if (mean is None) != (variance is None):
            raise ValueError(
                "Normalization: give both mean and variance, or neither (and call adapt); "
                f"received mean={mean!r} and variance={variance!r}"
            )
        if mean is not None:
            if xp.shape(mean) != xp.shape(variance):
                raise ValueError(
                    f"Normalization: mean and variance must have the same shape, received shapes "
                    f"{xp.shape(mean)} and {xp.shape(variance)}"
                )
            if xp.ndim(mean) > len(axis):
                raise ValueError(
                    f"Normalization: mean of shape {xp.shape(mean)} has more axes than "
                    f"axis={axis} keeps"
                )
        self.axis = axis
        self.input_mean = mean
        self.input_variance = variance
        self.invert = bool(invert)
        self.supports_masking = True
        self._build_input_shape = None

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        rank = len(input_shape)
        if any(not -rank <= a < rank for a in self.axis):
            raise ValueError(
                f"Normalization '{self.name}': axis={self.axis} is out of range for inputs of "
                f"shape {input_shape}"
            )
        self._keep_axes = tuple(sorted(a % rank for a in self.axis))
        if any(input_shape[a] is None for a in self._keep_axes):
            raise ValueError(
                f"Normalization '{self.name}': the kept axes {self.axis} must have known sizes; "
                f"received input shape {input_shape}"
            )
        self._reduce_axes = tuple(a for a in range(rank) if a not in self._keep_axes)
        self._broadcast_shape = tuple(
            input_shape[a] if a in self._keep_axes else 1 for a in range(rank)
        )
        statistics_shape = tuple(input_shape[a] for a in self._keep_axes)
        self._build_input_shape = input_shape
        if self.input_mean is None:
            self.adapt_mean = self.add_weight(
                shape=statistics_shape, initializer="zeros", trainable=False, name="mean"
            )
            self.adapt_variance = self.add_weight(
                shape=statistics_shape, initializer="ones", trainable=False, name="variance"
            )
            # Keras keeps this weight only so that older saved models load.
            self.count = self.add_weight(
                shape=(), dtype="int", initializer="zeros", trainable=False, name="count"
            )
        else:
            self._fixed_mean = self._broadcast_given(self.input_mean, "mean")
            self._fixed_variance = self._broadcast_given(self.input_variance, "variance")
        self.built = True

    def _broadcast_given(self, value, argument):
        # Trailing axes of the given value line up with the kept axes, right to left.
        value = xp.asarray(value, dtype=backend.floatx())
        shape = [1] * len(self._broadcast_shape)
        for offset in range(1, value.ndim + 1):
            shape[self._keep_axes[-offset]] = value.shape[-offset]
        try:
            return xp.broadcast_to(value.reshape(shape), self._broadcast_shape)
        except ValueError:
            raise ValueError(
                f"Normalization '{self.name}': {argument} of shape {value.shape} does not "
                f"broadcast to the kept axes of shape {self._broadcast_shape}"
            ) from None

    def _statistics(self):
        """The mean and the standard deviation (floored at epsilon), shaped to broadcast."""
        if self.input_mean is not None:
            mean, variance = self._fixed_mean, self._fixed_variance
        else:
            mean = self.adapt_mean.data.reshape(self._broadcast_shape)
            variance = self.adapt_variance.data.reshape(self._broadcast_shape)
        return mean, xp.maximum(xp.sqrt(variance), _EPSILON)

    def call(self, inputs):
        inputs = _float_tensor(inputs)
        mean, std = self._statistics()
        if self.invert:
            return inputs * Tensor._wrap(std) + Tensor._wrap(mean)
        return (inputs - Tensor._wrap(mean)) * Tensor._wrap(1 / std)

    def adapt(self, data, batch_size=None, steps=None):
        """Learn the mean and variance of ``data`` over every axis but ``axis``.

        ``data`` is a NumPy array or tensor (read ``batch_size`` rows at a time when given),
        or an iterable of batches such as a generator (``(x, y)`` items use ``x``; at most
        ``steps`` batches are read). Batches combine exactly, as if read at once.

        Example:
            >>> import numpy as np
            >>> layer = Normalization(axis=None)
            >>> layer.adapt(iter([np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])]))
            >>> float(layer.adapt_mean.numpy()), float(layer.adapt_variance.numpy())
            (3.0, 2.0)
        """
        if self.input_mean is not None:
            raise ValueError(
                f"Normalization '{self.name}': adapt() cannot change a mean and variance given "
                "to the constructor; create the layer without them to learn them from data"
            )
        total_count, total_mean, total_variance = 0, None, None
        for batch in _batches(data, batch_size, steps):
            batch = xp.asarray(batch.data if isinstance(batch, Tensor) else batch)
            batch = batch.astype(backend.floatx(), copy=False)
            self._check_adapt_shape(batch.shape)
            count = math.prod(batch.shape[a] for a in self._reduce_axes)
            if count == 0:
                continue
            mean = batch.mean(axis=self._reduce_axes)
            variance = batch.var(axis=self._reduce_axes)
            if total_mean is None:
                total_count, total_mean, total_variance = count, mean, variance
                continue
            # Merge two groups' statistics exactly: the variance of the union is the weighted
            # mean of each group's variance plus its squared distance to the new mean.
            weight = count / (total_count + count)
            merged_mean = total_mean * (1 - weight) + mean * weight
            total_variance = (total_variance + (total_mean - merged_mean) ** 2) * (1 - weight) + (
                variance + (mean - merged_mean) ** 2
            ) * weight
            total_count, total_mean = total_count + count, merged_mean
        if total_mean is None:
            raise ValueError(f"Normalization '{self.name}': adapt() received no data")
        self.adapt_mean.assign(total_mean)
        self.adapt_variance.assign(total_variance)

    def _check_adapt_shape(self, shape):
        if not self.built:
            self.build(shape)
            return
        built = self._build_input_shape
        if len(shape) != len(built) or any(shape[a] != built[a] for a in self._keep_axes):
            raise ValueError(
                f"Normalization '{self.name}' was built for inputs of shape {built}, but adapt() "
                f"received a batch of shape {tuple(shape)}"
            )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_build_config(self):
        if self._build_input_shape is None:
            return None
        return {"input_shape": self._build_input_shape}

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "invert": self.invert,
            "mean": _config_value(self.input_mean),
            "variance": _config_value(self.input_variance),
        }
