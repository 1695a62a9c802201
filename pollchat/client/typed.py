"""What a line typed in the TUI becomes (pure, clock injected).

:class:`TypedLines` turns the input box's line into what is sent, in the open
conversation (docs/client.md): a main-chat line as typed (``/say text`` when it starts
with ``#``, so that it stays in the main chat), a private one as ``/msg NAME text`` (the
server echoes it), a group's as ``/msg #name text``; commands as
typed, except ``/focus`` (never sent: opening a conversation is the focus) and ``/me``
and the emoticons in a group. Lines the server does not echo are shown at once. It
also answers the ``[+] New chat`` prompt.
"""

from __future__ import annotations

from pollchat import texts
from pollchat.client.base import AppBase
from pollchat.client.outgoing import split_for_wire
from pollchat.client.requests import UNTRACKED_LABEL, Request
from pollchat.client.state import GROUP_MARK, MAIN, Conversation, EntryKind, group_key
from pollchat.client.ui import Phase
from pollchat.protocol.commands import Command, is_command_line, parse_command
from pollchat.protocol.labels import LABEL_PREFIX, labelled_line
from pollchat.protocol.names import MAX_NAME_LENGTH, name_key, normalize_name

SAY_PREFIX = "/say "
"""Sent before a main-chat line that starts with ``#`` (after any spaces), which the
server would otherwise route to group ``#name`` or refuse (docs/protocol.md, Groups)."""
_ECHOED_EMOTICONS = {"shrug": texts.SHRUG, "tableflip": texts.TABLEFLIP, "unflip": texts.UNFLIP}
_TRACKED = {"who", "whois", "groups", "history", "members"}
"""Typed commands sent as requests: their answers update the state besides being shown
(a ``/history #group`` refused marks the group gone)."""


