"""Builds shinsou's one compiled part, ``shinsou.native._kernels`` (see native/kernels.c).

Everything else is configured in pyproject.toml. The extension is optional: without a C
compiler the install still succeeds and shinsou runs its NumPy code paths. It is tuned for
the machine that builds it (``-march=native``); set ``SHINSOU_NATIVE_CFLAGS`` to build for
other machines, e.g. ``SHINSOU_NATIVE_CFLAGS="-O3 -march=x86-64-v3"``.
"""

import os
import shlex

from setuptools import Extension, setup

flags = shlex.split(os.environ.get("SHINSOU_NATIVE_CFLAGS", "-O3 -march=native"))

setup(
    ext_modules=[
        Extension(
            "shinsou.native._kernels",
            sources=["src/shinsou/native/kernels.c"],
            extra_compile_args=[*flags, "-std=gnu11", "-ffp-contract=fast", "-pthread"],
            extra_link_args=["-pthread"],
            optional=True,
        )
    ]
)
