"""The line client: pure rendering, the selectors loop, and the CLI against a real server.

Layers of tests:

* pure: :func:`render_incoming` and :func:`opening_lines`, no sockets;
* the loop: :func:`pollchat.client.plain.run` on loopback sockets with a scripted peer;
* the CLI: ``python -m pollchat.client`` (and ``main()`` in-process where a prompt or a
  broken stdout has to be simulated) against a real ``python -m pollchat.server``.

Every wait is bounded (subprocess timeouts, socket timeouts, an alarm around in-process
runs), and nothing asserts on timing.
"""

from __future__ import annotations

import errno
import getpass
import io
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pollchat import texts
from pollchat.client import cli, plain
from pollchat.client.plain import opening_lines, render_incoming, run
from pollchat.core.passwords import hash_password
from pollchat.protocol.events import (
    Emote,
    Announcement,
    Entered,
    Error,
    Greeting,
    GroupEntry,
    GroupEvent,
    GroupList,
    HistoryEnd,
    HistoryStart,
    Left,
    MemberEntry,
    MemberList,
    Mention,
    Message,
    ModeSwitched,
    Notice,
    Older,
    PrivateMessage,
    Receipt,
    Renamed,
    SearchResults,
    ShutdownCancelled,
    ShutdownWarning,
    ShuttingDown,
    StatusChanged,
    StoredMessage,
    Typing,
    Welcome,
    WhoEntry,
    Whois,
    WhoList,
)
from pollchat.protocol.render import EVENT_TYPES, encode_json
from pollchat.texts import ErrorCode, GroupChange, NoticeCode
from tests import REPO_ROOT
TIMEOUT = 10
TS = 1_700_000_000.25
CLIENT = [sys.executable, "-m", "pollchat.client"]
SERVER = [sys.executable, "-m", "pollchat.server"]


def json_line(event: object) -> str:
    return encode_json(event, TS).decode("utf-8").removesuffix("\n")


# --- pure: server line -> shown lines ---------------------------------------------------------

