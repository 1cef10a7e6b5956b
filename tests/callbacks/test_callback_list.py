"""Callback, CallbackList, History and LambdaCallback: the protocol the training loop uses."""

import numpy as np
import pytest

import shinsou
from shinsou.callbacks import (
    Callback,
    CallbackList,
    History,
    LambdaCallback,
    ProgbarLogger,
)


class Recorder(Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def __getattribute__(self, name):
        attribute = super().__getattribute__(name)
        if name.startswith("on_") and callable(attribute):

            def record(*args, **kwargs):
                self.calls.append((name, args, kwargs))
                return attribute(*args, **kwargs)

            return record
        return attribute


def test_defaults_are_added_after_the_users_callbacks(model):
    mine = Callback()
    callback_list = CallbackList(
        [mine], add_history=True, add_progbar=True, model=model, verbose=1, epochs=3, steps=5
    )
    kinds = [type(c) for c in callback_list.callbacks]
    assert kinds == [Callback, History, ProgbarLogger]
    assert mine.model is model and model.history is callback_list.history
    assert mine.params == {"verbose": 1, "epochs": 3, "steps": 5}


def test_an_existing_history_or_progbar_is_reused():
    history, progbar = History(), ProgbarLogger()
    callback_list = CallbackList([history, progbar], add_history=True, add_progbar=True)
    assert callback_list.callbacks == [history, progbar]
    assert callback_list.history is history


def test_evaluate_and_predict_params_default_to_one_epoch():
    callback = Callback()
    CallbackList([callback], verbose=0, steps=4, mode="test")
    assert callback.params == {"verbose": 0, "epochs": 1, "steps": 4}


def test_hooks_receive_empty_dicts_for_missing_logs_and_batch_logs_by_keyword():
    recorder = Recorder()
    callback_list = CallbackList([recorder], epochs=1, steps=1)
    callback_list.on_train_begin()
    callback_list.on_epoch_begin(0)
    callback_list.on_train_batch_begin(0)
    callback_list.on_train_batch_end(0, None)
    callback_list.on_epoch_end(0)
    callback_list.on_train_end()
    names = [name for name, _, _ in recorder.calls]
    assert names == [
        "on_train_begin",
        "on_epoch_begin",
        "on_train_batch_begin",
        "on_batch_begin",  # the Keras 2 name, still called by the default hook
        "on_train_batch_end",
        "on_batch_end",
        "on_epoch_end",
        "on_train_end",
    ]
    assert recorder.calls[2] == ("on_train_batch_begin", (0,), {"logs": {}})
    assert recorder.calls[6] == ("on_epoch_end", (0, {}), {})


def test_batch_logs_are_sorted_python_floats():
    seen = []
    callback_list = CallbackList(
        [LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(logs))]
    )
    logs = {"loss": shinsou.tensor(0.5), "accuracy": np.float32(0.25), "n": np.array(3)}
    callback_list.on_train_batch_end(0, logs)
    assert seen == [{"accuracy": 0.25, "loss": 0.5, "n": 3.0}]
    assert all(type(value) is float for value in seen[0].values())
    assert list(seen[0]) == ["accuracy", "loss", "n"]


def test_epoch_logs_are_ordered_in_place_and_shared_by_all_callbacks():
    def add_key(epoch, logs):
        logs["learning_rate"] = 0.1

    history = History()
    callback_list = CallbackList([LambdaCallback(on_epoch_end=add_key), history])
    logs = {"val_loss": 2.0, "loss": 1.0, "val_accuracy": 0.4, "accuracy": 0.5}
    callback_list.on_train_begin()
    callback_list.on_epoch_end(0, logs)
    expected = ["accuracy", "loss", "val_accuracy", "val_loss", "learning_rate"]
    assert list(logs) == expected and list(history.history) == expected


def test_test_end_logs_are_a_sorted_copy():
    seen = []
    callback_list = CallbackList(
        [LambdaCallback(on_test_end=lambda logs: seen.append(logs))], mode="test"
    )
    logs = {"loss": 1.0, "accuracy": 0.5}
    callback_list.on_test_end(logs)
    assert list(seen[0]) == ["accuracy", "loss"] and list(logs) == ["loss", "accuracy"]


def test_history_records_epochs_and_updates_the_model(model, fit):
    history = fit(model, [], [{"loss": 0.5}, {"loss": 0.25}])
    assert history.epoch == [0, 1] and history.history == {"loss": [0.5, 0.25]}
    assert model.history is history


def test_append_configures_the_callback(model):
    callback_list = CallbackList(None, model=model, verbose=0, epochs=2, steps=1)
    late = Callback()
    callback_list.append(late)
    assert late.model is model and late.params["epochs"] == 2


def test_lambda_callback_accepts_any_hook_by_name():
    events = []
    callback = LambdaCallback(
        on_train_begin=lambda logs: events.append("begin"),
        on_predict_end=lambda logs: events.append("predicted"),
    )
    callback_list = CallbackList([callback], mode="predict")
    callback_list.on_train_begin()
    callback_list.on_predict_end()
    assert events == ["begin", "predicted"]


def test_bad_callbacks_and_arguments_are_reported():
    with pytest.raises(TypeError, match=r"item 1 is str"):
        CallbackList([Callback(), "early_stopping"])
    with pytest.raises(ValueError, match=r"mode must be one of .*'evaluate'"):
        CallbackList(None, mode="evaluate")
    with pytest.raises(TypeError, match=r"unknown hooks \['on_epoch_finish'\]"):
        LambdaCallback(on_epoch_finish=print)
    with pytest.raises(TypeError, match=r"on_epoch_end must be a function, received int"):
        LambdaCallback(on_epoch_end=3)
