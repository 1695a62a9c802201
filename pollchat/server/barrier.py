"""The commit barrier: a reply that promises something leaves only once it is committed.

With the SQLite store every write is committed when the call returns (the history's
batch in the loop's ``before_flush``), so nothing here is needed. With PostgreSQL
(:class:`~pollchat.store.pgviews.PgViewStore`) writes are queued to the database and
committed a little later, in order, each with a commit sequence number. The chat
service marks the store's last number before it handles a connection's request and,
after it, :meth:`CommitBarrier.hold`\\ s the connection if the request issued writes
(a registration, a group change, an admin's ban; a private or group line's history
batch in ``before_flush``). A held connection keeps queueing output but sends none
(:meth:`pollchat.server.loop.EventLoop._send` skips it, and direct writes are off so
nothing bypasses its buffer); when the database reports every write up to the highest
one the connection waits for committed, its output goes in the same loop pass. Other
connections are never held. Should the database refuse one of its writes (a unique
index found a conflict the view missed), what it was about to be told is false: its
output is dropped and the connection closed, logged as an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from pollchat.protocol.events import Error
from pollchat.server.connection import Connection
from pollchat.texts import ErrorCode

log = logging.getLogger(__name__)


class CommitCounter(Protocol):
    """What the barrier needs of a write-behind store (implemented by
    :class:`~pollchat.store.pgviews.PgViewStore`)."""

    @property
    def issued(self) -> int:
        """The commit sequence number of the last write issued."""

    @property
    def done(self) -> int:
        """Every write numbered up to this has been committed or refused."""

    def failed_between(self, low: int, high: int) -> bool:
        """Whether a write numbered in ``(low, high]`` was refused."""

    def on_done(self, callback: Callable[[int], None]) -> None:
        """Call ``callback(done)`` whenever ``done`` advances."""


class CommitBarrier:
    """Holds connections until the writes their requests issued are committed.

    Args:
        store: the write-behind store's commit numbers.
        to_flush: the loop's set of connections to send at the end of the pass
            (:attr:`pollchat.server.output.Outputs.to_flush`).
        close: the loop's close, for a connection whose promised write was refused.
    """

    def __init__(
        self,
        store: CommitCounter,
        to_flush: dict[Connection, None],
        close: Callable[..., None],
    ) -> None:
        self.store = store
        self._to_flush = to_flush
        self._close = close
        self._held: dict[Connection, tuple[int, int, list[tuple[int, int]]]] = {}
        self._pending: set[Connection] = set()
        store.on_done(self.released)

    def mark(self) -> int:
        """The store's last commit sequence number (call before handling a request)."""
        return self.store.issued

    def hold_pending(self, conn: Connection) -> None:
        """Hold ``conn`` now for a write that is issued later in the pass (a private or
        group line's history batch, in ``before_flush``): nothing it was answered may
        leave meanwhile, not even by a write event of the same pass. The
        :meth:`hold` that follows settles it."""
        if conn.closed or conn in self._pending:
            return
        self._pending.add(conn)
        conn.held = True
        conn.direct_writes = False

    def hold(self, conn: Connection, since: int) -> None:
        """Hold ``conn`` until every write issued after ``since`` (a :meth:`mark`) and
        up to now is committed; nothing if there is none or they are committed already
        (a :meth:`hold_pending` hold then ends)."""
        high = self.store.issued
        if high <= since or high <= self.store.done or conn.closed:
            if conn in self._pending:
                self._pending.discard(conn)
                if conn not in self._held:
                    self._let_go(conn)
            return
        self._pending.discard(conn)
        held = self._held.get(conn)
        if held is None:
            conn.held = True
            conn.direct_writes = False  # every byte through its buffer, in order
            self._held[conn] = (since, high, [(since, high)])
        else:
            low, old_high, ranges = held
            ranges.append((since, high))
            self._held[conn] = (min(low, since), max(old_high, high), ranges)

    @property
    def held(self) -> int:
        """How many connections are held."""
        return len(self._held)

    def released(self, done: int) -> None:
        """The store has committed every write up to ``done``: let the connections that
        waited for no more go (in this loop pass), or close those whose write failed."""
        ready = [conn for conn, (_, high, _) in self._held.items() if high <= done]
        for conn in ready:
            _, _, ranges = self._held.pop(conn)
            if not conn.closed and any(self.store.failed_between(low, high) for low, high in ranges):
                self._pending.discard(conn)
                conn.outbuf.clear()
                code = self._refusal(ranges)
                if code is None:
                    log.error(
                        "connection #%d %s: the database refused a write its reply acknowledged; closing it unanswered",
                        conn.id,
                        conn.peer,
                    )
                    self._close(conn, "a write was refused by the database", flush=False)
                    continue
                # The store knows what the refusal means (another node registered the name
                # first): the client is told that instead of what it was about to be told.
                log.warning("connection #%d %s: the database refused its write: %s", conn.id, conn.peer, code.value)
                conn.held = False
                conn.direct_writes = conn.transport.direct_writes
                conn.send(Error.of(code))
                self._close(conn, code.value, flush=True)
                continue
            if conn in self._pending:
                continue  # a write of this pass is still to come: held until its hold()
            self._let_go(conn)

    def _refusal(self, ranges: list[tuple[int, int]]) -> ErrorCode | None:
        """What the store says a client whose write in ``ranges`` was refused is told
        (``refusal_between``, optional), or ``None``: closed unanswered."""
        refusal_between = getattr(self.store, "refusal_between", None)
        if refusal_between is None:
            return None
        for low, high in ranges:
            code = refusal_between(low, high)
            if code is not None:
                return code  # type: ignore[no-any-return]
        return None

    def _let_go(self, conn: Connection) -> None:
        conn.held = False
        conn.direct_writes = conn.transport.direct_writes
        if conn.outbuf and not conn.closed:
            self._to_flush[conn] = None
