"""The history log: message records batched per loop pass, and the queries on them.

The hub pushes :class:`~pollchat.core.history.HistoryRecord` values into the log as
people talk (:meth:`HistoryLog.add`: it is the hub's
:class:`~pollchat.core.history.RecordSink`). In a pass that holds a private message or a
group line, :meth:`HistoryLog.commit_acknowledged` writes the whole batch in one
transaction *before* the pass's output is flushed: nothing is acknowledged before it is
stored (as Redis writes its AOF before replying). After the sockets are flushed,
:meth:`HistoryLog.flush` writes what is left (main-chat lines, which nobody is sent an
acknowledgement of) and prunes at most :data:`PRUNE_BATCH` old rows, so retention never
stalls the loop. Queries write first, so a user always sees what was just said.

Retention is per kind, so that a busy main chat cannot push private messages out: the main chat keeps its newest ``keep`` lines; each
private conversation its newest ``private_keep`` (but never a message its reader has not
read: see :meth:`~pollchat.store.database.Database.prune_private`); each group its newest
``group_keep``. A conversation is looked at after a message in it was stored, and every
one once after start-up (a lowered limit applies to old conversations too), at most
:data:`PRUNE_CHECKS` of them per pass.

When the database refuses a write (a full disk, an I/O error) nothing is
dropped: the batch waits in memory, at most :data:`MAX_PENDING` records (beyond that the
oldest go, counted), and is retried after 1, 2, 4 ... :data:`RETRY_MAX` seconds (on a
timer: an idle server retries too) while the chat goes on. Operators get one warning when the outage starts (not a traceback per
batch: the log may be on the same full disk) and one line when it ends; the senders of
private and group lines in a failed batch are returned once by :meth:`HistoryLog.flush`
(the service tells them), and
:attr:`HistoryLog.healthy` tells the hub not to promise delivery meanwhile. Queries
include the waiting records.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable

from pollchat.core.history import Conversation, HistoryRecord, RecordKind
from pollchat.errors import StoreError
from pollchat.server.timers import Timer, Timers
from pollchat.store.ports import AsyncHistoryReads, HistoryAnswer, MessageStore

log = logging.getLogger(__name__)

MAX_PENDING = 10_000
"""Records kept in memory while the database cannot be written; past it the oldest go."""
RETRY_FIRST = 1.0
RETRY_MAX = 60.0
"""Seconds before the first retry of a failed write, doubled after each failure up to
:data:`RETRY_MAX`."""

PRUNE_BATCH = 1000
"""The most rows deleted in one pass."""
PRUNE_CHECKS = 20
"""The most conversations (private or group) checked for pruning in one pass."""

_RETRYABLE = (StoreError, OSError)
"""What the store raises when it cannot write (:mod:`pollchat.store.ports` documents
``StoreError``); anything else is a bug in the batch, which retrying cannot fix."""


class HistoryLog:
    """Batches history writes to the database.

    Args:
        database: the open database.
        keep: main-chat messages to keep (``--history-keep``).
        private_keep: private messages to keep per conversation (0: all).
        group_keep: messages to keep per group (0: all).
        clock: monotonic seconds, for the retry back-off (the loop's timer clock).
        timers: the loop's timer queue: a failed write is retried on a timer, so the
            retry (and the notice to the senders of what still fails) does not wait
            for someone to type. ``None``: only when :meth:`commit` is called.
        max_pending: records kept in memory while writes fail.
    """

    def __init__(
        self,
        database: MessageStore,
        keep: int,
        *,
        private_keep: int = 0,
        group_keep: int = 0,
        clock: Callable[[], float] = time.monotonic,
        timers: Timers | None = None,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.database = database
        self.keep = keep
        self.private_keep = private_keep
        self.group_keep = group_keep
        self.clock = clock
        self.timers = timers
        self._retry_timer: Timer | None = None
        self.max_pending = max_pending
        self._main = database.count_main()
        self._dirty: dict[tuple[int, ...], None] = {}  # conversations to check, oldest first
        if private_keep or group_keep:
            pairs, groups = database.conversations()
            self._dirty.update(dict.fromkeys(pairs if private_keep else ()))
            self._dirty.update(dict.fromkeys((group_id,) for group_id in (groups if group_keep else ())))
        self._pending: deque[HistoryRecord] = deque()
        self._new: list[HistoryRecord] = []  # kept since the last flush or query
        self._acknowledged = False  # a private message or group line waits to be written
        self._reported = 0  # the oldest pending records already returned as unsaved
        self._unsaved: list[HistoryRecord] = []  # failed, not returned by flush() yet
        self._outage_since: float | None = None
        self._delay = 0.0
        self._retry_at = 0.0
        self._dropped = 0  # in the current outage
        self.acknowledged = 0
        """How many private messages and group lines were added (ever): the service
        compares it around a request to know its sender waits for the batch."""

    @property
    def healthy(self) -> bool:
        """False from a failed write until a write succeeds again."""
        return self._outage_since is None

    def add(self, record: HistoryRecord) -> None:
        """Keep ``record``: written by the next commit or flush, seen by queries at once."""
        self._new.append(record)
        if record.recipient_id is not None or record.group_id is not None:
            self._acknowledged = True
            self.acknowledged += 1

    def commit_acknowledged(self) -> None:
        """:meth:`commit` if a private message or a group line is waiting: those are
        acknowledged to their sender (``[private to bob] ...``, the group line's echo),
        so the loop calls this before it flushes a pass's output. A pass of main-chat
        lines only (acknowledged to nobody: the sender gets no echo) is left to
        :meth:`flush` after the output, off the latency path of the busiest kind."""
        if self._acknowledged:
            self.commit()

    def take_unsaved(self) -> list[HistoryRecord]:
        """The records of failed writes not returned before (each record once, however
        many retries fail), so the service tells their senders once."""
        unsaved, self._unsaved = self._unsaved, []
        return unsaved

    def flush(self, *, force: bool = False) -> list[HistoryRecord]:
        """:meth:`commit`, then prune one chunk if needed (the loop calls this after
        the output is flushed: pruning is off the latency path).

        Returns:
            :meth:`take_unsaved`: the records of failed writes (this one's, a retry's
            or a query's) not returned before.
        """
        self._write(force=force)
        return self.take_unsaved()

    def _write(self, *, force: bool = False) -> None:
        self.commit(force=force)
        self._prune()

    def commit(self, *, force: bool = False) -> None:
        """Write the waiting records in one transaction (no pruning).

        The loop calls this (through :meth:`commit_acknowledged`) before it flushes a
        pass's output, so a reply that acknowledges a message (``[private to bob]
        ...``, ``they will see your message when they log in``, a group line's echo)
        leaves only once the message is committed (``synchronous=NORMAL`` in WAL mode:
        it survives a crash of the process). After a failed write, the next attempt
        waits for the back-off (``force``: try now), which a timer of ``timers`` also
        wakes the loop for. A database error keeps the records for the next attempt;
        any other error is a bug in the batch: it is logged with its traceback and the
        batch dropped."""
        self._take()
        if not self._pending:
            return
        if not self.healthy and not force and self.clock() < self._retry_at:
            return
        batch = list(self._pending)
        try:
            self.database.append_messages(batch)
        except _RETRYABLE as exc:
            self._failed(exc)
            return
        except Exception:
            log.exception("could not store %d message(s) in the history; they are dropped", len(batch))
            self._pending.clear()
            self._acknowledged = False
            self._reported = 0
            return
        self._pending.clear()
        self._acknowledged = False
        self._reported = 0
        self._count_stored(batch)
        if not self.healthy:
            self._recovered(len(batch))

    def close(self) -> None:
        """A last write at shutdown, whatever the back-off; what still cannot be written
        is counted in the log as lost."""
        self._write(force=True)
        if self._pending:
            log.error("%d message(s) could not be stored and are lost", len(self._pending))
            self._pending.clear()

    # --- queries (the waiting records included) ----------------------------------------------

    def recent_public(self, limit: int) -> list[HistoryRecord]:
        """The last ``limit`` public messages, oldest first."""
        self._write()
        stored = self.database.recent_public(limit)
        return _last(stored + self._waiting(_is_public), limit)

    def conversation(self, account_id: int, limit: int) -> list[HistoryRecord]:
        """The last ``limit`` public messages and the last ``limit`` private messages to
        or from ``account_id``, merged oldest first."""
        self._write()
        stored_public, stored_private = self.database.recent_public(limit), self.database.private_for(account_id, limit)
        public = _last(stored_public + self._waiting(_is_public), limit)
        private = _last(stored_private + self._waiting(lambda r: _is_private_of(r, account_id)), limit)
        kept = {id(r) for r in public + private}
        stored = sorted((r for r in stored_public + stored_private if id(r) in kept), key=lambda record: record.id)
        return stored + [r for r in self._pending if id(r) in kept]

    def group_messages(self, group_id: int, limit: int) -> list[HistoryRecord]:
        """The last ``limit`` messages of group ``group_id``, oldest first."""
        self._write()
        stored = self.database.group_messages(group_id, limit)
        return _last(stored + self._waiting(lambda r: r.group_id == group_id), limit)

    def between(
        self,
        after: float | None,
        before: float | None,
        limit: int,
        *,
        newest: bool,
        group_id: int | None = None,
        pair: tuple[int, int] | None = None,
    ) -> list[HistoryRecord]:
        """:meth:`~pollchat.store.messages.SqliteMessages.messages_between` with the
        waiting records: at most ``limit`` messages of one conversation (group
        ``group_id``, the private one of ``pair``, else the main chat) sent strictly
        between ``after`` and ``before`` (epoch seconds, ``None``: unbounded), oldest
        first; the newest of that span with ``newest``, else the oldest.

        Raises:
            ValueError: ``limit`` is negative.
            StoreError: the database cannot be read.
        """
        self._write()
        stored = self.database.messages_between(after, before, limit, newest=newest, group_id=group_id, pair=pair)
        return self._between_merged(stored, after, before, limit, newest, group_id, pair)

    def between_later(
        self,
        after: float | None,
        before: float | None,
        limit: int,
        done: HistoryAnswer,
        *,
        newest: bool,
        group_id: int | None = None,
        pair: tuple[int, int] | None = None,
    ) -> None:
        """:meth:`between` without waiting, as :meth:`older`: ``done`` gets the records
        (or the :class:`StoreError` of a database that cannot be read), at once on
        SQLite (whose errors are raised here), when the query returns on PostgreSQL.

        Raises:
            ValueError: ``limit`` is negative.
            StoreError: the synchronous store cannot be read.
        """
        reader = self._reader()
        if reader is None:
            done(self.between(after, before, limit, newest=newest, group_id=group_id, pair=pair))
            return
        self._write()

        def merged(stored: list[HistoryRecord] | StoreError) -> None:
            if isinstance(stored, StoreError):
                done(stored)
            else:
                done(self._between_merged(stored, after, before, limit, newest, group_id, pair))

        reader.messages_between_later(after, before, limit, merged, newest=newest, group_id=group_id, pair=pair)

    def _between_merged(
        self,
        stored: list[HistoryRecord],
        after: float | None,
        before: float | None,
        limit: int,
        newest: bool,
        group_id: int | None,
        pair: tuple[int, int] | None,
    ) -> list[HistoryRecord]:
        """``stored`` with the records still waiting for the database that belong to
        the span, cut to ``limit`` from the end ``newest`` names."""

        def wanted(record: HistoryRecord) -> bool:
            if (after is not None and record.ts <= after) or (before is not None and record.ts >= before):
                return False
            if group_id is not None:
                return record.group_id == group_id
            if pair is not None:
                return record.recipient_id is not None and (record.sender_id, record.recipient_id) in (pair, pair[::-1])
            return _is_public(record)

        merged = stored + self._waiting(wanted)  # the waiting ones came after everything stored
        if not limit:
            return []
        return merged[-limit:] if newest else merged[:limit]

    def messages_before(
        self, conversation: Conversation, limit: int, *, before_id: int | None = None, before_ts: float | None = None
    ) -> list[HistoryRecord]:
        """Scrollback: the last ``limit`` messages of ``conversation`` before message
        ``before_id`` and time ``before_ts`` (either may be ``None``), oldest first.
        Records still waiting for the database are newer than every stored one and have
        no id yet: they are included only without an id cursor.

        Raises:
            StoreError: the database cannot be read.
        """
        self._write()
        stored = self.database.messages_before(conversation, limit, before_id=before_id, before_ts=before_ts)
        if before_id is not None:
            return stored
        waiting = self._waiting(lambda r: conversation.holds(r) and (before_ts is None or r.ts < before_ts))
        return _last(stored + waiting, limit)

    def older(
        self,
        conversation: Conversation,
        limit: int,
        done: HistoryAnswer,
        *,
        before_id: int | None = None,
        before_ts: float | None = None,
    ) -> None:
        """:meth:`messages_before` without waiting: ``done`` gets the page (or the
        :class:`StoreError` of a database that cannot be read). A store that answers
        at once (SQLite) calls it before this returns and raises its errors here, as
        :meth:`messages_before`; one that reads asynchronously
        (:class:`~pollchat.store.ports.AsyncHistoryReads`: PostgreSQL) calls it on the
        loop when its query returns, with the records waiting in memory now merged in.

        Raises:
            ValueError: ``limit`` is negative.
            StoreError: the synchronous store cannot be read.
        """
        reader = self._reader()
        if reader is None:
            done(self.messages_before(conversation, limit, before_id=before_id, before_ts=before_ts))
            return
        self._write()
        waiting = [] if before_id is not None else self._waiting(
            lambda r: conversation.holds(r) and (before_ts is None or r.ts < before_ts)
        )

        def merged(stored: list[HistoryRecord] | StoreError) -> None:
            done(stored if isinstance(stored, StoreError) or not waiting else _last(stored + waiting, limit))

        reader.messages_before_later(conversation, limit, merged, before_id=before_id, before_ts=before_ts)

    def find(
        self,
        viewer_id: int,
        words: list[str],
        limit: int,
        done: HistoryAnswer,
        *,
        conversation: Conversation | None = None,
        group_ids: tuple[int, ...] = (),
    ) -> None:
        """:meth:`search` without waiting: ``done`` gets the records newest first (or
        the :class:`StoreError` of a database that cannot be read), at once on SQLite
        (whose errors are raised here), when the query returns on PostgreSQL (as
        :meth:`older`).

        Raises:
            ValueError: ``limit`` is negative.
            StoreError: the synchronous store cannot be read.
        """
        reader = self._reader()
        if reader is None:
            done(self.search(viewer_id, words, limit, conversation=conversation, group_ids=group_ids))
            return
        self._write()
        reader.search_messages_later(viewer_id, words, limit, done, conversation=conversation, group_ids=group_ids)

    def _reader(self) -> AsyncHistoryReads | None:
        database = self.database
        return database if isinstance(database, AsyncHistoryReads) else None

    def search(
        self,
        viewer_id: int,
        words: list[str],
        limit: int,
        *,
        conversation: Conversation | None = None,
        group_ids: tuple[int, ...] = (),
    ) -> list[HistoryRecord]:
        """``/search``: the store's search (newest first), after writing what waits. While
        the database cannot be written, the messages waiting in memory are not searched.

        Raises:
            StoreError: the database cannot be read.
        """
        self._write()
        return self.database.search_messages(viewer_id, words, limit, conversation=conversation, group_ids=group_ids)

    def count_private_since(self, account_id: int, ts: float) -> int:
        """Private messages to ``account_id`` after ``ts`` (epoch seconds)."""
        self._write()
        waiting = self._waiting(lambda r: r.recipient_id == account_id and r.ts > ts)
        return self.database.count_private_since(account_id, ts) + len(waiting)

    def unread(self, account_id: int, since: float) -> int:
        """The offline quota's count (:class:`~pollchat.core.history.RecordSink`): private
        messages to ``account_id`` after ``since``, stored or waiting, without writing
        anything (the hub asks in the middle of a pass). A database that cannot be read
        counts the waiting ones only."""
        self._take()
        waiting = len(self._waiting(lambda r: r.recipient_id == account_id and r.ts > since))
        try:
            return self.database.count_private_since(account_id, since) + waiting
        except _RETRYABLE as exc:
            log.debug("cannot count the unread messages of account %d (%s)", account_id, exc)
            return waiting

    # --- internals ----------------------------------------------------------------------------

    def _take(self) -> None:
        """Move the new records into the waiting queue, dropping the oldest beyond
        ``max_pending`` (said once per outage, counted at its end)."""
        self._pending.extend(self._new)
        self._new.clear()
        excess = len(self._pending) - self.max_pending
        if excess <= 0:
            return
        for _ in range(excess):
            self._pending.popleft()
        self._reported = max(0, self._reported - excess)
        if not self._dropped:
            log.warning(
                "more than %d message(s) wait for the database: the oldest are dropped (counted when it works again)",
                self.max_pending,
            )
        self._dropped += excess

    def _failed(self, exc: Exception) -> None:
        now = self.clock()
        if self.healthy:
            self._outage_since = now
            self._delay = RETRY_FIRST
            log.warning(
                "cannot write the message history (%s): %d message(s) kept in memory (at most %d) and retried, "
                "every %g s at first, up to every %g s",
                exc,
                len(self._pending),
                self.max_pending,
                RETRY_FIRST,
                RETRY_MAX,
            )
        else:
            self._delay = min(self._delay * 2, RETRY_MAX)
            log.debug("history write failed again (%s); next try in %g s", exc, self._delay)
        self._retry_at = now + self._delay
        if self.timers is not None:
            if self._retry_timer is not None:
                self._retry_timer.cancel()
            self._retry_timer = self.timers.call_later(self._delay, self._retry)
        new = list(self._pending)[self._reported :]
        self._reported = len(self._pending)
        self._unsaved += new

    def _retry(self) -> None:
        """The back-off timer: try the waiting records again."""
        self._retry_timer = None
        self.commit()

    def _recovered(self, stored: int) -> None:
        assert self._outage_since is not None
        log.warning(
            "the message history is written again after %.0f s: %d message(s) stored, %d dropped",
            self.clock() - self._outage_since,
            stored,
            self._dropped,
        )
        self._outage_since = None
        self._dropped = 0
        if self._retry_timer is not None:
            self._retry_timer.cancel()
            self._retry_timer = None

    def _count_stored(self, batch: list[HistoryRecord]) -> None:
        """Count ``batch``'s main-chat lines and mark its conversations for a check."""
        for record in batch:
            if record.recipient_id is not None:
                if self.private_keep:
                    pair = (min(record.sender_id, record.recipient_id), max(record.sender_id, record.recipient_id))
                    self._dirty[pair] = None
            elif record.group_id is not None:
                if self.group_keep:
                    self._dirty[(record.group_id,)] = None
            else:
                self._main += 1

    def _prune(self) -> None:
        """At most :data:`PRUNE_BATCH` rows and :data:`PRUNE_CHECKS` conversations."""
        if not self.healthy:
            return
        budget = PRUNE_BATCH
        try:
            if self._main > self.keep:
                deleted = self.database.prune_main(self.keep, budget)
                self._main -= deleted
                budget -= deleted
            for _ in range(PRUNE_CHECKS):
                if not self._dirty or budget <= 0:
                    break
                conversation = next(iter(self._dirty))
                del self._dirty[conversation]
                if len(conversation) == 2:
                    deleted = self.database.prune_private(*conversation, self.private_keep, budget)
                else:
                    deleted = self.database.prune_group(conversation[0], self.group_keep, budget)
                budget -= deleted
                if deleted:
                    self._dirty[conversation] = None  # maybe more: again after the others
        except _RETRYABLE as exc:
            log.debug("could not prune the history (%s); trying again next pass", exc)

    def _waiting(self, wanted: Callable[[HistoryRecord], bool]) -> list[HistoryRecord]:
        return [record for record in self._pending if wanted(record)]


def _is_public(record: HistoryRecord) -> bool:
    return record.recipient_id is None and record.group_id is None and record.kind is not RecordKind.PRIVATE


def _is_private_of(record: HistoryRecord, account_id: int) -> bool:
    return record.recipient_id is not None and account_id in (record.sender_id, record.recipient_id)


def _last(records: Iterable[HistoryRecord], limit: int) -> list[HistoryRecord]:
    listed = list(records)
    return listed[-limit:] if limit else []
