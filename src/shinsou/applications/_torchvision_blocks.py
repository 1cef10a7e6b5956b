"""Building blocks for :mod:`shinsou.applications.torchvision_models`: PyTorch's padding,
pooling and flattening rules expressed with Keras layers, and the reading of torchvision
state dicts into a built model.

Every block uses only standard Keras layers, so the models save and load as ordinary
``.keras`` files. Layers are named after the torchvision module they stand for
(``"layer1.0.conv1"``), which is what maps a state-dict key to a layer's weight.

Example:
    >>> import shinsou
    >>> x = shinsou.Input((7, 7, 3))
    >>> y = conv2d(x, "conv1", 8, kernel_size=3, stride=2, padding=1)
    >>> y.shape
    (None, 4, 4, 8)
"""

from __future__ import annotations

import os
import re

import numpy as np

from .. import initializers, layers
from ..backend import xp

# torch's BatchNorm2d ``momentum=0.1`` weighs the new batch; Keras's weighs the old average.
_TORCH_BN_MOMENTUM = 0.9

# The largest number of keys each part of a state-dict mismatch report lists.
_MAX_LISTED_KEYS = 20

# Rows of a Linear weight transposed at a time while loading (see _assign_from_torch).
_TRANSPOSE_ROWS = 512


def conv2d(x, name, filters, kernel_size, stride=1, padding=0, use_bias=True, activation=None):
    """``torch.nn.Conv2d(..., kernel_size, stride, padding)`` on channels-last ``x``.

    PyTorch pads ``padding`` zeros on every side. With stride 1 and ``padding=(k - 1) // 2``
    Keras's "same" padding is exactly that; otherwise a ``ZeroPadding2D`` named
    ``name + ".pad"`` pads explicitly and the convolution is "valid" (TensorFlow's "same"
    would pad only the bottom/right when the stride is 2).

    Example:
        >>> import shinsou
        >>> conv2d(shinsou.Input((224, 224, 3)), "conv1", 64, 7, 2, 3).shape
        (None, 112, 112, 64)
    """
    x, keras_padding = _pad_for(x, name, kernel_size, stride, padding)
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=stride,
        padding=keras_padding,
        use_bias=use_bias,
        activation=activation,
        kernel_initializer=_conv_initializer(),
        name=name,
    )(x)


def depthwise_conv2d(x, name, kernel_size, stride=1, padding=0):
    """``torch.nn.Conv2d(c, c, kernel_size, stride, padding, groups=c, bias=False)``: one
    filter per channel, as a Keras ``DepthwiseConv2D`` (padding as in :func:`conv2d`).

    Example:
        >>> import shinsou
        >>> depthwise_conv2d(shinsou.Input((8, 8, 16)), "dw", 3, 2, 1).shape
        (None, 4, 4, 16)
    """
    x, keras_padding = _pad_for(x, name, kernel_size, stride, padding)
    return layers.DepthwiseConv2D(
        kernel_size,
        strides=stride,
        padding=keras_padding,
        use_bias=False,
        depthwise_initializer=_conv_initializer(),
        name=name,
    )(x)


def dense(x, name, units, activation=None):
    """``torch.nn.Linear(in, units)`` (then a ReLU, fused, with ``activation="relu"``).

    Example:
        >>> import shinsou
        >>> dense(shinsou.Input((512,)), "fc", 10).shape
        (None, 10)
    """
    return layers.Dense(
        units, activation=activation, kernel_initializer=_dense_initializer(), name=name
    )(x)


def _dense_initializer():
    return initializers.GlorotUniform()


def _conv_initializer():
    # torchvision initialises convolutions He-normal in fan-out mode (ResNet, VGG, MobileNet).
    return initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def _pad_for(x, name, kernel_size, stride, padding):
    if padding == 0:
        return x, "valid"
    if stride == 1 and kernel_size % 2 == 1 and padding == (kernel_size - 1) // 2:
        return x, "same"
    return layers.ZeroPadding2D(padding, name=f"{name}.pad")(x), "valid"


def batch_norm(x, name, epsilon=1e-5):
    """``torch.nn.BatchNorm2d`` (default ``eps=1e-5``, ``momentum=0.1``) as a Keras layer.

    Example:
        >>> import shinsou
        >>> batch_norm(shinsou.Input((4, 4, 8)), "bn1").shape
        (None, 4, 4, 8)
    """
    return layers.BatchNormalization(momentum=_TORCH_BN_MOMENTUM, epsilon=epsilon, name=name)(x)


