"""Core layers: Dense — the fully-connected layer ``z = σ(xW + b)`` of the lecture.

Example:
    >>> import numpy as np
    >>> from shinsou import layers
    >>> dense = layers.Dense(3, activation="relu")
    >>> dense(np.ones((2, 4))).shape, dense.kernel.shape, dense.bias.shape
    ((2, 3), (4, 3), (3,))
"""

from __future__ import annotations

import numbers

from .. import activations, initializers, native, ops, regularizers
from ..backend import xp
from ..tensor import record
from .base import InputSpec, Layer


def check_positive_int(layer_name, argument, value):
    """Raise a clear error unless ``value`` is a positive integer (for constructors)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(
            f"{layer_name}: {argument} must be a positive integer, received {argument}={value!r}"
        )


def check_image_shape(caller, argument, shape):
    """``shape`` as ``(height, width, channels)`` ints, or a clear error naming ``caller``.

    Example:
        >>> check_image_shape("demo", "input_shape", [28, 28, 1])
        (28, 28, 1)
    """
    if (
        not isinstance(shape, (tuple, list))
        or len(shape) != 3
        or not all(
            isinstance(size, numbers.Integral) and not isinstance(size, bool) and size > 0
            for size in shape
        )
    ):
        raise ValueError(
            f"{caller}: {argument} must be (height, width, channels) with positive integers; "
            f"received {argument}={shape!r}"
        )
    return tuple(int(size) for size in shape)


def add_bias_in_place(outputs, bias, relu=False):
    """``outputs + bias`` (then ``max(·, 0)`` when ``relu``) as one node, written into
    ``outputs``' own array.

    Only for an ``outputs`` fresh from an op whose backward does not read its result (matmul,
    the convolution ops): overwriting it then costs nothing and saves a full-size copy, and
    the bias gradient is one matrix-vector product.

    Example:
        >>> import shinsou
        >>> y = add_bias_in_place(shinsou.tensor([[1.0, -3.0]]), shinsou.tensor([1.0, 1.0]), True)
        >>> y.tolist()
        [[2.0, 0.0]]
    """
    data = outputs.data
    if native.supports_rows(data, bias.data):  # one pass, on all cores
        native.bias_act(data, bias.data, relu)
    else:
        data += bias.data
        if relu:
            xp.maximum(data, 0, out=data)

    def backward(g):
        if relu and native.supports_rows(g, data):
            return native.bias_act_grad(g, data, relu, bias.requires_grad)
        if relu:
            g = g * (data > 0)
        grad_bias = None
        if bias.requires_grad:
            rows = g.reshape(-1, g.shape[-1])
            grad_bias = xp.ones(rows.shape[0], dtype=rows.dtype) @ rows
        return g, grad_bias

    return record(data, (outputs, bias), backward, "bias_add_relu" if relu else "bias_add")


class Dense(Layer):
    """Fully-connected layer: ``activation(inputs @ kernel + bias)`` on the last axis.

    Weights in Keras's layout: ``kernel`` (input_dim, units), ``bias`` (units,).

    Example:
        >>> import numpy as np
        >>> Dense(2, use_bias=False)(np.ones((5, 3))).shape
        (5, 2)
    """

    def __init__(
        self,
        units,
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
        lora_alpha=None,
        quantization_config=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        check_positive_int("Dense", "units", units)
        if lora_rank is not None or quantization_config is not None:
            raise ValueError("Dense: LoRA and quantization are not supported; leave them None")
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.input_spec = InputSpec(min_ndim=2)
        self.supports_masking = True

    def build(self, input_shape):
        input_dim = input_shape[-1]
        if input_dim is None:
            raise ValueError(
                f"Dense '{self.name}': the last axis of the input must be known; got input shape "
                f"{tuple(input_shape)}"
            )
        self.kernel = self.add_weight(
            shape=(input_dim, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
        self.input_spec = InputSpec(min_ndim=2, axes={-1: input_dim})
        self.built = True

    def call(self, inputs):
        x = ops.matmul(inputs, self.kernel)
        relu_fused = False
        if self.bias is not None:
            relu_fused = self.activation is activations.relu
            x = add_bias_in_place(x, self.bias, relu=relu_fused)
        if relu_fused or self.activation is activations.linear:
            return x
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _serialize_or_none(self.kernel_regularizer),
            "bias_regularizer": _serialize_or_none(self.bias_regularizer),
            "kernel_constraint": None,
            "bias_constraint": None,
        }


def _serialize_or_none(obj):
    if obj is None:
        return None
    return {
        "module": "keras.regularizers",
        "class_name": type(obj).__name__,
        "config": obj.get_config(),
        "registered_name": None,
    }
