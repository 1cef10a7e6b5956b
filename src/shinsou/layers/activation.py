"""Activation layers: Activation, ReLU, LeakyReLU, Softmax, ELU and the learned PReLU.

Each applies one function elementwise (Softmax: along an axis) and keeps the input's shape
and mask; only PReLU has a weight.

Example:
    >>> import numpy as np
    >>> from shinsou import layers
    >>> layers.ReLU(max_value=1.0)(np.array([[-1.0, 0.5, 3.0]])).tolist()
    [[0.0, 0.5, 1.0]]
    >>> layers.Activation("relu")(np.array([[-2.0, 2.0]])).tolist()
    [[0.0, 2.0]]
"""

from __future__ import annotations

import numbers
import warnings

from .. import activations, initializers, ops, regularizers
from ..backend import xp
from ..tensor import Tensor
from .base import InputSpec, Layer
from .core import _serialize_or_none

__all__ = ["ELU", "Activation", "LeakyReLU", "PReLU", "ReLU", "Softmax"]

# Added to masked logits before a softmax: exp(-1e9 - max) is exactly 0 in float32, so masked
# positions get zero probability (Keras's constant; float16 would need -3e4).
_MASKED_LOGIT = -1e9


def check_non_negative(layer_name, argument, value, allow_none=False):
    """Raise a clear error unless ``value`` is a number >= 0 (or None when allowed).

    Example:
        >>> check_non_negative("ReLU", "threshold", -1.0)
        Traceback (most recent call last):
        ...
        ValueError: ReLU: threshold must be a number >= 0, received threshold=-1.0
    """
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0:
        allowed = "None or a number >= 0" if allow_none else "a number >= 0"
        raise ValueError(
            f"{layer_name}: {argument} must be {allowed}, received {argument}={value!r}"
        )


class Activation(Layer):
    """Applies an activation function, given by name (``"relu"``) or as a callable.

    Example:
        >>> import numpy as np
        >>> Activation("sigmoid")(np.zeros((1, 2))).tolist()
        [[0.5, 0.5]]
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return self.activation(inputs)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class ReLU(Layer):
    """Rectified linear unit with Keras's optional cap, slope and threshold:
    ``max_value`` above it, ``x`` above ``threshold``, ``negative_slope * (x - threshold)``
    below.

    Example:
        >>> import numpy as np
        >>> ReLU(negative_slope=0.5)(np.array([[-2.0, 3.0]])).tolist()
        [[-1.0, 3.0]]
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        check_non_negative("ReLU", "max_value", max_value, allow_none=True)
        check_non_negative("ReLU", "negative_slope", negative_slope)
        check_non_negative("ReLU", "threshold", threshold)
        self.max_value = max_value
        self.negative_slope = negative_slope
        self.threshold = threshold
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return activations.relu(
            inputs,
            negative_slope=self.negative_slope,
            max_value=self.max_value,
            threshold=self.threshold,
        )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "max_value": self.max_value,
            "negative_slope": self.negative_slope,
            "threshold": self.threshold,
        }


class LeakyReLU(Layer):
    """``x`` for ``x >= 0``, ``negative_slope * x`` below (Keras's default slope is 0.3).

    Example:
        >>> import numpy as np
        >>> [round(v, 2) for v in LeakyReLU()(np.array([-1.0, 2.0])).tolist()]
        [-0.3, 2.0]
    """

    def __init__(self, negative_slope=0.3, **kwargs):
        if "alpha" in kwargs:  # Keras 2's name for the slope
            negative_slope = kwargs.pop("alpha")
            warnings.warn(
                "LeakyReLU: argument `alpha` is deprecated; use `negative_slope`", stacklevel=2
            )
        super().__init__(**kwargs)
        check_non_negative("LeakyReLU", "negative_slope", negative_slope)
        self.negative_slope = negative_slope
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return ops.leaky_relu(inputs, negative_slope=self.negative_slope)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "negative_slope": self.negative_slope}


