"""What a public request needs before its first response, and nothing more.

FastAPI prepares a route when it is declared, and an included router's routes again when a
request is first matched against them: the public reads are served as declared
(app/api/public.py), the rest is declared on first use (app/api/deferred.py); pydantic builds
a `defer_build` model's validator on first use. Both are deterministic, so they are held here;
what they save is measured by bench/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from fastapi.routing import APIRoute

from app.api import deferred
from app.endpoint_context import api_routes
from app.main import create_app
from app.security import require_admin
from app.settings import Settings
from tests.conftest import ADMIN_TOKEN_SHA256, ROOT, load_event
from tests.support.fresh import fresh_json

# Models only the admin's requests and the contact form validate.
NOT_BUILT_FOR_A_READ = ["ProjectCreate", "ProjectUpdate", "ContactCreate", "ContactUpdate"]


def _is_admin(route: APIRoute) -> bool:
    return any(d.call is require_admin for d in route.dependant.dependencies)


def test_every_admin_route_comes_after_every_public_one() -> None:
    app = create_app(Settings(database_url="sqlite://"))
    deferred.declare()
    routes = list(api_routes(app.router.routes))
    kinds = [_is_admin(r) for r in routes]
    assert any(kinds) and not all(kinds)
    first_admin = kinds.index(True)
    assert all(kinds[first_admin:]), [(r.methods, r.path) for r in routes]


def test_write_bodies_are_not_built_by_importing_the_handler_nor_by_a_public_read() -> None:
    code = (
        "import json, sys, handler; from app.api import schemas; "
        "from tests.conftest import lambda_context, load_event; "
        "before = {n: getattr(schemas, n).__pydantic_complete__ for n in sys.argv[1:]}; "
        "handler.handler(load_event('http-v2/get-health.json'), lambda_context()); "
        "after = {n: getattr(schemas, n).__pydantic_complete__ for n in sys.argv[1:]}; "
        "print(json.dumps([before, after]))"
    )
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": "sqlite://"}
    out = subprocess.run(
        [sys.executable, "-c", code, *NOT_BUILT_FOR_A_READ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    before, after = json.loads(out.splitlines()[-1])
    assert before == after == dict.fromkeys(NOT_BUILT_FOR_A_READ, False)


def test_a_first_public_read_loads_no_anyio_backend(seeded_db: Any, database_url: str) -> None:
    # FastAPI wraps a yield dependency in an anyio cancel scope, and its first use imports
    # anyio's asyncio backend (16 modules): the public reads open their reader in the route's
    # body instead (app/api/deps.py, `reading`). The reads must still be served from the database.
    code = (
        "import json, sys, handler; from tests.conftest import lambda_context, load_event; "
        "codes = [handler.handler(load_event(f'http-v2/{n}.json'), lambda_context())['statusCode']"
        " for n in ('get-projects', 'get-project')]; "
        "print(json.dumps([codes, sorted(m for m in sys.modules if m.startswith('anyio._back'))]))"
    )
    assert fresh_json(code, DATABASE_URL=database_url) == [[200, 200], []]


def test_an_admin_route_with_a_transaction_dependency_does_load_it(
    clean_db: Any, database_url: str
) -> None:
    # The check above could pass by no route ever importing the backend: a route whose
    # transaction is a yield dependency (app/api/deps.py's get_connection) does.
    code = (
        "import json, sys, handler; from tests.conftest import lambda_context, load_event; "
        "code = handler.handler(load_event('http-v2/delete-contact-admin.json'), "
        "lambda_context())['statusCode']; "
        "print(json.dumps([code, 'anyio._backends._asyncio' in sys.modules]))"
    )
    # No such message: still a database read.
    answer = fresh_json(code, DATABASE_URL=database_url, ADMIN_TOKEN_SHA256=ADMIN_TOKEN_SHA256)
    assert answer == [404, True]


def test_a_first_request_reads_no_source_file_and_errors_still_name_the_endpoint() -> None:
    # FastAPI notes each endpoint's file and line for its error messages on the route's first
    # request, reading and tokenizing the source (app/endpoint_context.py fills them in from
    # the code objects instead). linecache holds every source file read that way. (FastAPI
    # adds the request's path to the cached context itself.)
    code = (
        "import json, linecache, handler; from fastapi import routing; "
        "from app.api import health; "
        "from tests.conftest import lambda_context, load_event; "
        "status = handler.handler(load_event('http-v2/get-health.json'), lambda_context())"
        "['statusCode']; "
        "read = sorted(f for f in linecache.cache if '/app/' in f); "
        "context = dict(routing._endpoint_context_cache[id(health.health)]); "
        "context.pop('path'); "
        "import inspect; "
        "expected = {'file': inspect.getsourcefile(health.health), "
        "'line': inspect.getsourcelines(health.health)[1], 'function': 'health'}; "
        "print(json.dumps([status, read, context == expected]))"
    )
    assert fresh_json(code, DATABASE_URL="sqlite://") == [200, [], True]


# The modules of app/api/deferred.py's routes.
_DEFERRED_MODULES = (
    "sorted(m for m in sys.modules if m.startswith('app.api.admin.') or m == 'app.api.contact')"
)


def test_public_reads_declare_no_other_route(seeded_db: Any, database_url: str) -> None:
    # app/api/deferred.py: the contact form and the admin's routes cost INIT nothing, and a
    # public read, answered before the router reaches them, does not declare them either.
    code = (
        "import json, sys, handler; from app.api import deferred; "
        "from tests.conftest import lambda_context, load_event; "
        "codes = [handler.handler(load_event(f'http-v2/{n}.json'), lambda_context())['statusCode']"
        " for n in ('get-projects', 'get-project', 'get-health', 'get-projects')]; "
        f"print(json.dumps([codes, deferred.declared(), {_DEFERRED_MODULES}]))"
    )
    assert fresh_json(code, DATABASE_URL=database_url) == [[200, 200, 200, 200], [], []]


def _first_request(event: dict[str, Any], database_url: str) -> Any:
    """A fresh process whose first request is `event`: its answer, what it declared and read."""
    code = (
        "import json, linecache, sys, handler; from app.api import deferred; "
        "from tests.conftest import lambda_context; "
        "answer = handler.handler(json.loads(sys.argv[1]), lambda_context()); "
        "read = sorted(f for f in linecache.cache if '/app/' in f); "
        f"print(json.dumps([answer, deferred.declared(), {_DEFERRED_MODULES}, read]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps(event)],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": database_url,
            "ADMIN_TOKEN_SHA256": ADMIN_TOKEN_SHA256,
        },
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.splitlines()[-1])


# In the order of app/api/deferred.py's GROUPS, and as sys.modules lists them (sorted).
DECLARED = ["app.api.contact", "app.api.admin.projects", "app.api.admin.contact"]
LOADED = ["app.api.admin.contact", "app.api.admin.projects", "app.api.contact"]


@pytest.mark.parametrize(
    ("event", "status", "declared"),
    [
        # Past the contact form's group too: both groups are declared.
        ("post-project-admin", 201, DECLARED),
        # Answered by the first group: the admin's routes stay undeclared.
        ("post-contact", 202, ["app.api.contact"]),
    ],
)
def test_a_first_request_past_the_public_reads_declares_what_it_reaches_and_is_answered(
    clean_db: Any, database_url: str, event: str, status: int, declared: list[str]
) -> None:
    answer, groups, modules, read = _first_request(
        load_event(f"http-v2/{event}.json"), database_url
    )
    assert answer["statusCode"] == status, answer["body"]
    assert json.loads(answer["body"])["id" if event == "post-contact" else "slug"]
    # Declared on use, with their endpoints' error context filled in (no source file read).
    assert (groups, modules, read) == (declared, sorted(declared), [])


def test_a_method_only_an_admin_route_takes_is_declared_then_405_names_it(
    clean_db: Any, database_url: str
) -> None:
    event = load_event("http-v2/get-projects.json")
    event["requestContext"]["http"]["method"] = "PUT"
    answer, declared, modules, _ = _first_request(event, database_url)
    assert answer["statusCode"] == 405
    assert answer["headers"]["allow"] == "GET, HEAD, POST"
    assert (declared, modules) == (DECLARED, LOADED)


def test_the_openapi_document_declares_and_lists_the_admin_routes(
    clean_db: Any, database_url: str
) -> None:
    answer, declared, _, _ = _first_request(load_event("http-v2/get-openapi.json"), database_url)
    paths = json.loads(answer["body"])["paths"]
    assert declared == DECLARED
    assert sorted(paths["/projects"]) == ["get", "post"]
    assert sorted(paths["/projects/{slug}"]) == ["delete", "get", "patch"]
    assert sorted(paths["/contact"]) == ["get", "post"]
    assert sorted(paths["/contact/{message_id}"]) == ["delete", "patch"]
