"""Keras objects as plain, JSON-able config dicts, and back — in Keras 3's format.

An object becomes ``{"module", "class_name", "config", "registered_name"}`` (plus
``build_config`` for built layers and ``compile_config`` for compiled models); nested
values follow the same rules. Loading calls ``from_config`` of a shinsou built-in class or of
a class the user made known (``custom_objects``, :func:`register_keras_serializable`,
``custom_object_scope``). Nothing read from a config is imported, evaluated or executed:
a Python lambda stored as bytecode is an error unless ``custom_objects`` supplies it.

Example:
    >>> from shinsou import layers
    >>> config = serialize_keras_object(layers.Dense(3, name="out"))
    >>> config["module"], config["class_name"], config["config"]["units"]
    ('keras.layers', 'Dense', 3)
    >>> deserialize_keras_object(config).units
    3
"""

from __future__ import annotations

import inspect
import warnings

import numpy

from ..layers.symbolic import KerasTensor
from ..tensor import Tensor, as_tensor
from ..utils.object_registration import (
    _GLOBAL_CUSTOM_NAMES,
    CustomObjectScope,
    get_registered_name,
    get_registered_object,
)
from . import builtin_objects

PLAIN_TYPES = (str, int, float, bool)
_FUNCTIONAL = ("keras.src.models.functional", "Functional", "Functional")


class UnknownObjectError(ValueError, TypeError):
    """A config names a class or function that is neither built in nor made known.

    It is a ValueError (shinsou's convention) and a TypeError (what Keras raises), so code
    written for either catches it.

    Example:
        >>> config = {"module": "my_app", "class_name": "Mine", "config": {}}
        >>> try:
        ...     deserialize_keras_object(config)
        ... except UnknownObjectError as error:
        ...     print(str(error)[:35])
        Unknown class 'Mine' from module 'm
    """


# -- serializing ---------------------------------------------------------------------------
def serialize_keras_object(obj):
    """The config of ``obj``: plain values as they are, containers walked, tensors and arrays
    tagged, functions by name, objects with ``get_config`` as Keras's four-key dict.

    Example:
        >>> from shinsou import initializers
        >>> config = serialize_keras_object(initializers.Zeros())
        >>> config["module"], config["class_name"], config["registered_name"]
        ('keras.initializers', 'Zeros', None)
        >>> serialize_keras_object((1, slice(None, 2)))[1]["class_name"]
        '__slice__'
    """
    if obj is None or isinstance(obj, PLAIN_TYPES):
        return obj
    if isinstance(obj, (list, tuple)):
        items = [serialize_keras_object(item) for item in obj]
        return tuple(items) if isinstance(obj, tuple) else items
    if isinstance(obj, dict):
        return {key: serialize_keras_object(value) for key, value in obj.items()}
    special = _serialize_special(obj)
    if special is not None:
        return special
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return serialize_function(obj)
    if inspect.isclass(obj) or not callable(getattr(obj, "get_config", None)):
        raise TypeError(
            f"cannot serialize {obj!r} (type {type(obj).__name__}): only plain values, "
            "containers, tensors, arrays, functions and objects with a get_config() method "
            "can be saved"
        )
    return _serialize_object(obj)


def _serialize_special(obj):
    """Keras's tagged forms of non-JSON values, or None when ``obj`` is not one of them."""
    if isinstance(obj, bytes):
        return {"class_name": "__bytes__", "config": {"value": obj.decode("utf-8")}}
    if isinstance(obj, slice):
        parts = {"start": obj.start, "stop": obj.stop, "step": obj.step}
        return {"class_name": "__slice__", "config": serialize_keras_object(parts)}
    if obj is Ellipsis:
        return {"class_name": "__ellipsis__", "config": {}}
    if isinstance(obj, KerasTensor):
        history = obj._keras_history
        if history is not None:
            history = [history.operation.name, history.node_index, history.tensor_index]
        config = {"shape": obj.shape, "dtype": obj.dtype, "keras_history": history}
        return {"class_name": "__keras_tensor__", "config": config}
    if isinstance(obj, Tensor):
        value = obj.numpy()
        return {
            "class_name": "__tensor__",
            "config": {"value": value.tolist(), "dtype": value.dtype.name},
        }
    if isinstance(obj, numpy.ndarray) and obj.ndim > 0:
        return {
            "class_name": "__numpy__",
            "config": {"value": obj.tolist(), "dtype": obj.dtype.name},
        }
    if isinstance(obj, (numpy.ndarray, numpy.generic)):
        return obj.item()
    if isinstance(obj, numpy.dtype):
        return obj.name
    return None


