"""ImageNet helpers of ``keras.applications.imagenet_utils`` (:func:`preprocess_input`,
:func:`decode_predictions`) and the machinery every model family of the zoo shares.

For the family modules (import them from here; signatures are stable):

``validate_application_args(model_name, *, weights, include_top, classes, input_shape,
input_tensor=None, pooling=None, classifier_activation="softmax", default_size=224,
min_size=32) -> tuple``
    Keras's argument checks, in Keras's order, before anything is built: ``weights`` is
    None, ``"imagenet"`` or an existing file; ``classes == 1000`` with ImageNet weights and
    the top; ``pooling`` in (None, "avg", "max"); ``classifier_activation`` None or softmax
    when pretrained weights meet the top. Returns the input shape to build with (Keras's
    ``obtain_input_shape``): the default ``(default_size, default_size, 3)`` when the top is
    included and no shape is given, ``(None, None, 3)`` without the top, the given shape
    after checking it has three axes, 3 channels for ImageNet weights, and at least
    ``min_size`` pixels each side (and, with the top and ImageNet weights, is the default).
    Without ``input_shape``, ``input_tensor``'s shape is checked the same way but may differ
    from the default or hold None, as Keras builds on it whatever its size.

``application_input(input_tensor, input_shape) -> (image_input, model_inputs)``
    The symbolic tensor to build on and the inputs to give ``Model``: a fresh ``Input`` of
    ``input_shape``; ``input_tensor`` itself when it is symbolic (the model's inputs are then
    the ``Input`` tensors it was computed from); an ``Input`` shaped like it otherwise.

``load_application_weights(model, weights, *, file_name, file_hash, url, match="name")``
    Loads ``weights`` into a built model and returns the model: None does nothing;
    ``"imagenet"`` fetches ``file_name`` from ``url`` (checked against ``file_hash``) into
    the ``models`` folder of the cache (:func:`shinsou.utils.data_utils.shinsou_home`), or,
    offline, raises an OSError naming the file and the folder to put it in; a path loads
    that file. Files are recognised by content: Keras 3 ``.weights.h5`` / ``.keras`` go to
    :func:`shinsou.saving.load_weights`, Keras 2 application files (``layer_names`` on the
    root) to :func:`load_legacy_h5_weights` with ``match``.

``load_legacy_h5_weights(model, filepath, *, match="name", skip_mismatch=False)``
    Reads a Keras 2 HDF5 weights file (a group per layer; the root, or its
    ``model_weights`` group, lists them in the attribute ``layer_names``; each layer group
    lists its datasets in ``weight_names``). ``match="name"`` pairs the model's layers that
    have weights with the file's layers of the same name; ``match="order"`` pairs them in
    order, as Keras 2's ``load_weights`` did (for files whose layer names were numbered
    differently). Each layer's weights are taken in order. Everything is checked before
    anything is assigned: a layer missing on either side, a count or a shape that differs is
    a ValueError naming them (``skip_mismatch=True`` loads the rest and warns instead).

Example:
    >>> import numpy as np
    >>> preprocess_input(np.full((1, 1, 1, 3), 255.0), mode="tf").tolist()
    [[[[1.0, 1.0, 1.0]]]]
"""

from __future__ import annotations

import json
import os
import warnings

import numpy

from .. import activations, backend, ops
from ..layers.input_layer import Input, InputLayer
from ..layers.symbolic import KerasTensor
from ..saving.legacy_h5 import load_legacy_h5_weights
from ..tensor import Tensor
from ..utils import data_utils

__all__ = []  # reached as ``applications.imagenet_utils.<name>``, as in Keras

CLASS_INDEX_URL = (
    "https://storage.googleapis.com/download.tensorflow.org/data/imagenet_class_index.json"
)
CLASS_INDEX_HASH = "c2c37ea517e94d9795004a39431a14cb"  # md5, as Keras publishes it
_class_index_by_path = {}

_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_TORCH_MEAN_RGB = (0.485, 0.456, 0.406)
_TORCH_STD_RGB = (0.229, 0.224, 0.225)
_MODES = ("caffe", "tf", "torch")
_DATA_FORMATS = ("channels_first", "channels_last")
_POOLINGS = (None, "avg", "max")


# -- preprocessing -------------------------------------------------------------------------
def _channel_constant(values, ndim, channel_axis):
    """``values`` (one per channel) as a float32 array that broadcasts along ``channel_axis``."""
    shape = [1] * ndim
    shape[channel_axis] = 3
    return numpy.asarray(values, dtype=backend.floatx()).reshape(shape)


