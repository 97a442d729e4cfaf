"""Routes a public read never needs, declared when first needed: the contact form and the
admin's (project writes, the inbox).

A cold start answers a public read, and these routes are never on its path. Declaring them
still cost every cold start: FastAPI prepares a route when it is declared (its parameters, its
body and response models), and their modules import what only they use (the outbox, the
idempotency and rate-limit code): about 12 ms of INIT (docs/benchmark.md). So their routers
are included in the app empty, after every public read, in two groups (GROUPS), and each
group is filled, once per process, when one of these first asks:

- a request that nothing before the group answered (a contact message, an admin call, but
  also a 404 or a 405), through the marker `install()` puts just before the group's router:
  the router then matches the request against the routes just declared (FastAPI picks up
  routes added to an included router). A contact message, answered by the first group,
  declares only the form (the first one costs its visitor about 10 ms, docs/benchmark.md);
- the OpenAPI document (app/api/openapi.py), and anything else that walks the routes and
  calls `declare()` (every group) first (tests/test_cold_path.py).

The routes themselves are written as usual, one router per resource, in the modules GROUPS
names.
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from app import endpoint_context

# Groups in the order of matching and of the document, each declared when a request first gets
# past everything before it: a contact message declares the form only, an admin call both.
GROUPS = (("app.api.contact",), ("app.api.admin.projects", "app.api.admin.contact"))


class _Group:
    """Some of the routes: a router included empty, filled by `declare()` once per process."""

    def __init__(self, modules: tuple[str, ...]) -> None:
        self.modules = modules
        self.router = APIRouter()
        self.declared = False
        self._lock = threading.Lock()

    def declare(self) -> None:
        if self.declared:
            return
        with self._lock:
            if self.declared:
                return
            for name in self.modules:
                resource = importlib.import_module(name).router
                self.router.include_router(resource)
                endpoint_context.fill(resource.routes)
            self.declared = True


_GROUPS = [_Group(modules) for modules in GROUPS]


def declare() -> None:
    """Declare every group's routes (those not declared yet)."""
    for group in _GROUPS:
        group.declare()


def declared() -> list[str]:
    """The modules whose routes are declared, in order."""
    return [name for group in _GROUPS if group.declared for name in group.modules]


class _DeclareOnFirstUse(BaseRoute):
    """Matches nothing; reaching it means nothing before it answered: declare its group."""

    def __init__(self, group: _Group) -> None:
        self.group = group

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        self.group.declare()
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        self.group.declare()
        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("matches nothing, so never handles")  # pragma: no cover


def install(app: FastAPI) -> None:
    """Include the groups last, each after its marker (see the module's docstring)."""
    for group in _GROUPS:
        app.router.routes.append(_DeclareOnFirstUse(group))
        app.include_router(group.router)
