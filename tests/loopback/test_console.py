"""The operator console (pollchat.server.console, issue 5).

In-process: :meth:`OperatorConsole.run` for every console command against a loopback
harness server (who, kick, ban, unban, announce, shutdown and shutdown cancel, stats,
help, an unknown command), and the console attached to a pipe through the server's own
loop. One subprocess test runs ``python -m pollchat.server`` with a pseudo-terminal as
stdin, types ``who`` and ``stats`` and reads the answers from its stdout.
"""

from __future__ import annotations

import io
import os
import pty
import re
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pollchat.server.console import HELP, OperatorConsole
from tests.harness import FakeClock, Harness
from tests import REPO_ROOT
from tests.loopback.test_cli import Client, PipeLines, _command, _env, server_args

TWO_HOURS_LATER = "2023-11-15 00:13"


@pytest.fixture
def console_harness(make_harness: Callable[..., Harness]) -> tuple[Harness, OperatorConsole, FakeClock]:
    clock = FakeClock()
    h = make_harness(clock=clock)
    return h, OperatorConsole(h.server.chat, io.StringIO(), clock=clock), clock


def test_who(console_harness) -> None:
    h, console, _ = console_harness
    assert console.run("who") == "online users (0):"
    user1, user2 = h.login("user1", "123"), h.login("user2", "345")
    h.advance(7)
    user2.send(b"hi\n")
    assert user1.line() == "user2: hi"
    lines = console.run("WHO").splitlines()
    assert lines[0] == "online users (2):"
    for line, client, name, idle in zip(lines[1:], (user1, user2), ("user1", "user2"), ("7s", "0s")):
        conn = h.server_conn(client)
        assert line == f"  {name} - active, idle {idle} (connection #{conn.id} from 127.0.0.1:{client.local_port})"
    assert len(lines) == 3


def test_kick(console_harness) -> None:
    h, console, _ = console_harness
    user1, user2 = h.login("user1", "123"), h.login("user2", "345")
    assert console.run("kick user2 take a break") == "user2 was disconnected"
    assert user2.closed() == ["you were disconnected by operator: take a break"]
    h.forget_online(user2)
    assert user1.line() == "user2 has left the chat (disconnected by operator: take a break)"
    user1.expect_silence()
    assert console.run("kick user2") == "user2 is not online"
    assert console.run("kick nobody") == "no such user: nobody"
    assert console.run("kick") == "usage: kick NAME [reason]"
    h.login("user2", "345")


def test_kick_and_ban_a_user_called_operator(console_harness) -> None:
    # "operator" is only the console's name in texts and logs: a user who registers that
    # name must not be out of the operator's reach.
    h, console, _ = console_harness
    client = h.register("operator", "pw")
    assert console.run("kick operator") == "operator was disconnected"
    assert client.closed() == ["you were disconnected by operator"]
    h.forget_online(client)
    assert console.run("ban operator") == "operator is banned for good"


def test_ban_and_unban(console_harness) -> None:
    h, console, _ = console_harness
    user1, user2 = h.login("user1", "123"), h.login("user2", "345")
    assert console.run("ban user2 2h spam") == f"user2 is banned until {TWO_HOURS_LATER} UTC"
    assert user2.closed() == [f"you are banned by operator until {TWO_HOURS_LATER} UTC: spam"]
    h.forget_online(user2)
    assert user1.line() == "user2 has left the chat (banned by operator: spam)"
    refused = h.connect()
    refused.send(b"login\nuser2,345\n")
    assert refused.line() == f"this account is banned until {TWO_HOURS_LATER} UTC: spam"
    assert console.run("ban user2 2x") == "invalid duration '2x': use a number with s, m, h or d (e.g. 30m, 2h, 7d)"
    assert console.run("ban user3") == "user3 is banned for good"
    assert console.run("ban") == "usage: ban NAME [DURATION] [reason]"
    assert console.run("unban user2") == "user2 is no longer banned"
    assert console.run("unban user2") == "user2 is not banned"
    assert console.run("unban") == "usage: unban NAME"
    assert console.run("unban user2 user3") == "usage: unban NAME"
    refused.send(b"login\nuser2,345\n")
    refused.expect("Access Provided", "active users are: user1 user2")


def test_announce(console_harness) -> None:
    h, console, _ = console_harness
    waiting = h.connect()
    user1, user2 = h.login("user1", "123"), h.login("user2", "345")
    assert console.run("announce back in  five minutes") == "announced"
    for client in (user1, user2):
        assert client.line() == "*** announcement from operator: back in  five minutes"
    waiting.expect_silence(0.05)
    assert console.run("announce") == "usage: announce TEXT"
    user1.expect_silence(0.05)


def test_shutdown_and_cancel(console_harness) -> None:
    h, console, _ = console_harness
    user1 = h.login("user1", "123")
    assert console.run("shutdown cancel") == "no shutdown is under way"
    assert console.run("shutdown 20 maintenance") == "shutdown in 20 second(s) started; /shutdown cancel stops it"
    assert user1.line() == "*** the server shuts down in 20 second(s): maintenance"
    h.advance(10)
    assert user1.line() == "*** the server shuts down in 10 second(s): maintenance"
    assert console.run("shutdown cancel") == "shutdown cancelled"
    assert user1.line() == "*** the shutdown was cancelled"
    h.advance(30)
    user1.expect_silence(0.05)
    assert not h.server.stopping
    assert console.run("shutdown 2") == "shutdown in 2 second(s) started; /shutdown cancel stops it"
    assert user1.line() == "*** the server shuts down in 2 second(s)"
    h.advance(1)
    assert user1.line() == "*** the server shuts down in 1 second(s)"
    h.advance(1)
    assert user1.closed() == ["server is shutting down"]
    assert h.server.stopping


