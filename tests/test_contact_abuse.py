"""Abuse control on POST /contact, through handler.handler on PostgreSQL: the honeypot, the
per-client limit (race-safe, all-or-nothing, bounded bookkeeping, no addresses stored) and
the metrics each outcome emits."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from app.aws import metrics
from app.data import ratelimit
from app.data.tables import contact_messages, contact_rate_limits, idempotency_keys
from app.settings import Settings
from scripts.generate_events import alb, http_v2, rest_v1
from tests.conftest import ADMIN_TOKEN_SHA256, lambda_context

MESSAGE = {"name": "Ada", "email": "ada@example.com", "message": "Hello there"}
ONE = "198.51.100.7"
OTHER = "198.51.100.8"


def _post(
    handler: Callable[..., dict[str, Any]],
    ip: str,
    body: dict[str, Any] | None = None,
    build: Callable[[dict[str, Any]], dict[str, Any]] = http_v2,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    event = build(
        {"method": "POST", "path": "/contact", "body": body or MESSAGE, "headers": headers or {}}
    )
    context = event.get("requestContext", {})
    if "http" in context:
        context["http"]["sourceIp"] = ip
    if "identity" in context:
        context["identity"]["sourceIp"] = ip
    return handler(event, lambda_context())


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _emitted(output: str) -> list[str]:
    """Names of the EMF metrics in captured stdout."""
    names = []
    for line in output.splitlines():
        if line.startswith('{"_aws"'):
            document = json.loads(line)
            names += [m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
    return names


# -- honeypot -------------------------------------------------------------------------------


def test_a_filled_honeypot_gets_the_usual_answer_and_stores_nothing(
    lambda_handler: Any, clean_db: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = {**MESSAGE, "website": "https://spam.example"}
    response = _post(lambda_handler, ONE, bot, headers={"idempotency-key": "bot-1"})
    human = _post(lambda_handler, OTHER, {**MESSAGE, "website": ""})

    assert response["statusCode"] == human["statusCode"] == 202
    receipt = json.loads(response["body"])
    assert set(receipt) == set(json.loads(human["body"])) == {"id", "status"}
    assert (len(receipt["id"]), receipt["status"]) == (32, "received")
    assert _count(clean_db, contact_messages) == 1  # the human's only
    assert _count(clean_db, idempotency_keys) == 0
    with clean_db.connect() as conn:
        assert conn.execute(select(contact_rate_limits.c.count)).scalars().all() == [1]
    assert _emitted(capsys.readouterr().out) == [
        metrics.CONTACT_HONEYPOT,
        metrics.CONTACT_MESSAGE_RECEIVED,
    ]


# -- the per-client limit -------------------------------------------------------------------


def test_the_sixth_message_in_an_hour_is_429_while_another_client_is_served(
    lambda_handler: Any, clean_db: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    statuses = [_post(lambda_handler, ONE)["statusCode"] for _ in range(5)]
    sixth = _post(lambda_handler, ONE)
    other = _post(lambda_handler, OTHER)

    assert statuses == [202] * 5
    assert sixth["statusCode"] == 429
    headers = {k.lower(): v for k, v in sixth["headers"].items()}
    assert 3500 <= int(headers["retry-after"]) <= 3600
    assert json.loads(sixth["body"]) == {"detail": "too many messages, try again later"}
    assert other["statusCode"] == 202
    assert _count(clean_db, contact_messages) == 6
    # The refusal was rolled back: the client's count stays at the limit.
    with clean_db.connect() as conn:
        assert sorted(conn.execute(select(contact_rate_limits.c.count)).scalars()) == [1, 5]
    emitted = _emitted(capsys.readouterr().out)
    assert emitted.count(metrics.CONTACT_MESSAGE_RECEIVED) == 6
    assert emitted.count(metrics.CONTACT_RATE_LIMITED) == 1


def test_a_new_window_gives_a_full_allowance(lambda_handler: Any, clean_db: Engine) -> None:
    for _ in range(5):
        _post(lambda_handler, ONE)
    assert _post(lambda_handler, ONE)["statusCode"] == 429
    with clean_db.begin() as conn:
        conn.execute(
            text("UPDATE contact_rate_limits SET window_start = window_start - interval '1 hour'")
        )
    assert _post(lambda_handler, ONE)["statusCode"] == 202
    with clean_db.connect() as conn:
        assert conn.execute(select(contact_rate_limits.c.count)).scalar_one() == 1


@pytest.mark.parametrize(
    ("build", "spoof"),
    [
        # API Gateway passes X-Forwarded-For through from the client: it must not count.
        (http_v2, lambda i: {"x-forwarded-for": f"10.0.0.{i}"}),
        (rest_v1, lambda i: {"x-forwarded-for": f"10.0.0.{i}"}),
        # ALB appends the address it saw last; what comes before is the client's.
        (alb, lambda i: {"x-forwarded-for": f"10.0.0.{i}, {ONE}"}),
    ],
)
def test_the_client_is_the_address_aws_saw_not_a_header(
    lambda_handler: Any, clean_db: Engine, build: Any, spoof: Callable[[int], dict[str, str]]
) -> None:
    statuses = [
        _post(lambda_handler, ONE, build=build, headers=spoof(i))["statusCode"] for i in range(6)
    ]
    assert statuses == [202] * 5 + [429]


def test_addresses_are_stored_only_as_a_keyed_hash(lambda_handler: Any, clean_db: Engine) -> None:
    _post(lambda_handler, ONE)
    with clean_db.connect() as conn:
        dump = "\n".join(
            str(tuple(row))
            for table in ("contact_rate_limits", "contact_messages", "idempotency_keys")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
        )
        stored = conn.execute(select(contact_rate_limits.c.client)).scalar_one()
    assert ONE not in dump
    settings = Settings(admin_token_sha256=ADMIN_TOKEN_SHA256)
    key = ratelimit.client_key(settings)
    assert stored == ratelimit.client_id(key, ONE)
    assert stored != ratelimit.client_id(b"another key", ONE)
    # An explicit key wins over the one derived from the admin digest.
    explicit = Settings(admin_token_sha256=ADMIN_TOKEN_SHA256, contact_client_key="k" * 32)
    assert ratelimit.client_key(explicit) == b"k" * 32 != key


def test_expired_bookkeeping_is_deleted_as_messages_arrive(
    lambda_handler: Any, clean_db: Engine
) -> None:
    stale = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    with clean_db.begin() as conn:
        conn.execute(
            contact_rate_limits.insert(),
            [{"client": f"{i:064x}", "window_start": stale, "count": 3} for i in range(250)],
        )
    sizes = []
    for index in range(3):
        assert _post(lambda_handler, f"192.0.2.{index}")["statusCode"] == 202
        sizes.append(_count(clean_db, contact_rate_limits))
    # Each accepted message adds at most one row and deletes up to CLEANUP_BATCH stale ones.
    assert sizes == [250 - 100 + 1, 250 - 200 + 2, 3]


def test_two_concurrent_messages_at_the_limit_admit_exactly_one(
    make_client: Any, clean_db: Engine, lambda_handler: Any
) -> None:
    """Two environments post at once while the client has one message left: one 202, one 429.

    The client's row is held locked first, so both requests are inside their transactions and
    waiting at the same statement; then it is released. Counting by read-then-write would
    let both through.
    """
    for _ in range(4):
        assert _post(lambda_handler, ONE)["statusCode"] == 202
    environments = [make_client().adapter, make_client().adapter]
    key = ratelimit.client_key(Settings(admin_token_sha256=ADMIN_TOKEN_SHA256))
    results: list[int] = []

    def post(adapter: Any) -> None:
        _in_own_loop(lambda: results.append(_post(adapter.handle, ONE)["statusCode"]))

    with clean_db.connect() as blocker:
        blocker.execute(
            select(contact_rate_limits)
            .where(contact_rate_limits.c.client == ratelimit.client_id(key, ONE))
            .with_for_update()
        )
        threads = [threading.Thread(target=post, args=(env,)) for env in environments]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while _lock_waiters(clean_db) < 2:
            assert time.monotonic() < deadline, "the requests never reached the row lock"
            time.sleep(0.05)
        blocker.rollback()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(results) == [202, 429]
    assert _count(clean_db, contact_messages) == 5


def _in_own_loop(call: Callable[[], None]) -> None:
    """Run `call` in this thread with an event loop of its own (Mangum asks for one)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        call()
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _lock_waiters(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalar_one()
        )


