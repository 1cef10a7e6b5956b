"""Callbacks that write the model to disk during training: ModelCheckpoint (the model or its
weights, every epoch or only the best) and BackupAndRestore (resume an interrupted ``fit``).

Example:
    >>> checkpoint = ModelCheckpoint("ckpt/{epoch:02d}-{val_loss:.2f}.weights.h5",
    ...                              save_weights_only=True)
    >>> checkpoint.filepath.format(epoch=3, val_loss=0.1234)
    'ckpt/03-0.12.weights.h5'
"""

from __future__ import annotations

import json
import math
import os
import warnings

import numpy

from .callback import Callback
from .monitor import (
    MODES,
    check_choice,
    check_monitor,
    check_number,
    check_save_freq,
    is_improvement,
    resolve_mode,
)
from .progbar import print_msg


def _path_string(owner, argument, path) -> str:
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise TypeError(f"{owner}: {argument} must be a non-empty path, received {path!r}")
    return os.fspath(path)


class _BatchCounter:
    """Counts training batches across epochs to act every ``save_freq`` of them."""

    def __init__(self, save_freq):
        self.save_freq = save_freq
        self.since_last = 0
        self.last_batch = -1

    def due(self, batch) -> bool:
        if self.save_freq == "epoch":
            return False
        steps = batch + 1 if batch <= self.last_batch else batch - self.last_batch
        self.since_last += steps
        self.last_batch = batch
        if self.since_last >= self.save_freq:
            self.since_last = 0
            return True
        return False


