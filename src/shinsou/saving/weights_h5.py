"""Weights files (``.weights.h5``, and the ``model.weights.h5`` inside ``.keras``) in Keras
3's HDF5 layout.

Every object with state is a group named by its path from the model, holding a ``vars``
group of datasets ``"0"``, ``"1"``, ... in the order of the object's own variables
(trainable first, then non-trainable). Paths follow Keras's walk: the model's own variables
in the root ``vars``; a Sequential or functional model's layers under ``layers/<name>``,
where ``<name>`` is the snake-cased class name, numbered per class (``dense``, ``dense_1``);
then, alphabetically (private attributes last), every attribute that holds a layer, a
container of layers, or the optimizer (``optimizer/vars``: ``iterations``, the learning
rate, then the slot variables). So ``layers/dense/vars/0`` is the first Dense layer's kernel.

Loading only reads numeric datasets reached through plain (hard) links: no pickles, no
external or virtual datasets that could pull in other files.

Example:
    >>> import os, tempfile, numpy as np
    >>> import shinsou
    >>> model = shinsou.Sequential([shinsou.Input((3,)), shinsou.layers.Dense(2)])
    >>> path = os.path.join(tempfile.mkdtemp(), "demo.weights.h5")
    >>> save_weights(model, path)
    >>> weight_paths(path)
    ['layers/dense/vars/0', 'layers/dense/vars/1']
    >>> before = model.get_weights()
    >>> model.layers[0].kernel.assign(np.zeros((3, 2)))
    >>> load_weights(model, path)
    >>> np.array_equal(model.get_weights()[0], before[0])
    True
"""

from __future__ import annotations

import inspect
import io
import os
import warnings

import numpy

from ..layers.base import Layer
from ..utils.naming import to_snake_case
from .atomic_files import atomic_write

WEIGHTS_SUFFIX = ".weights.h5"
KERAS_WEIGHTS_NAME = "model.weights.h5"  # the weights member of a .keras archive


def require_h5py():
    """The h5py module, or an ImportError that says how to get it.

    Example:
        >>> require_h5py().__name__
        'h5py'
    """
    try:
        import h5py
    except ImportError as error:
        raise ImportError(
            "Saving and loading .keras and .weights.h5 files needs the 'h5py' package, which "
            "is not installed; install it with `pip install h5py`"
        ) from error
    return h5py


# -- which objects hold state, and where they go -------------------------------------------
_base_layer_attributes = None


def _layer_attributes():
    """Attribute names every Layer has: the walk skips them, as Keras skips those of a bare
    Keras Layer, so only what a subclass adds (sublayers, the optimizer) is visited."""
    global _base_layer_attributes
    if _base_layer_attributes is None:
        _base_layer_attributes = frozenset(dir(Layer(name="attribute_probe")))
    return _base_layer_attributes


def _is_optimizer(value) -> bool:
    return (
        not inspect.isclass(value)
        and not isinstance(value, Layer)
        and callable(getattr(value, "apply", None))
        and hasattr(value, "variables")
    )


def _has_state(value) -> bool:
    """Layers and optimizers (metrics are neither: Keras does not save their totals)."""
    return isinstance(value, Layer) or _is_optimizer(value)


def _private_last(name):
    return "~" + name if name.startswith("_") else name


def _children(obj):
    """(attribute, value) pairs to visit below ``obj``, in Keras's order."""
    from ..layers.op_layer import OpLayer
    from ..models.functional import Functional
    from ..models.model import Model
    from ..models.sequential import Sequential

    if not isinstance(obj, Layer):
        return  # an optimizer: only its own variables
    skip = _layer_attributes()
    if isinstance(obj, (Functional, Sequential)):
        # Keras's graph models list their layers first; symbolic ops (x + y) are not layers
        # there, and the model's own bookkeeping attributes hold nothing new.
        yield "layers", [layer for layer in obj.layers if not isinstance(layer, OpLayer)]
        skip = skip | {"_layers", "_input_layer", "_nodes"}
    elif isinstance(obj, Model):
        skip = skip - {"layers"}  # a Keras Layer has no `layers`, so Keras visits it here
    for attribute in sorted(dir(obj), key=_private_last):
        if attribute.startswith("__") or attribute in skip:
            continue
        try:
            value = getattr(obj, attribute)
        except Exception:  # a property that cannot be computed holds no state
            continue
        yield attribute, value


