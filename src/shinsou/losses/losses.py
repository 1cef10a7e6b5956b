"""The loss classes of ``keras.losses``: a loss function, its arguments and a reduction.

Each class wraps the function of :mod:`shinsou.losses.functions` with the same name in
snake case, takes the same arguments as its Keras twin (same defaults, same order) and saves
the same config. The cross-entropies check their first input when ``from_logits=True``: a
``y_pred`` that looks like softmax or sigmoid output triggers a warning (once per object),
which Keras leaves to the user to discover from a model that does not learn.

Example:
    >>> import numpy as np
    >>> loss = BinaryCrossentropy(from_logits=True)
    >>> y_true = np.array([[0, 1], [0, 0]])
    >>> y_pred = np.array([[-18.6, 0.51], [2.94, -12.8]])
    >>> round(loss(y_true, y_pred).item(), 3)
    0.865
    >>> round(loss(y_true, y_pred, sample_weight=[0.8, 0.2]).item(), 3)
    0.244
"""

from __future__ import annotations

import warnings

from ..backend import xp
from . import functions
from .loss import LossFunctionWrapper

_DEFAULT = "sum_over_batch_size"


def _flag(caller, name, value) -> bool:
    if not isinstance(value, (bool, xp.bool_)) and value not in (0, 1):
        raise TypeError(f"{caller}: {name} must be True or False, got {value!r}")
    return bool(value)


def _axis(caller, axis):
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"{caller}: axis must be an int, got {axis!r}")
    return axis


