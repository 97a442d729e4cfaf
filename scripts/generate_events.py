"""Write the sample events in events/ and their expected statuses.

Events are data, but six event sources times six routes written by hand would be 36 near
copies; this script is their single source. Run `make events` after changing it and commit
the output. `sam local invoke -e events/<file>` and the tests read the files it writes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

EVENTS = Path(__file__).resolve().parent.parent / "events"
API_ID = "a1b2c3d4e5"
DOMAIN = f"{API_ID}.execute-api.us-east-1.amazonaws.com"
URL_DOMAIN = "f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1.lambda-url.us-east-1.on.aws"
SOURCE_IP = "203.0.113.10"
# The suite configures the digest of this token; never deploy with it.
ADMIN_HEADER = "Bearer local-admin-token"
TIME_EPOCH = 1795000000000
# The contact message the suite seeds (tests/conftest.py), for the inbox events.
MESSAGE_ID = "0123456789abcdef0123456789abcdef"
# Routes template.yaml gives a route of their own; everything else reaches $default.
OWN_ROUTES = {("POST", "/contact")}

Request = dict[str, Any]


def _headers(request: Request, host: str) -> dict[str, str]:
    headers = {
        "accept": "application/json",
        "host": host,
        "user-agent": "curl/8.5.0",
        "x-forwarded-for": SOURCE_IP,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if request.get("body") is not None:
        headers["content-type"] = "application/json"
    headers.update(request.get("headers", {}))
    return headers


def _body(request: Request) -> str | None:
    return json.dumps(request["body"]) if request.get("body") is not None else None


def rest_v1(request: Request, stage: str = "prod") -> dict[str, Any]:
    headers = _headers(request, DOMAIN)
    query = request.get("query") or None
    return {
        "resource": "/{proxy+}",
        "path": request["path"],
        "httpMethod": request["method"],
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": request["path"].lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": API_ID,
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "httpMethod": request["method"],
            "identity": {"sourceIp": SOURCE_IP, "userAgent": "curl/8.5.0"},
            "path": f"/{stage}{request['path']}",
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTimeEpoch": TIME_EPOCH,
            "resourceId": "abcdef",
            "resourcePath": "/{proxy+}",
            "stage": stage,
        },
        "body": _body(request),
        "isBase64Encoded": False,
    }


def http_v2(
    request: Request, stage: str = "$default", domain: str = DOMAIN, base64_body: bool = False
) -> dict[str, Any]:
    path = request["path"] if stage == "$default" else f"/{stage}{request['path']}"
    query = request.get("query") or {}
    body = _body(request)
    route = (request["method"], request["path"])
    route_key = " ".join(route) if route in OWN_ROUTES and domain == DOMAIN else "$default"
    if body is not None and base64_body:
        body = base64.b64encode(body.encode()).decode()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "headers": _headers(request, domain),
        "requestContext": {
            "accountId": "123456789012",
            "apiId": domain.split(".", maxsplit=1)[0],
            "domainName": domain,
            "domainPrefix": domain.split(".", maxsplit=1)[0],
            "http": {
                "method": request["method"],
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": "curl/8.5.0",
            },
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": route_key,
            "stage": stage,
            "time": "27/Nov/2026:10:00:00 +0000",
            "timeEpoch": TIME_EPOCH,
        },
        "isBase64Encoded": body is not None and base64_body,
    }
    if query:
        event["queryStringParameters"] = query
    if body is not None:
        event["body"] = body
    return event


def http_v1(request: Request) -> dict[str, Any]:
    event = rest_v1(request, stage="$default")
    event["version"] = "1.0"
    event["requestContext"]["path"] = request["path"]
    return event


def alb(request: Request) -> dict[str, Any]:
    query = request.get("query") or {}
    return {
        "requestContext": {
            "elb": {
                "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:"
                "123456789012:targetgroup/portfolio/6d0ecf831eec9f09"
            }
        },
        "httpMethod": request["method"],
        "path": request["path"],
        "queryStringParameters": query,
        "headers": _headers(request, "portfolio.example.com"),
        "body": _body(request) or "",
        "isBase64Encoded": False,
    }


def function_url(request: Request) -> dict[str, Any]:
    return http_v2(request, domain=URL_DOMAIN, base64_body=True)


SOURCES: dict[str, Callable[[Request], dict[str, Any]]] = {
    "rest-v1": rest_v1,
    "http-v2": http_v2,
    "http-v2-stage": lambda request: http_v2(request, stage="dev"),
    "http-v1": http_v1,
    "alb": alb,
    "function-url": function_url,
}

ROUTES: dict[str, tuple[Request, int]] = {
    "get-health": ({"method": "GET", "path": "/health"}, 200),
    "get-projects": ({"method": "GET", "path": "/projects", "query": {"limit": "5"}}, 200),
    "get-project": ({"method": "GET", "path": "/projects/hello-world"}, 200),
    "post-contact": (
        {
            "method": "POST",
            "path": "/contact",
            "body": {
                "name": "Ada",
                "email": "ada@example.com",
                "message": "Hello from the contact form.",
            },
        },
        202,
    ),
    "post-project-admin": (
        {
            "method": "POST",
            "path": "/projects",
            "headers": {"authorization": ADMIN_HEADER},
            "body": {
                "slug": "from-an-event",
                "title": "Created by a sample event",
                "tags": ["sample"],
                "published": True,
            },
        },
        201,
    ),
    "get-docs": ({"method": "GET", "path": "/docs"}, 200),
    "get-openapi": ({"method": "GET", "path": "/openapi.json"}, 200),
}

# The owner's routes (drafts, preview, inbox, honeypot) in the two proxy formats API Gateway
# sends, rather than in every source: each event is also a `sam local invoke` in tests/sam.
OWNER_SOURCES = ("http-v2", "rest-v1")
OWNER_ROUTES: dict[str, tuple[Request, int]] = {
    "post-contact-honeypot": (
        {
            "method": "POST",
            "path": "/contact",
            "body": {
                "name": "Bot",
                "email": "bot@example.com",
                "message": "Buy now.",
                "website": "https://spam.example",
            },
        },
        202,
    ),
    "get-projects-drafts-admin": (
        {
            "method": "GET",
            "path": "/projects",
            "query": {"status": "draft"},
            "headers": {"authorization": ADMIN_HEADER},
        },
        200,
    ),
    "get-project-preview-admin": (
        {
            "method": "GET",
            "path": "/projects/hello-world",
            "headers": {"authorization": ADMIN_HEADER},
        },
        200,
    ),
    "get-contact-unread-admin": (
        {
            "method": "GET",
            "path": "/contact",
            "query": {"unread": "true"},
            "headers": {"authorization": ADMIN_HEADER},
        },
        200,
    ),
    "patch-contact-admin": (
        {
            "method": "PATCH",
            "path": f"/contact/{MESSAGE_ID}",
            "headers": {"authorization": ADMIN_HEADER},
            "body": {"read": True},
        },
        200,
    ),
    "delete-contact-admin": (
        {
            "method": "DELETE",
            "path": f"/contact/{MESSAGE_ID}",
            "headers": {"authorization": ADMIN_HEADER},
        },
        204,
    ),
}


def s3_object_created(bucket: str, key: str, region: str = "us-east-1") -> dict[str, Any]:
    """The event S3 sends a function when an object is created (the outbox drain's trigger).

    Shape as documented: https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html
    (the key URL-encoded, spaces as "+").
    """
    from urllib.parse import quote_plus

    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": "2026-12-05T06:00:00.000Z",
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "AWS:AROAEXAMPLEROLEID:portfolio-api"},
                "requestParameters": {"sourceIPAddress": "10.0.1.10"},
                "responseElements": {
                    "x-amz-request-id": "C3D13FE58DE4C810",
                    "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5J",
                },
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "outbox-drain",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": {
                        "key": quote_plus(key, safe="/"),
                        "size": 180,
                        "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                        "sequencer": "0055AED6DCD90281E5",
                    },
                },
            }
        ]
    }


def valid_events() -> dict[str, tuple[dict[str, Any], int]]:
    events = {
        f"{source}/{route}.json": (build(request), status)
        for source, build in SOURCES.items()
        for route, (request, status) in ROUTES.items()
    }
    events.update(
        {
            f"{source}/{route}.json": (SOURCES[source](request), status)
            for source in OWNER_SOURCES
            for route, (request, status) in OWNER_ROUTES.items()
        }
    )
    # API Gateway's console test sends null header maps: valid, and must be served.
    no_headers = {**rest_v1(ROUTES["get-health"][0]), "headers": None, "multiValueHeaders": None}
    events["rest-v1/get-health-null-headers.json"] = (no_headers, 200)
    return events


def write(events: dict[str, tuple[dict[str, Any], int]]) -> None:
    expected: dict[str, int] = {}
    for name, (event, status) in sorted(events.items()):
        path = EVENTS / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(event, indent=2) + "\n")
        expected[name] = status
    (EVENTS / "expected-status.json").write_text(json.dumps(expected, indent=2) + "\n")


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(EVENTS.parent))
    from scripts.malformed_events import malformed_events

    write({**valid_events(), **malformed_events()})
