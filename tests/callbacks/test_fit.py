"""The callbacks inside the real training loop: model.fit / evaluate / predict."""

import re

import numpy as np
import pytest

import shinsou
from shinsou import callbacks, layers, optimizers

CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


def _data(samples=48):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def _compiled_model(learning_rate=0.01):
    model = shinsou.Sequential(
        [shinsou.Input((4,)), layers.Dense(8, activation="relu"), layers.Dense(2, "softmax")]
    )
    model.compile(
        optimizer=optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def test_fit_evaluate_predict_print_whole_keras_lines(capsys):
    x, y = _data()
    model = _compiled_model()
    history = model.fit(x, y, batch_size=16, epochs=2, validation_split=0.25, verbose=1)
    model.evaluate(x, y, batch_size=16, verbose=1)
    model.predict(x, batch_size=16, verbose=1)
    out = capsys.readouterr().out
    assert not CONTROL.search(out)
    lines = out.splitlines()
    bar, time = "━" * 20, r"\d+s \d+(?:us|ms|s)/step"
    metric = r"\d\.\d{4}"
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert re.fullmatch(
        rf"3/3 {bar} {time} - accuracy: {metric} - loss: {metric} - "
        rf"val_accuracy: {metric} - val_loss: {metric}",
        lines[1],
    )
    assert re.fullmatch(rf"3/3 {bar} {time} - accuracy: {metric} - loss: {metric}", lines[4])
    assert re.fullmatch(rf"3/3 {bar} {time}", lines[5]) and len(lines) == 6
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    shown = float(lines[3].split("loss: ")[1][:6])
    assert history.history["loss"][1] == pytest.approx(shown, abs=1e-4)


def test_early_stopping_and_reduce_lr_in_fit():
    x, y = _data()
    model = _compiled_model(learning_rate=0.01)
    stopper = callbacks.EarlyStopping(monitor="loss", min_delta=10.0, patience=1)
    reducer = callbacks.ReduceLROnPlateau(monitor="loss", min_delta=10.0, patience=1, factor=0.5)
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[stopper, reducer])
    assert history.epoch == [0, 1] and stopper.stopped_epoch == 1
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.01])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.005)


def test_model_checkpoint_writes_files_that_load_back(tmp_path):
    pytest.importorskip("h5py")
    x, y = _data()
    model = _compiled_model()
    weights_path = tmp_path / "best.weights.h5"
    model.fit(
        x,
        y,
        epochs=2,
        verbose=0,
        validation_split=0.25,
        callbacks=[
            callbacks.ModelCheckpoint(weights_path, save_weights_only=True),
            callbacks.ModelCheckpoint(tmp_path / "model-{epoch}.keras"),
        ],
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "best.weights.h5",
        "model-1.keras",
        "model-2.keras",
    ]
    fresh = _compiled_model()
    fresh.optimizer.build(fresh.trainable_variables)  # to take the saved optimizer state too
    fresh.load_weights(weights_path)
    for loaded, trained in zip(fresh.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(loaded, trained)


def _interrupted_run(backup_dir, x, y):
    """Three epochs of a six-epoch fit, then a crash; returns the model as it was then."""

    def crash(epoch, logs):
        if epoch == 3:
            raise KeyboardInterrupt

    model = _compiled_model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(
            x,
            y,
            epochs=6,
            verbose=0,
            callbacks=[
                callbacks.BackupAndRestore(backup_dir),
                callbacks.LambdaCallback(on_epoch_begin=crash),
            ],
        )
    return model


def test_backup_and_restore_brings_back_weights_optimizer_and_epoch(tmp_path):
    x, y = _data()
    before = _interrupted_run(tmp_path / "backup", x, y)
    seen = {}

    def look(logs):
        seen["weights"] = model.get_weights()
        seen["iterations"] = int(model.optimizer.iterations)
        seen["initial_epoch"] = model._initial_epoch

    model = _compiled_model()
    model.fit(
        x,
        y,
        epochs=6,
        verbose=0,
        callbacks=[
            callbacks.BackupAndRestore(tmp_path / "backup"),
            callbacks.LambdaCallback(on_train_begin=look),
        ],
    )
    for restored, saved in zip(seen["weights"], before.get_weights()):
        np.testing.assert_array_equal(restored, saved)
    assert seen["iterations"] == int(before.optimizer.iterations) == 6  # 3 epochs x 2 batches
    assert seen["initial_epoch"] == 3
    assert not (tmp_path / "backup").exists()


def test_backup_and_restore_skips_the_finished_epochs(tmp_path):
    x, y = _data()
    _interrupted_run(tmp_path / "backup", x, y)
    model = _compiled_model()
    history = model.fit(
        x, y, epochs=6, verbose=0, callbacks=[callbacks.BackupAndRestore(tmp_path / "backup")]
    )
    assert history.epoch == [3, 4, 5]
