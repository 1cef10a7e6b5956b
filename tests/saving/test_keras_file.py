import io
import json
import os
import zipfile

import h5py
import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.saving import (
    keras_file,
    load_model,
    load_weights,
    register_keras_serializable,
    save_model,
)


def data(rows=16, columns=4, seed=0):
    return np.random.default_rng(seed).random((rows, columns), dtype=np.float32)


def functional():
    inputs = shinsou.Input((4,), name="features")
    hidden = layers.Dense(8, activation="relu", name="hidden")(inputs)
    return shinsou.Model(inputs, layers.Dense(2, name="scores")(hidden), name="net")


def assert_same_weights(model, other):
    for ours, theirs in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(ours, theirs)


class Scale(layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.offset = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="offset")

    def call(self, inputs):
        return inputs * self.factor + self.offset

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def test_archive_members_and_metadata(tmp_path):
    path = tmp_path / "net.keras"
    functional().save(path)
    with zipfile.ZipFile(path) as archive:
        assert archive.namelist() == ["metadata.json", "config.json", "model.weights.h5"]
        metadata = json.loads(archive.read("metadata.json"))
        config = json.loads(archive.read("config.json"))
    assert set(metadata) >= {"keras_version", "date_saved"}
    assert metadata["keras_version"].startswith("3.")
    assert config["class_name"] == "Functional" and config["config"]["name"] == "net"


@pytest.mark.parametrize(
    "build",
    [
        functional,
        lambda: shinsou.Sequential(
            [shinsou.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(2)]
        ),
    ],
)
def test_save_load_same_predictions_and_weights(tmp_path, build):
    model = build()
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert type(loaded) is type(model)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert_same_weights(model, loaded)
    np.testing.assert_array_equal(
        loaded.predict(data(), verbose=0), model.predict(data(), verbose=0)
    )
    assert not loaded.compiled


def test_compile_and_optimizer_state_restored_so_fit_continues(tmp_path):
    model = functional()
    model.compile(
        optimizer=shinsou.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"]
    )
    x, y = data(), data(columns=2, seed=1)
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    assert loaded.compiled and type(loaded.optimizer) is shinsou.optimizers.Adam
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    for ours, theirs in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    ours = model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    theirs = loaded.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0).history
    assert ours == theirs
    assert_same_weights(model, loaded)


def test_compile_false_and_loss_objects(tmp_path):
    model = functional()
    model.compile(optimizer="sgd", loss=shinsou.losses.MeanSquaredError())
    model.save(tmp_path / "m.keras")
    assert not load_model(tmp_path / "m.keras", compile=False).compiled
    loaded = load_model(tmp_path / "m.keras")
    assert type(loaded.loss) is shinsou.losses.MeanSquaredError
    loaded.fit(data(), data(columns=2), epochs=1, verbose=0)


def test_custom_layer_by_registration_and_by_custom_objects(tmp_path):
    model = shinsou.Sequential([shinsou.Input((3,)), Scale(3.0, name="scale")])
    model.layers[0].offset.assign([1.0, 2.0, 3.0])
    model.save(tmp_path / "custom.keras")
    with pytest.raises(ValueError, match="Unknown class 'Scale'.*custom_objects"):
        load_model(tmp_path / "custom.keras")
    loaded = load_model(tmp_path / "custom.keras", custom_objects={"Scale": Scale})
    assert loaded.layers[0].factor == 3.0
    assert_same_weights(model, loaded)

    registered = register_keras_serializable("tests")(Scale)
    model = shinsou.Sequential([shinsou.Input((3,)), registered(4.0)])
    model.save(tmp_path / "registered.keras")
    assert load_model(tmp_path / "registered.keras").layers[0].factor == 4.0


def test_subclassed_model(tmp_path):
    @register_keras_serializable("tests")
    class Tower(shinsou.Model):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.hidden = layers.Dense(units)
            self.top = layers.Dense(1)

        def build(self, input_shape):
            self.hidden.build(input_shape)
            self.top.build((None, self.units))

        def call(self, inputs):
            return self.top(self.hidden(inputs))

        def get_config(self):
            return {**super().get_config(), "units": self.units}

    model = Tower(units=5, name="tower")
    model(data())
    model.save(tmp_path / "tower.keras")
    loaded = load_model(tmp_path / "tower.keras")
    assert type(loaded) is Tower and loaded.units == 5 and loaded.name == "tower"
    np.testing.assert_array_equal(loaded(data()).numpy(), model(data()).numpy())


