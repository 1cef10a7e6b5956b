"""Reshaping layers: Flatten, Reshape, Permute, RepeatVector, up-sampling, zero-padding and
cropping — each a few shape ops whose gradients route values back where they came from.

Flatten and Reshape return views (no copy) of contiguous inputs. The batch axis is never
touched; shapes given to the layers leave it out, as in Keras.

Example:
    >>> import shinsou
    >>> from shinsou import layers
    >>> x = shinsou.Input((4, 4, 3))
    >>> layers.Flatten()(layers.ZeroPadding2D(1)(x)).shape
    (None, 108)
"""

from __future__ import annotations

import functools
import math

from .. import backend, ops
from ..backend import xp
from ..tensor import Tensor
from .base import InputSpec, Layer
from .core import check_positive_int

__all__ = [
    "Cropping1D",
    "Cropping2D",
    "Flatten",
    "Permute",
    "RepeatVector",
    "Reshape",
    "UpSampling1D",
    "UpSampling2D",
    "ZeroPadding1D",
    "ZeroPadding2D",
]

_DATA_FORMATS = ("channels_last", "channels_first")


def standardize_data_format(layer_name, data_format):
    """``"channels_last"`` for None, else the given format checked against the valid two.

    Example:
        >>> standardize_data_format("Flatten", None)
        'channels_last'
        >>> standardize_data_format("Flatten", "CHANNELS_FIRST")
        'channels_first'
    """
    if data_format is None:
        return "channels_last"
    value = str(data_format).lower()
    if value not in _DATA_FORMATS:
        raise ValueError(
            f"{layer_name}: data_format must be one of {_DATA_FORMATS}, received "
            f"data_format={data_format!r}"
        )
    return value


def _int_pair(layer_name, argument, value, allow_zero=True):
    """An int or a pair of ints as a tuple of two (non-negative, or positive) ints."""
    pair = (value, value) if isinstance(value, int) else value
    lowest = 0 if allow_zero else 1
    if (
        not isinstance(pair, (list, tuple))
        or len(pair) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= lowest for v in pair)
    ):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"{layer_name}: {argument} must be a {kind} int or a tuple of 2 {kind} ints, "
            f"received {argument}={value!r}"
        )
    return tuple(pair)


def _pair_of_pairs(layer_name, argument, value):
    """Keras's 2-D padding/cropping forms: int, (h, w), or ((top, bottom), (left, right))."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ValueError(
            f"{layer_name}: {argument} must be an int, a tuple of 2 ints or a tuple of 2 tuples "
            f"of 2 ints, received {argument}={value!r}"
        )
    return tuple(_int_pair(layer_name, argument, part) for part in value)


def _spatial_axes(data_format, count):
    """Positions of the ``count`` spatial axes in a batch-first tensor."""
    first = 2 if data_format == "channels_first" else 1
    return tuple(range(first, first + count))


def _add_to_known(size, amount):
    return None if size is None else size + amount


class _ShapeLayer(Layer):
    """A weightless layer that only moves values, so its output keeps the input's dtype."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True

    def _output_dtype(self, inputs):
        return inputs.dtype


