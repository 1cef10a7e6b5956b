"""Keras 2 HDF5 weight files (``layer_names`` / ``weight_names``), the format of Keras's
published application weights and of ``save_weights("x.h5")`` before Keras 3.

Layers that hold weights are paired with the file's layer groups by name (or, with
``match="order"``, in order — what Keras 3 itself does for these files), and each layer's
weights are taken in the order the group's ``weight_names`` lists them. Everything is checked
before anything is assigned; links, external or virtual datasets and non-numeric data are
refused. Only plain datasets are read: no code runs from the file.

Example:
    >>> callable(load_legacy_h5_weights)
    True
"""

from __future__ import annotations

import os
import warnings

import numpy

from .weights_h5 import require_h5py

__all__ = ["load_legacy_h5_weights", "read_legacy_keras2"]


def _texts(values):
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


def _legacy_dataset(group, name, layer_name):
    """The dataset ``name`` (a path inside a layer group) after the safety checks."""
    h5py = require_h5py()
    item = group
    for part in name.split("/"):
        link = item.get(part, getlink=True) if isinstance(item, h5py.Group) else None
        if link is None:
            raise ValueError(
                f"layer '{layer_name}' lists weight '{name}', which is not in the file"
            )
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"refusing to follow the link at '{layer_name}/{name}' in the file")
        item = item[part]
    if not isinstance(item, h5py.Dataset) or item.is_virtual or item.external:
        raise ValueError(f"'{layer_name}/{name}' in the file is not a plain dataset")
    if item.dtype.kind not in "biuf":
        raise ValueError(f"'{layer_name}/{name}' in the file holds {item.dtype} data, not numbers")
    return item


def _legacy_layers(h5file):
    """``[(layer_name, [dataset, ...])]`` of a Keras 2 file: layers that hold weights."""
    h5py = require_h5py()
    root = h5file
    if "layer_names" not in h5file.attrs and "model_weights" in h5file:
        root = h5file["model_weights"]
    if "layer_names" not in root.attrs:
        raise ValueError("this is not a Keras 2 HDF5 weights file: it has no 'layer_names'")
    stored = []
    for layer_name in _texts(root.attrs["layer_names"]):
        link = root.get(layer_name, getlink=True)
        if not isinstance(link, h5py.HardLink) or not isinstance(root[layer_name], h5py.Group):
            raise ValueError(f"layer '{layer_name}' listed in 'layer_names' is not a group")
        group = root[layer_name]
        names = _texts(group.attrs.get("weight_names", []))
        if names:
            stored.append((layer_name, [_legacy_dataset(group, n, layer_name) for n in names]))
    return stored


def _pair_layers(model_layers, stored, match):
    """[(layer, layer_name_in_file, datasets)] and the problems met pairing them."""
    problems, pairs = [], []
    if match == "order":
        if len(model_layers) != len(stored):
            problems.append(
                f"the model has {len(model_layers)} layers with weights but the file has "
                f"{len(stored)}"
            )
        for layer, (file_name, datasets) in zip(model_layers, stored):
            pairs.append((layer, file_name, datasets))
        return pairs, problems
    by_name = dict(stored)
    model_names = {layer.name for layer in model_layers}
    for layer in model_layers:
        if layer.name in by_name:
            pairs.append((layer, layer.name, by_name[layer.name]))
        else:
            problems.append(f"layer '{layer.name}' of the model is not in the file")
    extra = [name for name, _ in stored if name not in model_names]
    if extra:
        shown = ", ".join(f"'{name}'" for name in extra[:5]) + (", ..." if len(extra) > 5 else "")
        problems.append(f"the file has {len(extra)} layer(s) the model lacks: {shown}")
    return pairs, problems


def load_legacy_h5_weights(model, filepath, *, match="name", skip_mismatch=False):
    """Load a Keras 2 HDF5 weights file (the Keras applications' format) into ``model``.

    See the module docstring for the layout and the matching rules.

    Example:
        >>> import os, tempfile, h5py, numpy as np
        >>> import shinsou
        >>> model = shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1, name="d")])
        >>> path = os.path.join(tempfile.mkdtemp(), "legacy.h5")
        >>> with h5py.File(path, "w") as f:
        ...     f["d/d/kernel:0"] = np.ones((2, 1), "float32")
        ...     f["d/d/bias:0"] = np.full((1,), 5.0, "float32")
        ...     f.attrs["layer_names"] = [b"d"]
        ...     f["d"].attrs["weight_names"] = [b"d/kernel:0", b"d/bias:0"]
        >>> load_legacy_h5_weights(model, path)
        >>> model(np.ones((1, 2))).tolist()
        [[7.0]]
    """
    if match not in ("name", "order"):
        raise ValueError(
            f"load_legacy_h5_weights: match must be 'name' or 'order'; received {match!r}"
        )
    with require_h5py().File(os.fspath(filepath), "r") as h5file:
        read_legacy_keras2(model, h5file, skip_mismatch, match=match)


def read_legacy_keras2(model, h5file, skip_mismatch=False, match="name"):
    """Load an open Keras 2 HDF5 file into ``model`` (what ``model.load_weights`` calls for
    such files): check every layer first, then assign, or raise listing all problems."""
    filepath = h5file.filename
    model_layers = [layer for layer in model.layers if layer.weights]
    pairs, problems = _pair_layers(model_layers, _legacy_layers(h5file), match)
    plans = []
    for layer, file_name, datasets in pairs:
        variables = layer.weights
        if len(variables) != len(datasets):
            problems.append(
                f"layer '{layer.name}' has {len(variables)} weights but '{file_name}' in "
                f"the file has {len(datasets)}"
            )
            continue
        mismatched = [
            f"'{v.name}' {tuple(v.shape)} vs {tuple(d.shape)} in the file"
            for v, d in zip(variables, datasets)
            if tuple(v.shape) != tuple(d.shape)
        ]
        if mismatched:
            problems.append(f"layer '{layer.name}': shapes differ: {'; '.join(mismatched)}")
            continue
        plans.append(list(zip(variables, datasets)))
    if problems:
        summary = (
            f"load_legacy_h5_weights: {os.fspath(filepath)} does not fit model "
            f"'{model.name}' (match={match!r}):\n- " + "\n- ".join(problems)
        )
        if not skip_mismatch:
            raise ValueError(summary + "\nNothing was loaded.")
        warnings.warn(summary + "\nThe other layers were loaded.", stacklevel=2)
    for plan in plans:
        for variable, dataset in plan:
            variable.assign(numpy.asarray(dataset[()], dtype=variable.dtype))
