"""Weight initializers with Keras's names, arguments and formulas (float32 by default).

An initializer is called as ``initializer(shape, dtype=None)`` and returns an array. Unseeded
ones draw from the shared generator (:func:`shinsou.backend.set_seed` makes them repeat); a
seeded one returns the same values on every call, as in Keras.

Example:
    >>> from shinsou import initializers
    >>> initializers.get("glorot_uniform")((3, 4)).dtype
    dtype('float32')
    >>> initializers.Constant(2.0)((2,)).tolist()
    [2.0, 2.0]
"""

from __future__ import annotations

import math

from . import backend
from .backend import xp
from .utils.object_registration import get_registered_object


def compute_fans(shape) -> tuple[float, float]:
    """(fan_in, fan_out) of a weight of ``shape``, as Keras computes them.

    Example:
        >>> compute_fans((3, 3, 16, 32))
        (144, 288)
    """
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)`` and ``get_config``."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def _dtype(self, dtype):
        return backend.standardize_dtype(dtype or backend.floatx())


class _Seeded(Initializer):
    def __init__(self, seed=None):
        self.seed = seed

    def _rng(self):
        return backend.rng() if self.seed is None else xp.random.default_rng(self.seed)

    def get_config(self):
        return {"seed": self.seed}


class Zeros(Initializer):
    """All zeros.

    Example:
        >>> Zeros()((2,)).tolist()
        [0.0, 0.0]
    """

    def __call__(self, shape, dtype=None):
        return xp.zeros(shape, dtype=self._dtype(dtype))


class Ones(Initializer):
    """All ones.

    Example:
        >>> Ones()((2,)).tolist()
        [1.0, 1.0]
    """

    def __call__(self, shape, dtype=None):
        return xp.ones(shape, dtype=self._dtype(dtype))


class Constant(Initializer):
    """Every value equal to ``value``.

    Example:
        >>> Constant(0.5)((1,)).tolist()
        [0.5]
    """

    def __init__(self, value=0.0):
        self.value = value

    def __call__(self, shape, dtype=None):
        return xp.full(shape, self.value, dtype=self._dtype(dtype))

    def get_config(self):
        return {"value": self.value}


class RandomNormal(_Seeded):
    """Normal distribution with ``mean`` and ``stddev``.

    Example:
        >>> RandomNormal(seed=1)((2, 2)).shape
        (2, 2)
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        dtype = self._dtype(dtype)
        values = self._rng().standard_normal(shape, dtype=xp.float32).astype(dtype, copy=False)
        return values * dtype.type(self.stddev) + dtype.type(self.mean)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(_Seeded):
    """Uniform distribution on ``[minval, maxval)``.

    Example:
        >>> bool((abs(RandomUniform(-1, 1, seed=0)((100,))) <= 1).all())
        True
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        self.minval, self.maxval = minval, maxval

    def __call__(self, shape, dtype=None):
        dtype = self._dtype(dtype)
        unit = self._rng().random(shape, dtype=xp.float32).astype(dtype, copy=False)
        return unit * dtype.type(self.maxval - self.minval) + dtype.type(self.minval)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


def _truncated_standard_normal(rng, shape, dtype):
    """Standard normal values redrawn until all lie within two standard deviations."""
    values = rng.standard_normal(shape, dtype=xp.float32)
    outside = xp.abs(values) > 2
    while outside.any():
        values[outside] = rng.standard_normal(int(outside.sum()), dtype=xp.float32)
        outside = xp.abs(values) > 2
    return values.astype(dtype, copy=False)


