"""The pieces of the report, as escaped HTML: what the report notebook displays, testable without a kernel.

Everything a user wrote (title, group labels, column names) goes through :func:`html.escape`; nothing here emits
a script. The words follow :mod:`engagement_lab.stats.wording`.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

import polars as pl

from .. import sources
from .._version import __version__
from ..errors import ConfigError, DataError, StatsInputError, did_you_mean
from ..metrics import Ratio, plain_name, resolve_metric
from ..stats import Comparison, Summary
from ..stats.compare import OBSERVATIONAL_NOTE
from ..stats.results import ContrastRow, percent
from ..stats.wording import _chance as chance_words
from ..stats.wording import correction_name, format_p, format_value, group_name

__all__ = [
    "Planned",
    "ReportData",
    "TweetCounts",
    "bayesian_html",
    "bottom_line",
    "bottom_line_html",
    "caveat_html",
    "check_labels",
    "compared_tweets",
    "comparison_table_html",
    "csv_link_html",
    "design_effect_html",
    "glossary_html",
    "headlines_html",
    "lead",
    "lead_html",
    "methods_html",
    "note_html",
    "period",
    "planned",
    "read_table",
    "report_data",
    "summary_table_html",
    "title_html",
    "tweet_counts",
    "warnings_as_notes",
]

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")

MAX_LABEL_LENGTH = 200
"""Characters a group label (and the report's title, ``by``, ``control`` and ``where``) may have: the report
prints each label in headlines, tables and charts, so a longer one is refused up front rather than drawn for
minutes. The library's own results take labels of any length (shortened for display)."""


def check_labels(frame: pl.DataFrame, by: str, *, where: str = "the table", require: bool = False) -> None:
    """Refuse group labels longer than :data:`MAX_LABEL_LENGTH`, naming the longest, the column and the fix. A
    missing ``by`` column is refused as :func:`engagement_lab.compare` refuses it when ``require``, else left to
    the code that uses it."""
    if by not in frame.columns:
        if require:
            columns = list(frame.columns)
            raise StatsInputError(f"by={by!r} is not a column{did_you_mean(by, columns)}; columns: {columns[:15]}")
        return
    lengths = frame.select(pl.col(by).cast(pl.String).str.len_chars().max()).item()
    if lengths is None or lengths <= MAX_LABEL_LENGTH:
        return
    longest = frame.filter(pl.col(by).cast(pl.String).str.len_chars() == lengths)[by].cast(pl.String)[0]
    raise DataError(
        f"{where}: a label of {by!r} is {lengths:,} characters long ({longest[:40]!r}...); the report takes group "
        f"labels of at most {MAX_LABEL_LENGTH} characters: give each group a short name (e.g. a code in {by!r}, "
        "with the long text in another column)"
    )


@dataclass(frozen=True)
class ReportData:
    tweets: pl.DataFrame
    source: str
    """Where the numbers came from, in one line (archive and fetch time, or the table's file name)."""
    loaded: int = -1
    """Tweets loaded, before ``where`` (-1: not known, taken as ``tweets.height``)."""
    where: str = ""
    """The ``COLUMN=VALUE`` filter applied, if any."""
    as_of: datetime | None = None
    """When the numbers were observed (the archive's last fetch), if known."""


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

    as_of = None
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
        last = tidy["retrieved_at"].max()
        as_of = last if isinstance(last, datetime) else None
    loaded = tweets.height
    if where_column:
        tweets = _where(tweets, where_column, where_value)
    resolved = resolve_metric(metric, tweets.columns)
    if isinstance(resolved, Ratio) and metric not in tweets.columns:  # each tweet's rate, for the tweets' chart
        tweets = tweets.with_columns(
            (pl.col(resolved.numerator) / pl.col(resolved.denominator).replace(0, None)).alias(metric)
        )
    if "created_at" in tweets.columns:
        tweets = posting_time(tweets)  # hour_of_day and weekday, for adjusting
    where = f"{where_column}={where_value}" if where_column else ""
    return ReportData(tweets, source, loaded=loaded, where=where, as_of=as_of)


@dataclass(frozen=True)
class TweetCounts:
    """How many tweets were loaded, how many the comparison used, and why each of the others was left out (in
    the order the reasons apply, so ``loaded - sum(left out) == compared``)."""

    loaded: int
    compared: int
    left_out: tuple[tuple[int, str], ...]

    def sentence(self) -> str:
        """``220 tweets compared, of 660 loaded (440 not campaign=spring_launch)``."""
        if self.compared == self.loaded:
            return f"{self.compared:,} tweets compared"
        why = "; ".join(f"{n:,} {reason}" for n, reason in self.left_out if n)
        return f"{self.compared:,} tweets compared, of {self.loaded:,} loaded ({why})"


def compared_tweets(tweets: pl.DataFrame, *, by: str, metric: str) -> tuple[pl.DataFrame, list[tuple[int, str]]]:
    """The tweets a comparison of ``metric`` by ``by`` uses, as :func:`engagement_lab.compare` selects them (a
    group label, and every column of the metric present and not NaN), with the count left out for each reason."""
    check_labels(tweets, by, require=True)
    resolved = resolve_metric(metric, tweets.columns)
    reasons = []
    kept = tweets.filter(pl.col(by).is_not_null())
    reasons.append((tweets.height - kept.height, f"with no {by.replace('_', ' ')}"))
    present = [pl.col(c).is_not_null() & ~pl.col(c).cast(pl.Float64).is_nan() for c in resolved.columns]
    counted = kept.filter(pl.all_horizontal(present)) if present else kept
    reasons.append((kept.height - counted.height, f"with no {' or '.join(resolved.columns)} value"))
    return counted, reasons


def tweet_counts(data: ReportData, *, by: str, metric: str) -> TweetCounts:
    """:class:`TweetCounts` of the report: loaded, left out by ``where``, with no group, with no metric value."""
    counted, reasons = compared_tweets(data.tweets, by=by, metric=metric)
    loaded = data.loaded if data.loaded >= 0 else data.tweets.height
    outside = [(loaded - data.tweets.height, f"not {data.where}")] if data.where else []
    return TweetCounts(loaded, counted.height, tuple(outside + reasons))


def period(tweets: pl.DataFrame, as_of: datetime | None = None) -> str:
    """The data's period in words: when the compared tweets were posted (``created_at``), and when their numbers
    were observed; says so when the table does not tell."""
    posted = "posting dates not in the data (no created_at column)"
    if "created_at" in tweets.columns:
        created = tweets["created_at"]
        if created.dtype == pl.String:  # ISO text, as a metadata CSV holds it
            created = created.str.to_datetime(time_zone="UTC", time_unit="us", strict=False)
        first, last = created.min(), created.max()
        if isinstance(first, datetime) and isinstance(last, datetime):
            posted = f"tweets posted {first:%Y-%m-%d} to {last:%Y-%m-%d}"
        else:
            posted = "posting dates not known (created_at is empty)"
    seen = f"; numbers as of {as_of:%Y-%m-%d %H:%M} UTC" if as_of is not None else ""
    return posted + seen


_VALUES_SHOWN = 12


def _where(tweets: pl.DataFrame, column: str, value: str) -> pl.DataFrame:
    """The tweets whose ``column`` reads ``value`` (as text); a column not there gets the closest name, a value no
    tweet has gets the values present (the most common first), so a typo is fixed in one go."""
    if column not in tweets.columns:
        raise ConfigError(
            f"where {column}={value}: no column {column!r}{did_you_mean(column, tweets.columns)}; "
            f"columns: {tweets.columns}"
        )
    text = tweets[column].cast(pl.String)
    kept = tweets.filter(text == value)
    if kept.height == 0:
        counts = text.drop_nulls().value_counts(sort=True)
        present = [f"{v} ({n:,})" for v, n in counts.head(_VALUES_SHOWN).iter_rows()]
        more = f" and {counts.height - _VALUES_SHOWN:,} more" if counts.height > _VALUES_SHOWN else ""
        close = did_you_mean(value, counts[column].to_list())
        raise DataError(
            f"where {column}={value}: no tweets match{close}; {column} values present (tweets): "
            + (", ".join(present) + more if present else "none (the column is empty)")
        )
    return kept


def note_html(text: str) -> str:
    """A warning as the report shows it: a styled note with the message alone (no file name, line or category)."""
    return f'<p class="note"><strong>Note.</strong> {escape(text.strip())}</p>'


def warnings_as_notes() -> None:
    """From now on, show each warning as a :func:`note_html` in the output of the cell that raised it, never as a
    raw stderr line (which would carry the kernel's temporary file name). For the report's kernel only."""
    import warnings

    from IPython.display import HTML, display

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        display(HTML(note_html(str(message))))  # type: ignore[no-untyped-call]

    warnings.showwarning = show


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
    """The contrasts with labelled, formatted columns (each header said once). For an adjusted comparison the
    treatment's rate is shown adjusted too (the control's rate times the adjusted rate ratio: the treatment's rate
    had it the control's mix of the adjusted-for columns), beside the adjusted lift it agrees with, and the rates
    and lift as observed beside them."""
    level = f"{(1 - result.alpha) * 100:.4g}%"
    p_header = "p-value" if result.correction == "none" or len(result.rows) == 1 else f"p-value ({_adjusted(result)})"
    raw = result.unadjusted.rows if result.unadjusted is not None else [None] * len(result.rows)
    rows = []
    for r, u in zip(result.rows, raw, strict=True):
        lift = f"{percent(r.rel_lift)} ({percent(r.rel_ci_low)} to {percent(r.rel_ci_high)})"
        p = format_p(r.p_adjusted).removeprefix("p = ").replace("p < ", "< ")
        cells = [f"{r.treatment} vs {r.control}", f"{r.n_treatment:,} vs {r.n_control:,}"]
        if u is None:
            cells += [format_value(r.control_value, r.metric), format_value(r.treatment_value, r.metric), lift, p]
        else:
            adjusted = r.control_value * (1 + r.rel_lift) if math.isfinite(r.rel_lift) else math.nan
            cells += [
                format_value(r.control_value, r.metric),
                format_value(adjusted, r.metric),
                lift,
                p,
                format_value(u.treatment_value, r.metric),
                percent(u.rel_lift),
            ]
        rows.append(cells)
    headers = ["Comparison", "Tweets"]
    if result.unadjusted is None:
        headers += ["Control value", "Treatment value", f"Lift ({level} interval)", p_header]
    else:
        headers += [
            "Control value",
            "Treatment value, adjusted",
            f"Adjusted lift ({level} interval)",
            p_header,
            "Treatment value, as observed",
            "Lift, as observed",
        ]
    title = plain_name(result.rows[0].metric)[0] if result.rows else ""
    intro = f"{title} of each group, and the lift of the treatment over the control."
    if result.unadjusted is not None:
        intro += (
            f" Adjusted values hold {', '.join(result.adjusted_for)} fixed: the treatment's value is what it would "
            "be with the control's mix of them (the control's value times the adjusted rate ratio), so it agrees "
            "with the adjusted lift; the values as observed are shown beside them."
        )
    return f"<p>{escape(intro)}</p>" + _table(headers, rows)


def design_effect_html(result: Comparison) -> str:
    """The design effects in words, where they matter (above 2: a test of impressions would mislead): how much
    more the tweets vary than independent impressions would, and how much too narrow such a test's intervals
    would be. Empty where they do not matter or could not be computed."""
    plain = result.unadjusted or result
    effects = [r.deff for r in plain.rows if math.isfinite(r.deff)]
    if not effects or max(effects) < 2:
        return ""
    low, high = min(effects), max(effects)
    size = f"{low:.0f}" if round(low) == round(high) else f"{low:.0f} to {high:.0f}"
    narrow = f"{math.sqrt(low):.1f}" if round(low) == round(high) else f"{math.sqrt(low):.1f} to {math.sqrt(high):.1f}"
    text = (
        f"Why tweets, not impressions, are the units: these tweets' engagement varies {size} times as much as it "
        f"would if every impression were an independent coin flip (the design effect), because a tweet that lands "
        f"well gets many engagements at once. A test that counted impressions as independent would report "
        f"intervals {narrow} times too narrow and call chance differences clear; this report's intervals allow "
        "for it."
    )
    return f'<p class="explain">{escape(text)}</p>'


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
    """Each contrast's chance to win and expected loss, the expected loss explained once, and contrasts that read
    the same (e.g. "over 99.9%" at a loss under 0.1%) said together in one sentence."""
    frame = result.bayesian(backend="polars")
    if not result.rows:
        return ""
    by, metric = result.rows[0].by, result.rows[0].metric
    noun = plain_name(metric)[1]
    said: dict[tuple[str, str, str], list[str]] = {}
    for row in frame.iter_rows(named=True):
        chance = row["chance_to_win"]
        if not math.isfinite(chance):
            key = ("none", "", str(row["control"]))
        else:
            key = (chance_words(chance), _loss(abs(row["risk_treatment"])), str(row["control"]))
        said.setdefault(key, []).append(str(row["treatment"]))
    lines = []
    for (chance, loss, control), groups in said.items():
        names = _and([group_name(by, g) if i == 0 else g for i, g in enumerate(groups)])
        if chance == "none":
            lines.append(f"{names}: no Bayesian reading (the lift could not be estimated).")
            continue
        each = "each " if len(groups) > 1 else ""
        lines.append(f"{names}: {each}{chance} chance of beating {control}; expected loss {loss}.")
    return (
        "<p>"
        + escape(
            "Reading the same data as a bet, with a flat prior: how likely each group is to beat the control, and "
            "its expected loss: what choosing it would cost on average, as a share of the control's "
            f"{noun}, counting zero where it wins."
        )
        + "</p>"
        + _list(lines)
    )


def _loss(loss: float) -> str:
    """An expected loss as a share: ``under 0.1%`` rather than a bare ``0.0%``."""
    return "under 0.1%" if loss < 0.0005 else f"{loss * 100:.1f}%"


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def csv_link_html(csv: str | None, filename: str, what: str) -> str:
    """A link that downloads ``csv`` from the page itself (a ``data:`` URL: no script, no server, works offline)."""
    if not csv:
        return ""
    href = "data:text/csv;charset=utf-8;base64," + base64.b64encode(csv.encode()).decode("ascii")
    return (
        f'<p class="download"><a download="{escape(filename)}" href="{escape(href)}">'
        f"Download {escape(what)} (CSV)</a></p>"
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


@dataclass(frozen=True)
class Planned:
    """What a contrast of the bottom line needs: ``more`` tweets per arm beyond the ``have`` it had (0 when it is
    clear already, ``inf`` when no test of tweets like these would tell the lift)."""

    row: ContrastRow
    clear: bool
    have: int
    more: float
    plan: Any = None


def planned(
    result: Comparison, tweets: pl.DataFrame, *, metric: str, lift: float = 0.1, seed: int = 0
) -> list[Planned]:
    """Each contrast of ``metric``: clear, or how many more tweets per arm would tell ``lift`` (80% power, the
    comparison's alpha), planned by resampling the control group's own tweets (:func:`engagement_lab.plan`, once
    per control). A per-tweet mean is not planned (the lift is injected into a rate's counts): empty."""
    from ..stats import plan

    if not isinstance(resolve_metric(metric, tweets.columns), Ratio):
        return []
    plans: dict[str, Any] = {}
    out = []
    for row in result.rows:
        have = min(row.n_control, row.n_treatment)
        if row.testable and row.p_adjusted < row.alpha:
            out.append(Planned(row, True, have, 0.0))
            continue
        if row.control not in plans:
            history = tweets.filter(pl.col(row.by).cast(pl.String) == row.control)
            plans[row.control] = plan(history, metric=metric, lift=lift, alpha=row.alpha, seed=seed)
        found = plans[row.control]
        more = math.inf if math.isinf(found.tweets_per_arm) else max(0, math.ceil(found.tweets_per_arm) - have)
        out.append(Planned(row, False, have, float(more), found))
    return out


def bottom_line(
    result: Comparison, tweets: pl.DataFrame, *, metric: str, lift: float = 0.1, seed: int = 0
) -> list[str]:
    """One sentence per contrast of ``metric``: told, or how many more tweets per arm would tell ``lift`` (see
    :func:`planned`)."""
    return [_planned_sentence(p, lift) for p in planned(result, tweets, metric=metric, lift=lift, seed=seed)]


def _planned_sentence(item: Planned, lift: float) -> str:
    row, found = item.row, item.plan
    name = f"{row.treatment} against {row.control}"
    if item.clear:
        return f"{name}: clear with these tweets (see the comparison); no more are needed for this verdict."
    if math.isinf(item.more):
        text = (
            f"not clear, and no test of up to {found.curve[-1][0]:,} tweets per arm would tell a {lift:+.0%} lift "
            "on tweets like these: test a bolder change, or a steadier metric."
        )
    elif item.more > 0:
        needed = item.have + int(item.more)
        text = (
            f"not clear yet; about {int(item.more):,} more tweets per arm would tell a {lift:+.0%} lift "
            f"{found.power:.0%} of the time (about {needed:,} per arm in all, planned from the {found.history:,} "
            f"{row.control} tweets{' by the textbook formula' if found.closed_form else ''})."
        )
    else:
        text = (
            f"not clear, although these tweets would tell a {lift:+.0%} lift {found.power:.0%} of the time: a "
            "real difference, if there is one, is probably smaller than that."
        )
    return f"{name}: {text}" + (f" {found.note}" if found.note else "")


def bottom_line_html(plans: list[Planned], *, lift: float) -> str:
    """:func:`bottom_line`'s sentences for ``plans`` (from :func:`planned`, computed once for the lead as well)
    under their heading, escaped (empty for a per-tweet mean, which is not planned)."""
    lines = [_planned_sentence(p, lift) for p in plans]
    return '<h2>The bottom line</h2><div class="bottom-line">' + _list(lines) + "</div>" if lines else ""


def lead(result: Comparison, plans: list[Planned], *, lift: float, randomised: bool) -> str:
    """The report's first sentence: ``Recommendation: ...`` when a contrast is clear, else ``Not enough evidence
    yet: ...`` with the tweets per arm the planning functions say would tell ``lift`` (see :func:`planned`)."""
    rows = [r for r in result.rows if r.testable and r.p_adjusted < r.alpha]
    level = f"{(1 - result.alpha) * 100:.4g}%"
    if rows:
        winners = [r for r in rows if r.rel_lift > 0]
        if winners:
            best = max(winners, key=lambda r: r.rel_lift)
            verb = "use" if randomised else "favour"
            told = (
                f"Recommendation: {verb} {_inline(group_name(best.by, best.treatment), best.by)} "
                f"({percent(best.rel_lift)} "
                f"{plain_name(best.metric)[1]} against {best.control}; {level} interval {percent(best.rel_ci_low)} "
                f"to {percent(best.rel_ci_high)})"
            )
        else:
            worst = min(rows, key=lambda r: r.rel_lift)
            told = (
                f"Recommendation: keep {worst.control} ({_inline(group_name(worst.by, worst.treatment), worst.by)}: "
                f"{percent(worst.rel_lift)} {plain_name(worst.metric)[1]}; {level} interval "
                f"{percent(worst.rel_ci_low)} to {percent(worst.rel_ci_high)})"
            )
        caveat = "" if randomised else "; the groups were not randomised, so confirm it with an A/B test"
        others = len(result.rows) - len(rows)
        rest = f"; {others} other comparison(s) not clear yet (see the bottom line)" if others else ""
        return told + caveat + rest + "."
    pending = [p for p in plans if not p.clear]
    finite = [p.more for p in pending if math.isfinite(p.more) and p.more > 0]
    never = sum(1 for p in pending if math.isinf(p.more))
    would_have = len(pending) - len(finite) - never  # would already have told the lift: a real one is probably smaller
    if not pending:
        return "Not enough evidence yet: no difference is clear (see the comparison)."

    def of(k: int) -> str:  # which comparisons a clause is about, only when it is not all of them
        return "" if k == len(pending) else f" in {k} of {len(pending)} comparisons"

    clauses = []
    if finite:
        every = " in every comparison" if len(pending) > 1 and len(finite) == len(pending) else of(len(finite))
        clauses.append(f"about {int(max(finite)):,} more tweets per arm would tell a {lift:+.0%} lift{every}")
    if never:
        clauses.append(f"more tweets like these would not tell a {lift:+.0%} lift{of(never)}, so test a bolder change")
    if would_have:
        clauses.append(
            f"these tweets would have told a {lift:+.0%} lift{of(would_have)}, so a real one is probably smaller"
        )
    if would_have == len(pending):
        return f"No clear difference: {clauses[0]}."
    return "Not enough evidence yet: " + "; ".join(clauses) + "."


def _inline(name: str, by: str) -> str:
    """A group's name inside a sentence: ``Variant B`` -> ``variant B`` (a label the user wrote is left alone)."""
    column = by.replace("_", " ")
    return column + name[len(column) :] if name.lower().startswith(column.lower() + " ") else name


def lead_html(result: Comparison, plans: list[Planned], *, lift: float, randomised: bool) -> str:
    """:func:`lead` as the report's first paragraph."""
    return f'<p class="lead">{escape(lead(result, plans, lift=lift, randomised=randomised))}</p>'


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


def title_html(
    title: str, *, n_tweets: int, randomised: bool, counts: TweetCounts | None = None, when: str = ""
) -> str:
    """The heading and its subtitle: the tweets compared (of those loaded, and why the rest were left out), the
    design, and the data's period (:func:`period`)."""
    tweets = counts.sentence() if counts is not None else f"{n_tweets:,} tweets"
    what = f"{tweets}; " + ("a randomised test" if randomised else "observational groups (not randomised)")
    period_line = f"<p class='period'>{escape(when[:1].upper() + when[1:])}.</p>" if when else ""
    return f"<h1>{escape(title)}</h1><p class='subtitle'>{escape(what)}</p>{period_line}"
