"""Commands that run the embedded sandbox: ``sandbox``, ``demo``, ``sample-data``."""

from __future__ import annotations

import argparse
import json
import signal
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from .. import sources
from .common import api_arg, now_arg, positive_int, rate_arg

__all__ = ["add_demo", "add_sample", "add_sandbox"]


def add_sandbox(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        type=now_arg,
        default=None,
        help="the world's fixed 'now' (ISO UTC), or 'real' for the real clock",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=0.0,
        help="run the world's clock this many times faster than real time (default 0: the clock stands still)",
    )
    p.add_argument(
        "--rate-limit-per-minute",
        type=positive_int,
        default=120,
        help="per-minute request budget (default 120)",
    )
    p.add_argument(
        "--fault-rate",
        type=rate_arg,
        default=0.0,
        help="share of requests that fail (5xx, extra 429, drops, truncation; default 0)",
    )
    p.add_argument("--fault-seed", type=int, default=0, help="seed of the fault generator (default 0)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="added latency per engagement request (default 0)")
    p.add_argument(
        "--confounded",
        action="store_true",
        help="a world where content types are not randomised: accounts and posting times confound them "
        "(true rate ratios in /sandbox/ground_truth.json)",
    )
    p.set_defaults(run=_run_sandbox)


def _run_sandbox(args: argparse.Namespace) -> int:
    from ..sandbox import AcceleratedClock, FaultConfig, FixedClock, SandboxApp, World, WorldClock
    from ..sandbox.server import make_server
    from ..sandbox.world import DEFAULT_NOW

    real = args.now == "real"
    start = datetime.now(UTC).replace(microsecond=0) if real else (args.now or DEFAULT_NOW)
    clock: WorldClock = WorldClock() if real else FixedClock(start)
    if args.speed > 0:
        clock = AcceleratedClock(start, speed=args.speed)
    app = SandboxApp(
        World(args.seed, now=start, confounded=args.confounded),
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


def add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "demo",
        help="run the main job on the embedded sandbox",
        description="Start the sandbox, fetch totals and hourly history for its tweets through the client, load "
        "them and print a summary per campaign and variant.",
    )
    p.add_argument("--out", default=None, help="output folder (default out/demo, or out/demo-x-v2 with --api x-v2)")
    p.add_argument("--seed", type=int, default=7, help="the sandbox world's seed (default 7)")
    p.add_argument(
        "--api",
        type=api_arg("fetch"),
        default="engagement",
        metavar="{" + ",".join(sources.names("fetch")) + "}",
        help="fetch through the Engagement API (default) or X API v2 post analytics (x-v2)",
    )
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from ..demo import run_demo

    out = args.out or ("out/demo" if args.api == "engagement" else f"out/demo-{args.api}")
    run_demo(Path(out), seed=args.seed, echo=print, api=args.api)
    return 0


def add_sample(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "sample-data",
        help="regenerate the bundled sample (byte for byte)",
        description="Fetch the sample archive from an in-process sandbox through the real client, with the tweet "
        "metadata and the world's ground truth.",
    )
    p.add_argument("--out", default="data/sample", help="output folder (default data/sample)")
    p.add_argument(
        "--seed", type=int, default=7, help="the sandbox world's seed (default 7, the seed of the bundled sample)"
    )
    p.set_defaults(run=_run_sample)


def _run_sample(args: argparse.Namespace) -> int:
    from ..datasets import write_sample

    result = write_sample(args.out, seed=args.seed)
    print(result.summary())
    return 0 if result.ok else 1
