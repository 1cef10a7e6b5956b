"""Intersection-over-union metrics for classification and segmentation: ``IoU``,
``MeanIoU``, ``BinaryIoU``, ``OneHotIoU`` and ``OneHotMeanIoU``.

A weighted confusion matrix (rows: true class, columns: predicted class) is accumulated
over all batches; the IoU of class c is ``cm[c, c] / (row c + column c - cm[c, c])`` and the
result is the mean over the requested classes that occurred at all.

Example:
    >>> m = MeanIoU(num_classes=2)
    >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
    >>> round(m.result(), 4)
    0.3333
"""

from __future__ import annotations

from ..backend import xp
from .metric import Metric, to_numpy

EPSILON = 1e-7


def _class_count(caller, num_classes):
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{caller}: num_classes must be a positive int, got {num_classes!r}")
    return num_classes


def _class_indices(caller, what, values):
    if values.dtype.kind == "f" and not (values == xp.floor(values)).all():
        raise ValueError(
            f"{caller}: {what} must hold class indices; got non-integer values (pass "
            f"sparse_{what}=False to take the argmax of scores)"
        )
    return values.astype(xp.intp)


class IoU(Metric):
    """Mean IoU over ``target_class_ids`` (one id gives that class's IoU).

    ``sparse_y_true`` / ``sparse_y_pred``: whether labels / predictions are class indices
    (True) or scores whose argmax along ``axis`` is taken (False). Entries labelled
    ``ignore_class`` are left out.

    Example:
        >>> m = IoU(num_classes=2, target_class_ids=[0])
        >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1])
        >>> round(m.result(), 4)
        0.3333
    """

    def __init__(
        self,
        num_classes,
        target_class_ids,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true=True,
        sparse_y_pred=True,
        axis=-1,
    ):
        super().__init__(name=name, dtype=dtype)
        caller = type(self).__name__
        self.num_classes = _class_count(caller, num_classes)
        target_class_ids = list(target_class_ids)
        bad = [c for c in target_class_ids if not isinstance(c, int) or not 0 <= c < num_classes]
        if bad or not target_class_ids:
            raise ValueError(
                f"{caller}: target_class_ids must be class ids in [0, {num_classes}), "
                f"got {target_class_ids}"
            )
        self.target_class_ids = target_class_ids
        self.ignore_class = ignore_class
        self.sparse_y_true = sparse_y_true
        self.sparse_y_pred = sparse_y_pred
        self.axis = axis
        self.total_cm = self.add_variable(
            (num_classes, num_classes), "zeros", name="total_confusion_matrix"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        caller = f"{type(self).__name__} '{self.name}'"
        y_true, y_pred = to_numpy(y_true), to_numpy(y_pred)
        if not self.sparse_y_true:
            y_true = y_true.argmax(axis=self.axis)
        if not self.sparse_y_pred:
            y_pred = y_pred.argmax(axis=self.axis)
        y_true, y_pred = y_true.reshape(-1), y_pred.reshape(-1)
        if y_true.shape != y_pred.shape:
            raise ValueError(
                f"{caller}: y_true has {y_true.size} entries and y_pred {y_pred.size}; they "
                "must match one to one (use sparse_y_pred=False for class scores)"
            )
        weights = xp.ones(y_true.shape, self._dtype)
        if sample_weight is not None:
            try:
                weights = xp.broadcast_to(
                    to_numpy(sample_weight, self._dtype).reshape(-1), y_true.shape
                )
            except ValueError:
                raise ValueError(
                    f"{caller}: sample_weight has {to_numpy(sample_weight).size} entries, "
                    f"expected 1 or {y_true.size}"
                ) from None
        if self.ignore_class is not None:
            kept = y_true != self.ignore_class
            y_true, y_pred, weights = y_true[kept], y_pred[kept], weights[kept]
        y_true = _class_indices(caller, "y_true", y_true)
        y_pred = _class_indices(caller, "y_pred", y_pred)
        for what, values in (("y_true", y_true), ("y_pred", y_pred)):
            if values.size and (values.min() < 0 or values.max() >= self.num_classes):
                culprit = values.min() if values.min() < 0 else values.max()
                raise ValueError(
                    f"{caller}: {what} holds class {int(culprit)}, outside the valid class ids "
                    f"[0, {self.num_classes}) (num_classes={self.num_classes})"
                )
        cells = y_true * self.num_classes + y_pred
        counts = xp.bincount(cells, weights, minlength=self.num_classes**2)
        self.total_cm.data += counts.reshape(self.num_classes, self.num_classes)

    def result(self) -> float:
        cm = self.total_cm.data
        true_positives = xp.diagonal(cm)
        denominator = cm.sum(axis=0) + cm.sum(axis=1) - true_positives
        ids = self.target_class_ids
        true_positives, denominator = true_positives[ids], denominator[ids]
        present = float((denominator > 1e-9).sum())
        iou = true_positives / (denominator + EPSILON)
        return float(iou.sum()) / (present + EPSILON)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "target_class_ids": self.target_class_ids,
            "ignore_class": self.ignore_class,
            "sparse_y_true": self.sparse_y_true,
            "sparse_y_pred": self.sparse_y_pred,
            "axis": self.axis,
        }


