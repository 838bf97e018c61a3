"""Hardening (issue 14): one writer at a time, no hangs, corrupt files named, secrets written safely, every
failure named without a traceback. Concurrency and crashes use real processes against a loopback sandbox."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest

from engagement_lab import ConfigError, DataError, EngagementQuery
from engagement_lab.api import Credentials, OAuth2Token, Secret, fetch
from engagement_lab.api.archive import Archive
from engagement_lab.api.auth import AccountTokens
from engagement_lab.errors import LockError
from engagement_lab.load import load_archive
from engagement_lab.sandbox import (
    AcceleratedClock,
    FaultConfig,
    FixedClock,
    Sandbox,
    SandboxApp,
    SandboxTransport,
    World,
)
from engagement_lab.watch import Threshold, Watcher, WatchState, parse_rule

from .api.conftest import BASE, FakeClock

CLI = [sys.executable, "-m", "engagement_lab.cli"]
WORLD = World(seed=7)
NOW = WORLD.now


def ids_of(world: World, handle: str, n: int, status: str = "ok") -> list[str]:
    return [t.tweet_id for t in reversed(world.tweets) if t.account == handle and t.status == status][:n]


def write_ids(path: Path, ids: list[str], account: str = "acme") -> Path:
    path.write_text("tweet_id,account\n" + "".join(f"{i},{account}\n" for i in ids))
    return path


def run_cli(*args: str, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


# --- one writer at a time ------------------------------------------------------------------------------


def test_two_fetches_into_one_archive_never_both_fetch(tmp_path: Path) -> None:
    with Sandbox(seed=7, faults=FaultConfig(latency_ms=400), rate_limit_per_minute=100_000) as sandbox:
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps(sandbox.info))
        ids = write_ids(tmp_path / "ids.csv", ids_of(sandbox.app.world, "acme", 100))
        out = tmp_path / "archive"
        command = [*CLI, "fetch", "historical", "--ids-file", str(ids), "--out", str(out), "--base-url", sandbox.base_url,
                   "--credentials", str(creds), "--metrics", "impressions", "--groupings", "daily",
                   "--start", "2025-12-01", "--end", "2026-06-01", "--concurrency", "2", "--no-progress"]  # fmt: skip
        first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while time.time() < deadline and not list((out / "responses").glob("*.json.gz")):
            time.sleep(0.02)
        second = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        _first_out, first_err = first.communicate(timeout=120)
        bodies = Counter(r.body_sha256 for r in sandbox.app.records)
    assert first.returncode == 0, first_err
    assert second.returncode == 1
    assert f"in use by another process (pid {first.pid})" in second.stderr
    assert "Traceback" not in second.stderr
    assert max(bodies.values()) == 1  # no request was sent twice
    keys = [json.loads(line)["key"] for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(keys) == len(set(keys)) == len(list((out / "responses").glob("*.json.gz")))


def test_a_lock_dies_with_its_process(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from engagement_lab.api.archive import Archive; a = Archive({str(tmp_path)!r}); "
            "print('locked', flush=True); import time; time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(LockError, match=f"pid {holder.pid}"):
        Archive(tmp_path)
    holder.kill()  # SIGKILL: no cleanup code runs
    holder.wait(timeout=10)
    Archive(tmp_path).close()  # the kernel released the lock


def test_two_watchers_on_one_state_deliver_each_crossing_once(tmp_path: Path) -> None:
    world = World(seed=7)
    with Sandbox(world=world, clock=AcceleratedClock(world.now, speed=3600)) as sandbox:
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps(sandbox.info))
        young = sorted(
            (t for t in world.tweets if t.account == "acme" and t.status == "ok"),
            key=lambda t: -t.created_at.timestamp(),
        )
        ids = write_ids(tmp_path / "ids.csv", [t.tweet_id for t in young[:9]])
        state, log = tmp_path / "watch.db", tmp_path / "deliveries.log"
        writer = f"{sys.executable} -c \"import sys; open(r'{log}', 'a').write(sys.stdin.read() + chr(10))\""
        command = [*CLI, "watch", "--ids-file", str(ids), "--rule", "favorites>=1", "--rule", "impressions>=200",
                   "--every", "1s", "--state", str(state), "--base-url", sandbox.base_url, "--credentials", str(creds),
                   "--command", writer]  # fmt: skip
        first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        others = [
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for _ in range(2)
        ]
        errors = [p.communicate(timeout=30)[1] for p in others]
        time.sleep(3.0)
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=30)
    assert [p.returncode for p in others] == [1, 1]
    assert all(f"in use by another process (pid {first.pid})" in e for e in errors)
    delivered = [json.loads(line) for line in log.read_text().splitlines() if line]
    keys = [(d["tweet_id"], d["rule"]) for d in delivered]
    assert keys
    assert len(keys) == len(set(keys))


# --- never hang, fail fast ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("127.0.0.1:8787", "has no http:// or https:// scheme (write http://127.0.0.1:8787)"),
        ("http://127.0.0.1:abc", "is not a valid URL (Invalid port: 'abc')"),
        ("http://127.0.0.1:99999", "has port 99999, outside 1-65535"),
        ("http://127.0.0.1:9", "cannot reach the API at http://127.0.0.1:9"),  # the discard port: nothing listens
    ],
)
def test_fetch_against_a_bad_or_dead_url_exits_non_zero_fast(tmp_path: Path, base_url: str, message: str) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps(SandboxApp(WORLD).info(BASE)))
    ids = write_ids(tmp_path / "ids.csv", ids_of(WORLD, "acme", 3))
    started = time.monotonic()
    done = run_cli("fetch", "totals", "--ids-file", str(ids), "--out", str(tmp_path / "a"), "--base-url", base_url,
                   "--credentials", str(creds), "--no-progress", timeout=60)  # fmt: skip
    assert time.monotonic() - started < 30
    assert done.returncode == 1
    assert message in done.stderr
    assert "Traceback" not in done.stderr


class _DiesAfterProbe(httpx.BaseTransport):
    """The API answers the clock probe, then every connection fails (a server that went away mid-fetch)."""

    def __init__(self, app: SandboxApp) -> None:
        self.inner, self.posts = SandboxTransport(app), 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return self.inner.handle_request(request)
        self.posts += 1
        raise httpx.ConnectError("connection refused", request=request)


def test_a_dead_api_is_given_up_after_a_bounded_budget(tmp_path: Path) -> None:
    app = SandboxApp(WORLD, rate_limit_per_minute=100_000)
    transport, clock = _DiesAfterProbe(app), FakeClock()
    ids = ids_of(WORLD, "acme", 60)
    query = EngagementQuery("historical", ids, ["impressions"], "daily", start="2026-01-01", end="2026-05-01")
    result = fetch(query, credentials=Credentials.from_mapping(app.info(BASE)), out=tmp_path, base_url=BASE,
                   transport=transport, clock=clock, progress=False, unreachable_after=20, owners=dict.fromkeys(ids, "acme"))  # fmt: skip
    assert not result.ok
    assert len(result.errors) == result.planned  # every request failed, none silently dropped
    assert all("unreachable for" in e or "gave up after" in e for e in result.errors)
    assert any("has been unreachable for" in e and "rerun the same command to resume" in e for e in result.errors)
    grouped = result.grouped_errors()
    assert grouped[0].startswith(f"{Counter(result.errors).most_common(1)[0][1]} x ")  # repeats counted, not listed
    assert sum(clock.slept) < 60  # a bounded budget, not 6 attempts x every request
    assert transport.posts < 40


def test_an_unexpected_failure_releases_every_waiting_worker(tmp_path: Path) -> None:
    """A non-HTTP exception in the first request must not leave the rate limiter's slot taken (a hang)."""
    app = SandboxApp(WORLD, rate_limit_per_minute=100_000)

    class Broken(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "GET":
                return SandboxTransport(app).handle_request(request)
            raise RuntimeError("a bug in a transport")

    ids = ids_of(WORLD, "acme", 500)
    query = EngagementQuery("totals", ids, ["impressions"], "per_tweet")
    started = time.monotonic()
    with pytest.raises(RuntimeError, match="a bug in a transport"):
        fetch(query, credentials=Credentials.from_mapping(app.info(BASE)), out=tmp_path, base_url=BASE,
              transport=Broken(), concurrency=4, progress=False, owners=dict.fromkeys(ids, "acme"))  # fmt: skip
    assert time.monotonic() - started < 10
    Archive(tmp_path).close()  # and the archive lock was released


def test_planning_uses_the_servers_clock(tmp_path: Path) -> None:
    """The sandbox's world clock is months away from the real one: without --start/--end a historical fetch plans
    by the API's Date header, so no request 'ends in the future'."""
    with Sandbox(seed=7, rate_limit_per_minute=100_000) as sandbox:
        answer = httpx.get(sandbox.base_url + "/")
        assert answer.headers["date"] == "Mon, 01 Jun 2026 12:00:00 GMT"  # the world's now, not the machine's
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps(sandbox.info))
        ids = write_ids(tmp_path / "ids.csv", ids_of(sandbox.app.world, "acme", 5))
        done = run_cli("fetch", "historical", "--ids-file", str(ids), "--out", str(tmp_path / "a"), "--base-url",
                       sandbox.base_url, "--credentials", str(creds), "--metrics", "impressions", "--no-progress")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "errors       0" in done.stdout


