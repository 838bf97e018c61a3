"""The ``load`` command: any files a user holds -> one tidy Parquet (or CSV) file, and what each file was."""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

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
    p.add_argument("--out", required=True, type=_out_path, help="the tidy table to write: a .parquet or .csv file")
    p.add_argument(
        "--keep",
        help="when two files disagree on a lifetime total and neither is known to be later: 'last' (the later "
        "PATH given) or the name of the file to believe (default: refuse, naming both)",
    )
    p.add_argument(
        "--skip-unreadable", action="store_true", help="leave out files that cannot be read (listed), not stop"
    )
    p.set_defaults(run=_run_load)


def _out_path(text: str) -> Path:
    if Path(text).suffix.lower() not in _FORMATS:
        raise argparse.ArgumentTypeError(f"{text!r}: name a .parquet or .csv file (e.g. --out tidy.parquet)")
    return Path(text)


def _inputs(paths: list[str], out: Path) -> list[str]:
    """The paths, with a folder that holds ``--out`` given as the entries ``load(folder)`` would read, the table
    excepted (a rerun must not read the table it wrote as an input)."""
    from ..load.everything import SUFFIXES, is_archive

    chosen: list[str] = []
    for text in paths:
        folder = Path(text)
        if folder.is_dir() and not is_archive(folder) and out.exists() and out.resolve().parent == folder.resolve():
            chosen.extend(
                str(p)
                for p in sorted(folder.iterdir())
                if p.resolve() != out.resolve()
                and (is_archive(p) or (p.is_file() and p.name.lower().endswith(SUFFIXES)))
            )
        else:
            chosen.append(text)
    return chosen


def _run_load(args: argparse.Namespace) -> int:
    import polars as pl

    from ..errors import EngagementLabError
    from ..load import load

    out: Path = args.out
    try:
        frame, report = load(
            _inputs(args.paths, out), backend="polars", keep=args.keep,
            on_error="skip" if args.skip_unreadable else "raise", report=True,
        )  # fmt: skip
    except EngagementLabError as exc:  # the library's hint, in this command's words
        exc.args = (str(exc).replace("load(..., on_error='skip')", "--skip-unreadable"), *exc.args[1:])
        raise
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
