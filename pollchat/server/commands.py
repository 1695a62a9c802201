"""Running slash commands: one method per entry of the command table.

The parser (:mod:`pollchat.protocol.commands`) has already checked the argument count;
each method here checks the argument values, asks the hub (or the history log, or the
worker pool for password work) and hands the deliveries to the output port (the chat
service). A test fails if a command in the table has no method here.
"""

from __future__ import annotations

import logging
import random
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from pollchat import texts
from pollchat.core import game
from pollchat.core.history import SEARCH_MIN_LENGTH, Conversation, HistoryRecord, RecordKind, search_terms
from pollchat.core.group_chat import group_name
from pollchat.core.effects import Delivery, Effect, ToEveryone, ToGroup
from pollchat.core.passwords import change_password, verify_password
from pollchat.core.presence import Status
from pollchat.core.receipts import ReceiptList, Receipts
from pollchat.core.seats import AccountKind
from pollchat.protocol.commands import COMMANDS, Command, group_argument, parse_cursor
from pollchat.protocol.events import (
    Emote,
    Error,
    GroupEvent,
    Message,
    Notice,
    Older,
    PrivateMessage,
    Receipt,
    Renamed,
    SearchResults,
    ServerEvent,
    StoredMessage,
)
from pollchat.protocol.manual import help_text
from pollchat.protocol.session import has_control_characters, new_password_error
from pollchat.server.peer import Peer
from pollchat.errors import StoreError
from pollchat.texts import ErrorCode, GroupChange, NoticeCode

if TYPE_CHECKING:
    from pollchat.config import ServerConfig
    from pollchat.core.group_chat import GroupChat
    from pollchat.core.hub import Hub
    from pollchat.server.admin import AdminActions
    from pollchat.server.history import HistoryLog
    from pollchat.server.workers import PasswordPool

log = logging.getLogger(__name__)

RENAMES_KEPT = 1000
"""Account renames remembered (in memory, newest last) to tell users who were away."""

P = TypeVar("P", bound=Peer)

DEFAULT_HISTORY = 20
MAX_HISTORY = 500
"""``/history`` shows at most this many public (and private) messages: one reply stays
well under the output bound."""

OLDER_PAGE = 100
"""``/older`` returns at most this many messages per page (and by default)."""
SEARCH_LIMIT = 20
"""``/search`` returns at most this many results (the newest)."""

_LOGGED_CHANGES = frozenset(
    {
        GroupChange.CREATED,
        GroupChange.DELETED,
        GroupChange.RENAMED,
        GroupChange.KICKED,
        GroupChange.BANNED,
        GroupChange.UNBANNED,
    }
)
"""Group changes written to the server log (membership comings and goings are not)."""

_EMOTICONS = {"shrug": texts.SHRUG, "tableflip": texts.TABLEFLIP, "unflip": texts.UNFLIP}


def history_event(record: HistoryRecord, viewer_id: int, group: str = "") -> ServerEvent:
    """A stored record as the history event ``viewer_id``'s account is shown; ``group``
    is the current name of the record's group, if it has one."""
    if record.kind is RecordKind.ACTION:
        return Emote(record.sender, record.text, history=True, at=record.ts, group=group, id=record.id)
    if record.kind is RecordKind.PRIVATE:
        return PrivateMessage(
            record.sender,
            record.recipient or "?",
            record.text,
            outgoing=record.sender_id == viewer_id,
            history=True,
            at=record.ts,
            id=record.id,
        )
    return Message(record.sender, record.text, history=True, at=record.ts, group=group, id=record.id)


def stored_message(record: HistoryRecord, viewer_id: int, conversation: str) -> StoredMessage:
    """A stored record as ``viewer_id``'s account is shown it in a scrollback page or a
    search result; ``conversation`` names where it was said (``""``, ``#group``, ``@name``)."""
    if record.kind is RecordKind.PRIVATE:
        kind = "private"
    else:
        kind = "action" if record.kind is RecordKind.ACTION else "message"
    return StoredMessage(
        record.id,
        conversation,
        kind,
        record.sender,
        record.recipient or "",
        record.text,
        record.kind is RecordKind.PRIVATE and record.sender_id == viewer_id,
        record.ts,
    )


