"""Random ops with ``keras.random``'s names and semantics: dropout and the samplers.

Everything draws from ``shinsou.backend.rng()`` (re-seeded by ``backend.set_seed``) unless
a ``seed`` is given: an int makes a fresh generator from that seed, so the same seed gives
the same numbers; a ``numpy.random.Generator`` is drawn from (and advanced) directly, which
is how a layer can own a reproducible stream. Samples are float32 unless ``dtype`` says
otherwise, and are drawn in float32 (never via float64).

Example:
    >>> from shinsou import ops
    >>> a = ops.uniform((2, 3), seed=7)
    >>> b = ops.uniform((2, 3), seed=7)
    >>> a.dtype.name, bool((a.numpy() == b.numpy()).all())
    ('float32', True)
"""

from __future__ import annotations

import numbers

from .. import backend, native
from ..backend import xp
from ..tensor import Tensor, as_tensor, record, tensor  # noqa: F401 - tensor for examples
from ._helpers import require_float

__all__ = ["dropout", "normal", "truncated_normal", "uniform"]

# numpy's Generator draws float32 and float64 natively; other float types are cast after.
_NATIVE_FLOATS = ("float32", "float64")


def _generator(seed, op_name):
    """The generator to draw from: the shared one, a fresh seeded one, or the one given."""
    if seed is None:
        return backend.rng()
    if isinstance(seed, xp.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(
            f"{op_name}: seed must be an int, a numpy.random.Generator or None; "
            f"got {type(seed).__name__}"
        )
    if seed < 0:
        raise ValueError(f"{op_name}: seed must be a non-negative int; got {seed}")
    return xp.random.default_rng(int(seed))


def _float_dtype(dtype, op_name):
    dtype = backend.standardize_dtype(backend.floatx() if dtype is None else dtype)
    if not backend.is_floating(dtype):
        raise ValueError(f"{op_name}: requires a floating-point dtype; got dtype={dtype.name}")
    return dtype


def _shape(shape, op_name):
    dims = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if not all(isinstance(d, numbers.Integral) and d >= 0 for d in dims):
        raise ValueError(f"{op_name}: shape must be a tuple of non-negative ints; got {shape!r}")
    return tuple(int(d) for d in dims)


def _draw(sample, shape, dtype):
    """``sample(shape, dtype)`` in ``dtype``, drawn natively in float32/float64."""
    if dtype.name in _NATIVE_FLOATS:
        return sample(shape, dtype)
    return sample(shape, xp.dtype("float32")).astype(dtype)


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Tensor:
    """Samples from a normal distribution with the given ``mean`` and ``stddev``.

    Example:
        >>> normal((2, 2), seed=0).shape
        (2, 2)
    """
    op_name = "normal"
    shape, dtype = _shape(shape, op_name), _float_dtype(dtype, op_name)
    generator = _generator(seed, op_name)
    values = _draw(lambda s, d: generator.standard_normal(s, dtype=d), shape, dtype)
    values *= float(stddev)  # Python floats: weak, never promote float32 to float64
    values += float(mean)
    return Tensor._wrap(values)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None) -> Tensor:
    """Samples from a uniform distribution on ``[minval, maxval)``.

    Example:
        >>> u = uniform((1000,), minval=-2.0, maxval=2.0, seed=0).numpy()
        >>> bool(u.min() >= -2.0 and u.max() < 2.0)
        True
    """
    op_name = "uniform"
    shape, dtype = _shape(shape, op_name), _float_dtype(dtype, op_name)
    minval, maxval = float(minval), float(maxval)
    if maxval < minval:
        raise ValueError(f"{op_name}: maxval ({maxval}) must not be below minval ({minval})")
    generator = _generator(seed, op_name)
    values = _draw(lambda s, d: generator.random(s, dtype=d), shape, dtype)
    values *= maxval - minval
    values += minval
    if maxval > minval:
        # Rounding of u * (maxval - minval) + minval can land on maxval itself; keep the
        # interval half-open as documented.
        below_max = xp.nextafter(xp.asarray(maxval, dtype), xp.asarray(minval, dtype))
        xp.minimum(values, below_max, out=values)
    return Tensor._wrap(values)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Tensor:
    """Normal samples with those more than two ``stddev`` from ``mean`` redrawn.

    Example:
        >>> t = truncated_normal((1000,), stddev=0.5, seed=0).numpy()
        >>> bool(abs(t).max() <= 1.0)
        True
    """
    op_name = "truncated_normal"
    shape, dtype = _shape(shape, op_name), _float_dtype(dtype, op_name)
    generator = _generator(seed, op_name)

    def sample(shape, dtype):
        values = generator.standard_normal(shape, dtype=dtype)
        flat = values.reshape(-1)
        outside = xp.flatnonzero(xp.abs(flat) > 2)
        while outside.size:  # about 4.6% per round: a few short rounds
            redrawn = generator.standard_normal(outside.size, dtype=dtype)
            inside = xp.abs(redrawn) <= 2
            flat[outside[inside]] = redrawn[inside]
            outside = outside[~inside]
        return values

    values = _draw(sample, shape, dtype)
    values *= float(stddev)
    values += float(mean)
    return Tensor._wrap(values)


