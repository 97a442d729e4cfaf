"""The images the benchmark compares, and how each is built: all through scripts/engine.sh.

The project image is built by `engine.sh build` itself. The others are built with the very
command that script would run (asked for with DRY_RUN=1), pointed at the bench's own Dockerfile
and context, so every image gets the same engine, base, platform and build settings.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TAG_PREFIX = "localhost/portfolio-bench-"
OFFICIAL_BASE = "python:3.11-slim"
# The newer interpreter of the optional comparison row (--newer-python), and the Debian suite
# whose package provides it for the offline stand-in (scripts/base-image.sh SUITE/PYTHON).
NEWER_PYTHON = "3.13"
NEWER_SUITE = "trixie"


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
    # Built on the newer-Python base (newer_base) instead of the shared one.
    newer_python: bool = False
    # The project as it was at this git commit or branch, built by that commit's own scripts.
    ref: str | None = None

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

# Not in SPECS, so neither `make bench` nor --quick builds its base: only --newer-python.
# The project's own Dockerfile and requirements.txt, unchanged (its wheels include cp313 ones).
PROJECT_NEWER = ImageSpec(
    "project-py313",
    f"project image on Python {NEWER_PYTHON} (same Dockerfile, requirements.txt)",
    None,
    ROOT,
    newer_python=True,
)


def ref_spec(ref: str) -> ImageSpec:
    """The project at git `ref` (a commit or branch), for before/after figures in one run."""
    return ImageSpec("project-ref", f"project image at {ref}", None, ROOT, ref=ref)


def _export(ref: str, into: Path) -> None:
    """The tree of `ref` (committed files only) in `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref],
        check=True,
        stdout=subprocess.PIPE,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)


def engine_sh(
    *args: str, env: dict[str, str] | None = None, quiet: bool = False, root: Path = ROOT
) -> str:
    """Run scripts/engine.sh (of `root`) and return its stdout (its log lines go to stderr)."""
    result = subprocess.run(
        ["bash", str(root / "scripts" / "engine.sh"), *args],
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


def newer_base(arch: str, base: str) -> str:
    """The same kind of base as `base`, with the newer Python: python:3.13-slim beside the
    official image, else the offline stand-in built from Debian's package (slow the first time).
    """
    if base == OFFICIAL_BASE:
        official = f"python:{NEWER_PYTHON}-slim"
        if not image_exists(official):
            subprocess.run(
                ["podman", "pull", "--platform", f"linux/{arch}", official], check=True, timeout=600
            )
        return official
    env = {"SUITE": NEWER_SUITE, "PYTHON": f"python{NEWER_PYTHON}"}
    return engine_sh("base-image", arch, env=env).strip().splitlines()[-1]


def python_version(image: str, arch: str) -> str:
    """The interpreter version an image runs, from a throwaway container (engine.sh's settings:
    runc and cgroupfs where runc is installed, explicit ulimits)."""
    flags = ["--runtime", "runc", "--cgroup-manager", "cgroupfs"] if shutil.which("runc") else []
    result = subprocess.run(
        [
            "podman",
            *flags,
            "run",
            "--rm",
            "--platform",
            f"linux/{arch}",
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=4096:4096",
            "--entrypoint",
            "python",
            image,
            "-c",
            "import platform; print(platform.python_version())",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def image_exists(tag: str) -> bool:
    return subprocess.run(["podman", "image", "exists", tag], check=False).returncode == 0


def build(spec: ImageSpec, base: str, arch: str) -> float:
    """Build `spec` on `base`; return the seconds it took (cached layers make rebuilds quick)."""
    start = time.monotonic()
    if spec.ref is not None:
        with tempfile.TemporaryDirectory(prefix="portfolio-bench-ref-") as tree:
            _export(spec.ref, Path(tree))
            engine_sh("build", spec.tag, arch, base, root=Path(tree))
        return time.monotonic() - start
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
