"""IRCv3 draft/chathistory on the IRC gateway, with the in-process harness: the history the
server keeps (the main chat, a group, a private conversation) read back by time and by
``msgid``, each message with the ``time`` and ``msgid`` tags it had live; on both store
engines (on PostgreSQL every page is a query answered in a later loop pass)."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness import DEFAULT_TIMEOUT, ENGINES, Harness, harnesses_on_engine

CAPS = "batch draft/chathistory echo-message message-tags server-time"


class Irc:
    """An IRC client on the harness's gateway port; every wait steps the server."""

    def __init__(self, harness: Harness) -> None:
        listener = harness.server.irc_listener
        assert listener is not None and listener.sock is not None
        self.harness = harness
        self.sock = socket.create_connection(listener.sock.getsockname()[:2], timeout=DEFAULT_TIMEOUT)
        self.sock.setblocking(False)
        self.buf = b""

    def send(self, *lines: str) -> None:
        self.sock.sendall("".join(line + "\r\n" for line in lines).encode())

    def line(self) -> str:
        deadline = time.monotonic() + DEFAULT_TIMEOUT
        while b"\r\n" not in self.buf:
            if time.monotonic() > deadline:
                pytest.fail(f"no line from the gateway; buffered: {self.buf[-300:]!r}")
            self.harness.pump()
            try:
                chunk = self.sock.recv(65536)
            except BlockingIOError:
                continue
            assert chunk, "the gateway closed the connection"
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\r\n", 1)
        return raw.decode()

    def expect(self, pattern: str) -> str:
        while True:
            line = self.line()
            if re.search(pattern, line):
                return line

    def until(self, pattern: str) -> list[str]:
        """The lines up to and including the first matching ``pattern``."""
        lines = [self.line()]
        while not re.search(pattern, lines[-1]):
            lines.append(self.line())
        return lines

    def history(self, command: str) -> list[str]:
        """The lines inside the batch answering ``command`` (a CHATHISTORY request)."""
        self.send(command)
        start = self.expect(r"^(:\S+ BATCH \+|:\S+ FAIL )")
        if " FAIL " in start:
            return [start]
        ref = start.split()[2][1:]
        assert start.split()[3:] == ["chathistory", command.split()[2]]
        body = self.until(rf" BATCH -{ref}$")[:-1]
        assert all(line.startswith(f"@batch={ref};") for line in body), body
        return [line.split(";", 1)[1] for line in body]


def irc_login(harness: Harness, name: str, password: str, caps: str = CAPS) -> Irc:
    irc = Irc(harness)
    irc.send("CAP LS 302", f"CAP REQ :{caps}", f"PASS {name}:{password}", f"NICK {name}", "USER u 0 * :R", "CAP END")
    irc.expect(rf" 001 {name} ")
    irc.expect(r" (376|422) ")
    return irc


@pytest.fixture(params=ENGINES)
def make_harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    yield from harnesses_on_engine(request, tmp_path)


