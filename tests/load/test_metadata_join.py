"""per_tweet(..., metadata=...): tweets left without a metadata row are named, and ids a float moved are paired."""

from __future__ import annotations

import warnings
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pytest

from engagement_lab.ids import float_neighbours
from engagement_lab.load import load_response, load_v2, per_tweet

REAL = "1243191980982747137"  # what the API sends
MANGLED = "1243191980982747136"  # float(REAL) written back as an integer: the last digits moved by the rounding
OTHER = "1460323737035677698"
ENGAGEMENT = {"perTweetMetricsOwned": {REAL: {"impressions": "912", "favorites": "17"}, OTHER: {"impressions": "5"}}}
V2 = {
    "data": [
        {"id": REAL, "public_metrics": {"retweet_count": 5239, "like_count": 17168, "impression_count": 912345}},
        {"id": OTHER, "public_metrics": {"retweet_count": 9, "like_count": 120, "impression_count": 5400}},
    ]
}


def test_a_float_mangled_metadata_id_is_named_with_its_tweet(tmp_path: Path) -> None:
    # a campaign sheet whose ids went through a float (a JSON tool, a spreadsheet) and were saved as digits
    sheet = tmp_path / "campaign.csv"
    sheet.write_text(f"tweet_id,variant\n{MANGLED},A\n{OTHER},B\n")
    tidy = load_response(ENGAGEMENT, backend="polars")
    for frame in (tidy, tidy.to_pandas(), tidy.lazy(), duckdb.from_arrow(tidy.to_arrow())):
        with pytest.warns(UserWarning, match="float-mangled") as caught:
            per_tweet(frame, metadata=sheet)
        message = str(caught[0].message)
        assert f"1 of 2 tweets have no row in the metadata (e.g. ['{REAL}'])" in message, type(frame)
        assert "probably float-mangled (an id that went through a float/spreadsheet)" in message
        assert f"tweet {REAL} ~ metadata {MANGLED} (off by 1)" in message
    assert caught[0].filename == __file__  # the warning points at the user's line


def test_tweets_without_metadata_are_counted_and_named() -> None:
    meta = pd.DataFrame({"tweet_id": [OTHER, "20"], "variant": ["B", "A"]})
    with pytest.warns(UserWarning, match=rf"1 of 2 tweets have no row in the metadata \(e.g. \['{REAL}'\]\)") as caught:
        wide = per_tweet(load_v2(V2), metadata=meta, population="public")
    assert "float-mangled" not in str(caught[0].message)  # 20 is nowhere near: no pair is guessed
    assert wide.set_index("tweet_id")["variant"].isna().to_dict() == {REAL: True, OTHER: False}
    full = pl.DataFrame({"tweet_id": [REAL, OTHER, "20"], "variant": ["A", "B", "A"]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every tweet found its row: nothing to say (an extra metadata row is fine)
        assert per_tweet(load_response(ENGAGEMENT, backend="polars"), metadata=full)["variant"].to_list() == ["A", "B"]


def test_float_neighbours_pairs_a_million_ids_by_sorting() -> None:
    rng = np.random.default_rng(29)
    ids = rng.integers(10**18, 2**63 - 2**12, 1_000_000)
    real = [str(i) for i in ids]
    # every 1000th id rounded to a double's spacing, the rest moved far away
    others = [str(int(float(i))) if k % 1000 == 0 else str(i + 10**6) for k, i in enumerate(ids.tolist())]
    pairs = float_neighbours(real, others)
    expected = {(real[k], others[k]) for k in range(0, len(real), 1000) if real[k] != others[k]}
    assert set(pairs) == expected
    assert len(expected) > 900
    assert all(abs(int(a) - int(b)) <= 2**11 for a, b in pairs)
    # media keys and ids a double holds exactly are never paired
    assert float_neighbours(["7_1243191980982747137", "20", REAL], ["21", MANGLED]) == [(REAL, MANGLED)]
