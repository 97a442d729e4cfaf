"""scripts/deploy.sh under DRY_RUN: the commands it would run, with no AWS account or Docker.

`aws` and `docker` on PATH are stand-ins that record any call, so the test also proves that a
dry run touches neither.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "deploy.sh"
REGISTRY = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.fixture
def dry_run(tmp_path: Path) -> tuple[list[str], dict[str, str], Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    for tool in ("aws", "docker"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\necho "{tool} $*" >> {calls}\nexit 1\n')
        stub.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DRY_RUN": "1",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCOUNT_ID": "210987654321",
        "TAG": "v1.2.3",
    }
    result = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines(), env, calls


def _commands(lines: list[str]) -> list[list[str]]:
    return [shlex.split(line[2:]) for line in lines if line.startswith("+ ")]


def test_dry_run_calls_neither_aws_nor_docker(
    dry_run: tuple[list[str], dict[str, str], Path],
) -> None:
    assert not dry_run[2].exists()


def test_it_logs_in_to_ecr_with_the_password_on_stdin(
    dry_run: tuple[list[str], dict[str, str], Path],
) -> None:
    lines = dry_run[0]
    assert (
        f"+ aws ecr get-login-password --region eu-west-1 | docker login --username AWS "
        f"--password-stdin {REGISTRY}"
    ) in lines
    create = next(c for c in _commands(lines) if c[:3] == ["aws", "ecr", "create-repository"])
    assert create[create.index("--repository-name") + 1] == "portfolio-backend"


def test_it_builds_both_architectures_and_joins_them_in_one_manifest(
    dry_run: tuple[list[str], dict[str, str], Path],
) -> None:
    commands = _commands(dry_run[0])
    builds = [c for c in commands if c[:3] == ["docker", "buildx", "build"]]
    platforms = [b[b.index("--platform") + 1] for b in builds]
    assert platforms == ["linux/amd64", "linux/arm64"]
    for build in builds:
        assert "--push" in build and "--provenance=false" in build
        assert build[-1] == str(ROOT)
    image = f"{REGISTRY}/portfolio-backend"
    (manifest,) = [c for c in commands if c[:4] == ["docker", "buildx", "imagetools", "create"]]
    assert manifest[4:] == [
        "--tag",
        f"{image}:v1.2.3",
        f"{image}:v1.2.3-amd64",
        f"{image}:v1.2.3-arm64",
    ]


def test_it_prints_the_image_uris(dry_run: tuple[list[str], dict[str, str], Path]) -> None:
    outputs = dict(line.split("=", 1) for line in dry_run[0] if not line.startswith("+ "))
    image = f"{REGISTRY}/portfolio-backend"
    assert outputs["IMAGE_URI"] == f"{image}:v1.2.3"
    assert outputs["IMAGE_URI_ARM64"].startswith(f"{image}@sha256:")
    assert outputs["IMAGE_URI_AMD64"].startswith(f"{image}@sha256:")


def test_an_unknown_platform_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "DRY_RUN": "1", "PLATFORMS": "amd64 s390x", "HOME": str(tmp_path)}
    result = subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "unsupported platform 's390x'" in result.stderr
