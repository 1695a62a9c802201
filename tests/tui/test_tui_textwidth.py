"""The TUI's one display-width function (pollchat.client.textwidth).

Golden widths (CJK, emoji, combining marks, the /shrug and /tableflip faces), and
properties: truncation and padding hit the exact number of cells and never split a
character from its combining marks; wrapping never makes a line wider than asked, loses
no visible character and always terminates, even with glyphs wider than the line.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat import texts
from pollchat.client.textwidth import (
    char_width,
    clusters,
    fit,
    split_by_cells,
    text_width,
    truncate,
    wrap,
)


@pytest.mark.parametrize(
    ("text", "cells"),
    [
        ("", 0), ("abc", 3), ("中文", 4), ("😀", 2), ("e\u0301", 1), ("❤️", 2), ("❤", 1),
        ("ツ", 2), ("︵", 2), (texts.SHRUG, 10), (texts.TABLEFLIP, 13), (texts.UNFLIP, 15),
        ("a\u200db", 2), ("ｆｕｌｌ", 8), ("°□━┻", 4), ("✉(3)", 4), ("📌", 2), ("\ufe0f", 0),
    ],
)
def test_golden_widths(text: str, cells: int) -> None:
    assert text_width(text) == cells


def test_char_width_classes() -> None:
    assert [char_width(c) for c in "a中\u0301\u200b\u20dd"] == [1, 2, 0, 0, 0]


@pytest.mark.parametrize(
    ("text", "cells", "expected"),
    [
        ("hello", 10, "hello"), ("hello world", 8, "hello w…"), ("中文中文", 5, "中文…"),
        ("中文中文", 4, "中…"), ("abc", 1, "…"), ("abc", 0, ""), ("ae\u0301b", 3, "ae\u0301b"),
        ("ae\u0301bc", 3, "ae\u0301…"),
    ],
)
def test_truncate(text: str, cells: int, expected: str) -> None:
    assert truncate(text, cells) == expected


def test_fit_pads_to_the_exact_width() -> None:
    assert fit("中", 5) == "中   "
    assert fit("中", 5, "right") == "   中"
    assert fit("ab", 5, "center") == " ab  "
    assert fit("中文中", 5) == "中文…"
    assert text_width(fit("中文中文", 4, ellipsis="")) == 4
    assert text_width(fit("中文中文", 3, ellipsis="")) == 3  # a wide char that does not fit: a space


def test_wrap_examples() -> None:
    assert wrap("hello world this is a test", 10) == ["hello", "world this", "is a test"]
    assert wrap("中" * 10, 7) == ["中中中", "中中中", "中中中", "中"]
    assert wrap("no idea " + texts.SHRUG, 12) == ["no idea", texts.SHRUG]
    assert wrap("aaaaaaaaaaaaaaaaaaaaaaaa bb", 10) == ["aaaaaaaaaa", "aaaaaaaaaa", "aaaa bb"]
    assert wrap("", 5) == [""]
    assert wrap("中", 1) == ["?"]  # wider than the line: replaced, never an endless loop


def test_split_by_cells_is_a_window() -> None:
    assert split_by_cells("abcdef", 2, 3) == "cde"
    assert split_by_cells("中文中", 1, 4) == "文"  # wide characters cut by an edge are left out
    assert split_by_cells("中文中", 0, 4) == "中文"


_text = st.text(
    st.one_of(
        st.sampled_from(list("中文ツ︵┻━°□😀🍜✅❤\u0301\u200d\ufe0f  ab")),
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    ),
    max_size=60,
)


@given(_text, st.integers(0, 40))
def test_truncate_and_fit_never_exceed(text: str, cells: int) -> None:
    assert text_width(truncate(text, cells)) <= max(0, cells)
    assert text_width(fit(text, cells)) == max(0, cells)


@given(_text, st.integers(1, 30))
def test_wrap_never_exceeds_and_keeps_every_visible_character(text: str, cells: int) -> None:
    lines = wrap(text, cells)
    assert lines and all(text_width(line) <= cells for line in lines)
    shown = [p for p, _ in clusters("".join(lines)) if p.strip()]
    assert shown == [p if w <= cells else "?" for p, w in clusters(text) if p.strip()]


@given(_text)
def test_clusters_cover_the_text(text: str) -> None:
    pieces = clusters(text)
    assert "".join(p for p, _ in pieces) == text
    assert sum(w for _, w in pieces) == text_width(text)
    assert all(w <= 2 for _, w in pieces)
