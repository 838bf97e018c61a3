"""A faithful local Engagement API with a seeded synthetic world: the default for demos, notebooks, tests."""

from __future__ import annotations

from .app import RequestRecord, SandboxApp
from .faults import AcceleratedClock, Clock, FaultConfig, FixedClock
from .server import Sandbox, SandboxTransport
from .world import World

__all__ = [
    "AcceleratedClock",
    "Clock",
    "FaultConfig",
    "FixedClock",
    "RequestRecord",
    "Sandbox",
    "SandboxApp",
    "SandboxTransport",
    "World",
]
