"""The SQLite database: accounts and message history.

One file, ``pollchat.db`` in the data directory, in WAL mode. It identifies itself with
``PRAGMA application_id`` (:data:`APPLICATION_ID`, the ASCII bytes ``PCHT``) and records
its schema version in ``PRAGMA user_version``; schema changes are numbered migrations in
:data:`MIGRATIONS`, applied in order at open, each in one transaction. A file that is not
a pollchat database -- not SQLite, another application's id, or a schema newer than this
program -- is refused with :class:`~pollchat.errors.StoreError` and never written to.
Before an existing database is migrated, a copy is written beside it
(``pollchat.db.v1-backup`` for a version-1 file; see :func:`backup_path`).

Tables (schema 6; the group tables are described in :mod:`pollchat.store.groups`):

* ``account``: one row per account, registered *and* preconfigured, so that history can
  refer to every account by a stable ``id``. ``id`` is ``AUTOINCREMENT``: never reused,
  even after a delete. ``(kind, key)`` is unique; ``key`` is the case-folded NFKC name
  (:func:`pollchat.protocol.names.name_key`) -- or, for an old account whose NFKC key
  another account had first, the key it always had
  (:func:`~pollchat.protocol.names.legacy_key`). ``skeleton`` is the name's confusable
  skeleton (:func:`~pollchat.protocol.names.skeleton`), indexed, for the lookalike check.
  Preconfigured rows have no password hash (the accounts file holds it).
* ``message``: one row per public (``chat``, ``action``) or private message. Public
  messages have ``recipient_id`` NULL; a group's messages have its ``group_id``. ``sender``/``recipient`` are the names at the time
  of sending; there is no foreign key to ``account``, so a deleted account's messages stay.
  Retention is per kind (schema 6): the main chat, each private conversation and each
  group are counted and pruned on their own (:meth:`Database.prune_main`,
  :meth:`~Database.prune_private`, :meth:`~Database.prune_group`).

Durability: account writes commit with ``synchronous=FULL`` (a registration is on disk
before the server acknowledges it). Message batches, pruning and last-seen times commit
with ``synchronous=NORMAL``: in WAL mode they survive a crash of the process but the last
few may be lost on a power failure or OS crash (never corrupted).

All calls happen on the event-loop thread; every statement is indexed and bounded
(a ``LIMIT`` or a unique key), so each call costs microseconds to a millisecond.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sqlite3
import stat
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

from pollchat.core.accounts import Account
from pollchat.core.history import HistoryRecord, RecordKind
from pollchat.core.seats import AccountKind
from pollchat.errors import StoreError
from pollchat.fsutil import fsync_directory
from pollchat.protocol.names import name_key, skeleton
from pollchat.store.groups import GroupTables

APPLICATION_ID = int.from_bytes(b"PCHT", "big")
"""``PRAGMA application_id`` of a pollchat database (0x50434854)."""

DATABASE_NAME = "pollchat.db"
PRIVATE_MODE = 0o600
"""Mode of a new database file (and so of its -wal and -shm): it holds private messages."""

MIGRATIONS: tuple[str, ...] = (
    # 1: registered accounts. ``key`` is the case-folded name (pollchat.protocol.names).
    """
    CREATE TABLE account (
        key           TEXT PRIMARY KEY,
        name          TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at    TEXT NOT NULL
    ) WITHOUT ROWID;
    """,
    # 2: account ids (registered and preconfigured), last seen; message history.
    # Existing registered accounts are copied in order of creation.
    """
    ALTER TABLE account RENAME TO account_v1;
    CREATE TABLE account (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        key           TEXT NOT NULL,
        name          TEXT NOT NULL,
        kind          TEXT NOT NULL CHECK (kind IN ('registered', 'preconfigured')),
        password_hash TEXT,
        created_at    TEXT NOT NULL,
        last_seen     REAL,
        CHECK ((kind = 'registered') = (password_hash IS NOT NULL))
    );
    CREATE UNIQUE INDEX account_kind_key ON account (kind, key);
    INSERT INTO account (key, name, kind, password_hash, created_at)
        SELECT key, name, 'registered', password_hash, created_at
        FROM account_v1 ORDER BY created_at, key;
    DROP TABLE account_v1;
    CREATE TABLE message (
        id           INTEGER PRIMARY KEY,
        ts           REAL NOT NULL,
        kind         TEXT NOT NULL,
        sender_id    INTEGER NOT NULL,
        sender       TEXT NOT NULL,
        recipient_id INTEGER,
        recipient    TEXT,
        text         TEXT NOT NULL
    );
    CREATE INDEX message_recipient ON message (recipient_id, id);
    CREATE INDEX message_recipient_ts ON message (recipient_id, ts) WHERE recipient_id IS NOT NULL;
    CREATE INDEX message_private_sender ON message (sender_id, id) WHERE recipient_id IS NOT NULL;
    """,
    # 3: bans set by admins. ``until`` NULL means permanent.
    """
    CREATE TABLE ban (
        account_id INTEGER PRIMARY KEY,
        until      REAL,
        reason     TEXT NOT NULL,
        by         TEXT NOT NULL,
        created    REAL NOT NULL
    );
    """,
    # 4: groups (issue 4). A deleted group keeps its row (``deleted`` set) so its
    # messages stay exportable; only live names are unique. Members and requests are
    # rowid tables: the rowid keeps joining order even when two join times are equal.
    """
    CREATE TABLE chat_group (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        key        TEXT NOT NULL,
        name       TEXT NOT NULL,
        visibility TEXT NOT NULL CHECK (visibility IN ('public', 'private')),
        owner_id   INTEGER NOT NULL,
        topic      TEXT NOT NULL DEFAULT '',
        created    REAL NOT NULL,
        deleted    REAL
    );
    CREATE UNIQUE INDEX chat_group_live_key ON chat_group (key) WHERE deleted IS NULL;
    CREATE TABLE group_member (
        group_id   INTEGER NOT NULL,
        account_id INTEGER NOT NULL,
        joined     REAL NOT NULL,
        PRIMARY KEY (group_id, account_id)
    );
    CREATE INDEX group_member_account ON group_member (account_id);
    CREATE TABLE group_ban (
        group_id   INTEGER NOT NULL,
        account_id INTEGER NOT NULL,
        by         TEXT NOT NULL,
        created    REAL NOT NULL,
        PRIMARY KEY (group_id, account_id)
    ) WITHOUT ROWID;
    CREATE TABLE group_request (
        group_id   INTEGER NOT NULL,
        account_id INTEGER NOT NULL,
        created    REAL NOT NULL,
        PRIMARY KEY (group_id, account_id)
    );
    CREATE TABLE pending_change (
        id         INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL,
        change     TEXT NOT NULL,
        group_name TEXT NOT NULL,
        name       TEXT NOT NULL,
        by         TEXT NOT NULL,
        at         REAL NOT NULL
    );
    CREATE INDEX pending_change_account ON pending_change (account_id, id);
    ALTER TABLE message ADD COLUMN group_id INTEGER;
    CREATE INDEX message_group ON message (group_id, id) WHERE group_id IS NOT NULL;
    """,
    # 5: lookalike names (issue 14). ``skeleton`` is the UTS #39 skeleton of the name
    # (pollchat.protocol.names.skeleton); it and the NFKC keys are filled in by
    # Database._normalise_names at every open, which SQL cannot do.
    """
    ALTER TABLE account ADD COLUMN skeleton TEXT;
    CREATE INDEX account_skeleton ON account (kind, skeleton);
    """,
    # 6: retention per kind (issue 14): the main chat, each private conversation and each
    # group are pruned separately, each with an index to count and walk its rows.
    """
    CREATE INDEX message_main ON message (id) WHERE recipient_id IS NULL AND group_id IS NULL;
    CREATE INDEX message_pair ON message (recipient_id, sender_id, ts) WHERE recipient_id IS NOT NULL;
    """,
    # 7: bans of addresses and networks (issue 14), CIDR text as ipaddress writes it.
    """
    CREATE TABLE address_ban (
        network TEXT PRIMARY KEY,
        until   REAL,
        reason  TEXT NOT NULL,
        by      TEXT NOT NULL,
        created REAL NOT NULL
    ) WITHOUT ROWID;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

