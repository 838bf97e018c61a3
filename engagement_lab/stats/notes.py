"""Typed notes: what a contrast's numbers need said beside them, as a code to act on and a text to show.

Code decides by ``code`` (which notes say no test was possible, which one a method replaces); the text is
written out only at the edge, in a result's ``warnings`` string (:func:`render`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

__all__ = ["UNTESTABLE", "Note", "NoteCode", "render", "untestable"]

NoteCode = Literal[
    "untestable",
    "thin",
    "zero_control",
    "interval",
    "absolute_scale",
    "exact_fallback",
    "estimand",
    "naive",
    "unadjusted",
    "cross_check",
    "exact_bound",
    "concentrated",
    "dropped",
    "entered_as_numbers",
    "few_clusters",
]
UNTESTABLE: NoteCode = "untestable"
"""The code of a note that says why no test was possible; its text is the reason, as verdicts quote it."""
_LEAD: dict[str, str] = {UNTESTABLE: "cannot test: "}


@dataclass(frozen=True)
class Note:
    """One warning about a contrast: ``code`` says what kind, ``text`` says it in words.

    Examples
    --------
    >>> str(untestable("control has 1 tweet(s): a test needs at least 2 per group"))
    'cannot test: control has 1 tweet(s): a test needs at least 2 per group'
    """

    code: NoteCode
    text: str

    def __str__(self) -> str:
        return _LEAD.get(self.code, "") + self.text


def untestable(reason: str) -> Note:
    """The note that no test was possible, and why."""
    return Note(UNTESTABLE, reason)


def render(notes: Iterable[Note]) -> str:
    """The notes as one line of text, ``"; "`` between them (a result's ``warnings``)."""
    return "; ".join(str(note) for note in notes)
