"""Auth: the signature matches the published vector, credentials load from every source, secrets stay masked."""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
import requests

from engagement_lab import AuthenticationError, ConfigError
from engagement_lab.api import Credentials, OAuth1Auth, Secret, authorize_pin, request_bearer_token
from engagement_lab.sandbox import Sandbox, SandboxApp, SandboxTransport

from .conftest import BASE


def _signed(auth: httpx.Auth, request: httpx.Request) -> dict[str, str]:
    flow = auth.sync_auth_flow(request)
    signed = next(flow)
    header = signed.headers["Authorization"]
    return {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header)}


def test_signature_matches_the_published_twitter_vector() -> None:
    auth = OAuth1Auth(
        Secret("xvz1evFS4wEEPTGEFPHBog"),
        Secret("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"),
        Secret("370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
        Secret("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"),
        nonce=lambda: "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
        timestamp=lambda: "1318622958",
    )
    request = httpx.Request(
        "POST",
        "https://api.twitter.com/1.1/statuses/update.json?include_entities=true",
        content=b"status=Hello%20Ladies%20%2B%20Gentlemen%2C%20a%20signed%20OAuth%20request%21",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    params = _signed(auth, request)
    assert params["oauth_signature"] == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
    assert params["oauth_signature_method"] == "HMAC-SHA1"


def test_json_bodies_are_not_signed_and_the_sandbox_agrees(app: SandboxApp, credentials: Credentials) -> None:
    tokens = credentials.account("acme")
    auth = OAuth1Auth(
        credentials.consumer_key, credentials.consumer_secret, tokens.access_token, tokens.access_token_secret
    )
    with httpx.Client(transport=SandboxTransport(app), auth=auth) as client:
        ids = [t.tweet_id for t in app.world.tweets if t.account == "acme" and t.status == "ok"][-2:]
        body = {"tweet_ids": ids, "engagement_types": ["favorites"], "groupings": {"g": {"group_by": ["tweet.id"]}}}
        r = client.post(f"{BASE}/insights/engagement/totals", json=body, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200


def test_secrets_are_masked_everywhere_they_could_show() -> None:
    secret = Secret("s3cr3t-value")
    creds = Credentials(Secret("key-value"), secret, Secret("bearer-value"))
    for text in (repr(secret), str(secret), repr(creds), str(creds), f"{creds}", repr(OAuth1Auth(secret, secret))):
        assert "s3cr3t" not in text
        assert "key-value" not in text
        assert "bearer-value" not in text
    assert secret.reveal() == "s3cr3t-value"


def test_credentials_from_environment_and_dotenv(tmp_path: Path) -> None:
    env = {
        "ENGAGEMENT_CONSUMER_KEY": "ck",
        "ENGAGEMENT_CONSUMER_SECRET": "cs",
        "ENGAGEMENT_ACCESS_TOKEN": "at",
        "ENGAGEMENT_ACCESS_TOKEN_SECRET": "ats",
        "ENGAGEMENT_ACCOUNT": "acme",
    }
    creds = Credentials.from_env(env, dotenv=None)
    assert creds.handles == ["acme"]
    assert creds.account().access_token.reveal() == "at"
    dotenv = tmp_path / ".env"
    dotenv.write_text(
        "# app\nexport ENGAGEMENT_CONSUMER_KEY='dk'\nENGAGEMENT_CONSUMER_SECRET=\"ds\"\nENGAGEMENT_BEARER_TOKEN=bt\n"
    )
    from_file = Credentials.from_env({}, dotenv=dotenv)
    assert from_file.consumer_key.reveal() == "dk"
    assert from_file.bearer_token is not None
    assert from_file.bearer_token.reveal() == "bt"
    assert Credentials.from_env({"ENGAGEMENT_CONSUMER_KEY": "x"}, dotenv=dotenv).consumer_key.reveal() == "x"


@pytest.mark.parametrize(
    ("env", "phrase"),
    [
        ({}, "ENGAGEMENT_CONSUMER_KEY and ENGAGEMENT_CONSUMER_SECRET"),
        (
            {"ENGAGEMENT_CONSUMER_KEY": "k", "ENGAGEMENT_CONSUMER_SECRET": "s", "ENGAGEMENT_ACCESS_TOKEN": "t"},
            "ENGAGEMENT_ACCESS_TOKEN_SECRET",
        ),
    ],
)
def test_missing_credentials_name_the_variable(env: dict[str, str], phrase: str) -> None:
    with pytest.raises(ConfigError, match=phrase):
        Credentials.from_env(env, dotenv=None)


def test_credentials_file_with_several_accounts_round_trips_privately(app: SandboxApp, tmp_path: Path) -> None:
    info_file = tmp_path / "sandbox.json"
    info_file.write_text(json.dumps(app.info(BASE)))
    creds = Credentials.from_file(info_file)
    assert set(creds.handles) == {"acme", "acme_support", "acme_labs"}  # rival_co has no tokens
    saved = creds.save(tmp_path / "private" / "creds.json")
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
    assert Credentials.from_file(saved) == creds
    with pytest.raises(ConfigError, match="no user tokens for account 'nobody'"):
        creds.account("nobody")
    with pytest.raises(ConfigError, match="several accounts"):
        creds.account()
    with pytest.raises(ConfigError, match="does not exist"):
        Credentials.from_file(tmp_path / "missing.json")


def test_bearer_token_retrieval(app: SandboxApp) -> None:
    info = app.info(BASE)
    bare = Credentials.from_mapping({**info, "bearer_token": None})
    got = request_bearer_token(
        bare, base_url=BASE.replace("data-api.twitter.com", "sandbox.local"), transport=SandboxTransport(app)
    )
    assert got.bearer_token is not None
    assert got.bearer_token.reveal() == info["bearer_token"]
    wrong = Credentials.from_mapping({**info, "consumer_secret": "wrong"})
    with pytest.raises(AuthenticationError, match="403"):
        request_bearer_token(wrong, base_url="https://sandbox.local", transport=SandboxTransport(app))


def test_pin_flow_end_to_end_over_loopback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with Sandbox(seed=7) as sandbox:
        app_only = Credentials.from_mapping({**sandbox.info, "accounts": []})
        shown: list[str] = []

        def read_pin(prompt: str) -> str:
            page = requests.get(shown[0], params={"user": "acme_support"}, timeout=10).text
            match = re.search(r'id="pin">(\d+)<', page)
            assert match is not None
            return match.group(1)

        tokens = authorize_pin(app_only, base_url=sandbox.base_url, show=shown.append, ask_pin=read_pin)
        assert tokens.handle == "acme_support"
        secrets = [tokens.access_token.reveal(), tokens.access_token_secret.reveal(), sandbox.info["consumer_secret"]]
        assert "DEBUG" in caplog.text
        assert not [s for s in secrets if s in caplog.text]
        assert shown[0].startswith(f"{sandbox.base_url}/oauth/authorize?oauth_token=")
        with pytest.raises(AuthenticationError, match="refused"):
            authorize_pin(app_only, base_url=sandbox.base_url, show=lambda url: None, ask_pin=lambda prompt: "0000000")
