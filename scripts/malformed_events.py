"""Malformed and unusual Lambda events: each must get a JSON 4xx, never a crash.

Imported by generate_events.py, which writes them to events/malformed/.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from scripts.generate_events import ADMIN_HEADER, alb, http_v1, http_v2, rest_v1

HEALTH = {"method": "GET", "path": "/health"}
CONTACT = {
    "method": "POST",
    "path": "/contact",
    "body": {"name": "Ada", "email": "ada@example.com", "message": "hi"},
}


def _v2(**changes: Any) -> dict[str, Any]:
    event = http_v2(HEALTH)
    event.update(changes)
    return event


def _with(event: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    event = copy.deepcopy(event)
    target = event
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return event


_DELETE = object()


def malformed_events() -> dict[str, tuple[Any, int]]:
    v2, v1, rest = http_v2(HEALTH), http_v1(HEALTH), rest_v1(HEALTH)
    contact_v2 = http_v2(CONTACT)
    cases: dict[str, tuple[Any, int]] = {
        # Not HTTP events at all.
        "empty.json": ({}, 400),
        "array.json": ([], 400),
        "string.json": ("ping", 400),
        "scheduler-ping.json": (
            {
                "version": "0",
                "id": "ping",
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "detail": {},
            },
            400,
        ),
        "sqs-records.json": ({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]}, 400),
        "custom-resource-to-api.json": (
            {
                "RequestType": "Create",
                "ResponseURL": "http://x",
                "StackId": "s",
                "RequestId": "r",
                "LogicalResourceId": "Migrate",
            },
            400,
        ),
        "request-context-null.json": (_with(v2, ["requestContext"], None), 400),
        # Fields Mangum reads, with the wrong type or missing.
        "v2-headers-null.json": (_v2(headers=None), 400),
        "v2-headers-list.json": (_v2(headers=[["host", "x"]]), 400),
        "v2-missing-request-context-http.json": (
            _with(v2, ["requestContext", "http"], _DELETE),
            400,
        ),
        "v2-method-number.json": (_with(v2, ["requestContext", "http", "method"], 7), 400),
        "v2-path-missing.json": (_with(v2, ["requestContext", "http", "path"], _DELETE), 400),
        "v2-source-ip-missing.json": (
            _with(v2, ["requestContext", "http", "sourceIp"], _DELETE),
            400,
        ),
        "v2-raw-query-number.json": (_v2(rawQueryString=5), 400),
        "v2-cookies-number.json": (_v2(cookies=5), 400),
        "v2-header-value-number.json": (_with(v2, ["headers", "x-count"], 5), 400),
        "v2-header-value-null.json": (_with(v2, ["headers", "accept"], None), 400),
        "v2-forwarded-port-not-numeric.json": (
            _with(v2, ["headers", "x-forwarded-port"], "https"),
            400,
        ),
        "v2-host-bad-port.json": (_with(v2, ["headers", "host"], "example.com:abc"), 400),
        "v2-host-ipv6.json": (_with(v2, ["headers", "host"], "[2001:db8::1]:443"), 400),
        "v2-body-object.json": (_with(contact_v2, ["body"], {"name": "Ada"}), 400),
        "v2-body-number.json": (_with(contact_v2, ["body"], 42), 400),
        "v2-base64-flag-string.json": (_with(contact_v2, ["isBase64Encoded"], "true"), 400),
        "v2-bad-base64-body.json": (
            {**contact_v2, "body": "!!not base64!!", "isBase64Encoded": True},
            400,
        ),
        "v2-body-lone-surrogate.json": (_with(contact_v2, ["body"], '{"name": "\udcff"}'), 400),
        "v2-huge-headers.json": (_with(v2, ["headers", "x-padding"], "a" * 20_000), 431),
        "rest-method-missing.json": (_with(rest, ["httpMethod"], _DELETE), 400),
        "rest-path-missing.json": (_with(rest, ["path"], _DELETE), 400),
        "rest-query-list.json": (_with(rest, ["queryStringParameters"], ["limit", "5"]), 400),
        "rest-multi-header-number.json": (_with(rest, ["multiValueHeaders", "accept"], [1]), 400),
        "http-v1-headers-string.json": (_with(v1, ["headers"], "host: x"), 400),
        "alb-body-list.json": (_with(alb(HEALTH), ["body"], ["a"]), 400),
        # Well-formed events the API must refuse cleanly.
        "non-utf8-body.json": (
            {
                **contact_v2,
                "isBase64Encoded": True,
                "body": base64.b64encode(b"\xff\xfe{\x00").decode(),
            },
            422,
        ),
        "body-not-json.json": (_with(contact_v2, ["body"], "name=Ada&email=x"), 422),
        "body-too-large.json": (
            _with(contact_v2, ["body"], '{"message": "' + "x" * 300_000 + '"}'),
            413,
        ),
        "content-length-not-numeric.json": (
            _with(contact_v2, ["headers", "content-length"], "lots"),
            400,
        ),
        "duplicated-authorization-header.json": (
            _with(
                rest_v1({"method": "GET", "path": "/contact"}),
                ["multiValueHeaders", "authorization"],
                [ADMIN_HEADER, "Bearer other"],
            ),
            401,
        ),
        "query-repeated-keys.json": (
            _with(
                rest_v1({"method": "GET", "path": "/projects"}),
                ["multiValueQueryStringParameters"],
                {"limit": ["5", "500"]},
            ),
            422,
        ),
        "query-value-null.json": (
            _with(
                rest_v1({"method": "GET", "path": "/projects"}),
                ["queryStringParameters"],
                {"limit": None},
            ),
            422,
        ),
        "trailing-slash.json": (http_v2({"method": "GET", "path": "/projects/"}), 404),
        "percent-encoded-traversal.json": (
            http_v2({"method": "GET", "path": "/projects/%2e%2e%2f%2e%2e%2fetc%2fpasswd"}),
            404,
        ),
        "path-traversal.json": (http_v2({"method": "GET", "path": "/../../etc/passwd"}), 404),
        "unknown-route.json": (http_v2({"method": "GET", "path": "/wp-login.php"}), 404),
        "wrong-method.json": (http_v2({"method": "PUT", "path": "/health"}), 405),
        "unknown-method.json": (http_v2({"method": "BREW", "path": "/projects"}), 405),
        "path-without-slash.json": (_with(rest, ["path"], "health"), 404),
        "admin-without-token.json": (http_v2({"method": "GET", "path": "/contact"}), 401),
        "admin-wrong-scheme.json": (
            http_v2(
                {"method": "GET", "path": "/contact", "headers": {"authorization": "Basic YTpi"}}
            ),
            401,
        ),
        "drafts-without-token.json": (
            http_v2({"method": "GET", "path": "/projects", "query": {"status": "draft"}}),
            401,
        ),
        "status-unknown.json": (
            http_v2({"method": "GET", "path": "/projects", "query": {"status": "secret"}}),
            422,
        ),
        "contact-id-not-hex.json": (
            http_v2(
                {
                    "method": "PATCH",
                    "path": "/contact/not-an-id",
                    "headers": {"authorization": ADMIN_HEADER},
                    "body": {"read": True},
                }
            ),
            422,
        ),
        "cover-image-without-alt.json": (
            http_v2(
                {
                    "method": "POST",
                    "path": "/projects",
                    "headers": {"authorization": ADMIN_HEADER},
                    "body": {
                        "slug": "no-alt",
                        "title": "No alt",
                        "cover_image_url": "https://img.example.com/a.png",
                    },
                }
            ),
            422,
        ),
        "limit-zero.json": (
            http_v2({"method": "GET", "path": "/projects", "query": {"limit": "0"}}),
            422,
        ),
        "offset-negative.json": (
            http_v2({"method": "GET", "path": "/projects", "query": {"offset": "-1"}}),
            422,
        ),
        "featured-not-bool.json": (
            http_v2({"method": "GET", "path": "/projects", "query": {"featured": "maybe"}}),
            422,
        ),
        "contact-bad-email.json": (
            http_v2({**CONTACT, "body": {"name": "Ada", "email": "not-an-email", "message": "hi"}}),
            422,
        ),
        "unknown-slug.json": (http_v2({"method": "GET", "path": "/projects/no-such-project"}), 404),
    }
    return {f"malformed/{name}": case for name, case in cases.items()}
