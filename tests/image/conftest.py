"""The built image under test (session fixture) and the figures the tests measure.

The image is built once per session through scripts/engine.sh (the same path as `make image`,
offline base included when the real one cannot be pulled); IMAGE_UNDER_TEST=tag reuses an
image that is already built instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.image.support import FIGURES, BuiltImage, Emulator, build_image, host_arch, image_of

TAG = "portfolio-backend:latest"


@pytest.fixture(scope="session")
def image() -> BuiltImage:
    """The image for the host architecture, built (or reused with IMAGE_UNDER_TEST)."""
    reuse = os.environ.get("IMAGE_UNDER_TEST")
    if reuse:
        return image_of(reuse, host_arch())
    return build_image(TAG, host_arch())


@pytest.fixture
def start_emulator(image: BuiltImage) -> Iterator[Any]:
    """Start emulated containers of the image; all are removed when the test ends."""
    started: list[Emulator] = []

    def start(
        env: dict[str, str], handler: str = "handler.handler", built: BuiltImage | None = None
    ) -> Emulator:
        emulator = Emulator(built or image, env, handler)
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("image figures")
        for key, value in FIGURES.items():
            terminalreporter.write_line(f"{key}: {value}")
