"""ReduceLROnPlateau and LearningRateScheduler: the optimizer's rate, and "learning_rate"
in the epoch logs as Keras 3 records it."""

import numpy as np
import pytest

from shinsou import Variable
from shinsou.callbacks import LearningRateScheduler, ReduceLROnPlateau


def _val_losses(*values):
    return [{"loss": 1.0, "val_loss": value} for value in values]


def test_reduces_after_patience_and_logs_the_rate(model, fit, capsys):
    model.optimizer.learning_rate = 0.1
    reducer = ReduceLROnPlateau(factor=0.5, patience=2, verbose=1)
    history = fit(model, [reducer], _val_losses(1.0, 1.0, 1.0, 1.0, 1.0))
    assert history.history["learning_rate"] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05])
    assert model.optimizer.learning_rate == pytest.approx(0.025)
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 3: ReduceLROnPlateau reducing learning rate to 0.05.",
        "Epoch 5: ReduceLROnPlateau reducing learning rate to 0.025.",
    ]


def test_improvement_larger_than_min_delta_resets_the_wait(model, fit):
    model.optimizer.learning_rate = 0.1
    reducer = ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.01)
    fit(model, [reducer], _val_losses(1.0, 0.98, 0.95, 0.945, 0.94))
    assert model.optimizer.learning_rate == pytest.approx(0.05)


def test_cooldown_and_min_lr(model, fit):
    model.optimizer.learning_rate = 0.1
    reducer = ReduceLROnPlateau(factor=0.1, patience=1, cooldown=2, min_lr=0.005)
    history = fit(model, [reducer], _val_losses(*[1.0] * 7))
    # Reduced at the end of epochs 1 and 3 (epoch 2 is cooldown), floored at min_lr; the
    # logs show the rate each epoch trained with.
    assert history.history["learning_rate"] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.005, 0.005, 0.005]
    )


def test_auto_mode_maximizes_accuracy(model, fit):
    model.optimizer.learning_rate = 0.1
    epochs = [{"loss": 1.0, "val_accuracy": value} for value in (0.5, 0.6, 0.7)]
    fit(model, [ReduceLROnPlateau(monitor="val_accuracy", patience=1)], epochs)
    assert model.optimizer.learning_rate == 0.1


def test_reads_and_writes_a_variable_learning_rate(model, fit):
    class VariableRate:
        def __init__(self):
            self._rate = Variable(np.float32(0.2))

        @property
        def learning_rate(self):
            return self._rate

        @learning_rate.setter
        def learning_rate(self, value):
            self._rate.assign(value)

    model.optimizer = VariableRate()
    fit(model, [ReduceLROnPlateau(patience=0, factor=0.5)], _val_losses(1.0, 1.0))
    assert float(model.optimizer.learning_rate.numpy()) == pytest.approx(0.1)


def test_reduce_lr_rejects_bad_arguments(fit):
    with pytest.raises(ValueError, match=r"factor must be in \[0, 1\), received factor=2"):
        ReduceLROnPlateau(factor=2)
    with pytest.raises(ValueError, match=r"cooldown must be a non-negative integer"):
        ReduceLROnPlateau(cooldown=1.5)
    with pytest.raises(ValueError, match=r"min_lr must be >= 0"):
        ReduceLROnPlateau(min_lr=-1.0)
    from types import SimpleNamespace

    with pytest.raises(ValueError, match=r"needs a compiled model whose optimizer"):
        fit(SimpleNamespace(optimizer=None), [ReduceLROnPlateau()], _val_losses(1.0))


def test_scheduler_sets_the_rate_from_epoch_and_rate(model, fit, capsys):
    model.optimizer.learning_rate = 0.01

    def schedule(epoch, lr):
        return lr if epoch < 2 else lr * 0.5

    history = fit(model, [LearningRateScheduler(schedule, verbose=1)], [{"loss": 1.0}] * 4)
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.01, 0.005, 0.0025])
    assert capsys.readouterr().out.splitlines()[2] == (
        "Epoch 3: LearningRateScheduler setting learning rate to 0.005."
    )


def test_scheduler_accepts_a_function_of_the_epoch_only(model, fit):
    fit(model, [LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1))], [{"loss": 1.0}] * 2)
    assert model.optimizer.learning_rate == pytest.approx(0.05)


def test_scheduler_accepts_numpy_and_tensor_results(model, fit):
    fit(model, [LearningRateScheduler(lambda epoch, lr: np.float32(0.5))], [{"loss": 1.0}])
    assert model.optimizer.learning_rate == 0.5


def test_scheduler_rejects_bad_schedules(model, fit):
    with pytest.raises(TypeError, match=r"schedule must be a function.*received float"):
        LearningRateScheduler(0.1)
    bad = LearningRateScheduler(lambda epoch, lr: [lr, lr])
    with pytest.raises(ValueError, match=r"must return a float; at epoch 0 it returned \["):
        fit(model, [bad], [{"loss": 1.0}])
    with pytest.raises(ValueError, match=r"returned None"):
        fit(model, [LearningRateScheduler(lambda epoch, lr: None)], [{"loss": 1.0}])
