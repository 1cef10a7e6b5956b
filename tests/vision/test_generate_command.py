"""``shinsou generate`` (vision.generate_command): options, a tiny run of each GAN writing
its sample grids and printing the quality score, and the error paths."""

import argparse

import pytest

from shinsou.vision.generate_command import FINAL_GRID_FILE, add_arguments, run

pytest.importorskip("matplotlib", reason="matplotlib is not installed")


def parse(*argv):
    parser = argparse.ArgumentParser(prog="shinsou generate")
    add_arguments(parser)
    return parser.parse_args(list(argv))


def test_defaults_and_help():
    args = parse()
    assert (args.epochs, args.conditional, args.digit, args.mnist, args.seed) == (
        15,
        False,
        None,
        None,
        0,
    )
    parser = argparse.ArgumentParser(prog="shinsou generate")
    add_arguments(parser)
    text = parser.format_help()
    for option in ("--epochs", "--conditional", "--digit", "--mnist", "--output", "--seed"):
        assert option in text
    with pytest.raises(SystemExit):
        parse("--digit", "12")


@pytest.mark.parametrize(
    "options, expected",
    [(["--every", "1"], ["samples_epoch_0001.png"]), (["--conditional", "--digit", "4"], [])],
)
def test_tiny_run_writes_grids_and_prints_the_score(tmp_path, capsys, options, expected):
    pytest.importorskip("sklearn", reason="scikit-learn (the embedded digits) is not installed")
    output = tmp_path / "out"
    args = parse("--epochs", "1", "--max-images", "40", "--output", str(output), *options)
    assert run(args) == 0
    names = sorted(path.name for path in output.iterdir())
    assert names == sorted([*expected, FINAL_GRID_FILE])
    assert (output / FINAL_GRID_FILE).stat().st_size > 1000
    printed = capsys.readouterr().out
    assert "confident share" in printed and "Fréchet distance" in printed
    assert ("label accuracy" in printed) == ("--conditional" in options)


def test_errors_are_reported(tmp_path, capsys):
    assert run(parse("--digit", "3", "--output", str(tmp_path))) == 2
    assert "--digit needs --conditional" in capsys.readouterr().err
    missing = tmp_path / "no-such-mnist.npz"
    assert run(parse("--mnist", str(missing), "--output", str(tmp_path / "o"))) == 1
    assert "does not exist" in capsys.readouterr().err
