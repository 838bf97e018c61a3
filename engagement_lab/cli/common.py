"""Argument types and input files shared by the commands."""

from __future__ import annotations

import argparse
import csv
import sys
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .. import sources
from ..errors import ConfigError, InputCancelled, did_you_mean
from ..timeutil import parse_time

if TYPE_CHECKING:
    from ..api.auth import Credentials, OAuth2Token

__all__ = [
    "RenamedFlag",
    "TokenSaver",
    "api_arg",
    "ask",
    "duration",
    "now_arg",
    "positive_int",
    "rate_arg",
    "read_ids_file",
    "renamed_choice",
    "time_arg",
]


def _note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr)


def api_arg(part: sources.Part) -> Callable[[str], str]:
    """``--api``: a registered source that has ``part`` (a fetch, a watch reader); the previous release's spelling
    (``v2``) is taken with a note naming the new one (``x-v2``)."""

    def parse(text: str) -> str:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DeprecationWarning)
            try:
                name = sources.get(text, part).name
            except ConfigError as exc:
                raise argparse.ArgumentTypeError(str(exc).replace("api=", "", 1)) from None
        for warning in caught:
            _note(str(warning.message))
        return name

    parse.__name__ = "api"  # argparse names the type in its messages
    return parse


class RenamedFlag(argparse.Action):
    """An option whose first spelling is its name and whose others are the previous release's: they still work,
    with a note naming the new one."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object, flag: str | None = None
    ) -> None:
        if flag is not None and flag != self.option_strings[0]:
            _note(f"{flag} is now called {self.option_strings[0]}; the old spelling works for one more release")
        setattr(namespace, self.dest, values)


def renamed_choice(choices: Mapping[str, str], old: Mapping[str, str]) -> Callable[[str], str]:
    """A positional choice (``choices``: name -> help) whose previous spellings (``old``: old -> new) still work,
    with a note naming the new one."""

    def parse(text: str) -> str:
        if text in old:
            _note(f"{text!r} is now called {old[text]!r}; the old spelling works for one more release")
            return old[text]
        if text not in choices:
            hint = did_you_mean(text, choices)
            raise argparse.ArgumentTypeError(f"{text!r} is not one of {list(choices)}{hint}")
        return text

    parse.__name__ = "choice"
    return parse


def ask(prompt: str) -> str:
    """A line typed at ``prompt``; end of input (Ctrl-D) is the user cancelling: :class:`InputCancelled`."""
    try:
        return input(prompt)
    except EOFError:
        print(file=sys.stderr)  # the cursor is still after the prompt
        raise InputCancelled("cancelled at the prompt (end of input); nothing was saved") from None


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def rate_arg(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a rate between 0 and 1, got {text}")
    return value


def now_arg(text: str) -> datetime | str:
    if text == "real":
        return text
    try:
        return parse_time(text, name="--now")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def time_arg(name: str) -> Callable[[str], datetime]:
    """An argparse type for an ISO UTC time that names its argument when the text is not a time."""

    def parse(text: str) -> datetime:
        try:
            return parse_time(text, name=name)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"expected a duration such as 30s, 5m or 1h, got {text!r}") from None


def byte_size(text: str) -> int:
    """A size such as ``256MB``, ``1GB``, ``512KB`` or a number of bytes (MB and MiB alike mean 2**20)."""
    units = {"": 1, "B": 1, "KB": 2**10, "MB": 2**20, "GB": 2**30}
    number = text.strip().upper().replace("IB", "B")
    unit = number.lstrip("0123456789.")
    try:
        size = int(float(number[: len(number) - len(unit)]) * units[unit.strip()])
    except (ValueError, KeyError):
        raise argparse.ArgumentTypeError(f"expected a size such as 64MB, 1GB or 500000, got {text!r}") from None
    if size < 1:
        raise argparse.ArgumentTypeError(f"expected a positive size such as 64MB, got {text!r}")
    return size


def read_ids_file(path: str | Path) -> tuple[list[str], dict[str, str]]:
    """Ids from a file of one id per line, or a CSV with a ``tweet_id`` column (and optionally ``account``)."""
    from ..ids import TweetIdError, parse_tweet_id, rounded_ids, rounded_ids_error

    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"ids file {str(path)!r} does not exist; give one tweet id per line, or a CSV with tweet_id")
    try:
        lines = source.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"ids file {str(path)!r} is not UTF-8 text (byte {exc.start}); save it as UTF-8 (spreadsheets: 'CSV UTF-8')"
        ) from None
    ids: list[str] = []
    owners: dict[str, str] = {}
    first = lines[0].split(",") if lines else []
    rows: list[dict[str, str]]
    if "tweet_id" in [c.strip() for c in first]:
        rows = list(csv.DictReader(lines))
        start = 2
    else:
        rows = [{"tweet_id": line} for line in lines]
        start = 1
    for number, row in enumerate(rows, start=start):
        text = (row.get("tweet_id") or "").strip()
        if not text or text.startswith("#"):
            continue
        try:
            tweet_id = parse_tweet_id(text)
        except TweetIdError as exc:
            raise ConfigError(f"{path}, line {number}: {exc}") from None
        ids.append(tweet_id)
        if (row.get("account") or "").strip():
            owners[tweet_id] = row["account"].strip()
    if not ids:
        raise ConfigError(f"{path} lists no tweet ids (one per line, or a CSV with a tweet_id column)")
    rounded = rounded_ids(ids)
    if rounded:
        raise ConfigError(str(rounded_ids_error(str(path), rounded)))
    return ids, owners


def read_media_keys(path: str | Path) -> tuple[list[str], dict[str, str]]:
    """Media keys (``7_1790...``) from a file of one per line, or a CSV with ``media_key`` (and ``account``)."""
    source = Path(path)
    if not source.is_file():
        raise ConfigError(f"media keys file {str(path)!r} does not exist; give one media key per line")
    lines = source.read_text(encoding="utf-8-sig").splitlines()
    header = [c.strip() for c in lines[0].split(",")] if lines else []
    rows = list(csv.DictReader(lines)) if "media_key" in header else [{"media_key": line} for line in lines]
    keys, owners = [], {}
    for row in rows:
        key = (row.get("media_key") or "").strip()
        if key and not key.startswith("#"):
            keys.append(key)
            if row.get("account"):
                owners[key] = row["account"].strip()
    if not keys:
        raise ConfigError(f"{path} lists no media keys (one per line, or a CSV with a media_key column)")
    return keys, owners


TOKEN_SAVE_WAIT = 10.0
"""Seconds a refreshed token waits for another process's save of the same credentials file to finish."""


