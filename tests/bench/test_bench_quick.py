"""`bench/coldstart.py --quick` produces a complete report: all four images (and the project over
the production-like database link, `project+prod`), every metric.

A smoke test of the instrument only: timings are never asserted (the machines are shared and
noisy), only that each figure was measured.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ("project", "floor", "depfloor", "baseline", "project+prod")
ROUTES = ("health", "projects")
COLD_METRICS = ("emulator_ms", "init_ms", "first_invoke_ms", "wall_ms", "peak_rss_mb")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.image


@pytest.fixture(scope="module", autouse=True)
def _engine_is_there() -> None:
    # A failure, not a skip: a run that selected these tests must not pass without them.
    if shutil.which("podman") is None and shutil.which("docker") is None:
        pytest.fail("needs podman or Docker (scripts/setup-containers.sh installs podman)")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("bench")
    subprocess.run(
        [sys.executable, str(ROOT / "bench" / "coldstart.py"), "--quick", "--out", str(out)],
        check=True,
        cwd=ROOT,
        timeout=1200,
    )
    return json.loads((out / "latest.json").read_text()), out


def test_report_files_are_written(report: tuple[dict, Path]) -> None:
    _, out = report
    assert (out / "latest.png").read_bytes()[:8] == PNG_MAGIC
    markdown = (out / "latest.md").read_text()
    for key in IMAGES:
        assert f"| {key} |" in markdown
    assert "## Targets" in markdown


def test_every_image_has_every_metric(report: tuple[dict, Path]) -> None:
    results, _ = report
    assert results["meta"]["quick"] is True
    assert set(results["images"]) == set(IMAGES)
    n, m = results["meta"]["n"], results["meta"]["m"]
    for key, image in results["images"].items():
        for route in ROUTES:
            cold = image["cold"][route]
            assert cold["failures"] == 0, (key, route)
            for metric in COLD_METRICS:
                assert cold[metric]["n"] == n, (key, route, metric)
            warm = image["warm"][route]
            assert warm["n"] == m and warm["p50"] > 0 and warm["p99"] >= warm["p50"], (key, route)
        assert image["warm"]["failures"] == 0, key
        assert image["warm"]["rss_growth_mb"] is not None, key
        assert isinstance(image["bytecode"]["compiled_from_source"], int), key
        assert image["importtime"]["modules"] > 0, key
        size = image["size"]
        assert 0 < size["added_gzip_bytes"] < size["added_bytes"] < size["total_bytes"], key
        assert any(not layer["in_base"] for layer in size["layers"]), key


def test_every_target_is_evaluated(report: tuple[dict, Path]) -> None:
    results, _ = report
    # One row per target of issue 19 (bench/report.py:targets), the production-like link included.
    assert len(results["targets"]) == 12
    for target in results["targets"]:
        assert target["value"] is not None and target["met"] in (True, False), target
