"""CORS: what a site's script on an allowed origin can read (issue 17, section 6).

Through the Lambda handler with `CORS_ORIGINS` set, as on a function URL or under `make run`;
behind the HTTP API, API Gateway answers CORS itself from the template's CorsConfiguration,
which must expose the same headers (checked below on the translated template). What a real
browser lets a page read is tested in tests/test_browser_cors.py.
"""

from __future__ import annotations

from typing import Any

from app.cors import EXPOSED_HEADERS
from app.main import create_app
from app.settings import Settings
from tests.sam.translated import translate

SITE = "https://portfolio.example.com"
MESSAGE = {"name": "Ada", "email": "ada@example.com", "message": "Hello"}


def _exposed(headers: dict[str, str]) -> set[str]:
    return {h.strip().lower() for h in headers.get("access-control-expose-headers", "").split(",")}


def test_retry_after_of_a_429_is_readable_by_the_site(make_client: Any, clean_db: Any) -> None:
    client = make_client(cors_origins=[SITE], contact_rate_limit=1)
    origin = {"origin": SITE}
    assert client.post("/contact", MESSAGE, headers=origin).status == 202
    limited = client.post("/contact", MESSAGE, headers=origin)
    assert limited.status == 429
    assert limited.headers["access-control-allow-origin"] == SITE
    assert int(limited.headers["retry-after"]) > 0
    assert "retry-after" in _exposed(limited.headers)


def test_answers_of_the_body_limit_carry_cors_headers(make_client: Any, clean_db: Any) -> None:
    client = make_client(cors_origins=[SITE])
    for length, status in (("300000", 413), ("lots", 400)):
        response = client.post(
            "/contact", MESSAGE, headers={"origin": SITE, "content-length": length}
        )
        assert response.status == status
        # Without them the site's script sees a network error, not the 413 and its detail.
        assert response.headers["access-control-allow-origin"] == SITE


def test_a_refused_preflight_is_json_like_every_other_error(make_client: Any) -> None:
    client = make_client(cors_origins=[SITE])
    preflight = {"origin": "https://evil.example", "access-control-request-method": "POST"}
    refused = client.request("OPTIONS", "/contact", headers=preflight)
    assert refused.status == 400
    assert refused.headers["content-type"] == "application/json"
    assert refused.json() == {"detail": "Disallowed CORS origin"}
    assert "access-control-allow-origin" not in refused.headers
    bad_method = {"origin": SITE, "access-control-request-method": "PUT"}
    assert client.request("OPTIONS", "/contact", headers=bad_method).json() == {
        "detail": "Disallowed CORS method"
    }


def test_every_header_the_schema_documents_is_exposed_by_the_app_and_the_http_api() -> None:
    # The class: a response header a client is told to read, that a browser hides unless
    # exposed (only the CORS-safelisted response headers are readable without it).
    openapi = create_app(Settings(database_url="sqlite://")).openapi()
    documented = {
        name.lower()
        for operations in openapi["paths"].values()
        for operation in operations.values()
        for response in operation["responses"].values()
        for name in response.get("headers", {})
    }
    assert documented, "the schema documents Retry-After"
    assert {h.lower() for h in EXPOSED_HEADERS} == documented | {"retry-after"}
    cors = translate().properties("HttpApi")["Body"]["x-amazon-apigateway-cors"]
    assert {h.lower() for h in cors["exposeHeaders"]} == {h.lower() for h in EXPOSED_HEADERS}


def test_answers_of_the_lambda_host_carry_cors_headers_too(make_client: Any) -> None:
    # The class of the 413: an answer given before the app (the host's event vetting) behind
    # an ALB or a function URL, where no API Gateway adds CORS headers.
    client = make_client(cors_origins=[SITE])
    big = client.get("/projects", headers={"origin": SITE, "x-big": "a" * 17_000})
    assert big.status == 431
    assert big.headers["access-control-allow-origin"] == SITE
    assert "retry-after" in _exposed(big.headers)
    assert big.headers["vary"] == "Origin"
    other = client.get(
        "/projects", headers={"origin": "https://evil.example", "x-big": "a" * 17_000}
    )
    assert other.status == 431 and "access-control-allow-origin" not in other.headers
    anywhere = make_client(cors_origins=["*"]).get(
        "/health", headers={"origin": SITE, "x-big": "a" * 17_000}
    )
    assert anywhere.headers["access-control-allow-origin"] == "*"
