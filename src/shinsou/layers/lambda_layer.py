"""Layers that wrap a function or pass their input through: Lambda, Identity, Masking.

A Lambda layer's config holds its function object; saving writes it by name (never as code
that loading would run), so loading needs the function back — through ``custom_objects``,
a ``custom_object_scope`` or ``register_keras_serializable`` — unless it is one of
shinsou's ops or activations.

Example:
    >>> import numpy as np
    >>> from shinsou.layers.lambda_layer import Lambda, Masking
    >>> Lambda(lambda x: x * 2)(np.array([[1.0, 2.0]])).tolist()
    [[2.0, 4.0]]
    >>> Masking()(np.array([[[0.0], [3.0]]]))._keras_mask.tolist()
    [[False, True]]
"""

from __future__ import annotations

import inspect

from .. import activations, ops
from ..backend import xp
from ..tensor import Tensor
from ..utils import tree
from ..utils.object_registration import get_registered_object
from .base import Layer, _merge_runs, _run_on_zeros

__all__ = ["Identity", "Lambda", "Masking"]


def _find_function(spec, custom_objects, layer_name, argument):
    """The function a saved config names (Keras's ``{"class_name": "function", ...}``):
    from ``custom_objects``, the active ``custom_object_scope`` or the registry of
    ``register_keras_serializable`` (by registered name, then plain name), or shinsou's own
    ops and activations for names saved from them. Never from code stored in the config."""
    if spec.get("class_name") == "__lambda__":
        raise ValueError(
            f"Lambda '{layer_name}': its {argument} was saved as Python bytecode (a lambda). "
            "shinsou never runs code from a file: rebuild the layer with a named function and "
            "pass that function in custom_objects"
        )
    names = [n for n in (spec.get("registered_name"), spec.get("config")) if isinstance(n, str)]
    for name in names:
        # custom_objects, an active custom_object_scope (load_model opens one with the
        # custom_objects it was given) and register_keras_serializable's registry.
        function = get_registered_object(name, custom_objects)
        if function is not None:
            return function
    name = names[-1] if names else None
    module = spec.get("module") or ""
    if module.split(".")[0] in ("shinsou", "keras") and name is not None:
        # ops.relu and activations.relu differ in arguments: look where it was saved from.
        namespaces = (ops, activations) if ".ops" in module else (activations, ops)
        for namespace in namespaces:
            function = getattr(namespace, name, None)
            if callable(function):
                return function
    raise ValueError(
        f"Lambda '{layer_name}': cannot restore its {argument} {name!r}. Functions are saved by "
        f"name only (loading never runs code from a file); pass it as "
        f"custom_objects={{{name!r}: <the function>}}, load inside "
        "shinsou.saving.custom_object_scope, or decorate it with "
        "@shinsou.saving.register_keras_serializable()"
    )


def _restore(value, custom_objects, layer_name, argument):
    """A config value back as the object: saved functions and tensors are tagged dicts."""
    if not isinstance(value, dict):
        return value
    if value.get("class_name") in ("__tensor__", "__numpy__"):
        inner = value["config"]
        return Tensor._wrap(xp.asarray(inner["value"], dtype=inner["dtype"]))
    return _find_function(value, custom_objects, layer_name, argument)


def _as_shape(value):
    """Config lists back to shape tuples (nested for several outputs)."""
    if isinstance(value, list) and all(v is None or isinstance(v, int) for v in value):
        return tuple(value)
    if isinstance(value, list):
        return [_as_shape(v) for v in value]
    return value


def _is_shape(value):
    return isinstance(value, (list, tuple)) and all(v is None or isinstance(v, int) for v in value)