def test_file_objects(tmp_path):
    model = functional()
    buffer = io.BytesIO()
    save_model(model, buffer)
    buffer.seek(0)
    assert_same_weights(model, load_model(buffer))


def test_unzipped_folder(tmp_path):
    model = functional()
    folder = tmp_path / "net_folder"
    save_model(model, folder, zipped=False)
    assert sorted(os.listdir(folder)) == ["config.json", "metadata.json", "model.weights.h5"]
    assert_same_weights(model, load_model(folder))
    save_model(functional(), folder, zipped=False)  # replaces the folder
    with pytest.raises(FileExistsError):
        save_model(model, folder, zipped=False, overwrite=False)
    assert os.listdir(tmp_path) == ["net_folder"]


def test_loading_a_file_written_the_keras_way(tmp_path):
    # A .keras archive assembled by hand the way Keras 3 writes it.
    config = {
        "module": "keras",
        "class_name": "Sequential",
        "registered_name": None,
        "config": {
            "name": "sequential",
            "trainable": True,
            "dtype": {
                "module": "keras",
                "class_name": "DTypePolicy",
                "config": {"name": "float32"},
                "registered_name": None,
            },
            "layers": [
                {
                    "module": "keras.layers",
                    "class_name": "InputLayer",
                    "registered_name": None,
                    "config": {
                        "batch_shape": [None, 3],
                        "dtype": "float32",
                        "sparse": False,
                        "name": "input_layer",
                    },
                },
                {
                    "module": "keras.layers",
                    "class_name": "Dense",
                    "registered_name": None,
                    "build_config": {"input_shape": [None, 3]},
                    "config": {
                        "name": "dense",
                        "trainable": True,
                        "units": 2,
                        "activation": "relu",
                        "use_bias": True,
                        "kernel_initializer": {
                            "module": "keras.initializers",
                            "class_name": "GlorotUniform",
                            "config": {"seed": None},
                            "registered_name": None,
                        },
                    },
                },
            ],
            "build_input_shape": [None, 3],
        },
        "build_config": {"input_shape": [None, 3]},
    }
    weights = io.BytesIO()
    kernel = np.arange(6, dtype="float32").reshape(3, 2)
    with h5py.File(weights, "w") as h5file:
        h5file.create_group("vars")
        group = h5file.create_group("layers/dense/vars")
        group["0"], group["1"] = kernel, np.array([0.5, -100.0], dtype="float32")
    path = tmp_path / "from_keras.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.8.0"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights.getvalue())
    model = load_model(path)
    out = model.predict(np.ones((1, 3), dtype="float32"), verbose=0)
    np.testing.assert_allclose(out, [[6.5, 0.0]])


def test_overwrite_false_and_bad_paths(tmp_path):
    model = functional()
    path = tmp_path / "m.keras"
    model.save(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="already exists.*overwrite=True"):
        model.save(path, overwrite=False)
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match=r"expected '\.keras'.*legacy HDF5"):
        model.save(tmp_path / "m.h5")
    with pytest.raises(ValueError, match=r"expected '\.keras'"):
        save_model(model, tmp_path / "m.model")
    with pytest.raises(ValueError, match="zipped=False"):
        save_model(model, tmp_path / "x.keras", zipped=False)
    with pytest.raises(ValueError, match="save_format"):
        model.save(path, save_format="keras")
    with pytest.raises(ValueError, match="not supported"):
        model.save(path, invalid_arg="hello")
    with pytest.raises(TypeError, match="expected a model"):
        save_model("model", path)


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="file not found"):
        load_model(tmp_path / "missing.keras")
    (tmp_path / "plain.keras").write_text("not a zip")
    with pytest.raises(ValueError, match="not a zip archive"):
        load_model(tmp_path / "plain.keras")
    (tmp_path / "old.h5").write_bytes(b"")
    with pytest.raises(ValueError, match="legacy HDF5"):
        load_model(tmp_path / "old.h5")
    (tmp_path / "model.pb").write_bytes(b"")
    with pytest.raises(ValueError, match="file format not supported"):
        load_model(tmp_path / "model.pb")
    with zipfile.ZipFile(tmp_path / "empty.keras", "w") as archive:
        archive.writestr("config.json", json.dumps({"class_name": "Sequential", "config": {}}))
    with pytest.raises(ValueError, match="holds no model.weights.h5"):
        load_model(tmp_path / "empty.keras")


