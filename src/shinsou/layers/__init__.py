"""Keras layers (``keras.layers``), channels-last.

Example:
    >>> from shinsou import layers
    >>> layers.Dense(10).units
    10
"""

from .activation import *  # noqa: F403
from .attention import *  # noqa: F403
from .base import InputSpec as InputSpec
from .base import Layer as Layer
from .conv import *  # noqa: F403
from .conv_depthwise import *  # noqa: F403
from .core import Dense as Dense
from .embedding import *  # noqa: F403
from .input_layer import Input as Input
from .input_layer import InputLayer as InputLayer
from .lambda_layer import *  # noqa: F403
from .merging import *  # noqa: F403
from .normalization import *  # noqa: F403
from .op_layer import OpLayer as OpLayer
from .pooling import *  # noqa: F403
from .preprocessing import *  # noqa: F403
from .recurrent import *  # noqa: F403
from .regularization import *  # noqa: F403
from .reshaping import *  # noqa: F403
from .wrappers import *  # noqa: F403
