"""The option words every part of the package shares, and the one way an option is checked or renamed.

An option with a fixed set of values is a ``Literal`` here (or, for the statistics, in :mod:`engagement_lab.stats`),
checked by :func:`engagement_lab.errors.check_choice`, which names the option, what was given, the closest choice
and every choice. A renamed option keeps working for one release with a ``DeprecationWarning`` that names the new
spelling (:func:`renamed`).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Final, Literal, TypeVar

from .errors import DataError, check_choice

__all__ = ["BACKENDS", "UNSET", "Backend", "Keep", "check_backend", "renamed"]

Backend = Literal["pandas", "polars"]
"""The eager frame libraries a result can be returned in."""
BACKENDS: Final[tuple[Backend, ...]] = ("pandas", "polars")
LazyBackend = Literal["polars", "duckdb"]
"""The engines a lazy load or scan returns (a polars LazyFrame, a DuckDB relation)."""
LAZY_BACKENDS: Final[tuple[LazyBackend, ...]] = ("polars", "duckdb")
Keep = Literal["raise", "latest"]
"""What to do with one number observed twice: refuse it, or keep the latest observation."""

T = TypeVar("T")


class _Unset:
    """The default of a renamed option's old spelling: "not given" (``None`` may be a real value)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset()


def check_backend(backend: object) -> Backend:
    """``backend`` when it is ``"pandas"`` or ``"polars"``; otherwise a :class:`DataError` with the closest one."""
    checked: Backend = check_choice("backend", backend, BACKENDS, DataError)
    return checked


_PACKAGE = str(Path(__file__).parent)


def deprecated(message: str) -> None:
    """A ``DeprecationWarning`` pointing at the first caller outside this package (the user's line)."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and (
        frame.f_code.co_filename.startswith(_PACKAGE) or "importlib" in frame.f_code.co_filename
    ):
        level, frame = level + 1, frame.f_back  # type: ignore[assignment]
    warnings.warn(message, DeprecationWarning, stacklevel=level + 1)


def check_lazy_backend(backend: object) -> LazyBackend:
    """``backend`` when it is ``"polars"`` or ``"duckdb"``; otherwise a :class:`DataError` with the closest one."""
    checked: LazyBackend = check_choice("backend", backend, LAZY_BACKENDS, DataError)
    return checked


def renamed(old: str, old_value: object, new: str, new_value: T) -> T:
    """The value of an option renamed in this release.

    ``old_value`` is what the caller gave under the old spelling (:data:`UNSET` or ``None`` when not given). Given
    alone, it is used with a ``DeprecationWarning`` naming ``new``; given beside a value under the new spelling,
    the call is refused (which one was meant cannot be told). So that this can be told, the new spelling's
    parameter defaults to ``None`` (or :data:`UNSET`) and the caller applies its real default afterwards.
    """
    if old_value is UNSET or old_value is None:
        return new_value
    if new_value is not None and new_value is not UNSET:
        raise TypeError(f"give {new}= only ({old}= is its old spelling)")
    deprecated(f"{old}= is now called {new}=; the old spelling works for one more release")
    return old_value  # type: ignore[return-value]
