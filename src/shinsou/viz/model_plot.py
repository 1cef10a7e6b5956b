"""``plot_model``: a model's layer graph as boxes and arrows — name, class, output shape
and parameter count of every layer, branches and merges included.

The graph is read from the symbolic call records a functional or Sequential model keeps
(``layer._inbound_nodes``: each call of a layer on symbolic tensors, with its input and
output tensors, see :mod:`shinsou.layers.symbolic`). It is drawn by graphviz's ``dot`` when
that program is on the ``PATH``, and otherwise, silently, by matplotlib alone.

Example:
    >>> import shinsou
    >>> from shinsou import layers
    >>> inputs = shinsou.Input((8,), name="x")
    >>> hidden = layers.Dense(4, name="hidden")(inputs)
    >>> model = shinsou.Model(inputs, layers.Add(name="sum")([hidden, hidden]))
    >>> boxes, edges = model_graph(model)
    >>> [box.text.split(chr(10))[0] for box in boxes], edges
    (['x (InputLayer)', 'hidden (Dense)', 'sum (Add)'], [(0, 1), (1, 2)])
"""

from __future__ import annotations

import io
import shutil
import subprocess

from ..layers.input_layer import InputLayer
from ..models.model import Model
from ..utils import tree
from ._figures import check_choice, new_figure, save_png
from ._graph_drawing import Box, draw_graph, truncate

__all__ = ["model_graph", "plot_model"]

_INPUT_COLOR = "#f6e3c6"
_LAYER_COLOR = "#dbe9f6"
_MODEL_COLOR = "#d9efd9"
_DOT_TIMEOUT_SECONDS = 60


def _describe_shape(shapes):
    shapes = list(dict.fromkeys(shapes))  # the same shape from several calls counts once
    if not shapes:
        return "?"
    if len(shapes) > 1:
        return "multiple"
    return str(shapes[0])


def _outputs_shape(node):
    shapes = [tuple(tensor.shape) for tensor in node.output_tensors]
    return shapes[0] if len(shapes) == 1 else tuple(shapes)


class _GraphBuilder:
    """Walks the symbolic nodes from a model's outputs and turns them into boxes (one per
    layer, as Keras draws them) and edges between boxes."""

    def __init__(self, options):
        self.options = options
        self.boxes, self.box_of_layer, self.shapes = [], {}, {}
        self.edges = []

    def add_model(self, model, aliases=None, group=None):
        """Add ``model``'s graph. ``aliases`` maps ids of the model's input tensors to the
        boxes feeding them from an enclosing graph (then its InputLayers are not drawn).
        Returns the boxes that produce each of the model's outputs."""
        sources = dict(aliases or {})
        for node in nodes_in_call_order(model.outputs):
            operation = node.operation
            if isinstance(operation, InputLayer) and id(node.outputs) in sources:
                continue
            expand = self.options["expand_nested"] and _has_graph(operation)
            if expand:
                inner_aliases = {
                    id(inner): sources.get(id(outer), [])
                    for inner, outer in zip(operation.inputs, node.input_tensors)
                }
                inner_group = operation.name if group is None else f"{group}/{operation.name}"
                produced = self.add_model(operation, inner_aliases, inner_group)
                for tensor, boxes in zip(node.output_tensors, produced):
                    sources[id(tensor)] = boxes
                continue
            box = self._box_for(operation, group)
            self.shapes.setdefault(box, []).append(_outputs_shape(node))
            for tensor in node.input_tensors:
                for source in sources.get(id(tensor), []):
                    if (source, box) not in self.edges:
                        self.edges.append((source, box))
            for tensor in node.output_tensors:
                sources[id(tensor)] = [box]
        return [sources.get(id(tensor), []) for tensor in model.outputs]

    def _box_for(self, layer, group):
        if id(layer) not in self.box_of_layer:
            self.box_of_layer[id(layer)] = len(self.boxes)
            color = _INPUT_COLOR if isinstance(layer, InputLayer) else _LAYER_COLOR
            if isinstance(layer, Model):
                color = _MODEL_COLOR
            self.boxes.append([layer, Box("", color=color, group=group)])
        return self.box_of_layer[id(layer)]

    def finish(self):
        """Write each box's text now that all its calls (and so its shapes) are known."""
        result = []
        for index, (layer, box) in enumerate(self.boxes):
            box.text = "\n".join(self._lines(layer, self.shapes.get(index, [])))
            result.append(box)
        return result, self.edges

    def _lines(self, layer, shapes):
        options = self.options
        kind = type(layer).__name__
        lines = [truncate(f"{layer.name} ({kind})" if options["show_layer_names"] else kind)]
        if options["show_shapes"]:
            lines.append(truncate(f"output: {_describe_shape(shapes)}"))
        if options["show_dtype"]:
            lines.append(f"dtype: {layer.dtype}")
        activation = getattr(layer, "activation", None)
        if options["show_layer_activations"] and activation is not None:
            lines.append(f"activation: {getattr(activation, '__name__', str(activation))}")
        if not isinstance(layer, InputLayer):
            count = layer.count_params() if layer.built else 0
            lines.append(f"params: {count:,}")
        if options["show_trainable"]:
            lines.append(f"trainable: {'yes' if layer.trainable else 'no'}")
        return lines


def _has_graph(layer):
    return isinstance(layer, Model) and getattr(layer, "outputs", None) is not None


