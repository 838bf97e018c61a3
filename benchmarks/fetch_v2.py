"""Paced X API v2 analytics fetches against the sandbox over loopback.

X allows 300 requests per 15 minutes per user and announces the budget in ``x-rate-limit-limit/-remaining/
-reset``. A benchmark cannot wait 15 minutes per window, so the sandbox runs the same fixed windows scaled in
time: 300 requests per ``--window`` seconds (30 s by default; the client learns the window from the headers
alone, exactly as it would from X). N requests need ceil(N / 300) windows. The floor is the moment the last
window opens (the budget forbids starting the last batch earlier) plus the time the last batch takes at full
speed, measured in the same process by the same fetch with no budget pressure (the baseline, median of the
runs). Reported: floor / actual (target >= 0.95) with zero 429s; at X's real 900 s window the unavoidable
burst is a far smaller share, so this scaled run is the harder test.

Run: .venv/bin/python benchmarks/fetch_v2.py [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from engagement_lab import AnalyticsQuery, fetch_analytics
from engagement_lab.api import Credentials
from engagement_lab.sandbox import Sandbox


def run_once(n: int, limit: int, window: float) -> tuple[float, float, int, int]:
    """One fetch of n one-id requests: (seconds, wall-clock start, 429s seen, rate-limit waits)."""
    with (
        Sandbox(seed=7, v2_rate_limit=limit, v2_rate_window_seconds=window) as sandbox,
        tempfile.TemporaryDirectory() as tmp,
    ):
        world = sandbox.app.world
        tweets = [t for t in world.tweets if t.account == "acme" and t.status == "ok"]
        end = world.now.replace(minute=0, second=0, microsecond=0)
        # one request per query: one id, and a window shifted by the hour so repeated ids are distinct requests
        queries = [
            AnalyticsQuery(
                [tweets[i % len(tweets)].tweet_id],
                end - timedelta(days=2, hours=i // len(tweets)),
                end - timedelta(hours=i // len(tweets)),
                granularity="total",
            )
            for i in range(n)
        ]
        wall_start = time.time()
        started = time.perf_counter()
        result = fetch_analytics(
            queries,
            credentials=Credentials.from_mapping(sandbox.info),
            out=Path(tmp),
            owners={t.tweet_id: "acme" for t in tweets},
            base_url=sandbox.base_url,
            concurrency=4,
            progress=False,
            rate_window_seconds=window,
        )
        actual = time.perf_counter() - started
        assert result.ok, result.errors
        return actual, wall_start, sandbox.app.status_counts[429], result.rate_limit_waits


def paced(n: int, limit: int, window: float, runs: int) -> None:
    baselines = sorted(run_once(limit, limit * 100, window)[0] for _ in range(runs))
    batch = baselines[len(baselines) // 2]  # one window's worth of requests at full speed
    print(f"baseline: {limit} requests with no budget pressure: {batch:.2f} s (median of {runs})")
    ratios = []
    for run in range(runs):
        actual, wall_start, got_429, waits = run_once(n, limit, window)
        windows = -(-n // limit)
        first_reset = (wall_start // window + 1) * window - wall_start
        last_opens = first_reset + window * (windows - 2) if windows > 1 else 0.0
        floor = last_opens + batch * ((n - limit * (windows - 1)) / limit)
        ratios.append(floor / actual)
        print(
            f"run {run + 1}: {n} requests at {limit} per {window:.0f} s: {actual:.2f} s, {got_429} x 429, "
            f"{waits} waits; last window opens at {last_opens:.2f} s, floor {floor:.2f} s: "
            f"floor / actual = {floor / actual:.3f}"
        )
        assert got_429 == 0
    print(f"median floor / actual over {runs} runs = {sorted(ratios)[len(ratios) // 2]:.3f} (target >= 0.95), 0 x 429")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer requests and runs")
    parser.add_argument("--window", type=float, default=30.0, help="seconds per budget window (X: 900)")
    args = parser.parse_args()
    if args.quick:
        paced(n=600, limit=300, window=args.window, runs=1)
    else:
        paced(n=900, limit=300, window=args.window, runs=3)


if __name__ == "__main__":
    main()