class Flatten(_ShapeLayer):
    """Flattens every axis but the batch one: ``(N, d1, d2, ...)`` → ``(N, d1 * d2 * ...)``.

    With ``data_format="channels_first"`` the channels move last first, so that the order of
    the values matches a channels-last model's.

    Example:
        >>> import numpy as np
        >>> Flatten()(np.zeros((2, 3, 4))).shape
        (2, 12)
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format("Flatten", data_format)
        self.input_spec = InputSpec(min_ndim=1)

    def call(self, inputs):
        if self.data_format == "channels_first" and inputs.ndim > 2:
            inputs = ops.transpose(inputs, (0, *range(2, inputs.ndim), 1))
        return ops.reshape(inputs, (inputs.shape[0], math.prod(inputs.shape[1:])))

    def compute_output_shape(self, input_shape):
        rest = tuple(input_shape)[1:]
        return (input_shape[0], None if None in rest else math.prod(rest))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class Reshape(_ShapeLayer):
    """Reshapes each sample to ``target_shape`` (batch axis excluded; one entry may be -1).

    Example:
        >>> import numpy as np
        >>> Reshape((3, -1))(np.zeros((2, 12))).shape
        (2, 3, 4)
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, int):
            target_shape = (target_shape,)
        target_shape = tuple(target_shape) if isinstance(target_shape, (list, tuple)) else None
        if (
            target_shape is None
            or not all(isinstance(d, int) and (d > 0 or d == -1) for d in target_shape)
            or target_shape.count(-1) > 1
        ):
            raise ValueError(
                "Reshape: target_shape must be a tuple of positive ints with at most one -1, "
                f"received target_shape={target_shape!r}"
            )
        self.target_shape = target_shape

    def _resolve(self, sample_shape):
        """``target_shape`` with its -1 worked out for samples of ``sample_shape``."""
        if None in sample_shape:
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = math.prod(sample_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if known == 0 or size % known:
                self._raise_mismatch(sample_shape)
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            self._raise_mismatch(sample_shape)
        return self.target_shape

    def _raise_mismatch(self, sample_shape):
        raise ValueError(
            f"Reshape '{self.name}': cannot reshape inputs of shape (batch, "
            f"{', '.join(map(str, sample_shape))}) ({math.prod(sample_shape)} values per sample) "
            f"into target_shape {self.target_shape}"
        )

    def call(self, inputs):
        return ops.reshape(inputs, (inputs.shape[0], *self._resolve(tuple(inputs.shape[1:]))))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *self._resolve(tuple(input_shape)[1:]))

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


