"""The ``engagement-lab`` command: exit 0 on success, 1 on failure (reason on stderr), 2 on bad usage."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from types import FrameType

from .errors import EngagementLabError
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engagement-lab",
        description="A/B benchmarking of tweet engagement on the X/Twitter Engagement API.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_sandbox(commands)
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
