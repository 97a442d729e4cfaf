"""HEAD on every GET route: uptime monitors probe with HEAD and read a 405 as "site down".

Starlette's plain routes answer HEAD for GET by themselves; FastAPI's API routes do not. This
pure ASGI middleware routes a HEAD request as the GET it mirrors (same status, same headers,
Content-Length included, as RFC 9110 section 9.3.2 asks) and drops the body. Wrong-method
answers list HEAD beside GET in their `Allow` header, so the header stays true.

Behind API Gateway HEAD reaches the function like any method: the HTTP API's `$default` route
catches every method and path (https://docs.aws.amazon.com/apigateway/latest/developerguide/
http-api-develop-routes.html), and Mangum passes the method through unchanged.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Serve HEAD as GET without a body; add HEAD to `Allow` wherever GET is listed."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        head = scope["method"] == "HEAD"

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                message = {**message, "headers": _allow_head(message.get("headers", []))}
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"} if head else scope, receive, send_wrapper)


def _allow_head(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    fixed = []
    for name, value in headers:
        methods = [m.strip() for m in value.decode("latin-1").split(",")]
        if name.lower() == b"allow" and "GET" in methods and "HEAD" not in methods:
            methods.insert(methods.index("GET") + 1, "HEAD")
            fixed.append((name, ", ".join(methods).encode("latin-1")))
        else:
            fixed.append((name, value))
    return fixed
