"""No client can starve the loop: input budgets and a bound on the work per pass.

Every WebSocket frame and every line a client sends is a *unit* of work, before and
after login (the line rate limit only sees chat lines: a flood of pings, empty
continuation frames or empty lines passed it, and each 64 KiB read was parsed in one go,
about 10,000 frames, while everyone else waited). :class:`InputGuard` stands between
the loop's reads and the codec:

* **work per pass**: a read is fed to the codec in slices of :data:`SLICE` bytes until
  :data:`PASS_UNITS` units are parsed; the rest is held, reading from that connection
  pauses, and parsing goes on in the next pass (a timer set after the pass, due at
  once), so one pass does
  a bounded amount of work for each connection and every other connection gets its
  turn in between.
* **a budget per connection** (``--input-budget``, units per second, bursts of
  :data:`BURST_SECONDS` seconds' worth; :mod:`pollchat.core.budget`): past it, reading
  pauses until the debt is paid (ngIRCd's penalty idea), and a connection that stays
  over it for :data:`OVER_LIMIT` seconds (in debt again after every pass it is read
  in: it always has more waiting) is told ``too many lines too fast, closing the
  connection`` and closed.
* **a budget per address** (``--address-input-budget``), the same over all connections
  of one address (an IPv6 /64) together and kept across reconnects, so reconnecting for
  a fresh budget gains nothing: while the address is in debt its connections are not
  read from.

Held bytes are one read at most (reading is paused while any are held), and an end of
input that arrives behind held bytes waits for them, so the order of lines and the
hang-up is kept. 0 turns either budget off; the bound on the work per pass stays.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pollchat.core.budget import InputBudget
from pollchat.protocol.events import Error
from pollchat.protocol.codec import Input
from pollchat.texts import ErrorCode

if TYPE_CHECKING:
    from pollchat.server.connection import Connection
    from pollchat.server.loop import EventLoop
    from pollchat.server.timers import Timer

log = logging.getLogger(__name__)

PASS_UNITS = 256
"""Units (frames, lines) parsed for one connection in one loop pass, at most (plus
what one slice holds)."""
SLICE = 512
"""Bytes given to the codec at a time, so the per-pass bound is checked often: at most
512 empty lines or 85 empty masked frames per slice."""
BURST_SECONDS = 10.0
"""A budget lets this many seconds' worth of units through at once."""
OVER_LIMIT = 10.0
"""Seconds a connection (or an address) may stay over its budget before the connection
that keeps it there is closed."""


class _Held:
    """A connection the guard is holding back (rare: only while it is over its budget
    or has more input than one pass may parse)."""

    __slots__ = ("data", "paused", "timer", "queued", "eof", "over_since")

    def __init__(self) -> None:
        self.data = b""
        self.paused = False
        self.queued = False  # in the list for the next pass
        self.timer: Timer | None = None
        self.eof = False  # an end of input arrived behind the held bytes
        self.over_since: float | None = None


class _Address:
    """One address's budget state: its ``tat`` and since when it is over."""

    __slots__ = ("tat", "over_since")

    def __init__(self) -> None:
        self.tat = 0.0
        self.over_since: float | None = None


