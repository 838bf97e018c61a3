"""The watcher's durable state (SQLite, WAL): observations, crossing events and their delivery status."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..locking import WriterLock

__all__ = ["CrossingEvent", "WatchState"]


@dataclass(frozen=True)
class CrossingEvent:
    """One (tweet, rule) crossing, as handed to an action.

    ``event_id`` is stable: the same (tweet, rule) always has the same id, on every attempt and after any restart,
    so a receiver dedupes on it. ``attempt`` counts the tries of this event (1 on the first). ``redelivery`` is
    True when an earlier attempt may already have reached the receiver and the watcher cannot know: it was killed
    between "about to deliver" and "delivered", or the attempt timed out.
    """

    event_id: str
    tweet_id: str
    rule: str
    value: float
    previous_value: float | None
    crossed_at: str
    late: bool
    attempt: int = 1
    redelivery: bool = False

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS observations (
    tweet_id TEXT, rule TEXT, value REAL, polled_at TEXT, PRIMARY KEY (tweet_id, rule));
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, tweet_id TEXT, rule TEXT, value REAL, previous_value REAL, crossed_at TEXT, late INTEGER,
    status TEXT, attempts INTEGER DEFAULT 0, next_attempt REAL DEFAULT 0, last_error TEXT, delivered_at TEXT,
    started INTEGER DEFAULT 0, unsure INTEGER DEFAULT 0, UNIQUE (tweet_id, rule));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""

_ADDED_COLUMNS = {"started": "INTEGER DEFAULT 0", "unsure": "INTEGER DEFAULT 0"}
"""Columns newer than the first release's state files, added on open: ``started`` counts attempts begun (committed
before the action runs), ``attempts`` counts attempts whose outcome was recorded; ``started > attempts`` means the
watcher died during an attempt. ``unsure`` remembers that some attempt's outcome is unknown (see :meth:`begin`)."""


class WatchState:
    """The watcher's SQLite state: last observation per (tweet, rule), events and their delivery status.

    One writer at a time: a writer holds the advisory lock ``<state>.lock`` until :meth:`close` (or its process
    ends, ``kill -9`` included), so a second watcher on the same state fails at once naming the first one's pid
    instead of delivering every event twice. ``writer=False`` opens the file read-only without the lock (for
    listing events while a watcher runs).
    """

    def __init__(self, path: str | Path, *, writer: bool = True) -> None:
        self.path = Path(path)
        self._lock = WriterLock(self.path.with_name(self.path.name + ".lock"), f"watcher state {str(self.path)!r}")
        if not writer:
            if not self.path.is_file():
                raise ConfigError(f"watcher state {str(self.path)!r} does not exist yet; run a watch first")
            self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
            return
        self._lock.acquire()
        try:
            self.db = sqlite3.connect(self.path, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
            have = {row[1] for row in self.db.execute("PRAGMA table_info(events)")}
            for column, kind in _ADDED_COLUMNS.items():
                if column not in have:
                    self.db.execute(f"ALTER TABLE events ADD COLUMN {column} {kind}")
        except sqlite3.DatabaseError as exc:  # not a state file, or a place SQLite cannot write
            self._lock.release()
            raise ConfigError(
                f"watcher state {str(self.path)!r} cannot be opened for writing ({exc}): choose a writable path "
                "that is a watcher state or does not exist yet (state= / --state)"
            ) from exc
        except BaseException:
            self._lock.release()
            raise

    def close(self) -> None:
        self.db.close()
        self._lock.release()

    def last_poll(self) -> float | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = 'last_poll'").fetchone()
        return float(row[0]) if row else None

    def previous(self) -> dict[tuple[str, str], float]:
        return {(t, r): v for t, r, v in self.db.execute("SELECT tweet_id, rule, value FROM observations")}

    def fired(self) -> set[tuple[str, str]]:
        return {(t, r) for t, r in self.db.execute("SELECT tweet_id, rule FROM events")}

    def record(
        self, observations: Iterable[tuple[str, str, float]], events: Sequence[CrossingEvent], polled: float
    ) -> None:
        """One transaction: new observations, new events (pending), and the poll time."""
        stamp = datetime.fromtimestamp(polled, UTC).isoformat()
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT OR REPLACE INTO observations VALUES (?, ?, ?, ?)", [(*o, stamp) for o in observations]
            )
            self.db.executemany(
                "INSERT OR IGNORE INTO events "
                "(event_id, tweet_id, rule, value, previous_value, crossed_at, late, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                [
                    (e.event_id, e.tweet_id, e.rule, e.value, e.previous_value, e.crossed_at, int(e.late))
                    for e in events
                ],
            )
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('last_poll', ?)", (repr(polled),))

    def due(self, now: float) -> list[CrossingEvent]:
        rows = self.db.execute(
            "SELECT event_id, tweet_id, rule, value, previous_value, crossed_at, late, started, attempts, unsure "
            "FROM events WHERE status = 'pending' AND next_attempt <= ? ORDER BY crossed_at, event_id",
            (now,),
        ).fetchall()
        return [
            CrossingEvent(
                event_id=r[0],
                tweet_id=r[1],
                rule=r[2],
                value=r[3],
                previous_value=r[4],
                crossed_at=r[5],
                late=bool(r[6]),
                attempt=r[7] + 1,
                redelivery=bool(r[9]) or r[7] > r[8],
            )
            for r in rows
        ]

    def begin(self, event_id: str) -> None:
        """Record, durably and before the action runs, that an attempt starts. If the process dies before
        :meth:`delivered` or :meth:`failed`, the next attempt sees ``started > attempts`` and is flagged as a
        possible redelivery; only this one in-flight event can be delivered twice."""
        with self.db:
            self.db.execute("UPDATE events SET started = started + 1 WHERE event_id = ?", (event_id,))

    def delivered(self, event_id: str, now: float) -> None:
        with self.db:
            self.db.execute(
                "UPDATE events SET status = 'delivered', attempts = attempts + 1, delivered_at = ? WHERE event_id = ?",
                (datetime.fromtimestamp(now, UTC).isoformat(), event_id),
            )

    def failed(self, event_id: str, error: str, now: float, *, retry_base: float, unsure: bool = False) -> None:
        """Keep the event pending; retry after ``retry_base * 2**attempts`` seconds (at most an hour). ``unsure``
        says the attempt may have reached the receiver (it timed out), so every later attempt is a redelivery."""
        with self.db:
            self.db.execute(
                "UPDATE events SET attempts = attempts + 1, last_error = ?, unsure = MAX(unsure, ?), "
                "next_attempt = ? + MIN(3600.0, ? * (1 << attempts)) WHERE event_id = ?",
                (error[:500], int(unsure), now, retry_base, event_id),
            )

    def pending(self) -> int:
        """How many events still wait for a successful action."""
        return int(self.db.execute("SELECT COUNT(*) FROM events WHERE status = 'pending'").fetchone()[0])

    def listing(self) -> list[dict[str, Any]]:
        """Every event with its delivery status, attempts and last error (for a status display). A state a
        watcher is still creating (its tables not yet written) has none."""
        created = self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone()
        if created is None:
            return []
        cursor = self.db.execute(
            "SELECT event_id, tweet_id, rule, value, crossed_at, late, status, attempts, last_error, delivered_at "
            "FROM events ORDER BY crossed_at, event_id"
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
