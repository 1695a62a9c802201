"""The operator console: admin commands typed on the server's own terminal.

Seed 001 gives the server a window to end the chat and ban people by name; seed 000 asks
for a function that prints every online user. When the server's stdin is a terminal, its
lines are read through the same selectors loop (no thread) and run as the admin
``operator``: ``who``, ``kick``, ``ban``, ``unban``, ``announce``, ``shutdown``,
``stats`` and ``help``. Results are printed on stdout. End of input (Ctrl+D) turns the
console off; the server goes on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from pollchat.core.seats import AccountKind
from pollchat.protocol.framing import LineFramer
from pollchat.protocol.render import render_text
from pollchat.server.commands import describe_connection

if TYPE_CHECKING:
    from pollchat.server.chat import LoopAdapter

OPERATOR = "operator"
"""The actor name the console's admin actions are logged and shown under."""

HELP = """\
operator console: commands run as the admin "operator"
  who                                   everyone online, with connection ids and addresses
  kick NAME [reason]                    disconnect a user
  ban NAME [DURATION] [reason]          ban an account (DURATION: 30m, 2h, 7d; none: for good)
  unban NAME                            lift a ban
  announce TEXT                         a marked line to everyone online
  shutdown [SECONDS] [reason]           stop the server after a countdown (default 30 s)
  shutdown cancel                       stop the countdown
  stats                                 connections, sessions, seats, messages/s, bytes queued, groups
  help                                  this list
Ctrl+C stops the server now (gracefully); Ctrl+D closes the console only."""


class OperatorConsole:
    """Reads operator commands from a terminal descriptor and prints the answers.

    Args:
        chat: the chat layer (hub, admin actions, loop).
        out: where answers are printed.
        clock: monotonic seconds, for the message rate in ``stats``.
    """

    def __init__(self, chat: LoopAdapter, out: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self.chat = chat
        self.out = out
        self.clock = clock
        self._framer = LineFramer()
        self._fd = -1
        self._since = (clock(), chat.hub.messages)
        self._commands: dict[str, Callable[[str], str]] = {
            "who": self.who,
            "kick": self.kick,
            "ban": self.ban,
            "unban": self.unban,
            "announce": self.announce,
            "shutdown": self.shutdown,
            "stats": self.stats,
            "help": lambda _rest: HELP,
        }

    def attach(self, fd: int) -> None:
        """Start reading commands from ``fd`` (a terminal) on the chat's loop."""
        self._fd = fd
        self.chat.loop.add_reader(fd, self._readable)
        self._print('operator console ready: type "help"')

    def _readable(self) -> None:
        try:
            data = os.read(self._fd, 4096)
        except OSError:
            data = b""
        if not data:  # Ctrl+D or the terminal went away: the server goes on without it
            self.chat.loop.remove_reader(self._fd)
            self._print("operator console closed")
            return
        for item in self._framer.feed(data):
            if isinstance(item, str):
                self._print(self.run(item))

    def run(self, line: str) -> str:
        """Run one console line and return the answer (possibly several lines)."""
        word, _, rest = line.strip().partition(" ")
        if not word:
            return ""
        command = self._commands.get(word.lower())
        if command is None:
            return f'unknown console command {word!r} (type "help")'
        return command(rest.strip())

    # --- commands ----------------------------------------------------------------------------

    def who(self, rest: str) -> str:
        return render_text(self.chat.hub.who_list(describe_connection))

    def kick(self, rest: str) -> str:
        name, _, reason = rest.partition(" ")
        if not name:
            return "usage: kick NAME [reason]"
        return render_text(self.chat.admin.kick(OPERATOR, name, reason.strip(), console=True))

    def ban(self, rest: str) -> str:
        name, _, more = rest.partition(" ")
        if not name:
            return "usage: ban NAME [DURATION] [reason]"
        return render_text(self.chat.admin.ban(OPERATOR, name, more.strip(), console=True))

    def unban(self, rest: str) -> str:
        if not rest or " " in rest:
            return "usage: unban NAME"
        return render_text(self.chat.admin.unban(OPERATOR, rest))

    def announce(self, rest: str) -> str:
        if not rest:
            return "usage: announce TEXT"
        error = self.chat.admin.announce(OPERATOR, rest)
        return render_text(error) if error is not None else "announced"

    def shutdown(self, rest: str) -> str:
        return render_text(self.chat.admin.shutdown(OPERATOR, rest))

    def stats(self, rest: str) -> str:
        hub, loop = self.chat.hub, self.chat.loop
        budget = hub.budget
        now, messages = self.clock(), hub.messages
        then, before = self._since
        self._since = (now, messages)
        rate = (messages - before) / (now - then) if now > then else 0.0
        queued = sum(len(conn.outbuf) for conn in loop.connections)
        return "\n".join(
            [
                f"connections: {len(loop.connections)}",
                f"sessions: {budget.total_online} of {budget.max_users}",
                f"preconfigured seats used: {budget.online(AccountKind.PRECONFIGURED)} of {budget.preconfigured}",
                f"registered seats used: {budget.online(AccountKind.REGISTERED)} of {budget.registered_seats}",
                f"messages/s since the last stats: {rate:.1f} ({messages} in all)",
                f"bytes queued for clients: {queued}",
                f"groups: {sum(1 for _ in self.chat.groups.groups)}",
            ]
        )

    def _print(self, text: str) -> None:
        if text:
            try:
                self.out.write(text + "\n")
                self.out.flush()
            except (OSError, ValueError):
                pass