def test_stats(console_harness) -> None:
    h, console, clock = console_harness
    h.connect()  # not logged in
    user1, user2 = h.login("user1", "123"), h.login("user2", "345")
    h.register("carol", "pw")
    for line in (b"one\n", b"two\n", b"three\n", b"/me waves\n", b"/msg user2 psst\n"):
        user1.send(line)
    user1.line()  # the private message's copy
    for _ in range(5):
        user2.line()
    clock.advance(2)
    assert console.run("stats").splitlines() == [
        "connections: 4",
        "sessions: 3 of 4",
        "preconfigured seats used: 2 of 3",
        "registered seats used: 1 of 1",
        "messages/s since the last stats: 2.5 (5 in all)",
        "bytes queued for clients: 0",
        "groups: 0",
    ]
    assert console.run("stats").splitlines()[4] == "messages/s since the last stats: 0.0 (5 in all)"


def test_help_and_unknown_commands(console_harness) -> None:
    _, console, _ = console_harness
    assert console.run("help") == HELP
    for command in ("who", "kick", "ban", "unban", "announce", "shutdown", "shutdown cancel", "stats", "help"):
        assert re.search(rf"^  {command}\b", HELP, flags=re.MULTILINE), command
    assert console.run("frobnicate now") == "unknown console command 'frobnicate' (type \"help\")"
    assert console.run("/kick user1") == "unknown console command '/kick' (type \"help\")"
    assert console.run("") == ""
    assert console.run("   ") == ""


def test_console_on_a_pipe_reads_through_the_servers_loop(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    out = io.StringIO()
    read_end, write_end = os.pipe()
    try:
        h.server.attach_console(read_end, out)
        assert out.getvalue() == 'operator console ready: type "help"\n'
        user1 = h.login("user1", "123")
        os.write(write_end, b"announce hi\nwh")  # a line arrives in pieces
        assert user1.line() == "*** announcement from operator: hi"
        os.write(write_end, b"o\n")
        h.pump_until(lambda: "online users (1):" in out.getvalue(), "the console's answer to 'who'")
        os.close(write_end)
        write_end = -1
        h.pump_until(lambda: out.getvalue().endswith("operator console closed\n"), "the console to close at EOF")
        assert out.getvalue().splitlines()[1:3] == ["announced", "online users (1):"]
        h.login("user2", "345")  # the server goes on without its console
    finally:
        if write_end != -1:
            os.close(write_end)
        os.close(read_end)


# --- the real server with a pseudo-terminal on stdin ----------------------------------------------------

ANSWER_TIMEOUT = 5.0


def test_console_in_a_subprocess_through_a_pseudo_terminal(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    stderr_path = tmp_path / "stderr.log"
    with open(stderr_path, "wb") as stderr_file:
        proc = subprocess.Popen(
            _command("--max-users", "4", *server_args(tmp_path / "data")),
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=stderr_file,
            cwd=REPO_ROOT,
            env=_env(),
        )
    os.close(slave)
    client = None
    try:
        assert proc.stdout is not None
        out = PipeLines(proc.stdout)
        port = 0
        for _ in range(5):
            line = out.readline()
            assert line is not None, f"server ended early; stderr: {stderr_path.read_text()}"
            if match := re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)", line):
                port = int(match.group(1))
                break
        assert port
        client = Client(port)
        assert client.readline() == b"type login or register and then give user,password"
        client.send(b"register\nalice,pw\n")
        assert client.read_until(b"active users are: alice") == [b"Access Provided", b"active users are: alice"]

        def answer(command: str, first: str, count: int) -> list[str]:
            """Type ``command``; skip stdout lines until ``first``; return it and the next lines."""
            os.write(master, command.encode() + b"\n")
            deadline = time.monotonic() + ANSWER_TIMEOUT
            seen: list[str] = []
            while time.monotonic() < deadline:
                line = out.readline(timeout=max(0.1, deadline - time.monotonic()))
                assert line is not None, f"stdout closed; seen {seen}"
                if line == first:
                    return [line] + [out.readline(ANSWER_TIMEOUT) or "" for _ in range(count - 1)]
                seen.append(line)
            raise AssertionError(f"no {first!r} on stdout after typing {command!r}; seen {seen}")

        who = answer("who", "online users (1):", 2)
        assert re.fullmatch(r"  alice - active, idle \d+s \(connection #\d+ from 127\.0\.0\.1:\d+\)", who[1]), who
        assert who[1].endswith(f"127.0.0.1:{client.sock.getsockname()[1]})")
        stats = answer("stats", "connections: 1", 6)
        assert stats[1:4] == ["sessions: 1 of 4", "preconfigured seats used: 0 of 0", "registered seats used: 1 of 4"]
        assert stats[4].startswith("messages/s since the last stats: ")
        assert stats[5].startswith("bytes queued for clients: ")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if client is not None:
            client.close()
        os.close(master)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()
