"""Recurrent cells: one time step of SimpleRNN, LSTM and GRU (``keras.layers.*Cell``).

A cell owns the weights, in Keras's layouts and names (``kernel`` ``(features, gates*units)``,
``recurrent_kernel`` ``(units, gates*units)``, ``bias``), and computes one step,
``call(inputs, states, training)`` → ``(output, new_states)``. :class:`~shinsou.layers.RNN`
loops any cell over time; for these three it instead hands the whole sequence to the cell's
:meth:`fused_sequence`, which runs it as one fused graph node (:func:`shinsou.ops.lstm`,
:func:`~shinsou.ops.gru`, :func:`~shinsou.ops.simple_rnn`) whenever the activations are ones
that op knows and no recurrent dropout is active. The per-step ``call`` remains the
reference, and the path for recurrent dropout and custom subclasses.

Dropout follows Keras: one mask per sequence, the same at every time step (fetched with
:meth:`get_dropout_mask` and kept until :meth:`reset_dropout_mask`); on the per-step path each
gate gets its own mask, as Keras's ``implementation=1`` does.

Example:
    >>> import numpy as np
    >>> from shinsou import layers
    >>> cell = layers.LSTMCell(4)
    >>> h0 = c0 = np.zeros((2, 4), dtype="float32")
    >>> output, (h, c) = cell(np.ones((2, 3), dtype="float32"), [h0, c0])
    >>> output.shape, cell.kernel.shape, cell.recurrent_kernel.shape, cell.bias.shape
    ((2, 4), (3, 16), (4, 16), (16,))
"""

from __future__ import annotations

import numbers

from .. import activations, backend, initializers, ops, regularizers
from ..backend import xp
from ..tensor import Tensor
from .base import Layer
from .core import _serialize_or_none, check_positive_int

__all__ = ["GRUCell", "LSTMCell", "SimpleRNNCell"]

# The activations the fused recurrence ops implement on their preallocated buffers.
_FUSED_ACTIVATIONS = ("tanh", "sigmoid", "relu", "hard_sigmoid", "linear")


def check_dropout_rate(layer_name, argument, value):
    """``value`` as a float after checking it lies in ``[0, 1)``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(
            f"{layer_name}: {argument} must be a float in the range [0, 1) (the fraction of units "
            f"to drop), received {argument}={value!r}"
        )
    return float(value)


def seed_generator(layer_name, seed):
    """A layer's own generator for an int seed; None draws from the shared generator."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(
            f"{layer_name}: seed must be None or a non-negative int, received seed={seed!r}"
        )
    return xp.random.default_rng(int(seed))


def fused_activation_name(activation):
    """The name under which the fused ops know ``activation``, or None if they do not."""
    for name in _FUSED_ACTIVATIONS:
        if activation is activations.get(name):
            return name
    return None


def _dropout_masks(generator, shape, rate, count, dtype):
    """``count`` scaled keep-masks of ``shape`` (constants: dropout has no gradient)."""
    generator = backend.rng() if generator is None else generator
    keep = generator.random((count, *shape), dtype=xp.float32) >= rate
    scaled = xp.multiply(keep, 1.0 / (1.0 - rate), dtype=dtype)
    return [Tensor._wrap(mask) for mask in scaled]


def _projection(inputs, kernel, masks, gates):
    """``inputs @ kernel``; with per-gate dropout masks, each gate's block sees its own mask."""
    if masks is None:
        return ops.matmul(inputs, kernel)
    blocks = ops.split(kernel, gates, axis=1)
    return ops.concatenate(
        [ops.matmul(inputs * mask, block) for mask, block in zip(masks, blocks)], axis=-1
    )


class _RecurrentCell(Layer):
    """What the three cells share: arguments, weights, dropout masks, the fused hand-off.

    Subclasses set ``gates`` (blocks in the kernels) and implement ``call`` and
    :meth:`fused_sequence`.
    """

    gates = 1

    def __init__(
        self,
        units,
        activation,
        use_bias,
        kernel_initializer,
        recurrent_initializer,
        bias_initializer,
        kernel_regularizer,
        recurrent_regularizer,
        bias_regularizer,
        kernel_constraint,
        recurrent_constraint,
        bias_constraint,
        dropout,
        recurrent_dropout,
        seed,
        **kwargs,
    ):
        kwargs.pop("implementation", None)  # Keras's choice of kernel split; one path here
        super().__init__(**kwargs)
        layer_name = type(self).__name__
        check_positive_int(layer_name, "units", units)
        self.units = units
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = kernel_constraint
        self.recurrent_constraint = recurrent_constraint
        self.bias_constraint = bias_constraint
        self.dropout = check_dropout_rate(layer_name, "dropout", dropout)
        self.recurrent_dropout = check_dropout_rate(
            layer_name, "recurrent_dropout", recurrent_dropout
        )
        self.seed = seed
        self._generator = seed_generator(layer_name, seed)
        self._dropout_mask = None
        self._recurrent_dropout_mask = None
        self.state_size = units
        self.output_size = units

    # -- weights ------------------------------------------------------------------------
    def build(self, input_shape):
        input_dim = tuple(input_shape)[-1]
        if input_dim is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}': the last axis of the input (features) must "
                f"be known; received input shape {tuple(input_shape)}"
            )
        width = self.gates * self.units
        self.kernel = self.add_weight(
            shape=(input_dim, width),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self.recurrent_kernel = self.add_weight(
            shape=(self.units, width),
            initializer=self.recurrent_initializer,
            regularizer=self.recurrent_regularizer,
            constraint=self.recurrent_constraint,
            name="recurrent_kernel",
        )
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(
                shape=self._bias_shape(),
                initializer=self._bias_initial_values(),
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )
        self.built = True

    def _bias_shape(self):
        return (self.gates * self.units,)

    def _bias_initial_values(self):
        return self.bias_initializer

    def get_initial_state(self, batch_size=None):
        """Zero states, one ``(batch_size, size)`` tensor per entry of ``state_size``."""
        sizes = self.state_size if isinstance(self.state_size, (list, tuple)) else [self.state_size]
        return [ops.zeros((batch_size, size), dtype=self.dtype) for size in sizes]

    # -- dropout masks (Keras's DropoutRNNCell) ---------------------------------------------
    def get_dropout_mask(self, step_input):
        """The input dropout masks of this sequence, one per gate (drawn on first use)."""
        if self._dropout_mask is None and self.dropout > 0:
            self._dropout_mask = _dropout_masks(
                self._generator, step_input.shape, self.dropout, self._mask_count(), self.dtype
            )
        return self._dropout_mask

    def get_recurrent_dropout_mask(self, step_state):
        """The recurrent-state dropout masks of this sequence, one per gate."""
        if self._recurrent_dropout_mask is None and self.recurrent_dropout > 0:
            self._recurrent_dropout_mask = _dropout_masks(
                self._generator,
                step_state.shape,
                self.recurrent_dropout,
                self._mask_count(),
                self.dtype,
            )
        return self._recurrent_dropout_mask

    def reset_dropout_mask(self):
        """Forget the input masks: the next sequence draws new ones."""
        self._dropout_mask = None

    def reset_recurrent_dropout_mask(self):
        """Forget the recurrent masks: the next sequence draws new ones."""
        self._recurrent_dropout_mask = None

    def _mask_count(self):
        return self.gates

    def _step_masks(self, inputs, state, training):
        input_masks = self.get_dropout_mask(inputs) if training and self.dropout else None
        state_masks = (
            self.get_recurrent_dropout_mask(state) if training and self.recurrent_dropout else None
        )
        return input_masks, state_masks

    # -- the whole sequence at once -----------------------------------------------------------
    def _fusable_inputs(self, own_call, sequences, training, activation_list):
        """The (dropped-out) sequences for the fused op, plus the activation names; None when
        the per-step path must run (a subclass's own ``call``, an activation the op lacks,
        recurrent dropout in training)."""
        if type(self).call is not own_call or (training and self.recurrent_dropout):
            return None
        names = [fused_activation_name(activation) for activation in activation_list]
        if None in names:
            return None
        if training and self.dropout:
            # Keras's fast path: one input mask per sequence, the same at every step.
            batch, _, features = sequences.shape
            sequences = ops.dropout(
                sequences, self.dropout, noise_shape=(batch, 1, features), seed=self._generator
            )
        return sequences, names

    # -- configuration ------------------------------------------------------------------
    def _config_head(self):
        return {**super().get_config(), "units": self.units}

    def _config_weights(self):
        return {
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": _serialize_or_none(self.kernel_regularizer),
            "recurrent_regularizer": _serialize_or_none(self.recurrent_regularizer),
            "bias_regularizer": _serialize_or_none(self.bias_regularizer),
            "kernel_constraint": None,
            "recurrent_constraint": None,
            "bias_constraint": None,
            "dropout": self.dropout,
            "recurrent_dropout": self.recurrent_dropout,
        }


class SimpleRNNCell(_RecurrentCell):
    """One step of a fully-connected RNN: ``h' = activation(x W + b + h R)``.

    Example:
        >>> import numpy as np
        >>> cell = SimpleRNNCell(3)
        >>> output, states = cell(np.ones((2, 5), dtype="float32"), [np.zeros((2, 3), "float32")])
        >>> output.shape, len(states)
        ((2, 3), 1)
    """

    def __init__(
        self,
        units,
        activation="tanh",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            units, activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
            kernel_constraint, recurrent_constraint, bias_constraint, dropout,
            recurrent_dropout, seed, **kwargs,
        )  # fmt: skip

    def call(self, inputs, states, training=False):
        previous = states[0] if isinstance(states, (list, tuple)) else states
        input_masks, state_masks = self._step_masks(inputs, previous, training)
        h = _projection(inputs, self.kernel, input_masks, 1)
        if self.bias is not None:
            h = h + self.bias
        h = h + _projection(previous, self.recurrent_kernel, state_masks, 1)
        output = self.activation(h)
        return output, [output] if isinstance(states, (list, tuple)) else output

    def fused_sequence(
        self, sequences, initial_state, mask, go_backwards, zero_output_for_mask, training=False
    ):
        """The whole sequence as one :func:`shinsou.ops.simple_rnn` node: ``(outputs,
        [final_h])``, or None when the per-step path must run."""
        prepared = self._fusable_inputs(SimpleRNNCell.call, sequences, training, [self.activation])
        if prepared is None:
            return None
        sequences, (activation,) = prepared
        outputs, h = ops.simple_rnn(
            sequences, self.kernel, self.recurrent_kernel, self.bias,
            initial_state=None if initial_state is None else initial_state[0], mask=mask,
            go_backwards=go_backwards, activation=activation,
            zero_output_for_mask=zero_output_for_mask,
        )  # fmt: skip
        return outputs, [h]

    def get_config(self):
        return {
            **self._config_head(),
            "activation": activations.serialize(self.activation),
            **self._config_weights(),
            "seed": self.seed,
        }


class LSTMCell(_RecurrentCell):
    """One LSTM step (gates i, f, c, o in Keras's order)::

        i, f, o = recurrent_activation(x W + h R + b)   (their blocks)
        c' = f * c + i * activation(x W_c + h R_c + b_c);  h' = o * activation(c')

    ``unit_forget_bias=True`` initialises the forget gate's bias to one. States are ``[h, c]``.

    Example:
        >>> LSTMCell(8).state_size
        [8, 8]
    """

    gates = 4

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        unit_forget_bias=True,
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            units, activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
            kernel_constraint, recurrent_constraint, bias_constraint, dropout,
            recurrent_dropout, seed, **kwargs,
        )  # fmt: skip
        self.recurrent_activation = activations.get(recurrent_activation)
        self.unit_forget_bias = bool(unit_forget_bias)
        self.state_size = [units, units]

    def _bias_initial_values(self):
        if not self.unit_forget_bias:
            return self.bias_initializer
        base, units = self.bias_initializer, self.units

        def forget_gate_ones(shape, dtype=None):
            # Keras's layout: initializer values for i, ones for f, initializer for c and o.
            return xp.concatenate(
                [base((units,), dtype), xp.ones((units,), dtype), base((2 * units,), dtype)]
            )

        return forget_gate_ones

    def call(self, inputs, states, training=False):
        h, c = states[0], states[1]
        input_masks, state_masks = self._step_masks(inputs, h, training)
        z = _projection(inputs, self.kernel, input_masks, 4)
        z = z + _projection(h, self.recurrent_kernel, state_masks, 4)
        if self.bias is not None:
            z = z + self.bias
        z_i, z_f, z_c, z_o = ops.split(z, 4, axis=-1)
        gate = self.recurrent_activation
        c = gate(z_f) * c + gate(z_i) * self.activation(z_c)
        h = gate(z_o) * self.activation(c)
        return h, [h, c]

    def fused_sequence(
        self, sequences, initial_state, mask, go_backwards, zero_output_for_mask, training=False
    ):
        """The whole sequence as one :func:`shinsou.ops.lstm` node: ``(outputs, [h, c])``, or
        None when the per-step path must run."""
        prepared = self._fusable_inputs(
            LSTMCell.call, sequences, training, [self.activation, self.recurrent_activation]
        )
        if prepared is None:
            return None
        sequences, (activation, recurrent_activation) = prepared
        outputs, h, c = ops.lstm(
            sequences, self.kernel, self.recurrent_kernel, self.bias,
            initial_state=initial_state, mask=mask, go_backwards=go_backwards,
            activation=activation, recurrent_activation=recurrent_activation,
            zero_output_for_mask=zero_output_for_mask,
        )  # fmt: skip
        return outputs, [h, c]

    def get_config(self):
        config = self._config_weights()
        return {
            **self._config_head(),
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            "use_bias": config.pop("use_bias"),
            "unit_forget_bias": self.unit_forget_bias,
            **config,
            "seed": self.seed,
        }