def _check_channels(shape, channel_axis, mode):
    if len(shape) < 3 or shape[channel_axis] not in (3, None):
        raise ValueError(
            f"preprocess_input: mode={mode!r} needs images with 3 color channels on axis "
            f"{channel_axis} (3D or 4D input); received shape {tuple(shape)}"
        )


def preprocess_input(x, data_format=None, mode="caffe"):
    """Prepare a batch of images with values in [0, 255] for an ImageNet model.

    ``mode`` is Keras's: ``"caffe"`` reverses the channels (RGB to BGR) and subtracts the
    ImageNet mean of each (VGG, ResNet); ``"tf"`` scales to [-1, 1] (ResNet v2, Inception,
    MobileNet); ``"torch"`` scales to [0, 1], then subtracts the ImageNet mean and divides by
    its standard deviation per channel (DenseNet). The arithmetic is Keras's, step by step
    in float32, so results agree to the last bit. A NumPy array (or anything array-like)
    gives a new float32 NumPy array — unlike Keras, the input is never overwritten — and a
    tensor (also a symbolic one from ``Input``) gives a tensor.

    Example:
        >>> import numpy as np
        >>> pixel = np.array([[[[255.0, 0.0, 128.0]]]])
        >>> preprocess_input(pixel).astype(float).round(3).tolist()  # BGR minus the mean
        [[[[24.061, -116.779, 131.32]]]]
        >>> preprocess_input(pixel, mode="torch").astype(float).round(3).tolist()
        [[[[2.249, -2.036, 0.426]]]]
    """
    if mode not in _MODES:
        raise ValueError(
            f"preprocess_input: mode must be one of {list(_MODES)}; received mode={mode!r}"
        )
    if data_format is None:
        data_format = backend.image_data_format()
    elif data_format not in _DATA_FORMATS:
        raise ValueError(
            f"preprocess_input: data_format must be one of {list(_DATA_FORMATS)}; received "
            f"data_format={data_format!r}"
        )
    if isinstance(x, (Tensor, KerasTensor)):
        return _preprocess_tensor(x, data_format, mode)
    return _preprocess_array(x, data_format, mode)


def _channel_axis(ndim, data_format):
    if data_format == "channels_last":
        return ndim - 1
    return 0 if ndim == 3 else 1


def _preprocess_array(x, data_format, mode):
    # A copy always: Keras writes over float inputs, which surprises (and, in caffe mode,
    # leaves the caller's array half-converted, since the channel flip is a view).
    x = numpy.array(x, dtype=backend.floatx())
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    axis = _channel_axis(x.ndim, data_format)
    _check_channels(x.shape, axis, mode)
    if mode == "torch":
        x /= 255.0
        x -= _channel_constant(_TORCH_MEAN_RGB, x.ndim, axis)
        x /= _channel_constant(_TORCH_STD_RGB, x.ndim, axis)
        return x
    x = numpy.flip(x, axis=axis) - _channel_constant(_CAFFE_MEAN_BGR, x.ndim, axis)
    return x


def _preprocess_tensor(x, data_format, mode):
    if not backend.is_floating(x.dtype):
        if isinstance(x, KerasTensor):
            from ..layers.op_layer import OpLayer  # a graph node, so Input(dtype="uint8") works

            x = OpLayer("cast")(x, backend.floatx())
        else:
            x = ops.cast(x, backend.floatx())
    if mode == "tf":
        return x / 127.5 - 1.0
    axis = _channel_axis(len(x.shape), data_format)
    _check_channels(x.shape, axis, mode)
    if mode == "torch":
        x = x / 255.0 - _channel_constant(_TORCH_MEAN_RGB, len(x.shape), axis)
        return x / _channel_constant(_TORCH_STD_RGB, len(x.shape), axis)
    reverse = (slice(None),) * axis + (slice(None, None, -1),)
    return x[reverse] - _channel_constant(_CAFFE_MEAN_BGR, len(x.shape), axis)


# -- predictions ---------------------------------------------------------------------------
def _class_index():
    """Keras's ``imagenet_class_index.json`` ({"0": ["n01440764", "tench"], ...}), cached."""
    path = data_utils.get_file(
        "imagenet_class_index.json",
        CLASS_INDEX_URL,
        cache_subdir="models",
        file_hash=CLASS_INDEX_HASH,
    )
    if path not in _class_index_by_path:
        with open(path, encoding="utf-8") as handle:
            _class_index_by_path[path] = json.load(handle)
    return _class_index_by_path[path]


