"""What the TUI does with each server line (pure, clock injected).

:class:`ServerEvents` decodes a JSON-mode line
(:func:`~pollchat.protocol.render.decode_json_labelled`) and applies the event to the
chat state, after looking at what concerns the client itself: the login (welcome, a
refused login that sends the user back to the form or is retried), goodbye notices,
missed private messages to fetch, and the answers to the client's requests.

An answer is matched to its request by the label the server echoes
(:mod:`pollchat.client.requests`): the answer to an automatic request (the ``/who``
poll, a last-seen ``/whois``, ``/groups`` at login, a group's history) updates the
screen without being shown as such; a typed request's answer is shown. With a server
that does not echo labels, ``who``, ``whois``, ``groups`` and end-of-history answers
are matched in order and errors are shown.
"""

from __future__ import annotations

from pollchat import texts
from pollchat.client.base import WHO_SOON, AppBase
from pollchat.client.requests import PROBE_LABEL, Request
from pollchat.client.state import MAIN, Alert, EntryKind, group_key
from pollchat.client.ui import Credentials, Phase
from pollchat.errors import ProtocolError
from pollchat.protocol.events import (
    Emote,
    Entered,
    Error,
    Greeting,
    GroupEvent,
    GroupList,
    HistoryEnd,
    HistoryStart,
    Left,
    MemberList,
    Message,
    ModeSwitched,
    Notice,
    Older,
    PrivateMessage,
    SearchResults,
    ServerEvent,
    StatusChanged,
    Welcome,
    Whois,
    WhoList,
)
from pollchat.protocol.names import name_key
from pollchat.protocol.render import decode_json_labelled, render_text
from pollchat.texts import ErrorCode, GroupChange, NoticeCode

# Errors that end an attempt to log in. During an automatic reconnection the transient
# ones are retried with backoff; the others send the user back to the login form.
_AUTH_ERRORS = {
    ErrorCode.WRONG_PASSWORD, ErrorCode.ALREADY_ONLINE, ErrorCode.NAME_TAKEN, ErrorCode.BAD_FORMAT,
    ErrorCode.SERVER_FULL, ErrorCode.TOO_MANY_ATTEMPTS, ErrorCode.BANNED, ErrorCode.SERVER_CLOSING,
    ErrorCode.TOO_MANY_CONNECTIONS, ErrorCode.INTERNAL, ErrorCode.LOGIN_TIMEOUT, ErrorCode.TOO_MANY_SESSIONS,
}
_TRANSIENT = {
    ErrorCode.ALREADY_ONLINE, ErrorCode.SERVER_FULL, ErrorCode.SERVER_CLOSING,
    ErrorCode.TOO_MANY_CONNECTIONS, ErrorCode.INTERNAL, ErrorCode.LOGIN_TIMEOUT, ErrorCode.TOO_MANY_SESSIONS,
}
_IN_WORDS = {
    ErrorCode.ALREADY_ONLINE: texts.CLIENT_ALREADY_ONLINE,
    ErrorCode.TOO_MANY_SESSIONS: texts.CLIENT_TOO_MANY_SESSIONS,
}
"""Login refusals told in the client's own words, by the JSON error code: the seed's
line (``Password already used``) does not say what happened."""


def refusal_in_words(code: ErrorCode, text: str, name: str) -> str:
    """What the login form shows for the refusal ``code`` (the server's ``text``) of a
    login as ``name``: ``alice is already logged in elsewhere`` for an account online
    already, the server's text for the others."""
    wording = _IN_WORDS.get(code)
    return wording.format(name=name) if wording is not None and name else text
# Notices after which the server closes the connection and reconnecting makes no sense.
_FINAL_NOTICES = {NoticeCode.KICKED, NoticeCode.BANNED_NOW, NoticeCode.UNREGISTERED, NoticeCode.GOODBYE}
_IN_ORDER = {
    WhoList: "who", Whois: "whois", GroupList: "groups", HistoryEnd: "history", MemberList: "members", Older: "older",
}
"""Without labels: the answers matched to the oldest request of their kind."""


def _ends_answer(event: ServerEvent) -> bool:
    """Whether ``event`` is the last of an answer: all are, but the start of a history
    replay and the replayed lines."""
    if isinstance(event, HistoryStart):
        return False
    return not (isinstance(event, (Message, Emote, PrivateMessage)) and event.history)


