"""Server events: everything the server tells a client, as typed values.

The hub and the server decide *what* happens in terms of these events;
:mod:`pollchat.protocol.render` alone decides how each looks on the wire, as a
seed-004 text line or as one JSON object. They are frozen, slotted dataclasses, so an
event can be rendered once and its bytes shared by every recipient of a fan-out.
"""

from __future__ import annotations

from dataclasses import dataclass

from pollchat.texts import ErrorCode, GroupChange, NoticeCode


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
    """``name``'s session ended; sent once to every other logged-in session.

    ``reason`` is the ``/quit`` message, if any."""

    name: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """A chat line from ``sender`` to the main chat or a group (never echoed to the
    sender).

    Attributes:
        history: replayed from the database rather than live.
        at: for history, when it was sent (seconds since the epoch, UTC).
        group: the group's name (without ``#``) for a group message, else ``""``.
        id: for history, the stored message's id (a scrollback cursor: ``/older``);
            0 for a live line (it has no id until the end of the pass).
    """

    sender: str
    text: str
    history: bool = False
    at: float | None = None
    group: str = ""
    id: int = 0


@dataclass(frozen=True, slots=True)
class Emote:
    """A ``/me`` line: ``* sender text``. ``history``/``at``/``group``/``id`` as for
    :class:`Message`."""

    sender: str
    text: str
    history: bool = False
    at: float | None = None
    group: str = ""
    id: int = 0


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    """A ``/msg``. The recipient gets it with ``outgoing=False``; the sender gets a copy
    with ``outgoing=True`` as confirmation. ``history``/``at``/``id`` as for :class:`Message`."""

    sender: str
    recipient: str
    text: str
    outgoing: bool = False
    history: bool = False
    at: float | None = None
    id: int = 0


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """``name`` is now ``status`` (active, busy, away, inactive), with an optional message."""

    name: str
    status: str
    message: str = ""


@dataclass(frozen=True, slots=True)
class WhoEntry:
    """One line of ``/who``: a user, their status and message, idle seconds; for an
    admin asking, also the connection id and peer address (else 0 and "")."""

    name: str
    status: str
    message: str
    idle: int
    connection: int = 0
    address: str = ""


@dataclass(frozen=True, slots=True)
class WhoList:
    """The answer to ``/who``: everyone online, in login order."""

    users: tuple[WhoEntry, ...]


@dataclass(frozen=True, slots=True)
class Whois:
    """The answer to ``/whois``.

    Attributes:
        kind: ``"preconfigured"`` or ``"registered"``.
        online: has a session now.
        status, message: the status when online (``"offline"`` otherwise).
        since: online since (when online) or last seen (when not), seconds since the
            epoch; ``None`` if never seen.
        idle: idle seconds when online, else ``None``.
    """

    name: str
    kind: str
    online: bool
    status: str
    message: str
    since: float | None
    idle: int | None


@dataclass(frozen=True, slots=True)
class Renamed:
    """The account ``old`` is now called ``new`` (``/nick``); sent to everyone.

    ``history``: a rename that happened while this user was away, sent after the
    welcome of a JSON-mode login so that a client which kept ``old`` among its contacts
    can follow it (``at``: when it happened). Text mode does not show those."""

    old: str
    new: str
    history: bool = False
    at: float | None = None


@dataclass(frozen=True, slots=True)
class Notice:
    """An informational line to one user; ``text`` is the code's wording filled in."""

    code: NoticeCode
    text: str

    @classmethod
    def of(cls, code: NoticeCode, **detail: object) -> Notice:
        """Build the notice for ``code``, formatting its text with ``detail``."""
        return cls(code, code.value.format(**detail) if detail else code.value)


@dataclass(frozen=True, slots=True)
class Typing:
    """``name`` started (``active``) or stopped typing, in the main chat or, when
    ``private``, in a private conversation with the recipient, or when ``group`` is
    set, in that group. Sent only to JSON-mode connections (text-mode users are not
    shown it)."""

    name: str
    active: bool
    private: bool = False
    group: str = ""


@dataclass(frozen=True, slots=True)
class Mention:
    """``sender`` wrote ``@you`` in the main chat (``group`` "") or in ``group``; sent
    to the mentioned user only, right after the message itself."""

    sender: str
    text: str
    group: str = ""


@dataclass(frozen=True, slots=True)
class GroupEvent:
    """Something happened to a group: see :class:`~pollchat.texts.GroupChange`.

    Attributes:
        group: the group's name, without ``#`` (the old name for ``RENAMED``).
        change: what happened.
        name: the account concerned (who joined, left, asked, was removed...), or "".
        by: who did it (the owner or an admin), or "".
        text: the topic, the new name (``RENAMED``) or the visibility (``CREATED``).
    """

    group: str
    change: GroupChange
    name: str = ""
    by: str = ""
    text: str = ""


