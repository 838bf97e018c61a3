"""What makes two rows one quantity, and which of two observations is kept: pinned on small hand-built inputs.

Each case would pass a wrong implementation if only the end-to-end loaders were tested (a mutation pass found
bucket keys without ``grouping`` or ``endpoint``, an hour seen by two windows kept twice, and the file-order
tie-break holding only because polars kept ties in input order at test sizes).
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import polars as pl
import pyarrow as pa
import pytest

from engagement_lab import columns as C
from engagement_lab.errors import DataError
from engagement_lab.load.observations import (
    ORDER,
    Observation,
    bucket_keys,
    check_keep,
    collapse_observations,
    combine,
)
from engagement_lab.load.report import LoadReport

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
T1 = datetime(2026, 5, 2, 12, tzinfo=UTC)
W0 = (datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 4, 29, tzinfo=UTC))
W1 = (datetime(2026, 4, 15, tzinfo=UTC), datetime(2026, 5, 13, tzinfo=UTC))


def rows(values: list[int], **columns: object) -> pa.Table:
    """One tweet's day rows (2026-04-20, 21, ...) of favorites, with extra constant columns."""
    n = len(values)
    data: dict[str, object] = {
        C.TWEET_ID: ["1"] * n,
        C.ENGAGEMENT_TYPE: ["favorites"] * n,
        C.GRAIN: ["day"] * n,
        C.DAY: [date(2026, 4, 20 + i) for i in range(n)],
        C.HOUR: pa.array([None] * n, pa.int8()),
        C.TIMESTAMP: pa.array([None] * n, pa.timestamp("us", tz="UTC")),
        C.VALUE: pa.array(values, pa.int64()),
        C.GROUPING: [columns.pop("grouping", "g")] * n,
    }
    for name, value in columns.items():
        data[name] = [value] * n
    return pa.table(data)


def hour_rows(value: int) -> pa.Table:
    table = rows([value])
    table = table.set_column(table.schema.get_field_index(C.GRAIN), C.GRAIN, pa.array(["hour"]))
    stamp = pa.array([datetime(2026, 4, 20, 7, tzinfo=UTC)], pa.timestamp("us", tz="UTC"))
    return table.set_column(table.schema.get_field_index(C.TIMESTAMP), C.TIMESTAMP, stamp)


def obs(table: pa.Table, order: int, **kw: object) -> Observation:
    return Observation(table=table, report=LoadReport(), file=kw.pop("file", f"f{order}.json"), order=order, **kw)  # type: ignore[arg-type]


def values(table: pa.Table) -> list[int]:
    return pl.from_arrow(table).sort(C.DAY, C.GROUPING).get_column(C.VALUE).to_list()  # type: ignore[union-attr]


def test_the_bucket_keys_name_tweet_metric_grain_bucket_grouping_source_endpoint_and_window() -> None:
    everything = [*C.TIDY, C.SOURCE, C.ENDPOINT, "_ws", "_we", C.VALUE, "other"]
    assert bucket_keys(everything) == [
        C.TWEET_ID, C.ENGAGEMENT_TYPE, C.GRAIN, C.DAY, C.HOUR, C.TIMESTAMP, C.GROUPING, C.SOURCE, C.ENDPOINT,
        "_ws", "_we",
    ]  # fmt: skip
    assert bucket_keys([C.TWEET_ID, C.VALUE]) == [C.TWEET_ID]


def test_two_groupings_reporting_one_bucket_are_two_quantities() -> None:
    table, report = combine([obs(rows([5], grouping="a"), 0, retrieved_at=T0), obs(rows([7], grouping="b"), 1)])
    assert values(table) == [5, 7]
    assert report.superseded == 0
    assert report.n_rows == 2


def test_two_endpoints_reporting_one_bucket_are_two_quantities() -> None:
    a = obs(rows([5], endpoint="/totals"), 0, retrieved_at=T0)
    b = obs(rows([7], endpoint="/historical"), 1, retrieved_at=T0)
    table, report = combine([a, b])
    assert sorted(values(table)) == [5, 7]
    assert report.superseded == 0


