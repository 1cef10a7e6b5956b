"""The Transformer encoder–decoder for sequence-to-sequence learning (Vaswani et al., 2017,
"Attention Is All You Need"), built from Keras layers.

Token ids are integers with ``0`` reserved for padding: :class:`PositionalEmbedding` marks
padding with a Keras mask (``mask_zero``), the encoder's self-attention and the decoder's
cross-attention never look at padded source positions, and the decoder's self-attention is
causal (position ``t`` sees positions ``<= t`` only). The sublayers are post-norm as in the
paper (``LayerNorm(x + Dropout(sublayer(x)))``); ``normalize_first=True`` gives the pre-norm
variant. Decode with :func:`~shinsou.applications.greedy_decode` or
:func:`~shinsou.applications.beam_search_decode`.

Example:
    >>> import numpy as np
    >>> model = Transformer(num_layers=1, d_model=16, num_heads=2, dff=32,
    ...                     input_vocab_size=10, target_vocab_size=12, max_length=8)
    >>> source = np.array([[4, 5, 6, 0]])
    >>> target = np.array([[1, 7, 8]])
    >>> model([source, target]).shape
    (1, 3, 12)
"""

from __future__ import annotations

import math

from .. import activations, initializers, layers
from ..backend import xp
from ..layers.base import InputSpec, Layer
from ..layers.core import check_positive_int
from ..layers.recurrent_cells import check_dropout_rate
from ..layers.wrappers import nest_weight_paths
from ..models import Model
from ..saving import register_keras_serializable
from ..tensor import Tensor

__all__ = [
    "PositionalEmbedding",
    "Transformer",
    "TransformerDecoder",
    "TransformerEncoder",
    "positional_encoding",
]


def positional_encoding(length, depth):
    """The fixed sinusoidal position table of the paper, ``(length, depth)`` float32:
    ``PE[pos, 2i] = sin(pos / 10000^(2i/depth))`` and ``PE[pos, 2i+1] = cos(...)``.

    Example:
        >>> table = positional_encoding(4, 6)
        >>> table.shape, table.dtype.name, table[0].tolist()
        ((4, 6), 'float32', [0.0, 1.0, 0.0, 1.0, 0.0, 1.0])
    """
    check_positive_int("positional_encoding", "length", length)
    check_positive_int("positional_encoding", "depth", depth)
    positions = xp.arange(length, dtype=xp.float32)[:, None]
    exponents = xp.arange(0, depth, 2, dtype=xp.float32) / xp.float32(depth)
    angles = positions * xp.power(xp.float32(10000.0), -exponents)  # (length, ceil(depth/2))
    table = xp.empty((length, depth), dtype=xp.float32)
    table[:, 0::2] = xp.sin(angles)
    table[:, 1::2] = xp.cos(angles[:, : depth // 2])
    return table


def _mask_array(mask):
    if mask is None:
        return None
    return xp.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool, copy=False)


def _key_padding_mask(key_mask, query_length):
    """``(B, T, S)`` "may attend" array from a ``(B, S)`` key padding mask, or None.

    MultiHeadAttention takes ``attention_mask`` only with every axis spelled out, so the
    per-key mask is broadcast over the queries (a view, no copy)."""
    key_mask = _mask_array(key_mask)
    if key_mask is None:
        return None
    batch, source = key_mask.shape
    return xp.broadcast_to(key_mask[:, None, :], (batch, query_length, source))


@register_keras_serializable(package="shinsou")
class PositionalEmbedding(Layer):
    """Token embedding times ``sqrt(d_model)`` plus the fixed sinusoidal position encoding.

    Inputs are integer ids ``(batch, length)`` with ``length <= max_length``; outputs are
    ``(batch, length, d_model)``. With ``mask_zero=True`` (the default) id 0 is padding and
    the output carries the Keras mask ``ids != 0``. Its one weight is the token embedding
    (``token_embedding/embeddings``, ``(vocab_size, d_model)``); the position table is fixed.

    Example:
        >>> import numpy as np
        >>> layer = PositionalEmbedding(vocab_size=20, d_model=8, max_length=16)
        >>> out = layer(np.array([[3, 4, 0]]))
        >>> out.shape, out._keras_mask.tolist()
        ((1, 3, 8), [[True, True, False]])
    """

    def __init__(
        self,
        vocab_size,
        d_model,
        max_length,
        mask_zero=True,
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        for argument, value in (
            ("vocab_size", vocab_size),
            ("d_model", d_model),
            ("max_length", max_length),
        ):
            check_positive_int("PositionalEmbedding", argument, value)
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.max_length = max_length
        self.mask_zero = bool(mask_zero)
        self.token_embedding = layers.Embedding(
            vocab_size,
            d_model,
            embeddings_initializer=embeddings_initializer,
            mask_zero=self.mask_zero,
            name="token_embedding",
        )
        self._encoding = positional_encoding(max_length, d_model)
        self._scale = math.sqrt(d_model)
        self.input_spec = InputSpec(ndim=2)
        self.supports_masking = self.mask_zero

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        nest_weight_paths(self.token_embedding, self.name)
        self.built = True

    def call(self, inputs):
        length = inputs.shape[1]
        if length > self.max_length:
            raise ValueError(
                f"PositionalEmbedding '{self.name}': sequences may be at most max_length="
                f"{self.max_length} tokens long; received inputs of shape {tuple(inputs.shape)}"
            )
        embedded = self.token_embedding(inputs)
        return embedded * self._scale + Tensor._wrap(self._encoding[:length])

    def compute_mask(self, inputs, mask=None):
        return self.token_embedding.compute_mask(inputs)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape), self.d_model)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "d_model": self.d_model,
            "max_length": self.max_length,
            "mask_zero": self.mask_zero,
            "embeddings_initializer": initializers.serialize(
                self.token_embedding.embeddings_initializer
            ),
        }


