"""Shared pieces of the callback tests: a small real model that records its saves, an
optimizer stand-in, and a loop that drives a CallbackList exactly as ``Trainer.fit`` does."""

import io
import os
import sys

import numpy as np
import pytest

import shinsou
from shinsou import Variable, layers
from shinsou.callbacks import CallbackList


class FakeTerminal(io.StringIO):
    """A stdout that says it is a terminal, to see what a user's terminal would receive."""

    def isatty(self):
        return True


class StubOptimizer:
    """What the callbacks use of an optimizer: a learning rate, and state variables."""

    def __init__(self, learning_rate=0.01, slots=()):
        self.learning_rate = learning_rate
        self.built = False
        self._slot_shapes = list(slots)
        self.variables = []

    def build(self, variables):
        self.variables = [Variable(np.zeros((), "int64"), name="iterations")]
        self.variables += [Variable(np.zeros(shape, "float32")) for shape in self._slot_shapes]
        self.built = True


class RecordingModel(shinsou.Sequential):
    """A real Sequential (so get_weights/set_weights are real) whose save methods write a
    small file and record their calls."""

    def __init__(self, units=(3, 2), input_dim=4, name="recording"):
        super().__init__(
            [shinsou.Input((input_dim,)), *(layers.Dense(u) for u in units)], name=name
        )
        self.saved = []
        self.optimizer = StubOptimizer(slots=[w.shape for w in self.trainable_weights])

    def save(self, filepath, overwrite=True, **kwargs):
        self.saved.append(("model", os.fspath(filepath)))
        with open(filepath, "w") as file:
            file.write("model")

    def save_weights(self, filepath, overwrite=True):
        self.saved.append(("weights", os.fspath(filepath)))
        with open(filepath, "w") as file:
            file.write("weights")


def drive_fit(model, callbacks, epoch_logs, steps=2, verbose=0, initial_epoch=0):
    """Call the hooks in Trainer.fit's order for ``len(epoch_logs)`` epochs; batch ``b`` of
    an epoch logs the epoch's training values, its loss raised by ``0.1 * (steps - 1 - b)``
    (a running mean settling on the epoch's value). Starts at
    ``model._initial_epoch`` when a callback set it (the hook BackupAndRestore uses).
    Returns the History."""
    epochs = len(epoch_logs)
    callback_list = CallbackList(
        callbacks,
        add_history=True,
        add_progbar=verbose != 0,
        model=model,
        verbose=verbose,
        epochs=epochs,
        steps=steps,
    )
    model.stop_training = False
    callback_list.on_train_begin()
    start = getattr(model, "_initial_epoch", None) or initial_epoch
    model._initial_epoch = None
    logs = {}
    for epoch in range(start, epochs):
        callback_list.on_epoch_begin(epoch)
        for step in range(steps):
            callback_list.on_train_batch_begin(step)
            batch_logs = {
                key: value for key, value in epoch_logs[epoch].items() if key[:4] != "val_"
            }
            batch_logs["loss"] = batch_logs.get("loss", 1.0) + 0.1 * (steps - 1 - step)
            callback_list.on_train_batch_end(step, batch_logs)
            if model.stop_training:
                break
        logs = dict(epoch_logs[epoch])
        callback_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return callback_list.history


@pytest.fixture
def model():
    return RecordingModel()


@pytest.fixture
def fit():
    return drive_fit


@pytest.fixture
def terminal(monkeypatch):
    """Call it inside the test (pytest's capture resets sys.stdout after fixture setup)."""

    def install():
        stream = FakeTerminal()
        monkeypatch.setattr(sys, "stdout", stream)
        return stream

    return install