# --- corrupt archive files --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[:30]), "not a complete gzip file"),
        (lambda p: p.write_bytes(b""), "the file is empty"),
        (lambda p: p.write_bytes(b"plain text, not gzip"), "not a complete gzip file"),
        (lambda p: p.write_bytes(p.read_bytes()[:10] + b"\xff" * 40), "not a complete gzip file: .*invalid block"),
        (lambda p: p.write_bytes(gzip.compress(b"{not json")), "not valid JSON"),
        (lambda p: p.write_bytes(gzip.compress(b'{"body": "x"}')), "not an archive envelope"),
        (lambda p: p.write_bytes(gzip.compress(gzip.decompress(p.read_bytes())[:-9])), "its body holds"),
        (lambda p: p.write_bytes(gzip.compress(b'{"format":2,"body_bytes":2}\n{}')), "not an archive envelope"),
        (lambda p: p.rename(p.with_name("0123456789abcdef01234567.json.gz")), "the file was renamed"),
    ],
)
def test_a_corrupt_archive_file_is_named_then_quarantined_and_refetched(
    tmp_path: Path, damage: Any, reason: str
) -> None:
    app = SandboxApp(WORLD, rate_limit_per_minute=100_000)
    ids = ids_of(WORLD, "acme", 30)
    query = EngagementQuery("historical", ids, ["impressions"], "daily", start="2026-03-01", end="2026-05-01")
    out = tmp_path / "archive"

    def go() -> Any:
        return fetch(query, credentials=Credentials.from_mapping(app.info(BASE)), out=out, base_url=BASE,
                     transport=SandboxTransport(app), now=NOW, progress=False, clock=FakeClock(),
                     owners=dict.fromkeys(ids, "acme"))  # fmt: skip

    assert go().ok
    before = load_archive(out, backend="polars").drop("retrieved_at").sort(pl.all())
    victim = sorted((out / "responses").glob("*.json.gz"))[1]
    damage(victim)
    broken = next(iter((out / "responses").glob("0123*"))) if "renamed" in reason else victim
    with pytest.raises(DataError, match=rf"archive file '{broken}' is unreadable \(.*{reason}"):
        load_archive(out)
    sent = len(app.records)
    again = go()
    assert again.ok
    assert len(app.records) == sent + 1  # exactly the damaged request again
    assert (out / "quarantine" / broken.name).is_file()  # moved aside, never deleted
    after = load_archive(out, backend="polars").drop("retrieved_at").sort(pl.all())
    assert after.equals(before)


