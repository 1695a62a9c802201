"""SQLite copies for ``pollchat-server backup`` and ``restore``: the SQL half of
:mod:`pollchat.server.subcommands.backup`, which handles the files around it.

:func:`copy_live` copies a database with SQLite's online backup API
(:meth:`sqlite3.Connection.backup`): the database is in WAL mode, so the copy reads one
consistent snapshot while the server goes on writing, neither blocking it nor waiting
for it. :func:`check_copy` checks a copy (``PRAGMA integrity_check``, the
``application_id``, the schema version) and makes it a self-contained
rollback-journal file.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from pollchat.errors import StoreError
from pollchat.store.schema import APPLICATION_ID, SCHEMA_VERSION


@dataclass(frozen=True)
class Summary:
    """What a checked database holds."""

    schema: int
    accounts: int
    messages: int

    def __str__(self) -> str:
        return f"{self.accounts} account(s), {self.messages} message(s), schema {self.schema}"


def check_database(db: sqlite3.Connection, name: object) -> Summary:
    """Check that ``db`` is an intact pollchat database this program can use.

    Raises:
        StoreError: not SQLite, another application's file, a newer schema, or a
            failed integrity check.
    """
    try:
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if app_id != APPLICATION_ID or version < 1:
            raise StoreError(f"{name} is not a pollchat database")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{name} has schema version {version}, newer than this pollchat ({SCHEMA_VERSION}); upgrade pollchat"
            )
        problems = [row[0] for row in db.execute("PRAGMA integrity_check").fetchall()]
        if problems != ["ok"]:
            raise StoreError(f"{name} is damaged (integrity check: {problems[0]})")
        if version >= 2:
            accounts = db.execute("SELECT count(*) FROM account WHERE kind = 'registered'").fetchone()[0]
            messages = db.execute("SELECT count(*) FROM message").fetchone()[0]
        else:
            accounts = db.execute("SELECT count(*) FROM account").fetchone()[0]
            messages = 0
    except sqlite3.Error as exc:
        if isinstance(exc, sqlite3.DatabaseError) and "malformed" in str(exc):
            raise StoreError(f"{name} is damaged ({exc})") from None
        raise StoreError(f"{name} is not a pollchat database ({exc})") from None
    return Summary(version, accounts, messages)


def copy_live(source: Path, partial: Path) -> Summary:
    """Copy the database at ``source`` (live or not) into the file ``partial`` (an empty
    file the caller created and removes on failure) and check the copy.

    Raises:
        StoreError: ``source`` cannot be opened, the copy failed, or the copy did not
            pass :func:`check_database`.
    """
    try:
        # mode=rw: never create a database that is not there; the server's own
        # connection is untouched (WAL: this one only reads a snapshot).
        live = sqlite3.connect(f"{source.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open {source}: {exc}") from None
    try:
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            live.backup(copy)  # all pages in one step: one consistent snapshot
            copy.execute("PRAGMA journal_mode=DELETE")  # a self-contained file
            return check_database(copy, f"the copy of {source}")
        finally:
            copy.close()
    except sqlite3.Error as exc:
        raise StoreError(f"cannot back up {source}: {exc}") from None
    finally:
        live.close()


def check_copy(partial: Path, src: Path) -> Summary:
    """Open the plain file copy ``partial`` of the backup ``src`` (with its write-ahead
    log beside it, if any), check it and turn it into a self-contained file.

    Raises:
        StoreError: ``src`` is not an intact pollchat database this program can use.
    """
    try:
        db = sqlite3.connect(partial, isolation_level=None)
    except sqlite3.Error as exc:
        raise StoreError(f"{src} is not a pollchat database ({exc})") from None
    try:
        summary = check_database(db, src)
        db.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot restore {src}: {exc}") from None
    finally:
        db.close()
    return summary
