"""Layers that wrap another layer: :class:`Bidirectional` (an RNN read both ways) and
:class:`TimeDistributed` (a layer applied to every time step), on Keras's base
:class:`Wrapper`.

Wrapped layers live in attributes (``forward_layer``/``backward_layer``, ``layer``), so
weight files have Keras's paths, and their weights are named under the wrapper
(``bidirectional/forward_lstm/lstm_cell/kernel``).

Example:
    >>> import numpy as np
    >>> from shinsou import layers
    >>> bi = layers.Bidirectional(layers.LSTM(4, return_sequences=True))
    >>> bi(np.ones((2, 5, 3), dtype="float32")).shape
    (2, 5, 8)
    >>> layers.TimeDistributed(layers.Dense(6))(np.ones((2, 5, 3), dtype="float32")).shape
    (2, 5, 6)
"""

from __future__ import annotations

import copy

from .. import ops
from ..utils import tree
from .base import Layer
from .symbolic import KerasTensor

__all__ = ["Bidirectional", "TimeDistributed", "Wrapper"]

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def nest_weight_paths(layer, parent_name):
    """Prefix the paths of ``layer``'s weights with ``parent_name`` (call right after a
    parent builds a sublayer), so that paths read ``parent/child/kernel`` as in Keras.

    Example:
        >>> import numpy as np
        >>> from shinsou.layers import Dense
        >>> dense = Dense(2, name="inner")
        >>> dense.build((None, 3))
        >>> nest_weight_paths(dense, "outer")
        >>> [w.path for w in dense.weights]
        ['outer/inner/kernel', 'outer/inner/bias']
    """
    for weight in layer.weights:
        weight.path = f"{parent_name}/{weight.path}"


def _serialize(layer):
    # The saving package sits above layers; import it only when a config is made or read.
    from ..saving.object_config import serialize_keras_object

    return serialize_keras_object(layer)


def _deserialize(config, custom_objects=None):
    from ..saving.object_config import deserialize_keras_object

    return deserialize_keras_object(config, custom_objects=custom_objects)


def _check_layer(wrapper_name, argument, layer):
    if not isinstance(layer, Layer):
        raise ValueError(
            f"{wrapper_name}: {argument} must be a keras Layer instance; received "
            f"{argument}={layer!r}"
        )


class Wrapper(Layer):
    """Base class of layers that wrap another layer, held in ``self.layer``.

    Example:
        >>> from shinsou.layers import Dense
        >>> Wrapper(Dense(3)).layer.units
        3
    """

    _holds_layers = True

    def __init__(self, layer, **kwargs):
        _check_layer(type(self).__name__, "layer", layer)
        super().__init__(**kwargs)
        self.layer = layer

    def build(self, input_shape=None):
        if not self.layer.built:
            self.layer.build(input_shape)
            self.layer.built = True
            nest_weight_paths(self.layer, self.name)
        self.built = True

    def get_config(self):
        return {**super().get_config(), "layer": _serialize(self.layer)}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = _deserialize(config.pop("layer"), custom_objects)
        return cls(layer, **config)


