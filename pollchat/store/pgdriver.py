"""A non-blocking PostgreSQL driver for the event loop: transactions in, completions out.

One :class:`psycopg.pq.PGconn` (libpq through psycopg 3's public low-level API), opened
with ``connect_start``/``connect_poll``, put in non-blocking and **pipeline mode**, and
its socket registered in the server's own ``selectors`` loop (``loop.watch``; write
interest only while ``flush()`` says libpq still holds bytes). No thread, no asyncio,
and no call here ever waits for the server.

Work is submitted as *transactions* (:meth:`PgDriver.submit`): a list of
``(sql, params)`` statements with ``$1``-style placeholders. Each is sent as its
statements followed by one pipeline ``Sync``, so PostgreSQL runs them as one implicit
transaction that commits at the ``Sync`` (libpq documentation, "Pipeline Mode"). A
transaction gets a **commit sequence number**; they are sent and completed in that
order on one connection, so "every number up to N is done" is one integer,
:attr:`PgDriver.done`. The completion callback (optional) runs on the loop with the
rows of each statement (``list[list[tuple]]``, psycopg's adaptation: parameters dumped
and rows loaded by :class:`psycopg.adapt.Transformer`) or a
:class:`~pollchat.errors.StoreError` when the server refused it (the transaction
changed nothing). Listeners of :attr:`PgDriver.on_done` learn of each advance.

Faults. A lost connection (the server restarted, ``pg_ctl stop -m immediate``, a reset)
puts every transaction that was in flight back at the head of the queue, logs one
line, and reconnects by itself after 0.5, 1, 2 ... :data:`RETRY_MAX` seconds; the
queue is then sent again in order (the statements the store sends are idempotent, so
a transaction that committed just before the loss may run twice harmlessly). The
queue is bounded (``max_queued`` transactions): past it :meth:`submit` raises
:class:`StoreError`, which the callers treat as a refused write. A stalled server
(a backend stopped with SIGSTOP, a proxy that stops forwarding) only makes the queue
grow: the loop never waits.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pollchat.errors import StoreError
from pollchat.store.urls import redact

try:
    import psycopg
    from psycopg import pq
    from psycopg.adapt import PyFormat, Transformer
    from psycopg.conninfo import conninfo_to_dict, make_conninfo
except ImportError:  # the optional extra is not installed
    psycopg = None  # type: ignore[assignment]

log = logging.getLogger("pollchat.store")

MAX_QUEUED = 20_000
"""Transactions kept (queued or in flight) while the server is slow or away."""
RETRY_FIRST = 0.5
RETRY_MAX = 10.0
"""Seconds before the first reconnection attempt, doubled after each failure up to this."""
CONNECT_TIMEOUT = 5.0
"""Seconds one non-blocking connection attempt may take before it counts as failed."""
MAX_IN_FLIGHT = 256
"""Transactions sent and not yet completed, at most: the rest wait in the queue, so a
stalled server does not make libpq buffer the whole queue."""

Rows = list[list[tuple[Any, ...]]]
Completion = Callable[["Rows | StoreError"], None]
Statement = tuple[str, Sequence[object]]


class Watcher(Protocol):
    """The part of :class:`~pollchat.server.loop.EventLoop` the driver uses."""

    def watch(self, fileobj: object, on_readable: Callable[[], None], on_writable: Callable[[], None] | None = None) -> None: ...

    def want_write(self, fileobj: object, on: bool) -> None: ...

    def unwatch(self, fileobj: object) -> None: ...


class Scheduler(Protocol):
    """The part of :class:`~pollchat.server.timers.Timers` the driver uses."""

    def call_later(self, delay: float, callback: Callable[..., None], *args: object) -> Any: ...


class Transaction:
    """Statements committed together, their sequence number and completion."""

    __slots__ = ("seq", "statements", "on_done", "rows", "error")

    def __init__(self, seq: int, statements: Sequence[Statement], on_done: Completion | None) -> None:
        self.seq = seq
        self.statements = statements
        self.on_done = on_done
        self.rows: Rows = []
        self.error: str | None = None


class PgDriver:
    """One non-blocking connection to ``conninfo`` driven by ``loop`` (see the module
    docstring).

    Args:
        conninfo: a libpq URL or ``key=value`` string; the password comes from libpq's
            own settings (``PGPASSWORD``, ``PGPASSFILE``), never from a command line.
        loop: registers the socket (:meth:`~pollchat.server.loop.EventLoop.watch`).
        timers: the loop's timers (reconnection back-off, connection timeout).
        max_queued: transactions kept at most (queued and in flight).
        clock: monotonic seconds (outage lengths in the log).

    Attributes:
        issued: the sequence number of the last transaction submitted (0: none).
        done: every transaction numbered up to this has completed (committed or
            refused).
        on_done: called with :attr:`done` after each pass of results that advanced it.
        on_state: called with ``True`` when the connection is (again) ready, ``False``
            when it is lost.
        backend_pid: the server process serving the connection (0 while not connected).
    """

    def __init__(
        self,
        conninfo: str,
        loop: Watcher,
        timers: Scheduler,
        *,
        max_queued: int = MAX_QUEUED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if psycopg is None:
            raise StoreError("PostgreSQL needs psycopg: pip install 'pollchat[postgres]'")
        self.conninfo = conninfo
        self._dsn = make_conninfo(conninfo, application_name="pollchat").encode()
        self.loop = loop
        self.timers = timers
        self.max_queued = max_queued
        self.clock = clock
        self.issued = 0
        self.done = 0
        self.on_done: list[Callable[[int], None]] = []
        self.on_state: list[Callable[[bool], None]] = []
        self.backend_pid = 0
        self._queue: deque[Transaction] = deque()  # not sent yet, in order
        self._in_flight: deque[Transaction] = deque()  # sent, results awaited, in order
        self._statement = 0  # index in the head in-flight transaction of the statement read next
        self._pgconn: Any = None
        self._fd: int | None = None
        self._ready = False
        self._closed = False
        self._lost_at: float | None = None
        self._delay = RETRY_FIRST
        self._retry: Any = None
        self._connect_deadline: Any = None
        self._writing = False
        self._transformer = Transformer()

    # --- the public side ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while the connection is up and ready for statements."""
        return self._ready

    @property
    def waiting(self) -> int:
        """Transactions queued or in flight."""
        return len(self._queue) + len(self._in_flight)

    def start(self, timeout: float = 10.0) -> None:
        """Connect before the loop runs (start-up: this one call blocks, at most
        ``timeout`` seconds); later reconnections never block.

        Raises:
            StoreError: the server cannot be reached or refuses the login (one line).
        """
        try:
            pgconn = pq.PGconn.connect(make_conninfo(self._dsn.decode(), connect_timeout=max(1, int(timeout))).encode())
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to {redact(self.conninfo)}: {_first_line(str(exc))}") from None
        if pgconn.status != pq.ConnStatus.OK:
            why = pgconn.error_message.decode("utf-8", "replace")
            pgconn.finish()
            raise StoreError(f"cannot connect to {redact(self.conninfo)}: {_first_line(why)}")
        pgconn.nonblocking = 1
        self._pgconn = pgconn
        self._pin_address(pgconn)
        self._watch(pgconn.socket)
        self._connected()

    def _pin_address(self, pgconn: Any) -> None:
        """Reconnect to the address found at start-up (``hostaddr``): ``connect_start``
        resolves a host name synchronously (libpq documentation), which would block the
        loop while DNS is slow. The name stays in the connection string for TLS checks
        and the password file."""
        try:
            address = pgconn.hostaddr.decode()
        except (psycopg.Error, AttributeError, UnicodeDecodeError):
            return
        settings = conninfo_to_dict(self._dsn.decode())
        if "," in str(settings.get("host", "")) or "hostaddr" in settings:
            return  # several hosts (libpq tries each) or an address given already
        if address and not address.startswith("/"):
            self._dsn = make_conninfo(self._dsn.decode(), hostaddr=address).encode()

    def submit(self, statements: Sequence[Statement], on_done: Completion | None = None) -> int:
        """Queue a transaction; its sequence number. It is sent at once when connected.

        Raises:
            StoreError: the queue holds ``max_queued`` transactions already (the server
                has been away or stalled for long); nothing was queued.
        """
        if self._closed:
            raise StoreError("the database connection is closed")
        if self.waiting >= self.max_queued:
            raise StoreError(f"{self.waiting} writes already wait for the database")
        self.issued += 1
        self._queue.append(Transaction(self.issued, statements, on_done))
        if self._ready:
            self._send()
        return self.issued

    def close(self, timeout: float = 5.0) -> None:
        """Try to write what waits for at most ``timeout`` seconds (shutdown: this one
        call may block), then close. Safe to call twice."""
        if self._closed:
            return
        self.drain(timeout)
        if self.waiting:
            log.error("%d database write(s) could not be made before shutdown and are lost", self.waiting)
        self._closed = True
        self._drop_connection()

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait (blocking, at most ``timeout`` seconds) until every transaction queued
        has completed, running their completions: for shutdown and for tests without
        a loop, never on the loop. Whether nothing waits any more."""
        deadline = time.monotonic() + timeout
        import selectors

        with selectors.DefaultSelector() as selector:
            while self.waiting and time.monotonic() < deadline:
                if self._pgconn is None or self._fd is None:
                    if self._retry is not None:
                        self._retry.cancel()
                        self._retry = None
                    self._connect()
                    if self._fd is None:
                        time.sleep(0.05)
                        continue
                events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._writing or not self._ready else 0)
                selector.register(self._fd, events)
                try:
                    ready = selector.select(min(0.1, max(0.0, deadline - time.monotonic())))
                finally:
                    selector.unregister(self._fd)
                for _key, mask in ready:
                    if mask & selectors.EVENT_WRITE:
                        self._on_writable()
                    if mask & selectors.EVENT_READ and self._fd is not None:
                        self._on_readable()
                if self._connect_deadline is not None and not self._ready and time.monotonic() > deadline:
                    break
        return not self.waiting

    # --- connecting -------------------------------------------------------------------------------

    def _connect(self) -> None:
        self._retry = None
        try:
            self._pgconn = pq.PGconn.connect_start(self._dsn)
        except psycopg.Error as exc:  # e.g. out of memory, a malformed conninfo
            self._connect_failed(str(exc))
            return
        if self._pgconn.status == pq.ConnStatus.BAD:
            self._connect_failed(self._error())
            return
        self._pgconn.nonblocking = 1
        self._connect_deadline = self.timers.call_later(CONNECT_TIMEOUT, self._connect_timed_out)
        self._poll_connect(pq.PollingStatus.WRITING)

    def _poll_connect(self, status: Any = None) -> None:
        pgconn = self._pgconn
        if status is None:
            status = pgconn.connect_poll()
        if status == pq.PollingStatus.FAILED:
            self._connect_failed(self._error())
            return
        self._watch(pgconn.socket, again=True)
        if status == pq.PollingStatus.OK:
            self._connected()
            return
        self._set_write(status == pq.PollingStatus.WRITING)

    def _connected(self) -> None:
        if self._connect_deadline is not None:
            self._connect_deadline.cancel()
            self._connect_deadline = None
        pgconn = self._pgconn
        pgconn.enter_pipeline_mode()
        self.backend_pid = pgconn.backend_pid
        self._ready = True
        self._set_write(False)
        if self._lost_at is not None:
            log.warning(
                "the database connection to %s is back after %.1f s: writing the %d write(s) kept meanwhile",
                redact(self.conninfo),
                self.clock() - self._lost_at,
                self.waiting,
            )
            self._lost_at = None
        self._delay = RETRY_FIRST
        for hook in self.on_state:
            hook(True)
        self._send()

    def _connect_timed_out(self) -> None:
        self._connect_deadline = None
        if not self._ready and self._pgconn is not None:
            self._connect_failed(f"no answer within {CONNECT_TIMEOUT:g} s")

    def _connect_failed(self, why: str) -> None:
        first = self._lost_at is None
        if first:
            self._lost_at = self.clock()
            log.error(
                "cannot connect to the database %s (%s): %d write(s) kept in memory (at most %d), retrying",
                redact(self.conninfo),
                _first_line(why),
                self.waiting,
                self.max_queued,
            )
        else:
            log.debug("database reconnection failed again (%s)", _first_line(why))
        self._drop_connection()
        self._schedule_retry()

    def _schedule_retry(self) -> None:
        if self._closed or self._retry is not None:
            return
        self._retry = self.timers.call_later(self._delay, self._connect)
        self._delay = min(self._delay * 2, RETRY_MAX)

    def _lost(self, why: str) -> None:
        """The connection broke: what was in flight goes back to the head of the queue."""
        requeued = len(self._in_flight)
        self._queue.extendleft(reversed(self._in_flight))
        self._in_flight.clear()
        self._statement = 0
        for transaction in self._queue:
            transaction.rows, transaction.error = [], None
        was_ready = self._ready
        self._drop_connection()
        if self._lost_at is None:
            self._lost_at = self.clock()
            log.error(
                "lost the database connection to %s (%s): %d write(s) (%d in flight) kept in memory and retried",
                redact(self.conninfo),
                _first_line(why),
                self.waiting,
                requeued,
            )
        if was_ready:
            for hook in self.on_state:
                hook(False)
        self._schedule_retry()

    def _drop_connection(self) -> None:
        self._ready = False
        self.backend_pid = 0
        if self._connect_deadline is not None:
            self._connect_deadline.cancel()
            self._connect_deadline = None
        if self._fd is not None:
            self.loop.unwatch(self._fd)
            self._fd = None
        self._writing = False
        if self._pgconn is not None:
            self._pgconn.finish()
            self._pgconn = None

    def _watch(self, fd: int, *, again: bool = False) -> None:
        # While connecting libpq may close its socket and open another (one address after
        # another), and the kernel may give the new one the same number: register again.
        if fd == self._fd and not again:
            return
        if self._fd is not None:
            self.loop.unwatch(self._fd)
        self._fd = fd
        self._writing = False
        self.loop.watch(fd, self._on_readable, self._on_writable)

    def _set_write(self, on: bool) -> None:
        if self._fd is not None and on != self._writing:
            self._writing = on
            self.loop.want_write(self._fd, on)

    # --- the loop's callbacks -----------------------------------------------------------------------

    def _on_writable(self) -> None:
        if self._pgconn is None:
            return
        if not self._ready:
            self._poll_connect()
            return
        self._flush()

    def _on_readable(self) -> None:
        pgconn = self._pgconn
        if pgconn is None:
            return
        if not self._ready:
            self._poll_connect()
            return
        try:
            pgconn.consume_input()
        except psycopg.OperationalError as exc:
            self._lost(str(exc))
            return
        if pgconn.status == pq.ConnStatus.BAD:
            self._lost(self._error())
            return
        before = self.done
        self._read_results()
        if self._pgconn is None:
            return
        if self.done != before:
            for hook in self.on_done:
                hook(self.done)
        self._send()

    # --- sending and reading -----------------------------------------------------------------------

    def _send(self) -> None:
        pgconn = self._pgconn
        if not self._ready or pgconn is None:
            return
        dump = self._transformer
        while self._queue and len(self._in_flight) < MAX_IN_FLIGHT:
            transaction = self._queue.popleft()
            try:
                for sql, params in transaction.statements:
                    dumped = dump.dump_sequence(params, [PyFormat.AUTO] * len(params)) if params else []
                    pgconn.send_query_params(
                        sql.encode(),
                        dumped or None,
                        param_types=dump.types if params else None,
                        param_formats=dump.formats if params else None,
                    )
                pgconn.pipeline_sync()
            except psycopg.OperationalError as exc:
                self._queue.appendleft(transaction)
                self._lost(str(exc))
                return
            self._in_flight.append(transaction)
        self._flush()

    def _flush(self) -> None:
        pgconn = self._pgconn
        if pgconn is None:
            return
        try:
            more = pgconn.flush()
        except psycopg.OperationalError as exc:
            self._lost(str(exc))
            return
        self._set_write(more == 1)

    def _read_results(self) -> None:
        """Take every result libpq has whole; complete the transactions whose ``Sync`` came."""
        pgconn = self._pgconn
        in_flight = self._in_flight
        while in_flight and not pgconn.is_busy():
            result = pgconn.get_result()
            head = in_flight[0]
            if result is None:  # the end of one statement's results
                self._statement += 1
                continue
            status = result.status
            if status == pq.ExecStatus.PIPELINE_SYNC:
                in_flight.popleft()
                self._statement = 0
                self._complete(head)
            elif status == pq.ExecStatus.TUPLES_OK:
                loader = self._transformer
                loader.set_pgresult(result)
                head.rows.append(loader.load_rows(0, result.ntuples, tuple))
            elif status == pq.ExecStatus.COMMAND_OK:
                head.rows.append([])
            elif status == pq.ExecStatus.FATAL_ERROR:
                if head.error is None:
                    message = result.error_message.decode("utf-8", "replace")
                    head.error = _first_line(message)
                    if pgconn.status == pq.ConnStatus.BAD:
                        self._lost(message)
                        return
            # PIPELINE_ABORTED: a statement skipped after an error in its transaction

    def _complete(self, transaction: Transaction) -> None:
        self.done = transaction.seq
        if transaction.error is not None:
            log.error(
                "the database refused a write (%s): %s", transaction.error, transaction.statements[0][0].split(" (")[0]
            )
        callback = transaction.on_done
        if callback is None:
            return
        try:
            callback(StoreError(transaction.error) if transaction.error is not None else transaction.rows)
        except Exception:
            log.exception("error in a database completion callback")

    def _error(self) -> str:
        if self._pgconn is None:
            return "no connection"
        return self._pgconn.error_message.decode("utf-8", "replace") or "connection failed"


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or ["unknown error"])[0]
