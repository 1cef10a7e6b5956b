"""Chapter 3 — models: the architectures that made deep learning work, each on a small task.

Run it:  python examples/lecture/ch3_models.py [--quick] [--output DIR] [--seed N]
   (or:  shinsou lecture 3)

The chapter's code lives in the package, src/shinsou/lecture/ch3_models.py, so that an
installed shinsou runs it too; read it there. This script only calls it.
"""

from shinsou.lecture.ch3_models import main

if __name__ == "__main__":
    raise SystemExit(main())