class TimeDistributed(Wrapper):
    """Applies ``layer`` to every time step of ``(batch, time, ...)`` inputs, with shared
    weights. The time axis is folded into the batch: the inner layer runs once on
    ``(batch * time, ...)``, not once per step.

    Example:
        >>> import numpy as np
        >>> from shinsou.layers import Conv2D
        >>> video = np.zeros((2, 10, 8, 8, 3), dtype="float32")
        >>> TimeDistributed(Conv2D(4, 3))(video).shape
        (2, 10, 6, 6, 4)
    """

    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)
        self.supports_masking = True

    def _child_shape(self, input_shape):
        shape = tuple(input_shape)
        if len(shape) < 3:
            raise ValueError(
                f"TimeDistributed '{self.name}' expects inputs of rank >= 3, (batch, time, ...); "
                f"received input shape {shape}"
            )
        return (shape[0], *shape[2:])

    def build(self, input_shape):
        super().build(self._child_shape(input_shape))

    def call(self, inputs, training=None, mask=None):
        shape = tuple(inputs.shape)
        self._child_shape(shape)
        batch, steps = shape[:2]
        kwargs = {"training": training}
        if mask is not None:
            mask_shape = tuple(mask.shape)
            if mask_shape[:2] != (batch, steps):
                raise ValueError(
                    f"TimeDistributed '{self.name}': mask must have shape ({batch}, {steps}, ...);"
                    f" received mask of shape {mask_shape}"
                )
            kwargs["mask"] = ops.reshape(mask, (batch * steps, *mask_shape[2:]))
        outputs = self.layer(ops.reshape(inputs, (batch * steps, *shape[2:])), **kwargs)
        return tree.map_structure(
            lambda output: ops.reshape(output, (batch, steps, *output.shape[1:])), outputs
        )

    def compute_output_spec(self, inputs, training=None, mask=None):
        child = KerasTensor(self._child_shape(inputs.shape), inputs.dtype)
        return tree.map_structure(
            lambda out: KerasTensor((out.shape[0], inputs.shape[1], *out.shape[1:]), out.dtype),
            self.layer.compute_output_spec(child),
        )

    def compute_output_shape(self, input_shape):
        child_shape = self.layer.compute_output_shape(self._child_shape(input_shape))
        return (child_shape[0], tuple(input_shape)[1], *child_shape[1:])


