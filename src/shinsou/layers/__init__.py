"""Keras layers (``keras.layers``), channels-last.

Example:
    >>> from shinsou import layers
    >>> layers.Dense(10).units
    10
"""

from .activation import *  # noqa: F403
from .attention import *  # noqa: F403
from .base import InputSpec, Layer
from .conv import *  # noqa: F403
from .core import Dense
from .embedding import *  # noqa: F403
from .input_layer import Input, InputLayer
from .merging import *  # noqa: F403
from .normalization import *  # noqa: F403
from .op_layer import OpLayer
from .pooling import *  # noqa: F403
from .preprocessing import *  # noqa: F403
from .recurrent import *  # noqa: F403
from .regularization import *  # noqa: F403
from .reshaping import *  # noqa: F403
from .wrappers import *  # noqa: F403
