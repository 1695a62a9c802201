"""The event loop: one thread, one ``selectors.DefaultSelector``, non-blocking sockets.

It only moves bytes. What the bytes mean is each connection's codec's business
(:mod:`pollchat.protocol.codec`, made by its listener's factory) and the
:class:`Handler`'s (the chat layer). It can listen on several sockets, each with its own
codec factory (:meth:`EventLoop.listen`, like asyncio's ``create_server(protocol_factory)``):
the line protocol on 3490, later a web port. One iteration (:meth:`EventLoop.run_once`)::

    select(timeout from the timer heap)
    for each ready key:            the object in key.data, never a lookup by descriptor
        listener  -> accept a burst of connections, each with a new codec
        wake-up   -> collect signal numbers and worker results
        connection (skipped if closed) -> read once, then write if writable
    run worker results, then due timers
    broadcasts: append the pass's bytes for everyone to each logged-in connection, once
    flush: send() to every connection with queued output; register write interest only
           for what the kernel did not take (Redis's beforeSleep)
    after-flush hooks (the history batch is written here, off the latency path)
    finalize closes requested during the pass: unregister, then close

Closing is deferred to the end of the pass, so a descriptor freed while handling one
event cannot be handed to a new connection while stale events of the same batch are
still being processed. A connection asked to close with ``flush=True`` keeps its socket
until its last lines are sent (then ``shutdown(SHUT_WR)``, and its input is discarded
until the peer closes), at most ``linger`` seconds, so a goodbye line is not lost to a
reset.

Every output buffer is bounded: a connection whose unsent output would pass
``max_output`` bytes is a slow consumer and is closed, logged, without delaying others.
So is their sum: when what is left unsent at the end of a pass passes
``max_output_total`` bytes, the largest consumers are dropped first until it fits.

Broadcasts (what goes to everyone logged in: chat lines, entered and left notices,
status changes) are collected during the pass, rendered once per output mode, and
appended to each logged-in connection's buffer once, at the end of the pass
(:meth:`EventLoop.broadcast`): the per-recipient work is per pass, not per line. A
connection that is sent something of its own meanwhile first gets the broadcast bytes
it has not had yet, so every connection's bytes keep the order in which they were
queued.
"""

from __future__ import annotations

import errno
import logging
import queue
import selectors
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from pollchat.protocol.codec import Codec
from pollchat.protocol.events import ServerEvent
from pollchat.server.connection import Connection
from pollchat.server.timers import Timers

log = logging.getLogger(__name__)

RECV_SIZE = 64 * 1024
"""Bytes read per readiness event; one read per connection per pass keeps it fair."""
WRITE_NOW = 16 * 1024
"""A reply at least this long, to a connection with nothing queued, is sent when queued
rather than at the end of the pass (a welcome with a long list of users)."""
ACCEPT_BURST = 64
"""Connections accepted per listener event before other work gets a turn."""
ACCEPT_PAUSE = 0.5
"""Seconds accepting pauses after EMFILE/ENFILE, instead of spinning on the listener."""
_WAKE_WORK = b"\x00"  # worker results; any other byte is a signal number from set_wakeup_fd
_WAKEUP = object()


class Handler(Protocol):
    """What the loop calls; all calls happen on the loop thread."""

    def on_connect(self, conn: Connection) -> None:
        """A connection was accepted and registered (a TLS one before its handshake)."""

    def on_secure(self, conn: Connection) -> None:
        """A TLS connection finished its handshake: bytes can cross now."""

    def on_data(self, conn: Connection, data: bytes) -> None:
        """``data`` (non-empty) arrived on an open, non-closing connection."""

    def on_eof(self, conn: Connection) -> None:
        """The peer shut down its sending side."""

    def on_closed(self, conn: Connection) -> None:
        """``conn`` began closing (called once, whatever the reason)."""

    def on_signal(self, signum: int) -> None:
        """A signal arrived through the wake-up socket."""

    def on_slow_consumer(self, conn: Connection) -> None:
        """``conn``'s output passed the bound; unsent lines were dropped and it is about
        to close. The handler may queue one last line."""


