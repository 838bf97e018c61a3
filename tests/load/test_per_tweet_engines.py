"""per_tweet on a DuckDB relation: a relation back, equal to the polars result, with the same refusals."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pytest

from engagement_lab import DataError
from engagement_lab.load import load_analytics_csv, load_response, load_v2, per_tweet

from .test_many_sources import exports  # noqa: F401  (a fixture)
from .test_tweets import PAYLOAD

TWARC_PAGE = {
    "data": [
        {"id": "1790000000000000001", "created_at": "2026-05-01T10:00:00.000Z",
         "public_metrics": {"like_count": 3, "retweet_count": 1, "reply_count": 0, "quote_count": 0,
                            "impression_count": 120},
         "organic_metrics": {"like_count": 2, "impression_count": 100, "retweet_count": 1, "reply_count": 0}},
        {"id": "1790000000000000002", "created_at": "2026-05-02T10:00:00.000Z",
         "public_metrics": {"like_count": 5, "retweet_count": 0, "reply_count": 1, "quote_count": 0,
                            "impression_count": 300}},
    ],
    "__twarc": {"url": "https://api.twitter.com/2/tweets", "version": "2.14.0", "retrieved_at": "2026-05-03T00:00:00+00:00"},
}  # fmt: skip


def _relation(frame: Any) -> Any:
    table = frame.to_arrow() if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame).to_arrow()
    return duckdb.from_arrow(table)


def _polars(relation: Any) -> pl.DataFrame:
    out = pl.from_arrow(relation.arrow())
    assert isinstance(out, pl.DataFrame)
    return out


def _tidy_frames(files: list[Path], tmp_path: Path) -> dict[str, pl.DataFrame]:
    (tmp_path / "page.jsonl").write_text(json.dumps(TWARC_PAGE) + "\n")
    return {
        "engagement api, several grains": load_response(PAYLOAD, backend="polars"),  # type: ignore[dict-item]
        "overlapping exports": load_analytics_csv(files, backend="polars"),  # type: ignore[dict-item]
        "twarc2 page, two sources": load_v2(tmp_path / "page.jsonl", backend="polars"),  # type: ignore[dict-item]
    }


def test_a_relation_gives_a_relation_equal_to_the_polars_result(
    exports: list[Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    for name, tidy in _tidy_frames(exports, tmp_path).items():
        want = per_tweet(tidy)
        rates = ["engagement_rate"] if "engagements" in want.columns else []
        want = per_tweet(tidy, rates=rates)
        got = per_tweet(_relation(tidy), rates=rates)
        assert isinstance(got, duckdb.DuckDBPyRelation), name
        got_frame = _polars(got)
        assert got_frame.columns == want.columns, name
        assert got_frame.cast(dict(want.schema)).equals(want), name  # type: ignore[arg-type]


def test_metadata_joins_in_the_engine(tmp_path: Path) -> None:
    tidy = load_response(PAYLOAD, backend="polars")
    meta = pd.DataFrame({"tweet_id": ["1790000000000000001", "1790000000000000002"], "arm": ["a", "b"]})
    want = per_tweet(tidy, metadata=meta)
    got = per_tweet(_relation(tidy), metadata=meta)
    assert isinstance(got, duckdb.DuckDBPyRelation)
    assert _polars(got).cast(dict(want.schema)).equals(want)  # type: ignore[arg-type]
    rounded = pd.DataFrame({"tweet_id": ["1790000000000000000"], "arm": ["a"]})
    with pytest.raises(DataError, match="rounding"):
        per_tweet(_relation(tidy), metadata=rounded)


def test_int_ids_become_exact_strings() -> None:
    tidy = load_response(PAYLOAD, backend="polars").with_columns(pl.col("tweet_id").cast(pl.Int64))  # type: ignore[union-attr]
    got = _polars(per_tweet(_relation(tidy)))
    assert got["tweet_id"].to_list() == ["1790000000000000001", "1790000000000000002"]


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        (pl.col("tweet_id").cast(pl.Float64), "lost digits as floats"),
        (pl.lit("1.79e18"), "is not a string of digits"),
        (pl.lit(None, pl.String), "every row is account-level"),
    ],
)
def test_ids_that_cannot_be_right_are_refused(change: pl.Expr, phrase: str) -> None:
    tidy = load_response(PAYLOAD, backend="polars").with_columns(change.alias("tweet_id"))  # type: ignore[union-attr]
    with pytest.raises(DataError, match=phrase):
        per_tweet(_relation(tidy))


def test_a_number_seen_twice_is_refused_never_added() -> None:
    tidy = load_response(PAYLOAD, backend="polars")
    twice = _relation(pl.concat([tidy, tidy]))  # type: ignore[list-item]
    with pytest.raises(DataError, match="same number more than once"):
        per_tweet(twice)
    with pytest.raises(DataError, match="keep='latest' is not available on a duckdb frame"):
        per_tweet(twice, keep="latest")
    with pytest.raises(DataError, match="drop backend="):
        per_tweet(_relation(tidy), backend="polars")
    with pytest.raises(DataError, match="did you mean 'latest'"):
        per_tweet(_relation(tidy), keep="lates")  # type: ignore[arg-type]


def test_contiguous_history_windows_are_summed_not_refused(tmp_path: Path) -> None:
    tweet = "1790000000000000001"
    for i, (start, end, value) in enumerate([("2026-03-01", "2026-03-29", 3), ("2026-03-29", "2026-04-26", 4)]):
        body = {"start": f"{start}T00:00:00Z", "end": f"{end}T00:00:00Z", "g": {tweet: {"impressions": str(value)}}}
        (tmp_path / f"{i}.json").write_text(json.dumps(body))
    tidy = load_response(tmp_path, backend="polars")
    assert per_tweet(tidy)["impressions"].to_list() == [7]  # type: ignore[index]
    assert _polars(per_tweet(_relation(tidy)))["impressions"].to_list() == [7]


def test_the_repeat_count_in_parts_finds_every_repeat(monkeypatch: pytest.MonkeyPatch) -> None:
    """A large relation is counted in parts picked by the id's last digits; a repeat is found in whichever part."""
    from engagement_lab.load import tweets_engine

    tidy = load_response({"totals": PAYLOAD["totals"]}, backend="polars")  # one grouping: nothing ranked away
    twice = pl.concat([tidy, tidy.tail(1)])  # type: ignore[list-item]
    for parts in range(2, 8):
        monkeypatch.setattr(tweets_engine, "repeat_parts", lambda rows, n=parts: n)
        with pytest.raises(DataError, match="same number more than once"):
            per_tweet(_relation(twice))
        assert _polars(per_tweet(_relation(tidy))).cast(dict(per_tweet(tidy).schema)).equals(per_tweet(tidy))  # type: ignore[arg-type,union-attr]


