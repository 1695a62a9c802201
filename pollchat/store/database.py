"""The SQLite database: one file holding accounts, bans, history and groups.

:class:`Database` combines one class per concern, each implementing one interface of
:mod:`pollchat.store.ports`: :class:`~pollchat.store.accounts.SqliteAccounts`,
:class:`~pollchat.store.messages.SqliteMessages`, :class:`~pollchat.store.bans.SqliteBans`
, :class:`~pollchat.store.groups.GroupTables` and
:class:`~pollchat.store.ignores.SqliteIgnores`; the schema and its migrations are in
:mod:`pollchat.store.schema`. The names of that module are re-exported here.

All calls happen on the event-loop thread; every statement is indexed and bounded, so
each call costs microseconds to a millisecond. Any call raises
:class:`~pollchat.errors.StoreError` (never :class:`sqlite3.Error`) if the engine fails;
a failed call changes nothing (each write is one transaction). Every write first checks
that the file is still there (:meth:`~pollchat.store.connection.SqliteConnection._check_file`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pollchat.errors import StoreError
from pollchat.store.accounts import SqliteAccounts
from pollchat.store.bans import SqliteBans
from pollchat.store.groups import GroupTables
from pollchat.store.ignores import SqliteIgnores
from pollchat.store.messages import SqliteMessages
from pollchat.store.receipts import SqliteReceipts
from pollchat.store.schema import (
    APPLICATION_ID,
    DATABASE_NAME,
    MIGRATIONS,
    PRIVATE_MODE,
    SCHEMA_VERSION,
    _statements,
    backup_path,
    check_and_migrate,
    create_private,
)

__all__ = [
    "APPLICATION_ID",
    "DATABASE_NAME",
    "MIGRATIONS",
    "PRIVATE_MODE",
    "SCHEMA_VERSION",
    "Database",
    "_statements",
    "backup_path",
]


class Database(SqliteAccounts, SqliteMessages, SqliteBans, GroupTables, SqliteReceipts, SqliteIgnores):
    """An open pollchat database; implements :class:`pollchat.store.ports.Store` (and so
    :class:`~pollchat.core.accounts.RegisteredAccounts` and
    :class:`~pollchat.core.groups.GroupStore`).

    Use :meth:`open`, then :meth:`close` (or a ``with`` block). Any method may raise
    :class:`~pollchat.errors.StoreError` if the disk fails (full, read-only, I/O error)
    or the file was deleted; a failed call changes nothing (each write is one
    transaction).
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._attach(connection, path)
        self.name_collisions: list[tuple[str, str]] = []
        """``(name, other name)`` of each pair of accounts whose names are one NFKC key
        (made before pollchat used NFKC): both are kept, ``other`` under its old key.
        Set by :meth:`open`; the server logs them."""

    @classmethod
    def open(cls, path: Path) -> Database:
        """Open the database at ``path``, creating it (and its directory, mode 0700) if
        missing and migrating it to :data:`SCHEMA_VERSION`. An existing database with an
        older schema is first copied to :func:`backup_path`.

        A new file is created with mode 0600 whatever the umask, and SQLite gives its
        ``-wal`` and ``-shm`` files the database's own mode: they hold private messages.

        Raises:
            StoreError: the file cannot be opened, is not a pollchat database, has a newer
                schema than this program knows, or cannot be backed up or migrated (it is
                then left as it was).
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            create_private(path)
            connection = sqlite3.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from None
        try:
            check_and_migrate(connection, path)
        except sqlite3.Error as exc:
            connection.close()
            raise StoreError(f"{path} is not a usable pollchat database: {exc}") from None
        except StoreError:
            connection.close()
            raise
        try:
            database = cls(connection, path)
        except StoreError:
            connection.close()
            raise
        try:
            database._normalise_names()
        except sqlite3.Error as exc:
            database.close()
            raise StoreError(f"{path} is not a usable pollchat database: {exc}") from None
        return database

    # --- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Checkpoint and close. Safe to call twice."""
        self._detach()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
