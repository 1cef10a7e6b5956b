"""Attention layers: MultiHeadAttention (Vaswani et al., 2017), and the Luong-style
(:class:`Attention`) and Bahdanau-style (:class:`AdditiveAttention`) layers of Keras.

MultiHeadAttention keeps Keras's weights — sublayers ``query_dense``, ``key_dense``,
``value_dense`` with kernels ``(dim, heads, key_dim)`` and biases ``(heads, key_dim)``, and
``output_dense`` with kernel ``(heads, value_dim, dim)`` — so parameter counts and weight files
match. Each projection is one GEMM over the ``(batch * length, dim)`` rows; the attention
itself is the fused :func:`shinsou.ops.dot_product_attention` node, except when attention
dropout is active in training or the scores are asked for: then the softmax weights are
computed explicitly (and dropped out) as Keras does.

Example:
    >>> import numpy as np
    >>> from shinsou import layers
    >>> mha = layers.MultiHeadAttention(num_heads=4, key_dim=32)
    >>> x = np.ones((2, 10, 128), dtype="float32")
    >>> mha(x, x).shape, mha.count_params()
    ((2, 10, 128), 66048)
"""

from __future__ import annotations

import math

from .. import initializers, ops, regularizers
from ..backend import xp
from ..tensor import Tensor, as_tensor, record
from .base import Layer
from .core import _serialize_or_none, check_positive_int
from .recurrent_cells import check_dropout_rate, seed_generator
from .symbolic import KerasTensor
from .wrappers import nest_weight_paths

__all__ = ["AdditiveAttention", "Attention", "MultiHeadAttention"]

# Keras's masked-softmax constant: masked logits get this added, so they weigh nothing.
_MASKED_LOGIT = -1e9


def _mask_array(mask):
    if mask is None:
        return None
    return xp.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool, copy=False)


def _causal_mask(target, source):
    """``(1, target, source)``: position ``i`` may attend to ``j <= i`` (top-left aligned)."""
    return xp.tril(xp.ones((target, source), dtype=bool))[None]


def project(inputs, kernel, bias, contracted):
    """``inputs`` times ``kernel`` over the last ``contracted`` axes, plus ``bias``: one GEMM.

    ``inputs`` is ``(..., *in_dims)``, ``kernel`` ``(*in_dims, *out_dims)``, ``bias``
    ``out_dims`` or None; the result is ``(..., *out_dims)``. One graph node, whose backward
    is also a GEMM per operand (the bias gradient a matrix-vector product).

    Example:
        >>> from shinsou import tensor
        >>> x = tensor(xp.ones((2, 3, 4)), requires_grad=True)
        >>> kernel = tensor(xp.ones((4, 2, 5)), requires_grad=True)
        >>> y = project(x, kernel, None, 1)
        >>> y.shape
        (2, 3, 2, 5)
        >>> y.sum().backward()
        >>> x.grad[0, 0].tolist()
        [10.0, 10.0, 10.0, 10.0]
    """
    inputs, kernel = as_tensor(inputs), as_tensor(kernel)
    in_dims, out_dims = kernel.shape[:contracted], kernel.shape[contracted:]
    if inputs.shape[inputs.ndim - contracted :] != in_dims:
        raise ValueError(
            f"project: the last {contracted} axes of the inputs {inputs.shape} must match the "
            f"kernel's leading axes {in_dims}"
        )
    lead = inputs.shape[: inputs.ndim - contracted]
    rows = inputs.data.reshape(-1, math.prod(in_dims))
    weights = kernel.data.reshape(rows.shape[1], -1)
    out = rows @ weights
    tensors = (inputs, kernel)
    if bias is not None:
        bias = as_tensor(bias)
        out += bias.data.reshape(-1)
        tensors += (bias,)

    def backward(grad):
        grad_rows = grad.reshape(rows.shape[0], -1)
        grads = [
            (grad_rows @ weights.T).reshape(inputs.shape) if inputs.requires_grad else None,
            (rows.T @ grad_rows).reshape(kernel.shape) if kernel.requires_grad else None,
        ]
        if bias is not None:
            ones = xp.ones(rows.shape[0], dtype=grad_rows.dtype)
            grads.append((ones @ grad_rows).reshape(bias.shape) if bias.requires_grad else None)
        return tuple(grads)

    return record(out.reshape(lead + out_dims), tensors, backward, "project")


