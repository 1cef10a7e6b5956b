"""Scenes of coloured shapes for detection and segmentation, generated on the spot.

Each image shows 1–4 (``min_objects``–``max_objects``) circles, squares and triangles of
random size, colour, position and rotation on a textured, noisy background: a colour
gradient, a smooth random texture, thin lines and specks that are clutter, not objects,
and pixel noise over everything. Objects may overlap; an object drawn later hides the ones
below it, and one left less than ``min_visible`` visible is not drawn at all. Every target
describes what is visible: the box is the tight box of the object's visible pixels and the
mask holds, per pixel, the class of the object seen there.

Nothing is downloaded: the scenes are drawn with vectorised NumPy (about a second for
2,000 images of 64×64) and are the same for the same arguments and seed.

Example:
    >>> (x_train, y_train), (x_test, y_test) = load_data(n_train=8, n_test=2, image_size=32)
    >>> x_train.shape, x_train.dtype, sorted(y_train)
    ((8, 32, 32, 3), dtype('float32'), ['boxes', 'labels', 'masks'])
    >>> y_train["boxes"].shape, y_train["labels"].shape, y_train["masks"].shape
    ((8, 4, 4), (8, 4), (8, 32, 32))
    >>> CLASS_NAMES
    ('circle', 'square', 'triangle')
"""

from __future__ import annotations

import math

import numpy

__all__ = ["CLASS_NAMES", "load_data"]

CLASS_NAMES = ("circle", "square", "triangle")
"""The object classes; label ``k`` is ``CLASS_NAMES[k]`` and mask value ``k + 1``."""

# Shape geometry per class, in units of an object's "radius" r (the circle's radius). The
# square and triangle are scaled to look about as large as the circle.
_SQUARE_HALF_SIDE = 0.9
_TRIANGLE_CIRCUMRADIUS = 1.4
_EXTENT = numpy.array([1.0, _SQUARE_HALF_SIDE * math.sqrt(2), _TRIANGLE_CIRCUMRADIUS])
"""The farthest any pixel of each class lies from the object's centre, per unit radius."""

_CHUNK_PIXELS = 1 << 21  # images rendered at once: about 24 MiB of float32 RGB per chunk
_TEXTURE_CELLS = 6  # the smooth background texture is bilinear noise on a 6×6 lattice
_LINES = 2  # clutter line slots per image (each present with probability 1/2)
_SPECKS = 6  # clutter speck slots per image (each present with probability 1/2)


def load_data(
    n_train=2000,
    n_test=500,
    image_size=64,
    seed=0,
    max_objects=4,
    min_objects=1,
    size_range=(0.08, 0.2),
    min_visible=0.75,
):
    """Generate the shapes dataset as ``(x_train, y_train), (x_test, y_test)``.

    ``x``: float32 images ``(N, image_size, image_size, 3)`` in [0, 1]. ``y``: a dict with

    - ``"boxes"``: float32 ``(N, max_objects, 4)``, xyxy in pixels (a box covering pixel
      columns 3–9 has x1 = 3, x2 = 10), tight around each object's visible pixels;
    - ``"labels"``: int32 ``(N, max_objects)``, an index into :data:`CLASS_NAMES`, -1
      for padding rows (their boxes are zeros); objects come bottom-most first;
    - ``"masks"``: int32 ``(N, image_size, image_size)``, 0 for background, ``k + 1``
      where an object of class ``k`` is seen.

    Each image draws between ``min_objects`` and ``max_objects`` objects of radius
    ``size_range`` (fractions of the image size), all inside the frame; objects less than
    ``min_visible`` visible after later ones are drawn over them are left out (so an image
    may end up with fewer, never with none). The training and test sets come from
    separate random streams of ``seed``: changing ``n_train`` does not change the test set.

    Example:
        >>> (x, y), _ = load_data(n_train=4, n_test=0, image_size=48, seed=1)
        >>> float(x.min()) >= 0 and float(x.max()) <= 1, y["labels"].dtype
        (True, dtype('int32'))
        >>> counts = (y["labels"] >= 0).sum(axis=1)
        >>> bool((counts >= 1).all() and (counts <= 4).all())
        True
    """
    caller = "shapes.load_data"
    for name, value, low in (("n_train", n_train, 0), ("n_test", n_test, 0)):
        _check_int(caller, name, value, low)
    _check_int(caller, "image_size", image_size, 16)
    _check_int(caller, "max_objects", max_objects, 1)
    _check_int(caller, "min_objects", min_objects, 1)
    if min_objects > max_objects:
        raise ValueError(
            f"{caller}: min_objects ({min_objects}) must not exceed max_objects ({max_objects})"
        )
    try:
        low, high = (float(v) for v in size_range)
    except (TypeError, ValueError):
        raise ValueError(f"{caller}: size_range must be (low, high); got {size_range!r}") from None
    largest = 0.5 / _EXTENT.max()  # a larger radius cannot fit the frame
    if not 0 < low <= high <= largest:
        raise ValueError(
            f"{caller}: size_range must satisfy 0 < low <= high <= {largest:.3f} (fractions of "
            f"the image size); got {size_range!r}"
        )
    if not 0 <= min_visible <= 1:
        raise ValueError(f"{caller}: min_visible must lie in [0, 1]; got {min_visible!r}")
    options = {
        "image_size": image_size,
        "objects": (min_objects, max_objects),
        "size_range": (low, high),
        "min_visible": float(min_visible),
    }
    train_stream, test_stream = numpy.random.SeedSequence(seed).spawn(2)
    return (
        _generate(n_train, numpy.random.default_rng(train_stream), options),
        _generate(n_test, numpy.random.default_rng(test_stream), options),
    )


