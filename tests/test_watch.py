"""The threshold watcher against the sandbox on a moving clock: each crossing fires exactly once."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from engagement_lab import ConfigError
from engagement_lab.api import Clock, Credentials
from engagement_lab.sandbox import AcceleratedClock, FixedClock, Sandbox, SandboxApp, SandboxTransport, World
from engagement_lab.watch import (
    CrossingEvent,
    RateRule,
    Threshold,
    Watcher,
    WatchState,
    parse_rule,
    verify,
    webhook_action,
)

BASE = "https://data-api.twitter.com"


class Moving(Clock):
    """One clock for the watcher and the sandbox: sleeping moves the world forward too."""

    def __init__(self, world_clock: FixedClock) -> None:
        self.world_clock = world_clock
        self.t = world_clock.at.timestamp()

    def time(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.world_clock.advance(timedelta(seconds=seconds))


def read_events(state: Path | str) -> list[dict[str, Any]]:
    """The recorded events, read without the writer lock (a watcher may be running)."""
    reader = WatchState(state, writer=False)
    try:
        return reader.listing()
    finally:
        reader.close()


def watch_command(sandbox: Sandbox, tmp_path: Path, state: Path, every: str) -> list[str]:
    """The `engagement-lab watch` command line for the sandbox's young tweets (credentials and ids in tmp_path)."""
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps(sandbox.info))
    ids = tmp_path / "ids.csv"
    ids.write_text("tweet_id,account\n" + "".join(f"{i},acme\n" for i in young_tweets(sandbox.app.world)))
    return [
        sys.executable,
        "-m",
        "engagement_lab.cli",
        "watch",
        "--ids-file",
        str(ids),
        "--rule",
        "favorites>=1",
        "--state",
        str(state),
        "--base-url",
        sandbox.base_url,
        "--credentials",
        str(creds),
        "--every",
        every,
    ]


def young_tweets(world: World, n: int = 9) -> list[str]:
    """Owned tweets posted in the three days before 'now', some still gathering likes."""
    start = world.now - timedelta(hours=72)
    return [
        t.tweet_id
        for t in world.tweets
        if t.account == "acme" and t.status == "ok" and start < t.created_at < world.now
    ][:n]


@pytest.fixture
def setup(tmp_path: Path) -> dict[str, Any]:
    world = World(seed=7, now=World(seed=7).now)
    world_clock = FixedClock(world.now)
    clock = Moving(world_clock)
    app = SandboxApp(world, clock=world_clock, wall=clock.time, rate_limit_per_minute=4)
    creds = Credentials.from_mapping(app.info(BASE))
    ids = young_tweets(world)
    return {"world": world, "clock": clock, "app": app, "creds": creds, "ids": ids, "state": tmp_path / "watch.db"}


def make(setup: dict[str, Any], fired: list[CrossingEvent], rules: list[Any], **options: Any) -> Watcher:
    return Watcher(
        setup["ids"],
        rules,
        credentials=setup["creds"],
        state=setup["state"],
        on_cross=fired.append,
        interval=3600,
        owners=dict.fromkeys(setup["ids"], "acme"),
        base_url=BASE,
        clock=setup["clock"],
        transport=SandboxTransport(setup["app"]),
        **options,
    )


def test_rules_parse_with_clear_errors() -> None:
    assert parse_rule("favorites>=100") == Threshold("favorites", 100)
    assert parse_rule("engagement_rate >= 0.05 / 2000") == RateRule("engagement_rate", 0.05, 2000)
    with pytest.raises(ConfigError, match="form metric>=N"):
        parse_rule("favorites > 100")
    with pytest.raises(ConfigError, match="neither a /totals metric"):
        parse_rule("likes>=100")
    with pytest.raises(ConfigError, match="does not serve"):
        parse_rule("ctr>=0.01")


def test_each_crossing_fires_once_across_polls_and_restarts(setup: dict[str, Any]) -> None:
    fired: list[CrossingEvent] = []
    watcher = make(setup, fired, ["favorites>=15", "engagement_rate>=0.02/100"])
    watcher.run(max_polls=8)
    watcher.close()
    assert [e for e in fired if not e.late], "a young tweet crosses 15 likes within the 8 watched hours"
    keys = [(e.tweet_id, e.rule) for e in fired]
    assert len(keys) == len(set(keys))
    on_time = [e for e in fired if not e.late]
    assert all(e.previous_value is not None and e.value >= 15 for e in on_time if e.rule == "favorites>=15")
    assert all(e.previous_value < 15 for e in on_time if e.rule == "favorites>=15")  # type: ignore[operator]
    again = make(setup, fired, ["favorites>=15", "engagement_rate>=0.02/100"])  # a restart with the same state
    again.run(max_polls=3)
    again.close()
    assert len(fired) == len(keys)
    assert setup["app"].status_counts[429] == 0  # the per-minute limit was never exceeded


def test_a_crossing_during_downtime_fires_late_once(setup: dict[str, Any]) -> None:
    fired: list[CrossingEvent] = []
    watcher = make(setup, fired, ["favorites>=16"])
    watcher.poll()
    watcher.close()
    first = len(fired)
    setup["clock"].sleep(20 * 3600)  # the watcher is down for 20 hours
    again = make(setup, fired, ["favorites>=16"])
    again.poll()
    again.poll()
    again.close()
    late = fired[first:]
    assert late
    assert all(e.late for e in late)
    assert len({(e.tweet_id, e.rule) for e in fired}) == len(fired)