def serialize_function(function):
    """A function's config: by name for named functions (built-in, registered or user's),
    or, for a lambda, Keras's bytecode form — written for Keras's sake, never read back.

    Example:
        >>> from shinsou import activations
        >>> serialize_function(activations.relu)["module"]
        'keras.activations'
    """
    if function.__name__ == "<lambda>":
        import base64
        import marshal

        warnings.warn(
            "Saving a Python lambda: it is stored as bytecode, which shinsou never runs on "
            "loading. Use a named function, or pass the lambda again through custom_objects "
            "when loading.",
            stacklevel=3,
        )
        closure = function.__closure__
        return {
            "class_name": "__lambda__",
            "config": {
                "code": base64.b64encode(marshal.dumps(function.__code__)).decode("ascii"),
                "defaults": serialize_keras_object(function.__defaults__),
                "closure": serialize_keras_object(
                    tuple(cell.cell_contents for cell in closure) if closure else None
                ),
            },
        }
    public = builtin_objects.keras_public_name(function)
    if public is not None and function not in _GLOBAL_CUSTOM_NAMES:
        module, name = public
        return {"module": module, "class_name": "function", "config": name, "registered_name": name}
    return {
        "module": _user_module(function),
        "class_name": "function",
        "config": function.__name__,
        "registered_name": get_registered_name(function),
    }


def _user_module(obj):
    module = getattr(obj, "__module__", None)
    return None if module == "__main__" else module  # Keras's rule: __main__ is no module


def _serialize_object(obj):
    from ..layers.op_layer import OpLayer

    if isinstance(obj, OpLayer):  # written as the Keras op class, so Keras can read it
        class_name = builtin_objects.op_class_name(obj.op_name)
        return {
            "module": builtin_objects.KERAS_OPS_MODULE,
            "class_name": class_name,
            "config": {"name": obj.name},
            "registered_name": class_name,
        }
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(
            f"get_config() of {type(obj).__name__} must return a dict; it returned "
            f"{type(config).__name__}"
        )
    module, class_name, registered_name = _class_identity(type(obj))
    result = {
        "module": module,
        "class_name": class_name,
        "config": serialize_keras_object(config),
        "registered_name": registered_name,
    }
    build_config = _build_config(obj)
    if build_config is not None:
        result["build_config"] = serialize_keras_object(build_config)
    compile_config = _compile_config(obj)
    if compile_config is not None:
        result["compile_config"] = compile_config
    return result


def _class_identity(cls):
    """(module, class_name, registered_name) as Keras writes them for ``cls``."""
    from ..models.functional import Functional

    if cls is Functional:
        return _FUNCTIONAL
    if cls not in _GLOBAL_CUSTOM_NAMES:
        public = builtin_objects.keras_public_name(cls)
        if public is not None:
            return public[0], public[1], None
    return _user_module(cls), cls.__name__, get_registered_name(cls)


def _build_config(obj):
    from ..models.functional import Functional
    from ..models.sequential import Sequential

    if isinstance(obj, Functional):
        return {"input_shape": None}  # what Keras writes: a functional model builds itself
    if isinstance(obj, Sequential):
        return {"input_shape": obj.input_shape} if obj.built else None
    get_build_config = getattr(obj, "get_build_config", None)
    return get_build_config() if callable(get_build_config) else None


def _compile_config(obj):
    method = getattr(obj, "get_compile_config", None)
    if callable(method):
        return method()
    from ..models.trainer import Trainer
    from .serialization import get_compile_config

    return get_compile_config(obj) if isinstance(obj, Trainer) else None


