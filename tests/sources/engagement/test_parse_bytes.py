"""The byte scan of responses gives exactly what json.loads + parse_response gives, or steps aside.

Each case is compared with the ordinary parser on the same bytes: equal tables and reports, or the same error.
The deterministic cases also check which way was taken, so a scan that always steps aside fails them.
"""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement_lab import DataError, ResponseFormatError, catalog
from engagement_lab import columns as C
from engagement_lab.load import load_response
from engagement_lab.load.frames import repeated, to_polars
from engagement_lab.sandbox import World
from engagement_lab.sources.engagement import parse_bytes as engagement_bytes
from engagement_lab.sources.engagement.parse import ParsedResponse, parse_response
from engagement_lab.sources.engagement.parse_bytes import parse_response_bytes, scan_response
from engagement_lab.sources.engagement.query import EngagementRequest
from engagement_lab.sources.engagement.sandbox import build_response

SPEC = Path(__file__).resolve().parents[2] / "fixtures" / "spec"
WORLD = World(seed=7)
ORDERS = [list(p) for n in (1, 2, 3) for p in itertools.permutations(catalog.GROUP_BY_VALUES, n)] + [
    list(o) for o in catalog.FOUR_ITEM_ORDERS
]
LAYOUTS = {
    "default": {},
    "compact": {"separators": (",", ":")},
    "indented": {"indent": 2},
    "tabs": {"indent": "\t", "separators": (" ,", " : ")},
}


def outcome(parse: Any) -> tuple[Any, ...]:
    try:
        parsed: ParsedResponse = parse()
    except (ResponseFormatError, ValueError) as exc:
        return ("refused", type(exc).__name__, str(exc))
    return ("parsed", parsed.table.to_pydict(), parsed.table.schema, parsed.report, parsed.tweet_ids)


def assert_same(data: bytes, *, keep_unsupported: bool = False) -> None:
    ordinary = outcome(lambda: parse_response(json.loads(data), keep_unsupported=keep_unsupported))
    assert outcome(lambda: parse_response_bytes(data, keep_unsupported=keep_unsupported)) == ordinary


def scanned(data: bytes, *, keep_unsupported: bool = False) -> ParsedResponse:
    """The scan's answer, which must exist and equal the ordinary parser's."""
    found = scan_response(data, keep_unsupported=keep_unsupported)
    assert found is not None, "the scan stepped aside on a response of the usual shape"
    expected = parse_response(json.loads(data), keep_unsupported=keep_unsupported)
    assert found.table.equals(expected.table)
    assert found.table.schema == expected.table.schema
    assert found.report == expected.report
    assert found.tweet_ids == expected.tweet_ids
    return found


def sandbox_response(group_by: list[str], hour_only: str = "hour_of_day", n_tweets: int = 3) -> dict[str, Any]:
    tweets = [t for t in WORLD.tweets if t.account == "acme" and t.status == "ok"][-n_tweets:]
    body = {
        "tweet_ids": [t.tweet_id for t in tweets],
        "engagement_types": ["impressions", "favorites", "video_views"],
        "groupings": {"g": {"group_by": group_by}},
        "start": "2026-05-30T20:00:00Z",
        "end": "2026-06-01T03:00:00Z",
    }
    request = EngagementRequest.from_body("historical", body, now=WORLD.now)
    payload: dict[str, Any] = build_response(request, WORLD, tweets, [], WORLD.now, hour_only=hour_only)  # type: ignore[arg-type]
    return payload


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("hour_only", ["hour_of_day", "day_then_hour"])
@pytest.mark.parametrize("group_by", ORDERS, ids=lambda g: ",".join(x.split(".")[1] for x in g))
def test_every_order_and_layout_of_a_sandbox_response_is_scanned_exactly(
    group_by: list[str], hour_only: str, layout: str
) -> None:
    payload = sandbox_response(group_by, hour_only)
    table = scanned(json.dumps(payload, **LAYOUTS[layout]).encode()).table
    assert table.num_rows > 0


