"""The ``engagement-lab`` command: exit 0 on success, 1 on failure (reason on stderr), 2 on bad usage."""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from . import catalog
from .errors import ConfigError, EngagementLabError
from .timeutil import parse_time

__all__ = ["main"]


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a rate between 0 and 1, got {text}")
    return value


def _now(text: str) -> datetime | str:
    if text == "real":
        return text
    try:
        return parse_time(text, name="--now")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_sandbox(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "sandbox",
        help="serve a local Engagement API with a seeded synthetic world",
        description="Serve the sandbox on loopback. The first stdout line is one JSON object with base_url, "
        "consumer_key, consumer_secret, bearer_token, accounts (with access tokens for owned ones) and, "
        "when the clock is fixed, now. Stop with Ctrl-C or SIGTERM.",
    )
    p.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    p.add_argument("--seed", type=int, default=7, help="world seed (default 7)")
    p.add_argument(
        "--now",
        type=_now,
        default=None,
        help="the world's fixed 'now' (ISO UTC), or 'real' for the real clock",
    )
    p.add_argument(
        "--speed", type=float, default=0.0, help="run the world's clock this many times faster than real time"
    )
    p.add_argument(
        "--rate-limit-per-minute",
        type=_positive_int,
        default=120,
        help="per-minute request budget (default 120)",
    )
    p.add_argument(
        "--fault-rate",
        type=_rate,
        default=0.0,
        help="share of requests that fail (5xx, extra 429, drops, truncation)",
    )
    p.add_argument("--fault-seed", type=int, default=0, help="seed of the fault generator")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added latency per engagement request")
    p.set_defaults(run=_run_sandbox)


def _run_sandbox(args: argparse.Namespace) -> int:
    from .sandbox import AcceleratedClock, Clock, FaultConfig, FixedClock, SandboxApp, World
    from .sandbox.server import make_server
    from .sandbox.world import DEFAULT_NOW

    real = args.now == "real"
    start = datetime.now(UTC).replace(microsecond=0) if real else (args.now or DEFAULT_NOW)
    clock: Clock = Clock() if real else FixedClock(start)
    if args.speed > 0:
        clock = AcceleratedClock(start, speed=args.speed)
    app = SandboxApp(
        World(args.seed, now=start),
        clock=clock,
        rate_limit_per_minute=args.rate_limit_per_minute,
        faults=FaultConfig.mixed(args.fault_rate, seed=args.fault_seed, latency_ms=args.latency_ms),
    )
    server = make_server(app, args.host, args.port)
    host, port = server.server_address[:2]
    print(json.dumps(app.info(f"http://{host!s}:{port}")), flush=True)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def read_ids_file(path: str | Path) -> tuple[list[str], dict[str, str]]:
    """Ids from a file of one id per line, or a CSV with a ``tweet_id`` column (and optionally ``account``)."""
    from .ids import TweetIdError, parse_tweet_id

    lines = Path(path).read_text(encoding="utf-8-sig").splitlines()
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
    return ids, owners


def _add_fetch(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "fetch",
        help="fetch metrics into a resumable archive",
        description="Plan, pace and fetch an Engagement API query into an archive directory. Rerunning the same "
        "command resumes: archived requests are skipped. Credentials come from ENGAGEMENT_* variables (or .env) "
        "unless --credentials is given.",
    )
    p.add_argument("endpoint", choices=["totals", "28hr", "historical"])
    p.add_argument("--ids-file", required=True, help="one tweet id per line, or a CSV with tweet_id (and account)")
    p.add_argument("--out", required=True, help="archive directory (created; reused to resume)")
    p.add_argument("--base-url", default=catalog.BASE_URL, help=f"API base URL (default {catalog.BASE_URL})")
    p.add_argument("--credentials", help="JSON credentials file (several accounts) or .env-style file")
    p.add_argument("--metrics", nargs="+", default=["all"], help="metric names, or 'all' / 'public' (default all)")
    p.add_argument(
        "--groupings", nargs="+", default=None, help="grouping presets (default per_tweet for totals, hourly otherwise)"
    )
    p.add_argument("--start", help="historical start (ISO UTC)")
    p.add_argument("--end", help="historical end (ISO UTC)")
    p.add_argument("--bearer", action="store_true", help="use the app-only bearer token (public metrics on totals)")
    p.add_argument("--concurrency", type=_positive_int, default=4)
    p.add_argument("--requests-per-minute", type=_positive_int, default=None, help="budget until the API announces one")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(run=_run_fetch)


