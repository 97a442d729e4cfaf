"""What the Lambda handler knows about events: vetting them, and where the app is mounted.

Mangum translates API Gateway (REST, HTTP API 1.0/2.0), ALB and Function URL events; this
module sits on either side of it. Before: every event is checked so that one Mangum cannot
translate gets a 400 instead of an unhandled exception. After: the stage or custom-domain
base path becomes the ASGI `root_path`, so `/docs` points at an `/openapi.json` the browser
can actually fetch, whatever URL the API is reached through.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from mangum import Mangum

from app.hosts import forwarded

# API Gateway refuses more than 10,240 bytes of request line and header values itself (REST
# and HTTP APIs alike:
# https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html,
# https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-execution-service-limits-table.html),
# so this limit only ever bites behind an ALB (16 K per header, 64 K in all:
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html)
# or a function URL. Counted in UTF-8 bytes, as headers travel on the wire.
MAX_HEADER_BYTES = 16 * 1024

_TRANSLATION_ERRORS = (
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    IndexError,
    UnicodeError,
    binascii.Error,
    RuntimeError,
)


def problem(event: Any, context: Any, adapter: Mangum) -> tuple[int, str] | None:
    """(status, reason) when `event` cannot be served as an HTTP request, else None."""
    reason = _untranslatable(event, context, adapter)
    if reason is not None:
        return 400, reason
    if _header_bytes(event) > MAX_HEADER_BYTES:
        return 431, f"request headers exceed {MAX_HEADER_BYTES} bytes"
    return None


def _header_bytes(event: dict[str, Any]) -> int:
    """Bytes of header names and values (and HTTP API 2.0 cookies) the request carried.

    REST and HTTP API 1.0 events (and ALB with multi-value headers) carry every header twice:
    all values in `multiValueHeaders`, the last one in `headers`; only the former counts.
    HTTP API 2.0 moves the Cookie header out of `headers` into `cookies`
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
    """
    multi = event.get("multiValueHeaders")
    pairs: list[tuple[Any, Any]]
    if isinstance(multi, dict) and multi:
        pairs = [
            (name, value)
            for name, values in multi.items()
            for value in (values if isinstance(values, list) else [values])
        ]
    else:
        pairs = list((event.get("headers") or {}).items())
    cookies = event.get("cookies")
    if isinstance(cookies, list) and cookies:
        pairs.append(("cookie", "; ".join(c for c in cookies if isinstance(c, str))))
    return sum(
        len(name.encode("utf-8", "surrogatepass")) + len(value.encode("utf-8", "surrogatepass"))
        for name, value in pairs
        if isinstance(name, str) and isinstance(value, str)
    )


def _untranslatable(event: Any, context: Any, adapter: Mangum) -> str | None:
    if not isinstance(event, dict):
        return f"event must be a JSON object, not {type(event).__name__}"
    if not _all_text_is_unicode(event):
        # JSON may escape lone surrogates (`"\ud800"`); they are not Unicode text and cannot
        # be encoded, wherever they sit: a header, the path, requestContext's sourceIp ...
        return "event holds text that is not valid Unicode (a lone surrogate)"
    request_context = event.get("requestContext")
    if not isinstance(request_context, dict):
        return "not an HTTP event: requestContext is missing (scheduled or direct invocation?)"
    if event.get("version") == "2.0" and not isinstance(request_context.get("http"), dict):
        return "HTTP API 2.0 event without requestContext.http"
    for field in (
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
    ):
        if field in event and event[field] is not None and not isinstance(event[field], dict):
            return f"{field} must be an object"
    if event.get("version") == "2.0" and not isinstance(event.get("headers", {}), dict):
        return "headers must be an object"
    if not _headers_are_text(event):
        return "header names and values must be strings"
    body = event.get("body")
    if body is not None and not isinstance(body, str):
        return "body must be a string"
    is_base64 = event.get("isBase64Encoded", False)
    if not isinstance(is_base64, bool):
        return "isBase64Encoded must be a boolean"
    if is_base64 and body:
        try:
            base64.b64decode(body, validate=True)
        except ValueError:  # binascii.Error, or non-ASCII text, which b64decode refuses so
            return "body is not valid base64"
    # Finally build exactly what Mangum will build: anything it trips on is our 400 too.
    try:
        translated = adapter.infer(event, context)
        scope = translated.scope
        translated.body  # noqa: B018 - decoding the body is the check
    except _TRANSLATION_ERRORS as error:
        return f"event could not be translated ({type(error).__name__})"
    if not isinstance(scope.get("path"), str) or not isinstance(scope.get("method"), str):
        return "event has no HTTP method or path"
    return None


def _all_text_is_unicode(value: Any) -> bool:
    """False when any string in `value` (keys included, at any depth) cannot be UTF-8."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii():
                try:
                    item.encode()
                except UnicodeEncodeError:
                    return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _headers_are_text(event: Mapping[str, Any]) -> bool:
    for field, multi in (("headers", False), ("multiValueHeaders", True)):
        headers = event.get(field) or {}
        for name, value in headers.items():
            values = value if multi and isinstance(value, list) else [value]
            if not isinstance(name, str) or not all(isinstance(v, str) for v in values):
                return False
            try:
                name.encode()
                [v.encode() for v in values]
            except UnicodeError:
                return False
    return True


