"""ModelCheckpoint (which files, when) and BackupAndRestore (resuming an interrupted fit)."""

import os

import numpy as np
import pytest

from shinsou.callbacks import BackupAndRestore, LambdaCallback, ModelCheckpoint

from .conftest import RecordingModel


def _val_losses(*values):
    return [{"loss": 1.0, "val_loss": value} for value in values]


def test_saves_every_epoch_with_the_epoch_and_logs_in_the_name(model, fit, tmp_path):
    path = tmp_path / "ckpt" / "model-{epoch:02d}-{val_loss:.2f}.keras"
    fit(model, [ModelCheckpoint(path)], _val_losses(0.5, 0.25))
    expected = [tmp_path / "ckpt" / name for name in ("model-01-0.50.keras", "model-02-0.25.keras")]
    assert model.saved == [("model", str(p)) for p in expected]
    assert all(p.exists() for p in expected)


def test_save_best_only_keeps_improvements(model, fit, tmp_path, capsys):
    path = str(tmp_path / "best.weights.h5")
    checkpoint = ModelCheckpoint(path, save_best_only=True, save_weights_only=True, verbose=1)
    fit(model, [checkpoint], _val_losses(0.5, 0.6, 0.4))
    assert model.saved == [("weights", path), ("weights", path)]
    assert capsys.readouterr().out.splitlines() == [
        f"Epoch 1: val_loss improved from inf to 0.50000, saving model to {path}",
        "Epoch 2: val_loss did not improve from 0.50000",
        f"Epoch 3: val_loss improved from 0.50000 to 0.40000, saving model to {path}",
    ]


def test_accuracy_is_maximized_and_the_threshold_must_be_beaten(model, fit, tmp_path):
    path = str(tmp_path / "best.keras")
    checkpoint = ModelCheckpoint(
        path, monitor="val_accuracy", save_best_only=True, initial_value_threshold=0.55
    )
    epochs = [{"loss": 1.0, "val_accuracy": value} for value in (0.5, 0.6, 0.58, 0.7)]
    fit(model, [checkpoint], epochs)
    assert len(model.saved) == 2 and checkpoint.best == 0.7


def test_save_freq_in_batches(model, fit, tmp_path):
    path = str(tmp_path / "step-{epoch}-{batch}.keras")
    fit(model, [ModelCheckpoint(path, save_freq=3)], _val_losses(1.0, 1.0), steps=4)
    names = [os.path.basename(p) for _, p in model.saved]
    assert names == ["step-1-3.keras", "step-2-2.keras"]


def test_a_missing_monitor_warns_and_saves(model, fit, tmp_path):
    with pytest.warns(UserWarning, match=r"only with 'val_loss' available"):
        fit(model, [ModelCheckpoint(tmp_path / "m.keras", save_best_only=True)], [{"loss": 1}])
    assert len(model.saved) == 1


def test_model_checkpoint_reports_bad_paths_and_arguments(model, fit, tmp_path):
    with pytest.raises(ValueError, match=r"must end in '\.keras'.*'model\.h5'"):
        ModelCheckpoint("model.h5")
    with pytest.raises(ValueError, match=r"must end in '\.weights\.h5'.*'w\.h5'"):
        ModelCheckpoint("w.h5", save_weights_only=True)
    with pytest.raises(ValueError, match=r"save_freq must be 'epoch' or a positive number"):
        ModelCheckpoint("m.keras", save_freq="batch")
    with pytest.raises(TypeError, match=r"filepath must be a non-empty path"):
        ModelCheckpoint(None)
    with pytest.raises(KeyError, match=r"\{val_acc\}.*'val_acc' is not among.*'val_loss'"):
        fit(model, [ModelCheckpoint(str(tmp_path / "{val_acc}.keras"))], _val_losses(0.5))
    (tmp_path / "taken.keras").mkdir()
    with pytest.raises(IsADirectoryError, match=r"is an existing directory"):
        fit(model, [ModelCheckpoint(tmp_path / "taken.keras")], _val_losses(0.5))


class InterruptError(Exception):
    pass


def _interrupt_at(epoch_to_fail):
    def on_epoch_begin(epoch, logs):
        if epoch == epoch_to_fail:
            raise InterruptError

    return LambdaCallback(on_epoch_begin=on_epoch_begin)


def _train_a_little(model):
    """Stand-in for the optimizer: each batch adds 1 to the weights and optimizer state."""

    def on_train_batch_end(batch, logs):
        model.set_weights([w + 1.0 for w in model.get_weights()])
        for variable in model.optimizer.variables:
            variable.assign(variable.numpy() + 1)

    return LambdaCallback(on_train_batch_end=on_train_batch_end)


def test_backup_and_restore_resumes_an_interrupted_fit(fit, tmp_path):
    backup_dir = tmp_path / "backup"
    first = RecordingModel()
    first.optimizer.build(first.trainable_variables)
    with pytest.raises(InterruptError):
        fit(first, [BackupAndRestore(backup_dir), _train_a_little(first), _interrupt_at(3)],
            [{"loss": 1.0}] * 6)  # fmt: skip
    assert os.listdir(backup_dir) == ["training_state.npz"]  # no temporary left behind

    second = RecordingModel()  # a fresh process: new weights, optimizer not built yet
    callback = BackupAndRestore(backup_dir)
    history = fit(second, [callback, _train_a_little(second)], [{"loss": 1.0}] * 6)
    assert history.epoch == [3, 4, 5]  # epochs 0-2 were done before the interruption
    # Restored after 3 epochs of 2 batches, then 3 more epochs: 6 + 6 steps.
    for trained, interrupted in zip(second.get_weights(), first.get_weights()):
        np.testing.assert_allclose(trained, interrupted + 6.0)
    assert [int(v.numpy().flat[0]) for v in second.optimizer.variables[:2]] == [12, 12]
    assert not backup_dir.exists()  # delete_checkpoint=True after a finished fit


def test_backup_every_few_batches_and_keep_the_checkpoint(model, fit, tmp_path):
    backup = BackupAndRestore(tmp_path, save_freq=2, delete_checkpoint=False)
    saved = []
    original = backup._backup
    backup._backup = lambda epoch, batch: (saved.append((epoch, batch)), original(epoch, batch))
    fit(model, [backup], [{"loss": 1.0}] * 2, steps=3)
    assert saved == [(0, 1), (1, -1), (1, 0), (1, 2), (2, -1)]  # every 2nd batch, each epoch end
    assert (tmp_path / "training_state.npz").exists()


def test_restore_refuses_a_backup_of_another_model(fit, tmp_path):
    fit(RecordingModel(units=(3, 2)), [BackupAndRestore(tmp_path, delete_checkpoint=False)],
        [{"loss": 1.0}])  # fmt: skip
    with pytest.raises(ValueError, match=r"was made from a different model"):
        fit(RecordingModel(units=(5, 2)), [BackupAndRestore(tmp_path)], [{"loss": 1.0}])


def test_restore_reports_an_unreadable_backup(model, fit, tmp_path):
    (tmp_path / "training_state.npz").write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match=r"cannot read the backup .*delete it"):
        fit(model, [BackupAndRestore(tmp_path)], [{"loss": 1.0}])


def test_backup_and_restore_rejects_bad_arguments():
    with pytest.raises(TypeError, match=r"backup_dir must be a non-empty path, received ''"):
        BackupAndRestore("")
    with pytest.raises(ValueError, match=r"save_freq must be 'epoch' or a positive number"):
        BackupAndRestore("backup", save_freq=0)