def test_a_relation_of_the_users_own_connection_joins_any_metadata() -> None:
    """A relation from the user's connection (``con.sql``) with polars, pandas or DuckDB-relation metadata (#35):
    it failed with "Cannot combine LEFT and RIGHT relations of different connections", and a relation as
    metadata was refused as "not a pandas or polars DataFrame"."""
    tidy = load_response(PAYLOAD, backend="polars")
    meta = pl.DataFrame(
        {"tweet_id": ["1790000000000000001", "1790000000000000002"], "arm": ['a "quoted"', "b"], "impressions": [1, 2]}
    )  # fmt: skip (a column the per-tweet table also has)
    want = per_tweet(tidy, metadata=meta)
    assert "impressions_right" in want.columns
    con = duckdb.connect()
    con.register("tidy", tidy.to_arrow())
    con.register("meta", meta.to_arrow())
    for metadata in (meta, meta.to_pandas(), con.sql("SELECT * FROM meta"), duckdb.from_arrow(meta.to_arrow())):
        got = per_tweet(con.sql("SELECT * FROM tidy"), metadata=metadata)
        assert isinstance(got, duckdb.DuckDBPyRelation)
        assert _polars(got).cast(dict(want.schema)).equals(want), type(metadata)  # type: ignore[arg-type]


def test_a_connection_without_replacement_scans_is_told_what_to_do() -> None:
    tidy = load_response(PAYLOAD, backend="polars")
    con = duckdb.connect()
    con.register("tidy", tidy.to_arrow())
    con.execute("SET python_enable_replacements = false")
    meta = pl.DataFrame({"tweet_id": ["1790000000000000001"], "arm": ["a"]})
    with pytest.raises(DataError, match="python_enable_replacements = false turns off: turn it on"):
        _polars(per_tweet(con.sql("SELECT * FROM tidy"), metadata=meta))


def test_a_table_that_would_hide_the_metadata_is_refused_and_names_ignore_case() -> None:
    tidy = load_response(PAYLOAD, backend="polars")
    meta = pl.DataFrame({"tweet_id": ["1790000000000000001", "1790000000000000002"], "Impressions": [7, 8]})
    con = duckdb.connect()
    con.register("tidy", tidy.to_arrow())
    got = _polars(per_tweet(con.sql("SELECT * FROM tidy"), metadata=meta))
    assert "Impressions_right" in got.columns  # DuckDB's names ignore case: Impressions would clash with impressions
    con.execute("CREATE TABLE _el_metadata AS SELECT 1 AS tweet_id")
    with pytest.raises(DataError, match="has a table or view named _el_metadata, which would be read instead"):
        per_tweet(con.sql("SELECT * FROM tidy"), metadata=meta)


