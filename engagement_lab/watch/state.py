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
    """One (tweet, rule) crossing."""

    event_id: str
    tweet_id: str
    rule: str
    value: float
    previous_value: float | None
    crossed_at: str
    late: bool

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS observations (
    tweet_id TEXT, rule TEXT, value REAL, polled_at TEXT, PRIMARY KEY (tweet_id, rule));
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, tweet_id TEXT, rule TEXT, value REAL, previous_value REAL, crossed_at TEXT, late INTEGER,
    status TEXT, attempts INTEGER DEFAULT 0, next_attempt REAL DEFAULT 0, last_error TEXT, delivered_at TEXT,
    UNIQUE (tweet_id, rule));
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


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
            "SELECT event_id, tweet_id, rule, value, previous_value, crossed_at, late FROM events "
            "WHERE status = 'pending' AND next_attempt <= ? ORDER BY crossed_at, event_id",
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
            )
            for r in rows
        ]

    def delivered(self, event_id: str, now: float) -> None:
        with self.db:
            self.db.execute(
                "UPDATE events SET status = 'delivered', attempts = attempts + 1, delivered_at = ? WHERE event_id = ?",
                (datetime.fromtimestamp(now, UTC).isoformat(), event_id),
            )

    def failed(self, event_id: str, error: str, now: float, *, retry_base: float) -> None:
        """Keep the event pending; retry after ``retry_base * 2**attempts`` seconds (at most an hour)."""
        with self.db:
            self.db.execute(
                "UPDATE events SET attempts = attempts + 1, last_error = ?, "
                "next_attempt = ? + MIN(3600.0, ? * (1 << attempts)) WHERE event_id = ?",
                (error[:500], now, retry_base, event_id),
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
