"""Path, query and header parameters shared by the routers, constrained like the bodies."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header, Path, Query

from app.api.schemas import END, SLUG_PATTERN


def pattern(portable: str) -> dict[str, Any]:
    """`pattern` arguments for a parameter: FastAPI checks parameters with pydantic's Rust
    engine, whose `$` is already the very end and which has no look-ahead; the schema
    publishes the portable form (app/api/schemas.py, END), which means the same."""

    def publish(schema: dict[str, Any]) -> None:
        for option in [schema, *schema.get("anyOf", [])]:  # optional parameters: anyOf null
            if "pattern" in option:
                option["pattern"] = portable

    return {"pattern": portable.removesuffix(END) + "$", "json_schema_extra": publish}


SlugPath = Annotated[str, Path(max_length=80, **pattern(SLUG_PATTERN))]
TagQuery = Annotated[str | None, Query(max_length=32, **pattern(SLUG_PATTERN))]
# Printable ASCII only: the key is stored and compared as text.
IdempotencyKey = Annotated[
    str | None, Header(min_length=1, max_length=200, **pattern(rf"^[\x21-\x7e]+{END}"))
]
