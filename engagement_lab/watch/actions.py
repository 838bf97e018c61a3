"""Actions for crossings: a signed webhook, or a command with the event on stdin."""

from __future__ import annotations

import hashlib
import hmac
import os
import shlex
import subprocess
from collections.abc import Callable

import httpx

from ..errors import EngagementLabError
from .state import CrossingEvent

__all__ = ["SIGNATURE_HEADER", "command_action", "webhook_action"]

SIGNATURE_HEADER = "X-Engagement-Lab-Signature"


def webhook_action(
    url: str, secret: str, *, timeout: float = 10.0, transport: httpx.BaseTransport | None = None
) -> Callable[[CrossingEvent], None]:
    """POST the event as JSON, signed: header ``X-Engagement-Lab-Signature: sha256=<hex HMAC of the body>``."""

    def send(event: CrossingEvent) -> None:
        body = event.to_json().encode()
        signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: f"sha256={signature}"}
        with httpx.Client(timeout=timeout, transport=transport) as client:
            response = client.post(url, content=body, headers=headers)
        if response.status_code >= 300:
            raise EngagementLabError(f"webhook answered HTTP {response.status_code}")

    return send


def command_action(command: str, *, timeout: float = 60.0) -> Callable[[CrossingEvent], None]:
    """Run a shell-free command with the event JSON on stdin and in ``ENGAGEMENT_EVENT``; non-zero exit fails."""
    argv = shlex.split(command)

    def run(event: CrossingEvent) -> None:
        env = {**os.environ, "ENGAGEMENT_EVENT": event.to_json()}
        done = subprocess.run(
            argv, input=event.to_json(), text=True, env=env, timeout=timeout, capture_output=True, check=False
        )
        if done.returncode != 0:
            raise EngagementLabError(f"command exited {done.returncode}: {done.stderr.strip()[:200]}")

    return run
