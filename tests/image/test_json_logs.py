"""Lambda's JSON log format in the running image: awslambdaric formats every log line of
the function as one JSON object, with the access-log fields as keys."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.conftest import load_event
from tests.image.support import BuiltImage, Emulator

pytestmark = pytest.mark.image


def test_function_logs_are_json_lines_with_the_access_fields(
    start_emulator: Any, lambda_env: dict[str, str], image: BuiltImage
) -> None:
    env = {**lambda_env, "AWS_LAMBDA_LOG_FORMAT": "JSON"}
    emulator: Emulator = start_emulator(env)
    response, _ = emulator.first_invoke(load_event("http-v2/get-projects.json"))
    assert response["statusCode"] == 200
    assert emulator.invoke({})["statusCode"] == 400

    records: list[dict[str, Any]] = []
    for _ in range(50):  # the engine's log reader can lag the invocation slightly
        # Only the function's lines: the emulator prints its own (START/END/REPORT) as text.
        lines = [line for line in emulator.logs().splitlines() if line.startswith("{")]
        records = [json.loads(line) for line in lines]
        if any(r.get("logger") == "app.lambda" for r in records):
            break
        time.sleep(0.1)
    text_lines = [
        line
        for line in emulator.logs().splitlines()
        if line.startswith(("[INFO]", "[WARNING]", "[ERROR]"))
    ]
    assert text_lines == []  # the text format's prefix: nothing fell back to it
    access = [r for r in records if r.get("logger") == "app.access"]
    assert len(access) == 1
    (line,) = access
    assert (line["level"], line["http_method"], line["path"], line["status"]) == (
        "INFO",
        "GET",
        "/projects",
        200,
    )
    assert line["cold_start"] is True
    assert line["apigw_request_id"] == "JKJaXmPLvHcESHA="
    assert line["requestId"] == line["lambda_request_id"]
    (rejected,) = [r for r in records if r.get("logger") == "app.lambda"]
    assert rejected["level"] == "WARNING"
    assert rejected["message"].startswith("rejected event: 400")
