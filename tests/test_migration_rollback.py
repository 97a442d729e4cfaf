"""A rolled-back deploy: CloudFormation sends the migration custom resource an Update with the
previous template's properties while $LATEST still runs the new code
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requesttypes-update.html).
The function must answer SUCCESS without migrating; the template's MigrationsHead property is
how it tells. CloudFormation's side is the stand-in of tests/cloudformation.py; the database
is a fresh one on the suite's PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from app.data.migrate import head_revision, migrate
from tests.cloudformation import ResponseBucket, custom_resource_event, response_bucket
from tests.conftest import lambda_context
from tests.sam.translated import translate
from tests.test_migrations import ALL, HEAD


@pytest.fixture
def response_url() -> Iterator[str]:
    with response_bucket() as url:
        yield url


def _update(response_url: str, new_head: str, old_head: str) -> dict[str, Any]:
    return custom_resource_event(
        response_url,
        "Update",
        ResourceProperties={
            "ServiceToken": "x",
            "FunctionVersion": "8",
            "MigrationsHead": new_head,
        },
        OldResourceProperties={
            "ServiceToken": "x",
            "FunctionVersion": "9",
            "MigrationsHead": old_head,
        },
    )


def _revision(engine: Any) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar())


def test_the_template_names_the_head_of_the_code_it_ships_with() -> None:
    props = translate({"DatabaseMode": "create"}).properties("DatabaseMigration")
    assert props["MigrationsHead"] == head_revision() == HEAD


def test_a_rollback_is_answered_success_without_migrating(
    make_client: Any, fresh_engine: Any, response_url: str
) -> None:
    # The database is at the previous deploy's head; the deploy that brought this code
    # failed before migrating (a resource created before the migration failed).
    previous = ALL[-2]
    migrate(fresh_engine, previous)
    url = fresh_engine.url.render_as_string(hide_password=False)
    adapter = make_client(database_url=url).adapter
    result = adapter.migrate(_update(response_url, previous, HEAD), lambda_context())
    (answer,) = [put["body"] for put in ResponseBucket.received]
    assert (answer["Status"], answer["Data"]) == ("SUCCESS", {"Current": previous, "Applied": ""})
    assert "rollback" in answer["Reason"] and "skipped" in result
    assert _revision(fresh_engine) == previous  # untouched: no upgrade to this code's head


def test_a_forward_update_migrates(make_client: Any, fresh_engine: Any, response_url: str) -> None:
    migrate(fresh_engine, ALL[-2])
    url = fresh_engine.url.render_as_string(hide_password=False)
    adapter = make_client(database_url=url).adapter
    adapter.migrate(_update(response_url, HEAD, ALL[-2]), lambda_context())
    (answer,) = [put["body"] for put in ResponseBucket.received]
    assert (answer["Status"], answer["Data"]) == ("SUCCESS", {"Current": HEAD, "Applied": HEAD})
    assert _revision(fresh_engine) == HEAD


@pytest.mark.parametrize(
    ("new", "old"),
    [
        (HEAD, HEAD),  # a redeploy of the same migrations (say a configuration change)
        (None, None),  # a template without the property: never taken for a rollback
        ("9999", "8888"),  # neither is this code's: not a rollback this code can recognise
    ],
)
def test_only_old_properties_naming_this_code_make_a_rollback(
    make_client: Any, response_url: str, new: str | None, old: str | None
) -> None:
    event = _update(response_url, new or "", old or "")
    for props in ("ResourceProperties", "OldResourceProperties"):
        if event[props]["MigrationsHead"] == "":
            del event[props]["MigrationsHead"]
    make_client().adapter.migrate(event, lambda_context())
    (answer,) = [put["body"] for put in ResponseBucket.received]
    assert (answer["Status"], answer["Data"]["Current"]) == ("SUCCESS", HEAD)
    assert "rollback" not in answer["Reason"]
