"""Done means for issue 15: every process of a real PostgreSQL server stopped (SIGSTOP, as
while Aurora resumes) for at least 15 s; a freshly imported `handler` answers GET /projects,
GET /projects/{slug} and POST /contact while the server is still stopped; once it is
continued, the message is in the inbox exactly once and the owner was notified once.

The server is a cluster of the suite's own (tests/postgres.py), so stopping it holds up no
other test; the store is the suite's real local S3 server.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from app.data.migrate import migrate
from app.hosts.lambda_host import LambdaAdapter
from app.settings import Settings
from tests.client import LambdaClient
from tests.conftest import ADMIN_TOKEN_SHA256, ROOT
from tests.postgres import Cluster, throwaway_cluster

pytestmark = pytest.mark.slow  # the server stays stopped for 15 s

STOPPED_FOR = 15.0
PROJECT = {"slug": "kept", "title": "Kept", "summary": "s", "body": "b", "published": True}
MESSAGE = {"name": "Ada", "email": "ada@example.com", "message": "Sent during the pause."}

# A cold start: a new interpreter imports `handler` (settings, app, lifespan) and serves
# three events, one after the other, then prints what it answered.
VISITOR = """
import json, sys
from scripts.generate_events import http_v2
from tests.conftest import lambda_context
import handler

requests = [
    {"method": "GET", "path": "/projects"},
    {"method": "GET", "path": "/projects/kept"},
    {"method": "POST", "path": "/contact", "body": json.loads(sys.argv[1])},
]
answers = []
for i, request in enumerate(requests):
    answer = handler.handler(http_v2(request), lambda_context(f"visit-{i}"))
    answers.append(
        {"status": answer["statusCode"], "headers": answer["headers"], "body": answer["body"]}
    )
print(json.dumps(answers))
"""


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with throwaway_cluster() as started:
        yield started


def test_a_visitor_never_waits_for_a_paused_database(
    cluster: Cluster, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_engine(cluster.url)
    migrate(engine)
    bucket = s3.bucket()
    settings = {
        "database_url": cluster.url,
        "admin_token_sha256": ADMIN_TOKEN_SHA256,
        "db_connect_timeout": 2,
        **bucket.settings,
    }
    owner_adapter = LambdaAdapter(Settings(**settings))
    owner = LambdaClient(owner_adapter.handle)
    created = owner.post("/projects", PROJECT, admin=True)
    assert (created.status, created.headers["x-snapshot"]) == (201, "current")
    owner_adapter.shutdown()  # no connection of ours is open while the server is stopped
    engine.dispose()

    with cluster.paused() as pids:
        stopped_at = time.monotonic()
        assert len(pids) >= 3  # postmaster, checkpointer, background writer, ...
        env = {
            **os.environ,
            **{name.upper(): str(value) for name, value in settings.items()},
        }
        visitor = subprocess.run(
            [sys.executable, "-c", VISITOR, json.dumps(MESSAGE)],
            check=False,  # its exit status is asserted below, after the server is checked
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=STOPPED_FOR,  # past it the test fails: not answered during the pause
        )
        answered_at = time.monotonic()
        # Every process is still stopped: the answers came without the database.
        # A backend that was already exiting when it was stopped (the owner's closed
        # connection) ends as a zombie its stopped postmaster cannot reap: "Z" serves nothing.
        for pid in pids:
            if Path(f"/proc/{pid}").exists():
                state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
                assert state in ("T", "Z"), (pid, state)
        assert visitor.returncode == 0, visitor.stderr
        listed, project, sent = json.loads(visitor.stdout.strip().splitlines()[-1])
        time.sleep(max(0.0, stopped_at + STOPPED_FOR - time.monotonic()))
    assert answered_at - stopped_at < STOPPED_FOR
    assert listed["status"] == 200, listed
    assert listed["headers"]["x-content-source"] == "snapshot"
    assert [p["slug"] for p in json.loads(listed["body"])["items"]] == ["kept"]
    assert project["status"] == 200
    assert json.loads(project["body"])["body"] == "b"
    assert sent["status"] == 202, sent
    message_id = json.loads(sent["body"])["id"]

    # The database is back: the owner's inbox has the message once, and the owner was told once.
    capsys.readouterr()
    owner_adapter = LambdaAdapter(Settings(**settings))
    owner = LambdaClient(owner_adapter.handle)
    try:
        for _ in range(2):
            inbox = owner.get("/contact", admin=True)
            assert inbox.status == 200
            assert [m["id"] for m in inbox.json()["items"]] == [message_id]
    finally:
        owner_adapter.shutdown()
    assert capsys.readouterr().out.count('"ContactMessageReceived":1') == 1
    engine = create_engine(cluster.url)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT id, message FROM contact_messages")).all()
    engine.dispose()
    assert [tuple(row) for row in stored] == [(message_id, MESSAGE["message"])]
