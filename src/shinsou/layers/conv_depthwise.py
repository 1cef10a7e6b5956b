"""Depthwise and separable convolution layers (channels-last), Keras's weights and configs.

Example:
    >>> import numpy as np
    >>> from shinsou import layers
    >>> layers.DepthwiseConv2D(3, depth_multiplier=2)(np.ones((1, 5, 5, 4))).shape
    (1, 3, 3, 8)
"""

from __future__ import annotations

from .. import initializers, ops, regularizers
from .conv_base import _BaseConv
from .core import _serialize_or_none, check_positive_int

__all__ = [
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
    "SeparableConvolution1D",
    "SeparableConvolution2D",
]


class _DepthwiseConv(_BaseConv):
    def __init__(
        self,
        kernel_size,
        strides=1,
        padding="valid",
        depth_multiplier=1,
        data_format=None,
        dilation_rate=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        self._setup(locals())
        check_positive_int(type(self).__name__, "depth_multiplier", depth_multiplier)
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.depthwise_constraint = depthwise_constraint

    def _make_weights(self, channels):
        # Keras 3 names this weight "kernel" (tf.keras called it "depthwise_kernel").
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
            name="kernel",
        )

    def _output_channels(self, channels):
        return channels * self.depth_multiplier

    def _convolve(self, inputs):
        return ops.depthwise_conv(
            inputs, self.kernel, self.strides, self.padding, None, self.dilation_rate
        )

    def get_config(self):
        return {
            **super().get_config(),
            "depth_multiplier": self.depth_multiplier,
            **self._base_config(),
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "depthwise_regularizer": _serialize_or_none(self.depthwise_regularizer),
            "depthwise_constraint": None,
        }


class DepthwiseConv1D(_DepthwiseConv):
    """Each input channel convolved with its own ``depth_multiplier`` filters, over steps.

    Example:
        >>> import numpy as np
        >>> DepthwiseConv1D(3, depth_multiplier=2)(np.ones((1, 8, 4))).shape
        (1, 6, 8)
    """

    rank = 1


class DepthwiseConv2D(_DepthwiseConv):
    """Each input channel convolved with its own ``depth_multiplier`` filters; kernel
    ``(kh, kw, channels, depth_multiplier)``, output channel ``c * depth_multiplier + m``.

    Example:
        >>> import numpy as np
        >>> layer = DepthwiseConv2D(3, padding="same")
        >>> layer(np.ones((1, 8, 8, 16))).shape, layer.kernel.shape
        ((1, 8, 8, 16), (3, 3, 16, 1))
    """

    rank = 2


class _SeparableConv(_BaseConv):
    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format=None,
        dilation_rate=1,
        depth_multiplier=1,
        activation=None,
        use_bias=True,
        depthwise_initializer="glorot_uniform",
        pointwise_initializer="glorot_uniform",
        bias_initializer="zeros",
        depthwise_regularizer=None,
        pointwise_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        depthwise_constraint=None,
        pointwise_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        self._setup(locals())
        name = type(self).__name__
        check_positive_int(name, "filters", filters)
        check_positive_int(name, "depth_multiplier", depth_multiplier)
        self.filters = filters
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.depthwise_regularizer = regularizers.get(depthwise_regularizer)
        self.pointwise_regularizer = regularizers.get(pointwise_regularizer)
        self.depthwise_constraint = depthwise_constraint
        self.pointwise_constraint = pointwise_constraint

    def _make_weights(self, channels):
        self.depthwise_kernel = self.add_weight(
            shape=(*self.kernel_size, channels, self.depth_multiplier),
            initializer=self.depthwise_initializer,
            regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint,
            name="depthwise_kernel",
        )
        self.pointwise_kernel = self.add_weight(
            shape=(*(1,) * self.rank, channels * self.depth_multiplier, self.filters),
            initializer=self.pointwise_initializer,
            regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint,
            name="pointwise_kernel",
        )

    def _convolve(self, inputs):
        depthwise = ops.depthwise_conv(
            inputs, self.depthwise_kernel, self.strides, self.padding, None, self.dilation_rate
        )
        return ops.conv(depthwise, self.pointwise_kernel)  # 1x1: a single GEMM

    def get_config(self):
        return {
            **super().get_config(),
            "depth_multiplier": self.depth_multiplier,
            "filters": self.filters,
            **self._base_config(),
            "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
            "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
            "depthwise_regularizer": _serialize_or_none(self.depthwise_regularizer),
            "pointwise_regularizer": _serialize_or_none(self.pointwise_regularizer),
            "depthwise_constraint": None,
            "pointwise_constraint": None,
        }


class SeparableConv1D(_SeparableConv):
    """Depthwise 1-D convolution, then a pointwise (1-wide) one mixing the channels.

    Example:
        >>> import numpy as np
        >>> SeparableConv1D(5, 3)(np.ones((2, 9, 4))).shape
        (2, 7, 5)
    """

    rank = 1


class SeparableConv2D(_SeparableConv):
    """Depthwise 2-D convolution (``depthwise_kernel (kh, kw, in, multiplier)``), then a 1x1
    convolution (``pointwise_kernel (1, 1, in * multiplier, filters)``), then the bias.

    Example:
        >>> import numpy as np
        >>> layer = SeparableConv2D(8, 3, padding="same")
        >>> layer(np.ones((1, 6, 6, 4))).shape, layer.count_params()
        ((1, 6, 6, 8), 76)
    """

    rank = 2


# Keras's other names for the same layers.


SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D
