"""The chat service over in-memory peers: the loopback harness's API without a socket.

h11 tests its protocol machine with a ``ConnectionPair``: two ends in memory, bytes
handed across by the test. This module does the same for the chat: a
:class:`ServiceHarness` builds the chat exactly as the server does
(:func:`pollchat.server.build.build_chat`, over a real SQLite file so a restart keeps
what the server keeps) and each :class:`MemoryClient` is one peer, a
:class:`~pollchat.server.peer.Peer` whose bytes go through the same
:class:`~pollchat.protocol.codec.LineCodec` as a TCP connection's. Behaviour tests of
the chat (commands, presence, moderation, delivery) run here in milliseconds; the
loopback suite (``tests/loopback/``) keeps what needs a socket: framing across TCP
segments, disconnects, the loop's passes.

The API mirrors :class:`tests.harness.Harness` and :class:`tests.harness.Client`
(``login``, ``register``, ``connect``, ``advance``, ``restart``; ``send``, ``line``,
``expect``, ``raw``, ``event``, ``expect_silence``, ``closed``), so a test reads the same
at either level. A "pass" (:meth:`ServiceHarness.pump`) does what one loop pass does
for the service, in the loop's order: input that arrived is decoded and handed over,
finished password work is answered (first in, first out: one worker), due timers run,
and the pass's history is written (``after_pass``). Time is always a
:class:`~tests.harness.FakeClock`; nothing waits, so a missing line fails at once.

Usage::

    from tests.service_harness import chat, make_chat  # noqa: F401  (pytest fixtures)

    def test_chat(chat):
        a = chat.login("user1", "123")
        b = chat.login("user2", "345")
        a.send(b"hello\\n")
        assert b.line() == "user1: hello"
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from pollchat import texts
from pollchat.config import ServerConfig
from pollchat.core.accounts import Account
from pollchat.core.hub import Hub
from pollchat.protocol.codec import LineCodec
from pollchat.protocol.events import ServerEvent
from pollchat.protocol.names import name_key
from pollchat.server.build import build_chat
from pollchat.server.service import ChatService, PeerOutput
from pollchat.server.timers import Timers
from pollchat.store.database import DATABASE_NAME, Database
from tests.harness import JSON_TS, PRECONFIGURED, TEST_SETTINGS, FakeClock, preconfigured_accounts

PASSES = 5
"""Passes :meth:`MemoryClient.line` and :meth:`MemoryClient.closed` run before they
fail: password work answers in the pass after it was submitted, and a retried check
(a pipelined ``/passwd``) in the one after that."""


class DeferredPool:
    """Password work run at the next pass, in the order submitted: the server's worker
    pool with one worker, minus the thread."""

    def __init__(self) -> None:
        self.jobs: list[tuple[Callable[..., Any], tuple[Any, ...], Callable[[Future[Any]], None]]] = []

    def submit(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Future[Any]], None]) -> None:
        self.jobs.append((fn, args, on_done))

    def run(self) -> None:
        """Finish the work submitted before this call; work it submits waits a pass."""
        jobs, self.jobs = self.jobs, []
        for fn, args, on_done in jobs:
            future: Future[Any] = Future()
            try:
                future.set_result(fn(*args))
            except Exception as exc:  # handed to on_done, as a worker's exception would be
                future.set_exception(exc)
            on_done(future)


class MemoryPeer:
    """The server's end: a :class:`~pollchat.server.peer.Peer` whose events are
    encoded by a :class:`~pollchat.protocol.codec.LineCodec` into the bytes its
    :class:`MemoryClient` has received."""

    def __init__(self, harness: ServiceHarness, conn_id: int, port: int) -> None:
        self.harness = harness
        self.id = conn_id
        self.address = self.host = "127.0.0.1"
        self.peer = f"127.0.0.1:{port}"
        self.session: Any = None
        self.timer: Any = None
        self.bucket: Any = None
        self.dropped = 0
        self.closing = False
        self.peer_eof = False
        self.close_reason = ""
        self.reading = True
        self.codec = LineCodec(harness.config.max_line)
        self.received = bytearray()  # what the client end has received

    def __repr__(self) -> str:
        return f"<MemoryPeer #{self.id}>"

    def send(self, event: ServerEvent) -> None:
        self.write(self.encode(event))

    def encode(self, event: ServerEvent) -> bytes:
        return self.codec.encode(event, self.harness.clock())

    def write(self, data: bytes) -> None:
        if not self.closing:
            assert b"\r" not in data and b"\x00" not in data, f"{self!r}: server sent {data[:200]!r}"
            self.received += data

    def switch_mode(self, mode: str) -> None:
        self.codec.switch_mode(mode)

    def close(self, reason: str, *, flush: bool = True) -> None:
        """Bytes already written stay received (a flushed close delivers them; the
        loopback suite tests what an unflushed one drops)."""
        if self.closing:
            return
        self.closing, self.close_reason = True, reason
        self.harness.service.disconnected(self)

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True


class MemoryClient:
    """The client's end of one :class:`MemoryPeer`: it sends bytes (read by the
    server at the next pass, unless reading is paused) and reads lines.

    Attributes:
        conn: the server's end.
        name: the account it is logged in as (set by :meth:`ServiceHarness.login`).
        local_port: the made-up port of this end (in ``conn.peer``).
        reset: always ``False`` (no transport to reset); kept for the loopback API.
    """

    _ports = itertools.count(40001)

    def __init__(self, harness: ServiceHarness, conn_id: int) -> None:
        self.harness = harness
        self.local_port = next(self._ports)
        self.conn = MemoryPeer(harness, conn_id, self.local_port)
        self.buf = self.conn.received
        self.inbox = bytearray()  # sent, not yet read by the server
        self.eof_sent = False  # the client ended its input
        self.eof_told = False  # ... and the server has read that
        self.reset = False
        self.name: str | None = None
        self.gone = False  # closed by the test

    def __repr__(self) -> str:
        return f"<MemoryClient {self.name or '-'} #{self.conn.id}>"

    @property
    def eof(self) -> bool:
        """The server closed the connection."""
        return self.conn.closing

    def send(self, data: bytes) -> None:
        """Bytes from the client: the server reads them at the next pass."""
        assert not self.gone and not self.eof_sent, f"{self!r}: its input has ended"
        self.inbox += data

    def send_bytewise(self, data: bytes) -> None:
        """One byte per pass."""
        for i in range(len(data)):
            self.send(data[i : i + 1])
            self.harness.pump()

    def take_line(self) -> str | None:
        """A complete line already received, or None."""
        nl = self.buf.find(b"\n")
        if nl == -1:
            return None
        raw = bytes(self.buf[:nl])
        del self.buf[: nl + 1]
        return raw.decode("utf-8")

    def line(self) -> str:
        """The next complete line (without ``\\n``), running passes until it is there."""
        for _ in range(PASSES + 1):
            line = self.take_line()
            if line is not None:
                return line
            if self.conn.closing:
                pytest.fail(f"{self!r}: connection closed while waiting for a line; rest: {bytes(self.buf)!r}")
            self.harness.pump()
        pytest.fail(f"{self!r}: no complete line after {PASSES} passes; partial: {bytes(self.buf)[:200]!r}")

    def lines(self, n: int) -> list[str]:
        """The next ``n`` lines."""
        return [self.line() for _ in range(n)]

    def event(self) -> dict[str, Any]:
        """The next line as a JSON-mode event (a ``type`` string, a UTC ``ts``)."""
        line = self.line()
        obj = json.loads(line)
        assert isinstance(obj, dict), f"{self!r}: not a JSON object: {line!r}"
        assert isinstance(obj.get("type"), str), f"{self!r}: no type: {line!r}"
        assert JSON_TS.match(str(obj.get("ts", ""))), f"{self!r}: bad ts: {line!r}"
        return obj

    def expect(self, *expected: str) -> None:
        """The next lines are exactly ``expected``, in order."""
        got: list[str] = []
        for _ in expected:
            got.append(self.line())
            assert got == list(expected[: len(got)]), f"{self!r}: expected {list(expected)}, got {got}"

    def raw(self, nbytes: int) -> bytes:
        """Exactly the next ``nbytes`` bytes as received."""
        for _ in range(PASSES + 1):
            if len(self.buf) >= nbytes:
                data = bytes(self.buf[:nbytes])
                del self.buf[:nbytes]
                return data
            self.harness.pump()
        pytest.fail(f"{self!r}: only {len(self.buf)} of {nbytes} bytes: {bytes(self.buf)!r}")

    def expect_silence(self, duration: float = 0.0, passes: int = PASSES) -> None:
        """Run ``passes`` passes: nothing arrived and the connection is open
        (``duration`` is the loopback API's; no time passes here)."""
        for _ in range(passes):
            self.harness.pump()
            assert not self.buf, f"{self!r}: expected silence, got {bytes(self.buf)[:300]!r}"
            assert not self.conn.closing, f"{self!r}: expected silence, but the server closed the connection"

    def closed(self) -> list[str]:
        """Run passes until the server has closed the connection; the complete lines
        that arrived before the close. Fails on an unterminated rest."""
        for _ in range(PASSES):
            if self.conn.closing:
                break
            self.harness.pump()
        assert self.conn.closing, f"{self!r}: server did not close the connection; got {bytes(self.buf)[:300]!r}"
        lines = []
        while (line := self.take_line()) is not None:
            lines.append(line)
        assert not self.buf, f"{self!r}: unterminated bytes before close: {bytes(self.buf)!r}"
        return lines

    def half_close(self) -> None:
        """End the input (a FIN): the server reads what was sent, then the EOF."""
        self.eof_sent = True
        self.harness.forget_online(self)

    def close(self) -> None:
        """Hang up (a FIN, the socket closed): the server reads what was sent, then
        the EOF, at the next pass; nothing more is read by this end."""
        if self.gone:
            return
        self.eof_sent = True
        self.harness.pump()
        self.gone = True
        self.harness.forget_online(self)


class ServiceHarness:
    """The chat as the server builds it, over in-memory peers; restartable on its
    database file.

    Args:
        data_dir: where ``pollchat.db`` is kept.
        accounts: preconfigured accounts, name -> password (default: the seed-004 three).
        admins: names among ``accounts`` with the admin role.
        clock: the fake clock of timestamps, idle times and timers (default: a new
            :class:`~tests.harness.FakeClock`).
        seed: seed of the game's ``random.Random``.
        config: :class:`ServerConfig` overrides; the defaults are the loopback
            harness's (4 seats, no replay, no game, protections off).
    """

    def __init__(
        self,
        data_dir: Path,
        accounts: dict[str, str] | None = None,
        *,
        admins: Iterable[str] = (),
        clock: FakeClock | None = None,
        seed: int | None = None,
        **config: object,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.accounts = PRECONFIGURED if accounts is None else accounts
        self.admins = tuple(admins)
        self.clock = clock or FakeClock()
        self.seed = seed
        settings: dict[str, object] = dict(
            max_users=4,
            data_dir=self.data_dir,
            **TEST_SETTINGS,
        )
        settings.update(config)
        self.config = ServerConfig(**settings)  # type: ignore[arg-type]
        self.passes = 0
        self.clients: list[MemoryClient] = []
        self.online: list[MemoryClient] = []
        self._ids = itertools.count(1)
        self._start()

    # --- the service -----------------------------------------------------------------------

    def _start(self) -> None:
        self.stopping = False
        self.database = Database.open(self.data_dir / DATABASE_NAME)
        self.pool = DeferredPool()
        self.timers = Timers(clock=self.clock)
        self.service: ChatService[Any] = build_chat(
            self.config,
            self.database.sync_preconfigured(preconfigured_accounts(self.accounts, self.admins)),
            self.database,
            pool=self.pool,
            timers=self.timers,
            output=PeerOutput(),
            clock=self.clock,
            rng=random.Random(self.seed) if self.seed is not None else None,
            on_shutdown=self.shutdown,
        )

    @property
    def hub(self) -> Hub[Any]:
        return self.service.hub

    def pump(self, passes: int = 1) -> None:
        """Run ``passes`` passes (see the module docstring)."""
        for _ in range(passes):
            self.passes += 1
            for client in list(self.clients):
                self._read(client)
            self.pool.run()
            self.timers.run_due()
            self.service.after_pass()

    def _read(self, client: MemoryClient) -> None:
        """What one pass reads of ``client``: its bytes, then its end of input."""
        conn = client.conn
        if conn.closing or not conn.reading:
            return
        if client.inbox:
            data, client.inbox = bytes(client.inbox), bytearray()
            self.service.received(conn, conn.codec.receive_data(data))
        if client.eof_sent and not client.eof_told and not conn.closing and conn.reading:
            client.eof_told = conn.peer_eof = True
            self.service.eof(conn)

    def advance(self, seconds: float, passes: int = 3) -> None:
        """Move the clock forward by ``seconds`` and run ``passes`` passes."""
        self.clock.advance(seconds)
        self.pump(passes)

    def pump_until(self, predicate: Callable[[], bool], what: str, passes: int = 50) -> None:
        for _ in range(passes):
            if predicate():
                return
            self.pump()
        pytest.fail(f"not after {passes} passes: {what}")

    def shutdown(self) -> None:
        """The server's graceful shutdown (the end of an admin's countdown): everyone
        is told and closed."""
        if self.stopping:
            return
        self.stopping = True
        self.service.shut_down([c.conn for c in self.clients if not c.conn.closing])

    def restart(self) -> None:
        """Drop every client (as a server stop does), close the database and build the
        chat again on the same file."""
        for client in self.clients:
            client.conn.close("server restart", flush=False)
            client.gone = True
        self.pump()
        self.service.history.close()
        self.database.close()
        self.clients.clear()
        self.online.clear()
        self._start()

    def find_account(self, name: str) -> Account | None:
        """The registered account called ``name`` (any case) in the database."""
        return self.database.find(name_key(name))

    def server_conn(self, client: MemoryClient) -> MemoryPeer:
        """The server's end of ``client``."""
        return client.conn

    # --- clients -----------------------------------------------------------------------------

    def connect(self, *, greet: bool = True) -> MemoryClient:
        """A new client, connected and greeted (its greeting read, with ``greet``)."""
        client = MemoryClient(self, next(self._ids))
        self.clients.append(client)
        self.service.connected(client.conn)
        if client.conn.codec.ready:
            self.service.ready(client.conn)
        if greet:
            assert client.line() == texts.GREETING
        return client

    def login(
        self,
        name: str,
        password: str,
        *,
        verb: str = "login",
        client: MemoryClient | None = None,
        shown_as: str | None = None,
    ) -> MemoryClient:
        """Log in (or register) and check the whole exchange, as
        :meth:`tests.harness.Harness.login` does."""
        client = client or self.connect()
        shown = shown_as or name
        client.send(f"{verb}\n{name},{password}\n".encode())
        others = [c for c in self.online if not c.gone]
        users = " ".join([c.name for c in others] + [shown])  # type: ignore[misc]
        client.expect(texts.ACCESS_PROVIDED, f"active users are: {users}")
        for other in others:
            assert other.line() == f"{shown} has entered the chat", f"{other!r} did not get {shown}'s entered notice"
        client.name = shown
        self.online.append(client)
        return client

    def register(self, name: str, password: str, **kwargs: Any) -> MemoryClient:
        """:meth:`login` with ``verb="register"``."""
        return self.login(name, password, verb="register", **kwargs)

    def forget_online(self, client: MemoryClient) -> None:
        """``client`` is no longer logged in (it left or was dropped)."""
        if client in self.online:
            self.online.remove(client)

    def close(self) -> None:
        """Write what history is pending and close the database."""
        self.service.history.close()
        self.database.close()


@pytest.fixture
def make_chat(tmp_path: Path) -> Iterator[Callable[..., ServiceHarness]]:
    """A factory: ``make_chat(accounts=None, *, admins=(), clock=None, seed=None,
    **config_overrides)``; every chat's database is closed at the end of the test."""
    made: list[ServiceHarness] = []

    def factory(accounts: dict[str, str] | None = None, **config: Any) -> ServiceHarness:
        chat = ServiceHarness(tmp_path / f"data{len(made)}", accounts, **config)
        made.append(chat)
        return chat

    yield factory
    for chat in made:
        chat.close()


@pytest.fixture
def chat(make_chat: Callable[..., ServiceHarness]) -> ServiceHarness:
    """A chat with the default settings: max users 4, the three seed-004 accounts."""
    return make_chat()