def decode_predictions(preds, top=5):
    """The ``top`` best ImageNet classes of each prediction, as Keras gives them.

    ``preds`` is a batch of scores shaped ``(samples, 1000)``. Returns one list per sample of
    ``(class_id, class_name, score)`` tuples, best first, e.g. ``("n02123045", "tabby",
    0.82)``. The class names come from Keras's ``imagenet_class_index.json``, downloaded once
    into the ``models`` folder of the cache.

    Example:
        >>> import numpy as np
        >>> try:
        ...     decode_predictions(np.zeros((2, 10)))
        ... except ValueError as error:
        ...     print(str(error)[:58])
        decode_predictions: expected a batch of predictions shaped
    """
    scores = numpy.asarray(backend.to_numpy(preds.data) if isinstance(preds, Tensor) else preds)
    if scores.ndim != 2 or scores.shape[1] != 1000:
        raise ValueError(
            "decode_predictions: expected a batch of predictions shaped (samples, 1000); "
            f"received an array of shape {scores.shape}"
        )
    if isinstance(top, bool) or not isinstance(top, (int, numpy.integer)) or top < 1:
        raise ValueError(f"decode_predictions: top must be a positive integer; received {top!r}")
    index = _class_index()
    results = []
    for row in scores:
        best = numpy.argsort(row, kind="stable")[-top:][::-1]
        entries = []
        for i in best:
            entry = index.get(str(i))
            if entry is None or len(entry) != 2:
                raise ValueError(
                    f"decode_predictions: the class index has no [class_id, class_name] entry "
                    f"for class {i}; is imagenet_class_index.json complete?"
                )
            entries.append((entry[0], entry[1], row[i]))
        entries.sort(key=lambda entry: entry[2], reverse=True)
        results.append(entries)
    return results


# -- arguments -----------------------------------------------------------------------------
def _is_path(weights):
    return isinstance(weights, (str, os.PathLike)) and weights != "imagenet"


def validate_application_args(
    model_name,
    *,
    weights,
    include_top,
    classes,
    input_shape,
    input_tensor=None,
    pooling=None,
    classifier_activation="softmax",
    default_size=224,
    min_size=32,
):
    """Check a model builder's arguments as Keras does; return the input shape to build.

    See the module docstring for every rule.

    Example:
        >>> validate_application_args("vgg16", weights=None, include_top=False, classes=1000,
        ...                           input_shape=None)
        (None, None, 3)
        >>> try:
        ...     validate_application_args("vgg16", weights="imagenet", include_top=True,
        ...                               classes=10, input_shape=None)
        ... except ValueError as error:
        ...     print(str(error)[:60])
        vgg16: with weights='imagenet' and include_top=True, classes
    """
    if not (weights is None or weights == "imagenet" or _is_path(weights)):
        raise ValueError(
            f"{model_name}: weights must be None (random initialization), 'imagenet' "
            f"(pre-training on ImageNet) or the path to a weights file; received "
            f"weights={weights!r}"
        )
    if _is_path(weights) and not os.path.isfile(weights):
        raise ValueError(
            f"{model_name}: weights must be None, 'imagenet' or the path to a weights file; "
            f"received weights={os.fspath(weights)!r}, which is not a file"
        )
    if weights == "imagenet" and include_top and classes != 1000:
        raise ValueError(
            f"{model_name}: with weights='imagenet' and include_top=True, classes must be "
            f"1000 (the ImageNet classes); received classes={classes!r}. Use "
            "include_top=False and add your own classifier, or weights=None."
        )
    if isinstance(classes, bool) or not isinstance(classes, (int, numpy.integer)) or classes < 1:
        raise ValueError(f"{model_name}: classes must be a positive integer; received {classes!r}")
    if pooling not in _POOLINGS:
        raise ValueError(
            f"{model_name}: pooling must be None, 'avg' or 'max'; received pooling={pooling!r}"
        )
    if include_top and weights is not None:
        activation = activations.get(classifier_activation)
        if activation not in (activations.get("softmax"), activations.get(None)):
            raise ValueError(
                f"{model_name}: only None and 'softmax' classifier activations are allowed "
                "with pretrained weights and include_top=True; received "
                f"classifier_activation={classifier_activation!r}"
            )
    if input_shape is None and input_tensor is not None:
        # Keras builds on the tensor whatever its shape (a ResNet top takes any size), so
        # only what would break the build is checked here: rank, channels, minimum size.
        tensor_shape = tuple(input_tensor.shape)[1:]
        return _input_shape(model_name, tensor_shape, weights, False, default_size, min_size)
    return _input_shape(model_name, input_shape, weights, include_top, default_size, min_size)


