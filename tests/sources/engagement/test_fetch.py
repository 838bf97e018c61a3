"""fetch(): routing, partial failures, archive and resume, faults, crashes and secrets."""

from __future__ import annotations

import gzip
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from engagement_lab import ConfigError, EngagementQuery
from engagement_lab.api import Credentials, FetchResult, RetryPolicy, fetch
from engagement_lab.load import load_archive
from engagement_lab.load.archive_format import read_envelope
from engagement_lab.sandbox import FaultConfig, Sandbox, SandboxApp, SandboxTransport, World

from ...api.conftest import BASE, FakeClock, owned

NOW = World(seed=7).now


def run(app: SandboxApp, queries: Any, out: Path, **options: Any) -> FetchResult:
    options.setdefault(
        "owners", {t.tweet_id: t.account for t in app.world.tweets if app.world.accounts_by_handle[t.account].owned}
    )
    return fetch(
        queries,
        credentials=Credentials.from_mapping(app.info(BASE)),
        out=out,
        base_url=BASE,
        transport=SandboxTransport(app),
        now=NOW,
        progress=False,
        clock=options.pop("clock", FakeClock()),
        **options,
    )


def archived_values(archive: Path) -> pl.DataFrame:
    """An archive's data without provenance (retrieval times differ between runs), in a fixed order."""
    columns = ["tweet_id", "engagement_type", "grain", "day", "hour", "value", "grouping", "endpoint"]
    return load_archive(archive, backend="polars").select(columns).sort(columns)


def totals(ids: list[str], metrics: Any = ("impressions", "favorites")) -> EngagementQuery:
    return EngagementQuery("totals", ids, list(metrics), "per_tweet")


def test_routes_each_tweet_to_its_owner_and_unowned_public_metrics_to_bearer(
    app: SandboxApp, world: World, tmp_path: Path
) -> None:
    ids = owned(world, "acme", 3) + owned(world, "acme_support", 2) + owned(world, "rival_co", 2)
    result = run(app, totals(ids), tmp_path)
    assert result.ok, result.errors
    assert set(result.unowned_tweet_ids) == set(owned(world, "rival_co", 2))
    accounts = {r.account for r in app.records}
    assert accounts == {"acme", "acme_support", None}  # None: the bearer request
    rows = load_archive(tmp_path, backend="polars")
    assert set(rows["tweet_id"]) == set(ids)
    rival = rows.filter(pl.col("tweet_id").is_in(owned(world, "rival_co", 2)))
    assert set(rival["engagement_type"]) == {"favorites"}  # impressions need the owner


def test_unknown_owners_with_several_accounts_are_refused_before_sending(
    app: SandboxApp, world: World, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="no known owner"):
        run(
            app,
            EngagementQuery("historical", owned(world, "rival_co", 2), ["impressions"], "daily"),
            tmp_path,
            owners={},
        )
    assert app.records == []


def test_a_403_drops_exactly_the_unowned_ids_and_keeps_the_rest(app: SandboxApp, world: World, tmp_path: Path) -> None:
    mine, theirs = owned(world, "acme", 4), owned(world, "acme_support", 2)
    wrong_owner = {i: "acme" for i in mine + theirs}  # the user believes acme owns them all
    result = run(app, totals(mine + theirs), tmp_path, owners=wrong_owner)
    assert set(result.unowned_tweet_ids) == set(theirs)
    assert [r.status for r in app.records] == [403, 200, 200]  # then the rest, then bearer for the public metric
    rows = load_archive(tmp_path, backend="polars")
    assert set(rows.filter(pl.col("engagement_type") == "impressions")["tweet_id"]) == set(mine)
    assert set(rows.filter(pl.col("engagement_type") == "favorites")["tweet_id"]) == set(mine + theirs)
    again = run(app, totals(mine + theirs), tmp_path, owners=wrong_owner)
    assert again.sent == 0
    assert again.skipped == 3
    assert set(again.unowned_tweet_ids) == set(theirs)


@pytest.mark.parametrize("named", [True, False])
def test_protected_tweets_are_isolated_even_when_the_api_does_not_name_them(
    world: World, tmp_path: Path, named: bool
) -> None:
    app = SandboxApp(world, rate_limit_per_minute=100_000, name_protected_ids=named)
    protected = [t.tweet_id for t in world.tweets if t.status == "protected"][:2]
    labs_ok = [t.tweet_id for t in world.tweets if t.account == "acme_labs" and t.status == "ok"]
    ids = owned(world, "acme", 5) + protected
    result = run(app, totals(ids, ["favorites"]), tmp_path, owners=dict.fromkeys(ids, "acme"))
    assert set(result.unavailable_tweet_ids) == set(protected)
    assert labs_ok == []  # every acme_labs tweet is protected in this world
    rows = load_archive(tmp_path, backend="polars")
    assert set(rows["tweet_id"]) == set(owned(world, "acme", 5))