def test_failed_save_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch):
    class Broken(layers.Layer):
        def save_own_variables(self, store):
            raise RuntimeError("cannot save this layer")

    path = tmp_path / "m.keras"
    functional().save(path)
    before = path.read_bytes()
    model = shinsou.Sequential([shinsou.Input((2,)), Broken()])
    with pytest.raises(RuntimeError, match="cannot save this layer"):
        model.save(path)

    def crash_midway(handle, members):
        handle.write(b"partial archive")
        raise OSError("disk full")

    monkeypatch.setattr(keras_file, "_write_archive", crash_midway)
    with pytest.raises(OSError, match="disk full"):
        functional().save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.keras"]
    load_weights(functional(), path)


def test_unbuilt_model_warns(tmp_path):
    with pytest.warns(UserWarning, match="not built"):
        save_model(shinsou.Sequential([layers.Dense(1)]), tmp_path / "u.keras")


# Built-in layers written by colleagues: each one present is checked, the others skipped.
BUILTIN_LAYERS = [
    ("BatchNormalization", {}, (5,)),
    ("LayerNormalization", {}, (5,)),
    ("PReLU", {}, (5,)),
    ("Dropout", {"rate": 0.5}, (5,)),
    ("Embedding", {"input_dim": 10, "output_dim": 3}, (4,)),
    ("Conv1D", {"filters": 2, "kernel_size": 2}, (5, 3)),
    ("Conv2D", {"filters": 2, "kernel_size": 3, "padding": "same"}, (6, 6, 2)),
    ("DepthwiseConv2D", {"kernel_size": 3}, (6, 6, 2)),
    ("SeparableConv2D", {"filters": 2, "kernel_size": 3}, (6, 6, 2)),
    ("Conv2DTranspose", {"filters": 2, "kernel_size": 3}, (4, 4, 2)),
    ("MaxPooling2D", {}, (4, 4, 2)),
    ("GlobalAveragePooling2D", {}, (4, 4, 2)),
    ("SimpleRNN", {"units": 3}, (4, 2)),
    ("LSTM", {"units": 3, "return_sequences": True}, (4, 2)),
    ("GRU", {"units": 3}, (4, 2)),
    ("Bidirectional", {"layer": {"class_name": "LSTM", "config": {"units": 2}}}, (4, 2)),
]


@pytest.mark.parametrize(("name", "kwargs", "shape"), BUILTIN_LAYERS, ids=lambda v: str(v))
def test_builtin_layer_round_trip(tmp_path, name, kwargs, shape):
    if not hasattr(layers, name):
        pytest.skip(f"layers.{name} is not available yet")
    if name == "Bidirectional":
        if not hasattr(layers, "LSTM"):
            pytest.skip("layers.LSTM is not available yet")
        kwargs = {"layer": layers.LSTM(2)}
    integer = name == "Embedding"
    model = shinsou.Sequential(
        [
            shinsou.Input(shape, dtype="int32" if integer else "float32"),
            getattr(layers, name)(**kwargs),
        ]
    )
    rng = np.random.default_rng(1)
    # Non-default values everywhere (moving statistics included) so a mix-up would show.
    model.set_weights([rng.random(w.shape).astype(w.dtype) + 0.5 for w in model.get_weights()])
    x = rng.integers(0, 10, (2, *shape)) if integer else rng.random((2, *shape), dtype=np.float32)
    model.save(tmp_path / "layer.keras")
    loaded = load_model(tmp_path / "layer.keras")
    assert_same_weights(model, loaded)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    ours = json.loads(json.dumps(model.get_config()))["layers"][1]["config"]
    theirs = json.loads(json.dumps(loaded.get_config()))["layers"][1]["config"]
    assert ours == theirs
