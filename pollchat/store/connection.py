"""What the SQLite store modules share: the connection, write transactions, engine
errors turned into :class:`~pollchat.errors.StoreError`, and the check that the
database file is still the one that was opened.

A database file deleted (or replaced) while the server runs would otherwise go
unnoticed: SQLite goes on writing to the unlinked inode, every registration is
acknowledged, and the next start finds an empty database. So every write first checks
the file (:meth:`SqliteConnection._check_file`: one ``fstat`` and one ``stat``, a few
microseconds) and refuses with ``StoreError`` once it is gone; the refusal is logged
at CRITICAL level once.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from pollchat.errors import StoreConflict, StoreError

log = logging.getLogger("pollchat.store")

_T = TypeVar("_T")


def sqlite_errors(cls: type[_T]) -> type[_T]:
    """Class decorator: each public method of ``cls`` (those it defines itself) raises
    :class:`~pollchat.errors.StoreError` instead of :class:`sqlite3.Error` --
    :class:`~pollchat.errors.StoreConflict` for a broken uniqueness rule -- so that no
    code outside ``pollchat.store`` needs to know the engine. The original error is
    the new one's ``__cause__`` (kept for the log)."""
    for name, value in list(vars(cls).items()):
        if not name.startswith("_") and inspect.isfunction(value):
            setattr(cls, name, _translated(value))
    return cls


def _translated(method: Callable[..., object]) -> Callable[..., object]:
    @functools.wraps(method)
    def call(*args: object, **kwargs: object) -> object:
        try:
            return method(*args, **kwargs)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise StoreConflict(f"already taken ({exc})") from exc
            raise StoreError(f"the database refused the write ({exc})") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"database error: {exc}") from exc

    return call


class SqliteConnection:
    """An open SQLite connection (autocommit mode) on ``path``, with the helpers every
    table module uses. Not used on its own: :class:`pollchat.store.database.Database`
    combines the table modules."""

    _db: sqlite3.Connection
    path: Path

    group_commit = False
    """Group commit of registrations (set by the server): each
    :meth:`~pollchat.store.accounts.SqliteAccounts.create` joins one open transaction,
    and :meth:`~pollchat.store.accounts.SqliteAccounts.commit_registrations` commits
    them all with one ``fsync`` (``synchronous=FULL``); the server calls it once per
    loop pass, before that pass's output, so a registration is still on disk before it
    is acknowledged. Off: each registration commits alone (tools, tests)."""
    _batch = 0
    """Registrations tried in the open group-commit transaction (a refused one counts:
    only its statement was undone)."""
    _batch_failed: str | None = None
    """Why a group commit that another write ended failed (reported by the next
    ``commit_registrations``, which the server's barrier calls)."""

    def _attach(self, connection: sqlite3.Connection, path: Path) -> None:
        """Take ``connection`` and remember which file ``path`` is now (its device and
        inode, and an open descriptor to ``fstat``), for :meth:`_check_file`."""
        self._db = connection
        self.path = path
        self._file: int | None = None
        self._identity: tuple[int, int] | None = None
        self._lost: str | None = None
        if str(path) == ":memory:":
            return
        try:
            self._file = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise StoreError(f"cannot open database {path}: {exc.strerror or exc}") from None
        info = os.fstat(self._file)
        self._identity = (info.st_dev, info.st_ino)

    def _check_file(self) -> None:
        """Refuse to write to a database file that was deleted, moved away or replaced
        since it was opened: such a write would be lost at the next start.

        Raises:
            StoreError: the file is gone (logged at CRITICAL level the first time).
        """
        if self._file is None:
            return
        if self._lost is None:
            if os.fstat(self._file).st_nlink == 0:
                self._lost = "deleted"
            else:
                try:
                    info = os.stat(self.path)
                except OSError:
                    self._lost = "moved away or deleted"
                else:
                    if (info.st_dev, info.st_ino) != self._identity:
                        self._lost = "replaced by another file"
            if self._lost is not None:
                log.critical(
                    "the database file %s was %s while the server ran: every write now fails "
                    "(registrations are refused); restore the file from a backup and restart the server",
                    self.path,
                    self._lost,
                )
        if self._lost is not None:
            raise StoreError(f"the database file {self.path} was {self._lost}; nothing more is written to it")

    def _write(self, statement: str, parameters: tuple[object, ...]) -> sqlite3.Cursor:
        """Run one write statement in its own (autocommit) transaction, after
        :meth:`_check_file` (and after the open group commit, which ends first)."""
        self._end_batch()
        self._check_file()
        return self._db.execute(statement, parameters)

    def _commit_batch(self) -> int:
        """Commit the open group-commit transaction; the number of registrations tried
        in it (0: none open). Raises ``sqlite3.Error`` after rolling it back."""
        count, self._batch = self._batch, 0
        if not count:
            return 0
        try:
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        return count

    def _end_batch(self) -> None:
        """Any other write first ends the open group commit (each write stays its own
        transaction); a failure is kept for the server's next commit, which closes the
        registrations it held unacknowledged."""
        if self._batch:
            try:
                self._commit_batch()
            except sqlite3.Error as exc:
                self._batch_failed = str(exc)

    @contextlib.contextmanager
    def _transaction(self, synchronous: str = "FULL") -> Iterator[None]:
        """One write transaction (``BEGIN IMMEDIATE`` .. ``COMMIT``, rolled back on error),
        after :meth:`_check_file`. ``synchronous="NORMAL"`` relaxes the commit's fsync for
        this transaction only; the pragma is switched outside the transaction and ``FULL``
        restored afterwards."""
        self._end_batch()
        self._check_file()
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

    def _detach(self) -> None:
        """Close the connection and the descriptor kept for :meth:`_check_file` (an open
        group commit is committed first). Safe to call twice."""
        self._end_batch()
        self._db.close()
        if self._file is not None:
            os.close(self._file)
            self._file = None
