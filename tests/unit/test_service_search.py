"""Search (``/search``) at the service, over in-memory peers: only what the user may read
(the main chat, their private conversations, their groups), newest first, bounded,
narrowed to one group or one private conversation; text and JSON forms; bad input."""

from __future__ import annotations

import re
from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from pollchat.core.history import SEARCH_MAX_WORDS, SEARCH_MIN_LENGTH, search_terms
from pollchat.server.commands import SEARCH_LIMIT
from tests.service_harness import MemoryClient, ServiceHarness, make_chat  # noqa: F401  (pytest fixtures)
from tests.unit.test_service_commands import json_login, no_json_ts

MakeChat = Callable[..., ServiceHarness]
TIME = r"\[\d{4}-\d\d-\d\d \d\d:\d\d\] "


def test_search_terms() -> None:
    assert search_terms("Lunch, on FRIDAY?! lunch") == ["lunch", "on", "friday"]
    assert search_terms('a "b" * c_d') == []  # one letter each: too short
    assert search_terms("crème-brûlée") == ["crème", "brûlée"]
    assert search_terms("x" * 3 + " ' OR 1=1 --") == ["xxx", "or"]


@given(st.text(max_size=200))
def test_search_terms_are_words_only(text: str) -> None:
    terms = search_terms(text)
    assert len(terms) <= SEARCH_MAX_WORDS and len(set(terms)) == len(terms)
    for term in terms:
        assert len(term) >= SEARCH_MIN_LENGTH and all(ch.isalnum() for ch in term) and term == term.lower()


def setup(h: ServiceHarness) -> tuple[MemoryClient, MemoryClient, MemoryClient]:
    u1 = h.login("user1", "123")
    u2 = h.login("user2", "345")
    u3 = h.login("user3", "123")
    u1.send(b"/create #fam private\n")
    assert u1.line() == "[#fam] private group created: others join with /join #fam"
    u1.send(b"#fam lunch at grandma's on friday\n")
    u1.send(b"/msg user2 lunch friday? just us\n")
    assert u1.line() == "[private to user2] lunch friday? just us"
    assert u2.line() == "[private] user1: lunch friday? just us"
    h.advance(60)
    u3.send(b"Friday lunch anyone?\n")
    assert u1.line() == "user3: Friday lunch anyone?"
    assert u2.line() == "user3: Friday lunch anyone?"
    u3.send(b"/msg user1 secret lunch plan for friday\n")
    assert u3.line() == "[private to user1] secret lunch plan for friday"
    assert u1.line() == "[private] user3: secret lunch plan for friday"
    h.pump()
    return u1, u2, u3


def test_search_covers_what_you_may_read_newest_first(make_chat: MakeChat) -> None:
    h = make_chat(max_users=8)
    u1, u2, u3 = setup(h)
    u2.send(b"/search friday LUNCH\n")
    assert u2.line() == "--- 2 result(s) for 'friday lunch' in everything you can read, newest first (at most 20) ---"
    assert re.fullmatch(TIME + r"user3: Friday lunch anyone\?", u2.line())
    assert re.fullmatch(TIME + r"\[private\] user1: lunch friday\? just us", u2.line())
    assert u2.line() == "--- end of results ---"  # not #fam (not a member), not user3's to user1
    u1.send(b"/search lunch friday\n")
    lines = u1.lines(6)
    assert lines[0].startswith("--- 4 result(s) for 'lunch friday'")
    assert [re.sub(TIME, "", line) for line in lines[1:5]] == [
        "[private] user3: secret lunch plan for friday",
        "user3: Friday lunch anyone?",
        "[private to user2] lunch friday? just us",
        "[#fam] user1: lunch at grandma's on friday",
    ]


