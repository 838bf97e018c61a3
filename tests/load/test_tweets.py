"""per_tweet: one row per tweet, the right grain chosen, metadata joined on string ids; Parquet round trip."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from datetime import date
from itertools import pairwise, permutations
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement_lab import DataError
from engagement_lab.load import load_response, load_v2, per_tweet, scan, to_parquet
from engagement_lab.load.frames import key_hash
from engagement_lab.load.tweets_rules import BUCKET

from .conftest import frame_rows

A, B = "1790000000000000001", "1790000000000000002"
PAYLOAD = {
    "totals": {A: {"impressions": "1000", "engagements": "50"}, B: {"impressions": "0", "engagements": "0"}},
    "hourly": {
        A: {
            "impressions": {"2026-05-01": {"10": "600", "11": "300"}},
            "url_clicks": {"2026-05-01": {"10": "4", "11": "1"}},
        }
    },
    "daily": {A: {"url_clicks": {"2026-05-01": "5"}}},
    "grand": {"impressions": "1000"},
}


def test_totals_win_then_hourly_and_nothing_is_summed_twice(backend: str) -> None:
    wide = per_tweet(load_response(PAYLOAD, backend=backend))  # type: ignore[arg-type]
    rows = {r["tweet_id"]: r for r in frame_rows(wide)}
    assert list(rows) == [A, B]
    assert rows[A]["impressions"] == 1000  # the lifetime total, not the 900 of the hourly window
    assert rows[A]["url_clicks"] == 5  # hourly sum (not hourly + daily)
    assert rows[B]["url_clicks"] is None  # not fetched is missing, not zero
    assert list(wide.columns)[:4] == ["tweet_id", "impressions", "engagements", "url_clicks"]


def test_dtypes_are_int64_and_ids_strings() -> None:
    wide = per_tweet(load_response(PAYLOAD))
    assert isinstance(wide, pd.DataFrame)
    assert str(wide["impressions"].dtype) == "Int64"
    assert str(wide["tweet_id"].dtype) == "string"
    polars_wide = per_tweet(load_response(PAYLOAD, backend="polars"))
    assert isinstance(polars_wide, pl.DataFrame)
    assert polars_wide.schema["impressions"] == pl.Int64


def test_rates_from_named_metrics(backend: str) -> None:
    rows = {
        r["tweet_id"]: r
        for r in frame_rows(per_tweet(load_response(PAYLOAD, backend=backend), rates=["engagement_rate", "ctr"]))
    }  # type: ignore[arg-type]
    assert rows[A]["engagement_rate"] == pytest.approx(0.05)
    assert rows[A]["ctr"] == pytest.approx(0.005)
    assert rows[B]["engagement_rate"] is None  # no impressions: undefined, not zero
    with pytest.raises(DataError, match="did you mean 'engagement_rate'"):
        per_tweet(load_response(PAYLOAD), rates=["engagement_rat"])


def test_metadata_join_from_csv_keeps_long_ids_exact(tmp_path: Path, backend: str) -> None:
    meta = tmp_path / "tweets.csv"
    meta.write_text(f"tweet_id,variant,content_type\n{A},B,video\n{B},A,text\n9,A,text\n")
    rows = frame_rows(per_tweet(load_response(PAYLOAD, backend=backend), metadata=meta))  # type: ignore[arg-type]
    assert [(r["tweet_id"], r["variant"]) for r in rows] == [(A, "B"), (B, "A")]


@pytest.mark.parametrize(
    ("metadata", "phrase"),
    [
        (pd.DataFrame({"tweet_id": [1.790000000000000001e18], "variant": ["A"]}), "lost digits"),
        (pd.DataFrame({"tweet_id": ["1.79E+18"], "variant": ["A"]}), "scientific notation"),
        (pd.DataFrame({"id": [A], "variant": ["A"]}), "no 'tweet_id' column"),
        (pd.DataFrame({"tweet_id": [A, A], "variant": ["A", "B"]}), "more than once"),
    ],
)
def test_bad_metadata_is_explained(metadata: pd.DataFrame, phrase: str) -> None:
    with pytest.raises(DataError, match=phrase):
        per_tweet(load_response(PAYLOAD), metadata=metadata)


def test_int_ids_in_metadata_are_exact_and_accepted() -> None:
    meta = pl.DataFrame({"tweet_id": [int(A)], "variant": ["B"]})
    with pytest.warns(UserWarning, match="1 of 2 tweets have no row in the metadata"):  # the other tweet: named
        rows = frame_rows(per_tweet(load_response(PAYLOAD, backend="polars"), metadata=meta))
    assert rows[0]["variant"] == "B"


def test_v2_sources_do_not_add_up() -> None:
    payload = {
        "data": [
            {
                "id": A,
                "public_metrics": {"impression_count": 900, "like_count": 5},
                "organic_metrics": {"impression_count": 800, "like_count": 4},
            }
        ]
    }
    rows = frame_rows(per_tweet(load_v2(payload)))
    assert rows[0]["impressions"] == 800  # organic wins, as the Engagement API's impressions are organic
    assert rows[0]["favorites"] == 4


def test_parquet_round_trip_is_lazy_and_exact(tmp_path: Path) -> None:
    tidy = load_response(PAYLOAD, backend="polars")
    to_parquet(tidy, tmp_path / "ds")
    to_parquet(load_response(PAYLOAD), tmp_path / "ds")  # pandas too, appended
    lazy = scan(tmp_path / "ds")
    assert isinstance(lazy, pl.LazyFrame)
    back = lazy.filter(pl.col("grain") == "hour").collect()
    assert back.height == 2 * 4
    assert back.schema["tweet_id"] == pl.String
    total = lazy.filter(pl.col("grain") == "total").select(pl.col("value").sum()).collect().item()
    assert total == 2 * (1000 + 50 + 1000)
    assert {p.name for p in (tmp_path / "ds").iterdir()} == {"endpoint=unknown"}


def test_a_lazy_frame_in_gives_a_lazy_frame_out_equal_to_the_eager_result(tmp_path: Path) -> None:
    to_parquet(load_response(PAYLOAD, backend="polars"), tmp_path / "ds")
    lazy = per_tweet(scan(tmp_path / "ds"), rates=["engagement_rate"])
    assert isinstance(lazy, pl.LazyFrame)
    eager = per_tweet(load_response(PAYLOAD, backend="polars"), rates=["engagement_rate"])
    assert isinstance(eager, pl.DataFrame)
    assert lazy.collect().equals(eager)
    with pytest.raises(DataError, match="collect it first"):
        per_tweet(scan(tmp_path / "ds"), backend="pandas")


def test_the_fast_path_and_the_exact_path_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-pass survey may skip ranking and the repeat test only when they would change nothing."""
    from engagement_lab.load import tweets

    hourly = {"g": {A: {"impressions": {"2026-05-01": {"00": "10", "01": "12"}}, "engagements": {"2026-05-01":
              {"00": "1", "01": "2"}}}, B: {"impressions": {"2026-05-01": {"00": "7"}}}}}  # fmt: skip
    frames = [load_response(PAYLOAD, backend="polars"), load_response(hourly, backend="polars")]
    frames.append(pl.concat([frames[1], load_v2({"data": [{"id": A, "public_metrics": {"like_count": 3}}]},
                                                backend="polars")], how="diagonal_relaxed"))  # fmt: skip
    fast = [per_tweet(f) for f in frames]
    for survey in ("_survey", "_one_pass"):  # an eager input's survey, and a lazy one's single pass
        real = getattr(tweets, survey)

        def never_uniform(*args: Any, real: Any = real, **kwargs: Any) -> Any:
            found, summed = real(*args, **kwargs)
            return {**found, "uniform": False}, summed

        monkeypatch.setattr(tweets, survey, never_uniform)
    for frame, expected in zip(frames, fast, strict=True):
        assert per_tweet(frame).equals(expected)  # type: ignore[union-attr]
        assert per_tweet(frame.lazy()).collect().equals(expected)  # type: ignore[union-attr]


