"""The watcher on X API v2 post analytics: the same crossings as on the Engagement API, never a partial total."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from engagement_lab import ConfigError, QueryError
from engagement_lab.api import Credentials, OAuth2Token, PKCEFlow, Secret
from engagement_lab.api.auth import AccountTokens
from engagement_lab.sandbox import FixedClock, Sandbox, SandboxApp, SandboxTransport, World
from engagement_lab.sources.x_v2.watch import _window_total
from engagement_lab.watch import CrossingEvent, Threshold, Watcher, parse_rule, watch

ENGAGEMENT_BASE = "https://data-api.twitter.com"
V2_BASE = "https://api.x.com"
RULES = ["favorites>=20", "retweets>=3", "engagement_rate>=0.03/200", "replies>=2"]


class Moving:
    """One clock for the watchers and the sandbox: sleeping moves the world forward too."""

    def __init__(self, world_clock: FixedClock) -> None:
        self.world_clock = world_clock
        self.t = world_clock.at.timestamp()

    def time(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.world_clock.advance(timedelta(seconds=seconds))


class Observed(httpx.BaseTransport):
    """The sandbox, recording every URL asked; v2 requests whose window starts at one of ``failing`` get a 503."""

    def __init__(self, inner: httpx.BaseTransport, failing: set[str] | None = None) -> None:
        self.inner, self.failing, self.urls = inner, failing or set(), list[httpx.URL]()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(request.url)
        if request.url.path == "/2/tweets/analytics" and request.url.params.get("start_time") in self.failing:
            return httpx.Response(503, json={"title": "Service Unavailable"})
        return self.inner.handle_request(request)


@pytest.fixture
def world() -> World:
    return World(seed=7, now=World(seed=7).now)


def young(world: World, handle: str = "acme", n: int = 12, hours: int = 72) -> list[str]:
    start = world.now - timedelta(hours=hours)
    return [
        t.tweet_id
        for t in world.tweets
        if t.account == handle and t.status == "ok" and start < t.created_at < world.now
    ][:n]


def make(
    world: World, tmp_path: Path, ids: list[str], rules: list[Any], api: str, fired: list[CrossingEvent], **options: Any
) -> tuple[Watcher, Moving, Observed]:
    world_clock = FixedClock(world.now)
    clock = Moving(world_clock)
    app = SandboxApp(world, clock=world_clock, wall=clock.time, rate_limit_per_minute=600)
    transport = Observed(SandboxTransport(app), options.pop("failing", None))
    watcher = Watcher(
        ids,
        rules,
        credentials=Credentials.from_mapping(app.info(ENGAGEMENT_BASE)),
        state=tmp_path / f"{api}.db",
        on_cross=fired.append,
        interval=options.pop("interval", 1800),
        owners=options.pop("owners", None) or dict.fromkeys(ids, "acme"),
        api=api,
        base_url=V2_BASE if api == "x-v2" else ENGAGEMENT_BASE,
        clock=clock,
        transport=transport,
        **options,
    )
    return watcher, clock, transport


def crossings(fired: list[CrossingEvent]) -> list[tuple[str, str, float, float | None, str]]:
    return sorted((e.tweet_id, e.rule, e.value, e.previous_value, e.crossed_at) for e in fired)


@pytest.mark.parametrize("max_window", [timedelta(days=31), timedelta(hours=5)], ids=["one-window", "5h-windows"])
def test_v2_fires_exactly_what_the_engagement_api_fires(world: World, tmp_path: Path, max_window: timedelta) -> None:
    ids = young(world)
    on_engagement: list[CrossingEvent] = []
    on_v2: list[CrossingEvent] = []
    engagement, e_clock, _ = make(world, tmp_path, ids, RULES, "engagement", on_engagement)
    v2, v_clock, seen = make(world, tmp_path, ids, RULES, "x-v2", on_v2, max_window=max_window)
    try:
        for _ in range(6):  # three hours of polls, half an hour apart, both at the same instants
            e, v = engagement.poll(), v2.poll()
            assert (v.tweets, v.missed, v.newly_skipped) == (len(ids), 0, ())
            assert e.tweets == v.tweets
            e_clock.sleep(1800)
            v_clock.sleep(1800)
    finally:
        engagement.close()
        v2.close()
    assert on_v2, "the rules were chosen so that young tweets cross some of them"
    assert crossings(on_v2) == crossings(on_engagement)
    asked = [url for url in seen.urls if url.path == "/2/tweets/analytics"]
    assert asked
    assert all(url.params["granularity"] == "total" for url in asked)
    if max_window == timedelta(hours=5):
        assert len(asked) > 6 * 3  # tweets up to 72 h old need several windows each poll
    assert "favorites>=20" in {e.rule for e in on_v2}  # likes were read as favorites


def test_a_window_without_its_answer_gives_no_total_rather_than_a_partial_one(world: World, tmp_path: Path) -> None:
    ids = young(world, n=5, hours=30)
    fired: list[CrossingEvent] = []
    # windows of 5 hours from the oldest tweet's creation hour: fail every window but the first
    probe, _, _ = make(world, tmp_path, ids, ["favorites>=1"], "x-v2", [], max_window=timedelta(hours=5))
    windows = probe.source._requests(ids)[0]  # type: ignore[attr-defined]
    probe.close()
    later = {w.params()["start_time"] for w in windows[1:]}
    assert later
    (tmp_path / "b").mkdir()
    watcher, _, _ = make(
        world, tmp_path / "b", ids, ["favorites>=1"], "x-v2", fired, max_window=timedelta(hours=5), failing=later
    )
    try:
        result = watcher.poll()
    finally:
        watcher.close()
    assert (result.tweets, result.missed, result.new_events) == (0, len(ids), ())
    assert result.nothing_polled
    assert fired == []


def test_unowned_deleted_and_protected_ids_are_named_once_and_the_rest_polled(world: World, tmp_path: Path) -> None:
    mine = young(world, n=4)
    theirs = young(world, "acme_support", n=1, hours=24 * 30)
    deleted = [t.tweet_id for t in world.tweets if t.status == "deleted" and t.account == "acme"]
    protected = [t.tweet_id for t in world.tweets if t.status == "protected"][:1]
    ids = mine + theirs + deleted + protected
    fired: list[CrossingEvent] = []
    watcher, clock, _ = make(world, tmp_path, ids, ["impressions>=1"], "x-v2", fired, owners=dict.fromkeys(ids, "acme"))
    try:
        first = watcher.poll()
        clock.sleep(1800)
        second = watcher.poll()
    finally:
        watcher.close()
    reasons = dict(first.newly_skipped)
    assert set(reasons) == set(theirs + deleted + protected)
    assert "not a post of account 'acme'" in reasons[theirs[0]]
    assert "unavailable" in reasons[deleted[0]]
    assert first.tweets == second.tweets == len(mine)
    assert second.newly_skipped == ()  # named once
    assert {e.tweet_id for e in fired} <= set(mine)


def test_a_null_metric_is_never_read_as_zero(world: World, tmp_path: Path) -> None:
    ids = young(world, n=3)
    fired: list[CrossingEvent] = []
    # the sandbox does not model bookmarks: v2 sends null, so bookmarks>=0 must never hold
    watcher, _, _ = make(world, tmp_path, ids, ["bookmarks>=0", "impressions>=0"], "x-v2", fired)
    try:
        result = watcher.poll()
    finally:
        watcher.close()
    assert result.tweets == 3
    assert {e.rule for e in fired} == {"impressions>=0"}


def test_window_totals_read_flat_values_then_buckets_and_keep_gaps_missing() -> None:
    buckets = [{"timestamp": "t", "metrics": {"likes": 2}}, {"timestamp": "t2", "metrics": {"likes": 3}}]
    assert _window_total({"likes": 7, "timestamped_metrics": buckets}, "likes") == 7
    assert _window_total({"timestamped_metrics": buckets}, "likes") == 5
    gap = [*buckets, {"timestamp": "t3", "metrics": {"likes": None}}]
    assert _window_total({"timestamped_metrics": gap}, "likes") is None
    assert _window_total({"likes": None, "timestamped_metrics": buckets}, "likes") is None
    assert _window_total({"likes": "12", "timestamped_metrics": buckets}, "likes") is None
    assert _window_total({"likes": True}, "likes") is None
    assert _window_total({"timestamped_metrics": []}, "likes") is None
    assert _window_total({"timestamped_metrics": buckets}, "retweets") is None


def test_rules_and_options_are_checked_for_the_chosen_api(world: World, tmp_path: Path) -> None:
    assert parse_rule("bookmarks>=10", "x-v2") == Threshold("bookmarks", 10.0)
    assert parse_rule("favorites>=10", "x-v2") == Threshold("favorites", 10.0)
    with pytest.raises(ConfigError, match="neither a /totals metric"):
        parse_rule("bookmarks>=10")
    with pytest.raises(ConfigError, match="did you mean 'favorites'"):
        parse_rule("favorits>=10", "x-v2")
    with pytest.raises(ConfigError, match="which X API v2 post analytics does not serve"):
        make(world, tmp_path, young(world, n=1), [Threshold("video_views", 1)], "x-v2", [])
    with pytest.raises(ConfigError, match="did you mean 'engagement'"):
        make(world, tmp_path, young(world, n=1), ["favorites>=1"], "engagment", [])
    with pytest.raises(ConfigError, match="predate snowflake ids"):
        make(world, tmp_path, ["20", *young(world, n=1)], ["favorites>=1"], "x-v2", [])
    with pytest.raises(QueryError, match="max_window must be a timedelta of at least an hour"):
        make(world, tmp_path, young(world, n=1), ["favorites>=1"], "x-v2", [], max_window=timedelta(minutes=5))
    with pytest.raises(ConfigError, match="do not apply to api='engagement'"):
        make(world, tmp_path, young(world, n=1), ["favorites>=1"], "engagement", [], max_window=timedelta(days=2))
    with pytest.raises(ConfigError, match="interval must be a positive number"):
        make(world, tmp_path, young(world, n=1), ["favorites>=1"], "x-v2", [], interval=0)
    with pytest.raises(ConfigError, match="did you mean 'interval'"):
        watch(["1"], ["favorites>=1"], credentials=None, state=tmp_path / "s.db", on_cross=print, intervl=5)  # type: ignore[arg-type]
    assert not (tmp_path / "s.db").exists()


def test_cli_watch_api_v2_refreshes_an_expired_token_and_saves_it(tmp_path: Path) -> None:
    with Sandbox(seed=7) as sandbox:
        flow = PKCEFlow(sandbox.info["oauth2_client_id"], "http://127.0.0.1:9/callback", base_url=sandbox.base_url)
        with httpx.Client(base_url=sandbox.base_url, timeout=30) as http:
            redirect = http.get(flow.url.removeprefix(sandbox.base_url)).headers["location"]
            token = flow.exchange(redirect, http=http)
        stale = OAuth2Token(token.access_token, token.refresh_token, expires_at=0.0, scope=token.scope)
        app_only = Credentials.from_mapping({k: v for k, v in sandbox.info.items() if k != "accounts"})
        creds = tmp_path / "creds.json"
        app_only.with_account(AccountTokens("acme", Secret(""), Secret(""), stale)).save(creds)
        ids = tmp_path / "ids.txt"
        ids.write_text("\n".join(young(sandbox.app.world, n=6)))
        done = subprocess.run(
            [sys.executable, "-m", "engagement_lab.cli", "watch", "--api", "x-v2", "--ids-file", str(ids),
             "--rule", "impressions>=1", "--state", str(tmp_path / "w.db"), "--base-url", sandbox.base_url,
             "--credentials", str(creds), "--once"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(events) == 6
    assert {e["rule"] for e in events} == {"impressions>=1"}
    assert "6 tweets polled" in done.stderr
    saved = Credentials.load(creds).account("acme").oauth2
    assert saved is not None
    assert saved.access_token != token.access_token  # the refreshed token replaced the stale one on disk
    assert creds.stat().st_mode & 0o777 == 0o600


def test_the_previous_spelling_of_the_api_still_works_and_names_the_new_one() -> None:
    with pytest.warns(DeprecationWarning, match="'v2' is now called 'x-v2'"):
        assert parse_rule("bookmarks>=10", "v2") == parse_rule("bookmarks>=10", "x-v2")
    with pytest.raises(ConfigError, match=r"api='x_v2' is not an option \(did you mean 'x-v2'\?\)"):
        parse_rule("bookmarks>=10", "x_v2")
