"""Helpers of the workflow tests: run a command as the README shows it and wait for a port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def shell_env(**overrides: str) -> dict[str, str]:
    """The environment of a user's shell in the repository: the virtualenv first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '/usr/bin:/bin')}"
    env.update(overrides)
    return env


def wait_for_http(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Poll `url` until it answers (any status); fail early if `process` exits."""
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, f"exited with {process.returncode} before {url} answered"
        try:
            httpx.get(url, timeout=5)
            return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} did not answer within {timeout} s"
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def base_with_host_ca(tag: str) -> str:
    """The base engine.sh resolves, plus this host's CA bundle, as a local test-only image.

    Behind a TLS-inspecting proxy only the host's bundle is trusted; `pip install` inside builds
    and containers (which Compose and SAM run without extra mounts) needs it. The project's files
    stay free of this machine's concerns: tests pass the result as BASE.
    """
    engine_sh = ["bash", str(ROOT / "scripts" / "engine.sh")]
    resolved = subprocess.run(
        [*engine_sh, "resolve-base", "amd64"],
        check=False,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert resolved.returncode == 0, resolved.stderr
    base = resolved.stdout.strip().splitlines()[-1]
    if not HOST_CA_BUNDLE.exists():
        return base
    with tempfile.TemporaryDirectory() as context:
        shutil.copy(HOST_CA_BUNDLE, Path(context) / "ca-certificates.crt")
        (Path(context) / "Containerfile").write_text(
            f"FROM {base}\nCOPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"
        )
        built = subprocess.run(
            ["podman", "build", "-q", "-t", tag, context],
            check=False,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert built.returncode == 0, built.stderr
    return tag
