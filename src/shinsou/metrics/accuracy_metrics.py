"""Accuracy metrics: how often predictions match labels (exactly, after a threshold, by
argmax, or within the top k).

The functions return one value per sample (1.0 for a match, 0.0 otherwise) as a tensor;
the classes average them over everything seen. All of it is NumPy, without a graph.

Example:
    >>> m = SparseCategoricalAccuracy()
    >>> m.update_state([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
    >>> m.result()
    0.5
"""

from __future__ import annotations

from .. import backend
from ..backend import xp
from ..losses.loss import squeeze_or_expand_to_same_rank
from ..tensor import Tensor
from .metric import to_numpy
from .reduction_metrics import MeanMetricWrapper


def _matches(equal):
    return equal.astype(backend.floatx())


def _same_shape(caller, y_true, y_pred):
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{caller}: y_true shape {y_true.shape} and y_pred shape {y_pred.shape} must be "
            "equal (a trailing axis of size 1 may differ)"
        )
    return y_true, y_pred


def _per_sample(matches):
    # One value per sample: the mean over the last axis when there is more than one axis.
    return matches.mean(axis=-1) if matches.ndim > 1 else matches


def _accuracy(y_true, y_pred):
    y_true, y_pred = _same_shape("accuracy", to_numpy(y_true), to_numpy(y_pred))
    return _per_sample(_matches(y_true == y_pred))


def _binary_accuracy(y_true, y_pred, threshold=0.5):
    y_true, y_pred = _same_shape("binary_accuracy", to_numpy(y_true), to_numpy(y_pred))
    predicted = (y_pred > threshold).astype(y_true.dtype)
    return _per_sample(_matches(y_true == predicted))


def _class_scores(caller, y_pred):
    y_pred = to_numpy(y_pred)
    if y_pred.ndim < 1:
        raise ValueError(f"{caller}: y_pred must have a class axis, got a scalar")
    return y_pred


def _categorical_accuracy(y_true, y_pred):
    caller = "categorical_accuracy"
    y_true, y_pred = to_numpy(y_true), _class_scores(caller, y_pred)
    if y_true.shape[:-1] != y_pred.shape[:-1] or y_true.ndim != y_pred.ndim:
        raise ValueError(
            f"{caller}: y_true shape {y_true.shape} must be one-hot like y_pred shape "
            f"{y_pred.shape}; for integer labels use sparse_categorical_accuracy"
        )
    return _matches(y_true.argmax(axis=-1) == y_pred.argmax(axis=-1))


def _sparse_labels(caller, y_true, y_pred):
    labels = to_numpy(y_true)
    if labels.ndim == y_pred.ndim and labels.shape[-1:] == (1,):
        labels = labels.reshape(labels.shape[:-1])
    if labels.shape != y_pred.shape[:-1]:
        raise ValueError(
            f"{caller}: y_true shape {labels.shape} does not fit y_pred shape {y_pred.shape}; "
            f"expected one class index per sample, shape {y_pred.shape[:-1]}"
        )
    return labels


def _sparse_categorical_accuracy(y_true, y_pred):
    caller = "sparse_categorical_accuracy"
    y_pred = _class_scores(caller, y_pred)
    labels = _sparse_labels(caller, y_true, y_pred)
    return _matches(labels == y_pred.argmax(axis=-1))


def _check_k(caller, k):
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"{caller}: k must be a positive int, got {k!r}")
    return k


def _in_top_k(caller, labels, y_pred, k):
    """Whether each label's score is among the ``k`` largest of its row (ties count in)."""
    _check_k(caller, k)
    scores = y_pred.reshape(-1, y_pred.shape[-1])
    labels = labels.reshape(-1)
    valid = (labels >= 0) & (labels < scores.shape[-1])
    if labels.dtype.kind == "f":
        valid &= labels == xp.floor(labels)
    rows = xp.arange(scores.shape[0])
    target = scores[rows, xp.where(valid, labels, 0).astype(xp.intp)]
    higher = (scores > target[:, None]).sum(axis=-1)
    return _matches(valid & (higher < k) & xp.isfinite(target)).reshape(y_pred.shape[:-1])


