"""Loss functions with Keras's names: one value per sample, differentiable w.r.t. ``y_pred``.

Each takes ``(y_true, y_pred)`` (tensors, arrays or lists) and, like ``keras.losses``,
averages (or sums, for the distribution losses) over the last axis. ``y_true`` and
``y_pred`` must have the same shape, up to a trailing axis of size 1 that is added or
dropped as Keras does; shinsou never broadcasts ``(N,)`` against ``(N, 1)`` into a silent
``(N, N)``.

Example:
    >>> mean_squared_error([[0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0], [1.0, 1.0]]).tolist()
    [0.5, 0.0]
"""

from __future__ import annotations

import math
import warnings

from .. import backend, ops
from ..backend import xp
from ..tensor import Tensor, as_tensor
from .loss import squeeze_or_expand_to_same_rank

EPSILON = 1e-7
"""Keras's ``backend.epsilon()``: the clip and guard value of the formulas below."""

_LOG_2 = math.log(2.0)


def _prediction(y_pred, caller) -> Tensor:
    y_pred = as_tensor(y_pred)
    if y_pred.dtype.kind in "biu":
        return Tensor._wrap(y_pred.data.astype(backend.floatx()))
    if y_pred.dtype.kind != "f":
        raise TypeError(f"{caller}: y_pred must hold numbers, got dtype {y_pred.dtype}")
    return y_pred


def _target_like(y_true, y_pred, caller) -> Tensor:
    y_true = as_tensor(y_true)
    if y_true.dtype.kind not in "biuf":
        raise TypeError(f"{caller}: y_true must hold numbers, got dtype {y_true.dtype}")
    return y_true if y_true.dtype == y_pred.dtype else ops.cast(y_true, y_pred.dtype)


def _aligned(caller, y_true, y_pred):
    """``y_true`` and ``y_pred`` as tensors of one float dtype and one shape."""
    y_pred = _prediction(y_pred, caller)
    y_true = _target_like(y_true, y_pred, caller)
    y_true, y_pred = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{caller}: y_true shape {y_true.shape} and y_pred shape {y_pred.shape} must be "
            "equal (a trailing axis of size 1 may differ); reshape one of them"
        )
    if y_pred.ndim == 0:
        raise ValueError(f"{caller}: y_pred must have at least one axis, got a scalar")
    return y_true, y_pred


def _check_label_smoothing(caller, label_smoothing):
    if not 0.0 <= float(label_smoothing) <= 1.0:
        raise ValueError(f"{caller}: label_smoothing must lie in [0, 1], got {label_smoothing}")
    return float(label_smoothing)


def _check_axis(caller, axis):
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"{caller}: axis must be an int, got {axis!r}")
    return axis


def _l2_normalize(x, axis):
    # x / max(|x|, eps) as Keras's normalize; the max is taken on the squared norm so that
    # the gradient stays finite at x = 0.
    squared_norm = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x / ops.sqrt(ops.maximum(squared_norm, EPSILON * EPSILON))


# -- regression -----------------------------------------------------------------------------


def mean_squared_error(y_true, y_pred):
    """``mean(square(y_true - y_pred), axis=-1)``.

    Example:
        >>> mean_squared_error([[0.0, 2.0]], [[1.0, 1.0]]).tolist()
        [1.0]
    """
    return ops.mean_squared_error(*_aligned("mean_squared_error", y_true, y_pred))


def mean_absolute_error(y_true, y_pred):
    """``mean(abs(y_true - y_pred), axis=-1)``.

    Example:
        >>> mean_absolute_error([[0.0, 2.0]], [[1.0, 1.0]]).tolist()
        [1.0]
    """
    return ops.mean_absolute_error(*_aligned("mean_absolute_error", y_true, y_pred))


def mean_absolute_percentage_error(y_true, y_pred):
    """``100 * mean(abs((y_true - y_pred) / max(abs(y_true), 1e-7)), axis=-1)``.

    Example:
        >>> mean_absolute_percentage_error([[2.0, 4.0]], [[1.0, 5.0]]).tolist()
        [37.5]
    """
    y_true, y_pred = _aligned("mean_absolute_percentage_error", y_true, y_pred)
    relative = ops.abs((y_true - y_pred) / ops.maximum(ops.abs(y_true), EPSILON))
    return ops.mean(relative, axis=-1) * 100.0


