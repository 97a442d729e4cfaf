"""Shutdown as Lambda does it, under the real emulator: the environment ends, and the function
gets SIGTERM only because it registered an (internal, no-op) extension.

The emulator implements Lambda's shutdown sequence (its `shutdown` in rapid): with no extension
registered it SIGKILLs the runtime; with one, it sends SIGTERM and waits. Stopping the emulator
(SIGTERM to it) runs that sequence ("Reset initiated: SandboxTerminated"). The container is run
without --rm so that its last log lines can be read after it has exited.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
import uuid

import pytest

from tests.conftest import load_event
from tests.image.support import (
    INVOKE_PATH,
    LOCKED_DOWN,
    ROOT,
    BuiltImage,
    engine,
    engine_name,
    free_port,
)

pytestmark = pytest.mark.image

SIGTERM_LINE = "SIGTERM: engine disposed, exiting"


def _rie(arch: str) -> str:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "engine.sh"), "rie-path", arch],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def _run_until_shut_down(image: BuiltImage) -> str:
    """Start the image under the emulator, invoke it once, stop the emulator; its logs."""
    name = f"portfolio-shutdown-{uuid.uuid4().hex[:8]}"
    port = free_port()
    ulimits = (
        ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]
        if engine_name() == "podman"
        else []
    )
    engine(
        "run", "--detach", "--name", name, "--platform", f"linux/{image.arch}", *LOCKED_DOWN,
        *ulimits, "--network", "host", "-v", f"{_rie(image.arch)}:/rie:ro", "--entrypoint", "/rie",
        image.tag,
        "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
        "--runtime-api-address", f"127.0.0.1:{port + 10000}",
        "python", "-m", "app.hosts.entry", "handler.handler",  # the image's ENTRYPOINT and CMD
    )  # fmt: skip
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{INVOKE_PATH}",
            data=json.dumps(load_event("http-v2/get-health.json")).encode(),
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    assert json.loads(response.read())["statusCode"] == 200
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        engine("kill", "--signal", "TERM", name)
        engine("wait", name, timeout=60)
        done = engine("logs", name)
        return done.stdout + done.stderr
    finally:
        engine("rm", "-f", name, check=False)


def test_lambda_sends_sigterm_because_an_extension_is_registered(image: BuiltImage) -> None:
    logs = _run_until_shut_down(image)
    assert "Internal agent portfolio-graceful-shutdown" in logs  # registered during INIT
    assert "subscribed to []" in logs  # no events: internal extensions may not take SHUTDOWN
    assert "Reset initiated: SandboxTerminated" in logs  # the emulator's shutdown sequence ran
    assert "Sending SIGKILL to runtime" not in logs
    assert SIGTERM_LINE in logs
    assert "Traceback" not in logs
