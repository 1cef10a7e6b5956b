"""Model configs in Keras 3's format: functional graphs, Sequential stacks, compile settings.

A functional model's config lists its layers (each with the calls it takes part in, as
``inbound_nodes`` whose symbolic tensors are ``__keras_tensor__`` references
``[layer_name, node_index, tensor_index]``) and the references of its inputs and outputs.
Rebuilding creates the layers from their configs, then replays the calls on new ``Input``s:
shared layers, several inputs/outputs and nested models come back as they were.

Example:
    >>> import shinsou
    >>> from shinsou import layers
    >>> inputs = shinsou.Input((4,), name="x")
    >>> model = shinsou.Model(inputs, layers.Dense(2, name="out")(inputs), name="net")
    >>> config = functional_config(model)
    >>> [layer["name"] for layer in config["layers"]], config["output_layers"]
    (['x', 'out'], ['out', 0, 0])
    >>> clone = functional_from_config(config)
    >>> clone.name, [layer.name for layer in clone.layers]
    ('net', ['x', 'out'])
"""

from __future__ import annotations

import inspect
import warnings

from ..layers.base import Layer
from ..layers.symbolic import KerasTensor
from ..utils import tree
from .object_config import deserialize_keras_object, serialize_keras_object

__all__ = [
    "compile_from_config",
    "deserialize_keras_object",
    "functional_config",
    "functional_from_config",
    "get_compile_config",
    "model_from_config",
    "sequential_config",
    "sequential_from_config",
    "serialize_keras_object",
]


# -- functional models ---------------------------------------------------------------------
def functional_config(model) -> dict:
    """The config of a functional model: ``name``, ``trainable``, ``layers`` (each with its
    ``inbound_nodes``), ``input_layers`` and ``output_layers`` — Keras 3's layout.

    Example:
        >>> import shinsou
        >>> x = shinsou.Input((2,), name="x")
        >>> config = functional_config(shinsou.Model(x, shinsou.layers.Dense(1, name="y")(x)))
        >>> config["layers"][1]["inbound_nodes"][0]["args"][0]["config"]["keras_history"]
        ['x', 0, 0]
    """
    own_nodes = {id(node) for node in model._nodes}
    names = [layer.name for layer in model.layers]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(
            f"model '{model.name}' has several layers named {repeated}: calls are recorded by "
            "layer name, so a model's layer names must be unique to save its config"
        )
    layer_configs = []
    for layer in model.layers:
        entry = serialize_keras_object(layer)
        entry["name"] = layer.name
        entry["inbound_nodes"] = [
            _serialize_node(node, own_nodes)
            for node in layer._inbound_nodes
            if id(node) in own_nodes and node.input_tensors
        ]
        layer_configs.append(entry)
    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layer_configs,
        "input_layers": _tensor_references(model._inputs_struct, own_nodes),
        "output_layers": _tensor_references(model._outputs_struct, own_nodes),
    }


def _own_index(operation, node_index, own_nodes) -> int:
    """The index of a call among the calls of ``operation`` that belong to this model."""
    earlier = operation._inbound_nodes[:node_index]
    return sum(1 for node in earlier if id(node) in own_nodes)


def _serialize_node(node, own_nodes) -> dict:
    def reference(value):
        if not isinstance(value, KerasTensor):
            return value
        operation, node_index, tensor_index = value._keras_history
        history = [operation.name, _own_index(operation, node_index, own_nodes), tensor_index]
        config = {"shape": value.shape, "dtype": value.dtype, "keras_history": history}
        return {"class_name": "__keras_tensor__", "config": config}

    args, kwargs = tree.map_structure(reference, (list(node.call_args), dict(node.call_kwargs)))
    return {"args": serialize_keras_object(args), "kwargs": serialize_keras_object(kwargs)}


def _tensor_references(structure, own_nodes):
    from ..models.functional import Functional

    def reference(tensor):
        operation, node_index, tensor_index = tensor._keras_history
        index = _own_index(operation, node_index, own_nodes)
        # Keras numbers a nested functional model's calls from 1 here (a legacy of
        # tf.keras, where such a model had a call of its own at index 0).
        if isinstance(operation, Functional):
            index += 1
        return [operation.name, index, tensor_index]

    return tree.map_structure(reference, structure)


