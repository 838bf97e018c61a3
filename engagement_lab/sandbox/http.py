"""Small WSGI helpers of the sandbox: reading requests and writing responses."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from .oauth import form_params

__all__ = [
    "Response",
    "errors",
    "form",
    "form_response",
    "html",
    "json_response",
    "query",
    "read_body",
    "request_url",
]


class Response:
    def __init__(self, status: int, body: bytes, content_type: str, headers: Iterable[tuple[str, str]] = ()):
        self.status, self.body, self.content_type = status, body, content_type
        self.headers = list(headers)


def json_response(status: int, payload: Any, headers: Iterable[tuple[str, str]] = ()) -> Response:
    return Response(status, json.dumps(payload).encode(), "application/json; charset=utf-8", headers)


def errors(status: int, *messages: str, headers: Iterable[tuple[str, str]] = (), **extra: Any) -> Response:
    return json_response(status, {"errors": list(messages), **extra}, headers)


def read_body(environ: dict[str, Any]) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length > 0 else b""


def request_url(environ: dict[str, Any]) -> str:
    """The request URL without query, as the signer saw it (default ports elided)."""
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
    default = {"http": ":80", "https": ":443"}[scheme]
    if host.endswith(default):
        host = host[: -len(default)]
    return f"{scheme}://{host.lower()}{environ.get('PATH_INFO', '')}"


def query(environ: dict[str, Any]) -> list[tuple[str, str]]:
    return parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)


def form(environ: dict[str, Any], body: bytes) -> list[tuple[str, str]]:
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return form_params(body)
    return []


def form_response(values: dict[str, str]) -> Response:
    return Response(200, urlencode(values).encode(), "application/x-www-form-urlencoded")


def html(status: int, content: str) -> Response:
    head = "<!doctype html><html><head><title>engagement_lab sandbox</title></head>"
    page = f"{head}<body>{content}</body></html>"
    return Response(status, page.encode(), "text/html; charset=utf-8")
