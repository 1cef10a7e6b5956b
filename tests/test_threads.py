"""What ``import shinsou`` sets up for the process: NumPy's BLAS threads that do not spin
for long after each product (they would take the cores shinsou's own threads need)."""

import os
import subprocess
import sys


def _environment_after(code, **overrides):
    environment = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    environment.update(overrides)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60,
        env=environment,
    )  # fmt: skip
    return done.stdout.strip()


def test_import_shortens_openblas_busy_waiting_unless_the_user_chose():
    show = "import os; print(os.environ.get('OPENBLAS_THREAD_TIMEOUT'))"
    assert _environment_after(f"import shinsou; {show}") == "20"
    assert _environment_after(f"import shinsou; {show}", OPENBLAS_THREAD_TIMEOUT="8") == "8"
    # NumPy already loaded OpenBLAS: setting it then would do nothing, so shinsou does not.
    assert _environment_after(f"import numpy, shinsou; {show}") == "None"
