"""X API v2 fetch with ids of accounts the app has no token for: set aside and reported, the rest fetched; the
prompts of ``auth`` cancel cleanly on end of input; a missing credential names what OAuth 2.0 needs."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engagement_lab import AnalyticsQuery, ConfigError, fetch_analytics, load_archive
from engagement_lab.api import Credentials
from engagement_lab.cli import main
from engagement_lab.sandbox import Sandbox, SandboxApp, SandboxTransport, World

from ...api.conftest import owned

BASE = "https://api.x.com"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)


def _protected(world: World, n: int) -> list[str]:
    return [t.tweet_id for t in world.tweets if t.account == "acme_labs" and t.status == "protected"][:n]


def test_ids_of_an_account_without_a_token_are_set_aside_and_the_rest_fetched(tmp_path: Path, world: World) -> None:
    app = SandboxApp(world, rate_limit_per_minute=100_000)
    credentials = Credentials.from_mapping(app.info(BASE))
    assert "rival_co" not in credentials.accounts  # the sandbox's unowned account: no user token
    mine, support = owned(world, "acme", 4), owned(world, "acme_support", 2)
    theirs, protected = owned(world, "rival_co", 3), _protected(world, 2)
    owners = {
        **dict.fromkeys(mine, "acme"),
        **dict.fromkeys(support, "acme_support"),
        **dict.fromkeys(theirs, "rival_co"),
        **dict.fromkeys(protected, "acme_labs"),
    }
    result = fetch_analytics(
        AnalyticsQuery([*mine, *theirs, *support, *protected], "2026-05-01", "2026-06-01"),
        credentials=credentials, out=tmp_path, owners=owners, base_url=BASE, transport=SandboxTransport(app),
        now=NOW, progress=False,
    )  # fmt: skip
    assert result.ok, result.errors
    assert set(result.unowned_tweet_ids) == set(theirs)
    assert set(result.unavailable_tweet_ids) == set(protected)
    assert result.set_aside == ("rival_co: 3 id(s) (no user token for this account)",)
    assert set(load_archive(tmp_path, backend="polars")["tweet_id"]) == set(mine + support)
    sent = {call.account for call in app.records if call.endpoint == "tweets/analytics"}
    assert sent == {"acme", "acme_support", "acme_labs"}  # nothing was sent for the set-aside ids
    summary = result.summary()
    assert f"unowned      3 ids (not the account's: no analytics for them): {', '.join(theirs)}" in summary
    assert "set aside rival_co: 3 id(s)" in summary
    assert "engagement-lab auth oauth2" in summary
    assert "`engagement-lab auth` to" not in summary


def test_fetch_analytics_command_with_an_unowned_account_exits_0_listing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with Sandbox(seed=7) as sandbox:
        world = sandbox.app.world
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps(sandbox.info))
        rows = [(i, "acme") for i in owned(world, "acme", 5)] + [(i, "rival_co") for i in owned(world, "rival_co", 2)]
        ids_file = tmp_path / "ids.csv"
        ids_file.write_text("tweet_id,account\n" + "".join(f"{i},{a}\n" for i, a in rows))
        code = main(
            ["fetch", "analytics", "--ids-file", str(ids_file), "--out", str(tmp_path / "archive"),
             "--base-url", sandbox.base_url, "--credentials", str(creds), "--start", "2026-05-01", "--no-progress"]
        )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "unowned      2 ids (not the account's" in out
    assert "set aside rival_co: 2 id(s) (no user token for this account)" in out
    assert set(load_archive(tmp_path / "archive", backend="polars")["tweet_id"]) == {i for i, a in rows if a == "acme"}


@pytest.mark.parametrize("flow", [["oauth2", "--paste", "--client-id", "abc"], []])
def test_end_of_input_at_an_auth_prompt_is_a_clean_cancel(tmp_path: Path, flow: list[str]) -> None:
    with Sandbox(seed=7) as sandbox:
        creds = tmp_path / "creds.json"
        creds.write_text(json.dumps({k: v for k, v in sandbox.info.items() if k != "accounts"}))
        done = subprocess.run(
            [sys.executable, "-m", "engagement_lab.cli", "auth", *flow, "--base-url", sandbox.base_url,
             "--credentials", str(creds), "--save", str(tmp_path / "saved.json")],
            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 130, done.stderr
    assert "engagement-lab: cancelled at the prompt (end of input); nothing was saved" in done.stderr
    assert "unexpected" not in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "saved.json").exists()


def test_missing_credentials_say_what_oauth2_needs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        Credentials.from_env({}, dotenv=None)
    message = str(info.value)
    assert "ENGAGEMENT_CONSUMER_KEY" in message
    assert "OAuth 2.0 client id (ENGAGEMENT_OAUTH2_CLIENT_ID" in message
    assert "`engagement-lab auth oauth2 --save FILE`" in message
    found = Credentials.from_env(
        {"ENGAGEMENT_CONSUMER_KEY": "k", "ENGAGEMENT_CONSUMER_SECRET": "s", "ENGAGEMENT_OAUTH2_CLIENT_ID": "cid"},
        dotenv=None,
    )
    assert found.oauth2_client_id == "cid"
    with pytest.raises(ConfigError, match=r"`engagement-lab auth oauth2` \(OAuth 2.0, X API v2\)"):
        found.account("rival_co")
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"consumer_key": "k", "consumer_secret": "s"}))
    assert main(["auth", "oauth2", "--credentials", str(creds), "--save", str(tmp_path / "x.json"), "--paste"]) == 1
