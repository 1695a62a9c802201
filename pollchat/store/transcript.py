"""Read-only access to a group's stored conversation, for ``pollchat-server export``.

:func:`open_read_only` opens the database through a ``file:...?mode=ro`` URI and starts
ONE read transaction at once; every later call reads that same snapshot, so a header's
message count always matches the messages streamed after it. Nothing here writes to the
database or takes the data-directory lock (:mod:`pollchat.store.lock`): the database is
in WAL mode, where a reader never blocks the server's writers and they never block it.
While a snapshot is open the server can still commit, but its write-ahead log cannot be
checkpointed past the snapshot, so it may grow until :meth:`Snapshot.close`.

If no server has the database open, SQLite creates the usual ``-wal`` and ``-shm``
files beside it (empty; a read-only connection never deletes them). The server opens
them normally at its next start.

Times are UTC seconds since the epoch (``float``), as stored.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from pollchat.errors import StoreError
from pollchat.protocol.names import name_key
from pollchat.store.database import APPLICATION_ID, SCHEMA_VERSION

GROUPS_SCHEMA = 4
"""The first schema version with groups (``chat_group``, ``message.group_id``)."""

_GROUP_KINDS = ("chat", "action")


@dataclass(frozen=True, slots=True)
class GroupInfo:
    """A group's row, live or deleted.

    Attributes:
        id: the group's id (never reused; its messages refer to it).
        name: the current display name, without ``#`` (the name after any rename).
        visibility: ``"public"`` or ``"private"``.
        topic: the topic, or ``""``.
        created: when it was created, UTC epoch seconds.
        deleted: when it was deleted, UTC epoch seconds; ``None`` for a live group.
    """

    id: int
    name: str
    visibility: str
    topic: str
    created: float
    deleted: float | None


@dataclass(frozen=True, slots=True)
class GroupMessage:
    """One stored group message.

    Attributes:
        ts: when it was sent, UTC epoch seconds.
        kind: ``"chat"`` (``NAME: text``) or ``"action"`` (``* NAME text``).
        sender: the sender's name when it was sent.
        text: the message text.
    """

    ts: float
    kind: str
    sender: str
    text: str


class Snapshot:
    """One consistent, read-only view of a pollchat database; made by
    :func:`open_read_only`. Close it with :meth:`close` or a ``with`` block.

    Attributes:
        path: the database file.
        schema: its ``PRAGMA user_version``.

    Every query method may raise :class:`~pollchat.errors.StoreError` if the file turns
    out to be damaged or unreadable while it is read.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path, schema: int) -> None:
        self._db = connection
        self.path = path
        self.schema = schema

    def groups_named(self, name: str) -> list[GroupInfo]:
        """Every group, live or deleted, whose current name is ``name`` (any case,
        ``#`` optional): the live one first, then the deleted ones, newest first (the
        first is what ``export --group`` writes). A renamed group is found only under
        its current name."""
        key = name_key(name.removeprefix("#"))
        rows = self._query(
            "SELECT id, name, visibility, topic, created, deleted FROM chat_group WHERE key = ?"
            " ORDER BY deleted IS NOT NULL, deleted DESC, id DESC",
            (key,),
        ).fetchall()
        return [GroupInfo(*row) for row in rows]

    def group_by_id(self, group_id: int) -> GroupInfo | None:
        """The group, live or deleted, with id ``group_id``, or ``None``."""
        row = self._query(
            "SELECT id, name, visibility, topic, created, deleted FROM chat_group WHERE id = ?", (group_id,)
        ).fetchone()
        return GroupInfo(*row) if row else None

    def count_messages(self, group_id: int, since: float | None = None) -> int:
        """How many chat lines and actions group ``group_id`` has, sent at or after
        ``since`` (UTC epoch seconds; ``None``: all of them)."""
        where, params = _message_filter(group_id, since)
        return self._query(f"SELECT count(*) FROM message WHERE {where}", params).fetchone()[0]

    def group_messages(self, group_id: int, since: float | None = None) -> Iterator[GroupMessage]:
        """The chat lines and actions of group ``group_id`` sent at or after ``since``
        (UTC epoch seconds; ``None``: all of them), oldest first (in the order the server
        stored them).

        Rows are streamed from the cursor one at a time, so a large group is never held
        in memory. The iterator must be consumed before :meth:`close`.

        Raises (while iterating):
            StoreError: the file could not be read.
        """
        where, params = _message_filter(group_id, since)
        cursor = self._query(f"SELECT ts, kind, sender, text FROM message WHERE {where} ORDER BY id", params)
        try:
            for ts, kind, sender, text in cursor:
                yield GroupMessage(ts, kind, sender, text)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from None
        finally:
            cursor.close()

    def close(self) -> None:
        """End the read transaction and close the connection. Safe to call twice."""
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")  # nothing was written: just let the snapshot go
        except sqlite3.Error:
            pass
        finally:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _query(self, sql: str, params: tuple[object, ...]) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, params)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from None


def open_read_only(path: Path) -> Snapshot:
    """Open the pollchat database at ``path`` read-only and take one snapshot of it.

    The file is opened with ``mode=ro`` (never created, never written) and no lock file
    is taken, so this works while the server runs and never blocks it (WAL mode).

    Args:
        path: the database file (``DATA_DIR/pollchat.db``).

    Returns:
        An open :class:`Snapshot`; the caller closes it.

    Raises:
        StoreError: no file at ``path``; it cannot be opened or is not SQLite; it is not a
            pollchat database (``PRAGMA application_id``); its schema predates groups
            (older than :data:`GROUPS_SCHEMA`: start the new server once to upgrade it)
            or is newer than this program.
    """
    path = Path(path)
    if not path.is_file():
        raise StoreError(f"no database at {path}")
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {path}: {exc}") from None
    try:
        # BEGIN then a read: the snapshot is fixed by this first read and kept until
        # close(), so everything read later is from one moment.
        connection.execute("BEGIN")
        app_id = connection.execute("PRAGMA application_id").fetchone()[0]
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.Error as exc:
        connection.close()
        raise StoreError(f"{path} is not a pollchat database ({exc})") from None
    try:
        if app_id != APPLICATION_ID:
            raise StoreError(f"{path} is not a pollchat database")
        if version < GROUPS_SCHEMA:
            raise StoreError(
                f"no groups in this database (schema {version}); start the new server once to upgrade it ({path})"
            )
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} has schema version {version}, newer than this pollchat ({SCHEMA_VERSION}); upgrade pollchat"
            )
    except StoreError:
        connection.close()
        raise
    return Snapshot(connection, path, version)


def _message_filter(group_id: int, since: float | None) -> tuple[str, tuple[object, ...]]:
    where = "group_id = ? AND kind IN (?, ?)"
    params: tuple[object, ...] = (group_id, *_GROUP_KINDS)
    if since is not None:
        where += " AND ts >= ?"
        params += (since,)
    return where, params
