"""Request dependencies shared by the routers: the per-request connection, and the reader."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Connection, Engine

from app import host_scope
from app.data import db_limits, reads


@contextlib.contextmanager
def transaction(request: Request) -> Iterator[Connection]:
    """The request's transaction, for a route that opens it itself (it chooses its source:
    the public reads in app/fallback/reads.py) or must commit before its answer."""
    engine: Engine = request.state.engine
    with db_limits.deadline(host_scope.deadline_of(request.scope)), engine.begin() as connection:
        yield connection


async def get_connection(request: Request) -> AsyncIterator[Connection]:
    """One transaction per request: committed when the route returns, rolled back on error.

    Deliberately `async` over a blocking driver, like the routes and every dependency that
    use it. A Lambda environment serves one event at a time, so there is nothing to run
    concurrently, and keeping FastAPI's threadpool out saves ~10 ms on the first request
    (anyio's thread machinery is imported and started on first use). The price: a
    non-Lambda server (`make run`) runs one request's database work at a time, on the event
    loop. That is only safe while nothing between checkout and commit yields the loop: a
    sync dependency (run in the threadpool) or any other await would let the next request
    block the loop waiting for the connection this one holds, a deadlock until the pool
    timeout. tests/test_dependencies.py keeps every dependency async.
    """
    # The host's deadline (under Lambda, the invocation's remaining time) bounds all of the
    # request's database work.
    with transaction(request) as connection:
        yield connection


# scope="function": commit (or roll back) before the response is sent, so a failed commit
# becomes an error response instead of a success the database never saw.
DbConnection = Annotated[Connection, Depends(get_connection, scope="function")]


@contextlib.contextmanager
def reading(request: Request) -> Iterator[reads.Reader]:
    """The request's reader (app/data/reads.py: one round trip per query), for a block.

    Opened in the route's body rather than by a dependency: FastAPI wraps a yield dependency
    in an anyio cancel scope, whose first use imports anyio's asyncio backend (16 modules,
    ~10 ms), and the public reads are what a cold start answers first. They need no
    connection of their own either: app/fallback/reads.py opens one within its budget.
    """
    engine: Engine = request.state.engine
    with db_limits.deadline(host_scope.deadline_of(request.scope)), reads.reader(engine) as reader:
        yield reader
