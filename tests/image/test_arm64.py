"""The architecture that ships: the arm64 image, built and invoked under qemu emulation.

Functional evidence only: under emulation start-up is several times slower than on arm64.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import load_event
from tests.image.support import FIGURES, build_image

pytestmark = [pytest.mark.image, pytest.mark.arm64, pytest.mark.timeout(3000)]


def test_arm64_image_builds_and_answers(start_emulator: Any) -> None:
    built = build_image("portfolio-backend:arm64", "arm64")
    assert built.inspect()["Architecture"] == "arm64"
    function = start_emulator({"DATABASE_URL": "sqlite:////tmp/portfolio.db"}, built=built)

    response, seconds = function.first_invoke(load_event("http-v2/get-health.json"), timeout=600)

    FIGURES["arm64 under qemu: container start to first response (s)"] = round(seconds, 2)
    assert response["statusCode"] == 200, (response, function.logs()[-3000:])
    machine = built.run_python("import platform; print(platform.machine())", "-I")
    assert machine.split() == ["aarch64"]
