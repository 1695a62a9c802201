"""Broadcasts: what goes to everyone logged in, batched once per loop pass.

Chat lines, entered and left notices, status changes: the chat service hands each to
:meth:`Broadcaster.broadcast`, which renders it once per output mode in use (one
timestamp) and appends the bytes to that mode's :class:`Audience` buffer. At the end of
the pass, :meth:`Broadcaster.flush` gives every member the whole pass's bytes at once:
the per-recipient work is per pass, not per line (Redis's ``pubsub.c`` keeps
fan-out apart from its event loop the same way).

Order per connection is kept by one rule, :meth:`Broadcaster.settle`: before anything
else is queued for one connection alone (a reply, a private message, a group line),
before it switches mode, leaves its audience or is closed, it is first given the
broadcast bytes of the pass it does not have yet. Each member's
``Connection.caught_up_to`` says how many of its audience's bytes it has; a sender
skips its own line by moving it past them.

Every output buffer stays bounded: a member whose buffer would pass ``max_output`` bytes
is handed to the loop's slow-consumer drop, at a line boundary.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pollchat.protocol.events import ServerEvent

if TYPE_CHECKING:
    from pollchat.server.connection import Connection


class Audience:
    """The connections of one output mode (codec ``mode_key``) that receive broadcasts
    (the logged-in ones, in login order), and the bytes broadcast to them in this pass
    (``pending``; each member's ``caught_up_to`` says how much of it is already in its
    output buffer, or was skipped)."""

    __slots__ = ("mode_key", "members", "pending")

    def __init__(self, mode_key: str) -> None:
        self.mode_key = mode_key
        self.members: dict[Connection, None] = {}  # an insertion-ordered set
        self.pending = bytearray()


class Broadcaster:
    """The audiences of one event loop and their per-pass buffers.

    Args:
        max_output: the output-buffer bound per connection, bytes.
        to_flush: the loop's set of connections with output to send this pass (a
            dict used as an insertion-ordered set); a connection given bytes is added.
        drop: the loop's slow-consumer drop, called with a connection whose buffer
            would pass ``max_output`` (it must :meth:`remove` it from its audience).
        clock: wall-clock seconds, the timestamp of rendered events (JSON ``ts``).
    """

    def __init__(
        self,
        *,
        max_output: int,
        to_flush: dict[Connection, None],
        drop: Callable[[Connection], None],
        clock: Callable[[], float],
    ) -> None:
        self.max_output = max_output
        self.clock = clock
        self.audiences: dict[str, Audience] = {}  # per codec mode_key
        self.active = False
        """Some audience has bytes pending in this pass. While false, every member is
        caught up and :meth:`settle` has nothing to do (a caller on a hot path may skip
        the call)."""
        self._to_flush = to_flush
        self._drop = drop

    # --- membership ------------------------------------------------------------------------

    def join(self, conn: Connection) -> None:
        """From now on ``conn`` receives broadcasts, in the audience of its codec's
        ``mode_key`` now; nothing broadcast earlier in the pass. A closing connection
        or a member is left as it is."""
        if conn.closing or conn.audience is not None:
            return
        key = conn.codec.mode_key
        audience = self.audiences.get(key)
        if audience is None:
            audience = self.audiences[key] = Audience(key)
        audience.members[conn] = None
        conn.audience = key
        conn.caught_up_to = len(audience.pending)

    def leave(self, conn: Connection, *, catch_up: bool = True) -> bool:
        """``conn`` receives no more broadcasts; with ``catch_up``, it is first given
        what was broadcast to it earlier in the pass. ``False``: that passed
        ``max_output`` and it was dropped as a slow consumer (out of its audience too)."""
        if catch_up and not self.settle(conn):
            return False
        self.remove(conn)
        return True

    def remove(self, conn: Connection) -> None:
        """Take ``conn`` out of its audience; what it is owed of this pass is dropped."""
        key = conn.audience
        if key is not None:
            del self.audiences[key].members[conn]
            conn.audience = None
            conn.caught_up_to = 0

    def switch_mode(self, conn: Connection, mode: str) -> None:
        """Switch ``conn``'s codec to ``mode``; a member first gets what it is owed in
        its old mode, then moves to the audience of its new ``mode_key``."""
        rejoin = conn.audience is not None and self.leave(conn)
        conn.codec.switch_mode(mode)
        if rejoin:
            self.join(conn)

    # --- bytes ------------------------------------------------------------------------------

    def broadcast(self, event: ServerEvent, exclude: Connection | None = None) -> None:
        """Render ``event`` once per audience (one timestamp) and append it to the
        audience's pending bytes, for every member but ``exclude``. A codec that renders
        it to ``b""`` (a typing hint in text mode) adds nothing.

        The rendering comes from a member whose codec still has the audience's mode key:
        a codec can close behind the loop's back (a WebSocket close frame read in the
        same chunk as its owner's last line) and then renders nothing, which must not
        cost the open members the line. An audience with no open codec left gets
        nothing: none of its members could be sent anything.
        """
        ts = 0.0
        for key, audience in self.audiences.items():
            for member in audience.members:
                codec = member.codec
                if codec.mode_key == key:  # the first member, unless its codec closed
                    break
            else:
                continue  # no members, or none that can be sent anything
            if not ts:
                ts = self.clock()
            data = codec.encode(event, ts)  # equal mode keys, equal bytes
            if not data:
                continue
            pending = audience.pending
            before = len(pending)
            pending += data
            self.active = True
            if exclude is not None and exclude.audience == key:
                if not self.settle(exclude, before):
                    continue  # dropped as a slow consumer: it left the audience
                exclude.caught_up_to = len(pending)

    def settle(self, conn: Connection, end: int | None = None) -> bool:
        """Give ``conn`` the broadcast bytes of this pass it does not have yet (up to
        ``end``, default all), appended to its output buffer: called before anything
        else is queued for it, so its bytes keep the order in which they were queued.
        ``False``: that passed ``max_output`` and ``conn`` was dropped as a slow
        consumer (the caller queues nothing more)."""
        key = conn.audience
        if key is None or not self.active:
            return True
        pending = self.audiences[key].pending
        if end is None:
            end = len(pending)
        start = conn.caught_up_to
        if start == end:
            return True
        conn.caught_up_to = end
        if len(conn.outbuf) + end - start > self.max_output:
            self._drop(conn)
            return False
        conn.outbuf += memoryview(pending)[start:end]
        self._to_flush[conn] = None
        return True

    def flush(self) -> None:
        """The end of the pass: give every member of each audience the pending bytes it
        does not have yet, once. A member with nothing else queued (the usual case) is
        sent them straight from the shared buffer, with no copy, and only what the kernel
        does not take is kept in its buffer; the others get them appended to their buffer
        (and are added to ``to_flush``). Slow consumers found here are dropped after the
        loop, so the members do not change while it runs."""
        self.active = False
        slow: list[Connection] = []
        to_flush = self._to_flush
        for audience in self.audiences.values():
            pending = audience.pending
            if not pending:
                continue
            audience.pending = bytearray()
            size = len(pending)
            direct = size <= self.max_output
            # The hot loop: one send() per member per pass; keep it free of extra calls
            # and attribute lookups.
            for conn in audience.members:
                if conn.caught_up_to or conn.outbuf or not direct or not conn.direct_writes:
                    self._append_owed(conn, pending, slow)
                    continue
                try:
                    sent = conn.sock.send(pending)
                except OSError:  # EAGAIN, or an error the loop's send meets again and handles
                    sent = 0
                if sent != size:
                    conn.outbuf += memoryview(pending)[sent:]
                    to_flush[conn] = None
        for conn in slow:
            if not conn.closing:
                self._drop(conn)

    def _append_owed(self, conn: Connection, pending: bytearray, slow: list[Connection]) -> None:
        """:meth:`flush` for a member that has part of ``pending`` already, has output
        queued, or needs the buffered path (a transport without direct writes, a pass
        past the bound): append what it lacks, or note it as a slow consumer. The bound
        is checked before any byte is sent, so what the kernel takes is always kept
        whole."""
        start, conn.caught_up_to = conn.caught_up_to, 0
        if start >= len(pending):
            return
        data = memoryview(pending)[start:] if start else pending
        outbuf = conn.outbuf
        if len(outbuf) + len(data) > self.max_output:
            slow.append(conn)
            return
        if not outbuf and conn.direct_writes:
            try:
                sent = conn.sock.send(data)
            except OSError:
                sent = 0
            if sent == len(data):
                return
            data = memoryview(pending)[start + sent :]
        outbuf += data
        self._to_flush[conn] = None
