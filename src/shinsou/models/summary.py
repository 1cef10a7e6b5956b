"""``model.summary()``: the table of layers, output shapes and parameter counts, as Keras 3
prints it (box-drawing table rendered by ``rich``, then the parameter totals and their size).

Example:
    >>> import shinsou
    >>> from shinsou import layers
    >>> model = shinsou.Sequential(
    ...     [shinsou.Input((784,)), layers.Dense(10, name="out")], name="tiny"
    ... )
    >>> print_summary(model, line_length=60)
    Model: "tiny"
    ┏━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━┓
    ┃ Layer (type)             ┃ Output Shape      ┃   Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━┩
    │ out (Dense)              │ (None, 10)        │     7,850 │
    └──────────────────────────┴───────────────────┴───────────┘
     Total params: 7,850 (30.66 KB)
     Trainable params: 7,850 (30.66 KB)
     Non-trainable params: 0 (0.00 B)
"""

from __future__ import annotations

import math
import re
import shutil
import sys

import numpy

from ..layers.input_layer import InputLayer
from ..utils import tree


def count_params(weights) -> int:
    """Number of scalars in a list of weights.

    Example:
        >>> count_params([numpy.zeros((3, 4)), numpy.zeros(4)])
        16
    """
    return int(sum(math.prod(w.shape) for w in weights))


def weight_memory_size(weights) -> int:
    """Bytes that the (distinct) weights occupy, from their shapes and dtypes.

    Example:
        >>> weight_memory_size([numpy.zeros((2, 3), "float32")])
        24
    """
    unique = {id(w): w for w in weights}.values()
    return int(sum(math.prod(w.shape) * numpy.dtype(w.dtype).itemsize for w in unique))


