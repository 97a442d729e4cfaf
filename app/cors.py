"""CORS for direct invocations and local runs, with the answers a site's script can use.

Behind the HTTP API, API Gateway answers CORS itself and drops the backend's CORS headers
(template.yaml, CorsConfiguration, which exposes EXPOSED_HEADERS too):
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-cors.html
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-cors-configuration.html
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse, Response

# Response headers a site's script may read beyond the CORS-safelisted ones (Cache-Control,
# Content-Type, ...): without this a 429's or 503's Retry-After is hidden from it, and so are
# a public read's ETag and where it came from (docs/paused-database.md). Every header the
# schema documents is here (tests/test_cors.py).
EXPOSED_HEADERS = [
    "Retry-After",
    "ETag",
    "X-Content-Source",
    "X-Snapshot-Revision",
    "X-Snapshot-Age",
    "X-Snapshot",
]


class JsonCORSMiddleware(CORSMiddleware):
    """Starlette's CORS, with its refused preflights as `{"detail": ...}` like every error."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        detail = bytes(response.body).decode()  # "Disallowed CORS origin, method"
        keep = {
            name: value
            for name, value in response.headers.items()
            if name not in ("content-length", "content-type")
        }
        return JSONResponse({"detail": detail}, status_code=response.status_code, headers=keep)


def simple_response_headers(origin: str | None, origins: list[str]) -> dict[str, str]:
    """The CORS headers JsonCORSMiddleware adds to an answer for `origin`, for answers given
    outside the app (the Lambda host's event vetting: a 431, a 400)."""
    if not origin or not origins:
        return {}
    exposed = {"access-control-expose-headers": ", ".join(EXPOSED_HEADERS)}
    if "*" in origins:
        return {"access-control-allow-origin": "*", **exposed}
    if origin in origins:
        return {"access-control-allow-origin": origin, "vary": "Origin", **exposed}
    return {}


def install(app: FastAPI, origins: list[str]) -> None:
    """Add CORS for `origins`. Call it after every middleware whose answers a site must be
    able to read (the body limit's 413 and 400): the last added is the outermost."""
    app.add_middleware(
        JsonCORSMiddleware,
        allow_origins=origins,
        allow_methods=["GET", "POST", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )
