"""CloudFormation custom-resource responses (app/custom_resource.py).

A local HTTP server stands in for the pre-signed S3 ResponseURL that CloudFormation puts in
the event: the test reads back exactly what the function PUT there.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from app import custom_resource


class FakeResponseBucket(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    fail_first: ClassVar[int] = 0  # answer 503 this many times first

    def log_message(self, *args: object) -> None:
        pass

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if FakeResponseBucket.fail_first > 0:
            FakeResponseBucket.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        self.received.append(
            {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def response_url() -> Iterator[str]:
    FakeResponseBucket.received = []
    FakeResponseBucket.fail_first = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeResponseBucket)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield (
            f"http://127.0.0.1:{server.server_address[1]}/cloudformation-custom-resource-"
            "response-useast1/arn%3Aaws%3Acloudformation?X-Amz-Signature=abc"
        )
    finally:
        server.shutdown()
        server.server_close()


def _event(url: str, request_type: str = "Create", **extra: Any) -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:migrate",
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/portfolio/1a2b3c4d",
        "RequestId": "5f0c2f4e-0000-4000-8000-000000000001",
        "LogicalResourceId": "DatabaseMigration",
        "ResourceType": "Custom::DatabaseMigration",
        "ResourceProperties": {"ServiceToken": "...", "FunctionVersion": "3"},
        **extra,
    }


CONTEXT = SimpleNamespace(log_stream_name="2024/05/01/[$LATEST]abcdef")


def test_a_create_is_answered_with_the_whole_verdict(response_url: str) -> None:
    event = _event(response_url)
    custom_resource.respond(
        event, CONTEXT, "SUCCESS", {"Current": "0002_contact", "Applied": ["0001", "0002_contact"]}
    )
    (put,) = FakeResponseBucket.received
    assert put["path"].startswith("/cloudformation-custom-resource-response-useast1/")
    assert put["headers"].get("Content-Type", "") == ""
    assert put["body"] == {
        "Status": "SUCCESS",
        "Reason": "see CloudWatch log stream 2024/05/01/[$LATEST]abcdef",
        "PhysicalResourceId": "DatabaseMigration-1a2b3c4d",
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": "DatabaseMigration",
        "NoEcho": False,
        "Data": {"Current": "0002_contact", "Applied": '["0001", "0002_contact"]'},
    }


def test_an_update_keeps_the_physical_id_and_a_failure_carries_its_reason(
    response_url: str,
) -> None:
    event = _event(
        response_url,
        "Update",
        PhysicalResourceId="kept-id",
        OldResourceProperties={"FunctionVersion": "2"},
    )
    custom_resource.respond(event, CONTEXT, "FAILED", None, "migration 0003 failed: boom")
    body = FakeResponseBucket.received[0]["body"]
    assert (body["Status"], body["PhysicalResourceId"], body["Reason"], body["Data"]) == (
        "FAILED",
        "kept-id",
        "migration 0003 failed: boom",
        {},
    )


def test_transient_errors_are_retried(response_url: str) -> None:
    FakeResponseBucket.fail_first = 2
    custom_resource.respond(
        _event(response_url, "Delete", PhysicalResourceId="x"), CONTEXT, "SUCCESS", attempts=3
    )
    assert [r["body"]["Status"] for r in FakeResponseBucket.received] == ["SUCCESS"]


def test_an_unreachable_url_raises_after_the_attempts() -> None:
    with pytest.raises(OSError):
        custom_resource.respond(
            _event("http://127.0.0.1:9/x"), CONTEXT, "SUCCESS", attempts=1, timeout=1.0
        )


def test_oversized_responses_are_cut_to_cloudformations_limit(response_url: str) -> None:
    custom_resource.respond(
        _event(response_url), CONTEXT, "FAILED", {"Applied": ["x" * 100] * 100}, "r" * 10_000
    )
    body = FakeResponseBucket.received[0]["body"]
    assert len(json.dumps(body).encode()) <= custom_resource.MAX_RESPONSE_BYTES
    assert body["Status"] == "FAILED" and body["Reason"].startswith("rrrr")


def test_status_must_be_one_cloudformation_knows() -> None:
    with pytest.raises(ValueError, match="SUCCESS or FAILED"):
        custom_resource.response_body(_event("http://x"), "OK")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (_event("https://s3/x"), True),
        (_event("https://s3/x", "Delete"), True),
        (_event("https://s3/x", "Replace"), False),
        ({"RequestType": "Create"}, False),
        ({"version": "2.0", "rawPath": "/health"}, False),
        ({}, False),
        (None, False),
        ("Create", False),
    ],
)
def test_custom_resource_events_are_told_apart(event: object, expected: bool) -> None:
    assert custom_resource.is_custom_resource_event(event) is expected
