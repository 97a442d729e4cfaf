"""How failures become answers: JSON `{"detail": ...}`, never a stack trace, SQL or setting."""

from __future__ import annotations

import logging
import traceback

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.routing import Match

from app import counters

logger = logging.getLogger("app.errors")

_NO_STORE = {"Cache-Control": "no-store"}


def _database_unavailable(request: Request, error: Exception) -> JSONResponse:
    # The type name is enough to diagnose from the logs; the message may hold SQL or a host.
    logger.warning(
        "database unavailable: %s", type(error).__name__, extra={"path": request.url.path}
    )
    counters.for_app(request.app).count(counters.DATABASE_UNAVAILABLE)  # alarmed on
    return JSONResponse(
        {"detail": request.app.state.settings.database_unavailable_detail},
        status_code=503,
        headers={**_NO_STORE, "Retry-After": "1"},
    )


def _conflict(request: Request, error: Exception) -> JSONResponse:
    logger.info("write conflict: %s", type(error).__name__, extra={"path": request.url.path})
    return JSONResponse(
        {"detail": "conflicts with existing data"}, status_code=409, headers=_NO_STORE
    )


def _internal_error(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"detail": "internal server error"}, status_code=500, headers=_NO_STORE)


# SQLSTATE classes that mean "the database cannot serve this now, a retry may work":
# connection exceptions, insufficient resources, operator intervention (shutdowns, statement
# timeout), transaction rollback (serialization failure, deadlock), lock not available.
# https://www.postgresql.org/docs/current/errcodes-appendix.html
_OUTAGE_SQLSTATE_CLASSES = ("08", "53", "57", "40")
_OUTAGE_SQLSTATES = ("55P03", "55006")
# SQLite's equivalents: the file is locked by another writer.
_SQLITE_BUSY = ("SQLITE_BUSY", "SQLITE_LOCKED")


def is_outage(error: sa_exc.SQLAlchemyError) -> bool:
    """True when `error` means the database is unreachable or busy (503, retry), False for a
    fault of the server or its schema (500): a missing table is not an outage."""
    if isinstance(error, sa_exc.TimeoutError):  # no connection free in the pool
        return True
    if not isinstance(error, sa_exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    orig = error.orig
    sqlstate = getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate[:2] in _OUTAGE_SQLSTATE_CLASSES or sqlstate in _OUTAGE_SQLSTATES
    sqlite_name = getattr(orig, "sqlite_errorname", None)
    if sqlite_name is not None:
        return sqlite_name in _SQLITE_BUSY
    # No SQLSTATE: libpq failed before the server answered (refused, unreachable, timed out,
    # connection lost) or the driver lost the connection.
    return isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError)


def log_unexpected(kind: str, error: BaseException) -> None:
    """Log an unexpected error by type and location only, never its message: messages quote
    SQL values, server DETAIL lines and user input (contact messages are personal data)."""
    sqlstate = getattr(getattr(error, "orig", None), "pgcode", None)
    where = "".join(traceback.format_tb(error.__traceback__)).rstrip()
    logger.error(
        "%s: %s%s\n%s",
        kind,
        type(error).__name__,
        f" (SQLSTATE {sqlstate})" if sqlstate else "",
        where,
    )


async def _database_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, sa_exc.SQLAlchemyError)
    if isinstance(error, sa_exc.IntegrityError):
        return _conflict(request, error)
    if is_outage(error):
        return _database_unavailable(request, error)
    log_unexpected("database error", error)
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
    # Only for errors outside the InternalErrors middleware (which answers and logs the app's
    # own); Starlette re-raises after this answer, so the server logs those.
    return _internal_error(request, error)


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(sa_exc.SQLAlchemyError, _database_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled)
