"""The ``load`` command: any files a user holds -> one tidy Parquet (or CSV) file, and what each file was."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from ..errors import ConfigError

__all__ = ["add_load"]

_FORMATS = (".parquet", ".csv")


def add_load(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = commands.add_parser(
        "load",
        help="read exports, twarc files, v2 answers, Engagement API responses and archives into one tidy file",
        description="Recognise each file's kind from its content and read them all into one tidy table (one number "
        "seen in several files is kept once, the latest; lifetime totals are never added). Prints every file with "
        "its kind and rows.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files, folders (fetch archives included) or globs")
    p.add_argument("--out", required=True, help="the tidy table to write: a .parquet or .csv file")
    p.add_argument(
        "--keep",
        help="when two files disagree on a lifetime total and neither is known to be later: 'last' (the later "
        "PATH given) or the name of the file to believe (default: refuse, naming both)",
    )
    p.add_argument(
        "--skip-unreadable", action="store_true", help="leave out files that cannot be read (listed), not stop"
    )
    p.set_defaults(run=_run_load)


def _run_load(args: argparse.Namespace) -> int:
    import polars as pl

    from ..load import load

    out = Path(args.out)
    if out.suffix.lower() not in _FORMATS:
        raise ConfigError(f"--out {args.out!r}: name a .parquet or .csv file (e.g. --out tidy.parquet)")
    frame, report = load(
        args.paths, backend="polars", keep=args.keep, on_error="skip" if args.skip_unreadable else "raise",
        report=True,
    )  # fmt: skip
    assert isinstance(frame, pl.DataFrame)
    for line in report.kinds:
        print(line)
    for line in report.refused:
        print(f"left out {line}")
    out.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    os.close(handle)
    try:  # written aside, then renamed: a reader never sees half a file, a failure leaves no debris
        if out.suffix.lower() == ".csv":
            frame.write_csv(temporary)
        else:
            frame.write_parquet(temporary)
        os.replace(temporary, out)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    tweets = frame["tweet_id"].n_unique() if "tweet_id" in frame.columns else 0
    print(f"wrote {frame.height:,} tidy rows ({tweets:,} tweets) to {out}")
    return 0
