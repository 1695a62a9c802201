"""Loopback test harness: a real :class:`~pollchat.server.app.Server`, stepped by the test.

The server runs in the test's own thread: nothing happens on it unless the harness calls
``server.run_once`` (password hashing runs in the server's worker threads and wakes the
loop through its wake-up socket). Clients are plain non-blocking sockets on 127.0.0.1;
every wait alternates one server pass with a non-blocking ``recv`` and has a deadline, so
a missing line fails the test with a message instead of hanging it.

Usage::

    from tests.harness import harness, make_harness  # noqa: F401  (pytest fixtures)

    def test_chat(harness):
        a = harness.login("user1", "123")
        b = harness.login("user2", "345")      # checks a got "user2 has entered the chat"
        a.send(b"hello\\n")
        assert b.line() == "user1: hello"
        a.expect_silence()

Every received chunk is checked: server lines never contain ``\\r`` or NUL.

Time and chance can be pinned: ``make_harness(clock=FakeClock(), seed=1)`` gives the
server one fake clock for timestamps, idle times and its loop timers (moved with
:meth:`Harness.advance`) and a seeded ``random.Random`` for the game.
"""

from __future__ import annotations

import json
import random
import re
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from pollchat import texts
from pollchat.config import ServerConfig
from pollchat.core.accounts import Account
from pollchat.core.passwords import hash_password
from pollchat.core.seats import AccountKind
from pollchat.server.app import Server
from pollchat.server.connection import Connection
from pollchat.server.timers import Timers
from pollchat.store.database import DATABASE_NAME, Database

KDF_ITERATIONS = 1000
PASS_TIMEOUT = 0.01
"""Longest a single server pass may sleep in ``select()`` while the harness waits."""
DEFAULT_TIMEOUT = 5.0
SILENCE = 0.15
JSON_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
"""The ``ts`` of every JSON event: UTC ISO 8601 with milliseconds."""

PRECONFIGURED = {"user1": "123", "user2": "345", "user3": "123"}
"""The seed-004 accounts (name -> password)."""

TEST_SETTINGS: dict[str, object] = dict(
    kdf_iterations=KDF_ITERATIONS,
    # The foundation's byte-exact login flow (--replay 0 --no-game); tests of history
    # replay and the game turn them back on.
    replay=0,
    games=False,
    # Tests open many connections and send fast: the protection limits are off unless a
    # test turns one on.
    max_connections_per_address=0,
    login_timeout=0,
    rate_limit=0,
    throttle_after=0,
    lockout_after=0,
    address_lockout_after=0,
    account_throttle_after=0,
    register_rate=0,
    # One listener unless a test asks for the browser's (web=True, web_port=0).
    web=False,
    # seed-004 flows use short passwords ("123"): tests of the rule turn it on.
    min_password_length=1,
)
"""The server settings both harnesses start from (this one over sockets, the in-process
one in tests/service_harness.py): the seed's byte-exact flow, protections off, one
listener; a test passes its own to change one."""

_HASHES: dict[tuple[str, str], str] = {}


def preconfigured_accounts(accounts: dict[str, str] | None = None, admins: Iterable[str] = ()) -> list[Account]:
    """``Account`` objects for ``accounts`` (hashes computed once per test session); the
    names in ``admins`` get the admin role (``role = "admin"`` in an accounts file)."""
    admins = set(admins)
    result = []
    for name, password in (PRECONFIGURED if accounts is None else accounts).items():
        key = (name, password)
        if key not in _HASHES:
            _HASHES[key] = hash_password(password, KDF_ITERATIONS)
        result.append(Account(name, _HASHES[key], AccountKind.PRECONFIGURED, admin=name in admins))
    unknown = admins - {account.name for account in result}
    assert not unknown, f"admins {sorted(unknown)} are not among the preconfigured accounts"
    return result


FAKE_EPOCH = 1_700_000_000.0
"""Where a :class:`FakeClock` starts: 2023-11-14 22:13:20 UTC."""


class FakeClock:
    """A clock that moves only when the test says so.

    One object serves as the server's wall clock (timestamps, idle times, history) and
    as its timers' monotonic clock, so :meth:`Harness.advance` moves both together.
    """

    def __init__(self, start: float = FAKE_EPOCH) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "time only moves forward"
        self.now += seconds