RENDERED = [
    (Greeting(), [texts.GREETING]),
    (Welcome("alice", ("user1", "alice")), ["Access Provided", "active users are: user1 alice"]),
    (Entered("bob"), ["bob has entered the chat"]),
    (Left("bob"), ["bob has left the chat"]),
    (Message("bob", 'hi {"type": "left"}, a, b'), ['bob: hi {"type": "left"}, a, b']),
    (Message("José", "ünïcode ✓\tand a tab"), ["José: ünïcode ✓\tand a tab"]),
    (Error.of(ErrorCode.WRONG_PASSWORD), ["Wrong Password"]),
    (Error.of(ErrorCode.LINE_TOO_LONG, limit=4096), ["line too long (over 4096 bytes), discarded"]),
    (Error.of(ErrorCode.TOO_MANY_ATTEMPTS), ["too many failed attempts, closing the connection"]),
    (ShuttingDown(), ["server is shutting down"]),
    # issue 3: messaging, presence, history (TS is 2023-11-14 22:13:20.25 UTC)
    (Left("bob", "good night"), ["bob has left the chat (good night)"]),
    (Emote("bob", "waves"), ["* bob waves"]),
    (PrivateMessage("alice", "bob", "psst"), ["[private] alice: psst"]),
    (PrivateMessage("alice", "bob", "psst", outgoing=True), ["[private to bob] psst"]),
    (StatusChanged("bob", "away", "lunch"), ["bob is now away: lunch"]),
    (StatusChanged("bob", "active"), ["bob is now active"]),
    (
        WhoList((WhoEntry("alice", "active", "", 3), WhoEntry("bob", "busy", "meeting", 120))),
        ["online users (2):", "  alice - active, idle 3s", "  bob - busy: meeting, idle 2m"],
    ),
    (
        Whois("bob", "registered", True, "away", "lunch", 1_700_000_000.0, 75),
        ["bob: away: lunch, online since 2023-11-14 22:13, idle 1m, registered account"],
    ),
    (
        Whois("carol", "preconfigured", False, "offline", "", 1_699_913_600.0, None),
        ["carol: offline, last seen 2023-11-13 22:13, preconfigured account"],
    ),
    (Whois("dave", "registered", False, "offline", "", None, None), ["dave: offline, never seen, registered account"]),
    (Renamed("bob", "bobby"), ["bob is now known as bobby"]),
    (Notice.of(NoticeCode.GAME_OVER, name="bob"), ["bob has arrived: the game is over"]),
    (Notice.of(NoticeCode.HELP, text="pollchat manual\n\n/who  list"), ["pollchat manual", "", "/who  list"]),
    (Error.of(ErrorCode.NO_SUCH_USER, name="zed"), ["no such user: zed"]),
    (HistoryStart(2), ["--- 2 earlier messages ---"]),
    (Message("bob", "hi all", history=True, at=TS), ["[2023-11-14 22:13] bob: hi all"]),
    (Emote("bob", "waves", history=True, at=TS), ["[2023-11-14 22:13] * bob waves"]),
    (PrivateMessage("bob", "alice", "psst", history=True, at=TS), ["[2023-11-14 22:13] [private] bob: psst"]),
    (
        PrivateMessage("alice", "bob", "psst", outgoing=True, history=True, at=TS),
        ["[2023-11-14 22:13] [private to bob] psst"],
    ),
    (HistoryEnd(), ["--- end of history ---"]),
    # issue 25: scrollback, search and read receipts
    (Receipt("bob", TS), ["bob has read your messages sent until 2023-11-14 22:13"]),
    (
        Older("#familia", "now", (StoredMessage(4, "#familia", "message", "bob", "", "hi", False, TS),), False),
        ["--- 1 older message(s) in #familia ---", "[2023-11-14 22:13] [#familia] bob: hi", "--- start of the history ---"],
    ),
    (
        SearchResults("hi", "*", (StoredMessage(4, "@bob", "private", "bob", "alice", "hi", False, TS),), 20),
        [
            "--- 1 result(s) for 'hi' in everything you can read, newest first (at most 20) ---",
            "[2023-11-14 22:13] [private] bob: hi",
            "--- end of results ---",
        ],
    ),
    # issue 5: admin events, an admin's /who, the new codes
    (Announcement("root", "restart at 22:00"), ["*** announcement from root: restart at 22:00"]),
    (ShutdownWarning(10, "upgrade"), ["*** the server shuts down in 10 second(s): upgrade"]),
    (ShutdownWarning(1), ["*** the server shuts down in 1 second(s)"]),
    (ShutdownCancelled(), ["*** the shutdown was cancelled"]),
    (
        WhoList((WhoEntry("alice", "active", "", 3, 12, "127.0.0.1:50122"),)),
        ["online users (1):", "  alice - active, idle 3s (connection #12 from 127.0.0.1:50122)"],
    ),
    (Notice.of(NoticeCode.KICKED, by="root", reason=": flooding"), ["you were disconnected by root: flooding"]),
    (Error.of(ErrorCode.NOT_ADMIN, name="kick"), ["/kick is for admins only"]),
    (
        Error.of(ErrorCode.BANNED, until="for good", reason=": spam"),
        ["this account is banned for good: spam"],
    ),
    # issue 6: typing indicators
    (Typing("alice", True), ["alice is typing..."]),
    (Typing("alice", False, private=True), ["alice stopped typing"]),
    # issue 4: groups and mentions
    (Message("bob", "hi", group="familia"), ["[#familia] bob: hi"]),
    (Emote("bob", "waves", group="familia"), ["[#familia] * bob waves"]),
    (
        Message("bob", "hi", history=True, at=TS, group="familia"),
        ["[2023-11-14 22:13] [#familia] bob: hi"],
    ),
    (Typing("bob", True, group="familia"), ["bob is typing..."]),
    (Mention("carlos", "@alice see this", "grupo_trabajo"), ["[mention] carlos mentioned you in #grupo_trabajo"]),
    (Mention("carlos", "@alice see this"), ["[mention] carlos mentioned you in the main chat"]),
    (GroupEvent("familia", GroupChange.JOINED, "bob"), ["[#familia] bob has joined the group"]),
    (
        GroupEvent("familia", GroupChange.RENAMED, by="alice", text="family"),
        ["[#familia] the group is now #family (renamed by alice)"],
    ),
    (
        GroupEvent("familia", GroupChange.CREATED, text="private"),
        ["[#familia] private group created: others join with /join #familia"],
    ),
    (
        GroupList(
            (
                GroupEntry("familia", "private", 3, "owner", "sunday lunch"),
                GroupEntry("books", "public", 12, "", ""),
            )
        ),
        [
            "groups (2):",
            "  #familia - private, 3 member(s), owner; topic: sunday lunch",
            "  #books - public, 12 member(s)",
        ],
    ),
    (GroupList(()), ["groups (0):", "  none yet: /create #name starts one"]),
    (
        MemberList("familia", (MemberEntry("alice", "active", True), MemberEntry("bob", "offline", False)), ("carol",)),
        ["members of #familia (2):", "  alice - active, owner", "  bob - offline", "  waiting to join: carol"],
    ),
    (
        Notice.of(NoticeCode.YOUR_GROUPS, names="#familia, #books"),
        ["your groups: #familia, #books (/groups lists them; #name text writes to one)"],
    ),
    (
        Error.of(ErrorCode.NOT_MEMBER_LINE, group="familia"),
        ["you are not a member of #familia; that line was not sent (/join #familia first)"],
    ),
]


