"""The IRC gateway with real processes and sockets: an IRC user, a netcat (TCP) user and a
browser (WebSocket, JSON) user in one chat, under one seat budget (issue 23)."""

from __future__ import annotations

import base64
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from pollchat.core.passwords import hash_password

from tests.loopback.test_cli import ServerProcess, server_args, start_server

TIMEOUT = 5.0
IRC_RE = re.compile(r"irc: listening on 127\.0\.0\.1:(\d+)")
WEB_RE = re.compile(r"web client: (http://127\.0\.0\.1:\d+/)")


def web_and_irc(proc: ServerProcess) -> tuple[str, int]:
    """Wait until ``proc`` listens and read its start-up lines: ``(the web client's
    address, the IRC port)``.

    Raises:
        AssertionError: the lines did not come within its first three lines.
    """
    proc.wait_listening()
    page = irc_port = None
    for _ in range(3):
        line = proc.out.readline() or ""
        if (m := WEB_RE.fullmatch(line)) is not None:
            page = m.group(1)
        if (m := IRC_RE.fullmatch(line)) is not None:
            irc_port = int(m.group(1))
            break
    assert page is not None and irc_port is not None, "no 'web client:' and 'irc: listening on' lines"
    return page, irc_port


class IrcClient:
    """A line-based IRC client on a blocking socket with a timeout."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""
        self.seen: list[str] = []

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\r\n" for line in lines).encode())

    def line(self) -> str:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError(f"connection closed; lines so far: {self.seen[-10:]}")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\r\n", 1)
        line = raw.decode()
        self.seen.append(line)
        return line

    def expect(self, pattern: str) -> str:
        """The first coming line matching ``pattern`` (others before it are skipped)."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            line = self.line()
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r}; last lines: {self.seen[-10:]}")

    def closed(self) -> bool:
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except OSError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[ServerProcess, int, str]]:
    """A server with three seats, the web listener and the IRC gateway on free ports."""
    args = server_args(
        tmp_path / "data", "--max-users", "3", "--max-connections-per-address", "0", "--rate-limit", "0",
        "--irc-server-name", "irc.test",
    )
    with start_server(args, tmp_path) as proc:
        page, irc_port = web_and_irc(proc)
        yield proc, irc_port, page
        assert proc.stop() == 0


def event(ws: ClientConnection) -> dict[str, Any]:
    message = ws.recv(timeout=TIMEOUT)
    assert isinstance(message, str)
    return json.loads(message)


def events_until(ws: ClientConnection, kind: str) -> dict[str, Any]:
    got = event(ws)
    while got["type"] != kind:
        got = event(ws)
    return got


def irc_register(port: int, name: str, password: str) -> IrcClient:
    """A new IRC user through IRCv3 draft/account-registration's REGISTER."""
    irc = IrcClient(port)
    irc.send("CAP LS 302", f"NICK {name}", "USER u 0 * :Real Name", f"REGISTER * * {password}", "CAP END")
    irc.expect(rf" 001 {name} ")
    return irc


