"""The sandbox over a real loopback socket: signed by requests-oauthlib, concurrent, faulty, and from the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth1

from engagement_lab import catalog
from engagement_lab.sandbox import FaultConfig, Sandbox


def _auth(info: dict[str, Any], handle: str = "acme") -> OAuth1:
    account = next(a for a in info["accounts"] if a["handle"] == handle)
    return OAuth1(
        info["consumer_key"], info["consumer_secret"], account["access_token"], account["access_token_secret"]
    )


def _body(sandbox: Sandbox, n: int = 3, handle: str = "acme") -> dict[str, Any]:
    ids = [t.tweet_id for t in reversed(sandbox.app.world.tweets) if t.account == handle and t.status == "ok"][:n]
    return {
        "tweet_ids": ids,
        "engagement_types": ["impressions", "favorites"],
        "groupings": {"g": {"group_by": ["tweet.id", "engagement.type"]}},
    }


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=7, rate_limit_per_minute=10_000) as running:
        yield running


def test_signed_requests_over_a_socket(sandbox: Sandbox) -> None:
    url = f"{sandbox.base_url}/insights/engagement/totals"
    ok = requests.post(url, json=_body(sandbox), auth=_auth(sandbox.info), timeout=10)
    assert ok.status_code == 200
    assert ok.headers["Content-Encoding"] == "gzip"
    assert len(ok.json()["g"]) == 3
    assert catalog.HEADER_REMAINING in ok.headers
    forbidden = requests.post(url, json=_body(sandbox, handle="rival_co"), auth=_auth(sandbox.info), timeout=10)
    assert forbidden.status_code == 403
    no_gzip = requests.post(
        url,
        json=_body(sandbox),
        auth=_auth(sandbox.info),
        headers={"Accept-Encoding": "identity"},
        timeout=10,
    )
    assert no_gzip.status_code == 406
    bearer = requests.post(
        url,
        json=_body(sandbox),
        headers={"Authorization": f"Bearer {sandbox.info['bearer_token']}"},
        timeout=10,
    )
    assert bearer.status_code == 403  # impressions need user context


def test_200_concurrent_requests_from_8_threads(sandbox: Sandbox) -> None:
    url = f"{sandbox.base_url}/insights/engagement/28hr"
    body = {**_body(sandbox, n=5), "groupings": {"g": {"group_by": list(catalog.FOUR_ITEM_ORDERS[0])}}}
    info = sandbox.info

    def one(_: int) -> tuple[int, str]:
        r = requests.post(url, json=body, auth=_auth(info), timeout=30)
        return r.status_code, r.text

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(200)))
    assert [status for status, _ in results] == [200] * 200
    assert len({text for _, text in results}) == 1  # every answer identical


def test_drops_and_truncation_surface_as_connection_errors() -> None:
    with Sandbox(seed=7, faults=FaultConfig(drop_rate=0.5, truncate_rate=0.5, seed=1)) as running:
        errors = []
        for _ in range(12):
            try:
                requests.post(
                    f"{running.base_url}/insights/engagement/totals",
                    json=_body(running),
                    auth=_auth(running.info),
                    timeout=10,
                )
                errors.append("none")
            except requests.exceptions.ChunkedEncodingError:
                errors.append("truncated")
            except requests.exceptions.ConnectionError:
                errors.append("dropped")
    assert set(errors) == {"truncated", "dropped"}


def test_cli_prints_connection_info_first_and_serves() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "engagement_lab.cli",
            "sandbox",
            "--port",
            "0",
            "--seed",
            "7",
            "--now",
            "2026-06-01T12:00:00Z",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        assert set(info) >= {"base_url", "consumer_key", "consumer_secret", "bearer_token", "accounts", "now"}
        assert info["now"] == "2026-06-01T12:00:00Z"
        owned = [a for a in info["accounts"] if a["owned"]]
        assert all("access_token" in a and "access_token_secret" in a for a in owned)
        assert any(not a["owned"] and "access_token" not in a for a in info["accounts"])
        r = requests.get(f"{info['base_url']}/sandbox/tweets.csv", timeout=10)
        assert r.status_code == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_cli_bad_usage_exits_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "engagement_lab.cli", "sandbox", "--fault-rate", "3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "between 0 and 1" in done.stderr


def test_only_loopback_is_served() -> None:
    from engagement_lab.sandbox.server import make_server

    with pytest.raises(ValueError, match="loopback only"):
        make_server(Sandbox().app, host="0.0.0.0")
