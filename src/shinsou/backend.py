"""The array backend: which array library runs, the default float type, the random generator.

This is the only module that decides where arrays live. Every op asks for ``xp`` (NumPy
today; CuPy can take its place later without touching the ops), creates floats as
``floatx()`` and draws random numbers from ``rng()``.

Example:
    >>> from shinsou import backend
    >>> backend.floatx()
    'float32'
    >>> backend.set_seed(0)
    >>> a = backend.rng().random(3, dtype="float32")
    >>> backend.set_seed(0)
    >>> bool((a == backend.rng().random(3, dtype="float32")).all())
    True
"""

from __future__ import annotations

import numpy

xp = numpy
"""The array module every op computes with."""

_FLOAT_TYPES = ("float16", "float32", "float64")
_floatx = "float32"
_rng = numpy.random.default_rng()


def floatx() -> str:
    """Return the default float type as a string (``"float32"`` unless changed).

    Example:
        >>> floatx()
        'float32'
    """
    return _floatx


def set_floatx(dtype: str) -> None:
    """Set the default float type: one of ``"float16"``, ``"float32"``, ``"float64"``.

    Example:
        >>> set_floatx("float32")
    """
    global _floatx
    name = numpy.dtype(dtype).name if dtype not in _FLOAT_TYPES else dtype
    if name not in _FLOAT_TYPES:
        raise ValueError(f"set_floatx: unknown float type {dtype!r}; choose one of {_FLOAT_TYPES}")
    _floatx = name


def standardize_dtype(dtype) -> numpy.dtype:
    """Turn a dtype given as a string, a Python type or a NumPy dtype into a NumPy dtype.

    ``float`` and ``"float"`` mean :func:`floatx`; ``int`` means ``int64``.

    Example:
        >>> standardize_dtype("float32")
        dtype('float32')
        >>> standardize_dtype(float)
        dtype('float32')
    """
    if dtype is float or (isinstance(dtype, str) and dtype == "float"):
        return numpy.dtype(_floatx)
    if dtype is int or (isinstance(dtype, str) and dtype == "int"):
        return numpy.dtype("int64")
    if dtype is bool:
        return numpy.dtype("bool")
    if hasattr(dtype, "dtype") and not isinstance(dtype, numpy.dtype):
        dtype = dtype.dtype  # an array or tensor passed as the dtype source
    try:
        return numpy.dtype(dtype)
    except TypeError as error:
        raise TypeError(
            f"unknown dtype {dtype!r}; use a name such as 'float32' or 'int64'"
        ) from error


def is_floating(dtype) -> bool:
    """Whether ``dtype`` is a floating-point type (the only kind that carries gradients).

    Example:
        >>> is_floating("float32"), is_floating("int64")
        (True, False)
    """
    return numpy.dtype(dtype).kind == "f"  # issubdtype is several times slower


def epsilon() -> float:
    """The fuzz factor Keras adds to avoid dividing by zero (1e-7).

    Example:
        >>> epsilon()
        1e-07
    """
    return 1e-7


def image_data_format() -> str:
    """shinsou is channels-last, like Keras's default: ``"channels_last"``.

    Example:
        >>> image_data_format()
        'channels_last'
    """
    return "channels_last"


def clear_session() -> None:
    """Start default layer names afresh ("dense", "dense_1", ...), as Keras's does.

    Example:
        >>> clear_session()
    """
    from .utils.naming import clear_session as reset_names  # names live above the backend

    reset_names()


def rng() -> numpy.random.Generator:
    """The one random generator that dropout, noise and initializers draw from.

    Example:
        >>> rng().standard_normal(2, dtype="float32").dtype
        dtype('float32')
    """
    return _rng


def random_bits(generator: numpy.random.Generator, shape) -> numpy.ndarray:
    """Uniform random ``uint32`` values of ``shape`` straight from ``generator``'s bit stream.

    Half the time of float32 draws (two values per 64-bit output, no conversion): what
    dropout masks need, compared against an integer threshold.

    Example:
        >>> random_bits(numpy.random.default_rng(0), (2, 3)).dtype
        dtype('uint32')
    """
    count = 1
    for size in shape:
        count *= int(size)
    raw = generator.bit_generator.random_raw((count + 1) // 2)
    return raw.view(numpy.uint32)[:count].reshape(shape)


def set_seed(seed: int | None) -> None:
    """Re-seed the shared random generator so that runs repeat exactly.

    Example:
        >>> set_seed(42)
    """
    global _rng
    _rng = numpy.random.default_rng(seed)


def to_numpy(array) -> numpy.ndarray:
    """Bring a backend array to the host as a NumPy array (a no-op for NumPy).

    Example:
        >>> to_numpy(xp.ones(2)).tolist()
        [1.0, 1.0]
    """
    getter = getattr(array, "get", None)  # CuPy arrays copy to the host with .get()
    return getter() if callable(getter) else numpy.asarray(array)
