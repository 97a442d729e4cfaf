"""FastAPI's per-route error context, taken from the code objects instead of the source files.

On the first request a route serves, FastAPI notes where its endpoint is defined (file, line,
function name) for its error messages, with `inspect.getsourcelines`: it reads the module's
source and tokenizes the function, and the first use of the tokenizer compiles its regular
expressions. Measured: 4.5 ms for the first public route, on every cold start. The code object
already holds the same three facts (for a decorated function `co_firstlineno` is the first
decorator's line, as `getsourcelines` reports), so they are filled in when the app is built.

This writes FastAPI's own cache (`fastapi.routing._endpoint_context_cache`, a private name of
the pinned version): if an upgrade renames it, nothing is filled, FastAPI reads the sources as
before, and tests/test_cold_path.py fails so that the change is noticed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import routing


def api_routes(routes: list[Any]) -> Iterator[routing.APIRoute]:
    """Every APIRoute in matching order, an included router's routes in place of the router."""
    for route in routes:
        if isinstance(route, routing.APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # an included router (FastAPI >= 0.160)
            yield from api_routes(route.original_router.routes)


def fill(routes: list[Any]) -> None:
    """Note the routes' endpoint contexts in FastAPI's cache, as FastAPI would."""
    cache: dict[int, dict[str, Any]] | None = getattr(routing, "_endpoint_context_cache", None)
    if cache is None:
        return
    for route in api_routes(routes):
        endpoint = route.endpoint
        code = getattr(endpoint, "__code__", None)
        if code is not None:
            cache.setdefault(
                id(endpoint),
                {
                    "file": code.co_filename,
                    "line": code.co_firstlineno,
                    "function": endpoint.__name__,
                },
            )
