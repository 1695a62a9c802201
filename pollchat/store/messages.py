"""Messages in SQLite: the history of the main chat, private messages (also the mail an
offline account reads at its next login) and group messages, and their retention.

Table ``message`` (schema 2, 4, 6): one row per public (``chat``, ``action``) or private
message. Public messages have ``recipient_id`` NULL; a group's messages have its
``group_id``. ``sender``/``recipient`` are the names at the time of sending; there is no
foreign key to ``account``, so a deleted account's messages stay. Retention is per kind
(schema 6): the main chat, each private conversation and each group are counted and
pruned on their own (:meth:`SqliteMessages.prune_main`, :meth:`~SqliteMessages.prune_private`,
:meth:`~SqliteMessages.prune_group`).

Durability: message batches and pruning commit with ``synchronous=NORMAL``: in WAL mode
they survive a crash of the process but the last few may be lost on a power failure or
OS crash (never corrupted). Every statement is indexed and bounded (a ``LIMIT`` or a
unique key), so each call costs microseconds to a millisecond.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pollchat.core.history import Conversation, HistoryRecord, RecordKind
from pollchat.store.connection import SqliteConnection, sqlite_errors
from pollchat.store.schema import SEARCH_TABLE, has_fts5

_PUBLIC_KINDS = (RecordKind.CHAT, RecordKind.ACTION)
_MAIN = "recipient_id IS NULL AND group_id IS NULL"
"""The main chat's messages (indexed by ``message_main``)."""
_MESSAGE_COLUMNS = "id, ts, kind, sender_id, sender, recipient_id, recipient, text, group_id"


def message_rows(records: Sequence[HistoryRecord]) -> list[tuple[object, ...]]:
    """The ``message`` table's rows for ``records``, in the column order ``ts, kind,
    sender_id, sender, recipient_id, recipient, text, group_id`` (both engines insert
    these).

    Raises:
        ValueError: a private record without a recipient, a public one with a
            recipient, or a private one in a group (checked before any row is written).
    """
    rows: list[tuple[object, ...]] = []
    for record in records:
        private = record.kind is RecordKind.PRIVATE
        if private != (record.recipient_id is not None) or private != (record.recipient is not None):
            raise ValueError(f"{record.kind.value} message with recipient {record.recipient!r}: inconsistent")
        if private and record.group_id is not None:
            raise ValueError("a private message cannot belong to a group")
        rows.append((
            record.ts, record.kind.value, record.sender_id, record.sender, record.recipient_id,
            record.recipient, record.text, record.group_id,
        ))
    return rows


def between_clause(
    after: float | None, before: float | None, group_id: int | None, pair: tuple[int, int] | None, mark: str
) -> tuple[str, list[object]]:
    """The ``WHERE`` condition and its parameters of :meth:`SqliteMessages.messages_between`
    (both engines use it; ``mark`` is the engine's placeholder, ``?`` or ``%s``): one
    conversation, times strictly inside the bounds. Each form has its index
    (``message_main``, ``message_group``, ``message_pair``).

    Raises:
        ValueError: both ``group_id`` and ``pair`` are given.
    """
    if group_id is not None and pair is not None:
        raise ValueError("a conversation is a group or a pair of accounts, not both")
    parameters: list[object] = []
    if group_id is not None:
        where = f"group_id = {mark}"
        parameters.append(group_id)
    elif pair is not None:
        a, b = pair
        where = f"((recipient_id = {mark} AND sender_id = {mark}) OR (recipient_id = {mark} AND sender_id = {mark}))"
        parameters += [a, b, b, a]
    else:
        where = f"{_MAIN} AND kind IN ({mark}, {mark})"
        parameters += [kind.value for kind in _PUBLIC_KINDS]
    if after is not None:
        where += f" AND ts > {mark}"
        parameters.append(after)
    if before is not None:
        where += f" AND ts < {mark}"
        parameters.append(before)
    return where, parameters

