"""Parsers never leak a raw exception (issue #30, item 3): seeded mutation of real-shaped inputs of every loader.

Each case mutates a seed (an Engagement API response, an X API v2 page and a twarc2 file, a v2 analytics answer,
the three CSV export layouts) with what an adversarial pass used: huge and negative integers, floats, bad dates
(month 13, February 30, hour 24), wrong types (numbers for strings, objects for lists, numeric media keys), keys
renamed, nodes deleted or duplicated, nesting past any answer and past Python's recursion limit, and byte damage
(cuts, flipped bytes, non-UTF-8, digits runs of 40). Every loader must either load or raise an
``engagement_lab.errors`` exception; never a ``TypeError``, ``ValueError``, ``OverflowError`` or
``RecursionError`` of its own. Where a count is changed to any value a count can take, the rows must equal a
trusted parse: the unmutated rows with that one value changed.

Seeded, not hypothesis: the same 2,600+ cases every run, in seconds (a failure prints the seed and case number,
which replay it exactly).
"""

from __future__ import annotations

import copy
import csv
import gzip
import io
import json
import random
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import engagement_lab as el
from engagement_lab.errors import EngagementLabError
from engagement_lab.load import load_analytics, load_analytics_csv, load_response, load_v2

SPEC = Path(__file__).parents[1] / "fixtures" / "spec"
CASES_PER_SEED = 440  # x 6 seeds = 2,640 mutated inputs

ENGAGEMENT = [json.loads((SPEC / f"{name}.json").read_text()) for name in ("F1_response", "F2_response", "F3_response")]
V2_PAGE = {
    "data": [
        {
            "id": "2050596690636836357",
            "created_at": "2026-05-01T10:00:00.000Z",
            "public_metrics": {"retweet_count": 12, "reply_count": 5, "like_count": 28, "quote_count": 2},
            "organic_metrics": {"impression_count": 3252, "like_count": 28, "url_link_clicks": 3},
            "attachments": {"media_keys": ["3_2050596690636836357", "7_2050596690636836358"]},
        },
        {"id": "2050988183209905694", "public_metrics": {"retweet_count": 4, "like_count": 14}},
    ],
    "includes": {
        "media": [
            {"media_key": "3_2050596690636836357", "type": "photo", "public_metrics": {"view_count": 10}},
            {"media_key": "7_2050596690636836358", "type": "video", "organic_metrics": {"playback_0_count": 4}},
        ]
    },
    "errors": [
        {
            "value": "1",
            "detail": "Could not find tweet with ids: [1].",
            "title": "Not Found Error",
            "resource_type": "tweet",
            "parameter": "ids",
            "resource_id": "1",
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }
    ],
}
TWARC = {**V2_PAGE, "__twarc": {"url": "https://api.twitter.com/2/tweets", "retrieved_at": "2026-05-02T00:00:00+00:00"}}
ANALYTICS = {
    "data": [
        {
            "id": "1346889436626259968",
            "timestamped_metrics": [
                {"timestamp": "2025-03-17T06:00:00Z", "metrics": {"impressions": 123, "likes": 7, "bookmarks": None}},
                {"timestamp": "2025-03-17T07:00:00Z", "metrics": {"impressions": 40, "likes": 1, "bookmarks": 2}},
            ],
        },
        {"id": "1346889436626259969", "impressions": 5, "likes": 1},
    ]
}
LEGACY_CSV = (
    '"Tweet id","Tweet permalink","Tweet text","time","impressions","engagements","retweets","replies","likes",'
    '"url clicks","media views","promoted impressions"\n'
    '"2029014286298252515","https://twitter.com/acme/status/2029014286298252515","text post","2026-03-04 02:01 +0000",'
    '"583.0","6.0","1.0","1.0","3.0","0.0","0","-"\n'
    '"2029113205279687913","https://twitter.com/acme/status/2029113205279687913","video post","2026-03-04 08:34 +0000",'
    '"4508.0","187.0","10.0","2.0","68.0","3.0","2226","-"\n'
)
PREMIUM_CSV = (
    "Post id,Date,Post text,Post Link,Impressions,Likes,Engagements,Bookmarks,Shares,New follows,Replies,Reposts\n"
    '1798000000000000001,"Tue, Jun 4, 2024","launch, ""today""",https://x.com/a/status/1798000000000000001,'
    '"1,234",5,40,2,1,0,3,2\n'
)
OVERVIEW_CSV = (
    "Date,Impressions,Likes,Engagements,Bookmarks,Shares,New follows,Unfollows,Replies,Reposts\n"
    '"Tue, Jun 4, 2024","1,234",5,40,2,1,0,0,3,2\n"Wed, Jun 5, 2024",900,4,31,0,0,1,0,2,1\n'
)

