"""The ``.keras`` model file: a zip of ``config.json`` (the architecture and compile
settings), ``metadata.json`` and ``model.weights.h5`` (the weights and optimizer state),
exactly as Keras 3 writes it — Keras can load ours, we load Keras's.

Saving builds all three parts in memory, then writes the archive atomically (a temporary
file in the same folder, fsync, rename), so a failure never damages an existing file.

Example:
    >>> import os, tempfile, numpy as np
    >>> import shinsou
    >>> model = shinsou.Sequential([shinsou.Input((3,)), shinsou.layers.Dense(2)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> save_model(model, path)
    >>> loaded = load_model(path)
    >>> x = np.ones((1, 3), dtype="float32")
    >>> np.allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    True
"""

from __future__ import annotations

import io
import json
import os
import warnings

from ..layers.base import Layer
from .atomic_files import atomic_folder, atomic_write
from .object_config import deserialize_keras_object, serialize_keras_object
from .weights_h5 import KERAS_WEIGHTS_NAME, read_weights, require_h5py, write_weights

CONFIG_NAME = "config.json"
METADATA_NAME = "metadata.json"
# The Keras release whose file layout we write (vars groups carry a "name" attribute).
KERAS_FORMAT_VERSION = "3.10.0"


def _model_files(model) -> dict[str, bytes]:
    """The three members of the archive, built in memory before anything touches disk."""
    import datetime

    from .. import __version__

    config = json.dumps(serialize_keras_object(model))
    metadata = json.dumps(
        {
            "keras_version": KERAS_FORMAT_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            "shinsou_version": __version__,
        }
    )
    buffer = io.BytesIO()
    with require_h5py().File(buffer, "w") as h5file:
        write_weights(model, h5file)
    return {
        METADATA_NAME: metadata.encode(),
        CONFIG_NAME: config.encode(),
        KERAS_WEIGHTS_NAME: buffer.getvalue(),
    }


