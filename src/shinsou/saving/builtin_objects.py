"""Where shinsou's built-in classes and functions are found under their Keras names.

A saved config names a built-in object by a Keras module and a class name
(``{"module": "keras.layers", "class_name": "Dense"}``). Loading looks the name up, at call
time, as an attribute of a fixed list of shinsou modules — never by importing a module that
a file names, so a file cannot make us import or run anything else.

Example:
    >>> from shinsou import layers
    >>> keras_public_name(layers.Dense)
    ('keras.layers', 'Dense')
    >>> find_builtin("keras.layers", "Dense") is layers.Dense
    True
"""

from __future__ import annotations

import importlib
import inspect

# Keras's public module -> the shinsou module holding the same names. The order matters for
# names exported twice (a class found in several modules is saved under the first).
KERAS_MODULES = {
    "keras.layers": "shinsou.layers",
    "keras.initializers": "shinsou.initializers",
    "keras.regularizers": "shinsou.regularizers",
    "keras.constraints": "shinsou.constraints",
    "keras.activations": "shinsou.activations",
    "keras.losses": "shinsou.losses",
    "keras.metrics": "shinsou.metrics",
    "keras.optimizers": "shinsou.optimizers",
    "keras.optimizers.schedules": "shinsou.optimizers.schedules",
    "keras.models": "shinsou.models",
    "keras": "shinsou",
}
# Keras saves these two model classes under the top-level ``keras`` module.
_TOP_LEVEL_CLASSES = ("Model", "Sequential")
# Where a plain function saved with module "builtins" (Keras's default) is looked for.
_FUNCTION_MODULES = ("keras.activations", "keras.losses", "keras.metrics")
# Keras's symbolic-tensor operations (``x + y`` on Inputs) are saved as classes of this
# module; shinsou records them as OpLayer nodes named after the op.
KERAS_OPS_MODULE = "keras.src.ops.numpy"
_OP_CLASS_NAMES = {"divide": "TrueDivide", "getitem": "GetItem"}
_OP_NAMES = {"TrueDivide": "divide", "Divide": "divide", "GetItem": "getitem"}


def _module(shinsou_name):
    """The shinsou module, or None while a colleague's module does not exist yet."""
    try:
        return importlib.import_module(shinsou_name)
    except ImportError:
        return None


def keras_public_name(obj) -> tuple[str, str] | None:
    """``(keras_module, name)`` when ``obj`` (a class or function) is a shinsou built-in.

    Example:
        >>> from shinsou import activations
        >>> keras_public_name(activations.relu)
        ('keras.activations', 'relu')
        >>> keras_public_name(int) is None
        True
    """
    name = getattr(obj, "__name__", None)
    if name is None or not getattr(obj, "__module__", "").startswith("shinsou"):
        return None
    if inspect.isclass(obj) and name in _TOP_LEVEL_CLASSES:
        models = _module("shinsou.models")
        if getattr(models, name, None) is obj:
            return "keras", name
    for keras_name, shinsou_name in KERAS_MODULES.items():
        if getattr(_module(shinsou_name), name, None) is obj:
            return keras_name, name
    return None


def find_builtin(module, name, function=False):
    """The built-in class (or, with ``function=True``, function) saved as ``module.name``.

    ``module`` may be a Keras public module, Keras's default ``"builtins"`` for functions,
    or an internal ``keras.src...`` path, in which case every built-in module is searched.
    Returns None when nothing of that kind has that name.

    Example:
        >>> find_builtin("keras.src.models.functional", "Functional").__name__
        'Functional'
        >>> find_builtin("keras.layers", "os") is None
        True
    """
    if not isinstance(name, str) or not name.isidentifier():
        return None
    if function and module in (None, "builtins"):
        candidates = _FUNCTION_MODULES
    elif module in KERAS_MODULES:
        candidates = (module,)
    elif module is None or module.split(".")[0] in ("keras", "shinsou"):
        candidates = tuple(KERAS_MODULES)
    else:
        return None
    for keras_name in candidates:
        obj = getattr(_module(KERAS_MODULES[keras_name]), name, None)
        if _is_kind(obj, function):
            return obj
    return None


def _is_kind(obj, function) -> bool:
    if function:
        return inspect.isfunction(obj) or isinstance(obj, type(abs))
    return inspect.isclass(obj) and callable(getattr(obj, "from_config", None))


def op_class_name(op_name: str) -> str:
    """Keras's class name for the symbolic op ``op_name`` ("add" -> "Add").

    Example:
        >>> op_class_name("matmul"), op_class_name("divide")
        ('Matmul', 'TrueDivide')
    """
    if op_name in _OP_CLASS_NAMES:
        return _OP_CLASS_NAMES[op_name]
    return "".join(part.capitalize() for part in op_name.split("_"))


def op_name_for(class_name: str) -> str | None:
    """The shinsou op a Keras op class stands for ("Add" -> "add"), or None if unknown.

    Example:
        >>> op_name_for("Subtract"), op_name_for("TrueDivide"), op_name_for("Nope")
        ('subtract', 'divide', None)
    """
    from ..utils.naming import to_snake_case

    name = _OP_NAMES.get(class_name) or to_snake_case(class_name)
    ops = _module("shinsou.ops")
    return name if callable(getattr(ops, name, None)) else None