def test_search_in_one_group_or_one_private_conversation(make_chat: MakeChat) -> None:
    h = make_chat(max_users=8)
    u1, u2, _ = setup(h)
    u1.send(b"/search lunch\t#FAM\n")  # (any blank before the conversation)
    assert u1.line() == "--- 1 result(s) for 'lunch' in #fam, newest first (at most 20) ---"
    assert re.fullmatch(TIME + r"\[#fam\] user1: lunch at grandma's on friday", u1.line())
    assert u1.line() == "--- end of results ---"
    u1.send(b"/search lunch @user3\n")
    assert u1.line() == "--- 1 result(s) for 'lunch' with user3, newest first (at most 20) ---"
    assert u1.line().endswith("[private] user3: secret lunch plan for friday")
    assert u1.line() == "--- end of results ---"
    u2.send(b"/search lunch #fam\n")
    assert u2.line() == "you are not a member of #fam"
    u2.send(b"/search zebra\n")
    assert u2.line() == "no messages match 'zebra' in everything you can read"


def test_json_results_carry_conversation_id_and_time(make_chat: MakeChat) -> None:
    h = make_chat(max_users=8)
    bot = json_login(h, "user1", "123")
    u3 = h.connect()
    u3.send(b"login\nuser3,123\n")
    u3.expect("Access Provided", "active users are: user1 user3")
    assert bot.event()["type"] == "entered"
    u3.send(b"/msg user1 secret lunch plan for friday\n")
    assert u3.line() == "[private to user1] secret lunch plan for friday"
    assert bot.event()["type"] == "private"
    bot.send(b"/search secret plan\n")
    event = no_json_ts(bot.event())
    assert event["type"] == "search" and event["query"] == "secret plan" and event["conversation"] == "*"
    assert event["limit"] == SEARCH_LIMIT
    (result,) = event["results"]
    assert {k: v for k, v in result.items() if k not in ("id", "sent")} == {
        "conversation": "@user3", "kind": "private", "sender": "user3", "recipient": "user1",
        "text": "secret lunch plan for friday", "outgoing": False,
    }
    assert isinstance(result["id"], int) and result["sent"].endswith("Z")


def test_results_are_bounded_and_bad_input_gets_one_line(make_chat: MakeChat) -> None:
    h = make_chat()
    u1 = h.login("user1", "123")
    u1.send(b"".join(f"ping {i}\n".encode() for i in range(SEARCH_LIMIT + 5)))
    h.pump()
    u1.send(b"/search ping\n")
    lines = u1.lines(SEARCH_LIMIT + 2)
    assert lines[0] == f"--- {SEARCH_LIMIT} result(s) for 'ping' in everything you can read, newest first (at most 20) ---"
    assert lines[1].endswith(f"user1: ping {SEARCH_LIMIT + 4}") and lines[-1] == "--- end of results ---"
    u1.send(b"/search a ! ?\n")
    assert u1.line() == "search for at least one word of 2 or more letters or digits"
    u1.send(b"/search\n")
    assert u1.line() == "usage: /search WORDS [#group|@NAME]"
    u1.send(b"/search hi @ghost\n")
    assert u1.line() == "no such user: ghost"


def test_an_ignored_accounts_messages_are_left_out_of_search_and_scrollback(make_chat: MakeChat) -> None:
    """/ignore hides an account's lines everywhere its ignorer reads: live, in replay, and
    in what /search and /older bring back."""
    h = make_chat(max_users=8)
    u1, u2, u3 = setup(h)
    u2.send(b"/ignore user3\n")
    assert u2.line().startswith("you ignore user3 now")
    u2.send(b"/search friday lunch\n")
    assert u2.line() == "--- 1 result(s) for 'friday lunch' in everything you can read, newest first (at most 20) ---"
    assert re.fullmatch(TIME + r"\[private\] user1: lunch friday\? just us", u2.line())
    assert u2.line() == "--- end of results ---"
    u2.send(b"/older now\n")
    assert u2.lines(2) == ["--- 0 older message(s) in the main chat ---", "--- start of the history ---"]
    u1.send(b"/search friday lunch\n")
    assert u1.line().startswith("--- 4 result(s)")  # user1 ignores nobody
    u1.lines(5)
    u1.send(b"/older now\n")
    assert u1.line() == "--- 1 older message(s) in the main chat ---"  # user3's line, for user1