class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the outputs.

    The forward and backward layers are fresh copies made from ``layer``'s config (named
    ``forward_<name>`` and ``backward_<name>``, the latter with ``go_backwards`` flipped)
    unless ``backward_layer`` is given. The backward outputs are put back in time order
    before merging when they are sequences. ``merge_mode`` is ``"concat"``, ``"sum"``,
    ``"mul"``, ``"ave"`` or None (a pair of outputs). With ``return_state`` the forward
    states follow the output, then the backward ones. ``weights`` (forward weights, then
    backward) are loaded once the layer is built.

    Example:
        >>> import numpy as np
        >>> from shinsou.layers import LSTM
        >>> bi = Bidirectional(LSTM(128), merge_mode="sum")
        >>> bi(np.zeros((2, 5, 64), dtype="float32")).shape, bi.count_params()
        ((2, 128), 197632)
    """

    _holds_layers = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        _check_layer("Bidirectional", "layer", layer)
        if backward_layer is not None:
            _check_layer("Bidirectional", "backward_layer", backward_layer)
        if merge_mode not in _MERGE_MODES:
            raise ValueError(
                f"Bidirectional: merge_mode must be one of 'concat', 'sum', 'mul', 'ave' or None;"
                f" received merge_mode={merge_mode!r}"
            )
        super().__init__(**kwargs)
        # Fresh copies from the config: nothing (weights, states) carries over from `layer`.
        self.forward_layer = _copy_layer(layer, "forward_")
        if backward_layer is None:
            backward_layer = _copy_layer(layer, "backward_", go_backwards=True)
        self.backward_layer = backward_layer
        self._check_pair()
        for sublayer in (self.forward_layer, self.backward_layer):
            if getattr(sublayer, "zero_output_for_mask", None) is not None:
                # Masked steps must read as zeros in both directions before merging.
                sublayer.zero_output_for_mask = sublayer.return_sequences
        self.merge_mode = merge_mode
        self._initial_weights = list(weights) if weights is not None else None
        self.stateful = layer.stateful
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.supports_masking = True
        self.input_spec = layer.input_spec

    def _check_pair(self):
        forward, backward = self.forward_layer, self.backward_layer
        if forward.go_backwards == backward.go_backwards:
            raise ValueError(
                "Bidirectional: the forward and backward layers must have different go_backwards;"
                f" received go_backwards={forward.go_backwards} for both"
            )
        for attribute in ("stateful", "return_sequences", "return_state"):
            ours, theirs = getattr(forward, attribute), getattr(backward, attribute)
            if ours != theirs:
                raise ValueError(
                    f"Bidirectional: the forward and backward layers must have the same "
                    f"{attribute}; received {ours} (forward) and {theirs} (backward)"
                )

    def build(self, sequences_shape):
        for sublayer in (self.forward_layer, self.backward_layer):
            if not sublayer.built:
                sublayer.build(sequences_shape)
                sublayer.built = True
                nest_weight_paths(sublayer, self.name)
        self.built = True
        if self._initial_weights is not None:
            self.set_weights(self._initial_weights)
            self._initial_weights = None

    def call(self, sequences, initial_state=None, mask=None, training=None):
        forward_kwargs = {"mask": mask, "training": training}
        backward_kwargs = dict(forward_kwargs)
        if initial_state is not None:
            half = len(initial_state) // 2
            forward_kwargs["initial_state"] = list(initial_state[:half])
            backward_kwargs["initial_state"] = list(initial_state[half:])
        y = self.forward_layer(sequences, **forward_kwargs)
        y_reversed = self.backward_layer(sequences, **backward_kwargs)
        states = ()
        if self.return_state:
            states = tuple(y[1:]) + tuple(y_reversed[1:])
            y, y_reversed = y[0], y_reversed[0]
        if self.return_sequences:
            y_reversed = ops.flip(y_reversed, axis=1)
        if self.merge_mode == "concat":
            output = ops.concatenate([y, y_reversed], axis=-1)
        elif self.merge_mode == "sum":
            output = y + y_reversed
        elif self.merge_mode == "ave":
            output = (y + y_reversed) * 0.5
        elif self.merge_mode == "mul":
            output = y * y_reversed
        else:
            output = (y, y_reversed)
        if self.return_state:
            return (*output, *states) if self.merge_mode is None else (output, *states)
        return output

    def compute_output_shape(self, sequences_shape):
        output_shape = self.forward_layer.compute_output_shape(sequences_shape)
        state_shapes = ()
        if self.return_state:
            output_shape, state_shapes = output_shape[0], tuple(output_shape[1:])
        if self.merge_mode == "concat":
            output_shape = (*output_shape[:-1], output_shape[-1] * 2)
        outputs = (output_shape, output_shape) if self.merge_mode is None else (output_shape,)
        if self.return_state or self.merge_mode is None:
            return (*outputs, *state_shapes, *state_shapes)
        return output_shape

    def compute_mask(self, inputs, mask=None):
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
        output_mask = mask if self.return_sequences else None
        masks = [output_mask, output_mask] if self.merge_mode is None else [output_mask]
        if self.return_state:
            masks += [None] * (len(getattr(self.forward_layer, "state_size", [None])) * 2)
        return masks if len(masks) > 1 else masks[0]

    @property
    def states(self):
        """The forward then backward states of stateful layers, else None."""
        forward, backward = self.forward_layer.states, self.backward_layer.states
        if forward and backward:
            return (*forward, *backward)
        return None

    def reset_state(self):
        """Zero the states of both (stateful) layers."""
        if not self.stateful:
            raise AttributeError(f"Bidirectional '{self.name}': the layer is not stateful")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    def reset_states(self):
        """Alias of :meth:`reset_state`."""
        self.reset_state()

    def get_config(self):
        return {
            **super().get_config(),
            "merge_mode": self.merge_mode,
            "layer": _serialize(self.forward_layer),
            "backward_layer": _serialize(self.backward_layer),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = copy.deepcopy(config)
        config["layer"] = _deserialize(config["layer"], custom_objects)
        if config.get("backward_layer") is not None:
            config["backward_layer"] = _deserialize(config["backward_layer"], custom_objects)
        return cls(**config)


def _copy_layer(layer, prefix, go_backwards=False):
    """A new, unbuilt layer from ``layer``'s config, renamed ``<prefix><name>``, reading
    backwards when ``go_backwards`` (as Keras, which sets it rather than flipping it)."""
    config = layer.get_config()
    config["name"] = prefix + layer.name.removeprefix(prefix)
    if go_backwards:
        config["go_backwards"] = True
    return type(layer).from_config(config)
