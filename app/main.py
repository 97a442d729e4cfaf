"""The FastAPI application: routers, middleware, error handlers and the database lifespan.

`create_app()` is the factory (the Lambda adapter and the tests call it with their settings);
`app` is the same app built from the environment on first access, for `uvicorn app.main:app`.
It is built lazily (PEP 562 module `__getattr__`) so that importing this module, which the
Lambda handler does during INIT, builds nothing twice and costs no more than before.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from app import endpoint_context, errors
from app.api import deferred, health, openapi, projects, public
from app.aws.metrics import Metrics
from app.caching import PublicCaching
from app.counters import Counters
from app.engine import engine_for
from app.fallback.publishing import PublishAfterWrite
from app.fallback.service import Fallback
from app.fallback.store import ObjectStore
from app.head import HeadAsGet
from app.middleware import AccessLog, BodySizeLimit, InternalErrors, ResponseHeaders
from app.settings import Settings, get_settings

logger = logging.getLogger("app")


def create_app(
    settings: Settings | None = None,
    *,
    metrics: Counters | None = None,
    engine: Engine | None = None,
    store: ObjectStore | None = None,
) -> FastAPI:
    """Build the app; the engine is made in the lifespan (or given) and disposed when it ends.

    `metrics` receives the service's counters; by default they are CloudWatch EMF lines on
    standard output, dimensioned by the Lambda function's name ("local" outside Lambda).
    `store` (the host's object store: app/aws/s3.py on AWS) enables the fallback: public
    reads from the snapshot and contact messages into the outbox while the database is slow
    to answer (docs/paused-database.md).
    """
    settings = settings or get_settings()
    for name in settings.unresolved_references:
        logger.warning(
            "%s is an unresolved deploy-time reference (SAM CLI cannot resolve it): "
            "treated as unset, admin routes answer 503",
            name,
        )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        running = engine if engine is not None else engine_for(settings)
        try:
            yield {"engine": running}
        finally:
            running.dispose()

    app = FastAPI(
        title="portfolio-backend",
        summary="Projects and contact messages of a personal portfolio site.",
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics or Metrics(settings.aws_lambda_function_name)
    fallback = None
    if store is not None:
        fallback = Fallback(store, settings.db_read_budget_ms / 1000)
    app.state.fallback = fallback
    # A redirect built behind API Gateway can point at the wrong host or stage: answer the
    # exact path or 404, never a 307 to a guessed URL.
    app.router.redirect_slashes = False
    # The public reads: served as declared, not prepared a second time (app/api/public.py).
    public.serve(app, health.router, projects.router)
    # Last, and declared on first use: the contact form and the admin's routes, which no
    # public read waits for.
    deferred.install(app)
    endpoint_context.fill(app.router.routes)
    openapi.install(app)
    errors.install(app)

    # Added innermost first: the access log sees the final status of everything below it.
    app.add_middleware(InternalErrors)
    if fallback is not None:
        app.add_middleware(PublishAfterWrite, fallback=fallback)
    # Inside HeadAsGet, which routes a HEAD as a GET: the ETag is the GET's body's.
    app.add_middleware(PublicCaching, prefixes=("/projects",))
    app.add_middleware(HeadAsGet)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        # Outside the body limit: its 413s and 400s must carry CORS headers too, or a site's
        # script sees a network error instead of the answer.
        from app import cors

        cors.install(app, settings.cors_origins)
    app.add_middleware(ResponseHeaders)
    app.add_middleware(AccessLog)
    return app


_app: FastAPI | None = None


def __getattr__(name: str) -> FastAPI:
    """`app.main.app`: the app of `get_settings()`, built on first access and then kept."""
    global _app  # noqa: PLW0603 - the module is the cache, as uvicorn looks the name up here
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _app is None:
        _app = create_app()
    return _app
