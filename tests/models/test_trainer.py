"""The trainer's contract with custom steps, as in Keras 3: the batches train_step /
test_step / predict_step receive, ``model.metrics`` after compile, and the examples of the
keras.io guide "Customizing what happens in fit()" (torch version) run unchanged."""

import numpy as np
import pytest

import shinsou
import shinsou as keras
from shinsou import layers
from support import torch

needs_torch = pytest.mark.skipif(torch is None, reason="the guide's code imports torch")


def _functional(cls=keras.Model, units=1):
    inputs = keras.Input(shape=(32,))
    return cls(inputs, keras.layers.Dense(units)(inputs))


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 32)), rng.random((n, 1)), rng.random((n, 1))


# -- the batches the steps receive ---------------------------------------------------------
class Recording(keras.Model):
    seen: list

    def train_step(self, data):
        self.seen.append(("train", _shape_of(data)))
        return super().train_step(data)

    def test_step(self, data):
        self.seen.append(("test", _shape_of(data)))
        return super().test_step(data)

    def predict_step(self, data):
        self.seen.append(("predict", _shape_of(data)))
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)  # Keras's default step
        return self(x, training=False)


def _shape_of(data):
    return len(data) if isinstance(data, tuple) else type(data).__name__


def test_steps_receive_batches_without_trailing_nones():
    x, y, w = _data(8)
    model = _functional(Recording)
    model.seen = []
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=8, verbose=0)
    model.fit(x, y, sample_weight=w[:, 0], batch_size=8, verbose=0)
    model.evaluate(x, y, batch_size=8, verbose=0)
    model.train_on_batch(x, y)
    model.test_on_batch(x, y, sample_weight=w[:, 0])
    model.predict(x, batch_size=8, verbose=0)
    model.predict_on_batch(x)
    assert model.seen == [
        ("train", 2),
        ("train", 3),
        ("test", 2),
        ("train", 2),
        ("test", 3),
        ("predict", "ndarray"),  # x alone, as keras.utils.pack_x_y_sample_weight(x) gives
        ("predict", "ndarray"),
    ]


def test_several_inputs_reach_predict_step_as_a_one_tuple():
    a, b = keras.Input((2,)), keras.Input((2,))
    model = Recording([a, b], layers.Add()([a, b]))
    model.seen = []
    model.predict([np.ones((3, 2)), np.ones((3, 2))], verbose=0)
    assert model.seen == [("predict", 1)]


def test_pack_and_unpack_follow_keras():
    utils = shinsou.utils
    assert utils.pack_x_y_sample_weight(1) == 1
    assert utils.pack_x_y_sample_weight((1, 2)) == ((1, 2),)
    assert utils.pack_x_y_sample_weight(1, 2, None) == (1, 2)
    assert utils.pack_x_y_sample_weight(1, 2, 3) == (1, 2, 3)
    assert utils.unpack_x_y_sample_weight([1, 2]) == (1, 2, None)
    assert utils.unpack_x_y_sample_weight((1,)) == (1, None, None)
    with pytest.raises(ValueError, match=r"unpack_x_y_sample_weight: .* of 4 elements"):
        utils.unpack_x_y_sample_weight((1, 2, 3, 4))


# -- model.metrics -------------------------------------------------------------------------
def test_metrics_after_compile_are_loss_tracker_and_compile_metrics():
    model = _functional()
    assert model.metrics == []
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    assert [m.name for m in model.metrics] == ["loss", "compile_metrics"]
    container = model.metrics[1]
    assert not container.built and container.result() == {} and container.variables == []
    model.compile(optimizer="adam", loss="mse")
    assert model.metrics_names == ["loss"]


def test_default_fit_history_and_evaluate_order():
    x, y, _ = _data()
    model = _functional()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=1, validation_data=(x, y), verbose=0)
    assert list(history.history) == ["loss", "mae", "val_loss", "val_mae"]
    loss, mae = model.evaluate(x, y, verbose=0)
    assert model.metrics[1].built and [m.name for m in model.metrics[1].metrics] == ["mae"]
    assert model.evaluate(x, y, verbose=0, return_dict=True) == {"loss": loss, "mae": mae}


