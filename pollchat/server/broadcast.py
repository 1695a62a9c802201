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

Group lines are batched the same way, per loop pass, per group and per mode key
(:meth:`Broadcaster.to_group`): a :class:`GroupBatch` holds the members the core named
(its tuple of online members, shared between consecutive lines while nobody logs in or
out and the membership stays) and each mode's pending bytes, and each member's
``group_caught_up`` says how much of them it has. A connection is in at most one batch
at a time, and its owed bytes are always its group bytes first, then its main-chat
bytes, so a settle gives them in that order. Two rules keep that true:

* a batch is opened by settling each member (all it is owed goes to its buffer) and
  taking it out of any other batch;
* a group line finds its batch open only if the members are the same, nobody was taken
  out, and no main-chat bytes were added since it opened; otherwise the old batch is
  settled and a new one opened. A burst of lines to one group (the common case) opens
  one batch per pass; lines that alternate with main-chat lines or with other groups
  sharing members cost a walk over the members, as every line did before.

At the end of the pass the group batches are flushed first, then the main chat; the
batch of a group that had lines in the pass stays open for the next pass (its members
keep their places), so a steady burst walks the members once, not once per pass.

Every output buffer stays bounded: a member whose buffer would pass ``max_output`` bytes
is handed to the loop's slow-consumer drop, at a line boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import TYPE_CHECKING

from pollchat.protocol.events import Entered, Left, ServerEvent

if TYPE_CHECKING:
    from pollchat.server.connection import Connection, GroupShare


PRESENCE = (Entered, Left)
"""Broadcasts that may wait a little (:attr:`Broadcaster.urgent` stays false): in a
login storm every pass has a few entered notices, and each pass that has any costs one
``send()`` per member."""


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


class GroupAudience(Audience):
    """The members of one :class:`GroupBatch` that share a mode key, and the group's
    bytes rendered for that mode in this pass (``Connection.group_caught_up`` says how
    much each member has); ``intact`` until a member is taken out."""

    __slots__ = ("intact",)

    def __init__(self, mode_key: str) -> None:
        super().__init__(mode_key)
        self.intact = True


