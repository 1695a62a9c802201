"""End to end: the real full-screen client in a terminal (tmux) against a real server.

``python -m pollchat.client`` runs inside a detached tmux session on a private tmux
socket (100x30, UTF-8); the test types with ``send-keys`` and reads the screen with
``capture-pane``. The other user is a raw socket, as ``nc`` would be. The scenario: log
in, see the other user appear in the online pane, receive a private message and see the
unread count, open it, reply, see the typing indicator, survive resizes (down to "too
small" and back), join a group and talk in it, reconnect after the server restarts on the same port, quit with Esc.

Every wait has a deadline (the screen is polled every 0.1 s); the test is skipped where
tmux is not installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import REPO_ROOT
from tests.loopback.test_client import read_line
TMUX = shutil.which("tmux")
PASSWORD = "tui-pw-ツ"
WAIT = 8.0

pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


class Server:
    """``python -m pollchat.server`` on 127.0.0.1 with the test flags; restartable on the
    same port and data directory."""

    def __init__(self, data: Path, port: int = 0, tls: tuple[Path, Path] | None = None) -> None:
        self.data = data
        tls_flags = [] if tls is None else ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1]), "--tls-port", "0"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pollchat.server", "--max-users", "8", "--port", str(port), "--host", "127.0.0.1",
             "--data-dir", str(data), "--kdf-iterations", "1000", "--replay", "0", "--no-game",
             "--max-connections-per-address", "0", "--rate-limit", "0", "--web-port", "0", "--irc-port", "0", "--irc-tls-port", "0", "--register-rate", "0",
             "--min-password-length", "1", *tls_flags],
            cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        )
        first = read_line(self.proc.stdout.fileno())
        assert first.startswith("listening on 127.0.0.1:"), first
        self.port = int(first.rsplit(":", 1)[1])
        self.tls_port = 0
        if tls is not None:
            second = read_line(self.proc.stdout.fileno())
            assert second.startswith("tls: listening on 127.0.0.1:"), second
            self.tls_port = int(second.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc.stdout.close()


class Peer:
    """A raw-socket user in text mode, like ``nc``."""

    def __init__(self, port: int, name: str, verb: str = "register") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.file = self.sock.makefile("rb")
        self.send(f"{verb}\n{name},{PASSWORD}\n")
        self.wait_for("Access Provided")

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode("utf-8"))

    def wait_for(self, wanted: str) -> str:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            line = self.file.readline().decode("utf-8")
            assert line, f"server closed before {wanted!r}"
            if wanted in line:
                return line
        raise AssertionError(f"no {wanted!r} within {WAIT} s")

    def close(self) -> None:
        self.file.close()
        self.sock.close()


class Terminal:
    """A detached tmux session on a private socket, running one command."""

    def __init__(self, command: list[str], env: dict[str, str], width: int = 100, height: int = 30) -> None:
        self.socket = f"pollchat-test-{uuid.uuid4().hex[:12]}"
        self.env = env
        self.seen: list[str] = []
        self.tmux("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), "-c", str(REPO_ROOT),
                  " ".join(_quote(part) for part in command))

    def tmux(self, *args: str) -> str:
        result = subprocess.run([TMUX, "-L", self.socket, "-f", "/dev/null", *args], env=self.env,
                                capture_output=True, text=True, timeout=WAIT)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def screen(self) -> str:
        text = self.tmux("capture-pane", "-p", "-t", "t")
        self.seen.append(text)
        return text

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "t", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "t", "-l", text)

    def wait(self, check: Callable[[str], bool] | str, what: str = "", timeout: float = WAIT) -> str:
        predicate = (lambda screen: check in screen) if isinstance(check, str) else check
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if predicate(screen):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"the screen never showed {what or check!r} within {timeout} s:\n{screen}")

    def close(self) -> None:
        subprocess.run([TMUX, "-L", self.socket, "kill-server"], env=self.env, capture_output=True, timeout=WAIT)


def shows(*parts: str, without: tuple[str, ...] = ()) -> Callable[[str], bool]:
    """A screen check: every one of ``parts`` is on screen and none of ``without``.
    (Checks are whole predicates, never asserts on one capture: tmux may be captured in
    the middle of a redraw.)"""
    return lambda screen: all(part in screen for part in parts) and not any(part in screen for part in without)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Server, Path]]:
    server = Server(tmp_path / "data")
    yield server, tmp_path
    server.stop()


def test_full_screen_client_against_a_real_server(setup: tuple[Server, Path]) -> None:
    server, tmp = setup
    Peer(server.port, "alice").close()  # the account the client logs in with
    status_file = tmp / "status"
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "XDG_CONFIG_HOME": str(tmp / "config")}
    env.pop("NO_COLOR", None)
    command = ["sh", "-c", f'"$0" -m pollchat.client 127.0.0.1 --port {server.port} --user alice; '
               f'echo $? > {_quote(str(status_file))}; sleep 30', sys.executable]
    term = Terminal(command, env)
    bob = None
    try:
        # log in: the form opens with the name filled in, the cursor in the password field
        term.wait("password: (not shown)", "the login form")
        term.type(PASSWORD)
        term.keys("Enter")
        term.wait(" alice + active ", "the logged-in top bar")

        # a second user appears in the online pane
        bob = Peer(server.port, "bob")
        term.wait("│ + bob ", "bob in the online pane")

        # a private message: the unread count shows in the chats pane
        bob.send("/msg alice hello from bob ツ\n")
        term.wait(shows("bob ✉(1)", "1 missed", "bob wrote to you"), "the unread count")

        # open it (Tab to the chats pane, Down to bob, Enter), reply
        term.keys("Tab", "Tab", "Down", "Enter")
        term.wait(shows("[ bob · + active ]", "bob: hello from bob ツ", "no new messages", without=("✉(",)),
                  "bob's chat, read")
        term.type("hi bob 中文")
        term.keys("Enter")
        assert bob.wait_for("[private] alice:").strip() == "[private] alice: hi bob 中文"
        term.wait("you: hi bob 中文", "the reply in the conversation")

        # the other side types
        bob.send("/typing on alice\n")
        term.wait("bob is typing...", "the typing indicator")

        # resizes: compact, too small, and back
        term.tmux("resize-window", "-t", "t", "-x", "50", "-y", "16")
        term.wait(shows("[ bob · + active ]", without=("│",)), "the compact layout")
        term.tmux("resize-window", "-t", "t", "-x", "20", "-y", "6")
        term.wait("too small", "the too-small message")
        term.tmux("resize-window", "-t", "t", "-x", "100", "-y", "30")
        term.wait(shows("┌─ online", "you: hi bob 中文"), "the full layout again")

        # groups: bob creates one, alice joins from the input box, they talk in it
        bob.send("/create #familia\n")
        bob.wait_for("group created")
        term.type("/join #familia")
        term.keys("Enter")
        term.wait(shows("[ #familia · ", "chats · 👥 1", "> Message #familia"), "the group opened")
        bob.wait_for("[#familia] alice has joined the group")
        term.type("hola familia")
        term.keys("Enter")
        assert bob.wait_for("[#familia] alice:").strip() == "[#familia] alice: hola familia"
        bob.send("#familia hi @alice\n")
        term.wait(shows("you: hola familia", "bob: hi @alice"), "the group conversation")

        # the server restarts on the same port: the client waits, then logs in again
        bob.close()
        bob = None
        server.stop()
        term.wait("reconnecting in", "the reconnection countdown")
        restarted = Server(server.data, server.port)
        server.proc, server.port = restarted.proc, restarted.port
        term.wait(shows(" alice + active ", without=("reconnecting",)), "logged in again", timeout=15)
        bob = Peer(server.port, "bob", verb="login")
        term.wait(shows("│ + bob ", "#familia"), "bob back in the online pane, the group in the chats pane")

        # quit with Esc: exit status 0, settings saved without the password
        term.keys("Escape")
        deadline = time.monotonic() + WAIT
        while not status_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status_file.read_text().strip() == "0"
        settings = (tmp / "config" / "pollchat" / "client.toml").read_text()
        assert 'user = "alice"' in settings and PASSWORD not in settings
        assert not any(PASSWORD in screen for screen in term.seen)
    finally:
        if bob is not None:
            bob.close()
        term.close()


def test_waits_for_a_server_that_is_not_up_yet_and_ctrl_c_quits(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a free port, nobody listening yet
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    status_file = tmp_path / "status"
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "XDG_CONFIG_HOME": str(tmp_path / "config"),
           "NO_COLOR": "1"}
    command = ["sh", "-c", f'trap : INT; "$0" -m pollchat.client 127.0.0.1 --port {port}; '
               f'echo $? > {_quote(str(status_file))}; sleep 30', sys.executable]
    term = Terminal(command, env, 80, 24)
    server = None
    try:
        term.wait("name:", "the login form")
        term.keys("Up", "Right", "Down")  # register
        term.type("carol")
        term.keys("Tab")
        term.type(PASSWORD)
        term.keys("Enter")
        term.wait(shows("Connection refused", "reconnecting in"), "the countdown in the form")
        server = Server(tmp_path / "data", port)
        term.wait(" carol + active ", "registered once the server is up", timeout=15)
        term.keys("C-c")
        deadline = time.monotonic() + WAIT
        while not status_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status_file.read_text().strip() == "130"
        assert not any(PASSWORD in screen for screen in term.seen)
    finally:
        term.close()
        if server is not None:
            server.stop()


def test_full_screen_client_over_tls(tmp_path: Path) -> None:
    """``--cafile`` (so ``--tls``) against the real server's TLS listener: the lock is on
    screen from the login form on, and a plain user (nc-like) talks with alice."""
    from tests.tls_helpers import make_ca

    ca = make_ca(tmp_path)
    server = Server(tmp_path / "data", tls=ca.server_files(tmp_path, "127.0.0.1"))
    Peer(server.port, "alice").close()
    status_file = tmp_path / "status"
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    command = ["sh", "-c", f'"$0" -m pollchat.client 127.0.0.1 --port {server.tls_port} '
               f'--cafile {_quote(str(ca.cafile))} --user alice; echo $? > {_quote(str(status_file))}; sleep 30',
               sys.executable]
    term = Terminal(command, env, 80, 24)
    bob = None
    try:
        lock = f"127.0.0.1:{server.tls_port} │ 🔒 TLS"
        term.wait(shows("password: (not shown)", lock), "the lock on the login form")
        term.type(PASSWORD)
        term.keys("Enter")
        term.wait(" alice + active │ 🔒 TLS", "the logged-in top bar with the lock")
        bob = Peer(server.port, "bob")  # plain TCP, straight to the plain port
        term.wait("│ + bob ", "bob in the online pane")
        bob.send("hello alice, from plain tcp\n")
        term.wait("bob: hello alice, from plain tcp", "bob's line over the TLS session")
        term.type("hi bob, from tls")
        term.keys("Enter")
        assert bob.wait_for("alice:").strip() == "alice: hi bob, from tls"
        term.keys("Escape")
        deadline = time.monotonic() + WAIT
        while not status_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert status_file.read_text().strip() == "0"
        bob.wait_for("alice has left the chat")
    finally:
        if bob is not None:
            bob.close()
        term.close()
        server.stop()


def test_links_pastes_the_bell_command_output_and_the_group_finder(tmp_path: Path) -> None:
    """What people expect of a chat today, in a real terminal: a web link is written as
    an OSC 8 hyperlink (the pane's output is recorded with ``pipe-pane``; tmux 3.3
    itself draws the text and drops the link, and a newer terminal makes it clickable)
    without moving any column; pasted lines (``paste-buffer -p``, bracketed) arrive as
    separate lines in order, a long paste only after Enter; a private message rings the
    bell; ``/who`` keeps its columns; F3 lists the public groups and Enter joins one."""
    server = Server(tmp_path / "data")
    Peer(server.port, "alice").close()
    output = tmp_path / "output"
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    command = ["sh", "-c", f'"$0" -m pollchat.client 127.0.0.1 --port {server.port} --user alice --links on; sleep 30',
               sys.executable]
    term = Terminal(command, env, 140, 30)
    bob = None
    try:
        term.tmux("pipe-pane", "-O", "-t", "t", f"cat >> {_quote(str(output))}")
        term.wait("password: (not shown)", "the login form")
        term.type(PASSWORD)
        term.keys("Enter")
        term.wait(" alice + active ", "the logged-in top bar")
        bob = Peer(server.port, "bob")
        term.wait("│ + bob ", "bob in the online pane")

        # a link: the text on screen as sent, the hyperlink in the bytes written
        url = "https://example.org/menu?day=fri"
        bob.send(f"lunch: {url} (friday)\n")
        term.wait(f"bob: lunch: {url} (friday)", "the line with its link")
        wanted = f"\x1b]8;;{url}\x1b\\\x1b[4m{url}\x1b[0m\x1b]8;;\x1b\\".encode()
        deadline = time.monotonic() + WAIT
        while wanted not in output.read_bytes() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert wanted in output.read_bytes()
        term.wait(shows("┌─ online", "─┐", "│ + bob "), "the borders in place")

        # a paste of three lines: three chat lines, in order; a pasted "/..." is text
        term.tmux("set-buffer", "-b", "three", "first pasted line\n/quit is text here\nthird one")
        term.tmux("paste-buffer", "-p", "-d", "-b", "three", "-t", "t")
        assert bob.wait_for("alice:").strip() == "alice: first pasted line"
        assert bob.wait_for("alice:").strip() == "alice: /quit is text here"
        assert bob.wait_for("alice:").strip() == "alice: third one"
        term.wait(shows("you: first pasted line", "you: /quit is text here", "you: third one"), "the pasted lines")

        # seven lines: asked first, then sent in order after Enter
        term.tmux("set-buffer", "-b", "seven", "\n".join(f"log line {n}" for n in range(1, 8)) + "\n")
        term.tmux("paste-buffer", "-p", "-d", "-b", "seven", "-t", "t")
        term.wait("send 7 pasted lines? Enter sends them, Esc cancels", "the question")
        term.keys("Enter")
        for n in range(1, 8):
            assert bob.wait_for("alice:").strip() == f"alice: log line {n}"

        # the bell: a private message while the main chat is open
        before = output.read_bytes().count(b"\x07")
        bob.send("/msg alice ding\n")
        term.wait("bob wrote to you", "the notification")
        deadline = time.monotonic() + WAIT
        while output.read_bytes().count(b"\x07") <= before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert output.read_bytes().count(b"\x07") > before, "no bell"

        # command output keeps its columns
        term.type("/who")
        term.keys("Enter")
        screen = term.wait("online users (2):", "the /who answer")
        rows = [line for line in screen.splitlines() if " - active, idle " in line]
        assert len(rows) == 2 and len({row.index(" - active") - len(name) for row, name in
                                       zip(sorted(rows, key=lambda r: "bob" not in r), ("bob", "alice"))}) == 1

        # the group finder: bob's public group, with its topic; Enter joins it
        bob.send("/create #books\n")
        bob.wait_for("group created")
        bob.send("/topic #books what we read\n")
        bob.wait_for("set the topic")
        term.keys("F3")
        term.wait(shows("groups on this server", "#books", "what we read"), "the finder")
        term.keys("Enter")
        bob.wait_for("[#books] alice has joined the group")
        term.wait(shows("[ #books · ", without=("groups on this server",)), "the group open")
    finally:
        if bob is not None:
            bob.close()
        term.close()
        server.stop()
