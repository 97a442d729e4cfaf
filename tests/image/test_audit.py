"""What the shipped image contains: nothing that only builds, nothing unreadable, no root."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from tests.image.support import FIGURES, BuiltImage, engine

pytestmark = pytest.mark.image

# Uncompressed bytes the image may add above its base (the budget).
BUDGET_BYTES = 65_000_000

# Walks the root file system (as root, to see everything) and reports what the audit checks.
AUDIT = r"""
import json, os, shutil, stat
found = {"setid": [], "unreadable": [], "wheels": [], "pip_caches": []}
for top, dirs, files in os.walk("/"):
    if top in ("/proc", "/sys", "/dev"):
        dirs[:] = []
        continue
    for name in dirs + files:
        path = os.path.join(top, name)
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            continue
        if st.st_mode & (stat.S_ISUID | stat.S_ISGID) and not stat.S_ISDIR(st.st_mode):
            found["setid"].append(path)
        need = stat.S_IROTH | (stat.S_IXOTH if stat.S_ISDIR(st.st_mode) else 0)
        if st.st_mode & need != need:
            found["unreadable"].append(path)
        if name.endswith(".whl"):
            found["wheels"].append(path)
        if name == "pip" and top.endswith("/.cache"):
            found["pip_caches"].append(path)
tools = ("gcc", "cc", "c++", "make", "ld", "strip", "as")
found["tools"] = sorted(t for t in tools if shutil.which(t))
lists = "/var/lib/apt/lists"
found["apt_lists"] = sorted(
    n for n in (os.listdir(lists) if os.path.isdir(lists) else []) if n not in ("partial", "lock")
)
print(json.dumps(found))
"""


def audit(image: BuiltImage, tag: str) -> dict[str, Any]:
    out = engine("run", "--rm", "--user", "0", "--entrypoint", "python", tag, "-c", AUDIT).stdout
    result: dict[str, Any] = json.loads(out)
    return result


@pytest.fixture(scope="module")
def findings(image: BuiltImage) -> dict[str, dict[str, Any]]:
    return {"image": audit(image, image.tag), "base": audit(image, image.base)}


def test_no_build_tools_apt_lists_or_pip_caches(findings: dict[str, dict[str, Any]]) -> None:
    got = findings["image"]
    assert got["tools"] == []
    assert got["apt_lists"] == []
    assert got["pip_caches"] == []
    assert set(got["wheels"]) <= set(findings["base"]["wheels"])


def test_no_setuid_or_setgid_files_beyond_the_base(findings: dict[str, dict[str, Any]]) -> None:
    assert set(findings["image"]["setid"]) <= set(findings["base"]["setid"])


def test_every_file_added_is_readable_by_others(findings: dict[str, dict[str, Any]]) -> None:
    # Lambda runs the function as a user of its own: it must be able to read every file
    # (the base's own private files, e.g. /etc/shadow, are the base's business).
    assert set(findings["image"]["unreadable"]) <= set(findings["base"]["unreadable"])
    assert not [p for p in findings["image"]["unreadable"] if p.startswith("/var/task")]


def test_runs_as_a_non_root_user(image: BuiltImage) -> None:
    user = image.inspect()["Config"].get("User") or "root"
    uid = user.split(":")[0]
    assert uid not in ("", "0", "root")
    assert engine("run", "--rm", "--entrypoint", "id", image.tag, "-u").stdout.strip() != "0"


def test_entry_point_chooses_the_runtime_interface_client_or_the_http_host(
    image: BuiltImage,
) -> None:
    config = image.inspect()["Config"]
    assert config["Entrypoint"] == ["python", "-m", "app.hosts.entry"]
    assert "8000/tcp" in (config.get("ExposedPorts") or {})
    assert config["Cmd"] == ["handler.handler"]
    assert config["WorkingDir"] == "/var/task"


def test_added_bytes_above_the_base_stay_under_budget(image: BuiltImage) -> None:
    added = int(image.inspect()["Size"]) - int(image.inspect(image.base)["Size"])
    FIGURES["bytes added above base"] = f"{added:,} ({added / 1e6:.1f} MB; base {image.base})"
    assert added < BUDGET_BYTES


def test_the_rds_ca_bundle_is_shipped_where_db_sslrootcert_points(image: BuiltImage) -> None:
    from tests.conftest import ROOT

    script = (
        "import hashlib; from app.settings import DEFAULT_SSLROOTCERT as p; "
        "print(p, hashlib.sha256(open(p, 'rb').read()).hexdigest())"
    )
    out = engine("run", "--rm", "--entrypoint", "python", image.tag, "-c", script).stdout.split()
    shipped = (ROOT / "certs" / "rds-ca-bundle.pem").read_bytes()
    assert out == ["/var/task/certs/rds-ca-bundle.pem", hashlib.sha256(shipped).hexdigest()]


def test_the_image_picks_the_regional_file_for_an_rds_host(image: BuiltImage) -> None:
    # Cut when the image was built (scripts/rds_ca_regions.py); the same cut made here from
    # the repository's bundle must be what the image holds, and what its settings choose.
    from scripts import rds_ca_regions
    from tests.conftest import ROOT

    expected = rds_ca_regions.split((ROOT / "certs" / "rds-ca-bundle.pem").read_text())
    script = (
        "import json, os; from app.settings import REGIONAL_SSLROOTCERTS as d, Settings; "
        "host = 'portfolio.cluster-c7tj4example.eu-west-1.rds.amazonaws.com'; "
        "s = Settings(db_iam_auth=True, db_host=host, db_name='a', db_user='a', "
        "aws_region='eu-west-1'); "
        "print(json.dumps([s.sslrootcert, "
        "{f[:-4]: open(os.path.join(d, f)).read() for f in sorted(os.listdir(d))}]))"
    )
    out = engine("run", "--rm", "--entrypoint", "python", image.tag, "-c", script).stdout
    chosen, held = json.loads(out)
    assert chosen == "/var/task/certs/rds/eu-west-1.pem"
    assert held == expected