class _HeadProjection(Layer):
    """Keras's EinsumDense as MultiHeadAttention uses it: a kernel ``(*in_dims, *out_dims)``
    and a bias ``out_dims`` applied to the last ``contracted`` axes (see :func:`project`)."""

    def __init__(self, output_dims, contracted, weight_options, **kwargs):
        super().__init__(**kwargs)
        self.output_dims = tuple(output_dims)
        self.contracted = contracted
        # use_bias, and the {kernel,bias}_{initializer,regularizer,constraint} to build with
        self.weight_options = weight_options

    def build(self, input_shape):
        options = self.weight_options
        in_dims = tuple(input_shape)[-self.contracted :]
        self.kernel = self.add_weight(
            shape=in_dims + self.output_dims,
            initializer=options["kernel_initializer"],
            regularizer=options["kernel_regularizer"],
            constraint=options["kernel_constraint"],
            name="kernel",
        )
        self.bias = None
        if options["use_bias"]:
            self.bias = self.add_weight(
                shape=self.output_dims,
                initializer=options["bias_initializer"],
                regularizer=options["bias_regularizer"],
                constraint=options["bias_constraint"],
                name="bias",
            )
        self.built = True

    def call(self, inputs):
        return project(inputs, self.kernel, self.bias, self.contracted)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[: -self.contracted], *self.output_dims)


