"""scripts/engine.sh's Docker path, checked by the commands it would run (no daemon here)."""

from __future__ import annotations

import os
import shlex
import subprocess

from tests.conftest import ROOT

ENGINE_SH = ROOT / "scripts" / "engine.sh"


def dry_run(*args: str, **env: str) -> list[list[str]]:
    """The commands engine.sh would run with ENGINE=docker, each split into words."""
    done = subprocess.run(
        ["bash", str(ENGINE_SH), *args],
        env={**os.environ, "ENGINE": "docker", "DRY_RUN": "1", **env},
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return [shlex.split(line[2:]) for line in done.stdout.splitlines() if line.startswith("+ ")]


def option(command: list[str], flag: str) -> list[str]:
    """Every value given to `flag` in a command."""
    return [command[i + 1] for i, word in enumerate(command[:-1]) if word == flag]


def test_build_uses_buildkit_with_platform_and_base() -> None:
    (command,) = dry_run("build", "portfolio-backend:latest", "arm64")

    if command[0] == "env":
        assert command[1] == "DOCKER_BUILDKIT=1"
        command = command[2:]
    assert command[:2] == ["docker", "buildx"] or command[:2] == ["docker", "build"]
    assert "--load" in command or command[1] == "build"
    assert option(command, "--platform") == ["linux/arm64"]
    assert option(command, "--build-arg") == ["BASE=python:3.11-slim"]
    assert option(command, "-t") == ["portfolio-backend:latest"]
    assert option(command, "-f") == [str(ROOT / "Dockerfile")]
    assert command[-1] == str(ROOT)
    # The host CA bundle and podman's build settings stay on the podman path.
    assert not option(command, "-v")
    assert "--isolation" not in command
    assert "--format" not in command


def test_build_takes_arch_and_base_from_the_environment() -> None:
    (command,) = dry_run("build", "t", ARCH="x86_64", BASE="localhost/portfolio-base:x")

    assert option(command, "--platform") == ["linux/amd64"]
    assert option(command, "--build-arg") == ["BASE=localhost/portfolio-base:x"]


def test_run_local_is_locked_down_and_mounts_the_emulator() -> None:
    (command,) = dry_run(
        "run-local", "portfolio-backend:latest", "amd64",
        DATABASE_URL="postgresql://u@127.0.0.1/db", PORT="9000",
    )  # fmt: skip

    assert command[:2] == ["docker", "run"]
    for flag in ("--read-only", "--rm"):
        assert flag in command
    assert option(command, "--tmpfs") == ["/tmp"]
    assert option(command, "--cap-drop") == ["ALL"]
    assert option(command, "--security-opt") == ["no-new-privileges"]
    assert option(command, "--entrypoint") == ["/rie"]
    (mount,) = option(command, "-v")
    assert mount.endswith("samcli/local/rapid/aws-lambda-rie-x86_64:/rie:ro")
    assert option(command, "-e") == ["DATABASE_URL=postgresql://u@127.0.0.1/db"]
    assert option(command, "--network") == ["host"]
    assert option(command, "--runtime-interface-emulator-address") == ["127.0.0.1:9000"]
    # The image's own entry point and command, as Lambda runs them (read from the image; a dry
    # run assumes the project's Dockerfile).
    assert command[-4:] == ["python", "-m", "app.hosts.entry", "handler.handler"]
    assert "--ulimit" not in command  # podman's workaround, not Docker's


def test_run_local_on_a_bridge_publishes_port_9000() -> None:
    (command,) = dry_run("run-local", "portfolio-backend:latest", "arm64", NETWORK="bridge")

    assert option(command, "-p") == ["127.0.0.1:9000:8080"]
    assert option(command, "--platform") == ["linux/arm64"]
    assert option(command, "-v")[0].endswith("aws-lambda-rie-arm64:/rie:ro")


def test_invoke_posts_the_event_to_the_emulator() -> None:
    (command,) = dry_run("invoke", str(ROOT / "events" / "http-v2" / "get-health.json"))

    assert command[0] == "curl"
    assert command[-1] == "http://localhost:9000/2015-03-31/functions/function/invocations"
    assert f"@{ROOT / 'events' / 'http-v2' / 'get-health.json'}" in command
