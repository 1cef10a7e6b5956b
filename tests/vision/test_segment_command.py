"""``shinsou segment`` called directly through its two functions, on tiny budgets."""

import argparse

import numpy
import pytest

from shinsou.vision import segment_command


def parse(*argv):
    parser = argparse.ArgumentParser(prog="shinsou segment")
    segment_command.add_arguments(parser)
    return parser.parse_args(list(argv))


def assert_picture(path):
    import matplotlib.image

    assert path.stat().st_size > 5000
    pixels = matplotlib.image.imread(path)
    assert pixels[..., :3].std() > 0.05  # not blank


def test_options_and_defaults():
    args = parse()
    assert (args.epochs, args.train_size, args.seed, args.fine_tuning) == (None, None, 0, False)
    assert args.output == "shinsou-segment"
    parser = argparse.ArgumentParser(prog="shinsou segment")
    segment_command.add_arguments(parser)
    text = parser.format_help()
    for option in ("--epochs", "--train-size", "--test-size", "--output", "--seed",
                   "--fine-tuning", "--pretrain-size", "--pretrain-epochs"):  # fmt: skip
        assert option in text


def test_segment_trains_reports_and_draws(tmp_path, capsys):
    args = parse("--epochs", "1", "--train-size", "8", "--test-size", "3", "--output",
                 str(tmp_path / "out"), "--seed", "2")  # fmt: skip
    assert segment_command.run(args) == 0
    printed = capsys.readouterr().out
    assert "Pixel accuracy: " in printed and "mean IoU: " in printed
    picture = tmp_path / "out" / segment_command.PICTURE_FILE
    assert f"Masks saved to {picture}" in printed
    assert_picture(picture)


def test_segment_fine_tuning_compares_and_draws_both(tmp_path, capsys):
    args = parse("--fine-tuning", "--epochs", "1", "--train-size", "4", "--test-size", "2",
                 "--pretrain-size", "8", "--pretrain-epochs", "1", "--output",
                 str(tmp_path))  # fmt: skip
    assert segment_command.run(args) == 0
    printed = capsys.readouterr().out
    assert "Fine tuned: pixel accuracy " in printed
    assert "From scratch: pixel accuracy " in printed
    for name in ("fine_tuned", "from_scratch"):
        assert_picture(tmp_path / f"masks_{name}.png")


def test_bad_input_messages(tmp_path, capsys):
    with pytest.raises(SystemExit):
        parse("--epochs", "-3")
    assert "--epochs: must be a positive integer, got -3" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse("--train-size", "many")
    assert "--train-size: must be a positive integer, got many" in capsys.readouterr().err
    args = parse("--output", str(tmp_path))
    args.test_size = 0
    assert segment_command.run(args) == 2
    assert "--test-size must be a positive integer, got 0" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    args = parse("--output", str(blocker / "out"))
    assert segment_command.run(args) == 1
    assert "cannot create the output folder" in capsys.readouterr().err
    assert not numpy.any([path.suffix == ".png" for path in tmp_path.iterdir()])
