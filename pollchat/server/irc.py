"""The IRC gateway: carries out the typed requests of IRC connections over the chat service.

The codec (:class:`~pollchat.protocol.irc.IrcCodec`) parses IRC and formats numerics; this
module decides, with the same hub and groups as every other front end, what a request
means: ``PRIVMSG #lobby`` is a main-chat line, ``JOIN #new`` creates a group owned by the
joiner, ``TOPIC``/``KICK``/``PART`` are the group commands, ``AWAY`` the away status, and
so on (the table is in ``docs/irc.md``). The chat's rules are not repeated here: the hub
and :class:`~pollchat.core.group_chat.GroupChat` refuse what they refuse, and their errors
are turned into the numerics RFC 2812 gives for them. ``CHATHISTORY`` (IRCv3
draft/chathistory) reads the history log (:meth:`~pollchat.server.history.HistoryLog.between`);
the hub's records pass through :class:`LastRecord` so that a live line's ``time`` and
``msgid`` tags are its record's, the ones a replay shows.
"""

from __future__ import annotations

import fnmatch
import logging
import math
import time
from concurrent.futures import Future
from contextlib import contextmanager
from functools import partial
from dataclasses import replace
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any, TypeVar

from pollchat.core.group_chat import group_name
from pollchat.core.history import HistoryRecord, RecordSink
from pollchat.core.groups import Group, Visibility
from pollchat.core.effects import Delivery, Effect, ToEveryone, ToGroup
from pollchat.core.roster import OnlineSession
from pollchat.core.passwords import verify_password
from pollchat.core.presence import Status
from pollchat.protocol.commands import Command
from pollchat.protocol.events import Error, GroupEvent, Message, Emote, Notice, PrivateMessage, ServerEvent
from pollchat.protocol.irc import HOST, IrcCodec, fold_channel, format_message, message_id, user_source
from pollchat.protocol.requests import (
    Away,
    ChangeMode,
    ChannelMode,
    ChatHistory,
    HistoryPoint,
    Invite,
    Registered,
    ReplyEnd,
    ReplyStart,
    Join,
    Kick,
    Kill,
    ListChannels,
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
from pollchat.protocol.session import text_error
from pollchat.errors import StoreError
from pollchat.server.commands import history_event
from pollchat.server.connection import Capture, Connection
from pollchat.server.service import ChatService
from pollchat.texts import ErrorCode, GroupChange, NoticeCode

log = logging.getLogger(__name__)

_Page = tuple[float | None, float | None, int, bool, int | None, tuple[int, int] | None]
"""One read of CHATHISTORY: ``(after, before, limit, newest, group_id, pair)`` as
:meth:`pollchat.server.history.HistoryLog.between` takes them."""
_R = TypeVar("_R")


def _time_bounds(ms: int) -> tuple[float, float]:
    """The times (epoch seconds) just before and just after every message shown with
    the ``time`` tag ``ms`` (see :meth:`IrcGateway._point_bounds`)."""
    return ms / 1000 - 5e-7, math.nextafter((ms + 1) / 1000 - 5e-7, -math.inf)


class IrcGateway:
    """The request handler of IRC connections (see the module docstring).

    Args:
        service: the chat service (its hub, groups, commands and output port).
        main_channel: the main chat's channel name.
    """

    def __init__(self, service: ChatService[Connection], main_channel: str) -> None:
        self.service = service
        self.hub = service.hub
        self.groups = service.groups
        self.main_channel = main_channel
        self.main_key = fold_channel(main_channel)
        service.on_request = self.handle
        service.request_groups = self.named_groups
        service.on_leaving.append(self._leaving)
        service.on_admitted.append(self._admitted)
        if service.barrier is not None:  # PostgreSQL: a refused write may be answered the IRC way
            service.barrier.answer = self._refused_write
        self.peak = 0  # the most users online at once (LUSERS)
        self._said_at = 0.0  # the time of the line being carried out (one msgid for all its copies)
        self.records = LastRecord(self.hub.history)
        self.hub.history = self.records  # the hub's records pass through it on their way to the log

    # --- dispatch ------------------------------------------------------------------------------

    def handle(self, conn: Connection, request: Request) -> None:
        """Carry out one request of ``conn`` (an IRC connection)."""
        codec = conn.codec
        if not isinstance(codec, IrcCodec):
            return
        if codec.busy:  # an OPER's password check runs: later requests wait, in order
            codec.held.append(request)
            return
        match request:
            case ReplyStart(label):
                # Before 001 only the client's own answers reach it, some from deep in a login.
                conn.begin_capture(Capture(label, partial(codec.labelled_reply, label), always=not codec.registered))
                return
            case ReplyEnd():
                conn.end_capture()
                return
        if conn.capture is None:
            self._carry_out(conn, codec, request)
            return
        with self._answering(conn):
            self._carry_out(conn, codec, request)

    @contextmanager
    def _answering(self, conn: Connection) -> Iterator[None]:
        """While inside: what is sent to ``conn`` is the answer to its labelled message,
        if one is being answered (IRCv3 labeled-response, :class:`Capture`), with the
        loop's ``replying`` set as for a labelled JSON line (a group line or a broadcast
        that reaches ``conn`` too comes to it alone). Used around the requests of the
        message and around answers that come back in a later loop pass."""
        capture = conn.capture
        loop = conn.loop
        previous = loop.replying
        if capture is not None:
            loop.replying = (conn, capture.label)
        try:
            yield
        finally:
            loop.replying = previous

    @contextmanager
    def _not_answering(self, conn: Connection) -> Iterator[None]:
        """While inside: what is sent to ``conn`` is not part of an answer (a message to
        oneself as its recipient gets it: IRCv3 labeled-response labels the echo only)."""
        loop = conn.loop
        previous = loop.replying
        if previous is not None and previous[0] is conn:
            loop.replying = None
        try:
            yield
        finally:
            loop.replying = previous

    def _carry_out(self, conn: Connection, codec: IrcCodec, request: Request) -> None:
        match request:
            case Send(data):
                conn.write(data)
            case ChangeMode(mode):
                conn.switch_mode(mode)
            case Quit(reason):
                self._quit(conn, codec, reason)
            case _:
                session = self.hub.session_of(conn)
                if session is None:
                    return
                self._logged_in(conn, codec, session, request)

    def _logged_in(self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], request: Request) -> None:
        match request:
            case Say():
                self._say(conn, codec, session, request)
            case Join(channel):
                self._join(conn, codec, session, channel)
            case Part(channel, reason):
                self._part(conn, codec, session, channel, reason)
            case Topic(channel, text):
                self._topic(conn, codec, session, channel, text)
            case Kick(channel, name, reason):
                self._kick(conn, codec, session, channel, name, reason)
            case Invite(name, channel):
                self._invite(conn, codec, session, name, channel)
            case Kill(name, reason):
                if not session.account.admin:
                    conn.write(codec.numeric("481", "Permission Denied- You're not an IRC operator"))
                    return
                self.service.commands.run(conn, Command("kick", (name, reason) if reason else (name,)))
            case Away(message):
                self._away(conn, codec, message)
            case Oper(name, password):
                self._oper(conn, codec, session, name, password)
            case Rename(name):
                if name != session.account.name:
                    self.service.commands.run(conn, Command("nick", (name,)))
            case Names(channel):
                self._names(conn, codec, session, channel)
            case ListChannels(channels):
                self._list(conn, codec, session, channels)
            case Who(mask, fields, token):
                self._who(conn, codec, session, mask, fields, token)
            case WhoIs(name):
                self._whois(conn, codec, session, name)
            case Lusers():
                conn.write(codec.lusers(len(self.hub.online_names()), self._channel_count(), self._operators(), self.peak))
            case UserHost(names):
                replies = []
                for name in names:
                    other = self.hub.online(name)
                    if other is not None:
                        away = "-" if other.presence.status in (Status.AWAY, Status.BUSY) else "+"
                        oper = "*" if other.account.admin else ""
                        replies.append(f"{other.account.name}{oper}={away}{self._ident(other)[0]}@{HOST}")
                conn.write(codec.numeric("302", " ".join(replies)))
            case ChannelMode(channel, changes):
                self._mode(conn, codec, session, channel, changes)
            case SlashCommand(line):
                self._slash(conn, codec, line)
            case ChatHistory():
                self._chathistory(conn, codec, session, request)
            case Registered():
                self._join_own_groups(conn, codec, session)
                self._carry_out_early(conn, codec)

    # --- talking --------------------------------------------------------------------------------

    def _say(self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], request: Say) -> None:
        target, text = request.target, request.text
        if request.tag_only:
            self._tag_only(conn, codec, session, request)
            return
        error = text_error(text)
        if error is not None:
            if not request.notice:
                conn.write(codec._message("FAIL", "NOTICE" if request.notice else "PRIVMSG", "INVALID_TEXT", error.text))
            return
        service = self.service
        self._said_at = time.time()  # one time for the echo and every IRC rendering: one msgid
        self.records.last = None  # the line's own record, once the hub or the groups keep it
        service.deliver(self.hub.touch(conn))
        if target.startswith("#"):
            if fold_channel(target) == self.main_key:
                if not codec.in_main:
                    if not request.notice:
                        conn.write(codec.numeric("404", target, "Cannot send to channel (join it first)"))
                    return
                deliveries = self.hub.action(conn, text) if request.action else self.hub.chat(conn, text, may_guess=False)
                self._said_at = self.records.time_or(self._said_at)
                self._deliver(conn, codec, deliveries, request.notice, session=session, request=request)
                self._echo(conn, codec, session, self.main_channel, request)
                return
            group = self._group(target)
            if group is None:
                if not request.notice:
                    conn.write(codec.numeric("403", target, "No such channel"))
                return
            if session.account.id not in group.members:
                if not request.notice:
                    conn.write(codec.numeric("404", target, "Cannot send to channel"))
                return
            if request.action:
                deliveries = self.groups.act(conn, f"#{group.name} {text}")
            else:
                deliveries = self.groups.message(conn, "#" + group.name, text)
            self._said_at = self.records.time_or(self._said_at)
            self._deliver(conn, codec, deliveries, request.notice, session=session, request=request)
            self._echo(conn, codec, session, target, request)
            return
        if self.hub.online(target) is None and self.hub.find_account(target) is None:
            if not request.notice:
                conn.write(codec.numeric("401", target, "No such nick/channel"))
            return
        line = f"* {session.account.name} {text}" if request.action else text
        deliveries = self.hub.private(conn, target, line, to_self=True)
        self._said_at = self.records.time_or(self._said_at)
        other = self.hub.online(target)
        if other is not None and other.account.id == session.account.id:
            # To oneself (as IRC servers do): kept, and received as a recipient receives
            # it (not part of a labelled answer: with echo-message only the echo is).
            with self._not_answering(conn):  # (nothing to hold back: no error can come from it)
                self._deliver(conn, codec, deliveries, session=session, request=request)
            self._echo(conn, codec, session, other.account.name, request)
            return
        self._deliver(conn, codec, deliveries, request.notice, session=session, request=request)
        if other is not None and not request.notice and other.presence.status in (Status.AWAY, Status.BUSY):
            conn.write(codec.numeric("301", other.account.name, other.presence.message or other.presence.status.value))
        self._echo(conn, codec, session, other.account.name if other is not None else target, request)

    def _echo(self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], target: str, request: Say) -> None:
        if "echo-message" in codec.caps:
            conn.write(
                codec.chat_line(
                    session.account.name,
                    target,
                    request.text,
                    self._said_at,
                    action=request.action,
                    notice=request.notice,
                    account=self._account_name(session),
                    client_tags=request.tags,
                    tag_only=request.tag_only,
                )
            )

    def _tag_only(self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], request: Say) -> None:
        """A TAGMSG: the tags go to the IRC recipients with message-tags, nothing is kept
        (to one's own nick: to each of one's IRC sessions, this one too, as a recipient)."""
        target = request.target
        to_self = False
        self._said_at = time.time()
        if fold_channel(target) == self.main_key:
            people = [s for n in self.hub.online_names() if (s := self.hub.online(n)) is not None]
            people = [d for p in people for d in self.hub.roster.sessions_for(p)]  # every device
            people = [p for p in people if isinstance(p.handle.codec, IrcCodec) and p.handle.codec.in_main]
            shown = self.main_channel
        elif target.startswith("#"):
            group = self._group(target)
            if group is None or session.account.id not in group.members:
                conn.write(codec.numeric("404", target, "Cannot send to channel"))
                return
            people, shown = self._member_sessions(group), "#" + group.name
        else:
            other = self.hub.online(target)
            if other is None:
                conn.write(codec.numeric("401", target, "No such nick/channel"))
                return
            people, shown = self.hub.roster.sessions_for(other), target
            to_self = other.account.id == session.account.id
        if self.hub.ignores.ignorers(session.account.id):  # those who ignore the sender get no tags either
            people = [p for p in people if not self.hub.ignores.ignores(p.account.id, session.account.id)]
        account = self._account_name(session)
        rendered: dict[str, bytes] = {}  # once per mode key
        for person in people:
            other_codec = person.handle.codec
            if (person.handle is conn and not to_self) or not isinstance(other_codec, IrcCodec):
                continue
            data = rendered.get(other_codec.mode_key)
            if data is None:
                data = rendered[other_codec.mode_key] = other_codec.chat_line(
                    session.account.name, shown, "", self._said_at, account=account, client_tags=request.tags, tag_only=True
                )
            if data:
                with self._not_answering(conn):  # received, not answered (the echo is the answer)
                    person.handle.write(data)
        self._echo(conn, codec, session, shown, request)

    def _deliver(
        self,
        conn: Connection,
        codec: IrcCodec,
        deliveries: Iterable[Effect[Connection]],
        quiet: bool = False,
        *,
        session: OnlineSession[Connection] | None = None,
        request: Say | None = None,
    ) -> None:
        """Deliver a line's deliveries. What goes to ``conn`` alone as an error or a notice
        is dropped for a NOTICE (RFC 2812 section 3.3.2: never answered automatically),
        and so is the away notice of a private message (``301`` says it). With the
        ``session`` and ``request``, IRC recipients get the line as IRC says it: a NOTICE
        stays a NOTICE, with the client's tags. A plain line takes the loop's broadcast
        path, rendered once per mode key (the codecs add the sender's account tag
        themselves, :attr:`IrcCodec.account_of`); only a NOTICE or a line with client
        tags is rendered here, once per mode key too."""
        kept: list[Effect[Connection]] = []
        for delivery in deliveries:
            if isinstance(delivery, Delivery) and delivery.targets == (conn,):
                event = delivery.event
                if quiet and not isinstance(event, GroupEvent):
                    continue
                if isinstance(event, Notice) and event.code in _AWAY_NOTICES:
                    continue
            kept.append(delivery)
        if session is None or request is None:
            self.service.deliver(kept)
            return
        account = self._account_name(session)
        if not request.notice and not request.tags:
            self.service.deliver(kept)
            return
        for kind in (Message, Emote, PrivateMessage):
            if any(isinstance(d, (Delivery, ToEveryone, ToGroup)) and type(d.event) is kind for d in kept):
                self._with_irc_lines(
                    kept,
                    kind,
                    lambda target, event: _line_for(target, event, request, account, self._said_at),
                )
                return
        self.service.deliver(kept)

    # --- channels -------------------------------------------------------------------------------

    def named_groups(self, request: Request) -> list[str]:
        """The group names (without ``#``) ``request`` names: its channel (or a
        ``PRIVMSG``'s or ``CHATHISTORY``'s target) when that is a group's, never the main channel's; a
        cluster node looks up one its view lacks before the request runs."""
        channel = getattr(request, "channel", None) or getattr(request, "target", None)  # Say, ChatHistory: a target
        if not isinstance(channel, str) or not channel.startswith("#") or fold_channel(channel) == self.main_key:
            return []
        name = group_name(channel)
        return [name] if name is not None else []

    def _group(self, channel: str) -> Group | None:
        name = group_name(channel) if channel.startswith("#") else None
        return self.groups.groups.find(name) if name is not None else None

    def _join(self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], channel: str) -> None:
        if not channel.startswith("#"):
            conn.write(codec.numeric("403", channel, "No such channel"))
            return
        if fold_channel(channel) == self.main_key:
            if codec.in_main:
                return
            conn.switch_mode(codec._make_key(in_main=True))
            conn.write(codec.join_line(session.account.name, self.main_channel, self._account_name(session), self._ident(session)[1]))
            conn.write(self._main_names(codec))
            return
        name = group_name(channel)
        if name is None:
            conn.write(codec.numeric("479", channel, "Illegal channel name"))
            return
        group = self.groups.groups.find(name)
        if group is not None and session.account.id in group.members:
            return
        if group is None:
            deliveries = self.groups.create(conn, "#" + name)
            if self._refused(conn, codec, deliveries, channel):
                return
            group = self.groups.groups.find(name)
            if group is None:
                return
            conn.write(codec.join_line(session.account.name, "#" + group.name, self._account_name(session), self._ident(session)[1]))
        else:
            deliveries = self.groups.join(conn, "#" + group.name)
            if self._refused(conn, codec, deliveries, channel):
                return
            account, (_, realname) = self._account_name(session), self._ident(session)
            self._with_irc_lines(
                deliveries,
                GroupChange.JOINED,
                lambda target, event: target.join_line(event.name, "#" + event.group, account, realname),  # type: ignore[union-attr]
            )
            if session.presence.status in (Status.AWAY, Status.BUSY):
                away = format_message("AWAY", session.presence.message or "away", source=user_source(session.account.name))
                for other in self._member_sessions(group):
                    other_codec = other.handle.codec
                    if other.handle is not conn and isinstance(other_codec, IrcCodec) and "away-notify" in other_codec.caps:
                        other.handle.write(away)
            if session.account.id not in group.members:  # a private group: the request went to its owner
                conn.write(codec.numeric("473", channel, "Cannot join channel (+i): your request was sent to the owner"))
                return
        self._topic_reply(conn, codec, group, always=False)
        conn.write(self._group_names(codec, group))

    def _refused_write(self, conn: Connection, refusal: Any) -> bool:
        """The database refused the group this IRC client's ``JOIN`` made (another node
        made one of that name a moment before, and the view now holds it): its reply
        was taken back, and the ``JOIN`` is tried again on the group that exists (a
        public one joined, a private one asked for with 473), held like any request
        until its write commits. ``False`` for any other refusal or client."""
        codec = conn.codec
        session = self.hub.session_of(conn)
        if not isinstance(codec, IrcCodec) or session is None or refusal.code is not ErrorCode.GROUP_EXISTS:
            return False
        barrier = self.service.barrier
        mark, start = barrier.mark(), barrier.begin(conn)
        try:
            self._join(conn, codec, session, "#" + refusal.detail["group"])
        finally:
            barrier.hold(conn, mark, start)
        return True

    def _refused(self, conn: Connection, codec: IrcCodec, deliveries: list[Effect[Connection]], channel: str) -> bool:
        """If the group layer refused (an error to ``conn``), answer with the numeric."""
        for delivery in deliveries:
            if not isinstance(delivery, Delivery):
                continue
            event = delivery.event
            if isinstance(event, Error) and delivery.targets == (conn,):
                conn.write(self._numeric_for(codec, event, channel))
                return True
        return False

    def _numeric_for(self, codec: IrcCodec, error: Error, target: str, name: str = "") -> bytes:
        code = error.code
        if code is ErrorCode.GROUP_BANNED:
            return codec.numeric("474", target, "Cannot join channel (+b)")
        if code is ErrorCode.GROUP_FULL:
            return codec.numeric("471", target, "Cannot join channel (+l)")
        if code in (ErrorCode.NO_SUCH_GROUP,):
            return codec.numeric("403", target, "No such channel")
        if code in (ErrorCode.NOT_MEMBER, ErrorCode.NOT_MEMBER_LINE):
            return codec.numeric("442", target, "You're not on that channel")
        if code is ErrorCode.NOT_GROUP_OWNER or code is ErrorCode.OWNER_PROTECTED:
            return codec.numeric("482", target, "You're not channel operator")
        if code is ErrorCode.NOT_A_MEMBER:
            return codec.numeric("441", name, target, "They aren't on that channel")
        if code is ErrorCode.NO_SUCH_USER or code is ErrorCode.NOT_ONLINE:
            return codec.numeric("401", name or target, "No such nick/channel")
        if code is ErrorCode.BAD_GROUP_NAME:
            return codec.numeric("479", target, "Illegal channel name")
        if code is ErrorCode.NOT_YOURSELF:
            return codec.numeric("482", target, error.text)
        return codec.server_notice(error.text)

    def _part(
        self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], channel: str, reason: str
    ) -> None:
        if channel == "*":
            for group in self.groups.groups.of_member(session.account.id):
                self._part(conn, codec, session, "#" + group.name, reason)
            if codec.in_main:
                self._part(conn, codec, session, self.main_channel, reason)
            return
        if fold_channel(channel) == self.main_key:
            if not codec.in_main:
                conn.write(codec.numeric("442", channel, "You're not on that channel"))
                return
            parting = (self.main_channel, reason) if reason else (self.main_channel,)
            conn.write(format_message("PART", *parting, source=user_source(session.account.name)))
            conn.switch_mode(codec._make_key(in_main=False))
            return
        found = self._group(channel)
        if found is None:
            conn.write(codec.numeric("403", channel, "No such channel"))
            return
        if session.account.id not in found.members:
            conn.write(codec.numeric("442", channel, "You're not on that channel"))
            return
        deliveries = self.groups.leave(conn, "#" + found.name)
        self._with_irc_lines(
            deliveries,
            GroupChange.LEFT,
            lambda _, event: format_message(
                "PART", "#" + event.group, *((reason,) if reason else ()), source=user_source(event.name)  # type: ignore[union-attr]
            ),
            skip=conn,
        )

    def _with_irc_lines(
        self,
        deliveries: Iterable[Effect[Connection]],
        change: GroupChange | type,
        line: Callable[[IrcCodec, ServerEvent], bytes],
        *,
        skip: Connection | None = None,
    ) -> None:
        """Deliver, but the events of type ``change`` (a group change, or an event class)
        go to IRC connections as ``line(codec, event)``: an IRC line with what the event
        does not carry (a PART or KICK reason, a NOTICE, the sender's account and real
        name), rendered once per mode key. ``skip``: a connection that gets no group-owner
        change (it just left)."""
        rest: list[Effect[Connection]] = []
        for delivery in deliveries:
            if not isinstance(delivery, (Delivery, ToEveryone, ToGroup)):  # a roster change: as it is
                rest.append(delivery)
                continue
            event = delivery.event
            if skip is not None and isinstance(delivery, Delivery) and isinstance(event, GroupEvent) and event.change is GroupChange.OWNER:
                delivery = Delivery(tuple(t for t in delivery.targets if t is not skip), event)
            wanted = event.change is change if isinstance(event, GroupEvent) else type(event) is change
            if not wanted:
                rest.append(delivery)
                continue
            others = []
            rendered: dict[str, bytes] = {}  # once per mode key, as the loop's fan-out does
            for target in delivery.targets:
                codec = target.codec
                if isinstance(codec, IrcCodec):
                    data = rendered.get(codec.mode_key)
                    if data is None:
                        data = rendered[codec.mode_key] = line(codec, event)
                    if data:
                        target.write(data)
                else:
                    others.append(target)
            if others:
                rest.append(Delivery(tuple(others), event))
        self.service.deliver(rest)

    def _topic(
        self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], channel: str, text: str | None
    ) -> None:
        if fold_channel(channel) == self.main_key:
            if text is None:
                conn.write(codec.numeric("331", self.main_channel, "No topic is set"))
            else:
                conn.write(codec.numeric("482", self.main_channel, "You're not channel operator"))
            return
        group = self._group(channel)
        if group is None:
            conn.write(codec.numeric("403", channel, "No such channel"))
            return
        member = session.account.id in group.members
        if text is None:
            if not member and group.visibility is Visibility.PRIVATE:
                conn.write(codec.numeric("442", channel, "You're not on that channel"))
                return
            self._topic_reply(conn, codec, group, always=True)
            return
        if not member:
            conn.write(codec.numeric("442", channel, "You're not on that channel"))
            return
        error = text_error(text) if text else None
        if error is not None:
            conn.write(codec.server_notice(error.text))
            return
        deliveries = self.groups.topic(conn, "#" + group.name, text or "-")
        if self._refused(conn, codec, deliveries, "#" + group.name):
            return
        self.service.deliver(deliveries)

    def _topic_reply(self, conn: Connection, codec: IrcCodec, group: Group, *, always: bool) -> None:
        channel = "#" + group.name
        if group.topic:
            conn.write(codec.numeric("332", channel, group.topic))
        elif always:
            conn.write(codec.numeric("331", channel, "No topic is set"))

    def _kick(
        self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], channel: str, name: str, reason: str
    ) -> None:
        if fold_channel(channel) == self.main_key:
            if not session.account.admin:
                conn.write(codec.numeric("482", self.main_channel, "You're not channel operator"))
                return
            self.service.commands.run(conn, Command("kick", (name, reason) if reason else (name,)))
            return
        group = self._group(channel)
        if group is None:
            conn.write(codec.numeric("403", channel, "No such channel"))
            return
        if session.account.id not in group.members:
            conn.write(codec.numeric("442", channel, "You're not on that channel"))
            return
        target = self.hub.find_account(name)
        if target is None or target.id not in group.members:
            conn.write(codec.numeric("441", name, channel, "They aren't on that channel"))
            return
        if group.owner_id != session.account.id and not session.account.admin:
            conn.write(codec.numeric("482", channel, "You're not channel operator"))
            return
        deliveries = self.groups.kick(conn, name, "#" + group.name)
        for delivery in deliveries:
            if isinstance(delivery, Delivery) and isinstance(delivery.event, Error) and delivery.targets == (conn,):
                conn.write(self._numeric_for(codec, delivery.event, channel, name))
                return
        self._with_irc_lines(
            deliveries,
            GroupChange.KICKED,
            lambda _, event: format_message(
                "KICK", "#" + event.group, event.name, reason or event.by, source=user_source(event.by)  # type: ignore[union-attr]
            ),
        )

    def _names(self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], channel: str) -> None:
        if not channel:
            if codec.in_main:
                conn.write(self._main_names(codec))
            for group in self.groups.groups.of_member(session.account.id):
                conn.write(self._group_names(codec, group))
            return
        if fold_channel(channel) == self.main_key:
            conn.write(self._main_names(codec))
            return
        found = self._group(channel)
        if found is None or (found.visibility is Visibility.PRIVATE and session.account.id not in found.members):
            conn.write(codec.numeric("366", channel, "End of /NAMES list"))
            return
        conn.write(self._group_names(codec, found))

    def _main_names(self, codec: IrcCodec) -> bytes:
        members = []
        for name in self.hub.online_names():
            online = self.hub.online(name)
            members.append((name, "@" if online is not None and online.account.admin else ""))
        return codec.names(self.main_channel, members)

    def _group_names(self, codec: IrcCodec, group: Group) -> bytes:
        members = []
        for account_id, member in group.members.items():
            online = self.hub.session_by_id(account_id)
            if online is None:
                continue
            members.append((online.account.name, "@" if account_id == group.owner_id else ""))
        return codec.names("#" + group.name, members)

    def _online_members(self, group: Group) -> list[OnlineSession[Connection]]:
        """The primary session of each online member: one per account."""
        return [s for s in map(self.hub.session_by_id, group.members) if s is not None]

    def _member_sessions(self, group: Group) -> list[OnlineSession[Connection]]:
        """Every session of each online member (an account may be online on several
        devices): where a line written to the members goes."""
        roster = self.hub.roster
        return [each for s in self._online_members(group) for each in roster.sessions_for(s)]

    def _list(self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], channels: tuple[str, ...]) -> None:
        wanted = {fold_channel(c) for c in channels}
        conn.write(codec.numeric("321", "Channel", "Users  Name"))
        if (not wanted and codec.in_main) or self.main_key in wanted:
            conn.write(codec.numeric("322", self.main_channel, str(len(self.hub.online_names())), "the main chat"))
        for group in sorted(self.groups.groups, key=lambda g: g.key):
            visible = group.visibility is Visibility.PUBLIC or session.account.id in group.members
            if not visible or (wanted and fold_channel("#" + group.name) not in wanted):
                continue
            count = len(self._online_members(group))
            conn.write(codec.numeric("322", "#" + group.name, str(count), group.topic))
        conn.write(codec.numeric("323", "End of /LIST"))

    def _channel_count(self) -> int:
        return 1 + sum(1 for group in self.groups.groups if group.visibility is Visibility.PUBLIC)

    def _operators(self) -> int:
        return sum(1 for name in self.hub.online_names() if (s := self.hub.online(name)) is not None and s.account.admin)

    # --- people ---------------------------------------------------------------------------------

    def _ident(self, other: OnlineSession[Connection]) -> tuple[str, str]:
        """(user, real name) of an online session: its IRC ``USER`` when it has one."""
        codec = other.handle.codec
        name = other.account.name
        if isinstance(codec, IrcCodec) and codec.user:
            return "~" + codec.user, codec.realname or name
        return "~" + name[:10], name

    def _account_name(self, session: OnlineSession[Connection]) -> str:
        return "" if session.account.guest else session.account.name

    def _account_of(self, name: str) -> str:
        """The account of the online user ``name`` for IRCv3 account-tag (``""``: a
        guest, or nobody online by that name)."""
        session = self.hub.online(name)
        return "" if session is None else self._account_name(session)

    def _who(
        self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], mask: str, fields: str = "", token: str = ""
    ) -> None:
        channel = "*"
        if mask.startswith("#"):
            if fold_channel(mask) == self.main_key:
                people = [s for n in self.hub.online_names() if (s := self.hub.online(n)) is not None]
                channel = self.main_channel
            else:
                group = self._group(mask)
                visible = group is not None and (
                    group.visibility is Visibility.PUBLIC or session.account.id in group.members
                )
                people = self._online_members(group) if group is not None and visible else []
                channel = "#" + group.name if group is not None else mask
        elif mask in ("*", "0", ""):
            people = [s for n in self.hub.online_names() if (s := self.hub.online(n)) is not None]
        elif any(ch in mask for ch in "*?"):
            pattern = mask.casefold()
            people = [
                s
                for n in self.hub.online_names()
                if (s := self.hub.online(n)) is not None and fnmatch.fnmatchcase(n.casefold(), pattern)
            ]
        else:
            found = self.hub.online(mask)
            people = [found] if found is not None else []
        for other in people:
            user, realname = self._ident(other)
            away = "G" if other.presence.status in (Status.AWAY, Status.BUSY) else "H"
            prefix = ""
            if other.account.admin:
                prefix += "*"
            if channel != "*" and channel != self.main_channel:
                group = self._group(channel)
                if group is not None and group.owner_id == other.account.id:
                    prefix += "@"
            idle = other.presence.idle(time.time())
            account = self._account_name(other)
            conn.write(codec.who_reply(channel, user, other.account.name, away + prefix, realname, idle, account, fields, token))
        conn.write(codec.numeric("315", mask, "End of WHO list"))

    def _whois(self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], name: str) -> None:
        other = self.hub.online(name)
        if other is None:
            conn.write(codec.numeric("401", name, "No such nick/channel"))
            conn.write(codec.numeric("318", name, "End of /WHOIS list"))
            return
        nick = other.account.name
        user, realname = self._ident(other)
        conn.write(codec.numeric("311", nick, user, HOST, "*", realname))
        channels = []
        other_codec = other.handle.codec
        if not isinstance(other_codec, IrcCodec) or other_codec.in_main:
            channels.append(("@" if other.account.admin else "") + self.main_channel)
        for group in self.groups.groups.of_member(other.account.id):
            if group.visibility is Visibility.PUBLIC or session.account.id in group.members:
                channels.append(("@" if group.owner_id == other.account.id else "") + "#" + group.name)
        if channels:
            conn.write(codec.numeric("319", nick, " ".join(channels)))
        conn.write(codec.numeric("312", nick, codec.server_name, "pollchat"))
        if other.presence.status in (Status.AWAY, Status.BUSY):
            conn.write(codec.numeric("301", nick, other.presence.message or other.presence.status.value))
        if other.account.admin:
            conn.write(codec.numeric("313", nick, "is an IRC operator (a pollchat admin)"))
        if not other.account.guest:
            conn.write(codec.numeric("330", nick, other.account.name, "is logged in as"))
        now = conn.loop.clock()
        idle = other.presence.idle(now)
        conn.write(codec.numeric("317", nick, str(idle), str(int(other.presence.online_since)), "seconds idle, signon time"))
        conn.write(codec.numeric("318", nick, "End of /WHOIS list"))

    def _away(self, conn: Connection, codec: IrcCodec, message: str) -> None:
        if message:
            self.service.deliver(self.hub.set_status(conn, Status.AWAY, message))
            conn.write(codec.numeric("306", "You have been marked as being away"))
        else:
            self.service.deliver(self.hub.set_status(conn, Status.ACTIVE))
            conn.write(codec.numeric("305", "You are no longer marked as being away"))
        session = self.hub.session_of(conn)
        if session is not None:  # away-notify for those who see it in a group only
            line = format_message("AWAY", *((message,) if message else ()), source=user_source(session.account.name))
            self._to_group_members(conn, session, line, lambda c: "away-notify" in c.caps)

    def _invite(
        self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], name: str, channel: str
    ) -> None:
        """IRC INVITE: ``name`` is told (an invitation, no more: a private group is still
        joined by asking its owner, who may then accept at once)."""
        other = self.hub.online(name)
        if other is None:
            conn.write(codec.numeric("401", name, "No such nick/channel"))
            return
        group = self._group(channel) if fold_channel(channel) != self.main_key else None
        if fold_channel(channel) != self.main_key:
            if group is None:
                conn.write(codec.numeric("403", channel, "No such channel"))
                return
            if session.account.id not in group.members:
                conn.write(codec.numeric("442", channel, "You're not on that channel"))
                return
            if other.account.id in group.members:
                conn.write(codec.numeric("443", other.account.name, channel, "is already on channel"))
                return
            channel = "#" + group.name
        conn.write(codec.numeric("341", other.account.name, channel))
        other_codec = other.handle.codec
        if isinstance(other_codec, IrcCodec):
            tags = (("account", self._account_name(session)),) if "account-tag" in other_codec.caps and self._account_name(session) else ()
            other.handle.write(format_message("INVITE", other.account.name, channel, source=user_source(session.account.name), tags=tags))
        else:
            self.service.deliver(
                self.hub.private(conn, other.account.name, f"join me in {channel}: /join {channel}")
            )

    def _oper(
        self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], name: str, password: str
    ) -> None:
        """IRC OPER: the session gets the admin commands if ``name`` is an admin of the
        accounts file and ``password`` is its password (checked in the worker pool, against
        a dummy hash for any other name, so the reply time tells nothing)."""
        account = self.hub.accounts.find(name)
        admin = account is not None and account.admin
        encoded = account.password_hash if admin and account is not None else self.service.dummy_hash

        def checked(future: Future[bool]) -> None:
            codec.busy = False
            held, codec.held = codec.held, []
            with self._answering(conn):  # a labelled OPER: this is its answer
                self._answer_oper(conn, codec, session, name, admin and future.result())
            for request in held:
                self.handle(conn, request)

        codec.busy = True
        self.service.pool.submit(verify_password, password, encoded, on_done=checked)

    def _answer_oper(
        self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], name: str, ok: bool
    ) -> None:
        if conn.closing or self.hub.session_of(conn) is not session:
            return
        if not ok:
            log.warning("OPER as %r refused for %s (connection #%d)", name, session.account.name, conn.id)
            conn.write(codec.numeric("464", "Password incorrect"))
            return
        log.warning("%s is now an operator (OPER as %s, connection #%d)", session.account.name, name, conn.id)
        session.account = replace(session.account, admin=True)
        conn.write(codec.numeric("381", "You are now an IRC operator"))

    def _mode(
        self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], channel: str, changes: tuple[str, ...]
    ) -> None:
        group = None
        if fold_channel(channel) != self.main_key:
            group = self._group(channel)
            if group is None:
                conn.write(codec.numeric("403", channel, "No such channel"))
                return
        shown = self.main_channel if group is None else "#" + group.name
        if not changes:
            modes = "+nt" if group is None or group.visibility is Visibility.PUBLIC else "+int"
            conn.write(codec.numeric("324", shown, modes))
            return
        if changes[0] in ("b", "+b") and len(changes) == 1:
            conn.write(codec.numeric("368", shown, "End of channel ban list"))
            return
        is_op = session.account.admin if group is None else group.owner_id == session.account.id or session.account.admin
        if not is_op:
            conn.write(codec.numeric("482", shown, "You're not channel operator"))
            return
        conn.write(codec.numeric("472", changes[0].lstrip("+-")[:1] or "?", "is not a mode pollchat has"))

    def _slash(self, conn: Connection, codec: IrcCodec, line: str) -> None:
        if not line.startswith("/"):
            conn.write(codec.server_notice("write a pollchat command, such as /help or /who"))
            return
        session = conn.session
        if session is None:
            return
        self.service._apply(conn, session.feed(line))

    # --- history (IRCv3 draft/chathistory) ------------------------------------------------------

    def _chathistory(self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], request: ChatHistory) -> None:
        """``CHATHISTORY``: the messages of ``#lobby``, a group of the user's, or the
        private conversation with a nick, from the history log, in a batch. A time
        selector is the time the client was shown (milliseconds); a ``msgid`` selector
        is the message itself, found by the time and sender its id carries. The reads
        are a sequence of pages (:meth:`_drive`): answered at once on SQLite, as the
        database returns them on PostgreSQL (the loop never waits)."""
        sub, target = request.subcommand, request.target
        if sub == "TARGETS":
            self._history_targets(conn, codec, session, request)
            return
        conversation = self._conversation(session, target)
        if conversation is None:
            conn.write(codec.history_fail("INVALID_TARGET", sub, target, "No such conversation, or not yours"))
            return
        group_id, pair = conversation

        def failed(exc: StoreError) -> None:
            log.warning("CHATHISTORY for %s failed: %s", session.account.name, exc)
            conn.write(codec.history_fail("MESSAGE_ERROR", sub, target, "The history cannot be read now"))

        def answered(records: list[HistoryRecord] | None) -> None:
            if records is None:
                conn.write(codec.history_fail("MESSAGE_ERROR", sub, target, "No such message in this conversation's history"))
                return
            records = self.hub.unignored(records, session.account.id)  # /ignore hides them here too
            events = [history_event(r, session.account.id, self._group_name(r.group_id)) for r in records]
            conn.write(codec.history_batch(target, events))

        self._drive(conn, self._history_pages(request, group_id, pair), answered, failed)

    def _history_pages(
        self, request: ChatHistory, group_id: int | None, pair: tuple[int, int] | None
    ) -> Generator[_Page, list[HistoryRecord], list[HistoryRecord] | None]:
        """The pages a CHATHISTORY request reads, one ``yield`` each (the answer is sent
        back in); returns the records to send, or ``None`` if a ``msgid`` selector names
        no message of the conversation."""

        def page(after: float | None, before: float | None, limit: int, newest: bool) -> _Page:
            return after, before, limit, newest, group_id, pair

        sub = request.subcommand
        bounds: list[tuple[float, float]] = []  # each selector as (just before it, just after it)
        for point in request.points:
            if point is None:
                continue
            found = yield from self._point_bounds(point, group_id, pair)
            if found is None:
                return None
            bounds.append(found)
        limit = request.limit
        if sub == "LATEST":
            return (yield page(bounds[0][1] if bounds else None, None, limit, True))
        if sub == "BEFORE":
            return (yield page(None, bounds[0][0], limit, True))
        if sub == "AFTER":
            return (yield page(bounds[0][1], None, limit, False))
        if sub == "AROUND":
            earlier = yield page(None, bounds[0][0], (limit - 1) // 2, True)
            return earlier + (yield page(math.nextafter(bounds[0][0], -math.inf), None, limit - len(earlier), False))
        # BETWEEN, either way round; the limit counts from the first selector
        (first_before, first_after), (second_before, second_after) = bounds
        if first_after <= second_before:
            return (yield page(first_after, second_before, limit, False))
        return (yield page(second_after, first_before, limit, True))

    def _drive(
        self,
        conn: Connection,
        pages: Generator[_Page, list[HistoryRecord], _R],
        answered: Callable[[_R], None],
        failed: Callable[[StoreError], None],
    ) -> None:
        """Run ``pages``: read each page it yields from the history
        (:meth:`~pollchat.server.history.HistoryLog.between_later`), send the records
        back in, and give what it returns to ``answered``; the first error that stops
        a read to ``failed``. A store that answers at once (SQLite) runs it all before
        this returns; otherwise it goes on as each query returns, and stops if ``conn``
        has closed meanwhile."""
        history = self.service.history
        held = False  # conn's further input waits for the answer (it came in a later pass)

        def finish(answer: Callable[[], None]) -> None:
            try:
                with self._answering(conn):  # a labelled CHATHISTORY: this is its answer
                    answer()
            finally:
                if held:
                    self.service.answer_sent(conn)

        def resume(answer: list[HistoryRecord] | StoreError | None) -> None:
            nonlocal held
            while True:  # a loop, not a recursion: SQLite answers every page at once
                if conn.closed:
                    pages.close()
                    return
                if isinstance(answer, StoreError):
                    pages.close()
                    finish(lambda: failed(answer))  # type: ignore[arg-type]
                    return
                try:
                    after, before, limit, newest, group_id, pair = pages.send(answer)  # type: ignore[arg-type]
                except StopIteration as end:
                    finish(lambda: answered(end.value))
                    return
                got: list[list[HistoryRecord] | StoreError] = []
                waiting = False

                def done(result: list[HistoryRecord] | StoreError) -> None:
                    if waiting:
                        resume(result)
                    else:
                        got.append(result)

                try:
                    history.between_later(after, before, limit, done, newest=newest, group_id=group_id, pair=pair)
                except StoreError as exc:
                    got.append(exc)
                if not got:
                    waiting = True  # the database answers in a later loop pass
                    if not held:
                        held = True
                        self.service.answer_later(conn)  # replies keep the order of requests
                    return
                answer = got[0]

        resume(None)

    def _conversation(
        self, session: OnlineSession[Connection], target: str
    ) -> tuple[int | None, tuple[int, int] | None] | None:
        """``(group_id, pair)`` of the conversation ``target`` names for ``session``
        (both ``None``: the main chat), or ``None`` if it names none the user may read."""
        if target.startswith("#"):
            if fold_channel(target) == self.main_key:
                return None, None
            group = self._group(target)
            if group is None or session.account.id not in group.members:
                return None
            return group.id, None
        online = self.hub.online(target)
        account = online.account if online is not None else self.hub.find_account(target)
        if account is None:
            return None
        return None, (session.account.id, account.id)

    def _point_bounds(
        self, point: HistoryPoint, group_id: int | None, pair: tuple[int, int] | None
    ) -> Generator[_Page, list[HistoryRecord], tuple[float, float] | None]:
        """A selector as two times: every message shown before it was sent before the
        first, every one shown after it after the second. A time ``T`` (ms) is the
        messages shown as ``T``: ``time`` tags are the record's time to the millisecond,
        rounded from the microsecond (:func:`~pollchat.protocol.irc.server_time`), so
        the span is ``[T - 0.5 us, T + 1 ms - 0.5 us)``. A ``msgid`` is one record
        of the conversation (``None`` if it is not in the history), found by reading
        the page around its time (one ``yield``)."""
        if point.ms is not None:
            return _time_bounds(point.ms)
        stamp, _, _ = point.msgid.partition("-")
        if len(stamp) > 16:  # more than a time in microseconds: none of ours (and too big for a float)
            return None
        try:
            us = int(stamp, 16)
        except ValueError:
            return None
        around = us / 1_000_000
        for record in (yield (around - 0.001, around + 0.001, 100, False, group_id, pair)):
            if message_id(record.sender, record.ts) == point.msgid:
                return record.ts, record.ts
        return None

    def _group_name(self, group_id: int | None) -> str:
        if group_id is None:
            return ""
        for group in self.groups.groups:
            if group.id == group_id:
                return group.name
        return ""

    def _history_targets(
        self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection], request: ChatHistory
    ) -> None:
        """``CHATHISTORY TARGETS``: the conversations (the main channel, the user's
        groups, the people of its latest private messages) whose latest message was
        shown strictly between the two times, earliest first, the first ``limit`` (as
        ergo answers; a conversation that went on after the window is left out). One
        page read per conversation (:meth:`_drive`)."""
        spans = [_time_bounds(p.ms) if p.ms is not None else None for p in request.points if p is not None]
        (_, after), (before, _) = sorted(span for span in spans if span is not None)
        me = session.account.id
        history = self.service.history
        candidates: list[tuple[str, int | None, tuple[int, int] | None]] = [(self.main_channel, None, None)]
        candidates += [("#" + g.name, g.id, None) for g in self.groups.groups.of_member(me)]

        def failed(exc: StoreError) -> None:
            log.warning("CHATHISTORY TARGETS for %s failed: %s", session.account.name, exc)
            conn.write(codec.history_fail("MESSAGE_ERROR", "TARGETS", "*", "The history cannot be read now"))

        try:
            history.commit()  # the private messages of this pass too
            partners: dict[int, str] = {}
            for record in history.database.private_for(me, 1000):  # the store's memory on PostgreSQL
                other_id, name = (record.recipient_id, record.recipient) if record.sender_id == me else (record.sender_id, record.sender)
                if other_id is not None and name:
                    partners[other_id] = name
        except StoreError as exc:
            failed(exc)
            return
        candidates += [(name, None, (me, other_id)) for other_id, name in partners.items()]

        def latest() -> Generator[_Page, list[HistoryRecord], list[tuple[float, str]]]:
            found = []
            for shown, group_id, pair in candidates:
                last = yield (None, None, 1, True, group_id, pair)
                if last and after < last[-1].ts < before:
                    found.append((last[-1].ts, shown))
            return found

        def answered(found: list[tuple[float, str]]) -> None:
            found.sort()
            conn.write(codec.targets_batch([(shown, ts) for ts, shown in found[: request.limit]]))

        self._drive(conn, latest(), answered, failed)

    # --- arrivals and departures ----------------------------------------------------------------

    def _quit(self, conn: Connection, codec: IrcCodec, reason: str) -> None:
        if self.hub.session_of(conn) is not None:
            self.service.leaving(conn)
            self.service.deliver(self.hub.leave(conn, reason))
        conn.write(codec.error_line(f"Closing Link: {HOST} (Quit: {reason})" if reason else f"Closing Link: {HOST} (Quit)"))
        conn.close("quit")

    def _leaving(self, conn: Connection) -> None:
        """Users who share a group with a leaver but are not in the main channel (where
        everyone sees the QUIT) are sent it here, once each."""
        session = self.hub.session_of(conn)
        if session is None or self.hub.roster.count_for(session.account.id) > 1:  # still online on another device
            return
        reason = conn.codec.quit_reason if isinstance(conn.codec, IrcCodec) else ""
        data = format_message("QUIT", f"Quit: {reason}" if reason else "Quit", source=user_source(session.account.name))
        self._to_group_members(conn, session, data, lambda c: True)

    def _to_group_members(
        self, conn: Connection, session: OnlineSession[Connection], data: bytes, wants: Callable[[IrcCodec], bool]
    ) -> None:
        """``data`` to each IRC user (but ``conn``) who shares a group with ``session`` but
        is not in the main channel (where the broadcast tells it), once, if ``wants``."""
        told: set[int] = set()
        for group in self.groups.groups.of_member(session.account.id):
            for other in self._member_sessions(group):
                codec = other.handle.codec
                if other.handle is conn or other.handle.id in told or not isinstance(codec, IrcCodec) or codec.in_main:
                    continue
                told.add(other.handle.id)
                if wants(codec):
                    other.handle.write(data)

    def _admitted(self, conn: Connection) -> None:
        """An account comes back: the other IRC members of its groups see it join, and an
        IRC client is joined to those groups' channels (after ``001``: at once for a
        PASS login, on :class:`~pollchat.protocol.requests.Registered` for SASL or an
        early REGISTER, whose ``001`` waits for ``CAP END``)."""
        session = self.hub.session_of(conn)
        if session is None:
            return
        self.peak = max(self.peak, len(self.hub.online_names()))
        codec = conn.codec
        if isinstance(codec, IrcCodec):
            codec.recorded = self.records.time_of
            codec.account_of = self._account_of
        account = self._account_name(session)
        first = self.hub.roster.count_for(session.account.id) == 1  # another device: the others saw it join already
        for group in self.groups.groups.of_member(session.account.id):
            channel = "#" + group.name
            rendered: dict[str, bytes] = {}  # once per mode key
            for other in self._member_sessions(group) if first else ():
                other_codec = other.handle.codec
                if other.handle is conn or not isinstance(other_codec, IrcCodec):
                    continue
                data = rendered.get(other_codec.mode_key)
                if data is None:
                    data = rendered[other_codec.mode_key] = other_codec.join_line(session.account.name, channel, account)
                other.handle.write(data)
        if isinstance(codec, IrcCodec) and codec.registered:
            self._join_own_groups(conn, codec, session)
            self._carry_out_early(conn, codec)

    def _carry_out_early(self, conn: Connection, codec: IrcCodec) -> None:
        """The commands a client sent behind its credentials, before ``001``."""
        for request in codec.take_early():
            self.handle(conn, request)

    def _join_own_groups(self, conn: Connection, codec: IrcCodec, session: OnlineSession[Connection]) -> None:
        """The client's own JOIN, topic and NAMES for each of its groups."""
        for group in self.groups.groups.of_member(session.account.id):
            conn.write(codec.join_line(session.account.name, "#" + group.name, self._account_name(session)))
            self._topic_reply(conn, codec, group, always=False)
            conn.write(self._group_names(codec, group))


