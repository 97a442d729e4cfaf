"""Helpers of the workflow tests: run a command as the README shows it and wait for a port."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from app.settings import Settings
from tests.support import free_port  # noqa: F401 - the workflow tests import it from here

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
# Figures measured by the workflow tests (printed by conftest.py, never asserted).
FIGURES: dict[str, object] = {}


# What the service reads: a user's shell has none of it unless the README says to set it, and a
# value the suite set for itself must not leak into a command run as the user runs it.
SERVICE_VARIABLES = frozenset(name.upper() for name in Settings.model_fields)


def shell_env(*, venv: bool = True, **overrides: str) -> dict[str, str]:
    """The environment of a user's shell in the repository (the virtualenv first on PATH, or
    not active at all with venv=False, as on a machine where `make` creates it)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PYTEST", "VIRTUAL_ENV")) and k not in SERVICE_VARIABLES
    }
    path = [p for p in env.get("PATH", "/usr/bin:/bin").split(":") if p != str(VENV_BIN)]
    env["PATH"] = ":".join([str(VENV_BIN), *path] if venv else path)
    env.update(overrides)
    return env


def run_line(line: str, cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    """Run one README line with bash (errexit, pipefail) and return its stdout."""
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", line],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def start_line(line: str, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a long-running README line (a server) in its own process group."""
    with log.open("wb") as out:
        return subprocess.Popen(
            ["bash", "-c", line], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop a process started by start_line and everything it started (make, uvicorn ...)."""
    import signal

    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


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


def base_with_host_ca(tag: str, arch: str = "amd64") -> str:
    """The base engine.sh resolves, plus this host's CA bundle, as a local test-only image.

    Behind a TLS-inspecting proxy only the host's bundle is trusted; `pip install` inside builds
    and containers (which Compose and SAM run without extra mounts) needs it. The project's files
    stay free of this machine's concerns: tests pass the result as BASE.
    """
    engine_sh = ["bash", str(ROOT / "scripts" / "engine.sh")]
    resolved = subprocess.run(
        [*engine_sh, "resolve-base", arch],
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
            ["podman", "build", "-q", "--platform", f"linux/{arch}", "-t", tag, context],
            check=False,
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert built.returncode == 0, built.stderr
    return tag


def copy_of_the_working_tree(target: Path, *, link_venv: bool = True) -> Path:
    """The repository's files as a new user would have them (tracked and new, not ignored),
    with the shared development virtualenv linked in unless link_venv is False."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    if link_venv:
        (target / ".venv").symlink_to(ROOT / ".venv")
    return target