def _noise_shape(noise_shape, shape):
    """``noise_shape`` with ``None`` entries filled from ``shape``, checked to broadcast."""
    if noise_shape is None:
        return shape
    dims = tuple(noise_shape)
    if len(dims) != len(shape):
        raise ValueError(
            f"dropout: noise_shape {tuple(noise_shape)} must have one entry per axis of the "
            f"input of shape {shape}"
        )
    dims = tuple(size if d is None else int(d) for d, size in zip(dims, shape))
    if any(d not in (1, size) for d, size in zip(dims, shape)):
        raise ValueError(
            f"dropout: noise_shape {tuple(noise_shape)} does not broadcast to the input of shape "
            f"{shape}; each entry must be 1, None or the input's size on that axis"
        )
    return dims


def dropout(inputs, rate, noise_shape=None, seed=None) -> Tensor:
    """Zero each element with probability ``rate``; scale the kept ones by ``1 / (1 - rate)``.

    ``noise_shape`` shapes the random mask, which then broadcasts over ``inputs``:
    ``(N, 1, 1, C)`` drops whole channels of an NHWC image (spatial dropout); ``None``
    entries mean the input's size. ``rate == 0`` returns ``inputs`` unchanged. The gradient
    is the same scaled mask.

    Example:
        >>> y = dropout(tensor([[1.0, 1.0, 1.0, 1.0]]), rate=0.5, seed=1)
        >>> sorted(set(y.numpy().ravel().tolist())) in ([0.0, 2.0], [0.0], [2.0])
        True
    """
    x = as_tensor(inputs)
    require_float(x, "dropout")
    rate = float(rate)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1) (the fraction to drop); got {rate}")
    if rate == 0.0:
        return x
    mask_shape = _noise_shape(noise_shape, x.shape)
    generator = _generator(seed, "dropout")
    # Raw 32-bit random values against an integer threshold: half the time of float32 draws
    # (P(keep) = 1 - rate to within 2**-32). The mask, scaled once, serves both the forward
    # and the backward product.
    threshold = xp.uint32(min(round(rate * 2.0**32), 2**32 - 1))
    if mask_shape == x.shape and native.supports_rows(x.data):
        # One compiled pass each way; the mask is a function of (seed, index), recomputed
        # for the gradient rather than stored. (Other random numbers than the NumPy path's.)
        seed_value = int(backend.random_bits(generator, (2,)).view(xp.uint64)[0])
        scale, dtype = 1.0 / (1.0 - rate), x.dtype

        def backward(g):
            g = xp.ascontiguousarray(g, dtype)
            return (native.dropout_apply(g, seed_value, int(threshold), scale),)

        out = native.dropout_apply(x.data, seed_value, int(threshold), scale)
        return record(out, (x,), backward, "dropout")
    keep = backend.random_bits(generator, mask_shape) >= threshold
    mask = xp.multiply(keep, 1.0 / (1.0 - rate), dtype=x.dtype)
    return record(x.data * mask, (x,), lambda g: (g * mask,), "dropout")
