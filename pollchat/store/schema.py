"""The SQLite schema: the file's identity, its numbered migrations and opening checks.

One file, ``pollchat.db`` in the data directory, in WAL mode. It identifies itself with
``PRAGMA application_id`` (:data:`APPLICATION_ID`, the ASCII bytes ``PCHT``) and records
its schema version in ``PRAGMA user_version``; schema changes are numbered migrations in
:data:`MIGRATIONS`, applied in order at open, each in one transaction. A file that is not
a pollchat database -- not SQLite, another application's id, or a schema newer than this
program -- is refused with :class:`~pollchat.errors.StoreError` and never written to.
Before an existing database is migrated, a copy is written beside it
(``pollchat.db.v1-backup`` for a version-1 file; see :func:`backup_path`).

Tables (schema 9; the meaning of each is documented by the module that uses it:
:mod:`pollchat.store.accounts`, :mod:`pollchat.store.messages`,
:mod:`pollchat.store.bans`, :mod:`pollchat.store.groups`, :mod:`pollchat.store.ignores`). The PostgreSQL engine
(:mod:`pollchat.store.postgres`) has the same tables and meaning.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
from pathlib import Path

from pollchat.errors import StoreError
from pollchat.fsutil import fsync_directory

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
    # 4: groups (seed 001). A deleted group keeps its row (``deleted`` set) so its
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
    # 5: lookalike names (UTS #39 skeletons). ``skeleton`` is the UTS #39 skeleton of the name
    # (pollchat.protocol.names.skeleton); it and the NFKC keys are filled in by
    # Database._normalise_names at every open, which SQL cannot do.
    """
    ALTER TABLE account ADD COLUMN skeleton TEXT;
    CREATE INDEX account_skeleton ON account (kind, skeleton);
    """,
    # 6: retention per kind: the main chat, each private conversation and each
    # group are pruned separately, each with an index to count and walk its rows.
    """
    CREATE INDEX message_main ON message (id) WHERE recipient_id IS NULL AND group_id IS NULL;
    CREATE INDEX message_pair ON message (recipient_id, sender_id, ts) WHERE recipient_id IS NOT NULL;
    """,
    # 7: bans of addresses and networks, CIDR text as ipaddress writes it.
    """
    CREATE TABLE address_ban (
        network TEXT PRIMARY KEY,
        until   REAL,
        reason  TEXT NOT NULL,
        by      TEXT NOT NULL,
        created REAL NOT NULL
    ) WITHOUT ROWID;
    """,
    # 8: search (/search), scrollback of private conversations (/older) and read
    # receipts (/read, /receipts: account.receipts and read_mark). An FTS5
    # index of the message texts that keeps no copy of them (content='message'), filled
    # for the existing rows and kept in step by triggers (pruning deletes through them
    # too). Case and accents are ignored (unicode61, remove_diacritics 2). A build of
    # SQLite without FTS5 skips the statements naming message_search (see
    # check_and_migrate): search then reads the messages with LIKE (store/messages.py).
    """
    ALTER TABLE account ADD COLUMN receipts INTEGER NOT NULL DEFAULT 1;
    CREATE TABLE read_mark (
        reader_id  INTEGER NOT NULL,
        partner_id INTEGER NOT NULL,
        until      REAL NOT NULL,
        PRIMARY KEY (reader_id, partner_id)
    ) WITHOUT ROWID;
    CREATE INDEX read_mark_partner ON read_mark (partner_id);
    CREATE INDEX message_conversation ON message (recipient_id, sender_id, id) WHERE recipient_id IS NOT NULL;
    CREATE VIRTUAL TABLE message_search USING fts5(
        text, content='message', content_rowid='id', tokenize='unicode61 remove_diacritics 2'
    );
    INSERT INTO message_search (rowid, text) SELECT id, text FROM message;
    CREATE TRIGGER message_search_insert AFTER INSERT ON message BEGIN
        INSERT INTO message_search (rowid, text) VALUES (new.id, new.text);
    END;
    CREATE TRIGGER message_search_delete AFTER DELETE ON message BEGIN
        INSERT INTO message_search (message_search, rowid, text) VALUES ('delete', old.id, old.text);
    END;
    CREATE TRIGGER message_search_update AFTER UPDATE OF text ON message BEGIN
        INSERT INTO message_search (message_search, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO message_search (rowid, text) VALUES (new.id, new.text);
    END;
    """,
    # 9: ignore lists (/ignore): who does not want whose lines delivered.
    """
    CREATE TABLE account_ignore (
        account_id INTEGER NOT NULL,
        ignored_id INTEGER NOT NULL,
        created    REAL NOT NULL,
        PRIMARY KEY (account_id, ignored_id)
    ) WITHOUT ROWID;
    """,
)
SEARCH_TABLE = "message_search"
"""The full-text index of migration 8; statements naming it are skipped without FTS5."""
SCHEMA_VERSION = len(MIGRATIONS)


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


def check_and_migrate(db: sqlite3.Connection, path: Path) -> None:
    """Check that ``db`` (opened on ``path``, autocommit) is empty or a pollchat database
    this program can use, back it up if it is older (:func:`backup_path`), switch it to
    WAL mode and migrate it to :data:`SCHEMA_VERSION`, one transaction per migration.

    Raises:
        StoreError: another program's database, a newer schema, or the backup failed.
        sqlite3.Error: a migration failed (rolled back: the file keeps its version).
    """
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
    fts5 = has_fts5(db)
    for number in range(version + 1, SCHEMA_VERSION + 1):
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(MIGRATIONS[number - 1]):
                if not fts5 and SEARCH_TABLE in statement:
                    continue  # no full-text index in this build: search falls back to LIKE
                db.execute(statement)
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            db.execute(f"PRAGMA user_version={number}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


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


def create_private(path: Path) -> None:
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


def has_fts5(db: sqlite3.Connection) -> bool:
    """Whether this build of SQLite has the FTS5 full-text extension (the Python
    standard library's usually does; a few distributions' builds do not)."""
    try:
        db.execute("CREATE VIRTUAL TABLE temp.pollchat_fts5_probe USING fts5(x)")
    except sqlite3.OperationalError:
        return False
    db.execute("DROP TABLE temp.pollchat_fts5_probe")
    return True


def _statements(script: str) -> list[str]:
    """The statements of ``script``, split at the semicolons that end one (a trigger's
    body holds semicolons of its own: pieces are joined until SQLite calls the
    statement complete)."""
    statements, pending = [], ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            statement = pending.strip().removesuffix(";").strip()
            if statement:
                statements.append(statement)
            pending = ""
    if pending.replace(";", "").strip():
        statements.append(pending.strip().removesuffix(";").strip())
    return statements