class _TransformerBlock(Layer):
    """What the encoder and decoder layers share: arguments, the feed-forward network and the
    residual wiring (post-norm by default, pre-norm with ``normalize_first``)."""

    def __init__(
        self,
        d_model,
        num_heads,
        dff,
        dropout=0.1,
        activation="relu",
        layer_norm_epsilon=1e-5,
        normalize_first=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        owner = type(self).__name__
        check_positive_int(owner, "d_model", d_model)
        check_positive_int(owner, "num_heads", num_heads)
        check_positive_int(owner, "dff", dff)
        if d_model % num_heads:
            raise ValueError(
                f"{owner}: d_model must be divisible by num_heads (each head gets d_model / "
                f"num_heads features); received d_model={d_model}, num_heads={num_heads}"
            )
        self.d_model = d_model
        self.num_heads = num_heads
        self.dff = dff
        self.dropout = check_dropout_rate(owner, "dropout", dropout)
        self.activation = activations.get(activation)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.normalize_first = bool(normalize_first)
        self.supports_masking = True

    def _attention_block(self, name):
        """A MultiHeadAttention sublayer and the LayerNormalization of its residual."""
        attention = layers.MultiHeadAttention(
            self.num_heads, self.d_model // self.num_heads, name=name
        )
        norm = layers.LayerNormalization(epsilon=self.layer_norm_epsilon, name=f"{name}_norm")
        return attention, norm

    def _feedforward_layers(self):
        self.intermediate_dense = layers.Dense(
            self.dff, activation=self.activation, name="intermediate_dense"
        )
        self.output_dense = layers.Dense(self.d_model, name="output_dense")
        self.feedforward_norm = layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, name="feedforward_norm"
        )
        # Residual dropout: one layer serves every sublayer (it holds no weights).
        self.residual_dropout = layers.Dropout(self.dropout, name="residual_dropout")

    def _check_width(self, shape, argument):
        shape = tuple(shape)
        if len(shape) != 3 or shape[-1] != self.d_model:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': {argument} must have shape (batch, "
                f"length, d_model={self.d_model}); received shape {shape}"
            )
        return shape

    def _build_feedforward(self, shape):
        for sublayer, sublayer_shape in (
            (self.intermediate_dense, shape),
            (self.output_dense, (*shape[:-1], self.dff)),
            (self.feedforward_norm, shape),
        ):
            sublayer.build(sublayer_shape)
            nest_weight_paths(sublayer, self.name)

    def _residual(self, x, sublayer, norm, training):
        if self.normalize_first:
            return x + self.residual_dropout(sublayer(norm(x)), training=training)
        return norm(x + self.residual_dropout(sublayer(x), training=training))

    def _feedforward(self, x):
        return self.output_dense(self.intermediate_dense(x))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "d_model": self.d_model,
            "num_heads": self.num_heads,
            "dff": self.dff,
            "dropout": self.dropout,
            "activation": activations.serialize(self.activation),
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "normalize_first": self.normalize_first,
        }


