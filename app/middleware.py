"""Pure ASGI middleware: body size limit, response headers and the access log.

Pure ASGI rather than BaseHTTPMiddleware: no extra task or memory stream per request, which
matters when every request is a Lambda invocation.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_logger = logging.getLogger("app.access")


class BodySizeLimit:
    """Answer 413 to bodies over `max_bytes`, whether or not Content-Length announces them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    await _send_json(send, 400, b'{"detail":"invalid content-length"}')
                    return
                if int(value) > self.max_bytes:
                    await _send_json(send, 413, b'{"detail":"request body too large"}')
                    return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                # FastAPI passes HTTPExceptions from body reading through to the handlers.
                raise HTTPException(413, "request body too large")
            return message

        await self.app(scope, limited_receive, send)


class InternalErrors:
    """An unexpected exception becomes the JSON 500 and one log line naming its type and where
    it was raised, never its message (which may quote user input, SQL or a secret).

    Starlette's own 500 handler re-raises after answering, so the server (Mangum, uvicorn)
    would log the full traceback, message included; this middleware, the innermost, answers
    and logs first and the exception goes no further.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception as error:
            from app.errors import log_unexpected

            log_unexpected("unhandled exception", error)
            if not started:
                await _send_json(send, 500, b'{"detail":"internal server error"}')


class ResponseHeaders:
    """nosniff on everything; no-store wherever a response may be personal or an error."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        private = scope["method"] not in ("GET", "HEAD") or any(
            name == b"authorization" for name, _ in scope["headers"]
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers.append((b"x-content-type-options", b"nosniff"))
                if (private or message["status"] >= 400) and not any(
                    name.lower() == b"cache-control" for name, _ in headers
                ):
                    headers.append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AccessLog:
    """One line per request: method, path, status, duration, request ids and cold start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cold = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cold, self.cold = self.cold, False
        started = time.perf_counter()
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            fields = _request_ids(scope)
            access_logger.info(
                "%s %s %d %.2fms",
                scope["method"],
                scope["path"],
                status,
                duration_ms,
                extra={
                    "http_method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": duration_ms,
                    "cold_start": cold,
                    **fields,
                },
            )


def _request_ids(scope: Scope) -> dict[str, Any]:
    context = scope.get("aws.context")
    event = scope.get("aws.event") or {}
    request_context = event.get("requestContext") if isinstance(event, dict) else None
    return {
        "lambda_request_id": getattr(context, "aws_request_id", None),
        "apigw_request_id": (request_context or {}).get("requestId")
        if isinstance(request_context, dict)
        else None,
    }


async def _send_json(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