def mean_squared_logarithmic_error(y_true, y_pred):
    """``mean(square(log(1 + y_pred) - log(1 + y_true)), axis=-1)``, values below 1e-7
    raised to 1e-7 first.

    Example:
        >>> loss = mean_squared_logarithmic_error([[0.0, 1.0]], [[1.0, 1.0]])
        >>> [round(v, 4) for v in loss.tolist()]
        [0.2402]
    """
    y_true, y_pred = _aligned("mean_squared_logarithmic_error", y_true, y_pred)
    difference = ops.log1p(ops.maximum(y_pred, EPSILON)) - ops.log1p(ops.maximum(y_true, EPSILON))
    return ops.mean(ops.square(difference), axis=-1)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Minus the cosine similarity along ``axis``: -1 for parallel vectors, 0 when either is 0.

    Example:
        >>> loss = cosine_similarity([[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [2.0, 2.0]])
        >>> [round(v, 4) for v in loss.tolist()]
        [-0.0, -1.0]
    """
    y_true, y_pred = _aligned("cosine_similarity", y_true, y_pred)
    axis = _check_axis("cosine_similarity", axis)
    return -ops.sum(_l2_normalize(y_true, axis) * _l2_normalize(y_pred, axis), axis=axis)


def huber(y_true, y_pred, delta=1.0):
    """Huber loss: ``0.5 e²`` for ``|e| <= delta``, ``delta (|e| - 0.5 delta)`` beyond, averaged
    over the last axis (PyTorch's ``huber_loss`` with the same ``delta``).

    Example:
        >>> huber([[0.0, 0.0]], [[0.5, 3.0]]).tolist()
        [1.3125]
    """
    return ops.huber(*_aligned("huber", y_true, y_pred), delta=delta)


def log_cosh(y_true, y_pred):
    """``mean(log(cosh(y_pred - y_true)), axis=-1)``, computed without overflow.

    Example:
        >>> [round(v, 4) for v in log_cosh([[0.0, 1.0]], [[1.0, 1.0]]).tolist()]
        [0.2169]
    """
    y_true, y_pred = _aligned("log_cosh", y_true, y_pred)
    error = y_pred - y_true
    # log(cosh(x)) = x + log(1 + exp(-2x)) - log(2) = x + softplus(-2x) - log(2)
    return ops.mean(error + ops.softplus(error * -2.0) - _LOG_2, axis=-1)


# -- probabilistic --------------------------------------------------------------------------


def kl_divergence(y_true, y_pred):
    """``sum(y_true * log(y_true / y_pred), axis=-1)`` with both clipped to ``[1e-7, 1]``.

    Example:
        >>> [round(v, 4) for v in kl_divergence([[0.5, 0.5]], [[0.25, 0.75]]).tolist()]
        [0.1438]
    """
    y_true, y_pred = _aligned("kl_divergence", y_true, y_pred)
    y_true = ops.clip(y_true, EPSILON, 1.0)
    y_pred = ops.clip(y_pred, EPSILON, 1.0)
    return ops.sum(y_true * (ops.log(y_true) - ops.log(y_pred)), axis=-1)


def poisson(y_true, y_pred):
    """``mean(y_pred - y_true * log(y_pred + 1e-7), axis=-1)``.

    Example:
        >>> [round(v, 4) for v in poisson([[1.0, 2.0]], [[1.0, 1.0]]).tolist()]
        [1.0]
    """
    y_true, y_pred = _aligned("poisson", y_true, y_pred)
    return ops.mean(y_pred - y_true * ops.log(y_pred + EPSILON), axis=-1)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy averaged over ``axis``.

    ``label_smoothing`` squeezes the targets towards 0.5: ``y * (1 - s) + 0.5 s``. With
    ``from_logits=True`` ``y_pred`` holds logits and the loss is computed stably.

    Example:
        >>> loss = binary_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
        >>> [round(v, 3) for v in loss.tolist()]
        [0.916, 0.714]
    """
    caller = "binary_crossentropy"
    y_true, y_pred = _aligned(caller, y_true, y_pred)
    smoothing = _check_label_smoothing(caller, label_smoothing)
    axis = _check_axis(caller, axis)
    if smoothing:
        y_true = y_true * (1.0 - smoothing) + 0.5 * smoothing
    return ops.mean(ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits), axis=axis)


def binary_focal_crossentropy(
    y_true,
    y_pred,
    apply_class_balancing=False,
    alpha=0.25,
    gamma=2.0,
    from_logits=False,
    label_smoothing=0.0,
    axis=-1,
):
    """Binary cross-entropy scaled by ``(1 - p_t) ** gamma`` (Lin et al., 2018), averaged
    over ``axis``; with ``apply_class_balancing`` also by ``alpha`` (class 1) or
    ``1 - alpha`` (class 0).

    Example:
        >>> loss = binary_focal_crossentropy([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]])
        >>> [round(v, 3) for v in loss.tolist()]
        [0.33, 0.206]
    """
    caller = "binary_focal_crossentropy"
    y_true, y_pred = _aligned(caller, y_true, y_pred)
    smoothing = _check_label_smoothing(caller, label_smoothing)
    axis = _check_axis(caller, axis)
    if smoothing:
        y_true = y_true * (1.0 - smoothing) + 0.5 * smoothing
    # From logits the cross-entropy itself is taken on the logits: stable for huge ones.
    cross_entropy = ops.binary_crossentropy(y_true, y_pred, from_logits=from_logits)
    probabilities = ops.sigmoid(y_pred) if from_logits else y_pred
    p_t = y_true * probabilities + (1.0 - y_true) * (1.0 - probabilities)
    focal = ops.power(1.0 - p_t, float(gamma)) * cross_entropy
    if apply_class_balancing:
        focal = (y_true * alpha + (1.0 - y_true) * (1.0 - alpha)) * focal
    return ops.mean(focal, axis=axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy between one-hot (or soft) targets and predictions along ``axis``.

    ``label_smoothing`` s turns the targets into ``y * (1 - s) + s / classes``. With
    ``from_logits=True`` ``y_pred`` holds logits (stable log-softmax inside).

    Example:
        >>> loss = categorical_crossentropy([[0, 1, 0], [0, 0, 1]],
        ...                                 [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
        >>> [round(v, 4) for v in loss.tolist()]
        [0.0513, 2.3026]
    """
    caller = "categorical_crossentropy"
    y_true, y_pred = _aligned(caller, y_true, y_pred)
    smoothing = _check_label_smoothing(caller, label_smoothing)
    axis = _check_axis(caller, axis)
    _warn_single_class(caller, y_pred, axis)
    if smoothing:
        y_true = y_true * (1.0 - smoothing) + smoothing / y_pred.shape[axis]
    return ops.categorical_crossentropy(y_true, y_pred, from_logits=from_logits, axis=axis)


def categorical_focal_crossentropy(
    y_true, y_pred, alpha=0.25, gamma=2.0, from_logits=False, label_smoothing=0.0, axis=-1
):
    """Categorical cross-entropy with each class term scaled by ``alpha (1 - p) ** gamma``.

    ``alpha`` is a number or one weight per class.

    Example:
        >>> loss = categorical_focal_crossentropy([[0, 1, 0], [0, 0, 1]],
        ...                                       [[0.05, 0.9, 0.05], [0.1, 0.85, 0.05]])
        >>> [round(v, 4) for v in loss.tolist()]
        [0.0003, 0.6759]
    """
    caller = "categorical_focal_crossentropy"
    y_true, y_pred = _aligned(caller, y_true, y_pred)
    smoothing = _check_label_smoothing(caller, label_smoothing)
    axis = _check_axis(caller, axis)
    _warn_single_class(caller, y_pred, axis)
    if smoothing:
        y_true = y_true * (1.0 - smoothing) + smoothing / y_pred.shape[axis]
    if from_logits:
        y_pred = ops.softmax(y_pred, axis=axis)
    probabilities = y_pred / ops.sum(y_pred, axis=axis, keepdims=True)
    probabilities = ops.clip(probabilities, EPSILON, 1.0 - EPSILON)
    weight = ops.power(1.0 - probabilities, float(gamma))
    if isinstance(alpha, (list, tuple)) or getattr(alpha, "ndim", 0):
        # One weight per class: shaped to broadcast along the class axis.
        alpha = xp.asarray(alpha, dtype=y_pred.dtype)
        trailing = y_pred.ndim - 1 - axis % y_pred.ndim
        alpha = alpha.reshape(alpha.shape + (1,) * trailing)
    return ops.sum(weight * alpha * (-y_true * ops.log(probabilities)), axis=axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy between integer class labels and predictions along ``axis``.

    ``y_true`` holds one class index per sample (shape ``(N,)`` or ``(N, 1)``, any integer
    dtype, or floats holding whole numbers). Samples labelled ``ignore_class`` get a loss of
    0 and are masked out of the mean.

    Example:
        >>> loss = sparse_categorical_crossentropy([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
        >>> [round(v, 4) for v in loss.tolist()]
        [0.0513, 2.3026]
    """
    caller = "sparse_categorical_crossentropy"
    y_pred = _prediction(y_pred, caller)
    axis = _check_axis(caller, axis)
    labels = as_tensor(y_true).data
    if labels.ndim == y_pred.ndim and labels.shape[-1:] == (1,):
        labels = labels.reshape(labels.shape[:-1])
    if ignore_class is None:
        return ops.sparse_categorical_crossentropy(labels, y_pred, from_logits, axis)
    kept = labels != ignore_class
    labels = xp.where(kept, labels, xp.zeros((), labels.dtype))
    losses = ops.sparse_categorical_crossentropy(labels, y_pred, from_logits, axis)
    losses = ops.where(kept, losses, 0.0)
    losses._keras_mask = kept  # ignored samples leave the mean, as in Keras
    return losses


# -- hinge ----------------------------------------------------------------------------------


def _signed_labels(y_true):
    """0/1 labels as -1/1 (others unchanged), as Keras's hinge losses expect."""
    values = y_true.data
    if ((values == 0) | (values == 1)).all():
        return y_true * 2.0 - 1.0
    return y_true


def hinge(y_true, y_pred):
    """``mean(maximum(1 - y_true * y_pred, 0), axis=-1)`` with 0/1 labels mapped to -1/1.

    Example:
        >>> hinge([[1.0, 0.0]], [[0.5, -2.0]]).tolist()
        [0.25]
    """
    y_true, y_pred = _aligned("hinge", y_true, y_pred)
    return ops.mean(ops.relu(1.0 - _signed_labels(y_true) * y_pred), axis=-1)


def squared_hinge(y_true, y_pred):
    """``mean(square(maximum(1 - y_true * y_pred, 0)), axis=-1)``, 0/1 labels mapped to -1/1.

    Example:
        >>> squared_hinge([[1.0, 0.0]], [[0.5, -2.0]]).tolist()
        [0.125]
    """
    y_true, y_pred = _aligned("squared_hinge", y_true, y_pred)
    return ops.mean(ops.square(ops.relu(1.0 - _signed_labels(y_true) * y_pred)), axis=-1)


def categorical_hinge(y_true, y_pred):
    """``maximum(max((1 - y_true) * y_pred) - sum(y_true * y_pred) + 1, 0)`` over the last axis.

    Example:
        >>> [round(v, 4) for v in categorical_hinge([[0.0, 1.0]], [[0.3, 0.6]]).tolist()]
        [0.7]
    """
    y_true, y_pred = _aligned("categorical_hinge", y_true, y_pred)
    positive = ops.sum(y_true * y_pred, axis=-1)
    negative = ops.max((1.0 - y_true) * y_pred, axis=-1)
    return ops.relu(negative - positive + 1.0)


# -- segmentation ---------------------------------------------------------------------------


def dice(y_true, y_pred, axis=None):
    """``1 - 2 sum(y_true y_pred) / (sum(y_true) + sum(y_pred))`` over ``axis`` (all axes by
    default, giving one number).

    Example:
        >>> round(dice([[1.0, 1.0, 0.0]], [[1.0, 0.0, 0.0]]).item(), 4)
        0.3333
    """
    y_true, y_pred = _aligned("dice", y_true, y_pred)
    intersection = ops.sum(y_true * y_pred, axis=axis)
    union = ops.sum(y_true, axis=axis) + ops.sum(y_pred, axis=axis)
    return 1.0 - 2.0 * intersection / (union + EPSILON)


def _warn_single_class(caller, y_pred, axis):
    if y_pred.shape[axis] == 1:
        warnings.warn(
            f"{caller}: y_pred has a class axis of size 1 (shape {y_pred.shape}), so the loss "
            "is always 0; use binary_crossentropy for two classes with one output",
            SyntaxWarning,
            stacklevel=3,
        )