def _check_int(caller, name, value, low):
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < low:
        raise ValueError(f"{caller}: {name} must be an int >= {low}; got {value!r}")


def _generate(count, rng, options):
    size, max_objects = options["image_size"], options["objects"][1]
    images = numpy.empty((count, size, size, 3), numpy.float32)
    boxes = numpy.empty((count, max_objects, 4), numpy.float32)
    labels = numpy.empty((count, max_objects), numpy.int32)
    masks = numpy.empty((count, size, size), numpy.int32)
    chunk = max(1, _CHUNK_PIXELS // (size * size))
    for start in range(0, count, chunk):
        part = slice(start, min(start + chunk, count))
        n = part.stop - part.start
        _background(rng, n, size, images[part])
        _draw_objects(rng, images[part], boxes[part], labels[part], masks[part], options)
        images[part] += _pixel_noise(rng, images[part].shape)
    numpy.clip(images, 0, 1, out=images)
    return images, {"boxes": boxes, "labels": labels, "masks": masks}


def _pixel_noise(rng, shape):
    """Uniform float32 noise with a per-image standard deviation drawn in [0.02, 0.07].

    Raw random bits read as int8 are ~15x faster than ``standard_normal`` on an image
    batch, and pixel noise need not be Gaussian.
    """
    count = math.prod(shape)
    raw = rng.bit_generator.random_raw(-(-count // 8)).view(numpy.int8)[:count]
    scale = rng.uniform(0.02, 0.07, (shape[0],) + (1,) * (len(shape) - 1)) * math.sqrt(3) / 128
    return raw.reshape(shape) * scale.astype(numpy.float32)


def _hsv_to_rgb(hue, saturation, value):
    """RGB float32 ``(..., 3)`` of HSV arrays with values in [0, 1]."""
    sector = hue[..., None] * 6 - numpy.array([5, 3, 1], numpy.float32)  # R, G, B phases
    ramp = numpy.clip(numpy.abs(numpy.mod(sector, 6) - 3) - 1, 0, 1)
    return (value[..., None] * (1 - saturation[..., None] * (1 - ramp))).astype(numpy.float32)


def _random_colours(rng, shape, saturation, value):
    hue = rng.random(shape, numpy.float32)
    return _hsv_to_rgb(hue, rng.uniform(*saturation, shape), rng.uniform(*value, shape))


def _pixel_centres(size):
    return numpy.arange(size, dtype=numpy.float32) + numpy.float32(0.5)


def _bilinear_matrix(size, cells):
    """(size, cells) weights that upsample a lattice of ``cells`` points to ``size`` pixels."""
    position = numpy.clip(_pixel_centres(size) * (cells / size) - 0.5, 0, cells - 1)
    below = numpy.minimum(numpy.floor(position).astype(numpy.intp), cells - 2)
    fraction = position - below
    weights = numpy.zeros((size, cells), numpy.float32)
    weights[numpy.arange(size), below] = 1 - fraction
    weights[numpy.arange(size), below + 1] = fraction
    return weights


def _background(rng, n, size, out):
    """Muted two-colour gradients with a smooth colour texture, then thin lines and specks.

    Gradient and texture are both values on a coarse lattice, upsampled bilinearly (which
    keeps a linear gradient linear) by two small matrix products that write the
    channels-last images directly into ``out`` (n, S, S, 3).
    """
    cells = _TEXTURE_CELLS
    start, end = (_random_colours(rng, (n,), (0.0, 0.35), (0.15, 0.85)) for _ in range(2))
    angle = rng.uniform(0, 2 * math.pi, (n, 1, 1))
    lattice_points = (numpy.arange(cells) + 0.5) / cells - 0.5
    along = lattice_points[None, None, :] * numpy.cos(angle)
    along = along + lattice_points[None, :, None] * numpy.sin(angle) + 0.5  # (n, G, G)
    lattice = start[:, None, None, :] + (end - start)[:, None, None, :] * along[..., None]
    texture = rng.standard_normal((n, cells, cells, 3)) * rng.uniform(0.03, 0.1, (n, 1, 1, 1))
    lattice = (lattice + texture).astype(numpy.float32).reshape(n, cells, cells * 3)
    upsample = _bilinear_matrix(size, cells)
    # Two plain 2-D GEMMs (batched matmuls of small matrices were erratic in OpenBLAS,
    # up to 3 s for 128 images of 128x128): along y for all images at once, then along x
    # with kron(upsample, I3), which interpolates while keeping the 3 channels apart.
    along_y = upsample @ numpy.moveaxis(lattice, 1, 0).reshape(cells, n * cells * 3)
    along_y = numpy.ascontiguousarray(along_y.reshape(size, n, cells * 3).swapaxes(0, 1))
    upsample_x = numpy.kron(upsample, numpy.eye(3, dtype=numpy.float32))
    numpy.matmul(
        along_y.reshape(n * size, cells * 3), upsample_x.T, out=out.reshape(n * size, size * 3)
    )
    _draw_lines(rng, out, size)
    _draw_specks(rng, out, size)


def _draw_lines(rng, images, size):
    n = len(images)
    coordinates = _pixel_centres(size)
    for _ in range(_LINES):
        present = numpy.flatnonzero(rng.random(n) < 0.5)
        ends = rng.uniform(0, size, (n, 4)).astype(numpy.float32)[present]
        half_width = rng.uniform(0.5, 1.1, n).astype(numpy.float32)[present]
        colour = _random_colours(rng, (n,), (0.0, 1.0), (0.1, 1.0))[present]
        alpha = rng.uniform(0.3, 0.8, n).astype(numpy.float32)[present]
        # Distance from each pixel centre to the segment: project onto it, clamp, measure.
        ax, ay, bx, by = (ends[:, k, None, None] for k in range(4))
        dx, dy = bx - ax, by - ay
        px, py = coordinates[None, None, :] - ax, coordinates[None, :, None] - ay
        length2 = numpy.maximum(dx * dx + dy * dy, 1e-6)
        t = numpy.clip((px * dx + py * dy) / length2, 0, 1)
        on_line = (px - t * dx) ** 2 + (py - t * dy) ** 2 <= half_width[:, None, None] ** 2
        image, row, col = _true_pixels(on_line)
        weight = alpha[image, None]
        target = present[image]
        images[target, row, col] = (1 - weight) * images[target, row, col] + weight * colour[image]


def _draw_specks(rng, images, size):
    """Single pixels and small plus signs: clutter well below any object's size."""
    n = len(images)
    present = rng.random((n, _SPECKS)) < 0.5
    centre = rng.integers(0, size, (n, _SPECKS, 2))
    plus = rng.random((n, _SPECKS)) < 0.5
    colour = _random_colours(rng, (n, _SPECKS), (0.0, 1.0), (0.0, 1.0))
    offsets = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
    for index, (dy, dx) in enumerate(offsets):
        chosen = present & (plus if index else True)
        image, slot = numpy.nonzero(chosen)
        row = numpy.clip(centre[image, slot, 0] + dy, 0, size - 1)
        col = numpy.clip(centre[image, slot, 1] + dx, 0, size - 1)
        images[image, row, col] = colour[image, slot]


def _inside(kind, radius, centre, angle, coordinates):
    """Boolean (m, S, S): which pixel centres lie inside each of m objects of one class."""
    dx = coordinates[None, None, :] - centre[:, 0, None, None]  # (m, 1, S)
    dy = coordinates[None, :, None] - centre[:, 1, None, None]  # (m, S, 1)
    radius = radius[:, None, None]
    if kind == 0:  # circle
        return dx * dx + dy * dy <= radius * radius
    if kind == 1:  # square: both rotated coordinates within the half side
        cos, sin = numpy.cos(angle)[:, None, None], numpy.sin(angle)[:, None, None]
        half = radius * _SQUARE_HALF_SIDE
        return (numpy.abs(dx * cos + dy * sin) <= half) & (numpy.abs(dy * cos - dx * sin) <= half)
    # Equilateral triangle: inside all three half-planes at the inradius (half the circumradius).
    inradius = radius * (_TRIANGLE_CIRCUMRADIUS / 2)
    inside = None
    for edge in range(3):
        normal = angle + numpy.float32(2 * math.pi / 3) * edge
        cos, sin = numpy.cos(normal)[:, None, None], numpy.sin(normal)[:, None, None]
        half_plane = dx * cos + dy * sin <= inradius
        inside = half_plane if inside is None else inside & half_plane
    return inside


def _draw_objects(rng, images, boxes, labels, masks, options):
    """Draw objects top-down so occlusion is known before anything is painted, then fill
    the boxes, labels and masks (compacted: kept objects first, then padding)."""
    n, size = len(images), options["image_size"]
    min_objects, max_objects = options["objects"]
    count = rng.integers(min_objects, max_objects + 1, n)
    active = numpy.arange(max_objects)[None, :] < count[:, None]
    kind = rng.integers(0, len(CLASS_NAMES), (n, max_objects))
    radius = rng.uniform(*options["size_range"], (n, max_objects)) * size
    extent = radius * _EXTENT[kind]
    centre = extent[..., None] + rng.random((n, max_objects, 2)) * (size - 2 * extent)[..., None]
    radius, centre = radius.astype(numpy.float32), centre.astype(numpy.float32)
    angle = rng.uniform(0, 2 * math.pi, (n, max_objects)).astype(numpy.float32)
    colour = _random_colours(rng, (n, max_objects), (0.55, 1.0), (0.55, 1.0))
    shading = rng.uniform(0, 2 * math.pi, (n, max_objects)).astype(numpy.float32)

    coordinates = _pixel_centres(size)
    covered = numpy.zeros((n, size, size), bool)  # pixels of kept objects drawn above
    kept = numpy.zeros((n, max_objects), bool)
    slot_boxes = numpy.zeros((n, max_objects, 4), numpy.float32)
    masks[...] = 0
    for slot in reversed(range(max_objects)):  # top-most first
        inside = numpy.zeros((n, size, size), bool)
        for k in range(len(CLASS_NAMES)):
            chosen = numpy.flatnonzero(active[:, slot] & (kind[:, slot] == k))
            inside[chosen] = _inside(
                k, radius[chosen, slot], centre[chosen, slot], angle[chosen, slot], coordinates
            )
        visible = inside & ~covered
        area = inside.sum(axis=(1, 2))
        seen = visible.sum(axis=(1, 2))
        keep = active[:, slot] & (seen >= options["min_visible"] * area) & (seen > 0)
        kept[:, slot] = keep
        visible &= keep[:, None, None]
        covered |= inside & keep[:, None, None]
        slot_boxes[:, slot] = _tight_boxes(visible)

        image, row, col = _true_pixels(visible)
        masks[image, row, col] = kind[image, slot] + 1
        # A soft linear shading across the object, so it is not one flat colour.
        direction = shading[image, slot]
        offset = (coordinates[col] - centre[image, slot, 0]) * numpy.cos(direction)
        offset += (coordinates[row] - centre[image, slot, 1]) * numpy.sin(direction)
        shade = 1 + numpy.float32(0.25) * offset / radius[image, slot]
        images[image, row, col] = colour[image, slot] * shade[:, None]

    order = numpy.argsort(~kept, axis=1, kind="stable")  # kept objects first, bottom-up
    kept_sorted = numpy.take_along_axis(kept, order, axis=1)
    labels[...] = numpy.where(kept_sorted, numpy.take_along_axis(kind, order, axis=1), -1)
    boxes[...] = numpy.take_along_axis(slot_boxes, order[..., None], axis=1)
    boxes[~kept_sorted] = 0


def _true_pixels(flags):
    """(image, row, col) indices of the True entries of an (n, S, S) bool array.

    One flat search and a divmod: about 4x faster than ``numpy.nonzero`` in 3-D.
    """
    _, rows, cols = flags.shape
    flat = numpy.flatnonzero(flags)
    image, pixel = numpy.divmod(flat, rows * cols)
    row, col = numpy.divmod(pixel, cols)
    return image, row, col


def _tight_boxes(visible):
    """xyxy pixel boxes (n, 4) around each image's True pixels (zeros where none)."""
    size = visible.shape[-1]
    columns, rows = visible.any(axis=1), visible.any(axis=2)
    x1, y1 = columns.argmax(axis=1), rows.argmax(axis=1)
    x2, y2 = size - columns[:, ::-1].argmax(axis=1), size - rows[:, ::-1].argmax(axis=1)
    boxes = numpy.stack([x1, y1, x2, y2], axis=1).astype(numpy.float32)
    boxes[~columns.any(axis=1)] = 0
    return boxes
