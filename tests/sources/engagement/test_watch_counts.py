"""The watcher reads lifetime totals as strictly as the loaders: a count is decimal digits or it is refused."""

from __future__ import annotations

import pytest

from engagement_lab import ResponseFormatError
from engagement_lab.sources.engagement.watch import _count


def test_digits_and_json_integers_are_counts() -> None:
    assert _count("1790000000000000001", "impressions", "551") == 551
    assert _count("1790000000000000001", "impressions", 551) == 551


@pytest.mark.parametrize("text", ["+16", " 16", "1_000", "0x10", "-3", "١٢", "16.0", True, None])
def test_what_int_would_accept_or_guess_is_refused(text: object) -> None:
    with pytest.raises(ResponseFormatError, match=r"tweet '1790000000000000001' 'impressions'.*is not a count"):
        _count("1790000000000000001", "impressions", text)
