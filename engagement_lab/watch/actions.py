"""Actions for crossings: a signed webhook, or a command with the event on stdin."""

from __future__ import annotations

import hashlib
import hmac
import os
import shlex
import subprocess
import time
from collections.abc import Callable, Mapping

import httpx

from ..api.bounded import bound_sockets, deadline
from ..errors import EngagementLabError
from .state import CrossingEvent

__all__ = [
    "EVENT_ID_ENV",
    "EVENT_ID_HEADER",
    "REDELIVERY_ENV",
    "REDELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "command_action",
    "outcome_unknown",
    "sign",
    "verify",
    "webhook_action",
]

SIGNATURE_HEADER = "X-Engagement-Lab-Signature"
TIMESTAMP_HEADER = "X-Engagement-Lab-Timestamp"
EVENT_ID_HEADER = "X-Engagement-Lab-Event-Id"
"""The event's stable id (also ``event_id`` in the body): the same on every attempt, the key to dedupe on."""
REDELIVERY_HEADER = "X-Engagement-Lab-Redelivery"
"""``true`` when an earlier attempt of this event may already have arrived (also ``redelivery`` in the body)."""
EVENT_ID_ENV = "ENGAGEMENT_EVENT_ID"
REDELIVERY_ENV = "ENGAGEMENT_REDELIVERY"
"""``1`` or ``0``, for a command; the whole event is in ``ENGAGEMENT_EVENT`` and on stdin."""


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a failed attempt may nevertheless have reached the receiver: it timed out or the connection dropped
    after the request could have been sent (a refused connection or an error status is a clear "not delivered")."""
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return False
    return isinstance(
        exc,
        TimeoutError | subprocess.TimeoutExpired | httpx.TimeoutException | httpx.RemoteProtocolError | httpx.ReadError,
    )


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of "<timestamp>." + body>``: the timestamp is signed too, so a captured
    delivery cannot be replayed later with a fresh timestamp."""
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: float, tolerance: float = 300.0) -> bool:
    """What a receiver checks: the signature matches and the delivery is at most ``tolerance`` seconds old.

    Examples
    --------
    >>> body = b'{"tweet_id": "1"}'
    >>> headers = {TIMESTAMP_HEADER: "1000", SIGNATURE_HEADER: sign("s3cret", "1000", body)}
    >>> verify("s3cret", headers, body, now=1010), verify("s3cret", headers, body, now=2000)
    (True, False)
    """
    lower = {str(k).lower(): v for k, v in headers.items()}
    stamp, signature = lower.get(TIMESTAMP_HEADER.lower(), ""), lower.get(SIGNATURE_HEADER.lower(), "")
    # Anything malformed (not text, not ASCII, not a number) is simply not a valid delivery: False, never a raise.
    if not isinstance(stamp, str) or not isinstance(signature, str) or not (stamp.isascii() and signature.isascii()):
        return False
    try:
        fresh = abs(now - float(stamp)) <= tolerance
    except ValueError:
        return False
    return fresh and hmac.compare_digest(signature.encode(), sign(secret, stamp, body).encode())


def webhook_action(
    url: str,
    secret: str,
    *,
    timeout: float = 10.0,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> Callable[[CrossingEvent], None]:
    """POST the event as JSON with ``X-Engagement-Lab-Timestamp: <unix seconds>``,
    ``X-Engagement-Lab-Signature: sha256=<hex HMAC of "<timestamp>." + body>`` (see :func:`verify`),
    ``X-Engagement-Lab-Event-Id`` (dedupe on it) and ``X-Engagement-Lab-Redelivery: true|false``."""

    def send(event: CrossingEvent) -> None:
        body = event.to_json().encode()
        stamp = str(int(clock()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(secret, stamp, body),
            EVENT_ID_HEADER: event.event_id,
            REDELIVERY_HEADER: "true" if event.redelivery else "false",
        }
        # a receiver that drips or never stops sending cannot hold the watcher: the whole exchange has a deadline
        # at the socket, and the answer's body is never read (its status is the answer)
        client = httpx.Client(timeout=timeout, transport=transport)
        if transport is None:
            bound_sockets(client)
        with deadline(timeout), client, client.stream("POST", url, content=body, headers=headers) as response:
            status = response.status_code
        if status >= 300:
            raise EngagementLabError(f"webhook answered HTTP {status}")

    return send


def command_action(command: str, *, timeout: float = 60.0) -> Callable[[CrossingEvent], None]:
    """Run a shell-free command with the event JSON on stdin and in ``ENGAGEMENT_EVENT``, its id in
    ``ENGAGEMENT_EVENT_ID`` and ``ENGAGEMENT_REDELIVERY=1`` when an earlier attempt may have run; non-zero exit
    fails."""
    argv = shlex.split(command)

    def run(event: CrossingEvent) -> None:
        env = {
            **os.environ,
            "ENGAGEMENT_EVENT": event.to_json(),
            EVENT_ID_ENV: event.event_id,
            REDELIVERY_ENV: "1" if event.redelivery else "0",
        }
        done = subprocess.run(
            argv, input=event.to_json(), text=True, env=env, timeout=timeout, capture_output=True, check=False
        )
        if done.returncode != 0:
            raise EngagementLabError(f"command exited {done.returncode}: {done.stderr.strip()[:200]}")

    return run