def test_irc_tcp_and_browser_users_share_one_chat(server: tuple[ServerProcess, int, str]) -> None:
    proc, irc_port, page = server
    tcp = proc.client()
    tcp.send(b"register\nbob,pw\n")
    assert tcp.readline() == b"Access Provided"
    tcp.readline()
    with connect(page.replace("http://", "ws://") + "ws", open_timeout=TIMEOUT) as ws:
        event(ws)
        ws.send("register")
        ws.send("carol,pw")
        assert events_until(ws, "welcome")["users"] == ["bob", "carol"]
        assert tcp.readline() == b"carol has entered the chat"

        irc = irc_register(irc_port, "alice", "secret")
        assert irc.expect(r" 353 alice = #lobby :") == ":irc.test 353 alice = #lobby :bob carol alice"
        assert tcp.readline() == b"alice has entered the chat"
        assert events_until(ws, "entered")["name"] == "alice"

        # lines both ways, in the main chat
        tcp.send(b"hello from netcat\n")
        assert irc.expect("PRIVMSG") == ":bob!bob@pollchat PRIVMSG #lobby :hello from netcat"
        irc.send("PRIVMSG #lobby :hello from irssi")
        assert tcp.readline() == b"alice: hello from irssi"
        assert events_until(ws, "message")["text"] == "hello from netcat"
        message = events_until(ws, "message")
        assert (message["sender"], message["text"]) == ("alice", "hello from irssi")
        irc.send("PRIVMSG #lobby :\x01ACTION waves\x01")
        assert tcp.readline() == b"* alice waves"

        # private messages
        irc.send("PRIVMSG bob :just for you")
        assert tcp.readline() == b"[private] alice: just for you"
        tcp.send(b"/msg alice yes\n")
        assert tcp.readline() == b"[private to alice] yes"
        assert irc.expect("PRIVMSG alice") == ":bob!bob@pollchat PRIVMSG alice yes"
        irc.send("PRIVMSG nobody :hi")
        assert irc.expect(" 401 ") == ":irc.test 401 alice nobody :No such nick/channel"

        # groups are channels
        irc.send("JOIN #team")
        irc.expect(r" 366 alice #team ")
        tcp.send(b"/join #team\n")
        assert tcp.readline() == b"[#team] bob has joined the group"
        assert irc.expect("JOIN #team") == ":bob!bob@pollchat JOIN #team"
        tcp.send(b"#team ready?\n")
        assert irc.expect("PRIVMSG #team") == ":bob!bob@pollchat PRIVMSG #team ready?"
        irc.send("TOPIC #team :release plans")
        assert tcp.readline() == b"[#team] alice set the topic: release plans"
        irc.send("NAMES #team")
        assert irc.expect(" 353 ") == ":irc.test 353 alice = #team :@alice bob"
        irc.send("LIST")
        assert irc.expect(" 322 alice #team") == ":irc.test 322 alice #team 2 :release plans"
        irc.send("KICK #team bob :enough")
        assert tcp.readline() == b"[#team] bob was removed from the group by alice"
        assert irc.expect("KICK #team bob") == ":alice!alice@pollchat KICK #team bob enough"

        # away, who, whois
        irc.send("AWAY :lunch")
        assert irc.expect(" 306 ")
        assert tcp.readline() == b"alice is now away: lunch"
        irc.send("WHOIS bob")
        assert irc.expect(" 311 ") == ":irc.test 311 alice bob ~bob pollchat * bob"
        assert irc.expect(" 330 ") == ":irc.test 330 alice bob bob :is logged in as"
        irc.expect(" 318 ")

        # one seat budget: three seats taken, a fourth user is refused with the seed's text
        full = IrcClient(irc_port)
        full.send("CAP LS 302", "NICK dave", "USER u 0 * :D", "REGISTER * * pw", "CAP END")
        assert full.expect(" 465 ") == ":irc.test 465 dave :Max number of chat users"
        full.close()

        # quitting is the main chat's left notice
        irc.send("QUIT :see you")
        assert irc.expect("^ERROR ")
        assert tcp.readline() == b"alice has left the chat (see you)"
        assert events_until(ws, "left")["name"] == "alice"
        irc.close()


def test_pass_login_wrong_password_and_name_in_use(server: tuple[ServerProcess, int, str]) -> None:
    proc, irc_port, _ = server
    tcp = proc.client()
    tcp.send(b"register\nbob,pw\n")
    assert tcp.readline() == b"Access Provided"
    wrong = IrcClient(irc_port)
    wrong.send("PASS bob:nope", "NICK bob", "USER u 0 * :B")
    assert wrong.expect(" 464 ") == ":irc.test 464 bob :Wrong Password"
    wrong.close()
    twice = IrcClient(irc_port)
    twice.send("PASS bob:pw", "NICK bob", "USER u 0 * :B")
    assert twice.expect(" 433 ") == ":irc.test 433 * bob :Nickname is already in use"
    twice.close()


