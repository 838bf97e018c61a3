"""X API v2 post and media analytics end to end: queries, the sandbox's v2 routes, fetch_analytics, the loader."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement_lab import (
    AnalyticsQuery,
    EngagementQuery,
    MediaAnalyticsQuery,
    QueryError,
    ResponseFormatError,
    fetch,
    fetch_analytics,
    load_analytics,
    load_archive,
    per_tweet,
)
from engagement_lab.api import Credentials, OAuth2Token, RetryPolicy, Secret
from engagement_lab.api.auth import AccountTokens
from engagement_lab.load.archive_format import read_envelope
from engagement_lab.sandbox import FaultConfig, Sandbox, SandboxApp, SandboxTransport, World
from engagement_lab.sources.x_v2.catalog import POST_FIELDS
from engagement_lab.sources.x_v2.sandbox import media_key_of

from ...api.conftest import FakeClock, owned

BASE = "https://api.x.com"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def hour(t: datetime) -> datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def fetch_v2(app: SandboxApp, query: object, out: Path, credentials: Credentials | None = None, **options: object):  # type: ignore[no-untyped-def]
    creds = credentials or Credentials.from_mapping(app.info(BASE))
    return fetch_analytics(
        query,  # type: ignore[arg-type]
        credentials=creds,
        out=out,
        base_url=BASE,
        transport=SandboxTransport(app),
        now=NOW,
        progress=False,
        **options,  # type: ignore[arg-type]
    )


# --- queries ---------------------------------------------------------------------------------------------------


def test_a_query_plans_100_id_batches_and_bucket_aligned_windows() -> None:
    ids = [str(1790000000000000000 + i) for i in range(250)]
    plan = AnalyticsQuery(ids, "2026-03-01T10:30:00Z", "2026-05-31", granularity="daily").plan(now=NOW)
    assert len(plan) == 3 * 3  # 100 + 100 + 50 ids x (31 + 31 + ~20 days)
    windows = sorted({(r.start, r.end) for r in plan})
    assert windows[0][0] == datetime(2026, 3, 1, 10, tzinfo=UTC)  # aligned outward to the hour
    assert all(b - a == timedelta(days=31) for a, b in windows[:-1])
    assert [w[1] for w in windows[:-1]] == [w[0] for w in windows[1:]]  # contiguous, no gap, no overlap
    first = plan[0].params()
    assert first["ids"].count(",") == 99
    assert first["granularity"] == "daily"
    assert first["analytics.fields"].split(",") == list(POST_FIELDS)
    chosen = AnalyticsQuery(ids[:1], "2026-05-01", fields=["likes", "impressions"]).validate(now=NOW).params()
    assert chosen["analytics.fields"] == "id,timestamp,timestamped_metrics,likes,impressions"
    assert (
        plan[0].key
        == AnalyticsQuery(ids, "2026-03-01T10:30:00Z", "2026-05-31", granularity="daily").plan(now=NOW)[0].key
    )
    weekly = AnalyticsQuery(ids[:1], "2026-01-05", "2026-05-31", granularity="weekly").plan(now=NOW)
    assert all((r.end - r.start) % timedelta(weeks=1) == timedelta(0) for r in weekly[:-1])


@pytest.mark.parametrize(
    ("query", "rule", "text"),
    [
        (AnalyticsQuery(["1"], "2026-05-01", granularity="hourli"), "granularity.unknown", "did you mean 'hourly'"),
        (AnalyticsQuery(["1"], "2026-05-01", fields=["like"]), "fields.unknown", "did you mean 'likes'"),
        (AnalyticsQuery(["1"], None), "start.missing", "start_time is required"),
        (AnalyticsQuery(["1"], "2026-05-02", "2026-05-01"), "window.order", "must be after"),
        (AnalyticsQuery(["1"], "2026-05-01", "2026-07-01"), "window.future", "in the future"),
        (AnalyticsQuery([1.2602948888113479e18], "2026-05-01"), "tweet_ids.float", r"ids above 2\*\*53"),
        (MediaAnalyticsQuery(["1790000000000000000"], "2026-05-01"), "media_keys.format", "<digits>_<digits>"),
        (MediaAnalyticsQuery(["7_1"], "2026-05-01", granularity="weekly"), "granularity.unknown", "not one of"),
    ],
)
def test_bad_queries_are_refused_before_any_request(query: object, rule: str, text: str) -> None:
    with pytest.raises(QueryError, match=text) as caught:
        query.validate(now=NOW)  # type: ignore[attr-defined]
    assert caught.value.rule == rule


# --- the loader on the spec's own example ------------------------------------------------------------------------

SPEC_EXAMPLE = {
    "data": [
        {
            "id": "1346889436626259968",
            "timestamped_metrics": [
                {
                    "metrics": {
                        "impressions": 123,
                        "likes": 123,
                        "url_clicks": 123,
                        "link_clicks": 123,
                        "media_engagements": 123,
                        "profile_visits": 123,
                    },
                    "timestamp": "2025-03-17T06:30:00Z",
                }
            ],
        }
    ],
    "errors": [{"title": "<string>", "type": "<string>", "detail": "<string>", "status": 123}],
}


def test_the_specs_example_response_loads() -> None:
    frame, report = load_analytics(SPEC_EXAMPLE, backend="polars", report=True)
    assert frame.schema["tweet_id"] == pl.String
    got = dict(zip(frame["engagement_type"], frame["value"], strict=True))
    # likes -> favorites; names outside the spec's enum keep their own names (link_clicks is not merged into
    # url_clicks, which the answer also carries) and are reported
    assert got == {
        "impressions": 123, "favorites": 123, "url_clicks": 123,
        "link_clicks": 123, "media_engagements": 123, "profile_visits": 123,
    }  # fmt: skip
    assert set(frame["grain"]) == {"total"}  # a single bucket is a total over the range
    assert report.unknown_metrics == ("link_clicks", "media_engagements", "profile_visits")
    assert per_tweet(frame, backend="polars").row(0, named=True)["favorites"] == 123
    assert report.errors == ("?: <string>: <string>",)


def test_nulls_stay_missing_unknown_metrics_are_kept_and_media_strings_parsed_or_reported() -> None:
    answer = {
        "data": [
            {
                "media_key": "7_1790000000000000001",
                "timestamped_metrics": [
                    {"timestamp": "2026-05-01T00:00:00Z", "metrics": {"video_views": 10, "watch_time_ms": "4200"}},
                    {"timestamp": "2026-05-02T00:00:00Z", "metrics": {"video_views": None, "watch_time_ms": "n/a"}},
                ],
            },
            {"id": "1790000000000000002", "impressions": 50, "likes": None, "new_metric": 4},
        ]
    }
    frame, report = load_analytics(answer, backend="polars", report=True)
    media = frame.filter(pl.col("tweet_id") == "7_1790000000000000001").sort("day")
    assert media.select("engagement_type", "grain", "value").rows() == [
        ("video_views", "day", 10),
        ("watch_time_ms", "day", 4200),
    ]
    assert report.errors == (
        "7_1790000000000000001: watch_time_ms = 'n/a' is not a number (left missing) "
        "at $['data'][0]['timestamped_metrics'][1]['metrics']['watch_time_ms']",
    )
    post = frame.filter(pl.col("tweet_id") == "1790000000000000002")
    assert dict(post.select("engagement_type", "value").rows()) == {"impressions": 50, "new_metric": 4}  # no likes row
    assert report.unknown_metrics == ("new_metric",)
    with pytest.raises(Exception, match=r"non-negative integer \(below 2\*\*63\) or null"):
        load_analytics({"data": [{"id": "1", "impressions": -1}]})


def _bucket(at: str, **metrics: int) -> dict[str, object]:
    return {"timestamp": at, "metrics": metrics}


@pytest.mark.parametrize(
    ("data", "said", "path"),
    [
        (  # one post listed twice, one bucket each: each alone reads as a total over the range
            [
                {"id": "1", "timestamped_metrics": [_bucket("2026-05-01T00:00:00Z", impressions=5)]},
                {"id": "1", "timestamped_metrics": [_bucket("2026-05-02T00:00:00Z", impressions=7)]},
            ],
            "1: impressions for the whole range is reported twice",
            "$['data'][1]['timestamped_metrics'][0]['metrics']['impressions']",
        ),
        (  # a bucket repeated
            [{"id": "1", "timestamped_metrics": [_bucket("2026-05-01T00:00:00Z", impressions=5)] * 2}],
            "1: impressions for the hour of 2026-05-01T00:00:00+00:00 is reported twice",
            "$['data'][0]['timestamped_metrics'][1]['metrics']['impressions']",
        ),
        (  # likes is what the Engagement API calls favorites: both at once are one number twice
            [
                {
                    "id": "1",
                    "timestamped_metrics": [
                        _bucket("2026-05-01T00:00:00Z", likes=3, favorites=4),
                        _bucket("2026-05-02T00:00:00Z", likes=1),
                    ],
                }
            ],
            "1: favorites for the day of 2026-05-01T00:00:00+00:00 is reported twice "
            "(also at $['data'][0]['timestamped_metrics'][0]['metrics']['likes'])",
            "$['data'][0]['timestamped_metrics'][0]['metrics']['favorites']",
        ),
        (  # two stamps in one hour are one hourly number in the tidy rows
            [
                {
                    "id": "1",
                    "timestamped_metrics": [
                        _bucket("2026-05-01T00:00:00Z", impressions=5),
                        _bucket("2026-05-01T00:30:00Z", impressions=6),
                    ],
                }
            ],
            "1: impressions for the hour of 2026-05-01T00:30:00+00:00 is reported twice",
            "$['data'][0]['timestamped_metrics'][1]['metrics']['impressions']",
        ),
        (  # flat totals of one post twice
            [{"id": "1", "impressions": 5}, {"id": "1", "impressions": 5}],
            "1: impressions for the whole range is reported twice (also at $['data'][0]['impressions'])",
            "$['data'][1]['impressions']",
        ),
    ],
)
def test_an_answer_reporting_one_number_twice_is_refused(data: list[object], said: str, path: str) -> None:
    """Two rows for one number would be summed by anything that adds rows up; even equal values are refused."""
    with pytest.raises(ResponseFormatError) as caught:
        load_analytics({"data": data})
    assert said in str(caught.value)
    assert caught.value.path == path


# --- the sandbox: the same world through both APIs -------------------------------------------------------------


@pytest.fixture(scope="module")
def v2_world() -> World:
    return World(seed=7)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(st.integers(0, 399), min_size=1, max_size=6, unique=True),
    back_days=st.integers(1, 60),
    span_hours=st.integers(1, 80),
)
def test_v2_hours_equal_engagement_api_hours(
    v2_world: World, tmp_path_factory: pytest.TempPathFactory, picks: list[int], back_days: int, span_hours: int
) -> None:
    acme = [t.tweet_id for t in v2_world.tweets if t.account == "acme" and t.status == "ok"]
    ids = [acme[i % len(acme)] for i in picks]
    start = hour(NOW) - timedelta(days=back_days)
    end = min(start + timedelta(hours=span_hours), hour(NOW))
    app = SandboxApp(v2_world, rate_limit_per_minute=100_000)
    creds = Credentials.from_mapping(app.info(BASE))
    out = tmp_path_factory.mktemp("both")
    metrics = ["impressions", "engagements", "favorites", "retweets", "url_clicks"]
    done = fetch(
        EngagementQuery("historical", ids, metrics, "hourly", start=start, end=end),
        credentials=creds, out=out / "engagement", base_url="https://data-api.twitter.com",
        transport=SandboxTransport(app), now=NOW, progress=False, owners=dict.fromkeys(ids, "acme"),
    )  # fmt: skip
    assert done.ok, done.errors
    query = AnalyticsQuery(ids, start, end, granularity="hourly")
    result = fetch_v2(app, query, out / "v2", creds, owners=dict.fromkeys(ids, "acme"))
    assert result.ok, result.errors
    keys = ["tweet_id", "engagement_type", "day", "hour"]
    engagement = load_archive(out / "engagement", backend="polars").filter(pl.col("grain") == "hour")
    v2 = load_archive(out / "v2", backend="polars").filter(pl.col("engagement_type").is_in(metrics))
    both = engagement.select(*keys, pl.col("value").alias("a")).join(
        v2.select(*keys, pl.col("value").alias("b")), on=keys, how="full", coalesce=True
    )
    assert both.height == len(set(ids)) * len(metrics) * int((end - start) / timedelta(hours=1))
    assert both.filter(pl.col("a").is_null() | pl.col("b").is_null() | (pl.col("a") != pl.col("b"))).height == 0


def test_daily_weekly_and_total_buckets_sum_the_hours(tmp_path: Path, v2_world: World) -> None:
    app = SandboxApp(v2_world, rate_limit_per_minute=100_000)
    ids = owned(v2_world, "acme", 5)
    start, end = datetime(2026, 5, 4, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)  # four whole ISO weeks
    sums = {}
    for granularity in ("hourly", "daily", "weekly", "total"):
        out = tmp_path / granularity
        query = AnalyticsQuery(ids, start, end, granularity=granularity)
        assert fetch_v2(app, query, out, owners=dict.fromkeys(ids, "acme")).ok
        frame = load_archive(out, backend="polars")
        expected_grain = {"hourly": "hour", "daily": "day", "weekly": "week", "total": "total"}[granularity]
        assert set(frame["grain"]) == {expected_grain}
        sums[granularity] = (
            per_tweet(frame, backend="polars").sort("tweet_id").select("tweet_id", "impressions", "favorites")
        )
    assert sums["hourly"].equals(sums["daily"])
    assert sums["hourly"].equals(sums["weekly"])
    assert sums["hourly"].equals(sums["total"])
    assert sums["hourly"]["impressions"].sum() > 0


def test_overlapping_v2_fetches_load_each_hour_once(tmp_path: Path, v2_world: World) -> None:
    """Two hourly fetches of one post overlapping by a day, into one archive: the overlap is found (the answers
    share endpoint, grouping and tweet, and their hours meet) and each hour is loaded once."""
    app = SandboxApp(v2_world, rate_limit_per_minute=100_000)
    ids = owned(v2_world, "acme", 2)
    day = datetime(2026, 5, 4, tzinfo=UTC)
    for start, end in ((day, day + timedelta(days=2)), (day + timedelta(days=1), day + timedelta(days=3))):
        assert fetch_v2(
            app, AnalyticsQuery(ids, start, end, granularity="hourly"), tmp_path, owners=dict.fromkeys(ids, "acme")
        ).ok
    frame = load_archive(tmp_path, backend="polars")
    assert frame.select("tweet_id", "engagement_type", "timestamp").is_duplicated().sum() == 0
    assert frame["timestamp"].n_unique() == 72
    alone = tmp_path / "alone"
    assert fetch_v2(
        app,
        AnalyticsQuery(ids, day, day + timedelta(days=3), granularity="hourly"),
        alone,
        owners=dict.fromkeys(ids, "acme"),
    ).ok
    once = load_archive(alone, backend="polars")
    assert per_tweet(frame, backend="polars").equals(per_tweet(once, backend="polars"))


def test_media_analytics_for_video_posts(tmp_path: Path, v2_world: World) -> None:
    app = SandboxApp(v2_world, rate_limit_per_minute=100_000)
    videos = [t for t in v2_world.tweets if t.account == "acme" and t.status == "ok" and t.content_type == "video"][:8]
    keys = [media_key_of(t) for t in videos]
    query = MediaAnalyticsQuery(keys, "2026-01-01", "2026-06-01", granularity="daily")
    result = fetch_v2(app, query, tmp_path, owners=dict.fromkeys(keys, "acme"))
    assert result.ok, result.errors
    frame = load_archive(tmp_path, backend="polars")
    assert set(frame["tweet_id"]) <= set(keys)
    wide = per_tweet(frame, backend="polars")
    assert (wide["playback_complete"] <= wide["playback_start"]).all()
    assert (wide["watch_time_ms"] == wide["video_views"] * 4200).all()  # string counters were parsed


# --- fetching ------------------------------------------------------------------------------------------------


def test_per_id_problems_are_recorded_and_the_rest_kept(tmp_path: Path, v2_world: World) -> None:
    app = SandboxApp(v2_world, rate_limit_per_minute=100_000)
    mine = owned(v2_world, "acme", 4)
    theirs = owned(v2_world, "rival_co", 2)
    deleted = [t.tweet_id for t in v2_world.tweets if t.status == "deleted"][:1]
    protected = [t.tweet_id for t in v2_world.tweets if t.status == "protected"][:1]
    unknown = ["1790000000000000099"]
    ids = mine + theirs + deleted + protected + unknown
    result = fetch_v2(app, AnalyticsQuery(ids, "2026-05-01", "2026-06-01"), tmp_path, owners=dict.fromkeys(ids, "acme"))
    assert result.ok, result.errors
    assert set(result.unowned_tweet_ids) == set(theirs)
    assert set(result.unavailable_tweet_ids) == set(deleted + protected + unknown)
    assert set(load_archive(tmp_path, backend="polars")["tweet_id"]) == set(mine)
    assert "not the account's" in result.summary()


def test_an_app_only_bearer_token_is_refused_with_the_fix(tmp_path: Path, v2_world: World) -> None:
    app = SandboxApp(v2_world, rate_limit_per_minute=100_000)
    answer = SandboxTransport(app).handle_request(
        httpx.Request(
            "GET",
            f"{BASE}/2/tweets/analytics",
            params={"ids": "1", "start_time": "2026-05-01T00:00:00Z", "end_time": "2026-05-02T00:00:00Z"},
            headers={"Authorization": f"Bearer {app.tokens.bearer_token}"},
        )
    )
    assert answer.status_code == 403
    assert answer.headers["content-type"] == "application/problem+json"
    assert "OAuth 2.0 Application-Only is forbidden" in answer.read().decode()


def test_faults_at_rate_015_do_not_change_the_data(tmp_path: Path, v2_world: World) -> None:
    ids = owned(v2_world, "acme", 120) + owned(v2_world, "acme_support", 30)
    owners = {
        **dict.fromkeys(owned(v2_world, "acme", 120), "acme"),
        **dict.fromkeys(owned(v2_world, "acme_support", 30), "acme_support"),
    }
    query = AnalyticsQuery(ids, "2026-03-01", "2026-06-01", granularity="daily", max_window=timedelta(days=5))
    clean = fetch_v2(SandboxApp(v2_world, rate_limit_per_minute=100_000), query, tmp_path / "clean", owners=owners)
    clock = FakeClock(t=time.time())  # backoff sleeps are recorded, not slept; the sandbox shares the clock
    faulty_app = SandboxApp(
        v2_world, wall=clock.time, rate_limit_per_minute=100_000, faults=FaultConfig.mixed(0.15, seed=4)
    )
    faulty = fetch_v2(
        faulty_app, query, tmp_path / "faulty", owners=owners, retry=RetryPolicy(max_attempts=10, seed=2), clock=clock,
        concurrency=1,  # one worker: a simulated clock that other workers' backoffs move would skew OAuth timestamps
    )  # fmt: skip
    assert faulty.ok, faulty.errors
    assert faulty.retries > 0
    assert {r.fault for r in faulty_app.records} >= {"server_error", "rate_limit", "drop", "truncate"}
    assert clean.requests == faulty.requests == 3 * 19  # (100 + 20 acme, 30 acme_support) x 19 windows of 5 days
    a = (
        load_archive(tmp_path / "clean", backend="polars")
        .drop("retrieved_at")
        .sort(["tweet_id", "engagement_type", "day"])
    )
    b = (
        load_archive(tmp_path / "faulty", backend="polars")
        .drop("retrieved_at")
        .sort(["tweet_id", "engagement_type", "day"])
    )
    assert a.equals(b)


def test_pacing_follows_x_rate_limit_headers_with_zero_429s(tmp_path: Path, v2_world: World) -> None:
    clock = FakeClock(t=time.time())  # the rate-limit waits are recorded, not slept; the sandbox shares the clock
    app = SandboxApp(v2_world, wall=clock.time, v2_rate_limit=5, v2_rate_window_seconds=900)
    ids = owned(v2_world, "acme", 12)
    query = AnalyticsQuery(ids, "2026-05-01", "2026-06-01")
    queries = [AnalyticsQuery([i], "2026-05-01", "2026-06-01") for i in ids]
    # one worker: with a simulated clock, a 900 s wait in one worker would skew another's OAuth timestamp
    result = fetch_v2(app, queries, tmp_path, clock=clock, owners=dict.fromkeys(ids, "acme"), concurrency=1)
    assert result.ok, result.errors
    assert [r.status for r in app.records].count(429) == 0
    assert result.rate_limit_waits == 2  # 12 requests at 5 per window: two waits for the reset
    assert 900 <= sum(clock.slept) <= 2 * 900 + 5
    assert query.validate(now=NOW).ids == tuple(ids)


def test_an_expired_oauth2_token_is_refreshed_once_and_reported(tmp_path: Path, v2_world: World) -> None:
    app = SandboxApp(v2_world, rate_limit_per_minute=100_000)
    transport = SandboxTransport(app)
    # a token issued by the sandbox's token endpoint, then aged past its expiry
    from engagement_lab.api import PKCEFlow

    flow = PKCEFlow(app.routes["x-v2"].client_id, "http://127.0.0.1:9/callback", base_url=BASE)
    with httpx.Client(transport=transport, base_url=BASE) as http:
        redirect = http.get(flow.url.removeprefix(BASE)).headers["location"]
        token = flow.exchange(redirect, http=http)
    stale = OAuth2Token(token.access_token, token.refresh_token, expires_at=0.0, scope=token.scope)
    base = Credentials.from_mapping(app.info(BASE))
    creds = base.with_account(AccountTokens("acme", Secret(""), Secret(""), stale))
    refreshed: list[tuple[str, OAuth2Token]] = []
    ids = owned(v2_world, "acme", 3)
    result = fetch_v2(
        app, AnalyticsQuery(ids, "2026-05-01", "2026-06-01"), tmp_path, creds, owners=dict.fromkeys(ids, "acme"),
        on_token_refresh=lambda handle, t: refreshed.append((handle, t)), concurrency=3,
    )  # fmt: skip
    assert result.ok, result.errors
    assert [h for h, _ in refreshed] == ["acme"]  # once, though three workers needed it
    assert refreshed[0][1].access_token != token.access_token
    assert refreshed[0][1].access_token.reveal() in app.routes["x-v2"].oauth2.access


def test_credentials_keep_oauth2_tokens_privately(tmp_path: Path) -> None:
    token = OAuth2Token(Secret("at"), Secret("rt"), 1_800_000_000.0, "tweet.read users.read offline.access")
    creds = Credentials(Secret("k"), Secret("s"), None, {}, "client-1").with_account(
        AccountTokens("acme", Secret(""), Secret(""), token)
    )
    path = creds.save(tmp_path / "c.json")
    assert path.stat().st_mode & 0o777 == 0o600
    again = Credentials.load(path)
    assert again.oauth2_client_id == "client-1"
    assert again.account("acme").oauth2 == token
    assert not again.account("acme").access_token
    assert "rt" not in repr(again)
    data = json.loads(path.read_text())
    assert data["accounts"][0]["oauth2_refresh_token"] == "rt"


# --- the command line, with real processes and sockets -----------------------------------------------------------


def test_kill_minus_nine_mid_fetch_then_resume_loses_nothing_and_refetches_nothing(tmp_path: Path) -> None:
    with Sandbox(seed=7, faults=FaultConfig(latency_ms=120)) as sandbox:
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps(sandbox.info))
        world = sandbox.app.world
        ids = [t.tweet_id for t in world.tweets if t.account == "acme" and t.status == "ok"][:200]
        ids_file = tmp_path / "ids.csv"
        ids_file.write_text("tweet_id,account\n" + "".join(f"{i},acme\n" for i in ids))
        out = tmp_path / "archive"
        command = [sys.executable, "-m", "engagement_lab.cli", "fetch", "analytics", "--ids-file", str(ids_file),
                   "--out", str(out), "--base-url", sandbox.base_url, "--credentials", str(creds), "--granularity",
                   "daily", "--start", "2025-12-01", "--end", "2026-06-01", "--concurrency", "2", "--no-progress"]  # fmt: skip
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline and len(list((out / "responses").glob("*.json.gz"))) < 4:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        first = {read_envelope(p)["provenance"]["request_sha256"] for p in (out / "responses").glob("*.json.gz")}
        assert 4 <= len(first) < 12  # 2 batches x 6 windows of 31 days
        time.sleep(0.5)  # requests the dead process had in flight reach the server and are answered to no one
        seen_before = len(sandbox.app.records)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        again = [r.body_sha256 for r in sandbox.app.records[seen_before:] if r.endpoint == "tweets/analytics"]
    # exactly the missing requests (by URL: a request the dead process had in flight may still be answered late)
    assert len(set(again)) == 12 - len(first)
    assert not first & set(again)  # nothing archived was asked for again
    assert len(list((out / "responses").glob("*.json.gz"))) == 12
    assert "12 planned" in done.stdout
    frame = load_archive(out, backend="polars")
    assert set(frame["tweet_id"]) == set(ids)
    assert set(frame["endpoint"]) == {"tweets/analytics"}


def test_pkce_over_a_real_loopback_redirect_then_fetch_and_report_from_the_shell(tmp_path: Path) -> None:
    with Sandbox(seed=7) as sandbox:
        creds, saved = tmp_path / "creds.json", tmp_path / "v2-creds.json"
        info = {k: v for k, v in sandbox.info.items() if k != "accounts"}  # an app with no user tokens yet
        creds.write_text(json.dumps(info))
        auth = subprocess.Popen(
            [sys.executable, "-m", "engagement_lab.cli", "auth", "oauth2", "--base-url", sandbox.base_url,
             "--credentials", str(creds), "--save", str(saved), "--timeout", "60s"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert auth.stdout is not None
        url = ""
        for line in auth.stdout:
            if line.strip().startswith("http"):
                url = line.strip()
            if "waiting for the redirect" in line:
                break
        # the "browser": the consent page redirects to the CLI's loopback listener, a real socket
        landed = httpx.get(url, follow_redirects=True, timeout=30)
        assert landed.status_code == 200
        assert "authorised" in landed.text
        rest, err = auth.communicate(timeout=60)
        assert auth.returncode == 0, err
        assert "authorised @acme (OAuth 2.0" in rest
        assert saved.stat().st_mode & 0o777 == 0o600
        account = Credentials.load(saved).account("acme")
        assert account.oauth2 is not None
        assert not account.access_token  # OAuth 2.0 only: the fetch below cannot be using OAuth 1.0a
        ids = [t.tweet_id for t in sandbox.app.world.tweets if t.account == "acme" and t.status == "ok"][:60]
        ids_file = tmp_path / "ids.txt"
        ids_file.write_text("\n".join(ids))
        archive = tmp_path / "archive"
        fetched = subprocess.run(
            [sys.executable, "-m", "engagement_lab.cli", "fetch", "analytics", "--ids-file", str(ids_file),
             "--out", str(archive), "--base-url", sandbox.base_url, "--credentials", str(saved),
             "--start", "2026-01-01", "--end", "2026-06-01", "--no-progress"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert fetched.returncode == 0, fetched.stderr
        metadata = tmp_path / "tweets.csv"
        metadata.write_text(httpx.get(f"{sandbox.base_url}/sandbox/tweets.csv").text)
    report = tmp_path / "report.html"
    made = subprocess.run(
        [sys.executable, "-m", "engagement_lab.cli", "report", "--archive", str(archive), "--metadata", str(metadata),
         "--by", "content_type", "--control", "text", "--observational", "--out", str(report)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    html = report.read_text()
    assert "more engagements per impression than text" in html or "fewer engagements per impression than text" in html
    assert "X API v2" in html
