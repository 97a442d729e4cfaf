"""`make image && make local`, then `make invoke EVENT=...`, as the README shows them: the image
under the real emulator answers database routes out of the box (a migrated SQLite file in the
container's tmpfs), says which database it uses, and takes event paths with or without events/."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.workflows import readme
from tests.workflows.support import (
    copy_of_the_working_tree,
    run_line,
    shell_env,
    start_line,
    stop_group,
)

pytestmark = [pytest.mark.image]

LOCAL = readme.command("make image && make local")
INVOKE = readme.command("make invoke EVENT=http-v2/get-projects.json")
NAME = "portfolio-local"  # the container `make local` names (engine.sh run-local's default)


def _invoke(line: str, work: Path, env: dict[str, str]) -> dict[str, object]:
    return dict(json.loads(run_line(line, work, env).strip().splitlines()[-1]))


def test_make_local_and_invoke(tmp_path: Path) -> None:
    work = copy_of_the_working_tree(tmp_path / "portfolio")
    env = shell_env(venv=False)
    log = tmp_path / "make-local.log"
    local = start_line(LOCAL, work, env, log)
    try:
        deadline = time.monotonic() + 1800  # the first build of the image takes minutes
        while "emulator on http://localhost:9000" not in log.read_text():
            assert local.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        assert "database: SQLite file /tmp/portfolio.db in the container's tmpfs" in log.read_text()
        deadline = time.monotonic() + 60
        while True:
            try:
                projects = _invoke(INVOKE, work, env)
                break
            except AssertionError:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.5)
        assert projects["statusCode"] == 200, projects  # a migrated database, not a 503
        assert json.loads(str(projects["body"]))["items"] == []
        with_prefix = _invoke("make invoke EVENT=events/http-v2/get-health.json", work, env)
        assert with_prefix["statusCode"] == 200
        contact = _invoke("make invoke EVENT=http-v2/post-contact.json", work, env)
        assert contact["statusCode"] == 202, contact  # a write, on the migrated database
    finally:
        subprocess.run(["podman", "rm", "-f", NAME], capture_output=True, check=False)
        stop_group(local)
