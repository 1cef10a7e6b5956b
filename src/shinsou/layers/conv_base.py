"""What every convolution layer shares: argument checks, output-length arithmetic, the bias
(and ReLU) fused into the convolution's own output, and the ``_BaseConv`` layer class.

Example:
    >>> conv_output_length(28, 3, 1, 1, "valid")
    26
"""

from __future__ import annotations

from .. import activations, initializers, ops, regularizers
from .base import InputSpec, Layer
from .core import _serialize_or_none, add_bias_in_place
from .reshaping import standardize_data_format

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
