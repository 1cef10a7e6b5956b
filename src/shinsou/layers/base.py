"""Layer: the Keras building block — weights it creates on first call, and a ``call``.

A layer builds itself the first time it sees an input (``build(input_shape)`` creates the
weights with :meth:`Layer.add_weight`), then computes ``call(inputs, training=None,
mask=None)`` with :mod:`shinsou.ops`. Called on a symbolic ``Input`` it records a graph node
instead of computing values (see :mod:`shinsou.layers.symbolic`).

Example:
    >>> import numpy as np
    >>> from shinsou import layers, ops
    >>> class Scale(layers.Layer):
    ...     def build(self, input_shape):
    ...         self.factor = self.add_weight(shape=(input_shape[-1],), initializer="ones")
    ...     def call(self, inputs):
    ...         return inputs * self.factor
    >>> layer = Scale()
    >>> layer(np.ones((2, 3))).shape, len(layer.weights)
    ((2, 3), 1)
"""

from __future__ import annotations

import functools
import inspect

from .. import backend, initializers, regularizers
from ..backend import xp
from ..tensor import Tensor, as_tensor, no_grad
from ..utils import tree
from ..utils.naming import to_snake_case, unique_name
from ..variables import Variable
from .symbolic import KerasTensor, Node, is_symbolic

_training_context = None  # the ``training`` value an outer call passes down to inner layers


def _set_training_context(value):
    global _training_context
    previous, _training_context = _training_context, value
    return previous


@functools.cache
def _call_parameters(cls) -> tuple:
    """Names of ``cls.call``'s parameters; ``**kwargs`` counts as accepting any keyword."""
    parameters = inspect.signature(cls.call).parameters.values()
    names = tuple(p.name for p in parameters if p.kind is not p.VAR_KEYWORD)
    if any(p.kind is p.VAR_KEYWORD for p in parameters):
        names += ("training", "mask")
    return names


@functools.cache
def _build_parameters(cls) -> tuple:
    return tuple(inspect.signature(cls.build).parameters)[1:]


def _shape_of(value):
    return tuple(value.shape)


def _is_number_list(value) -> bool:
    return (
        isinstance(value, (list, tuple))
        and all(isinstance(item, (int, float)) or _is_number_list(item) for item in value)
        and len(value) > 0
    )


def _convert_inputs(value):
    """Arrays and nested lists of numbers become tensors; lists of arrays are walked;
    tensors, Python numbers and other objects (slices, strings...) pass unchanged."""
    if isinstance(value, (xp.ndarray, xp.generic)):
        return as_tensor(value)
    if _is_number_list(value):
        return as_tensor(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_convert_inputs(item) for item in value)
    if isinstance(value, dict):
        return {key: _convert_inputs(item) for key, item in value.items()}
    return value


class InputSpec:
    """What a layer accepts: a rank (``ndim``, ``min_ndim``, ``max_ndim``) and fixed sizes of
    some axes (``axes={-1: 784}``). Layers check their inputs against it on every call.

    Example:
        >>> InputSpec(min_ndim=2, axes={-1: 3}).describe()
        'rank >= 2 and axis -1 of size 3'
    """

    def __init__(
        self,
        dtype=None,
        shape=None,
        ndim=None,
        max_ndim=None,
        min_ndim=None,
        axes=None,
        allow_last_axis_squeeze=False,
        name=None,
        optional=False,
    ):
        self.ndim = len(shape) if shape is not None else ndim
        self.shape = tuple(shape) if shape is not None else None
        self.min_ndim, self.max_ndim = min_ndim, max_ndim
        self.axes = dict(axes or {})

    def describe(self) -> str:
        parts = []
        if self.ndim is not None:
            parts.append(f"rank {self.ndim}")
        if self.min_ndim is not None:
            parts.append(f"rank >= {self.min_ndim}")
        if self.max_ndim is not None:
            parts.append(f"rank <= {self.max_ndim}")
        parts += [f"axis {axis} of size {size}" for axis, size in self.axes.items()]
        return " and ".join(parts)

    def accepts(self, shape) -> bool:
        rank = len(shape)
        if self.ndim is not None and rank != self.ndim:
            return False
        if self.min_ndim is not None and rank < self.min_ndim:
            return False
        if self.max_ndim is not None and rank > self.max_ndim:
            return False
        for axis, size in self.axes.items():
            if size is None:
                continue
            if not -rank <= axis < rank or shape[axis] not in (size, None):
                return False
        return True