def test_two_sources_reporting_one_bucket_are_two_quantities() -> None:
    a = obs(rows([5], source="v2.public_metrics"), 0, retrieved_at=T0)
    b = obs(rows([7], source="analytics_csv"), 1, retrieved_at=T0)
    assert sorted(values(combine([a, b])[0])) == [5, 7]


def test_an_hour_seen_by_two_fetch_windows_is_one_row_the_later() -> None:
    early = obs(hour_rows(3), 0, retrieved_at=T0, window=W0)
    late = obs(hour_rows(4), 1, retrieved_at=T1, window=W1)
    for inputs in ([early, late], [late, early]):
        table, report = combine(inputs)
        assert pl.from_arrow(table).get_column(C.VALUE).to_list() == [4]  # type: ignore[union-attr]
        assert report.superseded == 1
        assert len(report.conflicts) == 1
        assert "kept the latest" in report.conflicts[0]


def test_a_day_seen_by_two_fetch_windows_is_two_rows() -> None:
    """A day at a window's edge is partial: the two windows' days are different quantities."""
    table, report = combine(
        [obs(rows([3]), 0, retrieved_at=T0, window=W0), obs(rows([4]), 1, retrieved_at=T1, window=W1)]
    )
    assert sorted(values(table)) == [3, 4]
    assert report.superseded == 0
    assert report.conflicts == ()


@pytest.mark.parametrize("first_is_later", [True, False])
def test_the_later_observation_wins_whatever_the_input_order(first_is_later: bool) -> None:
    old, new = obs(rows([1, 2]), 0, retrieved_at=T0), obs(rows([10, 20]), 1, retrieved_at=T1)
    table, report = combine([new, old] if first_is_later else [old, new])
    assert values(table) == [10, 20]
    assert report.superseded == 2
    assert report.n_rows == 2
    assert len(report.conflicts) == 2


def test_equal_values_are_no_conflict_and_totals_never_are() -> None:
    same = combine([obs(rows([5]), 0, retrieved_at=T0), obs(rows([5]), 1, retrieved_at=T1)])[1]
    assert same.superseded == 1
    assert same.conflicts == ()
    totals = [rows([5]), rows([9])]
    totals = [t.set_column(t.schema.get_field_index(C.GRAIN), C.GRAIN, pa.array(["total"])) for t in totals]
    table, report = combine([obs(totals[0], 0, retrieved_at=T0), obs(totals[1], 1, retrieved_at=T1)])
    assert values(table) == [9]
    assert report.conflicts == ()


def test_disagreeing_inputs_of_unknown_order_are_refused_naming_both() -> None:
    with pytest.raises(
        DataError, match=r"b\.json and a\.json disagree on tweet 1's favorites \(day 2026-04-20\): 5 vs 7"
    ):
        combine([obs(rows([5]), 0, file="b.json"), obs(rows([7]), 1, file="a.json")][::-1])
    with pytest.raises(DataError, match="neither is known to be the later"):
        combine([obs(rows([5]), 0, retrieved_at=T0), obs(rows([7]), 1, retrieved_at=T0)])


def test_keep_last_and_keep_a_file_settle_unknown_order() -> None:
    inputs = [obs(rows([5]), 0, file="a.json"), obs(rows([7]), 1, file="b.json")]
    assert values(combine(inputs, keep="last")[0]) == [7]
    assert values(combine(inputs, keep="a.json")[0]) == [5]
    assert values(combine(inputs, keep="b.json")[0]) == [7]
    assert check_keep("last", ("a.json",)) is None
    assert check_keep(None, ()) is None
    assert check_keep("a.json", ("dir/a.json",)) == "dir/a.json"
    with pytest.raises(DataError, match="did you mean"):
        check_keep("a.jsn", ("a.json",))
    with pytest.raises(DataError, match="names 2 files"):
        check_keep("a.json", ("x/a.json", "y/a.json"))
    with pytest.raises(DataError, match="is not an option"):
        check_keep(3, ("a.json",))  # type: ignore[arg-type]