_PUBLIC_KINDS = (RecordKind.CHAT, RecordKind.ACTION)
_MAIN = "recipient_id IS NULL AND group_id IS NULL"
"""The main chat's messages (indexed by ``message_main``)."""
_MESSAGE_COLUMNS = "id, ts, kind, sender_id, sender, recipient_id, recipient, text, group_id"


def backup_path(path: Path, version: int) -> Path:
    """Where the copy of a schema-``version`` database at ``path`` is written before it is
    migrated: ``<name>.v<version>-backup`` beside it, or ``<name>.v<version>-backup-N``
    (N = 2, 3, ...) if that exists already. An existing file is never overwritten.

    Raises:
        StoreError: no free name among the first thousand.
    """
    base = path.with_name(f"{path.name}.v{version}-backup")
    if not base.exists():
        return base
    for n in range(2, 1000):
        candidate = base.with_name(f"{base.name}-{n}")
        if not candidate.exists():
            return candidate
    raise StoreError(f"cannot back up {path} before migrating it: too many old backups beside it")


class Database(GroupTables):
    """An open pollchat database; implements
    :class:`~pollchat.core.accounts.RegisteredAccounts`.

    Use :meth:`open`, then :meth:`close` (or a ``with`` block). Any method may raise
    :class:`sqlite3.Error` if the disk fails (full, read-only, I/O error); a failed call
    changes nothing (each write is one transaction).
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
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
            _create_private(path)
            connection = sqlite3.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from None
        try:
            cls._check_and_migrate(connection, path)
        except sqlite3.Error as exc:
            connection.close()
            raise StoreError(f"{path} is not a usable pollchat database: {exc}") from None
        except StoreError:
            connection.close()
            raise
        database = cls(connection, path)
        try:
            database._normalise_names()
        except sqlite3.Error as exc:
            connection.close()
            raise StoreError(f"{path} is not a usable pollchat database: {exc}") from None
        return database

    def _normalise_names(self) -> None:
        """Give every account row its NFKC key and its skeleton (issue 14), in one
        transaction, writing only the rows that change (none on most starts).

        A row whose NFKC key another row of its kind already has keeps its old key: two
        accounts that earlier versions told apart (``alice`` and the fullwidth
        ``ａｌｉｃｅ``) both stay, and both still log in, each with the spelling it
        always used (:meth:`~pollchat.core.accounts.AccountDirectory.find` tries that
        key first). Each such pair is listed in :attr:`name_collisions`.
        """
        rows = self._db.execute("SELECT id, kind, key, name, skeleton FROM account ORDER BY id").fetchall()
        taken = {(kind, key): name for _, kind, key, name, _ in rows}
        updates: list[tuple[str, tuple[object, ...]]] = []
        self.name_collisions = []
        for account_id, kind, key, name, shape in rows:
            new_key, new_shape = name_key(name), skeleton(name)
            if key != new_key:
                holder = taken.get((kind, new_key))
                if holder is None:
                    updates.append(("UPDATE account SET key = ? WHERE id = ?", (new_key, account_id)))
                    del taken[(kind, key)]
                    taken[(kind, new_key)] = name
                else:
                    self.name_collisions.append((holder, name))
            if shape != new_shape:
                updates.append(("UPDATE account SET skeleton = ? WHERE id = ?", (new_shape, account_id)))
        if updates:
            with self._transaction():
                for statement, parameters in updates:
                    self._db.execute(statement, parameters)

    @staticmethod
    def _check_and_migrate(db: sqlite3.Connection, path: Path) -> None:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if app_id == 0 and version == 0:
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            if tables:
                raise StoreError(f"{path} is an SQLite database of another program; refusing to use it")
        elif app_id != APPLICATION_ID:
            raise StoreError(f"{path} is an SQLite database of another program; refusing to use it")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} has schema version {version}, newer than this pollchat ({SCHEMA_VERSION}); upgrade pollchat"
            )
        if 0 < version < SCHEMA_VERSION:
            _backup(db, path, backup_path(path, version))
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        for number in range(version + 1, SCHEMA_VERSION + 1):
            db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(MIGRATIONS[number - 1]):
                    db.execute(statement)
                db.execute(f"PRAGMA application_id={APPLICATION_ID}")
                db.execute(f"PRAGMA user_version={number}")
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def _transaction(self, synchronous: str = "FULL") -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE`` .. ``COMMIT``, rolled back on error).
        ``synchronous="NORMAL"`` relaxes the commit's fsync for this transaction only; the
        pragma is switched outside the transaction and ``FULL`` restored afterwards."""
        if synchronous != "FULL":
            self._db.execute(f"PRAGMA synchronous={synchronous}")
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        finally:
            if synchronous != "FULL":
                self._db.execute("PRAGMA synchronous=FULL")

    # --- registered accounts (RegisteredAccounts) ---------------------------------------------

    def find(self, key: str) -> Account | None:
        """The registered account whose case-folded name is ``key``, or ``None``.

        Args:
            key: a :func:`~pollchat.protocol.names.name_key` (the store never folds case).

        Returns:
            The account with ``kind`` REGISTERED and its ``id`` set. Preconfigured rows are
            never returned (the accounts file is their source).
        """
        row = self._db.execute(
            "SELECT id, name, password_hash, key FROM account WHERE kind = 'registered' AND key = ?", (key,)
        ).fetchone()
        return _registered(row) if row else None

    def find_lookalikes(self, shape: str) -> list[Account]:
        """The registered accounts whose name has the confusable skeleton ``shape``
        (:func:`~pollchat.protocol.names.skeleton`), by id."""
        rows = self._db.execute(
            "SELECT id, name, password_hash, key FROM account WHERE kind = 'registered' AND skeleton = ? ORDER BY id",
            (shape,),
        ).fetchall()
        return [_registered(row) for row in rows]

    def create(self, account: Account) -> Account | None:
        """Insert a registered account and commit (``synchronous=FULL``: durable before
        the caller acknowledges it).

        Args:
            account: the account; its ``id`` is ignored.

        Returns:
            ``account`` with its new ``id`` (never used before), or ``None`` if a
            registered account with the same key exists already.

        Raises:
            ValueError: ``account`` is not of kind REGISTERED.
        """
        if account.kind is not AccountKind.REGISTERED:
            raise ValueError(f"create() stores registered accounts only, not {account!r}")
        try:
            cursor = self._db.execute(
                "INSERT INTO account (key, name, kind, password_hash, created_at, skeleton)"
                " VALUES (?, ?, 'registered', ?, ?, ?)",
                (account.key, account.name, account.password_hash, _now_iso(), skeleton(account.name)),
            )
        except sqlite3.IntegrityError:
            return None
        assert cursor.lastrowid is not None  # set by every successful INSERT
        return dataclasses.replace(account, id=cursor.lastrowid)

    def rename(self, account_id: int, new_name: str) -> bool:
        """Give the registered account ``account_id`` a new name (and so a new key,
        :func:`~pollchat.protocol.names.name_key` of ``new_name``). Commits with
        ``synchronous=FULL``. The id, and so the account's history, stays. Changing only
        the case of one's own name works.

        Whether ``new_name`` is a preconfigured account's name is the caller's check
        (:class:`~pollchat.core.accounts.AccountDirectory`): the accounts file decides.

        Args:
            account_id: the account's id.
            new_name: a valid, NFC-normalised name (:func:`~pollchat.protocol.names.normalize_name`).

        Returns:
            ``True`` if renamed; ``False`` if another registered account has that key, or
            no registered account has this id.
        """
        try:
            cursor = self._db.execute(
                "UPDATE account SET name = ?, key = ?, skeleton = ? WHERE id = ? AND kind = 'registered'",
                (new_name, name_key(new_name), skeleton(new_name), account_id),
            )
        except sqlite3.IntegrityError:
            return False
        return cursor.rowcount == 1

    def set_password(self, account_id: int, password_hash: str) -> None:
        """Replace the password hash of the registered account ``account_id`` and commit
        (``synchronous=FULL``). No effect on an unknown id or a preconfigured account
        (its hash lives in the accounts file).

        Args:
            account_id: the account's id.
            password_hash: a Django PBKDF2-SHA256 string (:mod:`pollchat.core.passwords`).
        """
        self._db.execute(
            "UPDATE account SET password_hash = ? WHERE id = ? AND kind = 'registered'",
            (password_hash, account_id),
        )

    def delete(self, account_id: int) -> None:
        """Delete the registered account ``account_id`` and commit (``synchronous=FULL``).
        Its messages stay, under the names they were sent with; its id is never given to
        another account; its name becomes free. No effect on an unknown id or a
        preconfigured account."""
        self._db.execute("DELETE FROM account WHERE id = ? AND kind = 'registered'", (account_id,))

    def count_accounts(self) -> int:
        """How many registered accounts exist (preconfigured rows are not counted)."""
        return self._db.execute("SELECT count(*) FROM account WHERE kind = 'registered'").fetchone()[0]

    # --- any account ----------------------------------------------------------------------------

    def sync_preconfigured(self, accounts: Sequence[Account]) -> list[Account]:
        """Give each preconfigured account a row, matched by key, in one transaction
        (``synchronous=FULL``); call once at start-up with the accounts file's accounts.

        A new key gets a new row; an existing one keeps its id and takes the (possibly
        re-cased) display name from ``accounts``. Rows of accounts no longer in the file
        are kept (their history keeps its ids); they are never found by :meth:`find`.

        Args:
            accounts: preconfigured accounts (any order; ``kind`` and ``id`` are ignored).

        Returns:
            The same accounts in the same order, each with its ``id`` set: the same id on
            every start, whatever the order of the accounts file.
        """
        result: list[Account] = []
        created = _now_iso()
        with self._transaction():
            for account in accounts:
                key = account.key
                row = self._db.execute(
                    "SELECT id, name FROM account WHERE kind = 'preconfigured' AND key = ?", (key,)
                ).fetchone()
                account_id: int | None
                if row is None:
                    account_id = self._db.execute(
                        "INSERT INTO account (key, name, kind, password_hash, created_at, skeleton)"
                        " VALUES (?, ?, 'preconfigured', NULL, ?, ?)",
                        (key, account.name, created, skeleton(account.name)),
                    ).lastrowid
                else:
                    account_id = row[0]
                    if row[1] != account.name:
                        self._db.execute(
                            "UPDATE account SET name = ?, skeleton = ? WHERE id = ?",
                            (account.name, skeleton(account.name), account_id),
                        )
                assert account_id is not None  # set by every successful INSERT
                result.append(dataclasses.replace(account, id=account_id))
        return result

    def set_last_seen(self, account_id: int, ts: float) -> None:
        """Record when account ``account_id`` (any kind) was last online.

        Args:
            account_id: the account's id; an unknown id is ignored.
            ts: UTC time, seconds since the epoch.

        Commits with ``synchronous=NORMAL`` (may be lost on a power failure, not on a crash
        of the process).
        """
        with self._transaction("NORMAL"):
            self._db.execute("UPDATE account SET last_seen = ? WHERE id = ?", (ts, account_id))

    def last_seen(self, account_id: int) -> float | None:
        """When account ``account_id`` was last online (UTC seconds since the epoch), or
        ``None`` if never recorded or the account does not exist."""
        row = self._db.execute("SELECT last_seen FROM account WHERE id = ?", (account_id,)).fetchone()
        return row[0] if row else None

    def created_at(self, account_id: int) -> str | None:
        """When account ``account_id`` got its row, as ISO 8601 UTC text
        (``2024-05-01T12:00:00+00:00``), or ``None`` if it does not exist. For a
        preconfigured account: the first start that saw it in the accounts file."""
        row = self._db.execute("SELECT created_at FROM account WHERE id = ?", (account_id,)).fetchone()
        return row[0] if row else None

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
        rows = []
        for record in records:
            private = record.kind is RecordKind.PRIVATE
            if private != (record.recipient_id is not None) or private != (record.recipient is not None):
                raise ValueError(f"{record.kind.value} message with recipient {record.recipient!r}: inconsistent")
            if private and record.group_id is not None:
                raise ValueError("a private message cannot belong to a group")
            rows.append(
                (
                    record.ts,
                    record.kind.value,
                    record.sender_id,
                    record.sender,
                    record.recipient_id,
                    record.recipient,
                    record.text,
                    record.group_id,
                )
            )
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

    def count_private_since(self, account_id: int, ts: float) -> int:
        """How many private messages to account ``account_id`` were sent after ``ts``
        (UTC seconds since the epoch, exclusive) -- e.g. since :meth:`last_seen`."""
        return self._db.execute(
            "SELECT count(*) FROM message WHERE recipient_id = ? AND ts > ?", (account_id, ts)
        ).fetchone()[0]

    # --- retention (issue 14): the main chat, each private conversation, each group ------------

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

    # --- bans -------------------------------------------------------------------------------------

    def set_ban(self, account_id: int, until: float | None, reason: str, by: str, now: float) -> None:
        """Ban account ``account_id`` until ``until`` (epoch seconds; ``None``: for good),
        replacing any earlier ban. ``by`` is the admin's name, ``now`` the current time."""
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO ban (account_id, until, reason, by, created) VALUES (?, ?, ?, ?, ?)",
                (account_id, until, reason, by, now),
            )

    def clear_ban(self, account_id: int) -> bool:
        """Lift the ban on ``account_id``; ``False`` if there was none."""
        with self._transaction():
            cursor = self._db.execute("DELETE FROM ban WHERE account_id = ?", (account_id,))
        return cursor.rowcount > 0

    def ban_of(self, account_id: int, now: float) -> tuple[float | None, str, str] | None:
        """``(until, reason, by)`` of the ban on ``account_id`` in force at ``now``, or
        ``None`` (an expired ban counts as none)."""
        row = self._db.execute("SELECT until, reason, by FROM ban WHERE account_id = ?", (account_id,)).fetchone()
        if row is None or (row[0] is not None and row[0] <= now):
            return None
        return row[0], row[1], row[2]

    def set_address_ban(self, network: str, until: float | None, reason: str, by: str, now: float) -> None:
        """Ban ``network`` (CIDR text) until ``until`` (``None``: for good), replacing an
        earlier ban of it."""
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO address_ban (network, until, reason, by, created) VALUES (?, ?, ?, ?, ?)",
                (network, until, reason, by, now),
            )

    def clear_address_ban(self, network: str) -> None:
        """Lift the ban on ``network`` (CIDR text), if any."""
        with self._transaction():
            self._db.execute("DELETE FROM address_ban WHERE network = ?", (network,))

    def address_bans(self, now: float) -> list[tuple[str, float | None, str, str]]:
        """``(network, until, reason, by)`` of every address ban still in force at ``now``."""
        rows = self._db.execute("SELECT network, until, reason, by FROM address_ban ORDER BY network").fetchall()
        return [tuple(row) for row in rows if row[1] is None or row[1] > now]  # type: ignore[misc]

    def count_messages(self) -> int:
        """How many messages are stored (public and private)."""
        return self._db.execute("SELECT count(*) FROM message").fetchone()[0]

    # --- lifetime -------------------------------------------------------------------------------

    def close(self) -> None:
        """Checkpoint and close. Safe to call twice."""
        self._db.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _backup(db: sqlite3.Connection, path: Path, target: Path) -> None:
    """Copy the database open on ``db`` to ``target`` (a complete, self-contained
    rollback-journal file, same permissions as ``path``), via a temporary name so a
    half-written copy never carries the final name.

    Raises:
        StoreError: the copy cannot be written (nothing is left behind).
    """
    partial = target.with_name(target.name + ".partial")
    try:
        partial.unlink(missing_ok=True)
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            db.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
        os.chmod(partial, stat.S_IMODE(path.stat().st_mode))
        os.replace(partial, target)
        fsync_directory(target.parent)
    except (OSError, sqlite3.Error) as exc:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise StoreError(f"cannot back up {path} to {target} before migrating it: {exc}") from None


def _create_private(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist (SQLite takes an empty
    file for a new database, and creates its -wal and -shm files with the same mode).
    SQLite's ``:memory:`` is no file."""
    if str(path) == ":memory:":
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_MODE)
    except FileExistsError:
        return
    os.close(fd)


def _registered(row: tuple) -> Account:
    """A registered account from ``(id, name, password_hash, key)``; ``stored_key`` is
    set only when the row kept an old key (see :meth:`Database._normalise_names`)."""
    account_id, name, password_hash, key = row
    return Account(name, password_hash, AccountKind.REGISTERED, account_id, stored_key="" if key == name_key(name) else key)


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


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
