"""Normalization layers: BatchNormalization, LayerNormalization, GroupNormalization and
UnitNormalization, with Keras's weights (``gamma``, ``beta``, moving statistics) and configs.

BatchNormalization in training runs one fused op (:func:`shinsou.ops.fused_batch_normalization`)
and updates its moving averages in place, outside the graph. GroupNormalization is one fused
node of this module, :func:`group_normalization`, with its backward beside it.

Example:
    >>> import numpy as np
    >>> from shinsou import layers
    >>> bn = layers.BatchNormalization()
    >>> x = np.array([[0.0, 1.0], [2.0, 5.0]], dtype="float32")
    >>> bn(x, training=True).numpy().round(2).tolist()
    [[-1.0, -1.0], [1.0, 1.0]]
    >>> [w.name for w in bn.weights], (bn.moving_mean.numpy() * 100).round().tolist()
    (['gamma', 'beta', 'moving_mean', 'moving_variance'], [1.0, 3.0])
"""

from __future__ import annotations

import numbers

from .. import backend, initializers, ops, regularizers
from ..backend import xp
from ..tensor import as_tensor, record
from .base import InputSpec, Layer
from .core import _serialize_or_none, check_positive_int

__all__ = [
    "BatchNormalization",
    "GroupNormalization",
    "LayerNormalization",
    "UnitNormalization",
]

# keras.config.epsilon(): what Keras adds to the count of unmasked values in masked moments.
_KERAS_EPSILON = 1e-7


def _as_float(inputs, dtype):
    return inputs if backend.is_floating(inputs.dtype) else ops.cast(inputs, dtype)


def _check_real(layer_name, argument, value, low, high=None):
    """``value`` must be a real number in ``[low, high]`` (no upper bound when high is None)."""
    in_range = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and value >= low
        and (high is None or value <= high)
    )
    if not in_range:
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(
            f"{layer_name}: {argument} must be a number {bounds}, received {argument}={value!r}"
        )
    return float(value)


def _check_axes(layer_name, axis):
    """An int or a list/tuple of ints (Keras's ``axis`` for layer and unit normalization)."""
    if isinstance(axis, bool) or not isinstance(axis, (int, list, tuple)):
        raise TypeError(
            f"{layer_name}: axis must be an int or a list/tuple of ints, received axis={axis!r}"
        )
    if isinstance(axis, int):
        return axis
    if not all(isinstance(a, int) and not isinstance(a, bool) for a in axis):
        raise TypeError(f"{layer_name}: axis must contain ints only, received axis={axis!r}")
    return list(axis)


def _positive_axes(layer, axes, rank):
    """Axes (int or list) as sorted non-negative ints, checked against the input's rank."""
    positive = []
    for a in [axes] if isinstance(axes, int) else axes:
        if not -rank <= a < rank:
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}': axis {a} is out of range for inputs of "
                f"rank {rank}"
            )
        positive.append(a % rank)
    return sorted(positive)


def _feature_shape(layer, input_shape, axes):
    shape = tuple(input_shape[a] for a in axes)
    if None in shape:
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}': the normalized axes {axes} of the input "
            f"must have known sizes, received input shape {tuple(input_shape)}"
        )
    return shape


class _GammaBeta(Layer):
    """What the normalization layers share: the ``gamma``/``beta`` arguments and weights."""

    def _setup_gamma_beta(self, arguments):
        self.epsilon = _check_real(type(self).__name__, "epsilon", arguments["epsilon"], 0.0)
        self.center = bool(arguments["center"])
        self.scale = bool(arguments["scale"])
        self.beta_initializer = initializers.get(arguments["beta_initializer"])
        self.gamma_initializer = initializers.get(arguments["gamma_initializer"])
        self.beta_regularizer = regularizers.get(arguments["beta_regularizer"])
        self.gamma_regularizer = regularizers.get(arguments["gamma_regularizer"])
        self.beta_constraint = arguments["beta_constraint"]
        self.gamma_constraint = arguments["gamma_constraint"]
        self.gamma = self.beta = None

    def _make_gamma_beta(self, shape, gamma=True, beta=True):
        if gamma:
            self.gamma = self.add_weight(
                shape=shape,
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                name="gamma",
            )
        if beta:
            self.beta = self.add_weight(
                shape=shape,
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                name="beta",
            )

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _gamma_beta_config(self):
        return {
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            "beta_initializer": initializers.serialize(self.beta_initializer),
            "gamma_initializer": initializers.serialize(self.gamma_initializer),
            "beta_regularizer": _serialize_or_none(self.beta_regularizer),
            "gamma_regularizer": _serialize_or_none(self.gamma_regularizer),
            "beta_constraint": None,
            "gamma_constraint": None,
        }