@pytest.mark.parametrize(("event", "expected"), RENDERED, ids=[repr(e) for e, _ in RENDERED])
def test_json_event_is_shown_as_its_text_protocol_wording(event, expected):
    assert render_incoming(json_line(event)) == expected


def test_a_login_refused_as_online_elsewhere_is_said_in_words_with_the_name_typed():
    refused = json_line(Error.of(ErrorCode.ALREADY_ONLINE))
    assert render_incoming(refused, "alice") == ["alice is already logged in elsewhere"]
    assert render_incoming(refused) == ["Password already used"]  # no name known: the server's line
    other = json_line(Error.of(ErrorCode.WRONG_PASSWORD))
    assert render_incoming(other, "alice") == ["Wrong Password"]


def test_every_event_type_is_covered_by_the_rendering_cases():
    covered = {type(event) for event, _ in RENDERED} | {ModeSwitched}
    assert covered == set(EVENT_TYPES)
    # History replays are shown with their time, in both directions of a private message.
    history = {(type(e), getattr(e, "outgoing", None)) for e, _ in RENDERED if getattr(e, "history", False)}
    assert history == {(Message, None), (Emote, None), (PrivateMessage, False), (PrivateMessage, True)}


@pytest.mark.parametrize("mode", ["json", "text"])
def test_mode_confirmation_is_not_shown(mode):
    assert render_incoming(json_line(ModeSwitched(mode))) == []


@pytest.mark.parametrize(
    "line",
    [
        texts.GREETING,  # sent in text mode, before the switch
        "Access Provided",
        'bob: {"type":"greeting","ts":"2023-11-14T22:13:20.250Z"}',  # text-mode chat
        '{"type":"no-such-event","ts":"2023-11-14T22:13:20.250Z"}',
        '{"type":"left","ts":"2023-11-14T22:13:20.250Z"}',  # a field is missing
        "{not json",
        "",
        # A misbehaving server: wrong field types, a bad timestamp, deep nesting.
        '{"type":"welcome","name":"a","users":[1,2],"ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"mode","mode":"json","ts":"yesterday"}',
        '{"a":' + "[" * 100_000 + "]" * 100_000 + "}",
    ],
    ids=lambda line: line[:40],
)
def test_line_that_is_not_a_json_event_is_shown_as_it_is(line):
    assert render_incoming(line) == [line]


def test_control_characters_from_the_server_never_reach_the_terminal():
    shown = render_incoming(json_line(Message("bob", "\x1b[2Jgotcha\x07"))) + render_incoming("x\x1b[31my\x00")
    assert shown == ["bob: \ufffd[2Jgotcha\ufffd", "x\ufffd[31my\ufffd"]


def test_opening_lines_ask_for_json_and_log_in_when_a_user_is_given():
    assert opening_lines() == ["mode json"]
    assert opening_lines("alice", "p,w ✓") == ["mode json", "login", "alice,p,w ✓"]
    with pytest.raises(ValueError):
        opening_lines("alice")


# --- the loop on loopback sockets with a scripted peer --------------------------------------


class Hang(BaseException):
    """Raised by the alarm: a test that would hang fails instead (never caught by the client)."""


