"""OAuth in the sandbox: the signature matches published vectors, and the token flows work end to end."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from requests_oauthlib import OAuth1, OAuth1Session

from engagement_lab.sandbox import Sandbox
from engagement_lab.sandbox.oauth import OAuthError, base_string, hmac_sha1_signature, parse_oauth_header

# The worked example of the X developer docs ("Creating a signature"), for both hosts it has used.
DOC_PARAMS = [
    ("status", "Hello Ladies + Gentlemen, a signed OAuth request!"),
    ("include_entities", "true"),
    ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
    ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
    ("oauth_signature_method", "HMAC-SHA1"),
    ("oauth_timestamp", "1318622958"),
    ("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
    ("oauth_version", "1.0"),
]
DOC_SECRETS = ("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw", "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE")


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        ("https://api.twitter.com/1.1/statuses/update.json", "hCtSmYh+iHYCEqBWrE7C7hYmtUk="),
        ("https://api.x.com/1.1/statuses/update.json", "Ls93hJiZbQ3akF3HF3x1Bz8/zU4="),
    ],
)
def test_signature_matches_the_published_vector(url: str, signature: str) -> None:
    base = base_string("POST", url, DOC_PARAMS)
    assert base.startswith("POST&https%3A%2F%2Fapi.")
    assert "status%3DHello%2520Ladies%2520%252B%2520Gentlemen" in base
    assert hmac_sha1_signature(base, *DOC_SECRETS) == signature


def test_header_parsing() -> None:
    header = 'OAuth realm="x", oauth_consumer_key="a%20b", oauth_nonce="n"'
    assert parse_oauth_header(header) == {"oauth_consumer_key": "a b", "oauth_nonce": "n"}
    with pytest.raises(OAuthError, match="Unknown Authorization Type"):
        parse_oauth_header("Digest x")
    with pytest.raises(OAuthError, match="Malformed"):
        parse_oauth_header("OAuth broken")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed=7) as running:
        yield running


def _totals(sandbox: Sandbox, auth: object, handle: str = "acme") -> requests.Response:
    tweet = next(t for t in reversed(sandbox.app.world.tweets) if t.account == handle and t.status == "ok")
    body = {
        "tweet_ids": [tweet.tweet_id],
        "engagement_types": ["favorites"],
        "groupings": {"g": {"group_by": ["tweet.id", "engagement.type"]}},
    }
    return requests.post(f"{sandbox.base_url}/insights/engagement/totals", json=body, auth=auth, timeout=10)  # type: ignore[arg-type]


def test_three_legged_pin_flow_with_requests_oauthlib(sandbox: Sandbox) -> None:
    info = sandbox.info
    session = OAuth1Session(info["consumer_key"], client_secret=info["consumer_secret"], callback_uri="oob")
    request_token = session.fetch_request_token(f"{sandbox.base_url}/oauth/request_token")
    authorize_url = session.authorization_url(f"{sandbox.base_url}/oauth/authorize")
    chooser = requests.get(authorize_url, timeout=10)
    assert "@acme_support" in chooser.text
    page = requests.get(authorize_url, params={"user": "acme_support"}, timeout=10)
    pin = re.search(r'<code id="pin">(\d{7})</code>', page.text)
    assert pin is not None
    session = OAuth1Session(
        info["consumer_key"],
        client_secret=info["consumer_secret"],
        resource_owner_key=request_token["oauth_token"],
        resource_owner_secret=request_token["oauth_token_secret"],
        verifier=pin.group(1),
    )
    tokens = session.fetch_access_token(f"{sandbox.base_url}/oauth/access_token")
    assert tokens["screen_name"] == "acme_support"
    auth = OAuth1(info["consumer_key"], info["consumer_secret"], tokens["oauth_token"], tokens["oauth_token_secret"])
    assert _totals(sandbox, auth, "acme_support").status_code == 200
    assert _totals(sandbox, auth, "acme").status_code == 403  # the new token owns acme_support's tweets only


def test_wrong_pin_is_refused(sandbox: Sandbox) -> None:
    info = sandbox.info
    session = OAuth1Session(info["consumer_key"], client_secret=info["consumer_secret"], callback_uri="oob")
    token = session.fetch_request_token(f"{sandbox.base_url}/oauth/request_token")
    requests.get(session.authorization_url(f"{sandbox.base_url}/oauth/authorize"), params={"user": "acme"}, timeout=10)
    bad = OAuth1Session(
        info["consumer_key"],
        client_secret=info["consumer_secret"],
        resource_owner_key=token["oauth_token"],
        resource_owner_secret=token["oauth_token_secret"],
        verifier="0000000",
    )
    with pytest.raises(ValueError, match="Invalid oauth_verifier"):
        bad.fetch_access_token(f"{sandbox.base_url}/oauth/access_token")


def test_callback_flow_redirects_with_verifier(sandbox: Sandbox) -> None:
    info = sandbox.info
    session = OAuth1Session(
        info["consumer_key"], client_secret=info["consumer_secret"], callback_uri="http://127.0.0.1:9/cb"
    )
    session.fetch_request_token(f"{sandbox.base_url}/oauth/request_token")
    r = requests.get(
        session.authorization_url(f"{sandbox.base_url}/oauth/authorize"),
        params={"user": "acme"},
        allow_redirects=False,
        timeout=10,
    )
    assert r.status_code == 302
    assert re.match(r"http://127\.0\.0\.1:9/cb\?oauth_token=[^&]+&oauth_verifier=\d{7}$", r.headers["Location"])


def test_bearer_token_retrieval(sandbox: Sandbox) -> None:
    info = sandbox.info
    r = requests.post(
        f"{sandbox.base_url}/oauth2/token",
        auth=(info["consumer_key"], info["consumer_secret"]),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    assert r.json() == {"token_type": "bearer", "access_token": info["bearer_token"]}
    denied = requests.post(
        f"{sandbox.base_url}/oauth2/token",
        auth=(info["consumer_key"], "nope"),
        data={"grant_type": "client_credentials"},
        timeout=10,
    )
    assert denied.status_code == 403