def test_a_timed_input_beats_a_lower_bound_only_when_the_bound_is_not_later() -> None:
    """An input with no time but a newest date inside after the timed input's time was made after it."""
    timed = obs(rows([5]), 0, retrieved_at=T0)
    bounded_after = obs(rows([7]), 1, after=T1)
    assert values(combine([bounded_after, timed][::-1])[0]) == [7]
    assert values(combine([timed, bounded_after])[0]) == [7]
    bounded_before = obs(rows([7]), 1, after=datetime(2026, 4, 1, tzinfo=UTC))
    with pytest.raises(DataError, match="which it was made after"):
        combine([timed, bounded_before])
    with pytest.raises(DataError):  # two lower bounds are never ordered against each other
        combine([obs(rows([5]), 0, after=T0), obs(rows([7]), 1, after=T1)])


def test_later_lines_of_one_input_are_later_snapshots() -> None:
    first, second = obs(rows([5]), 0, line=0), obs(rows([7]), 0, line=1)
    assert values(combine([second, first])[0]) == [7]
    assert values(combine([first, second])[0]) == [7]


def test_a_download_copy_is_later_than_its_original() -> None:
    original = obs(rows([5]), 1, file="dir/export.csv")
    copy = obs(rows([7]), 0, file="dir/export (1).csv")
    assert values(combine([copy, original])[0]) == [7]
    second = obs(rows([9]), 2, file="dir/export (2).csv")
    assert values(combine([second, copy, original])[0]) == [9]


def test_ties_break_by_input_order_then_line_whatever_the_row_order() -> None:
    """keep='last' on equal times: the last input (then the last line) wins, however the rows are shuffled."""
    n = 400
    frame = pl.DataFrame(
        {
            C.TWEET_ID: [str(i % 50) for i in range(n)],
            C.ENGAGEMENT_TYPE: ["favorites"] * n,
            C.GRAIN: ["day"] * n,
            C.DAY: [date(2026, 4, 20)] * n,
            C.VALUE: list(range(n)),
            ORDER: [i // 50 for i in range(n)],  # eight inputs, each holding all 50 tweets once
            C.RETRIEVED_AT: [T0] * n,
        }
    )
    want = {str(t): 350 + t for t in range(50)}  # the eighth input's values
    for seed in range(5):
        shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
        kept, superseded, conflicts = collapse_observations(shuffled, refuse_unknown=False)
        assert dict(kept.select(C.TWEET_ID, C.VALUE).iter_rows()) == want
        assert superseded == n - 50
        assert len(conflicts) == 50
        assert set(kept.columns) == {
            C.TWEET_ID,
            C.ENGAGEMENT_TYPE,
            C.GRAIN,
            C.DAY,
            C.VALUE,
            C.RETRIEVED_AT,
            C.SOURCE_FILE,
        }
    rng = random.Random(7)
    lines = [obs(rows([v]), 0, line=i) for i, v in enumerate([3, 1, 4, 1, 5])]
    rng.shuffle(lines)
    assert values(combine(lines)[0]) == [5]


def test_without_keep_equal_times_in_one_frame_are_refused() -> None:
    frame = pl.DataFrame(
        {C.TWEET_ID: ["1", "1"], C.ENGAGEMENT_TYPE: ["favorites"] * 2, C.GRAIN: ["day"] * 2,
         C.DAY: [date(2026, 4, 20)] * 2, C.VALUE: [1, 2], ORDER: [0, 1], C.RETRIEVED_AT: [T0, T0]}
    )  # fmt: skip
    with pytest.raises(DataError, match=r"input #1 \(in memory\) and input #2 \(in memory\) disagree"):
        collapse_observations(frame)
    later = frame.with_columns(pl.Series(C.RETRIEVED_AT, [T1, T0]))
    kept, superseded, _ = collapse_observations(later)
    assert kept.get_column(C.VALUE).to_list() == [1]
    assert superseded == 1
