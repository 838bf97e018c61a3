"""Threshold watcher: poll lifetime totals (/totals, or X API v2 post analytics), fire each (tweet, rule) crossing
exactly once, survive restarts.

Every crossing is written to a SQLite state file (WAL, one transaction per poll) *before* its callback runs, so a
crash or restart never loses a crossing and never records it twice; undelivered events stay pending and are
retried with backoff. A crossing seen for the first time after downtime (or before the first poll) is marked
``late``. The callback may run again only if the process dies after it returned and before its success was
committed, so actions get a stable ``event_id`` to be idempotent with.
"""

from __future__ import annotations

from .actions import SIGNATURE_HEADER, TIMESTAMP_HEADER, command_action, sign, verify, webhook_action
from .rules import RateRule, Rule, Threshold, parse_rule
from .state import CrossingEvent, WatchState
from .watcher import PollResult, Watcher, watch

__all__ = [
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