# -- BatchNormalization -----------------------------------------------------------------------


class BatchNormalization(_GammaBeta):
    """Normalize each channel (``axis``) with batch statistics in training and with moving
    averages of them at inference, then scale by ``gamma`` and shift by ``beta``.

    Weights, in Keras's order: ``gamma``, ``beta`` (trainable), ``moving_mean``,
    ``moving_variance`` (not trainable). Called with ``training=True`` (as ``fit`` does) the
    moving statistics are updated in place::

        moving = moving * momentum + batch_statistic * (1 - momentum)

    with the *population* (biased) batch variance, as in Keras. PyTorch's ``BatchNorm``
    updates ``running_var`` with the unbiased variance (times ``n / (n - 1)``) and writes its
    momentum the other way round (``torch momentum = 1 - momentum``). A frozen layer
    (``trainable = False``) always runs in inference mode, as in Keras 3.

    Example:
        >>> import numpy as np
        >>> bn = BatchNormalization()
        >>> _ = bn(np.ones((4, 3, 3, 64)))
        >>> bn.count_params(), len(bn.trainable_weights), len(bn.non_trainable_weights)
        (256, 2, 2)
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        synchronized=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"{name}: axis must be an int, received axis={axis!r}")
        self.axis = axis
        self.momentum = _check_real(name, "momentum", momentum, 0.0, 1.0)
        self._setup_gamma_beta(locals())
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        # On one device the local batch statistics are the synchronized ones.
        self.synchronized = bool(synchronized)
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        (channel_axis,) = _positive_axes(self, self.axis, rank)
        shape = _feature_shape(self, input_shape, [channel_axis])
        self._make_gamma_beta(shape, gamma=self.scale, beta=self.center)
        self.moving_mean = self.add_weight(
            shape=shape,
            initializer=self.moving_mean_initializer,
            trainable=False,
            name="moving_mean",
        )
        self.moving_variance = self.add_weight(
            shape=shape,
            initializer=self.moving_variance_initializer,
            trainable=False,
            name="moving_variance",
        )
        self.input_spec = InputSpec(ndim=rank, axes={self.axis: shape[0]})
        self.built = True

    def call(self, inputs, training=None, mask=None, _then_relu=False):
        # _then_relu=True returns max(outputs, 0): a functional model passes it when a ReLU
        # follows that nothing else reads (Functional._relu_fusions), and in training the
        # fused op does both in one pass each way.
        inputs = _as_float(inputs, self.dtype)
        if mask is not None and len(mask.shape) != inputs.ndim - 1:
            raise ValueError(
                f"BatchNormalization '{self.name}': the mask must have one axis fewer than the "
                f"inputs; received mask shape {tuple(mask.shape)} for inputs of shape "
                f"{inputs.shape}"
            )
        if not (training and self.trainable):
            outputs = ops.batch_normalization(
                inputs,
                self.moving_mean,
                self.moving_variance,
                self.axis,
                self.beta,
                self.gamma,
                self.epsilon,
            )
        elif mask is None:
            outputs, mean, variance = ops.fused_batch_normalization(
                inputs, self.gamma, self.beta, self.axis, self.epsilon, relu=_then_relu
            )
            self._update_moving_statistics(mean.data, variance.data)
            return outputs
        else:
            mean, variance = self._masked_moments(inputs, mask)
            outputs = ops.batch_normalization(
                inputs, mean, variance, self.axis, self.beta, self.gamma, self.epsilon
            )
            self._update_moving_statistics(mean.data, variance.data)
        return ops.relu(outputs) if _then_relu else outputs

    def _update_moving_statistics(self, mean, variance):
        """In place and outside the graph: no node, no temporary the size of the input."""
        keep = self.momentum
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            moving.data *= keep
            moving.data += batch * (1.0 - keep)

    def _masked_moments(self, inputs, mask):
        """Mean and variance over the unmasked positions only (Keras's formula)."""
        rank = inputs.ndim
        (channel_axis,) = _positive_axes(self, self.axis, rank)
        reduced = [a for a in range(rank) if a != channel_axis]
        weights = ops.expand_dims(ops.cast(as_tensor(mask), inputs.dtype), -1)
        count = ops.sum(weights, axis=reduced, keepdims=True) + _KERAS_EPSILON
        mean = ops.sum(weights * inputs, axis=reduced, keepdims=True) / count
        variance = ops.sum(weights * ops.square(inputs - mean), axis=reduced, keepdims=True) / count
        channels = inputs.shape[channel_axis]
        return ops.reshape(mean, (channels,)), ops.reshape(variance, (channels,))

    def get_config(self):
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            **self._gamma_beta_config(),
            "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
            "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
            "synchronized": self.synchronized,
        }


