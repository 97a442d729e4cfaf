"""`make seed`: a handful of realistic sample projects in the database DATABASE_URL names.

All or nothing, in one transaction; projects whose slug already exists are left as they are,
so running it twice adds nothing. Run from the repository root: `python -m scripts.seed`.
"""

from __future__ import annotations

import json
from typing import Any

from app.api import schemas
from app.data import crud
from app.engine import engine_for
from app.settings import get_settings

SAMPLE_PROJECTS: list[dict[str, Any]] = [
    {
        "slug": "portfolio-backend",
        "title": "Portfolio backend",
        "summary": "This API: FastAPI on AWS Lambda as a container image, PostgreSQL behind it.",
        "body": "## Why\n\nA portfolio that deploys as it stands, starts fast and survives bad "
        "input.\n\n## Stack\n\nFastAPI, SQLAlchemy Core, Mangum, AWS SAM, Aurora Serverless v2.",
        "tags": ["python", "fastapi", "aws-lambda", "postgresql"],
        "url": "https://example.com/projects/portfolio-backend",
        "repo_url": "https://github.com/example/portfolio-backend",
        "featured": True,
        "published": True,
    },
    {
        "slug": "trail-weather",
        "title": "Trail weather",
        "summary": "Hourly mountain forecasts for the trailheads I hike from, as a static site.",
        "body": "Pulls open forecast data every hour, renders a page per trailhead and "
        "ships it to a CDN. No server, no database.",
        "tags": ["typescript", "static-site", "weather"],
        "url": "https://example.com/trail-weather",
        "featured": True,
        "published": True,
    },
    {
        "slug": "receipt-scanner",
        "title": "Receipt scanner",
        "summary": "Photos of receipts in, categorised expenses out.",
        "body": "OCR on the phone, a small classifier for categories, and a CSV export that "
        "my accountant accepts without questions.",
        "tags": ["kotlin", "android", "ocr"],
        "repo_url": "https://github.com/example/receipt-scanner",
        "published": True,
    },
    {
        "slug": "home-energy-dashboard",
        "title": "Home energy dashboard",
        "summary": "Smart-meter readings every ten seconds, graphed on a wall tablet.",
        "body": "A Raspberry Pi reads the meter's optical port; readings go to TimescaleDB "
        "and a Grafana board shows the day at a glance.",
        "tags": ["raspberry-pi", "grafana", "timescaledb"],
        "published": True,
    },
    {
        "slug": "cli-time-tracker",
        "title": "CLI time tracker",
        "summary": "Start, stop and report working hours without leaving the terminal (draft).",
        "body": "Work in progress: plain-text storage, weekly reports.",
        "tags": ["rust", "cli"],
        "published": False,
    },
]


def seed() -> dict[str, list[str]]:
    """Insert the sample projects that are missing; report which were added or kept."""
    engine = engine_for(get_settings())
    added, kept = [], []
    try:
        with engine.begin() as conn:
            for sample in SAMPLE_PROJECTS:
                data = schemas.ProjectCreate(**sample)
                if crud.get_project(conn, slug=data.slug, published_only=False) is not None:
                    kept.append(data.slug)
                    continue
                crud.create_project(conn, fields=data.model_dump())
                added.append(data.slug)
    finally:
        engine.dispose()
    return {"added": added, "kept": kept}


if __name__ == "__main__":
    print(json.dumps(seed()))
