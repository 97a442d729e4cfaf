"""The no-op extension that makes Lambda send SIGTERM (app/hosts/lambda_extension.py), against
a local stand-in of the Extensions API (no Lambda here; the real emulator's is exercised by
tests/image/test_shutdown.py)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from app.hosts import lambda_extension
from tests.support import http_server
from tests.support.fresh import fresh_json


class _ExtensionsApi(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, str | None]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.seen.append((self.path, body, self.headers["Lambda-Extension-Name"]))
        self.send_response(200)
        self.send_header("Lambda-Extension-Identifier", "ext-1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:  # event/next: never answered while the environment lives
        self.seen.append((self.path, "", self.headers["Lambda-Extension-Identifier"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    _ExtensionsApi.seen = []
    with http_server(_ExtensionsApi) as address:
        yield address


def test_it_registers_for_no_events_then_waits_for_the_next_one(api: str) -> None:
    assert lambda_extension.register(api) == "ext-1"
    for _ in range(100):  # the wait for events runs in its own thread
        if len(_ExtensionsApi.seen) == 2:
            break
        threading.Event().wait(0.05)
    assert _ExtensionsApi.seen == [
        ("/2020-01-01/extension/register", json.dumps({"events": []}), lambda_extension.NAME),
        ("/2020-01-01/extension/event/next", "", "ext-1"),
    ]


def test_registering_at_init_loads_no_idna_codec(api: str) -> None:
    # socket.getaddrinfo with a text host imports encodings.idna, stringprep and unicodedata
    # (2.7 ms and 0.4 MB of INIT); nothing else on the cold path resolves a name in Python.
    code = (
        "import json, sys, handler; "
        "print(json.dumps([m for m in ('encodings.idna', 'stringprep', 'unicodedata') "
        "if m in sys.modules]))"
    )
    loaded = fresh_json(
        code, DATABASE_URL="postgresql+psycopg2://u@127.0.0.1:1/db", AWS_LAMBDA_RUNTIME_API=api
    )
    assert loaded == []
    assert [path for path, _, _ in _ExtensionsApi.seen][:1] == ["/2020-01-01/extension/register"]
