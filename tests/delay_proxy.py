"""A user-space TCP proxy that delays every byte by a fixed time and counts round trips.

It stands between the function and PostgreSQL in the bench's production-like variant (and in
the tests that count round trips): on AWS the database is a network hop away, on loopback it
is not (the bench adds 1 ms per round trip). Each direction of each connection has a reader
thread (it stamps the time a chunk arrived) and a writer thread (it sends the chunk when its
time has come), so the delay is added once per direction and ordering is kept. Threads and
`time.sleep`, not asyncio: asyncio's selector rounds its timeouts up to whole milliseconds,
which would double a 0.5 ms delay.

A round trip, as counted here, is one client turn: the client sends after the server has
spoken (or first on a new connection). The protocol is strictly request/response for the
driver the project uses (psycopg2 waits for each answer), so turns are round trips; the TLS
handshake's turns count too, since they cost the same delay.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

CHUNK = 65536


@dataclass
class Counts:
    """Totals since the proxy started: connections accepted and client turns."""

    connections: int = 0
    round_trips: int = 0


class DelayProxy:
    """Listen on 127.0.0.1:`port` (a free one), forward to `target`, delay each direction."""

    def __init__(self, target_port: int, one_way_delay_s: float, target_host: str = "127.0.0.1"):
        self.target = (target_host, target_port)
        self.delay = one_way_delay_s
        self._counts = Counts()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closed = threading.Event()
        self._accepter = threading.Thread(target=self._accept, name="delayproxy", daemon=True)

    def start(self) -> DelayProxy:
        self._accepter.start()
        return self

    def counts(self) -> Counts:
        """A snapshot of the totals (subtract two snapshots to count what happened between)."""
        with self._lock:
            return Counts(self._counts.connections, self._counts.round_trips)

    def close(self) -> None:
        self._closed.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._counts.connections += 1
            _Link(self, client, server).start()

    def _turn(self, link: _Link, from_client: bool) -> None:
        """Record who spoke; a client speaking after the server (or first) is a new round trip."""
        with self._lock:
            if from_client and link.last_speaker != "client":
                self._counts.round_trips += 1
            link.last_speaker = "client" if from_client else "server"


class _Link:
    """One proxied connection: two directions, each a reader and a delayed writer."""

    def __init__(self, proxy: DelayProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = server
        self.last_speaker = ""
        self._ended = 0

    def start(self) -> None:
        for source, sink, from_client in (
            (self.client, self.server, True),
            (self.server, self.client, False),
        ):
            pending: queue.SimpleQueue[tuple[float, bytes]] = queue.SimpleQueue()
            threading.Thread(
                target=self._read, args=(source, pending, from_client), daemon=True
            ).start()
            threading.Thread(target=self._write, args=(sink, pending), daemon=True).start()

    def _read(
        self, source: socket.socket, pending: queue.SimpleQueue[tuple[float, bytes]], client: bool
    ) -> None:
        while True:
            try:
                data = source.recv(CHUNK)
            except OSError:
                data = b""
            if data:
                self.proxy._turn(self, client)
            pending.put((time.perf_counter() + self.proxy.delay, data))
            if not data:
                return

    def _write(self, sink: socket.socket, pending: queue.SimpleQueue[tuple[float, bytes]]) -> None:
        while True:
            due, data = pending.get()
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            if not data:
                # The other side closed: pass the end on.
                with contextlib.suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                break
            try:
                sink.sendall(data)
            except OSError:
                break
        self._end()

    def _end(self) -> None:
        """Close both sockets once both directions are done."""
        with self.proxy._lock:
            self._ended += 1
            last = self._ended == 2
        if last:
            self.client.close()
            self.server.close()


@contextlib.contextmanager
def delay_proxy(target_port: int, round_trip_s: float) -> Iterator[DelayProxy]:
    """A running proxy adding `round_trip_s` per round trip (half each way); closed after."""
    proxy = DelayProxy(target_port, round_trip_s / 2).start()
    try:
        yield proxy
    finally:
        proxy.close()
