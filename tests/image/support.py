"""Helpers of the image tests: the engine, the built image, the emulator, measured figures."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests import support

ROOT = Path(__file__).resolve().parents[2]

ENGINE_SH = ["bash", str(ROOT / "scripts" / "engine.sh")]
INVOKE_PATH = "/2015-03-31/functions/function/invocations"
# Flags every test container gets: what Lambda gives a function, no more.
LOCKED_DOWN = [
    "--read-only",
    "--tmpfs",
    "/tmp",
    "--cap-drop",
    "ALL",
    "--security-opt",
    "no-new-privileges",
]

# Measured figures, printed at the end of the session (see pytest_terminal_summary below).
FIGURES: dict[str, Any] = {}


def engine_name() -> str:
    """docker or podman, as scripts/engine.sh decides."""
    done = subprocess.run([*ENGINE_SH, "engine"], check=True, capture_output=True, text=True)
    return done.stdout.strip()


def engine(
    *args: str, check: bool = True, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the engine's CLI (podman on runc and cgroupfs, as engine.sh does)."""
    name = engine_name()
    flags = (
        ["--runtime", "runc", "--cgroup-manager", "cgroupfs"]
        if name == "podman" and shutil.which("runc")
        else []
    )
    return subprocess.run(
        [name, *flags, *args], check=check, capture_output=True, text=True, timeout=timeout
    )


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    base: str
    arch: str  # amd64 or arm64

    def inspect(self, image: str | None = None) -> dict[str, Any]:
        out = engine("image", "inspect", image or self.tag).stdout
        data: dict[str, Any] = json.loads(out)[0]
        return data

    def run_python(self, code: str, *python_flags: str, env: dict[str, str] | None = None) -> str:
        """`python FLAGS -c CODE` in a locked-down container of the image: stdout + stderr."""
        env_flags = [f"--env={k}={v}" for k, v in (env or {}).items()]
        done = engine(
            "run", "--rm", "--platform", f"linux/{self.arch}", *LOCKED_DOWN, "--network", "host",
            *env_flags,
            "--entrypoint", "python", self.tag, *python_flags, "-c", code,
        )  # fmt: skip
        return done.stdout + done.stderr


def build_image(tag: str, arch: str) -> BuiltImage:
    """Build through engine.sh as `make image` does, timing it; the base is read from the label."""
    start = time.monotonic()
    done = subprocess.run(
        [*ENGINE_SH, "build", tag, arch], check=False, capture_output=True, text=True, timeout=3000
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    FIGURES[f"build seconds ({arch}, layers cached when unchanged)"] = round(
        time.monotonic() - start, 1
    )
    return image_of(tag, arch)


def image_of(tag: str, arch: str) -> BuiltImage:
    labels = json.loads(engine("image", "inspect", tag).stdout)[0]["Config"].get("Labels") or {}
    return BuiltImage(tag=tag, base=labels["org.opencontainers.image.base.name"], arch=arch)


def host_arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)


def free_port() -> int:
    """A loopback port whose +10000 neighbour (the emulator's runtime API) is valid too."""
    return support.free_port(below=55000)


class Emulator:
    """The image running under the real Lambda emulator via `engine.sh run-local`."""

    def __init__(self, image: BuiltImage, env: dict[str, str], handler: str) -> None:
        """Start detached with `env` (a file, so values never show in a process list)."""
        self.port = free_port()
        self.name = f"portfolio-image-test-{uuid.uuid4().hex[:8]}"
        self.env_file = ROOT / ".pytest_cache" / f"{self.name}.env"
        self.env_file.parent.mkdir(exist_ok=True)
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        script_env = {
            **os.environ,
            "PORT": str(self.port),
            "NAME": self.name,
            "DETACH": "1",
            "ENV_FILE": str(self.env_file),
            "DATABASE_URL": env.get("DATABASE_URL", "sqlite:////tmp/portfolio.db"),
            "HANDLER": handler,
        }
        self.started = time.monotonic()
        subprocess.run(
            [*ENGINE_SH, "run-local", image.tag, image.arch],
            check=True, capture_output=True, text=True, env=script_env, timeout=120,
        )  # fmt: skip

    def invoke(self, event: Any, timeout: float = 60) -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{INVOKE_PATH}",
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload: dict[str, Any] = json.loads(response.read())
        return payload

    def first_invoke(self, event: Any, timeout: float = 120) -> tuple[dict[str, Any], float]:
        """Invoke as soon as the emulator listens; returns the response and the seconds from
        container start to that first response (the cold start as a client sees it)."""
        deadline = self.started + timeout
        while True:
            try:
                response = self.invoke(event, timeout=timeout)
                return response, time.monotonic() - self.started
            except (ConnectionError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def logs(self) -> str:
        done = engine("logs", self.name, check=False)
        return done.stdout + done.stderr

    def stop(self) -> None:
        engine("rm", "-f", self.name, check=False)
        with contextlib.suppress(FileNotFoundError):
            self.env_file.unlink()
