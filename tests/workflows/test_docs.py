"""README.md is the front door and docs/ holds the depth: the README stays short, names every
docs/ file, and no link in either leads nowhere (a moved section keeps its readers)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.workflows import readme
from tests.workflows.support import ROOT

README_MAX_LINES = 250
# The sections a reader of the front door expects, in this order.
FRONT_DOOR = [
    "Two commands",
    "The API at a glance",
    "Deploy in five steps",
    "Deploy from GitHub",
    "Cost",
    "More",
]
# [text](target) outside code spans; images too. Targets with a scheme are the web's business.
LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)\)")
CODE_SPAN = re.compile(r"`[^`]*`")


def _prose_lines(path: Path) -> list[str]:
    """The lines outside fenced blocks, with code spans removed."""
    lines, fenced = [], False
    for line in path.read_text().splitlines():
        if readme.FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            lines.append(CODE_SPAN.sub("", line))
    return lines


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = CODE_SPAN.sub(lambda m: m.group(0).strip("`"), heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    """The anchors of a document's headings (outside fenced blocks)."""
    headings, fenced = [], False
    for line in path.read_text().splitlines():
        if readme.FENCE.match(line):
            fenced = not fenced
        elif not fenced and re.match(r"#{1,6} ", line):
            headings.append(line.lstrip("#"))
    return {_anchor(heading) for heading in headings}


def _links(path: Path) -> list[str]:
    return [m.group("target") for line in _prose_lines(path) for m in LINK.finditer(line)]


def test_the_readme_is_a_front_door() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    sections = [line[3:] for line in lines if line.startswith("## ")]
    assert sections == FRONT_DOOR


def test_the_deploy_has_five_steps() -> None:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Deploy in five steps", 1)[1].split("\n## ", 1)[0]
    steps = re.findall(r"^(\d+)\. ", section, flags=re.MULTILINE)
    assert steps == ["1", "2", "3", "4", "5"]


def test_the_readme_names_every_docs_file() -> None:
    linked = {target.split("#")[0] for target in _links(ROOT / "README.md")}
    docs = {f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md")}
    assert docs - linked == set(), "docs/ files the README does not link to"


@pytest.mark.parametrize("path", readme.documents(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_resolves(path: Path) -> None:
    broken = []
    for target in _links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        missing_anchor = bool(anchor) and linked.suffix == ".md" and linked.exists()
        if not linked.exists() or (missing_anchor and anchor not in _anchors(linked)):
            broken.append(target)
    assert broken == []


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Deploy in five steps", "deploy-in-five-steps"),
        ("`sam local`", "sam-local"),
        (
            "Reliability: what was tried, how often, what happened",
            "reliability-what-was-tried-how-often-what-happened",
        ),
    ],
)
def test_anchors_are_computed_as_github_does(heading: str, anchor: str) -> None:
    assert _anchor(heading) == anchor