def nodes_in_call_order(outputs):
    """The symbolic nodes that lead to ``outputs``, every node after the nodes that produce
    its inputs (an iterative depth-first walk: deep models must not hit the recursion
    limit), in the order the model was written where the graph allows."""
    order, done, stack = [], set(), []
    for tensor in reversed(tree.flatten(outputs)):
        history = tensor._keras_history
        stack.append((history.operation._inbound_nodes[history.node_index], False))
    while stack:
        node, expanded = stack.pop()
        if expanded:
            if id(node) not in done:
                done.add(id(node))
                order.append(node)
            continue
        if id(node) in done:
            continue
        stack.append((node, True))
        for parent in reversed(node.parent_nodes):
            if id(parent) not in done:
                stack.append((parent, False))
    return order


def model_graph(
    model,
    show_shapes=True,
    show_dtype=False,
    show_layer_names=True,
    expand_nested=False,
    show_layer_activations=False,
    show_trainable=False,
):
    """The boxes and edges that :func:`plot_model` draws: a list of
    :class:`~shinsou.viz._graph_drawing.Box` (one per layer; its ``text`` holds the lines
    shown) and a list of ``(source, target)`` box indices. See the module example."""
    if not isinstance(model, Model):
        raise TypeError(f"plot_model: expected a shinsou Model; received {type(model).__name__}")
    if getattr(model, "outputs", None) is None:
        raise ValueError(
            f"plot_model: model '{model.name}' has no recorded graph: a Sequential model "
            "needs its input shape (start it with shinsou.Input(shape) or call build()), and "
            "a subclassed model's graph is Python code — wrap it to draw it: "
            "inputs = shinsou.Input(shape); shinsou.Model(inputs, model(inputs))"
        )
    builder = _GraphBuilder(
        {
            "show_shapes": show_shapes,
            "show_dtype": show_dtype,
            "show_layer_names": show_layer_names,
            "expand_nested": expand_nested,
            "show_layer_activations": show_layer_activations,
            "show_trainable": show_trainable,
        }
    )
    builder.add_model(model)
    return builder.finish()


def _dot_source(boxes, edges, rankdir, dpi):
    """The graph in graphviz's language, the same boxes and edges as the matplotlib one."""

    def quoted(text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    lines = [
        "digraph model {",
        f"  graph [rankdir={rankdir}, dpi={int(dpi)}];",
        '  node [shape=box, style=filled, fontname="DejaVu Sans", fontsize=10];',
    ]
    groups = {}
    for index, box in enumerate(boxes):
        statement = f"  n{index} [label={quoted(box.text)}, fillcolor={quoted(box.color)}];"
        groups.setdefault(box.group, []).append(statement)
    lines += groups.pop(None, [])
    for number, (group, statements) in enumerate(groups.items()):
        lines.append(f"  subgraph cluster_{number} {{ label={quoted(group)}; style=dashed;")
        lines += ["  " + statement for statement in statements]
        lines.append("  }")
    lines += [f"  n{source} -> n{target};" for source, target in edges]
    lines.append("}")
    return "\n".join(lines)


def _render_with_dot(boxes, edges, rankdir, dpi):
    """A Figure showing graphviz's drawing, or None when ``dot`` is missing or fails."""
    executable = shutil.which("dot")
    if executable is None:
        return None
    try:
        finished = subprocess.run(
            [executable, "-Tpng"],
            input=_dot_source(boxes, edges, rankdir, dpi).encode(),
            capture_output=True,
            timeout=_DOT_TIMEOUT_SECONDS,
            check=True,
        )
        from matplotlib.image import imread

        image = imread(io.BytesIO(finished.stdout), format="png")
    except (OSError, subprocess.SubprocessError, ValueError, SyntaxError):
        return None  # a broken graphviz install: the matplotlib drawing does the job
    height, width = image.shape[:2]
    figure = new_figure((width / dpi, height / dpi), "plot_model")
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(image, interpolation="none")
    axes.set_axis_off()
    return figure


def plot_model(
    model,
    to_file="model.png",
    show_shapes=True,
    show_dtype=False,
    show_layer_names=True,
    rankdir="TB",
    expand_nested=False,
    dpi=200,
    show_layer_activations=False,
    show_trainable=False,
):
    """Draw ``model``'s layer graph (``keras.utils.plot_model``'s arguments) and return the
    matplotlib Figure; save it as a PNG at ``to_file`` unless that is None.

    One box per layer with its name and class, output shape and parameter count; arrows
    follow the data, so branches and merges (a residual block's skip connection) show.
    ``expand_nested=True`` draws the layers of nested models inside a dashed frame instead
    of one box per nested model. ``rankdir`` is ``"TB"`` (top to bottom) or ``"LR"``.
    Unlike Keras, shapes and names are shown by default, and graphviz is optional: its
    ``dot`` program is used when it is on the ``PATH``, else matplotlib draws the graph.

    Example:
        >>> import shinsou
        >>> from shinsou import layers
        >>> model = shinsou.Sequential([shinsou.Input((4,)), layers.Dense(2)])
        >>> figure = plot_model(model, to_file=None)
        >>> type(figure).__name__
        'Figure'
    """
    check_choice("plot_model", "rankdir", rankdir, ("TB", "LR"))
    if not isinstance(dpi, (int, float)) or isinstance(dpi, bool) or dpi <= 0:
        raise ValueError(f"plot_model: dpi must be a positive number; received {dpi!r}")
    boxes, edges = model_graph(
        model,
        show_shapes=show_shapes,
        show_dtype=show_dtype,
        show_layer_names=show_layer_names,
        expand_nested=expand_nested,
        show_layer_activations=show_layer_activations,
        show_trainable=show_trainable,
    )
    figure = _render_with_dot(boxes, edges, rankdir, dpi)
    if figure is None:
        figure = draw_graph(boxes, edges, title=model.name, rankdir=rankdir, caller="plot_model")
    save_png(figure, to_file, dpi=dpi, caller="plot_model")
    return figure
