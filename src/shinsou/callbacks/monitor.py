"""What the callbacks that watch a metric share: argument checks, and whether the watched
quantity should go down (a loss, an error) or up (an accuracy, an AUC) in ``mode="auto"``.

Example:
    >>> infer_direction("val_loss"), infer_direction("val_accuracy"), infer_direction("zz")
    ('min', 'max', None)
"""

from __future__ import annotations

import numbers
import warnings

MODES = ("auto", "min", "max")

# Substrings of metric names, checked in this order: the first list wins over the second.
_DECREASING = ("loss", "error", "crossentropy", "mse", "mae", "mape", "msle", "hinge",
               "divergence", "poisson", "logcosh", "huber", "false_positives",
               "false_negatives")  # fmt: skip
_INCREASING = ("acc", "auc", "precision", "recall", "f1", "fbeta", "iou", "r2",
               "true_positives", "true_negatives", "cosine_similarity")  # fmt: skip


def infer_direction(monitor: str, model=None):
    """``"min"`` or ``"max"``: which way ``monitor`` improves; None when unknown.

    A compiled metric of that name that declares its direction (``_direction`` of
    ``"up"``/``"down"``, as Keras metrics do) decides; otherwise the name does.

    Example:
        >>> infer_direction("val_sparse_categorical_accuracy"), infer_direction("mae")
        ('max', 'min')
    """
    name = monitor.removeprefix("val_")
    if name == "loss":
        return "min"
    for metric in getattr(model, "metrics", None) or []:
        direction = getattr(metric, "_direction", None)
        if getattr(metric, "name", None) == name and direction in ("up", "down"):
            return "max" if direction == "up" else "min"
    if any(token in name for token in _DECREASING):
        return "min"
    if any(token in name for token in _INCREASING):
        return "max"
    return None


def resolve_mode(owner: str, monitor: str, mode: str, model) -> str:
    """``mode`` itself, or for ``"auto"`` the direction inferred for ``monitor``; raises a
    ValueError that says what to pass when it cannot be inferred."""
    if mode != "auto":
        return mode
    direction = infer_direction(monitor, model)
    if direction is None:
        raise ValueError(
            f"{owner}: cannot tell whether monitor={monitor!r} should be minimized or "
            "maximized; pass mode='min' or mode='max'"
        )
    return direction


def check_choice(owner: str, argument: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(
            f"{owner}: {argument} must be one of {tuple(choices)}, received {argument}={value!r}"
        )


def check_count(owner: str, argument: str, value) -> None:
    """A non-negative integer (epochs of patience, cooldown...)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(
            f"{owner}: {argument} must be a non-negative integer, received {argument}={value!r}"
        )


def check_number(owner: str, argument: str, value, allow_none=False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{owner}: {argument} must be a number, received {argument}={value!r}")


def check_monitor(owner: str, monitor) -> None:
    if not isinstance(monitor, str) or not monitor:
        raise ValueError(
            f"{owner}: monitor must be the name of a logged quantity such as 'val_loss', "
            f"received monitor={monitor!r}"
        )


def check_save_freq(owner: str, save_freq) -> None:
    if save_freq == "epoch":
        return
    if isinstance(save_freq, bool) or not isinstance(save_freq, numbers.Integral) or save_freq < 1:
        raise ValueError(
            f"{owner}: save_freq must be 'epoch' or a positive number of batches, received "
            f"save_freq={save_freq!r}"
        )


def monitored_value(owner: str, monitor: str, logs):
    """``logs[monitor]``, or None with a warning that lists the available keys."""
    logs = logs or {}
    value = logs.get(monitor)
    if value is None:
        warnings.warn(
            f"{owner} is conditioned on metric '{monitor}', which is not available; "
            f"available metrics are: {', '.join(logs) or 'none'}",
            stacklevel=3,
        )
    return value


def is_improvement(mode: str, current, reference, min_delta: float) -> bool:
    """Whether ``current`` beats ``reference`` by more than ``min_delta`` (None beats all)."""
    if reference is None:
        return True
    if mode == "min":
        return bool(current + min_delta < reference)
    return bool(current - min_delta > reference)
