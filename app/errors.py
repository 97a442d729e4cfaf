"""How failures become answers: JSON `{"detail": ...}`, never a stack trace, SQL or setting."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.routing import Match

logger = logging.getLogger("app.errors")

_NO_STORE = {"Cache-Control": "no-store"}


def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    # The type name is enough to diagnose from the logs; the message may hold SQL or a host.
    logger.warning(
        "database unavailable: %s", type(error).__name__, extra={"path": request.url.path}
    )
    return JSONResponse(
        {"detail": "database unavailable, try again shortly"},
        status_code=503,
        headers={**_NO_STORE, "Retry-After": "1"},
    )


def _conflict(request: Request, error: Exception) -> JSONResponse:
    logger.info("write conflict: %s", type(error).__name__, extra={"path": request.url.path})
    return JSONResponse(
        {"detail": "conflicts with existing data"}, status_code=409, headers=_NO_STORE
    )


def _internal_error(request: Request, error: Exception) -> JSONResponse:
    # Starlette re-raises after this answer, so the runtime logs the traceback once.
    return JSONResponse({"detail": "internal server error"}, status_code=500, headers=_NO_STORE)


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    if isinstance(error, sa_exc.IntegrityError):
        return _conflict(request, error)
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
        return _database_unavailable(request, error)
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return _database_unavailable(request, error)
    logger.error("database error: %s", type(error).__name__, exc_info=error)
    return _internal_error(request, error)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 405:
        # Starlette's 405 names the methods of the first route with this path only; FastAPI
        # makes one route per method, so ask the router which methods the path answers to.
        scope = {"type": "http", "path": request.scope["path"]}
        scope["root_path"] = request.scope.get("root_path", "")
        allowed = [
            method
            for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
            if any(
                route.matches({**scope, "method": method})[0] is Match.FULL
                for route in request.app.router.routes
            )
        ]
        if allowed:
            error.headers = {**(error.headers or {}), "Allow": ", ".join(allowed)}
    return await http_exception_handler(request, error)


# A name the client sent (an unknown field, a dict key) may appear in `loc`; it is cut to this.
_MAX_LOC_TEXT = 100


def _safe_loc_part(part: object) -> str | int:
    if isinstance(part, int):
        return part
    # A lone surrogate cannot be encoded as UTF-8 (Starlette's JSON encoding would fail with a
    # 500); control characters are replaced so the answer is plain text.
    text = str(part)[:_MAX_LOC_TEXT].encode("utf-8", "replace").decode("utf-8")
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    """422 listing what was wrong and where, never the input: no `input`, no `ctx`.

    FastAPI's default handler echoes both, which put message text into error bodies and
    made a lone surrogate (valid JSON, not encodable as UTF-8) a 500.
    """
    assert isinstance(error, RequestValidationError)
    detail = [
        {
            "type": str(issue.get("type", "invalid")),
            "loc": [_safe_loc_part(part) for part in issue.get("loc", ())],
            "msg": str(issue.get("msg", "invalid value")),
        }
        for issue in error.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422, headers=_NO_STORE)


async def _unhandled(request: Request, error: Exception) -> JSONResponse:
    return _internal_error(request, error)


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(sa_exc.SQLAlchemyError, _database_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)
