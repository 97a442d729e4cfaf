"""docker-compose.yml, run for real as the README shows it (podman-compose where no Docker daemon
answers): the stack comes up, the database turns healthy, `migrate` completes, the image as a
web server (8000), the dev server (8001) and the function under the emulator (9000) answer, an
admin write through one is read through the others, and `down -v` leaves no container, volume
or network behind.

Registries cannot be reached here, so the offline stand-ins are selected the way the compose file
documents: BASE (the offline python:3.11-slim, plus this host's CA bundle so that pip inside the
build and the dev server trusts a TLS-inspecting proxy) and POSTGRES_IMAGE (`make
postgres-image`). The commands run in a copy of the working tree: `.env` and the project name
(the folder's name) are then this test's own.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.workflows import readme
from tests.workflows.support import (
    ROOT,
    base_with_host_ca,
    copy_of_the_working_tree,
    run_line,
    shell_env,
)

pytestmark = [pytest.mark.image]

UP = readme.command("docker compose up --build")
DOWN = readme.command("docker compose down -v")
EXPORT_RIE = readme.command("export LAMBDA_RIE=$(scripts/engine.sh rie-path)")
DOTENV = readme.command(
    'echo "ADMIN_TOKEN_SHA256=$(printf %s '
    """'local-admin-token' | sha256sum | cut -d' ' -f1)" >> .env"""
)
CURL_WEB = readme.command("curl localhost:8000/health")
CURL_DEV = readme.command("curl localhost:8001/health")
CURL_FN = readme.command(
    "curl -d @events/http-v2/get-health.json "
    "localhost:9000/2015-03-31/functions/function/invocations"
)
CURL_ADMIN = readme.command(
    "curl -X POST localhost:8000/projects -H 'Authorization: Bearer local-admin-token' "
    "-H 'content-type: application/json' "
    """-d '{"slug":"hello","title":"Hello","summary":"First","body":"# Hi","published":true}'"""
)
MAKE_POSTGRES_IMAGE = "make postgres-image"  # named in the README's prose


def compose_cli(command: str) -> str:
    """The README's `docker compose ...` line, with podman-compose where Docker is absent.

    Both must answer: a Docker daemon (`docker info` also succeeds against podman's socket when
    DOCKER_HOST points at it) and the Compose plugin, which the bare client lacks.
    """
    answers = [
        subprocess.run(args, capture_output=True, check=False).returncode == 0
        for args in (["docker", "info"], ["docker", "compose", "version"])
    ]
    if all(answers):
        return command
    return command.replace("docker compose", str(ROOT / ".venv" / "bin" / "podman-compose"), 1)


