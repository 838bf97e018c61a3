"""The report reads as a decision: its bottom line first, counts that add up, the data's period, adjusted rates
beside adjusted lifts, warnings as notes (never raw stderr), tables downloadable from the page, and progress
lines while it renders."""

from __future__ import annotations

import base64
import math
import re
import warnings
from datetime import UTC, datetime, timedelta
from html import unescape

import numpy as np
import polars as pl
import pytest

from engagement_lab import compare
from engagement_lab.report import parts
from engagement_lab.report.render import render_report

NO_LABEL, NO_COUNTS, TWEETS = 10, 12, 400


@pytest.fixture(scope="module")
def tweets() -> pl.DataFrame:
    """A user's table of 400 tweets, one row each: content types posted from two accounts over six weeks, polls
    clearly ahead, engagement that varies from tweet to tweet as real tweets' does; 12 deleted tweets without
    counts and 10 whose content type was never recorded."""
    rng = np.random.default_rng(3)
    kinds = rng.choice(["text", "image", "link", "poll", "video"], TWEETS, p=[0.3, 0.3, 0.15, 0.1, 0.15])
    account = rng.choice(["acme", "acme_support"], TWEETS)
    lift = {"text": 1.0, "image": 1.1, "link": 0.95, "poll": 2.2, "video": 1.3}
    impressions = rng.lognormal(7.5, 0.9, TWEETS).round().astype(np.int64) + 50
    rate = 0.02 * np.array([lift[k] for k in kinds]) * np.where(account == "acme", 1.0, 1.2)
    engagements = rng.binomial(impressions, np.clip(rate * rng.gamma(4.0, 0.25, TWEETS), 0, 1))
    start = datetime(2026, 4, 1, tzinfo=UTC)
    table = pl.DataFrame(
        {
            "tweet_id": [str(1790000000000000000 + i) for i in range(TWEETS)],
            "account": account,
            "created_at": [start + timedelta(hours=int(h)) for h in rng.integers(0, 24 * 42, TWEETS)],
            "content_type": kinds,
            "impressions": impressions,
            "engagements": engagements,
        }
    )
    gone = pl.int_range(pl.len()) < NO_COUNTS
    unlabelled = (pl.int_range(pl.len()) >= NO_COUNTS) & (pl.int_range(pl.len()) < NO_COUNTS + NO_LABEL)
    return table.with_columns(
        impressions=pl.when(gone).then(None).otherwise("impressions"),
        engagements=pl.when(gone).then(None).otherwise("engagements"),
        content_type=pl.when(unlabelled).then(None).otherwise("content_type"),
    )


@pytest.fixture(scope="module")
def adjusted_report(tweets: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """One adjusted, observational report from that table, and what rendering printed on stderr."""
    import contextlib
    import io

    said = io.StringIO()
    with contextlib.redirect_stderr(said):
        out = render_report(
            table=tweets, by="content_type", control="text", adjust_for=["account"], randomised=False,
            out=tmp_path_factory.mktemp("adjusted") / "report.html",
        )  # fmt: skip
    return out.read_text(), said.getvalue()


def _text(html: str) -> str:
    """The page's visible text, tags and data URLs dropped."""
    return unescape(re.sub(r"<[^>]+>", " ", re.sub(r'href="data:[^"]*"', "", html)))


def _first_table_rows(html: str, index: int) -> list[list[str]]:
    table = re.findall(r"<table>(.*?)</table>", html, flags=re.S)[index]
    return [[unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)] for row in re.findall(r"<tr>(.*?)</tr>", table)]


