"""Metrics from confusion-matrix counts at thresholds: true/false positives/negatives,
``Precision``, ``Recall`` and ``AUC``.

A prediction counts as positive at threshold ``t`` when ``y_pred > t``; a label is positive
when it is non-zero. The counts at all thresholds come from one sort-free pass: each
prediction is placed among the sorted thresholds (``searchsorted``), weights are summed per
slot (``bincount``) and a reversed cumulative sum gives the count above every threshold, so
``AUC(num_thresholds=200)`` costs about as much as one threshold.

Example:
    >>> m = Precision()
    >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
    >>> round(m.result(), 4)
    0.6667
    >>> auc = AUC(num_thresholds=3)
    >>> auc.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
    >>> auc.result()
    0.75
"""

from __future__ import annotations

from ..backend import xp
from ..losses.loss import squeeze_or_expand_to_same_rank
from .metric import Metric, to_numpy

NEG_INF = -1e10
"""The threshold (and the score given to classes outside the top k) when ``top_k`` is set."""

EPSILON = 1e-7


def parse_thresholds(caller, thresholds, default):
    """``thresholds`` (None, a number or a list) as a list of floats in ``[0, 1]``.

    Example:
        >>> parse_thresholds("Precision", None, 0.5), parse_thresholds("Precision", [0.2, 0.8], 0.5)
        ([0.5], [0.2, 0.8])
    """
    if thresholds is None:
        return [default]
    values = list(thresholds) if isinstance(thresholds, (list, tuple)) else [thresholds]
    invalid = [t for t in values if isinstance(t, bool) or not isinstance(t, (int, float))]
    invalid += [t for t in values if t not in invalid and not 0 <= t <= 1]
    if invalid or not values:
        raise ValueError(
            f"{caller}: thresholds must be numbers in [0, 1], got {thresholds!r}"
            + (f" (invalid: {invalid})" if invalid else "")
        )
    return [float(t) for t in values]


def _optional_index(caller, name, value, minimum):
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int) or value < minimum
    ):
        raise ValueError(f"{caller}: {name} must be an int >= {minimum} or None, got {value!r}")
    return value


def _filter_top_k(y_pred, k):
    """Scores outside each row's ``k`` highest (ties broken by position) set to NEG_INF."""
    order = xp.argsort(-y_pred, axis=-1, kind="stable")[..., :k]
    kept = xp.zeros(y_pred.shape, dtype=bool)
    xp.put_along_axis(kept, order, True, axis=-1)
    return xp.where(kept, y_pred, xp.asarray(NEG_INF, y_pred.dtype))


def _labels_and_scores(caller, y_true, y_pred, sample_weight, dtype, top_k=None, class_id=None):
    """Positive-label mask, scores and per-entry weights (None for 1), all of one shape."""
    positive = to_numpy(y_true)
    scores = to_numpy(y_pred, dtype)
    scores, positive = squeeze_or_expand_to_same_rank(scores, positive)
    if positive.shape != scores.shape:
        raise ValueError(
            f"{caller}: y_true shape {positive.shape} and y_pred shape {scores.shape} must be "
            "equal (a trailing axis of size 1 may differ)"
        )
    weights = None
    if sample_weight is not None:
        weights = to_numpy(sample_weight, dtype)
        # One weight per sample spreads over that sample's entries, as in Keras.
        weights = weights.reshape(weights.shape + (1,))
        _, weights = squeeze_or_expand_to_same_rank(positive, weights, expand_rank_1=False)
        try:
            weights = xp.broadcast_to(weights, scores.shape)
        except ValueError:
            raise ValueError(
                f"{caller}: sample_weight of shape {to_numpy(sample_weight).shape} does not fit "
                f"y_pred of shape {scores.shape}"
            ) from None
    if top_k is not None:
        scores = _filter_top_k(scores, top_k)
    if class_id is not None:
        if scores.ndim < 2 or class_id >= scores.shape[-1]:
            raise ValueError(
                f"{caller}: class_id={class_id} needs y_pred of shape (samples, classes) with "
                f"more than {class_id} classes; got shape {scores.shape}"
            )
        positive, scores = positive[..., class_id], scores[..., class_id]
        weights = None if weights is None else weights[..., class_id]
    return positive.astype(bool), scores, weights


