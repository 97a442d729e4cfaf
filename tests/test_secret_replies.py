"""Whatever answers at the Secrets Manager endpoint is untrusted input.

A proxy's or load balancer's HTML page, a body cut short, JSON of the wrong shape, a secret
whose fields are not what RDS writes: each must end as a 503 with Retry-After, counted as
DatabaseUnavailable, never as a 500 (they were: JSONDecodeError, IncompleteRead,
AttributeError). The server below stands in for what can sit between the function and AWS;
no AWS account exists here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import pytest

from app.aws import aws_secrets
from app.aws.aws_secrets import SecretsManagerError
from tests.support import http_server
from tests.test_aws_secrets import LAMBDA_CREDENTIALS, SECRET_ARN

UNAVAILABLE = (503, {"detail": "database unavailable, try again shortly"})


def _secret_reply(secret: object) -> bytes:
    return json.dumps({"ARN": SECRET_ARN, "SecretString": json.dumps(secret)}).encode()


GOOD_SECRET = {"username": "u", "password": "p", "host": "db.example.internal", "port": 5432}

# (name, HTTP status, Content-Type, body, Content-Length sent or None for the body's own)
REPLIES: list[tuple[str, int, str, bytes, int | None]] = [
    ("html page", 200, "text/html", b"<html><body>Sign in to the Wi-Fi</body></html>", None),
    ("html error", 502, "text/html", b"<html><body>502 Bad Gateway</body></html>", None),
    ("truncated", 200, "application/x-amz-json-1.1", _secret_reply(GOOD_SECRET)[:30], 400),
    ("a list", 200, "application/x-amz-json-1.1", b"[1, 2, 3]", None),
    ("a string", 200, "application/x-amz-json-1.1", b'"SecretString"', None),
    ("null", 200, "application/x-amz-json-1.1", b"null", None),
    ("error as a list", 400, "application/x-amz-json-1.1", b'["ThrottlingException"]', None),
    ("not utf-8", 200, "application/x-amz-json-1.1", b'{"SecretString": "\xff\xfe"}', None),
    ("empty", 200, "application/x-amz-json-1.1", b"", None),
    ("secret a list", 200, "application/x-amz-json-1.1", _secret_reply(["u", "p"]), None),
    ("port text", 200, "", _secret_reply({**GOOD_SECRET, "port": "five"}), None),
    ("port too big", 200, "", _secret_reply({**GOOD_SECRET, "port": 70000}), None),
    ("port a list", 200, "", _secret_reply({**GOOD_SECRET, "port": [5432]}), None),
    ("host a url", 200, "", _secret_reply({**GOOD_SECRET, "host": "a/b@c"}), None),
    ("host a number", 200, "", _secret_reply({**GOOD_SECRET, "host": 12}), None),
]


class _Endpoint(BaseHTTPRequestHandler):
    reply: ClassVar[tuple[str, int, str, bytes, int | None]] = REPLIES[0]

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        _name, status, content_type, body, length = self.reply
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True  # a truncated body ends with the connection


@pytest.fixture(params=REPLIES, ids=[reply[0] for reply in REPLIES])
def endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    _Endpoint.reply = request.param
    with http_server(_Endpoint) as address:
        yield f"http://{address}"


def test_a_malformed_reply_is_a_secrets_manager_error(endpoint: str) -> None:
    settings = _Settings(endpoint)
    with pytest.raises(SecretsManagerError) as caught:
        aws_secrets.database_url_from_secret(settings, endpoint=endpoint)
    assert "<html" not in str(caught.value)  # a page is not echoed into logs or answers


def test_a_malformed_reply_is_a_503_counted_as_database_unavailable(
    make_client: Any, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client(
        database_url="postgresql+psycopg2://must-not-be-used@127.0.0.1:1/nothing",
        database_secret_arn=SECRET_ARN,
        aws_access_key_id=LAMBDA_CREDENTIALS.access_key_id,
        aws_secret_access_key=LAMBDA_CREDENTIALS.secret_access_key,
        aws_session_token=LAMBDA_CREDENTIALS.session_token,
        aws_endpoint_url_secrets_manager=endpoint,
        db_sslmode="disable",
    )
    capsys.readouterr()
    response = client.get("/projects")
    assert (response.status, response.json()) == UNAVAILABLE
    assert response.headers["retry-after"] == "1"
    emitted = [
        metric["Name"]
        for line in capsys.readouterr().out.splitlines()
        if line.startswith('{"_aws"')
        for metric in json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    ]
    assert emitted == ["DatabaseUnavailable"]


class _Settings:
    """The fields database_url_from_secret reads."""

    def __init__(self, endpoint: str) -> None:
        self.database_secret_arn = SECRET_ARN
        self.db_host = None
        self.aws_region = "eu-west-1"
        self.aws_access_key_id = LAMBDA_CREDENTIALS.access_key_id
        self.aws_secret_access_key = LAMBDA_CREDENTIALS.secret_access_key
        self.aws_session_token = LAMBDA_CREDENTIALS.session_token
        self.endpoint = endpoint


class _Trickle(BaseHTTPRequestHandler):
    """A correct reply, sent one byte every 0.2 s (each read is quick, the whole is slow)."""

    log: ClassVar[list[str]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = _secret_reply(GOOD_SECRET)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                threading.Event().wait(0.2)
        except OSError:  # the client gave up
            pass
        self.log.append("sent")


def test_a_reply_that_trickles_in_is_bounded_by_the_timeout_as_a_whole() -> None:
    # Each byte arrives well within the 1 s timeout, the whole reply would take ~30 s: the
    # per-read timeout alone (urllib's) let it through.
    _Trickle.log = []
    with http_server(_Trickle) as address:
        with pytest.raises(SecretsManagerError, match="TimeoutError"):
            aws_secrets.get_secret_json(
                SECRET_ARN,
                credentials=LAMBDA_CREDENTIALS,
                endpoint=f"http://{address}",
                timeout=1.0,
            )
        assert _Trickle.log == []  # given up on before the reply was complete


def test_a_reply_larger_than_any_secret_is_refused() -> None:
    _Endpoint.reply = ("huge", 200, "", b"[" + b"0," * (1024 * 1024) + b"0]", None)
    with (
        http_server(_Endpoint) as address,
        pytest.raises(SecretsManagerError, match="more than any secret"),
    ):
        aws_secrets.get_secret_json(
            SECRET_ARN, credentials=LAMBDA_CREDENTIALS, endpoint=f"http://{address}"
        )
