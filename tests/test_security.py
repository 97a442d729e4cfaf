"""Admin authentication, error bodies, response headers and CORS."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import pytest

from app.security import token_matches
from tests.client import LambdaClient
from tests.conftest import ADMIN_TOKEN, ADMIN_TOKEN_SHA256

ADMIN_ROUTES = [
    ("GET", "/contact", None),
    ("POST", "/projects", {"slug": "x", "title": "x"}),
    ("PATCH", "/projects/x", {"title": "y"}),
    ("DELETE", "/projects/x", None),
]


def test_token_matches_only_the_configured_digest() -> None:
    digest = hashlib.sha256(b"s3cret").hexdigest()
    assert token_matches("s3cret", digest)
    assert not token_matches("s3cret ", digest)
    assert not token_matches("s3cre", digest)
    assert not token_matches("", digest)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Basic {ADMIN_TOKEN}",
        ADMIN_TOKEN,
        f"Bearer {ADMIN_TOKEN}x",
        f"Bearer {ADMIN_TOKEN[:-1]}",
        f"Bearer {ADMIN_TOKEN.upper()}",
        f"Bearer {ADMIN_TOKEN_SHA256}",
    ],
)
@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_refuse_wrong_tokens(
    client: LambdaClient,
    method: str,
    path: str,
    body: Any,
    authorization: str | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    headers = {} if authorization is None else {"authorization": authorization}
    with caplog.at_level(logging.DEBUG):
        response = client.request(method, path, json_body=body, headers=headers)
    assert response.status == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["detail"] in ("missing bearer token", "invalid bearer token")
    assert ADMIN_TOKEN not in response.text
    assert ADMIN_TOKEN not in caplog.text


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_are_closed_when_no_token_is_configured(
    make_client: Any, method: str, path: str, body: Any
) -> None:
    client = make_client(admin_token_sha256=None)
    response = client.request(method, path, json_body=body, admin=True)
    assert (response.status, response.json()) == (503, {"detail": "admin access is not configured"})


def test_bearer_scheme_is_case_insensitive(client: LambdaClient) -> None:
    response = client.get("/contact", headers={"authorization": f"bearer {ADMIN_TOKEN}"})
    assert response.status == 200


def test_security_headers(client: LambdaClient) -> None:
    public = client.get("/projects")
    assert public.headers["x-content-type-options"] == "nosniff"
    assert public.headers["cache-control"].startswith("public, ")  # app/caching.py
    admin = client.get("/contact", admin=True)
    assert admin.headers["cache-control"] == "no-store"


def test_unknown_route_and_wrong_method_are_json(client: LambdaClient) -> None:
    missing = client.get("/nope")
    assert (missing.status, missing.json()) == (404, {"detail": "Not Found"})
    wrong = client.request("PUT", "/health")
    assert (wrong.status, wrong.json()) == (405, {"detail": "Method Not Allowed"})
    assert wrong.headers["allow"] == "GET, HEAD"  # HEAD is answered wherever GET is


def test_body_over_256_kib_is_413(client: LambdaClient) -> None:
    big = {"name": "a", "email": "a@example.com", "message": "x" * (256 * 1024)}
    response = client.post("/contact", big)
    assert (response.status, response.json()) == (413, {"detail": "request body too large"})
    # API Gateway events carry no Content-Length: the limit above held while reading the
    # body. When the header is there, the request is refused before the body is read.
    announced = client.post("/contact", {"name": "a"}, headers={"content-length": "300000"})
    assert (announced.status, announced.json()) == (413, {"detail": "request body too large"})
    lying = client.post("/contact", {"name": "a"}, headers={"content-length": "lots"})
    assert (lying.status, lying.json()) == (400, {"detail": "invalid content-length"})


def test_cors_allows_only_configured_origins(make_client: Any) -> None:
    client = make_client(cors_origins=["https://portfolio.example.com"])
    preflight = {"origin": "https://portfolio.example.com", "access-control-request-method": "POST"}
    allowed = client.request("OPTIONS", "/contact", headers=preflight)
    assert allowed.status == 200
    assert allowed.headers["access-control-allow-origin"] == "https://portfolio.example.com"
    other = client.request(
        "OPTIONS", "/contact", headers={**preflight, "origin": "https://evil.example"}
    )
    assert other.status == 400
    assert "access-control-allow-origin" not in other.headers
    simple = client.get("/health", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in simple.headers