class Listener:
    """A listening socket and the codec factory of the connections it accepts.

    Attributes:
        sock: the bound, listening, non-blocking socket (``None`` once closed).
        make_codec: called once per accepted connection for its codec.
        tls: the server-side TLS context accepted connections are wrapped in (``None``:
            plain TCP). Replacing it (a certificate reload) affects new connections only.
        accept_failing: accepting fails for lack of descriptors (logged once).
    """

    __slots__ = ("sock", "make_codec", "tls", "accept_failing")

    def __init__(self, sock: socket.socket, make_codec: Callable[[], Codec], tls: ssl.SSLContext | None) -> None:
        self.sock: socket.socket | None = sock
        self.make_codec = make_codec
        self.tls = tls
        self.accept_failing = False

    @property
    def address(self) -> tuple[str, int] | None:
        """The bound ``(host, port)`` (the real port when 0 was asked); ``None`` once closed."""
        if self.sock is None:
            return None
        host, port = self.sock.getsockname()[:2]
        return host, port


class Audience:
    """The connections of one output mode (codec ``mode_key``) that receive broadcasts
    (the logged-in ones, in login order), and the bytes broadcast to them in this pass.

    Each member's ``seen`` is how much of ``pending`` is already in its output buffer
    (or was skipped: a sender does not get its own line); the rest is appended at the
    end of the pass, or before anything else queued for that connection alone.
    """

    __slots__ = ("mode_key", "members", "pending")

    def __init__(self, mode_key: str) -> None:
        self.mode_key = mode_key
        self.members: dict[Connection, None] = {}  # an insertion-ordered set
        self.pending = bytearray()


class EventLoop:
    """The selectors loop around any number of listening sockets.

    Args:
        handler: receives connection events (may be set as ``loop.handler`` before
            the first pass, when handler and loop need each other).
        max_output: output-buffer bound per connection, bytes (``ServerConfig.max_output``).
        max_output_total: bound on all unsent output, bytes (0 = none).
        linger: seconds a closing connection may take to flush and see the peer close.
        keepalive: seconds of silence before TCP keepalive probes a peer (0 = off), so
            a vanished client is found and dropped.
        timers: the timer queue (tests inject one with a fake clock).
        clock: wall-clock seconds, the timestamp of encoded events (JSON ``ts``).

    Listening sockets are added with :meth:`listen`.
    """

    def __init__(
        self,
        handler: Handler | None = None,
        *,
        max_output: int,
        max_output_total: int = 0,
        linger: float,
        keepalive: float,
        timers: Timers | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.handler: Handler = handler  # type: ignore[assignment]
        self.max_output = max_output
        self.max_output_total = max_output_total
        self.linger = linger
        self.keepalive = keepalive
        self.clock = clock
        self.timers = timers or Timers()
        self.connections: dict[Connection, None] = {}
        """Every open connection (an insertion-ordered set; a dict takes less room per
        entry than a set, which counts with 10,000 idle connections)."""
        self.selector = selectors.DefaultSelector()
        self.listeners: list[Listener] = []
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, _WAKEUP)
        self._results: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._to_flush: dict[Connection, None] = {}  # insertion-ordered set
        self._to_finalize: list[Connection] = []
        self._backlogged: dict[Connection, None] = {}  # write interest on: output left unsent
        self._audiences: dict[str, Audience] = {}  # per codec mode_key
        # Every read lands here and is copied out at its size: no 64 KiB block is
        # allocated and shrunk per read (which fragments the heap under many clients).
        self._recv_view = memoryview(bytearray(RECV_SIZE))
        self._broadcasting = False  # some audience has pending bytes
        self.replying: tuple[Connection, str] | None = None
        """While a labelled JSON-mode line is handled: its connection and label
        (:mod:`pollchat.protocol.labels`); what is sent to that connection carries it."""
        self.after_flush: list[Callable[[], None]] = []
        """Called at the end of every pass, after the sockets are flushed (history writes)."""

    @property
    def wakeup_fd(self) -> int:
        """The descriptor to give ``signal.set_wakeup_fd`` (non-blocking)."""
        return self._wake_w.fileno()

    # --- running -----------------------------------------------------------------------------

    def run_once(self, timeout: float | None = None) -> None:
        """One pass: wait at most ``timeout`` seconds (or until the next timer), handle
        every ready event, run results and timers, flush output, finalize closes."""
        for key, mask in self.selector.select(self.timers.timeout(timeout)):
            data = key.data
            if isinstance(data, Listener):
                self._accept(data)
            elif data is _WAKEUP:
                self._drain_wakeup()
            elif isinstance(data, _Reader):
                try:
                    data.callback()
                except Exception:
                    log.exception("error reading %r", key.fileobj)
            elif not data.closed:  # a key from this batch can outlive its connection
                try:
                    if mask & selectors.EVENT_READ:
                        self._read(data)
                    if mask & selectors.EVENT_WRITE and not data.closed:
                        self._send(data)
                except Exception:  # a bug must cost one connection, not the server
                    log.exception("connection #%d %s: internal error", data.id, data.peer)
                    self.close(data, "internal error", flush=False)
        self._run_results()
        self.timers.run_due()
        self._flush()
        if self.max_output_total and self._backlogged:
            self._bound_output_total()
        for hook in self.after_flush:
            hook()
        self._finalize()

    def call_soon_threadsafe(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the loop thread soon; callable from any thread."""
        self._results.put(callback)
        try:
            self._wake_w.send(_WAKE_WORK)
        except OSError:  # buffer full (a wake-up is pending anyway) or closing
            pass

    def add_reader(self, fileobj: object, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the loop thread whenever ``fileobj`` is readable (the
        operator console's stdin)."""
        self.selector.register(fileobj, selectors.EVENT_READ, _Reader(callback))  # type: ignore[arg-type]

    def remove_reader(self, fileobj: object) -> None:
        """Stop watching ``fileobj``."""
        try:
            self.selector.unregister(fileobj)  # type: ignore[arg-type]
        except (KeyError, ValueError):
            pass

    def listen(
        self, sock: socket.socket, make_codec: Callable[[], Codec], *, tls: ssl.SSLContext | None = None
    ) -> Listener:
        """Accept connections on ``sock`` (bound and listening; made non-blocking here),
        each with the codec ``make_codec()`` returns; with ``tls``, each is wrapped in a
        server-side TLS connection whose handshake runs in this loop, non-blocking."""
        sock.setblocking(False)
        listener = Listener(sock, make_codec, tls)
        self.selector.register(sock, selectors.EVENT_READ, listener)
        self.listeners.append(listener)
        return listener

    def stop_accepting(self) -> None:
        """Close every listening socket; established connections are not touched."""
        for listener in self.listeners:
            sock, listener.sock = listener.sock, None
            if sock is not None:
                if sock.fileno() != -1 and self._is_registered(sock):
                    self.selector.unregister(sock)
                sock.close()

    def close_all(self) -> None:
        """Release the selector and the wake-up pair (after the last pass)."""
        self.stop_accepting()
        for conn in list(self.connections):
            self._finalize_one(conn)
        self.selector.close()
        self._wake_r.close()
        self._wake_w.close()

    # --- services for the handler -------------------------------------------------------------

    def queue(self, conn: Connection, data: bytes) -> None:
        """Append ``data`` to ``conn``'s output buffer; it is sent at the end of the pass.

        A closing connection takes no more output. If the buffer would pass
        ``max_output`` bytes, the connection is dropped as a slow consumer.
        """
        if conn.closing:
            return
        audience = conn.audience
        if audience is not None and conn.seen != len(audience.pending) and not self._catch_up(conn):
            return
        if len(conn.outbuf) + len(data) > self.max_output:
            self._drop_slow_consumer(conn)
            return
        if len(data) >= WRITE_NOW and not conn.outbuf and not conn.tls:
            rest = self._write_now(conn, data)
            if rest is None:
                return
            data = rest  # fits: the whole did
        conn.outbuf += data
        self._to_flush[conn] = None

    def _answer_labelled(self, targets: Iterable[Connection], event: ServerEvent) -> Iterable[Connection]:
        """Send ``event`` with the label to the connection whose labelled line is being
        handled, if it is among ``targets`` (a private message's echo, a group line);
        return the other targets, for the shared rendering."""
        assert self.replying is not None
        conn = self.replying[0]
        targets = list(targets)
        if conn in targets:
            targets.remove(conn)
            if not conn.closing:
                conn.send(event)
        return targets

    def fan_out(self, targets: Iterable[Connection], event: ServerEvent) -> None:
        """Queue one event to many connections, encoded once per distinct codec
        ``mode_key`` (all text-mode connections share one rendering, all JSON-mode ones
        another) with one timestamp. A codec that renders the event to ``b""`` (a typing
        hint on a text connection) is skipped. The rules of :meth:`queue` apply to each;
        this is :meth:`queue` unrolled, because fan-out is the server's hottest loop
        (measured in docs/performance.md: the per-recipient call was most of the CPU per
        delivery).
        """
        if self.replying is not None:  # rare: a labelled line is being answered
            targets = self._answer_labelled(targets, event)
        limit = self.max_output
        to_flush = self._to_flush
        rendered: dict[str, bytes] = {}
        ts = 0.0
        for conn in targets:
            if conn.closing:
                continue
            codec = conn.codec
            data = rendered.get(codec.mode_key)
            if data is None:
                if not rendered:
                    ts = self.clock()
                data = rendered[codec.mode_key] = codec.encode(event, ts)
            if not data:
                continue
            audience = conn.audience
            if audience is not None and conn.seen != len(audience.pending) and not self._catch_up(conn):
                continue
            outbuf = conn.outbuf
            if len(outbuf) + len(data) > limit:
                self._drop_slow_consumer(conn)
                continue
            if len(data) >= WRITE_NOW and not outbuf and not conn.tls:  # a welcome, a /who
                rest = self._write_now(conn, data)
                if rest is not None:  # fits: the whole did
                    outbuf += rest
                    to_flush[conn] = None
                continue
            outbuf += data
            to_flush[conn] = None

    def _write_now(self, conn: Connection, data: bytes) -> memoryview | None:
        """Send a large reply to a connection with nothing queued at once: only what the
        kernel does not take is copied into its buffer (the rest, returned; ``None`` if
        all went). A 60 KB welcome among 10,000 users is then not copied per login into
        a buffer that is freed again, which fragmented the heap. Errors are left to
        :meth:`_send`, which meets them again."""
        try:
            sent = conn.sock.send(data)
        except OSError:
            sent = 0
        if sent == len(data):
            return None
        return memoryview(data)[sent:]

    # --- broadcasts: once per pass per connection -----------------------------------------------

    def join_everyone(self, conn: Connection) -> None:
        """From now on ``conn`` receives :meth:`broadcast` events (it logged in); its
        mode's audience is the one of its codec's ``mode_key`` now (:meth:`switch_mode`
        moves it)."""
        if conn.closing or conn.audience is not None:
            return
        key = conn.codec.mode_key
        audience = self._audiences.get(key)
        if audience is None:
            audience = self._audiences[key] = Audience(key)
        audience.members[conn] = None
        conn.audience = audience
        conn.seen = len(audience.pending)  # nothing broadcast before it joined

    def leave_everyone(self, conn: Connection) -> None:
        """``conn`` receives no more broadcasts (it logged out); what was broadcast to
        it before, in this pass, is appended to its buffer first."""
        audience = conn.audience
        if audience is None:
            return
        if conn.seen != len(audience.pending) and not self._catch_up(conn):
            return  # dropped as a slow consumer: it left the audience
        self._leave_audience(conn)

    def broadcast(self, event: ServerEvent, exclude: Connection | None = None) -> None:
        """Queue ``event`` to every connection that joined (:meth:`join_everyone`) but
        ``exclude``: rendered now, once per output mode in use (one timestamp), and
        appended to each connection's buffer at the end of the pass together with the
        pass's other broadcasts, with one copy per connection per pass. A codec that
        renders it to ``b""`` is skipped, as in :meth:`fan_out`.

        A buffer that would pass ``max_output`` is found when the bytes are appended (at
        the end of the pass, or before a line for that connection alone): that
        connection is dropped as a slow consumer then, at a line boundary.
        """
        ts = 0.0
        for audience in self._audiences.values():
            members = audience.members
            if not members:
                continue
            if not ts:
                ts = self.clock()
            data = next(iter(members)).codec.encode(event, ts)  # equal mode keys, equal bytes
            if not data:
                continue
            pending = audience.pending
            before = len(pending)
            pending += data
            self._broadcasting = True
            if exclude is not None and exclude.audience is audience:
                if exclude.seen != before and not self._catch_up(exclude, before):
                    continue  # dropped as a slow consumer: it left the audience
                exclude.seen = len(pending)

    def switch_mode(self, conn: Connection, mode: str) -> None:
        """Switch ``conn``'s codec to ``mode`` (``mode json``); a logged-in connection
        first gets the broadcast bytes of its old mode it has not had, then moves to its
        new mode's audience."""
        audience = conn.audience
        if audience is None:
            conn.codec.switch_mode(mode)
            return
        if conn.seen != len(audience.pending) and not self._catch_up(conn):
            conn.codec.switch_mode(mode)
            return  # dropped as a slow consumer
        self._leave_audience(conn)
        conn.codec.switch_mode(mode)
        self.join_everyone(conn)

    def _catch_up(self, conn: Connection, end: int | None = None) -> bool:
        """Append to ``conn``'s buffer the bytes broadcast in this pass it has not had
        yet (up to ``end``), before anything else is queued for it. ``False``: that
        passed ``max_output`` and ``conn`` was dropped as a slow consumer."""
        audience = conn.audience
        assert audience is not None
        pending = audience.pending
        if end is None:
            end = len(pending)
        chunk = pending[conn.seen : end]
        conn.seen = end
        if len(conn.outbuf) + len(chunk) > self.max_output:
            self._drop_slow_consumer(conn)
            return False
        conn.outbuf += chunk
        self._to_flush[conn] = None
        return True

    def _leave_audience(self, conn: Connection) -> None:
        audience = conn.audience
        if audience is not None:
            del audience.members[conn]
            conn.audience = None
            conn.seen = 0

    def _send_broadcasts(self) -> None:
        """The end of the pass: give every member of each audience the pending bytes it
        has not had yet, once. A member with nothing else queued (the usual case) is sent
        them straight from the shared buffer, with no copy, and only what the kernel does
        not take is kept in its buffer; the others get them appended to their buffer (sent
        by the caller, :meth:`_flush`). Slow consumers found here are dropped after the
        loop, so the members do not change while it runs."""
        self._broadcasting = False
        slow: list[Connection] = []
        for audience in self._audiences.values():
            pending = audience.pending
            if not pending:
                continue
            audience.pending = bytearray()
            size = len(pending)
            direct = size <= self.max_output
            for conn in audience.members:
                if conn.seen or conn.outbuf or not direct or conn.tls:
                    self._give(conn, pending, slow)
                    continue
                try:  # the common case, kept short: one send() per member per pass
                    sent = conn.sock.send(pending)
                except OSError:  # EAGAIN, or an error that _send reports and handles
                    sent = 0
                if sent != size:
                    conn.outbuf += memoryview(pending)[sent:]
                    self._to_flush[conn] = None
        for conn in slow:
            if not conn.closing:
                self._drop_slow_consumer(conn)

    def _give(self, conn: Connection, pending: bytearray, slow: list[Connection]) -> None:
        """:meth:`_send_broadcasts` for a member that has had part of ``pending``
        already, has output queued, or needs the general path (TLS, a pass past the
        bound): append what it lacks, or note it as a slow consumer. The bound is checked
        before any byte is sent, so what the kernel takes is always kept whole."""
        seen, conn.seen = conn.seen, 0
        if seen >= len(pending):
            return
        data = memoryview(pending)[seen:] if seen else pending
        outbuf = conn.outbuf
        if len(outbuf) + len(data) > self.max_output:
            slow.append(conn)
            return
        if not outbuf and not conn.tls:
            try:
                sent = conn.sock.send(data)
            except OSError:
                sent = 0
            if sent == len(data):
                return
            data = memoryview(pending)[seen + sent :]
        outbuf += data
        self._to_flush[conn] = None

    def close(self, conn: Connection, reason: str, *, flush: bool = True) -> None:
        """Begin closing ``conn``. Idempotent.

        Args:
            reason: why, for the log.
            flush: send what is queued first (bounded by ``linger``); ``False`` drops it
                (the peer is gone or misbehaving).
        """
        if conn.closing:
            return
        if conn.audience is not None:  # broadcast bytes queued before the close come first
            if flush and conn.seen != len(conn.audience.pending) and not self._catch_up(conn):
                return  # that overflowed: closed as a slow consumer instead
            self._leave_audience(conn)
        conn.closing = True
        conn.close_reason = reason
        log.info("connection #%d %s closing: %s", conn.id, conn.peer, reason)
        if conn.handshaking:  # no TLS session to carry a last line
            flush = False
        if flush and not conn.peer_eof:
            ending = conn.codec.close_data()  # e.g. a WebSocket close frame
            if ending:
                conn.outbuf += ending
        if flush and conn.outbuf and self.linger > 0:
            conn.linger = self.timers.call_later(self.linger, lambda: self._expire_linger(conn))
            self._to_flush[conn] = None
        else:
            conn.outbuf.clear()
            self._to_finalize.append(conn)
        self.handler.on_closed(conn)

    def pause_reading(self, conn: Connection) -> None:
        """Stop reading from ``conn`` (backpressure) until :meth:`resume_reading`."""
        if conn.reading:
            conn.reading = False
            self._update_interest(conn)

    def resume_reading(self, conn: Connection) -> None:
        """Read from ``conn`` again."""
        if not conn.reading and not conn.closed:
            conn.reading = True
            self._update_interest(conn)

    # --- internals --------------------------------------------------------------------------------

    def _accept(self, listener: Listener) -> None:
        for _ in range(ACCEPT_BURST):
            if listener.sock is None:
                return
            try:
                sock, address = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    if not listener.accept_failing:  # once per burst, not once per retry
                        log.error("accept failed (%s); retrying every %.1fs until it works", exc, ACCEPT_PAUSE)
                    listener.accept_failing = True
                    self._pause_accepting(listener)
                else:  # ECONNABORTED and friends: that peer gave up; others may wait
                    log.warning("accept failed: %s", exc)
                return
            if listener.accept_failing:
                log.warning("accepting connections again")
                listener.accept_failing = False
            sock.setblocking(False)
            _tune(sock, self.keepalive)
            if listener.tls is not None:
                try:
                    sock = listener.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
                except (ssl.SSLError, OSError) as exc:  # the peer reset already
                    log.info("TLS connection from %s failed: %s", address, exc)
                    sock.close()
                    continue
            conn = Connection(sock, address, self, listener.make_codec())
            if listener.tls is not None:
                conn.tls = conn.handshaking = True
            self.connections[conn] = None
            self._update_interest(conn)
            log.info("connection #%d from %s", conn.id, conn.peer)
            try:
                self.handler.on_connect(conn)
            except Exception:  # a bug must cost one connection, not the server
                log.exception("connection #%d %s: internal error", conn.id, conn.peer)
                self.close(conn, "internal error", flush=False)

    def _pause_accepting(self, listener: Listener) -> None:
        sock = listener.sock
        if sock is None or not self._is_registered(sock):
            return
        self.selector.unregister(sock)

        def resume() -> None:
            if listener.sock is sock:  # not closed meanwhile
                self.selector.register(sock, selectors.EVENT_READ, listener)

        self.timers.call_later(ACCEPT_PAUSE, resume)

    def _drain_wakeup(self) -> None:
        while True:
            try:
                data = self._wake_r.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            if not data:
                return
            for signum in data.replace(_WAKE_WORK, b""):
                try:
                    self.handler.on_signal(signum)
                except Exception:
                    log.exception("error handling signal %d", signum)

    def _run_results(self) -> None:
        while True:
            try:
                callback = self._results.get_nowait()
            except queue.Empty:
                return
            try:
                callback()
            except Exception:
                log.exception("error in a worker result callback")

    def _read(self, conn: Connection) -> None:
        if conn.handshaking:
            self._handshake(conn)
            return
        try:
            view = self._recv_view
            data = bytes(view[: conn.sock.recv_into(view)])
            if conn.tls:
                # Records already decrypted inside the SSL object are not signalled by
                # select(): take them now, or they wait for the peer's next packet.
                while conn.sock.pending() and len(data) < RECV_SIZE:  # type: ignore[attr-defined]
                    data += conn.sock.recv(RECV_SIZE - len(data))
                if conn.outbuf and not conn.closing:
                    self._to_flush[conn] = None  # a send may have waited for this read
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            return  # no whole TLS record yet
        except OSError as exc:  # reset, timeout, a TLS error: the peer is gone
            conn.peer_eof = True
            if conn.closing:
                self._to_finalize.append(conn)
            else:
                self.close(conn, f"read error: {exc.strerror or exc}", flush=False)
            return
        if conn.closing:  # lingering: discard input until the peer closes
            if not data:
                conn.peer_eof = True
                if not conn.outbuf:
                    self._to_finalize.append(conn)
            return
        if not data:
            conn.peer_eof = True
            self.pause_reading(conn)  # level-triggered EOF would fire every pass
            self.handler.on_eof(conn)
            return
        self.handler.on_data(conn, data)

    def _send(self, conn: Connection) -> None:
        """Send what the kernel takes; manage write interest; finish a flushed close."""
        if conn.handshaking:
            self._handshake(conn)
            return
        want_read = False
        if conn.outbuf:
            try:
                sent = conn.sock.send(conn.outbuf)
            except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError):
                sent = 0
            except ssl.SSLWantReadError:  # TLS needs the peer's bytes first: wait for a read
                sent, want_read = 0, True
            except OSError as exc:  # EPIPE, ECONNRESET: the peer is gone
                conn.outbuf.clear()
                conn.peer_eof = True
                if conn.closing:
                    self._to_finalize.append(conn)
                else:
                    self.close(conn, f"write error: {exc.strerror or exc}", flush=False)
                return
            del conn.outbuf[:sent]
        want_write = bool(conn.outbuf) and not want_read
        if want_write != conn.writing:
            self._want(conn, write=want_write)
        if conn.closing and not conn.outbuf:
            self._finish_flushed_close(conn)

    def _finish_flushed_close(self, conn: Connection) -> None:
        if conn.peer_eof:
            self._to_finalize.append(conn)
            return
        try:
            if conn.tls:
                _send_close_notify(conn.sock)  # type: ignore[arg-type]
            # The plain socket's shutdown (SSLSocket's own would drop the TLS state).
            socket.socket.shutdown(conn.sock, socket.SHUT_WR)  # the peer sees EOF after our last line
        except OSError:
            self._to_finalize.append(conn)
            return
        self.resume_reading(conn)  # read and discard until the peer closes (or linger ends)

    def _handshake(self, conn: Connection) -> None:
        """Advance ``conn``'s TLS handshake as far as the peer's bytes allow."""
        sock: ssl.SSLSocket = conn.sock  # type: ignore[assignment]
        try:
            if not conn.hello_seen:
                first = _first_byte(sock)
                if first is None:
                    return
                if first != _TLS_HANDSHAKE_RECORD:  # someone typed into netcat on the TLS port
                    log.info("connection #%d %s: plain text on the TLS port", conn.id, conn.peer)
                    _discard_input(sock)  # closing with unread input would reset the line away
                    socket.socket.send(sock, PLAIN_ON_TLS_PORT)  # in clear, or they could not read it
                    self.close(conn, "plain text on the TLS port", flush=False)
                    return
                conn.hello_seen = True
            sock.do_handshake()
        except ssl.SSLWantReadError:
            self._want(conn, write=False)
            return
        except ssl.SSLWantWriteError:
            self._want(conn, write=True)
            return
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:  # ssl.SSLError too: a bad hello, no shared cipher, a reset
            conn.peer_eof = True
            self.close(conn, f"TLS handshake failed: {getattr(exc, 'reason', None) or exc}", flush=False)
            return
        conn.handshaking = False
        log.info("connection #%d %s: %s %s", conn.id, conn.peer, sock.version(), (sock.cipher() or ("?",))[0])
        self._want(conn, write=False)
        self.handler.on_secure(conn)
        if conn.outbuf:
            self._to_flush[conn] = None  # what was queued before the handshake (the greeting)

    def _want(self, conn: Connection, *, write: bool) -> None:
        if conn.writing != write:
            conn.writing = write
            if write:
                self._backlogged[conn] = None
            else:
                self._backlogged.pop(conn, None)
            self._update_interest(conn)

    def _bound_output_total(self) -> None:
        """Drop the largest consumers until the unsent output of all connections fits
        in ``max_output_total`` (only backlogged connections hold any after a flush)."""
        total = sum(len(conn.outbuf) for conn in self._backlogged)
        if total <= self.max_output_total:
            return
        for conn in sorted(self._backlogged, key=lambda c: len(c.outbuf), reverse=True):
            if total <= self.max_output_total:
                break
            if not conn.closing:  # a closing one is gone within linger anyway
                total -= len(conn.outbuf)
                self._drop_slow_consumer(conn, f"all output over {self.max_output_total} bytes")
        self._flush()  # the dropped ones' last lines, the others' left notices

    def _flush(self) -> None:
        # A send error closes a connection, and its left notice queues new output for
        # others: repeat until nothing is pending, so nothing waits for the next event.
        # Ends because each connection closes at most once.
        # Lines queued for single connections go first (a newcomer's welcome, a reply),
        # then the pass's broadcasts, then whatever those left over.
        while True:
            if self._to_flush:
                pending, self._to_flush = self._to_flush, {}
                for conn in pending:
                    if not conn.closed:
                        self._send(conn)
            elif self._broadcasting:
                self._send_broadcasts()
            else:
                return

    def _finalize(self) -> None:
        while self._to_finalize:
            self._finalize_one(self._to_finalize.pop())

    def _finalize_one(self, conn: Connection) -> None:
        if conn.closed:
            return
        if conn.registered:
            self.selector.unregister(conn.sock)  # unregister before close (selectors docs)
            conn.registered = False
        conn.sock.close()
        conn.closed = True
        self._backlogged.pop(conn, None)
        if conn.linger is not None:
            conn.linger.cancel()
        self.connections.pop(conn, None)
        log.debug("connection #%d closed", conn.id)

    def _expire_linger(self, conn: Connection) -> None:
        if not conn.closed:
            if conn.outbuf:
                log.info("connection #%d %s: %d bytes unsent at close", conn.id, conn.peer, len(conn.outbuf))
            self._to_finalize.append(conn)

    def _drop_slow_consumer(self, conn: Connection, why: str = "") -> None:
        self._leave_audience(conn)  # its unsent broadcast bytes are dropped with the rest
        log.warning(
            "connection #%d %s: %s, dropping slow consumer",
            conn.id,
            conn.peer,
            why or f"output buffer over {self.max_output} bytes",
        )
        # Keep the rest of the line the kernel may be in the middle of, so the peer
        # never sees half a line; drop everything after it.
        end = conn.outbuf.find(b"\n")
        if end != -1:
            del conn.outbuf[end + 1 :]
        self.handler.on_slow_consumer(conn)
        self.close(conn, "slow consumer", flush=True)

    def _update_interest(self, conn: Connection) -> None:
        events = (selectors.EVENT_READ if conn.reading else 0) | (selectors.EVENT_WRITE if conn.writing else 0)
        if conn.closed:
            return
        if events and conn.registered:
            self.selector.modify(conn.sock, events, conn)
        elif events:
            self.selector.register(conn.sock, events, conn)
            conn.registered = True
        elif conn.registered:
            self.selector.unregister(conn.sock)
            conn.registered = False

    def _is_registered(self, sock: socket.socket) -> bool:
        try:
            self.selector.get_key(sock)
        except KeyError:
            return False
        return True


