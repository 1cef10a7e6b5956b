"""Regularization layers: Dropout (and its spatial forms), Gaussian noise and dropout, and
ActivityRegularization.

The random layers act only when called with a truthy ``training`` (``fit`` passes
``training=True``; ``predict``/``evaluate`` and plain calls do not) and return their input
unchanged otherwise. A layer given a ``seed`` owns its own generator: two layers built with
the same seed drop the same units, and successive calls still differ. Without a seed they
draw from the shared generator that ``shinsou.backend.set_seed`` resets.

Example:
    >>> import numpy as np
    >>> from shinsou import layers
    >>> dropout = layers.Dropout(0.5, seed=0)
    >>> x = np.ones((2, 4), dtype="float32")
    >>> dropout(x).tolist() == x.tolist()  # inference: identity
    True
    >>> sorted(set(dropout(x, training=True).numpy().ravel().tolist()))
    [0.0, 2.0]
"""

from __future__ import annotations

import math
import numbers

from .. import ops, regularizers
from ..backend import xp
from .activation import check_non_negative
from .base import InputSpec, Layer
from .reshaping import standardize_data_format

__all__ = [
    "ActivityRegularization",
    "Dropout",
    "GaussianDropout",
    "GaussianNoise",
    "SpatialDropout1D",
    "SpatialDropout2D",
]


def _check_rate(layer_name, rate):
    if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not 0 <= rate < 1:
        raise ValueError(
            f"{layer_name}: rate must be a float in the range [0, 1) (the fraction of units to "
            f"drop), received rate={rate!r}"
        )
    return rate


