"""Scrollback (``/older``) at the service, over in-memory peers: pages of the main chat,
a group and a private conversation, in text and JSON mode, with id and time cursors, to
the start of what the server keeps; who may read what; bad input."""

from __future__ import annotations

from collections.abc import Callable
import re
from typing import Any

from tests.service_harness import MemoryClient, ServiceHarness, make_chat  # noqa: F401  (pytest fixtures)
from tests.unit.test_service_commands import json_login, no_json_ts

MakeChat = Callable[..., ServiceHarness]


def older(bot: MemoryClient, line: str) -> dict[str, Any]:
    bot.send(f"{line}\n".encode())
    event = bot.event()
    assert event["type"] == "older", event
    return event


def test_pages_of_the_main_chat_go_back_to_the_start(make_chat: MakeChat) -> None:
    h = make_chat()
    u1 = h.login("user1", "123")
    bot = json_login(h, "user2", "345", u1)
    for i in range(7):
        u1.send(f"line {i}\n".encode())
        assert bot.event()["text"] == f"line {i}"
        h.advance(1)
    page = older(bot, "/older now 3")
    assert [m["text"] for m in page["messages"]] == ["line 4", "line 5", "line 6"]
    assert page["more"] is True and page["conversation"] == "" and page["before"] == "now"
    first = page["messages"][0]
    assert first["kind"] == "message" and first["sender"] == "user1" and first["outgoing"] is False
    page = older(bot, f"/older {first['id']} 3")
    assert [m["text"] for m in page["messages"]] == ["line 1", "line 2", "line 3"]
    page = older(bot, f"/older {page['messages'][0]['id']} 3")
    assert [m["text"] for m in page["messages"]] == ["line 0"]
    assert page["more"] is False
    # a time cursor: the messages sent before it (the first page of a client that has no ids)
    page = older(bot, f"/older {first['sent']}")
    assert [m["text"] for m in page["messages"]] == ["line 0", "line 1", "line 2", "line 3"]


def test_history_replay_carries_the_ids_scrollback_starts_from(make_chat: MakeChat) -> None:
    h = make_chat(replay=2)
    u1 = h.login("user1", "123")
    for i in range(4):
        u1.send(f"line {i}\n".encode())
    h.pump()
    bot = h.connect()
    bot.send(b"mode json\nlogin\nuser2,345\n")
    assert bot.event()["type"] == "mode"
    assert bot.event()["type"] == "welcome"
    assert u1.line() == "user2 has entered the chat"
    assert bot.event()["type"] == "history_start"
    replayed = [bot.event(), bot.event()]
    assert [e["text"] for e in replayed] == ["line 2", "line 3"] and replayed[0]["id"] < replayed[1]["id"]
    assert bot.event()["type"] == "history_end"
    page = older(bot, f"/older {replayed[0]['id']}")
    assert [m["text"] for m in page["messages"]] == ["line 0", "line 1"]


def test_private_and_group_scrollback_only_for_who_may_read_it(make_chat: MakeChat) -> None:
    h = make_chat(max_users=8)
    u1 = h.login("user1", "123")
    u2 = h.login("user2", "345")
    bot = json_login(h, "user3", "123", u1, u2)
    u1.send(b"/msg user3 psst\n")
    assert u1.line() == "[private to user3] psst"
    assert bot.event()["text"] == "psst"
    bot.send(b"/msg user1 yes?\n")
    assert bot.event()["outgoing"] is True
    assert u1.line() == "[private] user3: yes?"
    u1.send(b"/msg user2 not for user3\n")
    assert u1.line() == "[private to user2] not for user3"
    assert u2.line() == "[private] user1: not for user3"
    page = older(bot, "/older @USER1 now")
    assert page["conversation"] == "@user1"
    assert [(m["kind"], m["sender"], m["recipient"], m["text"], m["outgoing"]) for m in page["messages"]] == [
        ("private", "user1", "user3", "psst", False),
        ("private", "user3", "user1", "yes?", True),
    ]
    assert older(bot, "/older @user2 now")["messages"] == []
    # groups: members only for a private group
    u1.send(b"/create #fam private\n")
    assert u1.line() == "[#fam] private group created: others join with /join #fam"
    u1.send(b"#fam family only\n")
    h.pump()
    bot.send(b"/older #fam now\n")
    assert no_json_ts(bot.event()) == {"type": "error", "code": "not_member", "text": "you are not a member of #fam"}
    u1.send(b"/older #FAM now\n")
    assert u1.line() == "--- 1 older message(s) in #fam ---"
    assert re.fullmatch(r"\[\d{4}-\d\d-\d\d \d\d:\d\d\] \[#fam\] user1: family only", u1.line())
    assert u1.line() == "--- start of the history ---"


def test_text_mode_pages_name_the_next_command(make_chat: MakeChat) -> None:
    h = make_chat()
    u1 = h.login("user1", "123")
    u2 = h.login("user2", "345")
    for i in range(3):
        u1.send(f"line {i}\n".encode())
        assert u2.line() == f"user1: line {i}"
    h.pump()
    u2.send(b"/older now 2\n")
    assert u2.line() == "--- 2 older message(s) in the main chat ---"
    assert u2.line().endswith("] user1: line 1")
    assert u2.line().endswith("] user1: line 2")
    footer = u2.line()
    match = re.fullmatch(r"--- more: /older (\d+) ---", footer)
    assert match, footer
    u2.send(f"/older {match.group(1)} 2\n".encode())
    assert u2.line() == "--- 1 older message(s) in the main chat ---"
    assert u2.line().endswith("] user1: line 0")
    assert u2.line() == "--- start of the history ---"


def test_bad_input_gets_one_clear_line(make_chat: MakeChat) -> None:
    h = make_chat()
    u1 = h.login("user1", "123")
    u1.send(b"/older\n")
    assert u1.line() == "usage: /older [#group|@NAME] BEFORE [N]"
    u1.send(b"/older now 101\n")
    assert u1.line() == "usage: /older [#group|@NAME] BEFORE [N]"
    u1.send(b"/older yesterday\n")
    assert u1.line() == "bad cursor 'yesterday': give a message id, a time such as 2026-11-21T10:39:59.750Z, or now"
    u1.send(b"/older @ghost now\n")
    assert u1.line() == "no such user: ghost"
    u1.send(b"/older #nowhere now\n")
    assert u1.line() == "no such group: #nowhere"
