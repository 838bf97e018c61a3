"""Delivery stated exactly: at-least-once, with a stable event id and a redelivery flag (issue #30, item 4).

A real watcher process is killed with SIGKILL again and again while its actions run; the actions are real processes
that log what they were handed. Every duplicate must carry the same event id and the redelivery flag, the duplicates
are at most one per kill (the one action in flight), and no crossing is lost.
"""

from __future__ import annotations

import json
import os
import random
import shlex
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from engagement_lab.api import Credentials
from engagement_lab.sandbox import Sandbox, World
from engagement_lab.watch import (
    EVENT_ID_HEADER,
    REDELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    CrossingEvent,
    Watcher,
    WatchState,
    command_action,
    sign,
    verify,
    webhook_action,
)

RULES = ["favorites>=1", "favorites>=2", "impressions>=1", "impressions>=20", "engagements>=1", "retweets>=1"]
KILLS = 12


def _command(log: Path) -> str:
    """A real action: a shell that logs the event id and redelivery flag from the environment, then the stdin JSON,
    as one appended line (after a short nap, so kills land while actions are in flight)."""
    script = (
        'line="$ENGAGEMENT_EVENT_ID $ENGAGEMENT_REDELIVERY $(cat)"; sleep 0.04; '
        f'printf "%s\\n" "$line" >> {shlex.quote(str(log))}'
    )
    return shlex.join(["sh", "-c", script])


def _watch(sandbox: Sandbox, tmp_path: Path, state: Path, log: Path) -> tuple[list[str], list[str]]:
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps(sandbox.info))
    ids = [t.tweet_id for t in sandbox.app.world.tweets if t.account == "acme" and t.status == "ok"][-12:]
    ids_file = tmp_path / "ids.csv"
    ids_file.write_text("tweet_id,account\n" + "".join(f"{i},acme\n" for i in ids))
    rules = [part for rule in RULES for part in ("--rule", rule)]
    argv = [
        sys.executable,
        "-m",
        "engagement_lab.cli",
        "watch",
        "--ids-file",
        str(ids_file),
        *rules,
        "--state",
        str(state),
        "--base-url",
        sandbox.base_url,
        "--credentials",
        str(creds),
        "--every",
        "1s",
        "--command",
        _command(log),
    ]
    return argv, ids


_FORKER = """
import os, sys
import engagement_lab.api, engagement_lab.watch
from engagement_lab.cli import main
for line in sys.stdin:
    word, _, pid = line.strip().partition(" ")
    if word == "wait":
        print(os.waitstatus_to_exitcode(os.waitpid(int(pid), 0)[1]), flush=True)
        continue
    child = os.fork()
    if child == 0:
        sys.stdin.close()
        os._exit(main(sys.argv[1:] + ["--once"] * (word == "once")))
    print(child, flush=True)
"""


class Forker:
    """Starts watcher processes the way a service manager restarts one, minus the seconds of imports a busy
    machine spends on each: one process does the imports, then forks a real watcher process (its own pid, killed
    with SIGKILL like any other) per restart, and reports each one's exit code."""

    def __init__(self, argv: list[str]) -> None:
        assert argv[1:3] == ["-m", "engagement_lab.cli"]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _FORKER, *argv[3:]],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def _ask(self, line: str) -> int:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def start(self, *, once: bool = False) -> int:
        """A new watcher process's pid."""
        return self._ask("once" if once else "go")

    def wait(self, pid: int) -> int:
        """Its exit code (-9 when killed)."""
        return self._ask(f"wait {pid}")

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def _events(state: Path) -> list[tuple[str, str, int, int]]:
    """(event_id, status, started, attempts) of every recorded event, read without the writer lock."""
    if not state.exists():
        return []
    db = sqlite3.connect(f"{state.resolve().as_uri()}?mode=ro", uri=True)
    try:
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone() is None:
            return []
        return list(db.execute("SELECT event_id, status, started, attempts FROM events"))
    except sqlite3.OperationalError:  # the writer is mid-creation
        return []
    finally:
        db.close()


