"""Lambda, Identity and Masking: calls, arguments, shapes, masks, and configs that name
functions instead of storing code."""

import json

import numpy as np
import pytest

import shinsou
from shinsou import ops, saving
from shinsou.layers.lambda_layer import Identity, Lambda, Masking
from support import check_parity, random_array, torch


def cube(x):
    return x * x * x


def test_lambda_applies_its_function_with_gradient():
    check_parity(Lambda(cube), lambda t: t**3, random_array((2, 3)))


def test_lambda_passes_arguments_training_and_mask():
    seen = {}

    def scale(x, factor, training=None, mask=None):
        seen.update(training=training, mask=mask)
        return x * factor

    layer = Lambda(scale, arguments={"factor": 3.0})
    np.testing.assert_array_equal(layer(np.ones((1, 2)), training=True).numpy(), [[3.0, 3.0]])
    assert seen == {"training": True, "mask": None}
    layer(np.ones((1, 2)), mask=np.array([[True, False]]))
    assert seen["mask"].tolist() == [[True, False]]


def test_lambda_shapes_inferred_given_or_computed():
    x = shinsou.Input((4, 3))
    assert Lambda(lambda t: ops.sum(t, axis=-1))(x).shape == (None, 4)
    assert Lambda(lambda t: t[:, 0], output_shape=(3,))(x).shape == (None, 3)
    shape_fn = Lambda(lambda t: t, output_shape=lambda s: (s[0], 12))
    assert shape_fn.compute_output_shape((5, 4, 3)) == (5, 12)
    pair = Lambda(lambda t: [t, t], output_shape=[(4, 3), (4, 3)])
    assert [o.shape for o in pair(x)] == [(None, 4, 3), (None, 4, 3)]


def test_lambda_mask_argument():
    fixed = Lambda(lambda t: t, mask=np.array([[True, False]]))
    assert fixed(np.ones((1, 2)))._keras_mask.tolist() == [[True, False]]
    computed = Lambda(lambda t: t, mask=lambda inputs, mask: inputs.numpy() > 0)
    assert computed(np.array([[1.0, -1.0]]))._keras_mask.tolist() == [[True, False]]


def test_lambda_config_round_trip_keeps_the_function():
    layer = Lambda(cube, output_shape=(3,), arguments={"unused": 1}, name="cuber")
    config = layer.get_config()
    assert config["function"] is cube and config["output_shape"] == (3,)
    assert config["arguments"] == {"unused": 1}
    clone = Lambda.from_config(config)
    assert clone.function is cube and clone.name == "cuber"


def saved_function(name, module=__name__):
    """A function as Keras (and shinsou.saving) write it in a config: by name only."""
    return {"module": module, "class_name": "function", "config": name, "registered_name": name}


def test_lambda_saved_by_name_restores_from_custom_objects():
    saved = {
        "name": "cuber",
        "function": saved_function("cube"),
        "output_shape": [3],
        "mask": {"class_name": "__numpy__", "config": {"value": [True], "dtype": "bool"}},
        "arguments": {},
    }
    clone = Lambda.from_config(saved, custom_objects={"cube": cube})
    assert clone.function is cube and clone._output_shape == (3,)
    assert clone.mask.tolist() == [True]


def test_saving_writes_the_function_by_name():
    written = saving.serialize_keras_object(Lambda(cube, name="cuber"))["config"]
    assert written["function"]["config"] == "cube"
    assert "code" not in json.dumps(written)


def test_lambda_without_its_function_is_a_clear_error():
    with pytest.raises(
        ValueError,
        match=r"Lambda 'cuber': cannot restore its function 'cube'.*"
        r"custom_objects=\{'cube': <the function>\}",
    ):
        Lambda.from_config({"name": "cuber", "function": saved_function("cube")})


def test_lambda_never_loads_bytecode():
    config = {
        "name": "keras_lambda",
        "function": {"class_name": "__lambda__", "config": {"code": "4wEAAAAA", "defaults": None}},
        "arguments": {},
    }
    with pytest.raises(ValueError, match=r"saved as Python bytecode .* never runs code"):
        Lambda.from_config(config)


