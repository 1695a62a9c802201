"""The client's chat data: conversations, their lines, people, notifications, alerts.

Pure values and small helpers shared by :mod:`pollchat.client.state` (which keeps
them up to date from server events), :mod:`pollchat.client.groups` and the renderer.
:mod:`pollchat.client.state` re-exports every name here, so callers may import either.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from dataclasses import dataclass, field

from pollchat.client.textclean import sanitize
from pollchat.protocol.names import name_key

MAIN = ""
"""The key of the main chat (every other key is a person's ``name_key`` or a group's
:func:`group_key`)."""
GROUP_MARK = "#"
"""What a group conversation's key starts with (and how a group is written)."""
MAX_ENTRIES = 2000
"""Lines kept per conversation; the oldest go first."""
TYPING_TTL = 8.0
"""Seconds a "NAME is typing..." stays without a refresh (clients repeat "on" every
few seconds while typing, so a lost "off" only lingers this long)."""
DUPLICATE_WINDOW = 90.0
"""A history line within this many seconds of an identical line already shown is the
same message (replayed again after a reconnect), not a new one."""
SERVER_NOTICE_TTL = 10.0
"""Seconds an announcement, a shutdown warning or a group change stays in the
notification bar (the line stays in its conversation). Mentions and private messages
stay until their conversation is opened: they wait for the user."""
STATUSES = ("active", "busy", "away", "inactive")
"""The server's statuses, in the order the online pane lists them."""


class EntryKind(enum.Enum):
    """What a line of a conversation is."""

    MESSAGE = "message"
    ACTION = "action"
    SYSTEM = "system"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a conversation.

    Attributes:
        kind: message, ``/me`` action, system notice or error.
        ts: when it happened, seconds since the epoch (UTC); shown in local time.
        text: the text (may hold newlines for multi-line notices such as ``/help``).
        sender: who said it ("" for system lines).
        own: said by this client's user (shown as ``you``).
        history: replayed from the server's history, not live.
        mention: mentions this client's user (``@name``).
        id: the server's message id, when it said it (history, scrollback pages); 0
            for a live line. The oldest one is where scrollback goes on from.
    """

    kind: EntryKind
    ts: float
    text: str
    sender: str = ""
    own: bool = False
    history: bool = False
    mention: bool = False
    id: int = 0


@dataclass
class Conversation:
    """The main chat, a private conversation with one person, or a group.

    Attributes:
        key: :data:`MAIN`, the person's ``name_key`` or the group's :func:`group_key`.
        name: the person's or group's display name, without ``#`` ("" for the main chat).
        entries: the lines, oldest first (at most :data:`MAX_ENTRIES`).
        unread: live messages from others that arrived while it was not open.
        mentions: how many of those mention the user.
        activity: anything new (system lines too) since it was last open.
        last_activity: time of the newest line (seconds since the epoch), for ordering.
        group: it is a group conversation.
        topic: a group's topic ("" if none or unknown).
        members: a group's member count, if known (from ``/groups``).
        role: the user's role in a group as ``/groups`` said (``owner``, ``member``) or "".
        gone: why the user is no longer in the group ("" while a member); lines typed
            there are not sent.
        older_waiting: a scrollback page (``/older``) was asked for and not answered.
        older_done: the server said there is nothing older (the start of its history).
        read_reported: the time of the newest message from the other person this client
            told the server the user has read (``/read``), for a private conversation.
    """

    key: str
    name: str
    entries: list[Entry] = field(default_factory=list)
    unread: int = 0
    mentions: int = 0
    activity: bool = False
    last_activity: float = 0.0
    group: bool = False
    topic: str = ""
    members: int | None = None
    role: str = ""
    gone: str = ""
    older_waiting: bool = False
    older_done: bool = False
    read_reported: float = 0.0

    @property
    def label(self) -> str:
        """How the chats pane names it: the person's name, or ``#group`` ("" for the
        main chat, which the renderer names itself)."""
        return GROUP_MARK + self.name if self.group else self.name


@dataclass
class Person:
    """Someone the client knows of: online now, or seen in history or a conversation.

    Attributes:
        name: display name.
        online: has a session now (per the last ``/who``, entered and left events).
        status: ``active``, ``busy``, ``away`` or ``inactive`` while online.
        message: the status message ("" if none).
        idle: idle seconds as measured at ``measured_at`` (``None``: unknown).
        measured_at: when ``idle`` was measured, seconds since the epoch.
        last_seen: when they were last seen online, seconds since the epoch, or ``None``.
        whois_asked: the client already asked ``/whois`` about them.
    """

    name: str
    online: bool = False
    status: str = "active"
    message: str = ""
    idle: int | None = None
    measured_at: float = 0.0
    last_seen: float | None = None
    whois_asked: bool = False

    def idle_at(self, now: float) -> int | None:
        """Idle seconds at ``now`` (the measured value plus the time since), or ``None``."""
        if self.idle is None:
            return None
        return max(0, int(self.idle + max(0.0, now - self.measured_at)))


class NoticeKind(enum.Enum):
    """What a notification in the top bar is about."""

    MENTION = "mention"
    PRIVATE = "private"
    SERVER = "server"
    SHUTDOWN = "shutdown"  # a shutdown warning: dropped when the shutdown is cancelled


@dataclass(frozen=True, slots=True)
class Notification:
    """One line of the notification bar: cleared when its conversation is opened
    (server notices also expire after :data:`SERVER_NOTICE_TTL`: :meth:`expired`)."""

    kind: NoticeKind
    who: str
    where: str
    text: str
    ts: float

    def expired(self, now: float) -> bool:
        """Whether a server notice is older than :data:`SERVER_NOTICE_TTL` at ``now``
        (seconds since the epoch); mentions and private messages never expire."""
        return self.kind in (NoticeKind.SERVER, NoticeKind.SHUTDOWN) and now - self.ts >= SERVER_NOTICE_TTL


class Alert(enum.Flag):
    """What an event should alert the user about (bell or highlight)."""

    NONE = 0
    MENTION = enum.auto()
    PRIVATE = enum.auto()


def fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


def group_key(name: str) -> str:
    """The conversation key of group ``name`` (with or without its ``#``)."""
    return GROUP_MARK + name_key(name.removeprefix(GROUP_MARK))


def mention_pattern(name: str) -> re.Pattern[str]:
    """The regular expression that finds ``@name`` in case-folded text: not inside a
    word or an e-mail address, and not followed by more name characters (a final ``.``
    is punctuation: ``"thanks @bob."`` mentions bob)."""
    return re.compile(r"(?<![\w.@-])@" + re.escape(name_key(name)) + r"(?![\w-]|\.[\w-])")


def clean(text: str) -> str:
    """Server text made safe to draw: control characters but newline replaced (see
    :func:`~pollchat.client.textclean.sanitize`) and tabs turned into spaces."""
    return "\n".join(sanitize(part).replace("\t", " ") for part in text.split("\n"))