_AWAY_NOTICES = frozenset({NoticeCode.RECIPIENT_AWAY, NoticeCode.RECIPIENT_AWAY_NO_MESSAGE})


def _line_for(codec: IrcCodec, event: ServerEvent, request: Say, account: str, ts: float) -> bytes:
    """A chat event as ``codec``'s IRC line: a NOTICE for a NOTICE, with the sender's
    ``account`` and the request's client tags, at ``ts``."""
    if isinstance(event, (Message, Emote)):
        if not event.group and not codec.in_main:
            return b""
        target = "#" + event.group if event.group else codec.main_channel
        return codec.chat_line(
            event.sender, target, event.text, ts, action=isinstance(event, Emote), notice=request.notice,
            account=account, client_tags=request.tags,
        )
    if isinstance(event, PrivateMessage) and not event.outgoing:
        return codec.chat_line(
            event.sender, event.recipient, event.text, ts, notice=request.notice, account=account, client_tags=request.tags
        )
    return b""


class LastRecord:
    """The hub's :class:`~pollchat.core.history.RecordSink` seen through: every record
    goes on to ``sink``, and the last one is remembered, so that the IRC lines of a
    message carry its record's time (the ``time`` and ``msgid`` tags), equal to what
    ``CHATHISTORY`` replays later. The fan-out renders a line as soon as the hub
    returns it, before anything else is said, so the last record is that line's."""

    def __init__(self, sink: RecordSink) -> None:
        self.sink = sink
        self.last: HistoryRecord | None = None

    def add(self, record: HistoryRecord) -> None:
        """Remember ``record`` and pass it on."""
        self.last = record
        self.sink.add(record)

    @property
    def healthy(self) -> bool:
        """The sink's."""
        return self.sink.healthy

    def unread(self, account_id: int, since: float) -> int:
        """The sink's count."""
        return self.sink.unread(account_id, since)

    def time_of(self, sender: str, text: str) -> float | None:
        """The time of the last record if it is ``sender``'s ``text``, else ``None``."""
        last = self.last
        return last.ts if last is not None and last.sender == sender and last.text == text else None

    def time_or(self, default: float) -> float:
        """The time of the last record, or ``default`` if none was kept since :attr:`last`
        was cleared."""
        return self.last.ts if self.last is not None else default
