"""Public reads: the database within the budget, else the snapshot, answered alike.

The same query runs against whichever source answers (filters, order and pagination are the
snapshot's own implementation of crud's), and headers say which one it was. A database read
also checks that the snapshot is not behind (revision > snapshot_revision: a crash between an
admin commit and its snapshot write) and repairs it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from fastapi import HTTPException, Request, Response
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from app import host_scope
from app.data import db_limits, publication
from app.data import reads as data_reads
from app.errors import is_outage
from app.fallback import outbox, snapshot
from app.fallback.budget import OverBudgetError, attempt
from app.fallback.service import AGE_HEADER, REVISION_HEADER, SOURCE_HEADER, Fallback
from app.fallback.store import StoreError

T = TypeVar("T")
logger = logging.getLogger("app.fallback")


def serve(
    request: Request,
    response: Response,
    *,
    from_db: Callable[[data_reads.Reader, publication.Carrier | None], T],
    from_snapshot: Callable[[snapshot.Snapshot], T],
) -> T:
    """`from_db` (given the request's reader, app/data/reads.py, and the carrier its statement
    takes the publication state in, None without a fallback) on the database within the
    budget, else `from_snapshot` on the snapshot."""
    engine: Engine = request.state.engine
    fallback = Fallback.for_app(request.app)
    deadline = host_scope.deadline_of(request.scope)

    def work(_abandoned: threading.Event) -> tuple[T, bool]:
        with db_limits.deadline(deadline), data_reads.reader(engine) as read:
            carry = publication.Carrier() if fallback is not None else None
            result = from_db(read, carry)
            # Carried in the read's own statement (one round trip), read alone only for a 404.
            revision, held = read(carry.state) if carry is not None else (0, 0)
        if fallback is not None:
            outbox.drain_if_pending(engine, fallback, request.app)
        return result, revision > held

    if fallback is None:
        return work(threading.Event())[0]
    try:
        result, behind = attempt(work, fallback.budget_seconds, fallback.breaker)
    except OverBudgetError:
        return _from_snapshot(fallback, response, from_snapshot)
    except sa_exc.SQLAlchemyError as error:
        if not is_outage(error):
            raise
        return _from_snapshot(fallback, response, from_snapshot)
    if behind:
        # Rare (only after a crash or a store outage during an admin write): the reader pays.
        fallback.publish_after_write(engine)
    response.headers[SOURCE_HEADER] = "database"
    return result


def _from_snapshot(
    fallback: Fallback, response: Response, query: Callable[[snapshot.Snapshot], T]
) -> T:
    try:
        current = fallback.reader.load()
    except StoreError as error:
        logger.warning("no database and no snapshot: %s", error)
        raise HTTPException(
            503, "database unavailable, try again shortly", headers={"Retry-After": "1"}
        ) from None
    response.headers[SOURCE_HEADER] = "snapshot"
    response.headers[REVISION_HEADER] = str(current.revision)
    response.headers[AGE_HEADER] = str(current.age_seconds())
    return query(current)
