"""A TCP proxy that behaves like a paused Aurora Serverless v2 instance resuming: it accepts
connections at once, and forwards none of them to PostgreSQL until `resume_seconds` after
the first one arrived (the connection that triggers the resume)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


class ResumingProxy:
    """Listens on a free loopback port; `port` is where clients connect."""

    def __init__(self, upstream_port: int, resume_seconds: float) -> None:
        self.upstream_port = upstream_port
        self.resume_seconds = resume_seconds
        self.resumed_at: float | None = None
        self.accepted = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closing = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self._closing:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.resumed_at is None:
                self.resumed_at = time.monotonic() + self.resume_seconds
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        assert self.resumed_at is not None
        time.sleep(max(0.0, self.resumed_at - time.monotonic()))
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()
            return
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    def close(self) -> None:
        self._closing = True
        self._listener.close()


@contextlib.contextmanager
def resuming_proxy(upstream_port: int, resume_seconds: float) -> Iterator[ResumingProxy]:
    """A `ResumingProxy` in front of `upstream_port`, closed afterwards."""
    proxy = ResumingProxy(upstream_port, resume_seconds)
    try:
        yield proxy
    finally:
        proxy.close()
