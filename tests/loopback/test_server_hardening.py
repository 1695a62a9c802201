"""Regressions found by a review of the loop and the protocol: a history block that
would look like a slow consumer, a pipelined second login leaking a password into the
chat, one failing timer stopping the server, and control characters from the operator."""

from __future__ import annotations

import io

from pollchat.server.console import OperatorConsole
from tests.harness import Harness

ALREADY_IN = "you are already logged in; that line was not sent"


def test_a_long_history_never_drops_the_reader_who_asked(make_harness) -> None:
    h: Harness = make_harness(max_output=64 * 1024)
    alice = h.login("user1", "123")
    bob = h.login("user2", "345")
    for i in range(60):  # 60 lines of ~4 KiB: far more than the 64 KiB output bound
        line = f"{i:03d} " + "x" * 4000
        bob.send(line.encode() + b"\n")
        assert alice.line() == f"user2: {line}"
    alice.send(b"/history 60\n")
    header = alice.line()
    assert header.startswith("--- ") and header.endswith(" earlier messages ---")
    shown = int(header.split()[1])
    assert 0 < shown < 60  # only what fits in half the output bound ...
    lines = alice.lines(shown)
    assert lines[-1].endswith("user2: 059 " + "x" * 4000)  # ... and the newest of it
    assert alice.line() == "--- end of history ---"
    alice.send(b"still here\n")
    assert bob.line() == "user1: still here"  # alice was not dropped


def test_a_pipelined_second_login_does_not_broadcast_the_password(make_harness) -> None:
    h: Harness = make_harness()
    watcher = h.login("user1", "123")
    client = h.connect()
    client.send(b"login\nuser2,345\nlogin\nuser2,otherSecret\nhello\n")
    client.expect("Access Provided", "active users are: user1 user2", ALREADY_IN, ALREADY_IN)
    assert watcher.line() == "user2 has entered the chat"
    assert watcher.line() == "user2: hello"  # the password line never reached anyone
    watcher.expect_silence(0.1)


def test_a_failing_timer_does_not_stop_the_server(make_harness) -> None:
    h: Harness = make_harness()
    alice = h.login("user1", "123")

    def broken() -> None:
        raise RuntimeError("boom")

    h.server.loop.timers.call_later(0, broken)
    h.pump(2)
    bob = h.login("user2", "345")  # checks alice got the entered notice, too
    bob.send(b"after the error\n")
    assert alice.line() == "user2: after the error"


def test_the_console_refuses_control_characters(make_harness) -> None:
    h: Harness = make_harness()
    alice = h.login("user1", "123")
    console = OperatorConsole(h.server.chat, io.StringIO())
    refused = "line contains control characters, discarded"
    assert console.run("announce hi \x1b[2J everyone") == refused
    assert console.run("kick user1 \x1b]0;pwned\x07") == refused
    assert console.run("ban user1 2h \r\x1b[31mred") == refused
    alice.expect_silence(0.1)
    assert console.run("announce plain text") == "announced"
    assert alice.line() == "*** announcement from operator: plain text"