def _holds_a_layer(value) -> bool:
    """Whether ``value`` is a layer or a list, tuple or dict with one among its items."""
    if isinstance(value, (list, tuple)):
        return any(isinstance(item, Layer) for item in value)
    if isinstance(value, dict):
        return any(isinstance(item, Layer) for item in value.values())
    return isinstance(value, Layer)


class Layer:
    """Base class of every layer (``keras.layers.Layer``).

    Subclasses create weights in ``build(input_shape)`` with :meth:`add_weight` and compute
    in ``call(inputs, ...)``; ``call`` may accept ``training`` and ``mask`` keywords.
    """

    # Whether a built-in layer (a class of shinsou.layers) keeps other layers in its
    # attributes. Those that do not skip the search for them: a training step asks every
    # layer for its weights and losses, and the search was a quarter of the framework's own
    # time per step (ResNet-20). Layers of other modules (users' subclasses) are searched.
    _holds_layers = False

    def __init__(
        self,
        *,
        activity_regularizer=None,
        trainable=True,
        dtype=None,
        autocast=True,
        name=None,
        **kwargs,
    ):
        input_dim = kwargs.pop("input_dim", None)
        input_shape = kwargs.pop("input_shape", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        batch_size = kwargs.pop("batch_size", None)
        kwargs.pop("input_length", None)  # legacy Embedding argument, implied by the input
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}: unrecognized keyword arguments "
                f"{sorted(kwargs)}; see the layer's documentation for valid ones"
            )
        if input_dim is not None and input_shape is None:
            input_shape = (input_dim,)
        if batch_input_shape is None and input_shape is not None:
            batch_input_shape = (batch_size, *tuple(input_shape))
        self._batch_input_shape = (
            tuple(batch_input_shape) if batch_input_shape is not None else None
        )
        self.name = name or unique_name(to_snake_case(type(self).__name__))
        self._dtype = _dtype_name(dtype)
        self._trainable = bool(trainable)
        self.activity_regularizer = regularizers.get(activity_regularizer)
        self.built = False
        self.supports_masking = False
        self._own_weights: list[Variable] = []
        self._call_losses: list[Tensor] = []
        self._inbound_nodes: list[Node] = []
        self._build_shapes = None
        self.input_spec = None

    # -- identity ---------------------------------------------------------------------
    @property
    def dtype(self) -> str:
        """The dtype of the layer's weights and computations (``"float32"``)."""
        return self._dtype

    @property
    def compute_dtype(self) -> str:
        return self._dtype

    @property
    def variable_dtype(self) -> str:
        return self._dtype

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"

    # -- weights ----------------------------------------------------------------------
    def add_weight(
        self,
        shape=None,
        initializer=None,
        dtype=None,
        trainable=True,
        autocast=True,
        regularizer=None,
        constraint=None,
        aggregation="none",
        name=None,
    ) -> Variable:
        """Create a weight owned by this layer (Keras's argument names and defaults).

        Example:
            >>> layer = Layer(name="demo")
            >>> w = layer.add_weight(shape=(2, 3), initializer="zeros", name="kernel")
            >>> w.path, w.shape
            ('demo/kernel', (2, 3))
        """
        shape = () if shape is None else tuple(int(s) for s in shape)
        dtype = backend.standardize_dtype(dtype or self._dtype)
        if initializer is None:
            initializer = "glorot_uniform" if backend.is_floating(dtype) else "zeros"
        variable = Variable(
            initializers.get(initializer),
            shape=shape,
            dtype=dtype,
            trainable=trainable,
            name=name or f"variable_{len(self._own_weights)}",
        )
        variable.trainable = trainable and self._trainable
        variable.path = f"{self.name}/{variable.name}"
        variable.regularizer = regularizers.get(regularizer)
        variable.constraint = constraint
        variable._layer = self
        variable._declared_trainable = bool(trainable)
        self._own_weights.append(variable)
        return variable

    def __setattr__(self, name, value):
        # A layer given another one later (``dense.helper = Dense(2)``) holds layers after
        # all: the search for them (see _sublayers) must not be skipped.
        if not self._holds_layers and _holds_a_layer(value):
            object.__setattr__(self, "_holds_layers", True)
        object.__setattr__(self, name, value)

    def _sublayers(self) -> list[Layer]:
        """Layers held in attributes (directly or in lists, tuples, dicts), in order."""
        if not self._holds_layers and type(self).__module__.startswith("shinsou.layers."):
            return []  # a built-in layer without inner layers: nothing to search for
        return self._scan_sublayers()

    def _scan_sublayers(self) -> list[Layer]:
        found, seen = [], set()
        for value in self.__dict__.values():
            candidates = tree.flatten(value) if isinstance(value, (list, tuple, dict)) else [value]
            for candidate in candidates:
                if isinstance(candidate, Layer) and id(candidate) not in seen:
                    seen.add(id(candidate))
                    found.append(candidate)
        return found

    @property
    def layers(self) -> list[Layer]:
        return self._sublayers()

    def _all_weights(self, include_sublayers=True):
        result, seen = [], set()
        own_first = [w for w in self._own_weights if w._declared_trainable]
        own_first += [w for w in self._own_weights if not w._declared_trainable]
        groups = [own_first]
        if include_sublayers:
            groups += [layer.weights for layer in self._sublayers()]
        for group in groups:
            for weight in group:
                if id(weight) not in seen:
                    seen.add(id(weight))
                    result.append(weight)
        return result

    @property
    def weights(self) -> list[Variable]:
        """All weights: this layer's own (trainable first), then its sublayers'."""
        return self._all_weights()

    @property
    def variables(self) -> list[Variable]:
        return self.weights

    @property
    def trainable_weights(self) -> list[Variable]:
        if not self.trainable:
            return []
        return [w for w in self.weights if w.trainable]

    @property
    def trainable_variables(self) -> list[Variable]:
        return self.trainable_weights

    @property
    def non_trainable_weights(self) -> list[Variable]:
        if not self.trainable:
            return self.weights
        return [w for w in self.weights if not w.trainable]

    @property
    def non_trainable_variables(self) -> list[Variable]:
        return self.non_trainable_weights

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """Freeze (False) or unfreeze this layer and every layer inside it."""
        value = bool(value)
        self._trainable = value
        for weight in self._own_weights:
            if weight._declared_trainable:
                weight.trainable = value
        for layer in self._sublayers():
            layer.trainable = value

    def get_weights(self) -> list:
        """Copies of the weights' values as NumPy arrays, in :attr:`weights` order."""
        return [w.numpy() for w in self.weights]

    def set_weights(self, weights) -> None:
        """Overwrite the weights from a list of arrays (the order of :meth:`get_weights`)."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"Layer '{self.name}' expects {len(own)} weights, but the list given has "
                f"{len(weights)}" + ("" if self.built else " (the layer is not built yet)")
            )
        for variable, value in zip(own, weights):
            value = xp.asarray(value.data if isinstance(value, Tensor) else value)
            if value.shape != variable.shape:
                raise ValueError(
                    f"Layer '{self.name}' weight '{variable.path}' has shape {variable.shape}; "
                    f"the value given has shape {value.shape}"
                )
            variable.assign(value)

    def count_params(self) -> int:
        """Number of scalars in all weights (the layer must be built)."""
        if not self.built:
            raise ValueError(
                f"count_params: layer '{self.name}' is not built yet; call it on an input or "
                "call build(input_shape) first"
            )
        return int(sum(w.size for w in self.weights))

    # -- losses -----------------------------------------------------------------------
    def add_loss(self, loss) -> None:
        """Add a scalar tensor to the training loss (from inside ``call``)."""
        self._call_losses.append(as_tensor(loss))

    @property
    def losses(self) -> list[Tensor]:
        """Losses added during the last call, plus weight regularization penalties."""
        result = list(self._call_losses)
        for weight in self._own_weights:
            if weight.regularizer is not None and weight.trainable:
                result.append(weight.regularizer(weight))
        for layer in self._sublayers():
            result.extend(layer.losses)
        return result

    def _clear_losses(self):
        self._call_losses = []
        for layer in self._sublayers():
            layer._clear_losses()

    # -- building ---------------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights for inputs of ``input_shape``; the default creates none."""
        self.built = True

    def _maybe_build(self, args, kwargs) -> None:
        if self.built:
            return
        parameters = _build_parameters(type(self))
        first_shape = tree.map_structure(_shape_of, args[0]) if args else None
        if len(parameters) <= 1:
            self.build(first_shape)
        else:
            # build(query_shape, value_shape, key_shape=None): map "<arg>_shape" to call args.
            call_names = _call_parameters(type(self))[1:]
            bound = dict(zip(call_names, args))
            bound.update(kwargs)
            shapes = {}
            for parameter in parameters:
                argument = bound.get(parameter.removesuffix("_shape"))
                if argument is not None and not isinstance(argument, bool):
                    shapes[parameter] = tree.map_structure(_shape_of, argument)
            self.build(**shapes)
            self._build_shapes = shapes
            self.built = True
            return
        self._build_shapes = first_shape
        self.built = True

    def build_from_config(self, config) -> None:
        """Build from :meth:`get_build_config`'s dict (as stored in a ``.keras`` file)."""
        if not config or self.built:
            return
        if "shapes_dict" in config:  # build(query_shape, value_shape, ...) in Keras's form
            shapes = {name: _as_shape(shape) for name, shape in config["shapes_dict"].items()}
            self.build(**shapes)
            self._build_shapes = shapes
        elif config.get("input_shape") is not None:
            shape = _as_shape(config["input_shape"])
            self.build(shape)
            self._build_shapes = shape
        self.built = True

    def get_build_config(self) -> dict | None:
        if self._build_shapes is None:
            return None
        if isinstance(self._build_shapes, dict):
            return {"shapes_dict": self._build_shapes}
        return {"input_shape": self._build_shapes}

    # -- calling ----------------------------------------------------------------------
    def call(self, inputs, *args, **kwargs):
        """The computation; subclasses override it."""
        return inputs

    def _check_input_spec(self, inputs) -> None:
        specs = self.input_spec
        if specs is None:
            return
        single = isinstance(specs, InputSpec) and isinstance(inputs, Tensor)
        if single and specs.accepts(inputs.shape):  # the common case, no structure to walk
            return
        specs = specs if isinstance(specs, (list, tuple)) else [specs]
        values = tree.flatten(inputs)
        for position, (spec, value) in enumerate(zip(specs, values)):
            shape = tuple(getattr(value, "shape", ()))
            if spec is not None and not spec.accepts(shape):
                which = f"input {position} " if len(specs) > 1 else "its input "
                raise ValueError(
                    f"Layer '{self.name}' ({type(self).__name__}) cannot take {which}of shape "
                    f"{shape}: it expects {spec.describe()}"
                )

    def __call__(self, *args, **kwargs):
        if not _is_plain_tensor_call(args, kwargs):  # a fast path for the usual layer(x)
            if is_symbolic((args, kwargs)):
                return self._symbolic_call(args, kwargs)
            args = tuple(_convert_inputs(arg) for arg in args)
        parameters = _call_parameters(type(self))
        if not self.built:
            self._maybe_build(args, kwargs)
        if self.input_spec is not None and args:
            self._check_input_spec(args[0])

        training = kwargs.get("training")
        if "training" in parameters:
            if training is None:
                kwargs["training"] = training = _training_context
        elif "training" in kwargs:
            del kwargs["training"]  # Keras passes it on to inner layers only
        if training is None:
            training = _training_context
        propagates = self.supports_masking or type(self).compute_mask is not Layer.compute_mask
        mask = kwargs.get("mask")
        if mask is None and args and (propagates or "mask" in parameters):
            mask = _collect_masks(args[0])
        if "mask" in parameters:
            if mask is not None:
                kwargs["mask"] = mask
        elif "mask" in kwargs:
            del kwargs["mask"]  # not for call(), but it still decides the output mask
        if self._call_losses:
            self._call_losses = []
        if training is _training_context:
            outputs = self.call(*args, **kwargs)
        else:
            previous = _set_training_context(training)
            try:
                outputs = self.call(*args, **kwargs)
            finally:
                _set_training_context(previous)

        if propagates:
            _attach_masks(outputs, self.compute_mask(args[0] if args else None, mask))
        if self.activity_regularizer is not None:
            for output in tree.flatten(outputs):
                self.add_loss(self.activity_regularizer(output))
        return outputs

    def compute_mask(self, inputs, mask=None):
        """The mask of the outputs: passed through when the layer supports masking."""
        return mask if self.supports_masking else None

    # -- shapes -----------------------------------------------------------------------
    def compute_output_shape(self, input_shape):
        """Output shape for an input shape (None = unknown size); override for speed."""
        raise NotImplementedError

    def compute_output_spec(self, *args, **kwargs):
        """Symbolic outputs for symbolic inputs: from compute_output_shape when a layer
        defines it, else by running ``call`` on small zero inputs of two different sizes
        (axes whose sizes differ between the two runs are unknown)."""
        if type(self).compute_output_shape is not Layer.compute_output_shape:
            first = args[0]
            shapes = self.compute_output_shape(tree.map_structure(lambda t: t.shape, first))
            return _specs_from_shapes(shapes, self._output_dtype(first))
        return _merge_runs(*(_run_on_zeros(self, args, kwargs, size) for size in (2, 3)))

    def _output_dtype(self, inputs):
        return self._dtype

    def _symbolic_call(self, args, kwargs):
        if args:
            self._check_input_spec(args[0])
        self._maybe_build_symbolic(args, kwargs)
        if args:
            self._check_input_spec(args[0])
        outputs = self.compute_output_spec(*args, **kwargs)
        Node(self, args, kwargs, outputs)
        return outputs

    def _maybe_build_symbolic(self, args, kwargs):
        if not self.built:
            self._maybe_build(args, kwargs)

    # -- the functional graph -----------------------------------------------------------
    def _node_attribute(self, attribute):
        if not self._inbound_nodes:
            raise AttributeError(
                f"Layer '{self.name}' has never been called on a symbolic input, so it has no "
                f"{attribute}"
            )
        node = self._inbound_nodes[0]
        if attribute == "input":
            return node.call_args[0] if node.call_args else node.input_tensors[0]
        return node.outputs

    @property
    def input(self):
        return self._node_attribute("input")

    @property
    def output(self):
        return self._node_attribute("output")

    @property
    def output_shape(self):
        return tree.map_structure(lambda t: t.shape, self._node_attribute("output"))

    # -- configuration ----------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments that recreate this layer (without weights)."""
        config = {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": {
                "module": "keras",
                "class_name": "DTypePolicy",
                "config": {"name": self._dtype},
                "registered_name": None,
            },
        }
        return config

    @classmethod
    def from_config(cls, config):
        """Recreate a layer from :meth:`get_config`'s dict."""
        return cls(**config)


