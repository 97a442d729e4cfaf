"""Shutdown as Lambda does it, under the real emulator: the environment ends, and the function
gets SIGTERM only because it registered an (internal, no-op) extension.

The emulator implements Lambda's shutdown sequence (its `shutdown` in rapid): with no extension
registered it SIGKILLs the runtime; with one, it sends SIGTERM and waits. Stopping the emulator
(SIGTERM to it) runs that sequence ("Reset initiated: SandboxTerminated"). The container is run
with the project's own runner, whose log lines are followed up to its exit.
"""

from __future__ import annotations

import pytest

from tests.conftest import load_event
from tests.image.running_function import podman, running_function
from tests.image.support import BuiltImage

pytestmark = pytest.mark.image

SIGTERM_LINE = "SIGTERM: engine disposed, exiting"


def _run_until_shut_down(image: BuiltImage) -> str:
    """Start the image with the project's own runner (engine.sh run-local: the image's ENTRYPOINT
    and CMD behind the emulator), invoke it once, stop the emulator; its logs to the end."""
    with running_function(image.tag, {"DATABASE_URL": "sqlite:////tmp/portfolio.db"}) as function:
        assert function.wait_ready(load_event("http-v2/get-health.json"))["statusCode"] == 200
        podman("kill", "--signal", "TERM", function.name)
        return function.logs_until_exit()


def test_lambda_sends_sigterm_because_an_extension_is_registered(image: BuiltImage) -> None:
    logs = _run_until_shut_down(image)
    assert "Internal agent portfolio-graceful-shutdown" in logs  # registered during INIT
    assert "subscribed to []" in logs  # no events: internal extensions may not take SHUTDOWN
    assert "Reset initiated: SandboxTerminated" in logs  # the emulator's shutdown sequence ran
    assert "Sending SIGKILL to runtime" not in logs
    assert SIGTERM_LINE in logs
    assert "Traceback" not in logs
