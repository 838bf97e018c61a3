"""EngagementQuery: every documented rule refused before sending, and plans that cover exactly."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement_lab import EngagementQuery, EngagementRequest, QueryError, catalog
from engagement_lab.ids import snowflake_id
from engagement_lab.sources.engagement.query import resolve_window, split_windows

NOW = datetime(2026, 6, 1, 12, 30, tzinfo=UTC)
RECENT = [snowflake_id(NOW - timedelta(days=2), i) for i in range(5)]
OLD_100D = snowflake_id(NOW - timedelta(days=100))
OLD_2000D = snowflake_id(NOW - timedelta(days=2000))


def query(**overrides: Any) -> EngagementQuery:
    args: dict[str, Any] = {
        "endpoint": "totals",
        "tweet_ids": RECENT[:2],
        "engagement_types": ["impressions", "favorites"],
        "groupings": "per_tweet",
    }
    args.update(overrides)
    return EngagementQuery(**args)


HIST = {"endpoint": "historical", "groupings": "hourly"}

BAD_CASES: list[tuple[str, dict[str, Any], str, str]] = [
    # (case id, overrides, rule, a phrase the message must contain)
    ("float id", {"tweet_ids": [1.2602948888113479e18]}, "tweet_ids.float", "lose digits"),
    ("nan id", {"tweet_ids": [float("nan")]}, "tweet_ids.float", "float"),
    ("non-digit id", {"tweet_ids": ["12a4"]}, "tweet_ids.format", "non-digits"),
    ("scientific id", {"tweet_ids": ["1.26e+18"]}, "tweet_ids.float", "scientific notation"),
    ("empty id", {"tweet_ids": ["  "]}, "tweet_ids.empty", "empty"),
    ("20-digit id", {"tweet_ids": ["1" * 20]}, "tweet_ids.length", "19"),
    ("negative id", {"tweet_ids": [-5]}, "tweet_ids.negative", "negative"),
    ("negative str id", {"tweet_ids": ["-5"]}, "tweet_ids.negative", "negative"),
    ("leading zero", {"tweet_ids": ["0123"]}, "tweet_ids.format", "leading zeros"),
    ("beyond int64", {"tweet_ids": ["9999999999999999999"]}, "tweet_ids.range", "64-bit"),
    ("bool id", {"tweet_ids": [True]}, "tweet_ids.type", "bool"),
    ("None id", {"tweet_ids": [None]}, "tweet_ids.type", "NoneType"),
    ("no ids", {"tweet_ids": []}, "tweet_ids.empty", "at least one"),
    ("ids as dict", {"tweet_ids": {"a": 1}}, "tweet_ids.type", "list"),
    ("unknown endpoint", {"endpoint": "total"}, "endpoint.unknown", "did you mean 'totals'"),
    ("unknown auth", {"auth": "oauth2"}, "auth.unknown", "'user'"),
    ("unknown metric", {"engagement_types": ["impresions"]}, "engagement_types.unknown", "did you mean"),
    (
        "renamed metric",
        {"engagement_types": ["media_clicks"]},
        "engagement_types.renamed",
        "media_engagements",
    ),
    ("no metrics", {"engagement_types": []}, "engagement_types.empty", "'all'"),
    ("metric not str", {"engagement_types": [3]}, "engagement_types.type", "strings"),
    ("url_clicks on totals", {"engagement_types": ["url_clicks"]}, "engagement_types.endpoint", "/28hr"),
    (
        "quote_tweets on historical",
        {**HIST, "engagement_types": ["quote_tweets"]},
        "engagement_types.endpoint",
        "/totals",
    ),
    ("impressions with bearer", {"auth": "bearer"}, "engagement_types.bearer", "user context"),
    ("bearer on 28hr", {"endpoint": "28hr", "auth": "bearer"}, "auth.bearer_endpoint", "/totals"),
    ("bearer on historical", {**HIST, "auth": "bearer"}, "auth.bearer_endpoint", "user context"),
    (
        "hour grouping on totals",
        {"groupings": {"g": {"group_by": ["tweet.id", "engagement.hour"]}}},
        "groupings.time_on_totals",
        "/historical",
    ),
    ("day preset on totals", {"groupings": "daily"}, "groupings.time_on_totals", "engagement.day"),
    (
        "four groupings",
        {"groupings": {f"g{i}": ["engagement.type"] for i in range(4)}},
        "groupings.too_many",
        "3",
    ),
    ("no groupings", {"groupings": {}}, "groupings.empty", "at least one"),
    ("groupings as int", {"groupings": 5}, "groupings.type", "preset"),
    ("unknown preset", {"groupings": "per_twet"}, "groupings.preset_unknown", "did you mean 'per_tweet'"),
    (
        "duplicate name",
        {"groupings": [("a", ["tweet.id"]), ("a", ["engagement.type"])]},
        "groupings.duplicate_name",
        "twice",
    ),
    ("reserved name", {"groupings": {"errors": ["tweet.id"]}}, "groupings.reserved_name", "reserved"),
    ("reserved name start", {"groupings": {"start": ["tweet.id"]}}, "groupings.reserved_name", "reserved"),
    ("blank name", {"groupings": {" ": ["tweet.id"]}}, "groupings.name", "non-empty"),
    ("group_by unknown", {"groupings": {"g": ["tweet.ids"]}}, "groupings.group_by_unknown", "did you mean"),
    ("group_by empty", {"groupings": {"g": {"group_by": []}}}, "groupings.group_by_empty", "empty"),
    ("group_by string", {"groupings": {"g": {"group_by": "tweet.id"}}}, "groupings.group_by_type", "list"),
    (
        "group_by extra key",
        {"groupings": {"g": {"group_by": ["tweet.id"], "x": 1}}},
        "groupings.group_by_type",
        "keys",
    ),
    (
        "group_by repeated",
        {"groupings": {"g": ["tweet.id", "tweet.id"]}},
        "groupings.group_by_duplicate",
        "repeats",
    ),
    (
        "illegal four-item order",
        {**HIST, "groupings": {"g": ["engagement.day", "engagement.hour", "tweet.id", "engagement.type"]}},
        "groupings.four_item_order",
        "exactly one of",
    ),
    (
        "two four-item groupings",
        {
            **HIST,
            "groupings": {"a": list(catalog.FOUR_ITEM_ORDERS[0]), "b": list(catalog.FOUR_ITEM_ORDERS[1])},
        },
        "groupings.four_item_count",
        "at most one",
    ),
    ("start on totals", {"start": "2026-05-01"}, "window.not_allowed", "/historical"),
    ("end on 28hr", {"endpoint": "28hr", "end": "2026-05-01"}, "window.not_allowed", "28 hours"),
    ("end before start", {**HIST, "start": "2026-05-10", "end": "2026-05-01"}, "window.order", "after start"),
    ("empty window", {**HIST, "start": "2026-05-10", "end": "2026-05-10"}, "window.order", "after start"),
    ("end in future", {**HIST, "end": "2026-06-02T00:00:00Z"}, "window.future", "future"),
    ("start in future", {**HIST, "start": "2026-06-03"}, "window.future", "future"),
    (
        "start too early",
        {**HIST, "start": "2014-08-31", "end": "2014-09-20"},
        "window.too_early",
        "2014-09-01",
    ),
    ("naive datetime", {**HIST, "start": datetime(2026, 5, 1)}, "window.naive", "naive"),
    ("iso without zone", {**HIST, "start": "2026-05-01T10:00:00"}, "window.naive", "Append 'Z'"),
    ("garbage time", {**HIST, "start": "yesterday"}, "window.format", "ISO-8601"),
    ("time as int", {**HIST, "start": 1700000000}, "window.format", "int"),
    (
        "impressions older than 90 days on totals",
        {"tweet_ids": [RECENT[0], OLD_100D]},
        "age.impressions_engagements",
        "/historical",
    ),
    (
        "video views older than 1800 days",
        {"tweet_ids": [OLD_2000D], "engagement_types": ["video_views"], "auth": "bearer"},
        "age.video_views",
        "1800 days",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "rule", "phrase"),
    [pytest.param(o, r, p, id=i) for i, o, r, p in BAD_CASES],
)
def test_bad_queries_are_refused_with_the_rule_named(overrides: dict[str, Any], rule: str, phrase: str) -> None:
    with pytest.raises(QueryError) as info:
        query(**overrides).validate(now=NOW)
    assert info.value.rule == rule
    assert phrase in str(info.value)
    assert isinstance(info.value, ValueError)


def test_there_are_at_least_thirty_bad_cases() -> None:
    assert len({rule for _, _, rule, _ in BAD_CASES}) >= 30


def test_ids_are_normalised_to_strings_deduped_in_order() -> None:
    big = 1260294888811347969  # > 2**53: an int is exact, a float would not be
    req = query(tweet_ids=[big, f" {big} ", RECENT[0], str(big)]).validate(now=NOW, age_rules="allow")
    assert req.tweet_ids == (str(big), RECENT[0])
    assert all(isinstance(i, str) for i in req.to_body()["tweet_ids"])


def test_single_id_is_one_id_not_characters() -> None:
    assert query(tweet_ids=RECENT[0]).validate(now=NOW).tweet_ids == (RECENT[0],)


def test_metric_presets_follow_endpoint_and_auth() -> None:
    assert query(engagement_types="all").validate(now=NOW).engagement_types == catalog.ENDPOINTS["totals"].metrics
    public = query(engagement_types="all", auth="bearer").validate(now=NOW).engagement_types
    assert set(public) == catalog.PUBLIC_METRICS
    hist = query(**HIST, engagement_types="all").validate(now=NOW).engagement_types
    assert len(hist) == 17
    assert "quote_tweets" not in hist


def test_duplicate_metrics_collapse() -> None:
    req = query(engagement_types=["favorites", "favorites", "impressions"]).validate(now=NOW)
    assert req.engagement_types == ("favorites", "impressions")


def test_group_by_case_is_normalised() -> None:
    req = query(groupings={"g": {"group_by": ["Tweet.id", "engagement.type"]}}).validate(now=NOW)
    assert req.groupings == (("g", ("tweet.id", "engagement.type")),)


def test_api_form_groupings_roundtrip_in_body() -> None:
    groupings = {
        "hourly": {"group_by": ["engagement.type", "tweet.id", "engagement.day", "engagement.hour"]},
        "Grand Totals": {"group_by": ["engagement.type"]},
    }
    req = query(**{**HIST, "groupings": groupings}, start="2026-05-01", end="2026-05-02").validate(now=NOW)
    assert req.to_body()["groupings"] == groupings


def test_age_rules_allow_lets_the_api_answer_partially() -> None:
    req = query(tweet_ids=[RECENT[0], OLD_100D]).validate(now=NOW, age_rules="allow")
    assert req.tweet_ids == (RECENT[0], OLD_100D)


def test_public_metrics_on_old_tweets_are_fine() -> None:
    query(tweet_ids=[OLD_100D], engagement_types=["favorites"]).validate(now=NOW)


def test_historical_times_are_utc_and_accept_dates_and_offsets() -> None:
    req = query(**HIST, start=date(2026, 5, 1), end="2026-05-02T03:00:00+02:00").validate(now=NOW)
    assert req.start == datetime(2026, 5, 1, tzinfo=UTC)
    assert req.end == datetime(2026, 5, 2, 1, tzinfo=UTC)


def test_plan_chunks_totals_to_250() -> None:
    ids = [snowflake_id(NOW - timedelta(days=1), i) for i in range(600)]
    plan = query(tweet_ids=ids).plan(now=NOW)
    assert [len(r.tweet_ids) for r in plan] == [250, 250, 100]
    assert [i for r in plan for i in r.tweet_ids] == ids


def test_plan_chunks_28hr_to_25() -> None:
    ids = [snowflake_id(NOW - timedelta(days=1), i) for i in range(26)]
    plan = query(endpoint="28hr", tweet_ids=ids).plan(now=NOW)
    assert [len(r.tweet_ids) for r in plan] == [25, 1]
    assert all("start" not in r.to_body() for r in plan)


def test_plan_splits_history_into_aligned_28_day_windows() -> None:
    plan = query(**HIST, start="2026-01-01T12:24:00Z", end="2026-03-10T08:37:00Z").plan(now=NOW)
    bodies = [r.to_body() for r in plan]
    assert bodies[0]["start"] == "2026-01-01T12:00:00Z"
    assert bodies[-1]["end"] == "2026-03-10T09:00:00Z"
    assert [b["end"] for b in bodies[:-1]] == [b["start"] for b in bodies[1:]]
    for r in plan:
        r.check_limits()


def test_plan_defaults_to_the_last_28_days() -> None:
    (req,) = query(**HIST).plan(now=NOW)
    assert (req.start, req.end) == (
        datetime(2026, 5, 4, 13, tzinfo=UTC),
        datetime(2026, 6, 1, 13, tzinfo=UTC),
    )


def test_start_alone_runs_until_now() -> None:
    plan = query(**HIST, start="2026-03-01").plan(now=NOW)
    assert plan[0].start == datetime(2026, 3, 1, tzinfo=UTC)
    assert plan[-1].end == datetime(2026, 6, 1, 13, tzinfo=UTC)


def test_keys_are_stable_and_distinct() -> None:
    a = query(**HIST, start="2026-01-01", end="2026-04-01").plan(now=NOW)
    b = query(**HIST, start="2026-01-01", end="2026-04-01").plan(now=NOW + timedelta(days=3))
    assert [r.key for r in a] == [r.key for r in b]
    assert len({r.key for r in a}) == len(a)
    assert a[0].key != query(endpoint="28hr", groupings="hourly").plan(now=NOW)[0].key


def test_check_limits_refuses_oversized_request() -> None:
    whole = query(tweet_ids=[snowflake_id(NOW - timedelta(days=1), i) for i in range(251)]).validate(now=NOW)
    with pytest.raises(QueryError, match="at most 250") as info:
        whole.check_limits()
    assert info.value.rule == "tweet_ids.too_many"
    long = query(**HIST, start="2026-01-01", end="2026-03-01").validate(now=NOW)
    with pytest.raises(QueryError, match="at most 28 days"):
        long.check_limits()


class TestFromBody:
    """The sandbox validates raw bodies with the same rules plus the API's per-request limits."""

    def test_documented_totals_example_is_accepted(self) -> None:
        body = {
            "tweet_ids": ["1070059276213702656", "1021817816134156288", "1067094924124872705"],
            "engagement_types": ["favorites", "retweets", "replies", "quote_tweets", "video_views"],
            "groupings": {"perTweetMetricsUnowned": {"group_by": ["tweet.id", "engagement.type"]}},
        }
        req = EngagementRequest.from_body("totals", body, auth="bearer", now=datetime(2018, 12, 10, tzinfo=UTC))
        assert req.to_body() == body

    def test_numeric_ids_are_refused(self) -> None:
        with pytest.raises(QueryError, match="array of strings"):
            EngagementRequest.from_body(
                "totals", {"tweet_ids": [1], "engagement_types": ["favorites"], "groupings": {}}, now=NOW
            )

    @pytest.mark.parametrize(
        ("body", "rule"),
        [
            ([], "body.type"),
            ({"tweet_ids": ["1"], "engagement_types": ["favorites"]}, "body.missing"),
            (
                {"tweet_ids": ["1"], "engagement_types": ["x"], "groupings": {}, "foo": 1},
                "body.unknown_field",
            ),
            ({"tweet_ids": ["1"], "engagement_types": ["favorites"], "groupings": []}, "groupings.type"),
        ],
    )
    def test_malformed_bodies(self, body: object, rule: str) -> None:
        with pytest.raises(QueryError) as info:
            EngagementRequest.from_body("totals", body, now=NOW)
        assert info.value.rule == rule

    def test_historical_date_only_echoes_midnight(self) -> None:
        body = {
            "start": "2015-08-01",
            "end": "2015-08-15",
            "tweet_ids": ["123456789", "223456789"],
            "engagement_types": ["impressions", "engagements", "url_clicks", "detail_expands"],
            "groupings": {"types-by-tweet-id": {"group_by": ["tweet.id", "engagement.type"]}},
        }
        req = EngagementRequest.from_body("historical", body, now=datetime(2015, 9, 1, tzinfo=UTC))
        assert (req.to_body()["start"], req.to_body()["end"]) == (
            "2015-08-01T00:00:00Z",
            "2015-08-15T00:00:00Z",
        )

    def test_historical_unaligned_bounds_move_outward(self) -> None:
        body = {
            "start": "2015-07-01T12:24:00Z",
            "end": "2015-07-10T08:37:00Z",
            "tweet_ids": ["123456789"],
            "engagement_types": ["impressions"],
            "groupings": {"g": {"group_by": ["tweet.id", "engagement.type"]}},
        }
        req = EngagementRequest.from_body("historical", body, now=datetime(2015, 9, 1, tzinfo=UTC))
        assert (req.to_body()["start"], req.to_body()["end"]) == (
            "2015-07-01T12:00:00Z",
            "2015-07-10T09:00:00Z",
        )

    def test_historical_default_window_is_28_days_to_now(self) -> None:
        body = {
            "tweet_ids": [RECENT[0]],
            "engagement_types": ["impressions"],
            "groupings": {"g": ["tweet.id"]},
        }
        req = EngagementRequest.from_body("historical", body, now=NOW)
        assert (req.start, req.end) == (NOW - timedelta(days=28), NOW)

    def test_historical_range_over_28_days_is_refused(self) -> None:
        body = {
            "start": "2026-01-01",
            "end": "2026-02-01",
            "tweet_ids": [RECENT[0]],
            "engagement_types": ["impressions"],
            "groupings": {"g": ["tweet.id"]},
        }
        with pytest.raises(QueryError) as info:
            EngagementRequest.from_body("historical", body, now=NOW)
        assert info.value.rule == "window.too_long"

    def test_26_ids_on_28hr_are_refused(self) -> None:
        body = {"tweet_ids": [str(10**17 + i) for i in range(26)], "engagement_types": ["impressions"]}
        body["groupings"] = {"g": ["tweet.id"]}  # type: ignore[assignment]
        with pytest.raises(QueryError, match="at most 25"):
            EngagementRequest.from_body("28hr", body, now=NOW)


