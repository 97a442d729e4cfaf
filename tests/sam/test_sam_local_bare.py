"""The documents' bare SAM commands, run as written in a copy of the working tree.

First, with nothing else running (issue 17, section 7): `sam build`, then `sam local invoke
ApiFunction -e events/alb/get-health.json` answers 200 and a database route a 503 that says how
to start the database. samconfig.toml once named the Compose network, which does not exist
before `docker compose up`: SAM CLI crashed with a NotFound traceback.

Then with the Compose stack's database: `sam local invoke MigrateFunction`, `sam local invoke
ApiFunction -e events/...` and `sam local start-api`, each with `--docker-network
portfolio-local`, and samconfig.toml's `local_*` sections (the checked-in sam-local.env.json)
pointing them at the database: the offline PostgreSQL stand-in on the `portfolio-local`
network under the name `db` (what `docker compose up` gives it). The architecture is the
template's (arm64 as shipped; on this x86_64 host it builds and runs under qemu). One
machine-specific change, made in the copy only: python:3.11-slim cannot be pulled here, so the
template's DockerBuildArgs name the offline base (plus this host's CA bundle for pip behind a
TLS-inspecting proxy).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.workflows import readme
from tests.workflows.support import (
    base_with_host_ca,
    copy_of_the_working_tree,
    run_line,
    shell_env,
    start_line,
    stop_group,
)

pytestmark = [pytest.mark.sam, pytest.mark.image]

NETWORK = "portfolio-local"
BUILD = readme.command("sam build")
HEALTH = readme.command("sam local invoke ApiFunction -e events/alb/get-health.json")
NO_DATABASE = readme.command("sam local invoke ApiFunction -e events/alb/get-projects.json")
MIGRATE = readme.command("sam local invoke MigrateFunction --docker-network portfolio-local")
INVOKE = readme.command(
    "sam local invoke ApiFunction -e events/http-v2/get-projects.json --docker-network "
    "portfolio-local"
)
START_API = readme.command("sam local start-api --docker-network portfolio-local")
DB = "portfolio-workflows-sam-db"


def resolved_architecture(work: Path) -> str:
    """The architecture `sam build`, `sam deploy` and `sam local` all read: the template's
    Globals.Function.Architectures (the one place to change it, see the README's Deploy)."""

    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((work / "template.yaml").read_text(), Loader=_Loader)
    return str(template["Globals"]["Function"]["Architectures"][0])


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A copy of the working tree after `sam build`, as the documents show it."""
    work = copy_of_the_working_tree(tmp_path_factory.mktemp("sam-bare") / "portfolio")
    arch = {"x86_64": "amd64", "arm64": "arm64"}[resolved_architecture(work)]
    base = base_with_host_ca(f"localhost/portfolio-workflows-test-base:{arch}", arch)
    template = (work / "template.yaml").read_text()
    assert template.count("DockerBuildArgs: {}") == 3  # the API, migrate and drain functions
    (work / "template.yaml").write_text(
        template.replace("DockerBuildArgs: {}", f"DockerBuildArgs: {json.dumps({'BASE': base})}")
    )
    env = shell_env(
        DOCKER_HOST=os.environ.get("DOCKER_HOST", "unix:///run/podman/podman.sock"),
        SAM_CLI_TELEMETRY="0",
        AWS_DEFAULT_REGION="us-east-1",
        HOME=str(work),
    )
    run_line(BUILD, work, env, 3000)
    return work, env


@pytest.fixture(scope="module")
def project(built: tuple[Path, dict[str, str]]) -> Iterator[tuple[Path, dict[str, str]]]:
    """The built copy, with the Compose stack's database up on its network."""
    work, env = built
    image = run_line("make postgres-image", work, env, 1200).strip().splitlines()[-1]
    subprocess.run(["podman", "rm", "-f", DB], capture_output=True, check=False)
    created = subprocess.run(
        ["podman", "network", "create", NETWORK], capture_output=True, check=False
    )
    subprocess.run(
        ["podman", "run", "-d", "--name", DB, "--network", NETWORK, "--network-alias", "db",
         "-e", "POSTGRES_USER=portfolio", "-e", "POSTGRES_PASSWORD=portfolio",
         "-e", "POSTGRES_DB=portfolio", image],
        capture_output=True, check=True,
    )  # fmt: skip
    try:
        yield work, env
    finally:
        subprocess.run(["podman", "rm", "-f", DB], capture_output=True, check=False)
        if created.returncode == 0:  # ours: leave a network someone else made
            subprocess.run(["podman", "network", "rm", NETWORK], capture_output=True, check=False)


def test_the_first_step_needs_no_compose_stack(built: tuple[Path, dict[str, str]]) -> None:
    work, env = built
    # The state of a new user's machine: no Compose stack, so no network of that name.
    absent = subprocess.run(["podman", "network", "exists", NETWORK], check=False)
    assert absent.returncode == 1, f"{NETWORK} exists (left over?): this test needs it absent"
    health = _last_json(run_line(HEALTH, work, env, 600))
    assert health["statusCode"] == 200, health
    assert json.loads(str(health["body"]))["status"] == "ok"
    projects = _last_json(run_line(NO_DATABASE, work, env, 600))
    assert projects["statusCode"] == 503, projects
    detail = json.loads(str(projects["body"]))["detail"]
    assert "docker compose up" in detail and f"--docker-network {NETWORK}" in detail, detail


def _last_json(output: str) -> dict[str, object]:
    return dict(json.loads(output.strip().splitlines()[-1]))


def test_bare_invoke(
    project: tuple[Path, dict[str, str]],
) -> None:
    work, env = project
    deadline = time.monotonic() + 120
    while True:  # the database container initialises its cluster first
        try:
            migrated = _last_json(run_line(MIGRATE, work, env, 600))
            if migrated.get("current"):
                break
        except (AssertionError, ValueError):
            pass
        assert time.monotonic() < deadline, "MigrateFunction never reached the database"
        time.sleep(2)
    response = _last_json(run_line(INVOKE, work, env, 600))
    assert response["statusCode"] == 200, response
    assert json.loads(str(response["body"]))["items"] == []


def test_bare_start_api(project: tuple[Path, dict[str, str]]) -> None:
    work, env = project
    log = work / "start-api.log"
    server = start_line(START_API, work, env, log)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get("http://127.0.0.1:3000/health", timeout=120).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        assert httpx.head("http://127.0.0.1:3000/health", timeout=120).status_code == 200
        projects = httpx.get("http://127.0.0.1:3000/projects", timeout=120)
        assert projects.status_code == 200, projects.text
    finally:
        stop_group(server)
