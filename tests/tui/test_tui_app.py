"""The TUI's behaviour (pollchat.client.app), driven like the curses front end drives it:
keys, server JSON lines, connection events and an injected clock; no terminal, no socket.

Covers the login form, what is sent for each kind of typed line (and what is echoed
locally), the typing notifier's rate limits, automatic ``/who`` polls whose answers stay
out of the conversation, reconnection with backoff and the in-memory credentials, the
errors that send the user back to the form, missed private messages, pane keys, and the
choice between the full-screen UI and line mode in the CLI.
"""

from __future__ import annotations

import argparse
import io
import os
from datetime import timezone

import pytest

from pollchat import texts
from pollchat.client import cli
from pollchat.client.app import GROUP_HISTORY, WHO_EVERY, App
from pollchat.client.outgoing import TYPING_IDLE_OFF, TypingNotifier, split_for_wire
from pollchat.client.reconnect import Backoff
from pollchat.client.screen import render
from pollchat.client.requests import PROBE_LABEL, PROBE_LINE
from pollchat.protocol.labels import split_label
from pollchat.client.state import MAIN, SERVER_NOTICE_TTL, EntryKind
from pollchat.client.ui import Key, Pane, Phase
from pollchat.protocol.events import (
    Announcement,
    Entered,
    Error,
    Greeting,
    GroupEntry,
    GroupEvent,
    GroupList,
    HistoryEnd,
    HistoryStart,
    MemberEntry,
    MemberList,
    Mention,
    Message,
    ModeSwitched,
    Notice,
    PrivateMessage,
    Renamed,
    ShutdownCancelled,
    ShutdownWarning,
    Typing,
    Welcome,
    WhoEntry,
    Whois,
    WhoList,
)
from pollchat.texts import ErrorCode, GroupChange, NoticeCode
from tests import REPO_ROOT
from tests.tui.tui_scenes import feed, type_text

T = 1_700_000_000.0


def fresh(user: str | None = "alice") -> App:
    return App("127.0.0.1", 3490, user=user, backoff=Backoff(rand=lambda: 1.0))


def login(app: App, password: str = "pw", now: float = T) -> list[str]:
    """Type the password, connect, welcome; returns what was sent on connecting."""
    type_text(app, password, now)
    app.key(Key.ENTER, now)
    assert app.should_connect(now)
    app.connecting()
    app.connected(now)
    sent = app.drain().lines
    feed(app, ModeSwitched("json"), now)
    feed(app, ModeSwitched("json"), now, label=PROBE_LABEL)  # this server echoes labels
    feed(app, Welcome(app.credentials.name, (app.credentials.name, "bob", "carol")), now)
    return sent


def chatting(now: float = T) -> App:
    app = fresh()
    login(app, now=now)
    app.drain()
    return app


def send(app: App, line: str, now: float = T) -> list[str]:
    """Type ``line`` and press Enter; what was sent, typing notices left out."""
    type_text(app, line, now)
    app.key(Key.ENTER, now)
    return [sent for sent in app.drain().lines if not sent.startswith("/typing ")]


WHO_LABEL, GROUPS_LABEL, IGNORE_LABEL = "r1", "r2", "r3"
"""The labels of the /who, /groups and /ignore the client sends at login (the first requests)."""


def unlabelled(lines: list[str]) -> list[str]:
    """``lines`` without their labels."""
    return [rest if isinstance(rest, str) else line for line in lines for _, rest in [split_label(line)]]


def label_of(line: str) -> str:
    """The label of a sent line (it must have one)."""
    label, _ = split_label(line)
    assert label is not None, line
    return label


# --- logging in ---------------------------------------------------------------------------------


def test_the_form_logs_in_with_the_credentials_kept_in_memory() -> None:
    app = fresh(user=None)
    assert app.form.field == 1
    type_text(app, "alice", T)
    app.key(Key.ENTER, T)
    assert app.form.error == texts.CLIENT_TUI_NEED_PASSWORD and app.form.field == 2
    type_text(app, "p,w ✓", T)
    app.key(Key.ENTER, T)
    assert app.form.password.text == "" and app.phase is Phase.CONNECTING
    assert app.should_connect(T) and not app.should_connect(T - 1)
    app.connecting()
    assert not app.should_connect(T)
    app.connected(T)
    assert app.drain().lines == ["mode json", PROBE_LINE, "login", "alice,p,w ✓"]
    feed(app, ModeSwitched("json"), T)
    feed(app, ModeSwitched("json"), T, label=PROBE_LABEL)
    feed(app, Welcome("alice", ("alice",)), T)
    out = app.drain()
    assert app.phase is Phase.CHATTING and out.save_config
    assert out.lines == [f"@label={WHO_LABEL} /who", f"@label={GROUPS_LABEL} /groups", f"@label={IGNORE_LABEL} /ignore"]
    assert app.config.server("127.0.0.1", 3490).user == "alice"


def test_register_then_reconnects_log_in() -> None:
    app = fresh()
    app.key(Key.UP, T)
    app.key(Key.UP, T)  # from the password to the log in / register choice
    app.key(Key.RIGHT, T)
    assert app.form.register
    app.key(Key.DOWN, T)
    app.key(Key.DOWN, T)  # back to the password
    assert login(app)[:3] == ["mode json", PROBE_LINE, "register"]
    app.drain()
    app.connection_failed("gone", T + 1)
    assert app.connect_at == T + 2  # first retry: 1 s (rand 1.0: the top of the range)
    app.connecting()
    app.connected(T + 2)
    assert app.drain().lines == ["mode json", PROBE_LINE, "login", "alice,pw"]


