"""Chapter 1 — deep learning: a network learns from examples instead of being programmed.

Run it:  python examples/lecture/ch1_deep_learning.py [--quick] [--output DIR] [--seed N]
   (or:  shinsou lecture 1)

The chapter's code lives in the package, src/shinsou/lecture/ch1_deep_learning.py, so that an
installed shinsou runs it too; read it there. This script only calls it.
"""

from shinsou.lecture.ch1_deep_learning import main

if __name__ == "__main__":
    raise SystemExit(main())
