"""A source added from outside the package: a parser for a tiny CSV format and one registry entry, and its rows
flow through ``per_tweet``, ``compare`` and ``render_report(table=...)`` without editing any package file.

The toy format: a ``#toy-export`` line, a header, then ``tweet,metric,count`` rows of lifetime totals.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest

from engagement_lab import DataError, StatsInputError, compare, load_response, per_tweet, sources
from engagement_lab import columns as C
from engagement_lab.load.frames import to_frame
from engagement_lab.load.inputs import expand_sources, item_text
from engagement_lab.load.schema import sourced_table
from engagement_lab.report import render_report

MAGIC = "#toy-export"


def parse_toy(text: str, where: str) -> pa.Table:
    """One toy file's rows as tidy lifetime totals, tagged ``toy``."""
    lines = text.strip().splitlines()
    if not lines or not lines[0].startswith(MAGIC) or lines[1:2] != ["tweet,metric,count"]:
        raise DataError(f"{where} is not a toy export (its first lines must be {MAGIC!r} and the header)")
    rows: dict[str, list[Any]] = {C.TWEET_ID: [], C.ENGAGEMENT_TYPE: [], C.VALUE: [], C.SOURCE: []}
    for line in lines[2:]:
        tweet, metric, count = line.split(",")
        rows[C.TWEET_ID].append(tweet)
        rows[C.ENGAGEMENT_TYPE].append(metric)
        rows[C.VALUE].append(int(count))
        rows[C.SOURCE].append("toy")
    return sourced_table(rows, grain="total", grouping="toy")


def load_toy(source: Any, *, backend: str = "polars") -> Any:
    """Toy files (a path, list, directory or glob) -> one tidy frame."""
    items = expand_sources(source, suffixes=(".toy",))
    table = pa.concat_tables(parse_toy(item_text(item), item.name or "the input") for item in items)
    return to_frame(table, backend)  # type: ignore[arg-type]


@pytest.fixture
def toy() -> Iterator[sources.Source]:
    entry = sources.register(
        sources.Source(name="toy", label="toy exports", tags={"toy": 5}, loader=f"{__name__}:load_toy")
    )
    yield entry
    sources.unregister("toy")


def _tweets(n: int) -> list[tuple[str, str, int, int]]:
    """(tweet id, variant, impressions, engagements): B engages 1.5x as often as A, with tweet-level noise."""
    out = []
    for i in range(n):
        variant = "A" if i % 2 == 0 else "B"
        impressions = 1_000 + 37 * (i % 11) * 10
        rate = (0.02 if variant == "A" else 0.03) * (0.8 + 0.05 * (i % 9))
        out.append((str(1_790_000_000_000_000_000 + i), variant, impressions, round(impressions * rate)))
    return out


def test_a_registered_source_flows_through_per_tweet_compare_and_the_report(
    toy: sources.Source, tmp_path: Path
) -> None:
    tweets = _tweets(60)
    for part in range(2):  # two files, each a half of the tweets
        lines = [f"{MAGIC} v1", "tweet,metric,count"]
        for tweet, _, impressions, engagements in tweets[part::2]:
            lines += [f"{tweet},impressions,{impressions}", f"{tweet},engagements,{engagements}"]
        (tmp_path / f"part{part}.toy").write_text("\n".join(lines) + "\n")
    # the Engagement API also reports the first four tweets, with other counts: one source wins per metric
    shared = {t: {"impressions": str(i * 2), "engagements": str(e * 2)} for t, _, i, e in tweets[:4]}
    api_rows = load_response({"per_tweet": shared}, backend="polars")

    toy_rows = sources.get("toy").part("loader")(tmp_path)
    assert toy_rows.height == 120
    assert set(toy_rows["source"].unique()) == {"toy"}
    assert sources.tag_order().index("toy") == 1  # after the Engagement API's untagged rows, before X API v2's
    metadata = pl.DataFrame({"tweet_id": [t for t, *_ in tweets], "variant": [v for _, v, *_ in tweets]})
    both = pl.concat([toy_rows, api_rows], how="diagonal_relaxed")
    with pytest.warns(UserWarning, match=r"different populations \(toy: 56, engagement: 4 tweets"):
        mixed = per_tweet(both, metadata=metadata)

    counts = {row["tweet_id"]: (row["impressions"], row["engagements"]) for row in mixed.iter_rows(named=True)}
    for tweet, _, impressions, engagements in tweets:  # the best-ranked source's numbers, never a sum of two
        expected = (impressions * 2, engagements * 2) if tweet in shared else (impressions, engagements)
        assert counts[tweet] == expected
    with pytest.raises(StatsInputError, match="different populations"):  # 56 toy counts beside 4 of the API's
        compare(mixed, metric="engagement_rate", by="variant", control="A")

    wide = per_tweet(both, metadata=metadata, population="toy")  # one population: every tweet's own toy counts
    counts = {row["tweet_id"]: (row["impressions"], row["engagements"]) for row in wide.iter_rows(named=True)}
    assert counts == {t: (i, e) for t, _, i, e in tweets}
    result = compare(wide, metric="engagement_rate", by="variant", control="A")
    row = result.rows[0]
    a = [counts[t] for t, v, *_ in tweets if v == "A"]
    assert (row.n_control, row.n_treatment) == (30, 30)
    assert math.isclose(row.control_value, sum(e for _, e in a) / sum(i for i, _ in a), rel_tol=1e-12)
    assert row.treatment_value > row.control_value

    table = tmp_path / "per_tweet.csv"
    wide.write_csv(table)
    report = render_report(table=table, by="variant", control="A", out=tmp_path / "report.html", title="Toy A/B")
    html = report.read_text()
    assert "Toy A/B" in html
    assert "per-tweet table per_tweet.csv" in html
    assert f"{row.rel_lift * 100:+.1f}%" in html  # the comparison's lift, as the report prints it


def test_a_source_tag_belongs_to_one_source_and_the_built_in_sources_stay(toy: sources.Source) -> None:
    with pytest.raises(Exception, match=r"source tags \['toy'\] already belong to the source 'toy'"):
        sources.register(sources.Source(name="toy2", label="another", tags={"toy": 9}))
    with pytest.raises(Exception, match="built in"):
        sources.unregister("engagement")
    with pytest.raises(Exception, match=r"api='toyy' is not an option \(did you mean 'toy'\?\)"):
        sources.get("toyy")
