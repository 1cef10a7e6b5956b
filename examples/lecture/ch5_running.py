"""Chapter 5 — running it: the Keras workflow, then a pretrained model and fine-tuning.

Run it:  python examples/lecture/ch5_running.py [--quick] [--output DIR] [--seed N]
   (or:  shinsou lecture 5)

The chapter's code lives in the package, src/shinsou/lecture/ch5_running.py, so that an
installed shinsou runs it too; read it there. This script only calls it.
"""

from shinsou.lecture.ch5_running import main

if __name__ == "__main__":
    raise SystemExit(main())