def test_invalid_names_are_refused_in_the_form() -> None:
    app = fresh(user=None)
    type_text(app, "a b,c", T)  # space and comma are not even typed
    assert app.form.name.text == "abc"
    app.form.name.set("no/slash")
    type_text(app, "\t", T)
    app.key(Key.TAB, T)
    type_text(app, "pw", T)
    app.key(Key.ENTER, T)
    assert "invalid name" in app.form.error and app.connect_at is None


@pytest.mark.parametrize("code", [ErrorCode.WRONG_PASSWORD, ErrorCode.NAME_TAKEN, ErrorCode.BANNED, ErrorCode.SERVER_FULL])
def test_a_refused_first_login_goes_back_to_the_form(code: ErrorCode) -> None:
    app = fresh()
    type_text(app, "bad", T)
    app.key(Key.ENTER, T)
    app.connecting()
    app.connected(T)
    app.drain()
    feed(app, Error.of(code, until="for good", reason=""), T)
    out = app.drain()
    assert out.close and app.phase is Phase.LOGIN and app.credentials is None
    assert app.form.error == Error.of(code, until="for good", reason="").text
    assert app.connect_at is None and app.form.field == 2


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (ErrorCode.ALREADY_ONLINE, "alice is already logged in elsewhere"),
        (
            ErrorCode.TOO_MANY_SESSIONS,
            "alice is already logged in on as many devices as the server allows: log out on one of them first",
        ),
    ],
)
def test_an_account_online_elsewhere_is_said_in_words_from_the_code(code: ErrorCode, said: str) -> None:
    app = fresh()
    type_text(app, "pw", T)
    app.key(Key.ENTER, T)
    app.connecting()
    app.connected(T)
    app.drain()
    feed(app, Error.of(code, limit=2), T)  # text mode keeps seed 004's "Password already used"
    app.drain()
    assert app.phase is Phase.LOGIN and app.form.error == said


def test_f4_ignores_the_person_picked_and_the_online_pane_marks_them() -> None:
    app = chatting()
    feed(app, Notice.of(NoticeCode.IGNORE_LIST, names="cy"), T, label=IGNORE_LABEL)  # the login's /ignore
    assert app.chat.is_ignored("CY")
    assert not any("you ignore: cy" in entry.text for entry in app.chat.main.entries)  # asked by itself: not shown
    feed(app, Entered("bob"), T)
    feed(app, Entered("cy"), T)
    app.drain()
    app.ui.focus = Pane.ONLINE
    app.ui.online_selected = [p.name for p in app.chat.people_list()].index("bob")
    app.key(Key.F4, T)
    assert app.drain().lines == ["/ignore bob"]
    feed(app, Notice.of(NoticeCode.IGNORED, name="bob"), T)
    assert app.chat.is_ignored("bob")
    app.key(Key.F4, T)
    assert app.drain().lines == ["/unignore bob"]
    feed(app, Notice.of(NoticeCode.UNIGNORED, name="bob"), T)
    assert not app.chat.is_ignored("bob") and app.chat.is_ignored("cy")


def test_transient_refusals_while_reconnecting_are_retried() -> None:
    app = chatting()
    app.connection_failed("gone", T)
    app.connecting()
    app.connected(T + 1)
    app.drain()
    feed(app, Error.of(ErrorCode.ALREADY_ONLINE), T + 1)  # the old session lingers
    out = app.drain()
    assert out.close and app.phase is Phase.CONNECTING and app.connect_at == T + 3  # 2 s
    assert app.credentials is not None
    app.connecting()
    app.connected(T + 3)
    app.drain()
    feed(app, Error.of(ErrorCode.WRONG_PASSWORD), T + 3)  # the password changed meanwhile
    assert app.phase is Phase.LOGIN and app.credentials is None


# --- reconnecting -------------------------------------------------------------------------------


def test_a_dropped_connection_counts_down_and_logs_in_again() -> None:
    app = chatting()
    app.connection_failed(texts.CLIENT_SERVER_CLOSED, T + 10)
    assert app.phase is Phase.CONNECTING and app.logged_in_once
    assert app.chat.main.entries[-1].kind is EntryKind.ERROR
    assert app.chat.online_count() == 0
    assert app.connection_text(T + 10) == texts.CLIENT_TUI_RECONNECTING.format(
        reason=texts.CLIENT_SERVER_CLOSED, seconds=1
    )
    assert app.next_deadline(T + 10) <= T + 11
    app.connecting()
    app.connection_failed("refused", T + 11)  # the server is still down: 2 s, then 4 s
    assert app.connect_at == T + 13
    app.connecting()
    app.connection_failed("refused", T + 13)
    assert app.connect_at == T + 17
    assert app.connection_text(T + 14.5) == texts.CLIENT_TUI_RECONNECTING.format(reason="refused", seconds=3)
    app.connecting()
    app.connected(T + 17)
    assert app.drain().lines == ["mode json", PROBE_LINE, "login", "alice,pw"]
    feed(app, Welcome("alice", ("alice",)), T + 17)
    assert app.phase is Phase.CHATTING and app.backoff.attempts == 0
    assert app.chat.main.entries[-1].text == texts.CLIENT_TUI_CONNECTED_AGAIN.format(name="alice")


