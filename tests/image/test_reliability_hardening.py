"""The container runs as Lambda runs a function: read-only root, tmpfs /tmp, no
capabilities, no new privileges, not root, and nothing written outside /tmp."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from scripts.generate_events import http_v2
from tests.image.running_function import (
    Function,
    dedicated_database,
    function_env,
    image_under_test,
    podman,
    running_function,
    server_url,
)

pytestmark = pytest.mark.image


@pytest.fixture(scope="module")
def function(request: pytest.FixtureRequest, pg_cluster: Any) -> Iterator[Function]:
    image = image_under_test(request)
    with (
        dedicated_database(server_url(pg_cluster), "reliability_hardening") as url,
        running_function(image, function_env(url)) as running,
    ):
        # Before the first invocation (the emulator starts the runtime on demand).
        running.diff_at_start = podman("diff", running.name).split()  # type: ignore[attr-defined]
        for request_ in (
            {"method": "GET", "path": "/health"},
            {"method": "GET", "path": "/projects"},
            {
                "method": "POST",
                "path": "/contact",
                "body": {"name": "A", "email": "a@example.com", "message": "m"},
            },
        ):
            answer = running.wait_ready(http_v2({"query": {}, "headers": {}, **request_}))
            assert answer["statusCode"] in (200, 202), answer
        yield running


def test_function_process_has_no_capabilities_and_no_new_privileges(function: Function) -> None:
    status = function.status(function.function_pid())
    assert status["CapEff"] == "0000000000000000"
    assert status["CapPrm"] == "0000000000000000"
    assert status["CapBnd"] == "0000000000000000"
    assert status["NoNewPrivs"] == "1"
    uids = {int(uid) for uid in status["Uid"].split()}
    gids = {int(gid) for gid in status["Gid"].split()}
    assert 0 not in uids and 0 not in gids, (uids, gids)


def test_root_is_read_only_and_tmp_is_a_writable_tmpfs(function: Function) -> None:
    probe = function.exec_python(
        "import json, os\n"
        "result = {}\n"
        "for path in ('/var/task/probe', '/probe', '/etc/probe', '/tmp/probe'):\n"
        "    try:\n"
        "        with open(path, 'w') as f: f.write('x')\n"
        "        result[path] = 'written'\n"
        "        os.remove(path)\n"
        "    except OSError as e:\n"
        "        result[path] = e.strerror\n"
        "mounts = [l.split() for l in open('/proc/self/mounts')]\n"
        "result['/'] = [m[3] for m in mounts if m[1] == '/'][-1]\n"
        "result['/tmp'] = [m[2] for m in mounts if m[1] == '/tmp'][-1]\n"
        "print(json.dumps(result))\n"
    )
    result = json.loads(probe)
    assert result["/var/task/probe"] == "Read-only file system"
    assert result["/probe"] == "Read-only file system"
    assert result["/etc/probe"] == "Read-only file system"
    assert result["/tmp/probe"] == "written"
    assert result["/"].split(",")[0] == "ro"
    assert result["/tmp"] == "tmpfs"
    inspect = json.loads(podman("inspect", function.name))[0]
    assert inspect["HostConfig"]["ReadonlyRootfs"] is True


# What the engine itself adds when it starts the container: the mount point of the emulator
# (-v .../aws-lambda-rie:/rie) and the /etc/hosts, resolv.conf and hostname it bind-mounts.
ENGINE_MOUNT_POINTS = {("C", "/etc"), ("A", "/rie")}


def test_nothing_is_written_outside_tmp(function: Function) -> None:
    # After INIT and requests (including a write), the container's layer is what the
    # engine made at start, and that is only its own mount points.
    changes = podman("diff", function.name).split()
    assert changes == function.diff_at_start  # type: ignore[attr-defined]
    assert set(zip(changes[::2], changes[1::2], strict=True)) == ENGINE_MOUNT_POINTS