def walk_state(model):
    """``(path, object)`` for every object with state, each once, in Keras's order.

    Example:
        >>> import shinsou
        >>> model = shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1)])
        >>> [path for path, _ in walk_state(model)]
        ['', 'layers/dense']
    """
    visited = set()

    def visit(obj, path):
        if id(obj) in visited:
            return
        visited.add(id(obj))
        yield path, obj
        for attribute, value in _children(obj):
            child_path = f"{path}/{attribute}" if path else attribute
            if _has_state(value):
                yield from visit(value, child_path)
            elif isinstance(value, (list, tuple, dict, set)):
                counts = {}
                for item in value.values() if isinstance(value, dict) else value:
                    if not _has_state(item):
                        continue
                    base = to_snake_case(type(item).__name__)
                    counts[base] = counts.get(base, -1) + 1
                    name = f"{base}_{counts[base]}" if counts[base] else base
                    yield from visit(item, f"{child_path}/{name}")

    yield from visit(model, "")


def own_variables(obj) -> list:
    """The variables stored under ``obj``'s own ``vars`` group, in file order (a layer's
    trainable ones first, not those of its sublayers; an optimizer's ``variables``).

    Example:
        >>> import numpy as np
        >>> from shinsou import layers
        >>> dense = layers.Dense(2)
        >>> _ = dense(np.ones((1, 3), dtype="float32"))
        >>> [v.name for v in own_variables(dense)]
        ['kernel', 'bias']
    """
    if isinstance(obj, Layer):
        return obj._all_weights(include_sublayers=False)
    return list(obj.variables)


# -- one object's datasets -----------------------------------------------------------------
class WeightStore:
    """The ``vars`` group of one object, as Keras's ``save_own_variables(store)`` /
    ``load_own_variables(store)`` see it: ``store["0"] = array`` writes, ``store["0"]``
    reads a NumPy array. An object absent from the file reads as an empty store.

    Example:
        >>> import io, h5py
        >>> with h5py.File(io.BytesIO(), "w") as h5file:
        ...     store = WeightStore(h5file.create_group("vars"), "")
        ...     store["0"] = [1.0, 2.0]
        ...     store.keys(), store["0"].tolist()
        (['0'], [1.0, 2.0])
    """

    def __init__(self, group, path):
        self.group = group
        self.path = path

    def __setitem__(self, key, value):
        value = value.numpy() if callable(getattr(value, "numpy", None)) else numpy.asarray(value)
        self.group.create_dataset(key, data=value)

    def keys(self):
        return list(self.group.keys()) if self.group is not None else []

    def __len__(self):
        return len(self.keys())

    def __contains__(self, key):
        return key in self.keys()

    def dataset(self, key, numeric=True):
        """The h5py dataset ``key`` after the safety checks, without reading its values.
        Strings are allowed only with ``numeric=False`` (a layer's own loader may want them)."""
        h5py = require_h5py()
        where = f"{self.path}/vars/{key}" if self.path else f"vars/{key}"
        if self.group is None or key not in self.group:
            raise KeyError(f"the weights file has no dataset '{where}'")
        if not isinstance(self.group.get(key, getlink=True), h5py.HardLink):
            raise ValueError(f"refusing to follow the link at '{where}' in the weights file")
        dataset = self.group[key]
        if not isinstance(dataset, h5py.Dataset) or dataset.is_virtual or dataset.external:
            raise ValueError(
                f"'{where}' in the weights file is not a plain dataset; refusing to read it"
            )
        is_text = not numeric and h5py.check_string_dtype(dataset.dtype) is not None
        if dataset.dtype.kind not in "biuf" and not is_text:
            raise ValueError(
                f"'{where}' in the weights file holds {dataset.dtype} data, not numbers"
            )
        return dataset

    def __getitem__(self, key):
        return numpy.asarray(self.dataset(key, numeric=False)[()])


def _find_group(h5file, path):
    """The ``<path>/vars`` group, reached only through hard links, or None if absent."""
    h5py = require_h5py()
    group = h5file
    for part in [*(path.split("/") if path else []), "vars"]:
        link = group.get(part, getlink=True)
        if link is None:
            return None
        if not isinstance(link, h5py.HardLink):
            raise ValueError(f"refusing to follow the link at '{path}' in the weights file")
        group = group[part]
        if not isinstance(group, h5py.Group):
            return None
    return group