# --- secrets on disk --------------------------------------------------------------------------------------


def test_saving_credentials_leaves_no_readable_window_and_refuses_symlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = Credentials.from_mapping(SandboxApp(WORLD).info(BASE))
    target = tmp_path / "creds.json"
    target.write_text("{}")
    target.chmod(0o644)
    inode = target.stat().st_ino
    seen: list[tuple[int, str]] = []
    real_replace = os.replace

    def spy(src: Any, dst: Any) -> None:  # at the commit point: the secrets are in a private file, target untouched
        seen.append((stat.S_IMODE(os.stat(src).st_mode), Path(dst).read_text()))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    creds.save(target)
    assert seen == [(0o600, "{}")]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert target.stat().st_ino != inode  # a new file, renamed over the old one
    assert json.loads(target.read_text())["consumer_key"] == creds.consumer_key.reveal()
    assert [p.name for p in tmp_path.iterdir()] == ["creds.json"]  # no temporary file left behind
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(ConfigError, match="symbolic link"):
        creds.save(link)
    assert not (tmp_path / "elsewhere.json").exists()


# --- the watcher ------------------------------------------------------------------------------------------


WALL = FakeClock(t=NOW.timestamp())


def _app() -> SandboxApp:
    """The sandbox with its clock fixed at the world's now, and OAuth timestamps judged by the tests' clock."""
    return SandboxApp(WORLD, clock=FixedClock(NOW), wall=WALL.time, rate_limit_per_minute=100_000)