def _top_k_categorical_accuracy(y_true, y_pred, k=5):
    caller = "top_k_categorical_accuracy"
    y_true, y_pred = to_numpy(y_true), _class_scores(caller, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{caller}: y_true shape {y_true.shape} must be one-hot like y_pred shape "
            f"{y_pred.shape}; for integer labels use sparse_top_k_categorical_accuracy"
        )
    return _in_top_k(caller, y_true.argmax(axis=-1), y_pred, k)


def _sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    caller = "sparse_top_k_categorical_accuracy"
    y_pred = _class_scores(caller, y_pred)
    return _in_top_k(caller, _sparse_labels(caller, y_true, y_pred), y_pred, k)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where ``y_pred > threshold`` equals the 0/1 label (averaged over the last axis of
    multi-output predictions).

    Example:
        >>> binary_accuracy([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]).tolist()
        [1.0, 1.0, 1.0, 0.0]
    """
    return Tensor._wrap(_binary_accuracy(y_true, y_pred, threshold))


def categorical_accuracy(y_true, y_pred):
    """1.0 where the argmax of ``y_pred`` is the hot class of the one-hot ``y_true``.

    Example:
        >>> y_pred = [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]
        >>> categorical_accuracy([[0, 0, 1], [0, 1, 0]], y_pred).tolist()
        [0.0, 1.0]
    """
    return Tensor._wrap(_categorical_accuracy(y_true, y_pred))


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where the argmax of ``y_pred`` equals the integer label.

    Example:
        >>> sparse_categorical_accuracy([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]).tolist()
        [0.0, 1.0]
    """
    return Tensor._wrap(_sparse_categorical_accuracy(y_true, y_pred))


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the hot class of ``y_true`` is among the ``k`` highest scores.

    Example:
        >>> top_k_categorical_accuracy([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
        ...                            k=1).tolist()
        [0.0, 1.0]
    """
    return Tensor._wrap(_top_k_categorical_accuracy(y_true, y_pred, k))


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the integer label is among the ``k`` highest scores.

    Example:
        >>> sparse_top_k_categorical_accuracy([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
        ...                                   k=2).tolist()
        [1.0, 1.0]
    """
    return Tensor._wrap(_sparse_top_k_categorical_accuracy(y_true, y_pred, k))


class Accuracy(MeanMetricWrapper):
    """How often ``y_pred`` equals ``y_true`` exactly.

    Example:
        >>> m = Accuracy()
        >>> m.update_state([[1], [2], [3], [4]], [[0], [2], [3], [4]])
        >>> m.result()
        0.75
    """

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(_accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """How often ``y_pred > threshold`` matches the 0/1 labels.

    Example:
        >>> m = BinaryAccuracy()
        >>> m.update_state([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]],
        ...                sample_weight=[1, 0, 0, 1])
        >>> m.result()
        0.5
    """

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        if threshold is not None and not 0 < threshold < 1:
            raise ValueError(f"BinaryAccuracy: threshold must lie in (0, 1), got {threshold!r}")
        super().__init__(_binary_accuracy, name=name, dtype=dtype, threshold=threshold)
        self.threshold = threshold


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of ``y_pred`` is the hot class of one-hot ``y_true``.

    Example:
        >>> m = CategoricalAccuracy()
        >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
        ...                sample_weight=[0.7, 0.3])
        >>> round(m.result(), 4)
        0.3
    """

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(_categorical_accuracy, name=name, dtype=dtype)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of ``y_pred`` equals the integer label.

    Example:
        >>> m = SparseCategoricalAccuracy()
        >>> m.update_state([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
        >>> m.result()
        0.5
    """

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(_sparse_categorical_accuracy, name=name, dtype=dtype)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the hot class of one-hot ``y_true`` is among the ``k`` highest scores.

    Example:
        >>> m = TopKCategoricalAccuracy(k=1)
        >>> m.update_state([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
        >>> m.result()
        0.5
    """

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        _check_k(type(self).__name__, k)
        super().__init__(_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` highest scores.

    Example:
        >>> m = SparseTopKCategoricalAccuracy(k=1)
        >>> m.update_state([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
        >>> m.result()
        0.5
    """

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        _check_k(type(self).__name__, k)
        super().__init__(_sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=k)
        self.k = k
