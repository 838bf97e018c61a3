"""The documented example requests (spec §6), re-aimed at the world's tweets, get responses of the same shape."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engagement_lab import catalog

from .conftest import Poster

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "spec"


def load(name: str) -> Any:
    return json.loads((SPEC / f"{name}.json").read_text())


def kind(key: str) -> str:
    if key in catalog.METRICS:
        return "<metric>"
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", key):
        return "<day>"
    if re.fullmatch(r"\d{2}", key):
        return "<hh>"
    if key.isdigit():
        return "<id>"
    return key


def shape(node: Any) -> set[tuple[str, ...]]:
    """Every root-to-leaf path with keys replaced by their kind; grouping names kept; leaves typed."""
    if not isinstance(node, dict):
        return {("<count>" if isinstance(node, str) and node.isdigit() else type(node).__name__,)}
    return {(kind(k), *rest) for k, child in node.items() for rest in shape(child)}


@pytest.mark.parametrize(
    ("example", "endpoint", "as_", "retarget"),
    [
        ("F1", "totals", "bearer", {"tweet_ids": lambda ids: ids("rival_co", n=2) + ids("acme", n=1)}),
        ("F2", "totals", "acme", {"tweet_ids": lambda ids: ids("acme", n=2)}),
        ("F3", "28hr", "acme", {"tweet_ids": lambda ids: ids("acme", n=1)}),
        (
            "F4",
            "historical",
            "acme",
            {
                "tweet_ids": lambda ids: ids("acme", n=3),
                "start": lambda ids: "2026-05-01",
                "end": lambda ids: "2026-05-15",
            },
        ),
    ],
)
def test_documented_examples_keep_their_shape(
    post: Poster,
    ids: Callable[..., list[str]],
    example: str,
    endpoint: str,
    as_: str,
    retarget: dict[str, Callable[..., Any]],
) -> None:
    request = load(f"{example}_request")
    request.update({field: make(ids) for field, make in retarget.items()})
    response = post(endpoint, request, as_=as_)
    assert response.status_code == 200, response.text
    documented = load(f"{example}_response")
    assert shape(response.json()) == shape(documented)
    if "start" in documented:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:00:00Z", response.json()["start"])
    if example == "F4":
        assert (response.json()["start"], response.json()["end"]) == (
            "2026-05-01T00:00:00Z",
            "2026-05-15T00:00:00Z",
        )
