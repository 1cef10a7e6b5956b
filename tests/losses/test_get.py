"""losses.get / serialize / deserialize: every Keras loss string, objects, classes,
functions and config dicts; unknown names are refused with the list of valid ones."""

import numpy as np
import pytest

from shinsou import losses

KERAS_STRINGS = {
    "mse": losses.MeanSquaredError,
    "MSE": losses.MeanSquaredError,
    "mean_squared_error": losses.MeanSquaredError,
    "MeanSquaredError": losses.MeanSquaredError,
    "mae": losses.MeanAbsoluteError,
    "mean_absolute_error": losses.MeanAbsoluteError,
    "mape": losses.MeanAbsolutePercentageError,
    "msle": losses.MeanSquaredLogarithmicError,
    "kld": losses.KLDivergence,
    "kl_divergence": losses.KLDivergence,
    "kullback_leibler_divergence": losses.KLDivergence,
    "logcosh": losses.LogCosh,
    "log_cosh": losses.LogCosh,
    "huber": losses.Huber,
    "huber_loss": losses.Huber,
    "bce": losses.BinaryCrossentropy,
    "binary_crossentropy": losses.BinaryCrossentropy,
    "binary_focal_crossentropy": losses.BinaryFocalCrossentropy,
    "categorical_crossentropy": losses.CategoricalCrossentropy,
    "categorical_focal_crossentropy": losses.CategoricalFocalCrossentropy,
    "sparse_categorical_crossentropy": losses.SparseCategoricalCrossentropy,
    "SparseCategoricalCrossentropy": losses.SparseCategoricalCrossentropy,
    "poisson": losses.Poisson,
    "cosine_similarity": losses.CosineSimilarity,
    "hinge": losses.Hinge,
    "squared_hinge": losses.SquaredHinge,
    "categorical_hinge": losses.CategoricalHinge,
    "dice": losses.Dice,
}


@pytest.mark.parametrize(("name", "cls"), KERAS_STRINGS.items(), ids=list(KERAS_STRINGS))
def test_every_keras_loss_string_gives_a_loss_object(name, cls):
    loss = losses.get(name)
    assert type(loss) is cls and loss.reduction == "sum_over_batch_size"


def test_objects_classes_functions_and_configs_all_give_loss_objects():
    huber = losses.Huber(delta=3.0)
    assert losses.get(huber) is huber and losses.get(None) is None
    assert type(losses.get(losses.Poisson)) is losses.Poisson
    wrapped = losses.get(losses.mean_absolute_error)
    assert isinstance(wrapped, losses.LossFunctionWrapper) and wrapped.name == "mean_absolute_error"
    assert wrapped([[0.0], [0.0]], [[1.0], [3.0]]).item() == 2.0
    revived = losses.get(losses.serialize(huber))
    assert type(revived) is losses.Huber and revived.delta == 3.0
    from_function_config = losses.get(losses.serialize(losses.poisson))
    assert isinstance(from_function_config, losses.LossFunctionWrapper)
    assert from_function_config.fn is losses.poisson


def test_serialize_uses_keras_layout():
    config = losses.serialize(losses.CategoricalCrossentropy(from_logits=True))
    assert config == {
        "module": "keras.losses",
        "class_name": "CategoricalCrossentropy",
        "config": {
            "name": "categorical_crossentropy",
            "reduction": "sum_over_batch_size",
            "from_logits": True,
            "label_smoothing": 0.0,
            "axis": -1,
        },
        "registered_name": None,
    }
    assert losses.serialize(losses.mean_squared_error) == {
        "module": "keras.losses",
        "class_name": "function",
        "config": "mean_squared_error",
        "registered_name": "function",
    }


def test_deserialize_keras_config_and_custom_classes():
    keras_config = {
        "module": "keras.losses",
        "class_name": "SparseCategoricalCrossentropy",
        "config": {"name": "scce", "reduction": "sum", "from_logits": True, "ignore_class": None},
        "registered_name": None,
    }
    loss = losses.deserialize(keras_config)
    assert (loss.name, loss.reduction, loss.from_logits) == ("scce", "sum", True)
    assert losses.deserialize("mse") is losses.mean_squared_error

    class Doubled(losses.Loss):
        def call(self, y_true, y_pred):
            return (y_pred - y_true).mean(axis=-1) * 2

    config = losses.serialize(Doubled(name="doubled"))
    assert config["registered_name"] == "Doubled"
    with pytest.raises(ValueError, match="unknown loss class 'Doubled'"):
        losses.deserialize(config)
    revived = losses.deserialize(config, custom_objects={"Doubled": Doubled})
    assert type(revived) is Doubled and revived.name == "doubled"


def test_custom_function_is_wrapped_with_default_reduction():
    def squared(y_true, y_pred):
        return ((y_pred - y_true) ** 2).mean(axis=-1)

    loss = losses.get(squared)
    assert loss.name == "squared" and loss.reduction == "sum_over_batch_size"
    np.testing.assert_allclose(loss(np.zeros((2, 2)), np.ones((2, 2))).item(), 1.0)


@pytest.mark.parametrize(
    ("identifier", "error", "message"),
    [
        ("mean_square_error", ValueError, "unknown loss 'mean_square_error'; valid names: .*mse"),
        ("Loss", ValueError, "unknown loss 'Loss'"),
        ({"class_name": "Nope", "config": {}}, ValueError, "unknown loss class 'Nope'"),
        ({"config": {}}, TypeError, "'class_name' and 'config'"),
        (42, TypeError, "cannot interpret 42 as a loss"),
        (dict, TypeError, "dict is not a Loss class"),
    ],
)
def test_bad_identifiers(identifier, error, message):
    with pytest.raises(error, match=message):
        losses.get(identifier)
