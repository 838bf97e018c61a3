"""Loader benchmark: >= 1 million leaf values of hourly data, both backends.

Ratios, measured in the same run on the same bytes:
(a) naive baseline / loader: a notebook-style loader (recursive flatten to dicts, pd.DataFrame, dtype fixes).
    Target >= 5x faster.
(b) loader / floor: the floor is json.loads alone on the same bytes, which builds the Python objects and does
    nothing with them. Target <= 4x, and <= 1.0x since #17: the loader reads responses of the usual shape from
    their bytes.
The loaders and the floor are the best of 7, taking turns, with the garbage collector paused as timeit does.

Run: .venv/bin/python benchmarks/load.py
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from timing import best, taking_turns  # benchmarks/timing.py, beside this script

from engagement_lab import catalog, load_response
from engagement_lab.sandbox import World
from engagement_lab.sources.engagement.query import EngagementRequest
from engagement_lab.sources.engagement.sandbox import build_response


def sandbox_answers(target_leaves: int) -> list[tuple[EngagementRequest, bytes]]:
    """Real sandbox /historical requests and responses (25 tweets x 17 metrics x 28 days x 24 hours each)."""
    world = World(seed=7)
    tweets = [t for t in world.tweets if t.status == "ok" and world.accounts_by_handle[t.account].owned]
    metrics = list(catalog.ENDPOINTS["historical"].metrics)
    answers, leaves, i = [], 0, 0
    per_round = len(tweets) // 25 * 25
    while leaves < target_leaves:
        # past the world's owned tweets, the same tweets again under another grouping name (distinct rows)
        round_, start = divmod(i, per_round)
        batch = tweets[start : start + 25]
        i += 25
        name = "hourly" if not round_ else f"hourly_{round_}"
        order = list(catalog.FOUR_ITEM_ORDERS[round_ % len(catalog.FOUR_ITEM_ORDERS)])
        body = {"tweet_ids": [t.tweet_id for t in batch], "engagement_types": metrics,
                "groupings": {name: {"group_by": order}}}  # fmt: skip
        request = EngagementRequest.from_body("historical", body, now=world.now)
        answers.append((request, json.dumps(build_response(request, world, batch, [], world.now)).encode()))
        leaves += len(batch) * len(metrics) * 28 * 24
    return answers


def sandbox_payloads(target_leaves: int) -> list[bytes]:
    """The response bodies of :func:`sandbox_answers`."""
    return [body for _, body in sandbox_answers(target_leaves)]


def naive(raw: bytes) -> pd.DataFrame:
    """How a notebook user would write it."""
    data = json.loads(raw)
    rows = []

    def walk(node: Any, path: list[str]) -> None:
        if isinstance(node, dict):
            for key, child in node.items():
                walk(child, [*path, key])
        else:
            rows.append({"grouping": path[0], "tweet_id": path[1], "engagement_type": path[2], "day": path[3],
                         "hour": path[4], "value": node})  # fmt: skip

    for name, tree in data.items():
        if name not in catalog.RESERVED_KEYS:
            walk(tree, [name])
    frame = pd.DataFrame(rows)
    frame["value"] = frame["value"].astype("int64")
    frame["hour"] = frame["hour"].astype("int8")
    frame["day"] = pd.to_datetime(frame["day"]).dt.date
    frame["timestamp"] = pd.to_datetime(frame["day"].astype(str)) + pd.to_timedelta(frame["hour"], unit="h")
    return frame


def main() -> None:
    payloads = sandbox_payloads(1_000_000)
    leaves = sum(len(load_response(p, backend="polars")) for p in payloads[:1]) * len(payloads)
    size = sum(len(p) for p in payloads) / 1e6
    baseline = best(lambda: [naive(p) for p in payloads], repeat=1)
    floor, *loaders = taking_turns(
        [lambda: [json.loads(p) for p in payloads]]
        + [lambda b=backend: [load_response(p, backend=b) for p in payloads] for backend in ("pandas", "polars")]  # type: ignore[misc]
    )
    print(f"{len(payloads)} responses, ~{leaves:,} leaf values, {size:.0f} MB of JSON")
    print(f"floor: json.loads only          {floor:6.3f}s")
    print(f"naive baseline (pandas)         {baseline:6.2f}s")
    for backend, took in zip(("pandas", "polars"), loaders, strict=True):
        print(f"load_response({backend!r:9})      {took:6.3f}s   baseline/loader = {baseline / took:4.1f}x (>= 5)   "
              f"loader/floor = {took / floor:4.2f}x (<= 1.0)")  # fmt: skip
    # The parsers themselves, each against json.loads. On 2026-11-27: orjson 1.2x and msgspec 1.0x the time of
    # json.loads on these answers (many small dicts with short keys, where the standard library's key cache wins),
    # so neither would make a loader that builds objects faster. The loader uses msgspec only to check that a
    # response is valid JSON without building it (msgspec.Raw), then reads it from the bytes.
    others = _other_parsers()
    for (name, _), took in zip(
        others, taking_turns([lambda c=call: [c(p) for p in payloads] for _, call in others]), strict=True
    ):  # type: ignore[misc]
        print(f"{name:<31} {took:6.3f}s   parser/json.loads = {took / floor:4.2f}x")


def _other_parsers() -> list[tuple[str, Any]]:
    found = []
    try:
        import orjson

        found.append(("orjson.loads", orjson.loads))
    except ImportError:
        print("orjson not installed (pip install orjson to compare)")
    try:
        import msgspec

        found.append(("msgspec.json.decode", msgspec.json.decode))
    except ImportError:
        print("msgspec not installed (pip install msgspec to compare)")
    return found


if __name__ == "__main__":
    main()