HOSTILE: list[Any] = [
    10**30, -(10**30), 2**63, 2**64, -1, -(2**63) - 1, 10**400, 1e308, float("inf"), float("nan"), 1.5, -0.0,
    10**5000, -(10**5000), None, True, False, "", "x", "\u00e9\x00", "9" * 5000, "9999999999999999999999", "1e400", "-5", "nan", "0x10",
    "\uff11\uff12\uff13", "\u0661\u0662", "2025-13-45T99:99:99Z", "2025-02-30T00:00:00Z", "2025-03-17T24:00:00Z",
    "2025-03-17", "24", "99", [], {}, [1, 2], {"a": 1}, 12345, [3, 7], {"media_key": 5},
]  # fmt: skip
KEYS = ["", "123", "\u00e9", "x" * 300, "2025-13-01", "2015-02-30", "24", "99", "-1", "1e5", "00", "media_keys"]
CELLS = [
    "1e400", "99999999999999999999999", "9223372036854775808", "9" * 5000, "-1", "nan", "inf", "", "\x00",
    "\uff11\uff12\uff13", "1,000,000", "1.5", "-", "x" * 1000, "0x1f", "1e5", "2026-13-04 02:01 +0000",
    "2026-02-30 02:01 +0000", "2026-03-04 25:61 +0000", "99999-03-04 02:01 +0000", "Tue, Feb 30, 2024",
    "Mon, Jun 99, 2024", "2026-03-04T02:01:00Z",
]  # fmt: skip
BYTES = [b"9" * 40, b"\xff\xfe", b"\xc2", b"{", b"]", b'"', b"-", b"e999", b"\n", b",", b"\x00", b"\x1f\x8b"]


