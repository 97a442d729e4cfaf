"""SAM CLI end to end on this machine: `sam build`, `sam local invoke`, `sam local start-api`.

They run through a Docker-compatible API (podman's service: DOCKER_HOST, default
unix:///run/podman/podman.sock, started by scripts/setup-containers.sh) and against the
suite's PostgreSQL, reached over the host network.

The template is built as shipped except for three local adjustments, made on a copy:
- Architectures: [x86_64] in Globals (the README's one-line edit for x86_64): this host is
  x86_64; the arm64 image is exercised under emulation by tests/image/ and test_sam_local_bare.
- DockerContext becomes the absolute repository path (the copy lives in a temporary folder).
- DockerBuildArgs name the base to build on: the base scripts/engine.sh resolves (the offline
  stand-in when the registry cannot be reached), extended with this host's CA bundle so that
  `pip install` inside the build trusts a TLS-inspecting proxy. SAM's build API cannot mount
  files into a build, and the Dockerfile must stay free of such local concerns.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import Engine, make_url

from tests.cloudformation import PHYSICAL_ID, ResponseBucket, custom_resource_event, response_bucket
from tests.conftest import ADMIN_TOKEN, ADMIN_TOKEN_SHA256, EVENTS, expected_statuses
from tests.support import free_port
from tests.workflows.support import SERVICE_VARIABLES

ROOT = Path(__file__).resolve().parents[2]
SAM = str(Path(sys.executable).parent / "sam")
DOCKER_HOST = os.environ.get("DOCKER_HOST", "unix:///run/podman/podman.sock")
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
VALID_EVENTS = sorted(name for name in expected_statuses() if not name.startswith("malformed/"))

pytestmark = [pytest.mark.sam, pytest.mark.image]


def _engine_answers() -> bool:
    if not DOCKER_HOST.startswith("unix://"):
        return True
    path = DOCKER_HOST.removeprefix("unix://")
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(2)
            sock.connect(path)
        return True
    except OSError:
        return False


@pytest.fixture(scope="module", autouse=True)
def _engine_is_there() -> None:
    # A failure, not a skip: a run that selected these tests must not pass without them.
    if not _engine_answers():
        pytest.fail(f"needs a container engine at {DOCKER_HOST} (scripts/setup-containers.sh)")


def _sam_env(home: Path) -> dict[str, str]:
    # As a user's shell: no AWS credentials, and none of the service's own variables, which
    # SAM CLI would pass on to the function for each one the template declares.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k not in SERVICE_VARIABLES
    }
    env.update(
        DOCKER_HOST=DOCKER_HOST,
        AWS_DEFAULT_REGION="us-east-1",
        SAM_CLI_TELEMETRY="0",
        HOME=str(home),
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
    )
    return env


def _run(
    cmd: list[str], env: dict[str, str], timeout: int, **kw: Any
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False, **kw
    )


def _base_with_host_ca(workdir: Path) -> str:
    """The resolved base plus this host's CA bundle, as a local test-only image."""
    engine = ["bash", str(ROOT / "scripts" / "engine.sh")]
    resolved = _run([*engine, "resolve-base", "amd64"], dict(os.environ), 1200)
    assert resolved.returncode == 0, resolved.stderr
    base = resolved.stdout.strip().splitlines()[-1]
    if not HOST_CA_BUNDLE.exists():
        return base
    context = workdir / "base-with-ca"
    context.mkdir()
    shutil.copy(HOST_CA_BUNDLE, context / "ca-certificates.crt")
    (context / "Containerfile").write_text(
        f"FROM {base}\nCOPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"
    )
    tag = "localhost/portfolio-sam-test-base:amd64"
    built = _run(["podman", "build", "-q", "-t", tag, str(context)], dict(os.environ), 600)
    assert built.returncode == 0, built.stderr
    return tag


def _bridge() -> tuple[str, ipaddress.IPv4Network]:
    """Gateway address and subnet of the engine's default bridge network."""
    import docker  # SAM CLI's own dependency

    client = docker.DockerClient(base_url=DOCKER_HOST)
    try:
        config = client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    finally:
        client.close()
    return config["Gateway"], ipaddress.ip_network(config["Subnet"])