def test_failed_callbacks_stay_pending_and_are_retried_with_backoff(setup: dict[str, Any]) -> None:
    calls: list[str] = []

    def flaky(event: CrossingEvent) -> None:
        calls.append(event.event_id)
        if len(calls) == 1:
            raise RuntimeError("receiver down")

    watcher = Watcher(
        setup["ids"],
        ["favorites>=1"],
        credentials=setup["creds"],
        state=setup["state"],
        on_cross=flaky,
        interval=3600,
        owners=dict.fromkeys(setup["ids"], "acme"),
        base_url=BASE,
        clock=setup["clock"],
        transport=SandboxTransport(setup["app"]),
        retry_base=60,
    )
    first = watcher.poll()
    assert first.failed == 1
    listing = {e["event_id"]: e for e in watcher.state.listing()}
    assert listing[calls[0]]["status"] == "pending"
    assert "receiver down" in listing[calls[0]]["last_error"]
    setup["clock"].sleep(3600)
    watcher.poll()
    watcher.close()
    assert calls.count(calls[0]) == 2
    assert all(e["status"] == "delivered" for e in read_events(setup["state"]))


def test_webhook_is_signed_and_verifiable_on_loopback(setup: dict[str, Any]) -> None:
    received: list[tuple[bytes, str]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((body, dict(self.headers)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        secret = "shh-webhook-secret"
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        watcher = make(setup, [], ["favorites>=1"])
        watcher.on_cross = webhook_action(url, secret)
        watcher.poll()
        watcher.close()
    finally:
        server.shutdown()
    assert received
    for body, headers in received:
        stamp = headers["X-Engagement-Lab-Timestamp"]
        expected = "sha256=" + hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Engagement-Lab-Signature"], expected)  # timestamp and body signed
        assert verify(secret, headers, body, now=float(stamp) + 10)
        assert not verify(secret, headers, body, now=float(stamp) + 3600)  # an old delivery replayed: rejected
        assert not verify(
            secret, {**headers, "X-Engagement-Lab-Timestamp": str(int(stamp) + 60)}, body, now=float(stamp)
        )
        assert json.loads(body)["rule"] == "favorites>=1"
    assert all(e["status"] == "delivered" for e in read_events(setup["state"]))


def test_sigkill_between_crossing_and_callback_fires_exactly_once(tmp_path: Path) -> None:
    world = World(seed=7)
    with Sandbox(world=world, clock=AcceleratedClock(world.now, speed=3600)) as sandbox:  # one hour per second
        log = tmp_path / "deliveries.log"
        state = tmp_path / "watch.db"
        base = watch_command(sandbox, tmp_path, state, "1s")
        slow = subprocess.Popen([*base, "--command", "sleep 60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            if state.exists() and read_events(state):
                break
            time.sleep(0.1)
        os.kill(slow.pid, signal.SIGKILL)  # the event is recorded; its callback is mid-flight
        slow.wait(timeout=10)
        pending = read_events(state)
        assert pending
        assert all(e["status"] == "pending" for e in pending)
        writer = f"{sys.executable} -c \"import sys; open(r'{log}', 'a').write(sys.stdin.read() + chr(10))\""
        done = subprocess.run(
            [*base, "--command", writer, "--once"], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        subprocess.run([*base, "--command", writer, "--once"], capture_output=True, text=True, timeout=60, check=False)
    delivered = [json.loads(line) for line in log.read_text().splitlines() if line]
    keys = [(d["tweet_id"], d["rule"]) for d in delivered]
    assert len(keys) == len(set(keys))
    assert {e["event_id"] for e in pending} <= {d["event_id"] for d in delivered}


def test_cli_stops_cleanly_on_sigterm_and_lists_events(tmp_path: Path) -> None:
    world = World(seed=7)
    with Sandbox(world=world, clock=AcceleratedClock(world.now, speed=3600)) as sandbox:
        state = tmp_path / "w.db"
        proc = subprocess.Popen(
            watch_command(sandbox, tmp_path, state, "5m"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.time() + 30
        while time.time() < deadline and not (state.exists() and read_events(state)):
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    printed = [json.loads(line) for line in out.splitlines()]
    assert printed
    assert all(p["rule"] == "favorites>=1" for p in printed)
    assert "tweets polled" in err
    listed = subprocess.run(
        [sys.executable, "-m", "engagement_lab.cli", "watch", "--state", str(state), "--list"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert {json.loads(line)["status"] for line in listed.stdout.splitlines()} == {"delivered"}


def test_a_webhook_that_drips_its_answer_ends_within_the_timeout() -> None:
    """A receiver that sends its status line a byte every 0.2 s (each read well within the timeout) cannot hold the
    watcher: the whole exchange has a deadline."""
    import socket

    stop = threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            while not stop.is_set():
                try:
                    conn.sendall(b"H")
                except OSError:
                    return
                time.sleep(0.2)

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    send = webhook_action(f"http://127.0.0.1:{port}/hook", "secret", timeout=1.0)
    event = CrossingEvent("e1", "1", "favorites>=1", 1.0, None, "2026-06-01T12:00:00+00:00", False)
    started = time.monotonic()
    try:
        with pytest.raises(httpx.TimeoutException) as raised:
            send(event)
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - started < 3.0
    assert raised.value is not None
