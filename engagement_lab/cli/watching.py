"""The ``watch`` command."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from datetime import UTC, datetime
from types import FrameType
from typing import Any

from .. import sources
from ..errors import ConfigError
from .common import TokenSaver, api_arg, duration, read_ids_file

__all__ = ["add_watch"]


def add_watch(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "watch",
        help="fire an action once when a tweet crosses a threshold",
        description="Poll lifetime totals for the listed tweets within the rate limit (the Engagement API's /totals, "
        "or X API v2 post analytics with --api x-v2) and run an action once per (tweet, rule) crossing, "
        "remembered in a SQLite state file across restarts. Delivery is at-least-once: an action in flight when the "
        "watcher is killed runs again on restart with the same event id and the redelivery flag "
        "(X-Engagement-Lab-Event-Id / X-Engagement-Lab-Redelivery headers, ENGAGEMENT_EVENT_ID / "
        "ENGAGEMENT_REDELIVERY for --command), so dedupe on the event id. Without --webhook or --command, "
        "events are printed as JSON lines. Stops cleanly on Ctrl-C or SIGTERM.",
    )
    p.add_argument("--ids-file", help="one tweet id per line, or a CSV with tweet_id (and account)")
    p.add_argument(
        "--rule",
        action="append",
        default=[],
        help="e.g. 'favorites>=100' or 'engagement_rate>=0.05/1000' (quote it: >= is a shell redirect; repeatable)",
    )
    p.add_argument("--every", type=duration, default=300.0, help="poll interval: 30s, 5m, 1h (default 5m)")
    p.add_argument("--state", required=True, help="SQLite state file (created if missing)")
    p.add_argument("--webhook", help="POST each event here, signed with HMAC-SHA256")
    p.add_argument("--webhook-secret-env", help="environment variable holding the webhook secret")
    p.add_argument(
        "--command",
        help="run this command per event (event JSON on stdin and in ENGAGEMENT_EVENT, its id in ENGAGEMENT_EVENT_ID, "
        "ENGAGEMENT_REDELIVERY=1 when an earlier attempt may have run)",
    )
    p.add_argument("--once", action="store_true", help="poll once and exit (for cron)")
    p.add_argument("--list", action="store_true", help="list the recorded events and their delivery status, then exit")
    p.add_argument(
        "--api",
        type=api_arg("watch"),
        default="engagement",
        metavar="{" + ",".join(sources.names("watch")) + "}",
        help="engagement: POST /insights/engagement/totals (default); x-v2: GET /2/tweets/analytics, granularity=total "
        "since each tweet's creation (likes read as favorites; v2-only totals such as bookmarks can be watched)",
    )
    p.add_argument("--base-url", help="the API host (default: the chosen API's)")
    p.add_argument("--credentials", help="JSON credentials file (default: ENGAGEMENT_* variables)")
    p.set_defaults(run=_run_watch)


def _watch_action(args: argparse.Namespace) -> Any:
    from ..watch import command_action, webhook_action

    if args.webhook:
        secret = os.environ.get(args.webhook_secret_env or "", "")
        if not secret:
            raise ConfigError("--webhook needs --webhook-secret-env naming a set environment variable with the secret")
        return webhook_action(args.webhook, secret)
    if args.command:
        return command_action(args.command)
    return lambda event: print(event.to_json(), flush=True)


def _run_watch(args: argparse.Namespace) -> int:
    from ..api import Credentials
    from ..watch import Watcher, WatchState

    if args.list:
        reader = WatchState(args.state, writer=False)
        try:
            for entry in reader.listing():
                print(json.dumps(entry))
        finally:
            reader.close()
        return 0
    if not args.ids_file or not args.rule:
        raise ConfigError("give --ids-file and at least one --rule (or --list)")
    ids, owners = read_ids_file(args.ids_file)
    credentials = Credentials.load(args.credentials)
    watcher = Watcher(
        ids,
        args.rule,
        credentials=credentials,
        state=args.state,
        on_cross=_watch_action(args),
        interval=args.every,
        owners=owners,
        api=args.api,
        base_url=args.base_url,
        on_token_refresh=TokenSaver(credentials, args.credentials) if args.api == "x-v2" else None,
    )
    stop = {"now": False}

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    end = "\r" if sys.stderr.isatty() else "\n"

    outcome = {"nothing_polled": False}

    def status(result: Any) -> None:
        outcome["nothing_polled"] = result.nothing_polled
        for tweet_id, reason in result.newly_skipped:
            print(f"skipping tweet {tweet_id}: {reason} (the others are still polled)", file=sys.stderr, flush=True)
        if result.unexpected:
            print(f"ignored {result.unexpected} id(s) in the answer that were not asked for", file=sys.stderr)
        when = datetime.fromtimestamp(result.polled_at, UTC).strftime("%H:%M:%S")
        print(
            f"[{when}] {result.tweets} tweets polled, {len(result.new_events)} new crossing(s), "
            f"{result.delivered} delivered, {result.pending} pending",
            end=end,
            file=sys.stderr,
            flush=True,
        )

    try:
        watcher.run(max_polls=1 if args.once else None, should_stop=lambda: stop["now"], on_status=status)
    finally:
        watcher.close()
    if args.once and outcome["nothing_polled"]:
        print(
            f"engagement-lab: no tweet could be polled (the API at {watcher.base_url} did not answer); "
            "nothing was recorded, run again later",
            file=sys.stderr,
        )
        return 1
    return 0
