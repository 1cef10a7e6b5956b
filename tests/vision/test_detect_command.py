"""`shinsou detect` on a tiny budget: options, the printed metric and the files it writes."""

import argparse

import pytest
from matplotlib.image import imread

from shinsou import cli
from shinsou.vision import detect_command


def parse(*argv):
    parser = argparse.ArgumentParser()
    detect_command.add_arguments(parser)
    return parser.parse_args(argv)


def test_tiny_run_prints_coco_metrics_and_writes_pictures_and_weights(tmp_path, capsys):
    args = parse(
        "--epochs", "1", "--train-size", "16", "--test-size", "8", "--image-size", "32",
        "--batch-size", "8", "--output", str(tmp_path),
    )  # fmt: skip
    assert detect_command.run(args) == 0
    printed = capsys.readouterr().out
    assert "COCO AP@[.5:.95]" in printed and "AP50" in printed
    for name in (detect_command.DETECTIONS_FILE, detect_command.GROUND_TRUTH_FILE):
        picture = imread(tmp_path / name)
        assert picture.shape[0] > 100 and picture.std() > 0.01, name
    assert (tmp_path / detect_command.WEIGHTS_FILE).stat().st_size > 10_000


def test_registered_in_the_command_line(capsys):
    assert cli.main(["detect", "--help"]) == 0
    assert "--train-size" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--epochs", "0"], ["--train-size", "-3"]])
def test_bad_options_are_refused(argv, capsys):
    with pytest.raises(SystemExit):
        parse(*argv)
    assert "must be a positive integer" in capsys.readouterr().err


def test_image_size_must_be_a_multiple_of_eight(tmp_path, capsys):
    args = parse("--image-size", "30", "--output", str(tmp_path))
    assert detect_command.run(args) == 2
    assert "multiple of 8" in capsys.readouterr().err
