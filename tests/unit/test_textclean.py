"""pollchat.client.textclean: no control character from a server reaches the terminal.

The front ends' own tests (tests/loopback/test_client.py for line mode,
tests/tui/test_tui_state.py for the TUI) check that they use it; here are its rules.
"""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.client.textclean import REPLACEMENT, sanitize


def _is_control(char: str) -> bool:
    # Unicode's Cc category is exactly C0 (U+0000..U+001F), DEL and C1 (U+0080..U+009F).
    return unicodedata.category(char) == "Cc"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2Jgotcha\x07", "\ufffd[2Jgotcha\ufffd"),  # clear screen, bell
        ("x\x1b[31my\x00", "x\ufffd[31my\ufffd"),  # colour, NUL
        ("\x9b2J", "\ufffd2J"),  # C1 CSI: ESC [ on 8-bit terminals
        ("a\rb\nc\x7f", "a\ufffdb\ufffdc\ufffd"),  # carriage return, newline, DEL
        ("tab\tkept", "tab\tkept"),
        ("中文 ツ é e\u0301 \u200d", "中文 ツ é e\u0301 \u200d"),  # not controls: kept as they are
        ("", ""),
    ],
)
def test_examples(text: str, shown: str) -> None:
    assert sanitize(text) == shown


@given(st.text())
def test_only_controls_but_tab_are_replaced_one_for_one(text: str) -> None:
    shown = sanitize(text)
    assert len(shown) == len(text)
    for before, after in zip(text, shown, strict=True):
        expected = REPLACEMENT if _is_control(before) and before != "\t" else before
        assert after == expected


@given(st.text())
def test_idempotent(text: str) -> None:
    assert sanitize(sanitize(text)) == sanitize(text)