class TruncatedNormal(_Seeded):
    """Normal distribution cut at two standard deviations (values beyond are redrawn).

    Example:
        >>> bool((abs(TruncatedNormal(stddev=1.0, seed=0)((1000,))) <= 2).all())
        True
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        self.mean, self.stddev = mean, stddev

    def __call__(self, shape, dtype=None):
        dtype = self._dtype(dtype)
        values = _truncated_standard_normal(self._rng(), shape, dtype)
        return values * dtype.type(self.stddev) + dtype.type(self.mean)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(_Seeded):
    """Scale-aware initialization: variance ``scale / n`` with n from the weight's fans.

    ``mode`` is "fan_in", "fan_out" or "fan_avg"; ``distribution`` is "truncated_normal",
    "untruncated_normal" or "uniform".

    Example:
        >>> VarianceScaling(2.0, "fan_in", "uniform", seed=0)((3, 3, 1, 8)).shape
        (3, 3, 1, 8)
    """

    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(
        self,
        scale=1.0,
        mode="fan_in",
        distribution="truncated_normal",
        seed=None,
        input_axes=None,
        output_axes=None,
    ):
        super().__init__(seed)
        if input_axes is not None or output_axes is not None:
            raise ValueError(
                "VarianceScaling: input_axes/output_axes are not supported; leave them None"
            )
        if scale <= 0:
            raise ValueError(f"VarianceScaling: scale must be positive, got {scale}")
        if mode not in self.MODES:
            raise ValueError(f"VarianceScaling: unknown mode {mode!r}; choose one of {self.MODES}")
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in self.DISTRIBUTIONS:
            raise ValueError(
                f"VarianceScaling: unknown distribution {distribution!r}; "
                f"choose one of {self.DISTRIBUTIONS}"
            )
        self.scale, self.mode, self.distribution = scale, mode, distribution

    def __call__(self, shape, dtype=None):
        dtype = self._dtype(dtype)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / max(1.0, n)
        rng = self._rng()
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            unit = rng.random(shape, dtype=xp.float32).astype(dtype, copy=False)
            return unit * dtype.type(2 * limit) - dtype.type(limit)
        if self.distribution == "truncated_normal":
            # The standard deviation of a unit normal truncated at +-2.
            stddev = math.sqrt(variance) / 0.87962566103423978
            return _truncated_standard_normal(rng, shape, dtype) * dtype.type(stddev)
        return rng.standard_normal(shape, dtype=xp.float32).astype(dtype) * dtype.type(
            math.sqrt(variance)
        )

    def get_config(self):
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
        }


def _variance_scaling_preset(class_name, scale, mode, distribution, doc):
    class Preset(VarianceScaling):
        def __init__(self, seed=None, input_axes=None, output_axes=None):
            super().__init__(scale, mode, distribution, seed, input_axes, output_axes)

        def get_config(self):
            return {"seed": self.seed}

    Preset.__name__ = Preset.__qualname__ = class_name
    Preset.__doc__ = doc
    return Preset


GlorotUniform = _variance_scaling_preset(
    "GlorotUniform",
    1.0,
    "fan_avg",
    "uniform",
    "Uniform on ±sqrt(6 / (fan_in + fan_out)); Keras's default for kernels.",
)
GlorotNormal = _variance_scaling_preset(
    "GlorotNormal",
    1.0,
    "fan_avg",
    "truncated_normal",
    "Truncated normal with stddev sqrt(2 / (fan_in + fan_out)).",
)
HeNormal = _variance_scaling_preset(
    "HeNormal", 2.0, "fan_in", "truncated_normal", "Truncated normal, stddev sqrt(2 / fan_in)."
)
HeUniform = _variance_scaling_preset(
    "HeUniform", 2.0, "fan_in", "uniform", "Uniform on ±sqrt(6 / fan_in)."
)
LecunNormal = _variance_scaling_preset(
    "LecunNormal", 1.0, "fan_in", "truncated_normal", "Truncated normal, stddev sqrt(1 / fan_in)."
)
LecunUniform = _variance_scaling_preset(
    "LecunUniform", 1.0, "fan_in", "uniform", "Uniform on ±sqrt(3 / fan_in)."
)


class Orthogonal(_Seeded):
    """A (semi-)orthogonal matrix times ``gain``; Keras's default for recurrent kernels.

    Example:
        >>> import numpy
        >>> q = Orthogonal(seed=0)((4, 4))
        >>> bool(numpy.allclose(q @ q.T, numpy.eye(4), atol=1e-5))
        True
    """

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = gain

    def __call__(self, shape, dtype=None):
        dtype = self._dtype(dtype)
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: needs a shape of rank >= 2, got {tuple(shape)}")
        rows, cols = math.prod(shape[:-1]), shape[-1]
        # float32: OpenBLAS's threaded float64 QR of a tall matrix takes seconds here.
        flat = self._rng().standard_normal((max(rows, cols), min(rows, cols)), dtype=xp.float32)
        q, r = xp.linalg.qr(flat)
        q *= xp.sign(xp.diag(r))  # make the decomposition unique
        if rows < cols:
            q = q.T
        return (self.gain * q).astype(dtype).reshape(shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """The identity matrix times ``gain`` (2-D shapes only).

    Example:
        >>> Identity()((2, 2)).tolist()
        [[1.0, 0.0], [0.0, 1.0]]
    """

    def __init__(self, gain=1.0):
        self.gain = gain

    def __call__(self, shape, dtype=None):
        if len(shape) != 2:
            raise ValueError(f"Identity: needs a 2-D shape, got {tuple(shape)}")
        return xp.eye(*shape, dtype=self._dtype(dtype)) * self._dtype(dtype).type(self.gain)

    def get_config(self):
        return {"gain": self.gain}


_BY_NAME = {
    "zeros": Zeros,
    "ones": Ones,
    "uniform": RandomUniform,
    "normal": RandomNormal,
    "constant": Constant,
    "random_normal": RandomNormal,
    "random_uniform": RandomUniform,
    "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling,
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_normal": HeNormal,
    "he_uniform": HeUniform,
    "lecun_normal": LecunNormal,
    "lecun_uniform": LecunUniform,
    "orthogonal": Orthogonal,
    "identity": Identity,
}
ALL_INITIALIZERS = {cls.__name__: cls for cls in _BY_NAME.values()}
ALL_INITIALIZERS.update(Initializer=Initializer)


def get(identifier):
    """An initializer from a name ("he_normal" or "HeNormal"), a config dict, or a callable.

    Example:
        >>> type(get("zeros")).__name__
        'Zeros'
    """
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        cls = ALL_INITIALIZERS.get(name) or get_registered_object(
            identifier.get("registered_name") or name
        )
        if cls is None:
            raise ValueError(
                f"unknown initializer {name!r}; register custom ones with "
                "shinsou.utils.register_keras_serializable"
            )
        return cls.from_config(identifier.get("config", {}))
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or ALL_INITIALIZERS.get(identifier)
        cls = cls or get_registered_object(identifier)
        if cls is None:
            raise ValueError(
                f"unknown initializer {identifier!r}; valid names: {', '.join(sorted(_BY_NAME))}"
            )
        return cls()
    raise TypeError(f"cannot interpret {identifier!r} as an initializer")


def serialize(initializer) -> dict:
    """The Keras config dict of an initializer object.

    Example:
        >>> serialize(Zeros())["class_name"]
        'Zeros'
    """
    return {
        "module": "keras.initializers",
        "class_name": type(initializer).__name__,
        "config": initializer.get_config(),
        "registered_name": None,
    }