def test_the_report_states_its_bottom_line_first_with_counts_that_add_up(adjusted_report: tuple[str, str]) -> None:
    html, _ = adjusted_report
    text = _text(html)
    # no raw warning text, no kernel file names
    assert "Warning" not in text
    assert "ipykernel" not in html
    assert "/tmp/" not in html
    # the bottom line is the first thing after the heading
    body = text[text.index("Engagement rate by content type") :]
    first = re.search(r"(Recommendation: [^.]*\.|Not enough evidence yet: [^.]*\.)", body)
    assert first is not None
    assert body.index(first.group(0)) < body.index("Content type ")  # before every headline
    assert first.group(0).startswith("Recommendation: favour content type poll (+")
    assert "confirm it with an A/B test" in body  # observational groups
    # the counts agree: loaded - left out = compared = the tweets of every group in the table
    counts = re.search(
        r"([\d,]+) tweets compared, of ([\d,]+) loaded \(([\d,]+) with no content type; ([\d,]+) with no "
        r"engagements or impressions value\)",
        text,
    )
    assert counts is not None, text[:600]
    compared, loaded, unlabelled, uncounted = (int(g.replace(",", "")) for g in counts.groups())
    assert (loaded, unlabelled, uncounted) == (TWEETS, NO_LABEL, NO_COUNTS)
    assert compared == loaded - unlabelled - uncounted
    groups = _first_table_rows(html, 1)
    assert sum(int(row[1].replace(",", "")) for row in groups[1:]) == compared
    assert f"Units: {compared:,} tweets" in text
    # the data's period
    assert re.search(r"Tweets posted 2026-04-0\d to 2026-05-1\d\.", text), text[:800]


def test_adjusted_rates_stand_beside_adjusted_lifts(adjusted_report: tuple[str, str]) -> None:
    html, _ = adjusted_report
    headers = re.findall(r"<th>(.*?)</th>", re.findall(r"<table>(.*?)</table>", html, flags=re.S)[0])
    assert headers[2:5] == ["Control value", "Treatment value, adjusted", "Adjusted lift (95% interval)"]
    assert "Treatment value, as observed" in headers
    for row in _first_table_rows(html, 0)[1:]:
        control, adjusted = (float(v.rstrip("%")) for v in row[2:4])
        lift = float(row[4].split("%")[0]) / 100
        assert adjusted == pytest.approx(control * (1 + lift), abs=0.011)  # they agree, to the shown rounding
    # the design effect in words, the Bayesian reading without repeating itself
    text = _text(html)
    assert "times too narrow" in text
    assert text.count("expected loss") <= 1 + len(re.findall(r"chance of beating", text))
    assert "0.0%" not in text
    assert "counting zero where it wins" in text
    assert text.count("counting zero where it wins") == 1


def test_tables_download_from_the_page_and_rendering_says_what_it_does(adjusted_report: tuple[str, str]) -> None:
    html, said = adjusted_report
    links = re.findall(r'<a download="([^"]+)" href="data:text/csv;charset=utf-8;base64,([^"]+)"', html)
    assert [name for name, _ in links] == ["comparison.csv", "groups.csv"]
    comparison = base64.b64decode(links[0][1]).decode()
    assert comparison.splitlines()[0].startswith("metric,by,control,treatment,")
    assert len(comparison.splitlines()) == 5  # four contrasts against text
    lines = said.splitlines()
    assert lines[0] == "report: starting the notebook's kernel"
    assert "report: 1/7 Loading the tweets and comparing the groups" in lines
    assert "report: 7/7 Methods" in lines
    assert re.fullmatch(r"report: done in \d+ s", lines[-1])


def _clear() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "variant": ["A"] * 40 + ["B"] * 40,
            "engagements": [3, 4, 5, 6] * 10 + [6, 7, 8, 9] * 10,
            "impressions": [100] * 80,
        }
    )


def test_the_lead_sentence_recommends_or_says_how_many_more_tweets(tweets: pl.DataFrame) -> None:
    pair, _ = parts.compared_tweets(
        tweets.filter(pl.col("content_type").is_in(["text", "link"])), by="content_type", metric="engagement_rate"
    )
    result = compare(pair, metric="engagement_rate", by="content_type", control="text")
    plans = parts.planned(result, pair, metric="engagement_rate", lift=0.1)
    lead = parts.lead(result, plans, lift=0.1, randomised=True)
    more = re.fullmatch(r"Not enough evidence yet: about ([\d,]+) more tweets per arm would tell a \+10% lift\.", lead)
    assert more is not None, lead
    assert int(more.group(1).replace(",", "")) == plans[0].more
    assert f"about {more.group(1)} more tweets per arm" in parts.bottom_line(result, pair, metric="engagement_rate")[0]
    frame = _clear()
    clear = compare(frame, metric="engagement_rate", by="variant")
    told = parts.lead(clear, parts.planned(clear, frame, metric="engagement_rate"), lift=0.1, randomised=True)
    assert told.startswith("Recommendation: use variant B (+")