def messages_before_query(
    conversation: Conversation, limit: int, before_id: int | None, before_ts: float | None, mark: str
) -> tuple[str, list[object]]:
    """The scrollback query of :meth:`SqliteMessages.messages_before` for either engine
    (``mark``: its parameter placeholder, ``?`` or ``%s``): the SQL, newest first, and
    its parameters. A private pair reads both directions, each newest first and
    limited, then merged, so each side walks its own index."""
    cursor = ""
    cursor_parameters: list[object] = []
    if before_id is not None:
        cursor += f" AND id < {mark}"
        cursor_parameters.append(before_id)
    if before_ts is not None:
        cursor += f" AND ts < {mark}"
        cursor_parameters.append(before_ts)
    order = f" ORDER BY id DESC LIMIT {mark}"
    if conversation.group_id is not None:
        return (
            f"SELECT {_MESSAGE_COLUMNS} FROM message WHERE group_id = {mark}{cursor}{order}",
            [conversation.group_id, *cursor_parameters, limit],
        )
    if conversation.pair is None:
        return (
            f"SELECT {_MESSAGE_COLUMNS} FROM message WHERE {_MAIN} AND kind IN ({mark}, {mark}){cursor}{order}",
            [*(kind.value for kind in _PUBLIC_KINDS), *cursor_parameters, limit],
        )
    a, b = conversation.pair
    side = f"SELECT {_MESSAGE_COLUMNS} FROM message WHERE recipient_id = {mark} AND sender_id = {mark}{cursor}{order}"
    if a == b:
        return side, [a, a, *cursor_parameters, limit]
    return (
        f"SELECT {_MESSAGE_COLUMNS} FROM (SELECT * FROM ({side}) AS one UNION ALL SELECT * FROM ({side}) AS other) AS pair{order}",
        [a, b, *cursor_parameters, limit, b, a, *cursor_parameters, limit, limit],
    )


def search_scope(
    viewer_id: int, conversation: Conversation | None, group_ids: Sequence[int], mark: str
) -> tuple[str, list[object]]:
    """The ``WHERE`` condition (on table alias ``m``) of what a search may return, for
    either engine (``mark``: its placeholder), and its parameters: one
    ``conversation``, or with ``None`` everything account ``viewer_id`` may read -- the
    main chat, its private conversations, and the groups ``group_ids`` (its own)."""
    main = f"(m.recipient_id IS NULL AND m.group_id IS NULL AND m.kind IN ({mark}, {mark}))"
    main_parameters: list[object] = [kind.value for kind in _PUBLIC_KINDS]
    if conversation is not None and conversation.group_id is not None:
        return f"m.group_id = {mark}", [conversation.group_id]
    if conversation is not None and conversation.pair is not None:
        a, b = conversation.pair
        pair = f"m.recipient_id IS NOT NULL AND ((m.sender_id = {mark} AND m.recipient_id = {mark})"
        return pair + f" OR (m.sender_id = {mark} AND m.recipient_id = {mark}))", [a, b, b, a]
    if conversation is not None:
        return main, main_parameters
    mine = f"(m.recipient_id IS NOT NULL AND (m.sender_id = {mark} OR m.recipient_id = {mark}))"
    parts, parameters = [main, mine], [*main_parameters, viewer_id, viewer_id]
    if group_ids:
        parts.append(f"m.group_id IN ({', '.join(mark for _ in group_ids)})")
        parameters += list(group_ids)
    return "(" + " OR ".join(parts) + ")", parameters


def like_pattern(word: str) -> str:
    """``word`` as a ``LIKE ... ESCAPE '\\'`` pattern that finds it anywhere in a text."""
    return "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@sqlite_errors
