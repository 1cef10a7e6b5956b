import numpy as np
import pytest

from shinsou.callbacks import History
from shinsou.viz import confusion_matrix, plot_confusion_matrix, plot_history, show_predictions
from shinsou.viz._figures import save_png

pytest.importorskip("matplotlib")

LOGS = {
    "loss": [1.0, 0.6, 0.4],
    "accuracy": [0.5, 0.7, 0.8],
    "val_loss": [1.1, 0.8, 0.7],
    "val_accuracy": [0.4, 0.6, 0.7],
}


def test_plot_history_from_a_history_object(tmp_path, check_png):
    history = History()
    history.on_train_begin()
    for epoch in range(3):
        history.on_epoch_end(epoch, {key: values[epoch] for key, values in LOGS.items()})
    path = tmp_path / "history.png"
    figure = plot_history(history, to_file=path)
    check_png(path)
    assert [axes.get_title() for axes in figure.axes] == ["loss", "accuracy"]
    training, validation = figure.axes[0].get_lines()
    assert training.get_ydata().tolist() == pytest.approx(LOGS["loss"])
    assert validation.get_ydata().tolist() == pytest.approx(LOGS["val_loss"])
    assert training.get_xdata().tolist() == [1, 2, 3]


def test_plot_history_selects_metrics_and_writes_nothing_without_path(tmp_path):
    figure = plot_history(LOGS, metrics="accuracy")
    assert [axes.get_title() for axes in figure.axes] == ["accuracy"]
    assert list(tmp_path.iterdir()) == []


def test_plot_history_bad_input():
    with pytest.raises(ValueError, match=r"plot_history: no values logged for \['f1'\]"):
        plot_history(LOGS, metrics=["f1"])
    with pytest.raises(ValueError, match="plot_history: the history is empty"):
        plot_history({})
    with pytest.raises(TypeError, match="plot_history: expected a History"):
        plot_history([0.1, 0.2])


def test_save_is_atomic_and_keeps_the_old_file_on_failure(tmp_path):
    path = tmp_path / "curves.png"
    figure = plot_history(LOGS, to_file=path)
    before = path.read_bytes()

    def broken_savefig(*args, **kwargs):
        raise RuntimeError("disk full")

    figure.savefig = broken_savefig
    with pytest.raises(RuntimeError, match="disk full"):
        save_png(figure, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]
    with pytest.raises(TypeError, match="to_file must be a path"):
        save_png(figure, 3)


def test_confusion_matrix_counts():
    true = [0, 0, 1, 1, 2, 2, 2]
    predicted = [0, 1, 1, 1, 2, 0, 2]
    expected = [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    assert confusion_matrix(true, predicted).tolist() == expected
    scores = np.eye(3, dtype="float32")[predicted] * 0.9 + 0.05
    assert confusion_matrix(np.eye(3)[true], scores).tolist() == expected
    assert confusion_matrix([0], [0], num_classes=3).shape == (3, 3)


def test_plot_confusion_matrix_writes_counts(tmp_path, check_png):
    rng = np.random.default_rng(0)
    true = rng.integers(0, 4, 200)
    predicted = np.where(rng.random(200) < 0.7, true, rng.integers(0, 4, 200))
    path = tmp_path / "confusion.png"
    figure = plot_confusion_matrix(true, predicted, class_names=list("abcd"), to_file=path)
    check_png(path)
    counts = confusion_matrix(true, predicted)
    texts = sorted(int(text.get_text()) for text in figure.axes[0].texts)
    assert texts == sorted(counts.ravel().tolist())
    normalized = plot_confusion_matrix(true, predicted, normalize="true")
    shown = normalized.axes[0].images[0].get_array()
    np.testing.assert_allclose(shown.sum(axis=1), 1.0, rtol=1e-5)


def test_plot_confusion_matrix_bad_input():
    with pytest.raises(ValueError, match=r"normalize must be one of \(None, 'true', 'pred'"):
        plot_confusion_matrix([0, 1], [0, 1], normalize="rows")
    with pytest.raises(ValueError, match="as many samples; received 3 and 2"):
        plot_confusion_matrix([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="labels go up to 2 but num_classes=2"):
        plot_confusion_matrix([0, 2], [0, 1], class_names=["a", "b"])


def test_show_predictions_marks_wrong_ones_in_red(tmp_path, check_png):
    images = np.random.default_rng(0).random((6, 8, 8, 1)).astype("float32")
    labels = np.array([0, 1, 2, 0, 1, 2])
    scores = np.eye(3, dtype="float32")[[0, 1, 1, 0, 2, 2]]
    path = tmp_path / "predictions.png"
    figure = show_predictions(images, labels, scores, class_names=["a", "b", "c"], to_file=path)
    check_png(path)
    colours = [axes.title.get_color() for axes in figure.axes]
    assert colours.count("#d62728") == 2
    assert figure.axes[2].title.get_text() == "b 100%\n(true: c)"
    assert "4 of 6 right" in figure.texts[0].get_text()


def test_show_predictions_bad_input():
    with pytest.raises(ValueError, match="as many samples; received 2, 3 and 3"):
        show_predictions(np.zeros((2, 4, 4)), [0, 1, 1], [0, 1, 1])
    with pytest.raises(ValueError, match=r"images must have shape \(N, H, W\)"):
        show_predictions(np.zeros((2, 4)), [0, 1], [0, 1])
    with pytest.raises(ValueError, match="class_names has 1 names but labels go up to 1"):
        show_predictions(np.zeros((2, 4, 4)), [0, 1], [0, 1], class_names=["a"])
