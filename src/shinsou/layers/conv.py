"""Convolution layers (channels-last): Conv1D/2D/3D, their transposes, depthwise and separable
convolutions — ``activation(conv(inputs, kernel) + bias)`` with Keras's weights and configs.

The convolution itself is one op of :mod:`shinsou.ops.convolution`. The bias (and a ReLU, the usual
activation) is then added *into the convolution's own fresh output array* as one more node:
no second full-size array and no second pass for the ReLU, and the bias gradient is one
matrix-vector product over the ``(N·H·W, filters)`` view of the output gradient.

``data_format="channels_first"`` works through two transposes around the channels-last
computation; the kernels keep Keras's layout either way.

Example:
    >>> import numpy as np
    >>> from shinsou import layers
    >>> conv = layers.Conv2D(8, 3, padding="same", activation="relu")
    >>> conv(np.ones((2, 28, 28, 1))).shape, conv.kernel.shape, conv.count_params()
    ((2, 28, 28, 8), (3, 3, 1, 8), 80)
"""

from __future__ import annotations

from .. import initializers, ops, regularizers
from .conv_base import _BaseConv, deconv_output_length, standardize_tuple
from .core import _serialize_or_none, check_positive_int

__all__ = [
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "Convolution1D",
    "Convolution1DTranspose",
    "Convolution2D",
    "Convolution2DTranspose",
    "Convolution3D",
    "Convolution3DTranspose",
]


class _Conv(_BaseConv):
    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        groups=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        lora_rank=None,
        **kwargs,
    ):
        self._setup(locals())
        name = type(self).__name__
        check_positive_int(name, "filters", filters)
        check_positive_int(name, "groups", groups)
        if lora_rank is not None:
            raise ValueError(f"{name}: lora_rank is not supported; leave it None")
        if groups != 1:
            raise ValueError(
                f"{name}: groups={groups} (grouped convolution) is not supported, since "
                "ops.conv has no grouped form; use groups=1, or DepthwiseConv2D when every "
                "channel is its own group"
            )
        self.filters = filters
        self.groups = groups
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = kernel_constraint

    def _make_weights(self, channels):
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, channels, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )

    def _convolve(self, inputs):
        padding = self.padding
        if padding == "causal":
            # Pad only the past, so that output step t sees inputs up to t and no further.
            extent = (self.kernel_size[0] - 1) * self.dilation_rate[0]
            inputs = ops.pad(inputs, ((0, 0), (extent, 0), (0, 0)))
            padding = "valid"
        return ops.conv(inputs, self.kernel, self.strides, padding, None, self.dilation_rate)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            **self._base_config(),
            "groups": self.groups,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": _serialize_or_none(self.kernel_regularizer),
            "kernel_constraint": None,
        }


class Conv1D(_Conv):
    """1-D convolution over steps: inputs ``(batch, steps, channels)``, kernel
    ``(kernel_size, channels, filters)``. ``padding="causal"`` pads only the past.

    Example:
        >>> import numpy as np
        >>> Conv1D(4, 3, padding="causal")(np.ones((2, 10, 3))).shape
        (2, 10, 4)
    """

    rank = 1
    allows_causal = True


class Conv2D(_Conv):
    """2-D convolution over images: inputs ``(batch, height, width, channels)``, kernel
    ``(kh, kw, channels, filters)``, bias ``(filters,)``.

    Example:
        >>> import numpy as np
        >>> layer = Conv2D(32, 3)
        >>> layer(np.ones((1, 28, 28, 1))).shape, layer.count_params()
        ((1, 26, 26, 32), 320)
    """

    rank = 2


class Conv3D(_Conv):
    """3-D convolution over volumes: inputs ``(batch, depth, height, width, channels)``.

    Example:
        >>> import numpy as np
        >>> Conv3D(2, 3, strides=2, padding="same")(np.ones((1, 8, 8, 8, 1))).shape
        (1, 4, 4, 4, 2)
    """

    rank = 3


# -- transposed convolutions ------------------------------------------------------------------


class _ConvTranspose(_BaseConv):
    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        output_padding=None,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        self._setup(locals())
        name = type(self).__name__
        check_positive_int(name, "filters", filters)
        self.output_padding = None
        if output_padding is not None:
            self.output_padding = standardize_tuple(
                name, "output_padding", output_padding, self.rank, allow_zero=True
            )
            if any(p >= s for p, s in zip(self.output_padding, self.strides)):
                raise ValueError(
                    f"{name}: output_padding must be smaller than strides on every axis, "
                    f"received output_padding={self.output_padding}, strides={self.strides}"
                )
        self.filters = filters
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.kernel_constraint = kernel_constraint

    def _make_weights(self, channels):
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, self.filters, channels),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )

    def _convolve(self, inputs):
        return ops.conv_transpose(
            inputs,
            self.kernel,
            self.strides,
            self.padding,
            self.output_padding,
            None,
            self.dilation_rate,
        )

    def _spatial_output(self, spatial):
        extra = self.output_padding or (None,) * self.rank
        return [
            deconv_output_length(n, k, s, d, self.padding, p)
            for n, k, s, d, p in zip(
                spatial, self.kernel_size, self.strides, self.dilation_rate, extra
            )
        ]

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            **self._base_config(),
            "output_padding": self.output_padding,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "kernel_regularizer": _serialize_or_none(self.kernel_regularizer),
            "kernel_constraint": None,
        }


class Conv1DTranspose(_ConvTranspose):
    """Transposed 1-D convolution (up-sampling by ``strides``); kernel
    ``(kernel_size, filters, channels)``.

    Example:
        >>> import numpy as np
        >>> Conv1DTranspose(4, 3, strides=2, padding="same")(np.ones((2, 5, 3))).shape
        (2, 10, 4)
    """

    rank = 1


class Conv2DTranspose(_ConvTranspose):
    """Transposed 2-D convolution, the gradient of :class:`Conv2D` with respect to its input;
    kernel ``(kh, kw, filters, channels)`` as in Keras.

    Example:
        >>> import numpy as np
        >>> Conv2DTranspose(8, 3, strides=2, padding="same")(np.ones((1, 7, 7, 16))).shape
        (1, 14, 14, 8)
    """

    rank = 2


class Conv3DTranspose(_ConvTranspose):
    """Transposed 3-D convolution; kernel ``(kd, kh, kw, filters, channels)``.

    Example:
        >>> import numpy as np
        >>> Conv3DTranspose(2, 2, strides=2)(np.ones((1, 2, 2, 2, 3))).shape
        (1, 4, 4, 4, 2)
    """

    rank = 3


# -- depthwise and separable ------------------------------------------------------------------


Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution3D = Conv3D
Convolution1DTranspose = Conv1DTranspose
Convolution2DTranspose = Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
