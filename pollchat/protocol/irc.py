"""The IRC front end's codec: IRC messages in, typed requests out; events in, IRC out (pure).

One :class:`IrcCodec` per connection, in the sans-IO style of the other codecs
(:mod:`pollchat.protocol.codec`). The references are RFC 1459 / RFC 2812 as modern servers
speak them (https://modern.ircdocs.horse) and the IRCv3 specifications
(https://ircv3.net/irc/): message tags, capability negotiation (CAP LS 302), SASL PLAIN.

What the codec does by itself, with bytes only (a :class:`~pollchat.protocol.requests.Send`
request keeps its answers in order with the rest):

* framing: lines end with LF (one CR before it is dropped); the part after the tags may
  be 512 bytes with its CRLF, the tags 8191 bytes with their ``@`` and space (IRCv3
  message-tags), or the line gets ``417 ERR_INPUTTOOLONG`` and is discarded; invalid UTF-8
  gets ``FAIL <command> INVALID_UTF8`` (IRCv3 utf8-only);
* registration: ``CAP``, ``NICK``, ``USER``, ``PASS``, ``AUTHENTICATE`` (SASL PLAIN), then one
  :class:`~pollchat.protocol.requests.LogIn`; ``PING``; parameter counts (``461``),
  unknown commands (``421``), commands before registration (``451``);
* after registration, one typed request per IRC command (``PRIVMSG #lobby`` is a
  :class:`~pollchat.protocol.requests.Say`, a CTCP ACTION an action line, ``CHATHISTORY``
  a :class:`~pollchat.protocol.requests.ChatHistory` with its selectors parsed...);
  commands sent behind the credentials wait for ``001`` (:meth:`IrcCodec.take_early`);
* IRCv3 labeled-response: a labelled message's requests come between a
  :class:`~pollchat.protocol.requests.ReplyStart` and a
  :class:`~pollchat.protocol.requests.ReplyEnd`; the server gathers what it sends
  meanwhile and :func:`frame_reply` turns it into the answer (``ACK``, one labelled
  line, or a ``labeled-response`` batch).

Events become IRC messages in :meth:`IrcCodec.encode`. The bytes of a broadcast depend only on
:attr:`IrcCodec.mode_key`: the negotiated capabilities that change how a message looks
(``server-time``, ``echo-message``, ``away-notify``, ``extended-join``, ``account-tag``,
``message-tags``) and whether the main channel is joined. Replies to one connection
(numerics) use its nickname.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from pollchat.protocol.events import (
    Announcement,
    Emote,
    Entered,
    Error,
    Greeting,
    GroupEvent,
    HistoryEnd,
    Labelled,
    HistoryStart,
    Receipt,
    Left,
    Mention,
    Message,
    ModeSwitched,
    Notice,
    PrivateMessage,
    Renamed,
    ServerEvent,
    ShuttingDown,
    StatusChanged,
    Typing,
    Welcome,
)
from pollchat.protocol.names import MAX_NAME_LENGTH, normalize_name
from pollchat.protocol.render import render_text
from pollchat.protocol.requests import (
    Away,
    ChangeMode,
    ChannelMode,
    ChatHistory,
    HistoryPoint,
    Registered,
    ReplyEnd,
    ReplyStart,
    Invite,
    Join,
    Kick,
    Kill,
    ListChannels,
    LogIn,
    Lusers,
    Names,
    Oper,
    Part,
    Quit,
    Rename,
    Request,
    Say,
    Send,
    SlashCommand,
    Topic,
    UserHost,
    Who,
    WhoIs,
)
from pollchat.texts import ErrorCode, GroupChange

MAX_BODY = 512
"""Bytes of a message without its tags, CRLF included (RFC 1459 section 2.3)."""
MAX_TAGS = 8191
"""Bytes of the tags section of a line, its ``@`` and the space after it included (IRCv3
message-tags: 4094 for a client's tags plus the server's): what is buffered at most."""
MAX_CLIENT_TAGS = 4096
"""Bytes of the tags a client may send, ``@`` and the space after them included (IRCv3
message-tags: 4094 bytes of tag data)."""
MAX_SASL = 8192
"""Bytes of one SASL response (in 400-byte chunks) before it is refused with ``904``."""
MAX_EARLY = 32
"""Commands kept while a login is checked, carried out after ``001`` (more get ``451``)."""
MAX_PARAMS = 15
"""Parameters of one message (RFC 1459 section 2.3.1)."""
HOST = "pollchat"
"""The host part of every user's ``nick!user@host``: addresses are not shown to others."""
SERVICE = "*pollchat"
"""The service nick: ``PRIVMSG *pollchat :/command`` runs a pollchat command."""

CAPABILITIES: dict[str, str] = {
    "account-tag": "",
    "away-notify": "",
    "batch": "",
    "cap-notify": "",
    "draft/account-registration": "before-connect",
    "draft/chathistory": "",
    "echo-message": "",
    "extended-join": "",
    "labeled-response": "",
    "message-tags": "",
    "multi-prefix": "",
    "sasl": "PLAIN",
    "server-time": "",
    "userhost-in-names": "",
}
"""The IRCv3 capabilities offered, with their ``CAP LS 302`` values."""
_RENDERING_CAPS = ("account-tag", "away-notify", "echo-message", "extended-join", "message-tags", "server-time")
"""Capabilities that change the bytes of a broadcast (part of the mode key)."""

CHATHISTORY_LIMIT = 100
"""The most messages one ``CHATHISTORY`` request returns (ISUPPORT ``CHATHISTORY``)."""

MAX_LABEL = 64
"""The longest ``label`` tag value accepted, in bytes (IRCv3 labeled-response); a
longer one is not echoed: the message is answered as if it had none."""

CHANMODES = "b,k,l,imnpst"
"""The channel modes of ISUPPORT's CHANMODES (what a group can be: ``+nt`` always)."""


@dataclass(frozen=True, slots=True)
class IrcMessage:
    """One parsed IRC message: ``tags`` (key, value) pairs, the ``source`` (or ""), the
    ``command`` (upper-cased) and its ``params`` (the trailing one included)."""

    tags: tuple[tuple[str, str], ...]
    source: str
    command: str
    params: tuple[str, ...]


_TAG_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_TAG_ESCAPES = str.maketrans({";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"})


