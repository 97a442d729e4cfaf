"""The deploy refuses invalid settings: `handler.migrate` answers CloudFormation FAILED.

The stack gives the migrate function the API function's ADMIN_TOKEN_SHA256 (the same dynamic
reference, resolved by CloudFormation), and the API function waits for the migration's result,
so a malformed digest fails the deploy before the API function is updated. Settings are read
when Lambda imports `handler` (INIT), so each case runs in a process of its own configured by
environment variables, as Lambda starts it: an INIT that crashed would never answer, and
CloudFormation would wait out the resource's ServiceTimeout. CloudFormation's side is the
response-bucket stand-in (tests/cloudformation.py: no AWS account exists here); the database is
a new, empty one on the suite's real PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from tests.cloudformation import ResponseBucket, response_bucket
from tests.conftest import ADMIN_TOKEN, ADMIN_TOKEN_SHA256, ROOT
from tests.test_migrations import HEAD

# handler.migrate for one custom-resource event, then the API handler's lookup (which is what
# the runtime client does at INIT of the API function).
SCRIPT = """\
import json, sys
import handler
from tests.cloudformation import custom_resource_event
from tests.conftest import lambda_context
event = custom_resource_event(sys.argv[1], sys.argv[2])
print(json.dumps(handler.migrate(event, lambda_context())))
try:
    handler.handler
    print(json.dumps({"api": "started"}))
except Exception as error:
    print(json.dumps({"api": type(error).__name__}))
"""
# What a user may store instead of the digest: the token itself, a cut-off digest, a digest
# with a stray character, and reference text outside SAM CLI (CloudFormation resolves it).
# Each case starts a Python process (~0.7 s): the fast subset keeps two.
SLOW = pytest.mark.slow
MALFORMED = [
    pytest.param("Create", ADMIN_TOKEN, id="token-create"),
    pytest.param("Update", "{{resolve:ssm:/portfolio/admin-token-sha256}}", id="reference-update"),
    pytest.param("Update", ADMIN_TOKEN_SHA256[:63], id="short-update", marks=SLOW),
    pytest.param("Create", ADMIN_TOKEN_SHA256[:63] + "g", id="not-hex-create", marks=SLOW),
]


@pytest.fixture
def empty_database(database_url: str) -> Iterator[str]:
    """The URL of a new database without any table."""
    name = f"migrate_{uuid.uuid4().hex[:8]}"
    server = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(database_url).set(database=name).render_as_string(hide_password=False)
    with server.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    server.dispose()


@pytest.fixture
def response_url() -> Iterator[str]:
    with response_bucket() as url:
        yield url


def _tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        return sorted(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _migrate(
    response_url: str, request_type: str, database_url: str, **variables: str
) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Run the script in a fresh process; the reply, the API lookup's outcome, all output."""
    env = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": database_url,
        "DB_CONNECT_TIMEOUT": "2",
        "LOG_LEVEL": "INFO",
        **variables,
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, response_url, request_type],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = done.stdout + done.stderr
    # INIT survived: the process ended normally after answering.
    assert done.returncode == 0, output[-3000:]
    (put,) = ResponseBucket.received
    result, api = (json.loads(line) for line in done.stdout.splitlines()[-2:])
    assert result.get("error") == (
        put["body"]["Reason"] if put["body"]["Status"] == "FAILED" else None
    )
    return put["body"], api, output


@pytest.mark.parametrize(("request_type", "digest"), MALFORMED)
def test_a_malformed_digest_fails_the_deploy_without_migrating_or_echoing_it(
    empty_database: str, response_url: str, request_type: str, digest: str
) -> None:
    reply, api, output = _migrate(
        response_url, request_type, empty_database, ADMIN_TOKEN_SHA256=digest
    )
    assert reply["Status"] == "FAILED"
    assert "ADMIN_TOKEN_SHA256" in reply["Reason"]
    assert "AdminTokenDigestName" in reply["Reason"]  # the stack parameter to fix
    assert digest not in json.dumps(reply) and digest not in output
    assert _tables(empty_database) == []  # nothing migrated
    assert api == {"api": "SettingsError"}  # the API function still refuses to start


def test_a_delete_with_a_malformed_digest_succeeds_so_the_stack_can_roll_back(
    empty_database: str, response_url: str
) -> None:
    reply, _, output = _migrate(
        response_url, "Delete", empty_database, ADMIN_TOKEN_SHA256=ADMIN_TOKEN
    )
    assert (reply["Status"], reply["PhysicalResourceId"]) == ("SUCCESS", "DatabaseMigration-0a1b")
    assert ADMIN_TOKEN not in output
    assert _tables(empty_database) == []


@pytest.mark.parametrize("request_type", ["Update", pytest.param("Create", marks=SLOW)])
def test_a_valid_digest_migrates_as_before(
    empty_database: str, response_url: str, request_type: str
) -> None:
    reply, api, _ = _migrate(
        response_url, request_type, empty_database, ADMIN_TOKEN_SHA256=ADMIN_TOKEN_SHA256
    )
    assert (reply["Status"], reply["Data"]["Current"]) == ("SUCCESS", HEAD)
    assert "alembic_version" in _tables(empty_database)
    assert api == {"api": "started"}


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DB_PORT", "0"),
        pytest.param("DB_CONNECT_TIMEOUT", "0", marks=SLOW),
        pytest.param("LOG_LEVEL", "LOUD", marks=SLOW),
        pytest.param("DB_IAM_AUTH", "yes!", marks=SLOW),
    ],
)
def test_any_invalid_setting_is_answered_failed_naming_it(
    empty_database: str, response_url: str, variable: str, value: str
) -> None:
    reply, _, _ = _migrate(
        response_url,
        "Update",
        empty_database,
        ADMIN_TOKEN_SHA256=ADMIN_TOKEN_SHA256,
        **{variable: value},
    )
    assert reply["Status"] == "FAILED"
    assert variable in reply["Reason"]
    assert "ADMIN_TOKEN_SHA256" not in reply["Reason"]  # the hint is for the digest only
    assert _tables(empty_database) == []
