"""The projects API through the Lambda handler, against PostgreSQL."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from app.data.tables import project_tags, projects
from tests.client import LambdaClient
from tests.conftest import SAMPLE_PROJECT


def _create(client: LambdaClient, **fields: Any) -> dict[str, Any]:
    body = {"slug": "p", "title": "P", "published": True, **fields}
    response = client.post("/projects", body, admin=True)
    assert response.status == 201, response.text
    return response.json()


def test_create_returns_the_whole_project(client: LambdaClient) -> None:
    response = client.post("/projects", SAMPLE_PROJECT, admin=True)

    assert response.status == 201
    project = response.json()
    created = dt.datetime.fromisoformat(project.pop("created_at"))
    updated = dt.datetime.fromisoformat(project.pop("updated_at"))
    published = dt.datetime.fromisoformat(project.pop("published_at"))
    assert project == {
        **SAMPLE_PROJECT,
        "cover_image_url": None,
        "cover_image_alt": None,
        "position": None,
    }
    assert created == updated == published  # published on creation: first publish is now
    assert created.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - created) < dt.timedelta(minutes=1)
    assert response.headers["cache-control"] == "no-store"


def test_read_back_by_slug(client: LambdaClient) -> None:
    created = _create(client, **SAMPLE_PROJECT)
    assert client.get("/projects/hello-world").json() == created


def test_list_is_published_only_newest_first_and_paged(client: LambdaClient) -> None:
    for i in range(5):
        _create(client, slug=f"p{i}", title=f"P{i}")
    _create(client, slug="draft", title="Draft", published=False)

    page = client.get("/projects", query={"limit": "2", "offset": "1"}).json()

    assert [p["slug"] for p in page["items"]] == ["p3", "p2"]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert client.get("/projects").json()["limit"] == 20


def test_filters_by_tag_and_featured(client: LambdaClient) -> None:
    _create(client, slug="a", tags=["python", "aws"], featured=True)
    _create(client, slug="b", tags=["python"])
    _create(client, slug="c", tags=["go"], featured=True)

    def slugs(**query: str) -> list[str]:
        return [p["slug"] for p in client.get("/projects", query=query).json()["items"]]

    assert slugs(tag="python") == ["b", "a"]
    assert slugs(featured="true") == ["c", "a"]
    assert slugs(tag="python", featured="false") == ["b"]
    assert slugs(tag="rust") == []


@pytest.mark.parametrize(
    "query",
    [{"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"offset": "-1"}, {"featured": "perhaps"}],
)
def test_bad_paging_is_422(client: LambdaClient, query: dict[str, str]) -> None:
    response = client.get("/projects", query=query)
    assert response.status == 422
    assert response.json()["detail"][0]["loc"][0] == "query"


def test_unpublished_project_is_404_to_the_public(client: LambdaClient) -> None:
    _create(client, slug="secret", published=False)
    response = client.get("/projects/secret")
    assert (response.status, response.json()) == (404, {"detail": "project 'secret' not found"})


def test_duplicate_slug_is_409_and_writes_nothing(client: LambdaClient, clean_db: Engine) -> None:
    _create(client, slug="same", tags=["one"])
    response = client.post(
        "/projects", {"slug": "same", "title": "Again", "tags": ["two"]}, admin=True
    )
    assert (response.status, response.json()) == (409, {"detail": "project 'same' already exists"})
    with clean_db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(projects)).scalar() == 1
        assert conn.execute(select(project_tags.c.tag)).scalars().all() == ["one"]


@pytest.mark.parametrize(
    "body",
    [
        {"slug": "Not-Lower", "title": "x"},
        {"slug": "under_score", "title": "x"},
        {"slug": "-leading", "title": "x"},
        {"slug": "a" * 81, "title": "x"},
        {"slug": "ok", "title": ""},
        {"slug": "ok", "title": "x" * 201},
        {"slug": "ok", "title": "x", "url": "ftp://example.com"},
        {"slug": "ok", "title": "x", "repo_url": "javascript:alert(1)"},
        {"slug": "ok", "title": "x", "tags": ["Bad Tag"]},
        {"slug": "ok", "title": "x", "tags": ["t"] * 21},
        {"slug": "ok", "title": "x", "unknown": 1},
        {"title": "no slug"},
    ],
)
def test_invalid_project_is_422(
    client: LambdaClient, clean_db: Engine, body: dict[str, Any]
) -> None:
    assert client.post("/projects", body, admin=True).status == 422
    with clean_db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(projects)).scalar() == 0


def test_patch_changes_only_what_is_sent(client: LambdaClient) -> None:
    created = _create(client, **SAMPLE_PROJECT)
    response = client.patch(
        "/projects/hello-world", {"title": "Renamed", "tags": ["new"]}, admin=True
    )
    assert response.status == 200
    updated = response.json()
    assert updated["updated_at"] > created["updated_at"]
    expected = {**created, "title": "Renamed", "tags": ["new"], "updated_at": updated["updated_at"]}
    assert updated == expected
    assert client.get("/projects/hello-world").json() == expected


def test_patch_can_rename_the_slug_but_not_onto_another(client: LambdaClient) -> None:
    _create(client, slug="a")
    _create(client, slug="b")
    assert client.patch("/projects/a", {"slug": "b"}, admin=True).status == 409
    assert client.patch("/projects/a", {"slug": "c"}, admin=True).json()["slug"] == "c"
    assert client.get("/projects/a").status == 404


def test_delete_removes_project_and_tags(client: LambdaClient, clean_db: Engine) -> None:
    _create(client, slug="gone", tags=["x", "y"])
    response = client.delete("/projects/gone", admin=True)
    assert (response.status, response.text) == (204, "")
    with clean_db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(project_tags)).scalar() == 0
    assert client.get("/projects/gone").status == 404


@pytest.mark.parametrize("method", ["patch", "delete"])
def test_unknown_slug_is_404_for_admin_writes(client: LambdaClient, method: str) -> None:
    kwargs: dict[str, Any] = {"admin": True}
    if method == "patch":
        kwargs["body"] = {"title": "x"}
    response = getattr(client, method)("/projects/nope", **kwargs)
    assert (response.status, response.json()) == (404, {"detail": "project 'nope' not found"})


def test_sql_metacharacters_and_unicode_round_trip(client: LambdaClient) -> None:
    tricky = "Robert'); DROP TABLE projects;-- 🐍 ümlaut \\ % _ \u202e"
    created = _create(
        client, slug="tricky", title=tricky.strip(), summary=tricky.strip(), body=tricky
    )
    fetched = client.get("/projects/tricky").json()
    assert fetched == created
    assert (fetched["title"], fetched["body"]) == (tricky.strip(), tricky)


NOT_NULLABLE = ["slug", "title", "summary", "body", "tags", "featured", "published"]


@pytest.mark.parametrize("field", NOT_NULLABLE)
def test_patch_null_on_a_field_that_cannot_be_empty_is_422(
    client: LambdaClient, field: str
) -> None:
    created = _create(client, **SAMPLE_PROJECT)
    response = client.patch("/projects/hello-world", {field: None}, admin=True)
    assert response.status == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]
    assert client.get("/projects/hello-world").json() == created


@pytest.mark.parametrize("field", ["url", "repo_url"])
def test_patch_null_clears_an_optional_link(client: LambdaClient, field: str) -> None:
    _create(client, **SAMPLE_PROJECT)
    response = client.patch("/projects/hello-world", {field: None}, admin=True)
    assert response.status == 200
    assert response.json()[field] is None
    assert client.get("/projects/hello-world").json()[field] is None


def test_the_schema_says_which_fields_take_null() -> None:
    from app.main import create_app
    from app.settings import Settings

    schema = create_app(Settings(database_url="sqlite://")).openapi()
    properties = schema["components"]["schemas"]["ProjectUpdate"]["properties"]

    def nullable(prop: dict[str, Any]) -> bool:
        return any(o.get("type") == "null" for o in prop.get("anyOf", [prop]))

    assert {name for name, prop in properties.items() if nullable(prop)} == {
        "url",
        "repo_url",
        # Presentation: null removes the image, the date (stamped again if published) or the pin.
        "cover_image_url",
        "cover_image_alt",
        "published_at",
        "position",
    }
    assert not any("default" in properties[name] for name in NOT_NULLABLE)


@pytest.mark.parametrize(
    "body", [{}, {"title": "Hello, world"}, {"tags": ["python", "lambda"], "featured": True}]
)
def test_an_empty_or_no_op_patch_changes_nothing(
    client: LambdaClient, body: dict[str, Any]
) -> None:
    created = _create(client, **SAMPLE_PROJECT)
    response = client.patch("/projects/hello-world", body, admin=True)
    assert (response.status, response.json()) == (200, created)
    assert client.get("/projects/hello-world").json() == created


def test_a_tag_order_change_is_a_change(client: LambdaClient) -> None:
    created = _create(client, **SAMPLE_PROJECT)
    response = client.patch("/projects/hello-world", {"tags": ["lambda", "python"]}, admin=True)
    assert response.json()["tags"] == ["lambda", "python"]
    assert response.json()["updated_at"] > created["updated_at"]
