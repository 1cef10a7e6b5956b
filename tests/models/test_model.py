"""Model: a subclass built from (inputs, outputs) is functional and keeps its own methods,
as in Keras; zero_grad; bad constructor arguments."""

import numpy as np
import pytest

import shinsou
from shinsou import layers, saving
from shinsou.models import Functional


def _graph(units=2):
    inputs = shinsou.Input((3,), name="features")
    return inputs, layers.Dense(units, name="out")(inputs)


def test_subclass_with_inputs_outputs_is_functional_and_keeps_train_step():
    calls = []

    class Custom(shinsou.Model):
        def train_step(self, data):
            calls.append(type(data))
            return super().train_step(data)

    inputs, outputs = _graph()
    for model in (Custom(*_graph()), Custom(inputs=inputs, outputs=outputs)):
        assert type(model) is Custom and isinstance(model, Functional)
        assert [layer.name for layer in model.layers] == ["features", "out"]
        assert model(np.ones((4, 3), "float32")).shape == (4, 2)
        assert len(model.trainable_weights) == 2
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 3)), np.ones((8, 2)), batch_size=4, epochs=1, verbose=0)
    assert calls == [tuple, tuple]
    inputs, outputs = _graph()
    assert isinstance(Custom(inputs, outputs=outputs), Functional)  # positional and named


def test_subclass_init_forwarding_args_and_deeper_subclasses():
    class WithTracker(shinsou.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = shinsou.metrics.Mean(name="loss")

    class Deeper(WithTracker):
        pass

    model = Deeper(*_graph(), name="deep")
    assert model.name == "deep" and isinstance(model, (WithTracker, Functional))
    assert model.loss_tracker.name == "loss"
    assert WithTracker(*_graph(3)).output_shape == (None, 3)


def test_functional_subclass_save_and_load(tmp_path):
    class Saved(shinsou.Model):
        pass

    model = Saved(*_graph())
    path = tmp_path / "saved.keras"
    model.save(path)
    loaded = saving.load_model(path, custom_objects={"Saved": Saved})
    assert type(loaded) is Saved
    x = np.random.default_rng(0).random((2, 3)).astype("float32")
    np.testing.assert_allclose(loaded(x).numpy(), model(x).numpy(), rtol=1e-6)


def test_plain_subclass_still_builds_without_graph_arguments():
    class Plain(shinsou.Model):
        def __init__(self):
            super().__init__(name="plain")
            self.dense = layers.Dense(1)

        def call(self, x):
            return self.dense(x)

    model = Plain()
    assert not isinstance(model, Functional)
    assert model(np.ones((2, 4), "float32")).shape == (2, 1)


def test_model_rejects_a_lone_positional_argument():
    with pytest.raises(TypeError, match=r"Model\(\) takes \(inputs, outputs\).*received 1"):
        shinsou.Model(_graph()[0])


def test_zero_grad_clears_or_zeroes_gradients():
    model = shinsou.Sequential([shinsou.Input((2,)), layers.Dense(1)])
    model(np.ones((1, 2), "float32"), training=True).sum().backward()
    model.zero_grad(set_to_none=False)
    assert all(np.all(w.grad == 0) for w in model.trainable_weights)
    model.zero_grad()
    assert all(w.grad is None for w in model.trainable_weights)
