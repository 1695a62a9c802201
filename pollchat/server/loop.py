"""The event loop: one thread, one ``selectors.DefaultSelector``, non-blocking sockets.

It only moves bytes. What the bytes mean is each connection's codec's business
(:mod:`pollchat.protocol.codec`, made by its listener's factory) and the
:class:`Handler`'s (the chat layer). It can listen on several sockets, each with its own
codec factory (:meth:`EventLoop.listen`, like asyncio's ``create_server(protocol_factory)``):
the line protocol on 3490, later a web port. One iteration (:meth:`EventLoop.run_once`)::

    select(timeout from the timer heap)
    for each ready key:            the object in key.data, never a lookup by descriptor
        listener  -> accept a burst of connections, each with a new codec (a trusted
                     proxy's waits for its PROXY header first)
        header    -> read a trusted proxy's PROXY header, then begin its connection
        wake-up   -> collect signal numbers and worker results
        connection (skipped if closed) -> read once, then write if writable
    run worker results, then due timers
    before-flush hooks (a pass's private and group lines are committed: acknowledged = stored)
    broadcasts: append the pass's bytes for everyone to each logged-in connection, once
    flush: send() to every connection with queued output; register write interest only
           for what the kernel did not take (Redis's beforeSleep)
    after-flush hooks (the rest of the history batch, pruning: off the latency path)
    finalize closes requested during the pass: unregister, then close

Closing is deferred to the end of the pass, so a descriptor freed while handling one
event cannot be handed to a new connection while stale events of the same batch are
still being processed. A connection asked to close with ``flush=True`` keeps its socket
until its last lines are sent (then ``shutdown(SHUT_WR)``, and its input is discarded
until the peer closes), at most ``linger`` seconds, so a goodbye line is not lost to a
reset.

The other jobs are apart, as in Redis (``ae.c`` only multiplexes): output buffers and
their bounds are :mod:`pollchat.server.output`'s, per-pass broadcasts
:mod:`pollchat.server.broadcast`'s, and plain TCP versus TLS (handshake, reads, the end
of output) :mod:`pollchat.server.transport`'s, so the loop never asks which a connection
uses.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import queue
import selectors
import socket
import ssl
import time
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Protocol

from pollchat.protocol import proxy
from pollchat.protocol.codec import Codec
from pollchat.protocol.events import ServerEvent
from pollchat.server.connection import Connection, show_address
from pollchat.server.output import WRITE_NOW, Outputs
from pollchat.server.timers import Timer, Timers
from pollchat.server.transport import (
    PLAIN,
    PLAIN_ON_TLS_PORT,
    RECV_BLOCKED,
    RECV_SIZE,
    SEND_BLOCKED,
    SEND_NEEDS_READ,
    Handshake,
    HandshakeError,
    TlsTransport,
    Transport,
)

__all__ = [
    "ACCEPT_BURST",
    "ACCEPT_PAUSE",
    "PLAIN_ON_TLS_PORT",
    "PROXY_HEADER_TIMEOUT",
    "RECV_SIZE",
    "WRITE_NOW",
    "EventLoop",
    "Handler",
    "Listener",
    "ProxySources",
]

log = logging.getLogger(__name__)

ACCEPT_BURST = 64
"""Connections accepted per listener event before other work gets a turn."""
ACCEPT_PAUSE = 0.5
"""Seconds accepting pauses after EMFILE/ENFILE, instead of spinning on the listener."""
PRESENCE_BATCH_MIN = 1000
"""Logged-in connections from which a pass whose broadcasts are only entered and left
notices may keep them for a later pass (:meth:`EventLoop._presence_waits`)."""
PRESENCE_SEND_SECONDS = 5e-6
"""Per member, the least time between two flushes of presence notices alone: about
three times what one ``send()`` to a member costs (1.5 us, docs/performance.md), so a
login storm spends at most about a third of the loop's time telling everyone who
entered; at 19,000 members the notices wait up to 95 ms. A floor: see
:data:`PRESENCE_WAIT_FACTOR`."""
PRESENCE_WAIT_FACTOR = 3.0
"""After a flush of the broadcasts that took T seconds (measured), presence notices
alone wait at least this many times T more, so that telling everyone who entered takes
at most a quarter of the loop's time whatever a ``send()`` costs on the machine. The
fixed :data:`PRESENCE_SEND_SECONDS` assumed 1.5 us per send; with 10,000 members on a
loaded 2-core machine a send cost 3 to 5 us and the flushes took 46% of the loop in a
login storm (py-spy, docs/performance.md)."""
PRESENCE_WAIT_MAX = 1.0
"""Seconds presence notices alone wait at most after a flush (a flush slowed by a stall
of the machine must not hold them for long)."""
PROXY_HEADER_TIMEOUT = 5.0
"""Seconds a connection from a trusted proxy may take to send its PROXY header (a
proxy sends it at once, with its connect)."""
ProxySources = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
"""The networks of trusted proxies (``--proxy-protocol-from``)."""
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

    def on_closing(self, conn: Connection) -> None:
        """``conn`` began closing (called once, whatever the reason); its socket is
        closed later, after its last bytes are flushed or ``linger`` runs out."""

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
        transport: how accepted connections carry bytes (:mod:`pollchat.server.transport`).
        accept_failing: accepting fails for lack of descriptors (logged once).
        proxy_from: networks of trusted proxies (see the attribute).
    """

    __slots__ = ("sock", "make_codec", "transport", "accept_failing", "proxy_from")

    def __init__(
        self,
        sock: socket.socket,
        make_codec: Callable[[], Codec],
        tls: ssl.SSLContext | None,
        proxy_from: ProxySources = (),
    ) -> None:
        self.sock: socket.socket | None = sock
        self.make_codec = make_codec
        self.transport: Transport = PLAIN
        self.tls = tls
        self.accept_failing = False
        self.proxy_from = proxy_from
        """Networks of trusted proxies: a connection from one must begin with a PROXY
        header (:mod:`pollchat.protocol.proxy`), whose source address becomes the
        connection's; empty: no header is read from anyone."""

    @property
    def tls(self) -> ssl.SSLContext | None:
        """The server-side TLS context accepted connections are wrapped in (``None``:
        plain TCP). Replacing it (a certificate reload) affects new connections only."""
        transport = self.transport
        return transport.context if isinstance(transport, TlsTransport) else None

    @tls.setter
    def tls(self, context: ssl.SSLContext | None) -> None:
        self.transport = PLAIN if context is None else TlsTransport(context)

    @property
    def address(self) -> tuple[str, int] | None:
        """The bound ``(host, port)`` (the real port when 0 was asked); ``None`` once closed."""
        if self.sock is None:
            return None
        host, port = self.sock.getsockname()[:2]
        return host, port


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
        proxy_timeout: seconds a connection from a trusted proxy may take to send its
            PROXY header before it is closed.

    Listening sockets are added with :meth:`listen`. Output buffers are ``loop.output``'s
    (:class:`~pollchat.server.output.Outputs`), broadcasts ``loop.broadcasts``'
    (:class:`~pollchat.server.broadcast.Broadcaster`); the methods of the same names
    here hand over to them.
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
        proxy_timeout: float = PROXY_HEADER_TIMEOUT,
    ) -> None:
        self.handler: Handler = handler  # type: ignore[assignment]
        self.proxy_timeout = proxy_timeout
        self._awaiting_header: dict[_AwaitingHeader, None] = {}
        """Accepted sockets from trusted proxies whose PROXY header is not read yet."""
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
        self._to_finalize: list[Connection] = []
        self._ended: dict[Connection, None] = {}
        """Connections whose read met the end of the stream (or an error) right behind
        their last bytes, which no readiness event reports again (TLS: the close_notify
        is out of the kernel already): read once more in this pass, or when reading
        resumes (:meth:`_read_ended`)."""
        self._recv_view = memoryview(bytearray(RECV_SIZE))  # every read lands here
        self.output = Outputs(
            max_output=max_output, max_output_total=max_output_total, clock=clock, close_slow=self._close_slow
        )
        self.broadcasts = self.output.broadcasts
        self._to_flush = self.output.to_flush
        self._backlogged = self.output.backlogged
        self.replying: tuple[Connection, str] | None = None
        self.gathering = 0
        """Connections that gather every line sent to them (an IRC client's labelled
        message before registration: :class:`~pollchat.server.connection.Capture`)."""
        """While a labelled JSON-mode line is handled: its connection and label
        (:mod:`pollchat.protocol.labels`); what is sent to that connection carries it."""
        self.before_flush: list[Callable[[], None]] = []
        """Called in every pass before the output is flushed: private messages and group
        lines are committed here, so no acknowledgement leaves before what it
        acknowledges is stored (as Redis writes its AOF before replying)."""
        self.after_flush: list[Callable[[], None]] = []
        """Called at the end of every pass, after the sockets are flushed (the rest of
        the history batch, pruning)."""
        self._broadcast_flushed = 0.0  # timers' clock at the end of the last flush of the broadcasts
        self._broadcast_cost = 0.0  # seconds that flush took
        self.broadcast_flushes = 0
        """Flushes of the broadcasts so far (:meth:`hold_broadcasts`: a change means the
        held bytes went out)."""
        self._held_until = 0.0  # timers' clock: the broadcasts wait until then (hold_broadcasts)
        self._wait_timer: Timer | None = None  # wakes the loop when waiting broadcasts are due

    @property
    def wakeup_fd(self) -> int:
        """The descriptor to give ``signal.set_wakeup_fd`` (non-blocking)."""
        return self._wake_w.fileno()

    # --- running -----------------------------------------------------------------------------

    def run_once(self, timeout: float | None = None) -> None:
        """One pass: wait at most ``timeout`` seconds (or until the next timer), handle
        every ready event, run results and timers, flush output, finalize closes."""
        if self._ended and any(conn.reading for conn in self._ended):
            timeout = 0  # an end to report, resumed since the last pass
        for key, mask in self.selector.select(self.timers.timeout(timeout)):
            data = key.data
            if isinstance(data, Listener):
                self._accept(data)
            elif isinstance(data, _AwaitingHeader):
                try:
                    self._read_header(data)
                except Exception:  # a bug must cost one connection, not the server
                    log.exception("connection from proxy %s: internal error", show_address(data.address))
                    if data in self._awaiting_header:
                        self._end_wait(data)
                        data.sock.close()
            elif data is _WAKEUP:
                self._drain_wakeup()
            elif isinstance(data, _Watch):
                try:
                    if mask & selectors.EVENT_READ:
                        data.on_readable()
                    if mask & selectors.EVENT_WRITE and data.on_writable is not None:
                        data.on_writable()
                except Exception:
                    log.exception("error handling %r", key.fileobj)
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
        if self._ended:
            self._read_ended()
        for hook in self.before_flush:
            hook()
        self._flush()
        if self.output.max_output_total and self._backlogged and self.output.bound_total():
            self._flush()  # the dropped ones' last lines, the others' left notices
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
        self.watch(fileobj, callback)

    def remove_reader(self, fileobj: object) -> None:
        """Stop watching ``fileobj``."""
        self.unwatch(fileobj)

    def watch(
        self,
        fileobj: object,
        on_readable: Callable[[], None],
        on_writable: Callable[[], None] | None = None,
    ) -> None:
        """Drive a socket that is not a client connection (a database's or a cluster
        engine's) from this loop: ``on_readable`` runs on the loop thread whenever
        ``fileobj`` is readable, ``on_writable`` whenever it is writable while write
        interest is on (:meth:`want_write`; off at first, as a socket is nearly always
        writable). An exception from a callback is logged, never raised out of the loop.

        Raises:
            KeyError: ``fileobj`` is already watched.
        """
        self.selector.register(fileobj, selectors.EVENT_READ, _Watch(on_readable, on_writable))  # type: ignore[arg-type]

    def want_write(self, fileobj: object, on: bool) -> None:
        """Turn write interest on or off for a watched ``fileobj`` (for example while a
        driver has bytes its socket did not take)."""
        key = self.selector.get_key(fileobj)  # type: ignore[arg-type]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if on else 0)
        if key.events != events:
            self.selector.modify(fileobj, events, key.data)  # type: ignore[arg-type]

    def unwatch(self, fileobj: object) -> None:
        """Stop watching ``fileobj`` (nothing if it is not watched); call it before closing it."""
        try:
            self.selector.unregister(fileobj)  # type: ignore[arg-type]
        except (KeyError, ValueError):
            pass

    def listen(
        self,
        sock: socket.socket,
        make_codec: Callable[[], Codec],
        *,
        tls: ssl.SSLContext | None = None,
        proxy_from: ProxySources = (),
    ) -> Listener:
        """Accept connections on ``sock`` (bound and listening; made non-blocking here),
        each with the codec ``make_codec()`` returns; with ``tls``, each is wrapped in a
        server-side TLS connection whose handshake runs in this loop, non-blocking.
        A connection from an address in ``proxy_from`` must first send a PROXY header
        (before any TLS): its source address becomes the connection's."""
        sock.setblocking(False)
        listener = Listener(sock, make_codec, tls, proxy_from)
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
        for waiting in list(self._awaiting_header):
            self._end_wait(waiting)
            waiting.sock.close()
        for conn in list(self.connections):
            self._finalize_one(conn)
        self.selector.close()
        self._wake_r.close()
        self._wake_w.close()

    # --- services for the handler -------------------------------------------------------------

    def queue(self, conn: Connection, data: bytes) -> None:
        """Append ``data`` to ``conn``'s output buffer, sent at the end of the pass
        (:meth:`Outputs.queue <pollchat.server.output.Outputs.queue>`)."""
        self.output.queue(conn, data)

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

    def _answer_gathering(self, targets: Iterable[Connection], event: ServerEvent) -> Iterable[Connection]:
        """Send ``event`` alone to the ``targets`` that gather every line (their copy
        goes into their answer); return the others."""
        others = []
        for conn in targets:
            capture = conn.capture
            if capture is not None and capture.always:
                if not conn.closing:
                    conn.send(event)
            else:
                others.append(conn)
        return others

    def fan_out(self, targets: Iterable[Connection], event: ServerEvent) -> None:
        """Queue one event to many connections, encoded once per output mode
        (:meth:`Outputs.fan_out <pollchat.server.output.Outputs.fan_out>`)."""
        if self.replying is not None:  # rare: a labelled line is being answered
            targets = self._answer_labelled(targets, event)
        if self.gathering:  # rarer: a labelled IRC message before registration
            targets = self._answer_gathering(targets, event)
        self.output.fan_out(targets, event)

    def join_everyone(self, conn: Connection) -> None:
        """From now on ``conn`` receives :meth:`broadcast` events (it logged in)
        (:meth:`Broadcaster.join <pollchat.server.broadcast.Broadcaster.join>`)."""
        self.broadcasts.join(conn)

    def leave_everyone(self, conn: Connection) -> None:
        """``conn`` receives no more broadcasts (it logged out); what was broadcast to
        it before, in this pass, is appended to its buffer first."""
        self.broadcasts.leave(conn)

    def broadcast(self, event: ServerEvent, exclude: Connection | None = None, skip: Collection[Connection] = ()) -> None:
        """Queue ``event`` to every connection that joined (:meth:`join_everyone`) but
        ``exclude`` and those in ``skip``, appended at the end of the pass with the
        pass's other broadcasts
        (:meth:`Broadcaster.broadcast <pollchat.server.broadcast.Broadcaster.broadcast>`).

        A connection whose labelled IRC message is being answered (a ``NICK``: everyone
        sees it, and it is also the answer) gets its copy alone, gathered into that
        answer (:class:`~pollchat.server.connection.Capture`); a JSON-mode labelled
        line's broadcasts stay unlabelled (docs/protocol.md)."""
        replying = self.replying
        if replying is not None:
            conn = replying[0]
            if conn.capture is not None and conn is not exclude and conn not in skip and conn.audience is not None:
                skip = {*skip, conn}
                if not conn.closing:
                    conn.send(event)
        self.broadcasts.broadcast(event, exclude, skip)

    def to_group(
        self,
        group: object,
        members: Sequence[Connection],
        event: ServerEvent,
        exclude: Connection | None = None,
        skip: Collection[Connection] = (),
    ) -> None:
        """Queue ``event`` to ``group``'s online ``members`` but ``exclude`` and those in
        ``skip``, appended at the end of the pass with the group's other lines of the
        pass (:meth:`Broadcaster.to_group <pollchat.server.broadcast.Broadcaster.to_group>`)."""
        replying = self.replying
        if replying is not None and replying[0] is not exclude and replying[0] in members:
            # Rare: a member other than the sender answers a labelled line with it.
            self.fan_out([conn for conn in members if conn is not exclude and conn not in skip], event)
            return
        self.broadcasts.to_group(group, members, event, exclude, skip)

    def switch_mode(self, conn: Connection, mode: str) -> None:
        """Switch ``conn``'s codec to ``mode`` (``mode json``); a logged-in connection
        first gets the broadcast bytes of its old mode it has not had, then moves to its
        new mode's audience."""
        self.broadcasts.switch_mode(conn, mode)

    def close(self, conn: Connection, reason: str, *, flush: bool = True) -> None:
        """Begin closing ``conn``. Idempotent.

        Args:
            reason: why, for the log.
            flush: send what is queued first (bounded by ``linger``); ``False`` drops it
                (the peer is gone or misbehaving).
        """
        if conn.closing:
            return
        if conn.capture is not None:  # a labelled answer cut short: what it has so far
            conn.end_capture(send=flush)
        # Broadcast bytes queued before the close come first; an overflow there closes
        # it as a slow consumer instead.
        if (conn.audience is not None or conn.group_audience is not None) and not self.broadcasts.leave(
            conn, catch_up=flush
        ):
            return
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
            conn.linger = self.timers.call_later(self.linger, self._expire_linger, conn)
            self._to_flush[conn] = None
        else:
            conn.outbuf.clear()
            self._to_finalize.append(conn)
        self.handler.on_closing(conn)

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

    # --- accepting and wake-ups -------------------------------------------------------------------

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
            if listener.proxy_from and _is_from(address, listener.proxy_from):
                self._await_header(listener, sock, address)
            else:
                self._begin(listener, sock, address)

    def _begin(self, listener: Listener, sock: socket.socket, address: object, via: str = "") -> None:
        """Make the connection of an accepted socket and tell the handler (the greeting,
        the per-address count); ``address`` is the client's (a PROXY header's source, with
        ``via`` naming the proxy for the log)."""
        transport = listener.transport
        try:
            sock = transport.accept(sock, self.keepalive)
        except OSError as exc:  # the peer reset already
            log.info("connection from %s failed before it began: %s", address, exc)
            sock.close()
            return
        conn = Connection(sock, address, self, listener.make_codec(), transport)
        self.connections[conn] = None
        self._update_interest(conn)
        log.info("connection #%d from %s%s", conn.id, conn.peer, via)
        try:
            self.handler.on_connect(conn)
        except Exception:  # a bug must cost one connection, not the server
            log.exception("connection #%d %s: internal error", conn.id, conn.peer)
            self.close(conn, "internal error", flush=False)

    # --- the PROXY header of a trusted proxy's connection ------------------------------------

    def _await_header(self, listener: Listener, sock: socket.socket, address: object) -> None:
        waiting = _AwaitingHeader(listener, sock, address)
        waiting.timer = self.timers.call_later(self.proxy_timeout, self._header_late, waiting)
        self._awaiting_header[waiting] = None
        self.selector.register(sock, selectors.EVENT_READ, waiting)

    def _header_late(self, waiting: _AwaitingHeader) -> None:
        waiting.timer = None
        if waiting in self._awaiting_header:
            self._refuse_header(waiting, f"no PROXY header within {self.proxy_timeout:g} s")

    def _read_header(self, waiting: _AwaitingHeader) -> None:
        """Read the PROXY header of a trusted proxy's connection without taking a byte
        past it: the header is peeked at and only its own bytes are consumed, so the
        client's bytes behind it (a first line, a TLS ClientHello) stay in the kernel
        for the codec or the TLS layer."""
        sock = waiting.sock
        try:
            peeked = sock.recv(proxy.V2_FIXED + proxy.V2_MAX_LENGTH, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._refuse_header(waiting, f"read error before the PROXY header: {exc.strerror or exc}")
            return
        if not peeked:
            self._refuse_header(waiting, "closed before its PROXY header")
            return
        try:
            header = proxy.parse(bytes(waiting.taken) + peeked)
        except proxy.NotProxyHeader as exc:
            self._refuse_header(waiting, str(exc))
            return
        # A header still incomplete is all header (parse's promise): take it out of the
        # kernel, or the level-triggered selector would report it again at once.
        want = len(peeked) if header is None else header.length - len(waiting.taken)
        try:
            got = sock.recv(want)
        except OSError as exc:
            self._refuse_header(waiting, f"read error in the PROXY header: {exc.strerror or exc}")
            return
        if header is None or len(got) < want:
            waiting.taken += got
            return
        self._end_wait(waiting)
        address = waiting.address if header.source is None else header.source
        via = f" (PROXY v{header.version} from {show_address(waiting.address)})"
        self._begin(waiting.listener, sock, address, via)

    def _refuse_header(self, waiting: _AwaitingHeader, reason: str) -> None:
        """Close a trusted proxy's connection whose header is missing, malformed or late:
        one log line, no reply (the proxy is misconfigured; no user could act on it)."""
        self._end_wait(waiting)
        log.warning("connection from proxy %s closed: %s", show_address(waiting.address), reason)
        waiting.sock.close()

    def _end_wait(self, waiting: _AwaitingHeader) -> None:
        self._awaiting_header.pop(waiting, None)
        if waiting.timer is not None:
            waiting.timer.cancel()
            waiting.timer = None
        if self._is_registered(waiting.sock):
            self.selector.unregister(waiting.sock)

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

    # --- reading and writing ----------------------------------------------------------------------

    def _read(self, conn: Connection) -> None:
        if conn.handshaking:
            self._handshake(conn)
            return
        try:
            data = conn.transport.recv(conn.sock, self._recv_view)
        except RECV_BLOCKED:
            return  # no whole TLS record yet
        except OSError as exc:  # reset, timeout, a TLS error: the peer is gone
            self._lost(conn, f"read error: {exc.strerror or exc}")
            return
        if data and conn.transport.read_again:  # the end came right behind: no event will tell
            self._ended[conn] = None
        if conn.outbuf and not conn.writing and not conn.closing:
            # Output left unsent without write interest waits for this read (TLS
            # needed the peer's bytes first): try it again at the end of the pass.
            self._to_flush[conn] = None
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

    def _read_ended(self) -> None:
        """Read the connections of :attr:`_ended` again, those still reading (a paused
        one waits for :meth:`resume_reading`): the read returns ``b""`` or raises, and
        the end is handled as if a readiness event had reported it."""
        for conn in list(self._ended):
            if conn.closed:
                del self._ended[conn]
            elif conn.reading:
                del self._ended[conn]
                self._read(conn)

    def _send(self, conn: Connection) -> None:
        """Send what the kernel takes; manage write interest; finish a flushed close."""
        if conn.handshaking:
            self._handshake(conn)
            return
        wait_for_read = False
        if conn.held and conn.outbuf:
            return  # what it acknowledges is not committed yet: the barrier flushes it then
        if conn.outbuf:
            try:
                sent = conn.sock.send(conn.outbuf)
            except SEND_BLOCKED:
                sent = 0
            except SEND_NEEDS_READ:  # write interest would spin: the next read retries
                sent, wait_for_read = 0, True
            except OSError as exc:  # EPIPE, ECONNRESET: the peer is gone
                conn.outbuf.clear()
                self._lost(conn, f"write error: {exc.strerror or exc}")
                return
            del conn.outbuf[:sent]
        self._set_write_interest(conn, bool(conn.outbuf) and not wait_for_read)
        if conn.closing and not conn.outbuf:
            self._finish_flushed_close(conn)

    def _lost(self, conn: Connection, reason: str) -> None:
        """The peer is gone (a read or write error): close at once, or finish a close."""
        conn.peer_eof = True
        if conn.closing:
            self._to_finalize.append(conn)
        else:
            self.close(conn, reason, flush=False)

    def _finish_flushed_close(self, conn: Connection) -> None:
        if conn.peer_eof:
            self._to_finalize.append(conn)
            return
        try:
            conn.transport.shutdown_write(conn.sock)  # the peer sees EOF after our last line
        except OSError:
            self._to_finalize.append(conn)
            return
        self.resume_reading(conn)  # read and discard until the peer closes (or linger ends)

    def _handshake(self, conn: Connection) -> None:
        """Advance ``conn``'s handshake as far as the peer's bytes allow."""
        try:
            # A front end may have its own answer to plain text on its TLS port (the
            # web port: an HTTP 400, which a browser shows).
            plain_reply = getattr(conn.codec, "plain_on_tls", PLAIN_ON_TLS_PORT)
            phase = conn.handshaking = conn.transport.handshake(conn.sock, conn.handshaking, plain_reply)
        except HandshakeError as exc:
            conn.peer_eof = True
            self.close(conn, str(exc), flush=False)
            return
        if phase is Handshake.PLAIN_TEXT:
            log.info("connection #%d %s: plain text on the TLS port", conn.id, conn.peer)
            self.close(conn, "plain text on the TLS port", flush=False)
            return
        self._set_write_interest(conn, phase is Handshake.WANT_WRITE)
        if phase is not Handshake.DONE:
            return
        log.info("connection #%d %s: %s", conn.id, conn.peer, conn.transport.describe(conn.sock))
        self.handler.on_secure(conn)
        if conn.outbuf:
            self._to_flush[conn] = None  # what was queued before the handshake (the greeting)

    def _set_write_interest(self, conn: Connection, on: bool) -> None:
        """Register write interest for ``conn`` (only while output is left unsent), or
        take it away; backlogged connections are the ones with it on."""
        if conn.writing != on:
            conn.writing = on
            if on:
                self._backlogged[conn] = None
            else:
                self._backlogged.pop(conn, None)
            self._update_interest(conn)

    def _flush(self) -> None:
        # A send error closes a connection, and its left notice queues new output for
        # others: repeat until nothing is pending, so nothing waits for the next event.
        # Ends because each connection closes at most once.
        # Lines queued for single connections go first (a newcomer's welcome, a reply),
        # then the pass's broadcasts, then whatever those left over.
        to_flush = self._to_flush  # shared with the broadcaster: emptied, never replaced
        broadcasts = self.broadcasts
        while True:
            if to_flush:
                pending = list(to_flush)
                to_flush.clear()
                for conn in pending:
                    if not conn.closed:
                        self._send(conn)
            elif broadcasts.active:
                if self._broadcasts_wait():
                    return
                started = self.timers.clock()
                broadcasts.flush()
                self.broadcast_flushes += 1
                self._broadcast_flushed = self.timers.clock()
                self._broadcast_cost = self._broadcast_flushed - started
            else:
                return

    @property
    def broadcast_cost(self) -> float:
        """Seconds the last flush of the broadcasts took (0.0 before the first)."""
        return self._broadcast_cost

    def hold_broadcasts(self, until: float) -> None:
        """Keep what is broadcast pending until ``until`` (the timers' clock, seconds;
        0.0 or a time past: no longer), then flush it in the first pass at or after it
        (a timer wakes the loop then). Everything pending waits, group lines included;
        replies and private lines do not (a connection given one first gets the
        broadcast bytes it is owed: :meth:`Broadcaster.settle`, so order holds). A
        cluster node's bus lines linger so (:mod:`pollchat.server.cluster.linger`)."""
        self._held_until = until

    def _broadcasts_wait(self) -> bool:
        """Whether the pending broadcasts wait for a later pass: held by
        :meth:`hold_broadcasts` until a time not yet reached, or only presence
        notices (:meth:`_presence_waits`); a timer wakes the loop when they are due."""
        now = self.timers.clock()
        due = self._held_until
        if due and now >= due:
            due = self._held_until = 0.0
        if not due:
            if self.broadcasts.urgent:
                return False
            due = self._presence_waits(now)
            if not due:
                return False
        timer = self._wait_timer
        if timer is None or timer.cancelled or timer.when > due:
            if timer is not None:
                timer.cancel()
            self._wait_timer = self.timers.call_later(due - now, self._wait_due)
        return True

    def _presence_waits(self, now: float) -> float:
        """When the pass's broadcasts, only entered and left notices, are due, if they
        wait for a later pass (0.0: they do not): with :data:`PRESENCE_BATCH_MIN`
        members or more, until :data:`PRESENCE_SEND_SECONDS` per member, and
        :data:`PRESENCE_WAIT_FACTOR` times what the last flush took (at most
        :data:`PRESENCE_WAIT_MAX`), have passed since the end of that flush. In a storm
        of 19,000 logins a pass admits a few; flushing each pass's notices cost one
        ``send()`` per member per pass, so the logins' time grew with the square of
        their number. Chat lines, group lines and replies never wait; order holds
        because the notices stay pending (:meth:`Broadcaster.settle`)."""
        members = self.broadcasts.members()
        if members < PRESENCE_BATCH_MIN:
            return 0.0
        wait = max(members * PRESENCE_SEND_SECONDS, min(PRESENCE_WAIT_FACTOR * self._broadcast_cost, PRESENCE_WAIT_MAX))
        due = self._broadcast_flushed + wait
        return due if now < due else 0.0

    def _wait_due(self) -> None:
        self._wait_timer = None  # this pass flushes them (no longer early)

    # --- closing ----------------------------------------------------------------------------------

    def _close_slow(self, conn: Connection) -> None:
        """The end of a slow consumer (its buffer already cut at a line boundary): the
        handler may queue one last line, then a flushed close."""
        self.handler.on_slow_consumer(conn)
        self.close(conn, "slow consumer", flush=True)

    def _expire_linger(self, conn: Connection) -> None:
        if not conn.closed:
            if conn.outbuf:
                log.info("connection #%d %s: %d bytes unsent at close", conn.id, conn.peer, len(conn.outbuf))
            self._to_finalize.append(conn)

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

    # --- the selector -----------------------------------------------------------------------------

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


class _AwaitingHeader:
    """An accepted socket from a trusted proxy, until its PROXY header is read."""

    __slots__ = ("listener", "sock", "address", "taken", "timer")

    def __init__(self, listener: Listener, sock: socket.socket, address: object) -> None:
        self.listener = listener
        self.sock = sock
        self.address = address  # the proxy's
        self.taken = bytearray()  # the header's bytes read so far
        self.timer: Timer | None = None


def _is_from(address: object, networks: ProxySources) -> bool:
    """Whether a peer's socket address is in one of ``networks`` (an IPv4-mapped IPv6
    address, as a dual-stack socket reports IPv4 peers, counts as its IPv4 address)."""
    if not isinstance(address, tuple):
        return False
    try:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


class _Watch:
    __slots__ = ("on_readable", "on_writable")

    def __init__(self, on_readable: Callable[[], None], on_writable: Callable[[], None] | None) -> None:
        self.on_readable = on_readable
        self.on_writable = on_writable