# -- deserializing -------------------------------------------------------------------------
def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object described by ``config`` (the inverse of :func:`serialize_keras_object`).

    Classes are found by ``registered_name`` among the objects made known (``custom_objects``,
    the registry, an active ``custom_object_scope``), then among shinsou's built-ins by
    ``module`` and ``class_name``. An unknown class is an error that names it. ``safe_mode``
    is accepted for Keras compatibility: shinsou never executes code from a config, whatever
    its value.

    Example:
        >>> config = {"module": "keras.initializers", "class_name": "Constant",
        ...           "config": {"value": 2.0}, "registered_name": None}
        >>> deserialize_keras_object(config).value
        2.0
        >>> deserialize_keras_object({"class_name": "__ellipsis__", "config": {}})
        Ellipsis
    """
    module_objects = kwargs.pop("module_objects", None)
    if kwargs:
        raise TypeError(f"deserialize_keras_object: unexpected arguments {sorted(kwargs)}")
    known = {**(module_objects or {}), **(custom_objects or {})}
    return _deserialize(config, known)


def _deserialize(config, custom_objects):
    if isinstance(config, str):
        found = custom_objects.get(config)
        return found if found is not None else config
    if config is None or isinstance(config, PLAIN_TYPES):
        return config
    if isinstance(config, (list, tuple)):
        return [_deserialize(item, custom_objects) for item in config]
    if not isinstance(config, dict):
        raise TypeError(f"cannot deserialize a {type(config).__name__}: {config!r}")
    if "class_name" not in config or "config" not in config:
        return {key: _deserialize(value, custom_objects) for key, value in config.items()}
    if config["class_name"] in _SPECIAL_FORMS:
        try:
            return _deserialize_special(config, custom_objects)
        except (KeyError, TypeError, AttributeError) as error:
            raise ValueError(
                f"malformed {config['class_name']} entry in a config: {config!r}"
            ) from error
    if config["class_name"] == "function":
        return resolve_function(config, custom_objects)
    return _instantiate(config, custom_objects)


_SPECIAL_FORMS = frozenset(
    [
        "__keras_tensor__",
        "__tensor__",
        "__numpy__",
        "__bytes__",
        "__ellipsis__",
        "__slice__",
        "__lambda__",
        "__typespec__",
    ]
)


def _array(inner, kinds):
    """An array from a config's ``value`` list, of a plain data type (no Python objects)."""
    dtype = numpy.dtype(inner["dtype"])
    if dtype.kind not in kinds:
        raise TypeError(f"dtype {dtype} is not allowed here")
    return numpy.asarray(inner["value"], dtype=dtype)


def _deserialize_special(config, custom_objects):
    class_name, inner = config["class_name"], config["config"] or {}
    if class_name == "__keras_tensor__":
        return KerasTensor(inner["shape"], inner["dtype"])
    if class_name == "__tensor__":
        return as_tensor(_array(inner, "biuf"))
    if class_name == "__numpy__":
        return _array(inner, "biufcSU")
    if class_name == "__bytes__":
        return inner["value"].encode("utf-8")
    if class_name == "__ellipsis__":
        return Ellipsis
    if class_name == "__slice__":
        parts = [_deserialize(inner.get(key), custom_objects) for key in ("start", "stop", "step")]
        return slice(*parts)
    if class_name == "__lambda__":
        raise ValueError(_lambda_message(None))
    raise ValueError("cannot load a TensorFlow TypeSpec: shinsou does not use TensorFlow")


def _lambda_message(where):
    place = f"{where} is" if where else "The config holds"
    return (
        f"{place} a Python lambda stored as bytecode. shinsou never runs code read from a "
        "file — not even with safe_mode=False, which in Keras would allow it. Pass the "
        "function when loading instead"
        + (f": custom_objects={{{where.split()[0]!r}: your_function}}." if where else ".")
    )


def resolve_function(config, custom_objects=None):
    """The function a ``{"class_name": "function", ...}`` config names.

    Example:
        >>> from shinsou import activations
        >>> config = {"module": "keras.activations", "class_name": "function",
        ...           "config": "relu", "registered_name": "relu"}
        >>> resolve_function(config) is activations.relu
        True
    """
    custom_objects = custom_objects or {}
    name, registered_name = config["config"], config.get("registered_name")
    for key in (registered_name, name):
        found = get_registered_object(key, custom_objects) if key else None
        if found is not None:
            return found
    found = builtin_objects.find_builtin(config.get("module"), name, function=True)
    if found is not None:
        return found
    # Keras <= 3.6 saved registered functions by bare name: accept "package>name" matches.
    for source in (custom_objects, _known_names()):
        for key, value in source.items():
            if isinstance(key, str) and key.endswith(f">{name}"):
                return value
    raise UnknownObjectError(_unknown_message("function", name, config))


