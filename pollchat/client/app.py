"""The terminal UI's behaviour, without a terminal or a socket (pure, clock injected).

:class:`App` is fed three kinds of input and produces lines to send plus a few effects:

* keys (:meth:`App.key`): :class:`~pollchat.client.ui.Key` values for special keys, one-character strings for
  typed text, already decoded by the curses front end;
* server lines (:meth:`App.server_line`) decoded with
  :func:`~pollchat.protocol.render.decode_json` and applied to the :class:`ChatState`;
* the connection's fate (:meth:`App.connected`, :meth:`App.connection_failed`) and the
  passing of time (:meth:`App.tick`).

After each call the front end takes :meth:`App.drain` (an
:class:`~pollchat.client.ui.Output`): the lines to send, whether to ring
the bell, close the connection, save the settings or quit. The screen is drawn from the
App by :func:`pollchat.client.screen.render`.

Credentials live only in :attr:`App.credentials`, in memory: they are sent on each
(re)connection and never drawn, logged or saved.
"""

from __future__ import annotations

from collections import deque

from pollchat import texts
from pollchat.client.config import ClientConfig
from pollchat.client.outgoing import TypingNotifier, split_for_wire
from pollchat.client.reconnect import Backoff
from pollchat.client.state import (
    GROUP_MARK,
    MAIN,
    SERVER_NOTICE_TTL,
    Alert,
    ChatState,
    Conversation,
    EntryKind,
    NoticeKind,
    group_key,
)
from pollchat.client.ui import Credentials, Key, LoginForm, Output, Pane, Phase, UiState
from pollchat.errors import ProtocolError
from pollchat.protocol.commands import COMMANDS, Command, is_command_line, parse_command
from pollchat.protocol.events import (
    Entered,
    Error,
    Greeting,
    GroupEvent,
    GroupList,
    HistoryEnd,
    HistoryStart,
    Left,
    MemberList,
    ModeSwitched,
    Notice,
    PrivateMessage,
    StatusChanged,
    Welcome,
    Whois,
    WhoList,
)
from pollchat.protocol.names import MAX_NAME_LENGTH, name_key, normalize_name
from pollchat.protocol.render import decode_json, render_text
from pollchat.texts import ErrorCode, GroupChange, NoticeCode

WHO_EVERY = 30.0
"""Seconds between ``/who`` polls that refresh the online pane's statuses and idle times."""
WHO_SOON = 2.0
"""Seconds after an entered, left or status event before the next ``/who`` (coalesces bursts)."""
STATUS_SECONDS = 6.0
"""How long a transient status message stays in the bottom bar."""
MAX_AUTO_WHOIS = 20
"""``/whois`` requests the client sends by itself per session (last-seen times)."""
INPUT_HISTORY = 100
"""Sent lines remembered for Up/Down in the input box."""
GROUP_HISTORY = 50
"""Lines of a group's history fetched when its conversation is first opened."""

# Errors that end an attempt to log in. During an automatic reconnection the transient
# ones are retried with backoff; the others send the user back to the login form.
_AUTH_ERRORS = {
    ErrorCode.WRONG_PASSWORD, ErrorCode.ALREADY_ONLINE, ErrorCode.NAME_TAKEN, ErrorCode.BAD_FORMAT,
    ErrorCode.SERVER_FULL, ErrorCode.TOO_MANY_ATTEMPTS, ErrorCode.BANNED, ErrorCode.SERVER_CLOSING,
    ErrorCode.TOO_MANY_CONNECTIONS, ErrorCode.INTERNAL, ErrorCode.LOGIN_TIMEOUT,
}
_TRANSIENT = {
    ErrorCode.ALREADY_ONLINE, ErrorCode.SERVER_FULL, ErrorCode.SERVER_CLOSING,
    ErrorCode.TOO_MANY_CONNECTIONS, ErrorCode.INTERNAL, ErrorCode.LOGIN_TIMEOUT,
}
# Notices after which the server closes the connection and reconnecting makes no sense.
_FINAL_NOTICES = {NoticeCode.KICKED, NoticeCode.BANNED_NOW, NoticeCode.UNREGISTERED, NoticeCode.GOODBYE}
_ECHOED_EMOTICONS = {"shrug": texts.SHRUG, "tableflip": texts.TABLEFLIP, "unflip": texts.UNFLIP}