def test_compiled_loss_and_compiled_metrics_of_keras_2_still_work():
    class Keras2Style(keras.Model):
        def train_step(self, data):
            x, y = data
            y_pred = self(x, training=True)
            loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
            loss.backward()
            self.optimizer.apply([v.grad for v in self.trainable_weights], self.trainable_weights)
            self.compiled_metrics.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    x, y, _ = _data()
    model = _functional(Keras2Style)
    model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])
    with pytest.warns(UserWarning, match="deprecated"):
        history = model.fit(x, (y > 0.5).astype("float32"), epochs=1, verbose=0)
    assert set(history.history) == {"accuracy", "loss"}


def test_a_step_that_does_not_return_a_dict_is_reported():
    class Wrong(keras.Model):
        def train_step(self, data):
            return 1.0

    model = _functional(Wrong)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError, match="train_step must return a dict of logs.*got float"):
        model.fit(*_data(8)[:2], verbose=0)


# -- the keras.io guide, torch version (only the import line changed) ----------------------
class GuideModel(keras.Model):
    def train_step(self, data):
        # Unpack the data. Its structure depends on your model and
        # on what you pass to `fit()`.
        x, y = data

        # Call torch.nn.Module.zero_grad() to clear the leftover gradients
        # for the weights from the previous train step.
        self.zero_grad()

        # Compute loss
        y_pred = self(x, training=True)  # Forward pass
        loss = self.compute_loss(y=y, y_pred=y_pred)

        # Call torch.Tensor.backward() on the loss to compute gradients
        # for the weights.
        loss.backward()

        trainable_weights = [v for v in self.trainable_weights]  # noqa: C416 (the guide)
        gradients = [v.value.grad for v in trainable_weights]

        # Update weights
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)

        # Update metrics (includes the metric that tracks the loss)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)

        # Return a dict mapping metric names to current value
        # Note that it will include the loss (tracked in self.metrics).
        return {m.name: m.result() for m in self.metrics}


class GuideWeightedModel(keras.Model):
    def train_step(self, data):
        if len(data) == 3:
            x, y, sample_weight = data
        else:
            sample_weight = None
            x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)  # Forward pass
        loss = self.compute_loss(
            y=y,
            y_pred=y_pred,
            sample_weight=sample_weight,
        )
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]  # noqa: C416 (the guide)
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}


class GuideTestStepModel(keras.Model):
    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


@needs_torch
def test_guide_first_example_logs_loss_and_compiled_metric(capsys):
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = GuideModel(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x = np.random.random((1000, 32))
    y = np.random.random((1000, 1))
    history = model.fit(x, y, epochs=3)
    # Keras 3.15 prints "mae: ... - loss: ..." and History holds the same two keys
    # (Keras orders them mae, loss; shinsou's CallbackList sorts epoch logs by name).
    assert set(history.history) == {"mae", "loss"}
    assert all(len(values) == 3 for values in history.history.values())
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert last_line.index("mae: ") < last_line.index("loss: ")
    assert history.history["loss"][-1] < history.history["loss"][0]


@needs_torch
def test_guide_sample_weight_example_weights_loss_and_metrics():
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = GuideWeightedModel(inputs, outputs)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x = np.random.random((1000, 32))
    y = np.random.random((1000, 1))
    sw = np.random.random((1000, 1))
    history = model.fit(x, y, sample_weight=sw, epochs=3, verbose=0)
    assert set(history.history) == {"mae", "loss"}
    assert np.isfinite(history.history["mae"]).all()


def test_guide_test_step_example_evaluates_to_loss_then_mae():
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    model = GuideTestStepModel(inputs, outputs)
    model.compile(loss="mse", metrics=["mae"])
    x = np.random.random((1000, 32))
    y = np.random.random((1000, 1))
    loss, mae = model.evaluate(x, y, verbose=0)
    y_pred = model.predict(x, verbose=0)
    np.testing.assert_allclose(mae, np.abs(y_pred - y).mean(), rtol=1e-4)
    # The guide's loss tracker averages batch losses unweighted (32 batches, the last of 8).
    batch_losses = [((y_pred[i : i + 32] - y[i : i + 32]) ** 2).mean() for i in range(0, 1000, 32)]
    np.testing.assert_allclose(loss, np.mean(batch_losses), rtol=1e-4)
