"""Drawing a directed acyclic graph of labelled boxes with matplotlib alone: a small
layered ("Sugiyama") layout shared by :func:`~shinsou.viz.plot_model` and
:func:`~shinsou.viz.plot_computation_graph`.

Each box goes to a rank (the longest path from a source), edges that skip ranks are routed
through thin invisible waypoints so they pass beside the boxes instead of through them,
and a few barycentre sweeps order each rank to reduce crossings.

Example:
    >>> boxes = [Box("a"), Box("b"), Box("c")]
    >>> ranks = assign_ranks(3, [(0, 1), (1, 2), (0, 2)])
    >>> ranks
    [0, 1, 2]
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from ._figures import new_figure

FONT_POINTS = 8
CHAR_INCHES = 0.068  # width of one character at FONT_POINTS (a little generous)
LINE_INCHES = 0.16
PAD_INCHES = 0.12
RANK_GAP_INCHES = 0.45
CROSS_GAP_INCHES = 0.35
WAYPOINT_INCHES = 0.3  # the room a routed edge takes beside the boxes of a rank
MAX_LABEL_CHARS = 48


@dataclass
class Box:
    """One node to draw: its text lines, fill colour and shape (``"box"`` or ``"round"``),
    and the group (a nested model's name) whose dashed frame encloses it."""

    text: str
    color: str = "#dbe9f6"
    shape: str = "box"
    group: str | None = None


def assign_ranks(count, edges):
    """The rank of each node: one more than the largest rank among its inputs; nodes
    without inputs go one rank above their first consumer (nodes are 0..count-1, edges
    ``(source, target)``)."""
    incoming = [[] for _ in range(count)]
    outgoing = [[] for _ in range(count)]
    for source, target in edges:
        incoming[target].append(source)
        outgoing[source].append(target)
    waiting = [len(sources) for sources in incoming]
    ready = [node for node in range(count) if waiting[node] == 0]
    ranks = [0] * count
    while ready:
        node = ready.pop()
        for target in outgoing[node]:
            ranks[target] = max(ranks[target], ranks[node] + 1)
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    if any(waiting):
        raise ValueError("the graph to draw has a cycle")
    for node in range(count):
        # A source (an input, a constant) sits right above its first consumer, not at the
        # top with a long edge down to where it is used.
        if not incoming[node] and outgoing[node]:
            ranks[node] = min(ranks[target] for target in outgoing[node]) - 1
    return ranks


def _route(count, edges, ranks):
    """Split edges that skip ranks into chains through waypoints (ids ``count`` and up).
    Returns the rank of every item, the one-rank edges, and each edge's item chain."""
    item_ranks = list(ranks)
    short_edges, chains = [], []
    for source, target in edges:
        chain = [source]
        for rank in range(ranks[source] + 1, ranks[target]):
            item_ranks.append(rank)
            chain.append(len(item_ranks) - 1)
        chain.append(target)
        short_edges += list(itertools.pairwise(chain))
        chains.append(chain)
    return item_ranks, short_edges, chains


def _order_ranks(item_ranks, short_edges, sweeps=4):
    """Items of each rank, ordered by the barycentre of their neighbours (a few sweeps
    down and up), starting from the order in which they were listed."""
    layers = [[] for _ in range(max(item_ranks) + 1)]
    for item, rank in enumerate(item_ranks):
        layers[rank].append(item)
    parents = {item: [] for item in range(len(item_ranks))}
    children = {item: [] for item in range(len(item_ranks))}
    for source, target in short_edges:
        parents[target].append(source)
        children[source].append(target)
    for sweep in range(sweeps):
        downward = sweep % 2 == 0
        sequence = range(1, len(layers)) if downward else range(len(layers) - 2, -1, -1)
        for rank in sequence:
            neighbour_layer = layers[rank - 1] if downward else layers[rank + 1]
            place = {item: index for index, item in enumerate(neighbour_layer)}
            links = parents if downward else children
            current = {item: index for index, item in enumerate(layers[rank])}

            def barycentre(item, links=links, place=place, current=current):
                linked = [place[other] for other in links[item] if other in place]
                return sum(linked) / len(linked) if linked else current[item]

            layers[rank].sort(key=barycentre)
    return layers


def layout(boxes, edges, rankdir="TB"):
    """Centres (in inches) of every box and the polyline of every edge, plus the box size
    and the drawing's extent. ``rankdir`` is ``"TB"`` (top to bottom) or ``"LR"``."""
    count = len(boxes)
    ranks = assign_ranks(count, edges)
    item_ranks, short_edges, chains = _route(count, edges, ranks)
    layers = _order_ranks(item_ranks, short_edges)
    lines = [box.text.split("\n") for box in boxes]
    width = PAD_INCHES * 2 + CHAR_INCHES * max(len(line) for text in lines for line in text)
    height = PAD_INCHES * 2 + LINE_INCHES * max(len(text) for text in lines)
    along, across = (height, width) if rankdir == "TB" else (width, height)
    centres = {}
    for rank, layer in enumerate(layers):
        extents = [across if item < count else WAYPOINT_INCHES for item in layer]
        total = sum(extents) + CROSS_GAP_INCHES * (len(layer) - 1)
        position = -total / 2
        for item, extent in zip(layer, extents):
            cross = position + extent / 2
            depth = rank * (along + RANK_GAP_INCHES)
            centres[item] = (cross, -depth) if rankdir == "TB" else (depth, -cross)
            position += extent + CROSS_GAP_INCHES
    polylines = [[centres[item] for item in chain] for chain in chains]
    xs = [x for x, _ in centres.values()]
    ys = [y for _, y in centres.values()]
    margin = 0.25
    extent = (
        min(xs) - width / 2 - margin,
        max(xs) + width / 2 + margin,
        min(ys) - height / 2 - margin,
        max(ys) + height / 2 + margin,
    )
    return [centres[node] for node in range(count)], polylines, (width, height), extent


def _clip_to_box(start, end, size):
    """The point where the segment from a box centre ``start`` towards ``end`` leaves the
    box of ``size``."""
    (x0, y0), (x1, y1) = start, end
    dx, dy = x1 - x0, y1 - y0
    scales = []
    if dx:
        scales.append(size[0] / 2 / abs(dx))
    if dy:
        scales.append(size[1] / 2 / abs(dy))
    scale = min([1.0, *scales])
    return x0 + dx * scale, y0 + dy * scale


def draw_graph(boxes, edges, title=None, rankdir="TB", caller="shinsou.viz"):
    """A Figure with ``boxes`` laid out in ranks and ``edges`` drawn as arrows."""
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle

    centres, polylines, size, (left, right, bottom, top) = layout(boxes, edges, rankdir)
    title_inches = 0.4 if title else 0.0
    figure = new_figure((right - left, top - bottom + title_inches), caller)
    axes = figure.add_axes((0, 0, 1, (top - bottom) / (top - bottom + title_inches)))
    axes.set_xlim(left, right)
    axes.set_ylim(bottom, top)
    axes.set_axis_off()
    if title:
        total = top - bottom + title_inches
        figure.suptitle(
            title, fontsize=FONT_POINTS + 2, y=1 - title_inches / 2 / total, va="center"
        )
    width, height = size
    for box, (x, y) in zip(boxes, centres):
        style = "round,pad=0.02,rounding_size=0.12" if box.shape == "round" else "square,pad=0.0"
        axes.add_patch(
            FancyBboxPatch(
                (x - width / 2, y - height / 2),
                width,
                height,
                boxstyle=style,
                facecolor=box.color,
                edgecolor="#333333",
                linewidth=0.8,
                zorder=2,
            )
        )
        axes.text(
            x,
            y,
            box.text,
            ha="center",
            va="center",
            fontsize=FONT_POINTS,
            zorder=3,
            family="DejaVu Sans",
        )
    for group in dict.fromkeys(box.group for box in boxes if box.group):
        members = [centre for box, centre in zip(boxes, centres) if box.group == group]
        xs, ys = [x for x, _ in members], [y for _, y in members]
        margin = 0.1
        axes.add_patch(
            Rectangle(
                (min(xs) - width / 2 - margin, min(ys) - height / 2 - margin),
                max(xs) - min(xs) + width + 2 * margin,
                max(ys) - min(ys) + height + 2 * margin,
                fill=False,
                linestyle="--",
                edgecolor="#777777",
                linewidth=0.8,
                zorder=1,
            )
        )
        axes.text(
            min(xs) - width / 2,
            max(ys) + height / 2 + margin,
            group,
            fontsize=7,
            color="#555555",
            va="bottom",
        )
    for polyline in polylines:
        points = list(polyline)
        points[0] = _clip_to_box(points[0], points[1], size)
        points[-1] = _clip_to_box(points[-1], points[-2], size)
        if len(points) > 2:
            xs, ys = zip(*points[:-1])
            axes.plot(xs, ys, color="#555555", linewidth=0.9, zorder=1)
        axes.add_patch(
            FancyArrowPatch(
                points[-2],
                points[-1],
                arrowstyle="-|>",
                mutation_scale=9,
                color="#555555",
                linewidth=0.9,
                shrinkA=0,
                shrinkB=0,
                zorder=1,
            )
        )
    return figure


def truncate(text, limit=MAX_LABEL_CHARS):
    """``text`` cut to ``limit`` characters with an ellipsis, so one long name does not
    widen every box.

    Example:
        >>> truncate("abcdef", 4)
        'abc…'
    """
    return text if len(text) <= limit else text[: limit - 1] + "…"