@pytest.fixture
def alarm() -> Iterator[None]:
    def fire(*_: object) -> None:
        raise Hang(f"no result within {TIMEOUT} s")

    previous = signal.signal(signal.SIGALRM, fire)
    signal.alarm(TIMEOUT)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def tcp_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    """(client end, server end) of a loopback TCP connection."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname()[:2], timeout=TIMEOUT)
        server, _ = listener.accept()
    server.settimeout(TIMEOUT)
    yield client, server
    client.close()
    server.close()


@pytest.fixture
def open_stdin() -> Iterator[int]:
    """A pipe whose write end stays open: the input never ends."""
    r, w = os.pipe()
    yield r
    os.close(r)
    os.close(w)


def recv_all(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def test_server_closing_first_shows_its_lines_then_reports_it(tcp_pair, open_stdin, alarm):
    client, server = tcp_pair
    server.sendall(
        (texts.GREETING + "\n" + json_line(ModeSwitched("json")) + "\n" + json_line(ShuttingDown()) + "\n").encode()
    )
    server.shutdown(socket.SHUT_WR)
    out, err = io.StringIO(), io.StringIO()

    status = run(client, open_stdin, out, err)

    assert status == 1
    assert out.getvalue() == f"{texts.GREETING}\nserver is shutting down\n"
    assert err.getvalue() == f"pollchat-client: {texts.CLIENT_SERVER_CLOSED}\n"
    client.shutdown(socket.SHUT_WR)
    assert recv_all(server) == b"mode json\n"


def test_a_typed_line_that_looks_like_a_label_is_sent_as_typed(server, observer):
    result = client(server.port, input=b"register\nalice,pw\n@label=x hi\n")
    assert result.returncode == 0, result.stderr
    assert observer.lines(3) == ["alice has entered the chat", "alice: @label=x hi", "alice has left the chat"]


def test_quit_ends_quietly_with_status_0(tcp_pair, open_stdin, alarm):
    """/quit: the server says goodbye and closes; that close is no error."""
    client, server = tcp_pair
    goodbye = Notice.of(NoticeCode.GOODBYE)
    server.sendall((json_line(ModeSwitched("json")) + "\n" + json_line(goodbye) + "\n").encode())
    server.shutdown(socket.SHUT_WR)
    out, err = io.StringIO(), io.StringIO()

    status = run(client, open_stdin, out, err)

    assert (status, err.getvalue()) == (0, "")
    assert out.getvalue() == goodbye.text + "\n"


def test_quit_with_the_input_still_open_exits_0_without_an_error(server):
    """As at a terminal: the input stays open after /quit; the server's close ends it."""
    proc = subprocess.Popen(
        [*CLIENT, "127.0.0.1", "--port", str(server.port), "--plain"],
        cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"login\nuser1,123\n/quit\n")
        proc.stdin.flush()
        status = proc.wait(TIMEOUT)
        out, err = proc.stdout.read().decode(), proc.stderr.read().decode()  # type: ignore[union-attr]
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    assert (status, err) == (0, "")
    assert out.splitlines()[-1] == NoticeCode.GOODBYE.value


def test_end_of_input_half_closes_and_keeps_showing_until_the_server_closes(tcp_pair, tmp_path, alarm):
    client, server = tcp_pair
    # A regular file as stdin: epoll refuses it, so this also covers the direct-read path.
    (tmp_path / "input").write_bytes(b"hello\r\n" + b"x" * 5000 + b"\nlast line without newline")
    received: list[bytes] = []

    def peer() -> None:
        received.append(recv_all(server))  # until the client's EOF
        server.sendall((json_line(Left("alice")) + "\n").encode())
        server.close()

    thread = threading.Thread(target=peer)
    thread.start()
    out, err = io.StringIO(), io.StringIO()
    with open(tmp_path / "input", "rb") as stdin:
        status = run(client, stdin.fileno(), out, err, ["mode json", "login", "alice,pw"])
    thread.join(TIMEOUT)

    assert status == 0
    assert received == [b"mode json\nlogin\nalice,pw\nhello\nlast line without newline\n"]
    assert out.getvalue() == "alice has left the chat\n"  # sent after the half-close
    reason = ErrorCode.LINE_TOO_LONG.value.format(limit=4096)
    assert err.getvalue() == "pollchat-client: " + texts.CLIENT_INPUT_DISCARDED.format(reason=reason) + "\n"


