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

from .. import activations, initializers, ops, regularizers
from ..backend import xp
from ..tensor import record
from .base import InputSpec, Layer
from .core import _serialize_or_none, check_positive_int
from .reshaping import standardize_data_format

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
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
    "SeparableConvolution1D",
    "SeparableConvolution2D",
]


# -- arguments ------------------------------------------------------------------------------


def standardize_tuple(layer_name, argument, value, rank, allow_zero=False):
    """An int or ``rank`` ints as a tuple of ``rank`` positive (or non-negative) ints.

    Example:
        >>> standardize_tuple("Conv2D", "kernel_size", 3, 2)
        (3, 3)
    """
    values = (value,) * rank if isinstance(value, int) else value
    lowest = 0 if allow_zero else 1
    if (
        not isinstance(values, (list, tuple))
        or len(values) != rank
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= lowest for v in values)
    ):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(
            f"{layer_name}: {argument} must be a {kind} int or a tuple of {rank} {kind} ints, "
            f"received {argument}={value!r}"
        )
    return tuple(values)


def standardize_padding(layer_name, padding, allow_causal=False):
    """``padding`` lower-cased and checked against the valid choices.

    Example:
        >>> standardize_padding("Conv2D", "SAME")
        'same'
    """
    choices = ("valid", "same", "causal") if allow_causal else ("valid", "same")
    value = padding.lower() if isinstance(padding, str) else padding
    if value not in choices:
        raise ValueError(
            f"{layer_name}: padding must be one of {choices}, received padding={padding!r}"
        )
    return value


def conv_output_length(length, kernel_size, stride, dilation, padding):
    """Output length of a convolution along one axis (None when the input's is unknown).

    Example:
        >>> conv_output_length(28, 3, 2, 1, "valid"), conv_output_length(28, 3, 2, 1, "same")
        (13, 14)
    """
    if length is None:
        return None
    if padding in ("same", "causal"):
        return -(-length // stride)
    extent = (kernel_size - 1) * dilation + 1
    return (length - extent) // stride + 1


def deconv_output_length(length, kernel_size, stride, dilation, padding, output_padding=None):
    """Output length of a transposed convolution along one axis, as Keras computes it.

    Example:
        >>> deconv_output_length(7, 3, 2, 1, "same"), deconv_output_length(7, 3, 2, 1, "valid")
        (14, 15)
    """
    if length is None:
        return None
    extent = (kernel_size - 1) * dilation + 1
    if output_padding is None:
        if padding == "same":
            return length * stride
        return length * stride + max(extent - stride, 0)
    pad = extent // 2 if padding == "same" else 0
    return (length - 1) * stride + extent - 2 * pad + output_padding


def _check_spatial_output(layer, input_shape, spatial):
    if any(s is not None and s <= 0 for s in spatial):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': an input of shape {tuple(input_shape)} is "
            f"too small for kernel_size {layer.kernel_size} with padding='{layer.padding}', "
            f"strides {layer.strides} and dilation_rate {layer.dilation_rate}: the output "
            f"would have spatial shape {tuple(spatial)}"
        )


# -- bias and ReLU, fused into the convolution's output ----------------------------------------


def add_bias_in_place(outputs, bias, relu=False):
    """``outputs + bias`` (then ``max(·, 0)`` when ``relu``) as one node, written into
    ``outputs``' own array.

    Only for an ``outputs`` fresh from an op whose backward does not read its result (the
    convolution ops): overwriting it then costs nothing and saves a full-size copy.

    Example:
        >>> import shinsou
        >>> y = add_bias_in_place(shinsou.tensor([[1.0, -3.0]]), shinsou.tensor([1.0, 1.0]), True)
        >>> y.tolist()
        [[2.0, 0.0]]
    """
    data = outputs.data
    data += bias.data
    if relu:
        xp.maximum(data, 0, out=data)

    def backward(g):
        if relu:
            g = g * (data > 0)
        grad_bias = None
        if bias.requires_grad:
            rows = g.reshape(-1, g.shape[-1])
            grad_bias = xp.ones(rows.shape[0], dtype=rows.dtype) @ rows
        return g, grad_bias

    return record(data, (outputs, bias), backward, "bias_add_relu" if relu else "bias_add")


def _channels_last(inputs):
    return ops.transpose(inputs, (0, *range(2, inputs.ndim), 1))