def test_sasl_plain_logs_in_an_account_made_on_another_front_end(server: tuple[ServerProcess, int, str]) -> None:
    proc, irc_port, _ = server
    tcp = proc.client()
    tcp.send(b"register\nerin,sesame\n")
    assert tcp.readline() == b"Access Provided"
    tcp.readline()
    tcp.send(b"/quit\n")
    irc = IrcClient(irc_port)
    irc.send("CAP LS 302", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
    irc.expect("^AUTHENTICATE \\+")
    irc.send("AUTHENTICATE " + base64.b64encode(b"\0erin\0sesame").decode())
    irc.expect(" 900 ")
    irc.expect(" 903 ")
    irc.send("NICK erin", "USER u 0 * :E", "CAP END")
    irc.expect(" 001 erin ")
    irc.close()


def test_guests_only_with_the_flag(tmp_path: Path) -> None:
    for flag, expected in (((), " 464 "), (("--irc-guests",), " 001 guest ")):
        args = server_args(tmp_path / f"data{len(flag)}", "--max-users", "2", "--no-web", *flag)
        with start_server(args, tmp_path) as proc:
            proc.wait_listening()
            port = None
            for _ in range(3):
                if (m := IRC_RE.fullmatch(proc.out.readline() or "")) is not None:
                    port = int(m.group(1))
                    break
            assert port is not None
            irc = IrcClient(port)
            irc.send("NICK guest", "USER u 0 * :G")
            irc.expect(expected)
            irc.close()
            assert proc.stop() == 0


def test_oper_with_an_admin_of_the_accounts_file_and_replies_in_order(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.toml"
    accounts.write_text(f'[[account]]\nname = "root"\nrole = "admin"\npassword_hash = "{hash_password("toor", 1000)}"\n')
    args = server_args(
        tmp_path / "data", "--max-users", "3", "--no-web", "--irc-guests", "--irc-server-name", "irc.test",
        "--accounts", str(accounts),
    )
    with start_server(args, tmp_path) as proc:
        proc.wait_listening()
        port = None
        for _ in range(3):
            if (m := IRC_RE.fullmatch(proc.out.readline() or "")) is not None:
                port = int(m.group(1))
                break
        assert port is not None
        irc = IrcClient(port)
        irc.send("NICK visitor", "USER u 0 * :V")
        irc.expect(" 001 visitor ")
        irc.send("OPER root wrong", "PING one")
        assert irc.expect(" 464 |PONG") == ":irc.test 464 visitor :Password incorrect"
        irc.expect("PONG .* one")
        irc.send("OPER root toor", "PING two", "WHOIS visitor")
        assert " 381 visitor " in irc.expect(" 381 |PONG")  # the check ran first, then the PONG
        irc.expect("PONG .* two")
        irc.expect(" 313 visitor visitor ")
        irc.close()
        assert proc.stop() == 0


def test_irc_over_tls_and_tls_only_leaves_out_the_plain_port(tmp_path: Path) -> None:
    """With a certificate the gateway also listens with TLS (RFC 7194's 6697 by default);
    with ``--tls-only`` its plain port is not opened either."""
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    args = server_args(
        tmp_path / "data", "--max-users", "2", "--no-web", "--irc-guests", "--tls-only", "--tls-port", "0",
        "--tls-cert", str(tmp_path / "cert.pem"), "--tls-key", str(tmp_path / "key.pem"),
    )  # fmt: skip
    with start_server(args, tmp_path) as proc:
        lines = [proc.out.readline() or "" for _ in range(2)]  # "tls: listening", "irc tls: listening"
        assert not any(line.startswith("irc: ") for line in lines), lines
        match = next((m for line in lines if (m := re.fullmatch(r"irc tls: listening on 127\.0\.0\.1:(\d+)", line))), None)
        assert match is not None, lines
        context = ssl.create_default_context()
        ca.configure_trust(context)
        raw = socket.create_connection(("127.0.0.1", int(match.group(1))), timeout=TIMEOUT)
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"NICK secure\r\nUSER u 0 * :S\r\n")
            data = b""
            while b" 001 secure " not in data:
                chunk = tls.recv(65536)
                assert chunk, data
                data += chunk
        assert proc.stop() == 0