def test_typed_lines_wait_while_disconnected() -> None:
    app = chatting()
    app.connection_failed("gone", T)
    assert send(app, "hello", T) == []
    assert app.ui.input.text == "hello" and app.ui.status == texts.CLIENT_TUI_NOT_CONNECTED


def test_quit_kick_and_unregister_do_not_reconnect() -> None:
    app = chatting()
    send(app, "/quit bye")
    feed(app, Notice.of(NoticeCode.GOODBYE), T)
    app.connection_failed(texts.CLIENT_SERVER_CLOSED, T)
    assert app.drain().quit
    app = chatting()
    feed(app, Notice.of(NoticeCode.KICKED, by="root", reason=": spam"), T)
    app.connection_failed(texts.CLIENT_SERVER_CLOSED, T)
    assert app.phase is Phase.LOGIN and app.form.error == "you were disconnected by root: spam"
    assert app.connect_at is None


# --- sending --------------------------------------------------------------------------------------


def test_main_chat_lines_are_sent_and_shown_as_own() -> None:
    app = chatting()
    assert send(app, "hello all") == ["hello all"]
    last = app.chat.main.entries[-1]
    assert (last.text, last.own, last.kind) == ("hello all", True, EntryKind.MESSAGE)
    assert send(app, "//etc/hosts is wrong") == ["//etc/hosts is wrong"]
    assert app.chat.main.entries[-1].text == "/etc/hosts is wrong"
    assert send(app, "/me waves") == ["/me waves"]
    assert app.chat.main.entries[-1].kind is EntryKind.ACTION
    assert send(app, "/shrug no idea") == ["/shrug no idea"]
    assert app.chat.main.entries[-1].text == "no idea " + texts.SHRUG
    assert send(app, "/tableflip") == ["/tableflip"]
    assert app.chat.main.entries[-1].text == texts.TABLEFLIP
    count = len(app.chat.main.entries)
    assert send(app, "/msg bob psst") == ["/msg bob psst"]  # commands go as typed
    assert send(app, "/away lunch") == ["/away lunch"]
    assert len(app.chat.main.entries) == count  # the server answers these itself


def test_private_lines_become_msg_and_the_server_echo_is_shown() -> None:
    app = chatting()
    app.chat.open(app.chat.conversation_with("bob").key)
    assert send(app, "hi bob") == ["/msg bob hi bob"]
    assert app.chat.conversations["bob"].entries == []  # no local echo: the server's copy comes
    feed(app, PrivateMessage("alice", "bob", "hi bob", outgoing=True), T)
    assert app.chat.conversations["bob"].entries[-1].own
    assert send(app, "//x") == ["/msg bob /x"]
    assert unlabelled(send(app, "/who")) == ["/who"]


def test_long_lines_are_split_on_character_boundaries() -> None:
    lines = split_for_wire("/msg bob ", "ツ" * 3000)
    assert len(lines) == 3 and all(len(line.encode()) <= 4000 for line in lines)
    assert "".join(line.removeprefix("/msg bob ") for line in lines) == "ツ" * 3000
    assert split_for_wire("", "short") == ["short"]
    words = split_for_wire("", "word " * 1000)
    assert all(not line.startswith(" ") for line in words)


def test_input_history_recalls_sent_lines() -> None:
    app = chatting()
    send(app, "one")
    send(app, "two")
    app.key(Key.UP, T)
    assert app.ui.input.text == "two"
    app.key(Key.UP, T)
    assert app.ui.input.text == "one"
    app.key(Key.DOWN, T)
    app.key(Key.DOWN, T)
    assert app.ui.input.text == ""


# --- typing indicators ------------------------------------------------------------------------------


def test_typing_notifier_rate_limits() -> None:
    notifier = TypingNotifier()
    assert notifier.keystroke(MAIN, 0.0) == ["/typing on"]
    assert notifier.keystroke(MAIN, 1.0) == []
    assert notifier.keystroke(MAIN, 2.9) == []
    assert notifier.keystroke(MAIN, 3.0) == ["/typing on"]  # at most one "on" per 3 s
    assert notifier.tick(3.0 + TYPING_IDLE_OFF - 0.1) == []
    assert notifier.deadline() == 3.0 + TYPING_IDLE_OFF
    assert notifier.tick(3.0 + TYPING_IDLE_OFF) == ["/typing off"]  # 5 s idle
    assert notifier.tick(100.0) == []
    assert notifier.keystroke("bob", 100.0) == ["/typing on bob"]
    assert notifier.keystroke("carol", 100.5) == ["/typing off bob", "/typing on carol"]
    assert notifier.keystroke(None, 101.0) == ["/typing off carol"]  # a command: not typing
    assert notifier.stop() == []


def test_the_app_sends_typing_on_and_off_around_a_line() -> None:
    app = chatting()
    app.chat.open(app.chat.conversation_with("bob").key)
    type_text(app, "hel", T)
    assert app.drain().lines == ["/typing on bob"]
    type_text(app, "lo", T + 1)
    assert app.drain().lines == []
    app.key(Key.ENTER, T + 2)
    assert app.drain().lines == ["/typing off bob", "/msg bob hello"]
    type_text(app, "/who", T + 3)
    assert app.drain().lines == []  # commands are not announced
    app.ui.input.clear()
    type_text(app, "x", T + 4)
    app.drain()
    app.tick(T + 4 + TYPING_IDLE_OFF)
    assert app.drain().lines == ["/typing off bob"]