def _run_fetch(args: argparse.Namespace) -> int:
    from .api import Credentials, fetch
    from .query import EngagementQuery

    ids, owners = read_ids_file(args.ids_file)
    metrics = args.metrics[0] if args.metrics in (["all"], ["public"]) else args.metrics
    groupings = args.groupings or (["per_tweet"] if args.endpoint == "totals" else ["hourly"])
    query = EngagementQuery(
        args.endpoint, ids, metrics, groupings, start=args.start, end=args.end, auth="bearer" if args.bearer else "user"
    )
    result = fetch(
        query,
        credentials=Credentials.load(args.credentials),
        out=args.out,
        owners=owners,
        base_url=args.base_url,
        concurrency=args.concurrency,
        requests_per_minute=args.requests_per_minute,
        progress=not args.no_progress,
    )
    print(result.summary())
    if not result.ok:
        print(
            f"engagement-lab: {len(result.errors)} request(s) failed; rerun the same command to retry them",
            file=sys.stderr,
        )
        return 1
    return 0


def _add_auth(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "auth",
        help="authorise an account (PIN flow) or fetch the bearer token, and save the credentials",
        description="Runs the 3-legged OAuth 1.0a PIN flow: prints the authorise URL, reads the PIN, and saves the "
        "user's tokens next to the app's in a private (0600) JSON credentials file. --bearer fetches the app-only "
        "bearer token instead.",
    )
    p.add_argument("--base-url", default=catalog.BASE_URL, help="API base URL (the sandbox's for local work)")
    p.add_argument("--credentials", help="existing credentials file to start from (default: ENGAGEMENT_* variables)")
    p.add_argument("--save", required=True, help="where to write the credentials file")
    p.add_argument("--bearer", action="store_true", help="fetch the bearer token instead of authorising a user")
    p.set_defaults(run=_run_auth)


def _run_auth(args: argparse.Namespace) -> int:
    from .api import Credentials, authorize_pin, request_bearer_token

    credentials = Credentials.load(args.credentials)
    if args.bearer:
        credentials = request_bearer_token(credentials, base_url=args.base_url)
        print("bearer token obtained")
    else:
        tokens = authorize_pin(
            credentials,
            base_url=args.base_url,
            show=lambda url: print(f"Open this URL, authorise the app, and copy the PIN:\n  {url}", flush=True),
            ask_pin=lambda prompt: input(prompt),
        )
        credentials = credentials.with_account(tokens)
        print(f"authorised @{tokens.handle}")
    print(f"saved {credentials.save(args.save)} (mode 0600; keep it out of version control)")
    return 0


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "demo",
        help="run the main job on the embedded sandbox",
        description="Start the sandbox, fetch totals and hourly history for its tweets through the client, load "
        "them and print a summary per campaign and variant.",
    )
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    run_demo(Path(args.out), seed=args.seed, echo=print)
    return 0


def _add_report(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "report",
        help="render a self-contained HTML report from an archive",
        description="Execute the parameterised report notebook and render it to one HTML file with inline charts.",
    )
    p.add_argument("--archive", required=True, help="a fetch archive folder")
    p.add_argument("--metadata", required=True, help="tweet metadata CSV (tweet_id plus the --by column)")
    p.add_argument("--by", required=True, help="the column whose values are the groups")
    p.add_argument("--control", help="the reference group")
    p.add_argument("--metric", default="engagement_rate")
    p.add_argument("--where", help="keep only tweets where COLUMN=VALUE")
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--correction", default="holm", choices=["holm", "bonferroni", "fdr_bh", "fdr_by", "none"])
    p.add_argument("--title")
    p.add_argument("--out", required=True, help="the HTML file to write")
    p.set_defaults(run=_run_report)


