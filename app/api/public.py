"""The public reads' routes, served by the app as their modules declared them.

FastAPI prepares a route when it is declared (the validators of its parameters, its response
model), and an included router's routes a second time, for the including app, on the first
request that reaches them: for the health and projects routers, 3.4 ms of every cold start's
first GET /projects, spent on validators identical to the first ones (docs/benchmark.md).
These routes are on every cold start's path, so their routes join the app's own, as they are,
and are served the way routes declared on the app itself are. The routes a cold start does
not need are included as usual, and declared on first use (app/api/deferred.py).

What inclusion would add is the app's dependency overrides (`app.dependency_overrides`,
FastAPI's testing hook): a route takes them from its router, so these routers take them from
OVERRIDES, whose dictionary every app built by app/main.py uses as its own
(tests/test_dependencies.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI


class _Overrides:
    """A dependency overrides provider, as FastAPI expects one: what an app offers."""

    def __init__(self) -> None:
        self.dependency_overrides: dict[Any, Any] = {}


OVERRIDES = _Overrides()


def router(**options: Any) -> APIRouter:
    """An APIRouter for public reads (`APIRouter`'s options), to be served with `serve`."""
    return APIRouter(dependency_overrides_provider=OVERRIDES, **options)


def serve(app: FastAPI, *routers: APIRouter) -> None:
    """Serve the routers' routes as the app's own, in order, with the shared overrides."""
    app.dependency_overrides = OVERRIDES.dependency_overrides
    for public in routers:
        app.router.routes.extend(public.routes)