def test_a_lazy_frame_with_a_repeated_total_is_refused_at_the_call(tmp_path: Path) -> None:
    twice = pl.concat([load_response(PAYLOAD, backend="polars")] * 2)  # type: ignore[list-item]
    with pytest.raises(DataError, match="same number more than once"):
        per_tweet(twice.lazy())
    assert per_tweet(twice.lazy(), keep="latest").collect().equals(per_tweet(load_response(PAYLOAD, backend="polars")))  # type: ignore[union-attr]


def test_the_repeat_check_in_hash_parts_decides_like_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large inputs are checked for repeats in hash parts (bounded memory); equal keys hash alike, so a repeat is
    always found in one of the parts, and per_tweet refuses it as it does in one pass."""
    from engagement_lab.load import frames, tweets

    # one grouping: the fast path, where the survey's repeat check is all that stands between a repeat and a sum
    tidy = load_response({"totals": PAYLOAD["totals"]}, backend="polars")
    keys = ["tweet_id", "engagement_type", "grain", "day", "hour", "timestamp"]
    twice = pl.concat([tidy, tidy.head(1)])  # type: ignore[list-item]
    for frame, repeated in ((tidy, False), (twice, True)):
        for parts in (1, 2, 3, 7):
            found = [frames.repeats_query(frame, keys, k, parts).collect().item() for k in range(parts)]
            assert any(found) is repeated
            assert sum(found) == repeated  # the repeated key lands in exactly one part
    for parts in range(2, 8):  # the repeat falls outside part 0 for most of these
        monkeypatch.setattr(tweets, "repeat_parts", lambda rows, n=parts: n)
        for frame in (twice, twice.lazy()):  # an eager frame the proof cannot clear; a lazy one's repeat check
            with pytest.raises(DataError, match="same number more than once"):
                per_tweet(frame)
        assert per_tweet(tidy.reverse()).equals(per_tweet(tidy))  # the sort of every row clears it, in parts
        assert per_tweet(tidy.lazy()).collect().equals(per_tweet(tidy))  # type: ignore[union-attr]
    assert frames.repeat_parts(frames.REPEAT_PASS_ROWS * 2 + 1) == 3


def test_a_lazy_frame_is_read_once_and_a_repeat_planted_anywhere_is_refused(tmp_path: Path) -> None:
    """A lazy input is checked and summed per tweet and metric in one pass, then its bucket hashes are sorted for
    the repeat check: the LazyFrame returned reads nothing more (its files can be gone), and one hour repeated,
    whichever row it is, is refused."""
    posted = pl.datetime(2026, 4, 30, 9, time_zone="UTC") + pl.duration(
        minutes=pl.col("tweet_id").str.slice(-1).cast(int)
    )
    rows = _hour_rows().with_columns(created_at=posted)  # each tweet's created_at comes from the same pass
    path = tmp_path / "tidy.parquet"
    rows.write_parquet(path)
    wide = per_tweet(pl.scan_parquet(path), rates=["ctr"])
    path.unlink()
    got = wide.collect()  # type: ignore[union-attr]
    assert got.equals(per_tweet(rows, rates=["ctr"]))
    assert got["created_at"].n_unique() > 1
    for i in range(rows.height):
        with pytest.raises(DataError, match="same number more than once"):
            per_tweet(pl.concat([rows, rows.slice(i, 1)]).lazy())


def test_the_lazy_repeat_check_hashes_fewer_columns_and_never_passes_a_repeat(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A uniform lazy input's repeat check hashes tweet, metric and timestamp, written by the one pass, when every
    row has a timestamp (day, hour and the one grain add only reading), and day, hour and timestamp, read again,
    when some lack one (days of daily rows): both take the fast way when nothing repeats, and a repeat is
    refused. Two rows of one
    timestamp and different days look alike to the shorter hash and take the exact way, which sums them."""
    from engagement_lab.load import tweets

    exact: list[int] = []
    real = tweets._choose_rows
    monkeypatch.setattr(tweets, "_choose_rows", lambda *a: exact.append(1) or real(*a))
    again: list[int] = []  # reads of the input after the one pass
    read_again = tweets._repeats
    monkeypatch.setattr(tweets, "_repeats", lambda *a: again.append(1) or read_again(*a))
    hourly = _hour_rows()
    daily = hourly.with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias("timestamp"))
    for rows in (hourly, daily):
        assert per_tweet(rows.lazy()).collect().equals(per_tweet(rows))  # type: ignore[union-attr]
        assert exact == []  # the fast way, for the lazy input and the eager one
        assert again == [1] * (rows is daily)  # hourly rows: the hashes written by the one pass decide
        exact.clear()
        again.clear()
        with pytest.raises(DataError, match="same number more than once"):
            per_tweet(pl.concat([rows, rows.slice(5, 1)]).lazy())
        exact.clear()
    other_day = pl.concat([hourly, hourly.slice(5, 1).with_columns(pl.col("day") + pl.duration(days=9))])
    assert per_tweet(other_day.lazy()).collect().equals(per_tweet(other_day))  # type: ignore[union-attr]
    assert exact


