"""The background warm-up (app/data/warmup.py): it opens the pool's connection and prepares
the hot reads, and whoever starts it never waits for the database."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import CacheStats

from app.data import crud, publication, reads, warmup
from app.data.db import build_engine
from app.settings import Settings
from tests.conftest import ROOT
from tests.delay_proxy import DelayProxy, delay_proxy

ROLE_TIMEOUT_MS = 5000  # migration 0004


@pytest.fixture
def proxy(database_url: str) -> Iterator[DelayProxy]:
    port = make_url(database_url).port
    assert port is not None
    with delay_proxy(port, 0.0) as running:
        yield running


def _engine(url: str) -> Engine:
    return build_engine(
        Settings(database_url=url, db_pool_size=1, db_statement_timeout_ms=ROLE_TIMEOUT_MS)
    )


def test_after_the_warm_up_the_first_read_is_one_round_trip_on_its_connection(
    seeded_db: Engine, database_url: str, proxy: DelayProxy
) -> None:
    url = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    engine = _engine(url.render_as_string(hide_password=False))
    try:
        warmup.start(engine).join(timeout=30)
        before = proxy.counts()
        with reads.reader(engine) as read:
            items, total = read(crud.list_projects, limit=warmup.FIRST_PAGE, offset=0)
        after = proxy.counts()
    finally:
        engine.dispose()
    assert (total, [i["slug"] for i in items]) == (1, ["hello-world"])
    assert (after.connections - before.connections, after.round_trips - before.round_trips) == (
        0,
        1,
    )


@pytest.mark.parametrize("carry", [False, True])
def test_the_first_reads_find_their_statements_compiled(
    seeded_db: Engine, database_url: str, carry: bool
) -> None:
    # With the fallback on, the public reads carry the publication state
    # (app/data/publication.py): a different statement, which the warm-up must compile.
    engine = _engine(database_url)
    hits: list[bool] = []

    def record(
        _conn: Any, _cursor: Any, _stmt: Any, _params: Any, context: Any, _many: Any
    ) -> None:
        hits.append(context.cache_hit is CacheStats.CACHE_HIT)

    try:
        warmup.warm(engine, carry=carry)
        event.listen(engine, "after_cursor_execute", record)
        carrier = publication.Carrier() if carry else None
        with reads.reader(engine) as read:
            read(crud.list_projects, limit=warmup.FIRST_PAGE, offset=0, carry=carrier)
            read(crud.get_project, slug="hello-world", published_only=True, carry=carrier)
    finally:
        engine.dispose()
    assert hits == [True, True]


def test_starting_it_does_not_wait_for_a_database_that_does_not_answer() -> None:
    # A server that accepts connections and never says a word (as a paused Aurora does).
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        engine = _engine(f"postgresql+psycopg2://u@127.0.0.1:{port}/db")
        try:
            thread = warmup.start(engine)
            assert thread.is_alive()  # returned while the thread still waits
            thread.join(timeout=30)  # connect_timeout ends it; it only logs
            assert not thread.is_alive()
        finally:
            engine.dispose()


@pytest.mark.parametrize("bucket", [None, "a-bucket"])
def test_inside_a_lambda_runtime_it_starts_before_fastapi_is_imported(
    database_url: str, bucket: str | None
) -> None:
    # What the warm-up thread starts beside: the modules loaded so far and the signal mask it
    # inherits (SIGTERM must be blocked in every thread, see exit_on_sigterm).
    code = (
        "import json, signal, sys, threading\n"
        "seen = {}\n"
        "start = threading.Thread.start\n"
        "def spy(self):\n"
        "    if self.name == 'db-warmup':\n"
        "        seen['fastapi'] = 'fastapi' in sys.modules\n"
        "        seen['carry'] = self._kwargs['carry']\n"
        "        seen['sigterm_blocked'] = signal.SIGTERM in signal.pthread_sigmask(\n"
        "            signal.SIG_BLOCK, [])\n"
        "    start(self)\n"
        "threading.Thread.start = spy\n"
        "import handler\n"
        "print(json.dumps(seen))\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": database_url,
        # Nothing listens there: the extension's registration fails at once and is logged.
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:1",
        # With the fallback on, the statements to compile are the carrying ones.
        **(
            {
                "FALLBACK_BUCKET": bucket,
                "AWS_REGION": "eu-west-1",
                # Never used: nothing is stored or fetched while the handler is imported.
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
            }
            if bucket
            else {}
        ),
    }
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    assert json.loads(out.splitlines()[-1]) == {
        "fastapi": False,
        "sigterm_blocked": True,
        "carry": bucket is not None,
    }
