"""One client identity, written by the host, for both the per-client limit and the
idempotency scope (issue 16, part 1), through the Lambda handler on PostgreSQL.

Under ALB the identity is the entry ALB appended to X-Forwarded-For: with its port stripped
when the load balancer preserves client ports (XFF_CLIENT_PORT), read from the last of
several header lines, and, when there is no address at all, the per-client limit is skipped
and logged instead of pooling every such visitor into one allowance.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from app import host_scope
from app.data.tables import contact_messages, contact_rate_limits
from scripts.generate_events import alb, http_v2
from tests.conftest import lambda_context

MESSAGE = {"name": "Ada", "email": "ada@example.com", "message": "Hello there"}
ONE = "198.51.100.7"


def _contact(body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> Any:
    return {"method": "POST", "path": "/contact", "body": body or MESSAGE, "headers": headers or {}}


def _alb(xff: list[str] | None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An ALB event; `xff` as separate header lines (multi-value headers), None for none."""
    event = alb(_contact(headers=headers))
    if xff is None:
        del event["headers"]["x-forwarded-for"]
    else:
        multi = {name: [value] for name, value in event["headers"].items()}
        multi["x-forwarded-for"] = xff
        event["multiValueHeaders"] = multi
        event["headers"] = {name: values[-1] for name, values in multi.items()}
    return event


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _statuses(handler: Callable[..., dict[str, Any]], events: list[dict[str, Any]]) -> list[int]:
    return [handler(event, lambda_context())["statusCode"] for event in events]


def test_a_retry_from_the_same_ipv6_host_replays_instead_of_writing_twice(
    lambda_handler: Any, clean_db: Engine
) -> None:
    # The limit counts an IPv6 host per /64; the idempotency scope must be the same client,
    # or a retry from another address of the /64 writes the message a second time.
    events = []
    for address in ("2001:db8:1:2::1", "2001:db8:1:2::2"):
        event = http_v2(_contact(headers={"idempotency-key": "retry-1"}))
        event["requestContext"]["http"]["sourceIp"] = address
        events.append(event)
    first, retry = (lambda_handler(e, lambda_context()) for e in events)
    assert (first["statusCode"], retry["statusCode"]) == (202, 202)
    assert json.loads(retry["body"]) == json.loads(first["body"])
    assert _count(clean_db, contact_messages) == 1


def test_under_alb_a_retry_with_another_spoofed_prefix_is_the_same_caller(
    lambda_handler: Any, clean_db: Engine
) -> None:
    # Mangum's ASGI client under ALB is the whole header, client-chosen part included.
    events = [_alb([f"10.0.0.{i}, {ONE}"], headers={"idempotency-key": "retry-2"}) for i in (1, 2)]
    assert _statuses(lambda_handler, events) == [202, 202]
    assert _count(clean_db, contact_messages) == 1


@pytest.mark.parametrize(
    ("entry", "client"),
    [(f"{ONE}:{{port}}", ONE), ("[2001:db8:1:2::1]:{port}", "2001:db8:1:2::/64")],
)
def test_alb_client_ports_are_stripped_when_configured(
    make_client: Any, clean_db: Engine, entry: str, client: str
) -> None:
    handler = make_client(xff_client_port=True).adapter.handle
    events = [_alb([f"10.0.0.9, {entry.format(port=40000 + i)}"]) for i in range(6)]
    assert _statuses(handler, events) == [202] * 5 + [429]
    assert _count(clean_db, contact_rate_limits) == 1


def test_alb_entries_are_read_across_repeated_header_lines(
    lambda_handler: Any, clean_db: Engine
) -> None:
    # Two X-Forwarded-For lines are one list (RFC 9110, 5.3): ALB's entry is the last of the
    # last line, whatever the client put in the first.
    events = [_alb([f"10.0.0.{i}", ONE]) for i in range(6)]
    assert _statuses(lambda_handler, events) == [202] * 5 + [429]


def test_without_any_address_the_limit_is_skipped_and_logged(
    lambda_handler: Any, clean_db: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="app.api.contact")
    assert _statuses(lambda_handler, [_alb(None) for _ in range(7)]) == [202] * 7
    assert _count(clean_db, contact_rate_limits) == 0
    skipped = [r for r in caplog.records if "no client address" in r.getMessage()]
    assert len(skipped) == 7


@pytest.mark.parametrize(
    ("address", "identity"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2::abcd", "2001:db8:1:2::/64"),
        ("", None),
        (None, None),
    ],
)
def test_normalise(address: str | None, identity: str | None) -> None:
    assert host_scope.normalise(address) == identity