def _unescape_tag(value: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            out.append(_TAG_UNESCAPES.get(value[i + 1], value[i + 1]))
            i += 2
            continue
        if ch != "\\":
            out.append(ch)
        i += 1
    return "".join(out)


def parse_message(line: str) -> IrcMessage | None:
    """Parse one line (no terminator) into an :class:`IrcMessage`; ``None`` for a line
    with no command (empty, or only tags and a source). Never raises.

    Rules (modern.ircdocs.horse, "Messages"): optional ``@tags`` (``;``-separated,
    ``key=value`` with IRCv3 escapes), optional ``:source``, the command, then up to 15
    parameters separated by one or more spaces, the last one after `` :`` taking the
    rest of the line."""
    rest = line
    tags: list[tuple[str, str]] = []
    if rest.startswith("@"):
        raw, _, rest = rest[1:].partition(" ")
        for item in raw.split(";"):
            if item:
                key, _, value = item.partition("=")
                tags.append((key, _unescape_tag(value)))
    rest = rest.lstrip(" ")
    source = ""
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
    rest = rest.lstrip(" ")
    command, _, rest = rest.partition(" ")
    if not command:
        return None
    params: list[str] = []
    while rest:
        rest = rest.lstrip(" ")
        if not rest:
            break
        if rest.startswith(":") or len(params) == MAX_PARAMS - 1:
            params.append(rest[1:] if rest.startswith(":") else rest)
            break
        param, _, rest = rest.partition(" ")
        params.append(param)
    return IrcMessage(tuple(tags), source, command.upper(), tuple(params))


def format_message(
    command: str, *params: str, source: str = "", tags: tuple[tuple[str, str], ...] = ()
) -> bytes:
    """One IRC line with its CRLF. The last parameter gets a ``:`` when it needs one
    (empty, with a space, or starting with ``:``). CR, LF and NUL in a parameter become
    spaces: no text can start a second line."""
    parts: list[str] = []
    if tags:
        parts.append("@" + ";".join(k + ("=" + v.translate(_TAG_ESCAPES) if v else "") for k, v in tags))
    if source:
        parts.append(":" + source)
    parts.append(command)
    for i, param in enumerate(params):
        param = _clean(param)
        if i == len(params) - 1 and (not param or " " in param or param.startswith(":")):
            param = ":" + param
        parts.append(param)
    return (" ".join(parts) + "\r\n").encode("utf-8")


def has_tag(line: bytes, key: str) -> bool:
    """Whether the IRC line ``line`` (as :func:`format_message` makes it) carries the
    tag ``key``."""
    if not line.startswith(b"@"):
        return False
    wanted = key.encode()
    section = line[1:].split(b" ", 1)[0]
    return any(item.split(b"=", 1)[0] == wanted for item in section.split(b";"))


def add_tag(line: bytes, key: str, value: str) -> bytes:
    """``line`` (one IRC line with its CRLF) with the tag ``key=value`` put first among
    its tags (IRCv3 message-tags escapes for ``value``). The caller makes sure the line
    has no ``key`` tag yet."""
    tag = (key + "=" + value.translate(_TAG_ESCAPES) if value else key).encode("utf-8")
    if line.startswith(b"@"):
        return b"@" + tag + b";" + line[1:]
    return b"@" + tag + b" " + line


def frame_reply(label: str, data: bytes, source: str, ref: str, *, batch: bool = True) -> bytes:
    """The answer to a labelled message (IRCv3 labeled-response), from ``data``: the
    IRC lines (each ending with CRLF) the server sent the client while carrying it out.

    * no line: ``@label=L :source ACK``;
    * one line: that line with the ``label`` tag;
    * more: ``@label=L :source BATCH +ref labeled-response``, every line with
      ``batch=ref`` (a line already in a batch, such as the lines of a ``chathistory``
      batch, keeps its own: that batch is nested, its ``BATCH`` lines are in ``ref``),
      then ``:source BATCH -ref``. Without ``batch`` (the client did not enable the
      capability) the lines go as they are, unlabelled: a client can only tell a
      labelled answer of several lines by its batch.
    """
    lines = [line + b"\r\n" for line in data.split(b"\r\n") if line]
    if not lines:
        return format_message("ACK", source=source, tags=(("label", label),))
    if len(lines) == 1:
        return add_tag(lines[0], "label", label)
    if not batch:
        return b"".join(lines)
    out = [format_message("BATCH", "+" + ref, "labeled-response", source=source, tags=(("label", label),))]
    out += [line if has_tag(line, "batch") else add_tag(line, "batch", ref) for line in lines]
    out.append(format_message("BATCH", "-" + ref, source=source))
    return b"".join(out)


def valid_label(label: str) -> bool:
    """A ``label`` tag value that is echoed: 1 to :data:`MAX_LABEL` bytes."""
    return 0 < len(label.encode("utf-8")) <= MAX_LABEL


def _clean(text: str) -> str:
    if "\r" in text or "\n" in text or "\0" in text:
        return text.replace("\r", " ").replace("\n", " ").replace("\0", " ")
    return text


def user_source(name: str) -> str:
    """``name!name@pollchat``: a user as the source of a message."""
    return f"{name}!{name}@{HOST}"


def server_time(ts: float) -> str:
    """IRCv3 server-time's format: ``2026-12-07T02:30:00.000Z`` (UTC, milliseconds)."""
    moment = datetime.fromtimestamp(ts, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def message_id(sender: str, ts: float) -> str:
    """IRCv3 ``msgid`` of a chat line: equal for every recipient of one fan-out (they share
    its timestamp), different for two lines of one sender (timestamps in microseconds)."""
    return f"{int(ts * 1_000_000):x}-{sender.encode().hex()[:16]}"


def parse_point(text: str) -> HistoryPoint | None:
    """A ``CHATHISTORY`` selector: ``msgid=<id>`` or ``timestamp=<ISO 8601 UTC>``
    (milliseconds kept, finer digits dropped); ``None`` if it is neither."""
    kind, _, value = text.partition("=")
    if kind == "msgid" and value:
        return HistoryPoint(msgid=value)
    if kind != "timestamp" or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return HistoryPoint(ms=(moment - _EPOCH) // timedelta(milliseconds=1))


_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def default_motd(main_channel: str) -> tuple[str, ...]:
    """The gateway's message of the day: how pollchat looks from IRC, in three lines
    (``375``/``372``/``376`` rather than ``422 MOTD File is missing``, which clients
    and load generators show or count as an error)."""
    return (
        f"pollchat: {main_channel} is the main chat, where everyone logged in is; groups are channels (JOIN #name makes one).",
        "History: the last lines come at login; CHATHISTORY (IRCv3 draft/chathistory) pages back.",
        "Commands IRC has no word for: /msg *pollchat /help",
    )


def fold_channel(name: str) -> str:
    """The case-insensitive form of a channel name (``CASEMAPPING=ascii`` for the ``#``
    part, Unicode case folding for the rest, as account names)."""
    return name.casefold()


def valid_nick(nick: str) -> bool:
    """True if ``nick`` can be an account's name (:func:`~pollchat.protocol.names.normalize_name`)."""
    return normalize_name(nick) is not None


class IrcCodec:
    """One IRC connection's protocol state (see the module docstring).

    Args:
        server_name: the server's name (the source of numerics, ``004``, ``PONG``).
        main_channel: the main chat's channel name (``#lobby``).
        autojoin: join the main channel right after registration.
        guests: a client without credentials may come in as a guest.
        version: the server's version, for ``002`` and ``004``.
        created: when the server started (text for ``003``).
        motd: the message of the day's lines (empty: ``422``; ``None``: :func:`default_motd`).
        max_line: the longest input line in bytes (tags and CRLF excluded is
            :data:`MAX_BODY`); bounds what is buffered.

    Attributes:
        nick: the nickname (the account's name once registered); ``*`` before.
        user, realname: from ``USER``.
        caps: the capabilities enabled.
        registered: ``001`` was sent.
        in_main: the main channel is joined (its lines, joins and quits are shown).
        busy, held: an operation of the server for this connection is under way (an
            OPER's password check); the requests that came meanwhile wait in ``held``, in
            order (kept by the server).
        recorded: given by the server: ``recorded(sender, text)`` is the time (epoch
            seconds) of the history record of the live line being fanned out, if it is
            that line's, else ``None``. A live line's ``time`` and ``msgid`` tags then
            are its record's, so ``CHATHISTORY`` finds it and replays it with the same
            tags.
        account_of: given by the server: the account name of an online user (``""``
            for a guest or someone offline), for the ``account`` tag of live lines
            (IRCv3 account-tag), so the broadcast renders it once per mode key.
    """

    peer_closed = False
    should_close = False

    def __init__(
        self,
        server_name: str,
        main_channel: str = "#lobby",
        *,
        autojoin: bool = True,
        guests: bool = False,
        version: str = "pollchat",
        created: str = "",
        motd: tuple[str, ...] | None = None,
    ) -> None:
        self.server_name = server_name
        self.main_channel = main_channel
        self.main_key = fold_channel(main_channel)
        self.autojoin = autojoin
        self.guests = guests
        self.version = version
        self.created = created
        self.motd = default_motd(main_channel) if motd is None else motd
        self.nick = "*"
        self.user = ""
        self.realname = ""
        self.password: str | None = None
        self.caps: set[str] = set()
        self.cap_version = 0
        self.negotiating = False
        self.registered = False
        self.logging_in = False  # a LogIn was handed out: its answer is awaited
        self.sasl_mechanism = ""  # "PLAIN" while an AUTHENTICATE exchange runs
        self.sasl_buffer = ""
        self.sasl_done = False  # logged in early (SASL, REGISTER); 001 waits for NICK, USER and CAP END
        self.registering = False  # the LogIn under way is a REGISTER
        self.pending_welcome: Welcome | None = None
        self.in_main = autojoin
        self.away = False
        self.quit_reason = ""
        self.busy = False
        self.held: list[Request] = []
        self.peak = 0  # the most users online so far, told by the server before the welcome
        self.recorded: Callable[[str, str], float | None] | None = None
        self.account_of: Callable[[str], str] | None = None
        self._batches = 0
        self._replies = 0
        self._early: list[IrcMessage] = []  # sent before 001 while the login was checked
        self._buf = bytearray()
        self._discarding = False
        self._mode_key = self._make_key()

    # --- the Codec contract ---------------------------------------------------------------

    ready = True

    @property
    def mode_key(self) -> str:
        """``irc`` plus the rendering capabilities and whether the main channel is joined."""
        return self._mode_key

    def _make_key(self, caps: set[str] | None = None, in_main: bool | None = None) -> str:
        caps = self.caps if caps is None else caps
        joined = self.in_main if in_main is None else in_main
        return "irc:" + ",".join(c for c in _RENDERING_CAPS if c in caps) + (":main" if joined else ":")

    def switch_mode(self, mode: str) -> None:
        """Apply a mode key made by this codec (a :class:`~pollchat.protocol.requests.ChangeMode`)."""
        if not mode.startswith("irc:"):
            return
        _, caps, where = mode.split(":", 2)
        self.caps = {c for c in self.caps if c not in _RENDERING_CAPS} | {c for c in caps.split(",") if c}
        self.in_main = where == "main"
        self._mode_key = self._make_key()

    def data_to_send(self) -> bytes:
        """Always ``b""``: the codec's own answers travel as :class:`Send` requests, in order."""
        return b""

    def close_data(self) -> bytes:
        """Always ``b""``: the last line (an ``ERROR``) is an event's rendering."""
        return b""

    def receive_data(self, data: bytes) -> list[Request]:
        """Requests completed by ``data`` (any chunking). Never raises."""
        out: list[Request] = []
        start = 0
        limit = MAX_TAGS + MAX_BODY
        while True:
            nl = data.find(b"\n", start)
            if nl == -1:
                break
            if self._discarding:
                self._discarding = False
            else:
                self._buf += data[start:nl]
                self._line(bytes(self._buf), out)
            self._buf.clear()
            start = nl + 1
        if not self._discarding:
            self._buf += data[start:]
            if len(self._buf) > limit:
                self._buf.clear()
                self._discarding = True
                out.append(Send(self.numeric("417", "Input line was too long")))
        return out

    # --- input ------------------------------------------------------------------------------

    def _line(self, raw: bytes, out: list[Request]) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        body = raw
        if raw.startswith(b"@"):
            space = raw.find(b" ")
            tags_len = space + 1 if space != -1 else len(raw)
            if tags_len > MAX_CLIENT_TAGS:
                out.append(Send(self.numeric("417", "Input line was too long")))
                return
            body = raw[tags_len:] if space != -1 else b""
        if len(body) + 2 > MAX_BODY:
            out.append(Send(self.numeric("417", "Input line was too long")))
            return
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            word = body.lstrip(b" ").split(b" ", 1)[0].decode("ascii", "replace").upper() if body else "*"
            label = self._raw_label(raw[: len(raw) - len(body)])
            fail = Send(self._message("FAIL", word or "*", "INVALID_UTF8", "Message rejected: not UTF-8"))
            out.extend((ReplyStart(label), fail, ReplyEnd(label)) if label else (fail,))
            return
        message = parse_message(line)
        if message is None:
            return
        self._dispatch(message, out)

    def _client_tags(self, m: IrcMessage) -> tuple[tuple[str, str], ...]:
        if "message-tags" not in self.caps:
            return ()
        return tuple((k, v) for k, v in m.tags if k.startswith("+") and len(k) > 1)

    def _label(self, m: IrcMessage) -> str:
        """The label ``m`` asks its answer to carry (IRCv3 labeled-response), or ``""``."""
        if "labeled-response" not in self.caps:
            return ""
        for key, value in m.tags:
            if key == "label":
                return value if valid_label(value) else ""
        return ""

    def _raw_label(self, tags: bytes) -> str:
        """:meth:`_label` of a line known only by its tags section (``@...`` and its
        space, as bytes: the rest of the line is not UTF-8)."""
        try:
            message = parse_message(tags.decode("utf-8") + "X")
        except UnicodeDecodeError:
            return ""
        return self._label(message) if message is not None else ""

    def _dispatch(self, m: IrcMessage, out: list[Request]) -> None:
        """Carry out ``m``; a labelled message's requests come between a
        :class:`ReplyStart` and a :class:`ReplyEnd` (not when ``m`` waits for ``001``:
        it gets them when carried out)."""
        label = self._label(m)
        if not label:
            self._run(m, out)
            return
        mark, early = len(out), len(self._early)
        out.append(ReplyStart(label))
        self._run(m, out)
        if len(self._early) > early:  # kept for after 001 (take_early labels it then)
            del out[mark]
            return
        out.append(ReplyEnd(label))

    def _run(self, m: IrcMessage, out: list[Request]) -> None:
        command, params = m.command, m.params
        handler = _PRE.get(command) if not self.registered else None
        if handler is not None or command in _ANYTIME:
            (handler or _ANYTIME[command])(self, params, out)
            return
        if not self.registered:
            if command in _AFTER and (self.logging_in or self.sasl_done) and len(self._early) < MAX_EARLY:
                self._early.append(m)  # pipelined behind NICK/USER: carried out after 001 (take_early)
                return
            if command in _AFTER or command.isdigit():
                out.append(Send(self.numeric("451", command, "You have not registered")))
            else:
                out.append(Send(self.numeric("421", command, "Unknown command")))
            return
        after = _AFTER.get(command)
        if after is None:
            out.append(Send(self.numeric("421", command, "Unknown command")))
            return
        minimum = _MIN_PARAMS.get(command, 0)
        if len(params) < minimum:
            out.append(Send(self.numeric("461", command, "Not enough parameters")))
            return
        if command in ("PRIVMSG", "NOTICE", "TAGMSG"):
            self._privmsg(params, out, notice=command == "NOTICE", tags=self._client_tags(m), tag_only=command == "TAGMSG")
            return
        after(self, params, out)

    # --- before registration ------------------------------------------------------------------

    def _nick(self, params: tuple[str, ...], out: list[Request]) -> None:
        if not params or not params[0]:
            out.append(Send(self.numeric("431", "No nickname given")))
            return
        nick = params[0]
        if not valid_nick(nick):
            out.append(Send(self.numeric("432", nick, "Erroneous nickname")))
            return
        if self.registered:
            out.append(Rename(nick))
            return
        self.nick = nick
        self._maybe_register(out)

    def _user(self, params: tuple[str, ...], out: list[Request]) -> None:
        if self.registered or self.user:
            out.append(Send(self.numeric("462", "You may not reregister")))
            return
        if len(params) < 4 or not params[0] or not params[3]:
            out.append(Send(self.numeric("461", "USER", "Not enough parameters")))
            return
        self.user = params[0][:16]
        self.realname = params[3]
        self._maybe_register(out)

    def _pass(self, params: tuple[str, ...], out: list[Request]) -> None:
        if self.registered:
            out.append(Send(self.numeric("462", "You may not reregister")))
            return
        if not params or not params[0]:
            out.append(Send(self.numeric("461", "PASS", "Not enough parameters")))
            return
        self.password = params[0]

    def _maybe_register(self, out: list[Request]) -> None:
        if self.registered or self.negotiating or self.logging_in or self.nick == "*" or not self.user:
            return
        if self.sasl_done:
            self._finish_sasl_registration(out)
            return
        if self.password is not None:
            name, colon, password = self.password.partition(":")
            if not colon:
                name, password = self.nick, self.password
            self.logging_in = True
            out.append(LogIn(name, password))
            return
        if self.guests:
            self.logging_in = True
            out.append(LogIn(self.nick, guest=True))
            return
        out.append(Send(self.numeric("464", "Password required: PASS user:password, or SASL")))
        out.append(Quit("no credentials"))

    def take_early(self) -> list[Request]:
        """The requests of the commands that came after the credentials but before
        ``001`` (a client that does not wait for the welcome: ``NICK``, ``USER``, ``JOIN``
        in one write), now that registration is done; the server carries them out in
        order. Empty before ``001``."""
        if not self.registered:
            return []
        early, self._early = self._early, []
        out: list[Request] = []
        for message in early:
            self._dispatch(message, out)
        return out

    def _finish_sasl_registration(self, out: list[Request]) -> None:
        if self.pending_welcome is not None:
            welcome, self.pending_welcome = self.pending_welcome, None
            out.append(Send(self._welcome(welcome)))
            out.append(Registered())  # the server joins the client to its groups' channels now

    def _cap(self, params: tuple[str, ...], out: list[Request]) -> None:
        if not params:
            out.append(Send(self.numeric("461", "CAP", "Not enough parameters")))
            return
        sub = params[0].upper()
        if sub == "LS":
            if not self.registered:
                self.negotiating = True
            version = int(params[1]) if len(params) > 1 and params[1].isdigit() else 0
            self.cap_version = max(self.cap_version, version)
            if self.cap_version >= 302:
                self.caps.add("cap-notify")  # implied by CAP LS 302 (IRCv3 cap-notify)
            offered = " ".join(
                k + ("=" + v if v and self.cap_version >= 302 else "") for k, v in sorted(CAPABILITIES.items())
            )
            out.append(Send(self._message("CAP", self.nick, "LS", offered, source=self.server_name)))
        elif sub == "LIST":
            out.append(Send(self._message("CAP", self.nick, "LIST", " ".join(sorted(self.caps)), source=self.server_name)))
        elif sub == "REQ":
            if not self.registered:
                self.negotiating = True
            wanted = params[1] if len(params) > 1 else ""
            names = wanted.split()
            caps = set(self.caps)
            ok = bool(names)
            for name in names:
                cap = name.removeprefix("-")
                if cap not in CAPABILITIES or (name.startswith("-") and cap in ("cap-notify",) and self.cap_version >= 302):
                    ok = False
                    break
                if name.startswith("-"):
                    caps.discard(cap)
                else:
                    caps.add(cap)
            if not ok:
                out.append(Send(self._message("CAP", self.nick, "NAK", wanted, source=self.server_name)))
                return
            key = self._make_key(caps)
            self.caps = {c for c in caps if c not in _RENDERING_CAPS} | {c for c in self.caps if c in _RENDERING_CAPS}
            out.append(Send(self._message("CAP", self.nick, "ACK", wanted, source=self.server_name)))
            if key != self._mode_key:
                out.append(ChangeMode(key))
        elif sub == "END":
            if self.registered:
                return
            self.negotiating = False
            self._maybe_register(out)
        else:
            out.append(Send(self.numeric("410", params[0], "Invalid CAP command")))

    def _authenticate(self, params: tuple[str, ...], out: list[Request]) -> None:
        if "sasl" not in self.caps:
            out.append(Send(self.numeric("421", "AUTHENTICATE", "Unknown command")))
            return
        if self.registered:  # a connection's account does not change (no SASL re-authentication)
            out.append(Send(self.numeric("462", "You may not reregister")))
            return
        if self.sasl_done:
            out.append(Send(self.numeric("907", "You have already authenticated using SASL")))
            return
        if not params or not params[0]:
            out.append(Send(self.numeric("461", "AUTHENTICATE", "Not enough parameters")))
            return
        arg = params[0]
        if arg == "*":
            if self.sasl_mechanism:
                self.sasl_mechanism, self.sasl_buffer = "", ""
                out.append(Send(self.numeric("906", "SASL authentication aborted")))
            else:
                out.append(Send(self.numeric("904", "SASL authentication failed")))
            return
        if not self.sasl_mechanism:
            if arg.upper() != "PLAIN":
                out.append(Send(self.numeric("908", "PLAIN", "are available SASL mechanisms")))
                out.append(Send(self.numeric("904", "SASL authentication failed")))
                return
            if self.logging_in:
                out.append(Send(self.numeric("904", "SASL authentication failed")))
                return
            self.sasl_mechanism = "PLAIN"
            out.append(Send(format_message("AUTHENTICATE", "+")))
            return
        if len(arg) > 400:
            out.append(Send(self.numeric("905", "SASL message too long")))
            self.sasl_mechanism, self.sasl_buffer = "", ""
            return
        if arg != "+":
            self.sasl_buffer += arg
        if len(self.sasl_buffer) > MAX_SASL:
            self.sasl_mechanism, self.sasl_buffer = "", ""
            out.append(Send(self.numeric("904", "SASL authentication failed: response too long")))
            return
        if len(arg) == 400:
            return  # more to come (IRCv3 sasl-3.1: 400-byte chunks)
        data, self.sasl_buffer, self.sasl_mechanism = self.sasl_buffer, "", ""
        try:
            decoded = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            out.append(Send(self.numeric("904", "SASL authentication failed")))
            return
        fields = decoded.split("\0")
        if len(fields) != 3 or not fields[1] or not fields[2] or (fields[0] and fields[0] != fields[1]):
            out.append(Send(self.numeric("904", "SASL authentication failed")))
            return
        self.logging_in = True
        out.append(LogIn(fields[1], fields[2], sasl=True))

    def _register(self, params: tuple[str, ...], out: list[Request]) -> None:
        """IRCv3 draft/account-registration: ``REGISTER <account|*> <email|*> <password>``,
        before connection registration too (``before-connect``, as ergo): the account is
        made and logged in at once (``REGISTER SUCCESS``), ``001`` follows once
        ``NICK``, ``USER`` (and ``CAP END``) have come. Refusals are the spec's ``FAIL
        REGISTER`` codes (:meth:`_error`)."""
        if self.registered or self.logging_in or self.sasl_done:
            out.append(Send(self._message("FAIL", "REGISTER", "ALREADY_AUTHENTICATED", "*", "You are already logged in")))
            return
        if len(params) < 3:
            out.append(Send(self.numeric("461", "REGISTER", "Not enough parameters")))
            return
        if params[0] == "*" and self.nick == "*":
            out.append(Send(self._message("FAIL", "REGISTER", "NEED_NICK", "*", "Send NICK first, or name the account")))
            return
        name = self.nick if params[0] == "*" else params[0]
        if not valid_nick(name):
            out.append(Send(self._message("FAIL", "REGISTER", "BAD_ACCOUNT_NAME", name, "Invalid account name")))
            return
        self.nick = name
        self.logging_in = True
        self.registering = True
        out.append(LogIn(name, params[2], register=True))

    def _ping(self, params: tuple[str, ...], out: list[Request]) -> None:
        if not params or not params[0]:
            out.append(Send(self.numeric("461", "PING", "Not enough parameters")))
            return
        out.append(Send(self._message("PONG", self.server_name, params[0], source=self.server_name)))

    def _quit(self, params: tuple[str, ...], out: list[Request]) -> None:
        self.quit_reason = params[0] if params else ""
        out.append(Quit(self.quit_reason))

    def _ignore(self, params: tuple[str, ...], out: list[Request]) -> None:
        pass

    # --- after registration ---------------------------------------------------------------------

    def _privmsg(
        self,
        params: tuple[str, ...],
        out: list[Request],
        notice: bool = False,
        tags: tuple[tuple[str, str], ...] = (),
        tag_only: bool = False,
    ) -> None:
        command = "NOTICE" if notice else "PRIVMSG"
        if tag_only:
            if params and params[0] and tags:
                out.append(Say(params[0].split(",")[0], "", tags=tags, tag_only=True))
            return
        if not params or not params[0]:
            if not notice:
                out.append(Send(self.numeric("411", f"No recipient given ({command})")))
            return
        if len(params) < 2 or not params[1]:
            if not notice:
                out.append(Send(self.numeric("412", "No text to send")))
            return
        text = params[1]
        action = False
        if text.startswith("\x01ACTION ") or text == "\x01ACTION\x01":
            action = True
            text = text[len("\x01ACTION") :].strip("\x01").lstrip(" ")
            if not text:
                return
        for target in params[0].split(","):
            if not target:
                continue
            if target.casefold() == SERVICE:
                if not notice:
                    out.append(SlashCommand(text))
                continue
            out.append(Say(target, text, action=action, notice=notice, tags=tags))

    def _notice(self, params: tuple[str, ...], out: list[Request]) -> None:
        self._privmsg(params, out, notice=True)

    def _join(self, params: tuple[str, ...], out: list[Request]) -> None:
        if params[0] == "0":
            out.append(Part("*"))
            return
        for channel in params[0].split(","):
            if channel:
                out.append(Join(channel))

    def _part(self, params: tuple[str, ...], out: list[Request]) -> None:
        reason = params[1] if len(params) > 1 else ""
        for channel in params[0].split(","):
            if channel:
                out.append(Part(channel, reason))

    def _topic(self, params: tuple[str, ...], out: list[Request]) -> None:
        out.append(Topic(params[0], params[1] if len(params) > 1 else None))

    def _kick(self, params: tuple[str, ...], out: list[Request]) -> None:
        reason = params[2] if len(params) > 2 else ""
        for name in params[1].split(","):
            if name:
                out.append(Kick(params[0], name, reason))

    def _invite(self, params: tuple[str, ...], out: list[Request]) -> None:
        out.append(Invite(params[0], params[1]))

    def _kill(self, params: tuple[str, ...], out: list[Request]) -> None:
        out.append(Kill(params[0], params[1] if len(params) > 1 else ""))

    def _away(self, params: tuple[str, ...], out: list[Request]) -> None:
        out.append(Away(params[0] if params else ""))

    def _names(self, params: tuple[str, ...], out: list[Request]) -> None:
        if not params or not params[0]:
            out.append(Names(""))
            return
        for channel in params[0].split(","):
            out.append(Names(channel))

    def _list(self, params: tuple[str, ...], out: list[Request]) -> None:
        channels = tuple(c for c in params[0].split(",") if c) if params and params[0].startswith("#") else ()
        out.append(ListChannels(channels))

    def _who(self, params: tuple[str, ...], out: list[Request]) -> None:
        fields, token = "", ""
        if len(params) > 1 and params[1].startswith("%"):  # WHOX (IRCv3 / modern.ircdocs.horse)
            fields, _, token = params[1][1:].partition(",")
        out.append(Who(params[0] if params else "*", fields, token[:3]))

    def _whois(self, params: tuple[str, ...], out: list[Request]) -> None:
        if not params or not params[-1]:
            out.append(Send(self.numeric("431", "No nickname given")))
            return
        out.append(WhoIs(params[-1].split(",")[0]))

    def _lusers(self, params: tuple[str, ...], out: list[Request]) -> None:
        out.append(Lusers())

    def _userhost(self, params: tuple[str, ...], out: list[Request]) -> None:
        out.append(UserHost(tuple(params[:5])))

    def _motd(self, params: tuple[str, ...], out: list[Request]) -> None:
        out.append(Send(self._motd_bytes()))

    def _mode(self, params: tuple[str, ...], out: list[Request]) -> None:
        target = params[0]
        if target.startswith("#"):
            out.append(ChannelMode(target, params[1:]))
            return
        if target.casefold() != self.nick.casefold():
            if valid_nick(target):
                out.append(Send(self.numeric("502", "Can't change mode for other users")))
            else:
                out.append(Send(self.numeric("401", target, "No such nick/channel")))
            return
        if len(params) == 1:
            out.append(Send(self.numeric("221", "+i")))
            return
        unknown = [ch for ch in params[1] if ch not in "+-i"]
        if unknown:
            out.append(Send(self.numeric("501", "Unknown MODE flag")))

    def _chathistory(self, params: tuple[str, ...], out: list[Request]) -> None:
        """IRCv3 draft/chathistory: ``CHATHISTORY <subcommand> <target> <selector>
        [<selector>] <limit>`` (``TARGETS <timestamp> <timestamp> <limit>``). A
        malformed request gets ``FAIL CHATHISTORY INVALID_PARAMS``; the target and the
        message ids are the server's to check."""
        sub = params[0].upper() if params else ""
        shapes = {"LATEST": 3, "BEFORE": 3, "AFTER": 3, "AROUND": 3, "BETWEEN": 4, "TARGETS": 3}
        wanted = shapes.get(sub)
        if wanted is None:
            out.append(Send(self._message("FAIL", "CHATHISTORY", "INVALID_PARAMS", sub or "*", "Unknown subcommand")))
            return
        args = params[1:]
        if len(args) < wanted:
            out.append(Send(self._message("FAIL", "CHATHISTORY", "INVALID_PARAMS", sub, "Not enough parameters")))
            return
        target = "" if sub == "TARGETS" else args[0]
        selectors = args[:2] if sub == "TARGETS" else args[1 : wanted - 1]
        points: list[HistoryPoint | None] = []
        for text in selectors:
            point = None if text == "*" and sub == "LATEST" else parse_point(text)
            if (point is None and not (text == "*" and sub == "LATEST")) or (sub == "TARGETS" and point and point.msgid):
                out.append(Send(self._message("FAIL", "CHATHISTORY", "INVALID_PARAMS", sub, text, "Invalid selector")))
                return
            points.append(point)
        limit_text = args[wanted - 1]
        if not limit_text.isascii() or not limit_text.isdigit() or int(limit_text) < 1:
            out.append(Send(self._message("FAIL", "CHATHISTORY", "INVALID_PARAMS", sub, limit_text, "Invalid limit")))
            return
        out.append(ChatHistory(sub, target, tuple(points), min(int(limit_text), CHATHISTORY_LIMIT)))

    def _oper(self, params: tuple[str, ...], out: list[Request]) -> None:
        out.append(Oper(params[0], params[1]))

    def _version(self, params: tuple[str, ...], out: list[Request]) -> None:
        out.append(Send(self.numeric("351", self.version, self.server_name, "pollchat IRC gateway")))
        out.append(Send(self._isupport()))

    # --- output ------------------------------------------------------------------------------

    def numeric(self, code: str, *params: str) -> bytes:
        """A numeric reply to this client (``:server code nick params``)."""
        return format_message(code, self.nick, *params, source=self.server_name)

    def _message(self, command: str, *params: str, source: str = "") -> bytes:
        return format_message(command, *params, source=source or self.server_name)

    def _isupport(self) -> bytes:
        tokens = [
            "AWAYLEN=390",
            "CASEMAPPING=ascii",
            f"CHANMODES={CHANMODES}",
            f"CHANNELLEN={MAX_NAME_LENGTH + 1}",
            "CHANTYPES=#",
            "KICKLEN=390",
            "MAXTARGETS=4",
            "MODES=1",
            "NETWORK=pollchat",
            f"NICKLEN={MAX_NAME_LENGTH}",
            "PREFIX=(o)@",
            "TARGMAX=PRIVMSG:4,NOTICE:4,JOIN:,PART:,NAMES:1,KICK:1,WHOIS:1",
            "TOPICLEN=390",
            "UTF8ONLY",
            "WHOX",
            f"CHATHISTORY={CHATHISTORY_LIMIT}",
            "MSGREFTYPES=timestamp,msgid",
        ]
        return self.numeric("005", *tokens[:7], "are supported by this server") + self.numeric(
            "005", *tokens[7:], "are supported by this server"
        )

    def _motd_bytes(self) -> bytes:
        if not self.motd:
            return self.numeric("422", "MOTD File is missing")
        lines = [self.numeric("375", f"- {self.server_name} Message of the day - ")]
        lines += [self.numeric("372", "- " + line) for line in self.motd]
        lines.append(self.numeric("376", "End of /MOTD command."))
        return b"".join(lines)

    def lusers(self, users: int, channels: int, operators: int = 0, peak: int = 0) -> bytes:
        """``251``-``255`` and ``265``/``266`` for ``users`` online (``peak`` at most since
        the start) and ``channels``."""
        peak = max(peak, users)
        return b"".join(
            (
                self.numeric("251", f"There are {users} users and 0 invisible on 1 servers"),
                self.numeric("252", str(operators), "operator(s) online"),
                self.numeric("254", str(channels), "channels formed"),
                self.numeric("255", f"I have {users} clients and 0 servers"),
                self.numeric("265", str(users), str(peak), f"Current local users {users}, max {peak}"),
                self.numeric("266", str(users), str(peak), f"Current global users {users}, max {peak}"),
            )
        )

    def _welcome(self, event: Welcome) -> bytes:
        self.nick = event.name
        self.registered = True
        parts = [
            self.numeric("001", f"Welcome to the pollchat IRC gateway, {event.name}"),
            self.numeric("002", f"Your host is {self.server_name}, running version {self.version}"),
            self.numeric("003", f"This server was created {self.created or 'at start-up'}"),
            self.numeric("004", self.server_name, self.version, "i", "bklmnopst", "bklo"),
            self._isupport(),
            self.lusers(len(event.users), 0, peak=self.peak),
            self._motd_bytes(),
        ]
        if self.in_main:
            parts.append(self.join_line(event.name, self.main_channel))
            parts.append(self.names(self.main_channel, [(n, "") for n in event.users]))
        return b"".join(parts)

    def join_line(self, name: str, channel: str, account: str | None = None, realname: str = "") -> bytes:
        """``:name JOIN channel`` (with extended-join: the account, ``*`` for none, and the
        real name)."""
        if "extended-join" in self.caps:
            return format_message("JOIN", channel, account or "*", realname or name, source=user_source(name))
        return format_message("JOIN", channel, source=user_source(name))

    def names(self, channel: str, members: list[tuple[str, str]]) -> bytes:
        """``353`` lines (several when long) and ``366`` for ``members`` ``(name, prefix)``;
        with multi-prefix all prefixes show, else the highest (only ``@`` exists here)."""
        lines: list[bytes] = []
        head = len(self.server_name) + len(self.nick) + len(channel) + 20
        chunk: list[str] = []
        size = head
        for name, prefix in members:
            entry = prefix[:1] + name if "multi-prefix" not in self.caps else prefix + name
            if "userhost-in-names" in self.caps:
                entry += f"!{name}@{HOST}"
            if chunk and size + len(entry.encode()) + 1 > MAX_BODY - 2:
                lines.append(self.numeric("353", "=", channel, " ".join(chunk)))
                chunk, size = [], head
            chunk.append(entry)
            size += len(entry.encode()) + 1
        if chunk:
            lines.append(self.numeric("353", "=", channel, " ".join(chunk)))
        lines.append(self.numeric("366", channel, "End of /NAMES list"))
        return b"".join(lines)

    def who_reply(
        self, channel: str, user: str, nick: str, flags: str, realname: str, idle: int, account: str, fields: str, token: str
    ) -> bytes:
        """One WHO line: ``352``, or with WHOX ``fields`` a ``354`` with those fields in
        the spec's order (t c u i h s n f d l a o r)."""
        if not fields:
            return self.numeric("352", channel, user, HOST, self.server_name, nick, flags, f"0 {realname}")
        values = {
            "t": token or "0",
            "c": channel,
            "u": user,
            "i": "255.255.255.255",
            "h": HOST,
            "s": self.server_name,
            "n": nick,
            "f": flags,
            "d": "0",
            "l": str(idle),
            "a": account or "0",
            "o": "n/a",
            "r": realname,
        }
        return self.numeric("354", *(values[f] for f in "tcuihsnfdlaor" if f in fields))

    def _tags(
        self,
        ts: float,
        at: float | None = None,
        account: str = "",
        sender: str = "",
        client_tags: tuple[tuple[str, str], ...] = (),
        batch: str = "",
    ) -> tuple[tuple[str, str], ...]:
        tags: list[tuple[str, str]] = [("batch", batch)] if batch else []
        if "message-tags" in self.caps:
            tags += client_tags
        if account and "account-tag" in self.caps:
            tags.append(("account", account))
        if "message-tags" in self.caps and sender:
            tags.append(("msgid", message_id(sender, at if at is not None else ts)))
        if "server-time" in self.caps and (ts or at):
            tags.append(("time", server_time(at if at is not None else ts)))
        return tuple(tags)

    def chat_line(
        self, sender: str, target: str, text: str, ts: float, *, action: bool = False, notice: bool = False,
        at: float | None = None, account: str = "", client_tags: tuple[tuple[str, str], ...] = (), tag_only: bool = False,
        batch: str = "",
    ) -> bytes:
        """A PRIVMSG (or NOTICE) from ``sender`` to ``target`` (a CTCP ACTION for
        ``action``), with the tags this client accepts; ``tag_only``: a TAGMSG, only for
        a client with message-tags (else ``b""``); ``batch``: inside that batch (IRCv3
        batch)."""
        tags = self._tags(ts, at, account, sender, client_tags, batch)
        if tag_only:
            if "message-tags" not in self.caps:
                return b""
            return format_message("TAGMSG", target, source=user_source(sender), tags=tags)
        if action:
            text = f"\x01ACTION {text}\x01"
        return format_message("NOTICE" if notice else "PRIVMSG", target, text, source=user_source(sender), tags=tags)

    def server_notice(self, text: str) -> bytes:
        """Lines of a pollchat text as NOTICEs from the service nick."""
        source = f"{SERVICE}!pollchat@{self.server_name}"
        return b"".join(format_message("NOTICE", self.nick, line, source=source) for line in text.split("\n"))

    def encode(self, event: ServerEvent, ts: float) -> bytes:
        """``event`` as IRC lines for this connection (``b""``: not shown on IRC)."""
        match event:
            case Labelled(inner):  # an answer to a labelled command: the server frames it
                return self.encode(inner, ts)
            case Message(sender, text, history, at, group):
                if not group and not self.in_main:
                    return b""
                if history:
                    return self.chat_line(sender, "#" + group if group else self.main_channel, text, ts, at=at)
                return self.chat_line(
                    sender, "#" + group if group else self.main_channel, text, ts, at=self._recorded_at(sender, text),
                    account=self._account(sender),
                )
            case Emote(sender, text, history, at, group):
                if not group and not self.in_main:
                    return b""
                target = "#" + group if group else self.main_channel
                if history:
                    return self.chat_line(sender, target, text, ts, action=True, at=at)
                return self.chat_line(
                    sender, target, text, ts, action=True, at=self._recorded_at(sender, text), account=self._account(sender)
                )
            case PrivateMessage(sender, recipient, text, outgoing, history, at):
                if outgoing and not history:
                    return b""  # the server echoes with echo-message itself
                if outgoing:
                    return self.chat_line(sender, recipient, text, ts, at=at)
                if history:
                    return self.chat_line(sender, recipient, text, ts, at=at)
                return self.chat_line(
                    sender, recipient, text, ts, at=self._recorded_at(sender, text), account=self._account(sender)
                )
            case Entered(name):
                return self.join_line(name, self.main_channel, name) if self.in_main else b""
            case Left(name, reason):
                if not self.in_main:
                    return b""
                return format_message("QUIT", "Quit: " + reason if reason else "Quit", source=user_source(name))
            case StatusChanged(name, status, message):
                if "away-notify" not in self.caps or not self.in_main:
                    return b""
                if status in ("away", "busy"):
                    return format_message("AWAY", message or status, source=user_source(name))
                if status == "active":
                    return format_message("AWAY", source=user_source(name))
                return b""
            case Renamed(old, new):
                return format_message("NICK", new, source=user_source(old))
            case GroupEvent():
                return self._group_event(event)
            case Welcome():
                self.logging_in = False
                registering, self.registering = self.registering, False
                if self.negotiating or self.nick == "*" or not self.user:  # SASL, or an early REGISTER
                    self.sasl_done = True
                    self.pending_welcome = event
                    if registering:
                        return self._message("REGISTER", "SUCCESS", event.name, "Account created") + self.numeric(
                            "900", f"{event.name}!{event.name}@{HOST}", event.name, f"You are now logged in as {event.name}"
                        )
                    return self._sasl_success(event.name)
                return self._welcome(event)
            case Error(code, text):
                return self._error(code, text)
            case Notice(_, text):
                return self.server_notice(text)
            case Announcement(sender, text):
                return format_message("NOTICE", self.main_channel, f"[announcement] {text}", source=user_source(sender))
            case ShuttingDown():
                return format_message("ERROR", "Closing link: server is shutting down")
            case Greeting() | HistoryStart() | HistoryEnd() | Typing() | Mention() | ModeSwitched() | Receipt():
                return b""
            case _:
                return self.server_notice(render_text(event))

    def _recorded_at(self, sender: str, text: str) -> float | None:
        return self.recorded(sender, text) if self.recorded is not None else None

    def _account(self, sender: str) -> str:
        if "account-tag" not in self.caps or self.account_of is None:
            return ""
        return self.account_of(sender)

    def _batch_ref(self) -> str:
        self._batches += 1
        return f"h{self._batches}"

    def labelled_reply(self, label: str, data: bytes) -> bytes:
        """:func:`frame_reply` for this client: ``data`` (the lines sent while a message
        labelled ``label`` was carried out) as its labelled answer, from this server,
        in a ``labeled-response`` batch with its own reference (``r1``, ``r2``...) when
        it has several lines."""
        self._replies += 1
        return frame_reply(label, data, self.server_name, f"r{self._replies}", batch="batch" in self.caps)

    def history_batch(self, target: str, events: Sequence[ServerEvent]) -> bytes:
        """The answer to a ``CHATHISTORY`` request: ``events`` (history
        :class:`Message`, :class:`Emote` and :class:`PrivateMessage` values with their
        ``at``, oldest first) as the lines they were, each with the ``time`` and
        ``msgid`` tags it had live, in a ``chathistory`` batch for ``target`` as the
        client named it (IRCv3 batch and draft/chathistory; without the ``batch``
        capability, the lines alone)."""
        ref = self._batch_ref() if "batch" in self.caps else ""
        lines = [self._message("BATCH", "+" + ref, "chathistory", target)] if ref else []
        for event in events:
            match event:
                case Message(sender, text, _, at, group) | Emote(sender, text, _, at, group):
                    where = "#" + group if group else self.main_channel
                    lines.append(self.chat_line(sender, where, text, at or 0.0, at=at, action=isinstance(event, Emote), batch=ref))
                case PrivateMessage(sender, recipient, text, _, _, at):
                    lines.append(self.chat_line(sender, recipient, text, at or 0.0, at=at, batch=ref))
        if ref:
            lines.append(self._message("BATCH", "-" + ref))
        return b"".join(lines)

    def targets_batch(self, targets: Sequence[tuple[str, float]]) -> bytes:
        """The answer to ``CHATHISTORY TARGETS``: ``(target, time of its latest
        message)`` pairs as ``CHATHISTORY TARGETS`` lines in a
        ``draft/chathistory-targets`` batch."""
        ref = self._batch_ref() if "batch" in self.caps else ""
        tags = (("batch", ref),) if ref else ()
        lines = [self._message("BATCH", "+" + ref, "draft/chathistory-targets")] if ref else []
        for target, ts in targets:
            lines.append(format_message("CHATHISTORY", "TARGETS", target, server_time(ts), source=self.server_name, tags=tags))
        if ref:
            lines.append(self._message("BATCH", "-" + ref))
        return b"".join(lines)

    def history_fail(self, code: str, subcommand: str, target: str, text: str) -> bytes:
        """``FAIL CHATHISTORY <code> <subcommand> <target> :text`` (``INVALID_TARGET``,
        ``MESSAGE_ERROR``)."""
        return self._message("FAIL", "CHATHISTORY", code, subcommand, target, text)

    def _sasl_success(self, name: str) -> bytes:
        return self.numeric("900", f"{name}!{name}@{HOST}", name, f"You are now logged in as {name}") + self.numeric(
            "903", "SASL authentication successful"
        )

    def sasl_pending(self) -> bool:
        """A SASL login is under way (its refusal is a ``904``)."""
        return self.logging_in and self.negotiating and "sasl" in self.caps

    def _error(self, code: ErrorCode, text: str) -> bytes:
        if self.registering:
            self.registering = False
            fail = _REGISTER_FAILS.get(code)
            if fail is not None:
                self.logging_in = False
                return self._message("FAIL", "REGISTER", fail, self.nick, text)
        if not self.registered:
            sasl = self.sasl_pending()
            self.logging_in = False
            self._early.clear()  # what was sent behind refused credentials is not carried out
            if sasl and code in _LOGIN_REFUSALS:
                return self.numeric("904", "SASL authentication failed: " + text)
            if code is ErrorCode.NAME_TAKEN or code is ErrorCode.ALREADY_ONLINE or code is ErrorCode.LOOKALIKE_NAME:
                nick, self.nick = self.nick, "*"
                return self.numeric("433", nick, "Nickname is already in use")
            if code is ErrorCode.TOO_MANY_SESSIONS:  # the nick is in use, as often as allowed: say why
                nick, self.nick = self.nick, "*"
                return self.numeric("433", nick, text)
            if code is ErrorCode.SERVER_FULL or code is ErrorCode.BANNED or code is ErrorCode.SERVER_CLOSING:
                return self.numeric("465", text)
            if code is ErrorCode.WRONG_PASSWORD or code is ErrorCode.LOCKED_OUT:
                return self.numeric("464", text)
            if code in _CLOSING:
                return format_message("ERROR", text)
            if code in (ErrorCode.BAD_NAME, ErrorCode.MIXED_SCRIPT_NAME):
                nick, self.nick = self.nick, "*"
                return self.numeric("432", nick, text)
            return self._message("FAIL", "*", code.name, text) if code in _FAILS else self.server_notice(text)
        if code in _CLOSING:
            return format_message("ERROR", text)
        if code is ErrorCode.NAME_TAKEN or code is ErrorCode.LOOKALIKE_NAME:
            return self.numeric("433", "*", text)
        if code is ErrorCode.NO_SUCH_USER or code is ErrorCode.NOT_ONLINE:
            return self.numeric("401", "*", text)
        return self.server_notice(text)

    def _group_event(self, event: GroupEvent) -> bytes:
        channel = "#" + event.group
        change = event.change
        if change is GroupChange.JOINED:
            return self.join_line(event.name, channel, event.name)
        if change is GroupChange.LEFT:
            return format_message("PART", channel, source=user_source(event.name))
        if change in (GroupChange.KICKED, GroupChange.BANNED):
            return format_message("KICK", channel, event.name, change.code, source=user_source(event.by))
        if change is GroupChange.TOPIC:
            return format_message("TOPIC", channel, event.text, source=user_source(event.by))
        if change is GroupChange.TOPIC_CLEARED:
            return format_message("TOPIC", channel, "", source=user_source(event.by))
        if change is GroupChange.OWNER:
            return format_message("MODE", channel, "+o", event.name, source=self.server_name)
        if change in (GroupChange.TOPIC_IS, GroupChange.NO_TOPIC, GroupChange.CREATED):
            return b""  # the join's own 332/331 come from the gateway
        return self.server_notice(render_text(event))

    def error_line(self, text: str) -> bytes:
        """``ERROR :text``, the last line before the server closes the connection."""
        return format_message("ERROR", text)


_LOGIN_REFUSALS = frozenset(
    {
        ErrorCode.WRONG_PASSWORD,
        ErrorCode.LOCKED_OUT,
        ErrorCode.BANNED,
        ErrorCode.ALREADY_ONLINE,
        ErrorCode.TOO_MANY_SESSIONS,
        ErrorCode.BAD_FORMAT,
    }
)
_CLOSING = frozenset(
    {
        ErrorCode.TOO_MANY_ATTEMPTS,
        ErrorCode.TOO_SLOW,
        ErrorCode.LOGIN_TIMEOUT,
        ErrorCode.FLOODING,
        ErrorCode.TOO_MANY_CONNECTIONS,
        ErrorCode.SERVER_BUSY,
        ErrorCode.ADDRESS_BANNED,
        ErrorCode.INTERNAL,
    }
)
_REGISTER_FAILS = {
    ErrorCode.NAME_TAKEN: "ACCOUNT_EXISTS",
    ErrorCode.LOOKALIKE_NAME: "ACCOUNT_EXISTS",
    ErrorCode.BAD_NAME: "BAD_ACCOUNT_NAME",
    ErrorCode.MIXED_SCRIPT_NAME: "BAD_ACCOUNT_NAME",
    ErrorCode.PASSWORD_TOO_SHORT: "WEAK_PASSWORD",
    ErrorCode.PASSWORD_BLANK: "WEAK_PASSWORD",
    ErrorCode.REGISTER_RATE: "TEMPORARILY_UNAVAILABLE",
    ErrorCode.NO_NEW_ACCOUNTS: "TEMPORARILY_UNAVAILABLE",
}
"""A refused REGISTER's ``FAIL REGISTER`` code (IRCv3 draft/account-registration);
the other refusals (server full, a ban) keep their numerics."""
_FAILS = frozenset({ErrorCode.PASSWORD_TOO_SHORT, ErrorCode.PASSWORD_BLANK, ErrorCode.REGISTER_RATE, ErrorCode.NO_NEW_ACCOUNTS})

_Handler = "Callable[[IrcCodec, tuple[str, ...], list[Request]], None]"

_PRE = {
    "NICK": IrcCodec._nick,
    "USER": IrcCodec._user,
    "PASS": IrcCodec._pass,
    "AUTHENTICATE": IrcCodec._authenticate,
    "REGISTER": IrcCodec._register,
}
_ANYTIME = {
    "CAP": IrcCodec._cap,
    "PING": IrcCodec._ping,
    "PONG": IrcCodec._ignore,
    "QUIT": IrcCodec._quit,
}
_AFTER = {
    "NICK": IrcCodec._nick,
    "USER": IrcCodec._user,
    "PASS": IrcCodec._pass,
    "AUTHENTICATE": IrcCodec._authenticate,
    "REGISTER": IrcCodec._register,
    "PRIVMSG": IrcCodec._privmsg,
    "NOTICE": IrcCodec._notice,
    "JOIN": IrcCodec._join,
    "PART": IrcCodec._part,
    "TOPIC": IrcCodec._topic,
    "KICK": IrcCodec._kick,
    "KILL": IrcCodec._kill,
    "INVITE": IrcCodec._invite,
    "TAGMSG": IrcCodec._ignore,
    "AWAY": IrcCodec._away,
    "NAMES": IrcCodec._names,
    "LIST": IrcCodec._list,
    "WHO": IrcCodec._who,
    "WHOIS": IrcCodec._whois,
    "LUSERS": IrcCodec._lusers,
    "USERHOST": IrcCodec._userhost,
    "MOTD": IrcCodec._motd,
    "MODE": IrcCodec._mode,
    "OPER": IrcCodec._oper,
    "VERSION": IrcCodec._version,
    "CHATHISTORY": IrcCodec._chathistory,
}
_MIN_PARAMS = {"INVITE": 2, "TAGMSG": 1, "USERHOST": 1, "JOIN": 1, "PART": 1, "TOPIC": 1, "KICK": 2, "KILL": 1, "MODE": 1, "OPER": 2}
