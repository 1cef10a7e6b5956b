"""What every picture of :mod:`shinsou.viz` shares: a matplotlib Figure on the Agg canvas
(imported on first use, no ``pyplot``, so no display and no global state), its atomic save
as a PNG, and the conversion of images to something ``imshow`` shows.

Example:
    >>> figure = new_figure((2, 1))
    >>> type(figure).__name__, figure.get_size_inches().tolist()
    ('Figure', [2.0, 1.0])
"""

from __future__ import annotations

import os

import numpy

from ..saving.atomic_files import atomic_write

INSTALL_HINT = 'pip install "shinsou[all]"'
DEFAULT_DPI = 100
# Agg refuses images above 2**16 pixels a side; stay well below so memory stays sane too.
MAX_PIXELS_PER_SIDE = 30_000


def new_figure(figsize, caller="shinsou.viz"):
    """A ``matplotlib.figure.Figure`` of ``figsize`` inches with an Agg canvas attached."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(f"{caller} needs matplotlib: {INSTALL_HINT}") from error
    figure = Figure(figsize=figsize, dpi=DEFAULT_DPI)
    FigureCanvasAgg(figure)
    return figure


def save_png(figure, to_file, dpi=DEFAULT_DPI, caller="shinsou.viz"):
    """Write ``figure`` to ``to_file`` as a PNG atomically (a temporary file in the same
    folder, then ``os.replace``), so a crash leaves any previous picture intact. Nothing is
    written when ``to_file`` is None. The resolution is lowered when ``dpi`` would make the
    picture larger than Agg can draw."""
    if to_file is None:
        return
    if not isinstance(to_file, (str, os.PathLike)):
        raise TypeError(f"{caller}: to_file must be a path or None; received {to_file!r}")
    path = os.fspath(to_file)
    width, height = figure.get_size_inches()
    dpi = min(float(dpi), MAX_PIXELS_PER_SIDE / max(width, height, 1e-6))
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{caller}: the folder of to_file does not exist: {folder}")
    with atomic_write(os.path.abspath(path)) as temporary:
        figure.savefig(temporary, format="png", dpi=dpi)


def check_choice(caller, name, value, choices):
    """Raise a ValueError naming ``caller`` unless ``value`` is one of ``choices``.

    Example:
        >>> check_choice("plot_x", "normalize", "rows", (None, "true"))
        Traceback (most recent call last):
        ...
        ValueError: plot_x: normalize must be one of (None, 'true'); received 'rows'
    """
    if value not in choices:
        raise ValueError(f"{caller}: {name} must be one of {choices}; received {value!r}")


def as_numpy(caller, name, value):
    """A NumPy array of numbers from an array, a list or a shinsou Tensor."""
    try:
        array = numpy.asarray(value)
    except TypeError as error:
        raise TypeError(f"{caller}: {name} must be an array; received {value!r}") from error
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{caller}: {name} must hold numbers; received dtype {array.dtype} "
            f"(shape {array.shape})"
        )
    return array


def displayable_images(caller, images):
    """A batch of images as float32 in [0, 1]: ``(N, H, W)`` grey or ``(N, H, W, 3)``.

    Accepts ``(N, H, W)``, ``(N, H, W, 1)`` and ``(N, H, W, 3)``; uint8 is divided by 255,
    floats in [-1, 1] (a tanh output) are mapped to [0, 1], other floats are scaled by
    their minimum and maximum.

    Example:
        >>> displayable_images("f", numpy.full((2, 4, 4, 1), 255, "uint8")).shape
        (2, 4, 4)
    """
    array = as_numpy(caller, "images", images)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (3, 4) or (array.ndim == 4 and array.shape[-1] != 3):
        raise ValueError(
            f"{caller}: images must have shape (N, H, W), (N, H, W, 1) or (N, H, W, 3); "
            f"received shape {array.shape}"
        )
    if array.dtype == numpy.uint8:
        return array.astype(numpy.float32) / numpy.float32(255)
    array = array.astype(numpy.float32)
    low, high = (float(array.min()), float(array.max())) if array.size else (0.0, 1.0)
    if low >= 0 and high <= 1:
        return array
    if low >= -1 and high <= 1:
        return (array + 1) / 2
    return (array - low) / max(high - low, 1e-12)


def hide_axes(axes):
    """No ticks or spines: a panel that only shows an image."""
    axes.set_xticks([])
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_visible(False)