def _channels_first(outputs):
    return ops.transpose(outputs, (0, outputs.ndim - 1, *range(1, outputs.ndim - 1)))


class _BaseConv(Layer):
    """What every convolution layer shares: argument checks, channel bookkeeping, the fused
    bias and activation, output shapes. Subclasses set ``rank`` and implement
    ``_make_weights(channels)`` and ``_convolve(inputs)``."""

    rank = 2
    allows_causal = False

    def _setup(self, arguments):
        """Initialise from a subclass constructor's ``locals()``: the arguments all share."""
        super().__init__(
            activity_regularizer=arguments["activity_regularizer"], **arguments["kwargs"]
        )
        name = type(self).__name__
        rank = self.rank
        self.kernel_size = standardize_tuple(name, "kernel_size", arguments["kernel_size"], rank)
        self.strides = standardize_tuple(name, "strides", arguments["strides"], rank)
        self.dilation_rate = standardize_tuple(
            name, "dilation_rate", arguments["dilation_rate"], rank
        )
        self.padding = standardize_padding(name, arguments["padding"], self.allows_causal)
        self.data_format = standardize_data_format(name, arguments["data_format"])
        self.activation = activations.get(arguments["activation"])
        self.use_bias = bool(arguments["use_bias"])
        self.bias_initializer = initializers.get(arguments["bias_initializer"])
        self.bias_regularizer = regularizers.get(arguments["bias_regularizer"])
        self.bias_constraint = arguments["bias_constraint"]
        self.bias = None
        self.input_spec = InputSpec(ndim=rank + 2)

    def _output_channels(self, channels):
        return self.filters

    @property
    def _channel_axis(self):
        return -1 if self.data_format == "channels_last" else 1

    def _input_channels(self, input_shape):
        input_shape = tuple(input_shape)
        kind = type(self).__name__
        if len(input_shape) != self.rank + 2:
            layout = "(batch, " + "spatial, " * self.rank + "channels)"
            raise ValueError(
                f"{kind} '{self.name}' expects inputs of rank {self.rank + 2} {layout}, "
                f"received input shape {input_shape}"
            )
        channels = input_shape[self._channel_axis]
        if channels is None:
            raise ValueError(
                f"{kind} '{self.name}': the channel axis of the input must be known, received "
                f"input shape {input_shape}"
            )
        return channels

    def build(self, input_shape):
        channels = self._input_channels(input_shape)
        self.compute_output_shape(input_shape)  # raises when the kernel does not fit
        self._make_weights(channels)
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self._output_channels(channels),),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
        self.input_spec = InputSpec(ndim=self.rank + 2, axes={self._channel_axis: channels})
        self.built = True

    def call(self, inputs):
        channels_first = self.data_format == "channels_first"
        if channels_first:
            inputs = _channels_last(inputs)
        outputs = self._convolve(inputs)
        relu_fused = False
        if self.bias is not None:
            relu_fused = self.activation is activations.relu
            outputs = add_bias_in_place(outputs, self.bias, relu=relu_fused)
        if not relu_fused and self.activation is not activations.linear:
            outputs = self.activation(outputs)
        return _channels_first(outputs) if channels_first else outputs

    def _spatial_output(self, spatial):
        return [
            conv_output_length(n, k, s, d, self.padding)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        ]

    def compute_output_shape(self, input_shape):
        channels = self._input_channels(input_shape)
        input_shape = tuple(input_shape)
        channels_last = self.data_format == "channels_last"
        spatial = input_shape[1:-1] if channels_last else input_shape[2:]
        out_spatial = self._spatial_output(spatial)
        _check_spatial_output(self, input_shape, out_spatial)
        filters = self._output_channels(channels)
        if channels_last:
            return (input_shape[0], *out_spatial, filters)
        return (input_shape[0], filters, *out_spatial)

    def _base_config(self):
        return {
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
            "data_format": self.data_format,
            "dilation_rate": self.dilation_rate,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "bias_regularizer": _serialize_or_none(self.bias_regularizer),
            "activity_regularizer": _serialize_or_none(self.activity_regularizer),
            "bias_constraint": None,
        }


# -- Conv1D / Conv2D / Conv3D -----------------------------------------------------------------


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
Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution3D = Conv3D
Convolution1DTranspose = Conv1DTranspose
Convolution2DTranspose = Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
SeparableConvolution1D = SeparableConv1D
SeparableConvolution2D = SeparableConv2D
