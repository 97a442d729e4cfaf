"""HTTP caching of public reads: ETag, If-None-Match → 304, and a short Cache-Control.

Only anonymous GET/HEAD answers of 200 on the public paths are cacheable; everything else
keeps what app/middleware.py gives it (`no-store` for admin answers and every error). The
ETag is a digest of the body, so the same content has the same ETag whether the database or
the snapshot served it, and a browser or CDN revalidates across the two.

- `max-age` is short: an admin change is visible within a minute.
- `stale-while-revalidate` lets a cache answer at once while it fetches the new version, and
  `stale-if-error` lets it keep answering when the origin fails (RFC 5861).
- A matching If-None-Match (weak comparison, as RFC 9110 section 13.1.2 asks for GET) gets
  304 with the ETag and Cache-Control and no body.
"""

from __future__ import annotations

import hashlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CACHE_CONTROL = b"public, max-age=60, stale-while-revalidate=300, stale-if-error=86400"


def etag_of(body: bytes) -> bytes:
    return b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'


def _matches(if_none_match: bytes, etag: bytes) -> bool:
    if if_none_match.strip() == b"*":
        return True
    candidates = (tag.strip().removeprefix(b"W/") for tag in if_none_match.split(b","))
    return etag in candidates


class PublicCaching:
    """ETag and Cache-Control on public reads under `prefixes`; 304 when unchanged."""

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", [])) if scope["type"] == "http" else {}
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "HEAD")
            or b"authorization" in headers
            or not scope["path"].startswith(self.prefixes)
        ):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def buffer(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                if message["status"] != 200:
                    await send(message)
                return
            if start is None or start["status"] != 200:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            etag = etag_of(body)
            kept = [
                (name, value)
                for name, value in start.get("headers", [])
                if name.lower() not in (b"etag", b"cache-control")
            ]
            kept += [(b"etag", etag), (b"cache-control", CACHE_CONTROL)]
            if _matches(headers.get(b"if-none-match", b""), etag):
                bodiless = (b"content-length", b"content-type")
                kept = [(n, v) for n, v in kept if n.lower() not in bodiless]
                await send({"type": "http.response.start", "status": 304, "headers": kept})
                await send({"type": "http.response.body", "body": b""})
                return
            await send({**start, "headers": kept})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffer)
