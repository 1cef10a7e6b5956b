"""EarlyStopping and TerminateOnNaN, driven through a CallbackList as fit drives them."""

from types import SimpleNamespace

import numpy as np
import pytest

from shinsou.callbacks import CallbackList, EarlyStopping, LambdaCallback, TerminateOnNaN


def _losses(*values, key="val_loss"):
    return [{"loss": 1.0, key: value} for value in values]


def test_stops_after_patience_epochs_without_improvement(model, fit):
    stopper = EarlyStopping(patience=2)
    history = fit(model, [stopper], _losses(0.9, 0.8, 0.85, 0.81, 0.7, 0.6))
    assert history.epoch == [0, 1, 2, 3]
    assert stopper.stopped_epoch == 3 and stopper.best == 0.8 and model.stop_training


def test_min_delta_counts_small_changes_as_no_improvement(model, fit):
    stopper = EarlyStopping(monitor="val_loss", min_delta=0.05, patience=1)
    history = fit(model, [stopper], _losses(1.0, 0.97, 0.96, 0.5))
    assert history.epoch == [0, 1]


@pytest.mark.parametrize(
    "monitor",
    ["val_accuracy", "val_auc", "sparse_categorical_accuracy", "val_precision", "recall"],
)
def test_auto_mode_maximizes_accuracy_like_names(model, fit, monitor):
    stopper = EarlyStopping(monitor=monitor, patience=0)
    history = fit(model, [stopper], _losses(0.5, 0.6, 0.55, 0.9, key=monitor))
    assert history.epoch == [0, 1, 2] and stopper.best == 0.6


def test_auto_mode_follows_a_metric_that_declares_its_direction(fit):
    model = SimpleNamespace(metrics=[SimpleNamespace(name="dice", _direction="up")])
    stopper = EarlyStopping(monitor="val_dice", patience=0)
    history = fit(model, [stopper], _losses(0.5, 0.7, 0.6, key="val_dice"))
    assert history.epoch == [0, 1, 2] and stopper.best == 0.7


def test_auto_mode_refuses_to_guess(model, fit):
    with pytest.raises(ValueError, match=r"monitor='val_dice'.*mode='min' or mode='max'"):
        fit(model, [EarlyStopping(monitor="val_dice")], _losses(0.5, key="val_dice"))


def test_restore_best_weights_puts_back_the_best_epochs_weights(model, fit, capsys):
    snapshots = []

    def change_weights(epoch, logs):
        weights = [np.full_like(w, epoch) for w in model.get_weights()]
        model.set_weights(weights)
        snapshots.append(weights)

    stopper = EarlyStopping(patience=1, restore_best_weights=True, verbose=1)
    fit(model, [LambdaCallback(on_epoch_end=change_weights), stopper], _losses(0.5, 0.3, 0.4, 0.6))
    assert stopper.best_epoch == 1
    for restored, best in zip(model.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(restored, best)
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 3: early stopping",
        "Restoring model weights from the end of the best epoch: 2.",
    ]


def test_baseline_must_be_beaten_to_reset_patience(model, fit):
    values = (0.9, 0.8, 0.7, 0.75, 0.6)
    assert fit(model, [EarlyStopping(patience=2)], _losses(*values)).epoch == [0, 1, 2, 3, 4]
    # Improvements that miss the baseline use up patience: the first setback stops training.
    stopper = EarlyStopping(patience=2, baseline=0.5)
    assert fit(model, [stopper], _losses(*values)).epoch == [0, 1, 2, 3]


def test_start_from_epoch_skips_the_warm_up(model, fit):
    stopper = EarlyStopping(monitor="loss", patience=0, start_from_epoch=2)
    epochs = [{"loss": value} for value in (0.5, 0.9, 0.8, 0.85, 0.1)]
    history = fit(model, [stopper], epochs)
    assert history.epoch == [0, 1, 2, 3]


def test_the_same_object_serves_a_second_fit(model, fit):
    stopper = EarlyStopping(patience=0)
    fit(model, [stopper], _losses(0.5, 0.6))
    history = fit(model, [stopper], _losses(0.9, 0.8, 0.7))
    assert history.epoch == [0, 1, 2] and stopper.stopped_epoch == 0


def test_a_missing_monitor_warns_and_keeps_training(model, fit):
    with pytest.warns(UserWarning, match=r"'val_loss', which is not available.*loss"):
        history = fit(model, [EarlyStopping(patience=0)], [{"loss": 1.0}] * 3)
    assert history.epoch == [0, 1, 2]


def test_early_stopping_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"mode must be one of \('auto', 'min', 'max'\)"):
        EarlyStopping(mode="minimum")
    with pytest.raises(ValueError, match=r"patience must be a non-negative integer.*-1"):
        EarlyStopping(patience=-1)
    with pytest.raises(ValueError, match=r"baseline must be a number.*'low'"):
        EarlyStopping(baseline="low")
    with pytest.raises(ValueError, match=r"monitor must be the name"):
        EarlyStopping(monitor=None)


def test_terminate_on_nan_stops_after_the_bad_batch(model, capsys):
    callback_list = CallbackList([TerminateOnNaN()], model=model)
    callback_list.on_train_batch_end(0, {"loss": 0.5})
    assert not model.stop_training
    callback_list.on_train_batch_end(1, {"loss": np.float32("inf")})
    assert model.stop_training
    assert capsys.readouterr().out == "Batch 1: Invalid loss, terminating training\n"


def test_terminate_on_nan_can_raise(model):
    callback_list = CallbackList([TerminateOnNaN(raise_error=True)], model=model)
    with pytest.raises(RuntimeError, match=r"NaN or Inf loss encountered at batch 4"):
        callback_list.on_train_batch_end(4, {"loss": float("nan")})
