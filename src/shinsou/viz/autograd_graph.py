"""``plot_computation_graph``: the autograd graph behind a small expression, so the chain
rule can be followed node by node.

Every op that may need a gradient records a node (:class:`shinsou.tensor.Node`: its
``op_name`` and its ``inputs``) on the tensor it returns (``tensor._node``, ``None`` for a
leaf). Walking those links from the result back to the leaves gives the graph that
``backward()`` walks the other way. ``backward()`` frees the links as it goes, unless it is
called with ``retain_graph=True``, so draw the graph before, or keep it.

Example:
    >>> import shinsou
    >>> x = shinsou.tensor([1.0, 2.0], requires_grad=True)
    >>> y = (x * x).sum()
    >>> boxes, edges = computation_graph(y, names={"x": x})
    >>> [box.text.split(chr(10))[0] for box in boxes], edges
    (['x', 'multiply', 'sum'], [(0, 1), (1, 2)])
"""

from __future__ import annotations

import numpy

from ..tensor import Tensor
from ._figures import save_png
from ._graph_drawing import Box, draw_graph, truncate

__all__ = ["computation_graph", "plot_computation_graph"]

MAX_NODES = 300  # a picture of more nodes is unreadable; draw a smaller expression
_VALUE_SIZE_LIMIT = 4  # values of tensors up to this many elements are written out
_PARAMETER_COLOR = "#f6e3c6"
_CONSTANT_COLOR = "#eeeeee"
_OP_COLOR = "#dbe9f6"


def _format_values(array):
    array = numpy.asarray(array)
    if array.size > _VALUE_SIZE_LIMIT:
        return None
    if array.ndim == 0:
        return f"{array.item():.4g}"
    return numpy.array2string(
        array, separator=", ", formatter={"all": lambda value: f"{value:.4g}"}
    )


def _describe(tensor, title, show_values):
    shape = tuple(tensor.shape)
    lines = [truncate(title), f"shape {shape}" if shape else "scalar"]
    # Large intermediate results are edges in the graph (tensor.Edge): no values kept.
    kept = getattr(tensor, "data", None) is not None
    values = _format_values(tensor.numpy()) if show_values and kept else None
    if values is not None:
        lines.append(truncate(f"value {values}"))
    if show_values and tensor.grad is not None:
        gradient = _format_values(tensor.grad)
        if gradient is not None:
            lines.append(truncate(f"grad {gradient}"))
    return "\n".join(lines)


def _leaf_title(tensor, labels):
    if id(tensor) in labels:
        return labels[id(tensor)]
    name = getattr(tensor, "name", None)  # a Variable has one
    if name:
        return name
    return "parameter" if tensor.requires_grad else "constant"


def computation_graph(tensor, names=None, show_values=True):
    """The boxes and edges :func:`plot_computation_graph` draws: one box per leaf tensor
    and one per recorded op (its name, output shape and, for up to four numbers, the
    values), edges from each input to the op that used it."""
    if not isinstance(tensor, Tensor):
        raise TypeError(
            f"plot_computation_graph: expected a shinsou Tensor; received {type(tensor).__name__}"
        )
    labels = {}
    for label, named in (names or {}).items():
        if not isinstance(named, Tensor):
            raise TypeError(
                f"plot_computation_graph: names must map labels to tensors; {label!r} maps to "
                f"{type(named).__name__}"
            )
        labels[id(named)] = str(label)
    if tensor._node is None:
        raise ValueError(
            "plot_computation_graph: this tensor has no recorded graph: no input that "
            "requires a gradient was used to compute it, or it was computed under no_grad(). "
            "Make the inputs with requires_grad=True."
        )
    # A box stands for a leaf tensor or for an op node; ``order`` lists them inputs first.
    order, index_of, stack = [], {}, [(tensor, False)]
    while stack:
        item, expanded = stack.pop()
        node = item._node
        key = id(node) if node is not None else id(item)
        if key in index_of:
            continue
        if expanded or node is None:
            index_of[key] = len(order)
            order.append(item)
            if len(order) > MAX_NODES:
                raise ValueError(
                    f"plot_computation_graph: the graph has more than {MAX_NODES} nodes; draw "
                    "a smaller expression"
                )
            continue
        if node.backward is None:
            raise ValueError(
                f"plot_computation_graph: the graph through '{node.op_name}' was freed by "
                "backward(); draw it before calling backward(), or call "
                "backward(retain_graph=True)"
            )
        stack.append((item, True))
        stack.extend((parent, False) for parent in reversed(node.inputs))
    boxes, edges = [], []
    for item in order:
        node = item._node
        if node is None:
            color = _PARAMETER_COLOR if item.requires_grad else _CONSTANT_COLOR
            text = _describe(item, _leaf_title(item, labels), show_values)
            boxes.append(Box(text, color=color, shape="round"))
            continue
        title = node.op_name or "op"
        if id(item) in labels:
            title = f"{labels[id(item)]} = {title}"
        boxes.append(Box(_describe(item, title, show_values), color=_OP_COLOR))
        target = index_of[id(node)]
        for parent in node.inputs:
            key = id(parent._node) if parent._node is not None else id(parent)
            if (index_of[key], target) not in edges:
                edges.append((index_of[key], target))
    return boxes, edges


def plot_computation_graph(tensor, to_file=None, names=None, show_values=True, rankdir="TB"):
    """Draw the autograd graph that produced ``tensor`` and return the Figure; save it as a
    PNG at ``to_file`` unless that is None.

    Round boxes are leaves (orange: requires a gradient; grey: a constant), square boxes
    are ops, arrows go from inputs to the op that used them — the forward pass; the chain
    rule runs them backwards. ``names`` maps labels to tensors (``{"x": x, "w": w}``) to
    name leaves or intermediate results; Variables show their own name. With
    ``show_values`` every tensor of up to four numbers shows its value, and leaves their
    ``.grad`` once ``backward(retain_graph=True)`` has run. For an op with several outputs
    the box shows the output that was used first.

    Example:
        >>> import shinsou
        >>> w = shinsou.tensor([0.5, -1.0], requires_grad=True)
        >>> loss = (shinsou.ops.tanh(w * 2.0) ** 2).sum()
        >>> figure = plot_computation_graph(loss, names={"w": w})
        >>> type(figure).__name__
        'Figure'
    """
    boxes, edges = computation_graph(tensor, names=names, show_values=show_values)
    figure = draw_graph(boxes, edges, rankdir=rankdir, caller="plot_computation_graph")
    save_png(figure, to_file, caller="plot_computation_graph")
    return figure
