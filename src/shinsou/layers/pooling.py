"""Pooling layers (channels-last): max and average pooling over windows, and global pooling
over all spatial axes, in 1, 2 and 3 dimensions, with Keras's aliases (``MaxPool2D``...).

Window pooling is one op of :mod:`shinsou.ops.pooling`; "same" padding is TensorFlow's, and
average pooling divides border windows by the number of real values in them, as Keras does.

Example:
    >>> import numpy as np
    >>> from shinsou import layers
    >>> x = np.arange(16, dtype="float32").reshape(1, 4, 4, 1)
    >>> layers.MaxPooling2D()(x)[0, :, :, 0].tolist()
    [[5.0, 7.0], [13.0, 15.0]]
    >>> layers.GlobalAveragePooling2D()(x).tolist()
    [[7.5]]
"""

from __future__ import annotations

from .. import backend, ops
from .base import InputSpec, Layer
from .conv_base import conv_output_length, standardize_padding, standardize_tuple
from .reshaping import standardize_data_format

__all__ = [
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "AvgPool1D",
    "AvgPool2D",
    "AvgPool3D",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPool3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPool3D",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
]


def _as_float(inputs, dtype):
    """Integer images (uint8 pixels, say) are pooled as the layer's float type."""
    return inputs if backend.is_floating(inputs.dtype) else ops.cast(inputs, dtype)


def _check_rank(layer, input_shape):
    if len(input_shape) != layer.rank + 2:
        layout = "(batch, " + "spatial, " * layer.rank + "channels)"
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}' expects inputs of rank {layer.rank + 2} "
            f"{layout}, received input shape {tuple(input_shape)}"
        )


class _Pooling(Layer):
    """Max or average pooling over ``pool_size`` windows moved by ``strides``."""

    rank = 2
    pool_mode = "max"

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.pool_size = standardize_tuple(name, "pool_size", pool_size, self.rank)
        # Keras records the default strides (the pool size) in the config, not None.
        strides = self.pool_size if strides is None else strides
        self.strides = standardize_tuple(name, "strides", strides, self.rank)
        self.padding = standardize_padding(name, padding)
        self.data_format = standardize_data_format(name, data_format)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self.built = True

    def call(self, inputs):
        pool = ops.max_pool if self.pool_mode == "max" else ops.average_pool
        return pool(
            _as_float(inputs, self.dtype),
            self.pool_size,
            self.strides,
            self.padding,
            self.data_format,
        )

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape)
        input_shape = tuple(input_shape)
        channels_last = self.data_format == "channels_last"
        spatial = input_shape[1:-1] if channels_last else input_shape[2:]
        out_spatial = [
            conv_output_length(n, k, s, 1, self.padding)
            for n, k, s in zip(spatial, self.pool_size, self.strides)
        ]
        if any(s is not None and s <= 0 for s in out_spatial):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': an input of shape {input_shape} is "
                f"smaller than pool_size {self.pool_size} with padding='valid'"
            )
        if channels_last:
            return (input_shape[0], *out_spatial, input_shape[-1])
        return (input_shape[0], input_shape[1], *out_spatial)

    def get_config(self):
        return {
            **super().get_config(),
            "pool_size": self.pool_size,
            "padding": self.padding,
            "strides": self.strides,
            "data_format": self.data_format,
        }


class MaxPooling1D(_Pooling):
    """Largest value of each ``pool_size`` window of steps.

    Example:
        >>> import numpy as np
        >>> MaxPooling1D(pool_size=2, strides=1)(np.array([[[1.0], [3.0], [2.0]]])).shape
        (1, 2, 1)
    """

    rank = 1


class MaxPooling2D(_Pooling):
    """Largest value of each ``pool_size`` window (default 2x2, moved by the pool size).

    Example:
        >>> import numpy as np
        >>> MaxPooling2D((2, 2), padding="same")(np.ones((1, 5, 5, 3))).shape
        (1, 3, 3, 3)
    """

    rank = 2


class MaxPooling3D(_Pooling):
    """Largest value of each ``pool_size`` window of a volume.

    Example:
        >>> import numpy as np
        >>> MaxPooling3D()(np.ones((1, 4, 4, 4, 2))).shape
        (1, 2, 2, 2, 2)
    """

    rank = 3


class AveragePooling1D(_Pooling):
    """Mean of each ``pool_size`` window of steps.

    Example:
        >>> import numpy as np
        >>> AveragePooling1D()(np.array([[[1.0], [3.0], [2.0], [6.0]]])).numpy().ravel().tolist()
        [2.0, 4.0]
    """

    rank = 1
    pool_mode = "average"


class AveragePooling2D(_Pooling):
    """Mean of each ``pool_size`` window; with "same" padding, border windows average only
    the values inside the input.

    Example:
        >>> import numpy as np
        >>> AveragePooling2D(3, strides=2, padding="same")(np.ones((1, 5, 5, 1))).shape
        (1, 3, 3, 1)
    """

    rank = 2
    pool_mode = "average"