def rejection(status: int, detail: str) -> dict[str, Any]:
    """An error response in the one shape every event source accepts."""
    return {
        "statusCode": status,
        "headers": {
            "content-type": "application/json",
            "x-content-type-options": "nosniff",
            "cache-control": "no-store",  # as on every error the app itself answers
        },
        "body": json.dumps({"detail": f"bad request: {detail}" if status == 400 else detail}),
        "isBase64Encoded": False,
    }


def split_base_path(event: Mapping[str, Any], path: str, api_base_path: str) -> tuple[str, str]:
    """(root_path, path inside the app) for the request `event`, given Mangum's path."""
    request_context = event.get("requestContext") or {}
    prefix = ""
    if "version" not in event and "elb" not in request_context:
        # REST API: `path` omits the stage that requestContext.path carries.
        full = request_context.get("path")
        if isinstance(full, str) and full != path:
            if path == "/":
                prefix = full.rstrip("/")
            elif full.endswith(path):
                prefix = full[: -len(path)]
    else:
        # HTTP API: a named stage reached through the execute-api domain prefixes the path.
        stage = request_context.get("stage")
        domain = str(request_context.get("domainName") or "")
        if (
            stage
            and stage != "$default"
            and ".execute-api." in domain
            and (path == f"/{stage}" or path.startswith(f"/{stage}/"))
        ):
            prefix, path = f"/{stage}", path[len(stage) + 1 :] or "/"
    # A custom domain's API mapping (configured, since events do not name it).
    if api_base_path and (path == api_base_path or path.startswith(api_base_path + "/")):
        prefix, path = prefix + api_base_path, path[len(api_base_path) :] or "/"
    return prefix, path


def source_address(scope: Mapping[str, Any], *, xff_client_port: bool = False) -> str | None:
    """The caller's address as the AWS front door recorded it (None when it recorded none).

    `scope` is Mangum's, with the event under `aws.event`. API Gateway and function URLs give
    `sourceIp`. ALB (in its default "append" mode) adds the address it saw as the last
    X-Forwarded-For entry; the entries before it are whatever the client sent
    (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/x-forwarded-headers.html).
    Repeated header lines are one comma-separated list (RFC 9110, section 5.3), so the entry
    is the last of the last line; with the load balancer's "preserve client port" attribute
    (routing.http.xff_client_port.enabled, our XFF_CLIENT_PORT) it carries `:port`, which is
    not part of who the client is.
    """
    event = scope.get("aws.event")
    context = event.get("requestContext") if isinstance(event, dict) else None
    if isinstance(context, dict):
        http = context.get("http")  # HTTP API 2.0 and function URLs
        if isinstance(http, dict) and isinstance(http.get("sourceIp"), str):
            return str(http["sourceIp"]) or None
        identity = context.get("identity")  # REST API and HTTP API 1.0
        if isinstance(identity, dict) and isinstance(identity.get("sourceIp"), str):
            return str(identity["sourceIp"]) or None
        if "elb" in context:
            last = (forwarded.entries(scope.get("headers", [])) or [""])[-1]
            return (forwarded.strip_port(last) if xff_client_port else last) or None
    client = scope.get("client")
    return str(client[0]) or None if client else None
