"""docker-compose.yml, read as data (no compose engine is needed to check the wiring)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]


def test_postgres_has_a_health_check_the_others_wait_for() -> None:
    db = SERVICES["db"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert SERVICES["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("lambda", "devserver"):
        assert (
            SERVICES[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )


def test_the_function_image_runs_under_a_mounted_emulator_on_port_9000() -> None:
    fn = SERVICES["lambda"]
    assert fn["build"]["context"] == "."
    assert fn["entrypoint"][0] == "/rie"
    assert fn["command"] == ["handler.handler"]
    (mount,) = fn["volumes"]
    assert mount["target"] == "/rie" and mount["read_only"] is True
    assert mount["source"].startswith("${LAMBDA_RIE:?")  # a variable, never a baked-in copy
    assert fn["ports"] == ["127.0.0.1:9000:8080"]
    assert fn["read_only"] is True


def test_the_dev_server_serves_the_app_on_port_8000_with_the_pinned_uvicorn() -> None:
    dev = SERVICES["devserver"]
    command = " ".join(dev["command"])
    assert "uvicorn app.main:app --host 0.0.0.0 --port 8000" in command
    assert dev["ports"] == ["127.0.0.1:8000:8000"]
    pinned = re.search(r"^uvicorn==(\S+)", (ROOT / "requirements-dev.txt").read_text(), re.M)
    assert pinned and f"uvicorn=={pinned.group(1)}" in command


def test_every_service_uses_the_same_database() -> None:
    urls = {
        SERVICES[name]["environment"]["DATABASE_URL"] for name in ("migrate", "lambda", "devserver")
    }
    (url,) = urls
    db = SERVICES["db"]["environment"]
    assert url == (
        f"postgresql+psycopg2://{db['POSTGRES_USER']}:{db['POSTGRES_PASSWORD']}"
        f"@db:5432/{db['POSTGRES_DB']}"
    )
