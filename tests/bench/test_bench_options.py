"""The bench's image selection and the newer-Python section, without running any container.

`make bench` and `--quick` (CI) must never build the Python 3.13 base: only `--newer-python`
adds that image, and it writes its own report instead of latest.*.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import coldstart  # noqa: E402
import images  # noqa: E402
import report  # noqa: E402


@pytest.mark.parametrize("argv", [[], ["--quick"], ["--only", "project", "project-py313"]])
def test_default_and_quick_runs_leave_out_the_newer_python(argv: list[str]) -> None:
    specs = coldstart.select_specs(coldstart.parse_args(argv))
    assert not any(spec.newer_python for spec in specs)
    assert images.PROJECT_NEWER not in specs


def test_newer_python_flag_adds_one_image_built_on_its_own_base() -> None:
    keys = [s.key for s in coldstart.select_specs(coldstart.parse_args(["--newer-python"]))]
    assert keys == [*(s.key for s in images.SPECS), images.PROJECT_NEWER.key]
    assert images.PROJECT_NEWER.dockerfile is None  # the project's own Dockerfile, unchanged


def _image(cold_ms: float) -> dict:
    def summary(value: float) -> dict:
        return {"n": 1, "min": value, "median": value, "p90": value, "max": value}

    route = {
        metric: summary(cold_ms)
        for metric in ("emulator_ms", "wall_ms", "init_ms", "first_invoke_ms", "peak_rss_mb")
    }
    return {
        "cold": {"health": route, "projects": route},
        "warm": {"health": {"p50": 2.0}, "projects": {"p50": 3.0}, "peak_rss_mb": 60.0},
        "size": {"added_bytes": 50_000_000, "added_gzip_bytes": 15_000_000},
        "importtime": {"total_ms": 100.0},
        "bytecode": {"compiled_from_source": 0},
    }


@pytest.mark.parametrize(("newer_ms", "faster"), [(400.0, False), (300.0, True)])
def test_comparison_states_whether_the_newer_python_is_materially_faster(
    newer_ms: float, faster: bool
) -> None:
    results = {
        "meta": {"base": "b311", "bases": {"project": "b311", "project-py313": "b313"}},
        "images": {"project": _image(400.0), "project-py313": _image(newer_ms)},
    }
    text = "\n".join(report.python_comparison(results))
    assert "| cold GET /projects, emulator (median ms) |" in text
    assert ("starts materially faster" in text) is faster
    assert ("does not start materially faster" in text) is not faster