class Client:
    """One test client: a non-blocking socket and the bytes received so far.

    Attributes:
        name: the account it is logged in as (set by :meth:`Harness.login`), else None.
        eof: the server closed the connection (``recv`` gave ``b""``).
        reset: the connection was reset (ECONNRESET and friends).
    """

    def __init__(self, harness: Harness, sock: socket.socket) -> None:
        self.harness = harness
        self.sock = sock
        sock.setblocking(False)
        self.buf = bytearray()
        self.eof = False
        self.reset = False
        self.name: str | None = None
        self.gone = False  # closed by the test

    # --- identity ---------------------------------------------------------------------------

    @property
    def local_port(self) -> int:
        return self.sock.getsockname()[1]

    def __repr__(self) -> str:
        return f"<Client {self.name or '-'} port={self.local_port if not self.gone else '?'}>"

    # --- sending -----------------------------------------------------------------------------

    def send(self, data: bytes, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Send all of ``data``, running server passes while the kernel buffer is full."""
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while view:
            try:
                sent = self.sock.send(view)
            except (BlockingIOError, InterruptedError):
                sent = 0
            view = view[sent:]
            if view:
                if time.monotonic() > deadline:
                    pytest.fail(f"{self!r}: could not send {len(view)} more bytes within {timeout}s")
                self.harness.pump()

    def send_bytewise(self, data: bytes) -> None:
        """One byte per ``send()``, with a server pass between bytes."""
        for i in range(len(data)):
            self.send(data[i : i + 1])
            self.harness.pump()

    # --- receiving -----------------------------------------------------------------------

    def drain(self) -> bool:
        """Read whatever the kernel has (no server pass). True if anything came."""
        got = False
        while not (self.eof or self.reset or self.gone):
            try:
                data = self.sock.recv(256 * 1024)
            except (BlockingIOError, InterruptedError):
                break
            except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
                self.reset = True
                break
            if not data:
                self.eof = True
                break
            assert b"\r" not in data, f"{self!r}: server sent a carriage return: {bytes(data)[:200]!r}"
            assert b"\x00" not in data, f"{self!r}: server sent a NUL byte: {bytes(data)[:200]!r}"
            self.buf += data
            got = True
        return got

    def take_line(self) -> str | None:
        """A complete line already received (no recv, no server pass), or None."""
        nl = self.buf.find(b"\n")
        if nl == -1:
            return None
        raw = bytes(self.buf[:nl])
        del self.buf[: nl + 1]
        return raw.decode("utf-8")

    def line(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        """The next complete line (without ``\\n``), pumping the server until it arrives."""
        deadline = time.monotonic() + timeout
        while True:
            self.drain()
            line = self.take_line()
            if line is not None:
                return line
            if self.eof or self.reset:
                pytest.fail(
                    f"{self!r}: connection {'reset' if self.reset else 'closed'} while waiting for a line; "
                    f"unterminated rest: {bytes(self.buf)!r}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"{self!r}: no complete line within {timeout}s; partial: {bytes(self.buf)[:200]!r}")
            self.harness.pump()

    def lines(self, n: int, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        """The next ``n`` lines."""
        return [self.line(timeout) for _ in range(n)]

    def event(self, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any]:
        """The next line as a JSON-mode event; checks what every event has: an object
        with a string ``type`` and a ``ts`` in UTC ISO 8601 with milliseconds."""
        line = self.line(timeout)
        obj = json.loads(line)
        assert isinstance(obj, dict), f"{self!r}: not a JSON object: {line!r}"
        assert isinstance(obj.get("type"), str), f"{self!r}: no type: {line!r}"
        assert JSON_TS.match(str(obj.get("ts", ""))), f"{self!r}: bad ts: {line!r}"
        return obj

    def expect(self, *expected: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """The next lines are exactly ``expected``, in order."""
        got = []
        for _ in expected:
            got.append(self.line(timeout))
            assert got == list(expected[: len(got)]), f"{self!r}: expected {list(expected)}, got {got}"

    def raw(self, nbytes: int, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        """Exactly the next ``nbytes`` bytes as received."""
        deadline = time.monotonic() + timeout
        while len(self.buf) < nbytes:
            if not self.drain():
                if self.eof or self.reset:
                    pytest.fail(f"{self!r}: closed after {len(self.buf)} of {nbytes} bytes: {bytes(self.buf)!r}")
                if time.monotonic() > deadline:
                    pytest.fail(f"{self!r}: only {len(self.buf)} of {nbytes} bytes within {timeout}s")
                self.harness.pump()
        data = bytes(self.buf[:nbytes])
        del self.buf[:nbytes]
        return data

    def wait_readable(self, timeout: float = 1.0) -> bool:
        """Wait until the kernel has bytes (or EOF) for this client *without* running a
        server pass -- what clients see while a ``serve_forever`` server sleeps in
        ``select()``. Returns whether the socket became readable."""
        readable, _, _ = select.select([self.sock], [], [], timeout)
        return bool(readable)

    def expect_silence(self, duration: float = SILENCE, min_passes: int = 5) -> None:
        """Pump the server for ``duration`` seconds (and at least ``min_passes`` passes);
        assert that nothing arrived and the connection is still open."""
        deadline = time.monotonic() + duration
        passes = 0
        while passes < min_passes or time.monotonic() < deadline:
            self.harness.pump()
            passes += 1
            self.drain()
            assert not self.buf, f"{self!r}: expected silence, got {bytes(self.buf)[:300]!r}"
            assert not (self.eof or self.reset), f"{self!r}: expected silence, but the server closed the connection"

    def closed(self, timeout: float = DEFAULT_TIMEOUT) -> list[str]:
        """Pump until the server closes the connection (EOF or reset); return the complete
        lines that arrived before the close. Fails on an unterminated rest."""
        deadline = time.monotonic() + timeout
        while not (self.eof or self.reset):
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{self!r}: server did not close the connection within {timeout}s; got {bytes(self.buf)[:300]!r}"
                )
            self.harness.pump()
            self.drain()
        lines = []
        while (line := self.take_line()) is not None:
            lines.append(line)
        assert not self.buf, f"{self!r}: unterminated bytes before close: {bytes(self.buf)!r}"
        return lines

    # --- disconnecting -------------------------------------------------------------------

    def close(self) -> None:
        """A clean close (FIN). Reads what is pending first: closing a socket with unread
        data would make the kernel send a reset instead."""
        if self.gone:
            return
        self.drain()
        self._forget()
        self.sock.close()

    def half_close(self) -> None:
        """``shutdown(SHUT_WR)``: the server sees EOF, the socket stays readable."""
        self.sock.shutdown(socket.SHUT_WR)
        self.harness.forget_online(self)

    def reset_connection(self) -> None:
        """Close with ``SO_LINGER`` on and a zero timeout: the kernel sends a RST."""
        if self.gone:
            return
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._forget()
        self.sock.close()

    def _forget(self) -> None:
        self.gone = True
        self.harness.forget_online(self)


class Harness:
    """Owns one server (restartable on the same data directory) and its test clients.

    Args:
        data_dir: where the server keeps ``pollchat.db``.
        accounts: preconfigured accounts, name -> password (default: the seed-004 three).
        admins: names among ``accounts`` that have the admin role (issue 5).
        clock: a :class:`FakeClock` for the server's wall clock *and* its timers (kept
            across :meth:`restart`); default: the real clocks.
        seed: seed of the server's ``random.Random`` (the game's numbers); a fresh
            generator with this seed is made at every (re)start.
        config: :class:`ServerConfig` overrides (``max_users`` defaults to 4).
    """

    def __init__(
        self,
        data_dir: Path,
        accounts: dict[str, str] | None = None,
        *,
        admins: Iterable[str] = (),
        clock: FakeClock | None = None,
        seed: int | None = None,
        store_url: str | None = None,
        **config: object,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.store_url = store_url
        """The PostgreSQL database the server runs on (``None``: SQLite in ``data_dir``)."""
        self.accounts = PRECONFIGURED if accounts is None else accounts
        self.admins = tuple(admins)
        self.clock = clock
        self.seed = seed
        self.passes = 0
        """Server passes run through :meth:`pump` so far (all servers of this harness)."""
        settings: dict[str, object] = dict(
            max_users=4,
            host="127.0.0.1",
            port=0,
            data_dir=self.data_dir,
            linger=0.5,
            **TEST_SETTINGS,
            irc=False,  # the IRC gateway's tests turn it on (irc=True, irc_port=0)
        )
        settings.update(config)
        self.config = ServerConfig(**settings)  # type: ignore[arg-type]
        self.clients: list[Client] = []
        self.online: list[Client] = []  # logged in through login(), in login order
        self.server: Server
        self._start()

    # --- the server ------------------------------------------------------------------------

    def _start(self) -> None:
        self._stopped = False
        extra: dict[str, object] = {}
        if self.clock is not None:
            extra.update(timers=Timers(clock=self.clock), clock=self.clock)
        if self.seed is not None:
            extra.update(rng=random.Random(self.seed))
        if self.store_url is not None:
            from pollchat.store.pgviews import open_pg_views

            database: Any = open_pg_views(self.store_url)
        else:
            database = Database.open(self.data_dir / DATABASE_NAME)
        self.server = Server(
            self.config,
            preconfigured_accounts(self.accounts, self.admins),
            database,
            **extra,  # type: ignore[arg-type]
        )

    @property
    def address(self) -> tuple[str, int]:
        return self.server.address

    def pump(self, passes: int = 1, timeout: float = PASS_TIMEOUT) -> None:
        """Run ``passes`` server passes."""
        for _ in range(passes):
            self.passes += 1
            self.server.run_once(timeout)

    def advance(self, seconds: float, passes: int = 3) -> None:
        """Move the fake clock forward by ``seconds`` and run ``passes`` server passes
        (the first one runs every timer that became due)."""
        assert self.clock is not None, "advance() needs a harness made with clock=FakeClock()"
        self.clock.advance(seconds)
        self.pump(passes)

    def pump_until(self, predicate: Callable[[], bool], what: str, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Run passes until ``predicate()``; fail with ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout}s waiting for: {what}")
            self.pump()

    def stop(self, close_clients: bool = True) -> None:
        """Shut the server down (bounded), close it and, by default, every client."""
        if self._stopped:
            return
        self._stopped = True
        if close_clients:
            for client in list(self.clients):
                client.reset_connection()  # no linger on either side
            self.pump(3)
        server = self.server
        server.shutdown()
        deadline = time.monotonic() + self.config.linger + 5
        while not server.finished and time.monotonic() < deadline:
            server.run_once(PASS_TIMEOUT)
        server.close()

    def restart(self) -> None:
        """Stop this server (closing every client) and start a new one on the same data
        directory and configuration (the port changes)."""
        self.stop()
        self.clients.clear()
        self.online.clear()
        self._start()

    @contextmanager
    def workers_held(self) -> Iterator[threading.Event]:
        """Occupy every password worker until the block ends (or the yielded event is
        set), so that several password checks are queued before any result comes back."""
        gate = threading.Event()
        for _ in range(max(1, self.config.hash_workers)):
            self.server.pool.submit(gate.wait, DEFAULT_TIMEOUT, on_done=lambda f: None)
        try:
            yield gate
        finally:
            gate.set()

    # --- looking inside --------------------------------------------------------------------

    def server_conn(self, client: Client) -> Connection:
        """The server's connection object for ``client`` (matched by port)."""
        self.pump_until(lambda: self._find_conn(client) is not None, f"server to accept {client!r}")
        conn = self._find_conn(client)
        assert conn is not None
        return conn

    def unflushed(self) -> list[Connection]:
        """Open connections holding queued output with no write interest registered: after
        a pass there must be none ("write before sleeping"), or that output waits for an
        unrelated event to wake the loop."""
        return [c for c in self.server.loop.connections if c.outbuf and not c.writing and not c.closed]

    def _find_conn(self, client: Client) -> Connection | None:
        peer = f"127.0.0.1:{client.local_port}"
        for conn in self.server.loop.connections:
            if conn.peer == peer:
                return conn
        return None

    def stored(self) -> Any:
        """A separate connection to what the server has stored (SQLite: the file;
        PostgreSQL: the blocking engine on the same database), for a ``with`` block."""
        if self.store_url is not None:
            from pollchat.store.postgres import open_postgres

            return open_postgres(self.store_url)
        return Database.open(self.data_dir / DATABASE_NAME)

    def sqlite_only(self, why: str) -> None:
        """Skip the test on PostgreSQL: it is about the SQLite file (``why``)."""
        if self.store_url is not None:
            pytest.skip(f"SQLite only: {why}")

    def find_account(self, name: str) -> Account | None:
        """The registered account called ``name`` (any case) in the server's database."""
        from pollchat.protocol.names import name_key

        return self.server.database.find(name_key(name))

    # --- clients -----------------------------------------------------------------------------

    def connect(self, *, greet: bool = True, sock: socket.socket | None = None, rcvbuf: int | None = None) -> Client:
        """A new client. With ``greet`` (default) its first line must be the greeting.

        Args:
            sock: an unconnected socket to use (e.g. created earlier to hold a descriptor).
            rcvbuf: ``SO_RCVBUF`` set before connecting (a small window for slow readers).
        """
        if sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(DEFAULT_TIMEOUT)
        sock.connect(self.address)  # completes in the kernel's backlog, no server pass needed
        return self.adopt(sock, greet=greet)

    def adopt(self, sock: socket.socket, *, greet: bool = False) -> Client:
        """Make a :class:`Client` of a socket the test connected itself (closed at the end
        of the test like the others)."""
        client = Client(self, sock)
        self.clients.append(client)
        if greet:
            assert client.line() == texts.GREETING
        return client

    def login(
        self,
        name: str,
        password: str,
        *,
        verb: str = "login",
        client: Client | None = None,
        shown_as: str | None = None,
    ) -> Client:
        """Log in (or register, with ``verb="register"``) and check the whole exchange:
        ``Access Provided``, the active-users list (every client logged in through this
        harness, in login order, then this one), and ``NAME has entered the chat`` as the
        next line of every other such client.

        Args:
            client: an already greeted client to use (default: a new connection).
            shown_as: the display name, if it differs from ``name`` (case, NFC).
        """
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

    def register(self, name: str, password: str, **kwargs: object) -> Client:
        """:meth:`login` with ``verb="register"``."""
        return self.login(name, password, verb="register", **kwargs)  # type: ignore[arg-type]

    def forget_online(self, client: Client) -> None:
        """``client`` is no longer logged in (it left or was dropped)."""
        if client in self.online:
            self.online.remove(client)


