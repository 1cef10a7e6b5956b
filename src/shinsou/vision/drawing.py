"""Pictures of the case studies: detections drawn on images, mask overlays, sample grids.

Each function builds a :class:`matplotlib.figure.Figure` directly (Agg, no ``pyplot``: no
global figure state, no GUI, safe in scripts and threads), saves it as a PNG when ``path``
is given, and returns it. Images may be ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``, floats
in [0, 1] or [-1, 1] (a generator's ``tanh`` output) or uint8; a batch ``(N, H, W[, C])``
gives a grid of panels. matplotlib is imported on first use (``pip install "shinsou[all]"``).

Example:
    >>> figure = image_grid(numpy.zeros((4, 8, 8)))
    >>> type(figure).__name__, len(figure.axes)
    ('Figure', 4)
"""

from __future__ import annotations

import math
import os

import numpy

from ..saving.atomic_files import atomic_write

__all__ = ["draw_detections", "draw_masks", "image_grid"]

_PANEL_INCHES = 3.0  # each image of draw_detections / draw_masks
_GRID_PANEL_INCHES = 1.0  # each image of image_grid
_DPI = 100


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            'shinsou.vision.drawing needs matplotlib: pip install "shinsou[all]"'
        ) from error
    return Figure


def _displayable(caller, images):
    """Images as float arrays in [0, 1], ``(N, H, W)`` grey or ``(N, H, W, 3)`` colour."""
    array = numpy.asarray(images)
    if array.dtype.kind not in "uif" or array.ndim not in (3, 4):
        raise ValueError(
            f"{caller}: expected images of shape (N, H, W), (N, H, W, 1) or (N, H, W, 3) "
            f"with numbers; got shape {array.shape} and dtype {array.dtype}"
        )
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 4 and array.shape[-1] != 3:
        raise ValueError(f"{caller}: images need 1 or 3 channels; got shape {array.shape}")
    if array.dtype == numpy.uint8:
        return array.astype(numpy.float32) / 255
    array = array.astype(numpy.float32)
    if array.size and array.min() < 0:  # [-1, 1], as a tanh generator produces
        array = (array + 1) / 2
    return numpy.clip(array, 0, 1)


def _as_batch(image):
    """A single image ``(H, W[, C])`` → a batch of one; a batch stays as is."""
    array = numpy.asarray(image)
    single = array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 3))
    return (array[None], True) if single else (array, False)


def _panel_grid(figure_class, count, rows, panel_inches, aspect, title, legend=False):
    """A figure with ``count`` image panels (axes off), room for a title above and a
    legend below; panels beyond ``count`` in the last row are removed."""
    rows = max(1, math.ceil(math.sqrt(count))) if rows is None else rows
    cols = max(1, math.ceil(count / rows))
    title_inches = 0.3 if title else 0.0
    legend_inches = 0.35 if legend else 0.0
    height = rows * panel_inches * aspect + title_inches + legend_inches
    figure = figure_class(figsize=(cols * panel_inches, height), dpi=_DPI)
    axes = figure.subplots(rows, cols, squeeze=False).reshape(-1)
    figure.subplots_adjust(
        left=0.01,
        right=0.99,
        bottom=0.01 + legend_inches / height,
        top=0.99 - title_inches / height,
        wspace=0.04,
        hspace=0.04,
    )
    if title:
        figure.suptitle(title, fontsize=10, y=1 - 0.1 * title_inches / height)
    for axis in axes[count:]:
        axis.remove()
    for axis in axes[:count]:
        axis.set_axis_off()
    return figure, axes[:count]


