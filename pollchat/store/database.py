"""The SQLite database of registered accounts.

One file, ``pollchat.db`` in the data directory, in WAL mode. It identifies itself with
``PRAGMA application_id`` (:data:`APPLICATION_ID`, the ASCII bytes ``PCHT``) and records
its schema version in ``PRAGMA user_version``; schema changes are numbered migrations in
:data:`MIGRATIONS`, applied in order at open. A file that is not a pollchat database --
not SQLite, another application's id, or a schema newer than this program -- is refused
with :class:`~pollchat.errors.StoreError` and never written to.

Registration is durable before it is acknowledged: :meth:`Database.create` commits
(``synchronous=FULL``) before the server sends ``Access Provided``.

All calls happen on the event-loop thread; each is one indexed statement (microseconds).
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from pollchat.core.accounts import Account
from pollchat.core.seats import AccountKind
from pollchat.errors import StoreError

APPLICATION_ID = int.from_bytes(b"PCHT", "big")
"""``PRAGMA application_id`` of a pollchat database (0x50434854)."""

DATABASE_NAME = "pollchat.db"

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
)
SCHEMA_VERSION = len(MIGRATIONS)


class Database:
    """An open pollchat database; implements
    :class:`~pollchat.core.accounts.RegisteredAccounts`.

    Use :meth:`open`, then :meth:`close` (or a ``with`` block).
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path

    @classmethod
    def open(cls, path: Path) -> Database:
        """Open the database at ``path``, creating it (and its directory) if missing and
        migrating it to :data:`SCHEMA_VERSION`.

        Raises:
            StoreError: the file cannot be opened, is not a pollchat database, or has a
                newer schema than this program knows.
        """
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
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
        return cls(connection, path)

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
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        for number in range(version + 1, SCHEMA_VERSION + 1):
            db.execute("BEGIN IMMEDIATE")
            for statement in _statements(MIGRATIONS[number - 1]):
                db.execute(statement)
            db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            db.execute(f"PRAGMA user_version={number}")
            db.execute("COMMIT")

    # --- RegisteredAccounts ------------------------------------------------------------------

    def find(self, key: str) -> Account | None:
        """The registered account with case-folded name ``key``, or ``None``."""
        row = self._db.execute("SELECT name, password_hash FROM account WHERE key = ?", (key,)).fetchone()
        return Account(row[0], row[1], AccountKind.REGISTERED) if row else None

    def create(self, account: Account) -> bool:
        """Insert ``account`` and commit; ``False`` if its key exists already."""
        created = datetime.now(timezone.utc).isoformat(timespec="seconds")
        try:
            self._db.execute(
                "INSERT INTO account (key, name, password_hash, created_at) VALUES (?, ?, ?, ?)",
                (account.key, account.name, account.password_hash, created),
            )
        except sqlite3.IntegrityError:
            return False
        return True

    def count_accounts(self) -> int:
        """How many registered accounts exist."""
        return self._db.execute("SELECT count(*) FROM account").fetchone()[0]

    def close(self) -> None:
        """Checkpoint and close. Safe to call twice."""
        self._db.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
