"""The TUI client's state and the behaviour its parts share (pure, clock injected).

:class:`AppBase` holds what the client knows (the chat state, the screen's state, the
login form, the connection's phase, the requests waiting for answers) and does what
every part needs: collect the :class:`~pollchat.client.ui.Output`, let time pass,
follow the connection's life (connect, fail, back off, go back to the form), open
conversations and send the client's own requests. The key handling
(:mod:`pollchat.client.keys`), what typed lines become
(:mod:`pollchat.client.typed`) and the server events (:mod:`pollchat.client.events`)
build on it; :class:`pollchat.client.app.App` puts them together.

Credentials live only in :attr:`AppBase.credentials`, in memory: they are sent on each
(re)connection and never drawn, logged or saved.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace

from pollchat import texts
from pollchat.client.config import ClientConfig
from pollchat.client.outgoing import TypingNotifier
from pollchat.client.reconnect import Backoff
from pollchat.client.requests import PROBE_LINE, PendingRequests, Request
from pollchat.client.state import GROUP_MARK, MAIN, SERVER_NOTICE_TTL, ChatState, EntryKind, NoticeKind
from pollchat.client.ui import Credentials, LoginForm, Output, Pane, Phase, UiState
from pollchat.protocol.events import StoredMessage
from pollchat.protocol.render import format_ts
from pollchat.texts import NoticeCode

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
OLDER_PAGE = 100
"""Messages asked for per scrollback page (``/older``: the server's most)."""
JUMP_PAGES = 20
"""Scrollback pages asked for at most to reach a search result (2000 messages)."""
PASTE_BURST = 20
"""Lines of a paste sent at once; the rest follow at :data:`PASTE_RATE`. The server
drops lines past 10 per second on average with bursts of 30 (``--rate-limit``,
``--rate-burst``) and disconnects a client that goes on: a paste stays well below."""
PASTE_RATE = 5.0
"""Lines per second of a long paste after its first :data:`PASTE_BURST`."""


_EXPIRING = (NoticeKind.SERVER, NoticeKind.SHUTDOWN)


class AppBase:
    """The client's state and shared behaviour: see the module doc.

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
        self.who_at: float | None = None
        self.final_notice: str | None = None  # the server said goodbye for good
        self.auto_whois_left = MAX_AUTO_WHOIS
        self._out = Output()
        self.requests = PendingRequests()
        self._offline_count = 0  # private messages missed while offline, being fetched
        self._offline_batch: list[tuple[str, str, float]] | None = None
        self._history_fetched: set[str] = set()  # group keys whose history was asked for
        self._jump_target: StoredMessage | None = None  # a search result being brought on screen
        self._jump_pages = 0
        self._paced: deque[str] = deque()  # lines of a paste (and all sent after them) not sent yet
        self._tokens, self._tokens_at = float(PASTE_BURST), 0.0
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
        if self._paced:  # a paste is still going out: what follows it waits its turn
            self._paced.extend(lines)
        else:
            self._out.lines.extend(lines)

    def _send_paced(self, lines: list[str], now: float) -> None:
        """Send ``lines`` (a paste's) in order, at most :data:`PASTE_BURST` at once and
        then :data:`PASTE_RATE` per second (:meth:`tick` sends the rest); lines sent
        meanwhile go after them."""
        self._paced.extend(lines)
        self._pace(now)

    def _pace(self, now: float) -> None:
        self._tokens = min(float(PASTE_BURST), self._tokens + max(0.0, now - self._tokens_at) * PASTE_RATE)
        self._tokens_at = now
        while self._paced and self._tokens >= 1.0 - 1e-6:  # (float sums: 5 x 0.2 s is a whole line)
            self._out.lines.append(self._paced.popleft())
            self._tokens -= 1.0

    @property
    def paste_pending(self) -> int:
        """Lines of a paste (and lines sent after it) waiting to go out."""
        return len(self._paced)

    def set_status(self, text: str, now: float) -> None:
        """Show ``text`` in the bottom bar for :data:`STATUS_SECONDS` from ``now``."""
        self.ui.status, self.ui.status_until = text, now + STATUS_SECONDS

    @property
    def typing_supported(self) -> bool:
        """Whether to send ``/typing``: every server that echoes labels knows it; an
        older one may not, and its refusal could only be recognised by its text."""
        return self.requests.labels

    # --- time ----------------------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Let time pass: switch typing off, poll ``/who``, expire indicators."""
        self.chat.expire(now)
        if self.ui.status and now >= self.ui.status_until:
            self.ui.status = ""
        if self.phase is not Phase.CHATTING:
            return
        if self._paced:
            self._pace(now)
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
            if self._paced:
                times.append(self._tokens_at + max(0.0, 1.0 - self._tokens) / PASTE_RATE)
        if self.connect_at is not None and not self.socket_open:
            times.append(self.connect_at)
            if self.connect_at > now:  # redraw when the whole seconds shown change
                times.append(now + ((self.connect_at - now) % 1.0 or 1.0) + 0.001)
        times += [n.ts + SERVER_NOTICE_TTL for n in self.chat.notifications if n.kind in _EXPIRING]
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
        """The connection is open: ask for JSON mode (and whether the server echoes
        labels) and send the credentials."""
        creds = self.credentials
        if creds is None:  # cannot happen: connections are only opened with credentials
            self._out.close = True
            return
        # PROBE_LINE asks whether the server echoes labels (pollchat.client.requests).
        self._send("mode json", PROBE_LINE, "register" if creds.register else "login", f"{creds.name},{creds.password}")

    def connection_failed(self, reason: str, now: float) -> None:
        """The connection could not be opened, or it was lost (``reason`` says why).

        Retries later with backoff, unless the server said a final goodbye (kicked,
        banned, account deleted: back to the login form; ``/quit``: the client quits)."""
        unsent = len(self._paced)
        was_chatting = self._connection_gone()
        if was_chatting:
            self.chat.disconnected(now)
            self.chat.add_line(MAIN, texts.CLIENT_CONNECTION_LOST.format(reason=reason), now, EntryKind.ERROR)
            if unsent:
                self.chat.add_line(self.chat.open_key, texts.CLIENT_TUI_PASTE_UNSENT.format(count=unsent), now,
                                   EntryKind.ERROR)
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
        self.requests.clear()
        self._offline_batch, self._offline_count = None, 0
        self._history_fetched.clear()
        self._paced.clear()
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

    # --- shared by the key, line and event handlers ---

    def quit(self) -> None:
        """Leave: the front end closes the connection and restores the terminal."""
        self._out.quit = True

    def _open(self, key: str, now: float) -> None:
        if key != self.chat.open_key and self.typing_supported and self.phase is Phase.CHATTING:
            self._send(*self.typing.stop())
        self.chat.open(key)
        self.ui.scroll = 0
        self.ui.jump = self.ui.marked = 0
        self.ui.chats_selected = self._chat_index(key)
        self._fetch_group_history(key)
        self.report_read()

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

    def _fetch_group_history(self, key: str) -> None:
        """Ask once per connection for the recent lines of group conversation ``key``
        (the server replays only the main chat at login)."""
        conv = self.chat.conversations.get(key)
        if conv is None or not conv.group or conv.gone or key in self._history_fetched:
            return
        if self.phase is not Phase.CHATTING:
            return
        self._history_fetched.add(key)
        self._request(f"/history {GROUP_MARK}{conv.name} {GROUP_HISTORY}", Request("history", True, conv.name))

    def request_older(self) -> bool:
        """Ask the server for the page of scrollback before the oldest line of the open
        conversation (``/older``), unless one is on its way or the server said there is
        nothing older; whether it was asked."""
        key = self.chat.open_key
        conv = self.chat.conversations.get(key)
        target = self.chat.scrollback_target(key)
        if conv is None or target is None or conv.older_waiting or conv.older_done or self.phase is not Phase.CHATTING:
            return False
        conv.older_waiting = True
        words = [word for word in ("/older", target, self.chat.older_cursor(key), str(OLDER_PAGE)) if word]
        self._request(" ".join(words), Request("older", True, key))
        return True

    def jump_to(self, message: StoredMessage, now: float) -> None:
        """Open the conversation of ``message`` (a search result) and bring the message
        on screen, marked: at once if it is there, else after asking for older pages
        (:meth:`continue_jump`), at most :data:`JUMP_PAGES` of them."""
        conv = self.chat.conversation_of(message.conversation)
        self._open(conv.key, now)
        self.ui.focus = Pane.CHAT
        self.ui.jump = self.ui.marked = message.id
        self._jump_target, self._jump_pages = message, 0
        self.continue_jump(now)

    def continue_jump(self, now: float) -> None:
        """After a page of scrollback: if the message being jumped to is still not
        there, ask for the next page (or say it is too far back)."""
        target = self._jump_target
        conv = self.chat.current
        if target is None or conv.key != self.chat.conversation_of(target.conversation).key:
            return
        index = self.chat.find_message(conv, target)
        if index is not None:
            if not conv.entries[index].id:  # a line shown live: it learns its id
                conv.entries[index] = replace(conv.entries[index], id=target.id)
            self._jump_target = None
            return
        if conv.older_done or conv.older_waiting:
            return
        if self._jump_pages >= JUMP_PAGES:
            self._jump_target = None
            self.set_status(texts.CLIENT_TUI_JUMP_TOO_FAR.format(pages=JUMP_PAGES), now)
            return
        self._jump_pages += 1
        self.request_older()

    def report_read(self) -> None:
        """Tell the server (``/read``) that the user has seen the open private
        conversation's newest message from the other person, once per new message;
        only to a server that echoes labels (every such server knows ``/read``)."""
        if self.phase is not Phase.CHATTING or not self.requests.labels:
            return
        unreported = self.chat.unreported_read()
        if unreported is not None:
            name, ts = unreported
            self._send(f"/read @{name} {format_ts(ts)}")

    def _request(self, line: str, request: Request) -> None:
        """Send ``line``, whose answer :mod:`pollchat.client.events` matches to ``request``."""
        self._send(self.requests.send(line, request))

    def _request_who(self, now: float) -> None:
        self._request("/who", Request("who", True))
        self.who_at = now + WHO_EVERY

    def _ask_last_seen(self) -> None:
        """Ask ``/whois`` (once each, at most :data:`MAX_AUTO_WHOIS` per session) about
        offline people: first those we have a chat with, then those only seen in the
        history. The answer gives their last-seen time; with labels, a ``no such user``
        answer removes a name that no longer exists (renamed or deleted) from the
        contacts."""
        with_chat = [conv.name for conv in list(self.chat.conversations.values())[1:] if not conv.group]
        names = with_chat + [p.name for p in self.chat.people.values()] if self.requests.labels else with_chat
        for name in names:
            if self.auto_whois_left <= 0:
                return
            person = self.chat.person(name)
            if person is None or person.online or person.whois_asked or person.last_seen is not None:
                continue
            person.whois_asked = True
            self.auto_whois_left -= 1
            self._request(f"/whois {person.name}", Request("whois", True, person.name))