def _show(axis, image):
    if image.ndim == 2:
        axis.imshow(image, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        axis.imshow(image, interpolation="nearest")


def _class_colour(label):
    from matplotlib import colormaps

    return colormaps["tab10"](int(label) % 10)


def _class_name(label, class_names):
    if class_names is not None and 0 <= label < len(class_names):
        return str(class_names[label])
    return str(int(label))


def _save(figure, path):
    """Write ``figure`` to ``path`` as a PNG atomically (never a half-written picture)."""
    if path is not None:
        path = os.path.abspath(os.fspath(path))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with atomic_write(path) as temporary:
            figure.savefig(temporary, format="png", dpi=_DPI)
    return figure


def _check_rows(caller, rows):
    if rows is not None and (isinstance(rows, bool) or not isinstance(rows, int) or rows < 1):
        raise ValueError(f"{caller}: rows must be a positive int or None; got {rows!r}")


def draw_detections(
    image, boxes, labels, scores=None, class_names=None, path=None, rows=None, title=None
):
    """Draw boxes (xyxy pixels) with their class names and scores on an image.

    ``image`` ``(H, W[, C])`` with ``boxes`` ``(K, 4)``, ``labels`` ``(K,)`` and optional
    ``scores`` ``(K,)``; or a batch ``(N, H, W[, C])`` with ``(N, K, 4)``, ``(N, K)`` ...
    (padded, as :func:`shinsou.vision.boxes.pad_boxes` makes them, or lists per image),
    drawn as a grid of ``rows`` rows. Labels below 0 are padding and not drawn. Each class
    has its colour; the caption reads ``"circle 0.93"`` (with ``class_names``) or ``"0"``.

    Example:
        >>> figure = draw_detections(numpy.zeros((32, 32, 3)), [[4, 4, 20, 20]], [1],
        ...                          scores=[0.9], class_names=["circle", "square"])
        >>> [text.get_text() for text in figure.axes[0].texts]
        ['square 0.90']
    """
    caller = "draw_detections"
    images, single = _as_batch(image)
    images = _displayable(caller, images)
    if single:
        boxes, labels = [boxes], [labels]
        scores = None if scores is None else [scores]
    if len(boxes) != len(images) or len(labels) != len(images):
        raise ValueError(
            f"{caller}: got {len(images)} images but boxes for {len(boxes)} and labels for "
            f"{len(labels)}"
        )
    if scores is not None and len(scores) != len(images):
        raise ValueError(f"{caller}: got {len(images)} images but scores for {len(scores)}")
    _check_rows(caller, rows)
    from matplotlib.patches import Rectangle

    height, width = images.shape[1:3]
    figure, axes = _panel_grid(
        _figure_class(), len(images), rows, _PANEL_INCHES, height / width, title
    )
    for index, axis in enumerate(axes):
        _show(axis, images[index])
        image_boxes = numpy.asarray(boxes[index], numpy.float32).reshape(-1, 4)
        image_labels = numpy.asarray(labels[index]).reshape(-1)
        image_scores = None if scores is None else numpy.asarray(scores[index]).reshape(-1)
        if len(image_boxes) != len(image_labels) or (
            image_scores is not None and len(image_scores) != len(image_labels)
        ):
            raise ValueError(
                f"{caller}: image {index} has {len(image_boxes)} boxes and "
                f"{len(image_labels)} labels"
                + ("" if image_scores is None else f" and {len(image_scores)} scores")
            )
        for k, (x1, y1, x2, y2) in enumerate(image_boxes):
            label = int(image_labels[k])
            if label < 0:
                continue
            colour = _class_colour(label)
            # Pixel i spans [i - 0.5, i + 0.5] in imshow's coordinates.
            axis.add_patch(
                Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1, y2 - y1, fill=False, ec=colour, lw=1.5)
            )
            caption = _class_name(label, class_names)
            if image_scores is not None:
                caption += f" {float(image_scores[k]):.2f}"
            axis.text(
                x1 - 0.5,
                y1 - 0.5,
                caption,
                fontsize=7,
                color="white",
                va="bottom",
                clip_on=True,
                bbox={"facecolor": colour, "alpha": 0.8, "pad": 1, "edgecolor": "none"},
            )
    return _save(figure, path)


