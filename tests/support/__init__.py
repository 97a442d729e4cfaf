"""Helpers every test folder shares: a free loopback port, a server on a thread (an HTTP
stand-in in one call), and Lambda's context object.

One home for what used to be copied into each folder (four free-port helpers, a context
builder per deadline test).
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace


def free_port(below: int | None = None) -> int:
    """A loopback TCP port nobody listens on now (so also one that refuses connections).

    `below`: only ports under it (the emulator's runtime API listens on port + 10000).
    """
    for _ in range(100):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if below is None or port < below:
            return port
    raise RuntimeError(f"no free port below {below}")


# How often a served stand-in checks for shutdown(). socketserver's default, 0.5 s, made each
# stop wait up to half a second: ~20 s of the fast suite was spent in those waits.
SHUTDOWN_POLL = 0.05


def serve_in_thread(server: socketserver.BaseServer) -> threading.Thread:
    """Serve `server` on a daemon thread until `server.shutdown()`, which then returns promptly."""
    thread = threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL,), daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def http_server(handler: type[BaseHTTPRequestHandler], bind: str = "127.0.0.1") -> Iterator[str]:
    """Serve `handler` on a free port of `bind`, on a thread; yield "host:port"; then stop
    the server and close its socket."""
    server = ThreadingHTTPServer((bind, 0), handler)
    serve_in_thread(server)
    try:
        yield f"{bind}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def lambda_context(
    request_id: str = "test-request-id", remaining_ms: int = 30_000
) -> SimpleNamespace:
    """The attributes of Lambda's context object that the service reads.

    The remaining time counts down from `remaining_ms`, as it does in an invocation.
    """
    ends = time.monotonic() + remaining_ms / 1000
    return SimpleNamespace(
        aws_request_id=request_id,
        function_name="portfolio-api",
        memory_limit_in_mb=512,
        invoked_function_arn="arn:aws:lambda:local",
        log_stream_name=f"2026/12/05/[$LATEST]{request_id}",
        get_remaining_time_in_millis=lambda: max(0, int((ends - time.monotonic()) * 1000)),
    )
