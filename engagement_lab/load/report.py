"""LoadReport: what a response said besides its numbers (windows, errors, unavailable and unsupported ids)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime
from html import escape

from ..metrics import HtmlDisplay

__all__ = ["LoadReport"]


@dataclass(frozen=True)
class LoadReport(HtmlDisplay):
    """The reserved keys of one or more responses, and what loading did with them.

    Attributes
    ----------
    groupings : tuple of str
        Grouping names found.
    start, end : datetime or None
        The window the API echoed (``/28hr`` and ``/historical``).
    errors : tuple of str
        The ``errors`` strings of a 200 response (partial failures).
    unavailable_tweet_ids : tuple of str
        Deleted or otherwise unavailable tweets: no data.
    unsupported_video_views, unsupported_impressions_engagements : tuple of str
        Tweets too old for those metrics; their placeholder zeros are dropped unless asked to keep them.
    n_rows : int
        Tidy rows produced.
    dropped_unsupported : int
        Placeholder rows dropped.
    files : tuple of str
        The files read, in the order they were read.
    superseded : int
        Rows replaced by a later observation of the same tweet, metric and bucket (never added to it).
    conflicts : tuple of str
        Day or hour buckets whose observations disagreed (the latest was kept); one line each.
    unrecognised_columns : tuple of str
        Columns of an export that are not a known metric or attribute (reported, not loaded).
    unknown_metrics : tuple of str
        Integer metrics an X API v2 analytics answer carried that its spec does not list (kept, and named here).
    kinds : tuple of str
        :func:`engagement_lab.load.load`: each input with the kind it was read as and its rows, one line each.
    refused : tuple of str
        :func:`engagement_lab.load.load` with ``on_error="skip"``: each input left out, and why.
    ignored : tuple of str
        :func:`engagement_lab.load.load`: files of a folder whose names end in no kind it reads (not read).
    """

    groupings: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    errors: tuple[str, ...] = ()
    unavailable_tweet_ids: tuple[str, ...] = ()
    unsupported_video_views: tuple[str, ...] = ()
    unsupported_impressions_engagements: tuple[str, ...] = ()
    n_rows: int = 0
    dropped_unsupported: int = 0
    files: tuple[str, ...] = ()
    superseded: int = 0
    conflicts: tuple[str, ...] = ()
    unrecognised_columns: tuple[str, ...] = ()
    unknown_metrics: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()

    def __add__(self, other: LoadReport) -> LoadReport:
        """Combine reports of several responses (windows widen, lists concatenate without repeats)."""

        def merge(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys((*a, *b)))

        starts = [t for t in (self.start, other.start) if t is not None]
        ends = [t for t in (self.end, other.end) if t is not None]
        return replace(
            self,
            groupings=merge(self.groupings, other.groupings),
            start=min(starts) if starts else None,
            end=max(ends) if ends else None,
            errors=self.errors + other.errors,
            unavailable_tweet_ids=merge(self.unavailable_tweet_ids, other.unavailable_tweet_ids),
            unsupported_video_views=merge(self.unsupported_video_views, other.unsupported_video_views),
            unsupported_impressions_engagements=merge(
                self.unsupported_impressions_engagements, other.unsupported_impressions_engagements
            ),
            n_rows=self.n_rows + other.n_rows,
            dropped_unsupported=self.dropped_unsupported + other.dropped_unsupported,
            files=merge(self.files, other.files),
            superseded=self.superseded + other.superseded,
            conflicts=self.conflicts + other.conflicts,
            unrecognised_columns=merge(self.unrecognised_columns, other.unrecognised_columns),
            unknown_metrics=merge(self.unknown_metrics, other.unknown_metrics),
            kinds=merge(self.kinds, other.kinds),
            refused=merge(self.refused, other.refused),
            ignored=merge(self.ignored, other.ignored),
        )

    @property
    def complete(self) -> bool:
        """True when nothing was unavailable, unsupported or reported as an error."""
        return not (
            self.errors
            or self.unavailable_tweet_ids
            or self.unsupported_video_views
            or self.unsupported_impressions_engagements
        )

    def __str__(self) -> str:
        """``print(report)``: the status, then one line per field that holds something (lists cut at five)."""
        lines = [f"LoadReport ({self._status()})"]
        for f in fields(self):
            value = getattr(self, f.name)
            if value in (None, (), 0):
                continue
            if isinstance(value, tuple):
                value = f"{len(value)}: " + ", ".join(value[:5]) + (" …" if len(value) > 5 else "")
            lines.append(f"  {f.name:<36} {value}")
        return "\n".join(lines)

    def _status(self) -> str:
        return "complete" if self.complete else "partial: see unavailable/unsupported/errors"

    def _repr_html_(self) -> str:
        rows = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, tuple):
                shown = f"{len(value)}: " + ", ".join(value[:5]) + (" …" if len(value) > 5 else "") if value else "—"
            else:
                shown = "—" if value is None else str(value)
            rows.append(f"<tr><th style='text-align:left'>{escape(f.name)}</th><td>{escape(shown)}</td></tr>")
        return f"<table><caption>LoadReport ({escape(self._status())})</caption>{''.join(rows)}</table>"
