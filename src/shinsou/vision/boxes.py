"""Bounding boxes: format conversion, pairwise IoU, non-maximum suppression, grid encoding.

Boxes are NumPy arrays whose last axis holds 4 coordinates, in pixels unless the format
says ``rel_``. ``"xyxy"`` (left, top, right, bottom) is the format everything else in
:mod:`shinsou.vision` speaks; the others are reached with :func:`convert_format`. The
functions are plain NumPy (no autograd): they prepare targets and post-process predictions,
for one-stage grid detectors (:func:`encode_grid` / :func:`decode_grid`) as much as for
two-stage ones (proposals through :func:`iou` and :func:`nms`).

Example:
    >>> a = numpy.array([[0, 0, 10, 10], [5, 5, 15, 15]], "float32")
    >>> print(iou(a, a).round(4))
    [[1.     0.1429]
     [0.1429 1.    ]]
    >>> nms(a, numpy.array([0.9, 0.8]), iou_threshold=0.1).tolist()
    [0]
"""

from __future__ import annotations

import numpy

__all__ = [
    "BOX_FORMATS",
    "clip_boxes",
    "convert_format",
    "decode_grid",
    "encode_grid",
    "iou",
    "nms",
    "pad_boxes",
]

BOX_FORMATS = (
    "xyxy",
    "yxyx",
    "xywh",
    "center_xywh",
    "center_yxhw",
    "cxcywh",
    "rel_xyxy",
    "rel_yxyx",
    "rel_xywh",
    "rel_center_xywh",
)
"""The formats :func:`convert_format` knows: Keras's names plus torchvision's ``"cxcywh"``
(the same as ``"center_xywh"``). ``rel_`` formats are fractions of the image size."""

_ALIASES = {"cxcywh": "center_xywh"}
_IOU_CHUNK = 1 << 16  # IoU matrix entries computed at once: temporaries that fit in cache
_NMS_BLOCK = 1024  # ranked boxes per block in nms: bounds its IoU matrices to 4 MiB


def _as_float_boxes(caller, boxes, what="boxes"):
    array = numpy.asarray(boxes)
    if array.dtype.kind not in "iuf" or array.ndim == 0 or array.shape[-1] != 4:
        raise ValueError(
            f"{caller}: {what} must be a numeric array whose last axis holds 4 coordinates; "
            f"got shape {array.shape} and dtype {array.dtype}"
        )
    return array.astype(numpy.float32, copy=False)


def _check_format(caller, name):
    key = str(name).lower()
    if key not in BOX_FORMATS:
        raise ValueError(f"{caller}: unknown box format {name!r}; choose one of {BOX_FORMATS}")
    return _ALIASES.get(key, key)


def _to_xyxy(boxes, fmt):
    a, b, c, d = numpy.moveaxis(boxes, -1, 0)
    if fmt == "xyxy":
        corners = (a, b, c, d)
    elif fmt == "yxyx":
        corners = (b, a, d, c)
    elif fmt == "xywh":
        corners = (a, b, a + c, b + d)
    elif fmt == "center_xywh":
        corners = (a - c / 2, b - d / 2, a + c / 2, b + d / 2)
    else:  # center_yxhw
        corners = (b - d / 2, a - c / 2, b + d / 2, a + c / 2)
    return numpy.stack(corners, axis=-1)


