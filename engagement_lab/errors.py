"""The exception tree of engagement_lab.

Every message says what was expected, what was received and what to do. This module imports nothing
from the package, so every other module can raise these errors.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConfigError",
    "DataError",
    "EngagementLabError",
    "ForbiddenError",
    "InflationLimitError",
    "InputCancelled",
    "LockError",
    "NotAcceptableError",
    "QueryError",
    "RateLimitError",
    "ResponseFormatError",
    "ResponseTooLargeError",
    "ServerError",
    "StatsInputError",
    "StorageError",
    "check_choice",
    "did_you_mean",
]


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or ``""`` when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class EngagementLabError(Exception):
    """Base class of every error raised by engagement_lab."""


class ConfigError(EngagementLabError):
    """Missing or malformed credentials or settings."""


class InputCancelled(EngagementLabError):
    """The user ended input at a prompt (Ctrl-D, or Ctrl-Z then Enter on Windows): a cancel, not a failure; nothing
    was saved."""


class LockError(ConfigError):
    """Another process is writing the same archive or watcher state (the message names its pid)."""


class QueryError(EngagementLabError, ValueError):
    """A request breaks a documented Engagement API rule; raised before any network call.

    Attributes
    ----------
    rule : str
        A short, stable name of the broken rule (e.g. ``"tweet_ids.float"``), for tests and tooling.
    """

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class APIError(EngagementLabError):
    """A failure talking to the API. ``request`` describes what was sent (never credentials)."""

    def __init__(self, message: str, *, request: Any = None) -> None:
        super().__init__(message)
        self.request = request


class APIConnectionError(APIError):
    """The connection failed or dropped before a complete response arrived."""


class APITimeoutError(APIError):
    """The API did not answer within the timeout."""


class ResponseTooLargeError(APIError):
    """An answer larger than the fetch's ``max_response_bytes`` (as sent, or once inflated); the read stopped there
    and nothing of it was archived. ``limit`` is that cap in bytes."""

    def __init__(self, message: str, *, limit: int, request: Any = None) -> None:
        super().__init__(message, request=request)
        self.limit = limit


class ResponseFormatError(APIError):
    """A payload is not of any documented response shape.

    Attributes
    ----------
    path : str
        JSON path of the offending node, e.g. ``$['hourly']['123']['impressions']``.
    """

    def __init__(self, message: str, *, path: str = "$", request: Any = None) -> None:
        super().__init__(f"{message} (at {path})", request=request)
        self.path = path


class APIStatusError(APIError):
    """The API answered with an error status.

    Attributes
    ----------
    status_code : int
    body : str
        The response body as text.
    messages : list of str
        The strings of the body's ``"errors"`` array (empty when absent).
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: str = "",
        messages: Sequence[str] = (),
        request: Any = None,
    ) -> None:
        super().__init__(message, request=request)
        self.status_code = status_code
        self.body = body
        self.messages = list(messages)


class BadRequestError(APIStatusError):
    """HTTP 400: invalid body, or protected Tweets ("Tweet ID(s) are unavailable")."""


class AuthenticationError(APIStatusError):
    """HTTP 401: bad or missing credentials."""


class ForbiddenError(APIStatusError):
    """HTTP 403: the token's user does not own some Tweets. ``tweet_ids`` lists them."""

    def __init__(self, message: str, *, tweet_ids: Sequence[str] = (), **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.tweet_ids = list(tweet_ids)


class NotAcceptableError(APIStatusError):
    """HTTP 406: the request did not accept gzip."""


class RateLimitError(APIStatusError):
    """HTTP 429. ``reset_at`` is when the per-minute window resets (UTC), when the API said."""

    def __init__(self, message: str, *, reset_at: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.reset_at = reset_at


class ServerError(APIStatusError):
    """HTTP 5xx: a server-side failure, safe to retry."""


class DataError(EngagementLabError, ValueError):
    """A frame has the wrong shape or dtype, ids lost precision, or a column is unknown."""


class InflationLimitError(DataError):
    """Compressed data that would inflate past its cap (a decompression bomb, or a file far larger than it says it
    is): refused while inflating, before it is held in memory. ``limit`` is the cap in bytes."""

    def __init__(self, message: str, *, limit: int | None = None) -> None:
        super().__init__(message)
        self.limit = limit


class StorageError(EngagementLabError, OSError):
    """A file could not be written or replaced: a full disk, a read-only or forbidden folder. Also an ``OSError``
    (``errno``, ``filename``); the message names the file and the fix."""

    def __init__(self, exc: OSError, path: object, fix: str) -> None:
        super().__init__(exc.errno or 0, f"cannot write {str(path)!r}: {exc.strerror or exc}; {fix}", str(path))

    def __str__(self) -> str:
        return str(self.strerror)


class StatsInputError(EngagementLabError, ValueError):
    """Bad arguments to a statistic."""


def check_choice(name: str, value: object, choices: Sequence[str], error: type[Exception] | None = None) -> Any:
    """Return ``value`` when it is one of ``choices``; otherwise raise ``error`` (default
    :class:`StatsInputError`) naming the option, what was given, the closest choice and every choice.

    Examples
    --------
    >>> check_choice("alternative", "greater", ["two-sided", "greater", "less"])
    'greater'
    """
    if isinstance(value, str) and value in choices:
        return value
    hint = did_you_mean(value, choices) if isinstance(value, str) else ""
    raise (error or StatsInputError)(f"{name}={value!r} is not an option{hint}; choose one of {list(choices)}")
