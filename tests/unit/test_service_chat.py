"""Chat delivery at the service, over in-memory peers: who receives a line, and the
lines refused to their sender only (blank, control and invisible characters).

Moved from ``tests/loopback/test_server_chat.py``, which keeps what needs a socket (a
smoke test, framing across TCP segments, end of input). Every server line is checked
byte for byte, as there."""

from __future__ import annotations

from tests.service_harness import ServiceHarness, chat, make_chat  # noqa: F401  (pytest fixtures)

CONTROL = "line contains control characters, discarded"


def test_alone_in_the_room_nobody_receives(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u1.send(b"anyone?\n")
    u1.expect_silence(0.05)
    u2 = chat.login("user2", "345")
    u2.expect_silence(0.05)  # nothing queued from before the login


def test_unicode_and_tab_pass_through(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    u1.send("caf\u00e9\t\u2615 \U0001f600\n".encode())
    expected = "user1: caf\u00e9\t\u2615 \U0001f600\n".encode()
    assert u2.raw(len(expected)) == expected


def test_blank_lines_are_ignored(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    u1.send(b"\n   \n\r\n\t\n")
    u2.expect_silence(0.05)
    u1.expect_silence(0.05)
    u1.send(b"after\n")
    assert u2.line() == "user1: after"


def test_control_characters_are_refused_to_the_sender_only(chat: ServiceHarness) -> None:
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    u1.send(b"red \x1b[31mtext\nnul\x00byte\nlone\rcr\n")
    assert u1.lines(3) == [CONTROL, CONTROL, CONTROL]
    u2.expect_silence(0.05)
    u1.send(b"clean\n")
    assert u2.line() == "user1: clean"


def test_a_right_to_left_override_is_refused_and_emoji_joiners_pass(chat: ServiceHarness) -> None:
    """A chat line with a bidi override (or a zero-width character) reaches
    nobody; the sender gets one line naming the character."""
    u1 = chat.login("user1", "123")
    u2 = chat.login("user2", "345")
    u1.send("invoice\u202egnp.exe\nhi\u200bthere\n".encode())
    assert u1.lines(2) == [
        "line contains an invisible or text-direction character (U+202E), discarded",
        "line contains an invisible or text-direction character (U+200B), discarded",
    ]
    u2.expect_silence(0.05)
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    u1.send(f"{family}\n".encode())
    assert u2.line() == f"user1: {family}"
