"""FetchResult: what a fetch did, what it could not get, and where the data is."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from ..metrics import HtmlDisplay
from ..options import Backend
from .runner import Outcome, Waits

__all__ = ["FetchResult"]


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _examples(ids: Sequence[str], shown: int = 5) -> str:
    """``: 1, 2, 3 and 4 more`` after a count, so a refusal names its ids (none when there are none)."""
    if not ids:
        return ""
    return ": " + ", ".join(ids[:shown]) + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


@dataclass(frozen=True)
class FetchResult(HtmlDisplay):
    """The outcome of :func:`engagement_lab.sources.engagement.fetch`.

    Attributes
    ----------
    archive : Path
        The archive directory (``load()`` reads it).
    planned : int
        Requests planned from the queries (before follow-ups).
    requests : int
        Requests handled, follow-ups after partial refusals included.
    sent : int
        HTTP calls made, retries included.
    archived : int
        Answers archived in this run.
    skipped : int
        Requests already in the archive (a resumed run).
    retries : int
    rate_limit_waits : int
        Pauses for the per-minute budget; ``rate_limit_seconds`` their total.
    unowned_tweet_ids, unavailable_tweet_ids, unsupported_video_views, unsupported_impressions_engagements
        Tweets the API refused or could not serve (reported, never silently dropped). On X API v2,
        ``unowned_tweet_ids`` also holds the ids set aside because their account has no user token.
    errors : tuple of str
        One line per request that failed for good.
    elapsed : float
        Seconds.
    api : {"engagement", "x-v2"}
        Which API was fetched (the Engagement API, or X API v2 analytics).
    """

    archive: Path
    planned: int
    requests: int
    sent: int
    archived: int
    skipped: int
    retries: int
    rate_limit_waits: int
    rate_limit_seconds: float
    unowned_tweet_ids: tuple[str, ...]
    unavailable_tweet_ids: tuple[str, ...]
    unsupported_video_views: tuple[str, ...]
    unsupported_impressions_engagements: tuple[str, ...]
    errors: tuple[str, ...]
    elapsed: float
    api: str = "engagement"
    set_aside: tuple[str, ...] = ()
    """X API v2: the accounts whose ids were not sent (no user token for them), one line each with the count."""

    @classmethod
    def collect(
        cls,
        outcomes: Sequence[Outcome],
        *,
        archive: Path,
        planned: int,
        limiter: Waits,
        elapsed: float,
        routed_unowned: Iterable[str] = (),
        api: str = "engagement",
        set_aside: tuple[str, ...] = (),
    ) -> FetchResult:
        """Sum the outcomes of every request; ``routed_unowned`` were sent to the bearer token up front (the
        Engagement API) or set aside, their account having no token (X API v2: ``set_aside`` says whose)."""
        return cls(
            archive=archive,
            planned=planned,
            requests=len(outcomes),
            sent=sum(o.sent for o in outcomes),
            archived=sum(o.archived for o in outcomes),
            skipped=sum(o.skipped for o in outcomes),
            retries=sum(o.retries for o in outcomes),
            rate_limit_waits=limiter.waits,
            rate_limit_seconds=limiter.waited_seconds,
            unowned_tweet_ids=_unique([*routed_unowned, *(i for o in outcomes for i in o.unowned)]),
            unavailable_tweet_ids=_unique(i for o in outcomes for i in o.unavailable),
            unsupported_video_views=_unique(i for o in outcomes for i in o.unsupported_video),
            unsupported_impressions_engagements=_unique(i for o in outcomes for i in o.unsupported_ie),
            errors=tuple(o.error for o in outcomes if o.error),
            elapsed=elapsed,
            api=api,
            set_aside=set_aside,
        )

    @property
    def ok(self) -> bool:
        """True when no request failed for good (refused or unavailable tweets are not failures)."""
        return not self.errors

    def load(self, *, backend: Backend = "pandas") -> Any:
        """The archive as a tidy frame with provenance columns (see :func:`engagement_lab.load_archive`)."""
        from ..load import load_archive

        return load_archive(self.archive, backend=backend)

    def grouped_errors(self) -> list[str]:
        """Each distinct error once, with how many requests it stopped (``17 x ...``), most frequent first."""
        counts = Counter(self.errors)
        return [f"{n} x {e}" if n > 1 else e for e, n in counts.most_common()]

    def summary(self) -> str:
        """A one-screen text summary."""
        lines = [
            f"archive      {self.archive}",
            f"requests     {self.requests} ({self.planned} planned; {self.skipped} already archived, "
            f"{self.archived} archived now)",
            f"HTTP calls   {self.sent} ({self.retries} retries, {self.rate_limit_waits} rate-limit waits, "
            f"{self.rate_limit_seconds:.1f}s waiting)",
            *self._refusals(),
            f"errors       {len(self.errors)}" + "".join(f"\n  - {e}" for e in self.grouped_errors()[:5]),
            f"elapsed      {self.elapsed:.1f}s",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        """``print(result)`` shows :meth:`summary`."""
        return self.summary()

    def _refusals(self) -> list[str]:
        if self.api == "x-v2":
            return [
                f"unowned      {len(self.unowned_tweet_ids)} ids (not the account's: no analytics for them)"
                + _examples(self.unowned_tweet_ids),
                *(f"  - set aside {line}" for line in self.set_aside),
                *(
                    ["  - an account of yours? authorise it: engagement-lab auth oauth2 --credentials FILE --save FILE"]
                    if self.set_aside
                    else []
                ),
                f"unavailable  {len(self.unavailable_tweet_ids)} ids (deleted, protected or not found)"
                + _examples(self.unavailable_tweet_ids),
            ]
        return [
            f"unowned      {len(self.unowned_tweet_ids)} tweets (their public metrics come via the bearer token)",
            f"unavailable  {len(self.unavailable_tweet_ids)} tweets (deleted or protected)",
            f"unsupported  {len(self.unsupported_impressions_engagements)} too old for impressions/engagements, "
            f"{len(self.unsupported_video_views)} too old for video views",
        ]

    def _repr_html_(self) -> str:
        status = "complete" if self.ok else f"{len(self.errors)} request(s) failed"
        rows = "".join(
            f"<tr><th style='text-align:left'>{escape(k)}</th><td>{escape(v)}</td></tr>"
            for k, _, v in (line.partition(" ") for line in self.summary().splitlines() if not line.startswith("  -"))
        )
        return f"<table><caption>FetchResult ({escape(status)})</caption>{rows}</table>"
