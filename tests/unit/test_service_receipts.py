"""Read receipts at the service, over in-memory peers: ``/read`` tells the sender (JSON
mode only) that its messages were read; a sender who was away learns at login;
``/receipts off`` stops them both ways and is kept with the account; text mode never
changes; bad input gets one line. The rules alone: core.receipts, with hypothesis."""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import given
from hypothesis import strategies as st

from pollchat.core.receipts import READ_SLACK, ReceiptList, Receipts
from pollchat.protocol.render import format_ts
from tests.service_harness import MemoryClient, ServiceHarness, make_chat  # noqa: F401  (pytest fixtures)
from tests.unit.test_service_commands import json_login, no_json_ts

MakeChat = Callable[..., ServiceHarness]

ON = ("read receipts are on: people you write to see when you have read their messages, and you see when they "
      "read yours (/receipts off stops both)")
OFF = ("read receipts are off: nobody sees when you have read their messages, and you do not see when they read "
       "yours (/receipts on)")


@given(st.lists(st.tuples(st.integers(1, 3), st.integers(1, 3), st.floats(0, 100), st.booleans()), max_size=30))
def test_a_mark_never_moves_back_and_off_means_nothing_told(steps: list[tuple[int, int, float, bool]]) -> None:
    receipts = Receipts(ReceiptList())
    best: dict[tuple[int, int], float] = {}
    for reader, partner, until, toggle in steps:
        if toggle:
            receipts.set_enabled(reader, not receipts.enabled(reader))
        told = receipts.read(reader, partner, until, now=1000.0)
        if reader == partner or not (receipts.enabled(reader) and receipts.enabled(partner)):
            assert told is None
            continue
        best[(reader, partner)] = max(best.get((reader, partner), 0.0), until + READ_SLACK)
        assert told == best[(reader, partner)]


def chat_with_bob(make_chat: MakeChat) -> tuple[ServiceHarness, MemoryClient, MemoryClient]:
    """user1 (JSON mode) writes to user2 (JSON mode); both logged in."""
    h = make_chat()
    alice = json_login(h, "user1", "123")
    bob = json_login(h, "user2", "345")
    assert alice.event()["type"] == "entered"
    alice.send(b"/msg user2 lunch?\n")
    assert alice.event()["outgoing"] is True
    assert bob.event()["text"] == "lunch?"
    return h, alice, bob


def test_the_sender_is_told_when_the_message_was_read(make_chat: MakeChat) -> None:
    h, alice, bob = chat_with_bob(make_chat)
    h.advance(5)
    seen = "2023-11-14T22:13:20.000Z"
    bob.send(f"/read @USER1 {seen}\n".encode())
    receipt = no_json_ts(alice.event())
    assert receipt == {"type": "receipt", "name": "user2", "until": "2023-11-14T22:13:20.001Z"}
    bob.expect_silence()  # nothing answered to the reader
    bob.send(b"/read @user1 now\n")
    assert no_json_ts(alice.event()) == {"type": "receipt", "name": "user2", "until": format_ts(h.clock())}


def test_a_sender_who_was_away_learns_at_login(make_chat: MakeChat) -> None:
    h, alice, bob = chat_with_bob(make_chat)
    alice.send(b"/quit\n")
    assert alice.event()["code"] == "goodbye"
    assert bob.event()["type"] == "left"
    bob.send(b"/read @user1 now\n")
    h.pump()
    again = h.connect()
    again.send(b"mode json\nlogin\nuser1,123\n")
    assert again.event()["type"] == "mode"
    assert again.event()["type"] == "welcome"
    assert no_json_ts(again.event()) == {"type": "receipt", "name": "user2", "until": format_ts(h.clock())}


def test_receipts_off_stops_them_both_ways_and_is_kept(make_chat: MakeChat) -> None:
    h, alice, bob = chat_with_bob(make_chat)
    bob.send(b"/receipts\n")
    assert no_json_ts(bob.event()) == {"type": "notice", "code": "receipts_on", "text": ON}
    bob.send(b"/receipts OFF\n")
    assert no_json_ts(bob.event()) == {"type": "notice", "code": "receipts_off", "text": OFF}
    bob.send(b"/read @user1 now\n")
    alice.expect_silence()
    bob.send(b"/msg user1 and you?\n")
    assert bob.event()["outgoing"] is True
    assert alice.event()["text"] == "and you?"
    alice.send(b"/read @user2 now\n")
    bob.expect_silence()  # off both ways
    h.restart()
    bob = json_login(h, "user2", "345")
    bob.send(b"/receipts\n")
    assert no_json_ts(bob.event()) == {"type": "notice", "code": "receipts_off", "text": OFF}
    bob.send(b"/receipts on\n")
    assert no_json_ts(bob.event())["code"] == "receipts_on"


def test_text_mode_is_unchanged_and_bad_input_gets_one_line(make_chat: MakeChat) -> None:
    h = make_chat()
    u1 = h.login("user1", "123")
    u2 = h.login("user2", "345")
    u1.send(b"/msg user2 hi\n")
    assert u1.line() == "[private to user2] hi"
    assert u2.line() == "[private] user1: hi"
    u2.send(b"/read @user1 now\n")
    u1.expect_silence()  # a receipt is never shown in text mode
    u2.send(b"/read user1 now\n")
    assert u2.line() == "usage: /read @NAME UNTIL"
    u2.send(b"/read @user1 42\n")
    assert u2.line() == "bad time '42': give a time such as 2026-11-21T10:39:59.750Z, or now"
    u2.send(b"/read @ghost now\n")
    assert u2.line() == "no such user: ghost"
    u2.send(b"/receipts maybe\n")
    assert u2.line() == "usage: /receipts [on|off]"