class App:
    """The TUI client's logic: see the module doc.

    Args:
        host, port: the server, for display and the settings file.
        config: the settings read at start.
        user: ``--user`` (the form opens with it filled in, cursor on the password).
        backoff: the reconnection policy (tests inject one with a fixed random source).
        tls: every connection is TLS (``--tls``; the front end never falls back to plain
            TCP), so the screen shows the lock marker.
    """

    def __init__(
        self,
        host: str,
        port: int,
        config: ClientConfig | None = None,
        user: str | None = None,
        backoff: Backoff | None = None,
        tls: bool = False,
    ) -> None:
        self.host, self.port = host, port
        self.tls = tls
        self.config = config or ClientConfig()
        self.chat = ChatState()
        self.ui = UiState()
        self.form = LoginForm()
        self.phase = Phase.LOGIN
        self.backoff = backoff or Backoff()
        self.credentials: Credentials | None = None
        self.logged_in_once = False
        self.connect_at: float | None = None  # when to open a connection (None: don't)
        self.socket_open = False
        self.last_error = ""  # why the last connection failed (for "reconnecting in")
        self.typing = TypingNotifier()
        self.typing_supported = True
        self.who_at: float | None = None
        self.final_notice: str | None = None  # the server said goodbye for good
        self.auto_whois_left = MAX_AUTO_WHOIS
        self._out = Output()
        self._pending: deque[tuple[str, bool, str]] = deque()  # (command, automatic, name)
        self._offline_count = 0  # private messages missed while offline, being fetched
        self._offline_batch: list[tuple[str, str, float]] | None = None
        self._history_fetched: set[str] = set()  # group keys whose history was asked for
        entry = self.config.server(host, port)
        if entry is not None:
            self.chat.set_pinned(list(entry.pinned))
        name = user or (entry.user if entry else "")
        self.form.name.set(name)
        self.form.field = 2 if name else 1

    # --- output --------------------------------------------------------------------------------

    def drain(self) -> Output:
        """Take what the front end must do since the last call (lines to send in order,
        bell, close the connection, save the settings, quit)."""
        out, self._out = self._out, Output()
        return out

    def _send(self, *lines: str) -> None:
        self._out.lines.extend(lines)

    def set_status(self, text: str, now: float) -> None:
        """Show ``text`` in the bottom bar for :data:`STATUS_SECONDS` from ``now``."""
        self.ui.status, self.ui.status_until = text, now + STATUS_SECONDS

    # --- time ----------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Let time pass: switch typing off, poll ``/who``, expire indicators."""
        self.chat.expire(now)
        if self.ui.status and now >= self.ui.status_until:
            self.ui.status = ""
        if self.phase is not Phase.CHATTING:
            return
        if self.typing_supported:
            self._send(*self.typing.tick(now))
        if self.who_at is not None and now >= self.who_at:
            self._request_who(now)

    def next_deadline(self, now: float) -> float | None:
        """The next time :meth:`tick` (or a redraw of a countdown) has work, or ``None``."""
        times = [t for t in (self.chat.next_typing_expiry(), self.ui.status_until if self.ui.status else None)
                 if t is not None]
        if self.phase is Phase.CHATTING:
            times += [t for t in (self.who_at, self.typing.deadline()) if t is not None]
        if self.connect_at is not None and not self.socket_open:
            times.append(self.connect_at)
            if self.connect_at > now:  # redraw when the whole seconds shown change
                times.append(now + ((self.connect_at - now) % 1.0 or 1.0) + 0.001)
        times += [n.ts + SERVER_NOTICE_TTL for n in self.chat.notifications if n.kind is NoticeKind.SERVER]
        future = [t for t in times if t > now]
        past = [t for t in times if t <= now]
        if past:
            return now
        return min(future, default=None)

    # --- the connection ------------------------------------------------------------------------

    def should_connect(self, now: float) -> bool:
        """Whether the front end should open a connection now."""
        return self.connect_at is not None and not self.socket_open and now >= self.connect_at

    def connecting(self) -> None:
        """The front end started opening a connection."""
        self.socket_open = True
        self.connect_at = None

    def connected(self, now: float) -> None:
        """The connection is open: ask for JSON mode and send the credentials."""
        creds = self.credentials
        if creds is None:  # cannot happen: connections are only opened with credentials
            self._out.close = True
            return
        self._send("mode json", "register" if creds.register else "login", f"{creds.name},{creds.password}")

    def connection_failed(self, reason: str, now: float) -> None:
        """The connection could not be opened, or it was lost (``reason`` says why).

        Retries later with backoff, unless the server said a final goodbye (kicked,
        banned, account deleted: back to the login form; ``/quit``: the client quits)."""
        was_chatting = self._connection_gone()
        if was_chatting:
            self.chat.disconnected(now)
            self.chat.add_line(MAIN, texts.CLIENT_CONNECTION_LOST.format(reason=reason), now, EntryKind.ERROR)
        if self.final_notice is not None:
            final, self.final_notice = self.final_notice, None
            if final == NoticeCode.GOODBYE.name:
                self._out.quit = True
                return
            self._back_to_form(final)
            return
        if self.phase is Phase.LOGIN:
            return
        self.phase = Phase.CONNECTING
        self.last_error = reason
        self.connect_at = now + self.backoff.next_delay()

    def tls_failed(self, reason: str, now: float) -> None:
        """The TLS handshake failed for a reason trying again cannot fix: the server's
        certificate was refused (unknown issuer, self-signed, wrong name, expired) or the
        server does not speak TLS. ``reason`` is the one line to show.

        Unlike :meth:`connection_failed` there is no automatic retry: the login form
        comes back with ``reason`` (as after a refused login), and each Enter makes one
        new attempt. Retrying by itself would only knock again and again on a server
        that is misconfigured or is not the one the user meant. Nothing of the session
        was sent (the handshake comes first), so the password never left the client;
        it is asked again all the same, as the form always does.
        """
        self._connection_gone()
        self.final_notice = None
        self._back_to_form(reason)

    def _connection_gone(self) -> bool:
        """Forget what belonged to the connection; whether the user was chatting."""
        self.socket_open = False
        was_chatting = self.phase is Phase.CHATTING
        self.typing.forget()
        self._pending.clear()
        self._offline_batch, self._offline_count = None, 0
        self._history_fetched.clear()
        return was_chatting

    def connection_text(self, now: float) -> str:
        """The connection's state for the status bar ("" once logged in)."""
        if self.phase is Phase.CHATTING or self.phase is Phase.LOGIN and self.connect_at is None:
            return ""
        if self.connect_at is not None and not self.socket_open:
            seconds = max(0, int(self.connect_at - now + 0.999))
            if seconds == 0:
                return texts.CLIENT_TUI_RECONNECT_NOW
            return texts.CLIENT_TUI_RECONNECTING.format(reason=self.last_error, seconds=seconds)
        if self.credentials is not None:
            return texts.CLIENT_TUI_LOGGING_IN.format(name=self.credentials.name)
        return texts.CLIENT_TUI_CONNECTING.format(host=self.host, port=self.port)

    def _back_to_form(self, error: str) -> None:
        self.phase = Phase.LOGIN
        self.connect_at = None
        self.credentials = None  # forget the password: the user types it again
        self.form.error = error
        self.form.password.clear()
        self.form.field = 2 if self.form.name.text else 1
        if self.socket_open:
            self._out.close = True
            self.socket_open = False

    # --- server lines --------------------------------------------------------------------------

    def server_line(self, line: str, now: float) -> None:
        """Handle one line from the server (without its newline)."""
        if not line.startswith("{"):
            if line and line != texts.GREETING:
                self.chat.add_line(self.chat.open_key, line, now)
            return
        try:
            event, ts = decode_json(line)
        except ProtocolError:
            self.chat.add_line(self.chat.open_key, line, now)
            return
        try:
            self._event(event, ts, now)
        except (TypeError, ValueError, AttributeError) as exc:  # a misbehaving server
            self.chat.add_line(self.chat.open_key, texts.CLIENT_BAD_SERVER_LINE.format(reason=exc), now, EntryKind.ERROR)

    def _event(self, event: object, ts: float, now: float) -> None:
        match event:
            case Greeting() | ModeSwitched():
                return
            case Welcome(name):
                self._welcome(name, event, ts, now)
                return
            case Error(code, text) if self.phase is Phase.CONNECTING:
                if code in _AUTH_ERRORS:
                    self._login_refused(code, text, now)
                    return
            case Error(ErrorCode.UNKNOWN_COMMAND, text) if "/typing" in text and self._swallow_typing_error(text):
                return
            case Error(ErrorCode.NO_SUCH_USER, text) if self._pending_answer("whois", text):
                return
            case Error(ErrorCode.UNKNOWN_COMMAND, text) if text == ErrorCode.UNKNOWN_COMMAND.value.format(
                name="groups"
            ) and self._take_pending("groups"):
                return  # a server without groups: the chats pane simply has none
            case Error(ErrorCode.NOT_MEMBER | ErrorCode.NO_SUCH_GROUP, text) if self._group_history_refused(text):
                return
            case Error(ErrorCode.USAGE, text) if text == _HISTORY_USAGE:
                self._take_pending("history")  # a /history the user mistyped: shown below
            case Notice(code, text):
                self._notice(code, text, ts, now)
                return
            case WhoList():
                self.chat.apply(event, ts, now)
                if not self._take_pending("who"):
                    self.chat.add_line(self.chat.open_key, render_text(event), ts)
                self._ask_last_seen()
                return
            case Whois():
                self.chat.apply(event, ts, now)
                if not self._take_pending("whois"):
                    self.chat.add_line(self.chat.open_key, render_text(event), ts)
                return
            case HistoryStart() if self._offline_count:
                self._offline_batch = []
                return
            case HistoryEnd() if self._offline_batch is not None:
                for key, sender, at in self._offline_batch[-self._offline_count :]:
                    self.chat.mark_unread(key, sender, at)
                self._offline_batch, self._offline_count = None, 0
                self._take_pending("history")
                return
            case HistoryStart():
                return
            case HistoryEnd():
                self._take_pending("history")  # (the replay after a login was not asked for)
                return
            case GroupList():
                self.chat.apply(event, ts, now)
                if not self._take_pending("groups"):
                    self.chat.add_line(self.chat.open_key, render_text(event), ts)
                self._fetch_group_history(self.chat.open_key)
                return
            case MemberList(group):
                key = group_key(group)
                self.chat.add_line(key if key in self.chat.conversations else self.chat.open_key, render_text(event), ts)
                return
            case GroupEvent(group, change, name):
                self.chat.apply(event, ts, now)
                if change is GroupChange.CREATED or change is GroupChange.JOINED and self.chat.is_me(name):
                    self._open(group_key(group), now)  # the user just asked for it: show it
                return
            case PrivateMessage(sender, _recipient, _text, outgoing, True) if self._offline_batch is not None:
                if not outgoing:
                    self._offline_batch.append((name_key(sender), sender, ts))
            case Entered() | Left() | StatusChanged():
                if self.who_at is not None:
                    self.who_at = min(self.who_at, now + WHO_SOON)
        if isinstance(event, Error):
            self.chat.add_line(self.chat.open_key, event.text, ts, EntryKind.ERROR)
            return
        alert = self.chat.apply(event, ts, now)  # type: ignore[arg-type]
        if alert is not Alert.NONE and self.config.bell:
            self._out.bell = True

    def _welcome(self, name: str, event: Welcome, ts: float, now: float) -> None:
        again = self.logged_in_once
        self.phase = Phase.CHATTING
        self.logged_in_once = True
        self.backoff.reset()
        self.last_error = ""
        self.connect_at = None
        creds = self.credentials
        if creds is not None and creds.register:  # registered: from now on, log in
            self.credentials = Credentials(False, name, creds.password)
        self.chat.apply(event, ts, now)
        if again:
            self.chat.add_line(MAIN, texts.CLIENT_TUI_CONNECTED_AGAIN.format(name=name), now)
        self.config = self.config.remember(self.host, self.port, user=name, pinned=tuple(self.chat.pinned))
        self._out.save_config = True
        self.form.password.clear()
        self._history_fetched.clear()
        self._request_who(now)
        self._send("/groups")  # the chats pane lists the user's groups
        self._pending.append(("groups", True, ""))

    def _login_refused(self, code: ErrorCode, text: str, now: float) -> None:
        if self.logged_in_once and code in _TRANSIENT:
            # e.g. the old session is still there: try again later with the same password
            self._out.close = True
            self.socket_open = False
            self.last_error = text
            self.connect_at = now + self.backoff.next_delay()
            return
        self._back_to_form(text)

    def _notice(self, code: NoticeCode, text: str, ts: float, now: float) -> None:
        if code in _FINAL_NOTICES:
            self.final_notice = code.name if code is NoticeCode.GOODBYE else text
        if code is NoticeCode.OFFLINE_MESSAGES:
            count = _count_in(text)
            self.chat.add_line(MAIN, texts.CLIENT_TUI_OFFLINE_MESSAGES.format(count=count), ts)
            if count:
                self._offline_count = count
                self._send(f"/history {min(500, max(count, 20))}")
                self._pending.append(("history", True, ""))
            return
        if code is NoticeCode.HISTORY_EMPTY:
            auto = self._take_pending("history")
            if self._offline_count:
                self._offline_count = 0
                return
            if auto:
                return
        if code is NoticeCode.YOUR_GROUPS:
            return  # the chats pane lists them (from the /groups sent at login)
        self.chat.add_line(self.chat.open_key, text, ts)

    def _swallow_typing_error(self, text: str) -> bool:
        if text == ErrorCode.UNKNOWN_COMMAND.value.format(name="typing"):
            self.typing_supported = False  # an older server: stop sending it
            return True
        return False

    def _pending_answer(self, command: str, error_text: str) -> bool:
        """A ``no such user`` error answering the oldest queued ``/whois``: dequeue it;
        swallow it if the client asked by itself."""
        for index, (pending, auto, name) in enumerate(self._pending):
            if pending == command:
                if error_text == ErrorCode.NO_SUCH_USER.value.format(name=name[:40]):
                    del self._pending[index]
                    return auto
                return False
        return False

    def _group_history_refused(self, error_text: str) -> bool:
        """A "not a member" or "no such group" error answering the oldest queued
        ``/history #group``: dequeue it, mark the conversation gone, and swallow the
        error if the client asked by itself."""
        for index, (pending, auto, name) in enumerate(self._pending):
            if pending == "history" and name:
                wanted = {code.value.format(group=name).casefold() for code in (ErrorCode.NOT_MEMBER, ErrorCode.NO_SUCH_GROUP)}
                if error_text.casefold() not in wanted:
                    return False
                del self._pending[index]
                conv = self.chat.conversations.get(group_key(name))
                if conv is not None and conv.group and not conv.gone:
                    conv.gone = texts.CLIENT_TUI_GROUP_NOT_MEMBER
                return auto
        return False

    def _fetch_group_history(self, key: str) -> None:
        """Ask once per connection for the recent lines of group conversation ``key``
        (the server replays only the main chat at login)."""
        conv = self.chat.conversations.get(key)
        if conv is None or not conv.group or conv.gone or key in self._history_fetched:
            return
        if self.phase is not Phase.CHATTING:
            return
        self._history_fetched.add(key)
        self._send(f"/history {GROUP_MARK}{conv.name} {GROUP_HISTORY}")
        self._pending.append(("history", True, conv.name))

    def _take_pending(self, command: str) -> bool:
        """Dequeue the oldest request for ``command``; whether the client sent it itself."""
        for index, (name, auto, _) in enumerate(self._pending):
            if name == command:
                del self._pending[index]
                return auto
        return False

    def _request_who(self, now: float) -> None:
        self._send("/who")
        self._pending.append(("who", True, ""))
        self.who_at = now + WHO_EVERY

    def _ask_last_seen(self) -> None:
        """Ask ``/whois`` (once each) about offline people we have a chat with."""
        for conv in list(self.chat.conversations.values())[1:]:
            if self.auto_whois_left <= 0:
                return
            if conv.group:
                continue
            person = self.chat.person(conv.name)
            if person is None or person.online or person.whois_asked or person.last_seen is not None:
                continue
            person.whois_asked = True
            self.auto_whois_left -= 1
            self._send(f"/whois {person.name}")
            self._pending.append(("whois", True, person.name))

    # --- keys ----------------------------------------------------------------------------------

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

    def quit(self) -> None:
        """Leave: the front end closes the connection and restores the terminal."""
        self._out.quit = True

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
        if form.field == 0:
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

    def _open(self, key: str, now: float) -> None:
        if key != self.chat.open_key and self.typing_supported and self.phase is Phase.CHATTING:
            self._send(*self.typing.stop())
        self.chat.open(key)
        self.ui.scroll = 0
        self.ui.chats_selected = self._chat_index(key)
        self._fetch_group_history(key)

    def _chat_index(self, key: str) -> int:
        for index, conv in enumerate(self.chat.chat_order()):
            if conv.key == key:
                return index
        return 0

    def _toggle_pin(self, key: str) -> None:
        if key == MAIN or key not in self.chat.conversations:
            return
        self.chat.toggle_pin(key)
        self.config = self.config.remember(self.host, self.port, pinned=tuple(self.chat.pinned))
        self._out.save_config = True
        self.ui.chats_selected = self._chat_index(key) if self.ui.focus is Pane.CHATS else self.ui.chats_selected

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
        self._open(self.chat.conversation_with(person.name if person else name).key, now)
        self.ui.new_chat = False
        self.ui.input.clear()

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
            self._send(text)  # as typed; the server answers a line too long itself
            if isinstance(parsed, Command):
                self._after_command(parsed, now)
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
        elif conv.key == MAIN:
            for line in split_for_wire("/" if escaped else "", text):
                self._send(line)
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
            self._send(text)
            self._after_command(command, now)
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
        elif command.name == "who":
            self._pending.append(("who", False, ""))
        elif command.name == "whois":
            self._pending.append(("whois", False, args[0]))
        elif command.name == "groups":
            self._pending.append(("groups", False, ""))
        elif command.name == "history":
            group = args[0].removeprefix(GROUP_MARK) if args and args[0].startswith(GROUP_MARK) else ""
            self._pending.append(("history", False, group))


_HISTORY_USAGE = ErrorCode.USAGE.value.format(usage=COMMANDS["history"].usage)
"""The error a malformed ``/history`` gets (its queued request is then dropped)."""
_LOCAL_COMMANDS = {"focus", "me", *_ECHOED_EMOTICONS}
"""Commands :meth:`App._local_command` looks at first: ``/focus`` is never sent, and
``/me`` and the emoticons depend on the open conversation."""


def _count_in(text: str) -> int:
    """The first whole number in ``text`` (0 if none)."""
    digits = ""
    for ch in text:
        if ch.isdigit() and ch.isascii():
            digits += ch
        elif digits:
            break
    return int(digits) if digits else 0