@pytest.fixture
def gateway(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness({"ann": "pw", "ben": "pw", "cy": "pw"}, irc=True, irc_port=0)


def said(irc: Irc, target: str, texts: list[str]) -> list[str]:
    """Send ``texts`` to ``target``; their echoes (tags, source, command, text), in order."""
    echoes = []
    for text in texts:
        irc.send(f"PRIVMSG {target} :{text}")
        echoes.append(irc.expect(rf"PRIVMSG {re.escape(target)} :{re.escape(text)}$"))
        time.sleep(0.003)  # distinct milliseconds, so every time tag differs
    return echoes


def tag(line: str, name: str) -> str:
    return dict(item.split("=", 1) for item in line[1:].split(" ", 1)[0].split(";"))[name]


def test_capabilities_and_isupport_offer_chathistory(gateway: Harness) -> None:
    irc = Irc(gateway)
    irc.send("CAP LS 302")
    offered = irc.expect(" CAP \\* LS ").split(" :", 1)[1].split()
    assert "batch" in offered and "draft/chathistory" in offered
    irc.send(f"CAP REQ :{CAPS}", "PASS ann:pw", "NICK ann", "USER u 0 * :R", "CAP END")
    isupport = " ".join(irc.until(" 376 | 422 "))
    assert "CHATHISTORY=100" in isupport and "MSGREFTYPES=timestamp,msgid" in isupport


def test_every_subcommand_by_msgid_and_by_time_replays_the_live_tags(gateway: Harness) -> None:
    ann = irc_login(gateway, "ann", "pw")
    echoes = said(ann, "#lobby", [f"line {i}" for i in range(10)])
    assert len({tag(e, "msgid") for e in echoes}) == 10 and len({tag(e, "time") for e in echoes}) == 10
    live = echoes  # "@msgid=...;time=... :ann!ann@pollchat PRIVMSG #lobby :line i"
    msgid = [tag(e, "msgid") for e in echoes]
    when = [tag(e, "time") for e in echoes]

    def strip(lines: list[str]) -> list[str]:
        return ["@" + line for line in lines]

    assert strip(ann.history("CHATHISTORY LATEST #lobby * 50")) == live
    assert strip(ann.history("CHATHISTORY LATEST #lobby * 3")) == live[-3:]
    for ref, i in ((f"msgid={msgid[4]}", 4), (f"timestamp={when[4]}", 4)):
        assert strip(ann.history(f"CHATHISTORY LATEST #lobby {ref} 50")) == live[i + 1 :]
    for ref in (f"msgid={msgid[6]}", f"timestamp={when[6]}"):
        assert strip(ann.history(f"CHATHISTORY BEFORE #lobby {ref} 50")) == live[:6]
        assert strip(ann.history(f"CHATHISTORY BEFORE #lobby {ref} 2")) == live[4:6]
    for ref in (f"msgid={msgid[3]}", f"timestamp={when[3]}"):
        assert strip(ann.history(f"CHATHISTORY AFTER #lobby {ref} 50")) == live[4:]
        assert strip(ann.history(f"CHATHISTORY AFTER #lobby {ref} 3")) == live[4:7]
    for first, last in ((f"msgid={msgid[0]}", f"msgid={msgid[-1]}"), (f"timestamp={when[0]}", f"timestamp={when[-1]}")):
        assert strip(ann.history(f"CHATHISTORY BETWEEN #lobby {first} {last} 50")) == live[1:-1]
        assert strip(ann.history(f"CHATHISTORY BETWEEN #lobby {last} {first} 50")) == live[1:-1]
        assert strip(ann.history(f"CHATHISTORY BETWEEN #lobby {first} {last} 3")) == live[1:4]
        assert strip(ann.history(f"CHATHISTORY BETWEEN #lobby {last} {first} 3")) == live[-4:-1]
    for ref in (f"msgid={msgid[7]}", f"timestamp={when[7]}"):
        assert strip(ann.history(f"CHATHISTORY AROUND #lobby {ref} 1")) == live[7:8]
        assert strip(ann.history(f"CHATHISTORY AROUND #lobby {ref} 3")) == live[6:9]


def test_other_front_ends_lines_groups_and_private_conversations(gateway: Harness) -> None:
    ann = irc_login(gateway, "ann", "pw")
    ben = irc_login(gateway, "ben", "pw")
    cy = gateway.connect()  # netcat
    cy.send(b"login\ncy,pw\n")
    assert cy.line() == "Access Provided"
    ann.expect(" JOIN #lobby")
    cy.send(b"from netcat\n")
    live = ann.expect("PRIVMSG #lobby :from netcat$")
    assert ann.history("CHATHISTORY LATEST #lobby * 1") == [live[1:]]  # the msgid and time it had live

    ann.send("JOIN #crew")
    ann.expect(" 366 ann #crew ")
    said(ann, "#crew", ["crew only"])
    assert [line.rsplit(" :", 1)[1] for line in ann.history("CHATHISTORY LATEST #crew * 10")] == ["crew only"]
    fail = ben.history("CHATHISTORY LATEST #crew * 10")  # not a member
    assert re.fullmatch(r":\S+ FAIL CHATHISTORY INVALID_TARGET LATEST #crew :.+", fail[0]), fail

    said(ann, "ben", ["hi ben"])
    ben.expect("PRIVMSG ben :hi ben$")
    said(ben, "ann", ["hi ann"])
    cy.send(b"/msg ann not in that conversation\n")
    ann.expect("PRIVMSG ann :not in that conversation$")
    assert [line.split(" ", 1)[1] for line in ben.history("CHATHISTORY LATEST ANN * 10")] == [
        ":ann!ann@pollchat PRIVMSG ben :hi ben",
        ":ben!ben@pollchat PRIVMSG ann :hi ann",
    ]
    assert ann.history("CHATHISTORY LATEST ben * 10") == ben.history("CHATHISTORY LATEST ann * 10")

    ann.send("CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2100-01-01T00:00:00.000Z 10")
    start = ann.expect(" BATCH \\+")
    assert start.endswith(" draft/chathistory-targets")
    targets = [line.split()[4:] for line in ann.until(" BATCH -")[:-1]]
    assert [name for name, _ in targets] == ["#lobby", "#crew", "ben", "cy"]  # by their latest message
    crew_time = targets[1][1]
    ann.send(f"CHATHISTORY TARGETS timestamp={crew_time} timestamp=2100-01-01T00:00:00.000Z 2")
    ann.expect(" BATCH \\+")
    assert [line.split()[4] for line in ann.until(" BATCH -")[:-1]] == ["ben", "cy"]  # after #crew's, the first 2


@pytest.mark.parametrize(
    ("command", "reply"),
    [
        ("CHATHISTORY LATEST #nowhere * 10", "FAIL CHATHISTORY INVALID_TARGET LATEST #nowhere"),
        ("CHATHISTORY LATEST nobody * 10", "FAIL CHATHISTORY INVALID_TARGET LATEST nobody"),
        ("CHATHISTORY BEFORE #lobby msgid=123-abc 10", "FAIL CHATHISTORY MESSAGE_ERROR BEFORE #lobby"),
        (f"CHATHISTORY AFTER #lobby msgid={'f' * 400}-abc 10", "FAIL CHATHISTORY MESSAGE_ERROR AFTER #lobby"),
        ("CHATHISTORY AROUND #lobby msgid=zz 10", "FAIL CHATHISTORY MESSAGE_ERROR AROUND #lobby"),
        ("CHATHISTORY SIDEWAYS #lobby * 10", "FAIL CHATHISTORY INVALID_PARAMS SIDEWAYS"),
        ("CHATHISTORY BEFORE #lobby * 10", "FAIL CHATHISTORY INVALID_PARAMS BEFORE *"),
        ("CHATHISTORY BEFORE #lobby timestamp=yesterday 10", "FAIL CHATHISTORY INVALID_PARAMS BEFORE timestamp=yesterday"),
        ("CHATHISTORY LATEST #lobby * 0", "FAIL CHATHISTORY INVALID_PARAMS LATEST 0"),
        ("CHATHISTORY BETWEEN #lobby * 10", "FAIL CHATHISTORY INVALID_PARAMS BETWEEN"),
    ],
)
def test_refusals_are_the_specs_fails(gateway: Harness, command: str, reply: str) -> None:
    ann = irc_login(gateway, "ann", "pw")
    ann.send(command)
    assert f" {reply} " in ann.expect(" FAIL ")


def test_without_the_batch_capability_the_lines_come_alone(gateway: Harness) -> None:
    ann = irc_login(gateway, "ann", "pw", caps="draft/chathistory message-tags")
    ann.send("PRIVMSG #lobby :one", "PRIVMSG #lobby :two", "CHATHISTORY LATEST #lobby * 5", "PING :done")
    lines = ann.until("PONG")
    assert [line.rsplit(" ", 1)[1] for line in lines if "PRIVMSG" in line] == ["one", "two"]
    assert not any(" BATCH " in line for line in lines)
