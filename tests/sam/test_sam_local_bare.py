"""The README's bare SAM commands, run as written in a copy of the working tree: `sam build`,
`sam local invoke MigrateFunction`, `sam local invoke ApiFunction -e events/...` and
`sam local start-api`, with nothing but samconfig.toml's `local_*` sections (the checked-in
sam-local.env.json and the `portfolio-local` network) to point them at the database.

The database is the Compose stack's, as the README says: the offline PostgreSQL stand-in on the
`portfolio-local` network under the name `db` (what `docker compose up` gives it). The
architecture is the template's (arm64 as shipped; on this x86_64 host it builds and runs under
qemu). One machine-specific change, made in the copy
only: python:3.11-slim cannot be pulled here, so the template's DockerBuildArgs name the offline
base (plus this host's CA bundle for pip behind a TLS-inspecting proxy).
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

BUILD = readme.command("sam build")
MIGRATE = readme.command("sam local invoke MigrateFunction")
INVOKE = readme.command("sam local invoke ApiFunction -e events/http-v2/get-projects.json")
START_API = readme.command("sam local start-api")
NETWORK = "portfolio-local"
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
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    work = copy_of_the_working_tree(tmp_path_factory.mktemp("sam-bare") / "portfolio")
    arch = {"x86_64": "amd64", "arm64": "arm64"}[resolved_architecture(work)]
    base = base_with_host_ca(f"localhost/portfolio-workflows-test-base:{arch}", arch)
    template = (work / "template.yaml").read_text()
    assert template.count("DockerBuildArgs: {}") == 2
    (work / "template.yaml").write_text(
        template.replace("DockerBuildArgs: {}", f"DockerBuildArgs: {json.dumps({'BASE': base})}")
    )
    env = shell_env(
        DOCKER_HOST=os.environ.get("DOCKER_HOST", "unix:///run/podman/podman.sock"),
        SAM_CLI_TELEMETRY="0",
        AWS_DEFAULT_REGION="us-east-1",
        HOME=str(work),
    )
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
        run_line(BUILD, work, env, 3000)
        yield work, env
    finally:
        subprocess.run(["podman", "rm", "-f", DB], capture_output=True, check=False)
        if created.returncode == 0:  # ours: leave a network someone else made
            subprocess.run(["podman", "network", "rm", NETWORK], capture_output=True, check=False)


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
