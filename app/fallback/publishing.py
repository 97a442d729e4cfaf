"""After a committed admin write, the snapshot is written before the answer goes out.

Routes mark the request (`mark`); this middleware sees the answer start, after the route's
transaction has committed (the connection dependency commits before the response is sent),
and brings the snapshot up to the database's revision. The answer says how that went in
X-Snapshot: `current`, or `stale` when the store could not be written (the next read or
write repairs it; the commit stands).
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.fallback.service import SNAPSHOT_HEADER, Fallback

_MARK = "portfolio.publish"


def mark(scope: Any) -> None:
    """Ask for the snapshot to be brought up to date once this request's write commits."""
    flag = scope.get(_MARK)
    if flag is not None:
        flag["publish"] = True


class PublishAfterWrite:
    def __init__(self, app: ASGIApp, fallback: Fallback) -> None:
        self.app = app
        self.fallback = fallback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        flag = {"publish": False}
        scope[_MARK] = flag

        async def send_after_publishing(message: Message) -> None:
            if (
                message["type"] == "http.response.start"
                and flag["publish"]
                and 200 <= message["status"] < 300
            ):
                engine = scope["state"]["engine"]
                current = self.fallback.publish_after_write(engine)
                message.setdefault("headers", []).append(
                    (SNAPSHOT_HEADER.lower().encode(), b"current" if current else b"stale")
                )
            await send(message)

        await self.app(scope, receive, send_after_publishing)