def test_kill_9_loop_duplicates_carry_the_event_id_and_redelivery_flag(tmp_path: Path) -> None:
    rng = random.Random(30)
    state, log = tmp_path / "watch.db", tmp_path / "deliveries.log"
    with Sandbox(world=World(seed=7)) as sandbox:  # a fixed clock: the totals, so the crossings, do not move
        base, ids = _watch(sandbox, tmp_path, state, log)
        forker = Forker(base)  # importing while the truth is read
        # the truth: the crossings a watcher that is never disturbed records (in this process, over loopback)
        truth_events: list[CrossingEvent] = []
        truth_watcher = Watcher(
            ids,
            RULES,
            credentials=Credentials.from_mapping(sandbox.info),
            state=tmp_path / "truth.db",
            on_cross=truth_events.append,
            owners=dict.fromkeys(ids, "acme"),
            base_url=sandbox.base_url,
        )
        try:
            truth_watcher.poll()
        finally:
            truth_watcher.close()
        truth = {e.event_id for e in truth_events}
        assert len(truth) >= 40
        kills = 0
        started = time.monotonic()
        while kills < KILLS:
            begun = sum(b for _, _, b, _ in _events(state))
            pid = forker.start()
            deadline = time.monotonic() + 20  # wait for this process to begin an action
            while time.monotonic() < deadline and sum(b for _, _, b, _ in _events(state)) == begun:
                time.sleep(0.005)
            time.sleep(rng.uniform(0.0, 0.15))  # then kill it inside an action, or between two
            os.kill(pid, signal.SIGKILL)
            assert forker.wait(pid) == -signal.SIGKILL
            kills += 1
            if _events(state) and all(s == "delivered" for _, s, _, _ in _events(state)):
                break
        # then let it finish undisturbed
        assert forker.wait(forker.start(once=True)) == 0
        elapsed = time.monotonic() - started
        forker.close()
    time.sleep(0.3)  # an orphaned action of the last kill finishing its line
    deliveries, truncated = [], 0
    for env_id, flag, body in (line.split(" ", 2) for line in log.read_text().splitlines()):
        try:
            deliveries.append((env_id, flag, json.loads(body)))
        except json.JSONDecodeError:  # killed while writing the action's stdin: it got no event, so did nothing
            truncated += 1
    recorded = _events(state)

    assert kills >= 10, f"only {kills} kills landed before everything was delivered"
    assert elapsed < 30
    # 0 lost: every crossing the undisturbed watcher saw is recorded, delivered and was handed to the action
    assert {e for e, _, _, _ in recorded} == truth
    assert all(status == "delivered" for _, status, _, _ in recorded)
    assert {body["event_id"] for _, _, body in deliveries} == truth
    # the id in the environment is the id in the JSON; the flag is the same in both
    for env_id, flag, body in deliveries:
        assert env_id == body["event_id"]
        assert flag == ("1" if body["redelivery"] else "0")
    # every duplicate carries the same id and the flag: at most one delivery of an event goes without it
    per_event = Counter(body["event_id"] for _, _, body in deliveries)
    unflagged = Counter(body["event_id"] for _, flag, body in deliveries if flag == "0")
    duplicates = sum(n - 1 for n in per_event.values())
    assert all(n <= 1 for n in unflagged.values()), unflagged
    # the window: at most the one action in flight at each kill runs twice
    assert duplicates <= kills
    flagged_events = {body["event_id"] for _, flag, body in deliveries if flag == "1"}
    assert duplicates == 0 or flagged_events
    assert truncated <= kills
    print(
        f"{kills} kills, {len(truth)} events, {duplicates} duplicates (all flagged), {truncated} cut, {elapsed:.1f} s"
    )


def _event() -> CrossingEvent:
    """A second attempt after a kill: same id, flagged."""
    return CrossingEvent("abc123", "1401", "favorites>=100", 120.0, 90.0, "2026-06-01T12:00:00+00:00", False, 2, True)


def test_webhook_and_command_carry_the_event_id(tmp_path: Path) -> None:
    import httpx

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204)

    event = _event()
    webhook_action("http://hooks.test/x", "s3cret", transport=httpx.MockTransport(handler))(event)
    (request,) = seen
    assert request.headers[EVENT_ID_HEADER] == "abc123"
    assert request.headers[REDELIVERY_HEADER] == "true"
    body = json.loads(request.content)
    assert (body["event_id"], body["redelivery"], body["attempt"]) == ("abc123", True, 2)

    out = tmp_path / "env.json"
    script = (
        "import json, os, sys; json.dump([os.environ['ENGAGEMENT_EVENT_ID'], os.environ['ENGAGEMENT_REDELIVERY'], "
        f"json.load(sys.stdin)], open({str(out)!r}, 'w'))"
    )
    command_action(shlex.join([sys.executable, "-c", script]))(event)
    env_id, flag, stdin = json.loads(out.read_text())
    assert (env_id, flag, stdin["event_id"], stdin["redelivery"]) == ("abc123", "1", "abc123", True)


