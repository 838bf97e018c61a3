"""Which population each ``per_tweet`` row counts (public, organic, an export...), on every engine (narwhals).

Sources count one metric differently: a v2 post's ``organic_metrics`` hold its likes in the non-promoted context,
its ``public_metrics`` the likes anyone sees. A row that took organic likes beside public retweets would hold a
number nobody measured, so each tweet's row takes all its metrics from one population, and the ``source`` tags
that say which come only from the registry (:mod:`engagement_lab.sources`): an unknown tag is refused.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import narwhals as nw
import polars as pl

from .. import columns as C
from .. import sources
from ..errors import DataError, check_choice, did_you_mean

__all__ = [
    "POPULATION",
    "POPULATIONS",
    "choose_population",
    "one_population",
    "population_choices",
    "tag_populations",
    "tweet_ids",
]


POPULATION = "population"
"""The column of ``per_tweet``'s result naming the population each tweet's counts come from."""
POPULATIONS = {
    "engagement": "Engagement API totals: the owner's full counts (impressions organic only, engagements organic "
    "and promoted; spec §4)",
    "analytics": "X API v2 post and media analytics (/2/tweets/analytics, /2/media/analytics): the owner's counts",
    "organic": "v2 organic_metrics: the owner's counts in the non-promoted context only",
    "non_public": "v2 non_public_metrics: owner-only counts (impressions, clicks, playback) over all contexts",
    "public": "v2 public_metrics: the counts anyone sees, over all contexts",
    "promoted": "v2 promoted_metrics: the owner's counts in the paid (promoted) context only",
    "export": "analytics.twitter.com / X Premium export columns (not the promoted ones)",
    "export_promoted": "the 'promoted ...' columns of those exports: the paid context only",
}
"""Every built-in population and what it counts; a source registered later is a population of its own name."""
_TAG_POPULATION = {
    "": "engagement",
    "v2.analytics": "analytics",
    "v2.media_analytics": "analytics",
    **{f"v2.{m}{k}_metrics": k for k in ("organic", "non_public", "public", "promoted") for m in ("", "media.")},
    "analytics_csv": "export",
    "analytics_csv.promoted": "export_promoted",
}


def tag_populations() -> dict[str, tuple[str, int]]:
    """Every registered ``source`` tag -> (its population, its rank in the registry)."""
    return {
        tag: (_TAG_POPULATION.get(tag, name), rank)
        for name in sources.names()
        for tag, rank in sources.get(name).tags.items()
    }


def population_choices() -> tuple[str, ...]:
    """``"auto"`` and every population, in the order ``"auto"`` prefers them (their best tag's rank)."""
    best: dict[str, int] = {}
    for population, rank in tag_populations().values():
        best[population] = min(rank, best.get(population, rank))
    return ("auto", *sorted(best, key=lambda k: best[k]))


def _refuse_unknown_tags(tags: Iterable[str], known: Iterable[str]) -> None:
    named = sorted(t for t in known if t)
    unknown = sorted(set(tags) - set(known))
    if unknown:
        raise DataError(
            f"tidy frame: source {unknown[0]!r} is not a registered source tag{did_you_mean(unknown[0], named)} "
            f"({len(unknown)} unknown: {unknown[:5]}); known tags: {named} (rows with no tag are Engagement API "
            "rows). Which population and rank its numbers have is unknown, so they are not guessed: fix the value, "
            "or register its source with engagement_lab.sources.register(Source(..., tags={...}))"
        )


def choose_population(
    frame: nw.LazyFrame[Any], columns: Sequence[str], population: str
) -> tuple[nw.LazyFrame[Any], str | nw.LazyFrame[Any] | None]:
    """The rows of one population per tweet, and what the result's ``population`` column holds: one value, a lazy
    frame of ``(tweet_id, population)`` to join, or ``None`` (no column: a frame without ``source`` tags, whose
    rows are all one population, keeps today's columns). See ``per_tweet`` for the rules."""
    choices = population_choices()
    check_choice("population", population, choices, DataError)
    if C.SOURCE not in columns and population == "auto":
        return frame, None
    tag = nw.col(C.SOURCE).fill_null("") if C.SOURCE in columns else nw.lit("")
    endpoint = nw.col(C.ENDPOINT).fill_null("") if C.ENDPOINT in columns else nw.lit("")
    pairs = _small(frame.select(tag.alias("t"), endpoint.alias("e")).unique())
    known = tag_populations()
    _refuse_unknown_tags(pairs["t"].to_list(), known)
    # rows with no tag from a v2 analytics endpoint (an archive of /2/tweets/analytics) count that population
    of = {(t, e): ("analytics", known["v2.analytics"][1]) if not t and e in sources.X_V2.endpoints else known[t]
          for t, e in pairs.iter_rows()}  # fmt: skip
    present = sorted(set(of.values()), key=lambda p: p[1])
    names = list(dict.fromkeys(p for p, _ in present))
    if population != "auto" and population not in names:
        raise DataError(
            f"population={population!r}: this frame holds no {population} counts; it holds {names}. Choose one of "
            f"those (each tweet's row then counts only it), or load the {population} counts"
        )
    if len(names) <= 1 or population != "auto":
        if len(names) == 1:
            return frame, names[0]
        kept = frame.filter(_case(tag, endpoint, {k: v[0] for k, v in of.items()}, "") == population)
        _warn_left_out(frame, kept, population)
        return kept, population
    rank: dict[str, int] = {}
    for name, at in present:  # a population's rank: its best tag's (organic 20 for posts, 30 for their media)
        rank[name] = min(at, rank.get(name, at))
    by_row = frame.with_columns(
        _population=_case(tag, endpoint, {k: v[0] for k, v in of.items()}, ""),
        _population_rank=_case(tag, endpoint, {k: rank[v[0]] for k, v in of.items()}, 0),
    )
    best = nw.col("_population_rank") == nw.col("_population_rank").min().over(C.TWEET_ID)
    chosen = by_row.filter(best).drop("_population_rank")
    labels = chosen.select(C.TWEET_ID, nw.col("_population").alias(POPULATION)).unique()
    _warn_mixed(labels)
    _warn_unheld(by_row, chosen)
    return chosen.drop("_population"), labels


def _small(query: nw.LazyFrame[Any]) -> pl.DataFrame:
    """A small answer of any engine as a polars frame; a polars query streams (a scan is read in batches)."""
    streaming = {"engine": "streaming"} if query.implementation is nw.Implementation.POLARS else {}
    answer: pl.DataFrame = query.collect(backend="polars", **streaming).to_native()
    return answer


def _case(tag: nw.Expr, endpoint: nw.Expr, values: dict[tuple[str, str], Any], default: Any) -> nw.Expr:
    """The value for each row's (tag, endpoint) pair, as one when/then chain (a few pairs; any engine)."""
    out: nw.Expr = nw.lit(default)
    for (t, e), value in values.items():
        out = nw.when((tag == t) & (endpoint == e)).then(nw.lit(value)).otherwise(out)
    return out


def _warn_left_out(frame: nw.LazyFrame[Any], kept: nw.LazyFrame[Any], population: str) -> None:
    """Tweets with no row of the chosen population are left out of the result: say how many, and which."""
    ids = [frame.select(C.TWEET_ID).unique(), kept.select(C.TWEET_ID).unique()]
    every, have = (_small(f)[C.TWEET_ID].drop_nulls() for f in ids)
    lost = every.filter(~every.is_in(have.implode())).sort()
    if lost.len():
        warnings.warn(
            f"per_tweet(population={population!r}): {lost.len()} of {every.len()} tweets have no {population} counts "
            f"and are left out (e.g. {lost.head(5).to_list()})",
            UserWarning,
            stacklevel=5,
        )


def _warn_mixed(labels: nw.LazyFrame[Any]) -> None:
    """Tweets whose rows count different populations are not comparable: say so, with the counts."""
    counts = _small(labels.group_by(POPULATION).agg(nw.len().alias("n")))
    if counts.height > 1:
        shown = ", ".join(f"{p}: {n}" for p, n in counts.sort(["n", POPULATION], descending=[True, False]).iter_rows())
        warnings.warn(
            f"per_tweet: the tweets count different populations ({shown} tweets; each tweet's row takes the first of "
            f"{list(population_choices()[1:])} it has). Numbers of different populations are not comparable; pass "
            "population=... to use one for every tweet (tweets without it are left out).",
            UserWarning,
            stacklevel=5,
        )


def _warn_unheld(by_row: nw.LazyFrame[Any], chosen: nw.LazyFrame[Any]) -> None:
    """Metrics the chosen populations do not count but another one does (v2 ``organic_metrics`` has no bookmarks,
    ``public_metrics`` has): the rows go without them, so say so, and which population would give them."""
    pairs = [f.select("_population", C.ENGAGEMENT_TYPE).unique() for f in (by_row, chosen)]
    held, used = (_small(f) for f in pairs)
    chosen_names = set(used["_population"].to_list())
    counted = {m for m in used[C.ENGAGEMENT_TYPE].to_list()}
    elsewhere: dict[str, list[str]] = {}
    for name, metric in held.sort("_population", C.ENGAGEMENT_TYPE).iter_rows():
        if name not in chosen_names and metric not in counted:
            elsewhere.setdefault(metric, []).append(name)
    if elsewhere:
        shown = ", ".join(f"{m} (in {' and '.join(p)})" for m, p in sorted(elsewhere.items()))
        holders = [p for names in elsewhere.values() for p in names]
        first = max(dict.fromkeys(holders), key=holders.count)  # the population that holds most of them
        warnings.warn(
            f"per_tweet: {shown} {'is' if len(elsewhere) == 1 else 'are'} not counted by the population the rows "
            f"take ({', '.join(sorted(chosen_names))}), so the result has no such column; pass "
            f"population={first!r} to have {'it' if len(elsewhere) == 1 else 'those it counts'} for every tweet",
            UserWarning,
            stacklevel=5,
        )


def one_population(
    frame: pl.LazyFrame, columns: Sequence[str], population: str, height: int | None
) -> tuple[pl.LazyFrame, pl.LazyFrame | str | None, int | None]:
    """:func:`choose_population` on a polars frame: its rows, what the ``population`` column holds (a value or a
    small frame of tweets and populations) and the height of an eager input (filtered rows are collected once: the
    survey reads them several times)."""
    given = nw.from_native(frame)
    rows, found = choose_population(given, columns, population)
    label = _small(found).lazy() if isinstance(found, nw.LazyFrame) else found
    if rows is given:
        return frame, label, height
    native: pl.LazyFrame = rows.to_native()
    if height is None:
        return native, label, None
    eager = native.collect()
    return eager.lazy(), label, eager.height


def tweet_ids(frame: pl.LazyFrame) -> set[str]:
    """The tweets a per_tweet result has (a streaming pass over one column of a lazy input)."""
    keys = pl.col(C.TWEET_ID).is_not_null() & pl.col(C.ENGAGEMENT_TYPE).is_not_null()
    ids = frame.filter(keys).select(pl.col(C.TWEET_ID).str.strip_chars()).unique().collect(engine="streaming")
    return set(ids[C.TWEET_ID].to_list())