def test_two_concurrent_first_messages_from_a_new_client_admit_one(
    make_client: Any, clean_db: Engine
) -> None:
    """The other path of the upsert: no row yet, both insert, the unique key serialises them.

    A held, uncommitted insert of the client's row makes both requests wait on the key;
    rolling it back lets them race for the first insert. With one message allowed, one wins.
    """
    environments = [make_client(contact_rate_limit=1).adapter for _ in range(2)]
    key = ratelimit.client_key(Settings(admin_token_sha256=ADMIN_TOKEN_SHA256))
    results: list[int] = []

    def post(adapter: Any) -> None:
        _in_own_loop(lambda: results.append(_post(adapter.handle, ONE)["statusCode"]))

    with clean_db.connect() as blocker:
        blocker.execute(
            contact_rate_limits.insert().values(
                client=ratelimit.client_id(key, ONE), window_start=dt.datetime.now(dt.UTC), count=0
            )
        )
        threads = [threading.Thread(target=post, args=(env,)) for env in environments]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while _lock_waiters(clean_db) < 2:
            assert time.monotonic() < deadline, "the requests never reached the key"
            time.sleep(0.05)
        blocker.rollback()
    for thread in threads:
        thread.join(timeout=20)
    assert sorted(results) == [202, 429]
    assert _count(clean_db, contact_messages) == 1


