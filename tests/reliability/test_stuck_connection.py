"""A pooled connection whose server stops answering (a paused instance, a frozen or dead
peer): the request must still end by its deadline with the app's JSON 503.

The server-side limits (statement_timeout) cannot end these waits, since nothing on the
server runs; only the client-side bound can (app/data/db_wait.py). Each test stops a real
backend with SIGSTOP and proves by order, not by timing, that the answer came while it was
stopped: the stop's failsafe continues it after 15 s, and an unbounded wait would answer
only then.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.client import LambdaClient
from tests.conftest import lambda_context
from tests.reliability.conftest import FaultDB

UNAVAILABLE = (503, {"detail": "database unavailable, try again shortly"})


def _pooled_client(make_client: Any, faults: FaultDB) -> tuple[LambdaClient, int]:
    """A client whose pool holds one connection to the fault cluster; its backend's pid."""
    client: LambdaClient = make_client(database_url=faults.url, db_connect_timeout=2)
    assert client.get("/projects").status == 200
    [(pid, _state, _wait)] = faults.app_backends()
    return client, pid


def _get(client: LambdaClient, path: str, remaining_ms: int) -> tuple[int, Any]:
    from scripts.generate_events import http_v2

    response = client.handler(
        http_v2({"method": "GET", "path": path}), lambda_context(remaining_ms=remaining_ms)
    )
    return response["statusCode"], client_json(response)


def client_json(response: dict[str, Any]) -> Any:
    import json

    return json.loads(response["body"])


@pytest.mark.parametrize("path", ["/projects", "/health/ready"])
def test_a_stuck_pooled_connection_answers_503_within_the_deadline(
    make_client: Any, faults: FaultDB, path: str
) -> None:
    client, pid = _pooled_client(make_client, faults)
    # 4 s left: a 3 s deadline. The pooled connection's first statement gets no answer.
    with faults.stopped(pid) as log:
        answer = _get(client, path, 4_000)
        log.append("answered")
    assert log == ["answered", "continued"]
    assert answer == UNAVAILABLE
    # The stuck connection was dropped: the next invocation connects afresh and is served.
    assert _get(client, path, 30_000)[0] == 200


def test_a_stopped_server_ends_a_connect_by_the_deadline_not_the_connect_timeout(
    make_client: Any, faults: FaultDB
) -> None:
    # Nothing pooled, the whole server stopped, DB_CONNECT_TIMEOUT of 30 s: the deadline
    # (3 s away) must end the connect, which the server never answers.
    client: LambdaClient = make_client(database_url=faults.url, db_connect_timeout=30)
    with faults.stopped(faults.postmaster_pid()) as log:
        answer = _get(client, "/projects", 4_000)
        log.append("answered")
    assert log == ["answered", "continued"]
    assert answer == UNAVAILABLE


def test_connections_give_up_on_a_peer_that_stops_acknowledging(
    make_client: Any, faults: FaultDB
) -> None:
    # A dead host never ACKs: without tcp_user_timeout the kernel retransmits for ~15 min.
    client: LambdaClient = make_client(database_url=faults.url, db_connect_timeout=3)
    engine = client.adapter.state["engine"]  # type: ignore[attr-defined]
    with engine.connect() as conn:
        parameters = conn.connection.dbapi_connection.get_dsn_parameters()
    assert parameters["tcp_user_timeout"] == "3000"