class TypedLines(AppBase):
    """Lines typed in the input box and the new chat prompt: see the module doc."""

    def _new_chat(self, text: str, now: float) -> None:
        if not text:
            self.ui.new_chat = False
            return
        if text.startswith(GROUP_MARK):
            self._new_group_chat(text, now)
            return
        name = normalize_name(text)
        if name is None:
            self.set_status(texts.CLIENT_TUI_BAD_NAME.format(name=text, limit=MAX_NAME_LENGTH), now)
            return
        if self.chat.is_me(name):
            self.set_status(texts.CLIENT_TUI_NOT_YOURSELF, now)
            return
        person = self.chat.person(name)
        self.ui.new_chat = False
        self.ui.input.clear()
        if person is None and name_key(name) not in self.chat.conversations and self.requests.labels:
            # Someone the client does not know: ask the server first, so that a name
            # nobody has never becomes a contact (the answer opens the chat or says so).
            self._request(f"/whois {name}", Request("open", True, name))
            return
        self._open(self.chat.conversation_with(person.name if person else name).key, now)

    def _new_group_chat(self, text: str, now: float) -> None:
        """``#name`` in the new chat prompt: open that group, or ask to join it (the
        server's answer opens it, or says the owner was asked)."""
        name = normalize_name(text[len(GROUP_MARK) :])
        if name is None:
            self.set_status(texts.CLIENT_TUI_BAD_GROUP.format(name=text, limit=MAX_NAME_LENGTH), now)
            return
        conv = self.chat.conversations.get(group_key(name))
        if conv is not None and not conv.gone:
            self._open(conv.key, now)
        elif self.phase is not Phase.CHATTING:
            self.set_status(texts.CLIENT_TUI_NOT_CONNECTED, now)
            return
        else:
            self._send(f"/join {GROUP_MARK}{name}")
        self.ui.new_chat = False
        self.ui.input.clear()

    def _send_line(self, text: str, now: float) -> bool:
        """Send one typed line from the open conversation (see docs/client.md); False if
        it was refused here instead (the status bar says why)."""
        conv = self.chat.current
        if is_command_line(text):
            parsed = parse_command(text.strip())
            if isinstance(parsed, Command) and parsed.name in _LOCAL_COMMANDS:
                return self._local_command(parsed, text, conv, now)
            self._send_command(text, parsed if isinstance(parsed, Command) else None, now)
            return True
        if text.startswith("//"):
            text = text[1:]  # the literal line "/text"
            escaped = True
        else:
            escaped = False
        if conv.group:
            if not self._may_write(conv, now):
                return False
            # "/msg #name text": unlike "#name text", a group deleted meanwhile gets an
            # error instead of the line going to the main chat.
            prefix = f"/msg {conv.label} "
            for line in split_for_wire(prefix, text):
                self._send(line)
                self.chat.add_own(conv.key, line[len(prefix) :], now)  # not echoed by the server
        elif conv.key == MAIN and (
            (not escaped and text.lstrip().startswith(GROUP_MARK)) or len(split_for_wire("", text)) > 1
        ):
            # Typed in the main chat, so meant for it: as typed, the server would take
            # "#name text" as a group line (or refuse it for a group the user is not in),
            # and so it would any piece of a long line that starts with "#" or "/".
            for line in split_for_wire(SAY_PREFIX, text):
                self._send(line)
                self.chat.add_own(MAIN, line[len(SAY_PREFIX) :], now)
        elif conv.key == MAIN:
            for line in split_for_wire("/" if escaped else "", text):
                self._send(self._as_text(line))
                shown = line[1:] if escaped else line
                key, shown = self._addressed(shown)
                self.chat.add_own(key, shown, now)
        else:
            self._send(*split_for_wire(f"/msg {conv.name} ", text))  # the server echoes it back
        return True

    def _may_write(self, conv: Conversation, now: float) -> bool:
        """Whether lines may be sent to group ``conv``; if not, say why (a group the
        user left, was removed from, or that was deleted)."""
        if conv.gone:
            self.set_status(texts.CLIENT_TUI_NOT_IN_GROUP.format(name=conv.name, reason=conv.gone), now)
            return False
        return True

    def _addressed(self, text: str) -> tuple[str, str]:
        """Where the server puts a main-chat line: ``#name text`` goes to group ``name``
        when the user is in it (as far as the client knows), anything else to the main
        chat. Returns ``(conversation key, text shown)``."""
        stripped = text.lstrip()
        if stripped.startswith(GROUP_MARK):
            # the server splits "#name text" at any whitespace, as it splits commands
            word, *rest = stripped.split(maxsplit=1)
            name = normalize_name(word[len(GROUP_MARK) :])
            conv = self.chat.conversations.get(group_key(name)) if name is not None else None
            if conv is not None and conv.group and not conv.gone and rest and rest[0].strip():
                return conv.key, rest[0].strip()
        return MAIN, text

    def _local_command(self, command: Command, text: str, conv: Conversation, now: float) -> bool:
        """Commands the client looks at itself (see :data:`_LOCAL_COMMANDS`), typed as
        ``text`` in ``conv``; whether anything was sent or done."""
        args = command.args
        if command.name == "focus":
            # The client never moves the server's focus: plain lines from the main chat
            # must keep going to the main chat. Opening the conversation is the focus.
            if not args:
                self._open(MAIN, now)
                return True
            name = normalize_name(args[0].removeprefix(GROUP_MARK))
            target = self.chat.conversations.get(group_key(name)) if name is not None else None
            if target is None or not target.group:
                self.set_status(texts.CLIENT_TUI_NOT_IN_GROUP.format(name=args[0].removeprefix(GROUP_MARK),
                                                                     reason=texts.CLIENT_TUI_GROUP_NOT_MEMBER), now)
                return False
            self._open(target.key, now)
            return True
        if not conv.group:
            self._send_command(text, command, now)
            return True
        if not self._may_write(conv, now):
            return False
        if command.name == "me":
            # "/me #name waves" acts in the group (the server routes it as a line).
            self._send(f"/me {conv.label} {args[0]}")
            self.chat.add_own(conv.key, args[0], now, EntryKind.ACTION)
            return True
        # /shrug, /tableflip, /unflip: composed here and sent as "/msg #name text ¯\_(ツ)_/¯",
        # which the server refuses for a group just deleted instead of showing everyone.
        emoticon = _ECHOED_EMOTICONS[command.name]
        line = f"{args[0]} {emoticon}" if args else emoticon
        self._send(f"/msg {conv.label} {line}")
        self.chat.add_own(conv.key, line, now)
        return True

    def _send_command(self, text: str, command: Command | None, now: float) -> None:
        """Send a command line the user typed, as typed (the server answers a line too
        long itself); a request whose answer the client looks at goes through
        :attr:`requests` (it is shown all the same), then :meth:`_after_command`."""
        if command is None or command.name not in _TRACKED:
            self._send(text)
            if command is not None:
                self._after_command(command, now)
            return
        name = command.args[0] if command.args else ""
        if command.name == "history":
            name = name.removeprefix(GROUP_MARK) if name.startswith(GROUP_MARK) else ""
        self._request(text, Request(command.name, False, name))

    def _as_text(self, line: str) -> str:
        """A chat line to send: one that begins with ``@label=`` is sent behind a label
        of its own when the server takes labels, so that it stays text."""
        if self.requests.labels and line.startswith(LABEL_PREFIX):
            return labelled_line(UNTRACKED_LABEL, line)
        return line

    def _after_command(self, command: Command, now: float) -> None:
        """Local effects of a command the user typed (the server does not echo public
        lines to their sender, so the client shows them itself)."""
        args = command.args
        if command.name == "me":
            self.chat.add_own(MAIN, args[0], now, EntryKind.ACTION)
        elif command.name in _ECHOED_EMOTICONS:
            emoticon = _ECHOED_EMOTICONS[command.name]
            key, shown = self._addressed(f"{args[0]} {emoticon}" if args else emoticon)
            self.chat.add_own(key, shown, now)


_LOCAL_COMMANDS = {"focus", "me", *_ECHOED_EMOTICONS}
"""Commands :meth:`TypedLines._local_command` looks at first: ``/focus`` is never
sent, and ``/me`` and the emoticons depend on the open conversation."""
