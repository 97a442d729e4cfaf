"""A PostgreSQL cluster of the reliability tests' own, so that stopping, pausing and killing
its backends never disturbs the database the rest of the suite shares."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.postgres import Cluster, throwaway_cluster

APPLICATION_NAME = "portfolio-backend"


@dataclass
class FaultDB:
    """The cluster, the URL of its migrated `faults` database, and a superuser engine."""

    cluster: Cluster
    url: str
    admin: Engine

    def app_backends(self) -> list[tuple[int, str, str | None]]:
        """(pid, state, wait_event_type) of the app's connections to this database."""
        with self.admin.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT pid, state, wait_event_type FROM pg_stat_activity "
                    "WHERE application_name = :app AND datname = 'faults'"
                ),
                {"app": APPLICATION_NAME},
            )
            return [(r.pid, r.state, r.wait_event_type) for r in rows]

    def terminate_app_backends(self) -> int:
        """pg_terminate_backend every connection the app holds; how many were killed."""
        with self.admin.connect() as conn:
            return len(
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :app AND datname = 'faults'"
                    ),
                    {"app": APPLICATION_NAME},
                ).all()
            )

    def scalar(self, sql: str) -> object:
        with self.admin.connect() as conn:
            return conn.execute(text(sql)).scalar()

    def truncate(self) -> None:
        with self.admin.begin() as conn:
            conn.execute(
                text(
                    "TRUNCATE projects, project_tags, contact_messages, idempotency_keys "
                    "RESTART IDENTITY CASCADE"
                )
            )

    def ensure_running(self) -> None:
        if not (self.cluster.data / "postmaster.pid").exists():
            self.cluster.start()
        self.admin.dispose()

    def postmaster_pid(self) -> int:
        return int((self.cluster.data / "postmaster.pid").read_text().split()[0])

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """SIGSTOP the postmaster: the port accepts TCP but nothing answers (a hung server)."""
        pid = self.postmaster_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    def stopped(
        self, pid: int, failsafe: float = 15.0
    ) -> contextlib.AbstractContextManager[list[str]]:
        """SIGSTOP process `pid` (a backend, or the postmaster); see `stopped`."""
        return stopped(pid, failsafe)

    @contextlib.contextmanager
    def table_locked(self, table: str, mode: str = "SHARE") -> Iterator[None]:
        """Hold a lock on `table` from another connection (SHARE blocks writes, not reads)."""
        with self.admin.connect() as conn:
            conn.execute(text("BEGIN"))
            conn.execute(text(f"LOCK TABLE {table} IN {mode} MODE"))
            try:
                yield
            finally:
                conn.execute(text("ROLLBACK"))


@contextlib.contextmanager
def stopped(pid: int, failsafe: float = 15.0) -> Iterator[list[str]]:
    """SIGSTOP `pid`, yield a log, SIGCONT at the block's end or after `failsafe` seconds.

    The failsafe continues the process (and logs "continued") so that code which waits
    without a bound still ends; a test appends its own entries (say "answered") to the log
    and proves by their order, not by timing, that an answer came while the process stood.
    """
    log: list[str] = []
    lock = threading.Lock()

    def resume() -> None:
        with lock:
            if "continued" not in log:
                log.append("continued")
                os.kill(pid, signal.SIGCONT)

    os.kill(pid, signal.SIGSTOP)
    timer = threading.Timer(failsafe, resume)
    timer.daemon = True
    timer.start()
    try:
        yield log
    finally:
        timer.cancel()
        resume()


@pytest.fixture(scope="module")
def fault_db() -> Iterator[FaultDB]:
    with throwaway_cluster() as cluster:
        server = create_engine(cluster.url, isolation_level="AUTOCOMMIT")
        with server.connect() as conn:
            conn.execute(text("CREATE DATABASE faults"))
        server.dispose()
        url = cluster.url.rsplit("/", 1)[0] + "/faults"
        from app.data.migrate import migrate

        engine = create_engine(url)
        migrate(engine)
        engine.dispose()
        admin = create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        yield FaultDB(cluster, url, admin)
        admin.dispose()


@pytest.fixture
def faults(fault_db: FaultDB) -> Iterator[FaultDB]:
    """The fault cluster running, with empty tables, before and after the test."""
    fault_db.ensure_running()
    fault_db.truncate()
    yield fault_db
    fault_db.ensure_running()
    fault_db.truncate()


def when(
    condition: Callable[[], bool], then: Callable[[], object], timeout: float = 10.0
) -> threading.Thread:
    """In a thread: wait until `condition()` holds, then call `then()` (once)."""

    def run() -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                then()
                return
            time.sleep(0.02)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread
