"""Metrics with Keras's names (``keras.metrics``): stateful classes, functions, ``get`` and
serialization.

Metrics accumulate over batches in NumPy, without a graph; ``result()`` is a Python float
(a NumPy array for metrics with one value per threshold). ``get`` accepts every Keras metric
string ("mae", "binary_accuracy", "auc", "precision", ...); ``compile`` resolves "accuracy"
and "acc" itself from the shapes of the targets and predictions.

Example:
    >>> from shinsou import metrics
    >>> m = metrics.get("binary_accuracy")
    >>> m.update_state([[1], [0]], [[0.9], [0.8]])
    >>> m.name, m.result()
    ('binary_accuracy', 0.5)
"""

from __future__ import annotations

import inspect

from ..losses.functions import (
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    categorical_hinge,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from ..utils.naming import to_snake_case
from .accuracy_metrics import (
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from .confusion_metrics import (
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
)
from .iou_metrics import BinaryIoU, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU
from .metric import Metric
from .probabilistic_metrics import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    Hinge,
    KLDivergence,
    Poisson,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)
from .reduction_metrics import Mean, MeanMetricWrapper, Sum
from .regression_metrics import (
    CosineSimilarity,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    R2Score,
    RootMeanSquaredError,
)

_CLASSES = (
    Mean,
    Sum,
    MeanMetricWrapper,
    MeanSquaredError,
    RootMeanSquaredError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError,
    CosineSimilarity,
    LogCoshError,
    R2Score,
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
    Hinge,
    SquaredHinge,
    CategoricalHinge,
    KLDivergence,
    Poisson,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SparseCategoricalCrossentropy,
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    TopKCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    IoU,
    BinaryIoU,
    MeanIoU,
    OneHotIoU,
    OneHotMeanIoU,
)

_FUNCTIONS = (
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    top_k_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    binary_crossentropy,
    binary_focal_crossentropy,
    categorical_crossentropy,
    categorical_focal_crossentropy,
    sparse_categorical_crossentropy,
    kl_divergence,
    poisson,
    hinge,
    squared_hinge,
    categorical_hinge,
    huber,
    log_cosh,
    mean_squared_error,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_logarithmic_error,
)

ALIASES = {
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError,
    "bce": BinaryCrossentropy,
    "BCE": BinaryCrossentropy,
    "kld": KLDivergence,
    "KLD": KLDivergence,
    "logcosh": LogCoshError,
    "acc": Accuracy,
}
"""Short names Keras accepts for metric classes."""

ALL_OBJECTS = (Metric, *_CLASSES)
ALL_OBJECTS_DICT = (
    {cls.__name__: cls for cls in ALL_OBJECTS}
    | {to_snake_case(cls.__name__): cls for cls in ALL_OBJECTS}
    | ALIASES
)
"""Every metric class by class name, snake-case name and alias."""

_FUNCTIONS_BY_NAME = {fn.__name__: fn for fn in _FUNCTIONS}

__all__ = [
    "ALL_OBJECTS",
    "ALL_OBJECTS_DICT",
    "Metric",
    "deserialize",
    "get",
    "serialize",
    *(cls.__name__ for cls in _CLASSES),
    *_FUNCTIONS_BY_NAME,
]

_MODULE = "keras.metrics"
_NOT_BY_NAME = (Metric, MeanMetricWrapper, IoU, MeanIoU, OneHotIoU, OneHotMeanIoU)


def deserialize_function(config, custom_objects=None):
    """The metric function a serialized function config (or plain name) refers to.

    Example:
        >>> deserialize_function("binary_accuracy") is binary_accuracy
        True
    """
    from .. import losses

    name = config.get("config") if isinstance(config, dict) else config
    fn = (custom_objects or {}).get(name) or _FUNCTIONS_BY_NAME.get(name)
    if fn is None:
        return losses.deserialize_function(name, custom_objects)
    return fn


def serialize(metric) -> dict:
    """The Keras config dict of a metric object.

    Example:
        >>> serialize(AUC())["config"]["curve"]
        'ROC'
    """
    if not isinstance(metric, Metric):
        raise TypeError(f"metrics.serialize: expected a Metric object, got {metric!r}")
    cls = type(metric)
    builtin = ALL_OBJECTS_DICT.get(cls.__name__) is cls
    return {
        "module": _MODULE if builtin else cls.__module__,
        "class_name": cls.__name__,
        "config": metric.get_config(),
        "registered_name": None if builtin else cls.__name__,
    }


def deserialize(config, custom_objects=None):
    """A metric object from :func:`serialize`'s dict (or from a name).

    Only built-in classes and those in ``custom_objects`` can be created.

    Example:
        >>> deserialize({"class_name": "Precision", "config": {"thresholds": [0.3]}}).thresholds
        [0.3]
    """
    custom_objects = custom_objects or {}
    if isinstance(config, str):
        return get(custom_objects.get(config) or config)
    if not isinstance(config, dict) or "class_name" not in config:
        raise TypeError(
            f"metrics.deserialize: expected a metric name or a dict with 'class_name' and "
            f"'config', got {config!r}"
        )
    class_name = config["class_name"]
    cls = custom_objects.get(class_name) or ALL_OBJECTS_DICT.get(class_name)
    if not (inspect.isclass(cls) and issubclass(cls, Metric)):
        raise ValueError(
            f"unknown metric class {class_name!r}; pass it in custom_objects, or use one of "
            f"{sorted(c.__name__ for c in _CLASSES)}"
        )
    inner = dict(config.get("config") or {})
    if "fn" in inner:
        inner["fn"] = deserialize_function(inner["fn"], custom_objects)
        return cls(**inner)
    return cls.from_config(inner)


def get(identifier):
    """A metric object from a name, object, class or config dict.

    Names are Keras's: class names ("AUC"), their snake case ("auc",
    "sparse_categorical_accuracy"), function names ("mean_squared_error") and short names
    ("mse", "mae", "acc", ...). Metric classes that need arguments (``MeanIoU``) must be
    created by you. Unknown names raise a ValueError that lists the valid ones.

    Example:
        >>> get("mae").name, get("top_k_categorical_accuracy").k
        ('mean_absolute_error', 5)
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        cls = ALL_OBJECTS_DICT.get(identifier)
        if cls is None or cls in _NOT_BY_NAME:
            raise ValueError(f"unknown metric {identifier!r}; valid names: {_valid_names()}")
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if callable(identifier):
        return MeanMetricWrapper(identifier, name=getattr(identifier, "__name__", None))
    raise TypeError(
        f"metrics.get: cannot interpret {identifier!r} as a metric; give a name, a Metric "
        "object or a function fn(y_true, y_pred)"
    )


def _valid_names() -> str:
    names = [
        name
        for name, cls in ALL_OBJECTS_DICT.items()
        if cls not in _NOT_BY_NAME and not name[:1].isupper()
    ]
    return ", ".join(sorted(set(names) | {"accuracy", "acc"}))