class CommandOutput(Protocol[P]):
    """Where command results go: the chat service
    (:class:`~pollchat.server.service.ChatService` over the same kind of
    :class:`~pollchat.server.peer.Peer` as the hub)."""

    def send(self, peer: P, event: ServerEvent) -> None:
        """Queue ``event`` for ``peer`` alone."""

    def deliver(self, effects: list[Effect[P]]) -> None:
        """Carry out the core's effects, in order."""

    def send_history(self, peer: P, events: list[ServerEvent], *, empty_notice: bool = False) -> None:
        """Send a bounded history block to ``peer``."""

    def close(self, peer: P, reason: str) -> None:
        """Close ``peer`` after its queued lines."""

    def answer_later(self, peer: P) -> None:
        """``peer``'s current request is answered in a later loop pass: hold its input."""

    def answer_sent(self, peer: P) -> None:
        """The answer :meth:`answer_later` announced was queued: handle the held input."""

    def leaving(self, peer: P) -> None:
        """``peer``'s session is about to end (``/quit``): the front ends tell what only
        they know, before the hub lets the session go."""


class Commands(Generic[P]):
    """The command methods, over explicit collaborators and peers of type ``P``.

    Args:
        hub: the main chat room.
        groups: the group commands over ``hub``.
        history: the message log (``/history``).
        pool: the worker pool for password work (``/passwd``, ``/unregister``).
        out: where replies and deliveries go (:class:`CommandOutput`).
        config: the settings (``kdf_iterations``).
        admin: the admin actions (``/kick``, ``/ban``...); ``None`` where no admin
            command runs (unit tests).
        rng: where game numbers come from (tests pass a seeded ``random.Random``).
        receipts: the read-receipt rules over the store (``/read``, ``/receipts``);
            ``None``: kept in memory only.
    """

    def __init__(
        self,
        hub: Hub[P],
        groups: GroupChat[P],
        history: HistoryLog,
        pool: PasswordPool,
        out: CommandOutput[P],
        config: ServerConfig,
        admin: AdminActions[P] | None = None,
        rng: random.Random | None = None,
        receipts: Receipts | None = None,
    ) -> None:
        self.hub = hub
        self.receipts = receipts or Receipts(ReceiptList())
        self.groups = groups
        self.history = history
        self.pool = pool
        self.out = out
        self.config = config
        self._admin = admin
        self.rng = rng or random.Random()
        # (when, old name, new name) of each /nick, for renames_since(); a restart forgets them
        self._renames: deque[tuple[float, str, str]] = deque(maxlen=RENAMES_KEPT)
        self._methods: dict[str, Callable[[P, tuple[str, ...]], None]] = {
            name: getattr(self, "do_" + name) for name in COMMANDS
        }

    def run(self, conn: P, command: Command) -> None:
        """Run ``command`` for the logged-in connection ``conn`` (admin commands only for
        admins)."""
        if self._group_without_hash(conn, command):
            return
        if COMMANDS[command.name].admin and group_argument(command) is None:
            session = self.hub.session_of(conn)
            if session is None or not session.account.admin:
                self._send(conn, Error.of(ErrorCode.NOT_ADMIN, name=command.name))
                return
        self._methods[command.name](conn, command.args)

    def _group_without_hash(self, conn: P, command: Command) -> bool:
        """``/kick bob familia`` where #familia is a group: the admin form would take
        "familia" as the reason and disconnect or ban bob server-wide, which is surely
        not what a group owner meant. Refuse with the group form (True if refused)."""
        args = command.args
        if not COMMANDS[command.name].group_form or len(args) != 2 or len(args[1].split()) != 1:
            return False
        name = group_name(args[1])
        group = self.groups.groups.find(name) if name is not None and not args[1].startswith("#") else None
        if group is None:
            return False
        self._send(conn, Error.of(ErrorCode.GROUP_NEEDS_HASH, command=command.name, name=args[0][:40], group=group.name))
        return True

    # --- helpers ----------------------------------------------------------------------------

    @property
    def admin(self) -> AdminActions[P]:
        assert self._admin is not None, "admin commands need AdminActions"
        return self._admin

    def _deliver(self, effects: list[Effect[P]]) -> None:
        self.out.deliver(effects)

    def _deliver_group_change(self, conn: P, effects: list[Effect[P]]) -> None:
        """Deliver, and log the group changes an operator may want to trace later
        (who created, deleted, renamed a group, banned or removed whom)."""
        for effect in effects:
            if not isinstance(effect, (Delivery, ToEveryone, ToGroup)):
                continue
            event = effect.event
            if isinstance(event, GroupEvent) and event.change in _LOGGED_CHANGES:
                detail = f"to #{event.text}" if event.change is GroupChange.RENAMED else event.name or event.text
                words = (f"#{event.group}", event.change.code, detail, "by", self._actor(conn))
                log.info("%s", " ".join(word for word in words if word))
        self._deliver(effects)

    def _send(self, conn: P, event: ServerEvent) -> None:
        self.out.send(conn, event)

    def _usage(self, conn: P, name: str) -> None:
        self._send(conn, Error.of(ErrorCode.USAGE, usage=COMMANDS[name].usage))

    # --- messages ---------------------------------------------------------------------------

    def do_msg(self, conn: P, args: tuple[str, ...]) -> None:
        name, text = args
        if name.startswith("#"):
            self._deliver(self.groups.message(conn, name, text))
        else:
            self._deliver(self.hub.private(conn, name, text))

    def do_me(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.act(conn, args[0]))

    def do_say(self, conn: P, args: tuple[str, ...]) -> None:
        """``/say text``: ``text`` to the main chat as it is, whatever the focus, never a
        group line (``#name``), a command or a game guess: the way to send a line that a
        plain chat line would refuse or route elsewhere."""
        self._deliver(self.hub.chat(conn, args[0], may_guess=False))

    def do_shrug(self, conn: P, args: tuple[str, ...]) -> None:
        self._emote(conn, "shrug", args)

    def do_tableflip(self, conn: P, args: tuple[str, ...]) -> None:
        self._emote(conn, "tableflip", args)

    def do_unflip(self, conn: P, args: tuple[str, ...]) -> None:
        self._emote(conn, "unflip", args)

    def _emote(self, conn: P, name: str, args: tuple[str, ...]) -> None:
        emoticon = _EMOTICONS[name]
        text = f"{args[0]} {emoticon}" if args else emoticon
        self._deliver(self.groups.say(conn, text, may_guess=False))

    # --- presence -----------------------------------------------------------------------------

    def do_who(self, conn: P, args: tuple[str, ...]) -> None:
        session = self.hub.session_of(conn)
        admin = session is not None and session.account.admin
        self._deliver(self.hub.who(conn, describe_connection if admin else None))

    def do_ignore(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver(self.hub.ignore(conn, args[0] if args else None))

    def do_unignore(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver(self.hub.unignore(conn, args[0]))

    def do_whois(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver(self.hub.whois(conn, args[0]))

    def do_status(self, conn: P, args: tuple[str, ...]) -> None:
        status = Status.parse(args[0])
        if status is None:
            self._usage(conn, "status")
            return
        self._deliver(self.hub.set_status(conn, status, args[1] if len(args) > 1 else ""))

    def do_away(self, conn: P, args: tuple[str, ...]) -> None:
        if args:
            self._deliver(self.hub.set_status(conn, Status.AWAY, args[0]))
        else:
            self._deliver(self.hub.set_status(conn, Status.ACTIVE))

    # --- information ----------------------------------------------------------------------------

    def do_help(self, conn: P, args: tuple[str, ...]) -> None:
        text = help_text(args[0] if args else None)
        if text is None:
            self._send(conn, Error.of(ErrorCode.NO_SUCH_COMMAND_HELP, name=args[0].lstrip("/")[:40]))
        else:
            self._send(conn, Notice.of(NoticeCode.HELP, text=text))

    def do_history(self, conn: P, args: tuple[str, ...]) -> None:
        group_word = args[0] if args and args[0].startswith("#") else None
        numbers = args[1:] if group_word is not None else args
        count = DEFAULT_HISTORY
        if len(numbers) > 1 or (numbers and (not numbers[0].isdecimal() or not 1 <= int(numbers[0]) <= MAX_HISTORY)):
            self._usage(conn, "history")
            return
        if numbers:
            count = int(numbers[0])
        session = self.hub.session_of(conn)
        if session is None:
            return
        if group_word is None:
            records = self.hub.unignored(self.history.conversation(session.account.id, count), session.account.id)
            self.out.send_history(conn, [history_event(r, session.account.id) for r in records], empty_notice=True)
            return
        group = self.groups.readable(conn, group_word)
        if isinstance(group, list):
            self._deliver(group)
            return
        records = self.hub.unignored(self.history.group_messages(group.id, count), session.account.id)
        events = [history_event(r, session.account.id, group.name) for r in records]
        self.out.send_history(conn, events, empty_notice=True)

    def do_older(self, conn: P, args: tuple[str, ...]) -> None:
        """``/older [#group|@NAME] BEFORE [N]``: a page of scrollback (:class:`Older`),
        at most :data:`OLDER_PAGE` messages of the main chat, a group the user may read,
        or the user's private conversation with NAME, before the cursor BEFORE."""
        target = args[0] if args and args[0][:1] in ("#", "@") else ""
        rest = args[1:] if target else args
        if not rest or len(rest) > 2 or (len(rest) == 2 and not _page_size(rest[1])):
            self._usage(conn, "older")
            return
        count = _page_size(rest[1]) if len(rest) == 2 else OLDER_PAGE
        cursor = parse_cursor(rest[0])
        if cursor is None:
            self._send(conn, Error.of(ErrorCode.BAD_CURSOR, cursor=rest[0][:40]))
            return
        session = self.hub.session_of(conn)
        if session is None:
            return
        where = self._conversation(conn, session.account.id, target)
        if where is None:
            return
        conversation, name = where
        before_id, before_ts = cursor
        viewer = session.account.id

        def answer(found: list[HistoryRecord]) -> None:
            more = len(found) > count
            records = self.hub.unignored(found[-count:], viewer)  # /ignore hides them here too
            page = tuple(stored_message(record, viewer, name) for record in records)
            self._send(conn, Older(name, rest[0], page, more))

        self._read_history(
            conn, "/older", lambda done: self.history.older(
                conversation, count + 1, done, before_id=before_id, before_ts=before_ts
            ), answer,
        )

    def do_search(self, conn: P, args: tuple[str, ...]) -> None:
        """``/search WORDS [#group|@NAME]``: the newest :data:`SEARCH_LIMIT` messages
        holding every word (:func:`~pollchat.core.history.search_terms`), in what the
        user may read -- the main chat, their private conversations, their groups -- or
        in one of them (:class:`SearchResults`)."""
        words_typed = args[0].split()
        target = words_typed[-1] if len(words_typed) > 1 and words_typed[-1][:1] in ("#", "@") else ""
        query = " ".join(words_typed[:-1] if target else words_typed)
        words = search_terms(query)
        if not words:
            self._send(conn, Error.of(ErrorCode.BAD_SEARCH, minimum=SEARCH_MIN_LENGTH))
            return
        session = self.hub.session_of(conn)
        if session is None:
            return
        viewer = session.account.id
        if target:
            where = self._conversation(conn, viewer, target)
            if where is None:
                return
            conversation: Conversation | None = where[0]
            shown = where[1]
            group_ids: tuple[int, ...] = ()
        else:
            conversation, shown = None, "*"
            group_ids = tuple(group.id for group in self.groups.groups.of_member(viewer))

        def answer(found: list[HistoryRecord]) -> None:
            results = tuple(
                stored_message(record, viewer, self._place(record, viewer)) for record in self.hub.unignored(found, viewer)
            )
            self._send(conn, SearchResults(" ".join(words), shown, results, SEARCH_LIMIT))

        self._read_history(
            conn, "/search", lambda done: self.history.find(
                viewer, words, SEARCH_LIMIT, done, conversation=conversation, group_ids=group_ids
            ), answer,
        )

    def _read_history(
        self,
        conn: P,
        command: str,
        ask: Callable[[Callable[[list[HistoryRecord] | StoreError], None]], None],
        answer: Callable[[list[HistoryRecord]], None],
    ) -> None:
        """Run ``ask`` (a history read given its completion) for ``conn``'s request and
        ``answer`` with its records. Answered at once (SQLite), it is as a plain call
        (a ``StoreError`` is raised by ``ask``). Answered in a later loop pass
        (PostgreSQL), ``conn``'s further input waits until then (replies keep the
        order of requests), the answer carries the label of the line it answers
        (:mod:`pollchat.protocol.labels`), nothing is sent if the session has ended,
        and a database that could not answer gets one ``database_unavailable`` line."""
        loop = getattr(conn, "loop", None)
        replying = getattr(loop, "replying", None)
        session = self.hub.session_of(conn)
        later = False
        answered = False

        def done(found: list[HistoryRecord] | StoreError) -> None:
            nonlocal answered
            answered = True
            if not later:
                self._answer_history(conn, command, found, answer)
                return
            previous = loop.replying if loop is not None else None
            try:
                if self.hub.session_of(conn) is session:  # else gone, or another login since
                    if loop is not None:
                        loop.replying = replying
                    self._answer_history(conn, command, found, answer)
            finally:
                if loop is not None:
                    loop.replying = previous
                self.out.answer_sent(conn)

        ask(done)
        if not answered:
            later = True
            self.out.answer_later(conn)

    def _answer_history(
        self, conn: P, command: str, found: list[HistoryRecord] | StoreError, answer: Callable[[list[HistoryRecord]], None]
    ) -> None:
        if isinstance(found, StoreError):
            log.warning("%s failed: %s", command, found)
            self._send(conn, Error.of(ErrorCode.DATABASE_UNAVAILABLE))
        else:
            answer(found)

    def _place(self, record: HistoryRecord, viewer_id: int) -> str:
        """Where ``record`` was said, as ``viewer_id`` names it (:class:`StoredMessage`)."""
        if record.group_id is not None:
            group = self.groups.groups.get(record.group_id)
            return f"#{group.name}" if group is not None else "#"
        if record.kind is RecordKind.PRIVATE:
            return "@" + (record.recipient or "" if record.sender_id == viewer_id else record.sender)
        return ""

    def do_read(self, conn: P, args: tuple[str, ...]) -> None:
        """``/read @NAME UNTIL``: the client has shown the user NAME's private messages
        sent up to UNTIL (a time, ISO 8601 as the events' ``ts``; ``now``). If both
        accounts have receipts on, the mark is stored and NAME, if online, gets a
        :class:`Receipt`. Nothing is answered (clients send it as they show lines)."""
        target, when = args
        if not target.startswith("@"):
            self._usage(conn, "read")
            return
        cursor = parse_cursor(when)
        if cursor is None or cursor[0] is not None:  # a time or now, not a message id
            self._send(conn, Error.of(ErrorCode.BAD_TIME, time=when[:40]))
            return
        session = self.hub.session_of(conn)
        if session is None:
            return
        partner = self.hub.find_account(target[1:])
        if partner is None:
            self._send(conn, Error.of(ErrorCode.NO_SUCH_USER, name=target[1:40]))
            return
        now = self.hub.clock()
        until = cursor[1] if cursor[1] is not None else now
        try:
            told = self.receipts.read(session.account.id, partner.id, until, now)
        except StoreError as exc:  # a receipt is worth no error line: it is sent again later
            log.warning("cannot store a read mark (%s)", exc)
            return
        online = self.hub.online(partner.name)
        if told is not None and online is not None:
            self._deliver([Delivery((online.handle,), Receipt(session.account.name, told))])

    def do_receipts(self, conn: P, args: tuple[str, ...]) -> None:
        """``/receipts [on|off]``: show the setting, or change it (stored per account)."""
        session = self.hub.session_of(conn)
        if session is None:
            return
        if args:
            choice = args[0].lower()
            if choice not in ("on", "off"):
                self._usage(conn, "receipts")
                return
            try:
                self.receipts.set_enabled(session.account.id, choice == "on")
            except StoreError:
                self._send(conn, Error.of(ErrorCode.INTERNAL))
                return
        on = self.receipts.enabled(session.account.id)
        self._send(conn, Notice.of(NoticeCode.RECEIPTS_ON if on else NoticeCode.RECEIPTS_OFF))

    def receipts_at_login(self, account_id: int) -> list[Receipt]:
        """The receipts a user logging in is told: who has read their messages (in JSON
        mode only; none with receipts off). A store that cannot be read tells none."""
        try:
            return [Receipt(name, until) for name, until in self.receipts.told_at_login(account_id)]
        except StoreError as exc:
            log.warning("cannot read the read marks (%s)", exc)
            return []

    def _conversation(self, conn: P, viewer_id: int, target: str) -> tuple[Conversation, str] | None:
        """The conversation ``target`` names for the viewer (``""`` the main chat,
        ``#group`` one it may read, ``@NAME`` its private one with NAME) and its
        canonical name; ``None`` after telling ``conn`` why not."""
        if not target:
            return Conversation(), ""
        if target.startswith("#"):
            group = self.groups.readable(conn, target)
            if isinstance(group, list):
                self._deliver(group)
                return None
            return Conversation(group_id=group.id), f"#{group.name}"
        account = self.hub.find_account(target[1:])
        if account is None:
            self._send(conn, Error.of(ErrorCode.NO_SUCH_USER, name=target[1:40]))
            return None
        return Conversation(pair=(viewer_id, account.id)), f"@{account.name}"

    # --- leaving and the game -------------------------------------------------------------------

    def do_quit(self, conn: P, args: tuple[str, ...]) -> None:
        self._send(conn, Notice.of(NoticeCode.GOODBYE))
        self.out.leaving(conn)  # while the session is there: an IRC user who shares only a group sees a QUIT
        self._deliver(self.hub.leave(conn, args[0] if args else ""))
        self.out.close(conn, "quit")

    def do_play(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver(self.hub.play(conn, self.rng.randint(1, game.TOP), args[0] if args else None))

    # --- account changes ---------------------------------------------------------------------------

    def do_nick(self, conn: P, args: tuple[str, ...]) -> None:
        before = self.hub.session_of(conn)
        old = before.account.name if before is not None else None
        self._deliver(self.hub.rename(conn, args[0]))
        session = self.hub.session_of(conn)
        if session is not None:  # member lists show the name of now
            self.groups.account_renamed(session.account.id, session.account.name)
            if old is not None and session.account.name != old:
                self._renames.append((self.hub.clock(), old, session.account.name))

    def renames_since(self, since: float) -> list[Renamed]:
        """The account renames made at or after ``since`` (wall-clock seconds), oldest
        first, as ``history`` events: what a user away since then has missed (at most
        the last :data:`RENAMES_KEPT`, and none from before the server started)."""
        missed = []
        for ts, old, new in reversed(self._renames):  # newest first: a login costs only what it missed
            if ts < since:
                break
            missed.append(Renamed(old, new, history=True, at=ts))
        missed.reverse()
        return missed

    def do_passwd(self, conn: P, args: tuple[str, ...]) -> None:
        old, comma, new = args[0].partition(",")
        if not comma or not old or not new or has_control_characters(new):
            self._usage(conn, "passwd")
            return
        session = self.hub.session_of(conn)
        if session is None:
            return
        too_short = new_password_error(new, self.config.min_password_length)  # the same rule as at registration
        if too_short is not None and session.account.kind is AccountKind.REGISTERED:
            self._send(conn, too_short)
            return
        iterations = self.config.kdf_iterations
        self._password_work(
            conn,
            args,
            lambda checked: (change_password, old, checked, new, iterations),
            self._passwd_checked,
            retry=self.do_passwd,
        )

    def _passwd_checked(self, conn: P, new_hash: str | None) -> None:
        if new_hash is None:
            self._send(conn, Error.of(ErrorCode.WRONG_PASSWORD))
        else:
            self._deliver(self.hub.change_password(conn, new_hash))

    def do_unregister(self, conn: P, args: tuple[str, ...]) -> None:
        password = args[0]
        self._password_work(
            conn,
            args,
            lambda checked: (verify_password, password, checked),
            self._unregister_checked,
            retry=self.do_unregister,
        )

    def _unregister_checked(self, conn: P, ok: bool) -> None:
        if not ok:
            self._send(conn, Error.of(ErrorCode.WRONG_PASSWORD))
            return
        session = self.hub.session_of(conn)
        devices = self.hub.roster.handles_for(session) if session is not None else (conn,)
        if session is not None and session.account.kind is AccountKind.REGISTERED:
            self._deliver(self.groups.account_deleted(session.account))  # owned groups change hands
        self._deliver(self.hub.unregister(conn))
        if self.hub.session_of(conn) is None:  # deleted and logged out, on every device
            for device in devices:
                self.out.close(device, "unregistered")

    def _password_work(
        self,
        conn: P,
        args: tuple[str, ...],
        work: Callable[[str], tuple[Any, ...]],
        done: Callable[[P, Any], None],
        *,
        retry: Callable[[P, tuple[str, ...]], None],
    ) -> None:
        """Check the user's password off the loop: ``work(checked_hash)`` gives the
        worker's function and arguments; ``done(conn, result)`` runs on the loop thread.
        If a pipelined ``/passwd`` changed the password meanwhile, the command runs
        again (``retry``) against the password of now; a closed connection gets nothing.
        An unexpected exception (the worker's or ``done``'s: say the database refused
        the write) is logged and answered with one ``internal`` error line, as the
        service answers a command that fails at once."""
        session = self.hub.session_of(conn)
        if session is None:
            return
        checked = session.account.password_hash
        fn, *fn_args = work(checked)

        def on_done(future: Future[Any]) -> None:
            try:
                if self._password_changed_meanwhile(conn, checked):
                    retry(conn, args)
                elif not conn.closing:
                    done(conn, future.result())
            except Exception:
                log.exception("connection #%d: internal error finishing a password command", conn.id)
                if not conn.closing:
                    self._send(conn, Error.of(ErrorCode.INTERNAL))

        self.pool.submit(fn, *fn_args, on_done=on_done)

    def _password_changed_meanwhile(self, conn: P, checked: str) -> bool:
        """True if ``conn`` is still logged in but its password is no longer the hash a
        worker just checked (a pipelined /passwd got there first)."""
        session = None if conn.closing else self.hub.session_of(conn)
        return session is not None and session.account.password_hash != checked

    def do_typing(self, conn: P, args: tuple[str, ...]) -> None:
        state = args[0].lower()
        if state not in ("on", "off"):
            self._usage(conn, "typing")
            return
        if len(args) > 1 and args[1].startswith("#"):
            self._deliver(self.groups.typing(conn, state == "on", args[1]))
            return
        self._deliver(self.hub.typing(conn, state == "on", args[1] if len(args) > 1 else None))

    # --- groups ------------------------------------------------------------------------

    def do_create(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver_group_change(conn, self.groups.create(conn, *args))

    def do_join(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.join(conn, args[0]))

    def do_leave(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.leave(conn, args[0]))

    def do_groups(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.list_groups(conn))

    def do_members(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.members(conn, args[0]))

    def do_focus(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.focus(conn, args[0] if args else None))

    def do_accept(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.accept(conn, *args))

    def do_reject(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.reject(conn, *args))

    def do_rename(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver_group_change(conn, self.groups.rename(conn, *args))

    def do_delete(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver_group_change(conn, self.groups.delete(conn, args[0]))

    def do_topic(self, conn: P, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.topic(conn, args[0], args[1] if len(args) > 1 else None))

    def _group_form(self, conn: P, command: str, args: tuple[str, ...]) -> bool:
        """Run ``/kick|/ban|/unban NAME #group`` if that is the form used; True if so."""
        group = group_argument(Command(command, args))
        if group is None:
            return False
        word, _, extra = group.partition(" ")
        if extra.strip():
            self._usage(conn, command)
        else:
            self._deliver_group_change(conn, getattr(self.groups, command)(conn, args[0], word))
        return True

    # --- admin commands (COMMANDS[...].admin: checked in run) -----------------------------------

    def _actor(self, conn: P) -> str:
        session = self.hub.session_of(conn)
        return session.account.name if session is not None else "?"

    def do_kick(self, conn: P, args: tuple[str, ...]) -> None:
        if self._group_form(conn, "kick", args):
            return
        self._send(conn, self.admin.kick(self._actor(conn), args[0], args[1] if len(args) > 1 else ""))

    def do_ban(self, conn: P, args: tuple[str, ...]) -> None:
        if self._group_form(conn, "ban", args):
            return
        self._send(conn, self.admin.ban(self._actor(conn), args[0], args[1] if len(args) > 1 else ""))

    def do_unban(self, conn: P, args: tuple[str, ...]) -> None:
        if self._group_form(conn, "unban", args):
            return
        if len(args) > 1:
            self._usage(conn, "unban")
            return
        self._send(conn, self.admin.unban(self._actor(conn), args[0]))

    def do_announce(self, conn: P, args: tuple[str, ...]) -> None:
        error = self.admin.announce(self._actor(conn), args[0])
        if error is not None:
            self._send(conn, error)

    def do_shutdown(self, conn: P, args: tuple[str, ...]) -> None:
        self._send(conn, self.admin.shutdown(self._actor(conn), args[0] if args else "", everywhere=True))


def describe_connection(conn: P) -> tuple[int, str]:
    """``(connection id, peer address)`` for an admin's ``/who``."""
    return conn.id, conn.peer


def _page_size(word: str) -> int:
    """``word`` as a page size from 1 to :data:`OLDER_PAGE`, or 0."""
    if not word.isascii() or not word.isdigit() or len(word) > 4:
        return 0
    number = int(word)
    return number if 1 <= number <= OLDER_PAGE else 0