class MultiHeadAttention(Layer):
    """Multi-head attention: project ``query``, ``key``, ``value`` into ``num_heads`` heads,
    attend with scaled dot products, project the heads' outputs back.

    ``key`` defaults to ``value``. ``value_dim`` defaults to ``key_dim``; ``output_shape``
    (an int or tuple) defaults to the query's last axis. Masks: the Keras masks the inputs
    carry (or ``query_mask``/``value_mask``/``key_mask``), ``attention_mask`` (boolean
    ``(B, T, S)``, True = attend) and ``use_causal_mask`` are combined with AND, as in
    Keras; the output keeps the query's mask. ``return_attention_scores=True`` also returns
    the ``(B, heads, T, S)`` softmax weights. Attention runs over every axis between batch and
    features (inputs of rank > 3 are flattened for it); other ``attention_axes`` are not
    supported.

    Example:
        >>> import numpy as np
        >>> mha = MultiHeadAttention(num_heads=2, key_dim=4)
        >>> q, v = np.ones((1, 3, 8), "float32"), np.ones((1, 5, 6), "float32")
        >>> out, scores = mha(q, v, return_attention_scores=True)
        >>> out.shape, scores.shape
        ((1, 3, 8), (1, 2, 3, 5))
    """

    _holds_layers = True

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        attention_axes=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        name = "MultiHeadAttention"
        check_positive_int(name, "num_heads", num_heads)
        check_positive_int(name, "key_dim", key_dim)
        if value_dim is not None:
            check_positive_int(name, "value_dim", value_dim)
        if flash_attention:
            raise ValueError(
                f"{name}: flash_attention=True is not available on this backend; pass None or "
                "False (the results are the same)"
            )
        self._num_heads = num_heads
        self._key_dim = key_dim
        self._value_dim = value_dim or key_dim
        self._dropout = check_dropout_rate(name, "dropout", dropout)
        self._use_bias = bool(use_bias)
        self._output_shape = _output_shape_tuple(output_shape)
        self._attention_axes = _attention_axes_tuple(attention_axes)
        self._flash_attention = flash_attention
        self._kernel_initializer = initializers.get(kernel_initializer)
        self._bias_initializer = initializers.get(bias_initializer)
        self._kernel_regularizer = regularizers.get(kernel_regularizer)
        self._bias_regularizer = regularizers.get(bias_regularizer)
        self._kernel_constraint = kernel_constraint
        self._bias_constraint = bias_constraint
        self.seed = seed
        self._generator = seed_generator(name, seed)
        self._inverse_sqrt_key_dim = 1.0 / math.sqrt(key_dim)
        self.supports_masking = True
        # Created in build; declared here so that the weights come out in Keras's order.
        self._query_dense = self._key_dense = self._value_dense = self._output_dense = None

    num_heads = property(lambda self: self._num_heads)
    key_dim = property(lambda self: self._key_dim)
    value_dim = property(lambda self: self._value_dim)
    dropout = property(lambda self: self._dropout)
    use_bias = property(lambda self: self._use_bias)
    attention_axes = property(lambda self: self._attention_axes)
    query_dense = property(lambda self: self._query_dense)
    key_dense = property(lambda self: self._key_dense)
    value_dense = property(lambda self: self._value_dense)
    output_dense = property(lambda self: self._output_dense)

    def _projection(self, output_dims, contracted, name):
        def fresh(initializer):
            # A new object per sublayer, so seeded initializers do not repeat their values.
            return type(initializer).from_config(initializer.get_config())

        options = {
            "use_bias": self._use_bias,
            "kernel_initializer": fresh(self._kernel_initializer),
            "bias_initializer": fresh(self._bias_initializer),
            "kernel_regularizer": self._kernel_regularizer,
            "bias_regularizer": self._bias_regularizer,
            "kernel_constraint": self._kernel_constraint,
            "bias_constraint": self._bias_constraint,
        }
        return _HeadProjection(output_dims, contracted, options, name=name, dtype=self.dtype)

    def build(self, query_shape, value_shape, key_shape=None):
        query_shape, value_shape = tuple(query_shape), tuple(value_shape)
        key_shape = value_shape if key_shape is None else tuple(key_shape)
        for argument, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) < 3 or shape[-1] is None:
                raise ValueError(
                    f"MultiHeadAttention '{self.name}': {argument} must have shape (batch, ..., "
                    f"features) with rank >= 3 and known features; received {argument} shape "
                    f"{shape}"
                )
        if value_shape[1:-1] != key_shape[1:-1]:
            raise ValueError(
                f"MultiHeadAttention '{self.name}': value and key must agree on every axis but "
                f"the last; received value shape {value_shape} and key shape {key_shape}"
            )
        inner_axes = tuple(range(1, len(query_shape) - 1))
        if (
            self._attention_axes is not None
            and tuple(a % len(query_shape) for a in self._attention_axes) != inner_axes
        ):
            raise ValueError(
                f"MultiHeadAttention '{self.name}': only attention over all axes between batch "
                f"and features is supported (attention_axes=None or {inner_axes}); received "
                f"attention_axes={self._attention_axes}"
            )
        heads = self._num_heads
        self._query_dense = self._projection((heads, self._key_dim), 1, "query")
        self._query_dense.build(query_shape)
        self._key_dense = self._projection((heads, self._key_dim), 1, "key")
        self._key_dense.build(key_shape)
        self._value_dense = self._projection((heads, self._value_dim), 1, "value")
        self._value_dense.build(value_shape)
        output_dims = self._output_shape or (query_shape[-1],)
        self._output_dense = self._projection(output_dims, 2, "attention_output")
        self._output_dense.build((*query_shape[:-1], heads, self._value_dim))
        for sublayer in self._sublayers():
            nest_weight_paths(sublayer, self.name)
        self.built = True

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
    ):
        query, value = as_tensor(query), as_tensor(value)
        # Keras fills these from the masks the inputs carry (a key given apart has its own).
        query_mask = query._keras_mask if query_mask is None else query_mask
        value_mask = value._keras_mask if value_mask is None else value_mask
        if key is None:
            key = value
        else:
            key = as_tensor(key)
            key_mask = key._keras_mask if key_mask is None else key_mask
        batch, query_length, source_length = query.shape[0], _length(query), _length(value)
        allowed = self._attention_allowed(
            batch, query_length, source_length, query_mask, value_mask, key_mask,
            attention_mask, use_causal_mask,
        )  # fmt: skip
        q = self._flat(project(query, self._query_dense.kernel, self._query_dense.bias, 1))
        k = self._flat(project(key, self._key_dense.kernel, self._key_dense.bias, 1))
        v = self._flat(project(value, self._value_dense.kernel, self._value_dense.bias, 1))
        mask = None if allowed is None else allowed[:, None]  # (B|1, 1, T, S)
        scores = None
        if return_attention_scores or (training and self._dropout > 0):
            attended, scores = self._explicit_attention(q, k, v, mask, training)
        else:
            attended = ops.dot_product_attention(
                q, k, v, mask=mask, scale=self._inverse_sqrt_key_dim
            )
        attended = ops.reshape(attended, (*query.shape[:-1], *attended.shape[2:]))
        output = project(attended, self._output_dense.kernel, self._output_dense.bias, 2)
        if query_mask is not None:
            output._keras_mask = query_mask
        if return_attention_scores:
            spatial = (*query.shape[1:-1], *value.shape[1:-1])
            return output, ops.reshape(scores, (batch, self._num_heads, *spatial))
        return output

    @staticmethod
    def _flat(heads):
        """``(B, *positions, N, H)`` as ``(B, positions, N, H)`` (a view)."""
        shape = heads.shape
        return heads if len(shape) == 4 else ops.reshape(heads, (shape[0], -1, *shape[-2:]))

    def _attention_allowed(
        self, batch, target, source, query_mask, value_mask, key_mask, attention_mask, causal
    ):
        """The combined boolean ``(B|1, T, S)`` "may attend" array, or None (Keras's rules)."""
        allowed = None

        def combine(mask):
            nonlocal allowed
            allowed = mask if allowed is None else allowed & mask

        query_mask, value_mask, key_mask = map(_mask_array, (query_mask, value_mask, key_mask))
        if query_mask is not None:
            combine(query_mask.reshape(query_mask.shape[0], target, 1))
        if value_mask is not None:
            combine(value_mask.reshape(value_mask.shape[0], 1, source))
        if key_mask is not None:
            combine(key_mask.reshape(key_mask.shape[0], 1, source))
        if causal:
            combine(_causal_mask(target, source))
        attention_mask = _mask_array(attention_mask)
        if attention_mask is not None:
            # (T, S) applies to every sample; (B, *Tq, *Tv) is flattened like the inputs.
            leading = attention_mask.shape[0] if attention_mask.ndim > 2 else 1
            combine(attention_mask.reshape(leading, target, source))
        if allowed is not None and allowed.shape[0] not in (1, batch):
            raise ValueError(
                f"MultiHeadAttention '{self.name}': the masks must have batch size {batch} (or 1)"
                f"; the combined attention mask has shape {allowed.shape}"
            )
        return allowed

    def _explicit_attention(self, q, k, v, mask, training):
        """Attention with the softmax weights materialised: they are returned, and dropped out
        in training (the fused op never forms them)."""
        q = ops.transpose(q * self._inverse_sqrt_key_dim, (0, 2, 1, 3))  # (B, N, T, H)
        logits = ops.matmul(q, ops.transpose(k, (0, 2, 3, 1)))  # (B, N, T, S)
        if mask is not None:
            logits = ops.where(mask, logits, _MASKED_LOGIT)
        weights = ops.softmax(logits, axis=-1)
        dropped = weights
        if training and self._dropout > 0:
            dropped = ops.dropout(weights, self._dropout, seed=self._generator)
        attended = ops.matmul(dropped, ops.transpose(v, (0, 2, 1, 3)))  # (B, N, T, Hv)
        return ops.transpose(attended, (0, 2, 1, 3)), weights

    def compute_output_shape(self, query_shape, value_shape, key_shape=None):
        query_shape = tuple(query_shape)
        if self._output_shape:
            return (*query_shape[:-1], *self._output_shape)
        return query_shape

    def compute_output_spec(self, query, value, key=None, return_attention_scores=False, **kwargs):
        output = KerasTensor(self.compute_output_shape(query.shape, value.shape), self.dtype)
        if return_attention_scores:
            spatial = (*query.shape[1:-1], *value.shape[1:-1])
            return output, KerasTensor((query.shape[0], self._num_heads, *spatial), self.dtype)
        return output

    def compute_mask(self, inputs, mask=None):
        return None  # call() puts the query's mask on the output itself, as Keras does

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self._num_heads,
            "key_dim": self._key_dim,
            "value_dim": self._value_dim,
            "dropout": self._dropout,
            "use_bias": self._use_bias,
            "output_shape": self._output_shape,
            "attention_axes": self._attention_axes,
            "kernel_initializer": initializers.serialize(self._kernel_initializer),
            "bias_initializer": initializers.serialize(self._bias_initializer),
            "kernel_regularizer": _serialize_or_none(self._kernel_regularizer),
            "bias_regularizer": _serialize_or_none(self._bias_regularizer),
            "activity_regularizer": _serialize_or_none(self.activity_regularizer),
            "kernel_constraint": None,
            "bias_constraint": None,
            "seed": self.seed,
        }