def _input_shape(model_name, input_shape, weights, include_top, default_size, min_size):
    """Keras's ``obtain_input_shape`` for channels-last images."""
    default_shape = (default_size, default_size, 3)
    if input_shape is not None:
        input_shape = tuple(None if s is None else int(s) for s in input_shape)
        if len(input_shape) != 3:
            raise ValueError(
                f"{model_name}: input_shape must be a tuple of three integers (height, width, "
                f"channels); received input_shape={input_shape}"
            )
        if weights != "imagenet" and input_shape[-1] not in (1, 3):
            warnings.warn(
                f"{model_name}: this model usually expects 1 or 3 input channels; received "
                f"input_shape={input_shape}",
                stacklevel=3,
            )
    if weights == "imagenet" and include_top:
        if input_shape is not None and input_shape != default_shape:
            raise ValueError(
                f"{model_name}: with include_top=True and weights='imagenet', input_shape must "
                f"be {default_shape}; received input_shape={input_shape}"
            )
        return default_shape
    if input_shape is None:
        return default_shape if include_top else (None, None, 3)
    if weights == "imagenet" and input_shape[-1] != 3:
        raise ValueError(
            f"{model_name}: the ImageNet weights need 3 input channels; received "
            f"input_shape={input_shape}"
        )
    if any(size is not None and size < min_size for size in input_shape[:2]):
        raise ValueError(
            f"{model_name}: the input must be at least {min_size}x{min_size} pixels; received "
            f"input_shape={input_shape}"
        )
    if include_top and None in input_shape:
        raise ValueError(
            f"{model_name}: with include_top=True, input_shape must be fully known; received "
            f"input_shape={input_shape}"
        )
    return input_shape


def _source_inputs(tensor):
    """The ``Input`` tensors a symbolic tensor was computed from, in the order first met."""
    found, seen, stack = [], set(), [tensor]
    while stack:
        current = stack.pop()
        history = current._keras_history
        if history is None or id(current) in seen:
            continue
        seen.add(id(current))
        node = history.operation._inbound_nodes[history.node_index]
        if isinstance(history.operation, InputLayer):
            found.append(current)
        stack.extend(reversed(node.input_tensors))
    return found


def application_input(input_tensor, input_shape):
    """``(image_input, model_inputs)``: the tensor to build a zoo model on, and its inputs.

    Example:
        >>> image, inputs = application_input(None, (32, 32, 3))
        >>> image.shape, inputs is image
        ((None, 32, 32, 3), True)
    """
    if input_tensor is None:
        image = Input(shape=input_shape)
        return image, image
    if isinstance(input_tensor, KerasTensor):
        return input_tensor, _source_inputs(input_tensor)
    image = Input(tensor=input_tensor, shape=input_shape)
    return image, image


# -- weights -------------------------------------------------------------------------------
def load_application_weights(model, weights, *, file_name, file_hash, url, match="name"):
    """Load ``None`` / ``"imagenet"`` / a file path into a built zoo model; return it.

    See the module docstring for the rules.

    Example:
        >>> import shinsou
        >>> model = shinsou.Sequential([shinsou.Input((2,)), shinsou.layers.Dense(1)])
        >>> load_application_weights(model, None, file_name="x.h5", file_hash=None,
        ...                          url="https://example.invalid/x.h5") is model
        True
    """
    if weights is None:
        return model
    if weights == "imagenet":
        folder = os.path.join(data_utils.shinsou_home(), "models")
        try:
            path = data_utils.get_file(file_name, url, cache_subdir="models", file_hash=file_hash)
        except OSError as error:
            raise OSError(
                f"{model.name}: the ImageNet weights file {file_name} is not in the cache and "
                f"could not be downloaded from {url}. On a machine without network access, "
                f"download it elsewhere and put it in the folder {folder} (as "
                f"{os.path.join(folder, file_name)}), or pass weights=<path to the file>."
            ) from error
    elif _is_path(weights):
        path = os.fspath(weights)
    else:
        raise ValueError(
            f"{model.name}: weights must be None, 'imagenet' or the path to a weights file; "
            f"received weights={weights!r}"
        )
    if _is_legacy_h5(path):
        load_legacy_h5_weights(model, path, match=match)
    else:
        from ..saving import load_weights

        load_weights(model, path)
    return model


def _is_legacy_h5(path):
    """Whether ``path`` is a Keras 2 HDF5 file; judged by content, as ``.h5`` fits both."""
    if not str(path).endswith((".h5", ".hdf5")):
        return False
    from ..saving.weights_h5 import require_h5py

    with require_h5py().File(path, "r") as h5file:
        return "layer_names" in h5file.attrs or "model_weights" in h5file