def test_an_old_server_without_typing_is_not_pestered() -> None:
    """A server that does not echo labels may not know /typing either, and its refusal
    could only be told by its text: the client does not send it there."""
    app = fresh()
    type_text(app, "pw", T)
    app.key(Key.ENTER, T)
    app.connecting()
    app.connected(T)
    feed(app, ModeSwitched("json"), T)
    feed(app, Greeting(), T)  # what an older server answers to the label probe
    feed(app, Welcome("alice", ("alice", "bob")), T)
    assert not app.typing_supported
    assert app.drain().lines[-2:] == ["/who", "/groups"]  # no labels either
    type_text(app, "a", T)
    assert app.drain().lines == []


def test_received_typing_shows_and_expires() -> None:
    app = chatting()
    feed(app, Typing("bob", True), T, T)
    assert app.chat.typing_names(MAIN, T + 1) == ["bob"]
    assert app.next_deadline(T + 1) <= T + 8
    app.tick(T + 9)
    assert app.chat.typing_names(MAIN, T + 9) == []


# --- automatic requests ----------------------------------------------------------------------------


def test_automatic_who_answers_stay_out_of_the_conversation() -> None:
    app = chatting()  # welcome sent /who already
    count = len(app.chat.main.entries)
    feed(app, WhoList((WhoEntry("bob", "away", "", 60), WhoEntry("alice", "active", "", 0))), T, label=WHO_LABEL)
    assert len(app.chat.main.entries) == count
    assert app.chat.person("bob").status == "away"
    typed = send(app, "/who")
    assert unlabelled(typed) == ["/who"]
    feed(app, WhoList((WhoEntry("bob", "away", "", 61),)), T, label=label_of(typed[0]))
    assert app.chat.main.entries[-1].text.startswith("online users (1):")
    feed(app, WhoList((WhoEntry("bob", "away", "", 61),)), T)  # not asked by this client: shown
    assert len(app.chat.main.entries) == count + 2
    app.tick(T + WHO_EVERY)
    assert unlabelled(app.drain().lines) == ["/who"]


def test_whois_is_asked_once_for_offline_chat_partners() -> None:
    app = chatting()
    app.chat.conversation_with("dave")
    feed(app, WhoList((WhoEntry("alice", "active", "", 0),)), T, label=WHO_LABEL)
    asked = app.drain().lines
    assert unlabelled(asked) == ["/whois dave"]
    feed(app, Error.of(ErrorCode.NO_SUCH_USER, name="dave"), T, label=label_of(asked[0]))  # answered: not shown
    assert all(entry.kind is not EntryKind.ERROR for entry in app.chat.main.entries)
    feed(app, WhoList((WhoEntry("alice", "active", "", 0),)), T)
    assert app.drain().lines == []


def test_private_messages_missed_while_offline_are_fetched_and_unread() -> None:
    app = chatting()
    feed(app, Notice.of(NoticeCode.OFFLINE_MESSAGES, count=2), T)
    (asked,) = app.drain().lines
    assert unlabelled([asked]) == ["/history 20"]
    label = label_of(asked)
    feed(app, HistoryStart(4), T, label=label)
    feed(app, PrivateMessage("bob", "alice", "old, seen", history=True, at=T - 900), T, label=label)
    feed(app, Message("carol", "public", history=True, at=T - 800), T, label=label)
    feed(app, PrivateMessage("bob", "alice", "missed 1", history=True, at=T - 700), T, label=label)
    feed(app, PrivateMessage("carol", "alice", "missed 2", history=True, at=T - 600), T, label=label)
    feed(app, HistoryEnd(), T, label=label)
    assert (app.chat.conversations["bob"].unread, app.chat.conversations["carol"].unread) == (1, 1)
    assert app.chat.missed() == 2


# --- groups (issue 4) ----------------------------------------------------------------------------


def in_groups(now: float = T) -> App:
    """Logged in; the automatic /who and /groups answered (alice owns familia)."""
    app = chatting(now)
    feed(app, WhoList((WhoEntry("alice", "active", "", 0), WhoEntry("bob", "active", "", 0))), now, label=WHO_LABEL)
    groups = (GroupEntry("familia", "private", 2, "owner", ""), GroupEntry("books", "public", 9, "", ""))
    feed(app, GroupList(groups), now, label=GROUPS_LABEL)
    app.drain()
    return app


def open_group(app: App, name: str, now: float = T) -> list[str]:
    """Open group ``name`` with /focus (the client's shortcut); what was sent."""
    sent = send(app, f"/focus #{name}", now)
    assert app.chat.open_key == f"#{name.casefold()}"
    return sent


def test_login_asks_for_the_groups_and_keeps_the_answer_out_of_sight() -> None:
    app = chatting()
    count = len(app.chat.main.entries)
    feed(app, Notice.of(NoticeCode.YOUR_GROUPS, names="#familia"), T)  # the chats pane says it
    feed(app, GroupList((GroupEntry("familia", "private", 2, "owner", ""),)), T, label=GROUPS_LABEL)
    assert len(app.chat.main.entries) == count and app.chat.group_count() == 1
    typed = send(app, "/groups")
    assert unlabelled(typed) == ["/groups"]
    feed(app, GroupList((GroupEntry("familia", "private", 2, "owner", ""),)), T, label=label_of(typed[0]))
    assert app.chat.main.entries[-1].text.startswith("groups (1):")