@pytest.mark.parametrize("name", sorted(p.name for p in SPEC.glob("*.json") if "request" not in p.name))
@pytest.mark.parametrize("keep_unsupported", [False, True])
def test_the_documented_responses_are_scanned_exactly(name: str, keep_unsupported: bool) -> None:
    scanned((SPEC / name).read_bytes(), keep_unsupported=keep_unsupported)


def test_placeholders_are_dropped_from_the_scan_as_from_the_objects() -> None:
    payload = sandbox_response(["tweet.id", "engagement.type"], n_tweets=3)
    listed = list(payload["g"])[:2]
    payload[catalog.UNSUPPORTED_VIDEO_VIEWS] = listed
    payload[catalog.UNSUPPORTED_IMPRESSIONS_ENGAGEMENTS] = listed[1:]
    data = json.dumps(payload).encode()
    dropped = scanned(data).report.dropped_unsupported
    assert dropped == 3  # video_views of two tweets, impressions of one (favorites is served)
    assert scanned(data, keep_unsupported=True).report.dropped_unsupported == 0


# The shapes the scan must leave to the ordinary parser (or refuse with it); each names why.
STEPS_ASIDE = {
    "escaped key": rb'{"g": {"12\u0033": {"impressions": "5"}}}',
    "escaped count": rb'{"g": {"123": {"impressions": "\u0035"}}}',
    "integer counts": b'{"g": {"123": {"impressions": 5, "favorites": 7}}}',
    "an integer among strings": b'{"g": {"123": {"impressions": "5", "favorites": 7}}}',
    "an integer first": b'{"g": {"123": {"impressions": 5, "favorites": "7"}}}',
    "null count": b'{"g": {"123": {"impressions": null}}}',
    "true count": b'{"g": {"123": {"favorites": "1", "impressions": true}}}',
    "negative zero": b'{"g": {"123": {"impressions": "-0"}}}',
    "plus sign": b'{"g": {"123": {"impressions": "+5"}}}',
    "spaced count": b'{"g": {"123": {"impressions": " 5"}}}',
    "empty count": b'{"g": {"123": {"impressions": ""}}}',
    "exponent": b'{"g": {"123": {"impressions": "1e3"}}}',
    "19 digits": b'{"g": {"123": {"impressions": "1234567890123456789"}}}',
    "20 digits": b'{"g": {"123": {"impressions": "99999999999999999999"}}}',
    "ragged at the end": b'{"g": {"123": {"impressions": "1"}, "124": "2"}}',
    "ragged at the start": b'{"g": {"124": "2", "123": {"impressions": "1"}}}',
    "ragged in the middle": b'{"g": {"1": {"impressions": {"2026-05-01": "1"}, "favorites": "2"}}}',
    "ragged before a deeper key": b'{"g": {"1": {"impressions": "5", "favorites": {"2026-05-01": "3"}}}}',
    "ragged, of the deepest kind, before a deeper key": b'{"g": {"1": {"2026-05-02": "4", "impressions": {"2026-05-01": "3"}}}}',
    "ragged deeper": b'{"g": {"1": {"impressions": {"2026-05-01": "1"}}, "2": {"impressions": "3"}}}',
    "only empty objects": b'{"g": {"123": {}}}',
    "repeated count key": b'{"g": {"123": {"impressions": "1", "impressions": "2"}}}',
    "repeated inner key": b'{"g": {"123": {"impressions": "1"}, "123": {"favorites": "2"}}}',
    "repeated hour": b'{"g": {"2026-05-01": {"07": "1", "08": "4", "07": "2"}}}',
    "brace in a count": b'{"g": {"123": {"impressions": "{1}"}}}',
    "brace in a key": b'{"g": {"1{2": {"impressions": "1"}}}',
    "closing brace in a key": b'{"g": {"12}": {"impressions": "1"}}}',
    "colon in a key": b'{"g": {"12:": {"impressions": "1"}}}',
    "DEL in a count": b'{"g": {"123": {"impressions": "1\x7f"}}}',
    "array of counts": b'{"g": {"123": ["1", "2"]}}',
    "grouping is a string": b'{"g": "5"}',
    "grouping is an array": b'{"g": []}',
    "escaped quote in a key": rb'{"g": {"1\"2": {"impressions": "1"}}}',
    "invalid UTF-8 in a key": b'{"g": {"1\xff": {"impressions": "1"}}}',
    "non-ASCII key": '{"g": {"1é": {"impressions": "1"}}}'.encode(),
    "unknown metric": b'{"g": {"123": {"likes": "1"}}}',
    "impossible day": b'{"g": {"123": {"2026-02-30": "1"}}}',
    "mixed kinds at one level": b'{"g": {"2026-13-01": {"impressions": "1"}, "123": {"impressions": "2"}}}',
    "a metric beside a tweet": b'{"g": {"impressions": "1", "123": "2"}}',
    "a level twice": b'{"g": {"123": {"124": {"impressions": "1"}}}}',
    "bad window": b'{"start": 5, "g": {"123": {"impressions": "1"}}}',
    "bad id list": b'{"unavailable_tweet_ids": "123", "g": {"123": {"impressions": "1"}}}',
    "byte-order mark": b'\xef\xbb\xbf{"g": {"123": {"impressions": "1"}}}',
    "not an object": b'[{"g": {"123": {"impressions": "1"}}}]',
    "not JSON": b'{"g": {"123": {"impressions": "1"}}',
    "NaN": b'{"g": {"123": {"impressions": NaN}}}',
}


