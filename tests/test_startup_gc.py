"""No garbage collection while a Lambda environment starts; afterwards the collector runs again,
with what the start built frozen out of its passes (app/hosts/startup_gc.py). What it saves is
measured by bench/; whether the collector is on is deterministic."""

from __future__ import annotations

import pytest

from tests.support.fresh import fresh_json

HEAVY = ("fastapi", "sqlalchemy", "pydantic", "psycopg2", "starlette")

# Notes whether the collector is on as each heavy package starts to load, then imports the
# handler as the runtime client does (PRELOAD: a package imported before the handler).
CODE = (
    "import gc, json, sys\n"
    "on_at = {}\n"
    "class Spy:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    f"        if name in {HEAVY!r}:\n"
    "            on_at.setdefault(name, gc.isenabled())\n"
    "sys.meta_path.insert(0, Spy())\n"
    "PRELOAD\n"
    "import handler\n"
    "print(json.dumps({'on_at': on_at, 'enabled': gc.isenabled(),\n"
    "                  'frozen': gc.get_freeze_count() > 100_000}))\n"
)


def _run(runtime: bool, preload: str = "") -> dict[str, object]:
    env = {"DATABASE_URL": "postgresql+psycopg2://u@127.0.0.1:1/db"}
    if runtime:
        # Nothing listens there: the extension's registration fails at once and is logged.
        env["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:1"
    result: dict[str, object] = fresh_json(CODE.replace("PRELOAD", preload), **env)
    return result


@pytest.mark.parametrize("runtime", [True, False])
def test_the_heavy_imports_run_without_the_collector_which_is_on_after_init(
    runtime: bool,
) -> None:
    # Outside a Lambda runtime (tests, scripts) nothing is frozen: the importing process's
    # objects are its own business.
    assert _run(runtime) == {
        "on_at": dict.fromkeys(HEAVY, False),
        "enabled": True,
        "frozen": runtime,
    }


def test_the_check_sees_an_import_made_with_the_collector_on() -> None:
    assert _run(True, preload="import fastapi")["on_at"] == {
        **dict.fromkeys(HEAVY, False),
        # fastapi imports starlette and pydantic on its way.
        "fastapi": True,
        "starlette": True,
        "pydantic": True,
    }