def test_an_old_server_without_groups_is_not_an_error() -> None:
    app = chatting()
    feed(app, Error.of(ErrorCode.UNKNOWN_COMMAND, name="groups"), T, label=GROUPS_LABEL)
    assert all(entry.kind is not EntryKind.ERROR for entry in app.chat.main.entries)


def test_opening_a_group_fetches_its_history_once() -> None:
    app = in_groups()
    asked = open_group(app, "familia")
    assert unlabelled(asked) == [f"/history #familia {GROUP_HISTORY}"]
    feed(app, HistoryStart(1), T, label=label_of(asked[0]))
    feed(app, Message("bob", "earlier", history=True, at=T - 600, group="familia"), T, label=label_of(asked[0]))
    feed(app, HistoryEnd(), T, label=label_of(asked[0]))
    assert [e.text for e in app.chat.current.entries] == ["earlier"]
    assert send(app, "/focus") == [] and app.chat.open_key == MAIN
    assert open_group(app, "familia") == []  # once per connection
    app.connection_failed("gone", T)
    app.connecting()
    app.connected(T + 1)
    feed(app, ModeSwitched("json"), T + 1, label=PROBE_LABEL)
    feed(app, Welcome("alice", ("alice", "bob")), T + 1)
    groups_label = label_of(app.drain().lines[-1])
    feed(app, GroupList((GroupEntry("familia", "private", 2, "owner", ""),)), T, label=groups_label)
    assert f"/history #familia {GROUP_HISTORY}" in unlabelled(app.drain().lines)  # again after reconnecting


def test_an_automatic_group_history_that_finds_nothing_says_nothing() -> None:
    app = in_groups()
    asked = open_group(app, "familia")
    feed(app, Notice.of(NoticeCode.HISTORY_EMPTY), T, label=label_of(asked[0]))
    assert app.chat.current.entries == []
    typed = send(app, "/history #familia")
    feed(app, Notice.of(NoticeCode.HISTORY_EMPTY), T, label=label_of(typed[0]))  # asked for by the user: shown
    assert app.chat.current.entries[-1].text == NoticeCode.HISTORY_EMPTY.value


def test_an_automatic_group_history_refused_marks_the_group_gone() -> None:
    app = in_groups()
    asked = open_group(app, "familia")
    feed(app, Error.of(ErrorCode.NO_SUCH_GROUP, group="familia"), T, label=label_of(asked[0]))
    assert app.chat.current.entries == [] and app.chat.current.gone == texts.CLIENT_TUI_GROUP_NOT_MEMBER


def test_a_line_in_a_group_goes_to_the_group_and_is_echoed_there() -> None:
    app = in_groups()
    open_group(app, "familia")
    type_text(app, "hola", T)
    assert app.drain().lines == ["/typing on #familia"]
    app.key(Key.ENTER, T)
    assert app.drain().lines == ["/typing off #familia", "/msg #familia hola"]
    assert send(app, "//slash") == ["/msg #familia /slash"]
    entries = app.chat.current.entries
    assert [(e.text, e.own) for e in entries] == [("hola", True), ("/slash", True)]
    assert all(e.text != "hola" for e in app.chat.main.entries)


def test_group_emoticons_and_me_go_to_the_group() -> None:
    app = in_groups()
    open_group(app, "familia")
    assert send(app, "/shrug ok") == ["/msg #familia ok " + texts.SHRUG]
    assert app.chat.current.entries[-1].text == "ok " + texts.SHRUG
    assert send(app, "/me waves") == ["/me #familia waves"]
    assert (app.chat.current.entries[-1].text, app.chat.current.entries[-1].own) == ("waves", True)
    assert all(e.text != "waves" for e in app.chat.main.entries)


def test_a_gone_group_sends_nothing() -> None:
    app = in_groups()
    open_group(app, "familia")
    feed(app, GroupEvent("familia", GroupChange.DELETED, by="root"), T)
    assert send(app, "still there?") == []
    assert app.ui.status == texts.CLIENT_TUI_NOT_IN_GROUP.format(name="familia", reason=texts.CLIENT_TUI_GROUP_DELETED)
    type_text(app, "x", T)
    assert app.drain().lines == []  # no typing indicator either


def test_a_line_starting_with_hash_in_the_main_chat_stays_in_the_main_chat() -> None:
    # Typed in the main chat, so meant for it: /say keeps the server from taking it as a
    # group line (or refusing it for a group the user is not in).
    app = in_groups()
    assert send(app, "#1 fan") == ["/say #1 fan"]
    assert app.chat.main.entries[-1].text == "#1 fan"
    assert send(app, "#familia hi there") == ["/say #familia hi there"]  # even a group the user is in
    assert app.chat.main.entries[-1].text == "#familia hi there"
    assert app.chat.conversations["#familia"].entries == []
    assert send(app, "  #hashtag") == ["/say   #hashtag"]  # the server skips leading spaces too
    assert send(app, "//#not a command") == ["//#not a command"]  # already a literal line
    assert send(app, "no hash #here") == ["no hash #here"]
    long = "#" + "x" * 5000
    sent = send(app, long)
    assert len(sent) == 2 and all(line.startswith("/say ") for line in sent)
    assert "".join(line.removeprefix("/say ") for line in sent) == long
    # the server splits "#name text" at any whitespace (a pasted line may have a tab);
    # /shrug typed in the main chat is sent as typed and routed that way
    assert app._addressed("  #familia\tafter a tab") == ("#familia", "after a tab")


