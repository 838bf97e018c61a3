"""compact / scan / load_archive(lazy=True): the eager archive's rows and rules, lazily, incrementally, crash-safe."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from engagement_lab import DataError, EngagementQuery, LockError, compact, load_archive, scan
from engagement_lab.cli import main
from engagement_lab.load.archive_format import encode_envelope, read_envelope
from engagement_lab.locking import WriterLock

from .test_archive import ACME, _fetch, _hourly, _tamper

KEY = ["tweet_id", "engagement_type", "grain", "day", "hour", "endpoint", "window_start", "window_end"]


def _rows(frame: Any) -> pl.DataFrame:
    """Any lazy result as a polars frame in a fixed order, with the archive's dtypes."""
    if isinstance(frame, pl.LazyFrame):
        frame = frame.collect()
    elif not isinstance(frame, pl.DataFrame):  # a DuckDB relation
        frame = pl.from_arrow(frame.arrow())
    assert isinstance(frame, pl.DataFrame)
    return frame.sort(KEY, nulls_last=True)


def _same(lazy: Any, eager: pl.DataFrame) -> None:
    got = _rows(lazy)
    assert got.columns == eager.columns
    assert got.cast(dict(eager.schema)).equals(eager.sort(KEY, nulls_last=True))  # type: ignore[arg-type]


def _mixed(archive: Path) -> None:
    _fetch(_hourly("2026-05-01", "2026-05-03"), archive)
    _fetch(_hourly("2026-05-02", "2026-05-04"), archive)  # overlaps by a day: one partition holds repeats
    _fetch(EngagementQuery("totals", ACME, ["favorites"], "per_tweet"), archive)


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_lazy_archive_equals_the_eager_load(tmp_path: Path, engine: str) -> None:
    _mixed(tmp_path)
    result = compact(tmp_path, batch_rows=100)  # several batches, several files per partition
    assert (result.added, result.skipped, result.rows) == (3, 0, result.total_rows)
    assert result.repeated_partitions == ("endpoint=historical/day=2026-05-02",)
    eager = load_archive(tmp_path, backend="polars")
    assert eager.height == 4 * 2 * 72 + 4
    _same(scan(tmp_path, backend=engine), eager)  # type: ignore[arg-type]
    _same(load_archive(tmp_path, lazy=True, backend=engine), eager)


def test_lazy_in_lazy_out_reads_nothing_until_collected(tmp_path: Path) -> None:
    _mixed(tmp_path)
    frame = load_archive(tmp_path, lazy=True)
    assert isinstance(frame, pl.LazyFrame)
    assert "parquet scan" in frame.explain().lower()  # a plan over the files, not a frame already in memory


def test_rerun_adds_only_new_responses(tmp_path: Path) -> None:
    _fetch(_hourly("2026-05-01", "2026-05-03"), tmp_path)
    first = compact(tmp_path)
    files = {p: p.stat().st_mtime_ns for p in (tmp_path / "parquet").rglob("*.parquet")}
    again = compact(tmp_path)
    assert (again.added, again.skipped, again.rows) == (0, first.added, 0)
    _fetch(_hourly("2026-05-02", "2026-05-04"), tmp_path)
    more = compact(tmp_path)
    assert more.added == 1
    assert more.skipped == first.added
    assert all(p.stat().st_mtime_ns == t for p, t in files.items())  # committed files are never rewritten
    _same(scan(tmp_path), load_archive(tmp_path, backend="polars"))


def test_contradictions_are_refused_lazily_as_eagerly(tmp_path: Path) -> None:
    _fetch(_hourly("2026-05-01", "2026-05-02"), tmp_path)
    compact(tmp_path)

    def bump(body: dict[str, Any]) -> None:
        series = next(iter(body["hourly"].values()))["impressions"]
        day = next(iter(series))
        hour = next(iter(series[day]))
        series[day][hour] = str(int(series[day][hour]) + 7)

    _tamper(tmp_path, bump)  # a later response disagrees with one already compacted
    assert compact(tmp_path).conflicts == 1
    for engine in ("polars", "duckdb"):
        with pytest.raises(DataError, match="1 contradictory historical value"):
            scan(tmp_path, backend=engine)  # type: ignore[arg-type]
        latest = load_archive(tmp_path, backend="polars", on_conflict="latest")
        _same(scan(tmp_path, backend=engine, on_conflict="latest"), latest)  # type: ignore[arg-type]
        assert _rows(scan(tmp_path, backend=engine, on_conflict="latest")).height == 4 * 2 * 24  # type: ignore[arg-type]


def test_later_snapshots_replace_earlier_ones(tmp_path: Path) -> None:
    _fetch(EngagementQuery("totals", ACME, ["favorites"], "per_tweet"), tmp_path)
    compact(tmp_path)

    def grow(body: dict[str, Any]) -> None:
        for metrics in body["per_tweet"].values():
            metrics["favorites"] = str(int(metrics["favorites"]) + 100)

    _tamper(tmp_path, grow)
    result = compact(tmp_path)
    assert result.conflicts == 0
    assert len(result.repeated_partitions) == 1
    eager = load_archive(tmp_path, backend="polars")
    assert eager.height == 4
    for engine in ("polars", "duckdb"):
        _same(scan(tmp_path, backend=engine), eager)  # type: ignore[arg-type]