def _watcher(
    tmp_path: Path, ids: list[str], rules: list[Any], transport: Any = None, app: SandboxApp | None = None
) -> Watcher:
    app = app or _app()
    owners = {t.tweet_id: t.account for t in WORLD.tweets}
    return Watcher(ids, rules, credentials=Credentials.from_mapping(app.info(BASE)), state=tmp_path / "w.db", owners=owners,
                   on_cross=lambda e: None, base_url=BASE, transport=transport or SandboxTransport(app),
                   clock=WALL, interval=60)  # fmt: skip


def test_a_protected_tweet_is_named_once_and_the_others_are_still_polled(tmp_path: Path) -> None:
    protected = ids_of(WORLD, "acme_labs", 1, status="protected")
    readable = ids_of(WORLD, "acme_labs", 2) + ids_of(WORLD, "acme", 3)
    ids = [*protected, *readable]
    watcher = _watcher(tmp_path, ids, ["impressions>=1"])
    try:
        first, second = watcher.poll(), watcher.poll()
    finally:
        watcher.close()
    assert [t for t, _ in first.newly_skipped] == protected
    assert "deleted or protected" in first.newly_skipped[0][1]
    assert second.newly_skipped == ()  # reported once
    assert first.tweets == second.tweets == len(readable)


def test_answers_are_checked_against_the_requested_ids(tmp_path: Path) -> None:
    app = _app()

    class Extra(httpx.BaseTransport):
        """Adds a tweet that was never asked for, and a key that is not an id, to every answer."""

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            answer = SandboxTransport(app).handle_request(request)
            if request.method != "POST":
                return answer
            body = json.loads(answer.read())
            body.setdefault("per_tweet", {}).update({"1": {"favorites": "999"}, "oops": {"favorites": "9"}})
            return httpx.Response(answer.status_code, headers={"content-type": "application/json"}, json=body)

    watcher = _watcher(tmp_path, ids_of(WORLD, "acme", 3), ["favorites>=1"], transport=Extra(), app=app)
    try:
        result = watcher.poll()
    finally:
        watcher.close()
    assert result.unexpected == 2
    assert {e.tweet_id for e in result.new_events} <= set(ids_of(WORLD, "acme", 3))


def test_rule_names_are_exact_and_duplicates_are_refused(tmp_path: Path) -> None:
    assert Threshold("favorites", 5).name != Threshold("favorites", 5.0000001).name
    assert parse_rule("favorites>=100").name == "favorites>=100"
    with pytest.raises(ConfigError, match=r"rules \['favorites>=5'\] are given more than once"):
        _watcher(tmp_path, ids_of(WORLD, "acme", 2), ["favorites>=5", "favorites >= 5.0"])


def test_watch_once_exits_non_zero_when_the_api_is_dead(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps(SandboxApp(WORLD).info(BASE)))
    ids = write_ids(tmp_path / "ids.csv", ids_of(WORLD, "acme", 3))
    done = run_cli("watch", "--ids-file", str(ids), "--rule", "favorites>=1", "--state", str(tmp_path / "w.db"),
                   "--base-url", "http://127.0.0.1:9", "--credentials", str(creds), "--once", timeout=90)  # fmt: skip
    assert done.returncode == 1
    assert "no tweet could be polled" in done.stderr
    assert "Traceback" not in done.stderr


def test_reading_events_needs_no_lock_while_a_watcher_writes(tmp_path: Path) -> None:
    writer = WatchState(tmp_path / "w.db")
    try:
        with pytest.raises(LockError):
            WatchState(tmp_path / "w.db")
        reader = WatchState(tmp_path / "w.db", writer=False)
        assert reader.listing() == []
        with pytest.raises(sqlite3.OperationalError):  # read-only: a reader can never write
            reader.db.execute("DELETE FROM events")
        reader.close()
    finally:
        writer.close()


