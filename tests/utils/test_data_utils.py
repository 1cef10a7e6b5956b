"""to_categorical (Keras semantics, float32), get_file (cache, hashes, atomic downloads,
offline message, safe extraction) and PyDataset (Keras 3's interface, used by fit)."""

import hashlib
import io
import os
import pathlib
import tarfile
import urllib.error
import urllib.request
import zipfile

import numpy as np
import pytest

import shinsou
from shinsou import layers
from shinsou.utils import data_utils
from shinsou.utils.data_utils import PyDataset, Sequence, get_file, to_categorical
from support import torch


# -- to_categorical ----------------------------------------------------------------------
def test_to_categorical_matches_keras_semantics():
    labels = np.array([0, 3, 1])
    one_hot = to_categorical(labels)
    assert one_hot.dtype == np.float32
    assert one_hot.shape == (3, 4)  # num_classes defaults to max + 1
    np.testing.assert_array_equal(one_hot.argmax(-1), labels)
    # A trailing axis of 1 is dropped; other leading axes are kept.
    assert to_categorical(labels.reshape(3, 1), 5).shape == (3, 5)
    assert to_categorical(np.zeros((2, 3), "int32"), 2).shape == (2, 3, 2)
    assert to_categorical(np.array([1.0, 2.0]), 3).tolist() == [[0, 1, 0], [0, 0, 1]]
    assert to_categorical(shinsou.tensor(np.array([1, 0])), 2).tolist() == [[0, 1], [1, 0]]
    assert to_categorical(np.array([], "int64"), 3).shape == (0, 3)


def test_to_categorical_matches_torch_one_hot():
    if torch is None:
        pytest.skip("PyTorch is not installed")
    labels = np.random.default_rng(0).integers(0, 7, size=(4, 5))
    expected = torch.nn.functional.one_hot(torch.tensor(labels), 7).numpy()
    np.testing.assert_array_equal(to_categorical(labels, 7), expected)


@pytest.mark.parametrize(
    ("labels", "num_classes", "error", "message"),
    [
        ([0, 3], 3, ValueError, r"labels must lie in \[0, 3\).*from 0 to 3"),
        ([-1, 0], None, ValueError, r"labels must lie in \[0, 1\)"),
        ([0.5, 1.0], 2, ValueError, "whole numbers"),
        (["a", "b"], None, TypeError, "expected integer class labels"),
        ([0, 1], 2.5, TypeError, "num_classes must be an integer"),
    ],
)
def test_to_categorical_rejects_bad_labels(labels, num_classes, error, message):
    with pytest.raises(error, match=message):
        to_categorical(np.array(labels), num_classes)


# -- get_file ----------------------------------------------------------------------------
@pytest.fixture
def served(tmp_path):
    """A file reachable through a file:// URL (no network), with its hashes."""
    source = tmp_path / "origin" / "weights.bin"
    source.parent.mkdir()
    source.write_bytes(b"pretend weights " * 100)
    content = source.read_bytes()
    return {
        "url": source.as_uri(),
        "path": source,
        "sha256": hashlib.sha256(content).hexdigest(),
        "md5": hashlib.md5(content).hexdigest(),
    }


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("network is unreachable")


def test_get_file_downloads_once_into_the_cache(tmp_path, served, monkeypatch, capsys):
    cache = tmp_path / "cache"
    path = get_file("w.bin", served["url"], file_hash=served["sha256"], cache_dir=str(cache))
    assert path == str(cache / "datasets" / "w.bin")
    assert pathlib.Path(path).read_bytes() == served["path"].read_bytes()
    assert "Downloading data from file://" in capsys.readouterr().out
    assert os.listdir(cache / "datasets") == ["w.bin"]  # no temporary left behind
    assert os.stat(path).st_mode & 0o777 == 0o644
    # Cached and valid: no second download, even without a network.
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    again = get_file("w.bin", served["url"], file_hash=served["sha256"], cache_dir=str(cache))
    assert again == path
    assert "Downloading" not in capsys.readouterr().out


def test_get_file_defaults(tmp_path, served, monkeypatch):
    monkeypatch.setenv("SHINSOU_HOME", str(tmp_path / "home"))
    assert data_utils.shinsou_home() == str(tmp_path / "home")
    # fname None: the name at the end of the URL; md5_hash (Keras's legacy argument) works.
    path = get_file(origin=served["url"], md5_hash=served["md5"], cache_subdir="models")
    assert path == str(tmp_path / "home" / "models" / "weights.bin")
    # An absolute cache_subdir is used as it is.
    elsewhere = tmp_path / "elsewhere"
    assert get_file("x.bin", served["url"], cache_subdir=str(elsewhere)) == str(elsewhere / "x.bin")