def functional_from_config(config, custom_objects=None, cls=None):
    """Rebuild a functional model from :func:`functional_config`'s dict (or Keras's).

    ``cls`` is the model class to create (``Functional`` by default).

    Example:
        >>> import shinsou
        >>> x = shinsou.Input((2,))
        >>> model = shinsou.Model(x, shinsou.layers.Dense(3)(x))
        >>> functional_from_config(functional_config(model)).output_shape
        (None, 3)
    """
    from ..models.functional import Functional

    config = dict(config)
    try:
        layer_entries = config.pop("layers")
        input_references = config.pop("input_layers")
        output_references = config.pop("output_layers")
    except KeyError as error:
        raise ValueError(
            f"functional_from_config: the config lacks the key {error}; a functional model's "
            "config has 'layers', 'input_layers' and 'output_layers'"
        ) from None
    name = config.pop("name", None)
    trainable = config.pop("trainable", True)

    created, pending = {}, []
    for entry in layer_entries:
        layer = deserialize_keras_object(entry, custom_objects)
        if not isinstance(layer, Layer):
            raise TypeError(
                f"functional_from_config: entry '{entry.get('name')}' rebuilt a "
                f"{type(layer).__name__}, not a layer"
            )
        created[entry["name"]] = layer
        pending.append((layer, list(entry.get("inbound_nodes", []))))
    _replay_calls(pending, created, custom_objects)

    inputs = _tensors_for(input_references, created)
    outputs = _tensors_for(output_references, created)
    return (cls or Functional)(
        inputs=inputs, outputs=outputs, name=name, trainable=trainable, **config
    )


class _NotYetCreatedError(Exception):
    """A call needs the output of a call that has not been replayed yet."""


def _replay_calls(pending, created, custom_objects):
    """Call each layer on its recorded arguments, in an order where every argument exists
    (a layer shared at several depths needs several passes, as in Keras)."""
    while any(calls for _, calls in pending):
        progressed = False
        for layer, calls in pending:
            while calls:
                try:
                    args, kwargs = _node_arguments(calls[0], created, custom_objects)
                except _NotYetCreatedError:
                    break
                layer(*_fix_getitem(layer, args), **kwargs)
                calls.pop(0)
                progressed = True
        if not progressed:
            stuck = [layer.name for layer, calls in pending if calls]
            raise ValueError(
                f"functional_from_config: the calls of layers {stuck} need outputs that no "
                "call in the config produces; the config is inconsistent"
            )


def _node_arguments(node_data, created, custom_objects):
    if isinstance(node_data, list):  # tf.keras layout: [[layer, node, tensor, kwargs], ...]
        tensors = [_tensor_at(created, *entry[:3]) for entry in node_data]
        kwargs = node_data[0][3] if node_data and len(node_data[0]) > 3 else {}
        return [tensors[0] if len(tensors) == 1 else tensors], dict(kwargs)

    def revive(value):
        if isinstance(value, list):
            return [revive(item) for item in value]
        if not isinstance(value, dict):
            return value  # plain values are passed as they were
        if value.get("class_name") == "__keras_tensor__":
            return _tensor_at(created, *value["config"]["keras_history"])
        if {"class_name", "config"} <= value.keys():
            return deserialize_keras_object(value, custom_objects)
        return {key: revive(item) for key, item in value.items()}

    return revive(node_data.get("args", [])), revive(node_data.get("kwargs", {}))


def _tensor_at(created, layer_name, node_index, tensor_index):
    layer = created.get(layer_name)
    if layer is None:
        raise ValueError(f"functional_from_config: a call refers to unknown layer '{layer_name}'")
    if node_index >= len(layer._inbound_nodes):
        raise _NotYetCreatedError
    return layer._inbound_nodes[node_index].output_tensors[tensor_index]


def _fix_getitem(layer, args):
    """JSON turns the index tuple of ``x[:, 0]`` into a list, which NumPy would read as a
    fancy index: give ``getitem`` its tuple back."""
    if (
        getattr(layer, "op_name", None) == "getitem"
        and len(args) == 2
        and isinstance(args[1], list)
    ):
        return [args[0], tuple(args[1])]
    return args


def _tensors_for(references, created):
    from ..models.functional import Functional

    def resolve(reference):
        if _is_reference(reference):
            layer_name, node_index, tensor_index = reference
            layer = created.get(layer_name)
            if layer is None:
                raise ValueError(
                    f"functional_from_config: the model's inputs or outputs refer to unknown "
                    f"layer '{layer_name}'"
                )
            if isinstance(layer, Functional):
                node_index -= 1  # see _tensor_references
            if not 0 <= node_index < len(layer._inbound_nodes):
                raise ValueError(
                    f"functional_from_config: the model's inputs or outputs refer to call "
                    f"{node_index} of layer '{layer_name}', which has "
                    f"{len(layer._inbound_nodes)} calls"
                )
            return layer._inbound_nodes[node_index].output_tensors[tensor_index]
        if isinstance(reference, dict):
            return {key: resolve(value) for key, value in reference.items()}
        return [resolve(value) for value in reference]

    tensors = resolve(references)
    return tensors[0] if isinstance(tensors, list) and len(tensors) == 1 else tensors


def _is_reference(value) -> bool:
    return (
        isinstance(value, (list, tuple))
        and len(value) == 3
        and isinstance(value[0], str)
        and all(isinstance(index, int) for index in value[1:])
    )


