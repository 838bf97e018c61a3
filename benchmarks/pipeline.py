"""Pipeline benchmark: a 100M-tidy-row Parquet dataset -> lazy per_tweet -> compare, on polars-lazy and on DuckDB.

The dataset is generated from the sandbox world's generator (``World.series``: every tweet's hourly counts for
60 days and 18 metrics, worlds of several seeds until the row target is reached) and written with ``to_parquet``,
a chunk of tweets at a time. Each pipeline runs in its own process and reports its peak RSS (``VmHWM``).

Baseline, in its own process on the same files: a plain polars query (scan, group_by tweet and metric, pivot,
join the metadata, engagement rate per content type), no checks. Target: peak RSS < 2 GB for both pipelines.
DuckDB runs with ``SET memory_limit = '1GB'`` (by default it may cache up to 80% of RAM).

Run: .venv/bin/python benchmarks/pipeline.py [--rows 100000000] [--dataset DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from engagement_lab import columns as C
from engagement_lab import to_parquet
from engagement_lab.sandbox import World
from engagement_lab.sandbox.world import HORIZON_HOURS, METRICS

CHUNK = 100
"""Tweets per write (100 tweets x 18 metrics x 1,440 hours = 2.6M rows)."""


def generate(root: Path, rows: int) -> int:
    """Write about ``rows`` tidy rows of hourly history to ``root``, and the tweets' metadata beside it."""
    written, seed, metadata = 0, 1, []
    hours = np.arange(HORIZON_HOURS, dtype="timedelta64[h]")
    while written < rows:
        world = World(seed=seed)
        seed += 1
        tweets = list(world.tweets)
        metadata.extend(world.metadata())
        for start in range(0, len(tweets), CHUNK):
            if written >= rows:
                break
            batch = tweets[start : start + CHUNK]
            series = np.stack([world.series(t) for t in batch])  # (tweets, metrics, hours)
            first = np.array([np.datetime64(t.created_at.replace(minute=0, second=0, microsecond=0, tzinfo=None), "h")
                              for t in batch])  # fmt: skip
            stamps = (first[:, None, None] + hours[None, None, :]).repeat(len(METRICS), axis=1)
            n = series.size
            frame = pl.DataFrame(
                {
                    C.TWEET_ID: np.repeat([t.tweet_id for t in batch], len(METRICS) * HORIZON_HOURS),
                    C.ENGAGEMENT_TYPE: np.tile(np.repeat(METRICS, HORIZON_HOURS), len(batch)),
                    C.TIMESTAMP: stamps.reshape(-1).astype("datetime64[us]"),
                    C.VALUE: series.reshape(-1),
                }
            ).with_columns(
                pl.col(C.TIMESTAMP).dt.replace_time_zone("UTC"),
                pl.lit("hour").alias(C.GRAIN),
                pl.lit("hourly").alias(C.GROUPING),
                pl.lit("historical").alias(C.ENDPOINT),
            )
            frame = frame.with_columns(
                pl.col(C.TIMESTAMP).dt.date().alias(C.DAY), pl.col(C.TIMESTAMP).dt.hour().cast(pl.Int8).alias(C.HOUR)
            ).select(*C.TIDY, C.ENDPOINT)
            to_parquet(frame, root / "tidy")
            written += n
        print(f"  generated {written:,} rows", file=sys.stderr, flush=True)
    pl.DataFrame(metadata).select("tweet_id", "campaign", "content_type").write_csv(root / "metadata.csv")
    return written


def _pipeline(engine: str, root: Path) -> dict[str, object]:
    """One run, in this process: what a notebook would do."""
    started = time.perf_counter()
    if engine == "baseline":
        frame = pl.scan_parquet(str(root / "tidy" / "**" / "*.parquet"), hive_partitioning=True)
        sums = frame.group_by(C.TWEET_ID, C.ENGAGEMENT_TYPE).agg(pl.sum(C.VALUE))
        wide = sums.pivot(on=C.ENGAGEMENT_TYPE, on_columns=list(METRICS), index=C.TWEET_ID, values=C.VALUE)
        meta = pl.scan_csv(root / "metadata.csv", schema_overrides={C.TWEET_ID: pl.String})
        table = (
            wide.join(meta, on=C.TWEET_ID)
            .group_by("content_type")
            .agg(pl.sum("engagements") / pl.sum("impressions"))
            .collect(engine="streaming")
        )
        result = dict(zip(table["content_type"], table["engagements"], strict=True))
    else:
        from engagement_lab import compare, per_tweet, scan

        if engine == "duckdb":
            import duckdb

            # DuckDB caches up to 80% of RAM by default; with a limit it spills to disk instead (what a user of a
            # shared machine sets; scan() uses the default connection)
            duckdb.execute("SET memory_limit = '1GB'")
        tidy = scan(root / "tidy", backend=engine)  # type: ignore[arg-type]
        wide = per_tweet(tidy, metadata=root / "metadata.csv")
        comparison = compare(wide, metric="engagement_rate", by="content_type", control="text")
        result = {row.treatment: row.treatment_value for row in comparison.rows}
        result["text"] = comparison.rows[0].control_value
    seconds = time.perf_counter() - started
    # this process's own high-water mark (wait4's ru_maxrss would count the parent's memory inherited at fork)
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
    return {"seconds": seconds, "peak_gb": peak_kb / 1024**2, "result": result}


def _measure(engine: str, root: Path) -> tuple[float, float, dict[str, float]]:
    """Run one pipeline in a fresh process: (seconds, peak RSS in GB, result)."""
    child = subprocess.run(
        [sys.executable, __file__, "--child", engine, "--dataset", str(root)],
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if child.returncode:
        raise SystemExit(f"{engine} pipeline failed (exit {child.returncode})")
    answer = json.loads(child.stdout)
    return answer["seconds"], answer["peak_gb"], answer["result"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--dataset", type=Path, help="reuse (or create) the dataset here")
    parser.add_argument("--engines", nargs="+", default=["polars", "duckdb"], choices=["polars", "duckdb"])
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_pipeline(args.child, args.dataset)))
        return
    root = args.dataset or Path(tempfile.gettempdir()) / f"engagement_lab_pipeline_{args.rows}"
    if not (root / "metadata.csv").is_file():
        started = time.perf_counter()
        rows = generate(root, args.rows)
        print(f"dataset: {rows:,} tidy rows written in {timedelta(seconds=round(time.perf_counter() - started))}")
    size = sum(p.stat().st_size for p in (root / "tidy").rglob("*.parquet")) / 1e9
    files = sum(1 for _ in (root / "tidy").rglob("*.parquet"))
    print(f"dataset: {root} ({files:,} files, {size:.2f} GB)")
    base_time, base_rss, expected = _measure("baseline", root)
    print(f"baseline (plain polars query)   {base_time:7.1f}s  peak RSS {base_rss:5.2f} GB")
    for engine in args.engines:
        seconds, rss, result = _measure(engine, root)
        agree = all(abs(result[k] - v) <= 1e-12 * max(1.0, abs(v)) for k, v in expected.items())
        verdict = "met" if rss < 2 else "NOT met"
        print(
            f"engagement_lab on {engine:<7}      {seconds:7.1f}s  peak RSS {rss:5.2f} GB ({verdict}: < 2 GB)  "
            f"{seconds / base_time:4.1f}x baseline; rates agree with the baseline: {agree}"
        )


if __name__ == "__main__":
    main()