def test_counts_name_every_reason_in_order() -> None:
    frame = pl.DataFrame(
        {
            "variant": ["A", "B", None, "A", "B", "A"],
            "impressions": [10, 20, 30, None, 50, 60],
            "engagements": [1.0, 2.0, 3.0, 4.0, None, float("nan")],
        }
    )
    data = parts.ReportData(frame, "t.csv", loaded=9, where="campaign=x")
    counts = parts.tweet_counts(data, by="variant", metric="engagement_rate")
    assert counts.sentence() == (
        "2 tweets compared, of 9 loaded (3 not campaign=x; 1 with no variant; 3 with no engagements or impressions "
        "value)"
    )
    assert counts.loaded - sum(n for n, _ in counts.left_out) == counts.compared
    assert parts.period(frame) == "posting dates not in the data (no created_at column)"
    dated = frame.with_columns(created_at=pl.Series(["2026-05-01T10:00:00Z", None, "2026-05-03T00:00:00Z"] * 2))
    assert parts.period(dated) == "tweets posted 2026-05-01 to 2026-05-03"


def test_a_warning_in_the_report_is_a_styled_note(monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj.data))
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)  # restored after the test
    parts.warnings_as_notes()
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("12 tweet(s) with no 'variant' value were left out <b>", UserWarning, stacklevel=1)
    assert shown == [
        '<p class="note"><strong>Note.</strong> 12 tweet(s) with no &#x27;variant&#x27; value were left out '
        "&lt;b&gt;</p>"
    ]


def test_by_is_checked_before_the_kernel_starts_derived_hours_allowed() -> None:
    from engagement_lab.errors import StatsInputError
    from engagement_lab.report.render import _check_by

    _check_by("variant", ["tweet_id", "variant"], "the table")
    _check_by("weekday", ["tweet_id", "created_at"], "the table")  # the report derives it from created_at
    with pytest.raises(StatsInputError, match=r"by='weekday' is not a column of the table; columns: \['tweet_id'\]"):
        _check_by("weekday", ["tweet_id"], "the table")
    with pytest.raises(StatsInputError, match=r"of metadata m\.csv \(did you mean 'variant'\?\)"):
        _check_by("varaint", ["tweet_id", "variant"], "metadata m.csv")


def test_the_lead_never_says_every_comparison_when_one_cannot_tell(tweets: pl.DataFrame) -> None:
    """Plans of mixed kinds (more tweets would tell; no number would; these would have told) are each said."""
    pair, _ = parts.compared_tweets(
        tweets.filter(pl.col("content_type").is_in(["text", "link"])), by="content_type", metric="engagement_rate"
    )
    result = compare(pair, metric="engagement_rate", by="content_type", control="text")
    row = result.rows[0]

    def plan(more: float) -> parts.Planned:
        return parts.Planned(row=row, clear=False, have=10, more=more)

    def lead(*more: float) -> str:
        return parts.lead(result, [plan(m) for m in more], lift=0.1, randomised=True)

    assert (
        lead(500, 200)
        == "Not enough evidence yet: about 500 more tweets per arm would tell a +10% lift in every comparison."
    )
    assert lead(500, math.inf) == (
        "Not enough evidence yet: about 500 more tweets per arm would tell a +10% lift in 1 of 2 comparisons; more "
        "tweets like these would not tell a +10% lift in 1 of 2 comparisons, so test a bolder change."
    )
    assert "would have told a +10% lift in 1 of 2 comparisons" in lead(0, math.inf)
    assert "every comparison" not in lead(0, math.inf)
    assert (
        lead(0) == "No clear difference: these tweets would have told a +10% lift, so a real one is probably smaller."
    )
    assert lead() == "Not enough evidence yet: no difference is clear (see the comparison)."
