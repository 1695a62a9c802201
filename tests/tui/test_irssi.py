"""A real IRC client against the gateway: Debian's irssi in tmux, checked on its screen
(``tmux capture-pane``), chatting with a netcat user (issue 23).

Skips, saying what to install, when irssi or tmux is missing (``.ci/run`` installs them).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.loopback.test_cli import ServerProcess, server_args, start_server

IRSSI = shutil.which("irssi")
TMUX = shutil.which("tmux")
WAIT = 10.0
IRC_RE = re.compile(r"irc: listening on 127\.0\.0\.1:(\d+)")

pytestmark = pytest.mark.skipif(
    IRSSI is None or TMUX is None, reason="irssi or tmux is not installed (apt-get install irssi tmux)"
)


class Pane:
    """One program in a detached tmux session on a private tmux socket."""

    def __init__(self, socket_path: Path, command: list[str]) -> None:
        self.socket = str(socket_path)
        subprocess.run(
            ["tmux", "-S", self.socket, "new-session", "-d", "-s", "irc", "-x", "160", "-y", "40", *command],
            check=True,
        )

    def screen(self) -> str:
        result = subprocess.run(
            ["tmux", "-S", self.socket, "capture-pane", "-p", "-t", "irc"], capture_output=True, text=True, check=False
        )
        return result.stdout

    def wait_for(self, pattern: str) -> str:
        deadline = time.monotonic() + WAIT
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if re.search(pattern, screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} never appeared on irssi's screen:\n{screen}")

    def type(self, text: str) -> None:
        subprocess.run(["tmux", "-S", self.socket, "send-keys", "-t", "irc", "-l", text], check=True)
        subprocess.run(["tmux", "-S", self.socket, "send-keys", "-t", "irc", "Enter"], check=True)

    def kill(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], check=False, capture_output=True)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, int]]:
    args = server_args(tmp_path / "data", "--max-users", "4", "--max-connections-per-address", "0", "--no-web")
    with start_server(args, tmp_path) as proc:
        proc.wait_listening()
        match = IRC_RE.fullmatch(proc.out.readline() or "")
        assert match is not None, "no 'irc: listening on' line"
        yield proc, int(match.group(1))
        assert proc.stop() == 0


def test_irssi_joins_the_lobby_and_chats_with_a_netcat_user(server: tuple[ServerProcess, int], tmp_path: Path) -> None:
    proc, irc_port = server
    # the account, made from the line protocol; irssi logs in with PASS user:password
    maker = proc.client()
    maker.send(b"register\nalice,wonderland\n")
    assert maker.readline() == b"Access Provided"
    maker.send(b"/quit\n")
    home = tmp_path / "irssi"
    home.mkdir()
    (home / "config").write_text('settings = { core = { real_name = "Alice"; user_name = "alice"; }; };\n')
    pane = Pane(
        tmp_path / "tmux.sock",
        [IRSSI or "irssi", f"--home={home}", "-c", "127.0.0.1", "-p", str(irc_port), "-n", "alice", "-w", "alice:wonderland"],
    )
    try:
        pane.wait_for(r"Act: 2")  # joined after registration: the channel's window is window 2
        pane.type("/window 2")
        pane.wait_for(r"#lobby")
        bob = proc.client()
        bob.send(b"register\nbob,builder\n")  # bob registers, sees alice online, and talks
        lines = [bob.readline() for _ in range(2)]
        assert b"Access Provided" in lines and b"active users are: alice bob" in lines
        pane.wait_for(r"bob .*has joined #lobby")
        bob.send(b"hello from netcat\n")
        pane.wait_for(r"<.?bob> hello from netcat")
        pane.type("hi bob, from irssi")
        assert bob.readline() == b"alice: hi bob, from irssi"
        pane.type("/names")
        pane.wait_for(r"\[.?alice\s*\].*\[.?bob\s*\]|\[.?bob\s*\].*\[.?alice\s*\]")
        pane.type("/quit leaving")
        assert bob.readline() == b"alice has left the chat (leaving)"
    finally:
        pane.kill()
