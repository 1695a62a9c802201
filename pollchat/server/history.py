"""The history log: message records batched per loop pass, and the queries on them.

The hub appends :class:`~pollchat.core.history.HistoryRecord` values as people talk;
:meth:`HistoryLog.flush` drains them once at the end of every loop pass (after the
sockets are flushed) and writes the whole batch in one transaction, then prunes at most one chunk
of old rows, so retention never stalls the loop. Queries flush first, so a user always
sees what was just said.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pollchat.core.history import HistoryRecord
from pollchat.store.database import Database

log = logging.getLogger(__name__)


class HistoryLog:
    """Batches history writes to the database.

    Args:
        database: the open database.
        keep: how many messages to keep (older ones are pruned, a chunk per pass).
        source: returns the records produced since its last call (the hub's
            ``take_records``); every flush drains it, so a query made in the same pass
            as a message already sees that message.
    """

    def __init__(self, database: Database, keep: int, source: Callable[[], list[HistoryRecord]]) -> None:
        self.database = database
        self.keep = keep
        self.source = source
        self._stored = database.count_messages()

    def flush(self) -> None:
        """Write the new records in one transaction and prune one chunk if needed.

        A database error is logged and the batch dropped: chat goes on without history
        rather than stopping everyone."""
        batch = self.source()
        if batch:
            try:
                self.database.append_messages(batch)
            except Exception:
                log.exception("could not store %d message(s) in the history", len(batch))
                return
            self._stored += len(batch)
        if self._stored > self.keep:
            try:
                self._stored -= self.database.prune(self.keep)
            except Exception:
                log.exception("could not prune the history")

    def recent_public(self, limit: int) -> list[HistoryRecord]:
        """The last ``limit`` public messages, oldest first."""
        self.flush()
        return self.database.recent_public(limit)

    def conversation(self, account_id: int, limit: int) -> list[HistoryRecord]:
        """The last ``limit`` public messages and the last ``limit`` private messages to
        or from ``account_id``, merged oldest first."""
        self.flush()
        merged = self.database.recent_public(limit) + self.database.private_for(account_id, limit)
        return sorted(merged, key=lambda record: record.id)

    def group_messages(self, group_id: int, limit: int) -> list[HistoryRecord]:
        """The last ``limit`` messages of group ``group_id``, oldest first."""
        self.flush()
        return self.database.group_messages(group_id, limit)

    def count_private_since(self, account_id: int, ts: float) -> int:
        """Private messages to ``account_id`` after ``ts`` (epoch seconds)."""
        self.flush()
        return self.database.count_private_since(account_id, ts)