class AveragePooling3D(_Pooling):
    """Mean of each ``pool_size`` window of a volume.

    Example:
        >>> import numpy as np
        >>> AveragePooling3D(2)(np.ones((1, 4, 4, 4, 2))).shape
        (1, 2, 2, 2, 2)
    """

    rank = 3
    pool_mode = "average"


# -- global pooling ---------------------------------------------------------------------------


class _GlobalPooling(Layer):
    """Mean or maximum over every spatial axis; ``keepdims`` keeps them with size 1."""

    rank = 2

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = standardize_data_format(type(self).__name__, data_format)
        self.keepdims = bool(keepdims)
        self.input_spec = InputSpec(ndim=self.rank + 2)
        self.built = True

    def _spatial_axes(self):
        first = 1 if self.data_format == "channels_last" else 2
        return tuple(range(first, first + self.rank))

    def compute_output_shape(self, input_shape):
        _check_rank(self, input_shape)
        input_shape = tuple(input_shape)
        axes = self._spatial_axes()
        if self.keepdims:
            return tuple(1 if i in axes else size for i, size in enumerate(input_shape))
        return tuple(size for i, size in enumerate(input_shape) if i not in axes)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class _GlobalAverage(_GlobalPooling):
    def call(self, inputs):
        return ops.mean(
            _as_float(inputs, self.dtype), axis=self._spatial_axes(), keepdims=self.keepdims
        )


class _GlobalMax(_GlobalPooling):
    def call(self, inputs):
        return ops.max(
            _as_float(inputs, self.dtype), axis=self._spatial_axes(), keepdims=self.keepdims
        )


class GlobalAveragePooling1D(_GlobalAverage):
    """Mean over the steps: ``(batch, steps, features)`` to ``(batch, features)``.

    With a mask (from ``Embedding(mask_zero=True)``, say) only the unmasked steps are averaged,
    and no mask goes further.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[1.0], [3.0], [8.0]]])
        >>> layer = GlobalAveragePooling1D()
        >>> layer(x).tolist(), layer(x, mask=np.array([[True, True, False]])).tolist()
        ([[4.0]], [[2.0]])
    """

    rank = 1

    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(data_format=data_format, keepdims=keepdims, **kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if mask is None:
            return super().call(inputs)
        inputs = _as_float(inputs, self.dtype)
        (steps_axis,) = self._spatial_axes()
        kept = ops.expand_dims(ops.cast(mask, "bool"), 3 - steps_axis)
        # where(), not a product: a NaN or inf in a masked step must not leak into the mean.
        total = ops.sum(ops.where(kept, inputs, 0.0), axis=steps_axis, keepdims=self.keepdims)
        count = ops.sum(ops.cast(kept, inputs.dtype), axis=steps_axis, keepdims=self.keepdims)
        return total / count

    def compute_mask(self, inputs, mask=None):
        return None


class GlobalAveragePooling2D(_GlobalAverage):
    """Mean over height and width: ``(batch, h, w, channels)`` to ``(batch, channels)``.

    Example:
        >>> import numpy as np
        >>> GlobalAveragePooling2D(keepdims=True)(np.ones((2, 4, 4, 3))).shape
        (2, 1, 1, 3)
    """

    rank = 2


class GlobalAveragePooling3D(_GlobalAverage):
    """Mean over the three spatial axes of a volume.

    Example:
        >>> import numpy as np
        >>> GlobalAveragePooling3D()(np.ones((2, 3, 3, 3, 4))).shape
        (2, 4)
    """

    rank = 3


class GlobalMaxPooling1D(_GlobalMax):
    """Maximum over the steps: ``(batch, steps, features)`` to ``(batch, features)``.

    Example:
        >>> import numpy as np
        >>> GlobalMaxPooling1D()(np.array([[[1.0], [3.0], [2.0]]])).tolist()
        [[3.0]]
    """

    rank = 1


class GlobalMaxPooling2D(_GlobalMax):
    """Maximum over height and width: ``(batch, h, w, channels)`` to ``(batch, channels)``.

    Example:
        >>> import numpy as np
        >>> GlobalMaxPooling2D()(np.ones((2, 4, 4, 3))).shape
        (2, 3)
    """

    rank = 2


class GlobalMaxPooling3D(_GlobalMax):
    """Maximum over the three spatial axes of a volume.

    Example:
        >>> import numpy as np
        >>> GlobalMaxPooling3D(keepdims=True)(np.ones((2, 3, 3, 3, 4))).shape
        (2, 1, 1, 1, 4)
    """

    rank = 3


# Keras's short names for the same layers.
MaxPool1D = MaxPooling1D
MaxPool2D = MaxPooling2D
MaxPool3D = MaxPooling3D
AvgPool1D = AveragePooling1D
AvgPool2D = AveragePooling2D
AvgPool3D = AveragePooling3D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalAvgPool2D = GlobalAveragePooling2D
GlobalAvgPool3D = GlobalAveragePooling3D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalMaxPool2D = GlobalMaxPooling2D
GlobalMaxPool3D = GlobalMaxPooling3D
