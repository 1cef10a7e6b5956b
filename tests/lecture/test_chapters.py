"""Every chapter of the lecture runs in its reduced mode (``--quick``) and still asserts its
claims: exit status 0, a PASS line per claim and no FAIL, and every picture it announced
is a non-blank PNG. Chapters run in-process (the digits are loaded once); the
``examples/lecture`` wrappers and ``shinsou lecture`` are checked to reach them."""

import argparse
import os
import pathlib
import subprocess
import sys

import numpy
import pytest

pytest.importorskip("sklearn", reason="the chapters use the embedded digits ([all] extra)")
pytest.importorskip("matplotlib", reason="the chapters draw pictures ([all] extra)")

from shinsou.lecture import CHAPTERS, chapter_module, command

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "lecture"

# Each chapter's claims (a prefix of each), so a chapter cannot silently drop one.
CLAIMS = {
    1: ["the trained network recognises unseen digits", "training lowered the loss"],
    2: ["autograd's gradient of a neuron", "autograd derivatives of the activations",
        "a Dense layer is one matrix product", "the cross-entropy by hand",
        "a linear model already separates", "the deep network fits the training digits",
        "the deep network also generalises"],
    3: ["the convnet learns the digits", "the residual network reaches a lower training loss",
        "a dense block concatenates", "DenseNet121 has Keras's", "U-Net scores every pixel",
        "the Transformer reverses unseen sequences", "attention looks at the mirrored",
        "the LSTM adds the marked numbers"],
    4: ["cross-entropy learns faster", "Adam ends lower than GD on the Rosenbrock",
        "minibatch SGD gets further", "batch norm makes", "dropout narrows the gap"],
    5: ["the loaded model predicts exactly", "the workflow trains a working classifier",
        "the pretrained, fine-tuned network beats"],
    6: ["the detector's training loss went down", "the U-Net's training loss went down",
        "the generator's samples are images"],
}  # fmt: skip


def _check_png(path):
    assert os.path.getsize(path) > 1000, f"{path} is suspiciously small"
    from matplotlib.image import imread

    pixels = imread(path, format="png")
    assert pixels.ndim == 3 and min(pixels.shape[:2]) >= 60, pixels.shape
    assert float(numpy.var(pixels[..., :3])) > 0, f"{path} is blank"


def _check_report(output, folder, number, status):
    assert status == 0, output[-3000:]
    assert "FAIL" not in output
    passed = [line[len("PASS: ") :] for line in output.splitlines() if line.startswith("PASS: ")]
    for claim in CLAIMS[number]:
        assert any(line.startswith(claim) for line in passed), (claim, passed)
    pictures = [line.strip() for line in output.split("\nPictures")[1].splitlines()[1:]]
    pictures = [line for line in pictures if line.endswith(".png")]
    assert pictures and all(path.startswith(str(folder)) for path in pictures)
    for path in pictures:
        _check_png(path)
    assert not [name for name in os.listdir(folder) if name.endswith(".tmp")]


@pytest.mark.parametrize("number", [1, 3, 4, 5, 6])
def test_chapter_runs_quick_and_its_claims_hold(number, tmp_path, capsys):
    folder = tmp_path / f"ch{number}"
    status = chapter_module(number).main(["--quick", "--output", str(folder)])
    _check_report(capsys.readouterr().out, folder, number, status)


def test_shinsou_lecture_command_runs_a_chapter(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    folder = tmp_path / "basics"
    args = parser.parse_args(["2", "--quick", "--output", str(folder)])
    status = command.run(args)
    _check_report(capsys.readouterr().out, folder, 2, status)


def test_command_rejects_an_unknown_chapter(capsys):
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    with pytest.raises(SystemExit):
        parser.parse_args(["7"])
    assert "choose a chapter among [1, 2, 3, 4, 5, 6]; got '7'" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"no chapter 0; the chapters are \[1, 2, 3, 4, 5, 6\]"):
        chapter_module(0)


def test_example_scripts_wrap_the_chapters_in_order():
    scripts = sorted(path.name for path in EXAMPLES.glob("ch*.py"))
    assert scripts == [f"{module}.py" for _, module, _ in CHAPTERS]
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / scripts[0]), "--help"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "--quick" in result.stdout and "lecture-output/ch1" in result.stdout
