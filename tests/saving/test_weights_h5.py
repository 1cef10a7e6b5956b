import os
import sys

import h5py
import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.saving import load_weights, save_model, save_weights
from shinsou.saving.weights_h5 import walk_state


def all_paths(path):
    """Every group and dataset of an HDF5 file, sorted."""
    found = []
    with h5py.File(path, "r") as h5file:
        h5file.visit(found.append)
    return sorted(found)


def sequential(units=(3, 2), input_dim=4):
    return shinsou.Sequential(
        [shinsou.Input((input_dim,))] + [layers.Dense(units_) for units_ in units]
    )


def data(rows=8, columns=4, seed=0):
    return np.random.default_rng(seed).random((rows, columns), dtype=np.float32)


class Block(layers.Layer):
    """Own weights (one non-trainable, created first), a sublayer attribute and a list."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = layers.Dense(3)
        self.parts = [layers.Dense(3), layers.Dense(3)]

    def build(self, input_shape):
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count")
        self.scale = self.add_weight(shape=(3,), initializer="ones", name="scale")
        self.inner.build(input_shape)
        for part in self.parts:
            part.build((None, 3))

    def call(self, inputs):
        x = self.inner(inputs) * self.scale
        for part in self.parts:
            x = part(x)
        return x


class TwoLayers(shinsou.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(4)
        self.out = layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


# -- layout --------------------------------------------------------------------------------
def test_sequential_layout_with_optimizer(tmp_path):
    model = sequential()
    model.compile(optimizer="adam", loss="mse")
    model.fit(data(), data(columns=2), epochs=1, verbose=0)
    path = tmp_path / "model.weights.h5"
    model.save_weights(path)
    optimizer_vars = [f"optimizer/vars/{i}" for i in range(2 + 2 * 4)]
    assert all_paths(path) == sorted(
        [
            "layers",
            "layers/dense",
            "layers/dense/vars",
            "layers/dense_1",
            "layers/dense_1/vars",
            "optimizer",
            "optimizer/vars",
            "vars",
        ]
        + [f"layers/dense{suffix}/vars/{i}" for suffix in ("", "_1") for i in (0, 1)]
        + optimizer_vars
    )
    with h5py.File(path, "r") as h5file:
        assert h5file["layers/dense/vars/0"].shape == (4, 3)
        assert h5file["layers/dense_1/vars/1"].shape == (2,)
        assert h5file["optimizer/vars/0"][()] == 1  # iterations
        shapes = [h5file[name].shape for name in optimizer_vars]
        assert shapes == [tuple(v.shape) for v in model.optimizer.variables]
        assert shapes[2] == (4, 3)  # a slot of the first kernel
        assert h5file["layers/dense/vars"].attrs["name"] == model.layers[0].name
        assert h5file["vars"].attrs["name"] == model.name


def test_functional_layout_lists_input_layers_and_nested_models(tmp_path):
    inputs = shinsou.Input((4,))
    inner_input = shinsou.Input((3,))
    inner = shinsou.Model(inner_input, layers.Dense(2)(inner_input))
    outputs = inner(layers.Dense(3)(inputs) + 1.0)
    model = shinsou.Model(inputs, outputs)
    path = tmp_path / "f.weights.h5"
    save_weights(model, path)
    groups = [p for p in all_paths(path) if p.endswith("vars")]
    assert groups == [
        "layers/dense/vars",
        "layers/functional/layers/dense/vars",
        "layers/functional/layers/input_layer/vars",
        "layers/functional/vars",
        "layers/input_layer/vars",
        "vars",
    ]


def test_custom_layer_layout_by_attribute_and_container(tmp_path):
    model = shinsou.Sequential([shinsou.Input((4,)), Block()])
    path = tmp_path / "block.weights.h5"
    save_weights(model, path)
    datasets = [p for p in all_paths(path) if p.split("/")[-1].isdigit()]
    assert datasets == [
        "layers/block/inner/vars/0",
        "layers/block/inner/vars/1",
        "layers/block/parts/dense/vars/0",
        "layers/block/parts/dense/vars/1",
        "layers/block/parts/dense_1/vars/0",
        "layers/block/parts/dense_1/vars/1",
        "layers/block/vars/0",
        "layers/block/vars/1",
    ]
    with h5py.File(path, "r") as h5file:  # trainable variables first, as Keras orders them
        assert h5file["layers/block/vars/0"].shape == (3,)
        assert h5file["layers/block/vars/1"].shape == ()


def test_subclassed_model_layout_follows_keras_attribute_walk():
    model = TwoLayers()
    model(np.ones((1, 3), dtype="float32"))
    # Attributes are visited alphabetically; Keras's `layers` property comes before `out`.
    assert [path for path, _ in walk_state(model)] == ["", "hidden", "layers/dense_1"]


# -- round trips ---------------------------------------------------------------------------
def test_save_load_same_weights_and_predictions(tmp_path):
    model = sequential()
    path = tmp_path / "a.weights.h5"
    save_weights(model, path)
    other = sequential()
    load_weights(other, path)
    for ours, theirs in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    np.testing.assert_array_equal(
        model.predict(data(), verbose=0), other.predict(data(), verbose=0)
    )


def test_model_methods_and_keras_file(tmp_path):
    model = sequential()
    save_model(model, tmp_path / "m.keras")
    other = sequential()
    other.load_weights(tmp_path / "m.keras")
    np.testing.assert_array_equal(model.get_weights()[0], other.get_weights()[0])


def test_custom_layer_round_trip(tmp_path):
    model = shinsou.Sequential([shinsou.Input((4,)), Block()])
    model.layers[0].count.assign(5.0)
    save_weights(model, tmp_path / "b.weights.h5")
    other = shinsou.Sequential([shinsou.Input((4,)), Block()])
    load_weights(other, tmp_path / "b.weights.h5")
    assert float(other.layers[0].count.numpy()) == 5.0
    np.testing.assert_array_equal(model(data()).numpy(), other(data()).numpy())


def test_layer_with_custom_save_and_load_own_variables(tmp_path):
    class Counter(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seen = np.arange(3.0)

        def save_own_variables(self, store):
            store["seen"] = self.seen

        def load_own_variables(self, store):
            self.seen = store["seen"]

    model = shinsou.Sequential([shinsou.Input((2,)), Counter()])
    save_weights(model, tmp_path / "c.weights.h5")
    other = shinsou.Sequential([shinsou.Input((2,)), Counter()])
    other.layers[0].seen = None
    load_weights(other, tmp_path / "c.weights.h5")
    assert other.layers[0].seen.tolist() == [0.0, 1.0, 2.0]


def test_keras_written_file_loads(tmp_path):
    # Written the way Keras 3 writes it: every object gets a vars group, even empty ones.
    kernel = np.arange(6, dtype="float32").reshape(3, 2)
    path = tmp_path / "keras.weights.h5"
    with h5py.File(path, "w") as h5file:
        h5file.create_group("vars").attrs["name"] = "functional"
        h5file.create_group("layers/input_layer/vars")
        group = h5file.create_group("layers/dense/vars")
        group["0"], group["1"] = kernel, np.ones(2)
        h5file.create_group("layers/unknown_extra/vars")["0"] = np.zeros(1)
    inputs = shinsou.Input((3,))
    model = shinsou.Model(inputs, layers.Dense(2)(inputs))
    load_weights(model, path)
    np.testing.assert_array_equal(model.layers[1].kernel.numpy(), kernel)
    assert model.layers[1].bias.dtype == np.float32  # stored float64 is cast on assignment


# -- mismatches ----------------------------------------------------------------------------
def test_shape_mismatch_names_layer_and_both_shapes_and_loads_nothing(tmp_path):
    save_weights(sequential(units=(3, 2)), tmp_path / "a.weights.h5")
    model = sequential(units=(3, 5))
    before = model.get_weights()
    with pytest.raises(
        ValueError,
        match=r"Layer '.*' .*weight '.*kernel' has shape \(3, 5\) in "
        r"the model but \(3, 2\) in the file.*must match",
    ):
        load_weights(model, tmp_path / "a.weights.h5")
    for ours, old in zip(model.get_weights(), before):
        np.testing.assert_array_equal(ours, old)


def test_skip_mismatch_loads_the_rest_with_a_warning(tmp_path):
    source = sequential(units=(3, 2))
    save_weights(source, tmp_path / "a.weights.h5")
    model = sequential(units=(3, 5))
    kept = model.layers[1].kernel.numpy()
    with pytest.warns(UserWarning, match="skipped"):
        load_weights(model, tmp_path / "a.weights.h5", skip_mismatch=True)
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), source.layers[0].kernel.numpy())
    np.testing.assert_array_equal(model.layers[1].kernel.numpy(), kept)


def test_layer_missing_from_file(tmp_path):
    save_weights(sequential(units=(3, 2)), tmp_path / "a.weights.h5")
    with pytest.raises(ValueError, match="expected 2 variables, but received 0 variables"):
        load_weights(sequential(units=(3, 2, 2)), tmp_path / "a.weights.h5")


def test_unbuilt_optimizer_state_is_skipped_with_a_warning(tmp_path):
    model = sequential()
    model.compile(optimizer="adam", loss="mse")
    model.fit(data(), data(columns=2), epochs=1, verbose=0)
    save_weights(model, tmp_path / "a.weights.h5")
    fresh = sequential()
    fresh.compile(optimizer="adam", loss="mse")
    with pytest.warns(UserWarning, match="optimizer"):
        load_weights(fresh, tmp_path / "a.weights.h5")
    np.testing.assert_array_equal(fresh.get_weights()[0], model.get_weights()[0])


# -- bad input -----------------------------------------------------------------------------
def test_bad_paths_and_models(tmp_path):
    model = sequential()
    with pytest.raises(ValueError, match=r"must end in '\.weights\.h5'.*model.save"):
        save_weights(model, tmp_path / "model.h5")
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_weights(model, tmp_path / "missing.weights.h5")
    (tmp_path / "model.npz").write_bytes(b"")
    with pytest.raises(ValueError, match=r"expected a '\.weights\.h5' or '\.keras' file"):
        load_weights(model, tmp_path / "model.npz")
    unbuilt = shinsou.Sequential([layers.Dense(2)])
    with pytest.raises(ValueError, match="not built yet"):
        save_weights(unbuilt, tmp_path / "u.weights.h5")
    with pytest.raises(ValueError, match="not supported"):
        load_weights(model, tmp_path / "u.weights.h5", by_name=True)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_weights(model, tmp_path / "no_folder" / "a.weights.h5")


def test_overwrite_false_keeps_the_file(tmp_path):
    path = tmp_path / "a.weights.h5"
    save_weights(sequential(), path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=False"):
        save_weights(sequential(), path, overwrite=False)
    assert path.read_bytes() == before
    save_weights(sequential(), path, overwrite=True)
    assert path.read_bytes() != before


def test_crash_while_writing_leaves_previous_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "a.weights.h5"
    model = sequential()
    save_weights(model, path)
    before = path.read_bytes()
    variable = model.layers[1].kernel
    original = shinsou.Variable.numpy

    def numpy_or_crash(self):
        if self is variable:
            raise RuntimeError("disk on fire")
        return original(self)

    monkeypatch.setattr(shinsou.Variable, "numpy", numpy_or_crash)
    with pytest.raises(RuntimeError, match="disk on fire"):
        save_weights(model, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["a.weights.h5"]


def test_unsafe_files_are_refused(tmp_path):
    model = sequential(units=(2,))
    linked = tmp_path / "linked.weights.h5"
    with h5py.File(linked, "w") as h5file:
        h5file.create_group("vars")
        group = h5file.create_group("layers/dense/vars")
        group["0"] = h5py.ExternalLink("/etc/other.h5", "/secret")
        group["1"] = np.zeros(2, dtype="float32")
    with pytest.raises(ValueError, match="refusing to follow the link"):
        load_weights(model, linked)
    text = tmp_path / "text.weights.h5"
    with h5py.File(text, "w") as h5file:
        group = h5file.create_group("layers/dense/vars")
        group["0"] = np.array([[b"a", b"b"]] * 4)
        group["1"] = np.zeros(2, dtype="float32")
    with pytest.raises(ValueError, match="not numbers"):
        load_weights(model, text)


def test_keras2_file_loads_by_layer_name_and_mismatches_are_listed(tmp_path):
    model = sequential(units=(2,))
    layer = model.layers[0]
    kernel, bias = (np.full(w.shape, 0.5, "float32") for w in layer.weights)
    path = tmp_path / "old.h5"
    with h5py.File(path, "w") as h5file:  # the tf.keras 2 layout
        h5file.attrs["layer_names"] = [layer.name.encode()]
        h5file[f"{layer.name}/{layer.name}/kernel:0"] = kernel
        h5file[f"{layer.name}/{layer.name}/bias:0"] = bias
        h5file[layer.name].attrs["weight_names"] = [
            f"{layer.name}/kernel:0".encode(),
            f"{layer.name}/bias:0".encode(),
        ]
    load_weights(model, path)
    np.testing.assert_array_equal(layer.kernel.numpy(), kernel)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as h5file:
        h5file.attrs["layer_names"] = [b"unknown"]
        h5file["unknown/unknown/kernel:0"] = kernel
        h5file["unknown"].attrs["weight_names"] = [b"unknown/kernel:0"]
    with pytest.raises(ValueError, match=r"not in the file[\s\S]*lacks: 'unknown'"):
        load_weights(sequential(units=(2,)), other)


def test_missing_h5py_is_an_import_error_naming_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match="'h5py' package.*pip install h5py"):
        save_weights(sequential(), tmp_path / "a.weights.h5")
    assert os.listdir(tmp_path) == []
