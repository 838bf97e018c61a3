"""load_archive: provenance columns, overlapping windows deduplicated, contradictions refused, snapshots replaced."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement_lab import DataError, EngagementQuery, load_archive
from engagement_lab.api import Credentials, fetch
from engagement_lab.load import archive as archive_loader
from engagement_lab.load.archive import Span, spans_meet
from engagement_lab.load.archive_format import encode_envelope, read_envelope
from engagement_lab.sandbox import SandboxApp, SandboxTransport, World

BASE = "https://data-api.twitter.com"
WORLD = World(seed=7)
ACME = [t.tweet_id for t in reversed(WORLD.tweets) if t.account == "acme" and t.status == "ok"][:4]


def _fetch(query: EngagementQuery, out: Path) -> None:
    app = SandboxApp(WORLD, rate_limit_per_minute=100_000)
    result = fetch(query, credentials=Credentials.from_mapping(app.info(BASE)), out=out, owners=dict.fromkeys(ACME, "acme"),
                   base_url=BASE, transport=SandboxTransport(app), now=WORLD.now, progress=False)  # fmt: skip
    assert result.ok


def _hourly(start: str, end: str) -> EngagementQuery:
    return EngagementQuery("historical", ACME, ["impressions", "favorites"], "hourly", start=start, end=end)


def test_provenance_columns(tmp_path: Path, backend: str) -> None:
    _fetch(_hourly("2026-05-01", "2026-05-03"), tmp_path)
    frame = load_archive(tmp_path, backend=backend)  # type: ignore[arg-type]
    assert list(frame.columns)[-4:] == ["endpoint", "window_start", "window_end", "retrieved_at"]
    rows = frame.to_dicts() if isinstance(frame, pl.DataFrame) else frame.to_dict("records")
    assert {r["endpoint"] for r in rows} == {"historical"}
    assert str(rows[0]["window_start"]).startswith("2026-05-01 00:00:00")
    assert len(rows) == 4 * 2 * 48


def test_overlapping_windows_collapse_to_one_row_per_hour(tmp_path: Path) -> None:
    _fetch(_hourly("2026-05-01", "2026-05-03"), tmp_path)
    _fetch(_hourly("2026-05-02", "2026-05-04"), tmp_path)  # a second query overlapping by a day
    frame = load_archive(tmp_path, backend="polars")
    assert frame.height == 4 * 2 * 72  # hours of May 1-3, each once
    assert frame.select(pl.struct("tweet_id", "engagement_type", "timestamp").is_unique().all()).item()


def test_windowed_totals_are_kept_per_window_not_summed_or_merged(tmp_path: Path) -> None:
    daily = EngagementQuery("historical", ACME[:1], ["impressions"], "per_tweet", start="2026-03-01", end="2026-05-01")
    _fetch(daily, tmp_path)
    frame = load_archive(tmp_path, backend="polars")
    assert frame.height == 3  # three 28-day windows, one total each
    assert frame["window_start"].n_unique() == 3


def _tamper(archive: Path, change: Any) -> None:
    path = next(p for p in (archive / "responses").glob("*.json.gz"))
    envelope = read_envelope(path)
    body = json.loads(envelope["body"])
    change(body)
    envelope["provenance"]["key"] = "tampered"
    envelope["provenance"]["retrieved_at"] = "2030-01-01T00:00:00+00:00"
    content = encode_envelope(envelope["provenance"], json.dumps(body).encode())
    (archive / "responses" / "tampered.json.gz").write_bytes(gzip.compress(content))


def test_contradictions_are_errors_never_sums(tmp_path: Path) -> None:
    _fetch(_hourly("2026-05-01", "2026-05-02"), tmp_path)

    def bump(body: dict[str, Any]) -> None:
        hourly = body["hourly"]
        tweet = next(iter(hourly))
        day = next(iter(hourly[tweet]["impressions"]))
        hour = next(iter(hourly[tweet]["impressions"][day]))
        hourly[tweet]["impressions"][day][hour] = str(int(hourly[tweet]["impressions"][day][hour]) + 7)

    _tamper(tmp_path, bump)
    with pytest.raises(DataError, match="1 contradictory historical value"):
        load_archive(tmp_path)
    latest = load_archive(tmp_path, backend="polars", on_conflict="latest")
    assert latest.height == 4 * 2 * 24


def test_totals_snapshots_keep_the_latest(tmp_path: Path) -> None:
    _fetch(EngagementQuery("totals", ACME, ["favorites"], "per_tweet"), tmp_path)

    def grow(body: dict[str, Any]) -> None:
        for metrics in body["per_tweet"].values():
            metrics["favorites"] = str(int(metrics["favorites"]) + 100)

    before = load_archive(tmp_path, backend="polars").sort("tweet_id")
    _tamper(tmp_path, grow)
    after = load_archive(tmp_path, backend="polars").sort("tweet_id")
    assert (after["value"] - before["value"]).to_list() == [100] * 4


def test_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not an archive directory"):
        load_archive(tmp_path / "missing")
    (tmp_path / "responses").mkdir()
    with pytest.raises(DataError, match="no successful responses"):
        load_archive(tmp_path)


def test_rows_come_in_fetch_time_order_whatever_the_file_order(tmp_path: Path, backend: str) -> None:
    """Answers are read in file (key) order; the rows come out ordered by fetch time, as a stable sort would give,
    on both backends, and a repeat keeps the observation fetched last."""
    _fetch(_hourly("2026-05-01", "2026-05-02"), tmp_path)
    _fetch(_hourly("2026-05-03", "2026-05-04"), tmp_path)
    files = sorted((tmp_path / "responses").glob("*.json.gz"))
    assert len(files) == 2
    for later in (0, 1):  # the first file in key order fetched later, then earlier
        starts = []
        for k, path in enumerate(files):
            envelope = read_envelope(path)
            envelope["provenance"]["retrieved_at"] = f"2026-06-0{1 + (k == later)}T00:00:00+00:00"
            path.write_bytes(gzip.compress(encode_envelope(envelope["provenance"], envelope["body"])))
            starts.append(envelope["provenance"]["request"]["start"][:10])
        frame = load_archive(tmp_path, backend=backend)  # type: ignore[arg-type]
        rows = pl.from_pandas(frame) if not isinstance(frame, pl.DataFrame) else frame
        fetched = rows["retrieved_at"].to_list()
        assert fetched == sorted(fetched)
        days = rows.group_by("retrieved_at", maintain_order=True).agg(pl.col("day").min())["day"].to_list()
        assert [str(d) for d in days] == [starts[1 - later], starts[later]]  # the earlier-fetched file's rows first


# --- the file formats ------------------------------------------------------------------------------------------


def _as_format_1(path: Path, **dumps: Any) -> None:
    """Rewrite a response file as format 1 wrote it: one JSON document with the body as a string."""
    envelope = read_envelope(path)
    envelope["provenance"]["format"] = 1
    document = {"provenance": envelope["provenance"], "body": envelope["body"].decode()}
    path.write_bytes(gzip.compress(json.dumps(document, **dumps).encode()))


def test_a_format_2_file_is_a_header_line_then_the_body_as_received(tmp_path: Path) -> None:
    _fetch(_hourly("2026-05-01", "2026-05-02"), tmp_path)
    (path,) = (tmp_path / "responses").glob("*.json.gz")
    data = gzip.decompress(path.read_bytes())
    header, body = data.split(b"\n", 1)
    assert json.loads(header)["format"] == 2
    assert json.loads(header)["body_bytes"] == len(body)
    assert json.loads(header)["provenance"] == read_envelope(path)["provenance"]
    assert json.loads(body)["hourly"]  # the API's JSON as it came, readable with zcat | tail -n +2


@pytest.mark.parametrize("layout", [{"separators": (",", ":")}, {}, {"indent": 2}])
def test_format_1_files_still_load_alone_or_beside_format_2(tmp_path: Path, layout: dict[str, Any]) -> None:
    _fetch(_hourly("2026-05-01", "2026-05-02"), tmp_path)
    _fetch(_hourly("2026-05-03", "2026-05-04"), tmp_path)
    expected = load_archive(tmp_path, backend="polars")
    files = sorted((tmp_path / "responses").glob("*.json.gz"))
    _as_format_1(files[0], **layout)  # an archive an older version began, resumed by this one
    assert load_archive(tmp_path, backend="polars").equals(expected)
    _as_format_1(files[1], **layout)
    assert load_archive(tmp_path, backend="polars").equals(expected)
    # a resume reads the old files as they are: nothing quarantined, nothing fetched again
    app = SandboxApp(WORLD, rate_limit_per_minute=100_000)
    again = fetch(_hourly("2026-05-01", "2026-05-02"), credentials=Credentials.from_mapping(app.info(BASE)),
                  out=tmp_path, owners=dict.fromkeys(ACME, "acme"), base_url=BASE, transport=SandboxTransport(app),
                  now=WORLD.now, progress=False)  # fmt: skip
    assert again.ok
    assert not app.records
    assert not (tmp_path / "quarantine").exists()


def test_a_body_is_kept_byte_for_byte_and_bytes_that_are_not_utf8_are_refused_on_load(tmp_path: Path) -> None:
    from engagement_lab.api.archive import Archive
    from engagement_lab.sources.engagement.client import RawResponse
    from engagement_lab.sources.engagement.query import EngagementRequest

    request = EngagementRequest.from_body("totals", {"tweet_ids": [ACME[0]], "engagement_types": ["impressions"],
                                                     "groupings": {"g": {"group_by": ["tweet.id"]}}}, now=WORLD.now)  # fmt: skip
    body = b'{"g": {"' + ACME[0].encode() + b'": {"impressions": "5"}}, "note": "caf\xe9"}'
    with Archive(tmp_path) as archive:
        archive.save(RawResponse(200, body, {}, request, "acme", b"", WORLD.now, 0.1))
        assert archive.body(request.key).endswith('"caf\ufffd"}')  # shown with U+FFFD, stored as received
    (path,) = (tmp_path / "responses").glob("*.json.gz")
    assert read_envelope(path)["body"] == body
    with pytest.raises(DataError, match=rf"archive file '{path}': its response cannot be loaded \(.*utf-8"):
        load_archive(tmp_path)


# --- the screen that decides whether the exact repeat check runs ---------------------------------------------

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def _span(tweets: str, lo: int, hi: int, endpoint: str = "historical", groupings: str = "h") -> Span:
    return Span(endpoint, frozenset(groupings), frozenset(None if t == "-" else t for t in tweets),
                T0 + timedelta(hours=lo), T0 + timedelta(hours=hi))  # fmt: skip


@pytest.mark.parametrize(
    ("spans", "meet"),
    [
        ([_span("ab", 0, 23)], False),
        ([_span("ab", 0, 23), _span("cd", 0, 23)], False),  # other tweets, same window
        ([_span("ab", 0, 23), _span("ab", 24, 47)], False),  # same tweets, the next window
        ([_span("ab", 24, 47), _span("ab", 0, 23)], False),
        ([_span("ab", 0, 23), _span("ab", 23, 47)], True),  # one hour in both
        ([_span("ab", 0, 23), _span("bc", 10, 12)], True),  # tweet b, inside
        ([_span("a", 0, 100), _span("a", 10, 12), _span("a", 50, 60)], True),
        ([_span("a", 0, 9), _span("a", 50, 60), _span("a", 10, 49)], False),
        ([_span("a", 0, 9), _span("a", 50, 60), _span("a", 10, 50)], True),  # the last meets the first-sorted-later
        ([_span("ab", 0, 23), _span("ab", 0, 23, "28hr")], False),  # another endpoint
        ([_span("ab", 0, 23), _span("ab", 0, 23, groupings="d")], False),  # another grouping
        ([_span("ab", 0, 23, groupings="hd"), _span("ab", 5, 6, groupings="d")], True),  # one grouping shared
        ([_span("-", 0, 23), _span("-", 5, 6)], True),  # groupings without tweets meet too
        ([_span("-", 0, 23), _span("a", 5, 6)], False),
    ],
)
def test_spans_meet_exactly_when_two_answers_could_share_a_key(spans: list[Span], meet: bool) -> None:
    assert spans_meet(spans) is meet


PLANS = st.lists(
    st.tuples(
        st.sampled_from(["historical/hourly", "historical/daily", "historical/per_tweet", "28hr/hourly", "totals"]),
        st.sets(st.sampled_from(ACME), min_size=1, max_size=3),
        st.integers(0, 5),  # start day in May
        st.integers(1, 3),  # days
    ),
    min_size=2,
    max_size=4,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plans=PLANS)
def test_the_screen_gives_what_the_exact_check_always_gives(
    plans: list[tuple[str, set[str], int, int]],
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Archives of overlapping and disjoint fetches: loading with the screen equals loading with the exact check run
    every time (a screen that missed a meeting pair would return repeated rows, or no conflict error)."""
    root = tmp_path_factory.mktemp("archive")
    for k, (what, tweets, day, days) in enumerate(plans):
        endpoint, _, granularity = what.partition("/")
        ids = sorted(tweets)
        if endpoint == "totals":
            query = EngagementQuery("totals", ids, ["favorites"], "per_tweet")
        elif endpoint == "28hr":
            query = EngagementQuery("28hr", ids, ["impressions", "favorites"], granularity)
        else:
            start = (T0 + timedelta(days=day)).date().isoformat()
            end = (T0 + timedelta(days=day + days)).date().isoformat()
            query = EngagementQuery("historical", ids, ["impressions", "favorites"], granularity, start=start, end=end)
        _fetch(query, root / f"fetch-{k}")  # each fetch its own archive, then merged: a repeat is fetched again
        for path in (root / f"fetch-{k}" / "responses").glob("*.json.gz"):
            envelope = read_envelope(path)
            envelope["provenance"]["key"] = f"{k}-{envelope['provenance']['key']}"
            envelope["provenance"]["retrieved_at"] = f"2026-06-0{k + 1}T00:00:00+00:00"
            content = encode_envelope(envelope["provenance"], envelope["body"])
            (root / "merged" / "responses").mkdir(parents=True, exist_ok=True)
            (root / "merged" / "responses" / f"{envelope['provenance']['key']}.json.gz").write_bytes(
                gzip.compress(content)
            )
    screened = load_archive(root / "merged", backend="polars")
    with monkeypatch.context() as patched:
        patched.setattr(archive_loader, "spans_meet", lambda spans: True)
        exact = load_archive(root / "merged", backend="polars")
    assert screened.equals(exact)
    assert not archive_loader.keyed(screened.lazy()).select(archive_loader.KEYS).collect().is_duplicated().any()


def test_pandas_and_polars_loads_agree_with_windows_and_without(tmp_path: Path) -> None:
    """The pandas load builds provenance columns once for all answers (one chunk when every answer states its
    window); answers without a window (/totals) take the per-answer way. Both equal the polars load."""
    _fetch(_hourly("2026-05-01", "2026-05-02"), tmp_path)
    _fetch(_hourly("2026-05-03", "2026-05-04"), tmp_path)
    windowed = load_archive(tmp_path, backend="pandas")
    assert windowed["window_start"].dtype == "datetime64[us, UTC]"
    assert pl.from_pandas(windowed).equals(load_archive(tmp_path, backend="polars"))
    _fetch(EngagementQuery("totals", ACME, ["favorites"], "per_tweet"), tmp_path)
    mixed = load_archive(tmp_path, backend="pandas")
    assert mixed["window_start"].isna().sum() == len(ACME)  # the totals rows: no window
    assert list(mixed.dtypes.astype(str)) == list(windowed.dtypes.astype(str))
    assert pl.from_pandas(mixed).equals(load_archive(tmp_path, backend="polars"))
