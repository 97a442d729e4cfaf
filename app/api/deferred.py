"""Routes a public read never needs, declared when first needed: the contact form and the
admin's (project writes, the inbox).

A cold start answers a public read, and these routes are never on its path. Declaring them
still cost every cold start: FastAPI prepares a route when it is declared (its parameters, its
body and response models), and their modules import what only they use (the outbox, the
idempotency and rate-limit code): about 12 ms of INIT (docs/benchmark.md). So `router` is
included in the app empty, after every public read, and `declare()` fills it, once per
process, when one of these first asks:

- a request that no public read answered (a contact message, an admin call, but also a 404
  or a 405), through the marker `install()` puts just before the router: the router then
  matches the request against the routes just declared (FastAPI picks up routes added to an
  included router);
- the OpenAPI document (app/api/openapi.py), and anything else that walks the routes and
  calls `declare()` first (tests/test_cold_path.py).

The routes themselves are written as usual, one router per resource, in the modules
`ROUTERS` names, in the order they are matched and documented.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from app import endpoint_context

# The public contact form first, then the admin's: the order of matching and of the document.
ROUTERS = ("app.api.contact", "app.api.admin.projects", "app.api.admin.contact")

router = APIRouter()

_lock = threading.Lock()
_declared = False


def declare() -> None:
    """Declare the routes of `ROUTERS` into `router` (the first call; later ones do nothing)."""
    global _declared  # noqa: PLW0603 - once per process, as the routes' modules are imported
    if _declared:
        return
    with _lock:
        if _declared:
            return
        for name in ROUTERS:
            resource = importlib.import_module(name).router
            router.include_router(resource)
            endpoint_context.fill(resource.routes)
        _declared = True


def declared() -> bool:
    return _declared


class _DeclareOnFirstUse(BaseRoute):
    """Matches nothing; reaching it means no public read answered: declare the rest."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        declare()
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        declare()
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("matches nothing, so never handles")  # pragma: no cover


def install(app: FastAPI) -> None:
    """Include the routes of `ROUTERS` last, declared on first use (see the module's docstring)."""
    app.router.routes.append(_DeclareOnFirstUse())
    app.include_router(router)
