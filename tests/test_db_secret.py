"""Database credentials from Secrets Manager, fetched at the first connection.

No AWS account exists here: tests.test_aws_secrets.FakeSecretsManager stands in for the
service (it checks SigV4 signatures as AWS does); the database behind it is the suite's real
PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.support import free_port, http_server
from tests.test_aws_secrets import LAMBDA_CREDENTIALS, SECRET_ARN, FakeSecretsManager


@pytest.fixture
def secret_settings(database_url: str) -> Iterator[dict[str, Any]]:
    url = make_url(database_url)
    FakeSecretsManager.secrets = {
        SECRET_ARN: json.dumps(
            {
                "username": url.username,
                "password": "unused-with-trust-auth",
                "host": url.host,
                "port": url.port,
                "dbname": url.database,
                "engine": "postgres",
            }
        )
    }
    FakeSecretsManager.keys = {
        LAMBDA_CREDENTIALS.access_key_id: LAMBDA_CREDENTIALS.secret_access_key
    }
    FakeSecretsManager.seen = []
    with http_server(FakeSecretsManager) as address:
        yield {
            "database_url": "postgresql+psycopg2://must-not-be-used@127.0.0.1:1/nothing",
            "database_secret_arn": SECRET_ARN,
            "aws_access_key_id": LAMBDA_CREDENTIALS.access_key_id,
            "aws_secret_access_key": LAMBDA_CREDENTIALS.secret_access_key,
            "aws_session_token": LAMBDA_CREDENTIALS.session_token,
            "aws_endpoint_url_secrets_manager": f"http://{address}",
            # The suite's cluster speaks plaintext; the secret path's default (verify-full) is
            # tested below and against a TLS server in tests/test_db_tls.py.
            "db_sslmode": "disable",
        }


def test_credentials_come_from_the_secret_once(
    make_client: Any, clean_db: Any, secret_settings: dict[str, Any]
) -> None:
    client = make_client(**secret_settings)
    assert FakeSecretsManager.seen == []  # nothing fetched at INIT
    assert client.get("/projects").status == 200
    client.adapter.state["engine"].dispose()  # a new connection, e.g. after a recycle
    assert client.get("/health/ready").status == 200
    assert len(FakeSecretsManager.seen) == 1


def test_unreachable_secrets_manager_is_a_503_not_a_crash(
    make_client: Any, secret_settings: dict[str, Any]
) -> None:
    client = make_client(
        **{**secret_settings, "aws_endpoint_url_secrets_manager": "http://127.0.0.1:1"}
    )
    response = client.get("/projects")
    assert (response.status, response.json()) == (
        503,
        {"detail": "database unavailable, try again shortly"},
    )
    assert client.get("/health").status == 200


def test_the_secret_path_insists_on_verified_tls_by_default(
    make_client: Any, secret_settings: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    settings = {k: v for k, v in secret_settings.items() if k != "db_sslmode"}
    client = make_client(**settings)
    assert client.adapter.settings.effective_sslmode == "verify-full"
    assert client.get("/projects").status == 503  # the suite's cluster has no TLS
    assert "database TLS refused: the server does not offer TLS" in caplog.text


@pytest.fixture(scope="module")
def password_cluster() -> Iterator[Any]:
    """A cluster of its own where every login needs a password, unlike the suite's (trust)."""
    from tests.postgres import throwaway_cluster

    with throwaway_cluster(password="superuser-pw") as cluster:
        yield cluster


def _secret(cluster: Any, password: str, port: int | None = None) -> str:
    return json.dumps(
        {
            "username": "app_user",
            "password": password,
            "host": "127.0.0.1",
            "port": port or cluster.port,
            "dbname": "postgres",
            "engine": "postgres",
        }
    )