def confusion_counts(positive, scores, weights, thresholds, multi_label=False):
    """Weighted ``(tp, fp, tn, fn)`` at each threshold: shape ``(T,)``, or ``(T, labels)``
    with ``multi_label`` (labels on the last axis of 2-D inputs).

    Example:
        >>> tp, fp, tn, fn = confusion_counts(xp.array([True, False, True]),
        ...                                   xp.array([0.9, 0.6, 0.2]), None,
        ...                                   xp.array([0.5], "float32"))
        >>> tp.tolist(), fp.tolist(), tn.tolist(), fn.tolist()
        ([1.0], [1.0], [0.0], [1.0])
    """
    if not multi_label:
        positive, scores = positive.reshape(-1), scores.reshape(-1)
        weights = None if weights is None else weights.reshape(-1)
    count = len(thresholds)
    order = xp.argsort(thresholds, kind="stable")
    # Number of thresholds strictly below each score: positive at the first that many.
    slots = xp.searchsorted(thresholds[order], scores.astype(thresholds.dtype), side="left")
    slots[xp.isnan(scores)] = 0  # NaN > t is False at every threshold
    ones = weights is None
    positive_weight = positive if ones else weights * positive
    negative_weight = ~positive if ones else weights * ~positive
    labels = scores.shape[-1] if multi_label else 1
    if multi_label:
        slots = slots + (count + 1) * xp.arange(labels)
    results = []
    for weight in (positive_weight, negative_weight):
        per_slot = xp.bincount(
            slots.ravel(), weight.ravel().astype(thresholds.dtype), minlength=labels * (count + 1)
        ).reshape(labels, count + 1)
        above = xp.cumsum(per_slot[:, ::-1], axis=1)[:, ::-1][:, 1:]  # count above threshold i
        totals = per_slot.sum(axis=1, keepdims=True)
        unsorted = xp.empty_like(above)
        unsorted[:, order] = above
        results.append((unsorted, totals - unsorted))
    (tp, fn), (fp, tn) = results
    shape = (lambda a: a.T) if multi_label else (lambda a: a[0])
    return tuple(shape(a).astype(thresholds.dtype) for a in (tp, fp, tn, fn))


def _divide_no_nan(numerator, denominator):
    with xp.errstate(divide="ignore", invalid="ignore"):
        ratio = numerator / denominator
    return xp.where(denominator == 0, xp.zeros((), ratio.dtype), ratio)


def _scalar_or_array(values):
    return float(values[0]) if values.shape == (1,) else values.copy()


class _ThresholdMetric(Metric):
    """Counts of some confusion-matrix cells at each threshold (the shared machinery)."""

    _cells = ()  # which of "tp", "fp", "tn", "fn" the metric keeps

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(name=name, dtype=dtype)
        caller = type(self).__name__
        self.init_thresholds = thresholds
        self.top_k = _optional_index(caller, "top_k", top_k, 1)
        self.class_id = _optional_index(caller, "class_id", class_id, 0)
        self.thresholds = parse_thresholds(caller, thresholds, 0.5 if top_k is None else NEG_INF)
        self._threshold_array = xp.asarray(self.thresholds, dtype=self._dtype)
        self._counts = {
            cell: self.add_variable((len(self.thresholds),), "zeros", name=variable_name)
            for cell, variable_name in self._cells
        }

    def update_state(self, y_true, y_pred, sample_weight=None):
        caller = f"{type(self).__name__} '{self.name}'"
        positive, scores, weights = _labels_and_scores(
            caller, y_true, y_pred, sample_weight, self._dtype, self.top_k, self.class_id
        )
        tp, fp, tn, fn = confusion_counts(positive, scores, weights, self._threshold_array)
        found = {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
        for cell, variable in self._counts.items():
            variable.data += found[cell]

    def get_config(self) -> dict:
        return {**super().get_config(), "thresholds": self.init_thresholds}


class _CellCount(_ThresholdMetric):
    def __init__(self, thresholds=None, name=None, dtype=None):
        super().__init__(thresholds=thresholds, name=name, dtype=dtype)
        self.accumulator = next(iter(self._counts.values()))

    def result(self):
        return _scalar_or_array(self.accumulator.data)


class TruePositives(_CellCount):
    """The (weighted) number of true positives at each threshold.

    Example:
        >>> m = TruePositives()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        >>> m.result()
        2.0
    """

    _cells = (("tp", "accumulator"),)


class FalsePositives(_CellCount):
    """The (weighted) number of false positives at each threshold.

    Example:
        >>> m = FalsePositives()
        >>> m.update_state([0, 1, 0, 0], [0, 0, 1, 1])
        >>> m.result()
        2.0
    """

    _cells = (("fp", "accumulator"),)


class TrueNegatives(_CellCount):
    """The (weighted) number of true negatives at each threshold.

    Example:
        >>> m = TrueNegatives()
        >>> m.update_state([0, 1, 0, 0], [1, 1, 0, 0])
        >>> m.result()
        2.0
    """

    _cells = (("tn", "accumulator"),)


class FalseNegatives(_CellCount):
    """The (weighted) number of false negatives at each threshold.

    Example:
        >>> m = FalseNegatives()
        >>> m.update_state([0, 1, 1, 1], [0, 1, 0, 0])
        >>> m.result()
        2.0
    """

    _cells = (("fn", "accumulator"),)


class Precision(_ThresholdMetric):
    """``true_positives / (true_positives + false_positives)`` (0 when nothing is predicted
    positive), at each threshold; with ``top_k`` only each row's k best scores count as
    predicted, with ``class_id`` only that class's column.

    Example:
        >>> m = Precision(top_k=2)
        >>> m.update_state([0, 0, 1, 1], [1, 1, 1, 1])
        >>> m.result()
        0.0
    """

    _cells = (("tp", "true_positives"), ("fp", "false_positives"))

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype)
        self.true_positives = self._counts["tp"]
        self.false_positives = self._counts["fp"]

    def result(self):
        tp = self.true_positives.data
        return _scalar_or_array(_divide_no_nan(tp, tp + self.false_positives.data))

    def get_config(self) -> dict:
        return {**super().get_config(), "top_k": self.top_k, "class_id": self.class_id}


