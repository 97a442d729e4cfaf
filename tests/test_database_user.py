"""The DatabaseUser custom resource's inline code, run as written in template.yaml.

Real boto3 (the library Lambda's Python runtime ships) talks to a stand-in for the RDS Data API
that runs each statement on the suite's PostgreSQL as an Aurora-like master user (a CREATEROLE
role owning the database, with an `rds_iam` role to grant as Aurora has); CloudFormation's
response bucket is the usual stand-in. Then the real migrations run as the role it created.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.cloudformation import ResponseBucket, custom_resource_event, response_bucket
from tests.data_api import DataApi, data_api
from tests.postgres import Cluster
from tests.sam.translated import translate

CLUSTER_ARN = "arn:aws:rds:us-east-1:123456789012:cluster:portfolio-backend-databasecluster-x"
SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:rds!cluster-0a1b-AbCdEf"
# The master user lives in the secret the Data API reads, not in the code: any name will do.
MASTER = "portfolio_master_test"
DATABASE = "portfolio_user_test"


def _template_properties() -> dict[str, Any]:
    stack = translate({"DatabaseMode": "create"})
    props = stack.properties("DatabaseUser")
    assert props["ClusterArn"] == {"Fn::GetAtt": ["DatabaseCluster", "DBClusterArn"]}
    assert props["SecretArn"] == {"Fn::GetAtt": ["DatabaseCluster", "MasterUserSecret.SecretArn"]}
    # As CloudFormation sends them: attributes resolved, every value a string.
    return {
        **{k: str(v) for k, v in props.items()},
        "ClusterArn": CLUSTER_ARN,
        "SecretArn": SECRET_ARN,
        "Database": DATABASE,
    }


PROPS = _template_properties()
USER = PROPS["User"]


def _inline_module(tmp_path: Path) -> ModuleType:
    stack = translate({"DatabaseMode": "create"})
    code = stack.properties("DatabaseUserFunction")["Code"]["ZipFile"]
    path = tmp_path / "index.py"  # what CloudFormation names inline code (Handler index.handler)
    path.write_text(code)
    spec = importlib.util.spec_from_file_location("database_user_index", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def server_url(pg_cluster: Cluster | None) -> str:
    return os.environ.get("TEST_DATABASE_URL") or (pg_cluster.url if pg_cluster else "")


@pytest.fixture
def aurora_like(server_url: str) -> Iterator[str]:
    """A database owned by a master user that may create roles and grant rds_iam, as on Aurora."""
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    statements = [
        f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)",
        f"DROP ROLE IF EXISTS {USER}",
        f"DROP ROLE IF EXISTS {MASTER}",
        f"CREATE ROLE {MASTER} LOGIN CREATEROLE",
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') "
        "THEN CREATE ROLE rds_iam NOLOGIN; END IF; END $$",
        f"GRANT rds_iam TO {MASTER} WITH ADMIN OPTION",
        f"CREATE DATABASE {DATABASE} OWNER {MASTER}",
    ]
    with admin.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    url = make_url(server_url)
    try:
        yield f"host={url.host} port={url.port} user={MASTER}"
    finally:
        with admin.connect() as conn:
            for statement in statements[:3]:
                conn.execute(text(statement))
        admin.dispose()


@pytest.fixture
def stand_ins(aurora_like: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[DataApi, str]]:
    with data_api(DataApi(CLUSTER_ARN, SECRET_ARN, aurora_like)) as api, response_bucket() as url:
        # What Lambda gives the function, and the SDK's standard per-service endpoint override.
        monkeypatch.setenv("AWS_ENDPOINT_URL_RDS_DATA", api.url)
        monkeypatch.setenv("AWS_REGION", "us-east-1")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSTANDIN")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "stand-in")
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        yield api, url


def _event(url: str, request_type: str, props: dict[str, Any] = PROPS) -> dict[str, Any]:
    return custom_resource_event(
        url,
        request_type,
        LogicalResourceId="DatabaseUser",
        ResourceType="Custom::DatabaseUser",
        ResourceProperties=props,
    )


CONTEXT = SimpleNamespace(get_remaining_time_in_millis=lambda: 120_000)


def _answers() -> list[tuple[str, str]]:
    return [(r["body"]["Status"], r["body"]["Reason"]) for r in ResponseBucket.received]


def test_create_makes_an_iam_role_that_can_run_the_migrations(
    tmp_path: Path, stand_ins: tuple[DataApi, str], server_url: str
) -> None:
    api, url = stand_ins
    module = _inline_module(tmp_path)
    assert module.handler(_event(url, "Create"), CONTEXT) == "SUCCESS"
    # Again on every update: nothing fails because the role exists.
    assert module.handler(_event(url, "Update"), CONTEXT) == "SUCCESS"
    assert _answers() == [("SUCCESS", "role ready")] * 2
    assert len(api.statements) == 2 * len(module.statements(USER, DATABASE))

    admin = create_engine(server_url)
    with admin.connect() as conn:
        member = conn.execute(
            text("SELECT pg_has_role(:user, 'rds_iam', 'MEMBER')"), {"user": USER}
        ).scalar()
        login = conn.execute(
            text("SELECT rolcanlogin FROM pg_roles WHERE rolname = :user"), {"user": USER}
        ).scalar()
    admin.dispose()
    assert (member, login) == (True, True)

    # The migrations run as that role and it owns what they create.
    from app.data.migrate import migrate

    app_url = make_url(server_url).set(username=USER, password=None, database=DATABASE)
    engine = create_engine(app_url)
    try:
        result = migrate(engine)
        with engine.connect() as conn:
            owners = set(
                conn.execute(
                    text("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
                ).scalars()
            )
    finally:
        engine.dispose()
    assert result["current"] and result["applied"]
    assert owners == {USER}


def test_the_answer_survives_a_failed_attempt(
    tmp_path: Path, stand_ins: tuple[DataApi, str]
) -> None:
    _, url = stand_ins
    ResponseBucket.fail_first = 1  # the response bucket answers 503 once
    module = _inline_module(tmp_path)
    pauses: list[float] = []
    module.sleep = pauses.append  # the pause is recorded, not slept
    assert module.handler(_event(url, "Delete"), CONTEXT) == "SUCCESS"
    assert _answers() == [("SUCCESS", "role ready")]
    assert pauses == [1.0]


def test_the_inline_code_fits_cloudformations_limit() -> None:
    # "Your source code can contain up to 4096 characters" (AWS::Lambda::Function Code, ZipFile:
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-lambda-function-code.html).
    code = translate({"DatabaseMode": "create"}).properties("DatabaseUserFunction")["Code"]
    assert len(code["ZipFile"]) <= 4096


def test_the_answer_is_budgeted_like_the_migrations(
    tmp_path: Path, stand_ins: tuple[DataApi, str]
) -> None:
    # Two attempts and a 1 s pause (it used to be three attempts of 10 s and 3 s of pauses,
    # past the 15 s kept back); with 1.2 s left, one attempt and no pause.
    _, url = stand_ins
    module = _inline_module(tmp_path)
    pauses: list[float] = []
    module.sleep = pauses.append
    ResponseBucket.fail_first = 5
    with pytest.raises(RuntimeError, match="could not answer"):
        module.handler(_event(url, "Delete"), CONTEXT)
    assert (5 - ResponseBucket.fail_first, pauses) == (2, [1.0])
    ResponseBucket.fail_first, pauses[:] = 5, []
    short = SimpleNamespace(get_remaining_time_in_millis=lambda: 1_200)
    with pytest.raises(RuntimeError, match="could not answer"):
        module.handler(_event(url, "Delete"), short)
    assert (5 - ResponseBucket.fail_first, pauses) == (1, [])


def test_delete_leaves_the_database_alone(tmp_path: Path, stand_ins: tuple[DataApi, str]) -> None:
    api, url = stand_ins
    module = _inline_module(tmp_path)
    event = _event(url, "Delete", {**PROPS, "ClusterArn": "arn:aws:rds:gone"})
    assert module.handler(event, CONTEXT) == "SUCCESS"
    assert api.statements == []
    assert ResponseBucket.received[0]["body"]["PhysicalResourceId"] == "DatabaseMigration-0a1b"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"User": "app; DROP DATABASE x"}, "ValueError: not a plain lower-case name"),
        ({"SecretArn": SECRET_ARN + "-other"}, "AccessDeniedException"),
    ],
)
def test_a_failure_is_reported_with_its_reason(
    tmp_path: Path, stand_ins: tuple[DataApi, str], change: dict[str, str], reason: str
) -> None:
    api, url = stand_ins
    module = _inline_module(tmp_path)
    assert module.handler(_event(url, "Create", {**PROPS, **change}), CONTEXT) == "FAILED"
    ((status, said),) = _answers()
    assert status == "FAILED" and reason in said
    assert api.statements == []


@pytest.mark.slow
def test_a_resuming_cluster_is_waited_for(tmp_path: Path, stand_ins: tuple[DataApi, str]) -> None:
    api, url = stand_ins
    api.resuming = 1
    module = _inline_module(tmp_path)
    assert module.handler(_event(url, "Create"), CONTEXT) == "SUCCESS"
    assert api.resuming == 0 and _answers() == [("SUCCESS", "role ready")]
