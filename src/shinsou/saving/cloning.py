"""``clone_model``: the same architecture with new layers and freshly initialized weights.

Example:
    >>> import numpy as np
    >>> import shinsou
    >>> model = shinsou.Sequential([shinsou.Input((3,)), shinsou.layers.Dense(2)], name="m")
    >>> clone = clone_model(model)
    >>> clone.name, clone.layers[0] is model.layers[0]
    ('m', False)
    >>> np.array_equal(clone.layers[0].kernel.numpy(), model.layers[0].kernel.numpy())
    False
"""

from __future__ import annotations

from ..layers.input_layer import Input, InputLayer
from ..layers.symbolic import KerasTensor
from ..utils import tree
from .object_config import deserialize_keras_object, serialize_keras_object
from .serialization import compile_from_config, get_compile_config


def _clone_layer(layer):
    return type(layer).from_config(layer.get_config())


def clone_model(
    model, input_tensors=None, clone_function=None, call_function=None, recursive=False
):
    """A new model with the structure of ``model``; weights are not copied (Keras semantics).

    ``clone_function(layer)`` makes each new layer (default: ``from_config(get_config())``);
    a layer used several times is cloned once. ``input_tensors`` (symbolic tensors from
    ``Input``) replace the model's inputs. ``call_function(layer, *args, **kwargs)``
    replaces each layer call when a functional model is rebuilt. With ``recursive=True``,
    nested Sequential and functional models are cloned layer by layer with the same
    functions. A compiled model's clone is compiled the same way (with a new optimizer).
    Subclassed models are cloned through their config.

    Example:
        >>> import shinsou
        >>> x = shinsou.Input((3,))
        >>> model = shinsou.Model(x, shinsou.layers.Dense(2, name="d")(x))
        >>> clone = clone_model(model, input_tensors=shinsou.Input((3,), name="new_input"))
        >>> [layer.name for layer in clone.layers]
        ['new_input', 'd']
    """
    from ..models.functional import Functional
    from ..models.sequential import Sequential

    if isinstance(model, (Sequential, Functional)):
        clone = _cloner(clone_function, call_function, recursive, {})
        if isinstance(model, Sequential):
            if call_function is not None:
                raise ValueError(
                    "clone_model: call_function is not supported for Sequential models, whose "
                    "layers are listed rather than called; use it with functional models"
                )
            new_model = _clone_sequential(model, clone, input_tensors)
        else:
            new_model = _clone_functional(model, clone, call_function, input_tensors)
        compile_config = get_compile_config(model)
        if compile_config:
            compile_from_config(new_model, compile_config)
        return new_model
    if clone_function is not None or input_tensors is not None or call_function is not None:
        raise ValueError(
            "clone_model: clone_function, call_function and input_tensors are only supported "
            f"for Sequential and functional models; received a {type(model).__name__}"
        )
    config = serialize_keras_object(model)
    return deserialize_keras_object(config, custom_objects={type(model).__name__: type(model)})


def _cloner(clone_function, call_function, recursive, cache):
    from ..models.functional import Functional
    from ..models.sequential import Sequential

    clone_function = clone_function or _clone_layer
    if not callable(clone_function):
        raise TypeError(
            f"clone_model: clone_function must be callable; received {clone_function!r}"
        )

    def clone(layer):
        if id(layer) not in cache:
            if recursive and isinstance(layer, Sequential):
                cache[id(layer)] = _clone_sequential(layer, clone, None)
            elif recursive and isinstance(layer, Functional):
                cache[id(layer)] = _clone_functional(layer, clone, call_function, None)
            else:
                cache[id(layer)] = clone_function(layer)
        return cache[id(layer)]

    return clone


def _clone_sequential(model, clone, input_tensors):
    from ..models.sequential import Sequential

    new_layers = [clone(layer) for layer in model.layers]
    reference = model._input_layer
    if input_tensors is not None:
        if isinstance(input_tensors, (list, tuple)):
            if len(input_tensors) != 1:
                raise ValueError(
                    "clone_model: a Sequential model has one input, so input_tensors must hold "
                    f"a single tensor; received {len(input_tensors)}"
                )
            input_tensors = input_tensors[0]
        if not isinstance(input_tensors, KerasTensor):
            raise ValueError(
                "clone_model: input_tensors must be a symbolic tensor from shinsou.Input; "
                f"received {type(input_tensors).__name__}"
            )
        new_layers = [input_tensors, *new_layers]  # the clone is built on that very tensor
    elif reference is not None:
        new_input = Input(
            batch_shape=reference.batch_shape, dtype=reference.dtype, name=reference.name
        )
        new_layers = [new_input, *new_layers]
    return Sequential(new_layers, trainable=model.trainable, name=model.name)


def _clone_functional(model, clone, call_function, input_tensors):
    from ..models.functional import Functional

    if input_tensors is None:
        input_tensors = tree.map_structure(
            lambda tensor: Input(batch_shape=tensor.shape, dtype=tensor.dtype, name=tensor.name),
            model._inputs_struct,
        )
    new_inputs = tree.flatten(input_tensors)
    if len(new_inputs) != len(model.inputs) or not all(
        isinstance(tensor, KerasTensor) for tensor in new_inputs
    ):
        raise ValueError(
            f"clone_model: input_tensors must be {len(model.inputs)} symbolic tensor(s) from "
            f"shinsou.Input, like the model's inputs {model.inputs}; received {input_tensors!r}"
        )
    replacements = {id(old): new for old, new in zip(model.inputs, new_inputs)}

    def replace(value):
        return replacements[id(value)] if isinstance(value, KerasTensor) else value

    for node in model._nodes:
        if isinstance(node.operation, InputLayer):
            continue
        layer = clone(node.operation)
        args, kwargs = tree.map_structure(replace, (list(node.call_args), dict(node.call_kwargs)))
        if call_function is not None:
            outputs = call_function(layer, *args, **kwargs)
        else:
            outputs = layer(*args, **kwargs)
        for old, new in zip(node.output_tensors, tree.flatten(outputs)):
            replacements[id(old)] = new
    outputs = tree.map_structure(replace, model._outputs_struct)
    return Functional(input_tensors, outputs, name=model.name, trainable=model.trainable)
