"""The metrics in the running image: under Lambda's JSON log format, the function's counters
reach the log as top-level Embedded Metric Format objects, one per line, which is what
CloudWatch Logs extracts metrics from (app/aws/metrics.py cites the specification)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from app.aws import metrics
from tests.conftest import load_event
from tests.image.support import Emulator

pytestmark = pytest.mark.image


def test_a_stored_message_is_an_emf_line_in_the_json_log(
    start_emulator: Any, lambda_env: dict[str, str], clean_db: Engine
) -> None:
    env = {**lambda_env, "AWS_LAMBDA_LOG_FORMAT": "JSON"}
    emulator: Emulator = start_emulator(env)
    response, _ = emulator.first_invoke(load_event("http-v2/post-contact.json"))
    assert response["statusCode"] == 202

    documents: list[dict[str, Any]] = []
    for _ in range(50):  # the engine's log reader can lag the invocation slightly
        documents = [
            json.loads(line)
            for line in emulator.logs().splitlines()
            if line.startswith('{"_aws"')
        ]
        if documents:
            break
        time.sleep(0.1)
    (document,) = documents
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == metrics.NAMESPACE
    assert directive["Metrics"] == [{"Name": metrics.CONTACT_MESSAGE_RECEIVED, "Unit": "Count"}]
    assert document[metrics.CONTACT_MESSAGE_RECEIVED] == 1
    # The emulator sets AWS_LAMBDA_FUNCTION_NAME as Lambda does: the dimension carries it.
    assert document[metrics.DIMENSION] not in ("", metrics.LOCAL_FUNCTION)
    assert "Hello from the contact form." not in emulator.logs()
