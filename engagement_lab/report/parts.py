"""The pieces of the report, as escaped HTML: what the report notebook displays, testable without a kernel.

Everything a user wrote (title, group labels, column names) goes through :func:`html.escape`; nothing here emits
a script. The words follow :mod:`engagement_lab.stats.wording`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

import polars as pl

from .. import sources
from .._version import __version__
from ..errors import ConfigError, DataError
from ..metrics import Ratio, plain_name, resolve_metric
from ..stats import Comparison, Summary
from ..stats.compare import OBSERVATIONAL_NOTE
from ..stats.results import percent
from ..stats.wording import bayesian_sentence, correction_name, format_p, format_value

__all__ = [
    "ReportData",
    "bayesian_html",
    "bottom_line",
    "bottom_line_html",
    "caveat_html",
    "comparison_table_html",
    "glossary_html",
    "headlines_html",
    "methods_html",
    "read_table",
    "report_data",
    "summary_table_html",
    "title_html",
]

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")


@dataclass(frozen=True)
class ReportData:
    tweets: pl.DataFrame
    source: str
    """Where the numbers came from, in one line (archive and fetch time, or the table's file name)."""


def read_table(path: str | Path) -> pl.DataFrame:
    """A per-tweet table (CSV or Parquet): one row per tweet, counts and a group column; ids read as strings."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"table {path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ConfigError(f"table {path.name}: expected a .csv or .parquet file of per-tweet rows")
    if suffix == ".csv":
        # ids as text: a 19-digit id read as a number loses digits
        frame = pl.read_csv(path, infer_schema_length=10_000, schema_overrides={"tweet_id": pl.String})
    else:
        frame = pl.read_parquet(path)
        if "tweet_id" in frame.columns:
            frame = frame.with_columns(pl.col("tweet_id").cast(pl.String))
    if frame.height == 0:
        raise DataError(f"table {path.name} has no rows")
    if "tweet_id" in frame.columns and frame["tweet_id"].is_duplicated().any():
        repeated = frame.filter(pl.col("tweet_id").is_duplicated())["tweet_id"].unique().sort().head(5).to_list()
        raise DataError(
            f"table {path.name} has more than one row for tweets {repeated}: the report needs one row per tweet "
            "(use engagement_lab.per_tweet to collapse hourly or daily rows; never add up lifetime totals)"
        )
    return frame


def report_data(
    *,
    archive: str,
    metadata: str,
    table: str,
    metric: str,
    where_column: str,
    where_value: str,
) -> ReportData:
    """The per-tweet rows the report compares: from a fetch archive plus metadata, or from a table."""
    from ..load import load_archive, per_tweet
    from ..load.frames import to_polars
    from ..timeseries import posting_time

    if table:
        tweets = read_table(table)
        source = f"per-tweet table {Path(table).name}"
    else:
        tidy = load_archive(archive, backend="polars")
        assert isinstance(tidy, pl.DataFrame)
        tweets = to_polars(per_tweet(tidy, metadata=metadata or None))
        fetched = tidy["retrieved_at"].min()
        assert isinstance(fetched, datetime)
        api = sources.describe_endpoints(set(tidy["endpoint"].drop_nulls().unique().to_list()))
        source = f"{tidy.height:,} rows of {api} fetched {fetched:%Y-%m-%d %H:%M} UTC"
    if where_column:
        if where_column not in tweets.columns:
            raise ConfigError(f"where: no column {where_column!r}; columns: {tweets.columns}")
        tweets = tweets.filter(pl.col(where_column).cast(pl.String) == where_value)
        if tweets.height == 0:
            raise DataError(f"where {where_column}={where_value}: no tweets match")
    resolved = resolve_metric(metric, tweets.columns)
    if isinstance(resolved, Ratio) and metric not in tweets.columns:  # each tweet's rate, for the tweets' chart
        tweets = tweets.with_columns(
            (pl.col(resolved.numerator) / pl.col(resolved.denominator).replace(0, None)).alias(metric)
        )
    if "created_at" in tweets.columns:
        tweets = posting_time(tweets)  # hour_of_day and weekday, for adjusting
    return ReportData(tweets, source)


def _list(items: list[str], tag: str = "ul") -> str:
    return f"<{tag}>" + "".join(f"<li>{escape(item)}</li>" for item in items) + f"</{tag}>"


def headlines_html(result: Comparison) -> str:
    """The headline sentence of each comparison, first thing in the report."""
    return '<div class="headlines">' + _list(result.headlines()) + "</div>"


def caveat_html(*, randomised: bool, by: str, adjusted_for: tuple[str, ...]) -> str:
    """For observational groups, the association-not-cause caveat; for a randomised test only what was adjusted."""
    if randomised:
        if not adjusted_for:
            return ""
        return "<p>" + escape(f"The lifts hold {', '.join(adjusted_for)} fixed (see Methods).") + "</p>"
    held = (
        f" The lifts hold {', '.join(adjusted_for)} fixed; anything not measured can still explain them."
        if adjusted_for
        else " Nothing was held fixed: differences in who posted, when and what can explain them."
    )
    return (
        '<p class="caveat"><strong>Not a randomised test.</strong> '
        + escape(
            f"The {by.replace('_', ' ')} groups were not assigned at random, so these are associations: they "
            f"show which {by.replace('_', ' ')} did better, not that it caused the difference." + held
        )
        + "</p>"
    )


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def comparison_table_html(result: Comparison) -> str:
    """The contrasts with labelled, formatted columns (each header said once)."""
    level = f"{(1 - result.alpha) * 100:.4g}%"
    headers = [
        "Comparison",
        "Tweets",
        "Control value",
        "Treatment value",
        f"Lift ({level} interval)",
        "p-value" if result.correction == "none" or len(result.rows) == 1 else f"p-value ({_adjusted(result)})",
        "Design effect",
    ]
    rows = []
    for r in result.rows:
        rows.append(
            [
                f"{r.treatment} vs {r.control}",
                f"{r.n_treatment:,} vs {r.n_control:,}",
                format_value(r.control_value, r.metric),
                format_value(r.treatment_value, r.metric),
                f"{percent(r.rel_lift)} ({percent(r.rel_ci_low)} to {percent(r.rel_ci_high)})",
                format_p(r.p_adjusted).removeprefix("p = ").replace("p < ", "< "),
                "" if math.isnan(r.deff) else f"{r.deff:.1f}",
            ]
        )
    title = plain_name(result.rows[0].metric)[0] if result.rows else ""
    return f"<p>{escape(title)} of each group, and the lift of the treatment over the control.</p>" + _table(
        headers, rows
    )


def _adjusted(result: Comparison) -> str:
    return f"{correction_name(result.correction)}-adjusted"


def summary_table_html(summary: Summary) -> str:
    level = f"{(1 - summary.alpha) * 100:.4g}%"
    title = plain_name(summary.rows[0].metric)[0] if summary.rows else "Value"
    rows = [
        [
            r.group,
            f"{r.n:,}",
            format_value(r.value, r.metric),
            f"{format_value(r.ci_low, r.metric)} to {format_value(r.ci_high, r.metric)}",
        ]
        for r in summary.rows
    ]
    by = summary.rows[0].by.replace("_", " ") if summary.rows else "group"
    return _table([by[:1].upper() + by[1:], "Tweets", title, f"{level} interval"], rows)


def bayesian_html(result: Comparison) -> str:
    """Each contrast's chance to win and expected loss, in sentences."""
    frame = result.bayesian(backend="polars")
    lines = [
        bayesian_sentence(row, by=result.rows[0].by, metric=result.rows[0].metric, control=str(row["control"]))
        for row in frame.iter_rows(named=True)
    ]
    return (
        "<p>Reading the same data as a bet: with a flat prior, how likely each group is to beat the control, and "
        "what choosing it costs on average if it does not.</p>" + _list(lines)
    )


GLOSSARY = (
    ("Lift", "how much higher (+) or lower (-) the treatment's value is than the control's, as a percentage."),
    (
        "Interval",
        "the range of lifts the data are consistent with; an interval that spans 0% means no difference is "
        "still possible. Each interval is for its comparison alone.",
    ),
    (
        "p-value",
        "how often a gap at least this large would turn up by chance if the groups truly performed the same; "
        "below the threshold (alpha) such a gap would be rare if nothing differed, so we call the difference clear. "
        "A p-value is not the chance that the difference is real, and a small one does not say the difference is "
        "large or worth acting on (the interval says how large it may be); above alpha, no difference is shown, "
        "which is not the same as showing there is none. With several comparisons the p-values are adjusted so "
        "that the chance of any false alarm stays at alpha.",
    ),
    (
        "Design effect",
        "impressions of one tweet are not independent: a tweet that lands well gets many engagements at once. "
        "A design effect of 4 means a test that counted impressions as independent would report intervals half "
        "as wide as they should be (variance 4 times too small). This report treats tweets as the units.",
    ),
)


def bottom_line(
    result: Comparison, tweets: pl.DataFrame, *, metric: str, lift: float = 0.1, seed: int = 0
) -> list[str]:
    """One sentence per contrast of ``metric``: told, or how many more tweets per arm would tell ``lift`` (80%
    power, the comparison's alpha), planned by resampling the control group's own tweets
    (:func:`engagement_lab.plan`). A per-tweet mean is not planned (the lift is injected into a rate's counts)."""
    from ..stats import plan

    if not isinstance(resolve_metric(metric, tweets.columns), Ratio):
        return []
    plans: dict[str, Any] = {}
    lines = []
    for row in result.rows:
        name = f"{row.treatment} against {row.control}"
        if row.testable and row.p_adjusted < row.alpha:
            lines.append(f"{name}: clear with these tweets (see the comparison); no more are needed for this verdict.")
            continue
        if row.control not in plans:
            history = tweets.filter(pl.col(row.by).cast(pl.String) == row.control)
            plans[row.control] = plan(history, metric=metric, lift=lift, alpha=row.alpha, seed=seed)
        found = plans[row.control]
        have = min(row.n_control, row.n_treatment)
        if math.isinf(found.tweets_per_arm):
            text = (
                f"not clear, and no test of up to {found.curve[-1][0]:,} tweets per arm would tell a {lift:+.0%} lift "
                "on tweets like these: test a bolder change, or a steadier metric."
            )
        elif found.tweets_per_arm > have:
            needed = math.ceil(found.tweets_per_arm)
            text = (
                f"not clear yet; about {needed - have:,} more tweets per arm would tell a {lift:+.0%} lift "
                f"{found.power:.0%} of the time (about {needed:,} per arm in all, planned from the {found.history:,} "
                f"{row.control} tweets{' by the textbook formula' if found.closed_form else ''})."
            )
        else:
            text = (
                f"not clear, although these tweets would tell a {lift:+.0%} lift {found.power:.0%} of the time: a "
                "real difference, if there is one, is probably smaller than that."
            )
        lines.append(f"{name}: {text}" + (f" {found.note}" if found.note else ""))
    return lines


def bottom_line_html(result: Comparison, tweets: pl.DataFrame, *, metric: str, lift: float = 0.1, seed: int = 0) -> str:
    """:func:`bottom_line` under its heading, escaped (empty for a per-tweet mean, which is not planned)."""
    lines = bottom_line(result, tweets, metric=metric, lift=lift, seed=seed)
    return '<h2>The bottom line</h2><div class="bottom-line">' + _list(lines) + "</div>" if lines else ""


def glossary_html() -> str:
    return "<dl>" + "".join(f"<dt>{escape(t)}</dt><dd>{escape(d)}</dd>" for t, d in GLOSSARY) + "</dl>"


def methods_html(result: Comparison, *, n_tweets: int, source: str, randomised: bool) -> str:
    """The appendix for the statistician: estimator, reference distribution, correction, design, software."""
    plain = result.unadjusted or result
    methods = sorted({r.method for r in plain.rows})
    lines = [
        f"Units: {n_tweets:,} tweets; a rate is the ratio of sums over a group's tweets (not a mean of rates).",
        f"Estimator: {', '.join(methods)}; "
        + (
            "relative lifts tested and bounded on the log scale of the ratio of the two groups' rates."
            if any(r.rel_scale == "log" for r in plain.rows)
            else "relative lifts by the delta method for a ratio of two group means."
        ),
        f"Alternative: {result.alternative}; alpha = {result.alpha:g}; multiple testing: "
        f"{correction_name(result.correction)} over {len(result.rows)} contrast(s).",
        "Design effects (cluster variance / naive binomial variance): "
        + ", ".join(
            f"{r.treatment} vs {r.control} {r.deff:.2f}" if math.isfinite(r.deff) else "n/a" for r in plain.rows
        )
        + ".",
        f"Design: {'randomised assignment (as stated by the analyst)' if randomised else 'observational groups'}.",
    ]
    if result.adjusted_for:
        lines.append(
            f"Adjustment: Poisson GLM of counts with a log-exposure offset and {', '.join(result.adjusted_for)} as "
            "covariates; rate ratios with HC3 sandwich errors; a Mantel-Haenszel estimate is shown as a check."
        )
    lines.extend(f"Note: {n}" for n in result.notes if not (randomised and n == OBSERVATIONAL_NOTE))
    lines.append(f"Data: {source}. Software: engagement_lab {__version__}.")
    return _list(lines)


def title_html(title: str, *, n_tweets: int, randomised: bool) -> str:
    what = f"{n_tweets:,} tweets; " + ("a randomised test" if randomised else "observational groups (not randomised)")
    return f"<h1>{escape(title)}</h1><p class='subtitle'>{escape(what)}</p>"