def test_a_rotated_password_is_read_again_on_a_refused_login(
    make_client: Any, secret_settings: dict[str, Any], password_cluster: Any
) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(password_cluster.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text("DROP ROLE IF EXISTS app_user"))
        conn.execute(text("CREATE ROLE app_user LOGIN PASSWORD 'first-pw'"))
    FakeSecretsManager.secrets = {SECRET_ARN: _secret(password_cluster, "first-pw")}
    client = make_client(**secret_settings)
    assert client.get("/health/ready").status == 200
    assert len(FakeSecretsManager.seen) == 1

    # Rotation: the database and the secret change; the cached password is now wrong.
    with admin.connect() as conn:
        conn.execute(text("ALTER ROLE app_user PASSWORD 'second-pw'"))
    FakeSecretsManager.secrets = {SECRET_ARN: _secret(password_cluster, "second-pw")}
    client.adapter.state["engine"].dispose()  # the next request opens a new connection
    assert client.get("/health/ready").status == 200  # refused, re-read, connected
    assert len(FakeSecretsManager.seen) == 2
    assert client.get("/health/ready").status == 200
    assert len(FakeSecretsManager.seen) == 2
    admin.dispose()


def test_other_connect_errors_keep_the_cached_secret(
    make_client: Any, secret_settings: dict[str, Any], password_cluster: Any
) -> None:
    closed = free_port()
    FakeSecretsManager.secrets = {SECRET_ARN: _secret(password_cluster, "any", port=closed)}
    client = make_client(**secret_settings)
    for _ in range(3):
        assert client.get("/health/ready").status == 503  # connection refused: an outage
    assert len(FakeSecretsManager.seen) == 1


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _hook(secret_settings: dict[str, Any], clock: _Clock) -> tuple[Any, Any]:
    from sqlalchemy import create_engine

    from app.aws.db_login import SecretCredentials
    from app.settings import Settings

    dialect = create_engine("postgresql+psycopg2://").dialect
    return SecretCredentials(Settings(**secret_settings), clock=clock), dialect


def test_a_failed_fetch_is_not_retried_on_every_request(secret_settings: dict[str, Any]) -> None:
    from sqlalchemy.exc import OperationalError

    FakeSecretsManager.secrets = {}  # ResourceNotFoundException: a failed fetch
    clock = _Clock()
    hook, dialect = _hook(secret_settings, clock)
    for _ in range(5):
        with pytest.raises(OperationalError):
            hook(dialect, None, [], {"connect_timeout": 2})
    assert len(FakeSecretsManager.seen) == 1  # it used to be fetched (and waited for) 5 times
    clock.now += 1.0  # the first backoff has passed: one more try, then 2 s of rest
    for _ in range(3):
        with pytest.raises(OperationalError, match="reading the database secret"):
            hook(dialect, None, [], {"connect_timeout": 2})
    assert len(FakeSecretsManager.seen) == 2
    clock.now += 1.9
    with pytest.raises(OperationalError):
        hook(dialect, None, [], {"connect_timeout": 2})
    assert len(FakeSecretsManager.seen) == 2
    clock.now += 0.1
    with pytest.raises(OperationalError):
        hook(dialect, None, [], {"connect_timeout": 2})
    assert len(FakeSecretsManager.seen) == 3


class _SlowSecretsManager(FakeSecretsManager):
    """Answers, correctly, only after `delay` seconds; logs when it did."""

    delay = 4.0
    log: list[str] = []

    def do_POST(self) -> None:
        threading.Event().wait(self.delay)
        self.log.append("replied")
        super().do_POST()


def test_the_fetch_waits_no_longer_than_the_connect_timeout(
    secret_settings: dict[str, Any],
) -> None:
    from sqlalchemy.exc import OperationalError

    _SlowSecretsManager.log = []
    with http_server(_SlowSecretsManager) as address:
        hook, dialect = _hook(
            {**secret_settings, "aws_endpoint_url_secrets_manager": f"http://{address}"},
            _Clock(),
        )
        # DB_CONNECT_TIMEOUT of 1 s; Secrets Manager answers after 4 s. The fetch used to
        # wait a fixed 5 s, and so connected.
        with pytest.raises(OperationalError, match="reading the database secret"):
            hook(dialect, None, [], {"connect_timeout": 1})
        _SlowSecretsManager.log.append("gave up")
        threading.Event().wait(_SlowSecretsManager.delay + 0.5)
        assert _SlowSecretsManager.log == ["gave up", "replied"]


def test_the_fetch_waits_no_longer_than_the_deadline(secret_settings: dict[str, Any]) -> None:
    import time

    from app.data import db_limits

    hook, _dialect = _hook(secret_settings, _Clock())
    with db_limits.deadline(time.monotonic() + 0.5):
        assert hook._timeout({"connect_timeout": 10}) <= 0.5
    assert hook._timeout({"connect_timeout": 10}) == 10
