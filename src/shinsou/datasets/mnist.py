"""MNIST handwritten digits (``keras.datasets.mnist``): 60,000 training and 10,000 test
images of 28×28 grey levels, with their labels.

By default the data comes from Keras's own ``mnist.npz`` (downloaded once, checksum
verified, into ``$SHINSOU_HOME/datasets``, ``~/.shinsou/datasets`` when ``SHINSOU_HOME`` is
unset). It can also be read from a local ``.npz`` in Keras's layout or from a folder of the
IDX files as published by LeCun, Cortes and Burges. The MNIST database is made available
under the terms of the Creative Commons Attribution-Share Alike 3.0 license.

Example:
    >>> import os, tempfile
    >>> import numpy as np
    >>> folder = tempfile.mkdtemp()
    >>> np.savez(os.path.join(folder, "tiny.npz"),
    ...          x_train=np.zeros((2, 28, 28), "uint8"), y_train=np.array([3, 1], "uint8"),
    ...          x_test=np.zeros((1, 28, 28), "uint8"), y_test=np.array([7], "uint8"))
    >>> (x_train, y_train), (x_test, y_test) = load_data(os.path.join(folder, "tiny.npz"))
    >>> x_train.shape, y_test.tolist()
    ((2, 28, 28), [7])
"""

from __future__ import annotations

import os
import warnings

import numpy

from ..utils.data_utils import get_file
from .idx import read_idx

ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
"""Where Keras publishes ``mnist.npz``."""

SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
"""The sha256 of Keras's ``mnist.npz``, the value Keras itself checks."""

_NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")
_SPLITS = {"train": "train", "test": "t10k"}  # split name -> IDX file prefix


def load_data(path="mnist.npz"):
    """Load MNIST as ``(x_train, y_train), (x_test, y_test)``, uint8 NumPy arrays.

    Shapes ``(60000, 28, 28)``, ``(60000,)``, ``(10000, 28, 28)``, ``(10000,)``, pixels
    0–255, labels 0–9, exactly as Keras returns them. ``path`` may be:

    - a file name without a folder (Keras's meaning; default ``"mnist.npz"``, ``None`` is
      the same): the file in the cache folder ``$SHINSOU_HOME/datasets`` (default
      ``~/.shinsou/datasets``), downloaded from Keras's URL and sha256-verified if absent;
    - a path to a local ``.npz`` with the arrays ``x_train, y_train, x_test, y_test``;
    - a folder holding the IDX files ``train-images-idx3-ubyte``,
      ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``
      (each may end in ``.gz``). If only one split's pair is there (the 10,000-image
      ``t10k`` set alone, say), the other split comes back as empty arrays and a
      ``UserWarning`` says so.

    Offline with nothing cached, an ``OSError`` says which file to put where.

    Example:
        >>> load_data(path=os.path.join(os.sep, "no", "such", "mnist.npz"))
        Traceback (most recent call last):
        ...
        FileNotFoundError: mnist.load_data: /no/such/mnist.npz does not exist
    """
    path = "mnist.npz" if path is None else os.fspath(path)
    if os.path.isdir(path):
        return _load_idx_folder(path)
    if os.sep in path or (os.altsep and os.altsep in path):
        if not os.path.exists(path):
            raise FileNotFoundError(f"mnist.load_data: {path} does not exist")
        return _load_npz(path)
    return _load_npz(_fetch(path))


def _fetch(fname):
    try:
        return get_file(fname, origin=ORIGIN, file_hash=SHA256)
    except OSError as error:
        raise OSError(
            f"mnist.load_data: {error}. That file is Keras's mnist.npz (sha256 {SHA256}). "
            "Alternatively pass load_data(path=...) a local .npz in Keras's layout or a folder "
            "with the IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
            "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz."
        ) from error


def _load_npz(path):
    import zipfile

    try:
        archive = numpy.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        raise ValueError(f"mnist.load_data: cannot read {path} as a .npz file ({error})") from error
    if not hasattr(archive, "files"):
        raise ValueError(f"mnist.load_data: {path} holds a single array, not a .npz archive")
    with archive:
        missing = [key for key in _NPZ_KEYS if key not in archive.files]
        if missing:
            raise ValueError(
                f"mnist.load_data: {path} lacks the arrays {missing}; an MNIST .npz holds "
                f"{list(_NPZ_KEYS)} (it has {archive.files})"
            )
        try:
            x_train, y_train, x_test, y_test = (archive[key] for key in _NPZ_KEYS)
        except ValueError as error:  # object arrays: loading them would unpickle
            raise ValueError(f"mnist.load_data: cannot read {path} ({error})") from error
    return (x_train, y_train), (x_test, y_test)


def _find(folder, name):
    for candidate in (name, name + ".gz"):
        if os.path.isfile(os.path.join(folder, candidate)):
            return os.path.join(folder, candidate)
    return None


def _load_split(folder, prefix):
    """The (images, labels) of one split, or None when neither file is there."""
    images_name, labels_name = f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
    images_path, labels_path = _find(folder, images_name), _find(folder, labels_name)
    if images_path is None and labels_path is None:
        return None
    if images_path is None or labels_path is None:
        absent = images_name if images_path is None else labels_name
        raise FileNotFoundError(
            f"mnist.load_data: {folder} has half of the {prefix} split: {absent}[.gz] is missing"
        )
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != numpy.uint8 or images.ndim != 3:
        raise ValueError(
            f"mnist.load_data: {images_path} should hold uint8 images (count, rows, columns); "
            f"it holds {images.dtype} of shape {images.shape}"
        )
    if labels.dtype != numpy.uint8 or labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"mnist.load_data: {labels_path} should hold {len(images)} uint8 labels; it holds "
            f"{labels.dtype} of shape {labels.shape}"
        )
    return images, labels


def _load_idx_folder(folder):
    splits = {name: _load_split(folder, prefix) for name, prefix in _SPLITS.items()}
    present = [name for name, arrays in splits.items() if arrays is not None]
    if not present:
        raise FileNotFoundError(
            f"mnist.load_data: {folder} holds no MNIST IDX files; expected "
            "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
            "t10k-labels-idx1-ubyte (each optionally .gz)"
        )
    if len(present) == 1:
        images = splits[present[0]][0]
        absent = "test" if present[0] == "train" else "train"
        warnings.warn(
            f"mnist.load_data: {folder} holds only the {present[0]} split "
            f"({len(images)} images); x_{absent} and y_{absent} are empty",
            stacklevel=3,
        )
        splits[absent] = (
            numpy.zeros((0, *images.shape[1:]), numpy.uint8),
            numpy.zeros((0,), numpy.uint8),
        )
    return splits["train"], splits["test"]
