"""Schema migrations: Alembic `upgrade head` under a PostgreSQL advisory lock.

Two concurrent runs (two deploys, or a deploy and a developer) serialise on the lock: one
applies, the other waits, then finds nothing to do. Alembic is imported here only, never on
the request path, because it costs ~100 ms at import.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from app.data import db_limits, db_tls

logger = logging.getLogger("app.migrate")

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
# Any constant works; this one spells "portfoli" in ASCII, unlikely to collide with others.
ADVISORY_LOCK_KEY = 0x706F7274666F6C69


# Backoff between connection attempts: 0.5 s, doubling, at most 8 s.
FIRST_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
# libpq's shortest connect timeout: an attempt with less time left than this is not started.
_SHORTEST_ATTEMPT = 2.0
# Refusals that waiting does not cure: retrying them would only delay the deploy's failure.
_PERMANENT = ("password authentication failed", "no pg_hba.conf entry", "does not exist")


def connect_patiently(engine: Engine, deadline: float | None) -> Connection:
    """Connect, retrying with backoff until `deadline` (a `time.monotonic()` value).

    A paused Aurora Serverless v2 instance resumes when a connection arrives, and resuming
    can outlast one connect timeout (up to ~30 s after a long pause:
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2-auto-pause.html).
    A deploy's migration must wait for it; an API request must not, so only migrations
    retry. Without a deadline (outside Lambda) there is one attempt. Each attempt's connect
    timeout is bounded by the deadline too; the statements after it are not (their limit is
    DB_STATEMENT_TIMEOUT_MS; CloudFormation is answered in time by custom_resource.serve).
    """
    delay = FIRST_RETRY_DELAY
    attempt = 1
    while True:
        try:
            with db_limits.deadline(deadline):
                return engine.connect()
        except sa_exc.OperationalError as error:
            message = str(error.orig)
            left = None if deadline is None else deadline - time.monotonic()
            if (
                left is None
                or left < delay + _SHORTEST_ATTEMPT
                or db_tls.refusal_reason(message) is not None
                or any(phrase in message for phrase in _PERMANENT)
            ):
                raise
            logger.warning(
                "database not reachable (attempt %d, %s); retrying in %.1f s, %.0f s left",
                attempt,
                type(error.orig).__name__,
                delay,
                left,
            )
        time.sleep(delay)
        delay = min(delay * 2, MAX_RETRY_DELAY)
        attempt += 1


def _config(connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _revisions_between(config: Any, start: str | None, end: str | None) -> list[str]:
    from alembic.script import ScriptDirectory

    if start == end or end is None:
        return []
    script = ScriptDirectory.from_config(config)
    applied = [rev.revision for rev in script.iterate_revisions(end, start or "base")]
    return list(reversed(applied))


class MigrationAbandonedError(RuntimeError):
    """The run was told not to commit (its caller already reported it failed): rolled back."""


def migrate(
    engine: Engine,
    target: str = "head",
    *,
    connect_deadline: float | None = None,
    deadline: float | None = None,
    may_commit: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Upgrade (or downgrade, for a target below the current) and report what was applied.

    `connect_deadline` (a `time.monotonic()` value) is how long connecting may be retried;
    `deadline` bounds all of the run's statements (waiting for the advisory lock included):
    each one's statement_timeout is lowered to what is left, and the client-side waits end
    there too (app/data/db_wait.py). `may_commit`, asked right before COMMIT, can refuse it:
    the run then rolls back and raises MigrationAbandonedError. The COMMIT itself runs under the
    caller's own deadline (db_limits.deadline), if any.

    All of it is one transaction (PostgreSQL's DDL is transactional): a failure leaves the
    schema as it was, and the advisory lock is a transaction lock. A session lock would
    outlive a commit on a server connection that PgBouncer or RDS Proxy then hands to
    another client, and the unlock could run on a different one: the lock would leak.
    """
    from alembic import command

    with connect_patiently(engine, connect_deadline) as connection:
        transaction = connection.begin()
        try:
            with db_limits.deadline(deadline) if deadline is not None else contextlib.nullcontext():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                    )
                config = _config(connection)
                before = _current(connection)
                if before is not None and not _known(config, before):
                    # A rolled-back deploy runs an older image against a newer schema:
                    # applying nothing is right; failing would wedge the stack in
                    # UPDATE_ROLLBACK_FAILED.
                    logger.warning("database is at %s, newer than these migrations", before)
                    transaction.rollback()
                    return {"previous": before, "current": before, "applied": []}
                if target == "head" or _is_upgrade(config, before, target):
                    command.upgrade(config, target)
                else:
                    command.downgrade(config, target)
                after = _current(connection)
            if may_commit is not None and not may_commit():
                raise MigrationAbandonedError("not committed: the run was already reported failed")
            transaction.commit()
        except BaseException:
            if transaction.is_active:
                transaction.rollback()
            raise
    applied = _revisions_between(config, before, after)
    logger.info("migrations: %s -> %s, applied %s", before, after, applied or "nothing")
    return {"previous": before, "current": after, "applied": applied}


def head_revision() -> str | None:
    """The newest revision of these migrations (what `migrate` upgrades to)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    head: str | None = ScriptDirectory.from_config(config).get_current_head()
    return head


def _known(config: Any, revision: str) -> bool:
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(config).get_revision(revision) is not None
    except CommandError:
        return False


def _is_upgrade(config: Any, current: str | None, target: str) -> bool:
    from alembic.script import ScriptDirectory

    if target == "base":
        return False
    script = ScriptDirectory.from_config(config)
    ancestors = {rev.revision for rev in script.iterate_revisions(target, "base")}
    return current is None or current in ancestors
