"""The Lambda side of the service: lifespan once per environment, base paths, docs, logs."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest

from app.hosts.lambda_events import split_base_path
from scripts.generate_events import DOMAIN, URL_DOMAIN, alb, http_v1, http_v2, rest_v1
from tests.conftest import lambda_context


def test_lifespan_runs_once_and_its_engine_serves_every_request(make_client: Any) -> None:
    client = make_client()
    engine = client.adapter.state["engine"]
    for _ in range(3):
        assert client.get("/health/ready").status == 200
    assert client.adapter.state["engine"] is engine
    # One pooled connection was opened and reused, never one per call.
    assert engine.pool.checkedin() == 1
    client.adapter.shutdown()
    assert engine.pool.checkedin() == 0


DOCS_CASES = {
    "rest api stage": (rest_v1, {}, "/prod/openapi.json"),
    "http api $default": (http_v2, {}, "/openapi.json"),
    "http api named stage": (lambda r: http_v2(r, stage="dev"), {}, "/dev/openapi.json"),
    "http api payload 1.0": (http_v1, {}, "/openapi.json"),
    "alb": (alb, {}, "/openapi.json"),
    "function url": (lambda r: http_v2(r, domain=URL_DOMAIN), {}, "/openapi.json"),
    "custom domain mapping": (
        lambda r: http_v2({**r, "path": "/v1" + r["path"]}, domain="api.example.com"),
        {"api_base_path": "/v1"},
        "/v1/openapi.json",
    ),
    "rest custom domain mapping": (
        lambda r: (
            rest_v1({**r, "path": "/v1" + r["path"]}, stage="prod")
            | {
                "requestContext": {
                    **rest_v1(r)["requestContext"],
                    "path": "/v1" + r["path"],
                    "domainName": "api.example.com",
                }
            }
        ),
        {"api_base_path": "v1"},
        "/v1/openapi.json",
    ),
}


@pytest.mark.parametrize("case", DOCS_CASES)
def test_docs_point_at_an_openapi_url_the_client_can_fetch(make_client: Any, case: str) -> None:
    build, settings, expected_url = DOCS_CASES[case]
    client = make_client(**settings)
    docs = client.adapter.handle(build({"method": "GET", "path": "/docs"}), lambda_context())
    assert docs["statusCode"] == 200
    assert re.search(r"url: '([^']+)'", docs["body"]).group(1) == expected_url
    # Fetch it the way the browser would: the same API, at that URL's path.
    stage_prefix = expected_url.removesuffix("/openapi.json")
    request = {"method": "GET", "path": "/openapi.json"}
    event = build(request)
    spec = client.adapter.handle(event, lambda_context())
    assert spec["statusCode"] == 200, (stage_prefix, spec["body"][:200])
    body = json.loads(spec["body"])
    assert body["info"]["title"] == "portfolio-backend"
    if stage_prefix:
        assert body["servers"] == [{"url": stage_prefix}]


@pytest.mark.parametrize(
    ("event", "path", "base", "expected"),
    [
        (
            {
                "resource": "/{proxy+}",
                "requestContext": {"path": "/prod/projects", "stage": "prod"},
            },
            "/projects",
            "",
            ("/prod", "/projects"),
        ),
        (
            {"resource": "/{proxy+}", "requestContext": {"path": "/prod/", "stage": "prod"}},
            "/",
            "",
            ("/prod", "/"),
        ),
        (
            {"version": "2.0", "requestContext": {"stage": "dev", "domainName": DOMAIN}},
            "/dev/projects",
            "",
            ("/dev", "/projects"),
        ),
        (
            {"version": "2.0", "requestContext": {"stage": "dev", "domainName": DOMAIN}},
            "/devices",
            "",
            ("", "/devices"),
        ),
        (
            {"version": "2.0", "requestContext": {"stage": "dev", "domainName": "api.example.com"}},
            "/dev/projects",
            "",
            ("", "/dev/projects"),
        ),
        (
            {
                "version": "2.0",
                "requestContext": {"stage": "$default", "domainName": "api.example.com"},
            },
            "/v1/projects",
            "/v1",
            ("/v1", "/projects"),
        ),
        (
            {
                "version": "2.0",
                "requestContext": {"stage": "$default", "domainName": "api.example.com"},
            },
            "/v10/projects",
            "/v1",
            ("", "/v10/projects"),
        ),
    ],
)
def test_split_base_path(
    event: dict[str, Any], path: str, base: str, expected: tuple[str, str]
) -> None:
    assert split_base_path(event, path, base) == expected


def test_access_log_line_has_the_request_fields(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client()
    with caplog.at_level(logging.INFO, logger="app.access"):
        client.get("/health")
        client.get("/nope")
    first, second = [r for r in caplog.records if r.name == "app.access"]
    fields = (
        "http_method",
        "path",
        "status",
        "lambda_request_id",
        "apigw_request_id",
        "cold_start",
    )
    assert {f: getattr(first, f) for f in fields} == {
        "http_method": "GET",
        "path": "/health",
        "status": 200,
        "lambda_request_id": "req-1",
        "apigw_request_id": "JKJaXmPLvHcESHA=",
        "cold_start": True,
    }
    assert (second.status, second.cold_start) == (404, False)
    assert first.duration_ms >= 0


def test_lambda_json_log_format_gives_valid_json_lines(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # The formatter awslambdaric installs when AWS_LAMBDA_LOG_FORMAT=JSON.
    from awslambdaric.lambda_runtime_log_utils import JsonFormatter

    client = make_client()
    with caplog.at_level(logging.INFO):
        client.get("/projects")
        client.adapter.handle({}, lambda_context())
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name.startswith("app")]
    parsed = [json.loads(line) for line in lines]
    access = next(p for p in parsed if p["logger"] == "app.access")
    assert (access["status"], access["path"], access["cold_start"]) == (200, "/projects", True)
    rejected = next(p for p in parsed if p["logger"] == "app.lambda")
    assert rejected["level"] == "WARNING"
    assert rejected["message"].startswith("rejected event: 400")
