"""Callbacks (``keras.callbacks``): hooks into ``fit``, ``evaluate`` and ``predict``.

Example:
    >>> from shinsou import callbacks
    >>> stop = callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    >>> save = callbacks.ModelCheckpoint("best.keras", save_best_only=True)
    >>> [type(c).__name__ for c in (stop, save)]
    ['EarlyStopping', 'ModelCheckpoint']
"""

from .callback import Callback, LambdaCallback
from .callback_list import CallbackList, History
from .checkpoint import BackupAndRestore, ModelCheckpoint
from .csv_logger import CSVLogger
from .learning_rate import LearningRateScheduler, ReduceLROnPlateau
from .progbar import Progbar, ProgbarLogger
from .stopping import EarlyStopping, TerminateOnNaN

__all__ = [
    "BackupAndRestore",
    "CSVLogger",
    "Callback",
    "CallbackList",
    "EarlyStopping",
    "History",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "Progbar",
    "ProgbarLogger",
    "ReduceLROnPlateau",
    "TerminateOnNaN",
]
