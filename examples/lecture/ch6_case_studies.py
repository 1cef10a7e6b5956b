"""Chapter 6 — case studies: object detection, semantic segmentation and a GAN, each on a

Run it:  python examples/lecture/ch6_case_studies.py [--quick] [--output DIR] [--seed N]
   (or:  shinsou lecture 6)

The chapter's code lives in the package, src/shinsou/lecture/ch6_case_studies.py, so that an
installed shinsou runs it too; read it there. This script only calls it.
"""

from shinsou.lecture.ch6_case_studies import main

if __name__ == "__main__":
    raise SystemExit(main())
