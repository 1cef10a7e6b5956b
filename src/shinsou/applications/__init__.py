"""The model zoo (``keras.applications`` and the lecture's classic networks).

Every module of this package defines ``__all__``; they are re-exported here.

Example:
    >>> from shinsou import applications
    >>> callable(applications.__name__.upper)
    True
"""

import importlib

# Each family lives in its own module; a module that is not there yet is skipped, so that
# the package imports while the zoo grows.
_FAMILIES = (
    "imagenet_utils",
    "vgg16",
    "vgg19",
    "resnet",
    "resnet50",
    "resnet_v2",
    "densenet",
    "inception_v3",
    "mobilenet_v2",
    "torchvision_models",
    "lenet",
    "cifar_resnet",
    "unet",
    "wavenet",
    "seq2seq",
    "seq2seq_decoding",
    "gan",
    "conditional_gan",
)

__all__ = []
for _family in _FAMILIES:
    try:
        _module = importlib.import_module(f"{__name__}.{_family}")
    except ModuleNotFoundError as _error:
        if _error.name != f"{__name__}.{_family}":
            raise
        continue
    for _name in getattr(_module, "__all__", ()):
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)
