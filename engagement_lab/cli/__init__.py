"""The ``engagement-lab`` command: exit 0 on success, 1 on failure (reason on stderr), 2 on bad usage."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ..errors import EngagementLabError
from .common import read_ids_file
from .data import add_auth, add_fetch, add_report
from .serve import add_demo, add_sample, add_sandbox
from .watching import add_watch

__all__ = ["build_parser", "main", "read_ids_file"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engagement-lab",
        description="A/B benchmarking of tweet engagement on the X/Twitter Engagement API.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_sandbox(commands)
    add_fetch(commands)
    add_auth(commands)
    add_demo(commands)
    add_report(commands)
    add_watch(commands)
    add_sample(commands)
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
