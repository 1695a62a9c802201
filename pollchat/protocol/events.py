"""Server events: everything the server tells a client, as typed values.

The hub and the server decide *what* happens in terms of these events;
:mod:`pollchat.protocol.render` alone decides how each looks on the wire, as a
seed-004 text line or as one JSON object. They are frozen, slotted dataclasses, so an
event can be rendered once and its bytes shared by every recipient of a fan-out.
"""

from __future__ import annotations

from dataclasses import dataclass

from pollchat.texts import ErrorCode


@dataclass(frozen=True, slots=True)
class Greeting:
    """Sent on connect and after a first line that is neither ``login`` nor ``register``."""


@dataclass(frozen=True, slots=True)
class Welcome:
    """A login or registration succeeded.

    Attributes:
        name: the account's name as stored (its display spelling).
        users: everyone online in login order, ``name`` included.
    """

    name: str
    users: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Entered:
    """``name`` logged in; sent to every other logged-in session."""

    name: str


@dataclass(frozen=True, slots=True)
class Left:
    """``name``'s session ended; sent once to every other logged-in session."""

    name: str


@dataclass(frozen=True, slots=True)
class Message:
    """A chat line from ``sender`` to the main chat (never echoed to the sender)."""

    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class Error:
    """An error line. ``text`` is the code's wording with any details filled in."""

    code: ErrorCode
    text: str

    @classmethod
    def of(cls, code: ErrorCode, **detail: object) -> Error:
        """Build the error for ``code``, formatting its text with ``detail``."""
        return cls(code, code.value.format(**detail) if detail else code.value)


@dataclass(frozen=True, slots=True)
class ModeSwitched:
    """The connection now receives events in ``mode`` (``"json"`` or ``"text"``)."""

    mode: str


@dataclass(frozen=True, slots=True)
class ShuttingDown:
    """The server is stopping; sent to every connection before it is closed."""


ServerEvent = Greeting | Welcome | Entered | Left | Message | Error | ModeSwitched | ShuttingDown
"""Any event the server sends."""