# -- LayerNormalization -----------------------------------------------------------------------


class LayerNormalization(_GammaBeta):
    """Normalize each sample over ``axis`` (the features), then scale by ``gamma`` and shift by
    ``beta`` — both of the normalized axes' shape.

    With ``rms_scaling=True`` (as Keras defines it) the inputs are divided by
    ``sqrt(variance + epsilon)`` without being centred, then scaled by ``gamma``; there is no
    ``beta``.

    Example:
        >>> import numpy as np
        >>> ln = LayerNormalization(epsilon=0.0)
        >>> ln(np.array([[1.0, 3.0]])).tolist(), ln.gamma.shape
        ([[-1.0, 1.0]], (2,))
    """

    def __init__(
        self,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        rms_scaling=False,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.axis = _check_axes(type(self).__name__, axis)
        self.rms_scaling = bool(rms_scaling)
        self._setup_gamma_beta(locals())
        self.supports_masking = True

    def build(self, input_shape):
        self._axes = _positive_axes(self, self.axis, len(input_shape))
        shape = _feature_shape(self, input_shape, self._axes)
        self._make_gamma_beta(
            shape,
            gamma=self.scale or self.rms_scaling,
            beta=self.center and not self.rms_scaling,
        )
        sizes = dict(zip(self._axes, shape))
        self.input_spec = InputSpec(ndim=len(input_shape), axes=sizes)
        self.built = True

    def call(self, inputs):
        return ops.layer_normalization(
            _as_float(inputs, self.dtype),
            self.gamma,
            self.beta,
            self._axes,
            self.epsilon,
            self.rms_scaling,
        )

    def get_config(self):
        config = {**super().get_config(), "axis": self.axis, **self._gamma_beta_config()}
        config["rms_scaling"] = self.rms_scaling
        return config


# -- GroupNormalization -----------------------------------------------------------------------


def group_normalization(x, groups, gamma=None, beta=None, epsilon=1e-3):
    """Normalize channels-last ``x`` within each sample and each of ``groups`` channel groups,
    then scale and shift per channel: one fused node.

    Channel ``c`` is in group ``c // (channels // groups)``; the statistics of a group run over
    all its channels and all spatial positions (the population variance).

    Example:
        >>> import shinsou
        >>> x = shinsou.tensor([[[1.0, 3.0, 0.0, 4.0]]])
        >>> group_normalization(x, groups=2, epsilon=0.0).tolist()
        [[[-1.0, 1.0, -1.0, 1.0]]]
    """
    op_name = "group_normalization"
    x = as_tensor(x)
    if not backend.is_floating(x.dtype) or x.ndim < 2:
        raise ValueError(
            f"{op_name}: expected a floating-point tensor (batch, ..., channels), received "
            f"shape {x.shape} and dtype {x.dtype}"
        )
    channels = x.shape[-1]
    check_positive_int(op_name, "groups", groups)
    if channels % groups:
        raise ValueError(
            f"{op_name}: the {channels} channels of the input (shape {x.shape}) do not split "
            f"into {groups} groups of equal size"
        )
    parameters = [as_tensor(p) if p is not None else None for p in (gamma, beta)]
    for argument, parameter in zip(("gamma", "beta"), parameters):
        if parameter is not None and parameter.shape != (channels,):
            raise ValueError(
                f"{op_name}: {argument} must have shape ({channels},), received {parameter.shape}"
            )
    gamma, beta = parameters
    batch, size = x.shape[0], channels // groups
    # (batch, positions, groups, channels per group): statistics over axes 1 and 3.
    rows = x.data.reshape(batch, -1, groups, size)
    count = rows.shape[1] * size
    mean = xp.einsum("npgd->ng", rows) / count
    xhat = rows - mean[:, None, :, None]
    variance = xp.einsum("npgd,npgd->ng", xhat, xhat) / count
    inv_std = (1 / xp.sqrt(variance + float(epsilon)))[:, None, :, None]
    xhat *= inv_std
    gamma_values = None if gamma is None else gamma.data.astype(x.dtype).reshape(groups, size)
    beta_values = None if beta is None else beta.data.astype(x.dtype).reshape(groups, size)
    y = xhat if gamma is None else xhat * gamma_values
    if beta is not None:
        y = y + beta_values if gamma is None else _add_into(y, beta_values)
    inputs = tuple(t for t in (x, gamma, beta) if t is not None)

    def backward(grad_y):
        g = grad_y.reshape(rows.shape)
        grads = [None]
        if x.requires_grad:
            # dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), per group.
            grad_xhat = g if gamma is None else g * gamma_values
            mean_grad = xp.einsum("npgd->ng", grad_xhat)[:, None, :, None] / count
            mean_grad_xhat = xp.einsum("npgd,npgd->ng", grad_xhat, xhat)[:, None, :, None]
            grad_x = xhat * (mean_grad_xhat / count)
            xp.subtract(grad_xhat, grad_x, out=grad_x)
            grad_x -= mean_grad
            grad_x *= inv_std
            grads[0] = grad_x.reshape(x.shape)
        if gamma is not None:
            needed = gamma.requires_grad
            grads.append(xp.einsum("npgd,npgd->gd", g, xhat).reshape(-1) if needed else None)
        if beta is not None:
            grads.append(xp.einsum("npgd->gd", g).reshape(-1) if beta.requires_grad else None)
        return tuple(grads)

    return record(y.reshape(x.shape), inputs, backward, op_name)


def _add_into(array, other):
    array += other
    return array


class GroupNormalization(_GammaBeta):
    """Normalize each sample within groups of channels (``axis``), then scale and shift each
    channel; ``groups=-1`` makes every channel its own group (instance normalization).

    Example:
        >>> import numpy as np
        >>> gn = GroupNormalization(groups=2)
        >>> gn(np.ones((2, 5, 5, 4))).shape, gn.gamma.shape
        ((2, 5, 5, 4), (4,))
    """

    def __init__(
        self,
        groups=32,
        axis=-1,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        name = type(self).__name__
        if groups != -1:
            check_positive_int(name, "groups", groups)
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"{name}: axis must be an int, received axis={axis!r}")
        self.groups = groups
        self.axis = axis
        self._setup_gamma_beta(locals())
        self.supports_masking = True

    def build(self, input_shape):
        rank = len(input_shape)
        (channel_axis,) = _positive_axes(self, self.axis, rank)
        (channels,) = _feature_shape(self, input_shape, [channel_axis])
        groups = channels if self.groups == -1 else self.groups
        if groups > channels or channels % groups:
            raise ValueError(
                f"GroupNormalization '{self.name}': groups={groups} must divide the "
                f"{channels} channels of the input (shape {tuple(input_shape)})"
            )
        self._groups, self._channel_axis = groups, channel_axis
        self._make_gamma_beta((channels,), gamma=self.scale, beta=self.center)
        self.input_spec = InputSpec(ndim=rank, axes={self.axis: channels})
        self.built = True

    def call(self, inputs):
        inputs = _as_float(inputs, self.dtype)
        last = inputs.ndim - 1
        if self._channel_axis == last:
            return group_normalization(inputs, self._groups, self.gamma, self.beta, self.epsilon)
        # Channels elsewhere: move them last and back (two transposes).
        order = [a for a in range(inputs.ndim) if a != self._channel_axis] + [self._channel_axis]
        moved = ops.transpose(inputs, order)
        outputs = group_normalization(moved, self._groups, self.gamma, self.beta, self.epsilon)
        inverse = sorted(range(len(order)), key=order.__getitem__)
        return ops.transpose(outputs, inverse)

    def get_config(self):
        return {
            **super().get_config(),
            "groups": self.groups,
            "axis": self.axis,
            **self._gamma_beta_config(),
        }


# -- UnitNormalization ------------------------------------------------------------------------


class UnitNormalization(Layer):
    """Scale each sample to unit L2 norm over ``axis``: ``x / max(||x||, 1e-12)``.

    Example:
        >>> import numpy as np
        >>> UnitNormalization()(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
        [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = _check_axes(type(self).__name__, axis)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        inputs = _as_float(inputs, self.dtype)
        square_sum = ops.sum(ops.square(inputs), axis=self.axis, keepdims=True)
        # max(||x||, 1e-12) as max(||x||², 1e-24): no infinite gradient at the zero vector.
        return inputs / ops.sqrt(ops.maximum(square_sum, 1e-24))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