@dataclass(frozen=True, slots=True)
class GroupEntry:
    """One line of ``/groups``.

    Attributes:
        name: the group's name without ``#``.
        visibility: ``"public"`` or ``"private"``.
        members: how many members it has.
        role: the asker's relation to it: ``"owner"``, ``"member"``, ``"pending"`` (a
            join request waits) or ``""``.
        topic: the topic, or "".
    """

    name: str
    visibility: str
    members: int
    role: str
    topic: str


@dataclass(frozen=True, slots=True)
class GroupList:
    """The answer to ``/groups``: the asker's groups and the public ones, by name."""

    groups: tuple[GroupEntry, ...]


@dataclass(frozen=True, slots=True)
class MemberEntry:
    """One member in ``/members``: name, status (``"offline"`` when not online) and
    whether they own the group."""

    name: str
    status: str
    owner: bool


@dataclass(frozen=True, slots=True)
class MemberList:
    """The answer to ``/members #group``: members in joining order (the longest-standing
    first); ``pending`` names the accounts waiting to join, shown to the owner and
    admins only (else empty)."""

    group: str
    members: tuple[MemberEntry, ...]
    pending: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Announcement:
    """An admin's ``/announce``: a marked line to everyone online."""

    sender: str
    text: str


@dataclass(frozen=True, slots=True)
class ShutdownWarning:
    """The server stops in ``seconds`` (an admin's ``/shutdown``); ``reason`` may be ""."""

    seconds: int
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ShutdownCancelled:
    """The announced shutdown will not happen."""


@dataclass(frozen=True, slots=True)
class HistoryStart:
    """``count`` history lines follow (text mode shows a header line)."""

    count: int


@dataclass(frozen=True, slots=True)
class HistoryEnd:
    """The end of a history replay (text mode shows a footer line)."""


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One stored message in a scrollback page or a search result.

    Attributes:
        id: the message's id (ids grow with time; a scrollback cursor).
        conversation: where it was said, as the viewer names it: ``""`` the main chat,
            ``#group`` a group (its current name), ``@name`` the viewer's private
            conversation with that account.
        kind: ``message``, ``action`` or ``private`` (the JSON types of the live events).
        sender: the sender's name when it was sent.
        recipient: a private message's recipient's name when it was sent, else ``""``.
        text: the text.
        outgoing: a private message the viewer sent.
        sent: when it was sent, UTC seconds since the epoch.
    """

    id: int
    conversation: str
    kind: str
    sender: str
    recipient: str
    text: str
    outgoing: bool
    sent: float


@dataclass(frozen=True, slots=True)
class Older:
    """The answer to ``/older``: a page of scrollback.

    Attributes:
        conversation: as :attr:`StoredMessage.conversation`.
        before: the cursor asked with, as written (an id, a time, or ``now``).
        messages: at most a page, oldest first.
        more: older messages are stored (the next page starts before ``messages[0]``).
    """

    conversation: str
    before: str
    messages: tuple[StoredMessage, ...]
    more: bool


@dataclass(frozen=True, slots=True)
class SearchResults:
    """The answer to ``/search``.

    Attributes:
        query: the words searched for.
        conversation: where (as :attr:`StoredMessage.conversation`), or ``"*"`` for
            everything the viewer may read.
        results: the matches, newest first, at most ``limit``.
        limit: the most results one search returns.
    """

    query: str
    conversation: str
    results: tuple[StoredMessage, ...]
    limit: int


@dataclass(frozen=True, slots=True)
class Receipt:
    """A read receipt (JSON mode only): ``name`` has read the private messages this
    connection's account sent them up to ``until`` (UTC seconds since the epoch). Sent
    when ``name``'s client says so (``/read``) and at login for what was read meanwhile;
    never while either account has ``/receipts off``."""

    name: str
    until: float


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


@dataclass(frozen=True, slots=True)
class Labelled:
    """``event`` sent in answer to a JSON-mode line that carried ``label``
    (:mod:`pollchat.protocol.labels`): JSON adds ``"label"`` to the object, text mode
    shows ``event`` alone. Only one connection's own answers are wrapped, never a
    broadcast's shared bytes."""

    event: ServerEvent
    label: str


ServerEvent = (
    Greeting
    | Welcome
    | Entered
    | Left
    | Message
    | Emote
    | PrivateMessage
    | StatusChanged
    | WhoList
    | Whois
    | Renamed
    | Notice
    | Typing
    | Mention
    | GroupEvent
    | GroupList
    | MemberList
    | Announcement
    | ShutdownWarning
    | ShutdownCancelled
    | HistoryStart
    | HistoryEnd
    | Older
    | SearchResults
    | Receipt
    | Error
    | ModeSwitched
    | ShuttingDown
    | Labelled
)
"""Any event the server sends."""
