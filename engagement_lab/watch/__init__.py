"""Threshold watcher: poll lifetime totals (/totals, or X API v2 post analytics), fire each (tweet, rule) crossing
at least once, survive restarts.

Every crossing is written to a SQLite state file (WAL, one transaction per poll) *before* its action runs, so a
crash or restart never loses a crossing; undelivered events stay pending and are retried with backoff. A crossing
seen for the first time after downtime (or before the first poll) is marked ``late``. Each attempt is recorded as
begun before the action runs: a process killed after that and before the success was committed runs that one
action again on restart, with the same stable ``event_id`` and ``redelivery`` set, so the receiver dedupes on the
id. Delivery is at-least-once; the duplicate window is the single action in flight at a crash.
"""

from __future__ import annotations

from .actions import (
    EVENT_ID_ENV,
    EVENT_ID_HEADER,
    REDELIVERY_ENV,
    REDELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    command_action,
    sign,
    verify,
    webhook_action,
)
from .rules import RateRule, Rule, Threshold, parse_rule
from .state import CrossingEvent, WatchState
from .watcher import PollResult, Watcher, watch

__all__ = [
    "EVENT_ID_ENV",
    "EVENT_ID_HEADER",
    "REDELIVERY_ENV",
    "REDELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "CrossingEvent",
    "PollResult",
    "RateRule",
    "Rule",
    "Threshold",
    "WatchState",
    "Watcher",
    "command_action",
    "parse_rule",
    "sign",
    "verify",
    "watch",
    "webhook_action",
]