# -- writing -------------------------------------------------------------------------------
def write_weights(model, h5file) -> None:
    """Write the state of ``model`` (and of its optimizer) into an open h5py file.

    Example:
        >>> import io, h5py
        >>> import shinsou
        >>> model = shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1)])
        >>> with h5py.File(io.BytesIO(), "w") as h5file:
        ...     write_weights(model, h5file)
        ...     sorted(h5file["layers/dense/vars"])
        ['0', '1']
    """
    for path, obj in walk_state(model):
        group = h5file.create_group(f"{path}/vars" if path else "vars")
        name = getattr(obj, "name", None)
        if isinstance(name, str):
            group.attrs["name"] = name  # as Keras >= 3.10 writes it
        store = WeightStore(group, path)
        custom = getattr(obj, "save_own_variables", None)
        if callable(custom):
            custom(store)
        else:
            for index, variable in enumerate(own_variables(obj)):
                store[str(index)] = variable


def save_weights(model, filepath, overwrite=True) -> None:
    """Save ``model``'s weights (and optimizer state) to a ``.weights.h5`` file, atomically.

    Raises FileExistsError if the file exists and ``overwrite`` is False.

    Example:
        >>> import os, tempfile
        >>> import shinsou
        >>> model = shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1)])
        >>> path = os.path.join(tempfile.mkdtemp(), "w.weights.h5")
        >>> save_weights(model, path)
        >>> os.path.exists(path)
        True
    """
    filepath = os.fspath(filepath)
    if not str(filepath).endswith(WEIGHTS_SUFFIX):
        raise ValueError(
            f"save_weights: the filename must end in '{WEIGHTS_SUFFIX}'; received "
            f"filepath={filepath!r} (use model.save('....keras') for a whole model)"
        )
    _require_built(model, "save_weights")
    h5py = require_h5py()
    with atomic_write(filepath, overwrite) as temporary, h5py.File(temporary, "w") as h5file:
        write_weights(model, h5file)


def _require_built(model, action):
    if not getattr(model, "built", False):
        raise ValueError(
            f"{action}: model '{model.name}' is not built yet, so it has no weights; call it "
            "on some data or call model.build(input_shape) first"
        )


# -- reading -------------------------------------------------------------------------------
def _plan_object(path, obj, store):
    """[(variable, dataset)] to load into ``obj``, or a message saying why it cannot be."""
    variables = own_variables(obj)
    kind = "Optimizer" if _is_optimizer(obj) else "Layer"
    label = f"{kind} '{getattr(obj, 'name', path)}' (path '{path or '/'}')"
    if len(store) != len(variables):
        message = (
            f"{label} expected {len(variables)} variables, but received {len(store)} "
            f"variables during loading. Expected: {[getattr(v, 'name', '?') for v in variables]}"
        )
        if isinstance(obj, Layer) and not obj.built:
            message += "; the layer was never built, so its variables do not exist yet"
        return None, message
    plan = []
    for index, variable in enumerate(variables):
        try:
            dataset = store.dataset(str(index))
        except KeyError as error:
            return None, f"{label}: {error.args[0]}"
        if tuple(dataset.shape) != tuple(variable.shape):
            return None, (
                f"{label}: weight '{getattr(variable, 'path', index)}' has shape "
                f"{tuple(variable.shape)} in the model but {tuple(dataset.shape)} in the file "
                f"(dataset '{path}/vars/{index}'); the shapes must match"
            )
        plan.append((variable, dataset))
    return plan, None