@register_keras_serializable(package="shinsou")
class TransformerEncoder(_TransformerBlock):
    """One encoder layer: self-attention, then a position-wise feed-forward network
    (``dff`` units, ``activation``, back to ``d_model``), each wrapped in a residual
    connection, dropout and layer normalization.

    Inputs ``(batch, length, d_model)``; a Keras padding mask on them (from
    :class:`PositionalEmbedding`) keeps padded positions out of every position's attention,
    so they cannot change the outputs at real positions. The mask passes through.

    Example:
        >>> import numpy as np
        >>> encoder = TransformerEncoder(d_model=8, num_heads=2, dff=16)
        >>> encoder(np.ones((2, 5, 8), "float32")).shape
        (2, 5, 8)
    """

    def __init__(self, d_model, num_heads, dff, dropout=0.1, **kwargs):
        super().__init__(d_model, num_heads, dff, dropout, **kwargs)
        self.self_attention, self.self_attention_norm = self._attention_block("self_attention")
        self._feedforward_layers()

    def build(self, input_shape):
        shape = self._check_width(input_shape, "the input")
        self.self_attention.build(shape, shape)
        self.self_attention_norm.build(shape)
        for sublayer in (self.self_attention, self.self_attention_norm):
            nest_weight_paths(sublayer, self.name)
        self._build_feedforward(shape)
        self.built = True

    def call(self, inputs, training=None, mask=None):
        allowed = _key_padding_mask(mask, inputs.shape[1])

        def attend(x):
            return self.self_attention(x, x, attention_mask=allowed, training=training)

        x = self._residual(inputs, attend, self.self_attention_norm, training)
        return self._residual(x, self._feedforward, self.feedforward_norm, training)


@register_keras_serializable(package="shinsou")
class TransformerDecoder(_TransformerBlock):
    """One decoder layer: causal self-attention, cross-attention to the encoder's output,
    then the feed-forward network, each with residual, dropout and layer normalization.

    Called as ``decoder(decoder_sequence, encoder_sequence)``, both ``(batch, length,
    d_model)``. Position ``t`` attends to decoder positions ``<= t`` that are not padding
    (the Keras mask of ``decoder_sequence``) and to encoder positions that are not padding
    (``encoder_padding_mask``, by default the Keras mask ``encoder_sequence`` carries).

    Example:
        >>> import numpy as np
        >>> decoder = TransformerDecoder(d_model=8, num_heads=2, dff=16)
        >>> decoder(np.ones((2, 3, 8), "float32"), np.ones((2, 5, 8), "float32")).shape
        (2, 3, 8)
    """

    def __init__(self, d_model, num_heads, dff, dropout=0.1, **kwargs):
        super().__init__(d_model, num_heads, dff, dropout, **kwargs)
        self.self_attention, self.self_attention_norm = self._attention_block("self_attention")
        self.cross_attention, self.cross_attention_norm = self._attention_block("cross_attention")
        self._feedforward_layers()

    def build(self, decoder_sequence_shape, encoder_sequence_shape=None):
        target = self._check_width(decoder_sequence_shape, "decoder_sequence")
        if encoder_sequence_shape is None:
            raise ValueError(
                f"TransformerDecoder '{self.name}' needs encoder_sequence: call it as "
                "decoder(decoder_sequence, encoder_sequence)"
            )
        source = self._check_width(encoder_sequence_shape, "encoder_sequence")
        self.self_attention.build(target, target)
        self.cross_attention.build(target, source)
        for sublayer in (self.self_attention, self.cross_attention):
            nest_weight_paths(sublayer, self.name)
        for norm in (self.self_attention_norm, self.cross_attention_norm):
            norm.build(target)
            nest_weight_paths(norm, self.name)
        self._build_feedforward(target)
        self.built = True

    def call(
        self,
        decoder_sequence,
        encoder_sequence=None,
        encoder_padding_mask=None,
        training=None,
        mask=None,
    ):
        if encoder_sequence is None:
            raise ValueError(
                f"TransformerDecoder '{self.name}' needs encoder_sequence: call it as "
                "decoder(decoder_sequence, encoder_sequence)"
            )
        if encoder_padding_mask is None:
            encoder_padding_mask = getattr(encoder_sequence, "_keras_mask", None)
        length = decoder_sequence.shape[1]
        self_allowed = _key_padding_mask(mask, length)
        cross_allowed = _key_padding_mask(encoder_padding_mask, length)

        def attend_to_self(x):
            return self.self_attention(
                x, x, attention_mask=self_allowed, use_causal_mask=True, training=training
            )

        def attend_to_source(x):
            return self.cross_attention(
                x, encoder_sequence, attention_mask=cross_allowed, training=training
            )

        x = self._residual(decoder_sequence, attend_to_self, self.self_attention_norm, training)
        x = self._residual(x, attend_to_source, self.cross_attention_norm, training)
        return self._residual(x, self._feedforward, self.feedforward_norm, training)


