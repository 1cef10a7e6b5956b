"""Smoke test of examples/: each script runs as users run it (a subprocess), for one epoch
on a few synthetic MNIST-shaped images passed with --data, and prints its test accuracy."""

import pathlib
import subprocess
import sys

import numpy as np
import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def _fake_mnist(path, train, test):
    rng = np.random.default_rng(0)
    np.savez(
        path,
        x_train=rng.integers(0, 256, size=(train, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, size=train, dtype=np.uint8),
        x_test=rng.integers(0, 256, size=(test, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, size=test, dtype=np.uint8),
    )
    return path


@pytest.mark.parametrize(
    ("script", "train", "test", "expected"),
    [
        ("mlp_mnist.py", 48, 16, "48 train samples"),
        # No training images (a t10k-only folder): the script trains on 80% of the test set.
        ("convnet_mnist.py", 0, 40, "32 train samples"),
    ],
)
def test_example_runs_one_epoch(tmp_path, script, train, test, expected):
    data = _fake_mnist(tmp_path / "mnist.npz", train, test)
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--epochs", "1", "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert expected in result.stdout
    assert "Test accuracy:" in result.stdout


def test_fine_tuning_example_runs_and_reports_both_accuracies(tmp_path):
    pytest.importorskip("sklearn", reason="the example uses the embedded digits ([all] extra)")
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "fine_tuning.py"), "--epochs", "2", "--per-class", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "fine-tuned from the task-A backbone:" in result.stdout
    assert "trained from scratch:" in result.stdout