def _as_shape(shape):
    """A shape from a config (lists from JSON) as a tuple, or a list of tuples."""
    if shape and isinstance(shape[0], (list, tuple)):
        return [tuple(s) for s in shape]
    return tuple(shape)


def _dtype_name(dtype) -> str:
    if dtype is None:
        return backend.floatx()
    if isinstance(dtype, dict):  # a serialized DTypePolicy
        dtype = dtype.get("config", {}).get("name", backend.floatx())
    if hasattr(dtype, "name") and not isinstance(dtype, str):
        dtype = dtype.name
    if isinstance(dtype, str) and dtype.startswith("mixed_"):
        raise ValueError(f"dtype policy {dtype!r} is not supported; use 'float32'")
    return backend.standardize_dtype(dtype).name


def _is_plain_tensor_call(args, kwargs) -> bool:
    """One tensor argument and only simple keyword values (training=..., mask=None)."""
    if len(args) != 1 or not isinstance(args[0], Tensor):
        return False
    return all(value is None or isinstance(value, (bool, int, float)) for value in kwargs.values())


def _collect_masks(inputs):
    if isinstance(inputs, Tensor):
        return inputs._keras_mask
    masks = [getattr(leaf, "_keras_mask", None) for leaf in tree.flatten(inputs)]
    if all(mask is None for mask in masks):
        return None
    return masks[0] if not tree.is_nested(inputs) else tree.pack_sequence_as(inputs, masks)