def test_a_timed_out_attempt_makes_the_next_one_a_redelivery(tmp_path: Path) -> None:
    state = WatchState(tmp_path / "w.db")
    try:
        first = CrossingEvent("e1", "1", "favorites>=1", 1.0, None, "2026-06-01T12:00:00+00:00", False)
        second = CrossingEvent("e2", "2", "favorites>=1", 1.0, None, "2026-06-01T12:00:00+00:00", False)
        state.record([], [first, second], 0.0)
        assert [(e.attempt, e.redelivery) for e in state.due(1.0)] == [(1, False), (1, False)]
        for event_id, unsure in (("e1", True), ("e2", False)):  # e1 timed out; e2 was refused (HTTP 500)
            state.begin(event_id)
            state.failed(event_id, "boom", 1.0, retry_base=0.0, unsure=unsure)
        assert [(e.event_id, e.attempt, e.redelivery) for e in state.due(2.0)] == [("e1", 2, True), ("e2", 2, False)]
        state.begin("e2")  # a crash during e2's second attempt: nothing recorded after 'begin'
        assert [(e.event_id, e.redelivery) for e in state.due(3.0)] == [("e1", True), ("e2", True)]
    finally:
        state.close()


def test_verify_is_false_on_any_malformed_header() -> None:
    body = b'{"tweet_id": "1"}'
    good = {TIMESTAMP_HEADER: "1000", SIGNATURE_HEADER: sign("s3cret", "1000", body)}
    assert verify("s3cret", good, body, now=1000)
    bad_headers = [
        {**good, SIGNATURE_HEADER: "sha256=\u00e9\u00e9"},  # non-ASCII: compare_digest would raise TypeError
        {**good, SIGNATURE_HEADER: good[SIGNATURE_HEADER][:-1] + "\u0660"},
        {**good, TIMESTAMP_HEADER: "\u0661\u0660\u0660\u0660"},  # Arabic-Indic digits float() accepts
        {**good, TIMESTAMP_HEADER: "nan"},
        {**good, TIMESTAMP_HEADER: "inf"},
        {**good, TIMESTAMP_HEADER: "1e999"},
        {**good, TIMESTAMP_HEADER: ""},
        {**good, SIGNATURE_HEADER: ""},
        {**good, SIGNATURE_HEADER: b"sha256=00"},  # bytes where text was expected
        {**good, TIMESTAMP_HEADER: None},
        {**good, TIMESTAMP_HEADER: 1000},
        {SIGNATURE_HEADER: good[SIGNATURE_HEADER]},
        {},
        {**good, SIGNATURE_HEADER: "sha256=" + "0" * 64},
        {**good, SIGNATURE_HEADER: "\x00" * 71},
    ]
    for headers in bad_headers:
        assert verify("s3cret", headers, body, now=1000) is False, headers  # type: ignore[arg-type]


def test_likes_is_favorites_on_v2_rules_and_named_on_totals() -> None:
    from engagement_lab import ConfigError
    from engagement_lab.watch import Threshold, parse_rule

    assert parse_rule("likes>=100", "x-v2") == parse_rule("favorites>=100", "x-v2") == Threshold("favorites", 100)
    assert parse_rule("follows>=3", "x-v2") == Threshold("user_follows", 3)
    with pytest.raises(ConfigError, match="did you mean 'favorites'\\? 'likes' is its X API v2 name"):
        parse_rule("likes>=100")


def test_an_unwritable_place_names_the_flag_of_the_command() -> None:
    import errno

    from engagement_lab.cli import _explain

    error = OSError(errno.EROFS, os.strerror(errno.EROFS), "/ro/watch.db.lock")
    assert "--state elsewhere" in _explain(error, "watch")
    assert "--out" not in _explain(error, "watch")
    assert "--out elsewhere" in _explain(error, "fetch")


def test_a_state_that_is_not_a_state_is_named(tmp_path: Path) -> None:
    from engagement_lab import ConfigError

    path = tmp_path / "notes.txt"
    path.write_text("not a database, just text\n" * 100)
    with pytest.raises(ConfigError, match=r"notes\.txt.*cannot be opened for writing.*--state"):
        WatchState(path)
    WatchState(tmp_path / "fresh.db").close()  # and the lock was released: the next open works


def test_which_failures_leave_the_outcome_unknown() -> None:
    import httpx

    from engagement_lab.errors import EngagementLabError
    from engagement_lab.watch.actions import outcome_unknown

    request = httpx.Request("POST", "http://hooks.test/x")
    unknown = [
        httpx.ReadTimeout("slow", request=request),
        httpx.RemoteProtocolError("dropped", request=request),
        subprocess.TimeoutExpired(["notify"], 60),
    ]
    known = [
        httpx.ConnectError("refused", request=request),
        httpx.ConnectTimeout("no route", request=request),
        EngagementLabError("webhook answered HTTP 500"),
        EngagementLabError("command exited 1: boom"),
    ]
    assert all(outcome_unknown(exc) for exc in unknown)
    assert not any(outcome_unknown(exc) for exc in known)