def test_a_message_whose_commit_fails_is_neither_stored_nor_counted(
    lambda_handler: Any, clean_db: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """A deferred constraint trigger fails the commit itself: the 503 leaves no message, no
    use of the client's allowance, and no "message received" metric (it is emitted only after
    the commit)."""
    with clean_db.begin() as conn:
        conn.execute(
            text(
                "CREATE FUNCTION fail_at_commit() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'commit refused' USING ERRCODE = '40001'; END $$;"
                " CREATE CONSTRAINT TRIGGER fail_at_commit AFTER INSERT ON contact_messages"
                " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_at_commit()"
            )
        )
    try:
        response = _post(lambda_handler, ONE)
    finally:
        with clean_db.begin() as conn:
            conn.execute(
                text(
                    "DROP TRIGGER fail_at_commit ON contact_messages;"
                    " DROP FUNCTION fail_at_commit()"
                )
            )
    assert response["statusCode"] == 503
    assert _count(clean_db, contact_messages) == 0
    assert _count(clean_db, contact_rate_limits) == 0
    assert _emitted(capsys.readouterr().out) == [metrics.DATABASE_UNAVAILABLE]


def test_an_ipv6_host_is_one_client_per_slash_64(lambda_handler: Any, clean_db: Engine) -> None:
    """A host is usually given a whole /64: its addresses share one allowance."""
    statuses = [_post(lambda_handler, f"2001:db8:1:2::{i:x}")["statusCode"] for i in range(1, 7)]
    assert statuses == [202] * 5 + [429]
    assert _post(lambda_handler, "2001:db8:1:3::1")["statusCode"] == 202  # another /64
    # The same IPv4 client, however it is written, is one client.
    statuses = [_post(lambda_handler, a)["statusCode"] for a in ("::ffff:192.0.2.9",) * 3]
    statuses += [_post(lambda_handler, "192.0.2.9")["statusCode"] for _ in range(3)]
    assert statuses == [202] * 5 + [429]
