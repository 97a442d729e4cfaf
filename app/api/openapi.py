"""The published OpenAPI document: FastAPI's, plus the error body its responses refer to.

Error responses name their body by reference (app/api/responses.py's ERROR_BODY) rather than
as a `model`, which FastAPI would turn into one validator per route and status at import; the
schema of that body is added to the components here, once, when the document is first asked
for. The document is the same either way (tests/test_openapi_errors.py holds it).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import TypeAdapter

from app.api import deferred
from app.api.schemas import ErrorBody

REF_PREFIX = "#/components/schemas/"


def install(app: FastAPI) -> None:
    """Serve FastAPI's document with ErrorBody (and what it refers to) in its components."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            deferred.declare()  # the document lists every route
            document = FastAPI.openapi(app)  # built, and cached in app.openapi_schema
            body = TypeAdapter(ErrorBody).json_schema(
                mode="serialization", ref_template=REF_PREFIX + "{model}"
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            schemas.update({**body.pop("$defs", {}), ErrorBody.__name__: body})
            # FastAPI lists the components by name.
            document["components"]["schemas"] = dict(sorted(schemas.items()))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