class TokenSaver:
    """``on_token_refresh`` for the commands: each refreshed OAuth 2.0 token is written back to the credentials
    file it came from (the old refresh token stops working once used). Without a file (``ENGAGEMENT_*``
    variables) the new token lives only in this process.

    Two commands may share one file (a watcher and a fetch, each refreshing its own account), so a save holds
    the file's writer lock (``<file>.lock``, waited for at most ``TOKEN_SAVE_WAIT`` seconds), reads the file
    again and replaces only this account's OAuth 2.0 token: another process's newer tokens are never
    overwritten with this process's older copy."""

    def __init__(self, credentials: Credentials, path: str | None) -> None:
        self.credentials, self.path = credentials, path

    def __call__(self, handle: str, token: OAuth2Token) -> None:
        import time

        from ..api.auth import AccountTokens, Credentials, Secret
        from ..errors import LockError
        from ..locking import WriterLock

        refreshed = AccountTokens(handle, Secret(""), Secret(""), token)
        self.credentials = self.credentials.with_account(refreshed)
        if not self.path:
            return
        lock = WriterLock(f"{self.path}.lock", f"credentials file {self.path}")
        deadline = time.monotonic() + TOKEN_SAVE_WAIT
        while True:
            try:
                lock.acquire()
                break
            except LockError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        try:
            Credentials.load(self.path).with_account(refreshed).save(self.path)
        finally:
            lock.release()