class Softmax(Layer):
    """Softmax along ``axis`` (an int or a list of ints).

    ``mask`` (True = keep) gives masked positions zero probability, as Keras does by adding
    a large negative number to their logits.

    Example:
        >>> import numpy as np
        >>> Softmax()(np.zeros((1, 3)), mask=np.array([[True, True, False]])).tolist()
        [[0.5, 0.5, 0.0]]
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, int) and not (
            isinstance(axis, (list, tuple)) and axis and all(isinstance(a, int) for a in axis)
        ):
            raise ValueError(
                f"Softmax: axis must be an int or a non-empty list of ints, received axis={axis!r}"
            )
        self.axis = axis
        self.supports_masking = True
        self.built = True

    def call(self, inputs, mask=None):
        if mask is not None:
            keep = xp.asarray(mask.data if isinstance(mask, Tensor) else mask, dtype=bool)
            inputs = ops.add(inputs, Tensor._wrap((~keep).astype(inputs.dtype) * _MASKED_LOGIT))
        axis = tuple(self.axis) if isinstance(self.axis, (list, tuple)) else self.axis
        return ops.softmax(inputs, axis=axis)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class ELU(Layer):
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` below.

    Example:
        >>> import numpy as np
        >>> [round(v, 4) for v in ELU()(np.array([-1.0, 2.0])).tolist()]
        [-0.6321, 2.0]
    """

    def __init__(self, alpha=1.0, **kwargs):
        super().__init__(**kwargs)
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
            raise ValueError(f"ELU: alpha must be a number, received alpha={alpha!r}")
        self.alpha = alpha
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return ops.elu(inputs, alpha=self.alpha)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha}


class PReLU(Layer):
    """Leaky ReLU whose negative slope ``alpha`` is learned, one per input position.

    ``alpha`` has the input's shape without the batch axis; ``shared_axes`` (1-based, as in
    Keras) share one slope along those axes, e.g. ``[1, 2]`` for one slope per channel of an
    NHWC image.

    Example:
        >>> import numpy as np
        >>> layer = PReLU(alpha_initializer="ones", shared_axes=[1])
        >>> layer(np.array([[[-2.0, 3.0]]])).tolist(), layer.alpha.shape
        ([[[-2.0, 3.0]]], (1, 2))
    """

    def __init__(
        self,
        alpha_initializer="Zeros",
        alpha_regularizer=None,
        alpha_constraint=None,
        shared_axes=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.alpha_initializer = initializers.get(alpha_initializer)
        self.alpha_regularizer = regularizers.get(alpha_regularizer)
        self.alpha_constraint = alpha_constraint
        if shared_axes is None:
            self.shared_axes = None
        else:
            axes = list(shared_axes) if isinstance(shared_axes, (list, tuple)) else [shared_axes]
            if not all(isinstance(a, int) and not isinstance(a, bool) and a >= 1 for a in axes):
                raise ValueError(
                    "PReLU: shared_axes must be None, a positive int or a list of them (axis 0 is "
                    f"the batch and cannot be shared), received shared_axes={shared_axes!r}"
                )
            self.shared_axes = axes
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        shared = set(self.shared_axes or ())
        if any(axis >= rank for axis in shared):
            raise ValueError(
                f"PReLU '{self.name}': shared_axes {self.shared_axes} out of range for inputs of "
                f"shape {tuple(input_shape)}"
            )
        alpha_shape = [1 if axis in shared else input_shape[axis] for axis in range(1, rank)]
        if None in alpha_shape:
            raise ValueError(
                f"PReLU '{self.name}': every axis that is not shared must have a known size; got "
                f"input shape {tuple(input_shape)} and shared_axes={self.shared_axes}"
            )
        self.alpha = self.add_weight(
            shape=alpha_shape,
            initializer=self.alpha_initializer,
            regularizer=self.alpha_regularizer,
            constraint=self.alpha_constraint,
            name="alpha",
        )
        fixed = {axis: input_shape[axis] for axis in range(1, rank) if axis not in shared}
        self.input_spec = InputSpec(ndim=rank, axes=fixed)
        self.built = True

    def call(self, inputs):
        positive = ops.relu(inputs)
        return positive + self.alpha * (inputs - positive)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "alpha_initializer": initializers.serialize(self.alpha_initializer),
            "alpha_regularizer": _serialize_or_none(self.alpha_regularizer),
            "alpha_constraint": None,
            "shared_axes": self.shared_axes,
        }