class _Reader:
    __slots__ = ("callback",)

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback


KEEPALIVE_INTERVAL = 10
"""Seconds between keepalive probes once they start."""
KEEPALIVE_PROBES = 3
"""Unanswered probes before the kernel reports the connection dead."""


PLAIN_ON_TLS_PORT = b"this port speaks TLS: use pollchat-client --tls, or openssl s_client -connect HOST:PORT\n"
"""The one line a plain-text client gets on the TLS port (sent in clear, then closed)."""
_TLS_HANDSHAKE_RECORD = 0x16
"""The first byte of a TLS ClientHello record (RFC 8446 section 5.1, ContentType handshake)."""


def _first_byte(sock: ssl.SSLSocket) -> int | None:
    """The peer's first byte, peeked at (not consumed); ``None`` if none came yet.

    Raises:
        OSError: the peer reset the connection.
    """
    try:
        first = socket.socket.recv(sock, 1, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return None
    if not first:
        raise ConnectionResetError("closed before the TLS handshake")
    return first[0]


def _discard_input(sock: socket.socket) -> None:
    """Read and drop what the peer has sent so far, below any TLS layer."""
    try:
        while socket.socket.recv(sock, 4096):
            pass
    except OSError:  # BlockingIOError: all read
        pass


def _send_close_notify(sock: ssl.SSLSocket) -> None:
    """Send TLS's close_notify without waiting for the peer's (a clean end of the
    stream for the client; a non-blocking ``unwrap`` raises once it has sent ours)."""
    try:
        sock.unwrap()
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, ssl.SSLError):
        pass


def _tune(sock: socket.socket, keepalive: float) -> None:
    """TCP_NODELAY (chat lines are small) and, if ``keepalive`` > 0, TCP keepalive: a
    peer that vanished without a FIN or RST (cable pulled, laptop closed) is found after
    about ``keepalive + 30`` seconds and its session ends, instead of holding its
    account as "already used" for hours."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if keepalive > 0:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if hasattr(socket, "TCP_KEEPIDLE"):  # Linux; other systems keep their defaults
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, max(1, int(keepalive)))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_PROBES)
    except OSError:
        pass