def test_a_long_main_chat_line_is_sent_with_say_so_no_piece_becomes_a_command() -> None:
    # split at a space, the second piece would start with "/quit" or "#familia": as typed,
    # the server would run it or take it as a group line
    app = in_groups()
    for word in ("/quit", "#familia"):
        long = "a" * 3990 + " " + word + " " + "b" * 100
        sent = send(app, long)
        assert len(sent) == 2 and all(line.startswith("/say ") for line in sent)
        assert sent[1].removeprefix("/say ").startswith(word)
        assert app.chat.conversations["#familia"].entries == []
    escaped = send(app, "//" + "c" * 3995 + " /quit now")  # a literal "/..." line, long
    assert all(line.startswith("/say ") for line in escaped)
    assert escaped[0].removeprefix("/say ").startswith("/c")
    assert send(app, "short line") == ["short line"]  # one piece: as typed


def test_a_line_starting_with_hash_in_a_group_is_unchanged() -> None:
    app = in_groups()
    open_group(app, "familia")
    assert send(app, "#1 fan") == ["/msg #familia #1 fan"]
    assert app.chat.current.entries[-1].text == "#1 fan"


def test_focus_is_never_sent() -> None:
    app = in_groups()
    assert send(app, "/focus #nosuch") == []
    assert app.chat.open_key == MAIN and app.ui.status
    app.key(Key.KILL_LINE, T)  # the refused line stays in the box
    open_group(app, "FAMILIA")
    assert send(app, "/focus") == [] and app.chat.open_key == MAIN


def test_creating_or_joining_opens_the_group() -> None:
    app = in_groups()
    assert send(app, "/create #trip private") == ["/create #trip private"]
    feed(app, GroupEvent("trip", GroupChange.CREATED, text="private"), T)
    assert app.chat.open_key == "#trip" and app.chat.current.role == "owner"
    assert unlabelled(app.drain().lines) == [f"/history #trip {GROUP_HISTORY}"]
    app.ui.new_chat = True
    type_text(app, "#books", T)
    app.key(Key.ENTER, T)
    assert app.drain().lines == ["/join #books"] and not app.ui.new_chat
    feed(app, GroupEvent("books", GroupChange.JOINED, "alice"), T)
    assert app.chat.open_key == "#books"
    feed(app, GroupEvent("books", GroupChange.JOINED, "bob"), T)  # someone else: stays
    app.ui.new_chat = True
    type_text(app, "#familia", T)
    app.key(Key.ENTER, T)
    assert app.chat.open_key == "#familia"
    app.ui.new_chat = True
    type_text(app, "#bad name", T)
    app.key(Key.ENTER, T)
    assert app.ui.new_chat and app.ui.status.startswith("invalid group name")


def test_members_answer_is_shown_in_the_group() -> None:
    app = in_groups()
    send(app, "/members #familia")
    feed(app, MemberList("familia", (MemberEntry("alice", "active", True),)), T)
    assert app.chat.conversations["#familia"].entries[-1].text.startswith("members of #familia (1):")


def test_a_server_mention_rings_the_bell_once() -> None:
    app = in_groups()
    feed(app, Message("bob", "@alice look", group="familia"), T)
    assert not app.drain().bell  # the mention event follows
    feed(app, Mention("bob", "@alice look", "familia"), T)
    assert app.drain().bell
    assert app.chat.conversations["#familia"].mentions == 1 and app.chat.missed() == 1


def test_group_typing_is_not_sent_for_commands() -> None:
    app = in_groups()
    open_group(app, "familia")
    type_text(app, "/members", T)
    assert app.drain().lines == []


# --- keys ---------------------------------------------------------------------------------------------


def test_tab_cycles_panes_and_enter_opens() -> None:
    app = chatting()
    assert app.ui.focus is Pane.CHAT
    app.key(Key.TAB, T)
    assert app.ui.focus is Pane.ONLINE
    type_text(app, "CAR", T)  # the filter
    app.key(Key.ENTER, T)
    assert app.chat.open_key == "carol" and app.ui.focus is Pane.CHAT
    app.key(Key.BTAB, T)
    assert app.ui.focus is Pane.CHATS
    app.key(Key.UP, T)
    app.key(Key.ENTER, T)
    assert app.chat.open_key == MAIN


def test_new_chat_prompt_and_escape() -> None:
    app = chatting()
    app.key(Key.TAB, T)
    app.key(Key.TAB, T)
    for _ in range(5):
        app.key(Key.DOWN, T)  # to "[+] New chat"
    app.key(Key.ENTER, T)
    assert app.ui.new_chat and app.ui.focus is Pane.CHAT
    type_text(app, "alice", T)
    app.key(Key.ENTER, T)
    assert app.ui.status == texts.CLIENT_TUI_NOT_YOURSELF and app.ui.new_chat
    app.key(Key.ESC, T)  # cancels the prompt, does not quit
    assert not app.ui.new_chat and not app.drain().quit
    app.ui.new_chat = True
    type_text(app, "Bob", T)  # someone the client knows: opened at once
    app.key(Key.ENTER, T)
    assert app.chat.open_key == "bob" and app.chat.current.name == "bob"
    app.ui.new_chat = True
    type_text(app, "Dave", T)  # someone it does not: the server is asked first
    app.key(Key.ENTER, T)
    (asked,) = app.drain().lines
    assert unlabelled([asked]) == ["/whois Dave"] and app.chat.open_key == "bob" and not app.ui.new_chat
    feed(app, Whois("dave", "registered", False, "offline", "", T - 60, None), T, label=label_of(asked))
    assert app.chat.open_key == "dave" and app.chat.current.name == "dave"  # the server's spelling
    app.key(Key.ESC, T)
    assert app.drain().quit


