"""Chapter 4 — learning: empirical risk, gradient descent and its variants, and two tricks

Run it:  python examples/lecture/ch4_learning.py [--quick] [--output DIR] [--seed N]
   (or:  shinsou lecture 4)

The chapter's code lives in the package, src/shinsou/lecture/ch4_learning.py, so that an
installed shinsou runs it too; read it there. This script only calls it.
"""

from shinsou.lecture.ch4_learning import main

if __name__ == "__main__":
    raise SystemExit(main())
