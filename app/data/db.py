"""The engine, fit for Lambda and for a multi-request server.

One request at a time runs in a Lambda execution environment, so there the pool holds one
connection (DB_POOL_SIZE, default 5, under a multi-request server such as uvicorn), checks it
before use (a connection killed while the environment was frozen is replaced, not failed
on), and recycles it before typical idle timeouts cut it. Behind an external pooler (RDS
Proxy, PgBouncer) we keep nothing idle and let the pooler pool.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.pool import NullPool

from app.data import db_limits, db_tls, db_wait, pg_dialect, reads
from app.settings import Settings

# Set on a pooled connection's record when it is opened, cleared at its first checkout.
_FRESH = "portfolio.fresh"

# SQLAlchemy's `do_connect` hook: (dialect, connection record, cargs, cparams) -> DBAPI
# connection, or None to let the dialect connect with the (possibly updated) cparams.
ConnectHook = Callable[[Any, Any, Any, dict[str, Any]], Any]


@dataclass(frozen=True)
class Login:
    """How to log in when DATABASE_URL does not say: a URL without credentials, and the hook
    that supplies them at each new connection (app/aws/db_login.py: IAM token, secret)."""

    url: str | URL
    do_connect: ConnectHook


def build_engine(settings: Settings, login: Login | None = None) -> Engine:
    """Create (without connecting) the engine for `settings`, logging in with `login`."""
    if login is not None:
        engine = _postgres_engine(settings, login.url)
        event.listen(engine, "do_connect", login.do_connect)
        return engine
    url = settings.database_url
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_foreign_keys)
        return engine

    return _postgres_engine(settings, url)


def _postgres_engine(settings: Settings, url: str | URL) -> Engine:
    options: dict[str, Any] = {}
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
        # No GSSAPI-encrypted session: libpq's default (prefer, in psycopg2-binary's build)
        # looks up Kerberos credentials before every connect, which loads the Kerberos
        # libraries and configuration: 0.85 MB of memory per process for a negotiation that
        # Aurora never completes (TLS protects the link here). Kerberos *authentication*
        # (Aurora's rds_ad role) is separate and still works; a URL's ?gssencmode= wins.
        # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/database-authentication.html
        # https://www.postgresql.org/docs/16/libpq-connect.html#LIBPQ-CONNECT-GSSENCMODE
        "gssencmode": "disable",
    }
    connect_args.update(db_tls.connect_args(settings))
    # What the DATABASE_URL says explicitly reaches libpq: the defaults above fill in only what
    # it leaves out (SQLAlchemy's connect_args would replace the URL's own query parameters).
    # TLS is merged already (db_tls: the URL's sslmode/sslrootcert are the settings in effect).
    given = make_url(url).query if isinstance(url, str) else {}
    connect_args = {
        k: v for k, v in connect_args.items() if k not in given or k in ("sslmode", "sslrootcert")
    }
    pg_dialect.load()  # without the PostgreSQL drivers this engine does not use
    # hide_parameters: a failed statement's error (and so its log line) never quotes the
    # values it was given, which are user data.
    engine = create_engine(
        url,
        connect_args=connect_args,
        hide_parameters=True,
        # No table has an HSTORE column: the first connection skips psycopg2's probe for the
        # extension, a transaction of 3 round trips (BEGIN, a pg_type query, ROLLBACK) before
        # the first query of every cold start. HSTORE columns would still work, without
        # psycopg2's dict adaptation ("Bind Parameter Styles" and "HSTORE type" in
        # https://docs.sqlalchemy.org/en/20/dialects/postgresql.html#module-sqlalchemy.dialects.postgresql.psycopg2).
        use_native_hstore=False,
        **options,
    )
    # First: its bound on the connect timeout must reach the credential hooks added after it.
    db_limits.install(engine, settings.db_statement_timeout_ms)
    # Client-side bounds on every wait: a server that stops answering cannot hold a request
    # past its deadline (server-side timeouts need a server that runs).
    db_wait.install()
    db_tls.explain_refusals(engine, db_tls.sslmode(settings))
    if not settings.db_external_pooler:
        _ping_on_checkout(engine)
    return engine


def _ping_on_checkout(engine: Engine) -> None:
    """SQLAlchemy's pre-ping, except for readers (app/data/reads.py), which retry instead.

    A pooled connection may have been closed while the environment was frozen (the server's
    idle_session_timeout, a restart): a transaction that writes must not find out halfway.
    A connection just opened is not pinged (as pool_pre_ping does).
    """

    def connect(_dbapi_connection: Any, record: Any) -> None:
        record.info[_FRESH] = True

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.pop(_FRESH, False) or not reads.ping_wanted():
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_connection, None):
                # As pool_pre_ping does: every pooled connection is suspect, get a new one.
                raise sa_exc.InvalidatePoolError() from error
            raise

    event.listen(engine, "connect", connect)
    event.listen(engine, "checkout", checkout)


def _sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