def test_connection_reset_is_reported_as_lost(tcp_pair, open_stdin, alarm):
    client, server = tcp_pair
    server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    server.close()  # linger 0: the close sends a reset
    out, err = io.StringIO(), io.StringIO()

    assert run(client, open_stdin, out, err) == 1
    assert out.getvalue() == ""
    lost = texts.CLIENT_CONNECTION_LOST.format(reason=os.strerror(errno.ECONNRESET))
    assert err.getvalue() == f"pollchat-client: {lost}\n"


class FakeServer:
    """Accepts one connection, sends the greeting and records what arrives until EOF."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.received = b""
        self.thread = threading.Thread(target=self._serve)
        self.thread.start()

    def _serve(self) -> None:
        self.listener.settimeout(TIMEOUT)
        conn, _ = self.listener.accept()
        with conn:
            conn.settimeout(TIMEOUT)
            conn.sendall((texts.GREETING + "\n").encode())
            self.received = recv_all(conn)

    def join(self) -> None:
        self.thread.join(TIMEOUT)
        self.listener.close()
        assert not self.thread.is_alive()


class FailingStdout(io.StringIO):
    def __init__(self, exc: BaseException) -> None:
        super().__init__()
        self.exc = exc

    def write(self, text: str) -> int:
        raise self.exc


@pytest.mark.parametrize(
    ("exc", "status"),
    [(BrokenPipeError(32, "Broken pipe"), 1), (KeyboardInterrupt(), cli.EXIT_INTERRUPTED)],
    ids=["stdout-closed", "ctrl-c"],
)
def test_broken_stdout_and_ctrl_c_leave_quietly_and_close_the_socket(exc, status, open_stdin, alarm):
    fake = FakeServer()
    err = io.StringIO()

    argv = ["127.0.0.1", "--port", str(fake.port)]
    assert cli.main(argv, stdin_fd=open_stdin, stdout=FailingStdout(exc), stderr=err) == status

    fake.join()  # returns only because the client closed its socket
    assert fake.received == b"mode json\n"
    assert err.getvalue() == ""


# --- the CLI against a real server ------------------------------------------------------------


class Server:
    """``python -m pollchat.server`` on 127.0.0.1, a free port, a fresh data directory and
    one preconfigured account ``user1`` with password ``123``."""

    def __init__(self, tmp: Path) -> None:
        accounts = tmp / "accounts.toml"
        accounts.write_text(f'[[account]]\nname = "user1"\npassword_hash = "{hash_password("123", 1000)}"\n')
        self.log = open(tmp / "server.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*SERVER, "--max-users", "4", "--port", "0", "--host", "127.0.0.1",
             "--data-dir", str(tmp / "data"), "--kdf-iterations", "1000", "--accounts", str(accounts),
             "--replay", "0", "--no-game", "--web-port", "0", "--irc-port", "0", "--irc-tls-port", "0", "--register-rate", "0",  # the foundation's login flow
             "--min-password-length", "1"],  # with its short passwords
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        first = read_line(self.proc.stdout.fileno())
        assert first.startswith("listening on 127.0.0.1:"), first
        self.port = int(first.rsplit(":", 1)[1])

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(TIMEOUT)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(TIMEOUT)
            self.proc.stdout.close()
            self.log.close()


def read_line(fd: int) -> str:
    """One line from ``fd``, byte by byte (nothing after it is consumed), within TIMEOUT."""
    data = b""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while not data.endswith(b"\n"):
            assert sel.select(TIMEOUT), f"no complete line within {TIMEOUT} s, got {data!r}"
            byte = os.read(fd, 1)
            assert byte, f"EOF before a complete line, got {data!r}"
            data += byte
    return data.decode("utf-8").removesuffix("\n")


@pytest.fixture
def server(tmp_path) -> Iterator[Server]:
    srv = Server(tmp_path)
    yield srv
    srv.stop()


class Peer:
    """A raw socket client, like ``nc``, speaking text mode."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.file = self.sock.makefile("rb")
        assert self.line() == texts.GREETING

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode("utf-8"))

    def line(self) -> str:
        raw = self.file.readline()
        assert raw, "the server closed the connection"
        return raw.decode("utf-8").removesuffix("\n")

    def lines(self, count: int) -> list[str]:
        return [self.line() for _ in range(count)]

    def close(self) -> None:
        self.file.close()
        self.sock.close()