def test_lambda_of_a_shinsou_op_or_activation_restores_without_custom_objects():
    relu = shinsou.activations.relu
    assert (
        Lambda.from_config({"function": saved_function("relu", "keras.src.ops.nn")}).function
        is ops.relu
    )
    assert (
        Lambda.from_config({"function": saved_function("relu", "keras.activations")}).function
        is relu
    )


def test_lambda_rejects_bad_arguments():
    with pytest.raises(TypeError, match=r"Lambda: function must be callable"):
        Lambda("x * 2")
    with pytest.raises(ValueError, match=r"Lambda: output_shape must be None, a shape tuple"):
        Lambda(cube, output_shape=3)
    with pytest.raises(TypeError, match=r"Lambda: arguments must be a dict"):
        Lambda(cube, arguments=[1])


def test_identity_passes_values_shapes_and_masks():
    x = random_array((2, 3))
    layer = Identity()
    assert layer(x).numpy().tolist() == x.tolist()
    assert layer(shinsou.Input((3,), dtype="int64")).dtype == "int64"
    embedded = shinsou.layers.Embedding(3, 2, mask_zero=True)(np.array([[2, 0, 1]]))
    assert layer(embedded)._keras_mask.tolist() == [[True, False, True]]
    assert Identity.from_config(layer.get_config()).get_config() == layer.get_config()


def test_masking_zeroes_masked_steps_and_sets_the_mask():
    x = random_array((2, 4, 3), seed=1)
    x[0, 1] = 0.0
    x[1, 3] = 0.0
    keep = np.ones((2, 4), bool)
    keep[0, 1] = keep[1, 3] = False
    layer = Masking()
    (out,) = check_parity(
        layer, (lambda t: t * torch.from_numpy(keep[..., None].astype("float32"))), x
    )
    assert out._keras_mask.tolist() == keep.tolist()
    np.testing.assert_array_equal(layer.compute_mask(x).numpy(), keep)


def test_masking_with_a_custom_value_in_a_model():
    inputs = shinsou.Input((3, 2))
    model = shinsou.Model(inputs, Masking(mask_value=-1.0)(inputs))
    x = np.array([[[1.0, -1.0], [-1.0, -1.0], [2.0, 3.0]]], "float32")
    out = model(x)
    assert out._keras_mask.tolist() == [[True, False, True]]
    np.testing.assert_array_equal(out.numpy()[0, 1], [0.0, 0.0])
    assert model.layers[-1].get_config()["mask_value"] == -1.0


def double(x):
    return x * 2


def _saved_lambda_model(tmp_path, function):
    inputs = shinsou.Input((3,))
    model = shinsou.Model(inputs, Lambda(function, name="twice")(inputs))
    path = tmp_path / "lambda.keras"
    model.save(path)
    return path


def test_lambda_named_function_loads_with_custom_objects_or_scope(tmp_path):
    path = _saved_lambda_model(tmp_path, double)
    x = np.ones((2, 3), "float32")
    loaded = saving.load_model(path, custom_objects={"double": double})
    assert loaded.get_layer("twice").function is double
    np.testing.assert_allclose(loaded(x).numpy(), 2 * x)
    with saving.custom_object_scope({"double": double}):
        assert saving.load_model(path).get_layer("twice").function is double
    with pytest.raises(ValueError, match=r"cannot restore its function 'double'.*custom_obj"):
        saving.load_model(path)


def test_lambda_registered_function_loads_without_custom_objects(tmp_path):
    @saving.register_keras_serializable(package="lambda_test")
    def triple(x):
        return x * 3

    path = _saved_lambda_model(tmp_path, triple)
    loaded = saving.load_model(path)
    assert loaded.get_layer("twice").function is triple
    config = {"name": "t", "function": saved_function("triple", "elsewhere")}
    config["function"]["registered_name"] = "lambda_test>triple"
    assert Lambda.from_config(config).function is triple


def test_lambda_bytecode_is_refused_even_with_safe_mode_false(tmp_path):
    with pytest.warns(UserWarning, match="lambda"):
        path = _saved_lambda_model(tmp_path, lambda x: x * 2)
    with pytest.raises(ValueError, match="bytecode"):
        saving.load_model(path, safe_mode=False)
