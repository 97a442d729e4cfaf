"""The shell commands the README and docs/*.md show, read from their ```sh blocks.

Continuation lines (`\\`) and here-documents are joined into one command; comments after a
command are dropped the way the shell drops them (a `#` after whitespace, outside quotes).
Tests take commands from here with `command(text)`, which fails when no document shows that exact
text any more: the test then runs what a reader types, not its own variant. "The README" in the
workflow tests means README.md and docs/*.md together: the depth moved there, the rule did not.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from tests.workflows.support import ROOT

FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>\S*)\s*$")
HEREDOC = re.compile(r"<<-?'?(?P<word>\w+)'?")


def _strip_comment(line: str) -> str:
    quote = ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def documents() -> list[Path]:
    """README.md, then docs/*.md by name: every file whose commands a reader may type."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _commands_in(path: Path) -> list[str]:
    found: list[str] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        fence = FENCE.match(lines[i])
        i += 1
        if not fence or fence.group("lang") != "sh":
            continue
        indent = len(fence.group("indent"))
        pending = ""
        while not FENCE.match(lines[i]):
            line = _strip_comment(lines[i][indent:])
            i += 1
            heredoc = HEREDOC.search(line)
            if heredoc:  # the body, verbatim, up to the terminator
                body = []
                while lines[i][indent:].strip() != heredoc.group("word"):
                    body.append(lines[i][indent:])
                    i += 1
                body.append(lines[i][indent:].strip())
                i += 1
                line = "\n".join([line, *body])
            if line.endswith("\\"):
                pending += line[:-1].rstrip() + " "
                continue
            command = (pending + line.strip()).strip()
            pending = ""
            if command:
                found.append(command)
        i += 1
    return found


@functools.cache
def located() -> tuple[tuple[str, str], ...]:
    """(document, command) for every command of every ```sh block, in reading order; the
    document is its path from the repository root (README.md, docs/deploy.md, ...)."""
    return tuple(
        (path.relative_to(ROOT).as_posix(), command)
        for path in documents()
        for command in _commands_in(path)
    )


@functools.cache
def commands() -> tuple[str, ...]:
    """Every command the documents show, each once, in reading order."""
    return tuple(dict.fromkeys(command for _, command in located()))


def command(text: str) -> str:
    """`text`, after checking that README.md or a docs/ file shows exactly this command."""
    assert text in commands(), f"neither README.md nor docs/ shows any more: {text}"
    return text
