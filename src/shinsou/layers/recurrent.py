"""Recurrent layers: the generic :class:`RNN` that runs a cell over time, and SimpleRNN, LSTM
and GRU (``keras.layers``), with Keras's arguments, weights and configs.

Inputs are ``(batch, timesteps, features)``. Each layer holds its cell in the attribute
``cell`` (so the weights are ``lstm/lstm_cell/kernel`` ... as in Keras, and weight files
match). The built-in cells run a whole sequence as one fused graph node — backpropagation
through time happens inside it — so there is no per-time-step Python work in the layer; any
other cell, or recurrent dropout in training, takes the per-step loop over ``cell.call``.

Masks (``Embedding(mask_zero=True)`` upstream, or ``mask=``) skip time steps: the states
carry over and the output repeats the previous one. ``return_sequences=True`` outputs keep
the mask. ``return_state=True`` returns ``(output, *final_states)``.

Example:
    >>> import numpy as np
    >>> from shinsou import layers
    >>> lstm = layers.LSTM(4, return_sequences=True, return_state=True, name="lstm")
    >>> outputs, h, c = lstm(np.ones((2, 5, 3), dtype="float32"))
    >>> outputs.shape, h.shape, c.shape
    ((2, 5, 4), (2, 4), (2, 4))
    >>> [w.path for w in lstm.weights]
    ['lstm/lstm_cell/kernel', 'lstm/lstm_cell/recurrent_kernel', 'lstm/lstm_cell/bias']
"""

from __future__ import annotations

import inspect

from .. import ops
from ..backend import xp
from ..tensor import Tensor
from .base import InputSpec, Layer
from .core import _serialize_or_none
from .recurrent_cells import GRUCell, LSTMCell, SimpleRNNCell
from .wrappers import nest_weight_paths

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "SimpleRNN", "SimpleRNNCell"]


def _accepts_training(cell) -> bool:
    parameters = inspect.signature(cell.call).parameters.values()
    return any(p.name == "training" or p.kind is p.VAR_KEYWORD for p in parameters)