def test_the_lazy_repeat_check_reads_its_hash_file_in_parts_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bucket hashes the one pass writes are sorted one hash part after another when there are many: a repeat
    is found in whichever part it falls. The temporary file is gone afterwards, after a refusal too."""
    from engagement_lab.load import tweets

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    rows = _hour_rows()
    expected = per_tweet(rows)
    for parts in range(1, 6):
        monkeypatch.setattr(tweets, "repeat_parts", lambda n, k=parts: k)
        assert per_tweet(rows.lazy()).collect().equals(expected)  # type: ignore[union-attr]
        for i in (0, 7, rows.height - 1):
            with pytest.raises(DataError, match="same number more than once"):
                per_tweet(pl.concat([rows, rows.slice(i, 1)]).lazy())
    assert list(tmp_path.iterdir()) == []


def _count_sorts(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one each time per_tweet runs the hash sort of every row's bucket."""
    from engagement_lab.load import tweets

    sorts: list[int] = []
    real = tweets.repeats_query

    def counted(*args: Any) -> Any:
        sorts.append(1)
        return real(*args)

    monkeypatch.setattr(tweets, "repeats_query", counted)
    return sorts


def test_the_proof_of_no_repeats_holds_only_when_it_should(monkeypatch: pytest.MonkeyPatch) -> None:
    """An eager frame laid out like one answer (each tweet and metric one stretch of rows, times increasing), or
    like several such answers in any order, is proved free of repeats without the hash sort of every row; other
    layouts, and every repeat, go to the sort."""
    day = {f"{h:02d}": str(h * 5 % 7 + 1) for h in range(24)}
    hourly = {"g": {A: {"impressions": {"2026-05-01": day}},
                    B: {"impressions": {"2026-05-01": dict(list(day.items())[:12])}}}}  # fmt: skip
    one = load_response(hourly, backend="polars")
    assert isinstance(one, pl.DataFrame)
    sorts = _count_sorts(monkeypatch)
    expected = per_tweet(one)
    assert sorts == []  # proved: the usual layout pays no sort
    assert per_tweet(one.reverse()).equals(expected)  # times decreasing within a stretch: the sort decides
    assert sorts == [1]
    hour = pl.col("hour")
    early, late = one.filter(hour < 8), one.filter(hour >= 8)
    assert per_tweet(pl.concat([early, late])).equals(expected)  # two answers, oldest first: proved
    assert per_tweet(pl.concat([late, early])).equals(expected)  # newest first: proved
    assert sorts == [1]
    middle, last = one.filter(hour.is_between(8, 15)), one.filter(hour >= 16)
    assert per_tweet(pl.concat([middle, early, last])).equals(expected)  # answers in neither order: proved
    assert sorts == [1]
    many = pl.DataFrame({"tweet_id": [str(10**18 + i) for i in range(2_000)]}).join(
        pl.DataFrame(HOURS).filter(pl.col("tweet_id") == A).drop("tweet_id"), how="cross"
    )
    interleaved = many.sort("tweet_id", "day", "hour", maintain_order=True)  # 48,000 stretches of one row
    assert interleaved["engagement_type"].head(2).to_list() == ["impressions", "url_clicks"]
    assert per_tweet(interleaved).height == 2_000  # sorting the stretches would cost what the sort of every row does
    assert len(sorts) == 2
    assert per_tweet(interleaved.head(9_000)).height == 375  # a few stretches: sorted, and proved
    assert len(sorts) == 2
    repeated = {
        "the same hour twice in a row": pl.concat([one.head(1), one]),
        "a stretch turning back over its hours": pl.concat([one.head(5), one.slice(2, 3).reverse(), one.slice(5)]),
        "the same hour in two stretches": pl.concat([one, one.head(1)]),
        "the same hour inside another stretch": pl.concat([one, one.filter(hour == 1)]),
        "a stretch ending where the next begins": pl.concat([one.filter(hour <= 8), one.filter(hour >= 8)]),
        "newest first, sharing an hour": pl.concat([one.filter(hour >= 8), one.filter(hour <= 8)]),
        "a third answer inside two others": pl.concat([last, early, one.filter(hour.is_between(7, 16))]),
        "answers in neither order, two sharing an hour": pl.concat([middle, early, one.filter(hour >= 15)]),
        "a lifetime total twice in a row": pl.concat([load_response({"totals": PAYLOAD["totals"]}, backend="polars")] * 2)
        .sort("tweet_id", "engagement_type", maintain_order=True),
    }  # fmt: skip
    for what, frame in repeated.items():
        with pytest.raises(DataError, match="same number more than once"):
            per_tweet(frame)
        assert frame.height, what


HOURS = [{"tweet_id": t, "engagement_type": m, "grain": "hour", "day": d, "hour": h, "value": v, "grouping": "g"}
         for t in (A, B) for m in ("impressions", "url_clicks") for d in (1, 2) for h in range(6)
         for v in [(int(t[-1]) * 7 + d * 3 + h) % 5]]  # fmt: skip


def _hour_rows() -> pl.DataFrame:
    """:data:`HOURS` as a loader gives them: dates, Int8 hours and UTC timestamps."""
    rows = pl.DataFrame(HOURS).with_columns(pl.date(2026, 5, pl.col("day")).alias("day"), pl.col("hour").cast(pl.Int8))
    return rows.with_columns(timestamp=pl.col("day").cast(pl.Datetime("us", "UTC")) + pl.duration(hours="hour"))


def _windows(rows: pl.DataFrame, bounds: Sequence[int]) -> list[pl.DataFrame]:
    """The rows as answers of consecutive time windows (of the 12 hours in :data:`HOURS`), every tweet in each."""
    slot = (pl.col("day").dt.day() - 1) * 6 + pl.col("hour")
    return [rows.filter(slot.is_between(a, b, "left")) for a, b in pairwise(bounds)]


@pytest.mark.parametrize("bounds", [(0, 6, 12), (0, 4, 8, 12), (0, 1, 2, 11, 12)])
def test_windows_fetched_in_any_order_are_proved_without_the_sort(
    bounds: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answers of several fetches (one per window, every tweet in each), concatenated in any order, are proved
    free of repeats from their stretches; the sort of every row never runs."""
    rows = _hour_rows()
    expected = per_tweet(rows, backend="polars")
    windows = _windows(rows, bounds)
    sorts = _count_sorts(monkeypatch)
    for order in permutations(range(len(windows))):
        assert per_tweet(pl.concat([windows[i] for i in order]), backend="polars").equals(expected)  # type: ignore[union-attr]
    assert sorts == []


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cuts=st.lists(st.integers(0, len(HOURS)), max_size=4),
    order=st.permutations(range(5)),
    extra=st.lists(st.integers(0, len(HOURS) - 1), max_size=2),
    again=st.lists(st.tuples(st.integers(0, len(HOURS) - 1), st.integers(1, 12), st.integers(0, 5)), max_size=2),
    by_window=st.booleans(),
    flips=st.lists(st.booleans(), max_size=5),
    shuffle=st.booleans(),
    seed=st.integers(0, 10),
    blank=st.sampled_from(["none", "first", "last"]),
)
def test_the_proof_from_the_stretches_decides_as_the_sort_of_every_row(
    cuts: list[int],
    order: list[int],
    extra: list[int],
    again: list[tuple[int, int, int]],
    by_window: bool,
    flips: list[bool],
    shuffle: bool,
    seed: int,
    blank: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rows of one layout cut into answers (anywhere, or by time window as fetches are), the answers in any order,
    some maybe newest first, maybe a row or a run of rows fetched twice (an overlapping answer, anywhere among
    the others), maybe shuffled, maybe a row without keys at either end: per_tweet with the proof from the
    stretches gives what it gives when the hash sort of every row decides, and windows in any order are proved
    without that sort."""
    from engagement_lab.load import tweets

    rows = _hour_rows()
    if by_window:  # each answer every tweet and metric over some hours, as a fetch of one window gives
        answers = _windows(rows, sorted({0, 12, *[c % 12 for c in cuts]}))
    else:
        answers = [rows.slice(a, b - a) for a, b in pairwise(sorted({0, len(HOURS), *cuts}))]
    answers = [answers[i] for i in order if i < len(answers)] + [rows[i] for i in extra]
    for start, length, at in again:
        answers.insert(at, rows.slice(start, length))
    answers = [a.reverse() if i < len(flips) and flips[i] else a for i, a in enumerate(answers)]  # newest first
    frame = pl.concat(answers)
    frame = frame.sample(fraction=1.0, shuffle=True, seed=seed) if shuffle else frame
    if blank != "none":  # a row without tweet, metric or grain (null keys at either end still end a stretch)
        row = frame.head(1).with_columns(
            pl.lit(None, pl.String).alias(c) for c in ("tweet_id", "engagement_type", "grain")
        )
        frame = pl.concat([row, frame] if blank == "first" else [frame, row])

    def outcome() -> Any:
        try:
            return per_tweet(frame, backend="polars")
        except DataError as exc:
            return str(exc)

    with monkeypatch.context() as patched:
        sorts = _count_sorts(patched)
        proved = outcome()
    assert isinstance(proved, pl.DataFrame) or "same number more than once" in proved
    if by_window and not (extra or again or shuffle or any(flips)) and blank == "none":  # windows, any order: proved
        assert isinstance(proved, pl.DataFrame)
        assert sorts == []
    with monkeypatch.context() as patched:
        patched.setattr(tweets, "_stretches_apart", lambda *args: False)  # never a proof: the sort decides
        sorted_always = outcome()
    if isinstance(proved, str):
        assert proved == sorted_always
    else:
        assert isinstance(sorted_always, pl.DataFrame)
        assert proved.equals(sorted_always)


def test_the_best_source_wins_before_endpoint_and_grain() -> None:
    """Per tweet and metric one source is used, the registry's best, even when a worse source holds a better grain:
    the post's own daily analytics (summed, 15), not the media analytics' lifetime total (99)."""
    tidy = pl.DataFrame(
        {
            "tweet_id": [A, A, A],
            "engagement_type": ["impressions"] * 3,
            "grain": ["day", "day", "total"],
            "day": [date(2026, 5, 1), date(2026, 5, 2), None],
            "hour": pl.Series([None] * 3, dtype=pl.Int8),
            "timestamp": pl.Series([None] * 3, dtype=pl.Datetime("us", "UTC")),
            "value": [10, 5, 99],
            "grouping": ["g"] * 3,
            "source": ["v2.analytics", "v2.analytics", "v2.media_analytics"],
        }
    )
    for order in ([0, 1, 2], [2, 1, 0]):
        row = frame_rows(per_tweet(tidy[order]))[0]
        assert row["impressions"] == 15


def test_a_repeat_refusal_counts_only_the_repeated_rows() -> None:
    """Tweet A's lifetime total seen twice, B's once: the refusal names A's two rows, never B's."""
    tidy = pl.DataFrame(
        {
            "tweet_id": [A, A, B],
            "engagement_type": ["impressions"] * 3,
            "grain": ["total"] * 3,
            "day": pl.Series([None] * 3, dtype=pl.Date),
            "hour": pl.Series([None] * 3, dtype=pl.Int8),
            "timestamp": pl.Series([None] * 3, dtype=pl.Datetime("us", "UTC")),
            "value": [10, 12, 7],
            "grouping": ["g"] * 3,
        }
    )
    with pytest.raises(
        DataError, match=rf"holds 2 rows .*\(1 tweet\(s\), e\.g\. \['{A}'\]; metrics \['impressions'\]\)"
    ):
        per_tweet(tidy)


def test_an_empty_tidy_frame_gives_an_empty_table_not_an_account_level_refusal() -> None:
    empty = {c: pl.Series([], dtype=pl.String) for c in ("tweet_id", "engagement_type", "grain", "grouping")}
    wide = per_tweet(pl.DataFrame({**empty, "value": pl.Series([], dtype=pl.Int64)}))
    assert isinstance(wide, pl.DataFrame)
    assert wide.height == 0
    assert wide.columns[0] == "tweet_id"


def test_a_lazy_frame_mixing_grains_is_ranked_not_summed() -> None:
    """A LazyFrame holding lifetime totals beside daily and hourly rows (the survey's min/max test of uniform
    columns, the lazy path's own): totals win as on the eager path, never the sum of every grain (1,900, not 1,000
    impressions). Found by mutation testing (#37): no test pinned the lazy uniform check."""
    tidy = load_response(PAYLOAD, backend="polars")
    assert isinstance(tidy, pl.DataFrame)
    assert tidy["grain"].n_unique() > 1
    eager = per_tweet(tidy)
    assert eager.filter(pl.col("tweet_id") == A)["impressions"].item() == 1000
    assert per_tweet(tidy.lazy()).collect().equals(eager)


def test_a_stretch_going_back_a_day_and_forward_an_hour_is_not_proved_ordered() -> None:
    """Time keys compare in order (day, then hour): day 2 hour 1 followed by day 1 hour 3 goes back in time, so the
    proof of no repeats must not hold and the repeated hour is refused, never summed. Found by mutation testing
    (#37): a later column compared without the earlier ones being equal passed every test."""
    rows = _hour_rows().filter((pl.col("tweet_id") == A) & (pl.col("engagement_type") == "impressions"))
    at = {(d, h): rows.filter((pl.col("day").dt.day() == d) & (pl.col("hour") == h)) for d in (1, 2) for h in (1, 3)}
    back = pl.concat([at[(1, 3)], at[(2, 1)], at[(1, 3)]])
    with pytest.raises(DataError, match="same number more than once"):
        per_tweet(back)


def test_an_eager_frame_checked_in_hash_parts_finds_a_repeat_in_any_part(monkeypatch: pytest.MonkeyPatch) -> None:
    """An eager frame the proof cannot clear (times decreasing) is sorted part by part; a single repeated hour must
    be refused whichever part its hash falls in, the first part and the later ones alike. Found by mutation
    testing (#37): starting at the wrong part passed every test."""
    from engagement_lab.load import tweets

    monkeypatch.setattr(tweets, "repeat_parts", lambda rows: 3)
    rows = _hour_rows()
    newest_first = rows.reverse()
    assert per_tweet(newest_first).equals(per_tweet(rows))
    keys = [c for c in BUCKET if c in rows.columns]
    parts = {int(h) % 3 for h in rows.select(key_hash(keys).alias("h"))["h"]}
    assert parts == {0, 1, 2}  # the planted repeats below land in every part
    for i in range(rows.height):
        with pytest.raises(DataError, match="same number more than once"):
            per_tweet(pl.concat([newest_first, newest_first.slice(i, 1)]))


def test_the_proved_layout_skips_the_exact_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """One answer's layout, proved free of repeats, never goes the slow exact way (pinned by mutation testing)."""
    from engagement_lab.load import tweets

    expected = per_tweet(_hour_rows())

    def exact(*args: Any) -> Any:
        raise AssertionError("the exact path ran on a layout the proof clears")

    monkeypatch.setattr(tweets, "_choose_rows", exact)
    assert per_tweet(_hour_rows()).equals(expected)


def test_rows_as_dicts_or_arrow_give_the_same_table() -> None:
    tidy = _hour_rows()
    expected = per_tweet(tidy)
    assert per_tweet(tidy.to_dicts(), backend="polars").equals(expected)
    assert per_tweet(tidy.to_arrow(), backend="polars").equals(expected)


def test_a_created_at_in_the_metadata_is_kept_beside_the_tidy_frames_own() -> None:
    """When the tidy frame has its own created_at (exports, v2), the metadata's is renamed created_at_metadata;
    when it has none, the metadata's is the created_at (pinned by mutation testing, #37)."""
    rows = _hour_rows()
    posted = pl.datetime(2026, 5, 1, time_zone="UTC")
    meta = pl.DataFrame({"tweet_id": [A, B], "created_at": ["2026-04-30", "2026-04-29"]})
    plain = per_tweet(rows, metadata=meta)
    assert "created_at" in plain.columns
    assert "created_at_metadata" not in plain.columns
    assert plain.filter(pl.col("tweet_id") == A)["created_at"].item() == "2026-04-30"
    both = per_tweet(rows.with_columns(created_at=posted), metadata=meta)
    assert {"created_at", "created_at_metadata"} <= set(both.columns)
    assert both.filter(pl.col("tweet_id") == A)["created_at_metadata"].item() == "2026-04-30"


def test_a_value_that_is_not_a_whole_number_is_refused_never_truncated() -> None:
    """A float value column of whole numbers (a hand-made or pandas frame) gives the same table; one value of
    23.5 is refused with its row named (it became 23 in the int64 table, silently), eager, lazy and from pandas.
    A missing value (NaN in pandas) is not a fraction."""
    rows = _hour_rows()
    whole = rows.with_columns(pl.col("value").cast(pl.Float64))
    expected = per_tweet(rows)
    assert per_tweet(whole).equals(expected)  # type: ignore[union-attr]
    assert per_tweet(whole.lazy()).collect().equals(expected)  # type: ignore[union-attr]
    frac = whole.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.col("value") + 0.5).otherwise("value"))
    for frame in (frac, frac.lazy(), frac.to_pandas()):
        with pytest.raises(DataError, match=r"1 row\(s\) hold a value that is not a whole number.*'value': [0-9]+\.5"):
            per_tweet(frame)  # type: ignore[arg-type]
    missing = whole.to_pandas()
    missing.loc[3, "value"] = float("nan")
    lost = rows.row(3, named=True)  # its hour is left out of its tweet's sum, as a null count is
    table = per_tweet(missing, backend="polars")
    want = expected[lost["engagement_type"]].to_list()  # type: ignore[index]
    want[expected["tweet_id"].to_list().index(lost["tweet_id"])] -= lost["value"]  # type: ignore[index]
    assert table[lost["engagement_type"]].to_list() == want  # type: ignore[index]
