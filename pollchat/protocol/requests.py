"""Typed requests: what a front end asks of the chat, as values (pure).

The line protocol's front ends hand the chat service text lines, which the per-connection
:class:`~pollchat.protocol.session.Session` parses. A front end with a structured
protocol of its own (the IRC gateway, :mod:`pollchat.protocol.irc`) parses its messages
itself and hands the service these values instead, so nothing is rewritten into
pollchat's text lines to be parsed a second time. They travel through the same session
(which holds them, in order, while a password check runs) and reach the front end's
request handler on the server side (:mod:`pollchat.server.irc`).

Every request is a frozen, slotted dataclass; texts are already decoded and free of the
front end's own syntax (no IRC ``:`` trailing markers, no CTCP bytes).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LogIn:
    """Log in (``register=False``), register a new account (``register=True``), or come
    in as a guest (``guest=True``: no password; the name may belong to no account).

    ``sasl``: the request came from SASL during capability negotiation (IRCv3), so the
    front end answers with SASL replies. Never log the password (``repr`` hides it)."""

    name: str
    password: str = ""
    register: bool = False
    guest: bool = False
    sasl: bool = False

    def __repr__(self) -> str:
        return f"LogIn(name={self.name!r}, register={self.register}, guest={self.guest}, sasl={self.sasl})"


@dataclass(frozen=True, slots=True)
class Send:
    """Bytes the front end's codec answered by itself (a pong, a capability list, a
    numeric for a malformed message), queued in order with the replies of the requests
    around it."""

    data: bytes


@dataclass(frozen=True, slots=True)
class ChangeMode:
    """The connection's output mode changes to ``mode`` (its codec's new ``mode_key``:
    capabilities negotiated, the main channel joined or left). The server moves a
    logged-in connection to that mode's broadcast audience."""

    mode: str


@dataclass(frozen=True, slots=True)
class Say:
    """A line to ``target``: the main channel, a ``#group``, or a user's name (a private
    message). ``action``: a ``/me`` line (CTCP ACTION); ``notice``: an IRC NOTICE (never
    answered with an error, as RFC 2812 section 3.3.2 asks)."""

    target: str
    text: str
    action: bool = False
    notice: bool = False
    tags: tuple[tuple[str, str], ...] = ()
    """Client-only tags (IRCv3 message-tags, names starting with ``+``), relayed to the
    recipients of the same front end that accept them."""
    tag_only: bool = False
    """No text: only the tags travel (IRCv3 TAGMSG, a typing hint or a reaction)."""


@dataclass(frozen=True, slots=True)
class Join:
    """Join ``channel`` (the main channel, or a group: created, with the joiner as its
    owner, if it does not exist)."""

    channel: str


@dataclass(frozen=True, slots=True)
class Part:
    """Leave ``channel`` (``reason`` may be "")."""

    channel: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Topic:
    """Show ``channel``'s topic (``text`` ``None``) or set it (``""`` clears it)."""

    channel: str
    text: str | None = None


@dataclass(frozen=True, slots=True)
class Kick:
    """Remove ``name`` from ``channel`` (a group: its owner; the main channel: an admin
    disconnects them)."""

    channel: str
    name: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Invite:
    """Tell ``name`` that the asker invites them to ``channel`` (IRC INVITE)."""

    name: str
    channel: str


@dataclass(frozen=True, slots=True)
class Kill:
    """An admin disconnects ``name`` (IRC's KILL)."""

    name: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Oper:
    """Become an operator (IRC OPER): ``name`` and ``password`` of an admin account of the
    accounts file. Never log the password (``repr`` hides it)."""

    name: str
    password: str

    def __repr__(self) -> str:
        return f"Oper(name={self.name!r}, password=<hidden>)"


@dataclass(frozen=True, slots=True)
class Away:
    """Set the away status with ``message``; an empty message means back (active)."""

    message: str = ""


@dataclass(frozen=True, slots=True)
class Rename:
    """Rename one's account to ``name`` (``/nick``)."""

    name: str