def test_pins_are_saved_in_the_settings() -> None:
    app = chatting()
    feed(app, PrivateMessage("bob", "alice", "hi"), T)
    app.drain()
    app.key(Key.TAB, T)
    app.key(Key.TAB, T)
    app.key(Key.DOWN, T)
    app.key("p", T)
    out = app.drain()
    assert out.save_config and app.config.server("127.0.0.1", 3490).pinned == ("bob",)
    app.key(Key.F2, T)
    assert app.config.server("127.0.0.1", 3490).pinned == ()


def test_help_swallows_the_key_that_closes_it() -> None:
    app = chatting()
    app.key(Key.F1, T)
    assert app.ui.help
    app.key(Key.ESC, T)
    assert not app.ui.help and not app.drain().quit


def test_bell_on_private_messages_and_mentions_only_when_configured() -> None:
    app = chatting()
    feed(app, PrivateMessage("bob", "alice", "psst"), T)
    assert app.drain().bell
    feed(app, Message("bob", "no mention"), T)
    assert not app.drain().bell
    app.chat.open("bob")
    feed(app, Message("bob", "@alice here"), T)
    assert app.drain().bell
    app.config = app.config.__class__(bell=False)
    feed(app, Message("bob", "@alice again"), T)
    assert not app.drain().bell


# --- the CLI's choice ---------------------------------------------------------------------------------


