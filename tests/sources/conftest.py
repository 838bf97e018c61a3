"""The sources' tests use the fixtures of the layers they build on: the sandbox-backed client fixtures of
``tests/api`` and the backend fixture of ``tests/load``."""

from __future__ import annotations

from ..api.conftest import app, credentials, transport, world
from ..load.conftest import backend

__all__ = ["app", "backend", "credentials", "transport", "world"]
