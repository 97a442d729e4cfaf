"""What goes into the image is pinned, hashed and linted."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

REQUIREMENTS = ["requirements.txt", "requirements-dev.txt", "bench/requirements.txt"]
RUNTIME = {
    "fastapi",
    "mangum",
    "sqlalchemy",
    "psycopg2-binary",
    "awslambdaric",
    "alembic",
    # The HTTP host's server (issue 16), and its CLI dependency pinned to what aws-sam-cli
    # (a development tool) requires exactly.
    "uvicorn==0.54.0",
    "click==8.1.8",
    "python-dotenv",
}


def _pins(path: Path) -> dict[str, list[str]]:
    """package==version -> its hashes, from a pip-tools/uv style requirements file."""
    text = path.read_text().replace("\\\n", " ")
    pins: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            requirement, *options = line.split()
            pins[requirement] = [o for o in options if o.startswith("--hash=sha256:")]
    return pins


@pytest.mark.parametrize("name", REQUIREMENTS)
def test_every_requirement_is_pinned_with_hashes(name: str) -> None:
    pins = _pins(ROOT / name)
    assert pins
    for requirement, hashes in pins.items():
        assert re.fullmatch(r"[A-Za-z0-9._-]+(\[[a-z0-9,_-]+\])?==[^=\s]+", requirement), (
            requirement
        )
        assert hashes, f"{requirement} has no hash"


def test_runtime_inputs_are_the_chosen_packages() -> None:
    lines = (ROOT / "requirements.in").read_text().splitlines()
    names = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert names == RUNTIME
    pinned = {req.split("==")[0] for req in _pins(ROOT / "requirements.txt")}
    assert pinned >= {name.split("==")[0] for name in RUNTIME}


@pytest.mark.parametrize(
    "dockerfile", ["Dockerfile", "bench/baselines/Dockerfile", "bench/images/Dockerfile"]
)
def test_dockerfiles_pass_hadolint_and_explain_each_ignore(dockerfile: str) -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    result = subprocess.run(
        [str(hadolint), str(ROOT / dockerfile)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (ROOT / dockerfile).read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            rules = line.split("ignore=", 1)[1].split(",")
            reasons = " ".join(lines[max(0, number - 3) : number])
            for rule in rules:
                assert rule.strip() in reasons, f"{dockerfile}:{number + 1}: {rule} unexplained"
