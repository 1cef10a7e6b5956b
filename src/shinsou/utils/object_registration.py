"""Custom classes and functions known by name, so saved configs can refer to them.

``@register_keras_serializable(package, name)`` files a class or function under the key
``"package>name"``; configs written later carry that key as their ``registered_name`` and
loading finds the object again without ``custom_objects``. ``custom_object_scope`` makes
objects known for the duration of a ``with`` block only.

Example:
    >>> from shinsou import layers
    >>> @register_keras_serializable(package="demo")
    ... class Doubler(layers.Layer):
    ...     def call(self, inputs):
    ...         return inputs * 2
    >>> get_registered_name(Doubler)
    'demo>Doubler'
    >>> get_registered_object("demo>Doubler") is Doubler
    True
"""

from __future__ import annotations

import inspect

_GLOBAL_CUSTOM_OBJECTS: dict[str, object] = {}
_GLOBAL_CUSTOM_NAMES: dict[object, str] = {}
_scope_objects: dict[str, object] = {}  # what the innermost active CustomObjectScope offers


def register_keras_serializable(package="Custom", name=None):
    """Decorator that registers a class or function under ``"package>name"``.

    ``name`` defaults to the object's ``__name__``. Classes must define ``get_config`` so
    they can be saved. Registering the same key again replaces the earlier object (so
    re-running a notebook cell works).

    Example:
        >>> @register_keras_serializable("demo", name="twice")
        ... def double(x):
        ...     return 2 * x
        >>> get_registered_name(double)
        'demo>twice'
    """
    if not isinstance(package, str) or not package or ">" in package:
        raise ValueError(
            "register_keras_serializable: package must be a non-empty string without '>'; "
            f"received package={package!r}"
        )
    if name is not None and (not isinstance(name, str) or not name or ">" in name):
        raise ValueError(
            "register_keras_serializable: name must be None or a non-empty string without "
            f"'>'; received name={name!r}"
        )

    def decorator(obj):
        if not callable(obj):
            raise TypeError(
                "register_keras_serializable: only classes and functions can be registered; "
                f"received {obj!r}"
            )
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(
                f"register_keras_serializable: class {obj.__name__} has no get_config() "
                "method, so it cannot be saved; define get_config() (and from_config() if its "
                "constructor arguments differ from the config keys)"
            )
        key = f"{package}>{name if name is not None else obj.__name__}"
        _GLOBAL_CUSTOM_OBJECTS[key] = obj
        _GLOBAL_CUSTOM_NAMES[obj] = key
        return obj

    return decorator


def get_registered_name(obj) -> str:
    """The name ``obj`` is saved under: its registered key, else its ``__name__``.

    Example:
        >>> def f(x):
        ...     return x
        >>> get_registered_name(f)
        'f'
    """
    try:
        return _GLOBAL_CUSTOM_NAMES[obj]
    except (KeyError, TypeError):  # unknown, or an unhashable object
        return obj.__name__


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The class or function known as ``name``, or None.

    Looked up, in order, in the active :class:`CustomObjectScope`, the registry of
    :func:`register_keras_serializable`, ``custom_objects`` and ``module_objects``.

    Example:
        >>> get_registered_object("NoSuchThing") is None
        True
        >>> get_registered_object("Mine", custom_objects={"Mine": int}) is int
        True
    """
    for source in (_scope_objects, _GLOBAL_CUSTOM_OBJECTS, custom_objects, module_objects):
        if source and name in source:
            return source[name]
    return None


def get_custom_objects() -> dict:
    """The live registry dict (``"package>name"`` -> object); editing it edits the registry.

    Example:
        >>> isinstance(get_custom_objects(), dict)
        True
    """
    return _GLOBAL_CUSTOM_OBJECTS


class CustomObjectScope:
    """``with CustomObjectScope({"name": obj}):`` makes ``obj`` known to loading by name.

    Scopes nest: an inner scope adds to (and may shadow) the names of the outer ones.

    Example:
        >>> with CustomObjectScope({"Scaled": float}):
        ...     get_registered_object("Scaled") is float
        True
        >>> get_registered_object("Scaled") is None
        True
    """

    def __init__(self, custom_objects=None):
        if custom_objects is not None and not isinstance(custom_objects, dict):
            raise TypeError(
                "CustomObjectScope: custom_objects must be a dict of name -> class or "
                f"function; received {type(custom_objects).__name__}"
            )
        self.custom_objects = dict(custom_objects or {})
        self._outer = None

    def __enter__(self):
        global _scope_objects
        self._outer = _scope_objects
        _scope_objects = {**_scope_objects, **self.custom_objects}
        return self

    def __exit__(self, *exc_info):
        global _scope_objects
        _scope_objects = self._outer


custom_object_scope = CustomObjectScope  # Keras's lowercase alias
