"""Figures the workflow tests measure (sizes, first-run times), printed after the run."""

from __future__ import annotations

from typing import Any

from tests.workflows.support import FIGURES


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if FIGURES:
        terminalreporter.section("workflow figures")
        for key, value in FIGURES.items():
            terminalreporter.write_line(f"{key}: {value}")
