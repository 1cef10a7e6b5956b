"""Nested structures (lists, tuples, dicts) of leaves: flatten, map, rebuild.

Dicts are walked in sorted key order, as Keras's ``tree`` module does.

Example:
    >>> from shinsou.utils import tree
    >>> tree.flatten({"b": [1, 2], "a": 3})
    [3, 1, 2]
    >>> tree.map_structure(lambda v: v * 10, (1, [2]))
    (10, [20])
"""

from __future__ import annotations


def is_nested(value) -> bool:
    """Whether ``value`` is a list, tuple or dict (rather than a leaf)."""
    return isinstance(value, (list, tuple, dict))


def flatten(structure) -> list:
    """The leaves of ``structure``, depth first."""
    leaves = []
    stack = [structure]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item[key] for key in sorted(item, reverse=True))
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        else:
            leaves.append(item)
    return leaves


def pack_sequence_as(structure, flat):
    """Rebuild ``structure``'s nesting with the leaves taken in order from ``flat``."""
    leaves = iter(flat)

    def rebuild(item):
        if isinstance(item, dict):
            rebuilt = {key: rebuild(item[key]) for key in sorted(item)}
            return type(item)((key, rebuilt[key]) for key in item)
        if isinstance(item, (list, tuple)):
            values = [rebuild(element) for element in item]
            if isinstance(item, tuple) and hasattr(item, "_fields"):
                return type(item)(*values)  # namedtuple
            return type(item)(values)
        return next(leaves)

    return rebuild(structure)


def map_structure(function, structure):
    """Apply ``function`` to every leaf, keeping the nesting."""
    return pack_sequence_as(structure, [function(leaf) for leaf in flatten(structure)])
