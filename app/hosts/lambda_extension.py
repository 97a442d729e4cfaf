"""A no-op internal Lambda extension, registered so that Lambda sends SIGTERM at shutdown.

Lambda sends SIGTERM to the runtime before it ends an execution environment only when at least
one extension is registered; without one the process is killed outright and no clean-up runs
(AWS's graceful-shutdown samples: https://github.com/aws-samples/graceful-shutdown-with-aws-lambda,
whose Rust demo registers exactly this: an internal extension subscribed to no events). An
internal extension is a thread of the runtime process; it may register for no events or INVOKE
but not SHUTDOWN, and it gives the runtime 500 ms to shut down
(https://docs.aws.amazon.com/lambda/latest/dg/runtimes-extensions-api.html, "Shutdown phase",
"Troubleshooting extensions").

It must register during INIT, before the runtime client asks for the first event, and must then
call Next (Lambda's INIT ends when the runtime and every extension have): that call never
returns, since the extension asked for no events, so it waits in a daemon thread. The cost is
one local HTTP request at INIT and an idle thread.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
import threading

logger = logging.getLogger("app.lambda")

NAME = "portfolio-graceful-shutdown"
_API = "/2020-01-01/extension"


class _RuntimeConnection(http.client.HTTPConnection):
    """HTTP to the runtime API, whose address resolves without Python's IDNA codec.

    `socket.getaddrinfo` encodes a text host name with the IDNA codec, and its first use imports
    encodings.idna, stringprep and unicodedata: 2.7 ms and 0.4 MB of INIT for an address that
    is always ASCII (AWS_LAMBDA_RUNTIME_API is host:port). Given as bytes, it is used as is.
    """

    def connect(self) -> None:
        address = (self.host.encode("ascii"), self.port)
        self.sock = socket.create_connection(address, self.timeout)  # type: ignore[arg-type]
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def register(runtime_api: str) -> str | None:
    """Register the extension with the Extensions API at `runtime_api` (host:port).

    Returns the extension's identifier, or None when registration failed: the function then
    works as before, only without SIGTERM (logged, never fatal).
    """
    try:
        connection = _RuntimeConnection(runtime_api, timeout=5)
        connection.request(
            "POST",
            f"{_API}/register",
            body=json.dumps({"events": []}),
            headers={"Lambda-Extension-Name": NAME, "Content-Type": "application/json"},
        )
        response = connection.getresponse()
        response.read()
        identifier = response.getheader("Lambda-Extension-Identifier")
        connection.close()
    except OSError as error:
        logger.warning("extension not registered (%s): no SIGTERM at shutdown", error)
        return None
    if response.status != 200 or not identifier:
        status = response.status
        logger.warning("extension not registered (HTTP %d): no SIGTERM at shutdown", status)
        return None
    threading.Thread(
        target=_wait_for_events, args=(runtime_api, identifier), name=NAME, daemon=True
    ).start()
    return identifier


def _wait_for_events(runtime_api: str, identifier: str) -> None:
    # Signals "initialised" to Lambda, then blocks: no event was asked for. Without a
    # timeout, so that a quiet environment does not loop; the process ends it at shutdown.
    try:
        connection = _RuntimeConnection(runtime_api, timeout=None)
        connection.request(
            "GET", f"{_API}/event/next", headers={"Lambda-Extension-Identifier": identifier}
        )
        connection.getresponse().read()
    except OSError as error:
        logger.warning("extension's wait for events ended: %s", error)
