"""Progress output: Keras 3's line format, whole lines only when stdout is not a terminal,
in-place redraws (rendered by rich) on a terminal."""

import re

import pytest

from shinsou.callbacks import CallbackList, EarlyStopping, Progbar, ProgbarLogger
from shinsou.callbacks.progbar import _format_duration, _format_time_per_unit, print_msg

BAR = "━" * 20
EPOCH_LOGS = [
    {"loss": 0.5, "accuracy": 0.75, "val_loss": 0.625, "val_accuracy": 0.5},
    {"loss": 0.25, "accuracy": 0.875, "val_loss": 0.5, "val_accuracy": 0.625},
]
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # every control character but "\n"


def _time(unit="step"):
    return rf"\d+(?:us|ms|s)/{unit}"


def test_verbose_1_without_a_terminal_prints_one_whole_line_per_epoch(model, fit, capsys):
    fit(model, [], EPOCH_LOGS, steps=3, verbose=1)
    out = capsys.readouterr().out
    assert not CONTROL.search(out)
    lines = out.splitlines()
    assert len(lines) == 4
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert re.fullmatch(
        rf"3/3 {BAR} \d+s {_time()} - accuracy: 0\.7500 - loss: 0\.5000 - "
        r"val_accuracy: 0\.5000 - val_loss: 0\.6250",
        lines[1],
    )
    assert lines[3].endswith(
        "accuracy: 0.8750 - loss: 0.2500 - val_accuracy: 0.6250 - val_loss: 0.5000"
    )


def test_verbose_2_prints_the_keras_summary_line(model, fit, capsys):
    fit(model, [], EPOCH_LOGS, steps=3, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2"
    assert re.fullmatch(
        rf"3/3 - \d+s - {_time()} - accuracy: 0\.7500 - loss: 0\.5000 - "
        r"val_accuracy: 0\.5000 - val_loss: 0\.6250",
        lines[1],
    )


def test_one_epoch_has_no_epoch_header_and_numbers_are_right_aligned(model, fit, capsys):
    fit(model, [], [{"loss": 0.5}], steps=12, verbose=2)
    (line,) = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf"12/12 - \d+s - {_time()} - loss: 0\.5000", line)


def test_messages_of_other_callbacks_get_lines_of_their_own(model, fit, capsys):
    stopper = EarlyStopping(monitor="loss", patience=0, verbose=1)
    fit(model, [stopper], [{"loss": 0.5}, {"loss": 0.6}, {"loss": 0.7}], verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/3" and lines[2] == "Epoch 2/3"
    assert lines[-1] == "Epoch 2: early stopping"


def test_evaluate_shows_a_bar_and_validation_inside_fit_stays_silent(capsys):
    logger = ProgbarLogger()
    evaluate = CallbackList([logger], verbose=1, steps=4, mode="test")
    evaluate.on_test_begin()
    for step in range(4):
        evaluate.on_test_batch_begin(step)
        evaluate.on_test_batch_end(step, {"loss": 0.5, "accuracy": 0.25})
    evaluate.on_test_end({"loss": 0.5, "accuracy": 0.25})
    (line,) = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf"4/4 {BAR} \d+s {_time()} - accuracy: 0\.2500 - loss: 0\.5000", line)

    in_fit = CallbackList([ProgbarLogger()], verbose=1, epochs=1, steps=1)
    in_fit.on_train_begin()
    in_fit.on_test_begin()
    in_fit.on_test_batch_end(0, {"loss": 1.0})
    in_fit.on_test_end({"loss": 1.0})
    assert capsys.readouterr().out == ""


def test_predict_shows_a_bar_without_values(capsys):
    predict = CallbackList(None, add_progbar=True, verbose=1, steps=2, mode="predict")
    predict.on_predict_begin()
    for step in range(2):
        predict.on_predict_batch_end(step, {"outputs": [1.0, 2.0]})
    predict.on_predict_end()
    (line,) = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf"2/2 {BAR} \d+s {_time()}", line)


def test_a_terminal_gets_in_place_redraws_with_colours(model, fit, terminal, monkeypatch):
    monkeypatch.setattr(Progbar, "__init__", _no_throttle(Progbar.__init__))
    stream = terminal()
    fit(model, [], EPOCH_LOGS[:1], steps=3, verbose=1)
    out = stream.getvalue()
    assert out.count("\r") >= 4 and "\x1b[32m" in out  # redrawn, green bar
    redraws = out.split("\r")
    plain = [re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", part) for part in redraws]
    assert plain[0] == ""  # each redraw starts at the line's start
    assert re.fullmatch(
        rf"1/3 {'━' * 20} 0s {_time()} - accuracy: 0\.7500 - loss: 0\.7000", plain[1]
    )
    assert plain[-1].endswith("val_loss: 0.6250\n") and plain[-1].count("\n") == 1


def test_a_message_clears_the_unfinished_bar_line_first(terminal):
    stream = terminal()
    bar = Progbar(target=10, interval=0)
    bar.update(3, [("loss", 1.0)])
    print_msg("Epoch 1: saving model to best.keras")
    out = stream.getvalue()
    assert out.endswith("\r\x1b[0KEpoch 1: saving model to best.keras\n")


def test_progbar_averages_stateless_values_and_keeps_stateful_ones():
    bar = Progbar(target=10, verbose=0, stateful_metrics=["acc"])
    bar.update(2, [("loss", 1.0), ("acc", 0.2)])
    bar.update(6, [("loss", 4.0), ("acc", 0.6)])
    assert bar.average("loss") == pytest.approx((1.0 * 2 + 4.0 * 4) / 6)
    assert bar.average("acc") == 0.6
    bar.update(10, [("loss", 3.5)])  # the final values are taken as they are
    assert bar.average("loss") == 3.5


def test_progbar_formats(capsys):
    bar = Progbar(target=None, verbose=1)
    bar.update(5, [("tiny", 1e-5), ("name", "adam")], finalize=True)
    (line,) = capsys.readouterr().out.splitlines()
    assert re.fullmatch(rf"      5/Unknown \d+s {_time()} - tiny: 1\.0000e-05 - name: adam", line)
    assert [_format_duration(s) for s in (42.9, 125, 3725)] == ["42s", "2:05", "1:02:05"]
    assert [_format_time_per_unit(s, "step") for s in (0, 2.2, 0.0061, 4e-5)] == [
        "0s/step",
        "2s/step",
        "6ms/step",
        "40us/step",
    ]


def test_progbar_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"verbose must be 0, 1 or 2, received 3"):
        Progbar(10, verbose=3)
    with pytest.raises(TypeError, match=r"target must be an int or None, received '10'"):
        Progbar("10")
    with pytest.raises(ValueError, match=r"not both"):
        Progbar(10, stateful_metrics=["a"], stateless_metrics=["b"])


def _no_throttle(init):
    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.interval = 0.0

    return patched