def _fraction(caller, name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{caller}: {name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _non_negative(caller, name, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{caller}: {name} must be a number >= 0, got {value!r}")
    return float(value)


# -- regression -----------------------------------------------------------------------------


class MeanSquaredError(LossFunctionWrapper):
    """Mean of squared errors, ``mean(square(y_true - y_pred))``.

    Example:
        >>> MeanSquaredError()([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]).item()
        0.5
    """

    def __init__(self, reduction=_DEFAULT, name="mean_squared_error", dtype=None):
        super().__init__(functions.mean_squared_error, reduction, name, dtype)


class MeanAbsoluteError(LossFunctionWrapper):
    """Mean of absolute errors, ``mean(abs(y_true - y_pred))``.

    Example:
        >>> MeanAbsoluteError()([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [1.0, 0.0]]).item()
        0.5
    """

    def __init__(self, reduction=_DEFAULT, name="mean_absolute_error", dtype=None):
        super().__init__(functions.mean_absolute_error, reduction, name, dtype)


class MeanAbsolutePercentageError(LossFunctionWrapper):
    """``100 * mean(abs((y_true - y_pred) / y_true))`` (division guarded by 1e-7).

    Example:
        >>> MeanAbsolutePercentageError()([[2.0, 4.0]], [[1.0, 5.0]]).item()
        37.5
    """

    def __init__(self, reduction=_DEFAULT, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(functions.mean_absolute_percentage_error, reduction, name, dtype)


class MeanSquaredLogarithmicError(LossFunctionWrapper):
    """``mean(square(log(y_true + 1) - log(y_pred + 1)))``.

    Example:
        >>> round(MeanSquaredLogarithmicError()([[0.0, 1.0]], [[1.0, 1.0]]).item(), 4)
        0.2402
    """

    def __init__(self, reduction=_DEFAULT, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(functions.mean_squared_logarithmic_error, reduction, name, dtype)


class CosineSimilarity(LossFunctionWrapper):
    """Minus the cosine similarity along ``axis``: minimising it aligns the vectors.

    Example:
        >>> round(CosineSimilarity()([[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]]).item(), 4)
        -0.5
    """

    def __init__(self, axis=-1, reduction=_DEFAULT, name="cosine_similarity", dtype=None):
        axis = _axis(type(self).__name__, axis)
        super().__init__(functions.cosine_similarity, reduction, name, dtype, axis=axis)
        self.axis = axis


class Huber(LossFunctionWrapper):
    """Huber loss: quadratic for errors up to ``delta``, linear beyond.

    Example:
        >>> Huber()([[0.0, 0.0]], [[0.5, 3.0]]).item()
        1.3125
    """

    def __init__(self, delta=1.0, reduction=_DEFAULT, name="huber_loss", dtype=None):
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or delta <= 0:
            raise ValueError(f"Huber: delta must be a positive number, got {delta!r}")
        super().__init__(functions.huber, reduction, name, dtype, delta=float(delta))
        self.delta = float(delta)


class LogCosh(LossFunctionWrapper):
    """Mean logarithm of the hyperbolic cosine of the error (like MSE near 0, MAE far out).

    Example:
        >>> round(LogCosh()([[0.0, 1.0], [0.0, 0.0]], [[1.0, 1.0], [0.0, 0.0]]).item(), 3)
        0.108
    """

    def __init__(self, reduction=_DEFAULT, name="log_cosh", dtype=None):
        super().__init__(functions.log_cosh, reduction, name, dtype)


# -- hinge ----------------------------------------------------------------------------------


class Hinge(LossFunctionWrapper):
    """``maximum(1 - y_true * y_pred, 0)`` averaged; labels -1/1 (0/1 are converted).

    Example:
        >>> Hinge()([[1.0, 0.0]], [[0.5, -2.0]]).item()
        0.25
    """

    def __init__(self, reduction=_DEFAULT, name="hinge", dtype=None):
        super().__init__(functions.hinge, reduction, name, dtype)


class SquaredHinge(LossFunctionWrapper):
    """``square(maximum(1 - y_true * y_pred, 0))`` averaged; labels -1/1 (0/1 converted).

    Example:
        >>> SquaredHinge()([[1.0, 0.0]], [[0.5, -2.0]]).item()
        0.125
    """

    def __init__(self, reduction=_DEFAULT, name="squared_hinge", dtype=None):
        super().__init__(functions.squared_hinge, reduction, name, dtype)


class CategoricalHinge(LossFunctionWrapper):
    """``maximum(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` per sample.

    Example:
        >>> round(CategoricalHinge()([[0.0, 1.0]], [[0.3, 0.6]]).item(), 4)
        0.7
    """

    def __init__(self, reduction=_DEFAULT, name="categorical_hinge", dtype=None):
        super().__init__(functions.categorical_hinge, reduction, name, dtype)


# -- probabilistic --------------------------------------------------------------------------


class KLDivergence(LossFunctionWrapper):
    """Kullback-Leibler divergence ``sum(y_true * log(y_true / y_pred))`` per sample.

    Example:
        >>> round(KLDivergence()([[0.5, 0.5]], [[0.25, 0.75]]).item(), 4)
        0.1438
    """

    def __init__(self, reduction=_DEFAULT, name="kl_divergence", dtype=None):
        super().__init__(functions.kl_divergence, reduction, name, dtype)


class Poisson(LossFunctionWrapper):
    """Poisson loss ``mean(y_pred - y_true * log(y_pred))``.

    Example:
        >>> round(Poisson()([[1.0, 2.0]], [[1.0, 1.0]]).item(), 4)
        1.0
    """

    def __init__(self, reduction=_DEFAULT, name="poisson", dtype=None):
        super().__init__(functions.poisson, reduction, name, dtype)


class _Crossentropy(LossFunctionWrapper):
    """A cross-entropy that, with ``from_logits=True``, checks its first ``y_pred`` once."""

    _probabilities_checked = False
    # Softmax outputs sum to 1 along the class axis; sigmoid outputs only lie in [0, 1].
    _normalized_along_axis = True

    def call(self, y_true, y_pred):
        if self.from_logits and not self._probabilities_checked:
            self._probabilities_checked = True
            self._warn_if_probabilities(y_pred)
        return super().call(y_true, y_pred)

    def _warn_if_probabilities(self, y_pred):
        values = y_pred.data
        if values.size == 0 or not xp.isfinite(values).all():
            return
        if values.min() < 0 or values.max() > 1:
            return
        looks_like = "sigmoid"
        if self._normalized_along_axis:
            totals = values.sum(axis=self.axis)
            if values.shape[self.axis] < 2 or (abs(totals - 1) > 1e-3).any():
                return
            looks_like = "softmax"
        warnings.warn(
            f"{type(self).__name__} '{self.name}': from_logits=True, but y_pred looks like "
            f"probabilities (the output of a {looks_like}: all values in [0, 1]"
            f"{', summing to 1 along the class axis' if looks_like == 'softmax' else ''}). "
            f"Use from_logits=False, or remove the final {looks_like} activation so the "
            "model outputs logits.",
            UserWarning,
            stacklevel=4,
        )


class BinaryCrossentropy(_Crossentropy):
    """Binary cross-entropy between 0/1 labels and probabilities (or logits).

    ``label_smoothing`` squeezes the labels towards 0.5; the loss is averaged over ``axis``.

    Example:
        >>> loss = BinaryCrossentropy()
        >>> round(loss([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]).item(), 3)
        0.815
    """

    _normalized_along_axis = False

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_DEFAULT,
        name="binary_crossentropy",
        dtype=None,
    ):
        caller = type(self).__name__
        self.from_logits = _flag(caller, "from_logits", from_logits)
        self.label_smoothing = _fraction(caller, "label_smoothing", label_smoothing)
        self.axis = _axis(caller, axis)
        super().__init__(
            functions.binary_crossentropy,
            reduction,
            name,
            dtype,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
            axis=self.axis,
        )


class BinaryFocalCrossentropy(_Crossentropy):
    """Binary cross-entropy scaled by the focal factor ``(1 - p_t) ** gamma``.

    Example:
        >>> loss = BinaryFocalCrossentropy(gamma=2.0)
        >>> round(loss([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]).item(), 3)
        0.268
    """

    _normalized_along_axis = False

    def __init__(
        self,
        apply_class_balancing=False,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_DEFAULT,
        name="binary_focal_crossentropy",
        dtype=None,
    ):
        caller = type(self).__name__
        self.apply_class_balancing = _flag(caller, "apply_class_balancing", apply_class_balancing)
        self.alpha = _fraction(caller, "alpha", alpha)
        self.gamma = _non_negative(caller, "gamma", gamma)
        self.from_logits = _flag(caller, "from_logits", from_logits)
        self.label_smoothing = _fraction(caller, "label_smoothing", label_smoothing)
        self.axis = _axis(caller, axis)
        super().__init__(
            functions.binary_focal_crossentropy,
            reduction,
            name,
            dtype,
            apply_class_balancing=self.apply_class_balancing,
            alpha=self.alpha,
            gamma=self.gamma,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
            axis=self.axis,
        )


class CategoricalCrossentropy(_Crossentropy):
    """Cross-entropy between one-hot labels and class probabilities (or logits).

    ``label_smoothing`` s uses ``1 - s + s / classes`` for the true class and
    ``s / classes`` for the others (PyTorch's ``label_smoothing`` means the same).

    Example:
        >>> loss = CategoricalCrossentropy()
        >>> round(loss([[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]).item(), 3)
        1.177
    """

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_DEFAULT,
        name="categorical_crossentropy",
        dtype=None,
    ):
        caller = type(self).__name__
        self.from_logits = _flag(caller, "from_logits", from_logits)
        self.label_smoothing = _fraction(caller, "label_smoothing", label_smoothing)
        self.axis = _axis(caller, axis)
        super().__init__(
            functions.categorical_crossentropy,
            reduction,
            name,
            dtype,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
            axis=self.axis,
        )


class CategoricalFocalCrossentropy(_Crossentropy):
    """Categorical cross-entropy with the focal factor ``alpha (1 - p) ** gamma``.

    Example:
        >>> loss = CategoricalFocalCrossentropy()
        >>> round(loss([[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]).item(), 4)
        0.2332
    """

    def __init__(
        self,
        alpha=0.25,
        gamma=2.0,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction=_DEFAULT,
        name="categorical_focal_crossentropy",
        dtype=None,
    ):
        caller = type(self).__name__
        self.alpha = (
            alpha if isinstance(alpha, (list, tuple)) else _non_negative(caller, "alpha", alpha)
        )
        self.gamma = _non_negative(caller, "gamma", gamma)
        self.from_logits = _flag(caller, "from_logits", from_logits)
        self.label_smoothing = _fraction(caller, "label_smoothing", label_smoothing)
        self.axis = _axis(caller, axis)
        super().__init__(
            functions.categorical_focal_crossentropy,
            reduction,
            name,
            dtype,
            alpha=self.alpha,
            gamma=self.gamma,
            from_logits=self.from_logits,
            label_smoothing=self.label_smoothing,
            axis=self.axis,
        )


class SparseCategoricalCrossentropy(_Crossentropy):
    """Cross-entropy between integer class labels and class probabilities (or logits).

    Labels have shape ``(N,)`` or ``(N, 1)`` (any integer dtype, or whole-number floats).
    Samples labelled ``ignore_class`` are left out of the loss and of its mean.

    Example:
        >>> loss = SparseCategoricalCrossentropy()
        >>> round(loss([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]).item(), 3)
        1.177
    """

    _keeps_integer_targets = True

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction=_DEFAULT,
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        caller = type(self).__name__
        if ignore_class is not None and (
            isinstance(ignore_class, bool) or not isinstance(ignore_class, int)
        ):
            raise TypeError(f"{caller}: ignore_class must be an int or None, got {ignore_class!r}")
        self.from_logits = _flag(caller, "from_logits", from_logits)
        self.ignore_class = ignore_class
        self.axis = _axis(caller, axis)
        super().__init__(
            functions.sparse_categorical_crossentropy,
            reduction,
            name,
            dtype,
            from_logits=self.from_logits,
            ignore_class=ignore_class,
            axis=self.axis,
        )


# -- segmentation ---------------------------------------------------------------------------


class Dice(LossFunctionWrapper):
    """Dice loss ``1 - 2 |y_true ∩ y_pred| / (|y_true| + |y_pred|)`` over ``axis``.

    Example:
        >>> round(Dice()([[1.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]]).item(), 4)
        0.3333
    """

    def __init__(self, reduction=_DEFAULT, name="dice", axis=None, dtype=None):
        super().__init__(functions.dice, reduction, name, dtype, axis=axis)
        self.axis = axis
