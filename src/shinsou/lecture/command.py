"""``shinsou lecture N``: run chapter N of the lecture (1–6), print its measurements and
claims (PASS/FAIL) and save its pictures; the exit status is 0 when every claim holds.

The ``shinsou`` command line registers :func:`add_arguments` and :func:`run`; the
chapters are imported only when one runs, so ``shinsou --help`` stays instant.

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="shinsou lecture")
    >>> add_arguments(parser)
    >>> args = parser.parse_args(["4", "--quick"])
    >>> args.chapter, args.quick, args.output, args.seed
    (4, True, None, 0)
"""

from __future__ import annotations

import argparse

from . import CHAPTERS
from ._common import add_chapter_arguments

__all__ = ["add_arguments", "run"]


def _chapter_number(text):
    numbers = [number for number, _, _ in CHAPTERS]
    if not text.isdigit() or int(text) not in numbers:
        raise argparse.ArgumentTypeError(f"choose a chapter among {numbers}; got {text!r}")
    return int(text)


def add_arguments(parser):
    """Declare ``shinsou lecture``'s options on ``parser``: the chapter, ``--quick``,
    ``--output`` (default ``lecture-output/chN``) and ``--seed``."""
    listing = "; ".join(f"{number}: {summary}" for number, _, summary in CHAPTERS)
    parser.add_argument(
        "chapter", type=_chapter_number, metavar="N", help=f"the chapter to run ({listing})"
    )
    add_chapter_arguments(parser)


def run(args):
    """Run chapter ``args.chapter``; return its exit status (0: every claim held)."""
    from . import _common, chapter_module

    module = chapter_module(args.chapter)
    return _common.run_chapter(args.chapter, module.TITLE, module.lesson, options=args)
