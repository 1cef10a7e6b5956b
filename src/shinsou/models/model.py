"""Model: a layer that trains. ``Model(inputs, outputs)`` builds a functional model;
subclassing ``Model`` with ``__init__`` and ``call`` builds any other.

Example:
    >>> import numpy as np
    >>> import shinsou
    >>> from shinsou import layers
    >>> class TwoLayers(shinsou.Model):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = layers.Dense(4, activation="relu")
    ...         self.out = layers.Dense(1)
    ...     def call(self, x):
    ...         return self.out(self.hidden(x))
    >>> model = TwoLayers()
    >>> model(np.ones((2, 3))).shape, len(model.weights)
    ((2, 1), 4)
"""

from __future__ import annotations

import numpy as np

from .. import tensor as tensor_module
from ..layers import base as layer_base
from ..layers.base import Layer
from ..layers.symbolic import KerasTensor, is_symbolic
from ..utils import tree
from .trainer import Trainer


def _inputs_require_grad(args, kwargs) -> bool:
    """Whether any argument is symbolic or a tensor that requires a gradient."""
    if len(args) == 1 and all(
        value is None or isinstance(value, bool) for value in kwargs.values()
    ):
        if isinstance(args[0], tensor_module.Tensor):
            return args[0].requires_grad
        if isinstance(args[0], np.ndarray):
            return False
    leaves = tree.flatten((args, kwargs))
    return is_symbolic(leaves) or any(
        isinstance(leaf, tensor_module.Tensor) and leaf.requires_grad for leaf in leaves
    )


def _functional_arguments(args, kwargs) -> bool:
    """Whether constructor arguments are ``(inputs, outputs)``, given by position or name."""
    return (
        len(args) == 2
        or (len(args) == 1 and "outputs" in kwargs)
        or ("inputs" in kwargs and "outputs" in kwargs)
    )


def _make_functional(cls):
    """Put ``Functional`` in place of ``Model`` among the bases of ``cls`` and its parent
    classes, so a subclass of Model built from ``(inputs, outputs)`` becomes a functional
    model that keeps its own methods (``train_step``, ...) — what Keras does."""
    from .functional import Functional

    if cls is Model:
        return Functional
    if cls is object or issubclass(cls, Functional) or not issubclass(cls, Model):
        return cls
    cls.__bases__ = tuple(_make_functional(base) for base in cls.__bases__)
    return cls


class Model(Trainer, Layer):
    """``keras.Model``: functional (``Model(inputs, outputs)``) or subclassed.

    A subclass constructed with ``(inputs, outputs)`` is functional too (its class gains
    ``Functional`` as a base, as in Keras), keeping its overridden methods.

    Example:
        >>> import shinsou
        >>> class Custom(shinsou.Model):
        ...     def train_step(self, data):
        ...         return super().train_step(data)
        >>> inputs = shinsou.Input((3,))
        >>> model = Custom(inputs, shinsou.layers.Dense(2)(inputs))
        >>> type(model).__name__, isinstance(model, shinsou.models.Functional), len(model.layers)
        ('Custom', True, 2)
    """

    def __new__(cls, *args, **kwargs):
        if cls is Model and _functional_arguments(args, kwargs):
            from .functional import Functional

            return Functional.__new__(Functional)
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        if _functional_arguments(args, kwargs):
            from .functional import Functional

            _make_functional(type(self))
            Functional.__init__(self, *args, **kwargs)
            return
        if args:
            raise TypeError(
                f"{type(self).__name__}: Model() takes (inputs, outputs) for a functional model, "
                f"or keyword arguments (name=, trainable=) for a subclass; received "
                f"{len(args)} positional argument(s)"
            )
        name = kwargs.pop("name", None)
        trainable = kwargs.pop("trainable", True)
        Layer.__init__(self, name=name, trainable=trainable, **kwargs)
        self._init_model_state()

    def zero_grad(self, set_to_none=True) -> None:
        """Clear the gradients of all weights, before ``loss.backward()`` in a custom
        ``train_step`` (as ``torch.nn.Module.zero_grad`` does with Keras's torch backend).

        Example:
            >>> import numpy as np, shinsou
            >>> model = shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1)])
            >>> model(np.ones((1, 2)), training=True).sum().backward()
            >>> model.zero_grad()
            >>> [w.grad for w in model.trainable_weights]
            [None, None]
        """
        for weight in self.weights:
            if set_to_none or weight.grad is None:
                weight.grad = None
            else:
                weight.grad[...] = 0

    def _init_model_state(self):
        Trainer.__init__(self)

    def __call__(self, *args, **kwargs):
        """Run the model; on data it records no graph unless asked to (see below).

        A graph is recorded when called with ``training=True``, inside a ``training=True``
        call, inside :class:`shinsou.enable_grad` (``fit`` wraps ``train_step`` in it), or on
        inputs that require gradients (a generator's output fed to a discriminator, say).
        Otherwise ``model(x)`` is inference: no graph, no saved activations.
        """
        if (
            not tensor_module.is_grad_enabled()
            or kwargs.get("training") is True
            or layer_base._training_context is True
            or tensor_module.is_recording_models()
            or _inputs_require_grad(args, kwargs)
        ):
            return Layer.__call__(self, *args, **kwargs)
        with tensor_module.no_grad():
            return Layer.__call__(self, *args, **kwargs)

    def get_layer(self, name=None, index=None) -> Layer:
        """A layer of this model by name or by index (Keras's ``get_layer``).

        Example:
            >>> import shinsou
            >>> model = shinsou.Sequential([shinsou.layers.Dense(2, name="out")])
            >>> model.get_layer("out").name
            'out'
        """
        if index is not None and name is not None:
            raise ValueError("get_layer: give a name or an index, not both")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(
                    f"get_layer: index {index} is out of range; model '{self.name}' has "
                    f"{len(layers)} layers"
                )
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"get_layer: no layer named {name!r} in model '{self.name}'; its layers are "
            f"{[layer.name for layer in layers]}"
        )

    def summary(
        self,
        line_length=None,
        positions=None,
        print_fn=None,
        expand_nested=False,
        show_trainable=False,
        layer_range=None,
    ):
        """Print the layers with their output shapes and parameter counts, then the totals."""
        from .summary import print_summary

        print_summary(
            self, line_length=line_length, print_fn=print_fn, show_trainable=show_trainable
        )

    def save(self, filepath, overwrite=True, **kwargs):
        """Save architecture, weights and compile settings to a ``.keras`` file."""
        from ..saving import save_model

        save_model(self, filepath, overwrite=overwrite, **kwargs)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights to a ``.weights.h5`` file."""
        from ..saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, **kwargs):
        """Load weights saved by :meth:`save_weights` (or a ``.keras`` file)."""
        from ..saving import load_weights

        load_weights(self, filepath, skip_mismatch=skip_mismatch, **kwargs)

    @staticmethod
    def _output_specs_for(inputs, outputs):
        """Fresh symbolic outputs of a built model called on symbolic ``inputs``."""
        batch = next((t.shape[0] for t in tree.flatten(inputs) if t.shape), None)
        return tree.map_structure(lambda t: KerasTensor((batch, *t.shape[1:]), t.dtype), outputs)

    def get_config(self):
        return {"name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Rebuild a model (functional, Sequential or subclassed) from its config."""
        from ..saving.serialization import model_from_config

        return model_from_config(cls, config, custom_objects)

    def get_compile_config(self):
        from ..saving.serialization import get_compile_config

        return get_compile_config(self)

    def compile_from_config(self, config):
        from ..saving.serialization import compile_from_config

        compile_from_config(self, config)
