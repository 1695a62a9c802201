"""Several devices per account and /ignore end to end, with a real server process:
one account on a netcat (TCP) connection and an IRC client at once
(``--sessions-per-account 2``: an IRC session is a session like any other), and an
ignore list that hides one user's lines from another (its restart is a service test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback.test_cli import ServerProcess, server_args, start_server
from tests.loopback.test_server_irc import IRC_RE, IrcClient, irc_register


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, int]]:
    """Two sessions per account, three seats, the IRC gateway on a free port."""
    args = server_args(
        tmp_path / "data", "--max-users", "3", "--max-connections-per-address", "0", "--rate-limit", "0",
        "--irc-server-name", "irc.test", "--sessions-per-account", "2", "--no-web",
    )
    with start_server(args, tmp_path) as proc:
        proc.wait_listening()
        irc_port = None
        for _ in range(3):
            if (m := IRC_RE.fullmatch(proc.out.readline() or "")) is not None:
                irc_port = int(m.group(1))
                break
        assert irc_port is not None, "no 'irc: listening on' line"
        yield proc, irc_port
        assert proc.stop() == 0


def test_one_account_on_netcat_and_irc_at_once(server: tuple[ServerProcess, int]) -> None:
    proc, irc_port = server
    irc = irc_register(irc_port, "alice", "secret")
    irc.expect(r" 366 alice #lobby ")
    laptop = proc.client()
    laptop.send(b"login\nalice,secret\n")
    assert laptop.readline() == b"Access Provided"
    assert laptop.readline() == b"active users are: alice"
    bob = proc.client()
    bob.send(b"register\nbob,pw\n")
    assert bob.readline() == b"Access Provided"
    assert bob.readline() == b"active users are: alice bob"
    assert laptop.readline() == b"bob has entered the chat"
    irc.expect(r"JOIN #lobby")

    bob.send(b"hi alice\n")
    assert laptop.readline() == b"bob: hi alice"
    assert irc.expect("PRIVMSG") == ":bob!bob@pollchat PRIVMSG #lobby :hi alice"
    bob.send(b"/msg alice psst\n")
    assert bob.readline() == b"[private to alice] psst"
    assert laptop.readline() == b"[private] bob: psst"
    assert irc.expect("PRIVMSG") == ":bob!bob@pollchat PRIVMSG alice psst"
    laptop.send(b"hello from the laptop\n")
    assert bob.readline() == b"alice: hello from the laptop"
    assert irc.expect("PRIVMSG") == ":alice!alice@pollchat PRIVMSG #lobby :hello from the laptop"

    third = proc.client()
    third.send(b"login\nalice,secret\n")
    assert third.readline().startswith(b"this account is logged in on 2 devices already")

    irc.send("QUIT :phone off")
    irc.closed()
    laptop.send(b"/quit\n")
    assert bob.readline() == b"alice has left the chat"  # once, with the last device


def test_ignore_end_to_end(server: tuple[ServerProcess, int]) -> None:
    proc, _ = server
    ann, bob, cy = proc.client(), proc.client(), proc.client()
    for client, name in ((ann, "ann"), (bob, "bob"), (cy, "cy")):
        client.send(f"register\n{name},pw\n".encode())
        assert client.readline() == b"Access Provided"
        client.readline()
    ann.readline(), ann.readline(), bob.readline()  # the entered notices
    ann.send(b"/ignore bob\n")
    assert ann.readline().startswith(b"you ignore bob now")
    bob.send(b"can you hear me\n")
    assert cy.readline() == b"bob: can you hear me"
    bob.send(b"/msg ann hello?\n")
    assert bob.readline() == b"[private to ann] hello?"
    cy.send(b"I can\n")
    assert ann.readline() == b"cy: I can"  # the first line ann gets: nothing of bob's came before
    ann.send(b"/ignore\n")
    assert ann.readline() == b"you ignore: bob"
