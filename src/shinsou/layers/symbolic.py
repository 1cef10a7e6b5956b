"""Symbolic tensors and the call records that make a functional model's graph.

Calling a layer on a :class:`KerasTensor` (what ``shinsou.Input`` returns) computes no
values: it works out the output's shape and dtype, records a :class:`Node` (the layer and the
arguments it was called with) and returns new symbolic tensors that remember that node.
A functional model later replays those nodes on real data.

Example:
    >>> import shinsou
    >>> x = shinsou.Input(shape=(3,))
    >>> y = shinsou.layers.Dense(2)(x)
    >>> y.shape
    (None, 2)
"""

from __future__ import annotations

from collections import namedtuple

from .. import backend
from ..utils import tree

KerasHistory = namedtuple("KerasHistory", ["operation", "node_index", "tensor_index"])


class KerasTensor:
    """A placeholder with a shape (``None`` for unknown sizes) and a dtype, but no values.

    Example:
        >>> KerasTensor((None, 4)).ndim
        2
    """

    def __init__(self, shape, dtype=None, sparse=False, name=None):
        self.shape = tuple(None if s is None else int(s) for s in shape)
        self.dtype = backend.standardize_dtype(dtype or backend.floatx()).name
        self.sparse = sparse
        self.name = name or "keras_tensor"
        self._keras_history = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return (
            f"<KerasTensor shape={self.shape}, dtype={self.dtype}, sparse={self.sparse}, "
            f"name={self.name}>"
        )

    def __len__(self):
        raise TypeError("a symbolic KerasTensor has no length; use .shape, or call a layer on it")

    def __array__(self, *args, **kwargs):
        raise TypeError(
            "a symbolic KerasTensor (from shinsou.Input) holds no values: it cannot become a "
            "NumPy array. Build a model with it, then call the model on real data."
        )

    # Ops on symbolic tensors become small layers in the graph, as in Keras.
    def __add__(self, other):
        return _operation("add", self, other)

    def __radd__(self, other):
        return _operation("add", other, self)

    def __sub__(self, other):
        return _operation("subtract", self, other)

    def __rsub__(self, other):
        return _operation("subtract", other, self)

    def __mul__(self, other):
        return _operation("multiply", self, other)

    def __rmul__(self, other):
        return _operation("multiply", other, self)

    def __truediv__(self, other):
        return _operation("divide", self, other)

    def __rtruediv__(self, other):
        return _operation("divide", other, self)

    def __matmul__(self, other):
        return _operation("matmul", self, other)

    def __neg__(self):
        return _operation("negative", self)

    def __pow__(self, other):
        return _operation("power", self, other)

    def __getitem__(self, index):
        return _operation("getitem", self, index)


def _operation(op_name, *args):
    from .op_layer import OpLayer  # imported late: it subclasses Layer, which imports us

    return OpLayer(op_name)(*args)


def is_symbolic(structure) -> bool:
    """Whether a (nested) argument holds any KerasTensor."""
    return any(isinstance(leaf, KerasTensor) for leaf in tree.flatten(structure))


class Node:
    """One call of a layer on symbolic tensors: its arguments and its outputs.

    ``arguments`` keeps the call's positional and keyword arguments with the KerasTensors
    in place, so the call can be replayed with real tensors substituted.
    """

    def __init__(self, operation, call_args, call_kwargs, outputs):
        self.operation = operation
        self.call_args = call_args
        self.call_kwargs = call_kwargs
        self.outputs = outputs
        self.input_tensors = [
            leaf for leaf in tree.flatten((call_args, call_kwargs)) if isinstance(leaf, KerasTensor)
        ]
        self.output_tensors = [
            leaf for leaf in tree.flatten(outputs) if isinstance(leaf, KerasTensor)
        ]
        operation._inbound_nodes.append(self)
        node_index = len(operation._inbound_nodes) - 1
        for tensor_index, tensor in enumerate(self.output_tensors):
            tensor._keras_history = KerasHistory(operation, node_index, tensor_index)

    @property
    def parent_nodes(self) -> list[Node]:
        """The nodes that produced this node's inputs."""
        parents = []
        for tensor in self.input_tensors:
            history = tensor._keras_history
            if history is not None:
                parents.append(history.operation._inbound_nodes[history.node_index])
        return parents

    def replay(self, values: dict, **extra):
        """Call the layer again with real tensors looked up by ``id`` of each KerasTensor
        (and the keyword arguments ``extra`` added)."""
        args, kwargs = tree.map_structure(
            lambda leaf: values[id(leaf)] if isinstance(leaf, KerasTensor) else leaf,
            (self.call_args, self.call_kwargs),
        )
        return self.operation(*args, **kwargs, **extra)
