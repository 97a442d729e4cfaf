"""Every sample event through the real Lambda emulator, in the running read-only image,
against the suite's PostgreSQL; and the cold start as a client sees it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from tests.conftest import expected_statuses, load_event
from tests.image.support import FIGURES, BuiltImage, Emulator

pytestmark = pytest.mark.image

EXPECTED = expected_statuses()


@pytest.fixture(scope="module")
def api(image: BuiltImage, lambda_env: dict[str, str]) -> Iterator[Emulator]:
    """One warm container for all events (each test reseeds the database it reads)."""
    emulator = Emulator(image, lambda_env, "handler.handler")
    try:
        response, seconds = emulator.first_invoke(load_event("http-v2/get-health.json"))
        assert response.get("statusCode") == 200, (response, emulator.logs()[-3000:])
        FIGURES["cold start: container start to first response (s)"] = round(seconds, 2)
        yield emulator
    finally:
        emulator.stop()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_gets_its_expected_status(name: str, api: Emulator, seeded_db: Engine) -> None:
    response: dict[str, Any] = api.invoke(load_event(name))

    assert response.get("statusCode") == EXPECTED[name], (response, api.logs()[-2000:])


def test_nothing_is_written_outside_tmp(api: Emulator) -> None:
    # The container runs with a read-only root: the events above prove that nothing needs
    # writing; this checks the function did not fail to write something and carry on.
    logs = api.logs()
    assert "Read-only file system" not in logs
    assert "Permission denied" not in logs
