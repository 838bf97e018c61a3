"""load_response: every documented shape, every legal group_by order, both backends, malformed input refused."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engagement_lab import DataError, ResponseFormatError, catalog
from engagement_lab.load import LoadReport, load_response
from engagement_lab.sandbox import World
from engagement_lab.sources.engagement.query import EngagementRequest
from engagement_lab.sources.engagement.sandbox import build_response

from ...load.conftest import canonical, frame_rows, reference_rows

SPEC = Path(__file__).resolve().parents[2] / "fixtures" / "spec"
FIXTURES = sorted(p.stem for p in SPEC.glob("*.json") if "request" not in p.stem)


@pytest.mark.parametrize("name", FIXTURES)
def test_documented_fixtures_load_exactly(name: str, backend: str) -> None:
    payload = json.loads((SPEC / f"{name}.json").read_text())
    frame = load_response(payload, backend=backend, keep_unsupported=True)  # type: ignore[arg-type]
    assert canonical(frame_rows(frame)) == canonical(reference_rows(payload))


def test_hourly_fixture_values_and_timestamps(backend: str) -> None:
    frame = load_response(SPEC / "F3_response.json", backend=backend)  # type: ignore[arg-type]
    rows = frame_rows(frame)
    assert len(rows) == 58
    first = next(
        r for r in rows if r["engagement_type"] == "impressions" and r["hour"] == 17 and str(r["day"]) == "2015-09-14"
    )
    assert first["value"] == 551
    assert first["timestamp"].isoformat() == "2015-09-14T17:00:00+00:00"
    assert first["tweet_id"] == "123456789"


def test_dtypes_pandas() -> None:
    frame = load_response(SPEC / "F3_response.json")
    assert str(frame["tweet_id"].dtype) == "string"
    assert str(frame["value"].dtype) == "int64"
    assert str(frame["hour"].dtype) == "Int8"
    assert str(frame["timestamp"].dtype) == "datetime64[us, UTC]"
    assert isinstance(frame.attrs["load_report"], LoadReport)


def test_dtypes_polars() -> None:
    frame = load_response(SPEC / "F3_response.json", backend="polars")
    assert frame.schema["tweet_id"] == pl.String
    assert frame.schema["day"] == pl.Date
    assert frame.schema["value"] == pl.Int64


def test_reserved_keys_become_a_report_not_rows() -> None:
    frame, report = load_response(SPEC / "F7_unavailable.json", report=True)
    assert report.unavailable_tweet_ids == ("323456789",)
    assert report.start is not None
    assert report.start.isoformat() == "2015-11-17T22:00:00+00:00"
    assert not report.complete
    assert set(frame["tweet_id"]) == {"423456789"}
    assert "unavailable" in report._repr_html_()


def test_unsupported_placeholders_are_dropped_unless_kept() -> None:
    payload = json.loads((SPEC / "F7_video_views.json").read_text())
    frame, report = load_response(payload, report=True)
    assert report.dropped_unsupported == 2
    old = frame[frame["tweet_id"].isin(report.unsupported_video_views)]
    assert "video_views" not in set(old["engagement_type"])
    kept = load_response(payload, keep_unsupported=True)
    assert len(kept) == len(frame) + 2


@pytest.mark.parametrize("form", ["dict", "str", "bytes", "gzip", "path", "gz-path"])
def test_every_input_form(form: str, tmp_path: Path) -> None:
    payload = json.loads((SPEC / "F4_response.json").read_text())
    raw = json.dumps(payload).encode()
    given_: Any = {
        "dict": payload,
        "str": raw.decode(),
        "bytes": raw,
        "gzip": gzip.compress(raw),
    }.get(form)
    if form == "path":
        given_ = tmp_path / "r.json"
        given_.write_bytes(raw)
    if form == "gz-path":
        given_ = tmp_path / "r.json.gz"
        given_.write_bytes(gzip.compress(raw))
    assert len(load_response(given_)) == 12


def test_error_body_loads_as_no_rows_with_errors() -> None:
    frame, report = load_response({"errors": ["internal server error"]}, report=True)
    assert len(frame) == 0
    assert report.errors == ("internal server error",)


# --- every legal order, straight from the sandbox's own response builder ---------------------------------

WORLD = World(seed=7)
ORDERS = [list(p) for n in (1, 2, 3) for p in itertools.permutations(catalog.GROUP_BY_VALUES, n)] + [
    list(o) for o in catalog.FOUR_ITEM_ORDERS
]


@pytest.mark.parametrize("hour_only", ["hour_of_day", "day_then_hour"])
@pytest.mark.parametrize("group_by", ORDERS, ids=lambda g: ",".join(x.split(".")[1] for x in g))
def test_every_group_by_order_from_the_sandbox(group_by: list[str], hour_only: str, backend: str) -> None:
    tweets = [t for t in WORLD.tweets if t.account == "acme" and t.status == "ok"][-2:]
    body = {
        "tweet_ids": [t.tweet_id for t in tweets],
        "engagement_types": ["impressions", "favorites"],
        "groupings": {"g": {"group_by": group_by}},
        "start": "2026-05-30T20:00:00Z",
        "end": "2026-06-01T03:00:00Z",
    }
    request = EngagementRequest.from_body("historical", body, now=WORLD.now)
    payload = build_response(request, WORLD, tweets, [], WORLD.now, hour_only=hour_only)  # type: ignore[arg-type]
    payload = json.loads(json.dumps(payload))
    frame = load_response(payload, backend=backend)  # type: ignore[arg-type]
    assert canonical(frame_rows(frame)) == canonical(reference_rows(payload))
    assert len(frame) > 0


# --- hypothesis: well-formed payloads load exactly; malformed ones raise only our error -------------------

DIM_KEYS = {
    "tweet.id": st.sampled_from(["1790000000000000001", "1790000000000000002", "123456789012", "20000000"]),
    "engagement.type": st.sampled_from(["impressions", "engagements", "favorites", "url_clicks"]),
    "engagement.day": st.sampled_from(["2026-05-01", "2026-05-02", "2016-02-29"]),
    "engagement.hour": st.sampled_from(["00", "07", "23"]),
}
COUNTS = st.one_of(st.integers(0, 2**40).map(str), st.integers(0, 10**6))


def tree(dims: list[str]) -> st.SearchStrategy[Any]:
    if not dims:
        return COUNTS
    return st.dictionaries(DIM_KEYS[dims[0]], tree(dims[1:]), min_size=1, max_size=3)


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i in range(draw(st.integers(1, 3))):
        dims = draw(st.permutations(list(catalog.GROUP_BY_VALUES)))[: draw(st.integers(1, 4))]
        if (
            "engagement.hour" in dims
            and "engagement.day" in dims
            and dims.index("engagement.hour") < dims.index("engagement.day")
        ):
            dims.remove("engagement.hour")
        out[f"grouping {i}"] = draw(tree(dims))
    if draw(st.booleans()):
        out["unavailable_tweet_ids"] = ["999"]
    return out


@settings(max_examples=200, deadline=None)
@given(payload=payloads(), use_polars=st.booleans())
def test_generated_payloads_load_exactly(payload: dict[str, Any], use_polars: bool) -> None:
    frame = load_response(payload, backend="polars" if use_polars else "pandas")
    assert canonical(frame_rows(frame)) == canonical(reference_rows(payload))


CORRUPTIONS = st.sampled_from(["-1", "1.5", "abc", 1.5, -3, True, None, [], "", " 7"])


@st.composite
def broken_payloads(draw: st.DrawFn) -> dict[str, Any]:
    payload = draw(payloads())
    name = next(k for k in payload if k.startswith("grouping"))
    node = payload[name]
    while isinstance(node, dict):
        key = next(iter(node))
        if not isinstance(node[key], dict) or draw(st.booleans()):
            choice = draw(st.sampled_from(["leaf", "key", "depth"]))
            if choice == "leaf":
                node[key] = draw(CORRUPTIONS)
            elif choice == "key":
                node[draw(st.sampled_from(["likes", "2026-13", "1.5e18", "tweet"]))] = node.pop(key)
            else:
                node[key] = {"impressions": "1"} if not isinstance(node[key], dict) else "5"
            break
        node = node[key]
    return payload


@settings(max_examples=300, deadline=None)
@given(payload=broken_payloads())
def test_malformed_payloads_raise_only_our_error(payload: dict[str, Any]) -> None:
    try:
        frame = load_response(payload)
    except ResponseFormatError as exc:
        message = str(exc)
    else:
        # a "corruption" can be harmless (one valid key swapped for another): then the load is exact
        assert canonical(frame_rows(frame)) == canonical(reference_rows(payload))
        return
    assert "(at $" in message


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        ({"g": {"123": {"impressions": "-4"}}}, "$['g']['123']['impressions']"),
        ({"g": {"123": {"impressions": 2.0}}}, "$['g']['123']['impressions']"),
        ({"g": {"123": {"likes": "4"}}}, "$['g']['123']['likes']"),
        ({"g": {"123": {"impressions": {"2026-02-30": "1"}}}}, "$['g']['123']['impressions']['2026-02-30']"),
        ({"g": {"123": {"impressions": "1"}, "124": "2"}}, "$['g']"),
        ({"g": ["not", "an", "object"]}, "$['g']"),
        ({"start": 5}, "$['start']"),
        ({"unavailable_tweet_ids": "123"}, "$['unavailable_tweet_ids']"),
    ],
)
def test_malformed_messages_name_the_json_path(payload: dict[str, Any], path: str) -> None:
    with pytest.raises(ResponseFormatError) as info:
        load_response(payload)
    assert path in str(info.value)


def test_not_json_and_missing_files() -> None:
    with pytest.raises(ResponseFormatError, match="not valid JSON"):
        load_response(b"{oops")
    with pytest.raises(DataError, match=r"'no/such/file.json' is not an existing file, directory or glob"):
        load_response("no/such/file.json")


@pytest.mark.parametrize(
    ("damage", "said"),
    [(lambda z: z[:-3], "end-of-stream marker"), (lambda z: z[:10] + b"\xff" * 40, "invalid block type")],
)
def test_damaged_gzip_is_refused_naming_the_file(tmp_path: Path, damage: Any, said: str) -> None:
    path = tmp_path / "answer.json.gz"
    path.write_bytes(damage(gzip.compress((SPEC / "F7_unavailable.json").read_bytes())))
    with pytest.raises(DataError, match=rf"'{path}' looks gzip-compressed but cannot be decompressed \(.*{said}"):
        load_response(path)
    with pytest.raises(DataError, match=rf"the payload looks gzip-compressed .*{said}"):
        load_response(path.read_bytes())


def test_pandas_and_polars_agree_on_a_big_sandbox_response() -> None:
    tweets = [t for t in WORLD.tweets if t.account == "acme" and t.status == "ok"][-25:]
    body = {
        "tweet_ids": [t.tweet_id for t in tweets],
        "engagement_types": list(catalog.ENDPOINTS["historical"].metrics),
        "groupings": "hourly",
    }
    request = EngagementRequest.from_body(
        "historical",
        {**body, "groupings": {"h": {"group_by": list(catalog.FOUR_ITEM_ORDERS[0])}}},
        now=WORLD.now,
    )
    payload = json.loads(json.dumps(build_response(request, WORLD, tweets, [], WORLD.now)))
    pandas_frame = load_response(payload)
    polars_frame = load_response(payload, backend="polars")
    assert len(pandas_frame) == 25 * 17 * 28 * 24
    assert isinstance(pandas_frame, pd.DataFrame)
    assert pandas_frame["value"].sum() == polars_frame["value"].sum()
    assert pandas_frame["tweet_id"].tolist() == polars_frame["tweet_id"].to_list()


def test_frames_follow_the_logical_dtypes_of_columns_module() -> None:
    from engagement_lab import columns

    pandas_names = {
        "string": "string",
        "date": "date32[day][pyarrow]",
        "int8": "Int8",
        "datetime[UTC]": "datetime64[us, UTC]",
        "int64": "int64",
    }
    polars_names = {
        "string": pl.String,
        "date": pl.Date,
        "int8": pl.Int8,
        "datetime[UTC]": pl.Datetime("us", "UTC"),
        "int64": pl.Int64,
    }
    frame = load_response(SPEC / "F3_response.json")
    lazy = load_response(SPEC / "F3_response.json", backend="polars")
    for column in columns.TIDY:
        logical = columns.DTYPES[column]
        assert str(frame[column].dtype) == pandas_names[logical], column
        assert lazy.schema[column] == polars_names[logical], column


OLD, CURRENT = next(iter(catalog.RENAMED_METRICS.items()))


@pytest.mark.parametrize("form", ["object", "bytes"])
@pytest.mark.parametrize(
    ("payload", "path", "said"),
    [
        (
            {"h": {"1": {OLD: {"2026-01-01": {"01": "5", "02": "3"}}, CURRENT: {"2026-01-01": {"01": "6"}}}}},
            "$['h']['1']['media_clicks']['2026-01-01']['01']",
            "'media_clicks' = 5 and 'media_engagements' = 6",
        ),
        (
            {"t": {CURRENT: {"1": "5"}, OLD: {"2": "6", "1": "7"}}},
            "$['t']['media_engagements']['1']",
            "'media_engagements' = 5 and 'media_clicks' = 7",
        ),
    ],
)
def test_a_metric_under_its_old_and_current_name_at_once_is_refused(
    payload: dict[str, Any], path: str, said: str, form: str
) -> None:
    """Renaming the old name would make two counts of one number (summed by anything that adds them up)."""
    with pytest.raises(ResponseFormatError) as caught:
        load_response(payload if form == "object" else json.dumps(payload).encode())
    assert said in str(caught.value)
    assert "is reported twice for one tweet and time" in str(caught.value)
    assert caught.value.path == path


def test_the_old_name_for_some_tweets_and_the_current_for_others_loads() -> None:
    payload = {"t": {"1": {OLD: "5"}, "2": {CURRENT: "6"}}, "u": {OLD: {"1": "7"}}}
    frame = load_response(payload, backend="polars").sort("grouping", "tweet_id")
    assert frame.select("grouping", "tweet_id", "engagement_type", "value").rows() == [
        ("t", "1", CURRENT, 5),
        ("t", "2", CURRENT, 6),
        ("u", "1", CURRENT, 7),
    ]


@pytest.mark.parametrize("text", ["0x10", "0X1F", "-0", "+16", " 16", "1_000", "1e3", "16.0", "\u0661\u0666"])
def test_a_count_that_is_not_plain_decimal_digits_is_refused_naming_tweet_metric_and_text(text: str) -> None:
    # arrow's string cast read "0x10" as 16 and "-0" as 0: a silent wrong number
    payload = {"Grand Totals": {"1243191980982747137": {"impressions": "17168", "favorites": text}}}
    with pytest.raises(ResponseFormatError) as info:
        load_response(payload)
    message = str(info.value)
    assert repr(text) in message
    assert "tweet '1243191980982747137'" in message
    assert "metric 'favorites'" in message
    assert "$['Grand Totals']['1243191980982747137']['favorites']" in message