# --- properties of plan() ---------------------------------------------------------------------------

EPOCH = datetime(2015, 1, 1, tzinfo=UTC)


@settings(max_examples=150, deadline=None)
@given(
    n_ids=st.integers(1, 700),
    endpoint=st.sampled_from(["totals", "28hr", "historical"]),
    dupes=st.integers(0, 20),
)
def test_plan_covers_every_id_once_per_window(n_ids: int, endpoint: str, dupes: int) -> None:
    ids = [str(10**17 + i) for i in range(n_ids)]
    with_dupes = ids + ids[:dupes]
    groupings = "per_tweet" if endpoint == "totals" else "hourly"
    q = EngagementQuery(endpoint, with_dupes, ["favorites"], groupings, auth="user")  # type: ignore[arg-type]
    plan = q.plan(now=NOW, age_rules="allow")
    limit = catalog.ENDPOINTS[endpoint].max_tweet_ids  # type: ignore[index]
    windows: dict[tuple[datetime | None, datetime | None], list[str]] = {}
    for req in plan:
        assert len(req.tweet_ids) <= limit
        windows.setdefault((req.start, req.end), []).extend(req.tweet_ids)
    for covered in windows.values():
        assert covered == ids


@settings(max_examples=300, deadline=None)
@given(
    start_h=st.integers(0, 24 * 365 * 10),
    length_min=st.integers(1, 60 * 24 * 400),
    start_min=st.integers(0, 59),
)
def test_windows_cover_every_hour_exactly_once(start_h: int, length_min: int, start_min: int) -> None:
    start = EPOCH + timedelta(hours=start_h, minutes=start_min)
    end = start + timedelta(minutes=length_min)
    lo, hi = resolve_window(start, end, now=end + timedelta(days=1))
    windows = list(split_windows(lo, hi))
    assert windows[0][0] <= start
    assert windows[-1][1] >= end
    assert hi - lo < timedelta(minutes=length_min) + timedelta(hours=2)
    for (_, a_end), (b_start, _) in itertools.pairwise(windows):
        assert a_end == b_start  # contiguous: no hour missed, none twice
    for w_start, w_end in windows:
        assert w_start.minute == w_start.second == 0
        assert w_end.minute == 0
        assert timedelta(0) < w_end - w_start <= catalog.MAX_WINDOW
    hours = sum((w_end - w_start) // timedelta(hours=1) for w_start, w_end in windows)
    assert hours == (hi - lo) // timedelta(hours=1)


@settings(max_examples=100, deadline=None)
@given(days=st.integers(1, 900), offset_h=st.integers(0, 23))
def test_planned_historical_requests_pass_the_servers_rules(days: int, offset_h: int) -> None:
    start = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(hours=offset_h)
    end = start + timedelta(days=days)
    now = end + timedelta(hours=1)
    q = EngagementQuery("historical", RECENT[:1], ["impressions"], "daily", start=start, end=end)
    for req in q.plan(now=now):
        again = EngagementRequest.from_body("historical", req.to_body(), now=now)
        assert again.to_body() == req.to_body()
