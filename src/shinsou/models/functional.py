"""Functional models: a graph of layer calls from symbolic inputs to outputs, replayed on data.

Example:
    >>> import numpy as np
    >>> import shinsou
    >>> from shinsou import layers
    >>> inputs = shinsou.Input((4,))
    >>> hidden = layers.Dense(8, activation="relu")(inputs)
    >>> outputs = layers.Dense(2)(layers.Add()([hidden, hidden]))
    >>> model = shinsou.Model(inputs, outputs)
    >>> model(np.ones((3, 4))).shape
    (3, 2)
"""

from __future__ import annotations

from .. import activations
from ..layers.activation import Activation, ReLU
from ..layers.base import Layer, _convert_inputs
from ..layers.input_layer import InputLayer
from ..layers.merging import Add
from ..layers.normalization import BatchNormalization
from ..layers.symbolic import KerasTensor
from ..tensor import Tensor
from ..utils import tree
from .model import Model


def _map_graph(outputs):
    """Nodes and layers ordered as Keras orders them: by depth from the outputs (deepest,
    i.e. the inputs, first), ties broken by the order a depth-first walk from the outputs
    first meets each layer. Returns (nodes, layers)."""
    visit_order, finished, in_progress = {}, [], set()
    done = set()
    stack = []
    for tensor in reversed(outputs):
        history = tensor._keras_history
        stack.append((history.operation._inbound_nodes[history.node_index], False))
    while stack:
        node, expanded = stack.pop()
        if expanded:
            in_progress.discard(id(node))
            done.add(id(node))
            finished.append(node)
            continue
        if id(node) in done or id(node) in in_progress:
            continue
        visit_order.setdefault(id(node.operation), len(visit_order))
        in_progress.add(id(node))
        stack.append((node, True))
        for parent in reversed(node.parent_nodes):
            if id(parent) not in done:
                stack.append((parent, False))

    node_depth, layer_depth = {}, {}
    for node in reversed(finished):
        depth = max(node_depth.setdefault(id(node), 0), layer_depth.get(id(node.operation), 0))
        layer_depth[id(node.operation)] = depth
        node_depth[id(node)] = depth
        for parent in node.parent_nodes:
            node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))

    nodes = sorted(finished, key=lambda n: -node_depth[id(n)])
    layers = _unique([node.operation for node in finished])
    layers.sort(key=lambda layer: (-layer_depth[id(layer)], visit_order[id(layer)]))
    return nodes, layers


