"""Functional and subclassed models: graph building, replay, shared layers, errors."""

import numpy as np
import pytest

import shinsou
from shinsou import layers


def test_functional_model_with_two_inputs_and_two_outputs():
    a, b = shinsou.Input((3,), name="a"), shinsou.Input((2,), name="b")
    joint = layers.Dense(4, name="joint")(a) + layers.Dense(4, name="side")(b)
    out1, out2 = layers.Dense(1, name="out1")(joint), layers.Dense(2, name="out2")(joint)
    model = shinsou.Model([a, b], [out1, out2])
    y1, y2 = model([np.ones((5, 3)), np.ones((5, 2))])
    assert y1.shape == (5, 1) and y2.shape == (5, 2)
    # Inputs can also be given by name.
    z1, _ = model({"a": np.ones((5, 3)), "b": np.ones((5, 2))})
    np.testing.assert_allclose(z1.numpy(), y1.numpy())
    assert [layer.name for layer in model.layers][:2] == ["a", "b"]


def test_layers_are_ordered_by_depth_like_keras():
    x = shinsou.Input((2,), name="x")
    left = layers.Dense(2, name="left")(x)
    right = layers.Dense(2, name="right")(layers.Dense(2, name="pre")(x))
    out = layers.Dense(1, name="out")(left + right)
    model = shinsou.Model(x, out)
    names = [layer.name for layer in model.layers]
    assert names[0] == "x" and names[-1] == "out"
    assert names.index("pre") < names.index("right")


def test_shared_layer_is_counted_once_and_used_twice():
    shared = layers.Dense(3)
    a, b = shinsou.Input((4,)), shinsou.Input((4,))
    model = shinsou.Model([a, b], shared(a) - shared(b))
    assert model.count_params() == 15
    out = model([np.ones((2, 4)), np.ones((2, 4))])
    np.testing.assert_allclose(out.numpy(), 0.0)


def test_nested_model_as_a_layer():
    inner_in = shinsou.Input((3,))
    inner = shinsou.Model(inner_in, layers.Dense(2)(inner_in), name="inner")
    x = shinsou.Input((3,))
    outer = shinsou.Model(x, layers.Dense(1)(inner(x)))
    assert outer(np.ones((4, 3))).shape == (4, 1)
    assert len(outer.weights) == 4


def test_gradients_flow_through_the_replayed_graph():
    x = shinsou.Input((2,))
    dense = layers.Dense(1, kernel_initializer="ones")
    model = shinsou.Model(x, dense(x) * 3.0)
    model(np.array([[1.0, 2.0]]), training=True).sum().backward()
    np.testing.assert_allclose(dense.kernel.grad, [[3.0], [6.0]])


def test_model_call_on_data_records_a_graph_only_when_asked():
    x = shinsou.Input((2,))
    model = shinsou.Model(x, layers.Dense(1)(x))
    data = np.ones((3, 2), "float32")
    assert not model(data).requires_grad  # inference: no graph, no saved activations
    assert model(data, training=True).requires_grad
    with shinsou.enable_grad():
        assert model(data).requires_grad
    assert model(shinsou.tensor(data, requires_grad=True)).requires_grad
    with pytest.raises(RuntimeError, match=r"training=True.*enable_grad"):
        model(data).sum().backward()


def test_input_shape_mismatch_names_model_and_shapes():
    x = shinsou.Input((4,), name="features")
    model = shinsou.Model(x, layers.Dense(1)(x), name="regressor")
    with pytest.raises(ValueError, match=r"'features' of model 'regressor'.*\(None, 4\).*\(2, 5\)"):
        model(np.ones((2, 5)))


def test_disconnected_input_is_an_error():
    a, b = shinsou.Input((2,)), shinsou.Input((2,))
    with pytest.raises(ValueError, match="not listed in the model's inputs"):
        shinsou.Model(a, layers.Dense(1)(a + b))


def test_model_outputs_must_be_symbolic():
    with pytest.raises(TypeError, match="symbolic tensors"):
        shinsou.Model(shinsou.Input((2,)), np.ones(2))


def test_integer_inputs_are_cast_to_the_input_dtype():
    x = shinsou.Input((2,), dtype="int32")
    model = shinsou.Model(x, x * 2)
    assert model(np.array([[1.0, 2.0]])).dtype == np.int32


def test_subclassed_model_tracks_layers_and_trains_weights():
    class Net(shinsou.Model):
        def __init__(self):
            super().__init__(name="net")
            self.blocks = [layers.Dense(4, activation="relu"), layers.Dense(1)]

        def call(self, x, training=None):
            for block in self.blocks:
                x = block(x)
            return x

    net = Net()
    net(np.ones((3, 2)))
    assert len(net.trainable_weights) == 4 and len(net.layers) == 2
    assert net.get_layer(index=1) is net.blocks[1]
    with pytest.raises(ValueError, match="no layer named 'missing'"):
        net.get_layer("missing")


def test_symbolic_ops_and_slicing_become_graph_nodes():
    x = shinsou.Input((4,))
    model = shinsou.Model(x, (x[:, :2] * 2.0) @ np.ones((2, 1), "float32"))
    assert model(np.arange(8, dtype="float32").reshape(2, 4)).tolist() == [[2.0], [18.0]]


def test_predict_and_predict_on_batch_with_two_inputs():
    a, b = shinsou.Input((3,)), shinsou.Input((3,))
    model = shinsou.Model([a, b], layers.Add()([a, b]))
    pair = [np.ones((5, 3), "float32"), np.full((5, 3), 2.0, "float32")]
    np.testing.assert_allclose(model.predict(pair, batch_size=2, verbose=0), 3.0)
    np.testing.assert_allclose(model.predict_on_batch(pair), 3.0)
