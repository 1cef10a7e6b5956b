"""Regression metrics: running means of the regression losses, ``RootMeanSquaredError``,
``CosineSimilarity`` (the similarity itself, not the loss's negative) and ``R2Score``.

Example:
    >>> m = RootMeanSquaredError()
    >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
    >>> m.result()
    0.5
"""

from __future__ import annotations

import math

from .. import backend
from ..backend import xp
from ..losses import functions as loss_functions
from ..losses.loss import squeeze_or_expand_to_same_rank
from .metric import Metric, to_numpy
from .reduction_metrics import Mean, MeanMetricWrapper


def _matching(caller, y_true, y_pred, dtype):
    y_true, y_pred = squeeze_or_expand_to_same_rank(
        to_numpy(y_true, dtype), to_numpy(y_pred, dtype)
    )
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{caller}: y_true shape {y_true.shape} and y_pred shape {y_pred.shape} must be "
            "equal (a trailing axis of size 1 may differ)"
        )
    return y_true, y_pred


def _cosine_similarity(y_true, y_pred, axis=-1):
    y_true, y_pred = _matching("cosine_similarity", y_true, y_pred, backend.floatx())

    def normalized(x):
        norm = xp.sqrt(xp.maximum((x * x).sum(axis=axis, keepdims=True), 1e-14))
        return x / norm

    return (normalized(y_true) * normalized(y_pred)).sum(axis=axis)


