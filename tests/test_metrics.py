"""The counters the function emits: Embedded Metric Format lines on stdout, never content.

The alarms in template.yaml are checked against these same constants in
tests/sam/test_alarms.py.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import pytest

from app.aws import metrics
from tests.client import LambdaClient
from tests.support import free_port


def _documents(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


def test_a_count_is_one_emf_document_on_one_line() -> None:
    stream = io.StringIO()
    before = int(time.time() * 1000)
    metrics.Metrics("portfolio-api", stream=stream).count(metrics.CONTACT_MESSAGE_RECEIVED)

    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    document = json.loads(lines[0])
    meta = document.pop("_aws")
    assert before <= meta.pop("Timestamp") <= int(time.time() * 1000)
    assert meta == {
        "CloudWatchMetrics": [
            {
                "Namespace": "PortfolioBackend",
                "Dimensions": [["FunctionName"]],
                "Metrics": [{"Name": "ContactMessageReceived", "Unit": "Count"}],
            }
        ]
    }
    # Every dimension and metric the directive names is a root member of the right type.
    assert document == {"FunctionName": "portfolio-api", "ContactMessageReceived": 1}


def test_unknown_metric_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown metric"):
        metrics.Metrics(None).document("Typo")


def test_a_contact_message_is_counted_without_its_content(
    client: LambdaClient, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = {"name": "Zebedee Quux", "email": "zq@example.org", "message": "my private words"}
    assert client.post("/contact", secret).status == 202
    output = capsys.readouterr().out
    assert [d.get(metrics.CONTACT_MESSAGE_RECEIVED) for d in _documents(output)] == [1]
    for value in secret.values():
        assert value not in output


def test_database_unavailable_answers_are_counted_per_function(
    make_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    down = make_client(
        database_url=f"postgresql+psycopg2://u@127.0.0.1:{free_port()}/db",
        aws_lambda_function_name="stack-ApiFunction-abc",
    )
    assert down.get("/projects").status == 503
    assert down.post("/contact", {"name": "A", "email": "a@b.co", "message": "x"}).status == 503
    documents = _documents(capsys.readouterr().out)
    assert [d.get(metrics.DATABASE_UNAVAILABLE) for d in documents] == [1, 1]
    assert {d["FunctionName"] for d in documents} == {"stack-ApiFunction-abc"}
