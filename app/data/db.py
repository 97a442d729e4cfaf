"""The engine, fit for Lambda, and the per-request connection dependency.

One request at a time runs in a Lambda execution environment, so there the pool holds one
connection (DB_POOL_SIZE, default 5, under a multi-request server such as uvicorn), checks it
before use (a connection killed while the environment was frozen is replaced, not failed
on), and recycles it before typical idle timeouts cut it. Behind an external pooler (RDS
Proxy, PgBouncer) we keep nothing idle and let the pooler pool.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import NullPool

from app.data import db_limits, db_tls, db_wait
from app.settings import Settings


def build_engine(settings: Settings) -> Engine:
    """Create (without connecting) the engine for `settings`."""
    if settings.db_iam_auth:
        # A token instead of a password, computed at each new connection (tokens expire).
        from app.aws.rds_auth import IamAuthToken

        engine = _postgres_engine(settings, IamAuthToken.url(settings))
        event.listen(engine, "do_connect", IamAuthToken(settings))
        return engine
    if settings.database_secret_arn:
        # Credentials come from Secrets Manager at the first connection, not at INIT: an
        # unreachable endpoint then costs a 503, not a failed execution environment.
        engine = _postgres_engine(settings, "postgresql+psycopg2://")
        event.listen(engine, "do_connect", _SecretCredentials(settings))
        return engine
    url = settings.database_url
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_foreign_keys)
        return engine

    return _postgres_engine(settings, url)


def _postgres_engine(settings: Settings, url: str | URL) -> Engine:
    options: dict[str, Any] = {"pool_pre_ping": True}
    if settings.db_external_pooler:
        options["poolclass"] = NullPool
    else:
        options.update(
            pool_size=settings.db_pool_size,
            max_overflow=0,
            pool_recycle=settings.db_pool_recycle,
            pool_timeout=settings.db_connect_timeout,
        )
    connect_args: dict[str, Any] = {
        "connect_timeout": settings.db_connect_timeout,
        "application_name": "portfolio-backend",
        # Detect a dead peer quickly instead of waiting on a half-open socket.
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
        # Data the server leaves unacknowledged this long means the peer is gone (a dead or
        # partitioned host); the kernel then fails the socket instead of retransmitting for
        # ~15 minutes. With keepalives, it also bounds an unanswered probe.
        "tcp_user_timeout": settings.db_connect_timeout * 1000,
    }
    connect_args.update(db_tls.connect_args(settings))
    # hide_parameters: a failed statement's error (and so its log line) never quotes the
    # values it was given, which are user data.
    engine = create_engine(url, connect_args=connect_args, hide_parameters=True, **options)
    # First: its bound on the connect timeout must reach the credential hooks added after it.
    db_limits.install(engine, settings.db_statement_timeout_ms)
    # Client-side bounds on every wait: a server that stops answering cannot hold a request
    # past its deadline (server-side timeouts need a server that runs).
    db_wait.install()
    db_tls.explain_refusals(engine, db_tls.sslmode(settings))
    return engine


class _SecretCredentials:
    """`do_connect` hook: fill host, user and password in from the database secret.

    The secret is fetched once and kept. A refused login (the password was rotated) drops it
    and connects once more with the secret read afresh; any other connect error (refused,
    unreachable, timed out) keeps it: the secret is not what failed.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.params: dict[str, Any] | None = None

    def _read(self, dialect: Any) -> dict[str, Any]:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import OperationalError

        from app.aws.aws_secrets import SecretsManagerError, database_url_from_secret

        try:
            url = make_url(
                database_url_from_secret(
                    self.settings, endpoint=self.settings.aws_endpoint_url_secrets_manager
                )
            )
        except SecretsManagerError as error:
            # As a database error it becomes a 503 like any other outage.
            raise OperationalError("reading the database secret", None, error) from None
        params: dict[str, Any] = dialect.create_connect_args(url)[1]
        return params

    def __call__(self, dialect: Any, _record: Any, cargs: Any, cparams: dict[str, Any]) -> Any:
        cached = self.params is not None
        if self.params is None:
            self.params = self._read(dialect)
        try:
            return dialect.connect(*cargs, **{**cparams, **self.params})
        except dialect.loaded_dbapi.OperationalError as error:
            if not _refused_login(error):
                raise
            self.params = None
            if not cached:  # the secret was fresh: reading it again would not help
                raise
        self.params = self._read(dialect)
        return dialect.connect(*cargs, **{**cparams, **self.params})


def _refused_login(error: Exception) -> bool:
    # libpq reports a failed login before a session exists, so psycopg2 gives no SQLSTATE;
    # the server's FATAL message is the only sign (28P01, in English unless lc_messages is
    # changed, which RDS and Aurora do not do by default).
    code = getattr(error, "pgcode", None)
    return code in ("28P01", "28000") or "authentication failed" in str(error)


def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


@contextlib.contextmanager
def transaction(request: Request) -> Iterator[Connection]:
    """The request's transaction, for a route that opens it itself (it chooses its source)."""
    engine: Engine = request.state.engine
    deadline = db_limits.deadline_of(request.scope.get("aws.context"))
    with db_limits.deadline(deadline), engine.begin() as connection:
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
    # Inside Lambda, the invocation's remaining time bounds all of the request's database work.
    with transaction(request) as connection:
        yield connection


# scope="function": commit (or roll back) before the response is sent, so a failed commit
# becomes an error response instead of a success the database never saw.
DbConnection = Annotated[Connection, Depends(get_connection, scope="function")]
