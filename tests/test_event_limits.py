"""The 431 header limit and the event-vetting answers (issue 10, items 6 and 7): bytes, not
characters; headers once, not once per field; HTTP API 2.0 cookies counted; no-store."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.engine import Engine

from app.hosts.lambda_events import MAX_HEADER_BYTES
from scripts.generate_events import alb, http_v1, http_v2, rest_v1
from tests.conftest import lambda_context

GET = {"method": "GET", "path": "/health", "query": {}, "headers": {}}
# About 60 % of the limit: once is fine, counted twice it would be over.
SIXTY_PERCENT = "x" * (MAX_HEADER_BYTES * 6 // 10)


def _status(handler: Any, event: dict[str, Any]) -> tuple[int, dict[str, str]]:
    response = handler(event, lambda_context())
    headers = response.get("headers") or {
        k: v[-1] for k, v in response.get("multiValueHeaders", {}).items()
    }
    return response["statusCode"], {k.lower(): v for k, v in headers.items()}


@pytest.mark.parametrize("build", [rest_v1, http_v1])
def test_headers_and_multi_value_headers_are_counted_once(
    lambda_handler: Any, clean_db: Engine, build: Any
) -> None:
    event = build({**GET, "headers": {"x-big": SIXTY_PERCENT}})
    assert set(event["multiValueHeaders"]) == set(event["headers"])
    assert _status(lambda_handler, event)[0] == 200


def test_alb_multi_value_headers_are_counted(lambda_handler: Any) -> None:
    # With multi-value headers on, an ALB event has multiValueHeaders instead of headers.
    event = alb({**GET, "headers": {"x-big": SIXTY_PERCENT}})
    event["multiValueHeaders"] = {k: [v] for k, v in event.pop("headers").items()}
    assert _status(lambda_handler, event)[0] == 200
    event["multiValueHeaders"]["x-big"] = [SIXTY_PERCENT, SIXTY_PERCENT]
    assert _status(lambda_handler, event)[0] == 431


def test_repeated_headers_in_multi_value_headers_all_count(lambda_handler: Any) -> None:
    event = rest_v1(GET)
    event["multiValueHeaders"]["x-big"] = [SIXTY_PERCENT, SIXTY_PERCENT]
    event["headers"]["x-big"] = SIXTY_PERCENT  # API Gateway puts the last value here
    assert _status(lambda_handler, event)[0] == 431


def test_http_api_cookies_are_counted(lambda_handler: Any) -> None:
    event = http_v2(GET)
    event["cookies"] = [f"a={SIXTY_PERCENT}", f"b={SIXTY_PERCENT}"]
    status, headers = _status(lambda_handler, event)
    assert status == 431
    assert headers["cache-control"] == "no-store"


def test_header_size_is_counted_in_bytes(lambda_handler: Any) -> None:
    # 9,000 characters, 18,000 bytes as UTF-8 (as they travel on the wire).
    event = http_v2({**GET, "headers": {"x-accented": "\u00e9" * 9000}})
    assert _status(lambda_handler, event)[0] == 431


@pytest.mark.parametrize("event", [{}, {"requestContext": {}}, http_v2(GET) | {"headers": []}])
def test_vetting_rejections_are_not_cached(lambda_handler: Any, event: dict[str, Any]) -> None:
    status, headers = _status(lambda_handler, event)
    assert status == 400
    assert headers["cache-control"] == "no-store"
    assert headers["content-type"] == "application/json"