class GRUCell(_RecurrentCell):
    """One GRU step (gates z, r, h in Keras's order)::

        z, r = recurrent_activation(x W + b + h R + rb)              (their blocks)
        hh = activation(x W_h + b_h + r * (h R_h + rb_h))            reset_after=True
        hh = activation(x W_h + b_h + (r * h) R_h)                   reset_after=False
        h' = z * h + (1 - z) * hh

    With ``reset_after=True`` (the default, and cuDNN's and PyTorch's form) the bias is
    ``(2, 3*units)``: input bias, then recurrent bias.

    Example:
        >>> import numpy as np
        >>> cell = GRUCell(2)
        >>> _ = cell(np.ones((1, 3), dtype="float32"), [np.zeros((1, 2), "float32")])
        >>> cell.bias.shape
        (2, 6)
    """

    gates = 3

    def __init__(
        self,
        units,
        activation="tanh",
        recurrent_activation="sigmoid",
        use_bias=True,
        kernel_initializer="glorot_uniform",
        recurrent_initializer="orthogonal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        recurrent_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        reset_after=True,
        seed=None,
        **kwargs,
    ):
        super().__init__(
            units, activation, use_bias, kernel_initializer, recurrent_initializer,
            bias_initializer, kernel_regularizer, recurrent_regularizer, bias_regularizer,
            kernel_constraint, recurrent_constraint, bias_constraint, dropout,
            recurrent_dropout, seed, **kwargs,
        )  # fmt: skip
        self.recurrent_activation = activations.get(recurrent_activation)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def call(self, inputs, states, training=False):
        nested = isinstance(states, (list, tuple))
        h = states[0] if nested else states
        u = self.units
        input_masks, state_masks = self._step_masks(inputs, h, training)
        input_bias = recurrent_bias = None
        if self.bias is not None:
            input_bias, recurrent_bias = (
                (self.bias[0], self.bias[1]) if self.reset_after else (self.bias, None)
            )
        x = _projection(inputs, self.kernel, input_masks, 3)
        if input_bias is not None:
            x = x + input_bias
        x_z, x_r, x_h = ops.split(x, 3, axis=-1)
        gate = self.recurrent_activation
        if self.reset_after:
            inner = _projection(h, self.recurrent_kernel, state_masks, 3)
            if recurrent_bias is not None:
                inner = inner + recurrent_bias
            inner_z, inner_r, inner_h = ops.split(inner, 3, axis=-1)
            z, r = gate(x_z + inner_z), gate(x_r + inner_r)
            candidate = self.activation(x_h + r * inner_h)
        else:
            inner = _projection(
                h,
                self.recurrent_kernel[:, : 2 * u],
                None if state_masks is None else state_masks[:2],
                2,
            )
            inner_z, inner_r = ops.split(inner, 2, axis=-1)
            z, r = gate(x_z + inner_z), gate(x_r + inner_r)
            h_for_candidate = h if state_masks is None else h * state_masks[2]
            candidate = self.activation(
                x_h + ops.matmul(r * h_for_candidate, self.recurrent_kernel[:, 2 * u :])
            )
        h = z * h + (1 - z) * candidate
        return h, [h] if nested else h

    def fused_sequence(
        self, sequences, initial_state, mask, go_backwards, zero_output_for_mask, training=False
    ):
        """The whole sequence as one :func:`shinsou.ops.gru` node: ``(outputs, [final_h])``,
        or None when the per-step path must run."""
        prepared = self._fusable_inputs(
            GRUCell.call, sequences, training, [self.activation, self.recurrent_activation]
        )
        if prepared is None:
            return None
        sequences, (activation, recurrent_activation) = prepared
        outputs, h = ops.gru(
            sequences, self.kernel, self.recurrent_kernel, self.bias,
            initial_state=None if initial_state is None else initial_state[0], mask=mask,
            go_backwards=go_backwards, reset_after=self.reset_after, activation=activation,
            recurrent_activation=recurrent_activation, zero_output_for_mask=zero_output_for_mask,
        )  # fmt: skip
        return outputs, [h]

    def get_config(self):
        return {
            **self._config_head(),
            "activation": activations.serialize(self.activation),
            "recurrent_activation": activations.serialize(self.recurrent_activation),
            **self._config_weights(),
            "reset_after": self.reset_after,
            "seed": self.seed,
        }