def test_get_file_checksum_mismatch_leaves_nothing(tmp_path, served):
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="incomplete or corrupted.*expected 0{64}"):
        get_file("w.bin", served["url"], file_hash="0" * 64, cache_dir=str(cache))
    assert os.listdir(cache / "datasets") == []


def test_get_file_refetches_a_stale_cached_file(tmp_path, served, capsys):
    folder = tmp_path / "cache" / "datasets"
    folder.mkdir(parents=True)
    (folder / "w.bin").write_bytes(b"half a file")
    path = get_file(
        "w.bin", served["url"], file_hash=served["sha256"], cache_dir=str(folder.parent)
    )
    assert pathlib.Path(path).read_bytes() == served["path"].read_bytes()
    assert "does not match its expected hash" in capsys.readouterr().out
    (folder / "w.bin").write_bytes(b"edited")
    get_file("w.bin", served["url"], cache_dir=str(folder.parent), force_download=True)
    assert (folder / "w.bin").read_bytes() == served["path"].read_bytes()


def test_get_file_offline_says_where_to_put_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    cache = tmp_path / "cache"
    with pytest.raises(OSError, match="could not download.*network is unreachable") as info:
        get_file("w.bin", "https://example.invalid/w.bin", cache_dir=str(cache))
    assert f"put it at {cache / 'datasets' / 'w.bin'}" in str(info.value)
    assert os.listdir(cache / "datasets") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fname": "a.bin"}, "origin .* is required"),
        ({"fname": os.path.join("sub", "a.bin"), "origin": "file:///a"}, "not a path"),
        ({"origin": "https://example.invalid/"}, "cannot take a file name"),
        ({"origin": "file:///a", "file_hash": "00", "hash_algorithm": "sha1"}, "sha256"),
    ],
)
def test_get_file_rejects_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(ValueError, match=message):
        get_file(cache_dir=str(tmp_path), **kwargs)


def _archive_source(tmp_path, kind, members):
    path = tmp_path / f"bundle.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(path, "w") as archive:
            for name, data in members.items():
                archive.writestr(name, data)
    else:
        with tarfile.open(path, "w:gz") as archive:
            for name, data in members.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_get_file_extracts_archives(tmp_path, kind):
    source = _archive_source(tmp_path, kind, {"flowers/a.txt": b"rose"})
    folder = get_file(f"bundle.{kind}", source.as_uri(), extract=True, cache_dir=str(tmp_path))
    assert folder == str(tmp_path / "datasets" / "bundle_extracted")
    assert pathlib.Path(folder, "flowers", "a.txt").read_bytes() == b"rose"
    # No suffix in fname: the archive is stored as <fname>_archive, extracted into <fname>.
    folder = get_file(
        "bundle", source.as_uri(), untar=kind != "zip", extract=True, cache_dir=str(tmp_path)
    )
    assert folder == str(tmp_path / "datasets" / "bundle")
    assert os.path.exists(str(tmp_path / "datasets" / "bundle_archive"))


@pytest.mark.parametrize("kind", ["zip", "tar.gz"])
def test_get_file_refuses_archive_members_outside_the_folder(tmp_path, kind):
    source = _archive_source(tmp_path, kind, {"../escaped.txt": b"gotcha"})
    with pytest.raises(ValueError, match="refusing to extract.*escaped.txt"):
        get_file(f"evil.{kind}", source.as_uri(), extract=True, cache_dir=str(tmp_path))
    assert not (tmp_path / "datasets" / "escaped.txt").exists()
    assert not (tmp_path / "escaped.txt").exists()


# -- PyDataset ---------------------------------------------------------------------------
class CountingDataset(PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        window = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[window], self.y[window]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_pydataset_keras_interface_and_fit():
    x = np.random.default_rng(0).normal(size=(10, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    data = CountingDataset(x, y, batch_size=4, workers=4, use_multiprocessing=True)
    assert (data.workers, data.use_multiprocessing, data.max_queue_size) == (4, True, 10)
    assert len(data) == data.num_batches == 3
    assert data[2][0].shape == (2, 3)
    assert Sequence is PyDataset
    model = shinsou.Sequential([shinsou.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(data, epochs=3, verbose=0)
    assert len(history.history["loss"]) == 3
    assert data.epochs_ended == 3


def test_pydataset_defaults_and_errors():
    class Forgetful(PyDataset):  # never calls super().__init__(): Keras's defaults apply
        def __len__(self):
            return 1

    assert (Forgetful().workers, Forgetful().use_multiprocessing) == (1, False)
    with pytest.raises(NotImplementedError, match="Forgetful must define __getitem__"):
        Forgetful()[0]
    with pytest.raises(NotImplementedError, match="must define __len__"):
        _ = PyDataset().num_batches
    with pytest.raises(ValueError, match="workers must be a non-negative integer.*-1"):
        PyDataset(workers=-1)
