"""Metric definitions: ratios of per-tweet sums and per-tweet means, and the named metrics.

Tweets are the units. ``Ratio("engagements", "impressions")`` is Σengagements / Σimpressions over the
tweets of a group (impressions cluster within tweets, which the statistics account for); ``Mean("favorites")``
is the mean of per-tweet favorites.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from typing import Final, Protocol, TypeAlias

from .errors import StatsInputError, did_you_mean
from .sources.engagement.catalog import PLAIN_NAMES

__all__ = [
    "NAMED_METRICS",
    "SHOWN_LENGTH",
    "HtmlDisplay",
    "Mean",
    "Metric",
    "Ratio",
    "html_label",
    "is_rate",
    "plain_name",
    "resolve_metric",
    "short_label",
    "short_labels",
]


@dataclass(frozen=True)
class Ratio:
    """A ratio of sums over tweets, e.g. engagement rate = Σengagements / Σimpressions.

    ``bounded`` says the numerator counts events that happen at most once per denominator unit (engagements,
    clicks or likes per impression), so each tweet must have whole counts with numerator <= denominator;
    ``compare`` refuses rows that break that. By default a ratio per ``impressions`` is bounded; pass
    ``bounded=False`` for a ratio that may exceed 1 (e.g. video views per media view).

    Examples
    --------
    >>> Ratio("engagements", "impressions").label
    'engagements / impressions'
    >>> Ratio("engagements", "impressions").is_bounded, Ratio("views", "plays").is_bounded
    (True, False)
    """

    numerator: str
    denominator: str
    name: str | None = None
    bounded: bool | None = None

    @property
    def is_bounded(self) -> bool:
        return self.bounded if self.bounded is not None else self.denominator == "impressions"

    @property
    def label(self) -> str:
        return self.name or f"{self.numerator} / {self.denominator}"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.numerator, self.denominator)


@dataclass(frozen=True)
class Mean:
    """The mean over tweets of one per-tweet column (a count such as favorites, or any number).

    ``proportion=True`` declares a 0/1 outcome (a share of tweets, e.g. reached 100 likes), compared with the
    binomial variance p(1 − p) and exact tests when an arm has no variation; a boolean column is one without
    saying so. A count that happens to be 0 or 1 in a small sample stays a count.
    """

    column: str
    name: str | None = None
    proportion: bool | None = None

    @property
    def label(self) -> str:
        return self.name or f"mean {self.column}"

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.column,)


Metric: TypeAlias = Ratio | Mean

NAMED_METRICS: Final[dict[str, Metric]] = {
    "engagement_rate": Ratio("engagements", "impressions", "engagement_rate"),
    "ctr": Ratio("url_clicks", "impressions", "ctr"),
    "like_rate": Ratio("favorites", "impressions", "like_rate"),
    "retweet_rate": Ratio("retweets", "impressions", "retweet_rate"),
    "reply_rate": Ratio("replies", "impressions", "reply_rate"),
    "video_view_rate": Ratio("video_views", "impressions", "video_view_rate"),
    "media_view_rate": Ratio("media_views", "impressions", "media_view_rate"),
    "media_engagement_rate": Ratio("media_engagements", "impressions", "media_engagement_rate"),
    "profile_click_rate": Ratio("user_profile_clicks", "impressions", "profile_click_rate"),
    "detail_expand_rate": Ratio("detail_expands", "impressions", "detail_expand_rate"),
    "follow_rate": Ratio("user_follows", "impressions", "follow_rate"),
}
"""Rates per impression, by the names used across code, docs and notebooks."""


def resolve_metric(metric: str | Metric, columns: object = None) -> Metric:
    """A named rate, a column name (-> :class:`Mean`), or a Ratio/Mean as given.

    ``columns``, when given, is the collection of available column names; a missing one raises
    :class:`StatsInputError` with a suggestion.
    """
    if isinstance(metric, (Ratio, Mean)):
        resolved: Metric = metric
    elif isinstance(metric, str):
        resolved = NAMED_METRICS.get(metric) or Mean(metric, metric)
    else:
        raise StatsInputError(f"metric must be a name, Ratio or Mean, got {type(metric).__name__}")
    if columns is not None:
        available = [str(c) for c in columns]  # type: ignore[attr-defined]
        for column in resolved.columns:
            if column not in available:
                hint = did_you_mean(column, [*available, *NAMED_METRICS])
                raise StatsInputError(
                    f"metric {resolved.label!r} needs column {column!r}, which the frame lacks{hint}; "
                    f"available: {available[:12]}"
                )
    return resolved


_RATE_TITLES: Final = {"ctr": "Link click-through rate"}


def _count_noun(column: str) -> str:
    return PLAIN_NAMES.get(column, column.replace("_", " "))


def plain_name(metric: str | Metric) -> tuple[str, str]:
    """A metric as people say it: a title for headers and a noun phrase for sentences.

    Examples
    --------
    >>> plain_name("engagement_rate")
    ('Engagement rate', 'engagements per impression')
    >>> plain_name("favorites")
    ('Likes per tweet', 'likes per tweet')
    >>> plain_name(Ratio("url_clicks", "media_views"))
    ('Link clicks per media view', 'link clicks per media view')
    """
    resolved = NAMED_METRICS.get(metric) if isinstance(metric, str) else metric
    if isinstance(resolved, Ratio):
        denominator = _count_noun(resolved.denominator)
        noun = f"{_count_noun(resolved.numerator)} per {denominator.removesuffix('s')}"
        if resolved.name in _RATE_TITLES:
            return _RATE_TITLES[resolved.name], noun
        title = resolved.name.replace("_", " ") if resolved.name else noun
        return title[:1].upper() + title[1:], noun
    column = resolved.column if isinstance(resolved, Mean) else str(metric)
    if " / " in column:  # the label of an unnamed Ratio, as rows carry it
        numerator, _, denominator = column.partition(" / ")
        return plain_name(Ratio(numerator, denominator))
    noun = f"{_count_noun(column)} per tweet"
    return noun[:1].upper() + noun[1:], noun


def is_rate(metric: str | Metric) -> bool:
    """Whether values of ``metric`` are shares of impressions (shown as percentages, differences in points)."""
    resolved = NAMED_METRICS.get(metric) if isinstance(metric, str) else metric
    if isinstance(metric, str) and resolved is None and " / " in metric:
        numerator, _, denominator = metric.partition(" / ")
        resolved = Ratio(numerator, denominator)
    return isinstance(resolved, Ratio) and resolved.is_bounded


# -- group labels as they are shown ----------------------------------------------------------------------------
# Any length is accepted and kept whole in frames, tables and tooltips, but a chart axis, a legend or an HTML cell
# shows a short form: drawing text costs time in its length (Vega measures and truncates a label character by
# character: a 10,000-character label took minutes to draw), so the short form is what is drawn.

SHOWN_LENGTH = 40
"""Characters of a label shown on charts and in HTML cells (the full text is in the tooltip)."""

_ELLIPSIS = "\u2026"


def short_label(text: str, limit: int = SHOWN_LENGTH) -> str:
    """``text`` when it fits in ``limit`` characters, else its start and an ellipsis (``limit`` characters in all).

    Examples
    --------
    >>> short_label("spring launch"), short_label("x" * 50, 8)
    ('spring launch', 'xxxxxxx…')
    """
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + _ELLIPSIS


def short_labels(labels: Iterable[str], limit: int = SHOWN_LENGTH) -> dict[str, str]:
    """Each distinct label -> a short form, distinct for distinct labels (two long labels that start alike get
    ``… #2``, ``… #3``), so an axis never merges two groups.

    Examples
    --------
    >>> short_labels(["A", "spring launch 1", "spring launch 2"], 8)
    {'A': 'A', 'spring launch 1': 'spring …', 'spring launch 2': 'spri… #2'}
    """
    shown: dict[str, str] = {}
    taken: set[str] = set()
    for label in dict.fromkeys(labels):
        short = short_label(label, limit)
        number = 1
        while short in taken:
            number += 1
            suffix = f"{_ELLIPSIS} #{number}"
            short = label[: max(limit - len(suffix), 1)] + suffix
        taken.add(short)
        shown[label] = short
    return shown


def html_label(text: str, limit: int = SHOWN_LENGTH, short: str | None = None) -> str:
    """An escaped HTML cell text: the short form (``short``, e.g. from :func:`short_labels` so that labels that
    start alike stay distinct, else :func:`short_label`), with the whole label in its ``title`` tooltip when cut."""
    short = short_label(text, limit) if short is None else short
    if short == text:
        return escape(text)
    return f'<span title="{escape(text)}">{escape(short)}</span>'


# Rich display beyond Jupyter: marimo's documented hook for libraries is ``_mime_`` (a (mimetype, data) pair,
# no import of marimo); Jupyter front ends (JupyterLab, VS Code, nbconvert) call ``_repr_html_``.
class _WritesHtml(Protocol):
    def _repr_html_(self) -> str: ...


class HtmlDisplay:
    """Mixin for a class with ``_repr_html_``: adds marimo's ``_mime_`` returning the same HTML."""

    def _mime_(self: _WritesHtml) -> tuple[str, str]:
        """marimo's display hook: ``("text/html", html)``, the HTML Jupyter shows."""
        return "text/html", self._repr_html_()
