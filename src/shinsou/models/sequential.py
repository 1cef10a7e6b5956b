"""Sequential: a plain stack of layers, each feeding the next.

Example:
    >>> import numpy as np
    >>> import shinsou
    >>> from shinsou import layers
    >>> model = shinsou.Sequential([
    ...     shinsou.Input((784,)),
    ...     layers.Dense(512, activation="relu"),
    ...     layers.Dense(10, activation="softmax"),
    ... ])
    >>> model.count_params()
    407050
    >>> model(np.zeros((2, 784))).shape
    (2, 10)
"""

from __future__ import annotations

from ..layers.base import Layer
from ..layers.input_layer import InputLayer
from ..layers.symbolic import KerasTensor
from ..tensor import Tensor
from ..utils import tree
from .model import Model


class Sequential(Model):
    """``keras.Sequential``: layers applied in order; built as soon as the input shape is
    known (from an ``Input``, a first layer's ``input_shape=``, or the first call)."""

    def __init__(self, layers=None, trainable=True, name=None):
        super().__init__(name=name, trainable=trainable)
        self._layers: list[Layer] = []
        self._input_layer: InputLayer | None = None
        self._input_declared = False  # an Input, InputLayer or input_shape= was given
        self.inputs = self.outputs = None
        for layer in layers or []:
            self.add(layer, rebuild=False)
        self._build_if_input_known()

    def add(self, layer, rebuild=True) -> None:
        """Append a layer (or an ``Input`` as the first element).

        Example:
            >>> from shinsou import layers
            >>> model = Sequential()
            >>> model.add(layers.Dense(3, input_shape=(4,)))
            >>> model.built
            True
        """
        if isinstance(layer, KerasTensor):
            operation = layer._keras_history.operation if layer._keras_history else None
            if not isinstance(operation, InputLayer) or self._layers or self._input_layer:
                raise ValueError(
                    "Sequential: a symbolic tensor can only be the first element, and it must "
                    "come from shinsou.Input(shape)"
                )
            self._input_layer = operation
            self._input_declared = True
            return
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer:
                raise ValueError("Sequential: an InputLayer can only be the first layer")
            self._input_layer = layer
            self._input_declared = True
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add: expected a Layer, got {type(layer).__name__}: {layer!r}"
            )
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(
                f"Sequential: all layers must have unique names; '{layer.name}' appears twice"
            )
        self._layers.append(layer)
        if len(self._layers) == 1 and layer._batch_input_shape is not None:
            self._input_declared = True
        if rebuild:
            self._build_if_input_known()

    def pop(self, rebuild=True) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise ValueError("Sequential.pop: the model has no layers")
        layer = self._layers.pop()
        self.built = False
        if rebuild:
            self._build_if_input_known()
        return layer

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def _sublayers(self):
        return list(self._layers)

    def _known_input_shape(self):
        if self._input_layer is not None:
            return self._input_layer.batch_shape
        if self._layers and self._layers[0]._batch_input_shape is not None:
            return self._layers[0]._batch_input_shape
        return None

    def _build_if_input_known(self):
        shape = self._known_input_shape()
        if shape is not None and self._layers:
            self.build(shape)

    def build(self, input_shape=None):
        """Trace the stack on a symbolic input of ``input_shape`` (batch axis included)."""
        if input_shape is None:
            input_shape = self._known_input_shape()
        if input_shape is None:
            raise ValueError(
                f"Sequential '{self.name}' cannot be built without an input shape; start it "
                "with shinsou.Input(shape) or call it on data"
            )
        if self._input_layer is None or tuple(self._input_layer.batch_shape) != tuple(input_shape):
            dtype = self._input_layer.dtype if self._input_layer else None
            self._input_layer = InputLayer(batch_shape=tuple(input_shape), dtype=dtype)
        x = self.inputs_tensor = self._input_layer._output
        for layer in self._layers:
            try:
                x = layer(x)
            except (ValueError, TypeError) as error:
                raise type(error)(
                    f"Sequential '{self.name}': layer '{layer.name}' cannot take the output of "
                    f"the layer before it: {error}"
                ) from None
        self.inputs = [self.inputs_tensor]
        self.outputs = tree.flatten(x)
        self._output_struct = x
        self.built = True

    @property
    def input_shape(self):
        return self._input_layer.batch_shape if self._input_layer else None

    @property
    def output_shape(self):
        if not self.built:
            raise AttributeError(f"Sequential '{self.name}' is not built yet")
        return tree.map_structure(lambda t: t.shape, self._output_struct)

    def call(self, inputs, training=None, mask=None):
        # Check against a shape the user declared, not one guessed from the first batch.
        expected = self._known_input_shape() if self._input_declared else None
        if expected is not None and isinstance(inputs, Tensor):
            received = inputs.shape
            if len(received) != len(expected) or any(
                e is not None and e != r for e, r in zip(expected, received)
            ):
                raise ValueError(
                    f"Input of model '{self.name}' is incompatible: expected shape {expected}, "
                    f"received shape {received}"
                )
        x = inputs
        for layer in self._layers:
            x = layer(x)
        return x

    def _maybe_build(self, args, kwargs):
        if not self.built:
            shape = tuple(args[0].shape)
            self.build((None, *shape[1:]))  # the batch size of the first call is not fixed

    def compute_output_spec(self, *args, **kwargs):
        return self._output_specs_for(args[0], self._output_struct)

    def get_config(self):
        from ..saving.serialization import sequential_config

        return sequential_config(self)
