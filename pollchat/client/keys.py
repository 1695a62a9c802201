"""The TUI's keys (pure, clock injected): the login form, the panes, the input box,
pasted text and the group finder.

:class:`KeyHandling` takes one key at a time, a :class:`~pollchat.client.ui.Key` for a
special key or a one-character string for typed text, as the curses front end decodes
them (docs/client.md, "Keys"), and pasted text in one piece (:meth:`KeyHandling.paste`,
from :mod:`pollchat.client.paste`).
"""

from __future__ import annotations

from pollchat import texts
from pollchat.client.base import INPUT_HISTORY
from pollchat.client.model import clean
from pollchat.client.requests import Request
from pollchat.client.state import GROUP_MARK, MAIN, group_key
from pollchat.client.typed import TypedLines
from pollchat.client.ui import Credentials, Key, Pane, Phase
from pollchat.protocol.names import MAX_NAME_LENGTH, normalize_name

PASTE_ASK = 5
"""A paste of more lines than this is sent only after the user says so (Enter)."""


class KeyHandling(TypedLines):
    """Key presses: see the module doc."""

    def key(self, key: Key | str, now: float) -> None:
        """Handle one key press: a :class:`Key` or one typed character."""
        if self.ui.help:
            self.ui.help = False
            return
        if key is Key.F1:
            self.ui.help = True
            return
        if self.phase is Phase.LOGIN or not self.logged_in_once:
            self._form_key(key, now)
            return
        if self.ui.paste:
            self._paste_key(key, now)
            return
        if self.ui.groups:
            self._finder_key(key, now)
            return
        if self.ui.search:
            self._search_key(key, now)
            return
        if key is Key.F3:
            self._open_finder()
            return
        if key is Key.F4:
            self._toggle_ignore()
            return
        if key is Key.ESC:
            if self.ui.new_chat:
                self.ui.new_chat = False
                self.ui.input.clear()
                return
            self.quit()
            return
        if key is Key.TAB or key is Key.BTAB:
            order = list(Pane)
            step = 1 if key is Key.TAB else -1
            self.ui.focus = order[(order.index(self.ui.focus) + step) % len(order)]
            if self.ui.focus is Pane.CHATS:
                self.ui.chats_selected = self._chat_index(self.chat.open_key)
            return
        if key is Key.PGUP:
            if self.ui.scroll >= self.ui.scroll_max:  # at the top already: fetch older lines
                self.request_older()
            self.ui.scroll = min(self.ui.scroll + max(1, self.ui.page - 1), max(self.ui.scroll_max, 0))
            return
        if key is Key.PGDN:
            self.ui.scroll = max(0, self.ui.scroll - max(1, self.ui.page - 1))
            return
        if key is Key.F2:
            target = self.chat.open_key
            if self.ui.focus is Pane.CHATS:
                chats = self.chat.chat_order()
                if self.ui.chats_selected < len(chats):
                    target = chats[self.ui.chats_selected].key
            self._toggle_pin(target)
            return
        if self.ui.focus is Pane.ONLINE:
            self._online_key(key, now)
        elif self.ui.focus is Pane.CHATS:
            self._chats_key(key, now)
        else:
            self._input_key(key, now)

    # --- pasted text ----------------------------------------------------------------------------

    def paste(self, text: str, now: float) -> None:
        """Text pasted in one go (bracketed paste: :mod:`pollchat.client.paste`).

        In the input box, pasted lines become chat lines of their own, in order, never
        one merged line: one line (no newline) is inserted at the cursor, to be edited
        and sent with Enter as if typed; several are sent at once, the text around the
        cursor joining the first and the last, with blank lines left out, and each
        pasted line is text even if it begins with ``/`` (a pasted ``/quit`` is not a
        command). Above :data:`PASTE_ASK` lines the client asks first (Enter sends,
        Esc cancels), and a long paste goes out at a pace the server's rate limit
        accepts (:meth:`~pollchat.client.base.AppBase._send_paced`). Elsewhere (the
        login form, the search box, the new chat prompt) the first line is typed in.
        Control characters are dropped, tabs become spaces.
        """
        self.ui.help = False
        lines = [clean(line) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
        if self.ui.paste or self.ui.groups:
            return
        if self.phase is Phase.LOGIN or not self.logged_in_once or self.ui.focus is Pane.ONLINE or self.ui.new_chat:
            for ch in lines[0]:
                self.key(ch, now)
            return
        self.ui.focus = Pane.CHAT
        editor = self.ui.input
        if len(lines) == 1:
            editor.insert(lines[0])
            self._typed(now)
            return
        lines[0] = editor.text[: editor.cursor] + lines[0]
        lines[-1] += editor.text[editor.cursor :]
        lines = [line for line in lines if line.strip()]
        if len(lines) <= 1:
            editor.set(lines[0] if lines else "")
            return
        editor.clear()
        if len(lines) > PASTE_ASK:
            self.ui.paste = lines
            return
        self._send_pasted(lines, now)

    def _paste_key(self, key: Key | str, now: float) -> None:
        """A key while the client asks whether to send a long paste."""
        if key is Key.ENTER:
            lines, self.ui.paste = self.ui.paste, []
            self._send_pasted(lines, now)
        elif key is Key.ESC:
            self.ui.paste = []
            self.set_status(texts.CLIENT_TUI_PASTE_CANCELLED, now)

    def _send_pasted(self, lines: list[str], now: float) -> None:
        """Send pasted ``lines`` in order as text lines of the open conversation."""
        if self.phase is not Phase.CHATTING:
            self.ui.input.set(lines[0])
            self.set_status(texts.CLIENT_TUI_NOT_CONNECTED, now)
            return
        if self.typing_supported:
            self._send(*self.typing.stop())
        mark = len(self._out.lines)
        for line in lines:
            if not self._send_line("/" + line if line.startswith("/") else line, now):
                break  # refused here (a group the user left): the status bar says why
        wire = self._out.lines[mark:]  # what the lines became on the wire, in order
        del self._out.lines[mark:]
        self._send_paced(wire, now)
        self.ui.history = (self.ui.history + lines)[-INPUT_HISTORY:]
        self.ui.history_index = len(self.ui.history)
        self.ui.scroll = 0

    # --- the group finder -------------------------------------------------------------------------

    def _open_finder(self) -> None:
        """Show the group finder and ask the server for its groups (``/groups``: the
        user's, the public ones, those asked to join; the answer is not shown as text)."""
        self.ui.groups = True
        self.ui.groups_selected = 0
        if self.phase is Phase.CHATTING:
            self._request("/groups", Request("groups", True))

    def _finder_key(self, key: Key | str, now: float) -> None:
        listed = self.chat.group_directory or ()
        if key in (Key.ESC, Key.F3):
            self.ui.groups = False
        elif key is Key.UP:
            self.ui.groups_selected = max(0, self.ui.groups_selected - 1)
        elif key is Key.DOWN:
            self.ui.groups_selected = min(max(0, len(listed) - 1), self.ui.groups_selected + 1)
        elif key is Key.PGUP:
            self.ui.groups_selected = max(0, self.ui.groups_selected - max(1, self.ui.page - 1))
        elif key is Key.PGDN:
            self.ui.groups_selected = min(max(0, len(listed) - 1), self.ui.groups_selected + max(1, self.ui.page - 1))
        elif key is Key.ENTER and listed:
            entry = listed[min(self.ui.groups_selected, len(listed) - 1)]
            conv = self.chat.conversations.get(group_key(entry.name))
            if entry.role in ("owner", "member") and conv is not None and not conv.gone:
                self._open(conv.key, now)
            elif entry.role == "pending":
                self.set_status(texts.CLIENT_TUI_GROUPS_WAITING.format(name=entry.name), now)
            elif self.phase is not Phase.CHATTING:
                self.set_status(texts.CLIENT_TUI_NOT_CONNECTED, now)
                return
            else:
                self._send(f"/join {GROUP_MARK}{entry.name}")  # the server's answer opens it
            self.ui.groups = False
            self.ui.focus = Pane.CHAT

    def _search_key(self, key: Key | str, now: float) -> None:
        """The search results view: Up/Down pick, Enter opens the conversation at the
        message (:meth:`~pollchat.client.base.AppBase.jump_to`), Esc closes."""
        found = self.chat.search_results.results if self.chat.search_results is not None else ()
        last = max(0, len(found) - 1)
        if key is Key.ESC:
            self.ui.search = False
        elif key is Key.UP:
            self.ui.search_selected = max(0, self.ui.search_selected - 1)
        elif key is Key.DOWN:
            self.ui.search_selected = min(last, self.ui.search_selected + 1)
        elif key is Key.PGUP:
            self.ui.search_selected = max(0, self.ui.search_selected - max(1, self.ui.page - 1))
        elif key is Key.PGDN:
            self.ui.search_selected = min(last, self.ui.search_selected + max(1, self.ui.page - 1))
        elif key is Key.ENTER:
            self.ui.search = False
            if found:
                self.jump_to(found[min(self.ui.search_selected, last)], now)

    def _form_key(self, key: Key | str, now: float) -> None:
        form = self.form
        if key is Key.ESC:
            self.quit()
            return
        if key in (Key.TAB, Key.DOWN):
            form.field = (form.field + 1) % 3
            return
        if key in (Key.BTAB, Key.UP):
            form.field = (form.field - 1) % 3
            return
        if key is Key.ENTER:
            self._submit_form(now)
            return
        if form.field == 0 or form.field == 2 and key in (Key.LEFT, Key.RIGHT):
            # Left and Right choose in the password field too, where the cursor starts
            # when the name is known: a password is never shown, so there is no cursor
            # to move in it.
            if key in (Key.LEFT, Key.RIGHT, " "):
                form.register = not form.register
            return
        editor = form.name if form.field == 1 else form.password
        if isinstance(key, str):
            if key.isprintable() and not (form.field == 1 and key in " ,"):
                editor.insert(key)
        elif key is Key.BACKSPACE:
            editor.backspace()
        elif key is Key.DELETE:
            editor.delete()
        elif key is Key.KILL_LINE:
            editor.clear()
        else:
            editor.move(key)

    def _submit_form(self, now: float) -> None:
        form = self.form
        if not form.name.text:
            form.field, form.error = 1, texts.CLIENT_TUI_NEED_NAME
            return
        name = normalize_name(form.name.text)
        if name is None:
            form.field = 1
            form.error = texts.CLIENT_TUI_BAD_NAME.format(name=form.name.text, limit=MAX_NAME_LENGTH)
            return
        if not form.password.text:
            form.field, form.error = 2, texts.CLIENT_TUI_NEED_PASSWORD
            return
        self.credentials = Credentials(form.register, name, form.password.text)
        form.password.clear()
        form.error = ""
        if self.socket_open:  # a previous attempt is still under way: start afresh
            self._out.close = True
            self.socket_open = False
        self.phase = Phase.CONNECTING
        self.backoff.reset()
        self.last_error = ""
        self.connect_at = now

    def _toggle_ignore(self) -> None:
        """F4: ``/ignore`` the person picked in the online pane (or the one of the open
        private chat), or ``/unignore`` them if they are ignored; the server's notice
        says it and turns the mark in the online pane over."""
        if self.phase is not Phase.CHATTING:
            return
        name = None
        if self.ui.focus is Pane.ONLINE:
            people = self.chat.people_list(self.ui.filter.text)
            if people:
                name = people[min(self.ui.online_selected, len(people) - 1)].name
        else:
            conv = self.chat.current
            if conv.key != MAIN and not conv.group:
                name = conv.name
        if name is None or self.chat.is_me(name):
            return
        self._send(f"/{'unignore' if self.chat.is_ignored(name) else 'ignore'} {name}")

    def _online_key(self, key: Key | str, now: float) -> None:
        people = self.chat.people_list(self.ui.filter.text)
        if key is Key.UP:
            self.ui.online_selected = max(0, self.ui.online_selected - 1)
        elif key is Key.DOWN:
            self.ui.online_selected = min(max(0, len(people) - 1), self.ui.online_selected + 1)
        elif key is Key.ENTER:
            if people:
                person = people[min(self.ui.online_selected, len(people) - 1)]
                self._open(self.chat.conversation_with(person.name).key, now)
                self.ui.focus = Pane.CHAT
        elif isinstance(key, str):
            if key.isprintable():
                self.ui.filter.insert(key)
                self.ui.online_selected = 0
        elif key is Key.BACKSPACE:
            self.ui.filter.backspace()
            self.ui.online_selected = 0
        elif key is Key.KILL_LINE:
            self.ui.filter.clear()
        elif key is Key.DELETE:
            self.ui.filter.delete()
        else:
            self.ui.filter.move(key)

    def _chats_key(self, key: Key | str, now: float) -> None:
        chats = self.chat.chat_order()
        rows = len(chats) + 1  # the last row is "[+] New chat"
        if key is Key.UP:
            self.ui.chats_selected = max(0, self.ui.chats_selected - 1)
        elif key is Key.DOWN:
            self.ui.chats_selected = min(rows - 1, self.ui.chats_selected + 1)
        elif key is Key.ENTER:
            if self.ui.chats_selected >= len(chats):
                self.ui.new_chat = True
                self.ui.input.clear()
            else:
                self._open(chats[self.ui.chats_selected].key, now)
            self.ui.focus = Pane.CHAT
        elif key == "p":
            if self.ui.chats_selected < len(chats):
                self._toggle_pin(chats[self.ui.chats_selected].key)
        elif isinstance(key, str) and key.isprintable():
            self.ui.focus = Pane.CHAT  # typing in the chats pane starts a line
            self._input_key(key, now)

    def _input_key(self, key: Key | str, now: float) -> None:
        editor = self.ui.input
        changed = False
        if isinstance(key, str):
            if key.isprintable():
                editor.insert(key)
                changed = True
        elif key is Key.ENTER:
            self._enter(now)
            return
        elif key is Key.BACKSPACE:
            changed = editor.backspace()
        elif key is Key.DELETE:
            changed = editor.delete()
        elif key is Key.KILL_LINE:
            changed = bool(editor.text)
            editor.clear()
        elif key in (Key.UP, Key.DOWN):
            self._recall(key)
            return
        else:
            editor.move(key)
        if changed and not self.ui.new_chat:
            self._typed(now)

    def _typed(self, now: float) -> None:
        if self.phase is not Phase.CHATTING or not self.typing_supported:
            return
        text = self.ui.input.text
        message = bool(text.strip()) and (not text.startswith("/") or text.startswith("//"))
        target = None
        conv = self.chat.current
        if message and not conv.gone:
            target = MAIN if conv.key == MAIN else conv.label  # "#name" for a group
        self._send(*self.typing.keystroke(target, now))

    def _recall(self, key: Key) -> None:
        history = self.ui.history
        if not history:
            return
        index = self.ui.history_index + (-1 if key is Key.UP else 1)
        index = max(0, min(len(history), index))
        self.ui.history_index = index
        self.ui.input.set(history[index] if index < len(history) else "")

    def _enter(self, now: float) -> None:
        text = self.ui.input.text
        if self.ui.new_chat:
            self._new_chat(text.strip(), now)
            return
        if not text.strip():
            return
        if self.phase is not Phase.CHATTING:
            self.set_status(texts.CLIENT_TUI_NOT_CONNECTED, now)
            return
        if self.typing_supported:
            self._send(*self.typing.stop())
        if not self._send_line(text, now):
            return  # refused here (the status bar says why): the line stays in the box
        self.ui.history = (self.ui.history + [text])[-INPUT_HISTORY:]
        self.ui.history_index = len(self.ui.history)
        self.ui.input.clear()
        self.ui.scroll = 0
