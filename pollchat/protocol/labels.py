"""Labelled requests: a JSON-mode line may carry a label the server echoes on its answers.

A client that sends several requests at once (``/who``, ``/whois bob``, ``/history``)
needs to know which answer belongs to which request, errors included. As IRCv3's
``labeled-response`` does with an ``@label=`` tag, a JSON-mode line may start with
``@label=ID`` and one space; the server handles the rest of the line as if it had
come alone, and every event it sends to that connection while doing so carries
``"label": "ID"`` (docs/protocol.md, "JSON mode"). Broadcasts that reach everyone
logged in (an ``entered``, a ``renamed``, a ``status``) carry no label.

Rules (pure functions, no I/O):

* Only in JSON mode. In text mode ``@label=x hi`` is a chat line like any other, so
  nothing a netcat user types changes meaning, and a label is never shown in text.
* ``ID`` is 1 to :data:`MAX_LABEL` characters among ASCII letters, digits, ``_``,
  ``-`` and ``.``: it needs no escaping in JSON and cannot hide a control character.
* A line that starts with ``@label=`` but breaks these rules is discarded with one
  ``bad_label`` error (without a label). A JSON-mode chat line that must itself begin
  with ``@label=`` is sent with a label in front of it.
"""

from __future__ import annotations

import string

from pollchat.errors import ProtocolError
from pollchat.protocol.framing import Item
from pollchat.texts import ErrorCode

LABEL_PREFIX = "@label="
"""What starts a labelled line (JSON mode only)."""
MAX_LABEL = 32
"""The longest label, in characters (all ASCII, so also in bytes)."""
LABEL_CHARACTERS = frozenset(string.ascii_letters + string.digits + "_-.")
"""The characters a label may hold."""


def is_label(text: str) -> bool:
    """Whether ``text`` is a valid label (see the module rules)."""
    return 0 < len(text) <= MAX_LABEL and all(ch in LABEL_CHARACTERS for ch in text)


def split_label(item: Item) -> tuple[str | None, Item]:
    """``(label, rest)`` for a JSON-mode input item; ``(None, item)`` when it has no label.

    ``rest`` is the line without ``@label=ID `` (it may be empty), or a
    :class:`~pollchat.errors.ProtocolError` (``BAD_LABEL``) with a ``None`` label when
    the line starts with ``@label=`` but its label is malformed. Never raises.
    """
    if not isinstance(item, str) or not item.startswith(LABEL_PREFIX):
        return None, item
    label, space, rest = item[len(LABEL_PREFIX) :].partition(" ")
    if not space or not is_label(label):
        return None, ProtocolError(ErrorCode.BAD_LABEL, limit=MAX_LABEL)
    return label, rest


def labelled_line(label: str, line: str) -> str:
    """The line a client sends for ``line`` with ``label`` (a valid label).

    Raises:
        ValueError: ``label`` is not a valid label.
    """
    if not is_label(label):
        raise ValueError(f"not a valid label: {label!r}")
    return f"{LABEL_PREFIX}{label} {line}"