def readable_memory_size(size) -> str:
    """A byte count as Keras prints it: two decimals and the largest unit below 1024.

    Example:
        >>> readable_memory_size(669_706 * 4), readable_memory_size(0)
        ('2.55 MB', '0.00 B')
    """
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def print_summary(
    model,
    line_length=None,
    positions=None,
    print_fn=None,
    expand_nested=False,
    show_trainable=False,
    layer_range=None,
):
    """Print ``model``'s summary (what ``model.summary()`` shows).

    Args:
        model: a built or unbuilt Sequential, functional or subclassed model.
        line_length: total width of the table; defaults to 88 (108 with a "Connected to"
            column), capped by the terminal's width less 4, as Keras does.
        positions: right edges of the columns as fractions of ``line_length``.
        print_fn: called with each line of the summary; defaults to printing to stdout
            (in colour when stdout is a terminal).
        expand_nested: also list the layers inside nested models, indented.
        show_trainable: add a column saying whether each layer is trainable.
        layer_range: ``[first, last]`` layer names (regular expressions) to show.

    Example:
        >>> import shinsou
        >>> model = shinsou.Sequential([shinsou.layers.Dense(3, name="d")], name="unbuilt")
        >>> lines = []
        >>> print_summary(model, line_length=76, print_fn=lines.append)
        >>> print(lines[4])
        │ d (Dense)                       │ ?                      │   0 (unbuilt) │
        >>> lines[-3]
        ' Total params: 0 (0.00 B)'
    """
    rich_console, rich_markup, rich_table = _import_rich()
    layers = list(model.layers)
    sequential_like = _is_sequential_like(model)
    if sequential_like:
        default_length, default_positions = 88, [0.45, 0.80, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #"]
        alignment = ["left", "left", "right"]
    else:
        default_length, default_positions = 108, [0.3, 0.56, 0.74, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
        alignment = ["left", "left", "right", "left"]
    positions = list(positions) if positions is not None else default_positions
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        alignment.append("center")
    if len(positions) != len(header):
        raise ValueError(
            f"summary: positions must give {len(header)} column edges (for {header}); "
            f"received positions={positions}"
        )
    if line_length is None:
        line_length = min(default_length, shutil.get_terminal_size().columns - 4)
    widths = _column_widths(positions, line_length)

    escape = rich_markup.escape
    model_nodes = _model_nodes(model)

    def layer_row(layer, prefix):
        name = escape(f"{prefix}{layer.name}") + f" ({_symbol(escape(type(layer).__name__))})"
        if not layer.built:
            params = f"{_number(0)} (unbuilt)"
        else:
            params = _number(f"{layer.count_params():,}")
        row = [name, _format_output_shape(layer), params]
        if not sequential_like:
            row.append(_connections(layer, model_nodes))
        if show_trainable:
            if getattr(layer, "weights", None):
                row.append(_bold("Y", 34) if layer.trainable else _bold("N", 9))
            else:
                row.append(_bold("-"))
        return row

    def rows_for(layer, level=0):
        prefix = "   " * level + "└ " if level else ""
        rows = [layer_row(layer, prefix)]
        if expand_nested and getattr(layer, "layers", None):
            for inner in layer.layers:
                rows.extend(rows_for(inner, level + 1))
        return rows

    columns = [
        rich_table.Column(title, justify=justify, width=width)
        for title, justify, width in zip(header, alignment, widths)
    ]
    table = rich_table.Table(*columns, width=line_length, show_lines=True)
    first, last = _layer_index_range(layers, layer_range)
    for layer in layers[first:last]:
        for row in rows_for(layer):
            table.add_row(*row)

    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    optimizer = getattr(model, "optimizer", None)
    optimizer_variables = None
    if getattr(model, "compiled", False) and getattr(optimizer, "built", False):
        optimizer_variables = list(optimizer.variables)
    totals = [
        ("Total params", [*trainable, *non_trainable, *(optimizer_variables or [])]),
        ("Trainable params", trainable),
        ("Non-trainable params", non_trainable),
    ]
    if optimizer_variables is not None:
        totals.append(("Optimizer params", optimizer_variables))

    to_terminal = print_fn is None and _is_terminal(sys.stdout)
    console = rich_console.Console(
        width=line_length,
        highlight=False,
        force_terminal=to_terminal,
        color_system="auto" if to_terminal else None,
    )
    with console.capture() as capture:
        console.print(_bold(f'Model: "{escape(model.name)}"'), soft_wrap=True)
        console.print(table)
        for title, weights in totals:
            count = count_params(weights)
            size = readable_memory_size(weight_memory_size(weights))
            console.print(f"{_bold(f' {title}: ')}{_number(f'{count:,}')} ({size})", soft_wrap=True)
    text = capture.get()
    if print_fn is None:
        sys.stdout.write(text)
        return
    for line in text.splitlines():
        print_fn(line)


def _import_rich():
    try:
        import rich.console
        import rich.markup
        import rich.table
    except ImportError as error:  # pragma: no cover - rich is a dependency
        raise ImportError(
            "model.summary() draws its table with the 'rich' package: pip install rich"
        ) from error
    return rich.console, rich.markup, rich.table


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


# Keras's colours: numbers green, None cyan, layer types blue. They vanish without a terminal.
def _number(value) -> str:
    return f"[color({45 if value is None else 34})]{value}[/]"


def _symbol(text) -> str:
    return f"[color(33)]{text}[/]"


def _bold(text, color=None) -> str:
    return f"[bold][color({color})]{text}[/][/]" if color else f"[bold]{text}[/]"


def _column_widths(positions, line_length) -> list[int]:
    widths, current = [], 0
    for position in positions:
        width = int(position * line_length) - current
        if width < 4:
            raise ValueError(
                f"summary: line_length={line_length} is too narrow for the columns at "
                f"positions {positions}; each column needs at least 4 characters"
            )
        widths.append(width)
        current += width
    return widths


def _model_nodes(model):
    """The graph nodes of a functional model (``None`` for other models)."""
    nodes = getattr(model, "_nodes", None)
    return list(nodes) if nodes is not None else None


def _is_sequential_like(model) -> bool:
    """Whether a plain three-column table describes the model: Sequential and subclassed
    models always; a functional model when its graph is one chain (no merges, no branches,
    no shared layers), which is when Keras leaves out the "Connected to" column."""
    nodes = _model_nodes(model)
    if nodes is None:
        return True
    consumers: dict[int, int] = {}
    seen_layers: set[int] = set()
    inputs = 0
    for node in nodes:
        if len(node.input_tensors) > 1 or id(node.operation) in seen_layers:
            return False
        seen_layers.add(id(node.operation))
        inputs += isinstance(node.operation, InputLayer)
        for tensor in node.input_tensors:
            consumers[id(tensor)] = consumers.get(id(tensor), 0) + 1
    return inputs <= 1 and all(count == 1 for count in consumers.values())


def _connections(layer, model_nodes) -> str:
    parts = []
    relevant = {id(node) for node in model_nodes or []}
    for node in layer._inbound_nodes:
        if relevant and id(node) not in relevant:
            continue  # a call of this layer that belongs to another model
        for tensor in node.input_tensors:
            history = tensor._keras_history
            parts.append(
                f"{history.operation.name}[{_number(history.node_index)}]"
                f"[{_number(history.tensor_index)}]"
            )
    return ", ".join(parts) if parts else "-"


def _format_shape(shape) -> str:
    return f"({', '.join(_number(size) for size in shape)})"


def _format_output_shape(layer) -> str:
    """The output shape of the layer's last symbolic call, or one computed from the shape it
    was built with; ``?`` when neither is known (Keras's rule)."""
    nodes = getattr(layer, "_inbound_nodes", None)
    build_shape = getattr(layer, "_build_shapes", None)
    if nodes:
        shapes = tree.map_structure(lambda t: _format_shape(t.shape), nodes[-1].outputs)
    elif build_shape is not None or getattr(layer, "built", False):
        try:
            shapes = _shapes_as_text(layer.output_shape)
        except AttributeError:
            if build_shape is None:
                return "?"
            try:
                shapes = _shapes_as_text(layer.compute_output_shape(build_shape))
            except NotImplementedError:
                return "?"
    else:
        return "?"
    flat = tree.flatten(shapes)
    return flat[0] if len(flat) == 1 else str(shapes).replace("'", "")


def _shapes_as_text(shapes):
    """Each shape in a (possibly nested) structure of shapes, formatted."""
    if isinstance(shapes, dict):
        return {key: _shapes_as_text(value) for key, value in shapes.items()}
    if all(size is None or isinstance(size, int) for size in shapes):
        return _format_shape(shapes)
    return type(shapes)(_shapes_as_text(shape) for shape in shapes)


def _layer_index_range(layers, layer_range) -> tuple[int, int]:
    """Indices ``[first, last + 1)`` of the layers named by two regular expressions."""
    if layer_range is None:
        return 0, len(layers)
    if len(layer_range) != 2 or not all(isinstance(name, str) for name in layer_range):
        raise ValueError(
            "summary: layer_range must be a list or tuple of two layer names (regular "
            f"expressions); received layer_range={layer_range!r}"
        )
    starts = [i for i, layer in enumerate(layers) if re.match(layer_range[0], layer.name)]
    ends = [i for i, layer in enumerate(layers) if re.match(layer_range[1], layer.name)]
    if not starts or not ends:
        raise ValueError(
            f"summary: layer_range={list(layer_range)} matches no layer names; the layers "
            f"are {[layer.name for layer in layers]}"
        )
    if min(starts) > max(ends):
        return min(ends), max(starts) + 1
    return min(starts), max(ends) + 1
