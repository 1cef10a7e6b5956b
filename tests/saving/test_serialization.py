import json

import numpy as np
import pytest

import shinsou
from shinsou import initializers, layers
from shinsou.layers.symbolic import KerasTensor
from shinsou.saving import (
    custom_object_scope,
    deserialize_keras_object,
    register_keras_serializable,
    serialize_keras_object,
)
from shinsou.saving.object_config import UnknownObjectError
from shinsou.saving.serialization import (
    functional_config,
    functional_from_config,
    sequential_config,
    sequential_from_config,
)


def as_json(config):
    """What the config becomes once written to config.json and read back."""
    return json.loads(json.dumps(config))


class Scale(layers.Layer):
    """A user layer with a constructor argument, unknown to shinsou's built-ins."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


# -- plain values and objects --------------------------------------------------------------
def test_plain_and_special_values_round_trip():
    values = [None, 1, 2.5, "text", True, [1, (2, 3)], {"a": [1]}]
    for value in values:
        assert deserialize_keras_object(serialize_keras_object(value)) == as_json(value)
    assert deserialize_keras_object(serialize_keras_object(slice(1, None, 2))) == slice(1, None, 2)
    assert deserialize_keras_object(serialize_keras_object(Ellipsis)) is Ellipsis
    assert deserialize_keras_object(serialize_keras_object(b"abc")) == b"abc"
    assert serialize_keras_object(np.float32(1.5)) == 1.5
    array = np.arange(6, dtype="int32").reshape(2, 3)
    revived = deserialize_keras_object(as_json(serialize_keras_object(array)))
    assert revived.dtype == np.int32 and np.array_equal(revived, array)
    tensor = deserialize_keras_object(as_json(serialize_keras_object(shinsou.tensor([1.0, 2.0]))))
    assert tensor.dtype == np.float32 and tensor.numpy().tolist() == [1.0, 2.0]


def test_keras_tensor_form():
    config = serialize_keras_object(shinsou.Input((3,), name="image"))
    assert config == {
        "class_name": "__keras_tensor__",
        "config": {"shape": (None, 3), "dtype": "float32", "keras_history": ["image", 0, 0]},
    }
    revived = deserialize_keras_object(as_json(config))
    assert isinstance(revived, KerasTensor) and revived.shape == (None, 3)


def test_dense_config_is_keras_format_and_round_trips():
    dense = layers.Dense(4, activation="relu", name="hidden")
    config = serialize_keras_object(dense)
    assert list(config) == ["module", "class_name", "config", "registered_name"]
    assert (config["module"], config["class_name"], config["registered_name"]) == (
        "keras.layers",
        "Dense",
        None,
    )
    clone = deserialize_keras_object(as_json(config))
    assert type(clone) is layers.Dense and clone.get_config() == dense.get_config()


def test_built_layer_has_build_config():
    dense = layers.Dense(2)
    dense(np.ones((1, 5), dtype="float32"))
    config = serialize_keras_object(dense)
    assert config["build_config"] == {"input_shape": (1, 5)}
    clone = deserialize_keras_object(as_json(config))
    assert clone.built and clone.kernel.shape == (5, 2)


def test_initializer_and_function_configs():
    assert deserialize_keras_object(serialize_keras_object(initializers.Constant(3.0))).value == 3.0
    relu = serialize_keras_object(shinsou.activations.relu)
    assert relu == {
        "module": "keras.activations",
        "class_name": "function",
        "config": "relu",
        "registered_name": "relu",
    }
    assert deserialize_keras_object(relu) is shinsou.activations.relu
    keras_builtin = {
        "module": "builtins",
        "class_name": "function",
        "config": "relu",
        "registered_name": "function",
    }
    assert deserialize_keras_object(keras_builtin) is shinsou.activations.relu


def test_user_function_by_registration_and_by_custom_objects():
    @register_keras_serializable("pkg")
    def my_loss(y_true, y_pred):
        return y_pred

    config = as_json(serialize_keras_object(my_loss))
    assert config["class_name"] == "function" and config["registered_name"] == "pkg>my_loss"
    assert deserialize_keras_object(config) is my_loss

    def other(x):
        return x

    config = as_json(serialize_keras_object(other))
    assert deserialize_keras_object(config, custom_objects={"other": other}) is other
    # Keras <= 3.6 wrote a registered function by its bare name.
    bare = {
        "module": "builtins",
        "class_name": "function",
        "config": "my_loss",
        "registered_name": "function",
    }
    assert deserialize_keras_object(bare) is my_loss


def test_custom_class_via_registration():
    registered = register_keras_serializable("pkg")(Scale)
    config = as_json(serialize_keras_object(registered(3.0, name="s")))
    assert config["registered_name"] == "pkg>Scale"
    assert config["module"] == __name__
    layer = deserialize_keras_object(config)
    assert type(layer) is Scale and layer.factor == 3.0 and layer.name == "s"


def test_custom_class_via_custom_objects_and_scope():
    config = as_json(serialize_keras_object(Scale(4.0)))
    assert config["registered_name"] == "Scale"
    assert deserialize_keras_object(config, custom_objects={"Scale": Scale}).factor == 4.0
    with custom_object_scope({"Scale": Scale}):
        assert deserialize_keras_object(config).factor == 4.0


def test_unknown_class_error_names_it_and_says_what_to_do():
    config = as_json(serialize_keras_object(Scale()))
    with pytest.raises(ValueError, match=r"Unknown class 'Scale'.*custom_objects.*register"):
        deserialize_keras_object(config)
    with pytest.raises(TypeError):  # Keras raises TypeError here: both are caught
        deserialize_keras_object(config)
    # A user class that happens to share a built-in's name is not silently replaced.
    impostor = {
        "module": "my_project.layers",
        "class_name": "Dense",
        "config": {"units": 1},
        "registered_name": "Dense",
    }
    with pytest.raises(UnknownObjectError, match="'Dense' from module 'my_project.layers'"):
        deserialize_keras_object(impostor)
    with pytest.raises(UnknownObjectError, match="function 'nowhere'"):
        deserialize_keras_object(
            {
                "module": "builtins",
                "class_name": "function",
                "config": "nowhere",
                "registered_name": None,
            }
        )


def test_files_cannot_name_arbitrary_python_objects():
    for module, name in [("os", "system"), ("builtins", "eval"), ("keras.layers", "__class__")]:
        with pytest.raises(UnknownObjectError):
            deserialize_keras_object(
                {"module": module, "class_name": name, "config": {}, "registered_name": None}
            )
    with pytest.raises(UnknownObjectError):
        deserialize_keras_object(
            {"module": "os", "class_name": "function", "config": "system", "registered_name": None}
        )


def test_lambda_from_a_file_is_refused_unless_supplied():
    stored = {
        "class_name": "__lambda__",
        "config": {"code": "ZmFrZQ==", "defaults": None, "closure": None},
    }
    with pytest.raises(ValueError, match="bytecode.*never runs code.*safe_mode=False"):
        deserialize_keras_object(stored, safe_mode=False)

    class Apply(layers.Layer):
        def __init__(self, function, **kwargs):
            super().__init__(**kwargs)
            self.function = function

        def get_config(self):
            return {**super().get_config(), "function": self.function}

    config = {
        "module": "tests",
        "class_name": "Apply",
        "registered_name": "Apply",
        "config": {"name": "double", "function": stored},
    }
    with pytest.raises(ValueError, match=r"custom_objects=\{'double': your_function\}"):
        deserialize_keras_object(config, custom_objects={"Apply": Apply})

    def double(x):
        return 2 * x

    layer = deserialize_keras_object(config, custom_objects={"Apply": Apply, "double": double})
    assert layer.function is double


def test_lambda_is_written_in_keras_bytecode_form_with_a_warning():
    with pytest.warns(UserWarning, match="lambda"):
        config = serialize_keras_object(lambda x: x + 1)
    assert config["class_name"] == "__lambda__" and isinstance(config["config"]["code"], str)


def test_lambda_layer_from_a_file():
    if not hasattr(layers, "Lambda"):
        pytest.skip("layers.Lambda is not available yet")
    model = shinsou.Sequential([shinsou.Input((2,)), layers.Lambda(lambda x: x * 2, name="dbl")])
    with pytest.warns(UserWarning):
        config = as_json(serialize_keras_object(model))
    with pytest.raises(ValueError, match="never runs code"):
        deserialize_keras_object(config)
    loaded = deserialize_keras_object(config, custom_objects={"dbl": lambda x: x * 2})
    assert loaded(np.ones((1, 2), dtype="float32")).numpy().tolist() == [[2.0, 2.0]]


def test_malformed_or_unsafe_special_forms():
    with pytest.raises(ValueError, match="malformed __numpy__"):
        deserialize_keras_object({"class_name": "__numpy__", "config": {"value": [1]}})
    with pytest.raises(ValueError, match="malformed __tensor__"):
        deserialize_keras_object(
            {"class_name": "__tensor__", "config": {"value": [1], "dtype": "object"}}
        )
    with pytest.raises(ValueError, match="TypeSpec"):
        deserialize_keras_object({"class_name": "__typespec__", "config": []})


def test_not_serializable():
    with pytest.raises(TypeError, match="cannot serialize"):
        serialize_keras_object(object())
    with pytest.raises(TypeError, match="cannot deserialize"):
        deserialize_keras_object({1, 2})
    with pytest.raises(TypeError, match="unexpected arguments"):
        deserialize_keras_object({}, printable_module_name="x")


# -- Sequential ----------------------------------------------------------------------------
def _sequential():
    return shinsou.Sequential(
        [
            shinsou.Input((4,), name="features"),
            layers.Dense(8, activation="relu", name="hidden"),
            layers.Dense(1, name="score"),
        ],
        name="regressor",
    )


def test_sequential_config_layout():
    config = sequential_config(_sequential())
    assert list(config) == ["name", "trainable", "dtype", "layers", "build_input_shape"]
    assert config["name"] == "regressor" and config["build_input_shape"] == (None, 4)
    assert [entry["class_name"] for entry in config["layers"]] == ["InputLayer", "Dense", "Dense"]
    assert config["layers"][0]["config"]["batch_shape"] == [None, 4]
    top = serialize_keras_object(_sequential())
    assert (top["module"], top["class_name"], top["registered_name"]) == (
        "keras",
        "Sequential",
        None,
    )
    assert top["build_config"] == {"input_shape": (None, 4)}


def test_sequential_config_round_trip_is_equal():
    config = as_json(serialize_keras_object(_sequential()))
    assert as_json(serialize_keras_object(deserialize_keras_object(config))) == config


def test_sequential_from_config_rebuilds_the_stack():
    model = sequential_from_config(as_json(sequential_config(_sequential())))
    assert model.name == "regressor" and model.built
    assert [layer.name for layer in model.layers] == ["hidden", "score"]
    assert model(np.ones((3, 4), dtype="float32")).shape == (3, 1)


def test_unbuilt_sequential_round_trip():
    model = shinsou.Sequential([layers.Dense(2, name="only")])
    config = as_json(serialize_keras_object(model))
    assert "build_input_shape" not in config["config"] and "build_config" not in config
    clone = deserialize_keras_object(config)
    assert not clone.built and clone.layers[0].name == "only"


# -- functional ----------------------------------------------------------------------------
def _two_input_model():
    a = shinsou.Input((4,), name="a")
    b = shinsou.Input((4,), name="b")
    shared = layers.Dense(3, name="shared")
    merged = layers.Add(name="merge")([shared(a), shared(b)])
    first = layers.Dense(2, name="first")(merged)
    inner_input = shinsou.Input((3,), name="inner_in")
    inner = shinsou.Model(
        inner_input, layers.Dense(5, name="inner_dense")(inner_input), name="inner"
    )
    second = inner(merged)
    return shinsou.Model([a, b], [first, second], name="two_heads")


def test_functional_config_layout():
    config = functional_config(_two_input_model())
    assert list(config) == ["name", "trainable", "layers", "input_layers", "output_layers"]
    assert [entry["name"] for entry in config["layers"]] == [
        "a",
        "b",
        "shared",
        "merge",
        "first",
        "inner",
    ]
    shared = config["layers"][2]
    assert list(shared) == [
        "module",
        "class_name",
        "config",
        "registered_name",
        "build_config",
        "name",
        "inbound_nodes",
    ]
    assert len(shared["inbound_nodes"]) == 2
    assert shared["inbound_nodes"][1]["args"][0]["config"]["keras_history"] == ["b", 0, 0]
    merge_args = config["layers"][3]["inbound_nodes"][0]["args"]
    assert [t["config"]["keras_history"] for t in merge_args[0]] == [
        ["shared", 0, 0],
        ["shared", 1, 0],
    ]
    assert config["layers"][0]["inbound_nodes"] == []
    assert config["input_layers"] == [["a", 0, 0], ["b", 0, 0]]
    # Keras numbers a nested functional model's calls from 1 in output_layers.
    assert config["output_layers"] == [["first", 0, 0], ["inner", 1, 0]]
    top = serialize_keras_object(_two_input_model())
    assert (top["module"], top["class_name"], top["registered_name"]) == (
        "keras.src.models.functional",
        "Functional",
        "Functional",
    )
    assert top["build_config"] == {"input_shape": None}


def test_functional_rebuild_gives_same_graph_and_outputs():
    model = _two_input_model()
    clone = functional_from_config(as_json(functional_config(model)))
    assert [layer.name for layer in clone.layers] == [layer.name for layer in model.layers]
    assert len(clone.get_layer("shared")._inbound_nodes) == 2
    clone.set_weights(model.get_weights())
    x = [np.random.rand(2, 4).astype("float32") for _ in range(2)]
    for ours, theirs in zip(model(x), clone(x)):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_functional_config_round_trip_is_equal():
    config = as_json(serialize_keras_object(_two_input_model()))
    assert as_json(serialize_keras_object(deserialize_keras_object(config))) == config


def test_single_input_and_output_are_bare_references():
    inputs = shinsou.Input((2,), name="x")
    model = shinsou.Model(inputs, layers.Dense(1, name="y")(inputs))
    config = serialize_keras_object(model)
    assert config["config"]["input_layers"] == ["x", 0, 0]  # as Keras 3.15 writes them
    assert config["config"]["output_layers"] == ["y", 0, 0]
    assert config["compile_config"] == {}  # Keras writes an empty one for an uncompiled model
    listed = shinsou.Model([inputs], [model.outputs[0]])
    assert functional_config(listed)["input_layers"] == [["x", 0, 0]]
    assert functional_from_config(as_json(functional_config(listed))).inputs[0].shape == (None, 2)


def test_symbolic_ops_are_written_as_keras_operations():
    a, b = shinsou.Input((3,), name="a"), shinsou.Input((3,), name="b")
    model = shinsou.Model([a, b], (a * b + 1.0)[:, 1:])
    config = as_json(functional_config(model))
    ops = [entry for entry in config["layers"] if entry["module"] == "keras.src.ops.numpy"]
    assert [entry["class_name"] for entry in ops] == ["Multiply", "Add", "GetItem"]
    assert ops[1]["inbound_nodes"][0]["args"][1] == 1.0
    clone = functional_from_config(config)
    x = [np.array([[1.0, 2.0, 3.0]], dtype="float32"), np.full((1, 3), 2.0, dtype="float32")]
    assert clone(x).numpy().tolist() == [[5.0, 7.0]]


def test_dict_inputs_and_keyword_arguments():
    x = shinsou.Input((2,), name="x")
    y = shinsou.Input((2,), name="y")
    out = layers.Dense(1, name="d")(layers.Concatenate(axis=-1, name="cat")([x, y]))
    model = shinsou.Model({"x": x, "y": y}, out)
    config = as_json(functional_config(model))
    assert config["input_layers"] == {"x": ["x", 0, 0], "y": ["y", 0, 0]}
    clone = functional_from_config(config)
    clone.set_weights(model.get_weights())
    data = {"x": np.ones((1, 2), "float32"), "y": np.zeros((1, 2), "float32")}
    np.testing.assert_array_equal(clone(data).numpy(), model(data).numpy())


def test_keras_written_functional_config_loads():
    # The shape of a config.json that Keras 3 writes, including its numbering quirks.
    def tensor(layer, node=0, shape=(None, 2)):
        return {
            "class_name": "__keras_tensor__",
            "config": {"shape": list(shape), "dtype": "float32", "keras_history": [layer, node, 0]},
        }

    def dense(name, units, node_args):
        return {
            "module": "keras.layers",
            "class_name": "Dense",
            "config": {
                "name": name,
                "trainable": True,
                "units": units,
                "activation": "linear",
                "use_bias": True,
            },
            "registered_name": None,
            "build_config": {"input_shape": [None, 2]},
            "name": name,
            "inbound_nodes": [{"args": args, "kwargs": {}} for args in node_args],
        }

    inner = {
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "registered_name": "Functional",
        "build_config": {"input_shape": None},
        "config": {
            "name": "inner",
            "trainable": True,
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "config": {
                        "batch_shape": [None, 2],
                        "dtype": "float32",
                        "sparse": False,
                        "name": "inner_input",
                    },
                    "registered_name": None,
                    "name": "inner_input",
                    "inbound_nodes": [],
                },
                dense("inner_dense", 2, [[tensor("inner_input")]]),
            ],
            "input_layers": [["inner_input", 0, 0]],
            "output_layers": [["inner_dense", 0, 0]],
        },
        "name": "inner",
        "inbound_nodes": [{"args": [tensor("shared", 1)], "kwargs": {}}],
    }
    config = {
        "name": "outer",
        "trainable": True,
        "layers": [
            {
                "module": "keras.layers",
                "class_name": "InputLayer",
                "config": {
                    "batch_shape": [None, 2],
                    "dtype": "float32",
                    "sparse": False,
                    "name": "input_layer",
                },
                "registered_name": None,
                "name": "input_layer",
                "inbound_nodes": [],
            },
            # "shared" is applied twice: A(B(A(x))) needs a second pass to replay.
            dense("shared", 2, [[tensor("input_layer")], [tensor("middle")]]),
            dense("middle", 2, [[tensor("shared", 0)]]),
            inner,
        ],
        "input_layers": [["input_layer", 0, 0]],
        "output_layers": [["inner", 1, 0]],
    }
    model = functional_from_config(config)
    assert [layer.name for layer in model.layers] == ["input_layer", "shared", "middle", "inner"]
    assert model(np.ones((3, 2), dtype="float32")).shape == (3, 2)


def test_tf_keras_node_layout_loads():
    config = {
        "name": "old",
        "layers": [
            {
                "class_name": "InputLayer",
                "name": "x",
                "config": {"batch_input_shape": [None, 3], "dtype": "float32", "name": "x"},
                "inbound_nodes": [],
            },
            {
                "class_name": "Dense",
                "name": "d",
                "config": {"name": "d", "units": 2, "dtype": "float32"},
                "inbound_nodes": [[["x", 0, 0, {}]]],
            },
        ],
        "input_layers": [["x", 0, 0]],
        "output_layers": [["d", 0, 0]],
    }
    model = functional_from_config(config)
    assert model(np.ones((1, 3), dtype="float32")).shape == (1, 2)


def test_repeated_layer_names_cannot_be_saved():
    first, second = shinsou.Input((2,), name="same"), shinsou.Input((2,), name="same")
    model = shinsou.Model([first, second], layers.Add(name="sum")([first, second]))
    with pytest.raises(ValueError, match=r"several layers named \['same'\].*unique"):
        functional_config(model)


def test_inconsistent_functional_configs():
    config = as_json(functional_config(_two_input_model()))
    broken = json.loads(json.dumps(config))
    broken["layers"][3]["inbound_nodes"][0]["args"][0][0]["config"]["keras_history"] = [
        "shared",
        7,
        0,
    ]
    with pytest.raises(ValueError, match=r"calls of layers \['merge'.*inconsistent"):
        functional_from_config(broken)
    broken = json.loads(json.dumps(config))
    broken["output_layers"] = [["nowhere", 0, 0]]
    with pytest.raises(ValueError, match="unknown layer 'nowhere'"):
        functional_from_config(broken)
    with pytest.raises(ValueError, match="lacks the key 'output_layers'"):
        functional_from_config({"layers": [], "input_layers": []})