class Functional(Model):
    """A model defined by ``Model(inputs, outputs)``; inputs/outputs may be lists or dicts."""

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        Layer.__init__(self, name=name, trainable=trainable, **kwargs)
        self._init_model_state()
        for tensor in tree.flatten((inputs, outputs)):
            if not isinstance(tensor, KerasTensor):
                raise TypeError(
                    f"Model: inputs and outputs must be symbolic tensors from shinsou.Input and "
                    f"layer calls; got {type(tensor).__name__}"
                )
        self._inputs_struct = inputs
        self._outputs_struct = outputs
        self.inputs = tree.flatten(inputs)
        self.outputs = tree.flatten(outputs)
        for tensor in self.inputs:
            if not isinstance(tensor._keras_history.operation, InputLayer):
                raise ValueError(
                    f"Model: input {tensor} does not come from shinsou.Input; pass the tensors "
                    "that Input() returned"
                )
        self._nodes, self._layers = _map_graph(self.outputs)
        reachable = {id(t) for node in self._nodes for t in node.output_tensors}
        for tensor in self.inputs:
            reachable.add(id(tensor))
        for node in self._nodes:
            for tensor in node.input_tensors:
                if id(tensor) not in reachable:
                    raise ValueError(
                        f"Model: the graph needs {tensor} (input of layer "
                        f"'{node.operation.name}'), which is not among the model's inputs"
                    )
        input_ids = {id(t) for t in self.inputs}
        for node in self._nodes:
            if isinstance(node.operation, InputLayer) and id(node.outputs) not in input_ids:
                raise ValueError(
                    f"Model: the outputs depend on Input '{node.operation.name}', which is not "
                    "listed in the model's inputs"
                )
        self.built = True

    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    @property
    def input_shape(self):
        return tree.map_structure(lambda t: t.shape, self._inputs_struct)

    @property
    def output_shape(self):
        return tree.map_structure(lambda t: t.shape, self._outputs_struct)

    def _sublayers(self):
        return list(self._layers)

    def build(self, input_shape):
        self.built = True

    def call(self, inputs, training=None, mask=None):
        values = {}
        for placeholder, value in zip(self.inputs, self._flatten_inputs(inputs)):
            values[id(placeholder)] = self._check_input(placeholder, value)
        plan = self._plan()
        fused = plan.fusions
        for node, finished in zip(self._nodes, plan.last_uses):
            if isinstance(node.operation, InputLayer):
                continue
            role = fused.get(id(node))
            if role == "relu":  # computed by the batch norm before it
                (source,) = node.input_tensors
                produced = [values[id(source)]]
            else:
                produced = tree.flatten(node.replay(values, **({} if role is None else role)))
            for placeholder, value in zip(node.output_tensors, produced):
                values[id(placeholder)] = value
            for key in finished:  # nothing later reads it: let the graph decide its life
                values.pop(key, None)
        return tree.map_structure(lambda t: values[id(t)], self._outputs_struct)

    def _relu_fusions(self):
        """Nodes to run fused: ``{id(node): {"_then_relu": True}}`` for a BatchNormalization
        or Add whose only reader is a plain ReLU, and ``{id(node): "relu"}`` for that ReLU,
        whose value the layer before it then returns. Batch norm (or a residual sum) and
        ReLU in one pass save a pass over the activations (ResNet-20: ~5 % of a step for
        batch norm, ~2 % for the sums). Not when that layer's output is a model output, is
        read twice, or when either layer has an activity regularizer or they compute in
        different dtypes."""
        outputs = {id(t) for t in tree.flatten(self._outputs_struct)}
        readers = {}
        for node in self._nodes:
            for tensor in node.input_tensors:
                readers.setdefault(id(tensor), []).append(node)
        fused = {}
        for node in self._nodes:
            if type(node.operation) not in _FUSED_WITH_RELU or len(node.output_tensors) != 1:
                continue
            (output,) = node.output_tensors
            after = readers.get(id(output), [])
            if id(output) in outputs or len(after) != 1 or len(after[0].input_tensors) != 1:
                continue
            relu = after[0]
            if _plain_relu(relu) and _fusable(node.operation, relu.operation):
                fused[id(node)] = {"_then_relu": True}
                fused[id(relu)] = "relu"
        return fused

    def _last_uses(self):
        """For each node, the ids of the intermediate values no later node reads (outputs
        excluded): :meth:`call` drops them as it goes, so an activation that no backward
        function needs is freed during the forward pass instead of at its end."""
        keep = {id(t) for t in tree.flatten(self._outputs_struct)}
        last = {}
        for position, node in enumerate(self._nodes):
            for leaf in tree.flatten((node.call_args, node.call_kwargs)):
                if isinstance(leaf, KerasTensor) and id(leaf) not in keep:
                    last[id(leaf)] = position
        finished = [[] for _ in self._nodes]
        for key, position in last.items():
            finished[position].append(key)
        return finished

    def _plan(self):
        """:meth:`_last_uses` and :meth:`_relu_fusions`, worked out once per graph."""
        plan = getattr(self, "_call_plan", None)
        if plan is None or plan.nodes != len(self._nodes):
            plan = self._call_plan = _CallPlan(
                len(self._nodes), self._last_uses(), self._relu_fusions()
            )
        return plan

    def _flatten_inputs(self, inputs):
        if isinstance(inputs, dict) and not isinstance(self._inputs_struct, dict):
            by_name = {t._keras_history.operation.name: t for t in self.inputs}
            missing = [name for name in by_name if name not in inputs]
            if missing:
                raise ValueError(
                    f"Model '{self.name}': the input dict lacks {missing}; its keys must be the "
                    f"input names {list(by_name)}"
                )
            return [inputs[name] for name in by_name]
        flat = tree.flatten(inputs) if tree.is_nested(self._inputs_struct) else [inputs]
        if len(flat) != len(self.inputs):
            raise ValueError(
                f"Model '{self.name}' expects {len(self.inputs)} input(s) but received {len(flat)}"
            )
        return flat

    def _check_input(self, placeholder, value):
        value = _convert_inputs(value)
        if not isinstance(value, Tensor):
            raise TypeError(
                f"Model '{self.name}': input '{placeholder.name}' must be an array or tensor, "
                f"got {type(value).__name__}"
            )
        expected = placeholder.shape
        if len(value.shape) != len(expected) or any(
            e is not None and e != r for e, r in zip(expected, value.shape)
        ):
            raise ValueError(
                f"Input '{placeholder.name}' of model '{self.name}' is incompatible: expected "
                f"shape {expected}, received shape {value.shape}"
            )
        if value.dtype.name != placeholder.dtype and not value.requires_grad:
            value = Tensor._wrap(value.data.astype(placeholder.dtype))
        return value

    def compute_output_spec(self, *args, **kwargs):
        return self._output_specs_for(args[0], self._outputs_struct)

    def get_config(self):
        from ..saving.serialization import functional_config

        return functional_config(self)


def _unique(items):
    seen, result = set(), []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            result.append(item)
    return result


def _plain_relu(node) -> bool:
    """A node that applies ``max(x, 0)`` to its one input and nothing else."""
    layer = node.operation
    if node.call_kwargs or len(node.call_args) != 1:
        return False
    if type(layer) is ReLU:
        return layer.negative_slope == 0 and layer.max_value is None and layer.threshold == 0
    return type(layer) is Activation and layer.activation is activations.relu


# Layers whose call takes ``_then_relu=True`` to apply a ReLU in the same pass.
_FUSED_WITH_RELU = (BatchNormalization, Add)


def _fusable(layer, relu) -> bool:
    return (
        layer.activity_regularizer is None
        and relu.activity_regularizer is None
        and layer.dtype == relu.dtype
    )


class _CallPlan:
    """What :meth:`Functional.call` precomputes from the graph. An object rather than a
    list or dict, so that the layer bookkeeping that walks a model's attributes skips it."""

    __slots__ = ("fusions", "last_uses", "nodes")

    def __init__(self, nodes, last_uses, fusions):
        self.nodes, self.last_uses, self.fusions = nodes, last_uses, fusions
