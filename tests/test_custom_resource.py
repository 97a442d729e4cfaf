"""CloudFormation custom-resource responses (app/aws/custom_resource.py).

A local HTTP server stands in for the pre-signed S3 ResponseURL that CloudFormation puts in
the event: the test reads back exactly what the function PUT there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from app.aws import custom_resource
from tests.cloudformation import ResponseBucket, custom_resource_event, response_bucket


@pytest.fixture
def response_url() -> Iterator[str]:
    with response_bucket() as url:
        yield url


_event = custom_resource_event


CONTEXT = SimpleNamespace(log_stream_name="2024/05/01/[$LATEST]abcdef")


def test_a_create_is_answered_with_the_whole_verdict(response_url: str) -> None:
    event = _event(response_url)
    custom_resource.respond(
        event, CONTEXT, "SUCCESS", {"Current": "0002_contact", "Applied": ["0001", "0002_contact"]}
    )
    (put,) = ResponseBucket.received
    assert put["path"].startswith("/cloudformation-custom-resource-response-useast1/")
    assert put["headers"].get("Content-Type", "") == ""
    assert put["body"] == {
        "Status": "SUCCESS",
        "Reason": "see CloudWatch log stream 2024/05/01/[$LATEST]abcdef",
        "PhysicalResourceId": "DatabaseMigration-0a1b",
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
    body = ResponseBucket.received[0]["body"]
    assert (body["Status"], body["PhysicalResourceId"], body["Reason"], body["Data"]) == (
        "FAILED",
        "kept-id",
        "migration 0003 failed: boom",
        {},
    )


def test_transient_errors_are_retried(response_url: str) -> None:
    ResponseBucket.fail_first = 2
    pauses: list[float] = []
    custom_resource.respond(
        _event(response_url, "Delete", PhysicalResourceId="x"),
        CONTEXT,
        "SUCCESS",
        attempts=3,
        sleep=pauses.append,  # the backoff is recorded, not slept
    )
    assert [r["body"]["Status"] for r in ResponseBucket.received] == ["SUCCESS"]
    assert pauses == [1.0, 2.0]


def test_every_reply_is_budgeted_like_the_late_failed(response_url: str) -> None:
    # Two attempts of at most 5 s with a 1 s pause (11 s, inside the 15 s kept back), for
    # SUCCESS too: it used to be three attempts of 10 s and 3 s of pauses (33 s).
    ResponseBucket.fail_first = 5
    pauses: list[float] = []
    with pytest.raises(OSError):
        custom_resource.respond(_event(response_url), CONTEXT, "SUCCESS", sleep=pauses.append)
    assert (custom_resource.REPLY_ATTEMPTS, custom_resource.REPLY_TIMEOUT_S) == (2, 5.0)
    assert 5 - ResponseBucket.fail_first == 2  # attempts made
    assert pauses == [1.0]


def test_no_attempt_runs_past_the_invocations_end(response_url: str) -> None:
    # 1.2 s left: one attempt (refused at once), then no time for the pause and another.
    ResponseBucket.fail_first = 5
    pauses: list[float] = []
    context = SimpleNamespace(log_stream_name="s", get_remaining_time_in_millis=lambda: 1_200)
    with pytest.raises(OSError):
        custom_resource.respond(_event(response_url), context, "SUCCESS", sleep=pauses.append)
    assert 5 - ResponseBucket.fail_first == 1
    assert pauses == []
    # Under half a second left: no attempt at all, since it could only time out.
    context.get_remaining_time_in_millis = lambda: 400
    with pytest.raises(TimeoutError, match="no time left"):
        custom_resource.respond(_event(response_url), context, "SUCCESS", sleep=pauses.append)
    assert 5 - ResponseBucket.fail_first == 1


def test_work_finishing_after_a_late_failed_may_not_commit(response_url: str) -> None:
    # 2 s left: 1 s of work budget. The work is still running when FAILED goes out; asked
    # then whether it may commit, it must hear no, and nothing more is sent.
    context = SimpleNamespace(log_stream_name="s", get_remaining_time_in_millis=lambda: 2_000)
    claims: list[bool] = []

    def work(deadline: float, claim: Any) -> str:
        stop = time.monotonic() + 30
        while not ResponseBucket.received and time.monotonic() < stop:
            time.sleep(0.02)
        claims.append(claim())
        return "committed?"

    custom_resource.serve(_event(response_url, "Update"), context, work, lambda r: {})
    assert claims == [False]
    assert [r["body"]["Status"] for r in ResponseBucket.received] == ["FAILED"]


def test_work_that_claims_in_time_is_answered_by_its_outcome(response_url: str) -> None:
    context = SimpleNamespace(log_stream_name="s", get_remaining_time_in_millis=lambda: 60_000)

    def fails_at_commit(deadline: float, claim: Any) -> str:
        assert claim() and claim()  # claiming twice is still the work's own answer
        raise RuntimeError("COMMIT failed")

    result = custom_resource.serve(
        _event(response_url, "Update"), context, fails_at_commit, lambda r: {}
    )
    assert result == {"error": "RuntimeError: COMMIT failed"}
    assert [r["body"]["Status"] for r in ResponseBucket.received] == ["FAILED"]


def test_an_unreachable_url_raises_after_the_attempts() -> None:
    with pytest.raises(OSError):
        custom_resource.respond(
            _event("http://127.0.0.1:9/x"), CONTEXT, "SUCCESS", attempts=1, timeout=1.0
        )


def test_oversized_responses_are_cut_to_cloudformations_limit(response_url: str) -> None:
    custom_resource.respond(
        _event(response_url), CONTEXT, "FAILED", {"Applied": ["x" * 100] * 100}, "r" * 10_000
    )
    body = ResponseBucket.received[0]["body"]
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


# -- CloudFormation's 4,096-byte limit on the whole reply ---------------------------------------
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html

REASONS = ["", "r" * 10_000, 'é€😀"\\\n\t' * 1_500]


@pytest.mark.parametrize("applied", [3, 300, 3_000])
@pytest.mark.parametrize("reason", REASONS, ids=["none", "ascii", "escapes"])
@pytest.mark.parametrize("physical_id", ["kept-id", "p" * 1_000])
def test_every_reply_fits_the_limit_and_keeps_what_getatt_reads(
    applied: int, reason: str, physical_id: str
) -> None:
    event = _event("https://s3/x", "Update", PhysicalResourceId=physical_id)
    data = {
        "Current": "0042_latest",
        "Applied": ",".join(f"{i:04d}_a_revision_name" for i in range(applied)),
    }
    status = "FAILED" if reason else "SUCCESS"
    body = custom_resource.response_body(event, status, data, reason or None)
    assert len(body) <= custom_resource.MAX_RESPONSE_BYTES
    answer = json.loads(body)
    # The stack reads !GetAtt DatabaseMigration.Current: it must survive any shortening.
    assert answer["Data"]["Current"] == "0042_latest"
    assert answer["Data"]["Applied"].startswith("0000_a_revision_name")
    assert (answer["PhysicalResourceId"], answer["Status"]) == (physical_id, status)
    if reason:
        assert answer["Reason"][:100] == reason[:100]


def test_a_reply_that_fits_is_not_shortened() -> None:
    data = {"Current": "0002", "Applied": "0001,0002"}
    body = json.loads(custom_resource.response_body(_event("https://s3/x"), "FAILED", data, "why"))
    assert (body["Reason"], body["Data"]) == ("why", data)
