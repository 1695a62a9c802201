"""Server text made harmless for a terminal: control characters replaced (pure).

A terminal obeys control characters and the escape sequences they start (ECMA-48): a
server line holding ``ESC [ 2 J`` would clear the user's screen, ``BEL`` would ring, and
the 8-bit C1 controls (U+0080..U+009F, e.g. CSI U+009B) act like ``ESC`` + a letter on
some terminals. The pollchat server never sends any of them (it refuses control
characters in input, :data:`~pollchat.texts.ErrorCode.CONTROL_CHARACTERS`), so they only
come from a misbehaving or hostile server; both front ends pass every server text
through :func:`sanitize` before showing it. Used by :mod:`pollchat.client.plain` (line
mode) and :mod:`pollchat.client.state` (the full-screen UI).
"""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
"""C0 controls but TAB (U+0009), DEL, and the C1 controls. TAB is kept: it moves the
cursor only forward within the line, and the TUI turns it into a space anyway."""
REPLACEMENT = "\ufffd"
"""What a control character becomes: U+FFFD REPLACEMENT CHARACTER, visible, so a reader
can tell that something was removed, and one character for one (lengths are kept)."""


def sanitize(text: str) -> str:
    """``text`` with every control character but TAB replaced by :data:`REPLACEMENT`.

    Args:
        text: one line of server text (a newline in it is a control character too, and is
            replaced: callers split multi-line texts first).

    Returns:
        A string of the same length, safe to write to a terminal.
    """
    return _CONTROL.sub(REPLACEMENT, text)