def _length(x):
    """The number of positions between the batch and feature axes."""
    return math.prod(x.shape[1:-1])


def _output_shape_tuple(output_shape):
    if not output_shape:
        return None
    shape = (output_shape,) if isinstance(output_shape, int) else output_shape
    if not isinstance(shape, (list, tuple)) or not all(
        isinstance(size, int) and not isinstance(size, bool) and size > 0 for size in shape
    ):
        raise ValueError(
            "MultiHeadAttention: output_shape must be None, a positive int or a tuple of "
            f"positive ints; received output_shape={output_shape!r}"
        )
    return tuple(shape)


def _attention_axes_tuple(attention_axes):
    if attention_axes is None:
        return None
    axes = (attention_axes,) if isinstance(attention_axes, int) else attention_axes
    if not isinstance(axes, (list, tuple)) or not all(isinstance(a, int) for a in axes):
        raise ValueError(
            "MultiHeadAttention: attention_axes must be None, an int or a tuple of ints; "
            f"received attention_axes={attention_axes!r}"
        )
    return tuple(axes)


class Attention(Layer):
    """Dot-product (Luong-style) attention over ``[query, value]`` or ``[query, value, key]``.

    Scores ``query @ keyᵀ`` (times a learned scalar ``scale`` when ``use_scale``) or, with
    ``score_mode="concat"``, ``sum(tanh(query + key))`` (times ``concat_score_weight``);
    softmax over the values, dropout in training, then the weighted sum of ``value``.
    ``mask=[query_mask, value_mask]`` (or the inputs' Keras masks): masked values get no
    weight, masked query rows output zeros. Output ``(batch, Tq, value_dim)``.

    Example:
        >>> import numpy as np
        >>> q, v = np.ones((2, 3, 4), "float32"), np.ones((2, 5, 4), "float32")
        >>> Attention()([q, v]).shape
        (2, 3, 4)
    """

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        if score_mode not in ("dot", "concat"):
            raise ValueError(
                f"{name}: score_mode must be 'dot' or 'concat'; received score_mode={score_mode!r}"
            )
        self.use_scale = bool(use_scale)
        self.score_mode = score_mode
        self.dropout = check_dropout_rate(name, "dropout", dropout)
        self.seed = seed
        self._generator = seed_generator(name, seed)
        self.supports_masking = True

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self.scale = self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight(shape=(), initializer="ones", name="scale")
        if self.score_mode == "concat":
            self.concat_score_weight = self.add_weight(
                shape=(), initializer="ones", name="concat_score_weight"
            )
        self.built = True

    def _check_inputs(self, inputs, mask=None):
        name = f"{type(self).__name__} '{self.name}'"
        if (
            not isinstance(inputs, (list, tuple))
            or not 2 <= len(inputs) <= 3
            or any(item is None or isinstance(item, int) for item in inputs)
        ):
            raise ValueError(
                f"{name} must be called on a list [query, value] or [query, value, key]; "
                f"received {inputs!r}"
            )
        if mask is not None and (not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3):
            raise ValueError(
                f"{name}: mask must be a list [query_mask, value_mask]; received mask={mask!r}"
            )

    def _scores(self, query, key):
        if self.score_mode == "dot":
            scores = ops.matmul(query, ops.transpose(key, (0, 2, 1)))
            return scores if self.scale is None else scores * self.scale
        summed = ops.expand_dims(query, -2) + ops.expand_dims(key, -3)  # (B, Tq, Tv, dim)
        if self.scale is not None:
            summed = summed * self.scale
        return self.concat_score_weight * ops.sum(ops.tanh(summed), axis=-1)

    def call(
        self,
        inputs,
        mask=None,
        training=False,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        self._check_inputs(inputs, mask)
        query, value = inputs[0], inputs[1]
        key = inputs[2] if len(inputs) > 2 else value
        query_mask, value_mask = (None, None) if mask is None else map(_mask_array, mask[:2])
        scores = self._scores(query, key)
        allowed = None if value_mask is None else value_mask[:, None, :]
        if use_causal_mask:
            causal = _causal_mask(*scores.shape[-2:])
            allowed = causal if allowed is None else allowed & causal
        if allowed is not None:
            # Keras subtracts a large number from the masked scores before the softmax.
            penalty = xp.multiply(~allowed, _MASKED_LOGIT, dtype=scores.dtype)
            scores = scores + Tensor._wrap(penalty)
        weights = ops.softmax(scores, axis=-1)
        dropped = weights
        if training and self.dropout > 0:
            dropped = ops.dropout(weights, self.dropout, seed=self._generator)
        result = ops.matmul(dropped, value)
        if query_mask is not None:
            result = result * Tensor._wrap(query_mask[:, :, None].astype(result.dtype))
        if return_attention_scores:
            return result, weights
        return result

    def compute_mask(self, inputs, mask=None):
        if mask is None or mask[0] is None:
            return None
        return mask[0]

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape[0])[:-1], tuple(input_shape[1])[-1])

    def compute_output_spec(self, inputs, return_attention_scores=False, **kwargs):
        self._check_inputs(inputs)
        shape = self.compute_output_shape([x.shape for x in inputs])
        output = KerasTensor(shape, self.dtype)
        if return_attention_scores:
            weights = (inputs[0].shape[0], inputs[0].shape[1], inputs[1].shape[1])
            return output, KerasTensor(weights, self.dtype)
        return output

    def get_config(self):
        return {
            **super().get_config(),
            "use_scale": self.use_scale,
            "score_mode": self.score_mode,
            "dropout": self.dropout,
        }


class AdditiveAttention(Attention):
    """Additive (Bahdanau-style) attention: scores ``sum(scale * tanh(query + key))`` with a
    learned ``scale`` vector of the feature size (when ``use_scale``, the default); otherwise
    as :class:`Attention`.

    Example:
        >>> import numpy as np
        >>> layer = AdditiveAttention()
        >>> layer([np.ones((2, 3, 4), "float32"), np.ones((2, 5, 4), "float32")]).shape
        (2, 3, 4)
        >>> layer.scale.shape
        (4,)
    """

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        self._check_inputs(input_shape)
        self.scale = self.concat_score_weight = None
        if self.use_scale:
            self.scale = self.add_weight(
                shape=(tuple(input_shape[0])[-1],), initializer="glorot_uniform", name="scale"
            )
        self.built = True

    def _scores(self, query, key):
        summed = ops.tanh(ops.expand_dims(query, -2) + ops.expand_dims(key, -3))
        if self.scale is not None:
            summed = summed * self.scale
        return ops.sum(summed, axis=-1)

    def get_config(self):
        config = super().get_config()
        del config["score_mode"]
        return config
