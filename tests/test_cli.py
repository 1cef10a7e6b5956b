"""The ``shinsou`` command line: parser, subcommand registry, ``python -m shinsou``, and the
demo (a one-epoch run that writes its files, and the full run's test accuracy)."""

import re
import subprocess
import sys

import numpy as np
import pytest

import shinsou
from shinsou import cli


def test_help_lists_the_subcommands(capsys):
    assert cli.main(["--help"]) == 0
    assert "demo" in capsys.readouterr().out
    assert cli.main([]) == 2  # no subcommand: the help, and a usage status
    assert "usage: shinsou" in capsys.readouterr().out
    assert cli.main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"shinsou {shinsou.__version__}"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--epochs", "0"], "argument --epochs: must be a positive integer, got 0"),
        (["demo", "--epochs", "many"], "must be a positive integer, got many"),
        (["train"], "invalid choice: 'train'"),
    ],
)
def test_bad_arguments_exit_with_status_2(capsys, argv, message):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_new_subcommand_is_one_entry(monkeypatch, capsys):
    def add_arguments(parser):
        parser.add_argument("--name", default="world")

    def run(args):
        print(f"hello {args.name}")
        return 0

    hello = cli.Command("hello", "say hello", add_arguments, run)
    monkeypatch.setattr(cli, "COMMANDS", (*cli.COMMANDS, hello))
    assert cli.main(["hello", "--name", "shinsou"]) == 0
    assert capsys.readouterr().out == "hello shinsou\n"


def test_python_dash_m_shinsou():
    result = subprocess.run(
        [sys.executable, "-m", "shinsou", "demo", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "--epochs" in result.stdout and "--seed" in result.stdout


def test_demo_model_is_the_lecture_convnet():
    model = cli.build_demo_model()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == [
        "Conv2D",
        "MaxPooling2D",
        "Conv2D",
        "MaxPooling2D",
        "Flatten",
        "Dropout",
        "Dense",
    ]
    # 3*3*1*32+32, 3*3*32*64+64, 2*2*64*10+10
    assert model.count_params() == 320 + 18496 + 2570


def test_plot_learning_curves(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    history = {"loss": [1.0, 0.5], "accuracy": [0.5, 0.8], "val_loss": [1.1, 0.6]}
    path = tmp_path / "curves.png"
    assert cli.plot_learning_curves(history, str(path))
    assert path.read_bytes().startswith(b"\x89PNG")
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert not cli.plot_learning_curves(history, str(tmp_path / "none.png"))
    assert not (tmp_path / "none.png").exists()


def test_demo_without_scikit_learn_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    assert cli.main(["demo", "--output", str(tmp_path / "out")]) == 1
    assert 'pip install "shinsou[all]"' in capsys.readouterr().err


def _test_accuracy(output):
    return float(re.search(r"Test accuracy: ([0-9.]+)", output).group(1))


def test_demo_one_epoch_writes_model_and_plot(tmp_path, capsys):
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    output = tmp_path / "demo"
    assert cli.main(["demo", "--epochs", "1", "--output", str(output)]) == 0
    printed = capsys.readouterr().out
    assert "41/41" in printed and 0 <= _test_accuracy(printed) <= 1  # the progress bar
    model_path = output / cli.DEMO_MODEL_FILE
    assert f"Model saved to {model_path}" in printed
    loaded = shinsou.saving.load_model(str(model_path))
    assert loaded.count_params() == 21386
    assert loaded.predict(np.zeros((2, 8, 8, 1), "float32"), verbose=0).shape == (2, 10)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert 'matplotlib is missing (pip install "shinsou[all]")' in printed
    else:
        assert (output / cli.DEMO_PLOT_FILE).read_bytes().startswith(b"\x89PNG")
        assert f"Learning curves saved to {output / cli.DEMO_PLOT_FILE}" in printed


def test_full_demo_reaches_97_percent(tmp_path, capsys):
    """The whole demo as users run it (25 epochs; about 6-10 s on two cores)."""
    pytest.importorskip("sklearn", reason="scikit-learn is not installed")
    assert cli.main(["demo", "--seed", "3", "--output", str(tmp_path)]) == 0
    assert _test_accuracy(capsys.readouterr().out) >= 0.97