class RNN(Layer):
    """Runs a recurrent cell over the time axis of ``(batch, timesteps, features)`` inputs.

    ``cell`` is any object with a ``state_size`` (an int, or a list of ints, one per state)
    and ``call(inputs, states)`` returning ``(output, new_states)`` — a Layer subclass such
    as :class:`LSTMCell` or your own. ``return_sequences`` returns every step's output instead
    of the last; ``return_state`` appends the final states; ``go_backwards`` reads the
    sequence from its end (outputs in that order); ``stateful`` carries the final states of
    one batch into the next (until :meth:`reset_state`); ``zero_output_for_mask`` outputs
    zeros at masked steps instead of repeating the previous output. ``unroll`` is accepted
    for compatibility and changes nothing.

    Example:
        >>> import numpy as np
        >>> rnn = RNN(SimpleRNNCell(4), return_sequences=True)
        >>> rnn(np.ones((2, 6, 3), dtype="float32")).shape
        (2, 6, 4)
    """

    _holds_layers = True

    def __init__(
        self,
        cell,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        zero_output_for_mask=False,
        **kwargs,
    ):
        layer_name = type(self).__name__
        if isinstance(cell, (list, tuple)):
            raise ValueError(
                f"{layer_name}: stacking a list of cells (StackedRNNCells) is not supported; "
                "stack RNN layers with return_sequences=True instead"
            )
        if not callable(getattr(cell, "call", None)) or not hasattr(cell, "state_size"):
            raise ValueError(
                f"{layer_name}: cell must have a call(inputs, states) method and a state_size "
                f"attribute (an int or a list of ints); received cell={cell!r}"
            )
        state_size = cell.state_size
        sizes = list(state_size) if isinstance(state_size, (list, tuple)) else [state_size]
        if not sizes or not all(isinstance(s, int) and not isinstance(s, bool) for s in sizes):
            raise ValueError(
                f"{layer_name}: the cell's state_size must be an int or a list of ints; "
                f"received state_size={state_size!r}"
            )
        super().__init__(**kwargs)
        self.cell = cell
        self.state_size = sizes
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.supports_masking = True
        self.input_spec = InputSpec(ndim=3)
        self.states = None

    # -- building -----------------------------------------------------------------------
    def build(self, sequences_shape):
        shape = tuple(sequences_shape)
        if len(shape) != 3 or shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects inputs of shape (batch, timesteps, "
                f"features) with the features known; received input shape {shape}"
            )
        if isinstance(self.cell, Layer) and not self.cell.built:
            self.cell.build((shape[0], shape[-1]))
            self.cell.built = True
            nest_weight_paths(self.cell, self.name)
        if self.stateful:
            if shape[0] is None:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': stateful=True needs a fixed batch "
                    f"size (pass batch_size= to Input); received input shape {shape}"
                )
            self.states = self.get_initial_state(shape[0])
        self.built = True

    def get_initial_state(self, batch_size):
        """Zero states (or the cell's own ``get_initial_state``), one per state."""
        make = getattr(self.cell, "get_initial_state", None)
        if make is not None:
            states = make(batch_size=batch_size)
            return list(states) if isinstance(states, (list, tuple)) else [states]
        return [ops.zeros((batch_size, size)) for size in self.state_size]

    def reset_state(self):
        """Zero the states a stateful layer carries between batches."""
        if self.states is not None:
            # New arrays, not in-place zeroing: the old ones may be outputs the caller holds.
            self.states = self.get_initial_state(self.states[0].shape[0])

    def reset_states(self):
        """Alias of :meth:`reset_state` (Keras 2's name)."""
        self.reset_state()

    # -- calling ------------------------------------------------------------------------
    def call(self, sequences, initial_state=None, mask=None, training=False):
        batch = sequences.shape[0]
        if initial_state is None and self.stateful:
            initial_state = self.states
        states = self._checked_states(initial_state, batch)
        mask = self._checked_mask(mask, sequences.shape)
        run_fused = getattr(self.cell, "fused_sequence", None)
        result = None
        if run_fused is not None:
            result = run_fused(
                sequences, states, mask, self.go_backwards, self.zero_output_for_mask, training
            )
        if result is not None:
            outputs, final_states = result
            last_output = final_states[0]
            if mask is not None and self.zero_output_for_mask:
                last_output = outputs[:, -1]  # zero when the last step read was masked
        else:
            outputs, last_output, final_states = self._loop(sequences, states, mask, training)
        if self.stateful:
            self.states = [Tensor._wrap(state.data) for state in final_states]
        output = outputs if self.return_sequences else last_output
        if self.return_state:
            return (output, *final_states)
        return output

    def _checked_states(self, initial_state, batch):
        if initial_state is None:
            return None
        states = (
            list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        )
        if len(states) != len(self.state_size):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': initial_state must hold "
                f"{len(self.state_size)} tensor(s), one per state of sizes {self.state_size}; "
                f"received {len(states)}"
            )
        states = [ops.convert_to_tensor(state) for state in states]
        for state, size in zip(states, self.state_size):
            if state.shape != (batch, size):
                raise ValueError(
                    f"{type(self).__name__} '{self.name}': each initial state must have shape "
                    f"(batch, state_size) = ({batch}, {size}); received {state.shape}"
                )
        return states

    def _checked_mask(self, mask, shape):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        if mask is None:
            return None
        mask = xp.asarray(mask.data if isinstance(mask, Tensor) else mask).astype(bool, copy=False)
        if mask.shape != tuple(shape[:2]):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': mask must have shape (batch, timesteps) = "
                f"{tuple(shape[:2])}; received {mask.shape}"
            )
        return None if mask.all() else mask  # nothing masked: the plain path is faster

    def _loop(self, sequences, states, mask, training):
        """The per-step path: ``cell`` called once per time step (Keras's generic loop)."""
        cell = self.cell
        batch, steps = sequences.shape[:2]
        if states is None:
            states = self.get_initial_state(batch)
        step = cell if isinstance(cell, Layer) else cell.call
        kwargs = {"training": training} if _accepts_training(cell) else {}
        order = range(steps - 1, -1, -1) if self.go_backwards else range(steps)
        outputs, output = [], None
        for t in order:
            new_output, new_states = step(sequences[:, t], states, **kwargs)
            new_states = list(new_states) if isinstance(new_states, (list, tuple)) else [new_states]
            if mask is not None:
                # Masked steps keep the states; the output repeats the previous one (zero before
                # any step was read, or always with zero_output_for_mask), as Keras does.
                keep = mask[:, t, None]
                new_states = [ops.where(keep, new, old) for new, old in zip(new_states, states)]
                if output is None or self.zero_output_for_mask:
                    new_output = ops.where(keep, new_output, 0.0)
                else:
                    new_output = ops.where(keep, new_output, output)
            output, states = new_output, new_states
            if self.return_sequences:
                outputs.append(output)
        for reset in ("reset_dropout_mask", "reset_recurrent_dropout_mask"):
            if callable(getattr(cell, reset, None)):
                getattr(cell, reset)()
        sequence = ops.stack(outputs, axis=1) if self.return_sequences else None
        return sequence, output, states

    # -- shapes and masks ---------------------------------------------------------------
    def compute_output_shape(self, sequences_shape):
        batch, steps = tuple(sequences_shape)[:2]
        output_size = getattr(self.cell, "output_size", None) or self.state_size[0]
        if self.return_sequences:
            output_shape = (batch, steps, output_size)
        else:
            output_shape = (batch, output_size)
        if self.return_state:
            return (output_shape, *[(batch, size) for size in self.state_size])
        return output_shape

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        if self.return_state:
            return [output_mask] + [None] * len(self.state_size)
        return output_mask

    # -- configuration ------------------------------------------------------------------
    def _rnn_config(self):
        return {
            **super().get_config(),
            "return_sequences": self.return_sequences,
            "return_state": self.return_state,
            "go_backwards": self.go_backwards,
            "stateful": self.stateful,
            "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask,
        }

    def get_config(self):
        # The saving package sits above layers; import it only when a config is made.
        from ..saving.object_config import serialize_keras_object

        return {**self._rnn_config(), "cell": serialize_keras_object(self.cell)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving.object_config import deserialize_keras_object

        config = dict(config)
        cell = deserialize_keras_object(config.pop("cell"), custom_objects=custom_objects)
        return cls(cell, **config)


class _BuiltinRNN(RNN):
    """SimpleRNN, LSTM and GRU: an RNN over its own cell, whose arguments it exposes."""

    def __init__(self, cell, activity_regularizer=None, use_cudnn="auto", **kwargs):
        if use_cudnn not in ("auto", True, False):
            raise ValueError(
                f"{type(self).__name__}: use_cudnn must be 'auto', True or False, received "
                f"use_cudnn={use_cudnn!r}"
            )
        super().__init__(cell, activity_regularizer=activity_regularizer, **kwargs)

    def call(self, sequences, initial_state=None, mask=None, training=False):
        return super().call(sequences, initial_state=initial_state, mask=mask, training=training)

    def _cell_config(self):
        config = self.cell.get_config()
        for key in ("name", "trainable", "dtype"):
            config.pop(key)
        return config

    def get_config(self):
        return {
            **self._rnn_config(),
            **self._cell_config(),
            "activity_regularizer": _serialize_or_none(self.activity_regularizer),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def _cell_property(name):
    return property(lambda self: getattr(self.cell, name), doc=f"The cell's ``{name}``.")


# units, activation, kernel_initializer, dropout, ...: read from the cell, as in Keras.
for _name in (
    "units",
    "activation",
    "recurrent_activation",
    "use_bias",
    "unit_forget_bias",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "reset_after",
):
    setattr(_BuiltinRNN, _name, _cell_property(_name))


def _cell_kwargs(kwargs):
    """The base-layer arguments the cell shares with its layer (dtype, trainable)."""
    return {key: kwargs[key] for key in ("dtype", "trainable") if key in kwargs}


class SimpleRNN(_BuiltinRNN):
    """Fully-connected RNN, ``h_t = activation(x_t W + b + h_{t-1} R)``; output = state.

    Weights (in ``cell``): ``kernel`` (features, units), ``recurrent_kernel`` (units, units),
    ``bias`` (units,).

    Example:
        >>> import numpy as np
        >>> layer = SimpleRNN(32)
        >>> layer(np.ones((4, 10, 8), dtype="float32")).shape, layer.count_params()
        ((4, 32), 1312)
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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        seed=None,
        **kwargs,
    ):
        cell = SimpleRNNCell(
            units, activation=activation, use_bias=use_bias,
            kernel_initializer=kernel_initializer, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
            seed=seed, name="simple_rnn_cell", **_cell_kwargs(kwargs),
        )  # fmt: skip
        super().__init__(
            cell, activity_regularizer=activity_regularizer, return_sequences=return_sequences,
            return_state=return_state, go_backwards=go_backwards, stateful=stateful,
            unroll=unroll, **kwargs,
        )  # fmt: skip

    def _cell_config(self):
        config = super()._cell_config()
        del config["seed"]  # Keras's SimpleRNN config has no seed
        return config


class LSTM(_BuiltinRNN):
    """Long Short-Term Memory layer (Hochreiter & Schmidhuber, 1997), Keras's gate order
    i, f, c, o.

    Weights (in ``cell``): ``kernel`` (features, 4*units), ``recurrent_kernel``
    (units, 4*units), ``bias`` (4*units,), the forget gate's bias starting at one
    (``unit_forget_bias``). ``return_state=True`` returns ``(output, h, c)``.

    Example:
        >>> import numpy as np
        >>> layer = LSTM(128)
        >>> layer(np.zeros((2, 5, 64), dtype="float32")).shape, layer.count_params()
        ((2, 128), 98816)
    """

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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        use_cudnn="auto",
        **kwargs,
    ):
        cell = LSTMCell(
            units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            unit_forget_bias=unit_forget_bias, recurrent_initializer=recurrent_initializer,
            bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
            recurrent_regularizer=recurrent_regularizer, bias_regularizer=bias_regularizer,
            kernel_constraint=kernel_constraint, recurrent_constraint=recurrent_constraint,
            bias_constraint=bias_constraint, dropout=dropout, recurrent_dropout=recurrent_dropout,
            seed=seed, implementation=kwargs.pop("implementation", 2), name="lstm_cell",
            **_cell_kwargs(kwargs),
        )  # fmt: skip
        super().__init__(
            cell, activity_regularizer=activity_regularizer, use_cudnn=use_cudnn,
            return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs,
        )  # fmt: skip


class GRU(_BuiltinRNN):
    """Gated Recurrent Unit (Cho et al., 2014), Keras's gate order z, r, h.

    Weights (in ``cell``): ``kernel`` (features, 3*units), ``recurrent_kernel``
    (units, 3*units), ``bias`` (2, 3*units) with ``reset_after=True`` (the default, as
    cuDNN and PyTorch compute it) or (3*units,) with ``reset_after=False``.

    Example:
        >>> import numpy as np
        >>> layer = GRU(128)
        >>> layer(np.zeros((2, 5, 64), dtype="float32")).shape, layer.count_params()
        ((2, 128), 74496)
    """

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
        activity_regularizer=None,
        kernel_constraint=None,
        recurrent_constraint=None,
        bias_constraint=None,
        dropout=0.0,
        recurrent_dropout=0.0,
        seed=None,
        return_sequences=False,
        return_state=False,
        go_backwards=False,
        stateful=False,
        unroll=False,
        reset_after=True,
        use_cudnn="auto",
        **kwargs,
    ):
        cell = GRUCell(
            units, activation=activation, recurrent_activation=recurrent_activation,
            use_bias=use_bias, kernel_initializer=kernel_initializer,
            recurrent_initializer=recurrent_initializer, bias_initializer=bias_initializer,
            kernel_regularizer=kernel_regularizer, recurrent_regularizer=recurrent_regularizer,
            bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
            recurrent_constraint=recurrent_constraint, bias_constraint=bias_constraint,
            dropout=dropout, recurrent_dropout=recurrent_dropout, reset_after=reset_after,
            seed=seed, implementation=kwargs.pop("implementation", 2), name="gru_cell",
            **_cell_kwargs(kwargs),
        )  # fmt: skip
        super().__init__(
            cell, activity_regularizer=activity_regularizer, use_cudnn=use_cudnn,
            return_sequences=return_sequences, return_state=return_state,
            go_backwards=go_backwards, stateful=stateful, unroll=unroll, **kwargs,
        )  # fmt: skip