def read_weights(model, h5file, skip_mismatch=False) -> None:
    """Load Keras-3-layout weights from an open h5py file into ``model``.

    All layers are checked before any is changed: a mismatch (a missing layer, a shape that
    differs) raises one ValueError listing every problem and leaves the model untouched,
    unless ``skip_mismatch`` is True, in which case the mismatching objects are skipped with
    a warning and the others loaded. An optimizer whose variable count differs (one not
    built yet, say) is skipped with a warning, as Keras does.

    Example:
        >>> import io, h5py
        >>> import shinsou
        >>> model = shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1)])
        >>> with h5py.File(io.BytesIO(), "w") as h5file:
        ...     write_weights(model, h5file)
        ...     read_weights(model, h5file)
    """
    plans, custom_loads, problems = [], [], []
    for path, obj in walk_state(model):
        group = _find_group(h5file, path)
        if group is None and "_layer_checkpoint_dependencies" in h5file:  # Keras 2.13 files
            group = _find_group(h5file, path.replace("layers", "_layer_checkpoint_dependencies"))
        store = WeightStore(group, path)
        custom = getattr(obj, "load_own_variables", None)
        if callable(custom):
            custom_loads.append((path, custom, store))
            continue
        plan, problem = _plan_object(path, obj, store)
        if problem is None:
            plans.append(plan)
        elif _is_optimizer(obj) and len(store) != len(own_variables(obj)):
            warnings.warn(f"Skipping the optimizer state: {problem}", stacklevel=3)
        else:
            problems.append(problem)
    if problems:
        summary = f"{len(problems)} object(s) could not be loaded:\n- " + "\n- ".join(problems)
        if not skip_mismatch:
            raise ValueError(
                summary + "\nNothing was loaded. Pass skip_mismatch=True to load the others."
            )
        warnings.warn(summary + "\nThey were skipped (skip_mismatch=True).", stacklevel=3)
    for plan in plans:
        for variable, dataset in plan:
            variable.assign(numpy.asarray(dataset[()]))
    for path, custom, store in custom_loads:
        try:
            custom(store)
        except Exception as error:
            if not skip_mismatch:
                raise ValueError(f"load_own_variables of '{path}' failed: {error}") from error
            warnings.warn(f"Skipping '{path}': load_own_variables failed: {error}", stacklevel=3)


def _read_legacy_keras2(model, h5file, skip_mismatch):
    """tf.keras 2 HDF5 files (``layer_names`` / ``weight_names``), matched by layer name."""
    from .legacy_h5 import read_legacy_keras2  # imported late: it builds on this module

    read_legacy_keras2(model, h5file, skip_mismatch)


def _reader_for(h5file):
    """How to read this file: by its content, since a '.h5' name fits both layouts."""
    if "layer_names" in h5file.attrs or "model_weights" in h5file:
        return _read_legacy_keras2
    return read_weights


def load_weights(model, filepath, skip_mismatch=False, **kwargs) -> None:
    """Load weights into a built ``model`` from a ``.weights.h5`` or ``.keras`` file.

    ``skip_mismatch=True`` skips layers whose variables do not match the file (with a
    warning) instead of raising a ValueError that names them and both shapes.

    Example:
        >>> import os, tempfile
        >>> import shinsou
        >>> def make(units):
        ...     return shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(units)])
        >>> path = os.path.join(tempfile.mkdtemp(), "w.weights.h5")
        >>> save_weights(make(1), path)
        >>> load_weights(make(1), path)
        >>> try:
        ...     load_weights(make(3), path)
        ... except ValueError as error:
        ...     print(str(error).splitlines()[0])
        1 object(s) could not be loaded:
    """
    if kwargs:
        raise ValueError(f"load_weights: these arguments are not supported: {sorted(kwargs)}")
    filepath = os.fspath(filepath)
    if not os.path.isfile(filepath):
        raise FileNotFoundError(f"load_weights: no such file: {filepath!r}")
    _require_built(model, "load_weights")
    h5py = require_h5py()
    if str(filepath).endswith(".keras"):
        import zipfile

        with zipfile.ZipFile(filepath) as archive:
            if KERAS_WEIGHTS_NAME not in archive.namelist():
                raise ValueError(f"load_weights: {filepath!r} holds no {KERAS_WEIGHTS_NAME}")
            data = archive.read(KERAS_WEIGHTS_NAME)
        with h5py.File(io.BytesIO(data), "r") as h5file:
            read_weights(model, h5file, skip_mismatch)
    elif str(filepath).endswith((".h5", ".hdf5")):
        with h5py.File(filepath, "r") as h5file:
            _reader_for(h5file)(model, h5file, skip_mismatch)
    else:
        raise ValueError(
            f"load_weights: expected a '{WEIGHTS_SUFFIX}' or '.keras' file; received "
            f"filepath={filepath!r}"
        )


def weight_paths(filepath) -> list[str]:
    """The dataset paths of a weights file, sorted (to inspect a file's layout).

    Example:
        >>> import os, tempfile
        >>> import shinsou
        >>> model = shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1)])
        >>> path = os.path.join(tempfile.mkdtemp(), "tiny.weights.h5")
        >>> save_weights(model, path)
        >>> weight_paths(path)
        ['layers/dense/vars/0', 'layers/dense/vars/1']
    """
    h5py = require_h5py()
    found = []
    with h5py.File(os.fspath(filepath), "r") as h5file:
        h5file.visititems(
            lambda name, item: found.append(name) if isinstance(item, h5py.Dataset) else None
        )
    return sorted(found)
