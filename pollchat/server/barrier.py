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
index found a conflict the view missed), what it was about to be told is false. What
happens then is the store's word (``refusal_of``): a registration's client is told
`username is already used` and closed (its session is gone); a group another node made
first replaces only the reply to that request (the bytes it queued, from
:meth:`CommitBarrier.begin` to the hold) with `#g exists already` (an IRC client's
JOIN is tried again, :attr:`CommitBarrier.answer`) and the connection stays, with
everything else it was sent meanwhile; anything else drops its output and closes it,
logged as an error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from pollchat.protocol.events import Error
from pollchat.server.connection import Connection
from pollchat.texts import ErrorCode

log = logging.getLogger(__name__)


class _Blank(dict[str, object]):
    """Format fields missing from an error's details stay as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


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
        settle: Callable[[Connection], object] | None = None,
    ) -> None:
        self.store = store
        self._to_flush = to_flush
        self._close = close
        self._settle = settle
        # per held connection: lowest mark, highest write, and each hold's
        # (mark, highest write, where its reply starts and ends in outbuf; -1: unknown)
        self._held: dict[Connection, tuple[int, int, list[tuple[int, int, int, int]]]] = {}
        self._pending: set[Connection] = set()
        self._waiters: list[tuple[int, int, Callable[[bool], None]]] = []
        self.answer: Callable[[Connection, Any], bool] | None = None
        """Set by the chat service: answers a client that stays connected after its
        write was refused (``answer(conn, refusal)``, ``refusal`` the store's
        ``Refusal``) in its own way, such as an IRC JOIN tried again; ``False``: not
        handled, the refusal's error line is sent."""
        store.on_done(self.released)

    def mark(self) -> int:
        """The store's last commit sequence number (call before handling a request)."""
        return self.store.issued

    def begin(self, conn: Connection) -> int:
        """Where the reply to the request ``conn`` is about to make starts in its output
        buffer (a byte offset, given to :meth:`hold` as ``start``), after the bytes it is
        owed of this pass (broadcasts) were appended, so the reply is one range."""
        if self._settle is not None and not conn.closing:
            self._settle(conn)
        return len(conn.outbuf)

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

    def hold(self, conn: Connection, since: int, start: int = -1) -> None:
        """Hold ``conn`` until every write issued after ``since`` (a :meth:`mark`) and
        up to now is committed; nothing if there is none or they are committed already
        (a :meth:`hold_pending` hold then ends). ``start``: where the reply began
        (:meth:`begin`; -1: unknown, the connection is closed should its write be
        refused)."""
        high = self.store.issued
        if high <= since or high <= self.store.done or conn.closed:
            if conn in self._pending:
                self._pending.discard(conn)
                if conn not in self._held:
                    self._let_go(conn)
            return
        self._pending.discard(conn)
        held = self._held.get(conn)
        end = len(conn.outbuf) if start >= 0 else -1
        if held is None:
            conn.held = True
            conn.direct_writes = False  # every byte through its buffer, in order
            self._held[conn] = (since, high, [(since, high, start, end)])
        else:
            low, old_high, ranges = held
            ranges.append((since, high, start, end))
            self._held[conn] = (min(low, since), max(old_high, high), ranges)

    def after_commit(self, since: int, then: Callable[[bool], None]) -> None:
        """Call ``then(refused)`` once every write issued after ``since`` (a :meth:`mark`)
        and up to now is committed or refused (``refused``: one was); at once if there is
        none or they are done already. Holds no connection: the caller sends nothing
        that promises them until then (a cluster's registration is admitted then)."""
        high = self.store.issued
        if high <= since or high <= self.store.done:
            then(high > since and self.store.failed_between(since, high))
            return
        self._waiters.append((since, high, then))

    @property
    def held(self) -> int:
        """How many connections are held."""
        return len(self._held)

    def released(self, done: int) -> None:
        """The store has committed every write up to ``done``: let the connections that
        waited for no more go (in this loop pass), or close those whose write failed."""
        if self._waiters:
            waiting = self._waiters
            self._waiters = [w for w in waiting if w[1] > done]
            for since, high, then in waiting:
                if high <= done:
                    then(self.store.failed_between(since, high))
        ready = [conn for conn, (_, high, _) in self._held.items() if high <= done]
        for conn in ready:
            _, _, ranges = self._held.pop(conn)
            failed = [r for r in ranges if self.store.failed_between(r[0], r[1])] if not conn.closed else []
            if failed and self._replace_replies(conn, failed):
                if conn in self._pending or conn in self._held:  # its new answer waits for a write too
                    continue
                self._let_go(conn)
                continue
            if failed:
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

    def _replace_replies(self, conn: Connection, failed: list[tuple[int, int, int, int]]) -> bool:
        """If the store says each refused write in ``failed`` leaves its client
        connected (``refusal_of(...).stays``) and each reply's place in the output
        buffer is known, cut those replies out, answer each refusal instead and return
        ``True``; else change nothing and return ``False`` (the caller closes)."""
        refusal_of = getattr(self.store, "refusal_of", None)
        if refusal_of is None:
            return False
        refusals = [refusal_of(low, high) for low, high, _, _ in failed]
        size = len(conn.outbuf)
        if any(r is None or not r.stays for r in refusals) or any(
            not 0 <= start <= end <= size for _, _, start, end in failed
        ):
            return False
        for _, _, start, end in sorted(failed, key=lambda r: r[2], reverse=True):
            del conn.outbuf[start:end]  # nothing was sent while held: the offsets hold
        for refusal in refusals:
            log.warning("connection #%d %s: the database refused its write: %s", conn.id, conn.peer,
                        refusal.code.value.format_map(_Blank(refusal.detail)))
            if self.answer is None or not self.answer(conn, refusal):
                conn.send(Error.of(refusal.code, **refusal.detail))
        return True

    def _refusal(self, ranges: list[tuple[int, int, int, int]]) -> ErrorCode | None:
        """What the store says a client whose write in ``ranges`` was refused is told
        (``refusal_between``, optional), or ``None``: closed unanswered."""
        refusal_between = getattr(self.store, "refusal_between", None)
        if refusal_between is None:
            return None
        for low, high, _, _ in ranges:
            code = refusal_between(low, high)
            if code is not None:
                return code  # type: ignore[no-any-return]
        return None

    def _let_go(self, conn: Connection) -> None:
        conn.held = False
        conn.direct_writes = conn.transport.direct_writes
        if conn.outbuf and not conn.closed:
            self._to_flush[conn] = None