def _nodes(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += _nodes(value, (*path, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            found += _nodes(value, (*path, i))
    return found


def _deep(levels: int) -> Any:
    """Nested objects (odd) or arrays (even), built without recursion."""
    node: Any = 1
    for _ in range(levels):
        node = {"a": node} if levels % 2 else [node]
    return node


def mutate_json(seed: Any, rng: random.Random) -> Any:
    doc = copy.deepcopy(seed)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        path = rng.choice(_nodes(doc))
        if not path:
            continue
        holder, key = doc, path[-1]
        for step in path[:-1]:
            holder = holder[step]
        op = rng.random()
        if op < 0.6:
            holder[key] = copy.deepcopy(rng.choice(HOSTILE))
        elif op < 0.7 and isinstance(holder, dict):
            holder[rng.choice(KEYS)] = holder.pop(key)
        elif op < 0.8:
            del holder[key]
        elif op < 0.9:
            holder[key] = _deep(rng.choice([70, 3000]))
            return doc  # nothing below walks it again
        else:
            holder[key] = [copy.deepcopy(holder[key]), copy.deepcopy(holder[key])]
    return doc


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.choice([1, 2, 4])):
        at = rng.randrange(len(out)) if out else 0
        op = rng.random()
        if op < 0.25:
            del out[at:]
        elif op < 0.5:
            out[at : at + 1] = bytes([rng.randrange(256)])
        elif op < 0.8:
            out[at:at] = rng.choice(BYTES)
        else:
            del out[at : at + rng.randrange(1, 20)]
    return bytes(out)


def mutate_csv(text: str, rng: random.Random) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    for _ in range(rng.choice([1, 2, 3])):
        r = rng.randrange(len(rows))
        c = rng.randrange(len(rows[r])) if rows[r] else 0
        op = rng.random()
        if op < 0.7 and rows[r]:
            rows[r][c] = rng.choice(CELLS)
        elif op < 0.85 and rows[r]:
            del rows[r][c]
        else:
            rows.insert(rng.randrange(len(rows) + 1), list(rows[r]))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _file(data: bytes, name: str) -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def _dumps(document: Any) -> bytes:
    """JSON bytes; a document the encoder refuses (nested past its recursion, an integer of 5,000 digits) is
    written as text of the same kind."""
    try:
        return json.dumps(document).encode()
    except RecursionError:
        return b'{"g": ' * 3000 + b"1" + b"}" * 3000
    except ValueError:  # an integer of more digits than str() writes: the same number as JSON text
        return b'{"g": {"1": {"impressions": ' + b"9" * 5000 + b"}}}"


def _jsonl(*documents: Any) -> bytes:
    return b"".join(_dumps(d) + b"\n" for d in documents)


Case = tuple[str, Callable[[Any], Any], Any]


def make_case(rng: random.Random) -> Case:
    """One mutated input and the loader it is given to."""
    which = rng.randrange(11)
    if which == 0:
        return "load_response(dict)", load_response, mutate_json(rng.choice(ENGAGEMENT), rng)
    if which == 1:
        doc = _dumps(mutate_json(rng.choice(ENGAGEMENT), rng))
        payload = gzip.compress(doc) if rng.random() < 0.3 else doc
        return "load_response(bytes)", load_response, payload
    if which == 2:
        return (
            "load_response(file)",
            load_response,
            _file(mutate_bytes(json.dumps(ENGAGEMENT[2]).encode(), rng), "r.json"),
        )
    if which == 3:
        return "load_v2(dict)", load_v2, mutate_json(V2_PAGE, rng)
    if which == 4:
        lines = _jsonl(mutate_json(TWARC, rng), TWARC)
        return "load_v2(twarc2)", load_v2, _file(mutate_bytes(lines, rng) if rng.random() < 0.3 else lines, "t.jsonl")
    if which == 5:
        return "load_analytics(dict)", load_analytics, mutate_json(ANALYTICS, rng)
    if which == 6:
        data = mutate_bytes(_jsonl(ANALYTICS, ANALYTICS), rng)
        return "load_analytics(file)", load_analytics, _file(data, "a.jsonl")
    if which in (7, 8):
        seed = rng.choice([LEGACY_CSV, PREMIUM_CSV, OVERVIEW_CSV])
        name = rng.choice(["tweet_activity_metrics_acme_20260301_20260331_en.csv", "content.csv", "overview.csv"])
        data = mutate_csv(seed, rng).encode() if rng.random() < 0.75 else mutate_bytes(seed.encode(), rng)
        return "load_analytics_csv", load_analytics_csv, _file(data, name)
    if which == 9:
        return "el.load(dict)", el.load, mutate_json(rng.choice([ENGAGEMENT[0], V2_PAGE, ANALYTICS]), rng)
    seed = rng.choice([json.dumps(ENGAGEMENT[2]).encode(), _jsonl(TWARC), _jsonl(ANALYTICS), LEGACY_CSV.encode()])
    return "el.load(file)", el.load, _file(mutate_bytes(seed, rng), "download.txt")


def _run(loader: Callable[..., Any], argument: Any) -> BaseException | None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            loader(argument, backend="polars")
        except EngagementLabError:
            return None
        except Exception as exc:
            return exc
    return None


@pytest.mark.parametrize("seed", range(6))
def test_mutated_inputs_load_or_raise_only_named_errors(seed: int) -> None:
    rng = random.Random(seed)
    raw: list[str] = []
    kinds: Counter[str] = Counter()
    for number in range(CASES_PER_SEED):
        name, loader, argument = make_case(rng)
        kinds[name] += 1
        exc = _run(loader, argument)
        if exc is not None:
            raw.append(f"seed {seed} case {number} {name}: {type(exc).__name__}: {str(exc)[:160]}")
    assert len(kinds) == 10  # every loader and input form got cases
    assert not raw, f"{len(raw)} raw exception(s):\n" + "\n".join(raw[:10])


# -- the trusted parse: a count changed to any value a count can take loads as exactly that value --------------

COUNTS = [0, 1, 7, 2**31, 2**53 + 1, 2**63 - 2, 2**63 - 1]
"""Values where a float or a 32-bit step would show: 2**53 + 1 is not a float, 2**63 - 1 is the int64 edge."""


def _count_leaves(doc: Any) -> list[tuple[Any, ...]]:
    """Paths of the metric counts of a payload (ints, or the Engagement API's digit strings)."""
    leaves = []
    for path in _nodes(doc):
        if not path or path[-1] in ("id", "media_key", "value", "resource_id", "start", "end"):
            continue
        value = doc
        for step in path:
            value = value[step]
        count = (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and value.isdigit())
        if count and not any(isinstance(step, str) and step in ("errors", "tweet_ids", "unavailable") for step in path):
            leaves.append(path)
    return leaves


def _values(frame: Any) -> Counter[int]:
    return Counter(frame["value"].drop_nulls().to_list())


@pytest.mark.parametrize(
    ("loader", "seed"),
    [(load_response, ENGAGEMENT[0]), (load_response, ENGAGEMENT[2]), (load_v2, V2_PAGE), (load_analytics, ANALYTICS)],
    ids=["totals", "hourly", "v2", "analytics"],
)
def test_a_count_changed_to_any_count_loads_as_exactly_that_count(loader: Callable[..., Any], seed: Any) -> None:
    baseline = _values(loader(seed, backend="polars"))
    rng = random.Random(30)
    leaves = _count_leaves(seed)
    assert len(leaves) >= 4
    for path in rng.sample(leaves, min(len(leaves), 12)):
        for new in COUNTS:
            doc = copy.deepcopy(seed)
            holder = doc
            for step in path[:-1]:
                holder = holder[step]
            old = holder[path[-1]]
            holder[path[-1]] = str(new) if isinstance(old, str) else new
            got = _values(loader(doc, backend="polars"))
            expected = baseline.copy()
            expected[int(old)] -= 1
            expected[new] += 1
            assert got == +expected, (path, old, new)


def test_a_count_cell_changed_to_any_count_loads_as_exactly_that_count() -> None:
    baseline = _values(load_analytics_csv(_file(LEGACY_CSV.encode(), "e.csv"), backend="polars"))
    rows = list(csv.reader(io.StringIO(LEGACY_CSV)))
    counted = [c for c, name in enumerate(rows[0]) if name not in ("Tweet id", "Tweet permalink", "Tweet text", "time")]
    for column in counted:
        if rows[1][column] == "-":
            continue
        for new in COUNTS:
            changed = [list(r) for r in rows]
            old = int(float(changed[1][column]))
            changed[1][column] = f"{new}.0" if new % 3 else str(new)
            out = io.StringIO()
            csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(changed)
            got = _values(load_analytics_csv(_file(out.getvalue().encode(), "e.csv"), backend="polars"))
            expected = baseline.copy()
            expected[old] -= 1
            expected[new] += 1
            assert got == +expected, (rows[0][column], new)


def _nested_paths(levels: int) -> list[Any]:
    """A list of paths nested ``levels`` deep (``load``'s walk of its sources recursed into it)."""
    node: list[Any] = ["x.json"]
    for _ in range(levels):
        node = [node]
    return node


def test_the_named_cases_of_the_adversarial_pass() -> None:
    """The raw exceptions the pass reported, each now a named error."""
    deep = '{"g": ' * 100_000 + "1" + "}" * 100_000
    cases: list[tuple[Callable[..., Any], Any, str]] = [
        (load_response, deep, "nests objects or arrays more than 64 levels"),
        (load_response, {"g": _deep(5000)}, "nests objects or arrays more than 64 levels"),
        (el.load, _nested_paths(100), "nests"),
        (load_analytics, {**ANALYTICS, "data": [{"id": "1", "impressions": 10**30}]}, "2**63"),
        (load_v2, {"data": [{"id": "1", "public_metrics": {"like_count": 2**64}}]}, "2**63"),
        (load_response, {"start": "2025-13-01T00:00:00Z", "g": {"1": {"impressions": "1"}}}, "'start' must be an ISO"),
        (load_v2, {**V2_PAGE, "includes": {"media": [{"media_key": 3}]}}, "a media key is a string"),
        (load_v2, {"data": [{"id": "1", "attachments": {"media_keys": [3, 7]}}]}, "a media key is a string"),
        (load_v2, {"data": [{"id": "1", "attachments": {"media_keys": 3}}]}, "'media_keys' must be an array"),
        (load_analytics_csv, _file(PREMIUM_CSV.replace('"1,234"', "9" * 30).encode(), "c.csv"), "larger than any"),
    ]
    for loader, argument, message in cases:
        with pytest.raises(EngagementLabError, match=message.replace("*", r"\*").replace("(", r"\(")):
            loader(argument)
