"""`handler.migrate` answers CloudFormation FAILED itself before the function's own timeout.

A Lambda function that times out never answers, and CloudFormation would wait out the
resource's ServiceTimeout. Here a real migration run is held up (another session holds the
migrations' advisory lock on the suite's PostgreSQL) with a Lambda context whose remaining
time runs out; the CloudFormation stand-in (tests/cloudformation.py) must receive FAILED while
the run is still held up, and nothing more once it finishes.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from app.aws import custom_resource
from app.data.migrate import ADVISORY_LOCK_KEY
from tests.cloudformation import ResponseBucket, custom_resource_event, response_bucket
from tests.support import lambda_context
from tests.test_migrations import HEAD


@pytest.fixture
def response_url() -> Iterator[str]:
    with response_bucket() as url:
        yield url


def _wait_for_answers(count: int, limit_s: float = 30.0) -> None:
    stop = time.monotonic() + limit_s
    while len(ResponseBucket.received) < count and time.monotonic() < stop:
        time.sleep(0.05)


def _held_up_run(url: str, make_client: Any, response_url: str) -> tuple[bool, list[Any]]:
    """Run the custom resource on `url` while another session holds the migrations' lock,
    with 6 s left (3 s of work budget); release the lock once CloudFormation has an answer.
    Returns whether the run was still going then, and what it returned."""
    # Statements may wait longer than the invocation has: only the deadline can end them.
    adapter = make_client(database_url=url, db_statement_timeout_ms=120_000).adapter
    holder = create_engine(url)  # advisory locks are per database: held on this one
    results: list[Any] = []
    with holder.connect() as lock:
        lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": ADVISORY_LOCK_KEY})
        run = threading.Thread(
            target=lambda: results.append(
                adapter.migrate(
                    custom_resource_event(response_url, "Update"),
                    lambda_context("req-deadline", remaining_ms=6_000),
                )
            ),
            daemon=True,
        )
        run.start()
        _wait_for_answers(1)
        answered_while_held = len(ResponseBucket.received) == 1
        lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
        lock.commit()
    run.join(60)
    holder.dispose()
    assert answered_while_held, "the answer waited for the lock"
    assert not run.is_alive()
    return answered_while_held, results


def test_a_run_that_cannot_finish_in_time_is_answered_failed_and_changes_nothing(
    make_client: Any, fresh_engine: Any, response_url: str
) -> None:
    # A fresh database: the run, once the lock is free, would apply every migration. It used
    # to, after CloudFormation had been told FAILED ("did not finish within 2 s").
    url = fresh_engine.url.render_as_string(hide_password=False)
    _held_up_run(url, make_client, response_url)
    ((status, reason),) = [
        (r["body"]["Status"], r["body"]["Reason"]) for r in ResponseBucket.received
    ]
    assert status == "FAILED"
    assert reason
    time.sleep(0.2)  # a stray late answer would arrive here
    assert len(ResponseBucket.received) == 1
    with fresh_engine.connect() as conn:  # nothing applied, not even the version table
        assert conn.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None
        assert conn.execute(text("SELECT to_regclass('projects')")).scalar() is None


def test_a_held_up_run_on_a_migrated_database_is_answered_failed_once(
    make_client: Any, database_url: str, response_url: str
) -> None:
    _, results = _held_up_run(database_url, make_client, response_url)
    assert [r["body"]["Status"] for r in ResponseBucket.received] == ["FAILED"]
    assert results and "error" in results[0]


def test_a_run_that_finishes_in_time_is_answered_once_with_its_result(
    make_client: Any, response_url: str
) -> None:
    adapter = make_client().adapter
    result = adapter.migrate(
        custom_resource_event(response_url, "Update"),
        lambda_context("req-deadline", remaining_ms=30_000),
    )
    time.sleep(0.2)  # a stray late answer would arrive here
    answers = [r["body"] for r in ResponseBucket.received]
    assert [(a["Status"], a["Data"]["Current"]) for a in answers] == [("SUCCESS", HEAD)]
    assert result["current"] == HEAD


@pytest.mark.parametrize(
    ("remaining_ms", "expected_s"),
    [(300_000, 285.0), (60_000, 45.0), (20_000, 10.0), (4_000, 2.0), (0, 0.0)],
)
def test_the_answer_keeps_time_back_to_be_sent(remaining_ms: int, expected_s: float) -> None:
    # Sending FAILED takes at most two 5-second attempts, inside the 15 s kept back.
    assert custom_resource.work_budget(remaining_ms) == expected_s