def test_uncommitted_files_are_never_read_and_are_removed(tmp_path: Path) -> None:
    _fetch(_hourly("2026-05-01", "2026-05-02"), tmp_path)
    compact(tmp_path)
    eager = load_archive(tmp_path, backend="polars")
    committed = next((tmp_path / "parquet").rglob("*.parquet"))
    stray = committed.with_name("part-99999999-deadbeef-0.parquet")
    stray.write_bytes(committed.read_bytes())  # what a crash between writing and committing leaves
    for engine in ("polars", "duckdb"):
        _same(scan(tmp_path, backend=engine), eager)  # type: ignore[arg-type]
    compact(tmp_path)
    assert not stray.exists()


def test_kill_9_mid_batch_then_rerun_gives_the_eager_rows(tmp_path: Path) -> None:
    _mixed(tmp_path)
    # a real process, killed at the worst moment: its second batch's files are written, not committed
    child = textwrap.dedent(
        f"""
        import os, signal
        from engagement_lab.load import compaction
        calls = []
        real = compaction._State.commit
        def commit(self):
            calls.append(1)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            real(self)
        compaction._State.commit = commit
        compaction.compact({str(tmp_path)!r}, batch_rows=1)
        """
    )
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, timeout=120, check=False)
    assert done.returncode == -signal.SIGKILL
    written = set((tmp_path / "parquet").rglob("*.parquet"))
    state = json.loads((tmp_path / "parquet" / "compaction.json").read_text())
    listed = {tmp_path / "parquet" / f for p in state["partitions"].values() for f in p["files"]}
    assert written - listed  # orphans exist
    with pytest.raises(DataError, match="did not finish checking"):
        scan(tmp_path)  # a dataset whose last run died before its checks is not read as if it were whole
    result = compact(tmp_path)
    assert result.added == 2
    assert result.skipped == 1
    state = json.loads((tmp_path / "parquet" / "compaction.json").read_text())
    listed = {tmp_path / "parquet" / f for p in state["partitions"].values() for f in p["files"]}
    assert set((tmp_path / "parquet").rglob("*.parquet")) == listed  # the orphans are gone
    eager = load_archive(tmp_path, backend="polars")
    for engine in ("polars", "duckdb"):
        _same(scan(tmp_path, backend=engine), eager)  # type: ignore[arg-type]


def test_one_writer_at_a_time(tmp_path: Path) -> None:
    _fetch(_hourly("2026-05-01", "2026-05-02"), tmp_path)
    (tmp_path / "parquet").mkdir()
    with (
        WriterLock(tmp_path / "parquet" / ".lock", "held"),
        pytest.raises(LockError, match="in use by another process"),
    ):
        compact(tmp_path)
    assert compact(tmp_path).added == 1  # released on the error path


def test_refusals_name_the_fix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not an archive directory"):
        compact(tmp_path / "missing")
    _fetch(_hourly("2026-05-01", "2026-05-02"), tmp_path)
    with pytest.raises(DataError, match=r"was not compacted yet; run engagement_lab\.compact"):
        scan(tmp_path)
    with pytest.raises(DataError, match="batch_rows must be a positive integer"):
        compact(tmp_path, batch_rows=0)
    with pytest.raises(DataError, match="did you mean 'duckdb'"):
        scan(tmp_path, backend="duckbd")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="report=True needs an eager load"):
        load_archive(tmp_path, lazy=True, report=True)
    with pytest.raises(DataError, match="lazy=True, backend='duckdb'"):
        load_archive(tmp_path, backend="duckdb")
    compact(tmp_path)
    key = next((tmp_path / "responses").glob("*.json.gz"))
    envelope = read_envelope(key)
    envelope["provenance"]["retrieved_at"] = "2031-01-01T00:00:00+00:00"
    key.write_bytes(gzip.compress(encode_envelope(envelope["provenance"], envelope["body"])))
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text(manifest.read_text() + json.dumps(envelope["provenance"]) + "\n")
    with pytest.raises(DataError, match=r"was replaced .* after it was compacted"):
        compact(tmp_path)


def test_cli_compact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _fetch(_hourly("2026-05-01", "2026-05-02"), tmp_path)
    out = tmp_path / "elsewhere"
    assert main(["compact", str(tmp_path), "--out", str(out), "--no-progress"]) == 0
    assert "compacted 1 new response(s) (192 rows)" in capsys.readouterr().out
    _same(scan(out), load_archive(tmp_path, backend="polars"))
    assert main(["compact", str(tmp_path), "--out", str(out), "--no-progress"]) == 0
    assert "compacted 0 new response(s)" in capsys.readouterr().out
    assert os.path.isfile(out / "compaction.json")