@pytest.fixture
def observer(server) -> Iterator[Peer]:
    """``user1``, logged in before the test starts, alone in the chat."""
    peer = Peer(server.port)
    peer.send("login\nuser1,123\n")
    assert peer.lines(2) == ["Access Provided", "active users are: user1"]
    yield peer
    peer.close()


def register(server: Server, observer: Peer, name: str, password: str) -> None:
    """Create an account, and wait (through the observer) until its session is over."""
    peer = Peer(server.port)
    peer.send(f"register\n{name},{password}\n")
    assert peer.lines(2) == ["Access Provided", f"active users are: user1 {name}"]
    peer.close()
    assert observer.lines(2) == [f"{name} has entered the chat", f"{name} has left the chat"]


def client(port: int, *args: str, input: bytes = b"", **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [*CLIENT, "127.0.0.1", "--port", str(port), *args],
        cwd=REPO_ROOT,
        input=input,
        capture_output=True,
        timeout=TIMEOUT,
        **kwargs,
    )
    out, err = result.stdout.decode(), result.stderr.decode()
    return subprocess.CompletedProcess(result.args, result.returncode, out, err)


def test_pipe_session_logs_in_says_hi_and_leaves_cleanly(server, observer):
    result = client(server.port, input=b"register\nalice,pw\nhi\n")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [texts.GREETING, "Access Provided", "active users are: user1 alice"]
    assert result.stderr == ""
    assert observer.lines(3) == ["alice has entered the chat", "alice: hi", "alice has left the chat"]


def test_preconfigured_login_from_a_pipe_as_in_the_readme(server):
    result = client(server.port, input=b"login\nuser1,123\nhi\n")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [texts.GREETING, "Access Provided", "active users are: user1"]


def test_server_errors_are_shown_in_text_wording_never_as_json(server):
    # Two failures only: a third would make the server close before the input ends.
    result = client(server.port, input=b"hello\nlogin\nuser1,wrong\nregister\nuser1,x\n")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [texts.GREETING, texts.GREETING, "Wrong Password", "username is already used"]


def test_unreachable_server_is_one_line_on_stderr_and_exit_1():
    with socket.socket() as bound:  # bound, never listening: connecting is refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        result = client(port)

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"pollchat-client: cannot connect to 127.0.0.1:{port}: ")
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_server_shutdown_while_connected_shows_the_notice_then_exit_1(server):
    r, w = os.pipe()  # stdin that stays open: the user has not ended the input
    try:
        proc = subprocess.Popen(
            [*CLIENT, "127.0.0.1", "--port", str(server.port)],
            cwd=REPO_ROOT, stdin=r, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
        )
        os.close(r)
        try:
            assert read_line(proc.stdout.fileno()) == texts.GREETING  # connected
            assert server.stop() == 0
            out, err = proc.communicate(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=TIMEOUT)
    finally:
        os.close(w)

    assert out.decode().splitlines() == ["server is shutting down"]
    assert err.decode() == f"pollchat-client: {texts.CLIENT_SERVER_CLOSED}\n"
    assert proc.returncode == 1


def start_client(port: int, stdin: int) -> subprocess.Popen[bytes]:
    """The client with SIGINT at its default (a background shell job would inherit it
    ignored, and Python would then never raise KeyboardInterrupt)."""
    return subprocess.Popen(
        [*CLIENT, "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def test_ctrl_c_leaves_quietly_with_status_130(server, observer):
    r, w = os.pipe()
    try:
        proc = start_client(server.port, r)
        os.close(r)
        try:
            os.write(w, b"register\nfrank,pw\n")
            shown = [read_line(proc.stdout.fileno()) for _ in range(3)]
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=TIMEOUT)
    finally:
        os.close(w)

    assert proc.returncode == cli.EXIT_INTERRUPTED
    assert err == b""
    assert out == b""
    assert shown == [texts.GREETING, "Access Provided", "active users are: user1 frank"]
    assert observer.lines(2) == ["frank has entered the chat", "frank has left the chat"]  # socket closed


def test_closed_stdout_ends_the_client_quietly(server, observer):
    r, w = os.pipe()
    try:
        proc = start_client(server.port, r)
        os.close(r)
        try:
            assert read_line(proc.stdout.fileno()) == texts.GREETING
            proc.stdout.close()  # like `pollchat-client HOST | head -1`
            os.write(w, b"register\nerin,pw\n")
            assert observer.line() == "erin has entered the chat"
            observer.send("anyone there?\n")  # the client must print it: EPIPE
            _, err = proc.communicate(timeout=TIMEOUT)  # skips the closed stdout
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=TIMEOUT)
    finally:
        os.close(w)

    assert proc.returncode == 1
    assert err == b""  # no traceback, no "Exception ignored" at exit
    assert observer.line() == "erin has left the chat"