def relu(x, name, max_value=None):
    """``torch.nn.ReLU`` (or ``ReLU6`` with ``max_value=6.0``).

    Example:
        >>> import shinsou
        >>> relu(shinsou.Input((3,)), "relu", max_value=6.0).shape
        (None, 3)
    """
    return layers.ReLU(max_value=max_value, name=name)(x)


def ceil_mode_output_length(length, kernel_size, stride, padding):
    """PyTorch's pooling output length with ``ceil_mode=True``: the last window may run past
    the input, but must start inside it (or inside the left padding).

    Example:
        >>> ceil_mode_output_length(112, 3, 2, 0), ceil_mode_output_length(15, 3, 2, 0)
        (56, 7)
    """
    output = -(-(length + 2 * padding - kernel_size) // stride) + 1
    if (output - 1) * stride >= length + padding:
        output -= 1
    return output


def max_pool_after_relu(x, name, kernel_size, stride, padding=0, ceil_mode=False):
    """``torch.nn.MaxPool2d(kernel_size, stride, padding, ceil_mode)`` for inputs >= 0.

    PyTorch pads max pooling with -inf; on the output of a ReLU, which is never negative,
    zeros give the same maxima (every window holds at least one real value), so a
    ``ZeroPadding2D`` (named ``name + ".pad"``) and a "valid" ``MaxPooling2D`` reproduce it
    exactly. ``ceil_mode`` pads the bottom/right by what the extra window needs, which
    requires the spatial size to be known.

    Example:
        >>> import shinsou
        >>> x = shinsou.Input((112, 112, 64))
        >>> max_pool_after_relu(x, "maxpool1", 3, 2, ceil_mode=True).shape
        (None, 56, 56, 64)
    """
    if stride == 1 and kernel_size % 2 == 1 and padding == (kernel_size - 1) // 2:
        # Keras's "same" pads this symmetrically (and ignores the padding, like -inf), and
        # ceil_mode changes nothing at stride 1.
        return layers.MaxPooling2D(kernel_size, strides=1, padding="same", name=name)(x)
    pads = [(padding, padding), (padding, padding)]
    if ceil_mode:
        for axis, length in enumerate(x.shape[1:3]):
            if length is None:
                raise ValueError(
                    f"MaxPool2d '{name}' uses ceil_mode, which needs a known spatial size; the "
                    f"input has shape {tuple(x.shape)}"
                )
            output = ceil_mode_output_length(length, kernel_size, stride, padding)
            needed = (output - 1) * stride + kernel_size - (length + 2 * padding)
            pads[axis] = (padding, padding + max(needed, 0))
    if any(pad != (0, 0) for pad in pads):
        x = layers.ZeroPadding2D(tuple(pads), name=f"{name}.pad")(x)
    return layers.MaxPooling2D(kernel_size, strides=stride, padding="valid", name=name)(x)


def adaptive_average_pool(x, name, output_size):
    """``torch.nn.AdaptiveAvgPool2d(output_size)`` where its bins are uniform.

    PyTorch's bin ``i`` of ``n`` inputs over ``m`` outputs averages inputs
    ``floor(i·n/m)`` to ``ceil((i+1)·n/m)``. That is the identity when ``n == m``, plain
    ``k``-pooling when ``n == k·m``, and a nearest ``k``-fold repeat when ``m == k·n``: the
    cases built here (an ``AveragePooling2D`` and/or ``UpSampling2D`` named after ``name``).
    Other sizes (overlapping bins of varying width) raise a ValueError.

    Example:
        >>> import shinsou
        >>> adaptive_average_pool(shinsou.Input((14, 1, 512)), "avgpool", (7, 7)).shape
        (None, 7, 7, 512)
    """
    sizes = tuple(x.shape[1:3])
    pool, repeat = [1, 1], [1, 1]
    for axis, (length, target) in enumerate(zip(sizes, output_size)):
        if length is not None and length % target == 0:
            pool[axis] = length // target
        elif length is not None and target % length == 0:
            repeat[axis] = target // length
        else:
            raise ValueError(
                f"AdaptiveAvgPool2d '{name}': features of spatial size {sizes} cannot be pooled "
                f"to {tuple(output_size)} with uniform bins; each side must divide, or be a "
                "multiple of, the output size (use the standard 224x224 input, or a size "
                "whose features map evenly)"
            )
    if pool != [1, 1]:
        x = layers.AveragePooling2D(tuple(pool), name=name)(x)
    if repeat != [1, 1]:
        upsampling_name = f"{name}.repeat" if pool != [1, 1] else name
        x = layers.UpSampling2D(tuple(repeat), name=upsampling_name)(x)
    return x


def flatten_channels_first(x, name):
    """``torch.flatten(x, 1)`` of an NCHW tensor, from channels-last ``x``: a ``Permute`` to
    (C, H, W) (named ``name + ".permute"``) before the ``Flatten``, so that the classifier's
    Linear weights load unchanged.

    Example:
        >>> import shinsou
        >>> flatten_channels_first(shinsou.Input((6, 6, 256)), "flatten").shape
        (None, 9216)
    """
    x = layers.Permute((3, 1, 2), name=f"{name}.permute")(x)
    return layers.Flatten(name=name)(x)


# -- state dicts ------------------------------------------------------------------------------


def read_state_dict(path, caller):
    """The tensors of a ``.safetensors`` or torch ``.pth``/``.pt`` file as float32 NumPy
    arrays, by state-dict key. Nothing in the file is executed: safetensors holds only
    tensors, and torch files are read with ``weights_only=True``.

    Example:
        >>> read_state_dict("weights.h5", "demo")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: demo: weights='weights.h5' is not a .safetensors, .pth or .pt file ...
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{caller}: weights must be None or the path of a .safetensors, .pth or .pt file, "
            f"received {type(path).__name__} {path!r}"
        )
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in (".safetensors", ".pth", ".pt"):
        raise ValueError(
            f"{caller}: weights={path!r} is not a .safetensors, .pth or .pt file (torchvision's "
            "weight names cannot be downloaded here; save the state dict and pass its path)"
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{caller}: no weights file at {path!r}")
    if suffix == ".safetensors":
        try:
            from safetensors.numpy import load_file
        except ImportError:
            raise ImportError(
                f"{caller}: reading {path!r} needs the 'safetensors' package; install it with "
                "`pip install safetensors`"
            ) from None
        return {key: _as_float32(value) for key, value in load_file(path).items()}
    return _read_torch_file(path, caller)


def _read_torch_file(path, caller):
    try:
        import torch
    except ImportError:
        raise ImportError(
            f"{caller}: reading the PyTorch file {path!r} needs 'torch' (`pip install torch`); "
            "or convert it to .safetensors, which needs only the 'safetensors' package"
        ) from None
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(loaded, dict) or not all(
        isinstance(value, torch.Tensor) for value in loaded.values()
    ):
        raise ValueError(
            f"{caller}: {path!r} does not hold a state dict (a mapping of parameter names to "
            "tensors); save one with torch.save(model.state_dict(), path)"
        )
    arrays = {}
    for key, tensor in loaded.items():
        tensor = tensor.detach()
        arrays[key] = tensor.float().numpy() if tensor.is_floating_point() else tensor.numpy()
    return arrays


def _as_float32(array):
    return array.astype(np.float32, copy=False) if array.dtype.kind == "f" else array


# Old torchvision DenseNet checkpoints (the published ones too) name "norm.1" what the module
# now calls "norm1"; torchvision renames them on load, and so do we.
_LEGACY_DENSE_LAYER_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def _modern_key(key):
    match = _LEGACY_DENSE_LAYER_KEY.match(key)
    return match.group(1) + match.group(2) if match else key


def _torch_parameters(layer):
    """``{torch parameter name: (variable, axes taking the torch array to Keras's layout)}``."""
    if isinstance(layer, layers.DepthwiseConv2D):
        return {"weight": (layer.kernel, (2, 3, 0, 1))}  # (c, 1, kh, kw) -> (kh, kw, c, 1)
    if isinstance(layer, layers.Conv2D):
        found = {"weight": (layer.kernel, (2, 3, 1, 0))}  # (out, in, kh, kw) -> (kh, kw, in, out)
    elif isinstance(layer, layers.Dense):
        found = {"weight": (layer.kernel, (1, 0))}  # (out, in) -> (in, out)
    elif isinstance(layer, layers.BatchNormalization):
        return {
            "weight": (layer.gamma, None),
            "bias": (layer.beta, None),
            "running_mean": (layer.moving_mean, None),
            "running_var": (layer.moving_variance, None),
        }
    else:
        return {}
    if layer.bias is not None:
        found["bias"] = (layer.bias, None)
    return found


def _torch_shape(variable, axes):
    if axes is None:
        return tuple(variable.shape)
    shape = [0] * len(axes)
    for keras_axis, torch_axis in enumerate(axes):
        shape[torch_axis] = variable.shape[keras_axis]
    return tuple(shape)


def _torch_targets(model):
    """``{state-dict key: (variable, axes)}`` for every weight of ``model``, in layer order."""
    return {
        f"{layer.name}.{parameter}": target
        for layer in model.layers
        for parameter, target in _torch_parameters(layer).items()
    }


def torch_state_dict_shapes(model):
    """The state-dict keys ``model`` loads and the shape each must have in the file
    (PyTorch's layout); ``num_batches_tracked`` is optional and not listed.

    Example:
        >>> import shinsou
        >>> inputs = shinsou.Input((4,))
        >>> model = shinsou.Model(inputs, shinsou.layers.Dense(2, name="fc")(inputs))
        >>> torch_state_dict_shapes(model)
        {'fc.weight': (2, 4), 'fc.bias': (2,)}
    """
    return {key: _torch_shape(*target) for key, target in _torch_targets(model).items()}


def _assign_from_torch(variable, value, axes):
    if axes is None:
        variable.assign(value)
    elif len(axes) == 2:
        # A Linear weight can hold 100M values. Transposing it a band of rows at a time keeps
        # reads and writes in cache: 3x faster here than one strided copy, and no temporary.
        for start in range(0, value.shape[0], _TRANSPOSE_ROWS):
            band = value[start : start + _TRANSPOSE_ROWS]
            variable.data[:, start : start + band.shape[0]] = xp.asarray(band.T)
    else:
        variable.assign(value.transpose(axes))


def _listing(title, items):
    shown = ", ".join(items[:_MAX_LISTED_KEYS])
    more = f", ... ({len(items) - _MAX_LISTED_KEYS} more)" if len(items) > _MAX_LISTED_KEYS else ""
    return f"{len(items)} {title}: {shown}{more}"


def load_state_dict(model, state_dict, caller, ignored_prefixes=()):
    """Copy a torchvision state dict into ``model``, whose layers carry the torchvision
    module names: conv weights ``(out, in, kh, kw)`` become kernels ``(kh, kw, in, out)``,
    Linear weights ``(out, in)`` kernels ``(in, out)``, BatchNorm ``weight, bias,
    running_mean, running_var`` become ``gamma, beta, moving_mean, moving_variance``;
    ``num_batches_tracked`` and keys under ``ignored_prefixes`` are skipped.

    Missing keys, unexpected keys and shape mismatches are reported together in one
    ValueError, before any weight is changed.

    Example:
        >>> import numpy as np
        >>> import shinsou
        >>> inputs = shinsou.Input((4,))
        >>> model = shinsou.Model(inputs, shinsou.layers.Dense(2, name="fc")(inputs))
        >>> weight = np.arange(8, dtype="float32").reshape(2, 4)
        >>> load_state_dict(model, {"fc.weight": weight, "fc.bias": np.zeros(2)}, "demo")
        >>> model.get_layer("fc").kernel.numpy()[:, 0].tolist()
        [0.0, 1.0, 2.0, 3.0]
    """
    state_dict = {_modern_key(key): value for key, value in state_dict.items()}
    targets = _torch_targets(model)
    skipped = {
        f"{layer.name}.num_batches_tracked"
        for layer in model.layers
        if isinstance(layer, layers.BatchNormalization)
    }
    missing = [key for key in targets if key not in state_dict]
    unexpected = [
        key
        for key in state_dict
        if key not in targets and key not in skipped and not key.startswith(tuple(ignored_prefixes))
    ]
    mismatched = []
    for key, (variable, axes) in targets.items():
        if key in state_dict:
            expected = _torch_shape(variable, axes)
            found = tuple(np.shape(state_dict[key]))
            if found != expected:
                mismatched.append(f"{key} (file {found}, model {expected})")
    if missing or unexpected or mismatched:
        parts = [
            _listing(title, items)
            for title, items in (
                ("missing keys", missing),
                ("unexpected keys", unexpected),
                ("shape mismatches", mismatched),
            )
            if items
        ]
        raise ValueError(f"{caller}: the state dict does not match the model; " + "; ".join(parts))
    for key, (variable, axes) in targets.items():
        _assign_from_torch(variable, np.asarray(state_dict[key], dtype=np.float32), axes)
