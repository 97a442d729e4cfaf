"""`make test-fast` on a bare Debian machine: the offline base image (Debian bookworm with
Python 3.11, nothing of this project's) plus `make`, which the README names as the one thing a
machine needs. scripts/setup.sh then installs PostgreSQL, PgBouncer, openssl and the rest, `make`
builds the virtualenv, and the fast suite passes inside the container.

Machine specifics stay in this test: where a TLS-inspecting proxy re-signs the package index,
this host's CA bundle is lent to pip through PIP_CERT; nothing in the project's files knows.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.workflows import readme
from tests.workflows.support import FIGURES, HOST_CA_BUNDLE, copy_of_the_working_tree

pytestmark = [pytest.mark.image, pytest.mark.slow]

TEST_FAST = readme.command("make test-fast")
NAME = "portfolio-workflows-bare-debian"


def test_make_test_fast_on_bare_debian(tmp_path: Path) -> None:
    base = subprocess.run(
        ["bash", str(ROOT / "scripts" / "engine.sh"), "base-image", "amd64"],
        capture_output=True, text=True, check=True, timeout=1200,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    work = copy_of_the_working_tree(tmp_path / "portfolio", link_venv=False)
    lend_ca = []
    if HOST_CA_BUNDLE.exists():
        lend_ca = ["-v", f"{HOST_CA_BUNDLE}:/run/host-ca.crt:ro", "-e", "PIP_CERT=/run/host-ca.crt"]
    script = (
        "set -e; export DEBIAN_FRONTEND=noninteractive; "
        "apt-get update -qq && apt-get install -y -qq --no-install-recommends make >/dev/null; "
        f"{TEST_FAST}"
    )
    subprocess.run(["podman", "rm", "-f", NAME], capture_output=True, check=False)
    start = time.monotonic()
    done = subprocess.run(
        ["podman", "run", "--rm", "--name", NAME, "--network", "host", *lend_ca,
         "-v", f"{work}:/src", "-w", "/src", base, "bash", "-c", script],
        capture_output=True, text=True, check=False, timeout=3000,
    )  # fmt: skip
    FIGURES["make test-fast on bare Debian (set-up, venv, suite), s"] = round(
        time.monotonic() - start
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert "setup: installing" in output and "postgresql" in output  # the script did the work
    summary = [line for line in output.splitlines() if " passed" in line]
    assert summary and "failed" not in summary[-1], output[-3000:]