class ModelCheckpoint(Callback):
    """Save the model (``model.save``) or its weights (``model.save_weights``) during
    training (``keras.callbacks.ModelCheckpoint``).

    Args:
        filepath: where to save; may hold ``{epoch:02d}``, ``{batch}`` and log keys such as
            ``{val_loss:.2f}``. Must end in ``.keras`` (whole model) or, with
            ``save_weights_only=True``, in ``.weights.h5``.
        monitor: the logged quantity that decides what "best" is.
        verbose: 1 prints a line at each save decision.
        save_best_only: save only when ``monitor`` improves on the best so far.
        save_weights_only: save the weights only.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (decided from the metric or its name).
        save_freq: ``"epoch"``, or save every this many batches.
        initial_value_threshold: the value to beat for the first save with ``save_best_only``.

    Example:
        >>> ModelCheckpoint("best.keras", save_best_only=True).monitor
        'val_loss'
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__()
        owner = "ModelCheckpoint"
        self.filepath = _path_string(owner, "filepath", filepath)
        check_monitor(owner, monitor)
        check_choice(owner, "mode", mode, MODES)
        check_save_freq(owner, save_freq)
        check_number(owner, "initial_value_threshold", initial_value_threshold, allow_none=True)
        if save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError(
                "ModelCheckpoint: with save_weights_only=True the filepath must end in "
                f"'.weights.h5' (Keras's weights format); received filepath={self.filepath!r}"
            )
        if not save_weights_only and not self.filepath.endswith(".keras"):
            raise ValueError(
                "ModelCheckpoint: the filepath must end in '.keras' to save the whole model "
                "(or pass save_weights_only=True with a '.weights.h5' path); received "
                f"filepath={self.filepath!r}"
            )
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.mode = mode
        self.save_freq = save_freq
        self.best = initial_value_threshold
        self._direction = None
        self._batches = _BatchCounter(save_freq)
        self._current_epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._batches.due(batch):
            self._save(self._current_epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _save(self, epoch, batch, logs):
        logs = logs or {}
        filepath = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, filepath):
            return
        directory = os.path.dirname(filepath)
        if directory:
            os.makedirs(directory, exist_ok=True)
        if os.path.isdir(filepath):
            raise IsADirectoryError(
                f"ModelCheckpoint: filepath {filepath!r} is an existing directory; give a file path"
            )
        if self.save_weights_only:
            self.model.save_weights(filepath, overwrite=True)
        else:
            self.model.save(filepath, overwrite=True)

    def _should_save(self, epoch, logs, filepath) -> bool:
        if not self.save_best_only:
            if self.verbose > 0:
                print_msg(f"Epoch {epoch + 1}: saving model to {filepath}")
            return True
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"ModelCheckpoint: can save the best model only with '{self.monitor}' "
                f"available; the logs have {list(logs)}. Saving anyway.",
                stacklevel=4,
            )
            return True
        if numpy.ndim(current) > 0:
            warnings.warn(
                f"ModelCheckpoint: can save the best model only when '{self.monitor}' is a "
                f"scalar; received {current}. Saving anyway.",
                stacklevel=4,
            )
            return True
        if self._direction is None:
            self._direction = resolve_mode("ModelCheckpoint", self.monitor, self.mode, self.model)
            if self.best is None:
                self.best = math.inf if self._direction == "min" else -math.inf
        best_text = f"{self.best:.5f}"
        if is_improvement(self._direction, current, self.best, 0.0):
            if self.verbose > 0:
                print_msg(
                    f"Epoch {epoch + 1}: {self.monitor} improved from {best_text} to "
                    f"{current:.5f}, saving model to {filepath}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print_msg(f"Epoch {epoch + 1}: {self.monitor} did not improve from {best_text}")
        return False

    def _file_path(self, epoch, batch, logs) -> str:
        fields = dict(logs)
        fields["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            fields["batch"] = batch + 1
        try:
            return self.filepath.format(**fields)
        except KeyError as error:
            raise KeyError(
                f"ModelCheckpoint: cannot fill in filepath {self.filepath!r}: {error} is not "
                f"among the available keys {sorted(fields)}"
            ) from None


class BackupAndRestore(Callback):
    """Back up the training state at each epoch end; a later ``fit`` with the same callback
    and ``backup_dir`` resumes from it (``keras.callbacks.BackupAndRestore``).

    The state — the model's weights, the optimizer's variables and the number of finished
    epochs — lives in one file, ``backup_dir/training_state.npz``, replaced atomically (a
    crash while saving leaves the previous backup intact). At the start of ``fit`` the
    callback restores it and sets ``model._initial_epoch``, where ``fit`` starts counting.

    Args:
        backup_dir: a folder for this run's backup only.
        save_freq: ``"epoch"``, or back up every this many batches as well.
        delete_checkpoint: remove the backup when ``fit`` finishes.

    Example:
        >>> BackupAndRestore("run1/backup").save_freq
        'epoch'
    """

    STATE_FILE = "training_state.npz"

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        self.backup_dir = _path_string("BackupAndRestore", "backup_dir", backup_dir)
        check_save_freq("BackupAndRestore", save_freq)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self._state_path = os.path.join(self.backup_dir, self.STATE_FILE)
        self._batches = _BatchCounter(save_freq)
        self._current_epoch = 0

    def on_train_begin(self, logs=None):
        self._current_epoch = 0
        if os.path.exists(self._state_path):
            self._restore()

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._batches.due(batch):
            self._backup(epoch=self._current_epoch, batch=batch)

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        self._backup(epoch=epoch + 1, batch=-1)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and os.path.exists(self._state_path):
            os.remove(self._state_path)
            if not os.listdir(self.backup_dir):
                os.rmdir(self.backup_dir)

    # -- the state file ---------------------------------------------------------------
    def _optimizer_variables(self) -> list:
        optimizer = getattr(self.model, "optimizer", None)
        return list(getattr(optimizer, "variables", None) or [])

    def _backup(self, epoch, batch):
        arrays = {
            "metadata": numpy.frombuffer(
                json.dumps({"epoch": epoch, "batch": batch}).encode(), dtype=numpy.uint8
            )
        }
        for index, value in enumerate(self.model.get_weights()):
            arrays[f"model_{index}"] = numpy.asarray(value)
        for index, variable in enumerate(self._optimizer_variables()):
            arrays[f"optimizer_{index}"] = numpy.asarray(variable)
        os.makedirs(self.backup_dir, exist_ok=True)
        temporary = os.path.join(self.backup_dir, f".{self.STATE_FILE}.{os.getpid()}.tmp")
        try:
            with open(temporary, "wb") as file:
                numpy.savez(file, **arrays)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self._state_path)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)

    def _restore(self):
        import zipfile  # only to recognise a damaged file

        model = self.model
        if not getattr(model, "built", True):
            raise ValueError(
                f"BackupAndRestore: model '{model.name}' must be built before fit() to restore "
                f"the backup in {self.backup_dir!r}; call it on a batch of data, or build(), first"
            )
        try:
            with numpy.load(self._state_path, allow_pickle=False) as stored:
                state = {key: stored[key] for key in stored.files}
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            raise ValueError(
                f"BackupAndRestore: cannot read the backup {self._state_path!r} ({error}); "
                "delete it to start training afresh"
            ) from None
        metadata = json.loads(state["metadata"].tobytes().decode())
        weights = [state[f"model_{i}"] for i in range(_count(state, "model_"))]
        try:
            model.set_weights(weights)
        except ValueError as error:
            raise ValueError(
                f"BackupAndRestore: the backup in {self.backup_dir!r} was made from a different "
                f"model: {error}"
            ) from None
        self._restore_optimizer(state)
        model._initial_epoch = metadata["epoch"]

    def _restore_optimizer(self, state):
        stored = [state[f"optimizer_{i}"] for i in range(_count(state, "optimizer_"))]
        if not stored:
            return
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None and not getattr(optimizer, "built", True):
            optimizer.build(self.model.trainable_variables)  # its slots must exist to be set
        variables = self._optimizer_variables()
        shapes = [tuple(numpy.shape(v)) for v in variables]
        if shapes != [value.shape for value in stored]:
            raise ValueError(
                f"BackupAndRestore: the optimizer state in {self.backup_dir!r} does not fit "
                f"this model's optimizer: stored shapes {[v.shape for v in stored]}, the "
                f"optimizer has {shapes}"
            )
        for variable, value in zip(variables, stored):
            variable.assign(value)


def _count(state, prefix) -> int:
    return sum(1 for key in state if key.startswith(prefix))
