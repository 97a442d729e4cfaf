"""The FastAPI application: routers, middleware, error handlers and the database lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from app import errors
from app.api import contact, health, projects
from app.db import build_engine
from app.middleware import AccessLog, BodySizeLimit, InternalErrors, ResponseHeaders
from app.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; the engine is made in the lifespan and disposed when it ends."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        engine = build_engine(settings)
        try:
            yield {"engine": engine}
        finally:
            engine.dispose()

    app = FastAPI(
        title="portfolio-backend",
        summary="Projects and contact messages of a personal portfolio site.",
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    # A redirect built behind API Gateway can point at the wrong host or stage: answer the
    # exact path or 404, never a 307 to a guessed URL.
    app.router.redirect_slashes = False
    app.include_router(health.router)
    app.include_router(projects.router)
    app.include_router(contact.router)
    errors.install(app)

    # Added innermost first: the access log sees the final status of everything below it.
    app.add_middleware(InternalErrors)
    if settings.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            max_age=600,
        )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(ResponseHeaders)
    app.add_middleware(AccessLog)
    return app
