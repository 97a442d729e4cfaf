"""A stand-in for CloudFormation's side of a custom resource (no AWS account exists here):
the event it sends, and the pre-signed S3 URL it waits on for the function's verdict."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

from tests.support import http_server

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/portfolio/0a1b"
PHYSICAL_ID = "DatabaseMigration-0a1b"


class ResponseBucket(BaseHTTPRequestHandler):
    """Keeps every PUT (path, headers, JSON body); answers 503 `fail_first` times first."""

    received: ClassVar[list[dict[str, Any]]] = []
    fail_first: ClassVar[int] = 0

    def log_message(self, *args: object) -> None:
        pass

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if ResponseBucket.fail_first > 0:
            ResponseBucket.fail_first -= 1
            self.send_response(503)
            self.end_headers()
            return
        self.received.append(
            {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
        )
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


@contextlib.contextmanager
def response_bucket(bind: str = "127.0.0.1", host: str | None = None) -> Iterator[str]:
    """Serve the bucket on `bind`; yield a pre-signed-looking URL naming `host` (or `bind`)."""
    ResponseBucket.received = []
    ResponseBucket.fail_first = 0
    with http_server(ResponseBucket, bind) as address:
        port = address.rsplit(":", 1)[1]
        yield (
            f"http://{host or bind}:{port}/cloudformation-custom-resource-"
            "response-useast1/arn%3Aaws%3Acloudformation?X-Amz-Signature=abc"
        )


def custom_resource_event(
    response_url: str, request_type: str = "Create", **extra: Any
) -> dict[str, Any]:
    """What CloudFormation sends the migration function; Update and Delete name the resource."""
    event = {
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:migrate",
        "ResponseURL": response_url,
        "StackId": STACK_ID,
        "RequestId": f"req-{request_type}",
        "LogicalResourceId": "DatabaseMigration",
        "ResourceType": "Custom::DatabaseMigration",
        "ResourceProperties": {"ServiceToken": "x", "FunctionVersion": "3"},
    }
    if request_type != "Create":
        event["PhysicalResourceId"] = PHYSICAL_ID
    return {**event, **extra}