def _attach_masks(outputs, mask):
    if mask is None:
        return
    flat_outputs = tree.flatten(outputs)
    flat_masks = tree.flatten(mask) if tree.is_nested(mask) else [mask] * len(flat_outputs)
    for output, output_mask in zip(flat_outputs, flat_masks):
        if isinstance(output, Tensor):
            output._keras_mask = output_mask


def _is_shape(value) -> bool:
    return isinstance(value, (tuple, list)) and all(s is None or isinstance(s, int) for s in value)


def _specs_from_shapes(shapes, dtype):
    """KerasTensors for a shape, or for a list/tuple/dict of shapes."""
    if _is_shape(shapes):
        return KerasTensor(shapes, dtype)
    if isinstance(shapes, dict):
        return {key: _specs_from_shapes(value, dtype) for key, value in shapes.items()}
    return type(shapes)(_specs_from_shapes(value, dtype) for value in shapes)


def _run_on_zeros(layer, args, kwargs, size):
    def zeros_for(leaf):
        if not isinstance(leaf, KerasTensor):
            return leaf
        shape = tuple(size if s is None else s for s in leaf.shape)
        return Tensor._wrap(xp.zeros(shape, dtype=leaf.dtype))

    concrete_args, concrete_kwargs = tree.map_structure(zeros_for, (args, kwargs))
    previous = _set_training_context(False)
    try:
        with no_grad():
            return layer.call(*concrete_args, **_call_kwargs(layer, concrete_kwargs))
    finally:
        _set_training_context(previous)


def _call_kwargs(layer, kwargs):
    parameters = _call_parameters(type(layer))
    kwargs = dict(kwargs)
    if "training" in parameters and kwargs.get("training") is None:
        kwargs["training"] = False
    return kwargs


def _merge_runs(first, second):
    flat_first, flat_second = tree.flatten(first), tree.flatten(second)
    merged = []
    for a, b in zip(flat_first, flat_second):
        if isinstance(a, Tensor):
            shape = tuple(x if x == y else None for x, y in zip(a.shape, b.shape))
            merged.append(KerasTensor(shape, a.dtype))
        else:
            merged.append(a)
    return tree.pack_sequence_as(first, merged)