def test_user_flag_asks_the_password_with_getpass_and_logs_in(server, observer, monkeypatch, alarm):
    password = "s3cr,ét pass"
    register(server, observer, "carol", password)
    prompts: list[str] = []

    def fake_getpass(prompt: str = "Password: ", stream: object = None) -> str:
        prompts.append(prompt)
        return password

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    monkeypatch.setattr(cli, "has_terminal", lambda fd: True)
    r, w = os.pipe()
    os.write(w, b"hi\n")
    os.close(w)
    out, err = io.StringIO(), io.StringIO()
    try:
        argv = ["127.0.0.1", "--port", str(server.port), "--user", "carol"]
        status = cli.main(argv, stdin_fd=r, stdout=out, stderr=err)
    finally:
        os.close(r)

    assert status == 0, err.getvalue()
    assert prompts == [texts.CLIENT_PASSWORD_PROMPT.format(name="carol")]
    assert out.getvalue().splitlines() == [texts.GREETING, "Access Provided", "active users are: user1 carol"]
    assert password not in out.getvalue() + err.getvalue()
    assert observer.lines(3) == ["carol has entered the chat", "carol: hi", "carol has left the chat"]


def test_user_flag_without_a_terminal_reads_the_password_from_the_first_line(server, observer):
    register(server, observer, "dave", "d4ve-pass")

    # A new session has no controlling terminal, so /dev/tty cannot be opened.
    result = client(server.port, "--user", "dave", input=b"d4ve-pass\nhello\n", start_new_session=True)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [texts.GREETING, "Access Provided", "active users are: user1 dave"]
    assert "d4ve-pass" not in result.stdout + result.stderr
    assert observer.lines(3) == ["dave has entered the chat", "dave: hello", "dave has left the chat"]


def test_user_flag_without_a_terminal_or_a_password_line_is_a_usage_error(server):
    result = client(server.port, "--user", "dave", start_new_session=True)

    assert result.returncode == 2
    assert result.stderr == "pollchat-client: " + texts.CLIENT_NO_PASSWORD.format(name="dave") + "\n"


# --- the command line itself ------------------------------------------------------------------


def test_help_exits_0_with_examples():
    result = subprocess.run([*CLIENT, "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT)

    assert result.returncode == 0
    assert "examples:" in result.stdout
    assert "printf 'login\\nuser1,123\\nhi\\n' | pollchat-client 127.0.0.1" in result.stdout
    assert "130" in result.stdout  # the Ctrl+C exit status is documented


def test_version():
    result = subprocess.run([*CLIENT, "--version"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT)

    assert result.returncode == 0
    assert result.stdout.startswith("pollchat-client 0.")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ([], "the following arguments are required: HOST"),
        (["localhost", "--port", "0"], "argument --port: must be from 1 to 65535, got 0"),
        (["localhost", "--port", "x"], "argument --port: 'x' is not a whole number"),
        (["localhost", "--user", "a,b"], "argument --user: invalid user name 'a,b'"),
        (["localhost", "--nope"], "unrecognized arguments: --nope"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args, fragment):
    result = subprocess.run([*CLIENT, *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT)

    assert result.returncode == 2
    assert result.stderr.startswith("pollchat-client: ")
    assert fragment in result.stderr
    assert result.stderr.count("\n") == 1


def test_client_never_imports_the_server_or_the_store():
    code = (
        "import sys, pollchat.client.cli, pollchat.client.plain, pollchat.client;"
        "print(sorted(m for m in sys.modules if m.startswith(('pollchat.server', 'pollchat.store'))))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=TIMEOUT)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert plain.PROG == "pollchat-client"