def _write_archive(handle, members):
    import zipfile

    with zipfile.ZipFile(handle, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def save_model(model, filepath, overwrite=True, zipped=None, **kwargs) -> None:
    """Save ``model`` (architecture, weights, compile settings, optimizer state) to a
    ``.keras`` file — or, with ``zipped=False``, to a folder holding the same three files.

    The write is atomic. ``overwrite=False`` on an existing path raises FileExistsError.
    ``filepath`` may also be an open binary file object.

    Example:
        >>> import io
        >>> import shinsou
        >>> buffer = io.BytesIO()
        >>> save_model(shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1)]), buffer)
        >>> buffer.getvalue()[:2]
        b'PK'
    """
    if "save_format" in kwargs:
        raise ValueError(
            "save_model: the save_format argument is deprecated in Keras 3 and not supported; "
            "the format follows the filename ('.keras')"
        )
    if kwargs:
        raise ValueError(f"save_model: the following arguments are not supported: {sorted(kwargs)}")
    if not isinstance(model, Layer):
        raise TypeError(f"save_model: expected a model, received {type(model).__name__}")
    if not model.built:
        warnings.warn(
            f"Saving model '{model.name}', which is not built yet: the file holds no weights. "
            "Call the model on some data first.",
            stacklevel=2,
        )
    if isinstance(filepath, io.IOBase):
        _write_archive(filepath, _model_files(model))
        return
    filepath = os.fspath(filepath)
    zipped = True if zipped is None else zipped
    if zipped and not str(filepath).endswith(".keras"):
        hint = (
            " The legacy HDF5 whole-model format ('.h5') is not supported."
            if str(filepath).endswith((".h5", ".hdf5"))
            else ""
        )
        raise ValueError(
            f"save_model: invalid filepath extension for saving: expected '.keras', received "
            f"filepath={filepath!r}.{hint} (Weights alone go to '.weights.h5' files with "
            "model.save_weights.)"
        )
    if not zipped and str(filepath).endswith(".keras"):
        raise ValueError(
            f"save_model: with zipped=False the model is saved to a folder, whose name should "
            f"not end in '.keras'; received filepath={filepath!r}"
        )
    members = _model_files(model)
    if zipped:
        with atomic_write(filepath, overwrite) as temporary, open(temporary, "wb") as handle:
            _write_archive(handle, members)
    else:
        with atomic_folder(filepath, overwrite) as folder:
            for name, data in members.items():
                with open(os.path.join(folder, name), "wb") as handle:
                    handle.write(data)


def _read_members(filepath) -> dict[str, bytes]:
    import zipfile

    if not isinstance(filepath, io.IOBase) and os.path.isdir(filepath):
        names = os.listdir(filepath)
        if CONFIG_NAME not in names:
            raise ValueError(f"load_model: the folder {filepath!r} holds no {CONFIG_NAME}")
        members = {}
        for name in (CONFIG_NAME, KERAS_WEIGHTS_NAME):
            if name in names:
                with open(os.path.join(filepath, name), "rb") as handle:
                    members[name] = handle.read()
        return members
    try:
        with zipfile.ZipFile(filepath) as archive:
            names = archive.namelist()
            return {
                name: archive.read(name)
                for name in (CONFIG_NAME, KERAS_WEIGHTS_NAME)
                if name in names
            }
    except zipfile.BadZipFile:
        raise ValueError(
            f"load_model: {filepath!r} is not a .keras file (it is not a zip archive)"
        ) from None


def _check_path(filepath):
    filepath = os.fspath(filepath)
    if os.path.isdir(filepath):
        return filepath
    if not os.path.exists(filepath):
        raise FileNotFoundError(
            f"load_model: file not found: filepath={filepath!r}. Please ensure the file is an "
            "accessible '.keras' zip file."
        )
    if str(filepath).endswith((".h5", ".hdf5")):
        raise ValueError(
            f"load_model: {filepath!r} looks like a legacy HDF5 (Keras 2) model file, which "
            "shinsou does not read; re-save it with Keras 3 as '.keras'"
        )
    if not str(filepath).endswith(".keras"):
        raise ValueError(
            f"load_model: file format not supported: filepath={filepath!r}. shinsou reads "
            "'.keras' files and folders saved with zipped=False."
        )
    return filepath


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):  # noqa: A002
    """Rebuild a model saved as ``.keras`` (by shinsou or Keras 3), with its weights, and —
    when ``compile`` is True and the file has compile settings — compiled again with its
    optimizer state restored, so ``fit`` continues where it stopped.

    Custom classes are found through ``custom_objects``, the registry of
    ``register_keras_serializable`` or an active ``custom_object_scope``. No code stored in
    the file is ever run (``safe_mode`` is accepted for Keras compatibility).

    Example:
        >>> import os, tempfile, numpy as np
        >>> import shinsou
        >>> model = shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1)])
        >>> model.compile(optimizer="adam", loss="mse")
        >>> _ = model.fit(np.ones((4, 2)), np.ones((4, 1)), verbose=0)
        >>> path = os.path.join(tempfile.mkdtemp(), "m.keras")
        >>> model.save(path)
        >>> loaded = load_model(path)
        >>> loaded.compiled, type(loaded.optimizer).__name__
        (True, 'Adam')
    """
    if not isinstance(filepath, io.IOBase):
        filepath = _check_path(filepath)
    members = _read_members(filepath)
    if CONFIG_NAME not in members:
        raise ValueError(f"load_model: {filepath!r} holds no {CONFIG_NAME}")
    if KERAS_WEIGHTS_NAME not in members:
        raise ValueError(
            f"load_model: {filepath!r} holds no {KERAS_WEIGHTS_NAME} (weights in other formats, "
            "such as .npz, are not read)"
        )
    config = json.loads(members[CONFIG_NAME])
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"load_model: {CONFIG_NAME} in {filepath!r} does not describe a model")
    if not compile:
        config["compile_config"] = None
    model = deserialize_keras_object(config, custom_objects, safe_mode=safe_mode)
    if not isinstance(model, Layer):
        raise TypeError(f"load_model: {filepath!r} describes a {type(model).__name__}, not a model")
    with require_h5py().File(io.BytesIO(members[KERAS_WEIGHTS_NAME]), "r") as h5file:
        read_weights(model, h5file)
    return model
