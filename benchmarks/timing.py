"""The benchmarks' timers: the best of several runs (each script puts its baseline through the same one)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable


def best(fn: Callable[[], object], repeat: int = 3) -> float:
    """The fastest of ``repeat`` runs of ``fn``, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def quiet(fn: Callable[[], object]) -> Callable[[], object]:
    """``fn`` run with the cyclic garbage collector paused, as ``timeit`` runs code: on this machine its passes
    during JSON parsing moved single timings by up to 2x, more than the difference being measured. No collection
    is forced between runs: that handed memory back to the system, and the next run, whichever it was, paid to
    fault it in again (json.loads on the load benchmark's bytes: 0.15 s after a forced collection, 0.11 s without)."""

    def run() -> object:
        gc.disable()
        try:
            return fn()
        finally:
            gc.enable()

    return run


def taking_turns(fns: list[Callable[[], object]], rounds: int = 7) -> list[float]:
    """The best time of each of ``fns``, run in turns (one run of each per round) with the collector paused, so a
    slow spell of the machine falls on every side instead of on one."""
    times = [float("inf")] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            times[i] = min(times[i], best(quiet(fn), 1))
    return times
