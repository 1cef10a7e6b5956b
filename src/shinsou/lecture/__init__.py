"""The lecture as runnable chapters: ``shinsou lecture N`` (or
``python examples/lecture/chN_*.py``) runs chapter N, prints what it measured and each of
the lecture's claims with PASS/FAIL, and saves its pictures under ``lecture-output/chN``.

The chapters live in the package (``shinsou.lecture.ch1_deep_learning`` ...), so an
installed shinsou runs them; the scripts in ``examples/lecture/`` are thin wrappers for
readers of the repository. Each chapter module has ``main(argv=None)`` taking ``--quick``
(seconds, for CI), ``--output DIR`` and ``--seed``, and returns 0 when its claims hold.

Example:
    >>> [number for number, _, _ in CHAPTERS]
    [1, 2, 3, 4, 5, 6]
    >>> chapter_module(3).__name__
    'shinsou.lecture.ch3_models'
"""

from __future__ import annotations

import importlib

__all__ = ["CHAPTERS", "chapter_module"]

CHAPTERS = (
    (1, "ch1_deep_learning", "deep learning: a tiny end-to-end classifier"),
    (2, "ch2_basics", "basics: neuron, activations, dense layer, logistic regression, deep net"),
    (3, "ch3_models", "models: CNN, ResNet vs plain, DenseNet, U-Net, attention, LSTM"),
    (4, "ch4_learning", "learning: empirical risk, GD / SGD / Adam, batch norm, dropout"),
    (5, "ch5_running", "running it: the Keras workflow, pretrained model, fine-tuning"),
    (6, "ch6_case_studies", "case studies: detection, segmentation, a GAN"),
)
"""``(number, module name, summary)`` of each chapter, in the lecture's order."""


def chapter_module(number):
    """The module of chapter ``number`` (imported on first use)."""
    for chapter, module, _ in CHAPTERS:
        if chapter == number:
            return importlib.import_module(f"{__name__}.{module}")
    raise ValueError(
        f"shinsou.lecture: no chapter {number!r}; the chapters are "
        f"{[chapter for chapter, _, _ in CHAPTERS]}"
    )
