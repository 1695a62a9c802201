"""The chat service over peers that are not sockets (pollchat.server.service).

The service only knows the small Peer protocol, so a front end that is not a TCP
connection -- here an in-memory peer whose lines are rendered as text -- gets the same
login flow, seats, notices and protections. No socket, no selector, no thread: password
work runs inline and time is a fake clock.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from collections.abc import Callable
from pathlib import Path

import pytest

from pollchat.config import ServerConfig
from pollchat.core.passwords import hash_password
from pollchat.protocol.codec import LineCodec
from pollchat.protocol.events import Error
from pollchat.protocol.render import render_text
from pollchat.server import commands as commands_module
from pollchat.server.build import build_chat
from pollchat.server.service import ChatService, PeerOutput
from pollchat.server.timers import Timers
from pollchat.store.database import Database
from pollchat.texts import ErrorCode
from tests.harness import FakeClock, preconfigured_accounts


class InlinePool:
    """Runs password work at once, on the calling thread."""

    def submit(self, fn, *args, on_done) -> None:  # type: ignore[no-untyped-def]
        future: Future[object] = Future()
        future.set_result(fn(*args))
        on_done(future)


class MemoryPeer:
    """A Peer kept in memory: what it is sent, as text lines."""

    _ids = iter(range(1, 1_000_000))

    def __init__(self, service: ChatService, host: str = "10.0.0.1") -> None:
        self.id = next(self._ids)
        self.host = self.address = host
        self.peer = f"{host}:{40000 + self.id}"
        self.session = self.timer = self.bucket = None
        self.dropped = 0
        self.closing = self.peer_eof = False
        self.close_reason = ""
        self.lines: list[str] = []
        self.paused = False
        self._service = service
        self._codec = LineCodec(4096)

    def send(self, event) -> None:  # type: ignore[no-untyped-def]
        self.write(self.encode(event))

    def encode(self, event) -> bytes:  # type: ignore[no-untyped-def]
        return b"" if self.closing else self._codec.encode(event, 0.0)

    def write(self, data: bytes) -> None:
        if not self.closing:
            self.lines += data.decode().splitlines()

    def switch_mode(self, mode: str) -> None:
        self._codec.switch_mode(mode)

    def close(self, reason: str, *, flush: bool = True) -> None:
        if not self.closing:
            self.closing, self.close_reason = True, reason
            self._service.disconnected(self)

    def pause_reading(self) -> None:
        self.paused = True

    def resume_reading(self) -> None:
        self.paused = False

    def type(self, data: bytes) -> None:
        self._service.received(self, self._codec.receive_data(data))

    def take(self) -> list[str]:
        lines, self.lines = self.lines, []
        return lines


def make_service(**overrides: object) -> ChatService:
    """The chat as the server builds it (:func:`build_chat`), over an in-memory store,
    with inline password work, a fake clock and peers told one by one."""
    config = ServerConfig(
        **{"max_users": 5, "kdf_iterations": 1, "replay": 0, "games": False, "login_timeout": 0, **overrides}  # type: ignore[arg-type]
    )
    clock = FakeClock()
    database = Database.open(Path(":memory:"))
    return build_chat(
        config,
        database.sync_preconfigured(preconfigured_accounts()),
        database,
        pool=InlinePool(),
        timers=Timers(clock=clock),
        output=PeerOutput(),
        clock=clock,
        dummy_hash=hash_password("x", 1),
    )


def join(service: ChatService, host: str = "10.0.0.1") -> MemoryPeer:
    peer = MemoryPeer(service, host)
    service.connected(peer)
    service.ready(peer)
    return peer


def test_a_peer_without_a_socket_gets_the_seed_004_flow_and_the_chat() -> None:
    service = make_service()
    alice, user1 = join(service), join(service)
    assert alice.take() == ["type login or register and then give user,password"]
    alice.type(b"register\nalice,secret-pw\n")
    assert alice.take() == ["Access Provided", "active users are: alice"]
    user1.take()
    user1.type(b"login\nuser1,123\nhello\n")
    assert user1.take() == ["Access Provided", "active users are: alice user1"]
    assert alice.take() == ["user1 has entered the chat", "user1: hello"]
    user1.close("peer closed")
    assert alice.take() == ["user1 has left the chat"]


def test_the_protections_hold_for_any_front_end() -> None:
    service = make_service(max_connections_per_address=1)
    first, second = join(service, "10.0.0.7"), join(service, "10.0.0.7")
    assert second.closing and second.take() == [render_text(Error.of(ErrorCode.TOO_MANY_CONNECTIONS))]
    assert not first.closing
    first.take()
    for _ in range(3):
        first.type(b"login\nuser1,wrong\n")
    assert first.take() == ["Wrong Password"] * 3 + [render_text(Error.of(ErrorCode.TOO_MANY_ATTEMPTS))]
    assert first.closing


def test_broadcasts_reach_exactly_the_logged_in_peers_as_the_hub_joins_and_leaves_them() -> None:
    """The hub's join and leave effects keep the output's list of logged-in peers: a
    peer still at the login prompt, and one that logged out, get no chat lines."""
    service = make_service()
    output = service.output
    assert isinstance(output, PeerOutput)
    alice, bob, guest = join(service), join(service), join(service)
    alice.type(b"login\nuser1,123\n")
    bob.type(b"login\nuser2,345\n")
    assert list(output.joined) == [alice, bob]
    for peer in (alice, bob, guest):
        peer.take()
    alice.type(b"hello\n")
    assert bob.take() == ["user1: hello"] and guest.take() == []
    bob.type(b"/quit\n")
    assert list(output.joined) == [alice] and bob.closing
    bob.take()
    alice.type(b"still here\n")
    assert bob.take() == [] and guest.take() == []


def test_a_command_that_fails_answers_one_error_line_and_the_session_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A server reinstalled under a running process loses its package data: /help then
    # raised FileNotFoundError and the connection closed without a word.
    def missing_manual(topic: str | None = None) -> str:
        raise FileNotFoundError("pollchat/manual.txt")

    monkeypatch.setattr(commands_module, "help_text", missing_manual)
    service = make_service()
    alice, user1 = join(service), join(service)
    alice.type(b"register\nalice,secret-pw\n")
    user1.type(b"login\nuser1,123\n")
    alice.take(), user1.take()
    with caplog.at_level(logging.ERROR, logger="pollchat.server.service"):
        alice.type(b"/help\n")
    assert alice.take() == [render_text(Error.of(ErrorCode.INTERNAL))]
    assert not alice.closing
    failures = [r for r in caplog.records if r.exc_info is not None]
    assert len(failures) == 1 and failures[0].exc_info[0] is FileNotFoundError  # type: ignore[index]
    assert "/help" in failures[0].getMessage()
    alice.type(b"still here\n")
    assert user1.take() == ["alice: still here"]


def test_a_chat_line_that_fails_answers_one_error_line_and_the_session_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    service = make_service()
    alice = join(service)
    alice.type(b"register\nalice,secret-pw\n")
    alice.take()

    def broken(*args: object, **kwargs: object) -> list[object]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(service.groups, "say", broken)
    alice.type(b"hello\n")
    assert alice.take() == [render_text(Error.of(ErrorCode.INTERNAL))]
    assert not alice.closing
    monkeypatch.undo()
    alice.type(b"/help msg\n")
    assert alice.take()[0] == "/msg NAME text"


def test_a_group_name_missing_here_is_looked_up_first_and_the_steps_after_it_wait_in_order() -> None:
    """A cluster node's view may lack a group another node made a moment ago: a step
    naming a ``#group`` no live group has (a command, a ``#g`` line, an action) asks
    ``fetch_group`` first, with reading paused; that step and the ones after it run,
    in order, once it answers; a name still missing then is answered as unknown (no
    second lookup); a line naming no group never asks."""
    service = make_service()
    asked: list[str] = []
    answers: list[Callable[[], None]] = []
    service.fetch_group = lambda key, then: (asked.append(key), answers.append(then))  # type: ignore[func-returns-value]
    service.groups.groups.reload_on_miss = True  # as a cluster node's
    alice, user1 = join(service), join(service)
    alice.type(b"register\nalice,secret-pw\n")
    user1.type(b"login\nuser1,123\n")
    alice.take(), user1.take()
    alice.type(b"just a line\n")
    assert asked == [] and user1.take() == ["alice: just a line"]
    alice.type(b"/join #Tea\nhello\n")
    assert asked == ["tea"] and alice.paused and alice.take() == [] and user1.take() == []
    owner = service.hub.accounts.find("user1")
    assert owner is not None
    service.groups.groups.store.create_group("tea", "public", owner.id, 0.0)  # made elsewhere meanwhile
    answers.pop()()
    assert not alice.paused and alice.take() == ["[#tea] alice has joined the group"]
    assert user1.take() == ["[#tea] alice has joined the group", "alice: hello"]
    alice.type(b"#nope hi\n/me #tea waves\n")
    assert asked == ["tea", "nope"]
    answers.pop()()  # nobody has it
    assert alice.take() == ["you are not in #nope: that line was not sent (to say it to everyone anyway: /say #nope ...)"]
    assert user1.take() == ["[#tea] * alice waves"]
    assert asked == ["tea", "nope"]  # #tea is known now: no second lookup


def test_the_irc_gateway_names_the_groups_of_a_request_but_never_its_main_channel() -> None:
    """What a cluster node looks up before an IRC request runs: the group a channel or
    a message's target names (as typed, without ``#``), not the main channel (any
    case), a nick, or a name no group could have."""
    from pollchat.protocol.requests import Join, Names, Part, Say
    from pollchat.server.irc import IrcGateway

    service = make_service()
    gateway = IrcGateway(service, "#lobby")  # type: ignore[arg-type]
    assert service.request_groups == gateway.named_groups
    named = gateway.named_groups
    assert named(Join("#tea")) == ["tea"] and named(Part("#Tea")) == ["Tea"] and named(Say("#tea", "hi")) == ["tea"]
    assert named(Join("#Lobby")) == named(Say("#lobby", "hi")) == named(Say("bob", "hi")) == []
    assert named(Names("")) == named(Join("#two words")) == []