class SqliteMessages(SqliteConnection):
    """The message table (implements :class:`pollchat.store.ports.MessageStore`). Every
    public method raises :class:`~pollchat.errors.StoreError` if the database fails."""

    # --- message history ------------------------------------------------------------------------

    def append_messages(self, records: Sequence[HistoryRecord]) -> None:
        """Store a batch of messages in ONE transaction (one ``executemany``); the
        server calls it once per loop pass with that pass's messages.

        The transaction commits with ``synchronous=NORMAL``, not ``FULL``: in WAL mode
        the batch survives a crash of the server process, but the last batches may be
        lost (never corrupted) on a power failure or OS crash -- the price of not
        waiting for an fsync on every loop pass. ``FULL`` is restored afterwards for
        account writes.

        Args:
            records: the messages, oldest first; their ``id`` is ignored (the store
                assigns increasing ids in this order). An empty batch does nothing.

        Raises:
            ValueError: a private record without a recipient, or a public one with a
                recipient (nothing of the batch is written).
        """
        if not records:
            return
        rows = message_rows(records)
        with self._transaction("NORMAL"):
            self._db.executemany(
                "INSERT INTO message (ts, kind, sender_id, sender, recipient_id, recipient, text, group_id)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def recent_public(self, limit: int) -> list[HistoryRecord]:
        """The last ``limit`` main-chat messages (chat and action, not group messages),
        oldest first, ids set.

        Raises:
            ValueError: ``limit`` is negative.
        """
        _check_count("limit", limit)
        rows = self._db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM message"
            " WHERE recipient_id IS NULL AND group_id IS NULL AND kind IN (?, ?) ORDER BY id DESC LIMIT ?",
            (*(kind.value for kind in _PUBLIC_KINDS), limit),
        ).fetchall()
        return [_record(row) for row in reversed(rows)]

    def private_for(self, account_id: int, limit: int) -> list[HistoryRecord]:
        """The last ``limit`` private messages sent by or to account ``account_id``,
        oldest first, ids set (a message to oneself appears once).

        Raises:
            ValueError: ``limit`` is negative.
        """
        _check_count("limit", limit)
        rows = self._db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM ("
            f" SELECT * FROM (SELECT {_MESSAGE_COLUMNS} FROM message"
            "  WHERE sender_id = ? AND recipient_id IS NOT NULL ORDER BY id DESC LIMIT ?)"
            " UNION"
            f" SELECT * FROM (SELECT {_MESSAGE_COLUMNS} FROM message"
            "  WHERE recipient_id = ? ORDER BY id DESC LIMIT ?)"
            ") ORDER BY id DESC LIMIT ?",
            (account_id, limit, account_id, limit, limit),
        ).fetchall()
        return [_record(row) for row in reversed(rows)]

    def group_messages(self, group_id: int, limit: int) -> list[HistoryRecord]:
        """The last ``limit`` messages of group ``group_id``, oldest first, ids set.

        Raises:
            ValueError: ``limit`` is negative.
        """
        _check_count("limit", limit)
        rows = self._db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM message WHERE group_id = ? ORDER BY id DESC LIMIT ?", (group_id, limit)
        ).fetchall()
        return [_record(row) for row in reversed(rows)]

    def messages_between(
        self,
        after: float | None,
        before: float | None,
        limit: int,
        *,
        newest: bool,
        group_id: int | None = None,
        pair: tuple[int, int] | None = None,
    ) -> list[HistoryRecord]:
        """One conversation's messages sent strictly after ``after`` and strictly before
        ``before`` (UTC seconds since the epoch; ``None``: no bound), at most ``limit``
        of them, oldest first, ids set: the newest ones of that span with ``newest``,
        else the oldest (the paging of IRCv3 ``CHATHISTORY``).

        The conversation is group ``group_id``'s, the private one between the two
        account ids of ``pair`` (either way; ``(a, a)``: notes to oneself), or, with
        neither, the main chat (chat and action lines).

        Raises:
            ValueError: ``limit`` is negative, or both ``group_id`` and ``pair`` are given.
        """
        _check_count("limit", limit)
        where, parameters = between_clause(after, before, group_id, pair, "?")
        order = "DESC" if newest else "ASC"
        rows = self._db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM message WHERE {where} ORDER BY id {order} LIMIT ?", (*parameters, limit)
        ).fetchall()
        return [_record(row) for row in (reversed(rows) if newest else rows)]

    def messages_before(
        self, conversation: Conversation, limit: int, *, before_id: int | None = None, before_ts: float | None = None
    ) -> list[HistoryRecord]:
        """Scrollback (a page of older messages): the last ``limit`` messages of
        ``conversation`` with an id below ``before_id`` and a time before ``before_ts``
        (UTC seconds, exclusive; either cursor may be ``None``), oldest first, ids set.
        Walks an index backwards from the cursor (``message_main``, ``message_group``);
        a private pair reads its two directions by ``message_pair`` (at most
        ``--private-keep`` rows each, plus the unread ones).

        Raises:
            ValueError: ``limit`` is negative.
        """
        _check_count("limit", limit)
        sql, parameters = messages_before_query(conversation, limit, before_id, before_ts, "?")
        return [_record(row) for row in reversed(self._db.execute(sql, parameters).fetchall())]

    def search_messages(
        self,
        viewer_id: int,
        words: Sequence[str],
        limit: int,
        *,
        conversation: Conversation | None = None,
        group_ids: Sequence[int] = (),
    ) -> list[HistoryRecord]:
        """Search: the newest ``limit`` messages, newest first, whose text holds every
        one of ``words`` (each as the start of a word), among what :func:`search_scope`
        allows. With the FTS5 index of schema 8 (``message_search``) case and accents
        are ignored and the index is walked from the newest match; without it (a build
        of SQLite without FTS5) each word is looked for anywhere in the text with
        ``LIKE`` (case ignored for ASCII letters only), the table walked from the newest
        row. Nothing matches an empty ``words``.

        Raises:
            ValueError: ``limit`` is negative.
        """
        _check_count("limit", limit)
        if not words or not limit:
            return []
        where, parameters = search_scope(viewer_id, conversation, group_ids, "?")
        if self._full_text_search():
            query = " ".join(f'"{word}"*' for word in words)  # every word, each a prefix
            sql = (
                f"SELECT {_prefixed('m')} FROM {SEARCH_TABLE} s JOIN message m ON m.id = s.rowid"
                f" WHERE {SEARCH_TABLE} MATCH ? AND {where} ORDER BY s.rowid DESC LIMIT ?"
            )
            rows = self._db.execute(sql, (query, *parameters, limit)).fetchall()
        else:
            likes = " AND ".join("m.text LIKE ? ESCAPE '\\'" for _ in words)
            sql = f"SELECT {_prefixed('m')} FROM message m WHERE {likes} AND {where} ORDER BY m.id DESC LIMIT ?"
            rows = self._db.execute(sql, (*(like_pattern(word) for word in words), *parameters, limit)).fetchall()
        return [_record(row) for row in rows]

    def _full_text_search(self) -> bool:
        """Whether searches use the FTS5 index: it exists (migration 8 ran with FTS5)
        and this build of SQLite can read it. Asked once per connection."""
        known: bool | None = getattr(self, "_fts5", None)
        if known is None:
            table = self._db.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (SEARCH_TABLE,)
            ).fetchone()[0]
            known = bool(table) and has_fts5(self._db)
            self._fts5 = known
        return known

    def count_private_since(self, account_id: int, ts: float) -> int:
        """How many private messages to account ``account_id`` were sent after ``ts``
        (UTC seconds since the epoch, exclusive) -- e.g. since :meth:`last_seen`."""
        return self._db.execute(
            "SELECT count(*) FROM message WHERE recipient_id = ? AND ts > ?", (account_id, ts)
        ).fetchone()[0]

    # --- retention, per kind: the main chat, each private conversation, each group ------------

    def count_main(self) -> int:
        """How many main-chat messages (public, not in a group) are stored."""
        return self._db.execute(f"SELECT count(*) FROM message WHERE {_MAIN}").fetchone()[0]

    def prune_main(self, keep: int, batch: int = 1000) -> int:
        """Delete at most ``batch`` of the oldest main-chat messages beyond the newest
        ``keep`` (``--history-keep``), in one transaction (``synchronous=NORMAL``);
        private and group messages are never touched. Call it again (e.g. once per loop
        pass) until it returns 0: a large backlog goes a bounded batch at a time, so no
        call stalls the loop.

        Returns:
            How many messages were deleted.

        Raises:
            ValueError: ``keep`` is negative or ``batch`` is less than 1.
        """
        _check_limits(keep, batch)
        excess = self.count_main() - keep
        if excess <= 0:
            return 0
        with self._transaction("NORMAL"):
            return self._db.execute(
                f"DELETE FROM message WHERE id IN (SELECT id FROM message WHERE {_MAIN} ORDER BY id LIMIT ?)",
                (min(excess, batch),),
            ).rowcount

    def prune_private(self, a: int, b: int, keep: int, batch: int = 1000) -> int:
        """Keep the newest ``keep`` private messages between accounts ``a`` and ``b``
        (``--private-keep``), deleting at most ``batch`` older ones -- but never a
        message its recipient has not read: one sent after the recipient's last logout
        (:meth:`last_seen`; an account never seen has read nothing, a deleted one
        everything). So a conversation may keep more than ``keep`` while its reader is
        away; the offline quota bounds that.

        Returns:
            How many messages were deleted.

        Raises:
            ValueError: ``keep`` is negative or ``batch`` is less than 1.
        """
        _check_limits(keep, batch)
        count = "SELECT count(*) FROM message WHERE recipient_id = ? AND sender_id = ?"
        total = self._db.execute(count, (b, a)).fetchone()[0]
        if a != b:
            total += self._db.execute(count, (a, b)).fetchone()[0]
        excess = total - keep
        if excess <= 0:
            return 0
        parts, parameters = [], []
        for recipient, sender in ((b, a), (a, b)) if a != b else ((a, a),):
            read_until = self._read_until(recipient)
            if read_until == -math.inf:
                continue  # never logged out: nothing read yet
            where = "recipient_id = ? AND sender_id = ?" + (" AND ts <= ?" if read_until != math.inf else "")
            parts.append(f"SELECT id FROM message WHERE {where}")
            parameters += [recipient, sender] + ([read_until] if read_until != math.inf else [])
        if not parts:
            return 0
        with self._transaction("NORMAL"):
            return self._db.execute(
                f"DELETE FROM message WHERE id IN ({' UNION ALL '.join(parts)} ORDER BY id LIMIT ?)",
                (*parameters, min(excess, batch)),
            ).rowcount

    def prune_group(self, group_id: int, keep: int, batch: int = 1000) -> int:
        """Keep the newest ``keep`` messages of group ``group_id``, live or deleted
        (``--group-keep``), deleting at most ``batch`` older ones.

        Returns:
            How many messages were deleted.

        Raises:
            ValueError: ``keep`` is negative or ``batch`` is less than 1.
        """
        _check_limits(keep, batch)
        excess = self._db.execute("SELECT count(*) FROM message WHERE group_id = ?", (group_id,)).fetchone()[0] - keep
        if excess <= 0:
            return 0
        with self._transaction("NORMAL"):
            return self._db.execute(
                "DELETE FROM message WHERE id IN (SELECT id FROM message WHERE group_id = ? ORDER BY id LIMIT ?)",
                (group_id, min(excess, batch)),
            ).rowcount

    def conversations(self) -> tuple[list[tuple[int, int]], list[int]]:
        """Every private conversation (``(a, b)`` with ``a <= b``) and every group with
        stored messages: what a retention sweep at start-up has to look at. Reads the
        whole message table once."""
        pairs = self._db.execute(
            "SELECT DISTINCT min(sender_id, recipient_id), max(sender_id, recipient_id) FROM message"
            " WHERE recipient_id IS NOT NULL ORDER BY 1, 2"
        ).fetchall()
        groups = self._db.execute(
            "SELECT DISTINCT group_id FROM message WHERE group_id IS NOT NULL ORDER BY 1"
        ).fetchall()
        return [(a, b) for a, b in pairs], [group_id for (group_id,) in groups]

    def _read_until(self, account_id: int) -> float:
        """Until when ``account_id`` has read its private messages: its last logout; -inf
        if it never logged out, +inf if the account is gone."""
        row = self._db.execute("SELECT last_seen FROM account WHERE id = ?", (account_id,)).fetchone()
        if row is None:
            return math.inf
        return row[0] if row[0] is not None else -math.inf

    def count_messages(self) -> int:
        """How many messages are stored (public and private)."""
        return self._db.execute("SELECT count(*) FROM message").fetchone()[0]


def _record(row: tuple) -> HistoryRecord:
    message_id, ts, kind, sender_id, sender, recipient_id, recipient, text, group_id = row
    return HistoryRecord(ts, RecordKind(kind), sender_id, sender, text, recipient_id, recipient, message_id, group_id)


def _check_limits(keep: int, batch: int) -> None:
    _check_count("keep", keep)
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")


def _check_count(name: str, value: int) -> None:
    # A negative LIMIT means "no limit" to SQLite: never let one through.
    if value < 0:
        raise ValueError(f"{name} must not be negative, got {value}")


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{column.strip()}" for column in _MESSAGE_COLUMNS.split(","))
