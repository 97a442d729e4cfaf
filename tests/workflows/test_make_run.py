"""`make run`, `make seed`, `make migrate run` on PostgreSQL, `make lint` and `make events`, as the
README shows them, in a fresh copy of the working tree (no runtime virtualenv yet).

`make run` builds a lean runtime virtualenv (requirements.txt plus the pinned uvicorn): its size
and the first run's time are printed in the terminal summary, never asserted (shared machine).
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.workflows import readme
from tests.workflows.support import (
    FIGURES,
    ROOT,
    copy_of_the_working_tree,
    run_line,
    shell_env,
    start_line,
    stop_group,
)

pytestmark = [pytest.mark.slow]

DOTENV = readme.command(
    'echo "ADMIN_TOKEN_SHA256=$(printf %s '
    """'local-admin-token' | sha256sum | cut -d' ' -f1)" >> .env"""
)
SEED = readme.command("make seed")
RUN = readme.command("make run")
MIGRATE_RUN = readme.command(
    "DATABASE_URL=postgresql+psycopg2://portfolio:portfolio@localhost:5432/portfolio "
    "make migrate run"
)
LINT = readme.command("make lint")
EVENTS = readme.command("make events")
PROJECT = {"slug": "via-make-run", "title": "Via make run", "summary": "s", "body": "b"}


def _wait_ok(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.3)


def _du_bytes(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def test_make_run_on_a_fresh_tree(tmp_path: Path) -> None:
    work = copy_of_the_working_tree(tmp_path / "portfolio")
    env = shell_env(venv=False)
    run_line(DOTENV, work, env)

    start = time.monotonic()
    seeded = json.loads(run_line(SEED, work, env, 900).strip().splitlines()[-1])
    FIGURES["make seed, first run (runtime venv created), s"] = round(time.monotonic() - start, 1)
    assert len(seeded["added"]) == 5 and seeded["kept"] == []
    again = json.loads(run_line(SEED, work, env).strip().splitlines()[-1])
    assert again == {"added": [], "kept": seeded["added"]}  # a second run adds nothing

    venv = work / ".venv-run"
    FIGURES["runtime venv, MB"] = round(_du_bytes(venv) / 1e6, 1)
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    names = {p["name"].lower() for p in json.loads(installed)}
    assert "uvicorn" in names
    assert not names & {"aws-sam-cli", "cfn-lint", "schemathesis", "mypy", "pytest", "ruff"}

    log = tmp_path / "make-run.log"
    server = start_line(RUN, work, env, log)
    try:
        _wait_ok("http://127.0.0.1:8000/health", server, log)
        with httpx.Client(base_url="http://127.0.0.1:8000", timeout=10) as http:
            assert http.head("/health").status_code == 200
            page = http.get("/projects").json()
            assert page["total"] == 4  # the published samples; the draft stays hidden
            created = http.post(
                "/projects", json=PROJECT, headers={"Authorization": "Bearer local-admin-token"}
            )
            assert created.status_code == 201, created.text  # the digest came from .env
    finally:
        stop_group(server)
    assert (work / "portfolio.db").exists()  # the SQLite file of the README, in the tree


@pytest.mark.image
def test_make_migrate_run_on_postgresql(tmp_path: Path) -> None:
    # The Compose database's address: the offline stand-in published on 5432, as Compose does.
    image = run_line("make postgres-image", ROOT, shell_env(), 1200).strip().splitlines()[-1]
    name = "portfolio-workflows-test-pg"
    subprocess.run(["podman", "rm", "-f", name], capture_output=True, check=False)
    subprocess.run(
        ["podman", "run", "-d", "--name", name, "-p", "127.0.0.1:5432:5432",
         "-e", "POSTGRES_USER=portfolio", "-e", "POSTGRES_PASSWORD=portfolio",
         "-e", "POSTGRES_DB=portfolio", image],
        capture_output=True, check=True,
    )  # fmt: skip
    work = copy_of_the_working_tree(tmp_path / "portfolio")
    env = shell_env(venv=False)
    log = tmp_path / "make-migrate-run.log"
    server = None
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(["podman", "exec", name, "pg_isready", "-U", "portfolio"],
                             capture_output=True, check=False).returncode != 0:  # fmt: skip
            assert time.monotonic() < deadline, "the database did not get ready"
            time.sleep(0.5)
        server = start_line(MIGRATE_RUN, work, env, log)
        _wait_ok("http://127.0.0.1:8000/health/ready", server, log, timeout=600)
        assert httpx.get("http://127.0.0.1:8000/projects", timeout=10).json()["total"] == 0
        assert '"current": ' in log.read_text()  # make migrate printed its outcome
    finally:
        if server is not None:
            stop_group(server)
        subprocess.run(["podman", "rm", "-f", name], capture_output=True, check=False)


def test_make_lint_and_events_on_a_fresh_tree(tmp_path: Path) -> None:
    work = copy_of_the_working_tree(tmp_path / "portfolio")
    env = shell_env(venv=False)
    run_line(LINT, work, env, 900)
    before = {p.relative_to(work): p.read_bytes() for p in (work / "events").rglob("*.json")}
    run_line(EVENTS, work, env)
    after = {p.relative_to(work): p.read_bytes() for p in (work / "events").rglob("*.json")}
    assert after == before  # the committed events are what the generator writes
