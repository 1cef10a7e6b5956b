"""CSVLogger: header of sorted keys, one row per epoch, append mode."""

import numpy as np
import pytest

from shinsou.callbacks import CSVLogger


def test_writes_a_header_and_a_row_per_epoch(model, fit, tmp_path):
    path = tmp_path / "log.csv"
    epochs = [{"loss": 0.5, "val_loss": 0.75, "accuracy": 0.25}, {"loss": 0.25, "val_loss": 0.5}]
    fit(model, [CSVLogger(path)], epochs)
    assert path.read_text().splitlines() == [
        "epoch,accuracy,loss,val_loss",
        "0,0.25,0.5,0.75",
        "1,NA,0.25,0.5",
    ]


def test_append_continues_the_file_without_a_second_header(model, fit, tmp_path):
    path = tmp_path / "log.tsv"
    fit(model, [CSVLogger(path, separator="\t")], [{"loss": 0.5}])
    fit(model, [CSVLogger(path, separator="\t", append=True)], [{"loss": 0.25}])
    assert path.read_text().splitlines() == ["epoch\tloss", "0\t0.5", "0\t0.25"]


def test_array_values_become_bracketed_lists(model, fit, tmp_path):
    path = tmp_path / "log.csv"
    fit(model, [CSVLogger(path)], [{"loss": np.float32(0.5), "f1": np.array([0.5, 0.25])}])
    assert path.read_text().splitlines()[1] == '0,"[0.5, 0.25]",0.5'


def test_csv_logger_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"separator must be a single character.*'::'"):
        CSVLogger("log.csv", separator="::")
    with pytest.raises(TypeError, match=r"filename must be a non-empty path, received 3"):
        CSVLogger(3)
