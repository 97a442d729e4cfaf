"""The shell commands the README shows, read from its ```sh blocks.

Continuation lines (`\\`) and here-documents are joined into one command; comments after a
command are dropped the way the shell drops them (a `#` after whitespace, outside quotes).
Tests take commands from here with `command(text)`, which fails when the README no longer shows
that exact text: the test then runs what a reader types, not its own variant.
"""

from __future__ import annotations

import functools
import re

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


@functools.cache
def commands() -> tuple[str, ...]:
    """Every command of every ```sh block, in README order."""
    found: list[str] = []
    lines = (ROOT / "README.md").read_text().splitlines()
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
    return tuple(found)


def command(text: str) -> str:
    """`text`, after checking that the README shows exactly this command."""
    assert text in commands(), f"the README no longer shows: {text}"
    return text