def _from_xyxy(boxes, fmt):
    x1, y1, x2, y2 = numpy.moveaxis(boxes, -1, 0)
    if fmt == "xyxy":
        values = (x1, y1, x2, y2)
    elif fmt == "yxyx":
        values = (y1, x1, y2, x2)
    elif fmt == "xywh":
        values = (x1, y1, x2 - x1, y2 - y1)
    elif fmt == "center_xywh":
        values = ((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1)
    else:  # center_yxhw
        values = ((y1 + y2) / 2, (x1 + x2) / 2, y2 - y1, x2 - x1)
    return numpy.stack(values, axis=-1)


def convert_format(boxes, source, target, height=None, width=None, dtype="float32"):
    """Convert boxes (an array whose last axis holds 4 values) from ``source`` to ``target``.

    Formats (case-insensitive, see :data:`BOX_FORMATS`): ``"xyxy"`` (left, top, right,
    bottom), ``"yxyx"``, ``"xywh"`` (left, top, width, height), ``"center_xywh"`` (alias
    ``"cxcywh"``), ``"center_yxhw"``, and the ``rel_`` versions of the first four, which
    are fractions of the image and need ``height`` and ``width``. A dict with a ``"boxes"``
    entry (Keras's bounding-box dict) comes back as a copy with the boxes converted.

    Example:
        >>> boxes = numpy.array([[10, 20, 30, 40]])
        >>> convert_format(boxes, "xyxy", "xywh").tolist()
        [[10.0, 20.0, 20.0, 20.0]]
        >>> print(convert_format(boxes, "xyxy", "rel_xyxy", height=200, width=100))
        [[0.1 0.1 0.3 0.2]]
    """
    caller = "convert_format"
    if isinstance(boxes, dict):
        if "boxes" not in boxes:
            raise ValueError(f"{caller}: a dict of boxes needs a 'boxes' entry; got {list(boxes)}")
        return {**boxes, "boxes": convert_format(boxes["boxes"], source, target, height, width)}
    source, target = _check_format(caller, source), _check_format(caller, target)
    array = _as_float_boxes(caller, boxes)
    relative = source.startswith("rel_"), target.startswith("rel_")
    if any(relative) and (height is None or width is None):
        raise ValueError(
            f"{caller}: converting {source!r} to {target!r} needs the image height and width; "
            f"got height={height!r}, width={width!r}"
        )
    scale = numpy.array([width, height, width, height], numpy.float32) if any(relative) else None
    xyxy = _to_xyxy(array, source.removeprefix("rel_"))
    if relative[0]:
        xyxy = xyxy * scale
    if relative[1]:
        xyxy = xyxy / scale
    return _from_xyxy(xyxy, target.removeprefix("rel_")).astype(dtype, copy=False)


def iou(boxes_a, boxes_b, box_format="xyxy"):
    """Pairwise intersection over union: ``(..., N, 4)`` and ``(..., M, 4)`` → ``(..., N, M)``.

    Leading axes broadcast, so a batch of images compares image by image. Degenerate boxes
    (zero width or height) have IoU 0 with everything, themselves included.

    Example:
        >>> a = numpy.array([[0, 0, 2, 2]])
        >>> b = numpy.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6]])
        >>> print(iou(a, b).round(4))
        [[0.1429 1.     0.    ]]
    """
    caller = "iou"
    fmt = _check_format(caller, box_format)
    a = _as_float_boxes(caller, boxes_a, "boxes_a")
    b = _as_float_boxes(caller, boxes_b, "boxes_b")
    if a.ndim < 2 or b.ndim < 2:
        raise ValueError(
            f"{caller}: boxes_a and boxes_b must be (..., N, 4) arrays; got shapes "
            f"{a.shape} and {b.shape}"
        )
    if fmt != "xyxy":
        a, b = convert_format(a, fmt, "xyxy"), convert_format(b, fmt, "xyxy")
    return _pairwise_iou(a, b)


def _pairwise_iou(a, b):
    """IoU matrix of xyxy float boxes ``(..., N, 4)`` × ``(..., M, 4)``, no checks.

    Computed in the boxes' dtype: float32 here, float64 for the AP metrics (whose IoU
    thresholds must compare exactly as pycocotools' do).
    """
    shape = numpy.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-2])
    dtype = numpy.result_type(a, b)
    rows = max(1, _IOU_CHUNK // max(1, b.shape[-2]))
    if a.shape[-2] <= rows:
        return _iou_block(a, b, numpy.empty(shape, dtype))
    # Large matrices go a band of rows at a time so the temporaries stay in cache.
    out = numpy.empty(shape, dtype)
    for start in range(0, a.shape[-2], rows):
        _iou_block(a[..., start : start + rows, :], b, out[..., start : start + rows, :])
    return out


def _iou_block(a, b, out):
    # Contiguous coordinate columns and in-place steps on two (N, M) buffers: this is the
    # hot loop of NMS and AP matching, memory-bound on large matrices.
    ax1, ay1, ax2, ay2 = (numpy.ascontiguousarray(a[..., k])[..., :, None] for k in range(4))
    bx1, by1, bx2, by2 = (numpy.ascontiguousarray(b[..., k])[..., None, :] for k in range(4))
    inter = numpy.minimum(ax2, bx2)
    scratch = numpy.maximum(ax1, bx1)
    inter -= scratch
    numpy.maximum(inter, 0, out=inter)
    height = numpy.minimum(ay2, by2, out=scratch)
    height -= numpy.maximum(ay1, by1)
    numpy.maximum(height, 0, out=height)
    inter *= height
    union = numpy.add(_areas(a)[..., :, None], _areas(b)[..., None, :], out=height)
    union -= inter
    # A zero union means both boxes are empty, and then the intersection is 0 too.
    numpy.maximum(union, numpy.finfo(union.dtype).tiny, out=union)
    return numpy.divide(inter, union, out=out)


def _areas(boxes):
    """Areas of xyxy boxes; inverted boxes (right < left) count as empty."""
    width = numpy.maximum(boxes[..., 2] - boxes[..., 0], 0)
    return width * numpy.maximum(boxes[..., 3] - boxes[..., 1], 0)


def nms(
    boxes,
    scores,
    iou_threshold=0.5,
    score_threshold=None,
    max_outputs=None,
    labels=None,
    box_format="xyxy",
):
    """Greedy non-maximum suppression; returns the indices of the kept boxes, best first.

    Boxes are visited by decreasing score; each kept box removes every remaining box whose
    IoU with it is above ``iou_threshold``. With ``labels`` (one class id per box) only
    boxes of the same class suppress each other (class-aware NMS). Boxes scoring below
    ``score_threshold`` are dropped first; at most ``max_outputs`` indices are returned.
    The IoU matrices are computed a block of ranked boxes at a time (bounded memory); the
    greedy pass is one vectorised row update per kept box.

    Example:
        >>> boxes = numpy.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 0, 10, 10]])
        >>> scores = numpy.array([0.9, 0.8, 0.7])
        >>> nms(boxes, scores).tolist()
        [0]
        >>> nms(boxes, scores, labels=numpy.array([0, 1, 1])).tolist()
        [0, 1]
    """
    caller = "nms"
    fmt = _check_format(caller, box_format)
    boxes = _as_float_boxes(caller, boxes)
    scores = numpy.asarray(scores)
    if boxes.ndim != 2 or scores.shape != boxes.shape[:1]:
        raise ValueError(
            f"{caller}: expected boxes of shape (K, 4) and scores of shape (K,); got "
            f"{boxes.shape} and {scores.shape}"
        )
    if labels is not None:
        labels = numpy.asarray(labels)
        if labels.shape != scores.shape:
            raise ValueError(
                f"{caller}: labels must hold one class per box, shape {scores.shape}; got "
                f"{labels.shape}"
            )
    if max_outputs is not None and (isinstance(max_outputs, bool) or max_outputs < 0):
        raise ValueError(f"{caller}: max_outputs must be a non-negative int, got {max_outputs}")
    if fmt != "xyxy":
        boxes = convert_format(boxes, fmt, "xyxy")
    candidates = numpy.argsort(-scores, kind="stable")
    if score_threshold is not None:
        candidates = candidates[scores[candidates] >= score_threshold]
    limit = len(candidates) if max_outputs is None else min(max_outputs, len(candidates))
    ranked_boxes = boxes[candidates]
    ranked_labels = None if labels is None else labels[candidates]
    kept = []  # positions in the ranking
    for start in range(0, len(candidates), _NMS_BLOCK):
        if len(kept) >= limit:
            break
        stop = start + _NMS_BLOCK
        block = ranked_boxes[start:stop]
        block_labels = None if labels is None else ranked_labels[start:stop]
        alive = numpy.ones(len(block), bool)
        if kept:  # the boxes kept from earlier blocks suppress first
            overlap = _pairwise_iou(block, ranked_boxes[kept]) > iou_threshold
            if labels is not None:
                overlap &= block_labels[:, None] == ranked_labels[kept][None, :]
            alive = ~overlap.any(axis=1)
        spared = _pairwise_iou(block, block) <= iou_threshold  # spared[i, j]: i spares j
        if labels is not None:
            spared |= block_labels[:, None] != block_labels[None, :]
        position = 0
        while len(kept) < limit and position < len(block):
            position += int(alive[position:].argmax())
            if not alive[position]:
                break
            kept.append(start + position)
            position += 1
            alive[position:] &= spared[position - 1, position:]
    return candidates[kept].astype(numpy.intp)


def clip_boxes(boxes, image_shape):
    """Clip xyxy pixel boxes to an image of ``image_shape = (height, width)``.

    Example:
        >>> clip_boxes(numpy.array([[-3, 2, 70, 80]]), (64, 64)).tolist()
        [[0.0, 2.0, 64.0, 64.0]]
    """
    boxes = _as_float_boxes("clip_boxes", boxes)
    height, width = image_shape[:2]
    limits = numpy.array([width, height, width, height], numpy.float32)
    return numpy.clip(boxes, 0, limits)


def pad_boxes(boxes, labels, max_boxes=None):
    """Stack per-image lists of boxes ``(k_i, 4)`` and labels ``(k_i,)`` into padded arrays.

    Returns ``(boxes (N, max_boxes, 4) float32, labels (N, max_boxes) int32)``; padding
    rows have label -1 and zero boxes (the layout of :func:`shinsou.datasets.shapes.load_data`
    targets). ``max_boxes`` defaults to the largest count; images with more boxes than
    ``max_boxes`` raise. Already padded arrays pass through (re-padded to ``max_boxes``).

    Example:
        >>> b, l = pad_boxes([numpy.ones((2, 4)), numpy.zeros((0, 4))], [[1, 2], []])
        >>> b.shape, l.tolist()
        ((2, 2, 4), [[1, 2], [-1, -1]])
    """
    caller = "pad_boxes"
    if len(boxes) != len(labels):
        raise ValueError(f"{caller}: got {len(boxes)} images of boxes but {len(labels)} of labels")
    per_image = []
    for i, (image_boxes, image_labels) in enumerate(zip(boxes, labels)):
        image_boxes = _as_float_boxes(caller, numpy.reshape(image_boxes, (-1, 4)))
        image_labels = numpy.asarray(image_labels, numpy.int64).reshape(-1)
        if len(image_boxes) != len(image_labels):
            raise ValueError(
                f"{caller}: image {i} has {len(image_boxes)} boxes but {len(image_labels)} labels"
            )
        valid = image_labels >= 0  # already padded rows are dropped, then re-padded
        per_image.append((image_boxes[valid], image_labels[valid]))
    counts = [len(image_labels) for _, image_labels in per_image]
    size = max(counts, default=0) if max_boxes is None else max_boxes
    if counts and max(counts) > size:
        raise ValueError(
            f"{caller}: an image has {max(counts)} boxes, more than max_boxes={max_boxes}"
        )
    padded_boxes = numpy.zeros((len(per_image), size, 4), numpy.float32)
    padded_labels = numpy.full((len(per_image), size), -1, numpy.int32)
    for i, (image_boxes, image_labels) in enumerate(per_image):
        padded_boxes[i, : len(image_boxes)] = image_boxes
        padded_labels[i, : len(image_labels)] = image_labels
    return padded_boxes, padded_labels


def _grid_anchors(caller, anchors, cell):
    if anchors is None:
        return numpy.array([cell], numpy.float32)
    anchors = numpy.asarray(anchors, numpy.float32)
    if anchors.ndim != 2 or anchors.shape[1] != 2 or len(anchors) == 0 or (anchors <= 0).any():
        raise ValueError(
            f"{caller}: anchors must be an (A, 2) array of positive (width, height) pairs in "
            f"pixels; got shape {anchors.shape}"
        )
    return anchors


def _grid_geometry(caller, image_shape, grid_shape):
    try:
        height, width = (int(v) for v in image_shape[:2])
        rows, cols = (int(v) for v in grid_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"{caller}: image_shape must start with (height, width) and grid_shape be "
            f"(rows, cols); got {image_shape!r} and {grid_shape!r}"
        ) from None
    if min(height, width, rows, cols) <= 0:
        raise ValueError(
            f"{caller}: image_shape and grid_shape must be positive; got {image_shape!r} and "
            f"{grid_shape!r}"
        )
    return height, width, rows, cols


def encode_grid(boxes, labels, image_shape, grid_shape, anchors=None):
    """Assign padded ground-truth boxes to the cells (and anchors) of a detection grid.

    ``boxes`` ``(N, B, 4)`` xyxy pixels and ``labels`` ``(N, B)`` (-1 = padding) become, for
    a grid of ``grid_shape = (rows, cols)`` cells over an image of ``image_shape``:

    - ``"objectness"`` ``(N, rows, cols[, A])`` float32: 1 where a box is assigned;
    - ``"boxes"`` ``(N, rows, cols[, A], 4)`` float32 targets ``(tx, ty, tw, th)``: the box
      centre's offset inside its cell in [0, 1) and ``log(box size / anchor size)``;
    - ``"labels"`` ``(N, rows, cols[, A])`` int32: the class there, -1 elsewhere.

    A box goes to the cell holding its centre and, when ``anchors`` (``(A, 2)`` widths and
    heights in pixels) are given, to the anchor whose shape overlaps it best; then an anchor
    axis follows the grid axes. Without anchors the size is relative to one cell. When two
    boxes land on the same slot the smaller one keeps it. :func:`decode_grid` inverts this.

    Example:
        >>> target = encode_grid([[[8, 8, 24, 40]]], [[2]], (64, 64), (4, 4))
        >>> target["labels"][0, 1, 1].item(), target["objectness"].sum().item()
        (2, 1.0)
        >>> print(target["boxes"][0, 1, 1].round(3))
        [0.    0.5   0.    0.693]
    """
    caller = "encode_grid"
    boxes = _as_float_boxes(caller, boxes)
    labels = numpy.asarray(labels)
    if boxes.ndim != 3 or labels.shape != boxes.shape[:2]:
        raise ValueError(
            f"{caller}: expected padded boxes (N, B, 4) and labels (N, B); got shapes "
            f"{boxes.shape} and {labels.shape}"
        )
    height, width, rows, cols = _grid_geometry(caller, image_shape, grid_shape)
    cell = numpy.array([width / cols, height / rows], numpy.float32)
    anchor_sizes = _grid_anchors(caller, anchors, cell)
    count = len(anchor_sizes)
    objectness = numpy.zeros((len(boxes), rows, cols, count), numpy.float32)
    targets = numpy.zeros((len(boxes), rows, cols, count, 4), numpy.float32)
    classes = numpy.full((len(boxes), rows, cols, count), -1, numpy.int32)

    sizes = boxes[..., 2:] - boxes[..., :2]
    valid = (labels >= 0) & (sizes > 0).all(axis=-1)
    image_index, box_index = numpy.nonzero(valid)
    size = sizes[image_index, box_index]
    centre = (boxes[image_index, box_index, :2] + boxes[image_index, box_index, 2:]) / 2
    position = centre / cell  # in cell units: integer part = cell, fraction = offset
    col = numpy.clip(numpy.floor(position[:, 0]), 0, cols - 1).astype(numpy.intp)
    row = numpy.clip(numpy.floor(position[:, 1]), 0, rows - 1).astype(numpy.intp)
    # Shape-only IoU (boxes and anchors sharing a centre) picks each box's anchor.
    overlap = numpy.minimum(size[:, None], anchor_sizes[None]).prod(axis=-1)
    union = size.prod(axis=-1)[:, None] + anchor_sizes.prod(axis=-1)[None] - overlap
    anchor = numpy.argmax(overlap / union, axis=1)

    slot = ((image_index * rows + row) * cols + col) * count + anchor
    area = size.prod(axis=-1)
    order = numpy.lexsort((area, slot))  # by slot, smallest box first within a slot
    _, first = numpy.unique(slot[order], return_index=True)
    winners = order[first]
    where = (image_index[winners], row[winners], col[winners], anchor[winners])
    objectness[where] = 1
    offset = position[winners] - numpy.stack([col[winners], row[winners]], axis=-1)
    scale = numpy.log(size[winners] / anchor_sizes[anchor[winners]])
    targets[where] = numpy.concatenate([offset, scale], axis=-1)
    classes[where] = labels[image_index[winners], box_index[winners]]
    if anchors is None:
        objectness, targets, classes = objectness[..., 0], targets[..., 0, :], classes[..., 0]
    return {"objectness": objectness, "boxes": targets, "labels": classes}


def decode_grid(encoded, image_shape, anchors=None):
    """Turn grid box encodings ``(..., rows, cols[, A], 4)`` back into xyxy pixel boxes.

    ``encoded`` holds ``(tx, ty, tw, th)`` as :func:`encode_grid` writes them: a model
    predicting raw values passes ``tx, ty`` through a sigmoid first. The grid size comes
    from the array's shape; ``anchors`` must be the ones used for encoding (then the anchor
    axis is expected after the grid axes). The result has the input's shape.

    Example:
        >>> target = encode_grid([[[8, 8, 24, 40]]], [[2]], (64, 64), (4, 4))
        >>> decode_grid(target["boxes"], (64, 64))[0, 1, 1].tolist()
        [8.0, 8.0, 24.0, 40.0]
    """
    caller = "decode_grid"
    encoded = _as_float_boxes(caller, encoded, "encoded")
    grid_axis = -3 if anchors is None else -4
    if encoded.ndim < -grid_axis:
        layout = "(..., rows, cols, 4)" if anchors is None else "(..., rows, cols, A, 4)"
        raise ValueError(f"{caller}: expected encodings of shape {layout}; got {encoded.shape}")
    rows, cols = encoded.shape[grid_axis], encoded.shape[grid_axis + 1]
    height, width, rows, cols = _grid_geometry(caller, image_shape, (rows, cols))
    cell = numpy.array([width / cols, height / rows], numpy.float32)
    anchor_sizes = _grid_anchors(caller, anchors, cell)
    if anchors is None:
        anchor_sizes = anchor_sizes[0]
    elif encoded.shape[-2] != len(anchor_sizes):
        raise ValueError(
            f"{caller}: encodings have {encoded.shape[-2]} anchors on their anchor axis but "
            f"{len(anchor_sizes)} anchors were given"
        )
    grid_y, grid_x = numpy.meshgrid(
        numpy.arange(rows, dtype=numpy.float32),
        numpy.arange(cols, dtype=numpy.float32),
        indexing="ij",
    )
    corner = numpy.stack([grid_x, grid_y], axis=-1)  # (rows, cols, 2): each cell's corner
    if anchors is not None:
        corner = corner[:, :, None, :]
    centre = (encoded[..., :2] + corner) * cell
    half = numpy.exp(encoded[..., 2:]) * anchor_sizes / 2
    return numpy.concatenate([centre - half, centre + half], axis=-1)