def _seed_generator(layer_name, seed):
    """The layer's own generator for an int seed; None means: draw from the shared one."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(
            f"{layer_name}: seed must be None or a non-negative int, received seed={seed!r}"
        )
    return xp.random.default_rng(int(seed))


def _check_noise_shape(noise_shape):
    if noise_shape is None:
        return None
    if isinstance(noise_shape, str) or not isinstance(noise_shape, (list, tuple)):
        raise ValueError(
            "Dropout: noise_shape must be None or a tuple of positive ints or None, received "
            f"noise_shape={noise_shape!r}"
        )
    for dim in noise_shape:
        if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0):
            raise ValueError(
                "Dropout: noise_shape entries must be positive ints or None, received "
                f"noise_shape={tuple(noise_shape)!r}"
            )
    return tuple(noise_shape)


class Dropout(Layer):
    """Zeroes each input unit with probability ``rate`` during training and scales the kept
    ones by ``1 / (1 - rate)``, so that the expected sum is unchanged.

    ``noise_shape`` (batch axis included, ``None`` for "the input's size") shapes the random
    mask, which broadcasts over the input: ``(None, 1, features)`` drops the same features
    at every time step.

    Example:
        >>> import numpy as np
        >>> y = Dropout(0.5, seed=1)(np.ones((1000, 10)), training=True).numpy()
        >>> round(float((y == 0).mean()), 1), float(y.max())
        (0.5, 2.0)
    """

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_rate(type(self).__name__, rate)
        self.noise_shape = _check_noise_shape(noise_shape)
        self.seed = seed
        self._generator = _seed_generator(type(self).__name__, seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        return ops.dropout(
            inputs, self.rate, noise_shape=self._noise_shape(inputs), seed=self._generator
        )

    def _noise_shape(self, inputs):
        return self.noise_shape

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _output_dtype(self, inputs):
        return inputs.dtype

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "seed": self.seed,
            "noise_shape": self.noise_shape,
        }


class _SpatialDropout(Dropout):
    """Dropout of whole feature maps: one keep/drop decision per sample and channel."""

    def __init__(self, rate, seed=None, name=None, dtype=None, ndim=3, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, **kwargs)
        self.input_spec = InputSpec(ndim=ndim)

    def get_config(self):
        # Keras's spatial dropouts take only these arguments (no `trainable`, no
        # `noise_shape`), so a config with more keys would not load in Keras.
        return {"rate": self.rate, "seed": self.seed, "name": self.name, "dtype": self.dtype}


class SpatialDropout1D(_SpatialDropout):
    """Drops entire channels of ``(batch, steps, channels)`` inputs (mask ``(N, 1, C)``).

    Example:
        >>> import numpy as np
        >>> y = SpatialDropout1D(0.5, seed=0)(np.ones((1, 4, 3)), training=True).numpy()
        >>> bool((y == y[:, :1, :]).all())  # every step drops the same channels
        True
    """

    def __init__(self, rate, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, ndim=3, **kwargs)

    def _noise_shape(self, inputs):
        return (inputs.shape[0], 1, inputs.shape[2])


class SpatialDropout2D(_SpatialDropout):
    """Drops entire channels of images (mask ``(N, 1, 1, C)``, or ``(N, C, 1, 1)`` for
    ``data_format="channels_first"``).

    Example:
        >>> import numpy as np
        >>> y = SpatialDropout2D(0.5, seed=0)(np.ones((1, 3, 3, 2)), training=True).numpy()
        >>> bool((y == y[:, :1, :1, :]).all())
        True
    """

    def __init__(self, rate, data_format=None, seed=None, name=None, dtype=None, **kwargs):
        super().__init__(rate, seed=seed, name=name, dtype=dtype, ndim=4, **kwargs)
        self.data_format = standardize_data_format("SpatialDropout2D", data_format)

    def _noise_shape(self, inputs):
        batch = inputs.shape[0]
        if self.data_format == "channels_first":
            return (batch, inputs.shape[1], 1, 1)
        return (batch, 1, 1, inputs.shape[3])

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


class GaussianNoise(Layer):
    """Adds zero-centred Gaussian noise of standard deviation ``stddev`` during training.

    Example:
        >>> import numpy as np
        >>> y = GaussianNoise(0.1, seed=0)(np.zeros((100, 100)), training=True).numpy()
        >>> round(float(y.std()), 2)
        0.1
    """

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        check_non_negative("GaussianNoise", "stddev", stddev)
        self.stddev = stddev
        self.seed = seed
        self._generator = _seed_generator("GaussianNoise", seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training or self.stddev == 0:
            return inputs
        noise = ops.normal(inputs.shape, stddev=self.stddev, dtype=self.dtype, seed=self._generator)
        return inputs + noise

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    """Multiplies the inputs by 1-centred Gaussian noise of standard deviation
    ``sqrt(rate / (1 - rate))`` during training (the variance of ``Dropout(rate)``).

    Example:
        >>> import numpy as np
        >>> y = GaussianDropout(0.5, seed=0)(np.ones((100, 100)), training=True).numpy()
        >>> round(float(y.mean()), 1), round(float(y.std()), 1)
        (1.0, 1.0)
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _check_rate("GaussianDropout", rate)
        self.seed = seed
        self._generator = _seed_generator("GaussianDropout", seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=False):
        if not training or self.rate == 0:
            return inputs
        stddev = math.sqrt(self.rate / (1.0 - self.rate))
        noise = ops.normal(
            inputs.shape, mean=1.0, stddev=stddev, dtype=self.dtype, seed=self._generator
        )
        return inputs * noise

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class ActivityRegularization(Layer):
    """Passes its input through and adds ``l1 * sum(|x|) + l2 * sum(x²)`` of it to the
    layer's losses (and so to the training loss).

    Example:
        >>> import numpy as np
        >>> layer = ActivityRegularization(l1=0.1)
        >>> layer(np.array([[1.0, -2.0]])).tolist(), len(layer.losses)
        ([[1.0, -2.0]], 1)
    """

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        check_non_negative("ActivityRegularization", "l1", l1)
        check_non_negative("ActivityRegularization", "l2", l2)
        kwargs.pop("activity_regularizer", None)  # implied by l1 and l2
        super().__init__(activity_regularizer=regularizers.L1L2(l1=l1, l2=l2), **kwargs)
        self.l1 = l1
        self.l2 = l2
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _output_dtype(self, inputs):
        return inputs.dtype

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