def _known_names():
    from ..utils.object_registration import _GLOBAL_CUSTOM_OBJECTS, _scope_objects

    return {**_GLOBAL_CUSTOM_OBJECTS, **_scope_objects}


def _unknown_message(kind, name, config):
    module = config.get("module")
    origin = f" from module '{module}'" if module else ""
    return (
        f"Unknown {kind} '{name}'{origin}: it is not a shinsou built-in and was not made known. "
        f"Pass it when loading, e.g. custom_objects={{{name!r}: {name}}}, or decorate it with "
        "@shinsou.saving.register_keras_serializable()."
    )


def resolve_class(config, custom_objects=None):
    """The class a ``{"class_name", "module", "registered_name"}`` config names.

    Example:
        >>> resolve_class({"module": "keras.layers", "class_name": "Dense"}).__name__
        'Dense'
    """
    custom_objects = custom_objects or {}
    class_name = config["class_name"]
    registered_name = config.get("registered_name", class_name)
    if registered_name:
        found = get_registered_object(registered_name, custom_objects)
        if found is not None:
            return found
    # Configs written before Keras 3 have no "module": search every built-in module.
    module = config.get("module", "keras.src")
    found = builtin_objects.find_builtin(module, class_name)
    if found is not None:
        return found
    found = get_registered_object(class_name, custom_objects)
    if found is not None:
        return found
    raise UnknownObjectError(_unknown_message("class", class_name, config))


def _instantiate(config, custom_objects):
    from ..layers.op_layer import OpLayer

    class_name = config["class_name"]
    inner = dict(config["config"] or {})
    if str(config.get("module")).startswith("keras.src.ops"):
        op_name = builtin_objects.op_name_for(class_name)
        if op_name is None:
            raise UnknownObjectError(_unknown_message("operation", class_name, config))
        return OpLayer(op_name, name=inner.get("name"))
    cls = resolve_class(config, custom_objects)
    if inspect.isfunction(cls):
        return cls
    _substitute_lambdas(inner, custom_objects)
    with CustomObjectScope(custom_objects):
        instance = _from_config(cls, inner)
        build_config = config.get("build_config")
        if build_config and not getattr(instance, "built", True):
            instance.build_from_config(_shapes_as_tuples(build_config))
            instance.built = True
        compile_config = config.get("compile_config")
        if compile_config:
            _compile_from_config(instance, compile_config)
    return instance


def _shapes_as_tuples(value):
    """JSON turns shape tuples into lists; give ``build`` the tuples it was called with."""
    if isinstance(value, dict):
        return {key: _shapes_as_tuples(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        if all(size is None or isinstance(size, int) for size in value):
            return tuple(value)
        return [_shapes_as_tuples(item) for item in value]
    return value


def _substitute_lambdas(inner, custom_objects):
    """Replace each lambda stored as bytecode in an object's config by the function the
    user passed under the object's name (``"name"`` for its ``function``, else
    ``"name.key"``); there is no other way to get it back without running the bytecode."""
    owner = inner.get("name")
    for key, value in inner.items():
        if not (isinstance(value, dict) and value.get("class_name") == "__lambda__"):
            continue
        if not isinstance(owner, str):
            raise ValueError(_lambda_message(None))
        candidates = [f"{owner}.{key}"] + ([owner] if key == "function" else [])
        found = None
        for candidate in candidates:
            found = get_registered_object(candidate, custom_objects)
            if found is not None:
                break
        if found is None:
            raise ValueError(_lambda_message(f"{candidates[-1]} (argument '{key}' of '{owner}')"))
        inner[key] = found


def _from_config(cls, inner):
    from_config = getattr(cls, "from_config", None)
    if from_config is None:
        raise TypeError(f"cannot rebuild a {cls.__name__}: the class has no from_config()")
    try:
        return from_config(inner)
    except UnknownObjectError:
        raise  # a class named inside the config: already the right message
    except TypeError as error:
        raise TypeError(
            f"{cls.__name__}.from_config() could not rebuild the object from its config "
            f"({error}). If get_config() returns keys that differ from the constructor's "
            "arguments, or holds nested objects, define from_config() to rebuild them."
        ) from error


def _compile_from_config(model, compile_config):
    method = getattr(model, "compile_from_config", None)
    if callable(method):
        method(compile_config)
    else:
        from .serialization import compile_from_config

        compile_from_config(model, compile_config)
