"""Running slash commands: one method per entry of the command table.

The parser (:mod:`pollchat.protocol.commands`) has already checked the argument count;
each method here checks the argument values, asks the hub (or the history log, or the
worker pool for password work) and hands the deliveries to the chat layer. A test fails
if a command in the table has no method here.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from pollchat import texts
from pollchat.core import game
from pollchat.core.history import HistoryRecord, RecordKind
from pollchat.core.group_chat import group_name
from pollchat.core.hub import Delivery
from pollchat.core.passwords import change_password, verify_password
from pollchat.core.presence import Status
from pollchat.core.seats import AccountKind
from pollchat.protocol.commands import COMMANDS, Command, group_argument
from pollchat.protocol.events import (
    Action,
    Error,
    GroupEvent,
    Message,
    Notice,
    PrivateMessage,
    ServerEvent,
)
from pollchat.protocol.manual import help_text
from pollchat.protocol.session import has_control_characters, new_password_error
from pollchat.server.connection import Connection
from pollchat.texts import ErrorCode, GroupChange, NoticeCode

if TYPE_CHECKING:
    from pollchat.server.chat import ChatServer

log = logging.getLogger(__name__)

DEFAULT_HISTORY = 20
MAX_HISTORY = 500
"""``/history`` shows at most this many public (and private) messages (issue 3)."""

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
        return Action(record.sender, record.text, history=True, at=record.ts, group=group)
    if record.kind is RecordKind.PRIVATE:
        return PrivateMessage(
            record.sender,
            record.recipient or "?",
            record.text,
            outgoing=record.sender_id == viewer_id,
            history=True,
            at=record.ts,
        )
    return Message(record.sender, record.text, history=True, at=record.ts, group=group)


class Commands:
    """The command methods, bound to one chat server.

    Args:
        chat: the chat layer (for the hub, the history log, the worker pool, sending).
        rng: where game numbers come from (tests pass a seeded ``random.Random``).
    """

    def __init__(self, chat: ChatServer, rng: random.Random | None = None) -> None:
        self.chat = chat
        self.hub = chat.hub
        self.groups = chat.groups
        self.rng = rng or random.Random()
        self._methods: dict[str, Callable[[Connection, tuple[str, ...]], None]] = {
            name: getattr(self, "do_" + name) for name in COMMANDS
        }

    def run(self, conn: Connection, command: Command) -> None:
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

    def _group_without_hash(self, conn: Connection, command: Command) -> bool:
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

    def _deliver(self, deliveries: list) -> None:  # type: ignore[type-arg]
        self.chat.deliver(deliveries)

    def _deliver_group_change(self, conn: Connection, deliveries: list[Delivery[Connection]]) -> None:
        """Deliver, and log the group changes an operator may want to trace later
        (who created, deleted, renamed a group, banned or removed whom)."""
        for delivery in deliveries:
            event = delivery.event
            if isinstance(event, GroupEvent) and event.change in _LOGGED_CHANGES:
                detail = f"to #{event.text}" if event.change is GroupChange.RENAMED else event.name or event.text
                words = (f"#{event.group}", event.change.code, detail, "by", self._actor(conn))
                log.info("%s", " ".join(word for word in words if word))
        self._deliver(deliveries)

    def _send(self, conn: Connection, event: ServerEvent) -> None:
        self.chat.send(conn, event)

    def _usage(self, conn: Connection, name: str) -> None:
        self._send(conn, Error.of(ErrorCode.USAGE, usage=COMMANDS[name].usage))

    # --- messages ---------------------------------------------------------------------------

    def do_msg(self, conn: Connection, args: tuple[str, ...]) -> None:
        name, text = args
        if name.startswith("#"):
            self._deliver(self.groups.message(conn, name, text))
        else:
            self._deliver(self.hub.private(conn, name, text))

    def do_me(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.act(conn, args[0]))

    def do_shrug(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._emote(conn, "shrug", args)

    def do_tableflip(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._emote(conn, "tableflip", args)

    def do_unflip(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._emote(conn, "unflip", args)

    def _emote(self, conn: Connection, name: str, args: tuple[str, ...]) -> None:
        emoticon = _EMOTICONS[name]
        text = f"{args[0]} {emoticon}" if args else emoticon
        self._deliver(self.groups.say(conn, text, may_guess=False))

    # --- presence -----------------------------------------------------------------------------

    def do_who(self, conn: Connection, args: tuple[str, ...]) -> None:
        session = self.hub.session_of(conn)
        admin = session is not None and session.account.admin
        self._deliver(self.hub.who(conn, describe_connection if admin else None))

    def do_whois(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver(self.hub.whois(conn, args[0]))

    def do_status(self, conn: Connection, args: tuple[str, ...]) -> None:
        status = Status.parse(args[0])
        if status is None:
            self._usage(conn, "status")
            return
        self._deliver(self.hub.set_status(conn, status, args[1] if len(args) > 1 else ""))

    def do_away(self, conn: Connection, args: tuple[str, ...]) -> None:
        if args:
            self._deliver(self.hub.set_status(conn, Status.AWAY, args[0]))
        else:
            self._deliver(self.hub.set_status(conn, Status.ACTIVE))

    # --- information ----------------------------------------------------------------------------

    def do_help(self, conn: Connection, args: tuple[str, ...]) -> None:
        text = help_text(args[0] if args else None)
        if text is None:
            self._send(conn, Error.of(ErrorCode.NO_SUCH_COMMAND_HELP, name=args[0].lstrip("/")[:40]))
        else:
            self._send(conn, Notice.of(NoticeCode.HELP, text=text))

    def do_history(self, conn: Connection, args: tuple[str, ...]) -> None:
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
            records = self.chat.history.conversation(session.account.id, count)
            self.chat.send_history(conn, [history_event(r, session.account.id) for r in records], empty_notice=True)
            return
        group = self.groups.readable(conn, group_word)
        if isinstance(group, list):
            self._deliver(group)
            return
        records = self.chat.history.group_messages(group.id, count)
        events = [history_event(r, session.account.id, group.name) for r in records]
        self.chat.send_history(conn, events, empty_notice=True)

    # --- leaving and the game -------------------------------------------------------------------

    def do_quit(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._send(conn, Notice.of(NoticeCode.GOODBYE))
        self._deliver(self.hub.leave(conn, args[0] if args else ""))
        self.chat.loop.close(conn, "quit")

    def do_play(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver(self.hub.play(conn, self.rng.randint(1, game.TOP), args[0] if args else None))

    # --- account changes ---------------------------------------------------------------------------

    def do_nick(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver(self.hub.rename(conn, args[0]))
        session = self.hub.session_of(conn)
        if session is not None:  # member lists show the name of now
            self.groups.account_renamed(session.account.id, session.account.name)

    def do_passwd(self, conn: Connection, args: tuple[str, ...]) -> None:
        old, comma, new = args[0].partition(",")
        if not comma or not old or not new or has_control_characters(new):
            self._usage(conn, "passwd")
            return
        session = self.hub.session_of(conn)
        if session is None:
            return
        too_short = new_password_error(new, self.chat.config.min_password_length)  # issue 14
        if too_short is not None and session.account.kind is AccountKind.REGISTERED:
            self._send(conn, too_short)
            return
        checked = session.account.password_hash
        self.chat.pool.submit(
            change_password,
            old,
            checked,
            new,
            self.chat.config.kdf_iterations,
            on_done=lambda future: self._passwd_done(conn, args, checked, future),
        )

    def _passwd_done(self, conn: Connection, args: tuple[str, ...], checked: str, future: Future[str | None]) -> None:
        if self._password_changed_meanwhile(conn, checked):
            self.do_passwd(conn, args)  # check OLD again, against the password of now
            return
        if conn.closing:
            return
        new_hash = future.result()
        if new_hash is None:
            self._send(conn, Error.of(ErrorCode.WRONG_PASSWORD))
        else:
            self._deliver(self.hub.change_password(conn, new_hash))

    def _password_changed_meanwhile(self, conn: Connection, checked: str) -> bool:
        """True if ``conn`` is still logged in but its password is no longer the hash a
        worker just checked (a pipelined /passwd got there first)."""
        session = None if conn.closing else self.hub.session_of(conn)
        return session is not None and session.account.password_hash != checked

    def do_unregister(self, conn: Connection, args: tuple[str, ...]) -> None:
        session = self.hub.session_of(conn)
        if session is None:
            return
        checked = session.account.password_hash
        self.chat.pool.submit(
            verify_password,
            args[0],
            checked,
            on_done=lambda future: self._unregister_done(conn, args, checked, future),
        )

    def _unregister_done(self, conn: Connection, args: tuple[str, ...], checked: str, future: Future[bool]) -> None:
        if self._password_changed_meanwhile(conn, checked):
            self.do_unregister(conn, args)  # check again, against the password of now
            return
        if conn.closing:
            return
        if not future.result():
            self._send(conn, Error.of(ErrorCode.WRONG_PASSWORD))
            return
        session = self.hub.session_of(conn)
        if session is not None and session.account.kind is AccountKind.REGISTERED:
            self._deliver(self.groups.account_deleted(session.account))  # owned groups change hands
        deliveries = self.hub.unregister(conn)
        self._deliver(deliveries)
        if self.hub.session_of(conn) is None:  # deleted and logged out
            self.chat.loop.close(conn, "unregistered")

    def do_typing(self, conn: Connection, args: tuple[str, ...]) -> None:
        state = args[0].lower()
        if state not in ("on", "off"):
            self._usage(conn, "typing")
            return
        if len(args) > 1 and args[1].startswith("#"):
            self._deliver(self.groups.typing(conn, state == "on", args[1]))
            return
        self._deliver(self.hub.typing(conn, state == "on", args[1] if len(args) > 1 else None))

    # --- groups (issue 4) ------------------------------------------------------------------------

    def do_create(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver_group_change(conn, self.groups.create(conn, *args))

    def do_join(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.join(conn, args[0]))

    def do_leave(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.leave(conn, args[0]))

    def do_groups(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.list_groups(conn))

    def do_members(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.members(conn, args[0]))

    def do_focus(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.focus(conn, args[0] if args else None))

    def do_accept(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.accept(conn, *args))

    def do_reject(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.reject(conn, *args))

    def do_rename(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver_group_change(conn, self.groups.rename(conn, *args))

    def do_delete(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver_group_change(conn, self.groups.delete(conn, args[0]))

    def do_topic(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._deliver(self.groups.topic(conn, args[0], args[1] if len(args) > 1 else None))

    def _group_form(self, conn: Connection, command: str, args: tuple[str, ...]) -> bool:
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

    def _actor(self, conn: Connection) -> str:
        session = self.hub.session_of(conn)
        return session.account.name if session is not None else "?"

    def do_kick(self, conn: Connection, args: tuple[str, ...]) -> None:
        if self._group_form(conn, "kick", args):
            return
        self._send(conn, self.chat.admin.kick(self._actor(conn), args[0], args[1] if len(args) > 1 else ""))

    def do_ban(self, conn: Connection, args: tuple[str, ...]) -> None:
        if self._group_form(conn, "ban", args):
            return
        self._send(conn, self.chat.admin.ban(self._actor(conn), args[0], args[1] if len(args) > 1 else ""))

    def do_unban(self, conn: Connection, args: tuple[str, ...]) -> None:
        if self._group_form(conn, "unban", args):
            return
        if len(args) > 1:
            self._usage(conn, "unban")
            return
        self._send(conn, self.chat.admin.unban(self._actor(conn), args[0]))

    def do_announce(self, conn: Connection, args: tuple[str, ...]) -> None:
        error = self.chat.admin.announce(self._actor(conn), args[0])
        if error is not None:
            self._send(conn, error)

    def do_shutdown(self, conn: Connection, args: tuple[str, ...]) -> None:
        self._send(conn, self.chat.admin.shutdown(self._actor(conn), args[0] if args else ""))


def describe_connection(conn: Connection) -> tuple[int, str]:
    """``(connection id, peer address)`` for an admin's ``/who``."""
    return conn.id, conn.peer
