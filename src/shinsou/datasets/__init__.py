"""Ready-made datasets (``keras.datasets``), returned as NumPy arrays in Keras's layout.

- :mod:`~shinsou.datasets.mnist`: MNIST, 60,000 + 10,000 handwritten digits of 28×28,
  downloaded once into ``$SHINSOU_HOME/datasets`` (``~/.shinsou/datasets`` by default), or
  read from a local ``.npz`` or folder of IDX files.
- :mod:`~shinsou.datasets.digits`: scikit-learn's 1,797 real 8×8 digits in the same layout,
  no download (needs ``pip install "shinsou[all]"``); the data of ``shinsou demo``.

Example:
    >>> from shinsou import datasets
    >>> callable(datasets.mnist.load_data), callable(datasets.digits.load_data)
    (True, True)
"""

from . import digits, mnist

__all__ = ["digits", "mnist"]