def test_resume_sends_nothing_twice(app: SandboxApp, world: World, tmp_path: Path) -> None:
    query = EngagementQuery(
        "historical",
        owned(world, "acme", 30),
        ["impressions", "engagements"],
        "hourly",
        start="2026-03-01",
        end="2026-05-20",
    )
    first = run(app, query, tmp_path)
    assert first.archived == first.requests == 6  # 2 batches x 3 windows
    sent_before = len(app.records)
    second = run(app, query, tmp_path)
    assert (second.sent, second.skipped) == (0, 6)
    assert len(app.records) == sent_before
    assert not list((tmp_path / "responses").glob("*.tmp"))


def test_archive_keeps_bodies_as_received_with_provenance_and_no_secrets(
    app: SandboxApp, world: World, tmp_path: Path
) -> None:
    run(app, totals(owned(world, "acme")), tmp_path)
    (path,) = list((tmp_path / "responses").glob("*.json.gz"))
    envelope = read_envelope(path)
    provenance = envelope["provenance"]
    assert set(provenance) >= {
        "key",
        "endpoint",
        "request",
        "account",
        "status",
        "retrieved_at",
        "library_version",
        "request_sha256",
    }
    assert provenance["account"] == "acme"
    assert path.name == f"{provenance['key']}.json.gz"
    assert json.loads(envelope["body"])["per_tweet"]
    manifest = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert json.loads(manifest[0])["key"] == provenance["key"]


def test_a_lost_or_torn_manifest_is_rebuilt_from_the_responses(app: SandboxApp, world: World, tmp_path: Path) -> None:
    run(app, totals(owned(world, "acme") + owned(world, "acme_support")), tmp_path)
    (tmp_path / "manifest.jsonl").write_text('{"key": "torn')
    (tmp_path / "responses" / "junk.json.gz.123.tmp").write_bytes(b"half")
    again = run(app, totals(owned(world, "acme") + owned(world, "acme_support")), tmp_path)
    assert again.sent == 0
    lines = (tmp_path / "manifest.jsonl").read_text().splitlines()
    assert len([json.loads(line) for line in lines[1:]]) == 2
    assert not list((tmp_path / "responses").glob("*.tmp"))


def test_rate_limit_waits_use_the_injected_clock_and_avoid_429s(world: World, tmp_path: Path) -> None:
    clock = FakeClock(t=time.time())
    app = SandboxApp(world, rate_limit_per_minute=3, wall=clock.time)
    waits: list[float] = []
    result = run(app, totals(owned(world, "acme", 60), ["favorites"]) , tmp_path, clock=clock, on_wait=lambda r, s: waits.append(s), concurrency=1,
                 requests_per_window=None)  # fmt: skip
    assert result.ok
    assert 429 not in [r.status for r in app.records]
    # 60 ids = 1 request; force many requests instead with historical windows
    query = EngagementQuery(
        "historical", owned(world, "acme", 3), ["favorites"], "daily", start="2025-12-10", end="2026-05-30"
    )
    result = run(app, query, tmp_path / "h", clock=clock, on_wait=lambda r, s: waits.append(s), concurrency=1)
    assert result.ok
    assert result.requests == 7
    assert 429 not in [r.status for r in app.records]
    assert result.rate_limit_waits >= 1
    assert waits
    assert all(0 < w <= 61 for w in waits)


def test_retries_give_up_and_report_without_losing_the_rest(world: World, tmp_path: Path) -> None:
    app = SandboxApp(world, rate_limit_per_minute=100_000, faults=FaultConfig(error_rate=1.0))
    result = run(app, totals(owned(world, "acme")), tmp_path, retry=RetryPolicy(max_attempts=3, seed=0))
    assert not result.ok
    assert "gave up after 3 attempts" in result.errors[0]
    assert result.sent == 3
    assert result.retries == 2


def test_faults_do_not_change_the_data(world: World, tmp_path: Path) -> None:
    query = [
        totals(owned(world, "acme", 40) + owned(world, "acme_support", 10) + owned(world, "rival_co", 5)),
        EngagementQuery(
            "historical",
            owned(world, "acme", 30),
            ["impressions", "favorites"],
            "hourly",
            start="2025-09-01",
            end="2026-05-30",
        ),
    ]
    clean = run(SandboxApp(world, rate_limit_per_minute=100_000), query, tmp_path / "clean")
    faulty_app = SandboxApp(world, rate_limit_per_minute=100_000, faults=FaultConfig.mixed(0.5, seed=4))
    faulty = run(faulty_app, query, tmp_path / "faulty", retry=RetryPolicy(max_attempts=12, seed=1))
    assert faulty.ok, faulty.errors
    assert faulty.retries > 3
    assert {r.fault for r in faulty_app.records} >= {"server_error", "rate_limit", "drop", "truncate"}
    assert archived_values(tmp_path / "clean").equals(archived_values(tmp_path / "faulty"))
    assert clean.requests == faulty.requests