def Transformer(
    num_layers,
    d_model,
    num_heads,
    dff,
    input_vocab_size,
    target_vocab_size,
    max_length,
    dropout=0.1,
    name="transformer",
):
    """The encoder–decoder Transformer as a functional model ``[encoder_tokens,
    decoder_tokens] -> logits`` of shape ``(batch, target_length, target_vocab_size)``.

    Both inputs are integer ids ``(batch, length)`` with 0 as padding and lengths up to
    ``max_length``. ``num_layers`` encoder and decoder layers of width ``d_model`` with
    ``num_heads`` heads and feed-forward size ``dff``; ``dropout`` on the embeddings and on
    every sublayer's output. The logits carry the decoder inputs' padding mask, so Keras
    losses skip padded target positions. The paper's base model is ``num_layers=6,
    d_model=512, num_heads=8, dff=2048``.

    Train with teacher forcing: decoder inputs ``[start, y1, ..., yn]``, targets
    ``[y1, ..., yn, end]``, loss ``SparseCategoricalCrossentropy(from_logits=True)``.

    Example:
        >>> model = Transformer(2, 32, 4, 64, input_vocab_size=100, target_vocab_size=90,
        ...                     max_length=20)
        >>> [t.shape for t in model.inputs], model.output_shape
        ([(None, None), (None, None)], (None, None, 90))
    """
    check_positive_int("Transformer", "num_layers", num_layers)
    check_positive_int("Transformer", "d_model", d_model)
    check_positive_int("Transformer", "num_heads", num_heads)
    if d_model % num_heads:
        raise ValueError(
            "Transformer: d_model must be divisible by num_heads; received "
            f"d_model={d_model}, num_heads={num_heads}"
        )
    dropout = check_dropout_rate("Transformer", "dropout", dropout)
    from ..layers import Input

    encoder_tokens = Input(shape=(None,), dtype="int32", name="encoder_tokens")
    decoder_tokens = Input(shape=(None,), dtype="int32", name="decoder_tokens")
    x = PositionalEmbedding(input_vocab_size, d_model, max_length, name="encoder_embedding")(
        encoder_tokens
    )
    x = layers.Dropout(dropout, name="encoder_embedding_dropout")(x)
    for index in range(num_layers):
        x = TransformerEncoder(d_model, num_heads, dff, dropout, name=f"encoder_layer_{index}")(x)
    y = PositionalEmbedding(target_vocab_size, d_model, max_length, name="decoder_embedding")(
        decoder_tokens
    )
    y = layers.Dropout(dropout, name="decoder_embedding_dropout")(y)
    for index in range(num_layers):
        y = TransformerDecoder(d_model, num_heads, dff, dropout, name=f"decoder_layer_{index}")(
            y, x
        )
    logits = layers.Dense(target_vocab_size, name="logits")(y)
    return Model([encoder_tokens, decoder_tokens], logits, name=name)