class ServerEvents(AppBase):
    """Server lines: see the module doc."""

    def server_line(self, line: str, now: float) -> None:
        """Handle one line from the server (without its newline)."""
        if not line.startswith("{"):
            if line and line != texts.GREETING:
                self.chat.add_line(self.chat.open_key, line, now)
            return
        try:
            event, ts, label = decode_json_labelled(line)
        except ProtocolError:
            self.chat.add_line(self.chat.open_key, line, now)
            return
        try:
            self._event(event, ts, label, now)
        except (TypeError, ValueError, AttributeError) as exc:  # a misbehaving server
            self.chat.add_line(self.chat.open_key, texts.CLIENT_BAD_SERVER_LINE.format(reason=exc), now, EntryKind.ERROR)
        self.report_read()  # a private message shown in the open conversation was read

    def _event(self, event: ServerEvent, ts: float, label: str | None, now: float) -> None:
        if label == PROBE_LABEL:
            self.requests.labels = isinstance(event, ModeSwitched)  # the server echoes labels
            return
        if self.requests.labels:
            request = self.requests.answer(label, _ends_answer(event))
        else:
            empty = isinstance(event, Notice) and event.code is NoticeCode.HISTORY_EMPTY
            kind = "history" if empty else _IN_ORDER.get(type(event))
            request = self.requests.oldest(kind) if kind else None
        if request is not None and self._answer(request, event, ts, now):
            return
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
            case Notice(code, text):
                self._notice(code, text, ts, now)
                return
            case WhoList() | Whois() | GroupList():
                self.chat.apply(event, ts, now)
                self.chat.add_line(self.chat.open_key, render_text(event), ts)
                return
            case SearchResults():
                self.chat.apply(event, ts, now)
                self.ui.search, self.ui.search_selected = True, 0  # the results view
                return
            case HistoryStart() if self._offline_count:
                self._offline_batch = []
                return
            case HistoryStart() | HistoryEnd():
                return  # (the replay after a login was not asked for)
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
        alert = self.chat.apply(event, ts, now)
        if alert is not Alert.NONE and self.config.bell:
            self._out.bell = True

    def _answer(self, request: Request, event: ServerEvent, ts: float, now: float) -> bool:
        """Apply ``event``, (part of) the answer to ``request``; whether it is handled
        (``False``: handle it as any other event, e.g. a replayed line)."""
        shown = not request.automatic
        match event:
            case WhoList():
                self.chat.apply(event, ts, now)
                self._ask_last_seen()
            case Whois(name) if request.kind == "open":
                self.chat.apply(event, ts, now)
                self._open(self.chat.conversation_with(name).key, now)  # the server's spelling
                return True
            case Whois():
                self.chat.apply(event, ts, now)
            case GroupList():
                self.chat.apply(event, ts, now)
                if shown:
                    self.chat.add_line(self.chat.open_key, render_text(event), ts)
                self._fetch_group_history(self.chat.open_key)
                return True
            case HistoryStart():
                if self._offline_count and request.automatic and not request.name:
                    self._offline_batch = []
                return True
            case HistoryEnd():
                if self._offline_batch is not None and request.automatic and not request.name:
                    for key, sender, at in self._offline_batch[-self._offline_count :]:
                        self.chat.mark_unread(key, sender, at)
                    self._offline_batch, self._offline_count = None, 0
                return True
            case Notice(code, text) if request.kind == "ignore" and self.chat.ignore_notice(code, text):
                if shown:
                    self.chat.add_line(self.chat.open_key, text, ts)
                return True
            case Notice(NoticeCode.HISTORY_EMPTY, text):
                if request.automatic:
                    if not request.name:  # the missed private messages were not found
                        self._offline_count = 0
                else:
                    self.chat.add_line(self.chat.open_key, text, ts)
                return True
            case Error(code, text) if request.kind == "open":
                self.chat.add_line(self.chat.open_key, texts.CLIENT_TUI_NO_SUCH_PERSON.format(name=request.name), ts,
                                   EntryKind.ERROR)
                return True
            case Error(ErrorCode.NO_SUCH_USER) if request.kind == "whois" and request.automatic:
                self.chat.forget(request.name)  # renamed or deleted: no longer a contact
                return True
            case Error(ErrorCode.NOT_MEMBER | ErrorCode.NO_SUCH_GROUP) if request.kind == "history" and request.name:
                conv = self.chat.conversations.get(group_key(request.name))
                if conv is not None and conv.group and not conv.gone:
                    conv.gone = texts.CLIENT_TUI_GROUP_NOT_MEMBER
                if shown:
                    self.chat.add_line(self.chat.open_key, event.text, ts, EntryKind.ERROR)
                return True
            case Older():
                self.chat.apply(event, ts, now)
                self.continue_jump(now)
                return True  # the lines are the answer: shown in their conversation
            case Error() if request.kind == "older":
                conv = self.chat.conversations.get(request.name)
                if conv is not None:  # (an old server, a group left): stop asking
                    conv.older_waiting, conv.older_done = False, True
                return True
            case Error() if request.automatic:
                return True  # e.g. /groups on a server without groups: nothing to show
            case _:
                return False
        if shown:
            self.chat.add_line(self.chat.open_key, render_text(event), ts)
        return True

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
        self._request("/groups", Request("groups", True))  # the chats pane lists the user's groups
        self.chat.ignored = set()
        if self.requests.labels:  # whom the user ignores, for the online pane (its answer is known by its label)
            self._request("/ignore", Request("ignore", True))

    def _login_refused(self, code: ErrorCode, text: str, now: float) -> None:
        creds = self.credentials
        text = refusal_in_words(code, text, creds.name if creds is not None else "")
        if self.logged_in_once and code in _TRANSIENT:
            # e.g. the old session is still there: try again later with the same password
            self._out.close = True
            self.socket_open = False
            self.last_error = text
            self.connect_at = now + self.backoff.next_delay()
            return
        self._back_to_form(text)

    def _notice(self, code: NoticeCode, text: str, ts: float, now: float) -> None:
        """A notice that answers no request of the client's."""
        if code in _FINAL_NOTICES:
            self.final_notice = code.name if code is NoticeCode.GOODBYE else text
        if code is NoticeCode.OFFLINE_MESSAGES:
            count = _count_in(text)
            said = texts.CLIENT_TUI_OFFLINE_MESSAGE if count == 1 else texts.CLIENT_TUI_OFFLINE_MESSAGES.format(count=count)
            self.chat.add_line(MAIN, said, ts)
            if count:
                self._offline_count = count
                self._request(f"/history {min(500, max(count, 20))}", Request("history", True))
            return
        if code is NoticeCode.YOUR_GROUPS:
            return  # the chats pane lists them (from the /groups sent at login)
        self.chat.ignore_notice(code, text)  # the online pane marks whom the user ignores
        self.chat.add_line(self.chat.open_key, text, ts)


def _count_in(text: str) -> int:
    """The first whole number in ``text`` (0 if none)."""
    digits = ""
    for ch in text:
        if ch.isdigit() and ch.isascii():
            digits += ch
        elif digits:
            break
    return int(digits) if digits else 0
