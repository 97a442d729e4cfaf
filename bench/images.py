"""The images the benchmark compares, and how each is built: all through scripts/engine.sh.

The project image is built by `engine.sh build` itself. The others are built with the very
command that script would run (asked for with DRY_RUN=1), pointed at the bench's own Dockerfile
and context, so every image gets the same engine, base, platform and build settings.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
ENGINE_SH = ROOT / "scripts" / "engine.sh"
TAG_PREFIX = "localhost/portfolio-bench-"


@dataclass(frozen=True)
class ImageSpec:
    """One image of the comparison: a key, what it is, and how to build it."""

    key: str
    title: str
    dockerfile: Path | None  # None: the project's own Dockerfile via `engine.sh build`
    context: Path
    build_args: dict[str, str] = field(default_factory=dict)
    # Which measurements mean something for it: the floors answer every event alike.
    serves_app: bool = True

    @property
    def tag(self) -> str:
        return f"{TAG_PREFIX}{self.key}:latest"


SPECS = (
    ImageSpec("project", "project image", None, ROOT),
    ImageSpec(
        "floor",
        "floor: awslambdaric + trivial handler",
        BENCH / "images" / "Dockerfile",
        BENCH / "images",
        {"VARIANT": "floor"},
        serves_app=False,
    ),
    ImageSpec(
        "depfloor",
        "dependency floor: fastapi+sqlalchemy.orm+psycopg2+mangum, trivial handler",
        BENCH / "images" / "Dockerfile",
        BENCH / "images",
        {"VARIANT": "depfloor"},
        serves_app=False,
    ),
    ImageSpec(
        "baseline",
        "conventional baseline (blog recipe, bench/baselines/Dockerfile)",
        BENCH / "baselines" / "Dockerfile",
        ROOT,
    ),
)


def engine_sh(*args: str, env: dict[str, str] | None = None, quiet: bool = False) -> str:
    """Run scripts/engine.sh and return its stdout (its log lines go to our stderr)."""
    result = subprocess.run(
        ["bash", str(ENGINE_SH), *args],
        check=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if quiet else None,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return result.stdout


def engine_command(*args: str, env: dict[str, str] | None = None) -> list[str]:
    """The command engine.sh would run for `args`, from its DRY_RUN output."""
    out = engine_sh(*args, env={"DRY_RUN": "1", **(env or {})}, quiet=True)
    lines = [line[2:] for line in out.splitlines() if line.startswith("+ ")]
    if not lines:
        raise RuntimeError(f"engine.sh {' '.join(args)} printed no command under DRY_RUN")
    return shlex.split(lines[-1])


def resolve_base(arch: str) -> str:
    """The base all images share: python:3.11-slim when available, else the offline stand-in."""
    return engine_sh("resolve-base", arch).strip().splitlines()[-1]


def image_exists(tag: str) -> bool:
    return subprocess.run(["podman", "image", "exists", tag], check=False).returncode == 0


def build(spec: ImageSpec, base: str, arch: str) -> float:
    """Build `spec` on `base`; return the seconds it took (cached layers make rebuilds quick)."""
    start = time.monotonic()
    if spec.dockerfile is None:
        engine_sh("build", spec.tag, arch, base)
        return time.monotonic() - start
    command = engine_command("build", spec.tag, arch, base)
    # engine.sh ends its build command with `-f ROOT/Dockerfile ROOT`: swap in ours.
    f_at = command.index("-f")
    extra: list[str] = []
    for name, value in spec.build_args.items():
        extra += ["--build-arg", f"{name}={value}"]
    command = [*command[:f_at], *extra, "-f", str(spec.dockerfile), str(spec.context)]
    env = dict(os.environ)
    if command[0] == "env":  # `env VAR=value ... podman ...`
        command = command[1:]
        while "=" in command[0]:
            name, value = command.pop(0).split("=", 1)
            env[name] = value
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.monotonic() - start