class Permute(_ShapeLayer):
    """Permutes the non-batch axes; ``dims`` numbers them from 1, as in Keras.

    Example:
        >>> import numpy as np
        >>> Permute((2, 1))(np.zeros((5, 3, 4))).shape
        (5, 4, 3)
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(dims) if isinstance(dims, (list, tuple)) else None
        if dims is None or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(
                "Permute: dims must be a permutation of 1..n (axis 0, the batch, is not "
                f"included), received dims={dims!r}"
            )
        self.dims = dims
        self.input_spec = InputSpec(ndim=len(dims) + 1)

    def call(self, inputs):
        return ops.transpose(inputs, (0, *self.dims))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *(input_shape[d] for d in self.dims))

    def get_config(self):
        return {**super().get_config(), "dims": self.dims}


class RepeatVector(_ShapeLayer):
    """Repeats a batch of vectors ``n`` times: ``(N, features)`` → ``(N, n, features)``.

    Example:
        >>> import numpy as np
        >>> RepeatVector(3)(np.array([[1.0, 2.0]])).tolist()
        [[[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]]
    """

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("RepeatVector", "n", n)
        self.n = n
        self.input_spec = InputSpec(ndim=2)

    def call(self, inputs):
        return ops.repeat(ops.expand_dims(inputs, 1), self.n, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class UpSampling1D(_ShapeLayer):
    """Repeats each step ``size`` times: ``(N, steps, C)`` → ``(N, steps * size, C)``.

    Example:
        >>> import numpy as np
        >>> UpSampling1D(2)(np.array([[[1.0], [2.0]]])).numpy().ravel().tolist()
        [1.0, 1.0, 2.0, 2.0]
    """

    def __init__(self, size=2, **kwargs):
        super().__init__(**kwargs)
        check_positive_int("UpSampling1D", "size", size)
        self.size = size
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        return ops.repeat(inputs, self.size, axis=1)

    def compute_output_shape(self, input_shape):
        steps = input_shape[1]
        return (input_shape[0], None if steps is None else steps * self.size, input_shape[2])

    def get_config(self):
        return {**super().get_config(), "size": self.size}


@functools.lru_cache(maxsize=64)
def _bilinear_matrix(in_size, factor):
    """The ``(in_size * factor, in_size)`` matrix of 1-D linear interpolation weights with
    half-pixel centres (TF's ``half_pixel_centers``, torch's ``align_corners=False``): output
    ``o`` samples the input at ``(o + 0.5) / factor - 0.5``, clamped to the edges."""
    out_size = in_size * factor
    source = (xp.arange(out_size, dtype=xp.float32) + 0.5) / factor - 0.5
    source = xp.clip(source, 0, in_size - 1)
    lower = xp.floor(source).astype(xp.intp)
    upper = xp.minimum(lower + 1, in_size - 1)
    upper_weight = source - lower
    matrix = xp.zeros((out_size, in_size), dtype=xp.float32)
    rows = xp.arange(out_size)
    matrix[rows, lower] = 1 - upper_weight
    matrix[rows, upper] += upper_weight  # lower == upper at the clamped edge: weights add to 1
    matrix.flags.writeable = False  # shared between calls through the cache
    return matrix


class UpSampling2D(_ShapeLayer):
    """Up-samples images by ``size = (rows, cols)``: ``"nearest"`` repeats pixels,
    ``"bilinear"`` interpolates with half-pixel centres as Keras/TF (and torch's
    ``align_corners=False``) do.

    Example:
        >>> import numpy as np
        >>> UpSampling2D((1, 2))(np.array([[[[1.0], [2.0]]]])).numpy().ravel().tolist()
        [1.0, 1.0, 2.0, 2.0]
        >>> x = np.array([[[[0.0], [4.0]]]])
        >>> UpSampling2D((1, 2), interpolation="bilinear")(x).numpy().ravel().tolist()
        [0.0, 1.0, 3.0, 4.0]
    """

    _INTERPOLATIONS = ("nearest", "bilinear")

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format("UpSampling2D", data_format)
        self.size = _int_pair("UpSampling2D", "size", size, allow_zero=False)
        interpolation = str(interpolation).lower()
        if interpolation not in self._INTERPOLATIONS:
            raise ValueError(
                f"UpSampling2D: interpolation must be one of {self._INTERPOLATIONS}, received "
                f"interpolation={interpolation!r}"
            )
        self.interpolation = interpolation
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        channels_first = self.data_format == "channels_first"
        if channels_first:
            inputs = ops.transpose(inputs, (0, 2, 3, 1))
        if self.interpolation == "nearest":
            outputs = ops.repeat(ops.repeat(inputs, self.size[0], axis=1), self.size[1], axis=2)
        else:
            outputs = self._bilinear(inputs)
        return ops.transpose(outputs, (0, 3, 1, 2)) if channels_first else outputs

    def _bilinear(self, x):
        # Separable: interpolate the rows with one matrix product per image, then the columns
        # with one per output row — BLAS does the work and the backward is two more products.
        if not backend.is_floating(x.dtype):
            x = ops.cast(x, backend.floatx())  # int @ float32 weights would give float64
        batch, height, width, channels = x.shape
        rows = Tensor._wrap(_bilinear_matrix(height, self.size[0]))
        cols = Tensor._wrap(_bilinear_matrix(width, self.size[1]))
        tall = ops.matmul(rows, ops.reshape(x, (batch, height, width * channels)))
        tall = ops.reshape(tall, (batch * height * self.size[0], width, channels))
        wide = ops.matmul(cols, tall)
        return ops.reshape(wide, (batch, height * self.size[0], width * self.size[1], channels))

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, factor in zip(_spatial_axes(self.data_format, 2), self.size):
            shape[axis] = None if shape[axis] is None else shape[axis] * factor
        return tuple(shape)

    def _output_dtype(self, inputs):
        return inputs.dtype if self.interpolation == "nearest" else self.dtype

    def get_config(self):
        return {
            **super().get_config(),
            "size": self.size,
            "data_format": self.data_format,
            "interpolation": self.interpolation,
        }


class ZeroPadding1D(_ShapeLayer):
    """Adds zeros at the start and end of the steps axis: ``padding`` is an int or
    ``(left, right)``.

    Example:
        >>> import numpy as np
        >>> ZeroPadding1D((1, 2))(np.ones((1, 2, 1))).numpy().ravel().tolist()
        [0.0, 1.0, 1.0, 0.0, 0.0]
    """

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _int_pair("ZeroPadding1D", "padding", padding)
        self.data_format = standardize_data_format("ZeroPadding1D", data_format)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        widths = [(0, 0)] * 3
        widths[_spatial_axes(self.data_format, 1)[0]] = self.padding
        return ops.pad(inputs, widths)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        axis = _spatial_axes(self.data_format, 1)[0]
        shape[axis] = _add_to_known(shape[axis], sum(self.padding))
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


class ZeroPadding2D(_ShapeLayer):
    """Adds rows and columns of zeros around images: ``padding`` is an int, ``(rows, cols)``
    or ``((top, bottom), (left, right))``.

    Example:
        >>> import numpy as np
        >>> ZeroPadding2D(((1, 0), (0, 2)))(np.ones((1, 2, 2, 3))).shape
        (1, 3, 4, 3)
    """

    def __init__(self, padding=(1, 1), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _pair_of_pairs("ZeroPadding2D", "padding", padding)
        self.data_format = standardize_data_format("ZeroPadding2D", data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        widths = [(0, 0)] * 4
        for axis, pair in zip(_spatial_axes(self.data_format, 2), self.padding):
            widths[axis] = pair
        return ops.pad(inputs, widths)

    def compute_output_shape(self, input_shape):
        shape = list(input_shape)
        for axis, pair in zip(_spatial_axes(self.data_format, 2), self.padding):
            shape[axis] = _add_to_known(shape[axis], sum(pair))
        return tuple(shape)

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "data_format": self.data_format}


def _crop(layer, inputs_shape, axes, croppings):
    """Slices that crop ``axes``, after checking that something is left of each."""
    index = [slice(None)] * len(inputs_shape)
    for axis, (start, end) in zip(axes, croppings):
        size = inputs_shape[axis]
        if size is not None and start + end >= size:
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}': cropping {layer.cropping} removes all "
                f"of axis {axis} of inputs of shape {tuple(inputs_shape)}; the cropping must be "
                "smaller than the axis"
            )
        index[axis] = slice(start, None if size is None else size - end)
    return tuple(index)


def _cropped_shape(layer, input_shape, axes, croppings):
    _crop(layer, input_shape, axes, croppings)  # checks the sizes
    shape = list(input_shape)
    for axis, (start, end) in zip(axes, croppings):
        shape[axis] = _add_to_known(shape[axis], -(start + end))
    return tuple(shape)


class Cropping1D(_ShapeLayer):
    """Removes steps from the start and end of ``(N, steps, C)`` inputs: ``cropping`` is an
    int or ``(start, end)``.

    Example:
        >>> import numpy as np
        >>> Cropping1D((1, 2))(np.arange(5.0).reshape(1, 5, 1)).numpy().ravel().tolist()
        [1.0, 2.0]
    """

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = _int_pair("Cropping1D", "cropping", cropping)
        self.input_spec = InputSpec(ndim=3)

    def call(self, inputs):
        return ops.getitem(inputs, _crop(self, inputs.shape, (1,), (self.cropping,)))

    def compute_output_shape(self, input_shape):
        return _cropped_shape(self, input_shape, (1,), (self.cropping,))

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping}


class Cropping2D(_ShapeLayer):
    """Crops rows and columns off images: ``cropping`` is an int, ``(rows, cols)`` or
    ``((top, bottom), (left, right))``.

    Example:
        >>> import numpy as np
        >>> Cropping2D(((1, 1), (2, 0)))(np.zeros((1, 5, 5, 3))).shape
        (1, 3, 3, 3)
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.cropping = _pair_of_pairs("Cropping2D", "cropping", cropping)
        self.data_format = standardize_data_format("Cropping2D", data_format)
        self.input_spec = InputSpec(ndim=4)

    def call(self, inputs):
        axes = _spatial_axes(self.data_format, 2)
        return ops.getitem(inputs, _crop(self, inputs.shape, axes, self.cropping))

    def compute_output_shape(self, input_shape):
        return _cropped_shape(self, input_shape, _spatial_axes(self.data_format, 2), self.cropping)

    def get_config(self):
        return {**super().get_config(), "cropping": self.cropping, "data_format": self.data_format}