# --- messages: the argument or file named, no traceback -------------------------------------------------


def _cli_case(tmp_path: Path, case: str) -> tuple[list[str], int, str]:
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps(SandboxApp(WORLD).info(BASE)))
    ids = write_ids(tmp_path / "ids.csv", ids_of(WORLD, "acme", 3))
    fetch_args = ["fetch", "totals", "--out", str(tmp_path / "a"), "--no-progress", "--base-url", "http://127.0.0.1:9"]
    if case == "missing ids file":
        return (
            [*fetch_args, "--ids-file", str(tmp_path / "nope.csv"), "--credentials", str(creds)],
            1,
            "nope.csv' does not exist",
        )
    if case == "non-UTF-8 ids file":
        (tmp_path / "latin.csv").write_bytes("tweet_id\n1790000000000000001\nCaf\xe9\n".encode("latin-1"))
        return (
            [*fetch_args, "--ids-file", str(tmp_path / "latin.csv"), "--credentials", str(creds)],
            1,
            "latin.csv' is not UTF-8",
        )
    if case == "scientific ids":
        (tmp_path / "sci.txt").write_text("1.40121463307631E+18\n")
        return (
            [*fetch_args, "--ids-file", str(tmp_path / "sci.txt"), "--credentials", str(creds)],
            1,
            "sci.txt, line 1: tweet id '1.40121463307631E+18' has non-digits; expected only 0-9 (e.g. '1260294888811347969'): it was written as a float or in scientific notation",
        )
    if case == "empty credentials":
        (tmp_path / "empty.json").write_text("")
        return (
            [*fetch_args, "--ids-file", str(ids), "--credentials", str(tmp_path / "empty.json")],
            1,
            "empty.json' is empty",
        )
    if case == "list credentials":
        (tmp_path / "list.json").write_text("[1, 2]")
        return (
            [*fetch_args, "--ids-file", str(ids), "--credentials", str(tmp_path / "list.json")],
            1,
            "list.json' holds a JSON list",
        )
    if case == "number in credentials":
        data = {**json.loads(creds.read_text()), "consumer_key": 12345}
        (tmp_path / "num.json").write_text(json.dumps(data))
        return (
            [*fetch_args, "--ids-file", str(ids), "--credentials", str(tmp_path / "num.json")],
            1,
            "consumer_key must be a string, got int",
        )
    if case == "bad month":
        return (
            ["fetch", "historical", "--ids-file", str(ids), "--out", str(tmp_path / "a"), "--start", "2026-13-01"],
            2,
            "argument --start",
        )
    if case == "duplicate rules":
        return ["watch", "--ids-file", str(ids), "--rule", "favorites>=5", "--rule", "favorites>=5.0", "--state",
                str(tmp_path / "w.db"), "--credentials", str(creds), "--base-url", "http://127.0.0.1:9"], 1, "given more than once"  # fmt: skip
    if case == "non-UTF-8 metadata":
        sample = Path(__file__).parent.parent / "data" / "sample"
        (tmp_path / "meta.csv").write_bytes("tweet_id,variant\n1790000000000000001,Caf\xe9\n".encode("latin-1"))
        return ["report", "--archive", str(sample / "archive"), "--metadata", str(tmp_path / "meta.csv"), "--by", "variant",
                "--out", str(tmp_path / "r.html")], 1, "meta.csv' cannot be read as CSV: invalid utf-8"  # fmt: skip
    if case == "unwritable archive folder":
        return [*fetch_args[:2], "--out", "/dev/null/archive", "--ids-file", str(ids), "--credentials", str(creds),
                "--base-url", "http://127.0.0.1:9"], 1, "cannot create the archive folder '/dev/null/archive'"  # fmt: skip
    if case == "report error first":
        sample = Path(__file__).parent.parent / "data" / "sample"
        return ["report", "--archive", str(sample / "archive"), "--metadata", str(sample / "tweets.csv"), "--by", "varaint",
                "--out", str(tmp_path / "r.html")], 1, "by='varaint' is not a column of metadata tweets.csv (did you mean 'variant'?)"  # fmt: skip
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "missing ids file",
        "non-UTF-8 ids file",
        "scientific ids",
        "empty credentials",
        "list credentials",
        "number in credentials",
        "bad month",
        "duplicate rules",
        "report error first",
    ],
)
def test_bad_inputs_are_named_without_a_traceback(tmp_path: Path, case: str) -> None:
    args, code, message = _cli_case(tmp_path, case)
    done = run_cli(*args, timeout=180)
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    if case == "report error first":
        assert done.stderr.startswith("engagement-lab: by='varaint'")  # before the kernel starts: nothing else first


