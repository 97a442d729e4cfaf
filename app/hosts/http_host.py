"""The HTTP host: the same app served by uvicorn on $PORT, for ECS, App Runner or compose.

What this host gives the service, and why:
- Worker processes: one per CPU the container may use (its cgroup quota, not the machine's
  CPU count: a Fargate task with 1 vCPU on a 4-CPU host must not start 4), or WEB_CONCURRENCY.
  uvicorn's supervisor restarts a worker that dies or stops answering its health pings.
- Database work off the event loop: the routes are `async` over a blocking driver (right for
  Lambda, where one event runs at a time). Here every request except the liveness check runs
  on a worker thread with an event loop of its own, so a statement waiting on a lock blocks
  that thread only: `/health` and other requests go on. There are DB_POOL_SIZE threads per
  worker, as many as the pool's connections, so no thread ever waits for a connection; the
  database sees at most workers x DB_POOL_SIZE connections (logged at start).
- The two scope facts (app/host_scope.py): the client is the TCP peer, or, when the peer is
  a configured proxy (TRUSTED_PROXIES, none by default), the right-most X-Forwarded-For entry
  that is not itself a trusted proxy; the deadline is arrival + REQUEST_TIMEOUT_SECONDS.
- SIGTERM: uvicorn stops accepting, lets in-flight requests finish (up to
  SHUTDOWN_TIMEOUT_SECONDS), runs the lifespan's shutdown (the engine is disposed), and the
  process exits 0.
- JSON logs at LOG_LEVEL, the app's access log, no `Server` header.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import host_scope
from app.hosts import forwarded
from app.settings import Settings, get_settings

logger = logging.getLogger("app.http")

# The liveness check (ECS, the load balancer): it never touches the database, so it is
# answered on the event loop itself, ahead of any queue of database requests.
LIVENESS_PATH = "/health"
# ALB closes idle connections after 60 s by default; the target must keep them open longer,
# or the load balancer may reuse a connection the target is closing (a 502).
# https://docs.aws.amazon.com/elasticloadbalancing/latest/application/edit-load-balancer-attributes.html#connection-idle-timeout
KEEP_ALIVE_SECONDS = 75

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def available_cpus(cgroup_root: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may use: its affinity, capped by a cgroup CPU quota (v2 or v1)."""
    cpus = len(os.sched_getaffinity(0))
    quota = _cgroup_quota(cgroup_root)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return max(1, cpus)


def _cgroup_quota(root: Path) -> float | None:
    try:
        # cgroup v2: "max 100000" (no limit) or "<quota> <period>" in microseconds.
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    for directory in (root / "cpu", root / "cpu,cpuacct"):
        try:
            quota_us = int((directory / "cpu.cfs_quota_us").read_text())
            period_us = int((directory / "cpu.cfs_period_us").read_text())
        except (OSError, ValueError):
            continue
        return None if quota_us <= 0 or period_us <= 0 else quota_us / period_us
    return None


def _in(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(
    scope: Scope, trusted: Sequence[Network], xff_client_port: bool = False
) -> str | None:
    """The peer, or behind a trusted proxy the right-most entry it did not add itself.

    Entries left of that are whatever the client sent (a spoofed header), so they never
    count; a header from a peer that is not a trusted proxy is ignored entirely.
    """
    peer = scope.get("client")
    address = str(peer[0]) if peer else None
    if address is None or not trusted or not _in(address, trusted):
        return address
    for entry in reversed(forwarded.entries(scope.get("headers", []))):
        candidate = forwarded.strip_port(entry) if xff_client_port else entry
        if not _in(candidate, trusted):
            return candidate
    return address


class HttpScope:
    """ASGI wrapper: the two facts into each request, and each request onto a worker thread."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.trusted = [ipaddress.ip_network(p, strict=False) for p in settings.trusted_proxies]
        self.xff_client_port = settings.xff_client_port
        self.timeout = settings.request_timeout_seconds
        self.executor = ThreadPoolExecutor(settings.db_pool_size, thread_name_prefix="request")
        self._loops = threading.local()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = client_address(scope, self.trusted, self.xff_client_port)
        scope = {
            **scope,
            host_scope.CLIENT: host_scope.normalise(client),
            host_scope.DEADLINE: time.monotonic() + self.timeout,
        }
        if scope["path"] == LIVENESS_PATH:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self.executor, self._serve, scope, receive, send, loop)

    def _serve(self, scope: Scope, receive: Receive, send: Send, server: Any) -> None:
        """On a worker thread: run the app on this thread's own loop; receive and send are
        the server's, called on the server's loop."""
        loop = getattr(self._loops, "loop", None)
        if loop is None:
            loop = self._loops.loop = asyncio.new_event_loop()

        async def receive_on_server() -> Message:
            return await receive()

        async def send_on_server(message: Message) -> None:
            await send(message)

        async def receive_here() -> Message:
            future = asyncio.run_coroutine_threadsafe(receive_on_server(), server)
            return await asyncio.wrap_future(future)

        async def send_here(message: Message) -> None:
            future = asyncio.run_coroutine_threadsafe(send_on_server(message), server)
            await asyncio.wrap_future(future)

        loop.run_until_complete(self.app(scope, receive_here, send_here))


def build() -> HttpScope:
    """The app as this host serves it (uvicorn calls this in each worker process)."""
    from app.hosts import json_logs
    from app.main import create_app

    settings = get_settings()
    json_logs.configure(settings)
    return HttpScope(create_app(settings), settings)


def main() -> None:
    """Serve HTTP on $PORT until SIGTERM; exit 0 once in-flight requests have finished."""
    import uvicorn

    from app.hosts import json_logs

    settings = get_settings()
    json_logs.configure(settings)
    workers = settings.web_concurrency or available_cpus()
    connections = (
        "no pool (external pooler)"
        if settings.db_external_pooler
        else (
            f"{workers} x {settings.db_pool_size} = {workers * settings.db_pool_size} connections"
        )
    )
    logger.info(
        "serving on port %d: %d worker(s), %d thread(s) each, database %s",
        settings.port,
        workers,
        settings.db_pool_size,
        connections,
        extra={"workers": workers, "db_pool_size": settings.db_pool_size},
    )
    uvicorn.run(
        "app.hosts.http_host:build",
        factory=True,
        host="0.0.0.0",  # noqa: S104 - a container's port is reached through its interface
        port=settings.port,
        workers=workers,
        log_config=None,  # json_logs above; uvicorn's loggers propagate to it
        access_log=False,  # the app's AccessLog writes one line per request
        proxy_headers=False,  # forwarded headers are read here, from trusted proxies only
        server_header=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
    )