class GroupBatch:
    """One group's lines of this pass, kept open for the next while the group has
    lines: the members the core named when it was opened (``members``, compared by
    identity, then by value), one :class:`GroupAudience` per mode key, and the count of
    main-chat broadcasts when it opened or was last flushed (``opened_at``): it takes
    more lines only while that count and its members stay the same."""

    __slots__ = ("group", "members", "audiences", "opened_at")

    def __init__(self, group: object, members: Sequence[Connection], opened_at: int) -> None:
        self.group = group
        self.members = members
        self.audiences: dict[str, GroupAudience] = {}
        self.opened_at = opened_at

    def intact(self) -> bool:
        """No member was taken out since it opened."""
        return all(audience.intact for audience in self.audiences.values())

    def holds(self, conn: Connection) -> bool:
        """``conn`` is one of its members now."""
        share = conn.group_audience
        return share is not None and self.audiences.get(share.mode_key) is share


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
        self.groups: dict[object, GroupBatch] = {}  # open group batches (kept while their group has lines)
        self.broadcasts = 0
        """Main-chat broadcasts that added bytes, ever: a group batch opened before the
        latest one takes no more lines (its members may be owed main-chat bytes)."""
        self.active = False
        """Some audience has bytes pending in this pass. While false, every member is
        caught up and :meth:`settle` has nothing to do (a caller on a hot path may skip
        the call)."""
        self.urgent = False
        """Something pending must go out at the end of this pass: anything but
        :data:`PRESENCE` notices to everyone (a chat line, a group line...). While only
        presence notices are pending, the loop may keep them for a later pass (they
        stay pending, and every rule of :meth:`settle` holds across passes)."""
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
        """Take ``conn`` out of its audience and its group batch; what it is owed of
        this pass is dropped."""
        key = conn.audience
        if key is not None:
            del self.audiences[key].members[conn]
            conn.audience = None
            conn.caught_up_to = 0
        if conn.group_audience is not None:
            self._leave_group(conn)

    def _leave_group(self, conn: Connection) -> None:
        """Take ``conn`` out of its group batch, which then takes no more lines."""
        audience = conn.group_audience
        assert audience is not None
        del audience.members[conn]
        audience.intact = False
        conn.group_audience = None
        conn.group_caught_up = 0

    def switch_mode(self, conn: Connection, mode: str) -> None:
        """Switch ``conn``'s codec to ``mode``; a member first gets what it is owed in
        its old mode, then moves to the audience of its new ``mode_key`` (and out of its
        group batch: the group's next line opens a new one)."""
        rejoin = conn.audience is not None
        if (rejoin or conn.group_audience is not None) and not self.leave(conn):
            rejoin = False
        conn.codec.switch_mode(mode)
        if rejoin:
            self.join(conn)

    # --- bytes ------------------------------------------------------------------------------

    def broadcast(self, event: ServerEvent, exclude: Connection | None = None, skip: Collection[Connection] = ()) -> None:
        """Render ``event`` once per audience (one timestamp) and append it to the
        audience's pending bytes, for every member but ``exclude`` and those in
        ``skip``. A codec that renders it to ``b""`` (a typing hint in text mode) adds
        nothing.

        A left-out member is moved past the line the way a sender is (settled up to it,
        then its ``caught_up_to`` set after it), so the bytes stay shared by everyone
        else and the batch of the pass is not broken; ``skip`` costs one settle per
        member in it, and nothing while it is empty.

        The rendering comes from a member whose codec still has the audience's mode key:
        a codec can close behind the loop's back (a WebSocket close frame read in the
        same chunk as its owner's last line) and then renders nothing, which must not
        cost the open members the line. An audience with no open codec left gets
        nothing: none of its members could be sent anything.
        """
        ts = 0.0
        counted = False
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
            if not counted:
                self.broadcasts += 1  # group batches opened before this take no more lines
                counted = True
                if type(event) not in PRESENCE:
                    self.urgent = True
            self.active = True
            if exclude is not None and exclude.audience == key:
                if not self.settle(exclude, before):
                    continue  # dropped as a slow consumer: it left the audience
                exclude.caught_up_to = len(pending)
            if skip:
                for left_out in skip:
                    if left_out.audience == key and self.settle(left_out, before):
                        left_out.caught_up_to = len(pending)

    def to_group(
        self,
        group: object,
        members: Sequence[Connection],
        event: ServerEvent,
        exclude: Connection | None = None,
        skip: Collection[Connection] = (),
    ) -> None:
        """Render ``event`` once per mode key among ``members`` (one timestamp) and
        append it to the pending bytes of ``group``'s batch, for every member but
        ``exclude`` and those in ``skip`` (moved past the line as the sender is, so the
        batch stays whole); the members get them at the end of the pass, or before
        anything else is queued for them.

        ``members`` is every online member of the group, ``exclude`` included, in the
        order the core gives (the same tuple while nothing changed, so a burst of lines
        is one batch). A codec that renders the event to ``b""`` adds nothing."""
        while True:
            batch = self.groups.get(group)
            if (
                batch is None
                or not batch.intact()
                or batch.opened_at != self.broadcasts
                or (batch.members is not members and batch.members != members)
            ):
                if batch is not None:
                    self._close_group(batch)
                batch = self._open_group(group, members)
                if batch.opened_at != self.broadcasts:
                    continue  # a slow consumer dropped while opening it had its left notice broadcast
            skipped = None
            if exclude is not None and batch.holds(exclude):
                if not self._settle_group(exclude):
                    continue  # the sender was dropped as a slow consumer: it left the batch
                skipped = exclude.group_audience
            left_out = [conn for conn in skip if batch.holds(conn) and self._settle_group(conn)] if skip else []
            if skip and not batch.intact():
                continue  # one of them was dropped as a slow consumer: open the batch again
            break
        ts = 0.0
        for key, audience in batch.audiences.items():
            for member in audience.members:
                codec = member.codec
                if codec.mode_key == key:  # as in broadcast(): a closed codec renders nothing
                    break
            else:
                continue
            if not ts:
                ts = self.clock()
            data = codec.encode(event, ts)
            if data:
                audience.pending += data
                self.active = self.urgent = True
        if exclude is not None and skipped is not None:
            exclude.group_caught_up = len(skipped.pending)  # settled above: it skips only this line
        for conn in left_out:
            share = conn.group_audience
            if share is not None:
                conn.group_caught_up = len(share.pending)

    def _open_group(self, group: object, members: Sequence[Connection]) -> GroupBatch:
        """A new batch for ``group``: each open member first gets all it is owed (of
        another batch and of the main chat), then joins it under its mode key."""
        batch = self.groups[group] = GroupBatch(group, members, self.broadcasts)
        self.active = self.urgent = True  # the flush at the end of the pass ends the batch, bytes or not
        audiences = batch.audiences
        for conn in members:
            if conn.closing or (self.active and not self.settle(conn)):
                continue
            if conn.group_audience is not None:
                self._leave_group(conn)  # settled just now: nothing is lost
            key = conn.codec.mode_key
            audience = audiences.get(key)
            if audience is None:
                audience = audiences[key] = GroupAudience(key)
            audience.members[conn] = None
            conn.group_audience = audience
            conn.group_caught_up = 0
        return batch

    def _close_group(self, batch: GroupBatch) -> None:
        """Give each member of ``batch`` what it is owed of it, and end the batch."""
        if self.groups.get(batch.group) is batch:
            del self.groups[batch.group]
        for audience in batch.audiences.values():
            for conn in list(audience.members):  # a slow consumer's drop takes it out
                if self._settle_group(conn) and conn.group_audience is audience:
                    del audience.members[conn]
                    conn.group_audience = None
                    conn.group_caught_up = 0

    def _settle_group(self, conn: Connection, end: int | None = None) -> bool:
        """:meth:`settle` for ``conn``'s group batch alone (up to ``end``)."""
        audience = conn.group_audience
        if audience is None:
            return True
        pending = audience.pending
        if end is None:
            end = len(pending)
        start = conn.group_caught_up
        if start >= end:
            return True
        conn.group_caught_up = end
        if len(conn.outbuf) + end - start > self.max_output:
            self._drop(conn)
            return False
        conn.outbuf += memoryview(pending)[start:end]
        self._to_flush[conn] = None
        return True

    def settle(self, conn: Connection, end: int | None = None) -> bool:
        """Give ``conn`` the bytes of this pass it does not have yet, appended to its
        output buffer: those of its group batch, then the broadcast bytes (up to
        ``end``, default all). Called before anything else is queued for it, so its
        bytes keep the order in which they were queued. ``False``: that passed
        ``max_output`` and ``conn`` was dropped as a slow consumer (the caller queues
        nothing more)."""
        if not self.active:
            return True
        if conn.group_audience is not None and not self._settle_group(conn):
            return False
        key = conn.audience
        if key is None:
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
        """The end of the pass: give every member of each group batch, then of each
        audience, the pending bytes it does not have yet, once. A member with nothing
        else queued (the usual case) is sent them straight from the shared buffer, with
        no copy, and only what the kernel does not take is kept in its buffer; the
        others get them appended to their buffer (and are added to ``to_flush``). Slow
        consumers found in a phase are dropped after it, so the members do not change
        while it runs. A group batch without lines in this pass ends here; the others
        stay open, empty, for the group's next lines."""
        self.active = self.urgent = False
        slow: list[Connection] = []
        if self.groups:
            counted = self.broadcasts  # this pass's main-chat bytes go out below, before any new line
            groups, self.groups = self.groups, {}
            kept: dict[object, GroupBatch] = {}
            for key, batch in groups.items():
                # A group that had lines in this pass keeps its batch (and its members
                # their places in it) for the next: a burst opens it once, not per pass.
                keep = any(audience.pending for audience in batch.audiences.values())
                for group_audience in batch.audiences.values():
                    self._flush_group(group_audience, slow, keep=keep)
                if keep:
                    kept[key] = batch
            self._drop_all(slow)
            for key, batch in kept.items():
                if key in self.groups or not batch.intact():  # replaced, or a member left: end it
                    self._close_group(batch)
                else:
                    batch.opened_at = counted
                    self.groups[key] = batch
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
                    start, conn.caught_up_to = conn.caught_up_to, 0
                    self._append_owed(conn, pending, start, slow)
                    continue
                try:
                    sent = conn.sock.send(pending)
                except OSError:  # EAGAIN, or an error the loop's send meets again and handles
                    sent = 0
                if sent != size:
                    conn.outbuf += memoryview(pending)[sent:]
                    to_flush[conn] = None
        self._drop_all(slow)

    def members(self) -> int:
        """Connections in the audiences (everyone logged in): what a flush of the main
        chat's bytes costs, in ``send()`` calls."""
        return sum(len(audience.members) for audience in self.audiences.values())

    def _flush_group(self, audience: GroupShare, slow: list[Connection], *, keep: bool) -> None:
        """:meth:`flush` for one group batch's members of one mode key (the same hot
        loop over ``group_caught_up``); each stays in the batch with ``keep``, else
        leaves it."""
        pending = audience.pending
        audience.pending = bytearray()
        size = len(pending)
        direct = size <= self.max_output
        to_flush = self._to_flush
        for conn in audience.members:
            start = conn.group_caught_up
            if not keep:
                conn.group_audience = None
            conn.group_caught_up = 0
            if start >= size:
                continue
            if start or conn.outbuf or not direct or not conn.direct_writes:
                self._append_owed(conn, pending, start, slow)
                continue
            try:
                sent = conn.sock.send(pending)
            except OSError:
                sent = 0
            if sent != size:
                conn.outbuf += memoryview(pending)[sent:]
                to_flush[conn] = None

    def _drop_all(self, slow: list[Connection]) -> None:
        for conn in slow:
            if not conn.closing:
                self._drop(conn)
        slow.clear()

    def _append_owed(self, conn: Connection, pending: bytearray, start: int, slow: list[Connection]) -> None:
        """:meth:`flush` for a member that has the first ``start`` bytes of ``pending``
        already, has output queued, or needs the buffered path (a transport without
        direct writes, a pass past the bound): append what it lacks, or note it as a
        slow consumer. The bound is checked before any byte is sent, so what the kernel
        takes is always kept whole."""
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