def _args(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(["127.0.0.1", *argv])


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_line_mode_unless_both_ends_are_a_terminal() -> None:
    master, slave = os.openpty()
    try:
        env = {"TERM": "xterm"}
        assert cli.wants_tui(_args(), slave, _Tty(), env)
        assert not cli.wants_tui(_args("--plain"), slave, _Tty(), env)
        assert not cli.wants_tui(_args(), slave, io.StringIO(), env)  # stdout piped
        assert not cli.wants_tui(_args(), slave, _Tty(), {"TERM": "dumb"})
        assert not cli.wants_tui(_args(), slave, _Tty(), {})
        r, w = os.pipe()
        try:
            assert not cli.wants_tui(_args(), r, _Tty(), env)  # stdin piped
        finally:
            os.close(r)
            os.close(w)
    finally:
        os.close(master)
        os.close(slave)


def _run_in_pty(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the client with a pseudo-terminal as stdin and stdout; (status, output)."""
    import select
    import subprocess
    import sys

    master, slave = os.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "pollchat.client", *argv], stdin=slave, stdout=slave,
                            stderr=slave, env=env, cwd=REPO_ROOT)
    os.close(slave)
    output = b""
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 10)
            assert ready, f"no output within 10 s: {output!r}"
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
        return proc.wait(10), output.decode("utf-8", "replace")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_a_terminal_curses_cannot_drive_falls_back_to_line_mode() -> None:
    import socket

    with socket.socket() as bound:  # bound, never listening: connecting is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        env = {**os.environ, "TERM": "no-such-terminal-xyz", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        status, output = _run_in_pty(["127.0.0.1", "--port", str(port)], env)
    assert "the terminal UI cannot start here" in output and "using line mode" in output
    assert f"cannot connect to 127.0.0.1:{port}" in output and "Traceback" not in output
    assert status == 1


@pytest.mark.parametrize("scene", ["scene_main", "scene_private", "scene_reconnecting", "scene_login_waiting"])
def test_the_loop_never_spins(scene: str) -> None:
    """After a tick, the next deadline is in the future (or a connection is due): the
    front end's select() never gets a zero timeout over and over."""
    from tests.tui import tui_scenes

    app = getattr(tui_scenes, scene)(tui_scenes.T0)
    app.set_status("something", tui_scenes.T0)
    for step in range(400):
        now = tui_scenes.T0 + step * 0.25
        app.tick(now)
        app.drain()
        deadline = app.next_deadline(now)
        if app.should_connect(now):
            app.connecting()
            app.connection_failed("refused", now)
            continue
        assert deadline is None or deadline > now, (step, deadline)


def test_a_mistyped_history_does_not_confuse_the_next_answers() -> None:
    app = in_groups()
    typed = send(app, "/history lots")
    feed(app, Error.of(ErrorCode.USAGE, usage="/history [#group] [N]"), T, label=label_of(typed[0]))
    assert app.chat.main.entries[-1].kind is EntryKind.ERROR  # shown
    asked = open_group(app, "familia")
    feed(app, Notice.of(NoticeCode.HISTORY_EMPTY), T, label=label_of(asked[0]))  # automatic: not shown
    assert app.chat.current.entries == []


def test_counts_of_one_are_singular() -> None:
    """"1 private message", "1 member": never "1 ... messages" (the server's history
    header says "--- 1 earlier message ---" too: tests/unit/test_render.py)."""
    from pollchat.client.groups import group_detail
    from pollchat.client.state import Conversation

    app = chatting()
    feed(app, Notice.of(NoticeCode.OFFLINE_MESSAGES, count=1), T)
    assert texts.CLIENT_TUI_OFFLINE_MESSAGE in [e.text for e in app.chat.main.entries]
    assert "1 member" in group_detail(Conversation("#g", "g", group=True, members=1))
    assert "2 members" in group_detail(Conversation("#g", "g", group=True, members=2))


# --- what a newcomer hit (issue 24) -------------------------------------------------------------


def test_a_renamed_contact_does_not_linger_under_its_old_name() -> None:
    app = chatting()
    feed(app, Renamed("carol", "caroline"), T)  # live: the contact follows the rename
    assert "carol" not in [p.name for p in app.chat.people_list()]
    assert "caroline" in [p.name for p in app.chat.people_list()]
    # A line from before a rename, replayed: its old name is asked about, and leaves the
    # contacts when the server does not know it.
    feed(app, HistoryStart(1), T)
    feed(app, Message("dave", "old line", history=True, at=T - 600), T)
    feed(app, HistoryEnd(), T)
    assert "dave" in [p.name for p in app.chat.people_list()]
    feed(app, WhoList((WhoEntry("alice", "active", "", 0), WhoEntry("caroline", "active", "", 0))), T, label=WHO_LABEL)
    asked = [line for line in app.drain().lines if "/whois" in line]
    assert unlabelled(asked) == ["/whois dave"]
    feed(app, Error.of(ErrorCode.NO_SUCH_USER, name="dave"), T, label=label_of(asked[0]))
    assert "dave" not in [p.name for p in app.chat.people_list()]
    assert all(entry.kind is not EntryKind.ERROR for entry in app.chat.main.entries)
    assert [e.text for e in app.chat.main.entries if e.sender == "dave"] == ["old line"]  # the line stays


def test_opening_a_chat_with_a_name_nobody_has_adds_no_contact() -> None:
    app = chatting()
    app.ui.new_chat = True
    type_text(app, "nobody", T)
    app.key(Key.ENTER, T)
    (asked,) = app.drain().lines
    assert unlabelled([asked]) == ["/whois nobody"]
    feed(app, Error.of(ErrorCode.NO_SUCH_USER, name="nobody"), T, label=label_of(asked))
    assert "nobody" not in app.chat.conversations and app.chat.person("nobody") is None
    assert app.chat.open_key == MAIN and app.chat.main.entries[-1].kind is EntryKind.ERROR
    assert app.chat.main.entries[-1].text == texts.CLIENT_TUI_NO_SUCH_PERSON.format(name="nobody")


def test_the_online_counts_agree_and_count_the_user() -> None:
    app = fresh()
    type_text(app, "pw", T)
    app.key(Key.ENTER, T)
    app.connecting()
    app.connected(T)
    feed(app, ModeSwitched("json"), T, label=PROBE_LABEL)
    feed(app, Welcome("alice", ("alice",)), T)
    assert app.chat.online_total() == 1  # alone, but online: not "online (0)"
    screen = "\n".join(render(app, 80, 24, T, timezone.utc).lines())
    assert "online (1)" in screen and "main chat · 1 online" in screen
    feed(app, Entered("bob"), T)
    screen = "\n".join(render(app, 80, 24, T, timezone.utc).lines())
    assert "online (2)" in screen and "main chat · 2 online" in screen
    app.connection_failed("gone", T)
    assert app.chat.online_total() == 0


def test_server_notices_leave_the_top_bar_after_a_few_seconds() -> None:
    app = chatting()
    feed(app, ShutdownWarning(60, "upgrade"), T, T)
    feed(app, Announcement("root", "back soon"), T + 1, T + 1)
    feed(app, ShutdownCancelled(), T + 2, T + 2)
    top = render(app, 80, 24, T + 2, timezone.utc).lines()[0]
    assert "the shutdown was cancelled (+1 more)" in top  # the void warning is gone
    assert app.next_deadline(T + 2) <= T + 1 + SERVER_NOTICE_TTL
    top = render(app, 80, 24, T + 2 + SERVER_NOTICE_TTL, timezone.utc).lines()[0]
    assert "🔔" not in top  # expired, even before a tick
    app.tick(T + 2 + SERVER_NOTICE_TTL)
    assert app.chat.notifications == []
    feed(app, PrivateMessage("bob", "alice", "psst"), T + 100, T + 100)  # waits until opened
    assert "bob wrote to you" in render(app, 80, 24, T + 1000, timezone.utc).lines()[0]


def test_left_and_right_choose_log_in_or_register_where_the_cursor_starts() -> None:
    app = fresh()  # the name is known: the cursor starts in the password field
    assert app.form.field == 2
    bottom = render(app, 80, 24, T, timezone.utc).lines()[-1]
    assert "←→ log in/register" in bottom
    app.key(Key.RIGHT, T)
    assert app.form.register
    app.key(Key.LEFT, T)
    assert not app.form.register
    new = fresh(user=None)  # no name yet: the cursor starts in the name field
    assert new.form.field == 1
    bottom = render(new, 80, 24, T, timezone.utc).lines()[-1]
    assert "←→" not in bottom and texts.CLIENT_TUI_LOGIN_HINTS_NAME in bottom
    type_text(new, "al", T)
    new.key(Key.LEFT, T)  # in the name, the arrows move the cursor
    assert new.form.name.cursor == 1 and not new.form.register
    new.key(Key.UP, T)
    new.key(Key.RIGHT, T)
    assert new.form.register


def test_a_main_chat_line_that_looks_like_a_label_stays_text() -> None:
    app = chatting()
    assert send(app, "@label=x hi") == ["@label=u @label=x hi"]  # the server takes one label off
    assert app.chat.main.entries[-1].text == "@label=x hi" and app.chat.main.entries[-1].own
