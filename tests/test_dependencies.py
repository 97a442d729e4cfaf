"""The rules app/data/db.py relies on under a multi-request server, checked on the app itself:
every route and dependency is async (none goes through the threadpool while a connection is
held), the pool is sized for the server it runs in (issue 10, item 2), and FastAPI's dependency
overrides reach every route (app/api/public.py serves the public reads without inclusion)."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

from app.api import deferred
from app.endpoint_context import api_routes
from app.hosts.lambda_host import LambdaAdapter
from app.main import create_app
from app.settings import Settings


def _calls(dependant: Any) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def test_every_route_and_dependency_is_async() -> None:
    app = create_app(Settings(database_url="sqlite://"))
    deferred.declare()
    routes = list(api_routes(app.routes))
    assert len(routes) >= 9
    sync = [
        f"{route.path}: {getattr(call, '__name__', call)}"
        for route in routes
        for call in [route.endpoint, *_calls(route.dependant)]
        if not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call))
    ]
    assert sync == []


def test_one_connection_per_lambda_environment_more_under_a_server(database_url: str) -> None:
    settings = Settings(database_url=database_url)
    adapter = LambdaAdapter(settings)
    try:
        assert adapter.state["engine"].pool.size() == 1
    finally:
        adapter.shutdown()
    from app.data.db import build_engine

    engine = build_engine(settings)
    assert engine.pool.size() == settings.db_pool_size == 5  # type: ignore[attr-defined]
    engine.dispose()


async def _anyone(request: Any = None) -> None:
    return None


def test_the_apps_dependency_overrides_reach_public_and_deferred_routes(
    make_client: Any, seeded_db: Any
) -> None:
    from app.api.pagination import PageParams, page_params
    from app.security import require_admin

    client = make_client()
    app = client.adapter.app

    def answers() -> tuple[int, int]:
        page = client.request("GET", "/projects")
        inbox = client.request("GET", "/contact")  # the admin's inbox, without a token
        return page.json()["limit"], inbox.status

    assert answers() == (20, 401)
    app.dependency_overrides[page_params] = lambda: PageParams(limit=1, offset=0)
    app.dependency_overrides[require_admin] = _anyone
    try:
        assert answers() == (1, 200)
    finally:
        app.dependency_overrides.clear()
    assert answers() == (20, 401)