@pytest.mark.parametrize("case", sorted(STEPS_ASIDE))
def test_shapes_outside_the_usual_one_are_left_to_the_ordinary_parser(case: str) -> None:
    data = STEPS_ASIDE[case]
    assert scan_response(data) is None
    assert_same(data)


# Shapes that look unusual but are the usual one; the scan takes them.
TAKEN = {
    "empty grouping": b'{"g": {}}',
    "no grouping": b'{"start": "2026-05-01T00:00:00Z", "end": "2026-05-02T00:00:00Z"}',
    "escapes outside the groupings": rb'{"errors": ["tweet \"x\" \u00e9"], "g\u00e9": {"123": {"impressions": "1"}}}',
    "long blanks": b'{"g" :\n\n   {  "123"\t:\r\n {"impressions"    :     "1"  ,"favorites":"2"\n}\n}   }',
    "leading zeros": b'{"g": {"123": {"impressions": "007"}}}',
    "18 digits": b'{"g": {"123": {"impressions": "123456789012345678"}}}',
    "old metric name": b'{"g": {"123": {"media_clicks": "4", "impressions": "1"}}}',
    "hours out of order": b'{"g": {"2026-05-01": {"09": "1", "07": "4"}, "2026-05-02": {"07": "2"}}}',
    "days out of order": b'{"g": {"1": {"2026-05-02": "1", "2026-05-01": "4"}, "2": {"2026-05-01": "2"}}}',
    "an empty leaf object": b'{"g": {"1": {"impressions": {}}, "2": {"impressions": {"2026-05-01": "3"}}}}',
    "a tweet with no data": b'{"g": {"1": {}, "2": {"impressions": "3"}}}',
    "two groupings": b'{"a": {"1": {"impressions": "3"}}, "b": {"impressions": {"1": "4"}}}',
    "grouping repeated": b'{"a": {"1": {"impressions": "3"}}, "a": {"2": {"favorites": "4"}}}',
    "one-digit hours (tweet ids by shape)": b'{"g": {"2026-05-01": {"7": "1"}}}',
    "hour 24 (a tweet id by shape)": b'{"g": {"2026-05-01": {"24": "1"}}}',
    "hour of day": b'{"g": {"1": {"favorites": {"00": "1", "23": "2"}}}}',
}