class Lambda(Layer):
    """Wraps a function of tensors as a layer: ``Lambda(lambda x: x ** 2)``.

    ``output_shape`` (without the batch axis, or a function of the full input shape) saves
    running the function to infer shapes on symbolic inputs. ``mask`` is a mask to attach or a
    function ``mask(inputs, previous_mask)``; ``arguments`` are keyword arguments for the
    function, which may also accept ``mask`` and ``training``.

    Example:
        >>> import numpy as np
        >>> Lambda(ops.sum, arguments={"axis": -1})(np.ones((2, 3))).tolist()
        [3.0, 3.0]
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable, received {function!r}")
        if not (output_shape is None or callable(output_shape) or tree.is_nested(output_shape)):
            raise ValueError(
                "Lambda: output_shape must be None, a shape tuple (without the batch axis) or a "
                f"function of the input shape, received output_shape={output_shape!r}"
            )
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda: arguments must be a dict, received {arguments!r}")
        self.function = function
        self.arguments = dict(arguments or {})
        self.mask = mask
        self.supports_masking = mask is not None
        self._output_shape = output_shape
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):  # some builtins have no signature
            parameters = {}
        self._fn_expects_mask = "mask" in parameters
        self._fn_expects_training = "training" in parameters
        self.built = True

    def call(self, inputs, mask=None, training=None):
        kwargs = dict(self.arguments)
        if self._fn_expects_mask:
            kwargs["mask"] = mask
        if self._fn_expects_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_mask(self, inputs, mask=None):
        if callable(self.mask):
            return self.mask(inputs, mask)
        return self.mask

    def compute_output_spec(self, *args, **kwargs):
        if self._output_shape is None:
            # Nothing declared: run the function on small zero inputs to see what it returns.
            return _merge_runs(*(_run_on_zeros(self, args, kwargs, size) for size in (2, 3)))
        return super().compute_output_spec(*args, **kwargs)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            raise NotImplementedError(
                f"Lambda '{self.name}': no output_shape was given; call the layer on a symbolic "
                "input to infer it"
            )
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        batch = tree.flatten(input_shape)[0]
        if _is_shape(self._output_shape):
            return (batch, *self._output_shape)
        return type(self._output_shape)((batch, *shape) for shape in self._output_shape)

    def get_config(self):
        # Functions and mask tensors stay objects here: saving writes them in Keras's form
        # (a function by module and name), and from_config accepts both.
        config = {**super().get_config(), "function": self.function}
        if self._output_shape is not None:
            config["output_shape"] = self._output_shape
        if self.mask is not None:
            config["mask"] = self.mask
        config["arguments"] = self.arguments
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        """Recreate the layer from :meth:`get_config`'s dict or its saved (JSON) form, in
        which functions are named: they must be in ``custom_objects`` unless they are
        shinsou's ops or activations. Code saved in a config (a lambda) is never run.

        Example:
            >>> def double(x):
            ...     return x * 2
            >>> saved = {"name": "twice", "arguments": {}, "function": {"module": "__main__",
            ...          "class_name": "function", "config": "double", "registered_name": None}}
            >>> Lambda.from_config(saved, custom_objects={"double": double}).function is double
            True
        """
        config = dict(config)
        name = config.get("name")
        for argument in ("function", "output_shape", "mask"):
            if argument in config:
                config[argument] = _restore(config[argument], custom_objects, name, argument)
        if "output_shape" in config:
            config["output_shape"] = _as_shape(config["output_shape"])
        return cls(**config)


class Identity(Layer):
    """Returns its input unchanged (and keeps its mask): a placeholder in a model.

    Example:
        >>> import numpy as np
        >>> Identity()(np.array([[1.0, 2.0]])).tolist()
        [[1.0, 2.0]]
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        return inputs

    def compute_output_shape(self, input_shape):
        return input_shape

    def _output_dtype(self, inputs):
        return inputs.dtype


def _kept_steps(inputs, mask_value):
    """True where any feature differs from ``mask_value``, over the last axis."""
    values = inputs.data if isinstance(inputs, Tensor) else xp.asarray(inputs)
    return xp.any(values != mask_value, axis=-1)


class Masking(Layer):
    """Masks the time steps whose features all equal ``mask_value``: they are zeroed, and
    the output carries a mask (True = keep) for masking-aware layers downstream.

    Example:
        >>> import numpy as np
        >>> x = np.array([[[1.0, 2.0], [9.0, 9.0]]])
        >>> y = Masking(mask_value=9.0)(x)
        >>> y.tolist(), y._keras_mask.tolist()
        ([[[1.0, 2.0], [0.0, 0.0]]], [[True, False]])
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True
        self.built = True

    def call(self, inputs):
        keep = _kept_steps(inputs, self.mask_value)[..., None]
        return inputs * Tensor._wrap(keep.astype(inputs.dtype))

    def compute_mask(self, inputs, mask=None):
        return Tensor._wrap(_kept_steps(inputs, self.mask_value))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def _output_dtype(self, inputs):
        return inputs.dtype

    def get_config(self):
        value = self.mask_value
        value = value.item() if isinstance(value, (xp.ndarray, xp.generic)) else value
        return {**super().get_config(), "mask_value": value}
