"""A faithful local server of the Engagement API and X API v2 over a seeded synthetic world: the default for the
demo, the notebooks and the tests. Each API's routes live with the API (``sources/<name>/sandbox.py``); this
package holds the world, the WSGI app that mounts them, OAuth, faults and the server."""

from __future__ import annotations

from .app import RequestRecord, SandboxApp
from .faults import AcceleratedClock, FaultConfig, FixedClock, WorldClock
from .server import Sandbox, SandboxTransport
from .world import World

__all__ = [
    "AcceleratedClock",
    "FaultConfig",
    "FixedClock",
    "RequestRecord",
    "Sandbox",
    "SandboxApp",
    "SandboxTransport",
    "World",
    "WorldClock",
]


def __getattr__(name: str) -> object:
    if name == "Clock":
        from . import faults

        return faults.Clock
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