class InputGuard:
    """Meters the input of every connection of one loop.

    Args:
        loop: the event loop (pause and resume reading, its timers and their clock).
        rate: units per second one connection may send on average (0: no budget).
        address_rate: units per second all connections of one address may send
            together (0: no budget).
        on_continue: called with a connection whose held bytes may be parsed now; it
            must feed them through :meth:`receive` (the loop adapter's ``on_data``
            with ``b""``).
        on_eof: the connection's end of input, when it comes after held bytes.
    """

    def __init__(
        self,
        loop: EventLoop,
        *,
        rate: float,
        address_rate: float,
        on_continue: Callable[[Connection], None],
        on_eof: Callable[[Connection], None],
    ) -> None:
        self.loop = loop
        self.timers = loop.timers
        self.budget = InputBudget(rate, BURST_SECONDS) if rate > 0 else None
        self.address_budget = InputBudget(address_rate, BURST_SECONDS) if address_rate > 0 else None
        self.on_continue = on_continue
        self.on_eof = on_eof
        self._held: dict[Connection, _Held] = {}
        self._next_pass: list[Connection] = []  # to go on parsing in the next pass
        loop.after_flush.append(self._schedule_next_pass)
        # Least recently used first: entries whose budget is full again are forgotten
        # from the front, a few per use (see _address).
        self._addresses: OrderedDict[str, _Address] = OrderedDict()

    @property
    def enabled(self) -> bool:
        """Either budget is on."""
        return self.budget is not None or self.address_budget is not None

    # --- the loop adapter's calls -------------------------------------------------------

    def receive(self, conn: Connection, data: bytes) -> Sequence[Input]:
        """Feed ``data`` (and what was held) to ``conn``'s codec within the budgets and
        the per-pass bound; return the items parsed now. ``b""``: parse held bytes."""
        codec = conn.codec
        held = self._held.get(conn)
        if held is not None and held.data:
            data, held.data = held.data + data, b""
        elif held is None and len(data) <= SLICE and not self.enabled:
            return codec.receive_data(data)  # the common case with the budgets off
        now = self.timers.clock()
        address = self._address(conn.host, now) if self.address_budget is not None else None
        if self._wait(conn, address, now) > 0:  # in debt: not one more unit now
            self._hold(conn, data, now)
            return []
        frames = getattr(codec, "frames", None)  # a WebSocket counts frames, a line stream lines
        items: Sequence[Input]
        if len(data) <= SLICE:
            items = codec.receive_data(data)
            rest = b""
        else:
            sliced: list[Input] = []
            at = 0
            while at < len(data) and _units(codec, frames, sliced) < PASS_UNITS:
                sliced += codec.receive_data(data[at : at + SLICE])
                at += SLICE
            items, rest = sliced, data[at:]
        if self.enabled:
            self._charge(conn, address, _units(codec, frames, items), now)
            if self._flooding(conn, address, now):
                return []
        if rest or self._wait(conn, address, now) > 0:
            self._hold(conn, rest, now)
        elif (held := self._held.get(conn)) is not None:
            self._release(conn, held)
        return items

    def defer_eof(self, conn: Connection) -> bool:
        """``conn``'s input ended: ``True`` if bytes are still held, in which case
        :attr:`on_eof` is called once they are parsed (the caller must not act on
        the end now)."""
        held = self._held.get(conn)
        if held is None or not held.data:
            return False
        held.eof = True
        return True

    def forget(self, conn: Connection) -> None:
        """``conn`` is closing: drop what is held for it."""
        held = self._held.pop(conn, None)
        if held is not None and held.timer is not None:
            held.timer.cancel()

    # --- internals ----------------------------------------------------------------------

    def _address(self, host: str, now: float) -> _Address:
        """``host``'s entry, now the most recently used; first up to two least recently
        used entries whose budget is full again are forgotten (nothing is lost: a full
        budget is a fresh one), so the table holds only recent addresses."""
        addresses = self._addresses
        for _ in range(2):
            if not addresses:
                break
            oldest_host, oldest = next(iter(addresses.items()))
            if oldest_host == host or oldest.tat > now:
                break
            del addresses[oldest_host]
        address = addresses.get(host)
        if address is None:
            address = addresses[host] = _Address()
        else:
            addresses.move_to_end(host)
        return address

    def _wait(self, conn: Connection, address: _Address | None, now: float) -> float:
        wait = self.budget.wait(conn.input_tat, now) if self.budget is not None else 0.0
        if address is not None and self.address_budget is not None:
            wait = max(wait, self.address_budget.wait(address.tat, now))
        return wait

    def _charge(self, conn: Connection, address: _Address | None, units: int, now: float) -> None:
        if not units:
            return
        if self.budget is not None:
            conn.input_tat = self.budget.charge(conn.input_tat, now, units)
        if address is not None and self.address_budget is not None:
            address.tat = self.address_budget.charge(address.tat, now, units)
            if self.address_budget.wait(address.tat, now) <= 0:
                address.over_since = None
            elif address.over_since is None:
                address.over_since = now

    def _flooding(self, conn: Connection, address: _Address | None, now: float) -> bool:
        """Close ``conn`` if it, or its address, has been over budget for too long."""
        held = self._held.get(conn)
        over = self.budget is not None and self.budget.wait(conn.input_tat, now) > 0
        if over and held is None:
            held = self._held[conn] = _Held()
        if held is not None:
            if not over:
                held.over_since = None
            elif held.over_since is None:
                held.over_since = now
        since = [t for t in (held.over_since if held else None, address.over_since if address else None) if t is not None]
        if not since or now - min(since) < OVER_LIMIT:
            return False
        log.warning("connection #%d %s: over its input budget for %g s, disconnected", conn.id, conn.peer, OVER_LIMIT)
        self.forget(conn)
        conn.send(Error.of(ErrorCode.FLOODING))
        conn.close("flooding: over the input budget")
        return True

    def _hold(self, conn: Connection, rest: bytes, now: float) -> None:
        """Keep ``rest`` for later, stop reading, and come back when it may go on."""
        held = self._held.get(conn)
        if held is None:
            held = self._held[conn] = _Held()
        held.data = rest
        if not held.paused:
            held.paused = True
            self.loop.pause_reading(conn)
        if held.timer is None:
            delay = self._wait(conn, self._addresses.get(conn.host), now)
            if delay > 0:
                held.timer = self.timers.call_later(delay, self._continue, conn)
            elif not held.queued:
                held.queued = True  # not in this pass: the others get their turn first
                self._next_pass.append(conn)

    def _schedule_next_pass(self) -> None:
        """After a pass: a timer due at once for each connection with more to parse,
        so the next pass runs it (and its select() does not wait)."""
        for conn in self._next_pass:
            held = self._held.get(conn)
            if held is not None and held.queued:
                held.queued = False
                if held.timer is None:
                    held.timer = self.timers.call_later(0.0, self._continue, conn)
        self._next_pass.clear()

    def _continue(self, conn: Connection) -> None:
        held = self._held.get(conn)
        if held is None or conn.closing:
            return
        held.timer = None
        now = self.timers.clock()
        wait = self._wait(conn, self._addresses.get(conn.host), now)
        if wait > 0:
            held.timer = self.timers.call_later(wait, self._continue, conn)
            return
        if held.data:
            try:
                self.on_continue(conn)  # back into receive(), which holds again if need be
            except Exception:  # as in the loop's reads: a bug costs one connection
                log.exception("connection #%d %s: internal error", conn.id, conn.peer)
                conn.close("internal error", flush=False)
                return
        else:
            self._release(conn, held)
        if not held.data and held.eof and not conn.closing:
            held.eof = False
            self.on_eof(conn)

    def _release(self, conn: Connection, held: _Held) -> None:
        """Nothing held and no debt: read again (unless the peer has ended its input)."""
        if held.paused:
            held.paused = False
            if not conn.peer_eof:
                self.loop.resume_reading(conn)
        if held.over_since is None and held.timer is None and not held.queued and not held.eof:
            del self._held[conn]


def _units(codec: object, frames_before: int | None, items: Sequence[Input]) -> int:
    """The work done: frames parsed since ``frames_before`` on a codec that counts
    frames (a WebSocket: pings and empty continuations cost too), else lines."""
    if frames_before is None:
        return len(items)
    return codec.frames - frames_before  # type: ignore[attr-defined, no-any-return]
