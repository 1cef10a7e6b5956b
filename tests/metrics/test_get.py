"""metrics.get / serialize / deserialize: every Keras metric string, objects, classes,
functions and config dicts; unknown names are refused with the list of valid ones."""

import numpy as np
import pytest

from shinsou import losses, metrics

KERAS_STRINGS = {
    "mae": metrics.MeanAbsoluteError,
    "mse": metrics.MeanSquaredError,
    "mape": metrics.MeanAbsolutePercentageError,
    "msle": metrics.MeanSquaredLogarithmicError,
    "MAE": metrics.MeanAbsoluteError,
    "bce": metrics.BinaryCrossentropy,
    "kld": metrics.KLDivergence,
    "logcosh": metrics.LogCoshError,
    "accuracy": metrics.Accuracy,
    "acc": metrics.Accuracy,
    "binary_accuracy": metrics.BinaryAccuracy,
    "categorical_accuracy": metrics.CategoricalAccuracy,
    "sparse_categorical_accuracy": metrics.SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": metrics.TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": metrics.SparseTopKCategoricalAccuracy,
    "auc": metrics.AUC,
    "AUC": metrics.AUC,
    "precision": metrics.Precision,
    "recall": metrics.Recall,
    "true_positives": metrics.TruePositives,
    "mean_squared_error": metrics.MeanSquaredError,
    "root_mean_squared_error": metrics.RootMeanSquaredError,
    "binary_crossentropy": metrics.BinaryCrossentropy,
    "categorical_crossentropy": metrics.CategoricalCrossentropy,
    "sparse_categorical_crossentropy": metrics.SparseCategoricalCrossentropy,
    "kl_divergence": metrics.KLDivergence,
    "poisson": metrics.Poisson,
    "hinge": metrics.Hinge,
    "squared_hinge": metrics.SquaredHinge,
    "categorical_hinge": metrics.CategoricalHinge,
    "cosine_similarity": metrics.CosineSimilarity,
    "r2_score": metrics.R2Score,
    "mean": metrics.Mean,
}


@pytest.mark.parametrize(("name", "cls"), KERAS_STRINGS.items(), ids=list(KERAS_STRINGS))
def test_every_keras_metric_string_gives_a_fresh_object(name, cls):
    metric = metrics.get(name)
    assert type(metric) is cls and metrics.get(name) is not metric


def test_objects_classes_functions_and_configs():
    auc = metrics.AUC(num_thresholds=50)
    assert metrics.get(auc) is auc and metrics.get(None) is None
    assert type(metrics.get(metrics.Recall)) is metrics.Recall
    wrapped = metrics.get(metrics.sparse_categorical_accuracy)
    wrapped.update_state([1, 0], [[0.2, 0.8], [0.3, 0.7]])
    assert wrapped.name == "sparse_categorical_accuracy" and wrapped.result() == 0.5
    loss_metric = metrics.get(losses.mean_squared_error)
    loss_metric.update_state([[0.0]], [[2.0]])
    assert loss_metric.result() == 4.0
    revived = metrics.get(metrics.serialize(auc))
    assert type(revived) is metrics.AUC and revived.num_thresholds == 50
    assert metrics.serialize(auc)["module"] == "keras.metrics"


def test_deserialize_custom_and_wrapped_functions():
    def doubled(y_true, y_pred):
        return np.asarray(y_pred) * 2

    config = metrics.serialize(metrics.MeanMetricWrapper(doubled))
    with pytest.raises(ValueError, match="unknown loss function 'doubled'"):
        metrics.deserialize(config)
    revived = metrics.deserialize(config, custom_objects={"doubled": doubled})
    assert revived._fn is doubled and revived.name == "doubled"
    builtin = metrics.deserialize(
        metrics.serialize(metrics.MeanMetricWrapper(metrics.binary_accuracy))
    )
    assert builtin._fn is metrics.binary_accuracy


@pytest.mark.parametrize(
    ("identifier", "error", "message"),
    [
        ("accurcy", ValueError, "unknown metric 'accurcy'; valid names: .*binary_accuracy"),
        ("mean_io_u", ValueError, "unknown metric 'mean_io_u'"),  # needs num_classes
        ({"class_name": "Nope", "config": {}}, ValueError, "unknown metric class 'Nope'"),
        (3.5, TypeError, "cannot interpret 3.5 as a metric"),
    ],
)
def test_bad_identifiers(identifier, error, message):
    with pytest.raises(error, match=message):
        metrics.get(identifier)