class MeanSquaredError(MeanMetricWrapper):
    """Mean of ``square(y_true - y_pred)`` over everything seen.

    Example:
        >>> m = MeanSquaredError()
        >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
        >>> m.result()
        0.25
    """

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(loss_functions.mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean of ``abs(y_true - y_pred)`` over everything seen.

    Example:
        >>> m = MeanAbsoluteError()
        >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0])
        >>> m.result()
        0.5
    """

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(loss_functions.mean_absolute_error, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Mean of ``100 * abs((y_true - y_pred) / y_true)`` over everything seen.

    Example:
        >>> m = MeanAbsolutePercentageError()
        >>> m.update_state([[2.0, 4.0]], [[1.0, 5.0]])
        >>> m.result()
        37.5
    """

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(loss_functions.mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """Mean of ``square(log(y_true + 1) - log(y_pred + 1))`` over everything seen.

    Example:
        >>> m = MeanSquaredLogarithmicError()
        >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
        >>> round(m.result(), 4)
        0.1201
    """

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(loss_functions.mean_squared_logarithmic_error, name=name, dtype=dtype)


class LogCoshError(MeanMetricWrapper):
    """Mean of ``log(cosh(y_pred - y_true))`` over everything seen.

    Example:
        >>> m = LogCoshError()
        >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]])
        >>> round(m.result(), 4)
        0.1084
    """

    def __init__(self, name="logcosh", dtype=None):
        super().__init__(loss_functions.log_cosh, name=name, dtype=dtype)


class CosineSimilarity(MeanMetricWrapper):
    """Mean cosine similarity between ``y_true`` and ``y_pred`` along ``axis``.

    Example:
        >>> m = CosineSimilarity(axis=1)
        >>> m.update_state([[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]])
        >>> round(m.result(), 4)
        0.5
    """

    def __init__(self, name="cosine_similarity", dtype=None, axis=-1):
        if isinstance(axis, bool) or not isinstance(axis, int):
            raise TypeError(f"CosineSimilarity: axis must be an int, got {axis!r}")
        super().__init__(_cosine_similarity, name=name, dtype=dtype, axis=axis)
        self.axis = axis


class RootMeanSquaredError(Mean):
    """Square root of the mean of ``square(y_true - y_pred)`` over everything seen.

    Example:
        >>> m = RootMeanSquaredError()
        >>> m.update_state([[0, 1], [0, 0]], [[1, 1], [0, 0]], sample_weight=[1, 0])
        >>> round(m.result(), 4)
        0.7071
    """

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        caller = f"RootMeanSquaredError '{self.name}'"
        y_true, y_pred = _matching(caller, y_true, y_pred, self._dtype)
        super().update_state(xp.square(y_pred - y_true), sample_weight=sample_weight)

    def result(self) -> float:
        return math.sqrt(super().result())


class R2Score(Metric):
    """Coefficient of determination ``1 - SS_res / SS_tot`` per output column, aggregated
    by ``class_aggregation`` ("uniform_average", "variance_weighted_average" or None); with
    ``num_regressors`` > 0 the adjusted R².

    Example:
        >>> m = R2Score()
        >>> m.update_state([[1.0], [4.0], [3.0]], [[2.0], [4.0], [4.0]])
        >>> round(m.result(), 4)
        0.5714
    """

    def __init__(
        self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None
    ):
        super().__init__(name=name, dtype=dtype)
        choices = (None, "uniform_average", "variance_weighted_average")
        if class_aggregation not in choices:
            raise ValueError(
                f"R2Score: class_aggregation must be one of {choices}, got {class_aggregation!r}"
            )
        if (
            isinstance(num_regressors, bool)
            or not isinstance(num_regressors, int)
            or (num_regressors < 0)
        ):
            raise ValueError(f"R2Score: num_regressors must be an int >= 0, got {num_regressors!r}")
        self.class_aggregation = class_aggregation
        self.num_regressors = num_regressors
        self.num_samples = self.add_variable((), "zeros", name="num_samples")
        self._built = False

    def _build(self, outputs):
        self.squared_sum = self.add_variable((outputs,), "zeros", name="squared_sum")
        self.sum = self.add_variable((outputs,), "zeros", name="sum")
        self.total_mse = self.add_variable((outputs,), "zeros", name="residual")
        self.count = self.add_variable((outputs,), "zeros", name="count")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        caller = f"R2Score '{self.name}'"
        y_true, y_pred = _matching(caller, y_true, y_pred, self._dtype)
        if y_pred.ndim != 2:
            raise ValueError(
                f"{caller}: expected inputs of shape (samples, outputs), got {y_pred.shape}"
            )
        if not self._built:
            self._build(y_pred.shape[1])
        elif y_pred.shape[1] != self.sum.shape[0]:
            raise ValueError(f"{caller}: built for {self.sum.shape[0]} outputs, got {y_pred.shape}")
        weights = (
            xp.ones((), self._dtype)
            if sample_weight is None
            else to_numpy(sample_weight, self._dtype)
        )
        if weights.ndim == 1:
            weights = weights[:, None]
        weights = xp.broadcast_to(weights, y_true.shape)
        weighted = y_true * weights
        self.sum.data += weighted.sum(axis=0)
        self.squared_sum.data += (y_true * weighted).sum(axis=0)
        self.total_mse.data += (xp.square(y_true - y_pred) * weights).sum(axis=0)
        self.count.data += weights.sum(axis=0)
        self.num_samples.data += y_true.size

    def result(self):
        if not self._built:
            return 0.0
        with xp.errstate(divide="ignore", invalid="ignore"):
            mean = self.sum.data / self.count.data
            total = self.squared_sum.data - self.sum.data * mean
            scores = 1 - self.total_mse.data / total
        scores = xp.where(xp.isinf(scores), 0.0, scores).astype(self._dtype)
        if self.class_aggregation == "uniform_average":
            score = float(scores.mean())
        elif self.class_aggregation == "variance_weighted_average":
            score = float((total * scores).sum() / total.sum())
        else:
            return scores
        samples = float(self.num_samples.data)
        if 0 < self.num_regressors < samples - 1:
            score = 1 - (1 - score) * (samples - 1) / (samples - self.num_regressors - 1)
        return score

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "class_aggregation": self.class_aggregation,
            "num_regressors": self.num_regressors,
        }
