"""mnist.load_data: Keras's cache file (a fake download, no network), local .npz files, IDX
folders (whole, t10k only, broken), and the real MNIST test set when shared/ is there."""

import hashlib
import pathlib
import struct
import urllib.error
import urllib.request

import numpy as np
import pytest

from shinsou.datasets import mnist

SHARED_T10K = pathlib.Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "mnist-t10k"


def _save_npz(path, train=3, test=2, **overrides):
    arrays = {
        "x_train": np.full((train, 28, 28), 1, np.uint8),
        "y_train": np.arange(train, dtype=np.uint8),
        "x_test": np.full((test, 28, 28), 2, np.uint8),
        "y_test": np.arange(test, dtype=np.uint8),
        **overrides,
    }
    np.savez(path, **arrays)
    return path


def test_keras_origin_and_checksum():
    assert mnist.ORIGIN == "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
    assert mnist.SHA256 == "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"


@pytest.fixture
def fake_origin(tmp_path, monkeypatch):
    """Keras's URL replaced by a file:// URL of a small npz, and its real hash; a fresh home."""
    source = _save_npz(tmp_path / "served.npz")
    monkeypatch.setattr(mnist, "ORIGIN", source.as_uri())
    monkeypatch.setattr(mnist, "SHA256", hashlib.sha256(source.read_bytes()).hexdigest())
    monkeypatch.setenv("SHINSOU_HOME", str(tmp_path / "home"))
    return tmp_path / "home" / "datasets"


def test_download_into_the_cache_then_reuse(fake_origin, monkeypatch, capsys):
    (x_train, _), (_, y_test) = mnist.load_data()
    assert x_train.shape == (3, 28, 28) and x_train.dtype == np.uint8
    assert y_test.tolist() == [0, 1]
    assert sorted(p.name for p in fake_origin.iterdir()) == ["mnist.npz"]
    assert "Downloading data from file://" in capsys.readouterr().out
    # Cached: loads offline; None means the default cache file too.
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    (x_train, _), _ = mnist.load_data(path=None)
    assert x_train.shape == (3, 28, 28)


def test_checksum_mismatch_raises_and_leaves_no_file(fake_origin, monkeypatch):
    monkeypatch.setattr(mnist, "SHA256", "f" * 64)
    with pytest.raises(ValueError, match="incomplete or corrupted"):
        mnist.load_data()
    assert list(fake_origin.iterdir()) == []


def _no_network(*args, **kwargs):
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


def test_offline_message_says_which_file_goes_where(tmp_path, monkeypatch):
    monkeypatch.setenv("SHINSOU_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    with pytest.raises(OSError) as info:
        mnist.load_data()
    message = str(info.value)
    assert "could not download https://storage.googleapis.com" in message
    assert f"put it at {tmp_path / 'home' / 'datasets' / 'mnist.npz'}" in message
    assert mnist.SHA256 in message and "t10k-images-idx3-ubyte.gz" in message
    assert list((tmp_path / "home" / "datasets").iterdir()) == []


def test_local_npz(tmp_path):
    (x_train, y_train), (x_test, y_test) = mnist.load_data(str(_save_npz(tmp_path / "m.npz")))
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == (
        (3, 28, 28),
        (3,),
        (2, 28, 28),
        (2,),
    )
    assert int(x_test[0, 0, 0]) == 2


def test_local_npz_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        mnist.load_data(str(tmp_path / "absent.npz"))
    partial = tmp_path / "partial.npz"
    np.savez(partial, x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(ValueError, match=r"lacks the arrays \['y_train', 'x_test', 'y_test'\]"):
        mnist.load_data(str(partial))
    pickled = _save_npz(tmp_path / "pickled.npz", y_test=np.array([{"code": 1}], dtype=object))
    with pytest.raises(ValueError, match="cannot read .*pickled.npz"):
        mnist.load_data(str(pickled))
    text = tmp_path / "notes.txt"
    text.write_text("not numpy")
    with pytest.raises(ValueError, match="cannot read .*notes.txt as a .npz"):
        mnist.load_data(str(text))


def test_idx_folder_plain_and_gzip(tmp_path, write_split):
    train_images, train_labels = write_split(tmp_path, "train", 6, compressed=True)
    test_images, test_labels = write_split(tmp_path, "t10k", 4, seed=1)
    (x_train, y_train), (x_test, y_test) = mnist.load_data(tmp_path)
    np.testing.assert_array_equal(x_train, train_images)
    np.testing.assert_array_equal(y_train, train_labels)
    np.testing.assert_array_equal(x_test, test_images)
    np.testing.assert_array_equal(y_test, test_labels)
    assert x_train.dtype == y_test.dtype == np.uint8


def test_idx_folder_with_test_split_only_warns_and_returns_empty_train(tmp_path, write_split):
    write_split(tmp_path, "t10k", 4, compressed=True)
    with pytest.warns(UserWarning, match="holds only the test split .4 images.; x_train"):
        (x_train, y_train), (x_test, _) = mnist.load_data(str(tmp_path))
    assert x_train.shape == (0, 28, 28) and y_train.shape == (0,)
    assert x_train.dtype == y_train.dtype == np.uint8
    assert x_test.shape == (4, 28, 28)


def test_idx_folder_errors(tmp_path, write_split, idx_bytes):
    with pytest.raises(FileNotFoundError, match="holds no MNIST IDX files; expected train-images"):
        mnist.load_data(tmp_path)
    write_split(tmp_path, "t10k", 2)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="half of the t10k split: t10k-labels-idx1-ubyte"):
        mnist.load_data(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(3, np.uint8)))
    with pytest.raises(ValueError, match="should hold 2 uint8 labels; it holds uint8 of shape"):
        mnist.load_data(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((2, 784), np.uint8)))
    with pytest.raises(ValueError, match=r"should hold uint8 images .* shape \(2, 784\)"):
        mnist.load_data(tmp_path)


@pytest.mark.skipif(not SHARED_T10K.is_dir(), reason="shared/data/mnist-t10k is absent")
def test_real_mnist_test_set():
    with pytest.warns(UserWarning, match="only the test split"):
        (x_train, _), (x_test, y_test) = mnist.load_data(SHARED_T10K)
    assert x_train.shape == (0, 28, 28)
    assert x_test.shape == (10000, 28, 28) and x_test.dtype == np.uint8
    # The md5 of the uncompressed file and the class counts in shared/data/README.md.
    header = struct.pack(">IIII", 0x803, 10000, 28, 28)
    assert hashlib.md5(header + x_test.tobytes()).hexdigest() == "2646ac647ad5339dbf082846283269ea"
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
