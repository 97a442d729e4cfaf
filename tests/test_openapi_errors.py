"""Error responses name their body by reference (app/api/responses.py's ERROR_BODY), and the
document still says exactly what FastAPI would say for `"model": ErrorBody`
(app/api/openapi.py adds the schema to the components)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.api import deferred
from app.api.responses import ERROR_BODY
from app.api.schemas import ErrorBody
from app.endpoint_context import api_routes
from app.main import create_app
from app.settings import Settings

DOCUMENT = create_app(Settings(database_url="sqlite://")).openapi()


def _fastapis_own(status: int = 404) -> dict[str, Any]:
    """The document FastAPI writes for one route declaring the error body as a model."""
    reference = FastAPI()

    @reference.get("/x", responses={status: {"model": ErrorBody, "description": "d"}})
    async def x() -> None:
        return None

    return reference.openapi()


def test_the_error_body_schemas_are_fastapis_own() -> None:
    own = _fastapis_own()["components"]["schemas"]
    ours = DOCUMENT["components"]["schemas"]
    assert {name: ours[name] for name in own} == own  # ErrorBody and ValidationIssue
    assert list(ours) == sorted(ours)


def test_every_error_response_refers_to_the_error_body_as_fastapi_writes_it() -> None:
    written = _fastapis_own()["paths"]["/x"]["get"]["responses"]["404"]["content"]
    assert written == ERROR_BODY
    errors = [
        (path, method, status, response.get("content"))
        for path, operations in DOCUMENT["paths"].items()
        for method, operation in operations.items()
        for status, response in operation["responses"].items()
        if status[0] in "45"
    ]
    assert len(errors) > 40
    # FastAPI's own 422 for query and path parameters keeps its own body.
    http_validation = {
        "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
    }
    assert [e for e in errors if e[3] not in (ERROR_BODY, http_validation)] == []


def test_no_route_builds_a_validator_for_a_documented_response() -> None:
    # What the references save: FastAPI makes a validator at import for every response that
    # names a `model` (route.response_fields), 8 ms of a cold start for the 47 there were.
    app = create_app(Settings(database_url="sqlite://"))
    deferred.declare()
    assert {r.path: r.response_fields for r in api_routes(app.routes) if r.response_fields} == {}