@dataclass(frozen=True, slots=True)
class Quit:
    """Leave the chat with ``reason`` (may be "")."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class Names:
    """Who is in ``channel`` (IRC NAMES); ``""``: every channel the asker is in."""

    channel: str = ""


@dataclass(frozen=True, slots=True)
class ListChannels:
    """The channels: the main one and the public groups, with member counts and topics;
    ``channels`` limits the list to those names (empty: all)."""

    channels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Who:
    """Who matches ``mask``: a channel's online members, or users by name (``*`` and ``?``
    wildcards). ``fields`` (WHOX): the letters of the fields wanted, "" for a classic
    reply; ``token``: the WHOX query token."""

    mask: str
    fields: str = ""
    token: str = ""


@dataclass(frozen=True, slots=True)
class WhoIs:
    """Everything public about ``name``."""

    name: str


@dataclass(frozen=True, slots=True)
class UserHost:
    """``nick!user@host`` of up to five online ``names`` (IRC USERHOST)."""

    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Lusers:
    """How many users, channels and connections there are (IRC LUSERS)."""


@dataclass(frozen=True, slots=True)
class ChannelMode:
    """Show ``channel``'s modes, or (``changes`` non-empty) change them: only ``+o`` /
    ``-o`` have a meaning (a group's owner); other changes are refused."""

    channel: str
    changes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SlashCommand:
    """A pollchat command line (``/who``, ``/create #g private``...), for the commands
    a front end has no words of its own for. The session parses it with the command
    table, as it would from the line protocol."""

    line: str


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """A point in a conversation's history (an IRCv3 ``CHATHISTORY`` selector): a
    message's ``msgid`` as the server tagged it, or a time, ``ms`` milliseconds since
    the epoch (UTC; ``timestamp=`` is given to the millisecond). Exactly one is set."""

    msgid: str = ""
    ms: int | None = None


@dataclass(frozen=True, slots=True)
class ChatHistory:
    """Messages of a conversation already said (IRCv3 draft/chathistory).

    Attributes:
        subcommand: ``LATEST``, ``BEFORE``, ``AFTER``, ``AROUND``, ``BETWEEN`` or ``TARGETS``.
        target: the conversation as the client named it: the main channel, a
            ``#group``, a nick (the private conversation with it); ``""`` for ``TARGETS``.
        points: the selectors: one (``None`` for ``LATEST *``), two for ``BETWEEN``
            and ``TARGETS`` (times only for ``TARGETS``).
        limit: the most messages (or targets) wanted, 1 or more, at most the
            server's ``CHATHISTORY`` limit.
    """

    subcommand: str
    target: str
    points: tuple[HistoryPoint | None, ...]
    limit: int


@dataclass(frozen=True, slots=True)
class Registered:
    """Connection registration just finished for an account that logged in before it
    (SASL, or a REGISTER before ``CAP END``): ``001`` is out, so the front end's
    server half now joins the client to its groups' channels."""


@dataclass(frozen=True, slots=True)
class ReplyStart:
    """The requests that follow, up to the matching :class:`ReplyEnd`, carry out one
    message that asked for a labelled answer (IRCv3 labeled-response): what the server
    sends the connection while carrying them out, now or in a later loop pass, is that
    message's answer, framed with ``label`` when it ends.

    Attributes:
        label: the client's label, 1 to 64 bytes (the spec's limit).
    """

    label: str


@dataclass(frozen=True, slots=True)
class ReplyEnd:
    """The end of the requests of the labelled message :class:`ReplyStart` began."""

    label: str


Request = (
    LogIn
    | Send
    | ChangeMode
    | Say
    | Join
    | Part
    | Topic
    | Kick
    | Invite
    | Kill
    | Oper
    | Away
    | Rename
    | Quit
    | Names
    | ListChannels
    | Who
    | WhoIs
    | UserHost
    | Lusers
    | ChannelMode
    | SlashCommand
    | ChatHistory
    | Registered
    | ReplyStart
    | ReplyEnd
)
"""Any typed request."""

REQUEST_TYPES = (
    LogIn,
    Send,
    ChangeMode,
    Say,
    Join,
    Part,
    Topic,
    Kick,
    Invite,
    Kill,
    Oper,
    Away,
    Rename,
    Quit,
    Names,
    ListChannels,
    Who,
    WhoIs,
    UserHost,
    Lusers,
    ChannelMode,
    SlashCommand,
    ChatHistory,
    Registered,
    ReplyStart,
    ReplyEnd,
)
"""The request classes, for ``isinstance`` checks."""
