"""Hostile servers over a real loopback socket (issue 30): an endless chunked body, a gzip bomb, a drip of a byte now
and then, a server that accepts and never answers. Each ends the fetch of both APIs within its documented bound,
with a named error, nothing archived; from the shell, exit 1.

The bounds are kept small through the options (``timeout``, ``unreachable_after``, ``max_response_bytes``), so each
test takes seconds; the defaults scale them (60 s, 20 s, 256 MiB).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engagement_lab import AnalyticsQuery, EngagementQuery, fetch, fetch_analytics
from engagement_lab.api import AsyncEngagementClient, Credentials, EngagementClient, FetchResult, OAuth2Token, Secret
from engagement_lab.api.auth import AccountTokens
from engagement_lab.errors import APITimeoutError, ConfigError, ResponseTooLargeError
from engagement_lab.sandbox import SandboxApp, World

from .conftest import BASE

WORLD = World(seed=7)
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
PROBE_ANSWER = b"HTTP/1.1 200 OK\r\nDate: Mon, 01 Jun 2026 12:00:00 GMT\r\nContent-Length: 0\r\n\r\n"
BOMB = gzip.compress(b"0" * (64 * 2**20))  # 64 MiB of zeros in ~64 KB
MiB = 2**20


class Hostile:
    """A loopback HTTP server that answers every request (but the ``GET /`` clock probe, when ``probe_ok``) in one
    hostile way: ``endless`` (a chunked body that never ends), ``bomb`` (a small gzip body inflating to 64 MiB),
    ``drip`` (a byte every ``interval`` seconds, forever, in the headers) or ``silent`` (reads the request, never
    answers)."""

    def __init__(self, mode: str, *, probe_ok: bool = True, interval: float = 0.4) -> None:
        self.mode, self.probe_ok, self.interval = mode, probe_ok, interval
        self.stop = threading.Event()
        self.requests: list[str] = []
        self.sent = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._threads: list[threading.Thread] = []
        self._conns: list[socket.socket] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def __enter__(self) -> Hostile:
        self._spawn(self._accept)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for conn in self._conns:
            conn.close()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _spawn(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._conns.append(conn)
            self._spawn(self._serve, conn)

    def _read_request(self, conn: socket.socket) -> str | None:
        data = b""
        conn.settimeout(0.1)
        while b"\r\n\r\n" not in data:
            if self.stop.is_set():
                return None
            try:
                got = conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return None
            if not got:
                return None
            data += got
        head, _, rest = data.partition(b"\r\n\r\n")
        length = next((int(v) for k, _, v in (line.partition(b":") for line in head.split(b"\r\n")[1:])
                       if k.strip().lower() == b"content-length"), 0)  # fmt: skip
        while len(rest) < length and not self.stop.is_set():
            try:
                rest += conn.recv(65536)
            except TimeoutError:
                continue
        return head.split(b"\r\n", 1)[0].decode()

    def _send(self, conn: socket.socket, data: bytes) -> bool:
        try:
            conn.sendall(data)
        except OSError:
            return False
        self.sent += len(data)
        return True

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            while (line := self._read_request(conn)) is not None:
                self.requests.append(line)
                if line.startswith("GET / ") and self.probe_ok:
                    self._send(conn, PROBE_ANSWER)
                    continue
                getattr(self, f"_{self.mode}")(conn)
                return

    def _endless(self, conn: socket.socket) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunk = b'{"pad": "' + b"x" * 65536
        if not self._send(conn, head):
            return
        while not self.stop.is_set() and self._send(conn, b"%x\r\n%s\r\n" % (len(chunk), chunk)):
            pass

    def _bomb(self, conn: socket.socket) -> None:
        head = (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
                f"Content-Length: {len(BOMB)}\r\n\r\n").encode()  # fmt: skip
        self._send(conn, head + BOMB)
        self.stop.wait()

    def _drip(self, conn: socket.socket) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Drip: " + b"a" * 10_000:
            if self.stop.wait(self.interval) or not self._send(conn, bytes([byte])):
                return

    def _silent(self, conn: socket.socket) -> None:
        self.stop.wait()


@pytest.fixture
def credentials() -> Credentials:
    return Credentials.from_mapping(SandboxApp(WORLD).info(BASE))


def _ids(n: int = 3) -> list[str]:
    return [t.tweet_id for t in reversed(WORLD.tweets) if t.account == "acme" and t.status == "ok"][:n]


def _fetch(api: str, server: Hostile, out: Path, credentials: Credentials, **options: Any) -> FetchResult:
    ids = _ids()
    common: dict[str, Any] = dict(credentials=credentials, out=out, base_url=server.base_url, now=NOW,
                                  progress=False, owners=dict.fromkeys(ids, "acme"), **options)  # fmt: skip
    if api == "engagement":
        return fetch(EngagementQuery("totals", ids, ["impressions"], "per_tweet"), **common)
    if api == "x-v2 oauth2":  # a user token whose auth reads no answer itself (httpx would read it whole)
        token = OAuth2Token(Secret("at"), Secret("rt"), 2e9, "tweet.read users.read offline.access")
        common["credentials"] = credentials.with_account(AccountTokens("acme", Secret(""), Secret(""), token))
    return fetch_analytics(AnalyticsQuery(ids, "2026-05-01", "2026-05-31", granularity="daily"), **common)


def _nothing_archived(out: Path) -> None:
    assert list((out / "responses").iterdir()) == []  # no response, no temporary file


@pytest.mark.parametrize("api", ["engagement", "x-v2", "x-v2 oauth2"])
@pytest.mark.parametrize("mode", ["endless", "bomb"])
def test_an_endless_body_or_a_gzip_bomb_stops_at_max_response_bytes(
    tmp_path: Path, credentials: Credentials, api: str, mode: str
) -> None:
    with Hostile(mode) as server:
        started = time.monotonic()
        result = _fetch(api, server, tmp_path, credentials, max_response_bytes=MiB, timeout=10)
        took = time.monotonic() - started
    assert took < 5  # on loopback a MiB arrives at once; the 10 s timeout is never reached
    assert not result.ok
    assert result.errors
    assert all(e.startswith("ResponseTooLargeError: ") and "max_response_bytes=1,048,576" in e for e in result.errors)
    assert ("once inflated" if mode == "bomb" else "as sent") in result.errors[0]
    assert result.sent == len(result.errors)  # never retried: another try would read as much again
    assert server.sent < 16 * MiB  # the read stopped near the cap (what the sockets' buffers took was sent, too)
    _nothing_archived(tmp_path)


@pytest.mark.parametrize("api", ["engagement", "x-v2"])
@pytest.mark.parametrize("mode", ["drip", "silent"])
def test_a_drip_or_a_silent_server_is_given_up_within_give_up_after_plus_timeout(
    tmp_path: Path, credentials: Credentials, api: str, mode: str
) -> None:
    # the drip sends a byte every 0.4 s, so no single read ever waits the 1.5 s read timeout: only the total
    # deadline can end a request
    with Hostile(mode) as server:
        started = time.monotonic()
        result = _fetch(api, server, tmp_path, credentials, timeout=1.5, unreachable_after=2)
        took = time.monotonic() - started
    assert took < 2 + 1.5 + 1.0, took  # the documented bound, with a second of slack for a busy machine
    assert took > 1.5  # it did wait for the timeout
    assert not result.ok
    assert result.errors
    assert any("has been unreachable for" in e and "APITimeoutError" in e for e in result.errors), result.errors
    assert any("no complete answer within the 1.5 s timeout" in e for e in result.errors)
    _nothing_archived(tmp_path)


@pytest.mark.parametrize("mode", ["drip", "silent"])
def test_the_start_up_probe_gives_up_after_give_up_after(tmp_path: Path, credentials: Credentials, mode: str) -> None:
    with Hostile(mode, probe_ok=False) as server, EngagementClient(credentials, base_url=server.base_url,
                                                                   timeout=1.0) as client:  # fmt: skip
        started = time.monotonic()
        with pytest.raises(APITimeoutError, match=rf"cannot reach the API at {server.base_url}: no answer within"):
            client.server_time(give_up_after=2.5)
        took = time.monotonic() - started
    assert 2.0 < took < 2.5 + 1.0, took  # tries of 1 s each until the 2.5 s budget is spent


def _cli(server: Hostile, tmp_path: Path, *flags: str) -> tuple[subprocess.CompletedProcess[str], float]:
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps(SandboxApp(WORLD).info(BASE)))
    ids = tmp_path / "ids.csv"
    ids.write_text("tweet_id,account\n" + "".join(f"{i},acme\n" for i in _ids()))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "engagement_lab.cli", "fetch", "totals", "--ids-file", str(ids), "--out",
         str(tmp_path / "archive"), "--base-url", server.base_url, "--credentials", str(creds), "--no-progress",
         *flags],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    return done, time.monotonic() - started


@pytest.mark.parametrize(
    ("mode", "probe_ok", "flags", "bound", "said"),
    [
        ("silent", False, ["--timeout", "2s", "--give-up-after", "3s"], 3, "cannot reach the API at"),
        ("drip", False, ["--timeout", "2s", "--give-up-after", "3s"], 3, "no answer within"),
        ("silent", True, ["--timeout", "1.5s", "--give-up-after", "2s"], 3.5, "has been unreachable for"),
        ("endless", True, ["--max-response-size", "1MB"], 0, "ResponseTooLargeError: "),
    ],
)
def test_hostile_servers_end_the_cli_fetch_with_exit_1_within_the_bound(
    tmp_path: Path, mode: str, probe_ok: bool, flags: list[str], bound: float, said: str
) -> None:
    with Hostile(mode, probe_ok=probe_ok) as server:
        done, took = _cli(server, tmp_path, *flags)
    assert done.returncode == 1, done.stderr
    assert said in done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "unexpected" not in done.stderr
    assert took < bound + 8  # the bound, plus the interpreter's start (a few seconds on a busy machine)
    _nothing_archived(tmp_path / "archive")


@pytest.mark.parametrize(
    ("option", "value", "said"),
    [
        ("timeout", 0, "timeout must be a positive number of seconds, got 0"),
        ("timeout", float("inf"), "timeout must be a positive number of seconds"),
        ("max_response_bytes", 1.5, "max_response_bytes must be a positive whole number of bytes, got 1.5"),
        ("max_response_byte", 10, "did you mean 'max_response_bytes'"),
    ],
)
def test_bounds_are_checked_before_anything_is_sent(
    tmp_path: Path, credentials: Credentials, option: str, value: object, said: str
) -> None:
    with pytest.raises(ConfigError, match=said.replace("(", r"\(")):
        fetch(EngagementQuery("totals", _ids(), ["impressions"], "per_tweet"), credentials=credentials,
              out=tmp_path, base_url=BASE, now=NOW, progress=False, **{option: value})  # fmt: skip


def test_a_large_answer_within_the_cap_is_read_whole(credentials: Credentials) -> None:
    """The cap refuses only what passes it: the same bomb is read whole with a cap above its 64 MiB."""
    with Hostile("bomb") as server, EngagementClient(credentials, base_url=server.base_url,
                                                     max_response_bytes=65 * MiB) as client:  # fmt: skip
        request = EngagementQuery("totals", _ids(), ["impressions"], "per_tweet").plan(now=NOW, age_rules="allow")[0]
        raw = client.send(request, account="acme", check=False)
        assert len(raw.body) == 64 * MiB
        with pytest.raises(ResponseTooLargeError, match="max_response_bytes=67,108,863"):
            EngagementClient(credentials, base_url=server.base_url, max_response_bytes=64 * MiB - 1).send(
                request, account="acme", check=False
            )


@pytest.mark.parametrize(("mode", "error", "said"), [("endless", ResponseTooLargeError, "max_response_bytes=1,048,576"),
                                                     ("drip", APITimeoutError, "within the 1.5 s timeout")])  # fmt: skip
def test_the_async_client_keeps_the_same_bounds(credentials: Credentials, mode: str, error: type, said: str) -> None:
    async def send(base_url: str) -> None:
        request = EngagementQuery("totals", _ids(), ["impressions"], "per_tweet").plan(now=NOW, age_rules="allow")[0]
        async with AsyncEngagementClient(credentials, base_url=base_url, timeout=1.5, max_response_bytes=MiB) as client:
            await client.send(request, account="acme", check=False)

    with Hostile(mode) as server:
        started = time.monotonic()
        with pytest.raises(error, match=said):
            asyncio.run(send(server.base_url))
        took = time.monotonic() - started
    assert took < 1.5 + 1.0


def test_proxies_from_the_environment_are_kept_and_their_sockets_bound(
    monkeypatch: pytest.MonkeyPatch, credentials: Credentials
) -> None:
    """httpx honours HTTP(S)_PROXY only when no transport is passed: the client keeps them, each bound."""
    from engagement_lab.api.bounded import _Backend

    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    client = EngagementClient(credentials, base_url="https://api.example.com")
    mounts = [t for t in client._http._mounts.values() if t is not None]
    assert mounts  # the proxies were not dropped
    for transport in (client._http._transport, *mounts):
        assert isinstance(transport._pool._network_backend, _Backend)  # type: ignore[attr-defined]
