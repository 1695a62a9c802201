"""The ``/help`` manual: ``pollchat/manual.txt``, shipped inside the package.

Seed 002 asks for the manual in a text file. Each command's entry starts with a line
beginning ``/NAME`` at the left margin and takes the indented lines after it; a test checks
that every command of :data:`~pollchat.protocol.commands.COMMANDS` has an entry with an
example.
"""

from __future__ import annotations

import functools
from importlib import resources

from pollchat.protocol.commands import COMMANDS


@functools.cache
def manual_text() -> str:
    """The whole manual (read once from the installed package)."""
    return resources.files("pollchat").joinpath("manual.txt").read_text(encoding="utf-8")


@functools.cache
def entries() -> dict[str, str]:
    """Each command's entry, keyed by command name (without ``/``)."""
    found: dict[str, str] = {}
    current: list[str] | None = None
    for line in manual_text().splitlines():
        if line.startswith("/"):
            current = [line]
            found[line[1:].split()[0].lower()] = current  # type: ignore[assignment]
        elif line and not line[0].isspace():
            current = None  # a heading: the entry ended
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines).rstrip() for name, lines in found.items()}  # type: ignore[arg-type]


def help_text(topic: str | None = None) -> str | None:
    """The ``/help`` answer: the index (intro and one line per command) or ``topic``'s
    entry; ``None`` if ``topic`` is not a command."""
    if topic is None:
        intro = manual_text().split("\n/", 1)[0].rstrip()
        width = max(len(spec.usage) for spec in COMMANDS.values())
        lines = [intro, "", *(f"{spec.usage:<{width}}  {spec.summary}" for spec in COMMANDS.values())]
        lines.append("Type /help COMMAND for details, e.g. /help msg.")
        return "\n".join(lines)
    return entries().get(topic.lower().lstrip("/"))
