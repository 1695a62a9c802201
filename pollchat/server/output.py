"""Output buffers: what is queued for each connection, and the bounds on it.

Every byte for a client is appended to its connection's ``outbuf`` here (Redis's
``networking.c`` does the same job: reply buffers and their limits, apart from the event
loop); the loop sends the buffers at the end of the pass. Every buffer is bounded: a
connection whose unsent output would pass ``max_output`` bytes is a slow consumer and is
dropped (logged, its buffer cut after the line the kernel may be in the middle of),
without delaying the others. So is their sum: when what is left unsent at the end of a
pass passes ``max_output_total`` bytes, the largest consumers are dropped first until it
fits.

Broadcasts to everyone logged in go through the
:class:`~pollchat.server.broadcast.Broadcaster` (``broadcasts``); anything queued for
one connection first settles what it is owed of those, so its bytes keep their order.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from pollchat.protocol.events import ServerEvent
from pollchat.server.broadcast import Broadcaster

if TYPE_CHECKING:
    from pollchat.server.connection import Connection

log = logging.getLogger(__name__)

WRITE_NOW = 16 * 1024
"""A reply at least this long, to a connection with nothing queued, is sent when queued
rather than at the end of the pass (a welcome with a long list of users)."""


class Outputs:
    """The output buffers of one event loop's connections.

    Args:
        max_output: output-buffer bound per connection, bytes (``ServerConfig.max_output``).
        max_output_total: bound on all unsent output, bytes (0 = none).
        clock: wall-clock seconds, the timestamp of encoded events (JSON ``ts``).
        close_slow: the loop's end of a slow consumer, called after its buffer is cut:
            the handler's last line, then a flushed close.

    Attributes:
        to_flush: connections with output queued in this pass (an insertion-ordered
            set), sent by the loop at the end of the pass; emptied, never replaced.
        backlogged: connections with output the kernel did not take (write interest on).
        broadcasts: the per-pass broadcasts (they share ``to_flush``).
    """

    def __init__(
        self,
        *,
        max_output: int,
        max_output_total: int,
        clock: Callable[[], float],
        close_slow: Callable[[Connection], None],
    ) -> None:
        self.max_output = max_output
        self.max_output_total = max_output_total
        self.clock = clock
        self.to_flush: dict[Connection, None] = {}
        self.backlogged: dict[Connection, None] = {}
        self.broadcasts = Broadcaster(max_output=max_output, to_flush=self.to_flush, drop=self.drop_slow_consumer, clock=clock)
        self._close_slow = close_slow

    def queue(self, conn: Connection, data: bytes) -> None:
        """Append ``data`` to ``conn``'s output buffer; it is sent at the end of the pass.

        A closing connection takes no more output. If the buffer would pass
        ``max_output`` bytes, the connection is dropped as a slow consumer.
        """
        if conn.closing or not self.broadcasts.settle(conn):
            return
        if len(conn.outbuf) + len(data) > self.max_output:
            self.drop_slow_consumer(conn)
            return
        view: bytes | memoryview = data
        if len(data) >= WRITE_NOW and not conn.outbuf and conn.direct_writes and not conn.handshaking:
            rest = _write_now(conn, data)
            if rest is None:
                return
            view = rest  # fits: the whole did
        conn.outbuf += view
        self.to_flush[conn] = None

    def fan_out(self, targets: Iterable[Connection], event: ServerEvent) -> None:
        """Queue one event to many connections, encoded once per distinct codec
        ``mode_key`` (all text-mode connections share one rendering, all JSON-mode ones
        another) with one timestamp. A codec that renders the event to ``b""`` (a typing
        hint on a text connection) is skipped. The rules of :meth:`queue` apply to each;
        this is :meth:`queue` unrolled, because fan-out is the server's hottest loop
        (measured in docs/performance.md: the per-recipient call was most of the CPU per
        delivery).
        """
        limit = self.max_output
        to_flush = self.to_flush
        broadcasts = self.broadcasts
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
            # settle() is a no-op while no broadcast is pending in the pass (the usual case).
            if broadcasts.active and not broadcasts.settle(conn):
                continue
            outbuf = conn.outbuf
            if len(outbuf) + len(data) > limit:
                self.drop_slow_consumer(conn)
                continue
            # a welcome, a /who (never during a TLS handshake: a write would start it)
            if len(data) >= WRITE_NOW and not outbuf and conn.direct_writes and not conn.handshaking:
                rest = _write_now(conn, data)
                if rest is not None:  # fits: the whole did
                    outbuf += rest
                    to_flush[conn] = None
                continue
            outbuf += data
            to_flush[conn] = None

    def drop_slow_consumer(self, conn: Connection, why: str = "") -> None:
        """``conn``'s output passed a bound: leave its audience (what it is owed goes
        too), keep the rest of the line the kernel may be in the middle of, so the peer
        never sees half a line, drop everything after it, and hand it to ``close_slow``."""
        self.broadcasts.remove(conn)
        log.warning(
            "connection #%d %s: %s, dropping slow consumer",
            conn.id,
            conn.peer,
            why or f"output buffer over {self.max_output} bytes",
        )
        end = conn.outbuf.find(b"\n")
        if end != -1:
            del conn.outbuf[end + 1 :]
        self._close_slow(conn)

    def bound_total(self) -> bool:
        """Drop the largest consumers until the unsent output of all connections fits
        in ``max_output_total`` (after a flush, only backlogged connections hold any).
        ``True``: some were over, and the loop flushes again (their last lines, the
        others' left notices)."""
        total = sum(len(conn.outbuf) for conn in self.backlogged)
        if total <= self.max_output_total:
            return False
        for conn in sorted(self.backlogged, key=lambda c: len(c.outbuf), reverse=True):
            if total <= self.max_output_total:
                break
            if not conn.closing:  # a closing one is gone within linger anyway
                total -= len(conn.outbuf)
                self.drop_slow_consumer(conn, f"all output over {self.max_output_total} bytes")
        return True


def _write_now(conn: Connection, data: bytes) -> memoryview | None:
    """Send a large reply to a connection with nothing queued at once: only what the
    kernel does not take is copied into its buffer (the rest, returned; ``None`` if all
    went). A 60 KB welcome among 10,000 users is then not copied per login into a buffer
    that is freed again, which fragmented the heap. Errors are left to the loop's send,
    which meets them again. Never called during a TLS handshake (a write would start
    it behind the loop's back); over TLS the send takes all or nothing
    (:class:`~pollchat.server.transport.TlsTransport`)."""
    try:
        sent = conn.sock.send(data)
    except OSError:
        sent = 0
    if sent == len(data):
        return None
    return memoryview(data)[sent:]
