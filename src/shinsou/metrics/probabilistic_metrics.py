"""Running means of the probabilistic and hinge losses: cross-entropies, KL divergence,
Poisson, hinge, squared hinge and categorical hinge.

Example:
    >>> m = SparseCategoricalCrossentropy()
    >>> m.update_state([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
    >>> round(m.result(), 4)
    1.1769
"""

from __future__ import annotations

from ..losses import functions as loss_functions
from .reduction_metrics import MeanMetricWrapper


def _checked_fraction(caller, label_smoothing):
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{caller}: label_smoothing must lie in [0, 1], got {label_smoothing!r}")
    return label_smoothing


class BinaryCrossentropy(MeanMetricWrapper):
    """Mean binary cross-entropy between 0/1 labels and probabilities (or logits).

    Example:
        >>> m = BinaryCrossentropy()
        >>> m.update_state([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
        >>> round(m.result(), 4)
        0.8149
    """

    def __init__(
        self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0
    ):
        _checked_fraction(type(self).__name__, label_smoothing)
        super().__init__(
            loss_functions.binary_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing


class CategoricalCrossentropy(MeanMetricWrapper):
    """Mean cross-entropy between one-hot labels and class probabilities (or logits).

    Example:
        >>> m = CategoricalCrossentropy()
        >>> m.update_state([[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
        >>> round(m.result(), 4)
        1.1769
    """

    def __init__(
        self,
        name="categorical_crossentropy",
        dtype=None,
        from_logits=False,
        label_smoothing=0,
        axis=-1,
    ):
        _checked_fraction(type(self).__name__, label_smoothing)
        super().__init__(
            loss_functions.categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            label_smoothing=label_smoothing,
            axis=axis,
        )
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self.axis = axis


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """Mean cross-entropy between integer labels and class probabilities (or logits);
    samples labelled ``ignore_class`` are left out.

    Example:
        >>> m = SparseCategoricalCrossentropy(ignore_class=2)
        >>> m.update_state([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
        >>> round(m.result(), 4)
        0.0513
    """

    def __init__(
        self,
        name="sparse_categorical_crossentropy",
        dtype=None,
        from_logits=False,
        ignore_class=None,
        axis=-1,
    ):
        super().__init__(
            loss_functions.sparse_categorical_crossentropy,
            name=name,
            dtype=dtype,
            from_logits=from_logits,
            ignore_class=ignore_class,
            axis=axis,
        )
        self.from_logits = from_logits
        self.ignore_class = ignore_class
        self.axis = axis


class KLDivergence(MeanMetricWrapper):
    """Mean Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred))``.

    Example:
        >>> m = KLDivergence()
        >>> m.update_state([[0.5, 0.5]], [[0.25, 0.75]])
        >>> round(m.result(), 4)
        0.1438
    """

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(loss_functions.kl_divergence, name=name, dtype=dtype)


class Poisson(MeanMetricWrapper):
    """Mean Poisson loss ``y_pred - y_true * log(y_pred)``.

    Example:
        >>> m = Poisson()
        >>> m.update_state([[1.0, 2.0]], [[1.0, 1.0]])
        >>> round(m.result(), 4)
        1.0
    """

    def __init__(self, name="poisson", dtype=None):
        super().__init__(loss_functions.poisson, name=name, dtype=dtype)


class Hinge(MeanMetricWrapper):
    """Mean hinge loss ``maximum(1 - y_true * y_pred, 0)`` (0/1 labels become -1/1).

    Example:
        >>> m = Hinge()
        >>> m.update_state([[1.0, 0.0]], [[0.5, -2.0]])
        >>> m.result()
        0.25
    """

    def __init__(self, name="hinge", dtype=None):
        super().__init__(loss_functions.hinge, name=name, dtype=dtype)


class SquaredHinge(MeanMetricWrapper):
    """Mean squared hinge loss ``square(maximum(1 - y_true * y_pred, 0))``.

    Example:
        >>> m = SquaredHinge()
        >>> m.update_state([[1.0, 0.0]], [[0.5, -2.0]])
        >>> m.result()
        0.125
    """

    def __init__(self, name="squared_hinge", dtype=None):
        super().__init__(loss_functions.squared_hinge, name=name, dtype=dtype)


class CategoricalHinge(MeanMetricWrapper):
    """Mean categorical hinge loss ``maximum(neg - pos + 1, 0)``.

    Example:
        >>> m = CategoricalHinge()
        >>> m.update_state([[0.0, 1.0]], [[0.3, 0.6]])
        >>> round(m.result(), 4)
        0.7
    """

    def __init__(self, name="categorical_hinge", dtype=None):
        super().__init__(loss_functions.categorical_hinge, name=name, dtype=dtype)
