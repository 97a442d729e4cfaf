"""docs/benchmark.md shows the committed run's figures as bench/ wrote them, never typed ones."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

import report  # noqa: E402


def test_the_figures_in_the_docs_are_those_of_the_committed_run() -> None:
    results = json.loads((ROOT / "bench" / "results" / "latest.json").read_text())
    doc = (ROOT / "docs" / "benchmark.md").read_text()
    start, end = doc.index(report.DOCS_BEGIN), doc.index(report.DOCS_END)
    assert doc[start : end + len(report.DOCS_END)] == report.docs_block(results)


def test_replacing_the_block_keeps_the_rest_of_the_document() -> None:
    text = f"intro\n{report.DOCS_BEGIN}\nold figures\n{report.DOCS_END}\noutro\n"
    replaced = report.replace_docs_block(text, f"{report.DOCS_BEGIN}\nnew\n{report.DOCS_END}")
    assert replaced == f"intro\n{report.DOCS_BEGIN}\nnew\n{report.DOCS_END}\noutro\n"
