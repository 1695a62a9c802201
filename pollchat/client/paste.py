"""Telling a paste from typing: bracketed paste mode (pure).

The curses front end turns on xterm's bracketed paste mode (``ESC [ ? 2004 h``); the
terminal then wraps pasted text in ``ESC [ 200 ~`` ... ``ESC [ 201 ~``. curses knows
no key for these markers, so ``get_wch`` hands them over as the characters they are
made of, among the pasted characters. :class:`PasteDecoder` finds them in the stream of
keys and gives back one :class:`Paste` for all that came between them, so that a pasted
newline is not taken for Enter (docs/client.md, "Pasting").

A terminal without bracketed paste sends a paste as plain keys: each newline is then an
Enter, and the lines are sent one by one as they arrive, which keeps them apart and in
order too (without the question above :data:`~pollchat.client.keys.PASTE_ASK` lines).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ENABLE = "\x1b[?2004h"
"""Turns bracketed paste mode on (xterm; most terminals and tmux know it)."""
DISABLE = "\x1b[?2004l"
"""Turns it off again (written before the terminal is given back)."""
_START = list("\x1b[200~")
_END = list("\x1b[201~")
MAX_PASTE = 100_000
"""Characters of one paste kept; the rest is dropped (every queue is bounded)."""


@dataclass(frozen=True, slots=True)
class Paste:
    """Text pasted in one go (newlines included, markers removed)."""

    text: str


class PasteDecoder:
    """Finds bracketed pastes in the keys ``get_wch`` returns (see the module doc).

    A paste may arrive over several reads: the decoder keeps what it holds of an
    unfinished paste between calls to :meth:`feed`, and the beginning of a start
    marker that ends a read (but a lone Esc, which is the Esc key: curses itself waits
    ``ESCDELAY`` for what follows an Esc)."""

    def __init__(self) -> None:
        self._paste: list[str] | None = None  # the paste under way, None outside one
        self._held: list[int | str] = []  # the start of a start marker, at the end of a read

    @property
    def in_paste(self) -> bool:
        """Whether a paste has started and not ended yet."""
        return self._paste is not None

    def feed(self, keys: Iterable[int | str]) -> list[int | str | Paste]:
        """The keys read, with each complete paste replaced by one :class:`Paste` (key
        codes inside a paste are dropped, but Enter, which becomes a newline)."""
        out: list[int | str | Paste] = []
        pending = [*self._held, *keys]
        self._held = []
        index = 0
        while index < len(pending):
            key = pending[index]
            if self._paste is None:
                if key == "\x1b" and pending[index : index + len(_START)] == _START:
                    self._paste = []
                    index += len(_START)
                    continue
                rest = pending[index:]
                if key == "\x1b" and 1 < len(rest) < len(_START) and rest == _START[: len(rest)]:
                    self._held = rest  # the marker goes on in the next read (a lone Esc is not held)
                    break
                out.append(key)
                index += 1
                continue
            index += 1
            if isinstance(key, int):
                key = "\n" if key == _KEY_ENTER else ""
            if not key:
                continue
            self._paste.append(key)
            if self._paste[-len(_END) :] == _END:
                text = "".join(self._paste[: -len(_END)])[:MAX_PASTE]
                self._paste = None
                out.append(Paste(text))
            elif len(self._paste) > MAX_PASTE + len(_END):  # keep the head and a possible end marker
                del self._paste[MAX_PASTE : -len(_END)]
        return out


_KEY_ENTER = 343
"""curses.KEY_ENTER (this module does not import curses: it is pure)."""
