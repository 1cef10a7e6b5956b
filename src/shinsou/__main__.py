"""``python -m shinsou``: the same command line as the ``shinsou`` console script.

Example:
    >>> import subprocess, sys
    >>> subprocess.run([sys.executable, "-m", "shinsou", "--version"],
    ...                capture_output=True, text=True).stdout.startswith("shinsou ")
    True
"""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