def test_a_bom_credentials_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_text("\ufeff" + json.dumps(SandboxApp(WORLD).info(BASE)), encoding="utf-8")
    assert Credentials.load(path).handles


def test_ctrl_c_exits_130_with_the_resume_hint(tmp_path: Path) -> None:
    with Sandbox(seed=7, faults=FaultConfig(latency_ms=200), rate_limit_per_minute=100_000) as sandbox:
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps(sandbox.info))
        ids = write_ids(tmp_path / "ids.csv", ids_of(sandbox.app.world, "acme", 60))
        proc = subprocess.Popen(
            [
                *CLI,
                "fetch",
                "historical",
                "--ids-file",
                str(ids),
                "--out",
                str(tmp_path / "a"),
                "--base-url",
                sandbox.base_url,
                "--credentials",
                str(creds),
                "--metrics",
                "impressions",
                "--groupings",
                "daily",
                "--start",
                "2025-12-01",
                "--end",
                "2026-06-01",
                "--concurrency",
                "1",
                "--no-progress",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.time() + 60
        while time.time() < deadline and not list((tmp_path / "a" / "responses").glob("*.json.gz")):
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "interrupted; rerun the same command to resume" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("code", "fix"),
    [(28, "the disk is full: free some space, then rerun the same command to resume"), (30, "read-only")],
)
def test_disk_errors_are_explained(code: int, fix: str) -> None:
    from engagement_lab.cli import _explain

    message = _explain(OSError(code, os.strerror(code), "/data/archive/responses/x.json.gz"))
    assert message.startswith("cannot use '/data/archive/responses/x.json.gz': ")
    assert fix in message


_SAVER = """
import pathlib, sys, time
from engagement_lab.api import Credentials, OAuth2Token, Secret
from engagement_lab.cli.common import TokenSaver
path, handle = sys.argv[1], sys.argv[2]
saver = TokenSaver(Credentials.load(path), path)
ready = pathlib.Path(path).with_name(handle + ".ready")
ready.touch()
deadline = time.monotonic() + 60
while len(list(ready.parent.glob("*.ready"))) < 2 and time.monotonic() < deadline:  # start together
    time.sleep(0.01)
for i in range(40):
    saver(handle, OAuth2Token(Secret(f"{handle}-{i}"), Secret(f"r-{handle}-{i}"), 2e9, "tweet.read"))
    time.sleep(0.002)
"""


def test_two_processes_saving_refreshed_tokens_keep_each_others(tmp_path: Path) -> None:
    """A watcher and a fetch that share one credentials file each refresh their own account's token: neither
    save may put back the other's retired token (the next run would fail to authenticate)."""
    path = tmp_path / "creds.json"
    base = Credentials.from_mapping({"consumer_key": "k", "consumer_secret": "s", "oauth2_client_id": "c"})
    for handle in ("acme", "acme_support"):
        base = base.with_account(
            AccountTokens(handle, Secret(""), Secret(""), OAuth2Token(Secret("old"), Secret("r"), 2e9, "tweet.read"))
        )
    base.save(path)
    savers = [
        subprocess.Popen([sys.executable, "-c", _SAVER, str(path), handle]) for handle in ("acme", "acme_support")
    ]
    assert [p.wait(timeout=120) for p in savers] == [0, 0]
    saved = Credentials.load(path)
    for handle in ("acme", "acme_support"):
        token = saved.account(handle).oauth2
        assert token is not None
        assert token.access_token.reveal() == f"{handle}-39"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_listing_a_state_a_watcher_is_still_creating_shows_no_events(tmp_path: Path) -> None:
    """``watch --list`` (or a test's poll) can open the file in the moment after the watcher created it and before
    its tables exist: that state holds no events yet, which is not an error."""
    path = tmp_path / "w.db"
    sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").close()  # the file exists, the schema does not
    reader = WatchState(path, writer=False)
    try:
        assert reader.listing() == []
    finally:
        reader.close()
    done = run_cli("watch", "--state", str(path), "--list")
    assert (done.returncode, done.stdout) == (0, "")