# -- Sequential ----------------------------------------------------------------------------
def sequential_config(model) -> dict:
    """The config of a Sequential model: ``name``, ``trainable``, ``dtype``, ``layers``
    (led by the InputLayer's config once the input is known) and ``build_input_shape``.

    Example:
        >>> import shinsou
        >>> model = shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1)])
        >>> [layer["class_name"] for layer in sequential_config(model)["layers"]]
        ['InputLayer', 'Dense']
    """
    base = Layer.get_config(model)
    config = {"name": base["name"], "trainable": base["trainable"], "dtype": base["dtype"]}
    layers = [model._input_layer] if model._input_layer is not None else []
    config["layers"] = [serialize_keras_object(layer) for layer in layers + model.layers]
    if model.built:
        config["build_input_shape"] = model.input_shape
    return config


def sequential_from_config(config, custom_objects=None, cls=None):
    """Rebuild a Sequential model from :func:`sequential_config`'s dict (or a bare list of
    layer configs, tf.keras's older form).

    Example:
        >>> import shinsou
        >>> model = shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1)])
        >>> sequential_from_config(sequential_config(model)).count_params()
        3
    """
    from ..models.sequential import Sequential

    if isinstance(config, list):
        config = {"layers": config}
    layers = [deserialize_keras_object(entry, custom_objects) for entry in config["layers"]]
    model = (cls or Sequential)(
        layers=layers, trainable=config.get("trainable", True), name=config.get("name")
    )
    shape = config.get("build_input_shape")
    if not model.built and isinstance(shape, (list, tuple)) and shape:
        model.build(tuple(shape))
    return model


# -- any model -----------------------------------------------------------------------------
def model_from_config(cls, config, custom_objects=None):
    """``cls.from_config(config)`` for a model class, as Keras's ``Model.from_config``:
    a Sequential config rebuilds a Sequential, a functional config a functional model, any
    other config goes to the constructor (``cls(**config)``).

    Example:
        >>> import shinsou
        >>> x = shinsou.Input((2,))
        >>> config = shinsou.Model(x, shinsou.layers.Dense(1)(x), name="m").get_config()
        >>> model_from_config(shinsou.Model, config).name
        'm'
    """
    from ..models.functional import Functional
    from ..models.model import Model
    from ..models.sequential import Sequential

    if issubclass(cls, Sequential):
        return sequential_from_config(config, custom_objects, cls=cls)
    functional_keys = ("name", "layers", "input_layers", "output_layers")
    if all(key in config for key in functional_keys) and (
        cls is Model or issubclass(cls, Functional)
    ):
        return functional_from_config(config, custom_objects, cls=cls)
    try:
        return cls(**config)
    except TypeError as error:
        raise TypeError(
            f"cannot rebuild model {cls.__name__} from its config {sorted(config)}: {error}. "
            "A subclassed model needs get_config() to return its constructor's arguments, "
            "or a from_config() classmethod that rebuilds it."
        ) from error


# -- compile settings ----------------------------------------------------------------------
def get_compile_config(model) -> dict:
    """The settings ``compile()`` received, serialized as Keras writes them (the optimizer
    with its full config); an empty dict for a model that is not compiled, as in Keras.

    Example:
        >>> import shinsou
        >>> model = shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1)])
        >>> model.compile(optimizer="sgd", loss="mse")
        >>> config = get_compile_config(model)
        >>> config["optimizer"]["class_name"], config["loss"]
        ('SGD', 'mse')
    """
    settings = getattr(model, "_compile_config", None)
    if not getattr(model, "compiled", False) or settings is None:
        return {}
    return serialize_keras_object(
        {
            "optimizer": model.optimizer,
            "loss": settings.get("loss"),
            "loss_weights": settings.get("loss_weights"),
            "metrics": settings.get("metrics"),
            "weighted_metrics": settings.get("weighted_metrics"),
            "run_eagerly": settings.get("run_eagerly", False),
            "steps_per_execution": settings.get("steps_per_execution", 1),
            "jit_compile": settings.get("jit_compile", "auto"),
        }
    )


def compile_from_config(model, config) -> None:
    """Compile ``model`` with the settings of :func:`get_compile_config`, and create the
    optimizer's variables so a saved optimizer state can be loaded into them.

    Example:
        >>> import shinsou
        >>> model = shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1)])
        >>> compile_from_config(model, {"optimizer": "adam", "loss": "mse"})
        >>> model.compiled, len(model.optimizer.variables)
        (True, 6)
    """
    from ..models.trainer import Trainer

    if type(model).compile is not Trainer.compile:
        warnings.warn(
            f"compile() was not called as part of model loading because the model's compile() "
            f"method is custom ({type(model).__name__}.compile). Call it yourself after loading.",
            stacklevel=2,
        )
        return
    settings = deserialize_keras_object(config)
    accepted = inspect.signature(model.compile).parameters
    model.compile(**{key: value for key, value in settings.items() if key in accepted})
    build = getattr(model.optimizer, "build", None)
    if model.built and callable(build) and not getattr(model.optimizer, "built", False):
        build(model.trainable_variables)