@pytest.mark.parametrize("case", sorted(TAKEN))
def test_unusual_looking_responses_of_the_usual_shape_are_scanned(case: str) -> None:
    scanned(TAKEN[case])


# --- generated JSON text: keys, depths, counts, blanks and repeats drawn freely ----------------------------

KEYS = {
    "tweet.id": st.sampled_from(["1790000000000000001", "123456789012", "20000000", "5"]),
    "engagement.type": st.sampled_from(
        ["impressions", "favorites", "media_clicks", "media_engagements", "video_views"]
    ),
    "engagement.day": st.sampled_from(["2026-05-01", "2026-05-02", "2016-02-29"]),
    "engagement.hour": st.sampled_from(["00", "07", "23"]),
}
ODD_KEYS = st.sampled_from(["", "likes", "2026-13-01", "24", "7", "1{", "a b", "é", '"q"', "0x1"])
COUNTS = st.one_of(st.integers(0, 10**12).map(str), st.integers(0, 99).map(lambda n: f"{n:03d}"))
ODD_COUNTS = st.sampled_from([5, -1, 1.5, None, True, [], {}, "-3", "", "x", "1 ", "\u0661", "99999999999999999999"])
BLANKS = st.sampled_from(["", "", " ", "\n  ", "\t", "\r\n"])


@st.composite
def grouping_text(draw: st.DrawFn, dims: list[str], odd: bool) -> str:
    def key(dim: str) -> str:
        text = draw(ODD_KEYS) if odd and draw(st.integers(0, 20)) == 0 else draw(KEYS[dim])
        return json.dumps(text, ensure_ascii=draw(st.booleans()))

    def node(depth: int) -> str:
        if depth == len(dims) or (odd and draw(st.integers(0, 25)) == 0):  # a leaf, maybe at the wrong depth
            value = draw(ODD_COUNTS) if odd and draw(st.integers(0, 10)) == 0 else draw(COUNTS)
            return json.dumps(value)
        if odd and draw(st.integers(0, 30)) == 0:
            return "{}"
        keys = [key(dims[depth]) for _ in range(draw(st.integers(1, 3)))]  # repeats are drawn too
        parts = [f"{draw(BLANKS)}{k}{draw(BLANKS)}:{draw(BLANKS)}{node(depth + 1)}{draw(BLANKS)}" for k in keys]
        return "{" + ",".join(parts) + "}"

    return node(0)


@st.composite
def response_text(draw: st.DrawFn) -> bytes:
    odd = draw(st.booleans())
    parts = []
    for i in range(draw(st.integers(0, 3))):
        dims = draw(st.permutations(list(catalog.GROUP_BY_VALUES)))[: draw(st.integers(1, 4))]
        parts.append(f'"grouping {i}": {draw(grouping_text(dims, odd))}')
    ids = st.lists(KEYS["tweet.id"], max_size=2)
    for key in (catalog.UNSUPPORTED_VIDEO_VIEWS, catalog.UNSUPPORTED_IMPRESSIONS_ENGAGEMENTS, "errors"):
        if draw(st.booleans()):
            parts.insert(draw(st.integers(0, len(parts))), f'"{key}": {json.dumps(draw(ids))}')
    if draw(st.booleans()):
        parts.insert(0, '"start": "2026-05-01T00:00:00Z", "end": "2026-05-29T00:00:00Z"')
    return ("{" + ", ".join(parts) + "}").encode()


@settings(max_examples=400, deadline=None)
@given(data=response_text(), keep_unsupported=st.booleans())
def test_generated_responses_scan_exactly_or_step_aside(data: bytes, keep_unsupported: bool) -> None:
    assert_same(data, keep_unsupported=keep_unsupported)
    try:
        parsed = parse_response_bytes(data, keep_unsupported=keep_unsupported)
    except (ResponseFormatError, ValueError):
        return
    # one response names each number once (load_archive relies on it: it checks only across responses)
    keys = to_polars(parsed.table).select(C.TWEET_ID, C.ENGAGEMENT_TYPE, C.GRAIN, C.DAY, C.HOUR, C.GROUPING)
    assert not keys.is_duplicated().any()
    assert set(keys[C.TWEET_ID].unique()) <= parsed.tweet_ids  # what load_archive's screen relies on


