"""The ``engagement-lab`` command: exit 0 on success, 1 on failure (reason on stderr), 2 on bad usage."""

from __future__ import annotations

import argparse
import errno
import sys
import traceback
from collections.abc import Sequence

from ..errors import EngagementLabError, InputCancelled
from ..report.startup import skip_slow_imports
from .common import read_ids_file
from .data import add_auth, add_compact, add_fetch, add_report
from .loading import add_load
from .planning import add_plan
from .serve import add_demo, add_sample, add_sandbox
from .watching import add_watch

__all__ = ["build_parser", "main", "read_ids_file"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="engagement-lab",
        description="A/B benchmarking of tweet engagement on the X/Twitter Engagement API.",
    )
    parser.add_argument("--debug", action="store_true", help="show the full traceback when a command fails")
    commands = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    add_sandbox(commands)
    add_fetch(commands)
    add_auth(commands)
    add_compact(commands)
    add_load(commands)
    add_demo(commands)
    add_report(commands)
    add_plan(commands)
    add_watch(commands)
    add_sample(commands)
    return parser


_WRITES_TO = {"watch": "--state", "report": "--out", "load": "--out", "fetch": "--out", "compact": "--out"}
"""The flag naming where each command writes, for a message about an unwritable place (``sample`` and ``demo``
also take ``--out``)."""


def _explain(exc: BaseException, command: str | None = None) -> str:
    """One paragraph for a failure: our errors say what and how to fix; the OS's get the file and the fix (naming
    the flag of ``command`` that chooses where it writes)."""
    if isinstance(exc, (EngagementLabError, ValueError)):
        return str(exc)
    if isinstance(exc, OSError):
        where = f" {exc.filename!r}" if exc.filename else ""
        flag = _WRITES_TO.get(command or "", "--out")
        fixes = {
            errno.ENOSPC: "the disk is full: free some space, then rerun the same command to resume",
            errno.EROFS: f"the file system is read-only: choose a writable place (e.g. {flag} elsewhere)",
            errno.EACCES: "permission denied: choose a folder you may write, or fix its permissions",
            errno.ENOENT: "no such file or folder: check the path",
        }
        fix = fixes.get(exc.errno or 0, "check the path and the disk, then rerun")
        return f"cannot use{where}: {exc.strerror or exc}; {fix}"
    return f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback, and please report it)"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code (0 done, 1 failed, 2 bad usage, 130 interrupted or cancelled
    at a prompt)."""
    skip_slow_imports()  # this process is ours: 3 s less for every command that draws or renders
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except KeyboardInterrupt:
        print("engagement-lab: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except InputCancelled as exc:  # Ctrl-D at a prompt: the user said no, nothing to report
        print(f"engagement-lab: {exc}", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            traceback.print_exc()
        print(f"engagement-lab: {_explain(exc, args.subcommand)}", file=sys.stderr)
        return 1
    return code
