"""Call the Lambda handler the way API Gateway would, with HTTP API 2.0 events."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scripts.generate_events import http_v2
from tests.conftest import ADMIN_TOKEN, lambda_context


@dataclass
class LambdaResponse:
    status: int
    headers: dict[str, str]
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class LambdaClient:
    """A minimal HTTP-like client whose requests are Lambda invocations of `handler`."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.calls = 0

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        admin: bool = False,
        raw_body: str | None = None,
        source_ip: str | None = None,
    ) -> LambdaResponse:
        headers = dict(headers or {})
        if admin:
            headers["authorization"] = f"Bearer {ADMIN_TOKEN}"
        request: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": query or {},
            "headers": headers,
        }
        if json_body is not None:
            request["body"] = json_body
        event = http_v2(request)
        if raw_body is not None:
            event["body"] = raw_body
        if source_ip is not None:
            event["requestContext"]["http"]["sourceIp"] = source_ip
        self.calls += 1
        response = self.handler(event, lambda_context(f"req-{self.calls}"))
        return LambdaResponse(
            response["statusCode"],
            {k.lower(): v for k, v in (response.get("headers") or {}).items()},
            response.get("body", ""),
        )

    def get(self, path: str, **kwargs: Any) -> LambdaResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> LambdaResponse:
        return self.request("POST", path, json_body=body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> LambdaResponse:
        return self.request("PATCH", path, json_body=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> LambdaResponse:
        return self.request("DELETE", path, **kwargs)
