"""How deep an input may nest: far deeper than any answer of these APIs, far shallower than Python's recursion
limit, so a hostile payload is refused with a named error before any parser (or an error message's ``repr``)
recurses into it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ..errors import ResponseFormatError

__all__ = ["MAX_BITS", "MAX_DEPTH", "check_nesting", "too_deep"]

MAX_DEPTH: Final = 64
"""Levels of objects and arrays an input may have. The deepest real answers are an Engagement API grouping (at
most 5 levels, then metric, day and hour) and an X API v2 page (data, tweet, metrics, ...): about ten."""


def too_deep(where: str) -> ResponseFormatError:
    """The error for an input nested too deeply (also for JSON text whose decoding ran out of recursion)."""
    return ResponseFormatError(
        f"{where} nests objects or arrays more than {MAX_DEPTH} levels deep; no answer of these APIs does: this "
        "is not an API response (or it was damaged)"
    )


MAX_BITS: Final = 14_000
"""An integer longer than this (about 4,200 digits) cannot even be written in an error message (Python refuses to
convert more than 4,300 digits to text); no count or id comes near it (64 bits)."""


def check_nesting(value: object, where: str, *, integers: bool = True) -> None:
    """Refuse ``value`` (a decoded payload, or a list of inputs) when its dicts and lists nest deeper than
    :data:`MAX_DEPTH`, or (``integers``) it holds an integer of more than :data:`MAX_BITS` bits: JSON text cannot
    (Python's decoder refuses such numbers), so its decoded documents skip that look. Iterative on purpose: a
    recursive walk is what fails on a hostile payload."""
    level: list[object] = [value]
    for depth in range(1, MAX_DEPTH + 2):  # one level of the tree at a time: its containers, then theirs
        below: list[object] = []
        for node in level:
            if isinstance(node, dict):
                children: Iterable[object] = node.values()
            elif isinstance(node, (list, tuple)):
                children = node
            else:
                if integers and isinstance(node, int) and node.bit_length() > MAX_BITS:
                    raise ResponseFormatError(
                        f"{where} holds an integer of {node.bit_length():,} bits; no count or id has more than 64: "
                        "this is not an API response (or it was damaged)"
                    )
                continue
            if depth > MAX_DEPTH:
                raise too_deep(where)
            below.extend(c for c in children if isinstance(c, (dict, list, tuple)) or (integers and type(c) is int))
        if not below:
            return
        level = below