def test_a_relation_of_the_usual_load_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One source, endpoint, grain and grouping and no repeats: the one aggregation's sums are the table (#35), a
    relation of the input's own connection that reads nothing more (its Parquet file can be gone), equal to the
    polars result with rates, created_at and metadata. A connection that cannot read it by a replacement scan, or
    holds a table of the name it is read by, gets the table computed in the engine, with the same numbers; a
    repeat planted at any row is still refused."""
    from engagement_lab.load import tweets_engine

    from .test_tweets import _hour_rows

    posted = pl.datetime(2026, 4, 30, 9, time_zone="UTC") + pl.duration(
        minutes=pl.col("tweet_id").str.slice(-1).cast(int)
    )
    rows = _hour_rows().with_columns(created_at=posted)
    meta = pl.DataFrame(
        {"tweet_id": rows["tweet_id"].unique().sort(), "arm": ["a", "b"][: rows["tweet_id"].n_unique()]}
    )
    want = per_tweet(rows, rates=["ctr"], metadata=meta)
    assert isinstance(want, pl.DataFrame)
    in_engine: list[int] = []
    real = tweets_engine._in_engine
    monkeypatch.setattr(tweets_engine, "_in_engine", lambda *a: in_engine.append(1) or real(*a))
    path = tmp_path / "tidy.parquet"
    rows.write_parquet(path)
    con = duckdb.connect()
    got = per_tweet(con.sql(f"SELECT * FROM read_parquet('{path}')"), rates=["ctr"], metadata=meta)
    path.unlink()
    assert _polars(got).cast(dict(want.schema)).equals(want)  # type: ignore[arg-type]
    assert _polars(got.join(con.sql("SELECT 1 AS one"), "true")).height == want.height  # the user's connection
    assert in_engine == []
    con.register("tidy", rows.to_arrow())
    con.execute("CREATE TABLE _el_table AS SELECT 1 AS tweet_id")
    assert (
        _polars(per_tweet(con.sql("SELECT * FROM tidy"), rates=["ctr"]))
        .cast(dict(want.drop("arm").schema))
        .equals(
            want.drop("arm")  # type: ignore[arg-type]
        )
    )
    assert in_engine == [1]
    con.execute("DROP TABLE _el_table")
    con.execute("SET python_enable_replacements = false")
    plain = per_tweet(rows)
    assert _polars(per_tweet(con.sql("SELECT * FROM tidy"))).cast(dict(plain.schema)).equals(plain)  # type: ignore[arg-type,union-attr]
    assert in_engine == [1, 1]
    for i in range(rows.height):
        with pytest.raises(DataError, match="same number more than once"):
            per_tweet(_relation(pl.concat([rows, rows.slice(i, 1)])))


def test_tweets_and_metrics_of_one_hash_are_never_summed_together(
    exports: list[Path],  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DuckDB's one aggregation groups by a hash of tweet and metric; were every pair to share one hash (a
    collision made certain), each group's texts are found not to be one and it groups by the texts: the same
    table, never two tweets' numbers summed. Rows without a tweet id (account-level) share it too."""
    from engagement_lab.load import tweets_engine

    from .test_tweets import _hour_rows

    frames = {**_tidy_frames(exports, tmp_path), "hours of one grain (the table from the one pass)": _hour_rows()}
    by_texts: list[int] = []
    grouped = tweets_engine._by_texts
    monkeypatch.setattr(tweets_engine, "_by_texts", lambda *a: by_texts.append(1) or grouped(*a))
    for tidy in frames.values():  # hashes that do not collide: grouped by them alone
        per_tweet(_relation(tidy))
    assert by_texts == []
    real = tweets_engine._hash
    monkeypatch.setattr(tweets_engine, "_hash", lambda cols: "42::UBIGINT" if "tweet_id" in cols else real(cols))
    for name, tidy in frames.items():
        # an hour of its own, so the group's distinct buckets still equal its rows
        account = tidy.head(1).with_columns(
            pl.lit(None, pl.String).alias("tweet_id"), pl.lit(23, pl.Int8).alias("hour")
        )
        alone = tidy.filter(  # one tweet's one metric beside an account-level row of it: min and max agree
            (pl.col("tweet_id") == tidy["tweet_id"][0]) & (pl.col("engagement_type") == tidy["engagement_type"][0])
        )
        for frame in (tidy, pl.concat([tidy, account]), pl.concat([alone, account])):
            want = per_tweet(frame)
            got = _polars(per_tweet(_relation(frame)))
            assert got.cast(dict(want.schema)).equals(want), name  # type: ignore[arg-type]
    assert len(by_texts) == 3 * len(frames)


@pytest.mark.parametrize("kind", ["DOUBLE", "DECIMAL(18, 3)"])
def test_a_relation_value_that_is_not_a_whole_number_is_refused(kind: str) -> None:
    """On DuckDB too, a fractional count is refused naming its row, where the table would have rounded or cut it."""
    from .test_tweets import _hour_rows

    rows = _hour_rows()
    con = duckdb.connect()
    con.register("tidy", rows.to_arrow())
    whole = con.sql(f"SELECT * REPLACE (value::{kind} AS value) FROM tidy")
    assert _polars(per_tweet(whole)).equals(per_tweet(rows))  # type: ignore[arg-type]
    frac = con.sql(f"SELECT * REPLACE ((value + CASE WHEN hour = 3 THEN 0.25 ELSE 0 END)::{kind} AS value) FROM tidy")
    with pytest.raises(DataError, match=r"hold a value that is not a whole number, e\.g\. \[\{'tweet_id': '1790.*\.25"):
        per_tweet(frac)
