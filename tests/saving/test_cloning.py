import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.saving import clone_model, register_keras_serializable


def data(rows=4, columns=4):
    return np.random.default_rng(0).random((rows, columns), dtype=np.float32)


def shared_functional():
    inputs = shinsou.Input((4,), name="x")
    shared = layers.Dense(4, name="shared")
    outputs = layers.Dense(2, name="head")(shared(shared(inputs)))
    return shinsou.Model(inputs, outputs, name="net")


def test_sequential_clone_has_new_layers_and_new_weights():
    model = shinsou.Sequential(
        [shinsou.Input((4,), name="in"), layers.Dense(3, name="a"), layers.Dense(1, name="b")],
        name="seq",
    )
    clone = clone_model(model)
    assert isinstance(clone, shinsou.Sequential) and clone.name == "seq"
    assert [layer.name for layer in clone.layers] == ["a", "b"]
    assert all(new is not old for new, old in zip(clone.layers, model.layers))
    assert clone.input_shape == (None, 4)
    assert not np.array_equal(clone.get_weights()[0], model.get_weights()[0])
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone(data()).numpy(), model(data()).numpy())


def test_functional_clone_keeps_sharing():
    model = shared_functional()
    clone = clone_model(model)
    assert [layer.name for layer in clone.layers] == ["x", "shared", "head"]
    assert len(clone.get_layer("shared")._inbound_nodes) == 2
    assert clone.get_layer("shared") is not model.get_layer("shared")
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone(data()).numpy(), model(data()).numpy())


def test_input_tensors_and_clone_function():
    model = shared_functional()
    new_input = shinsou.Input((4,), name="other")
    renamed = clone_model(
        model,
        input_tensors=new_input,
        clone_function=lambda layer: type(layer).from_config(
            {**layer.get_config(), "name": "copy_of_" + layer.name}
        ),
    )
    assert [layer.name for layer in renamed.layers] == ["other", "copy_of_shared", "copy_of_head"]
    sequential = shinsou.Sequential([shinsou.Input((4,)), layers.Dense(2)])
    clone = clone_model(sequential, input_tensors=[shinsou.Input((4,), name="fresh")])
    assert clone.inputs[0]._keras_history.operation.name == "fresh"


def test_call_function_and_recursive():
    inner_input = shinsou.Input((4,))
    inner = shinsou.Model(inner_input, layers.Dense(4, name="inner_dense")(inner_input))
    inputs = shinsou.Input((4,))
    model = shinsou.Model(inputs, layers.Dense(1, name="top")(inner(inputs)))
    calls = []

    def record(layer, *args, **kwargs):
        calls.append(layer.name)
        return layer(*args, **kwargs)

    clone = clone_model(model, call_function=record, recursive=True)
    nested = clone.layers[1]
    assert nested is not inner and nested.layers[1].name == "inner_dense"
    assert calls == ["inner_dense", inner.name, "top"]


def test_nested_model_is_cloned_with_its_from_config():
    inner_input = shinsou.Input((4,))
    inner = shinsou.Model(inner_input, layers.Dense(4)(inner_input), name="inner")
    inputs = shinsou.Input((4,))
    model = shinsou.Model(inputs, inner(inputs))
    clone = clone_model(model)
    assert clone.layers[1] is not inner and clone.layers[1].name == "inner"
    assert shinsou.Sequential.from_config(
        shinsou.Sequential([shinsou.Input((2,)), layers.Dense(1)]).get_config()
    ).built


def test_compiled_model_clone_is_compiled():
    model = shared_functional()
    model.compile(optimizer="sgd", loss="mse")
    clone = clone_model(model)
    assert clone.compiled and clone.optimizer is not model.optimizer
    clone.fit(data(), data(columns=2), epochs=1, verbose=0)


def test_subclassed_model_is_cloned_through_its_config():
    @register_keras_serializable("tests")
    class Tower(shinsou.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.dense = layers.Dense(units)

        def call(self, inputs):
            return self.dense(inputs)

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    clone = clone_model(Tower(units=7))
    assert type(clone) is Tower and clone.units == 7


def test_bad_arguments():
    model = shared_functional()
    with pytest.raises(ValueError, match="input_tensors must be 1 symbolic"):
        clone_model(model, input_tensors=[shinsou.Input((4,)), shinsou.Input((4,))])
    with pytest.raises(TypeError, match="clone_function must be callable"):
        clone_model(model, clone_function="copy")
    sequential = shinsou.Sequential([shinsou.Input((4,)), layers.Dense(2)])
    with pytest.raises(ValueError, match="call_function is not supported for Sequential"):
        clone_model(sequential, call_function=lambda layer, *a: layer(*a))
    with pytest.raises(ValueError, match="single tensor"):
        clone_model(sequential, input_tensors=[shinsou.Input((4,)), shinsou.Input((4,))])
    with pytest.raises(ValueError, match="symbolic tensor"):
        clone_model(sequential, input_tensors=np.ones((1, 4)))

    class Plain(shinsou.Model):
        def call(self, inputs):
            return inputs

    with pytest.raises(ValueError, match="only supported for Sequential and functional"):
        clone_model(Plain(), clone_function=lambda layer: layer)
