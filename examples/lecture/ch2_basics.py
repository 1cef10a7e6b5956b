"""Chapter 2 — basics: the neuron, activation functions, a dense layer, logistic regression,

Run it:  python examples/lecture/ch2_basics.py [--quick] [--output DIR] [--seed N]
   (or:  shinsou lecture 2)

The chapter's code lives in the package, src/shinsou/lecture/ch2_basics.py, so that an
installed shinsou runs it too; read it there. This script only calls it.
"""

from shinsou.lecture.ch2_basics import main

if __name__ == "__main__":
    raise SystemExit(main())