class Recall(_ThresholdMetric):
    """``true_positives / (true_positives + false_negatives)`` (0 when there are no
    positives), at each threshold; ``top_k`` and ``class_id`` as for :class:`Precision`.

    Example:
        >>> m = Recall()
        >>> m.update_state([0, 1, 1, 1], [1, 0, 1, 1])
        >>> round(m.result(), 4)
        0.6667
    """

    _cells = (("tp", "true_positives"), ("fn", "false_negatives"))

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        super().__init__(thresholds, top_k, class_id, name, dtype)
        self.true_positives = self._counts["tp"]
        self.false_negatives = self._counts["fn"]

    def result(self):
        tp = self.true_positives.data
        return _scalar_or_array(_divide_no_nan(tp, tp + self.false_negatives.data))

    def get_config(self) -> dict:
        return {**super().get_config(), "top_k": self.top_k, "class_id": self.class_id}


class AUC(Metric):
    """Area under the ROC or precision-recall curve, from counts at ``num_thresholds``
    thresholds spread evenly over ``[0, 1]`` (or at the given ``thresholds``).

    ``summation_method="interpolation"`` uses the trapezoidal rule for ROC and Davis &
    Goadrich's interpolation for PR; "minoring" and "majoring" take the lower and upper
    Riemann sums. With ``multi_label`` one AUC per label (last axis of 2-D inputs) is
    computed and their (``label_weights``-weighted) mean returned. ``from_logits`` applies a
    sigmoid to ``y_pred`` first.

    Example:
        >>> m = AUC(num_thresholds=3)
        >>> m.update_state([0, 0, 1, 1], [0, 0.5, 0.3, 0.9], sample_weight=[1, 0, 0, 1])
        >>> m.result()
        1.0
    """

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        super().__init__(name=name, dtype=dtype)
        caller = type(self).__name__
        curve = curve.upper() if isinstance(curve, str) else curve
        if curve not in ("ROC", "PR"):
            raise ValueError(f"{caller}: curve must be 'ROC' or 'PR', got {curve!r}")
        method = summation_method.lower() if isinstance(summation_method, str) else None
        if method not in ("interpolation", "minoring", "majoring"):
            raise ValueError(
                f"{caller}: summation_method must be 'interpolation', 'minoring' or "
                f"'majoring', got {summation_method!r}"
            )
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(parse_thresholds(caller, thresholds, 0.5))
        else:
            if (
                isinstance(num_thresholds, bool)
                or not isinstance(num_thresholds, int)
                or (num_thresholds <= 1)
            ):
                raise ValueError(
                    f"{caller}: num_thresholds must be an int > 1, got {num_thresholds!r}"
                )
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        # End points just outside [0, 1] so that every score lies between two thresholds.
        self._thresholds = xp.asarray([-EPSILON, *inner, 1.0 + EPSILON], dtype=self._dtype)
        self.num_thresholds = len(self._thresholds)
        self.curve = curve
        self.summation_method = method
        self.multi_label = bool(multi_label)
        if num_labels is not None and not self.multi_label:
            raise ValueError(f"{caller}: num_labels is only used with multi_label=True")
        self.num_labels = _optional_index(caller, "num_labels", num_labels, 1)
        self.label_weights = (
            None if label_weights is None else xp.asarray(label_weights, dtype=self._dtype)
        )
        if self.label_weights is not None and (self.label_weights < 0).any():
            raise ValueError(f"{caller}: label_weights must be non-negative, got {label_weights!r}")
        self._from_logits = bool(from_logits)
        self._built = False
        if not self.multi_label or num_labels:
            self._build(num_labels if self.multi_label else None)

    @property
    def thresholds(self) -> list:
        """The thresholds, end points included."""
        return self._thresholds.tolist()

    def _build(self, num_labels):
        shape = (self.num_thresholds,) if num_labels is None else (self.num_thresholds, num_labels)
        self._num_labels = num_labels
        self.true_positives = self.add_variable(shape, "zeros", name="true_positives")
        self.false_positives = self.add_variable(shape, "zeros", name="false_positives")
        self.true_negatives = self.add_variable(shape, "zeros", name="true_negatives")
        self.false_negatives = self.add_variable(shape, "zeros", name="false_negatives")
        self._built = True

    def update_state(self, y_true, y_pred, sample_weight=None):
        caller = f"AUC '{self.name}'"
        positive, scores, weights = _labels_and_scores(
            caller, y_true, y_pred, sample_weight, self._dtype
        )
        if self.multi_label:
            if scores.ndim != 2:
                raise ValueError(
                    f"{caller}: multi_label=True needs y_pred of shape (samples, labels), got "
                    f"shape {scores.shape}"
                )
            if not self._built:
                self._build(scores.shape[1])
            elif scores.shape[1] != self._num_labels:
                raise ValueError(
                    f"{caller}: built for {self._num_labels} labels, got y_pred of shape "
                    f"{scores.shape}"
                )
        elif self.label_weights is not None:
            weights = self.label_weights if weights is None else weights * self.label_weights
            weights = xp.broadcast_to(weights, scores.shape)
        if self._from_logits:
            scores = _sigmoid(scores)
        counts = confusion_counts(positive, scores, weights, self._thresholds, self.multi_label)
        variables = (
            self.true_positives,
            self.false_positives,
            self.true_negatives,
            self.false_negatives,
        )
        for variable, count in zip(variables, counts):
            variable.data += count

    def result(self) -> float:
        if not self._built:
            return 0.0
        tp, fp = self.true_positives.data, self.false_positives.data
        tn, fn = self.true_negatives.data, self.false_negatives.data
        if self.curve == "PR" and self.summation_method == "interpolation":
            areas = _interpolated_pr_areas(tp, fp, fn)
        else:
            recall = _divide_no_nan(tp, tp + fn)
            if self.curve == "ROC":
                x, y = _divide_no_nan(fp, fp + tn), recall
            else:
                x, y = recall, _divide_no_nan(tp, tp + fp)
            if self.summation_method == "interpolation":
                heights = (y[:-1] + y[1:]) / 2
            elif self.summation_method == "minoring":
                heights = xp.minimum(y[:-1], y[1:])
            else:
                heights = xp.maximum(y[:-1], y[1:])
            areas = (x[:-1] - x[1:]) * heights
        by_label = areas.sum(axis=0)
        if not self.multi_label:
            return float(by_label)
        if self.label_weights is None:
            return float(by_label.mean())
        total = float(self.label_weights.sum())
        return float((by_label * self.label_weights).sum()) / total if total else 0.0

    def reset_state(self) -> None:
        if self._built:
            super().reset_state()

    def get_config(self) -> dict:
        config = {
            **super().get_config(),
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": None if self.label_weights is None else self.label_weights.tolist(),
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:
            config["thresholds"] = self.thresholds[1:-1]
        return config


def _sigmoid(x):
    # Stable on both sides: exp of a non-positive number never overflows.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def _interpolated_pr_areas(tp, fp, fn):
    """Areas under the PR curve between neighbouring thresholds, interpolating true and
    false positives linearly (Davis & Goadrich, 2006) as Keras does."""
    dtp = tp[:-1] - tp[1:]
    predicted = tp + fp
    dp = predicted[:-1] - predicted[1:]
    slope = _divide_no_nan(dtp, xp.maximum(dp, 0))
    intercept = tp[1:] - slope * predicted[1:]
    both_positive = (predicted[:-1] > 0) & (predicted[1:] > 0)
    ratio = xp.where(
        both_positive, _divide_no_nan(predicted[:-1], xp.maximum(predicted[1:], 0)), 1.0
    )
    with xp.errstate(divide="ignore"):
        log_ratio = xp.log(xp.where(ratio > 0, ratio, 1.0))
    return _divide_no_nan(slope * (dtp + intercept * log_ratio), xp.maximum(tp[1:] + fn[1:], 0))
