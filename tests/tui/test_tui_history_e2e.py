"""End to end in a real terminal (tmux), against a real server: scrollback with PgUp at
the top of a conversation. The set-up (server, raw-socket peer, terminal) is
tests/tui/test_tui_e2e.py's; skipped where tmux is not installed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.tui.test_tui_e2e import PASSWORD, TMUX, Peer, Server, Terminal, shows

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


def logged_in_terminal(server: Server, tmp_path: Path) -> Terminal:
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    command = ["sh", "-c", f'"$0" -m pollchat.client 127.0.0.1 --port {server.port} --user alice; sleep 30',
               sys.executable]
    term = Terminal(command, env, 100, 30)
    term.wait("password: (not shown)", "the login form")
    term.type(PASSWORD)
    term.keys("Enter")
    term.wait(" alice + active ", "the logged-in top bar")
    return term


def test_page_up_at_the_top_loads_older_messages(tmp_path: Path) -> None:
    server = Server(tmp_path / "data")  # --replay 0: nothing is replayed at login
    Peer(server.port, "alice").close()
    bob = Peer(server.port, "bob")
    bob.send("".join(f"old line {n}\n" for n in range(40)))
    bob.send("/whois bob\n")
    bob.wait_for("bob: ")  # read in order: the 40 lines are stored
    term = None
    try:
        term = logged_in_terminal(server, tmp_path)
        term.wait(shows("│ + bob "), "bob in the online pane")
        assert "old line" not in term.screen()
        term.keys("PageUp")  # at the top of an empty conversation: the newest page
        term.wait(shows("bob: old line 39", "bob: old line 20"), "the page of older lines")
        for _ in range(4):
            term.keys("PageUp")
        screen = term.wait(shows("start of the history: nothing older is", "bob: old line 0"),
                           "the start of the history")
        assert "more below" in screen
    finally:
        bob.close()
        if term is not None:
            term.close()
        server.stop()


def test_search_results_view_opens_the_message(tmp_path: Path) -> None:
    server = Server(tmp_path / "data")
    Peer(server.port, "alice").close()
    bob = Peer(server.port, "bob")
    bob.send("".join(("where do we meet for lunch?\n" if n == 3 else f"filler {n}\n") for n in range(60)))
    bob.send("/whois bob\n")
    bob.wait_for("bob: ")
    term = None
    try:
        term = logged_in_terminal(server, tmp_path)
        term.type("/search LUNCH meet")
        term.keys("Enter")
        term.wait(shows("search: lunch meet", "main chat bob: where do we meet for lunch?", "Enter open the conversation"),
                  "the results view")
        term.keys("Enter")
        term.wait(shows("bob: where do we meet for lunch?", "filler 4", without=("search: lunch",)),
                  "the conversation at the message")
    finally:
        bob.close()
        if term is not None:
            term.close()
        server.stop()


def test_a_private_message_shows_sent_then_read(tmp_path: Path) -> None:
    server = Server(tmp_path / "data")
    Peer(server.port, "alice").close()
    bob = Peer(server.port, "bob")
    term = None
    try:
        term = logged_in_terminal(server, tmp_path)
        term.wait("│ + bob ", "bob in the online pane")
        term.type("/msg bob lunch at noon?")
        term.keys("Enter")
        bob.wait_for("[private] alice: lunch at noon?")
        term.wait("│  bob ", "bob's chat in the chats pane")  # Down must find it there
        term.keys("Tab", "Tab", "Down", "Enter")  # open bob's chat
        term.wait(shows("[ bob · ", "you: lunch at noon? ✓", without=("✓✓",)), "the sent check")
        bob.send("/read @alice now\n")  # what a client sends once it has shown the line
        term.wait("you: lunch at noon? ✓✓", "the read checks")
    finally:
        bob.close()
        if term is not None:
            term.close()
        server.stop()
