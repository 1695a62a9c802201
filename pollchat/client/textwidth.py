"""Display width of text in terminal cells: the one width function of the TUI.

``len()`` counts code points, not cells: ``"中文"`` has two code points and takes four
columns, ``"e\\u0301"`` (e + combining acute) has two and takes one. Every measurement,
truncation, padding and wrap in the terminal UI goes through this module, so the layout
and the text always agree about widths. Text is never cut by slicing.

The rules (best effort; terminals themselves disagree on some sequences):

* East Asian Wide (``W``) and Fullwidth (``F``) characters take 2 cells: CJK, kana
  (the ``ツ`` of ``/shrug``), ``︵`` of ``/tableflip``, most emoji (``😀``).
* Combining marks (categories ``Mn``, ``Me``) and format characters (``Cf``, e.g. the
  zero-width joiner) take 0 cells.
* The emoji variation selector U+FE0F after a 1-cell character makes it 2 cells: many
  terminals draw ``❤️`` that wide, and over-estimating only leaves a blank cell, while
  under-estimating would push the rest of the row out of place.
* Everything else takes 1 cell, East Asian Ambiguous (``°``, ``□``, box drawing)
  included, as in every non-CJK locale.

Known differences: emoji sequences joined by ZWJ or with skin-tone modifiers are measured
as the sum of their parts (``👍🏽`` is 4 here, 2 in most terminals); the layout stays
intact, with blank cells after them.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

VS16 = "\ufe0f"
ELLIPSIS = "…"


@lru_cache(maxsize=4096)
def char_width(ch: str) -> int:
    """Cells taken by the single character ``ch``: 0, 1 or 2 (see the module doc).

    Control characters count 1 (the TUI replaces them before display anyway)."""
    if ch < "\u0300":  # ASCII and Latin-1: the common case, all narrow
        return 1
    category = unicodedata.category(ch)
    if category in ("Mn", "Me", "Cf"):
        return 0
    if unicodedata.east_asian_width(ch) in ("W", "F"):
        return 2
    return 1


def char_widths(text: str) -> list[int]:
    """The cells each character of ``text`` takes, position by position.

    Same as ``[char_width(c) for c in text]`` except for U+FE0F: it takes the one extra
    cell that makes a preceding 1-cell character 2 cells wide (else 0)."""
    widths: list[int] = []
    previous = 0
    for ch in text:
        if ch == VS16:
            width = 1 if previous == 1 else 0
            previous = previous + width
        else:
            width = char_width(ch)
            previous = width
        widths.append(width)
    return widths


def text_width(text: str) -> int:
    """Cells taken by ``text`` on one terminal line (no wrapping)."""
    if text.isascii():
        return len(text)
    return sum(char_widths(text))


def clusters(text: str) -> list[tuple[str, int]]:
    """``text`` as (piece, cells) pairs that are never split: a character together with
    the zero-width characters after it (combining marks, VS16, ZWJ). A piece is at most
    2 cells wide; characters joined by a ZWJ are separate pieces (measured as the sum of
    their parts, see the module doc)."""
    pieces: list[tuple[str, int]] = []
    for ch, width in zip(text, char_widths(text)):
        if pieces and (width == 0 or ch == VS16):
            piece, cells = pieces[-1]
            pieces[-1] = (piece + ch, cells + width)
        else:
            pieces.append((ch, width))
    return pieces


def truncate(text: str, cells: int, ellipsis: str = ELLIPSIS) -> str:
    """``text`` cut to at most ``cells`` cells, ending in ``ellipsis`` when cut.

    Never splits a character from its combining marks; a wide character that would
    straddle the limit is dropped (the result may then be one cell short).

    Args:
        text: what to show.
        cells: the room, in cells (0 or less gives ``""``).
        ellipsis: appended when something was cut (``""`` for a hard cut).
    """
    if cells <= 0:
        return ""
    if text_width(text) <= cells:
        return text
    room = cells - text_width(ellipsis)
    if room < 0:
        return truncate(ellipsis, cells, "")
    out: list[str] = []
    used = 0
    for piece, width in clusters(text):
        if used + width > room:
            break
        out.append(piece)
        used += width
    return "".join(out) + ellipsis


def fit(text: str, cells: int, align: str = "left", ellipsis: str = ELLIPSIS) -> str:
    """``text`` truncated (see :func:`truncate`) and padded with spaces to exactly
    ``cells`` cells. ``align`` is ``"left"``, ``"right"`` or ``"center"``."""
    if cells <= 0:
        return ""
    text = truncate(text, cells, ellipsis)
    gap = cells - text_width(text)
    if align == "right":
        return " " * gap + text
    if align == "center":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def wrap(text: str, cells: int) -> list[str]:
    """``text`` broken into lines of at most ``cells`` cells each.

    Breaks at spaces when it can (the spaces at a break are dropped), inside a word when
    the word is longer than a line. Never returns an empty list (``""`` gives ``[""]``).
    A character wider than the whole line (a 2-cell glyph in a 1-cell pane) is replaced
    by ``?`` so that wrapping always makes progress.

    Args:
        text: one logical line (no newlines; callers split on them first).
        cells: the line width in cells, at least 1.
    """
    cells = max(1, cells)
    if text_width(text) <= cells:
        return [text]
    # Runs of spaces and of non-spaces, each a list of unsplittable pieces.
    tokens: list[list[tuple[str, int]]] = []
    for piece, width in clusters(text):
        if width > cells:
            piece, width = "?", 1
        if tokens and (piece == " ") == (tokens[-1][0][0] == " "):
            tokens[-1].append((piece, width))
        else:
            tokens.append([(piece, width)])
    lines: list[str] = []
    line: list[str] = []
    used = 0

    def push() -> None:
        nonlocal line, used
        lines.append("".join(line).rstrip(" "))
        line, used = [], 0

    for token in tokens:
        size = sum(width for _, width in token)
        if token[0][0] == " ":
            if used + size <= cells:
                if line or not lines:  # no leading spaces on a wrapped line
                    line.extend(piece for piece, _ in token)
                    used += size
            else:
                push()
            continue
        if used + size > cells and size <= cells:
            push()
        for piece, width in token:
            if used + width > cells:
                push()
            line.append(piece)
            used += width
    if line or not lines:
        push()
    return lines


def split_by_cells(text: str, start: int, cells: int) -> str:
    """The part of ``text`` that is visible in a window of ``cells`` cells beginning
    ``start`` cells into it (used to scroll a long input line sideways). A wide
    character cut by either edge is left out."""
    out: list[str] = []
    position = 0
    for piece, width in clusters(text):
        if position >= start and position + width <= start + cells:
            out.append(piece)
        position += width
        if position >= start + cells:
            break
    return "".join(out)