def _run_report(args: argparse.Namespace) -> int:
    from .report import render_report

    path = render_report(
        archive=args.archive,
        metadata=args.metadata,
        by=args.by,
        out=args.out,
        control=args.control,
        metric=args.metric,
        where=args.where,
        alpha=args.alpha,
        correction=args.correction,
        title=args.title,
    )
    print(f"report written to {path}")
    return 0


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        return float(text[:-1]) * units[text[-1]] if text[-1] in units else float(text)
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(f"expected a duration such as 30s, 5m or 1h, got {text!r}") from None


def _add_watch(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "watch",
        help="fire an action once when a tweet crosses a threshold",
        description="Poll /totals for the listed tweets within the rate limit and run an action exactly once per "
        "(tweet, rule) crossing, remembered in a SQLite state file across restarts. Without --webhook or "
        "--command, events are printed as JSON lines. Stops cleanly on Ctrl-C or SIGTERM.",
    )
    p.add_argument("--ids-file", help="one tweet id per line, or a CSV with tweet_id (and account)")
    p.add_argument(
        "--rule", action="append", default=[], help="e.g. favorites>=100 or engagement_rate>=0.05/1000 (repeatable)"
    )
    p.add_argument("--every", type=_duration, default=300.0, help="poll interval: 30s, 5m, 1h (default 5m)")
    p.add_argument("--state", required=True, help="SQLite state file (created if missing)")
    p.add_argument("--webhook", help="POST each event here, signed with HMAC-SHA256")
    p.add_argument("--webhook-secret-env", help="environment variable holding the webhook secret")
    p.add_argument("--command", help="run this command per event (event JSON on stdin and in ENGAGEMENT_EVENT)")
    p.add_argument("--once", action="store_true", help="poll once and exit (for cron)")
    p.add_argument("--list", action="store_true", help="list the recorded events and their delivery status, then exit")
    p.add_argument("--base-url", default=catalog.BASE_URL)
    p.add_argument("--credentials", help="JSON credentials file (default: ENGAGEMENT_* variables)")
    p.set_defaults(run=_run_watch)


def _watch_action(args: argparse.Namespace) -> Any:
    from .watch import command_action, webhook_action

    if args.webhook:
        secret = os.environ.get(args.webhook_secret_env or "", "")
        if not secret:
            raise ConfigError("--webhook needs --webhook-secret-env naming a set environment variable with the secret")
        return webhook_action(args.webhook, secret)
    if args.command:
        return command_action(args.command)
    return lambda event: print(event.to_json(), flush=True)


def _run_watch(args: argparse.Namespace) -> int:
    from .api import Credentials
    from .watch import Watcher, WatchState

    if args.list:
        for entry in WatchState(args.state).listing():
            print(json.dumps(entry))
        return 0
    if not args.ids_file or not args.rule:
        raise ConfigError("give --ids-file and at least one --rule (or --list)")
    ids, owners = read_ids_file(args.ids_file)
    watcher = Watcher(
        ids,
        args.rule,
        credentials=Credentials.load(args.credentials),
        state=args.state,
        on_cross=_watch_action(args),
        interval=args.every,
        owners=owners,
        base_url=args.base_url,
    )
    stop = {"now": False}

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop["now"] = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    end = "\r" if sys.stderr.isatty() else "\n"

    def status(result: Any) -> None:
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
    return 0


def _add_sample(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "sample-data",
        help="regenerate the bundled sample (byte for byte)",
        description="Fetch the sample archive from an in-process sandbox through the real client, with the tweet "
        "metadata and the world's ground truth.",
    )
    p.add_argument("--out", default="data/sample", help="output folder (default data/sample)")
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(run=_run_sample)


def _run_sample(args: argparse.Namespace) -> int:
    from .datasets import write_sample

    result = write_sample(args.out, seed=args.seed)
    print(result.summary())
    return 0 if result.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engagement-lab",
        description="A/B benchmarking of tweet engagement on the X/Twitter Engagement API.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_sandbox(commands)
    _add_fetch(commands)
    _add_auth(commands)
    _add_demo(commands)
    _add_report(commands)
    _add_watch(commands)
    _add_sample(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except EngagementLabError as exc:
        print(f"engagement-lab: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"engagement-lab: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
