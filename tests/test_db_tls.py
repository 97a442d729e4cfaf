"""TLS to PostgreSQL, against a TLS-only server the test starts with its own CA, and the IAM
auth token as the password over it.

The server has a certificate for DNS:localhost signed by a CA made here; pg_hba.conf takes
TLS connections only (`hostssl`), and one role logs in with a password (scram-sha-256) that
the test sets to an RDS auth token, as RDS itself checks the token (no AWS account here: the
only stand-in is the clock, frozen so the test knows which token the function will send).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from app.aws import rds_auth
from app.aws.aws_secrets import Credentials
from tests.postgres import Cluster, throwaway_cluster
from tests.tls import make_ca, make_server_cert

UNAVAILABLE = (503, {"detail": "database unavailable, try again shortly"})
IAM_USER = "portfolio_iam"
REGION = "eu-west-1"
CREDENTIALS = Credentials("ASIATESTKEY", "test/secret+key", "session/token+=")
HBA = f"""
hostssl all {IAM_USER} 127.0.0.1/32 scram-sha-256
hostssl all all 127.0.0.1/32 trust
host all all 127.0.0.1/32 reject
"""


@dataclass
class TlsServer:
    cluster: Cluster
    ca_file: Path
    other_ca_file: Path
    admin: Engine

    def url(self, host: str = "localhost") -> str:
        return f"postgresql+psycopg2://postgres@{host}:{self.cluster.port}/postgres"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    ca, other_ca = make_ca("portfolio test CA"), make_ca("some other CA")
    cert, key = make_server_cert(ca, "localhost")
    certs = tmp_path_factory.mktemp("certs")
    (certs / "ca.pem").write_bytes(ca.pem)
    (certs / "other-ca.pem").write_bytes(other_ca.pem)
    settings = {
        "ssl": "on",
        "ssl_cert_file": "{dir}/server.crt",
        "ssl_key_file": "{dir}/server.key",
    }
    files = {"server.crt": cert, "server.key": key}
    with throwaway_cluster(settings, HBA, files) as cluster:
        admin = create_engine(
            f"postgresql+psycopg2://postgres@localhost:{cluster.port}/postgres",
            connect_args={"sslmode": "verify-full", "sslrootcert": str(certs / "ca.pem")},
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text(f"CREATE ROLE {IAM_USER} LOGIN"))
        yield TlsServer(cluster, certs / "ca.pem", certs / "other-ca.pem", admin)
        admin.dispose()


def _ssl_of_own_backend(engine: Engine) -> tuple[bool, str]:
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT ssl, current_user FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        ).one()
    return bool(row.ssl), str(row.current_user)


def test_verify_full_with_the_right_ca_connects_encrypted(
    make_client: Any, tls_server: TlsServer
) -> None:
    client = make_client(
        database_url=tls_server.url(),
        db_sslmode="verify-full",
        db_sslrootcert=str(tls_server.ca_file),
    )
    assert client.get("/health/ready").status == 200
    assert _ssl_of_own_backend(client.adapter.state["engine"]) == (True, "postgres")


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("wrong CA", "the server's certificate is signed by no CA in DB_SSLROOTCERT"),
        ("wrong host name", "the server's certificate does not name the host connected to"),
        ("CA bundle missing", "the CA bundle DB_SSLROOTCERT names cannot be read"),
        ("plaintext only", "the server does not offer TLS, and DB_SSLMODE requires it"),
        ("TLS switched off", "the server refuses connections without TLS (check DB_SSLMODE)"),
    ],
)
def test_refused_tls_is_a_503_and_a_log_line_saying_why(
    make_client: Any,
    tls_server: TlsServer,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    case: str,
    reason: str,
) -> None:
    settings: dict[str, Any] = {
        "database_url": tls_server.url(),
        "db_sslmode": "verify-full",
        "db_sslrootcert": str(tls_server.ca_file),
    }
    if case == "wrong CA":
        settings["db_sslrootcert"] = str(tls_server.other_ca_file)
    elif case == "wrong host name":
        settings["database_url"] = tls_server.url("127.0.0.1")  # the certificate says localhost
    elif case == "CA bundle missing":
        settings["db_sslrootcert"] = str(tmp_path / "absent.pem")
    elif case == "plaintext only":
        settings["database_url"] = database_url  # the suite's own cluster has no TLS
    elif case == "TLS switched off":
        settings["db_sslmode"] = "disable"
    client = make_client(**settings)
    response = client.get("/health/ready")
    assert (response.status, response.json()) == UNAVAILABLE
    [line] = [r.getMessage() for r in caplog.records if r.name == "app.db"]
    mode = settings["db_sslmode"]
    assert line == f"database TLS refused: {reason} (sslmode={mode})"
    assert "localhost" not in line and "127.0.0.1" not in line  # no host names in the log


def _iam_settings(tls_server: TlsServer) -> dict[str, Any]:
    return {
        "database_url": "postgresql+psycopg2://must-not-be-used@127.0.0.1:1/nothing",
        "db_iam_auth": True,
        "db_host": "localhost",
        "db_port": tls_server.cluster.port,
        "db_name": "postgres",
        "db_user": IAM_USER,
        "db_sslrootcert": str(tls_server.ca_file),
        "aws_region": REGION,
        "aws_access_key_id": CREDENTIALS.access_key_id,
        "aws_secret_access_key": CREDENTIALS.secret_access_key,
        "aws_session_token": CREDENTIALS.session_token,
    }


def _token_at(tls_server: TlsServer, when: dt.datetime) -> str:
    return rds_auth.generate_auth_token(
        host="localhost",
        port=tls_server.cluster.port,
        user=IAM_USER,
        region=REGION,
        credentials=CREDENTIALS,
        now=when,
    )


def _set_password(tls_server: TlsServer, password: str) -> None:
    with tls_server.admin.connect() as conn:
        # psycopg2 interpolates client-side, so a utility statement can take the parameter.
        conn.execute(text(f"ALTER ROLE {IAM_USER} PASSWORD :password"), {"password": password})


def test_iam_auth_logs_in_with_a_fresh_token_per_connection_over_verified_tls(
    make_client: Any, tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = dt.datetime(2026, 11, 29, 9, 0, 0, tzinfo=dt.UTC)
    later = first + dt.timedelta(minutes=10)
    _set_password(tls_server, _token_at(tls_server, first))
    monkeypatch.setattr(rds_auth, "_utcnow", lambda: first)
    client = make_client(**_iam_settings(tls_server))
    assert client.adapter.settings.effective_sslmode == "verify-full"  # IAM's default

    assert client.get("/health/ready").status == 200
    engine = client.adapter.state["engine"]
    assert _ssl_of_own_backend(engine) == (True, IAM_USER)

    # A new connection ten minutes on carries a new token: the old password no longer fits.
    monkeypatch.setattr(rds_auth, "_utcnow", lambda: later)
    engine.dispose()
    assert client.get("/health/ready").status == 503
    _set_password(tls_server, _token_at(tls_server, later))
    assert client.get("/health/ready").status == 200


# -- explicit configuration wins over the RDS bundle ------------------------------------------
# A database outside RDS (Neon, Supabase, a self-hosted server with a public CA) is reached
# with the URL's own sslrootcert, or with `system`: the operating system's trust store. The
# test's CA stands in for a public one; OpenSSL's SSL_CERT_FILE (read by the OS's OpenSSL,
# which Python's ssl module links) stands in for the OS store holding it.


def test_the_urls_own_ca_file_is_used_not_the_rds_bundle(
    make_client: Any, tls_server: TlsServer
) -> None:
    url = f"{tls_server.url()}?sslmode=verify-full&sslrootcert={tls_server.ca_file}"
    client = make_client(database_url=url)
    assert client.get("/health/ready").status == 200
    assert _ssl_of_own_backend(client.adapter.state["engine"]) == (True, "postgres")


@pytest.mark.parametrize("where", ["url", "setting"])
def test_sslrootcert_system_verifies_against_the_os_trust_store(
    make_client: Any,
    tls_server: TlsServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    where: str,
) -> None:
    def client_for(store: Path) -> Any:
        monkeypatch.setenv("SSL_CERT_FILE", str(store))
        if where == "url":
            return make_client(database_url=f"{tls_server.url()}?sslrootcert=system")
        # No sslmode anywhere: with `system`, libpq 16+ defaults to verify-full, and so do we.
        return make_client(database_url=tls_server.url(), db_sslrootcert="system")

    trusted = client_for(tls_server.ca_file)
    assert trusted.get("/health/ready").status == 200
    assert _ssl_of_own_backend(trusted.adapter.state["engine"]) == (True, "postgres")
    untrusted = client_for(tls_server.other_ca_file)
    assert untrusted.get("/health/ready").json() == UNAVAILABLE[1]
    assert [r.getMessage() for r in caplog.records if r.name == "app.db"] == [
        "database TLS refused: the server's certificate is signed by no CA in DB_SSLROOTCERT "
        "(sslmode=verify-full)"
    ]


URL = "postgresql://u@db.example/app"


@pytest.mark.parametrize(
    ("given", "error"),
    [
        (
            {"database_url": f"{URL}?sslmode=require", "db_sslmode": "verify-full"},
            "DATABASE_URL says sslmode=require and DB_SSLMODE=verify-full: set one",
        ),
        (
            {"database_url": f"{URL}?sslrootcert=/a.pem", "db_sslrootcert": "/b.pem"},
            "DATABASE_URL's sslrootcert and DB_SSLROOTCERT differ: set one",
        ),
        (
            {"database_url": f"{URL}?sslrootcert=system&sslmode=require"},
            "sslrootcert=system needs sslmode=verify-full, not require",
        ),
        ({"db_sslrootcert": "system", "db_sslmode": "verify-ca"}, "not verify-ca"),
        ({"database_url": f"{URL}?sslmode=verify_full"}, "unknown sslmode=verify_full"),
    ],
)
def test_contradicting_tls_settings_stop_start_up(given: dict[str, str], error: str) -> None:
    from pydantic import ValidationError

    from app.settings import Settings

    with pytest.raises(ValidationError, match=error):
        Settings(**{"database_url": URL, **given})


def test_system_is_the_os_trust_store_not_the_bundled_libpqs_build_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ssl

    from app.data import db_tls
    from app.settings import Settings

    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    args = db_tls.connect_args(Settings(database_url=URL, db_sslrootcert="system"))
    os_store = ssl.get_default_verify_paths().cafile
    assert os_store is not None and Path(os_store).is_file()
    assert args == {"sslmode": "verify-full", "sslrootcert": os_store}
    # The URL's own values reach libpq as given when they are files (no RDS bundle).
    args = db_tls.connect_args(Settings(database_url=f"{URL}?sslmode=verify-ca&sslrootcert=/c"))
    assert args == {"sslmode": "verify-ca", "sslrootcert": "/c"}


def test_the_urls_own_libpq_parameters_win_over_the_defaults(
    make_client: Any, database_url: str
) -> None:
    # The class of the CA bundle above: whatever the URL says explicitly reaches libpq, the
    # app's defaults only fill in what it leaves out.
    # (make_client sets DB_CONNECT_TIMEOUT: a URL's connect_timeout would have to agree with it)
    url = f"{database_url}?application_name=my-site&keepalives_idle=5&connect_timeout=2"
    client = make_client(database_url=url)
    assert client.get("/health/ready").status == 200
    with client.adapter.state["engine"].connect() as conn:
        name = conn.execute(text("SHOW application_name")).scalar()
        dsn = conn.connection.dbapi_connection.dsn
    assert name == "my-site"
    assert "keepalives_idle=5" in dsn and "connect_timeout=2" in dsn
    assert "keepalives_count=3" in dsn  # a default the URL leaves out still applies


def test_a_url_and_db_connect_timeout_that_disagree_stop_start_up() -> None:
    from pydantic import ValidationError

    from app.settings import Settings

    with pytest.raises(ValidationError, match="connect_timeout=7 and DB_CONNECT_TIMEOUT=3"):
        Settings(database_url=f"{URL}?connect_timeout=7", db_connect_timeout=3)


@pytest.mark.parametrize(("query", "expected"), [("", "disable"), ("?gssencmode=prefer", "prefer")])
def test_no_gssapi_encryption_unless_the_url_asks_for_it(
    make_client: Any, database_url: str, query: str, expected: str
) -> None:
    # libpq's default (prefer) looks up Kerberos credentials before each connect, loading the
    # Kerberos libraries (app/data/db.py); the session itself shows which mode was asked for.
    client = make_client(database_url=database_url + query)
    assert client.get("/health/ready").status == 200
    with client.adapter.state["engine"].connect() as conn:
        dsn = conn.connection.dbapi_connection.dsn
    assert f"gssencmode={expected}" in dsn.split()