def project_leftovers(project: str) -> dict[str, list[str]]:
    label = f"label=io.podman.compose.project={project}"
    found = {
        "containers": ["ps", "-a", "--filter", label, "--format", "{{.Names}}"],
        "volumes": ["volume", "ls", "--filter", label, "--format", "{{.Name}}"],
        "networks": ["network", "ls", "--format", "{{.Name}}"],
        "pods": ["pod", "ls", "--format", "{{.Name}}"],
    }
    leftovers = {}
    for kind, args in found.items():
        out = subprocess.run(["podman", *args], capture_output=True, text=True, check=True).stdout
        leftovers[kind] = [
            n for n in out.split() if kind in ("containers", "volumes") or project in n
        ]
    return leftovers


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, str], subprocess.Popen[bytes]]]:
    work = copy_of_the_working_tree(tmp_path_factory.mktemp("compose") / "portfolio-compose-test")
    env = shell_env(BUILDAH_ISOLATION="chroot")
    postgres_image = run_line(MAKE_POSTGRES_IMAGE, work, env, 1200).strip().splitlines()[-1]
    env["POSTGRES_IMAGE"] = postgres_image
    env["BASE"] = base_with_host_ca("localhost/portfolio-workflows-test-base:amd64")
    run_line(DOTENV, work, env)
    env["LAMBDA_RIE"] = run_line(f"{EXPORT_RIE}; echo $LAMBDA_RIE", work, env).strip()
    log = (work / "compose-up.log").open("w")
    up = subprocess.Popen(
        ["bash", "-c", compose_cli(UP)], cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield work, env, up
    finally:
        run_line(compose_cli(DOWN), work, env, 300)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
        log.close()


def _wait(
    what: str, check: object, log: Path, up: subprocess.Popen[bytes], timeout: float = 600
) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        # `up` stays in the foreground while the stack runs: its exit means the stack failed.
        assert up.poll() is None, f"{what}: compose up exited\n{log.read_text()[-4000:]}"
        assert time.monotonic() < deadline, (
            f"{what}: not within {timeout} s\n{log.read_text()[-4000:]}"
        )
        time.sleep(1)


def _container(project: str, service: str) -> str:
    return f"{project}_{service}_1"


def _inspect(name: str) -> dict[str, object]:
    out = subprocess.run(["podman", "inspect", name], capture_output=True, text=True, check=False)
    return json.loads(out.stdout)[0] if out.returncode == 0 else {}


def _healthy(name: str) -> bool:
    # podman runs health checks from systemd timers; without systemd (containers, CI) they run
    # only on demand, so ask for one, as the timer would.
    subprocess.run(["podman", "healthcheck", "run", name], capture_output=True, check=False)
    state = _inspect(name).get("State", {})
    return isinstance(state, dict) and state.get("Health", {}).get("Status") == "healthy"


def _exited_zero(name: str) -> bool:
    state = _inspect(name).get("State", {})
    return (
        isinstance(state, dict) and state.get("Status") == "exited" and state.get("ExitCode") == 0
    )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def test_compose_up_serves_both_ports_and_down_leaves_nothing(
    stack: tuple[Path, dict[str, str], subprocess.Popen[bytes]],
) -> None:
    work, env, up = stack
    project, log = work.name, work / "compose-up.log"
    _wait("db healthy", lambda: _healthy(_container(project, "db")), log, up)
    _wait("migrate completed", lambda: _exited_zero(_container(project, "migrate")), log, up)
    migrate_log = subprocess.run(
        ["podman", "logs", _container(project, "migrate")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    # `migrate` or the dev server (which migrates before serving) got there first: either way
    # the function image's migrate handler ran to the end and found the schema at head.
    outcome = json.loads(migrate_log.strip().splitlines()[-1])
    assert outcome["current"], outcome
    _wait("web", lambda: _answers("http://127.0.0.1:8000/health"), log, up)
    _wait("dev server", lambda: _answers("http://127.0.0.1:8001/health"), log, up)

    assert json.loads(run_line(CURL_WEB, work, env)) == {"status": "ok"}
    assert json.loads(run_line(CURL_DEV, work, env)) == {"status": "ok"}
    # `web` is the image's own entry point serving HTTP (JSON logs), not the dev server.
    web_log = subprocess.run(
        ["podman", "logs", _container(project, "web")], capture_output=True, text=True, check=True
    )
    assert "app.http" in web_log.stderr + web_log.stdout
    health = json.loads(run_line(CURL_FN, work, env))
    assert (health["statusCode"], json.loads(health["body"])) == (200, {"status": "ok"})

    created = json.loads(run_line(CURL_ADMIN, work, env))  # the token's digest came from .env
    assert created["slug"] == "hello", created
    for port in (8000, 8001):  # the web server and the dev server, one database
        listed = httpx.get(f"http://127.0.0.1:{port}/projects", timeout=10).json()
        assert [p["slug"] for p in listed["items"]] == ["hello"]
    event = json.loads((ROOT / "events/http-v2/get-projects.json").read_text())
    through_fn = httpx.post(
        "http://127.0.0.1:9000/2015-03-31/functions/function/invocations", json=event, timeout=60
    ).json()
    assert [p["slug"] for p in json.loads(through_fn["body"])["items"]] == ["hello"]

    run_line(compose_cli(DOWN), work, env, 300)
    assert project_leftovers(project) == {
        "containers": [],
        "volumes": [],
        "networks": [],
        "pods": [],
    }
