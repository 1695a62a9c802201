"""Web links in conversation lines: finding them, and OSC 8 hyperlinks (pure).

Only ``http://`` and ``https://`` URLs are links; no other scheme ever is (a
``file:``, ``javascript:`` or ``ssh:`` text stays text). A link's text on screen is
always the URL itself: a sender cannot put a different target behind other words.

The renderer (:mod:`pollchat.client.screen`) gives the cells of a URL the ``link``
style and the URL; the curses front end draws them underlined and, when the terminal
understands them, writes them once more as OSC 8 hyperlinks after curses has updated
the screen (curses would print the escape sequence's bytes as text:
:func:`hyperlink_overlay`). Widths are measured on the text alone, so the escape
sequences never move a column.

OSC 8 (the de facto standard, "Hyperlinks in terminal emulators", egmontkob, 2017):
``ESC ] 8 ; params ; URI ESC \\`` opens a link, the same with an empty URI closes it;
the URI holds bytes 32-126 only (anything else is percent-encoded here).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

LINK_MODES = ("auto", "on", "off")
"""Values of the ``links`` setting and of ``--links``."""

_URL = re.compile(r"(?<![\w/.@-])https?://[^\s<>\"'`]+", re.IGNORECASE | re.ASCII)
_TRAILING = ".,;:!?*"  # sentence punctuation after a URL is not part of it
_PAIRS = {")": "(", "]": "[", "}": "{"}
OSC8_CLOSE = "\x1b]8;;\x1b\\"
"""Ends the hyperlink (an OSC 8 with an empty URI)."""
UNDERLINE, NORMAL = "\x1b[4m", "\x1b[0m"

# Terminals that draw OSC 8 links, by what they put in the environment. Others ignore
# the sequence, except the Linux console, which prints parts of it.
_PROGRAMS = {"iterm.app", "wezterm", "vscode", "ghostty"}
_TERMS = ("xterm-kitty", "foot", "alacritty", "xterm-ghostty", "wezterm", "contour")
VTE_MIN = 5000
"""``VTE_VERSION`` from which VTE (GNOME Terminal, Tilix...) draws OSC 8 (VTE 0.50)."""
TMUX_MIN = (3, 4)
"""tmux passes hyperlinks on from 3.4 (earlier versions drop them silently)."""


def find_links(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` index ranges of the web links in ``text``, in order.

    A URL ends at white space or a quote; trailing sentence punctuation and a closing
    bracket that does not close one opened inside the URL are left out
    (``(see https://x.org/a)`` links ``https://x.org/a``). A scheme alone is no link."""
    spans: list[tuple[int, int]] = []
    for match in _URL.finditer(text):
        start, end = match.span()
        while end > start:
            last = text[end - 1]
            if last in _TRAILING or last in _PAIRS and text[start:end].count(_PAIRS[last]) < text[start:end].count(last):
                end -= 1
                continue
            break
        if text[start:end].split("://", 1)[1]:
            spans.append((start, end))
    return spans


def osc8_uri(url: str) -> str:
    """``url`` as an OSC 8 URI: bytes outside 33-126 (non-ASCII, spaces, controls)
    percent-encoded as UTF-8."""
    out = []
    for ch in url:
        if 33 <= ord(ch) <= 126:
            out.append(ch)
        else:
            out.extend(f"%{byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))
    return "".join(out)


def osc8_open(url: str) -> str:
    """The sequence that starts a hyperlink to ``url`` (an ``http(s)`` URL)."""
    return f"\x1b]8;;{osc8_uri(url)}\x1b\\"


def links_wanted(mode: str, env: Mapping[str, str]) -> bool:
    """Whether to write OSC 8 hyperlinks: ``on``, ``off``, or ``auto`` (the default),
    which says yes for terminals known to draw them (``TERM_PROGRAM``, ``VTE_VERSION``
    >= :data:`VTE_MIN`, kitty, foot, Alacritty, Windows Terminal, tmux >= 3.4) and no for every
    other, the Linux console (``TERM=linux``) and ``dumb`` first."""
    if mode in ("on", "off"):
        return mode == "on"
    term = env.get("TERM", "")
    if term in ("", "dumb", "linux") or term.startswith("linux"):
        return False
    program = env.get("TERM_PROGRAM", "").lower()
    if program == "tmux":
        return _version(env.get("TERM_PROGRAM_VERSION", "")) >= TMUX_MIN
    if program in _PROGRAMS or term.startswith(_TERMS):
        return True
    if env.get("KITTY_WINDOW_ID") or env.get("WT_SESSION"):
        return True
    vte = env.get("VTE_VERSION", "")
    return vte.isdigit() and int(vte) >= VTE_MIN


def _version(text: str) -> tuple[int, int]:
    """``"3.4"`` -> ``(3, 4)``; ``"3.3a"`` -> ``(3, 3)``; unknown -> ``(0, 0)``."""
    parts = re.findall(r"\d+", text)[:2]
    return (int(parts[0]), int(parts[1]) if len(parts) > 1 else 0) if parts else (0, 0)


class Linked(Protocol):
    """What :func:`hyperlink_overlay` reads of a screen segment."""

    @property
    def text(self) -> str: ...

    @property
    def link(self) -> str: ...


def hyperlink_overlay(
    rows: Sequence[Sequence[Linked]], move: Callable[[int, int], str], width: Callable[[str], int], back: tuple[int, int]
) -> str:
    """What to write to the terminal, after curses updated it, to turn the linked
    segments of ``rows`` into OSC 8 hyperlinks: for each, move there, open the link,
    write the same text underlined, close it; then move back to ``back`` (row,
    column: where curses left the cursor, so its idea of the screen stays true).

    curses leaves the terminal's attributes normal after an update (ncurses does this
    so that other writers can share the screen); this leaves them normal too. Returns
    ``""`` when no segment is linked.

    Args:
        rows: the screen's rows of segments (``text``, ``link``: "" or a URL).
        move: the cursor-address sequence for ``(row, column)`` (terminfo ``cup``).
        width: the display width of a text in cells.
        back: where to leave the cursor.
    """
    out: list[str] = []
    for y, row in enumerate(rows):
        x = 0
        for segment in row:
            if segment.link:
                out.append(f"{move(y, x)}{osc8_open(segment.link)}{UNDERLINE}{segment.text}{NORMAL}{OSC8_CLOSE}")
            x += width(segment.text)
    if not out:
        return ""
    out.append(move(*back))
    return "".join(out)