@pytest.fixture
def make_harness(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """A factory: ``make_harness(accounts=None, *, admins=(), clock=None, seed=None,
    **config_overrides)``; every harness is stopped at the end of the test, whatever
    happened."""
    yield from harnesses(tmp_path)


ENGINES = ["sqlite", "postgresql"]
"""The store engines a module's harnesses run on when it makes ``make_harness`` a
parametrised fixture with :func:`harnesses_on_engine` (the suites that matter for data)."""


def harnesses_on_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """:func:`make_harness` on the engine ``request.param`` names: SQLite, or the chat's
    PostgreSQL store on a fresh database of the test server (tests/postgres.py, skipped
    without it). Use as::

        @pytest.fixture(params=ENGINES)
        def make_harness(request, tmp_path):
            yield from harnesses_on_engine(request, tmp_path)
    """
    if request.param == "sqlite":
        yield from harnesses(tmp_path)
        return
    yield from harnesses(tmp_path, request.getfixturevalue("pg_url"))


def harnesses(tmp_path: Path, store_url: str | None = None) -> Iterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def factory(accounts: dict[str, str] | None = None, **config: object) -> Harness:
        if store_url is not None and made:
            raise AssertionError("one PostgreSQL database per test: one harness (restart() it instead)")
        h = Harness(tmp_path / f"data{len(made)}", accounts, store_url=store_url, **config)  # type: ignore[arg-type]
        made.append(h)
        return h

    yield factory
    for h in made:
        try:
            h.stop()
        finally:
            for client in h.clients:
                if not client.gone:
                    client.sock.close()


@pytest.fixture
def harness(make_harness: Callable[..., Harness]) -> Harness:
    """A harness with the default settings: max users 4, the three seed-004 accounts."""
    return make_harness()