# --- the loaders take the scan where they read bytes ---------------------------------------------------------


def test_every_input_form_reads_through_the_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = sandbox_response(list(catalog.FOUR_ITEM_ORDERS[0]))
    data = json.dumps(payload).encode()
    (tmp_path / "a.json").write_bytes(data)
    (tmp_path / "b.json.gz").write_bytes(gzip.compress(data))
    expected = load_response(payload, backend="polars")

    def ordinary_parser(*args: object, **kwargs: object) -> None:
        raise AssertionError("the scan stepped aside")

    monkeypatch.setattr(engagement_bytes, "parse_response", ordinary_parser)
    for given_ in (data, data.decode(), gzip.compress(data), memoryview(data)):
        assert load_response(given_, backend="polars").equals(expected)  # type: ignore[union-attr]
    from_files = load_response(str(tmp_path / "a.json"), backend="polars")
    assert from_files.drop("source_file", "retrieved_at", "window_start", "window_end").equals(expected)  # type: ignore[union-attr]
    assert len(load_response(tmp_path, backend="polars")) == len(expected)  # the same rows twice, kept once


def test_json_lines_and_lists_still_load_one_response_per_document(tmp_path: Path) -> None:
    first = sandbox_response(["tweet.id", "engagement.type"])
    second = {"g": {"1790000000000000001": {"impressions": "4"}}}
    (tmp_path / "two.jsonl").write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n")
    (tmp_path / "two.json").write_text(json.dumps([first, second]))
    for name in ("two.jsonl", "two.json"):
        frame = load_response(str(tmp_path / name), backend="polars")
        assert "1790000000000000001" in frame["tweet_id"].to_list()  # type: ignore[index]
    with pytest.raises(ResponseFormatError, match="expected one JSON response, found 2"):
        load_response(json.dumps([first, second]).encode())
    with pytest.raises(DataError, match="not UTF-8"):
        load_response(str(_write(tmp_path / "latin1.json", b'{"g": {"1": {"impressions": "\xe9"}}}')))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_a_table_from_the_scan_concatenates_with_one_from_the_objects() -> None:
    payload = sandbox_response(["engagement.type", "tweet.id"])
    a = scanned(json.dumps(payload).encode()).table
    b = parse_response(payload).table
    assert pa.concat_tables([a, b]).num_rows == 2 * a.num_rows


@pytest.mark.parametrize("text", ["hour", "", "grouping é ✓", "x" * 40])
@pytest.mark.parametrize("n", [0, 1, 1000])
def test_a_repeated_string_column_is_that_string_n_times(text: str, n: int) -> None:
    column = repeated(text, n)
    column.validate(full=True)
    assert column.type == pa.string()
    assert column.to_pylist() == [text] * n
    assert to_polars(pa.table({"c": column}))["c"].to_list() == [text] * n


@pytest.mark.parametrize("text", ["0x10", "-0", "1e3"])
def test_a_hex_or_signed_count_in_bytes_is_refused_naming_tweet_and_metric(text: str) -> None:
    # the byte scan steps aside for any non-digit; the ordinary parser it hands over to must then refuse, not cast
    data = json.dumps({"g": {"1243191980982747137": {"impressions": "5", "favorites": text}}}).encode()
    assert scan_response(data) is None
    for parse in (lambda: parse_response_bytes(data), lambda: load_response(data)):
        with pytest.raises(ResponseFormatError) as info:
            parse()
        assert f"count {text!r} of tweet '1243191980982747137', metric 'favorites'" in str(info.value)