class _Forwarder:
    """TCP relay from the bridge network to a loopback-only service on this host.

    SAM starts function containers on the engine's bridge network (its `--docker-network host`
    does not switch them to host networking), where 127.0.0.1 is the container itself. The relay
    listens on all interfaces, because the bridge interface may only appear with the first
    container, and drops every peer outside the bridge subnet.
    """

    def __init__(self, target_port: int, subnet: ipaddress.IPv4Network) -> None:
        self.target_port, self.subnet = target_port, subnet
        self.listener = socket.create_server(("0.0.0.0", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, (peer, _) = self.listener.accept()
            except OSError:
                return
            if ipaddress.ip_address(peer) not in self.subnet and peer != "127.0.0.1":
                client.close()
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def bridge() -> tuple[str, ipaddress.IPv4Network]:
    return _bridge()


@pytest.fixture(scope="module")
def sam_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam build` of a local copy of template.yaml; returns the built template."""
    work = tmp_path_factory.mktemp("sam")
    base = _base_with_host_ca(work)
    text = (ROOT / "template.yaml").read_text()
    # The API, migrate and drain functions.
    assert text.count("      DockerContext: .\n") == 3 and text.count("DockerBuildArgs: {}") == 3
    x86 = "\n    Architectures: [x86_64]\n"
    assert text.count("\n    Architectures: [arm64]\n") == 1
    text = text.replace("\n    Architectures: [arm64]\n", x86)
    args = json.dumps({"BASE": base})
    text = text.replace("      DockerContext: .\n", f"      DockerContext: {ROOT}\n").replace(
        "DockerBuildArgs: {}", f"DockerBuildArgs: {args}"
    )
    (work / "template.yaml").write_text(text)
    result = _run(
        [
            SAM,
            "build",
            "--template",
            str(work / "template.yaml"),
            "--build-dir",
            str(work / "build"),
        ],
        _sam_env(work),
        1800,
        cwd=work,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return work / "build" / "template.yaml"


@pytest.fixture(scope="module")
def env_vars(
    sam_build: Path, database_url: str, bridge: tuple[str, ipaddress.IPv4Network]
) -> Iterator[Path]:
    """--env-vars: the suite's database and admin digest instead of AWS's secret and SSM."""
    url = make_url(database_url)
    relay = _Forwarder(int(url.port or 5432), bridge[1])
    container_url = url.set(host=bridge[0], port=relay.port).render_as_string(hide_password=False)
    local = {
        "DATABASE_URL": container_url,
        "DATABASE_SECRET_ARN": "",
        "DB_HOST": "",
        "DB_PORT": "",
        "DB_NAME": "",
        "DB_USER": "",
        # The template's create mode connects with IAM auth over verified TLS; locally the
        # URL's plaintext database: "" is unset (IAM off, libpq's default sslmode).
        "DB_IAM_AUTH": "",
        "DB_SSLMODE": "",
        "ADMIN_TOKEN_SHA256": ADMIN_TOKEN_SHA256,
        "SCHEMA_REVISION": "",
        "FALLBACK_BUCKET": "",  # no S3 here: the paused-database fallback is off locally
        "DB_CONNECT_TIMEOUT": "3",
    }
    path = sam_build.parent.parent / "env.json"
    path.write_text(json.dumps({"ApiFunction": local, "MigrateFunction": local}))
    yield path
    relay.close()


PARAMETERS = ["--parameter-overrides", "AdminTokenDigestName=local"]


def _invoke(sam_build: Path, env_vars: Path, function: str, event: Path) -> dict[str, Any]:
    result = _run(
        [
            SAM,
            "local",
            "invoke",
            function,
            "--template",
            str(sam_build),
            "--event",
            str(event),
            "--env-vars",
            str(env_vars),
            *PARAMETERS,
        ],
        _sam_env(sam_build.parent.parent),
        300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # The function's response is the last line of stdout; logs go to stderr.
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_sam_build_builds_one_image_for_both_functions(sam_build: Path) -> None:
    from cfnlint.decode import decode

    built, _ = decode(str(sam_build))
    assert built is not None
    uris = {
        built["Resources"][name]["Properties"]["ImageUri"]
        for name in ("ApiFunction", "MigrateFunction", "DrainFunction")
    }
    assert len(uris) == 1  # same Dockerfile, context and build args: SAM builds it once


def test_migrate_function_upgrades_to_head(sam_build: Path, env_vars: Path, tmp_path: Path) -> None:
    event = tmp_path / "empty.json"
    event.write_text("{}")
    result = _invoke(sam_build, env_vars, "MigrateFunction", event)
    assert result.get("current"), result
    assert result["applied"] == []  # the suite's database is already at head


@pytest.mark.parametrize("name", VALID_EVENTS)
def test_sam_local_invoke_answers_each_event_with_its_status(
    name: str, sam_build: Path, env_vars: Path, seeded_db: Engine
) -> None:
    response = _invoke(sam_build, env_vars, "ApiFunction", EVENTS / name)
    assert response["statusCode"] == expected_statuses()[name], str(response)[:500]


# -- the migration custom resource, as CloudFormation drives it ------------------------------


def _has_address(address: str) -> bool:
    try:
        socket.create_server((address, 0)).close()
        return True
    except OSError:
        return False


@pytest.mark.parametrize("request_type", ["Create", "Update", "Delete"])
def test_migrate_function_answers_cloudformation(
    request_type: str,
    sam_build: Path,
    env_vars: Path,
    bridge: tuple[str, ipaddress.IPv4Network],
    tmp_path: Path,
) -> None:
    bind = bridge[0] if _has_address(bridge[0]) else "0.0.0.0"
    path = tmp_path / "event.json"
    with response_bucket(bind=bind, host=bridge[0]) as url:
        path.write_text(json.dumps(custom_resource_event(url, request_type)))
        _invoke(sam_build, env_vars, "MigrateFunction", path)
    (put,) = ResponseBucket.received
    answer = put["body"]
    assert answer["Status"] == "SUCCESS", answer
    assert answer["RequestId"] == f"req-{request_type}"
    if request_type != "Delete":
        assert answer["Data"]["Current"]  # the template reads !GetAtt DatabaseMigration.Current
    if request_type != "Create":
        assert answer["PhysicalResourceId"] == PHYSICAL_ID


# -- sam local start-api ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def start_api(sam_build: Path, env_vars: Path) -> Iterator[str]:
    port = free_port()
    log = (sam_build.parent.parent / "start-api.log").open("w")
    process = subprocess.Popen(
        [
            SAM,
            "local",
            "start-api",
            "--template",
            str(sam_build),
            "--port",
            str(port),
            "--env-vars",
            str(env_vars),
            "--warm-containers",
            "LAZY",
            *PARAMETERS,
        ],
        env=_sam_env(sam_build.parent.parent),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, Path(log.name).read_text()[-3000:]
            try:
                if httpx.get(f"{url}/health", timeout=60).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, Path(log.name).read_text()[-3000:]
            time.sleep(1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_start_api_serves_the_routes_over_http(start_api: str, seeded_db: Engine) -> None:
    with httpx.Client(base_url=start_api, timeout=60) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/health/ready").json() == {"status": "ok", "database": "ok"}

        page = client.get("/projects", params={"limit": 5})
        assert page.status_code == 200
        assert [p["slug"] for p in page.json()["items"]] == ["hello-world"]
        assert client.get("/projects/hello-world").json()["title"] == "Hello, world"
        assert client.get("/projects/nope").status_code == 404

        sent = client.post(
            "/contact",
            json={"name": "Ada", "email": "ada@example.com", "message": "Hello from sam local"},
        )
        assert sent.status_code == 202 and sent.json()["status"] == "received"

        assert client.post("/projects", json={}).status_code == 401
        created = client.post(
            "/projects",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            json={
                "slug": "via-start-api",
                "title": "Via start-api",
                "summary": "s",
                "body": "b",
                "tags": [],
                "featured": False,
                "published": True,
            },
        )
        assert created.status_code == 201, created.text

        docs = client.get("/docs")
        assert docs.status_code == 200 and "/openapi.json" in docs.text
        assert client.get("/openapi.json").json()["info"]["title"] == "portfolio-backend"


# -- a deploy-time dynamic reference SAM CLI cannot resolve --------------------------------------


def test_unresolved_admin_digest_reference_starts_with_admin_closed(
    sam_build: Path, env_vars: Path, seeded_db: Engine, tmp_path: Path
) -> None:
    # Without an --env-vars value for ADMIN_TOKEN_SHA256, SAM CLI hands the function the
    # template's `{{resolve:ssm:...}}` text as it stands. INIT must survive it.
    local = json.loads(env_vars.read_text())["ApiFunction"]
    del local["ADMIN_TOKEN_SHA256"]
    without_digest = tmp_path / "env.json"
    without_digest.write_text(json.dumps({"ApiFunction": local}))
    result = _run(
        [
            SAM, "local", "invoke", "ApiFunction",
            "--template", str(sam_build),
            "--event", str(EVENTS / "http-v2" / "post-project-admin.json"),
            "--env-vars", str(without_digest),
            "--parameter-overrides",
            "AdminTokenDigestName=/portfolio/admin-token-sha256",
        ],
        _sam_env(sam_build.parent.parent),
        300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    response = json.loads(result.stdout.strip().splitlines()[-1])
    assert response["statusCode"] == 503, response
    assert json.loads(response["body"]) == {"detail": "admin access is not configured"}
    named = [line for line in result.stderr.splitlines() if "ADMIN_TOKEN_SHA256" in line]
    assert len(named) == 1 and "unresolved" in named[0], result.stderr[-3000:]