def test_secrets_never_reach_logs_archives_reprs_or_errors(
    app: SandboxApp, world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    info = app.info(BASE)
    secrets = [info["consumer_key"], info["consumer_secret"], info["bearer_token"]]
    secrets += [v for a in info["accounts"] if a["owned"] for v in (a["access_token"], a["access_token_secret"])]
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    result = run(app, [totals(owned(world, "acme") + owned(world, "rival_co"))], tmp_path)
    wrong = SandboxApp(world, rate_limit_per_minute=100_000)
    bad_creds = {**info, "consumer_secret": info["consumer_secret"][::-1]}
    failed = fetch(
        totals(owned(world, "acme")),
        credentials=Credentials.from_mapping(bad_creds),
        owners=dict.fromkeys(owned(world, "acme"), "acme"),
        out=tmp_path / "failed",
        base_url=BASE,
        transport=SandboxTransport(wrong),
        now=NOW,
        progress=False,
    )
    assert not failed.ok
    secrets.append(bad_creds["consumer_secret"])
    texts += [
        caplog.text,
        repr(result),
        result.summary(),
        failed.summary(),
        *failed.errors,
        repr(Credentials.from_mapping(info)),
    ]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            texts.append((gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode(errors="replace"))
    assert "DEBUG" in caplog.text  # the logs were on
    for secret in secrets:
        for text in texts:
            assert secret not in text


def _write_ids(path: Path, ids: list[str], account: str) -> None:
    path.write_text("tweet_id,account\n" + "".join(f"{i},{account}\n" for i in ids))


def test_kill_minus_nine_mid_fetch_then_resume_loses_nothing_and_refetches_nothing(tmp_path: Path) -> None:
    with Sandbox(seed=7, faults=FaultConfig(latency_ms=120), rate_limit_per_minute=100_000) as sandbox:
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps(sandbox.info))
        world = sandbox.app.world
        ids = [t.tweet_id for t in world.tweets if t.account == "acme" and t.status == "ok"][:100]
        ids_file = tmp_path / "ids.csv"
        _write_ids(ids_file, ids, "acme")
        out = tmp_path / "archive"
        command = [sys.executable, "-m", "engagement_lab.cli", "fetch", "historical", "--ids-file", str(ids_file), "--out", str(out),
                   "--base-url", sandbox.base_url, "--credentials", str(creds), "--metrics", "impressions", "--groupings", "daily",
                   "--start", "2025-12-01", "--end", "2026-06-01", "--concurrency", "2", "--no-progress"]  # fmt: skip
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while time.time() < deadline and len(list((out / "responses").glob("*.json.gz"))) < 5:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        archived_first = {
            read_envelope(p)["provenance"]["request_sha256"] for p in (out / "responses").glob("*.json.gz")
        }
        assert 5 <= len(archived_first) < 28  # 4 batches x 7 windows in all
        seen_before = len(sandbox.app.records)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        resent = [r.body_sha256 for r in sandbox.app.records[seen_before:]]
    assert not archived_first & set(resent)
    assert len(list((out / "responses").glob("*.json.gz"))) == 28
    assert "28 planned" in done.stdout
    frame = load_archive(out, backend="polars")
    assert set(frame["tweet_id"]) == set(ids)


def test_faults_over_a_loopback_socket_do_not_change_the_data(tmp_path: Path) -> None:
    """The sandbox as `engagement-lab sandbox --fault-rate 0.15` would run it: 5xx, extra 429s, drops, truncation."""
    archives = {}
    for name, faults in (("clean", FaultConfig()), ("faulty", FaultConfig.mixed(0.15, seed=8))):
        with Sandbox(seed=7, rate_limit_per_minute=100_000, faults=faults) as sandbox:
            world = sandbox.app.world
            queries = [
                totals(owned(world, "acme", 300) + owned(world, "acme_support", 40) + owned(world, "rival_co", 10)),
                EngagementQuery(
                    "historical",
                    owned(world, "acme", 50),
                    ["impressions", "engagements"],
                    "hourly",
                    start="2026-01-01",
                    end="2026-05-30",
                ),
                EngagementQuery(
                    "historical",
                    owned(world, "acme", 250),
                    ["favorites"],
                    "daily",
                    start="2025-10-01",
                    end="2026-05-30",
                ),
            ]
            owners = {t.tweet_id: t.account for t in world.tweets if t.account in ("acme", "acme_support")}
            result = fetch(queries, credentials=Credentials.from_mapping(sandbox.info), out=tmp_path / name, owners=owners,
                           base_url=sandbox.base_url, now=NOW, progress=False, concurrency=4, clock=FakeClock(t=time.time()),
                           retry=RetryPolicy(max_attempts=10, seed=2),
                           # the fake clock adds the four workers' backoff sleeps one after another, so a streak of
                           # faults would read as minutes of silence; giving up is tested on its own
                           unreachable_after=3600)  # fmt: skip
            assert result.ok, result.errors
            archives[name] = result
            faults_seen = {r.fault for r in sandbox.app.records}
    assert faults_seen >= {"server_error", "rate_limit", "drop", "truncate"}
    assert archives["faulty"].retries >= 4
    clean = archived_values(tmp_path / "clean")
    assert clean.height > 100_000
    assert clean.equals(archived_values(tmp_path / "faulty"))