def draw_masks(image, mask, class_names=None, alpha=0.5, path=None, rows=None, title=None):
    """Overlay a per-pixel class mask on an image (shown in grey): each class but 0, the
    background, in its colour with opacity ``alpha``; a legend names the classes shown.

    ``mask`` is ``(H, W)`` class ids, or ``(H, W, C)`` class scores (argmax taken); a batch
    of images ``(N, H, W[, C])`` with masks ``(N, H, W[, C])`` gives a grid. With
    ``class_names`` (the object classes, as :data:`shinsou.datasets.shapes.CLASS_NAMES`)
    mask value ``k + 1`` is called ``class_names[k]``.

    Example:
        >>> mask = numpy.zeros((16, 16), "int32")
        >>> mask[4:12, 4:12] = 2
        >>> figure = draw_masks(numpy.ones((16, 16, 3)), mask, class_names=["circle", "square"])
        >>> [text.get_text() for text in figure.legends[0].get_texts()]
        ['square']
    """
    caller = "draw_masks"
    if not 0 <= alpha <= 1:
        raise ValueError(f"{caller}: alpha must lie in [0, 1]; got {alpha!r}")
    _check_rows(caller, rows)
    images, single = _as_batch(image)
    images = _displayable(caller, images)
    masks = numpy.asarray(mask)
    if single:
        masks = masks[None]
    if masks.ndim == 4:  # class scores
        masks = masks.argmax(axis=-1)
    if masks.shape != images.shape[:3]:
        raise ValueError(
            f"{caller}: masks of shape {masks.shape} do not fit images of shape "
            f"{images.shape[:3]}; expected (N, H, W) class ids or (N, H, W, C) scores"
        )
    masks = masks.astype(numpy.int64)
    from matplotlib.patches import Patch

    colours = numpy.array([_class_colour(k - 1)[:3] for k in range(int(masks.max(initial=0)) + 1)])
    shown = [k for k in numpy.unique(masks) if k > 0]
    height, width = images.shape[1:3]
    figure, axes = _panel_grid(
        _figure_class(), len(images), rows, _PANEL_INCHES, height / width, title, bool(shown)
    )
    for index, axis in enumerate(axes):
        # The image in grey under the overlay, so the class colours read unmixed.
        grey = images[index] if images.ndim == 3 else images[index].mean(axis=-1)
        grey = numpy.repeat(grey[..., None], 3, axis=-1)
        foreground = (masks[index] > 0)[..., None]
        blended = (1 - alpha) * grey + alpha * colours[masks[index]]
        _show(axis, numpy.where(foreground, blended, grey))
    if shown:
        handles = [Patch(color=colours[k], label=_class_name(k - 1, class_names)) for k in shown]
        figure.legend(
            handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False
        )
    return _save(figure, path)


def image_grid(images, rows=None, path=None, title=None):
    """Show a batch of images ``(N, H, W[, C])`` as a grid (generated samples, say).

    Values in [-1, 1] (any negative value) are mapped to [0, 1]; uint8 is divided by 255.
    ``rows`` defaults to about the square root of ``N``.

    Example:
        >>> figure = image_grid(numpy.linspace(-1, 1, 6 * 28 * 28).reshape(6, 28, 28), rows=2)
        >>> len(figure.axes), [int(v) for v in figure.get_size_inches()]
        (6, [3, 2])
    """
    caller = "image_grid"
    _check_rows(caller, rows)
    batch = _displayable(caller, images)
    if len(batch) == 0:
        raise ValueError(f"{caller}: no images to show (got an empty batch)")
    height, width = batch.shape[1:3]
    figure, axes = _panel_grid(
        _figure_class(), len(batch), rows, _GRID_PANEL_INCHES, height / width, title
    )
    for axis, picture in zip(axes, batch):
        _show(axis, picture)
    return _save(figure, path)