class MeanIoU(IoU):
    """Mean IoU over all ``num_classes`` classes (those that occurred).

    For segmentation with per-pixel class scores pass ``sparse_y_pred=False``.

    Example:
        >>> m = MeanIoU(num_classes=2)
        >>> m.update_state([0, 0, 1, 1], [0, 1, 0, 1], sample_weight=[0.3, 0.3, 0.3, 0.1])
        >>> round(m.result(), 4)
        0.2381
    """

    def __init__(
        self,
        num_classes,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_true=True,
        sparse_y_pred=True,
        axis=-1,
    ):
        _class_count(type(self).__name__, num_classes)
        super().__init__(
            num_classes,
            list(range(num_classes)),
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=sparse_y_true,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        del config["target_class_ids"]
        return config


class BinaryIoU(IoU):
    """IoU of classes 0 and/or 1 after thresholding: ``y_pred >= threshold`` is class 1.

    Example:
        >>> m = BinaryIoU(target_class_ids=[0, 1], threshold=0.3)
        >>> m.update_state([0, 1, 0, 1], [0.1, 0.2, 0.4, 0.7])
        >>> round(m.result(), 4)
        0.3333
    """

    def __init__(self, target_class_ids=(0, 1), threshold=0.5, name=None, dtype=None):
        super().__init__(2, target_class_ids, name=name, dtype=dtype)
        self.threshold = threshold

    def update_state(self, y_true, y_pred, sample_weight=None):
        predicted = (to_numpy(y_pred) >= self.threshold).astype(xp.intp)
        super().update_state(y_true, predicted, sample_weight)

    def get_config(self) -> dict:
        return {
            "target_class_ids": self.target_class_ids,
            "threshold": self.threshold,
            "name": self.name,
            "dtype": self._dtype,
        }


class OneHotIoU(IoU):
    """:class:`IoU` for one-hot labels (argmax taken along ``axis``).

    Example:
        >>> m = OneHotIoU(num_classes=3, target_class_ids=[0, 2])
        >>> m.update_state([[0, 0, 1], [1, 0, 0]], [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7]])
        >>> round(m.result(), 4)
        0.25
    """

    def __init__(
        self,
        num_classes,
        target_class_ids,
        name=None,
        dtype=None,
        ignore_class=None,
        sparse_y_pred=False,
        axis=-1,
    ):
        super().__init__(
            num_classes,
            target_class_ids,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        del config["sparse_y_true"]
        return config


class OneHotMeanIoU(MeanIoU):
    """:class:`MeanIoU` for one-hot labels (argmax taken along ``axis``).

    Example:
        >>> m = OneHotMeanIoU(num_classes=3)
        >>> m.update_state([[0, 0, 1], [1, 0, 0]], [[0.2, 0.3, 0.5], [0.1, 0.2, 0.7]])
        >>> round(m.result(), 4)
        0.25
    """

    def __init__(
        self, num_classes, name=None, dtype=None, ignore_class=None, sparse_y_pred=False, axis=-1
    ):
        super().__init__(
            num_classes,
            name=name,
            dtype=dtype,
            ignore_class=ignore_class,
            sparse_y_true=False,
            sparse_y_pred=sparse_y_pred,
            axis=axis,
        )

    def get_config(self) -> dict:
        config = super().get_config()
        del config["sparse_y_true"]
        return config
