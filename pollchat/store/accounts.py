"""Accounts in SQLite: registered accounts, the rows of preconfigured ones, last-seen times.

Table ``account`` (schema 2, 5): one row per account, registered *and* preconfigured, so
that history can refer to every account by a stable ``id``. ``id`` is ``AUTOINCREMENT``:
never reused, even after a delete. ``(kind, key)`` is unique; ``key`` is the case-folded
NFKC name (:func:`pollchat.protocol.names.name_key`) -- or, for an old account whose NFKC
key another account had first, the key it always had
(:func:`~pollchat.protocol.names.legacy_key`). ``skeleton`` is the name's confusable
skeleton (:func:`~pollchat.protocol.names.skeleton`), indexed, for the lookalike check.
Preconfigured rows have no password hash (the accounts file holds it).

Durability: account writes commit with ``synchronous=FULL`` (a registration is on disk
before the server acknowledges it); last-seen times with ``synchronous=NORMAL``. With
``group_commit`` on (the server), the registrations of one loop pass share one
transaction and one ``fsync``, committed by :meth:`SqliteAccounts.commit_registrations`
before the pass's replies go out: the fsync per registration was a fifth of the time of
10,000 logins (docs/performance.md).
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Sequence
from datetime import datetime, timezone

from pollchat.core.accounts import Account
from pollchat.core.seats import AccountKind
from pollchat.errors import StoreError
from pollchat.protocol.names import name_key, skeleton
from pollchat.store.connection import SqliteConnection, sqlite_errors


@sqlite_errors
class SqliteAccounts(SqliteConnection):
    """The account table (implements :class:`pollchat.store.ports.AccountStore`). Every
    public method raises :class:`~pollchat.errors.StoreError` if the database fails."""

    name_collisions: list[tuple[str, str]]

    def _normalise_names(self) -> None:
        """Give every account row its NFKC key and its skeleton (UTS #39), in one
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
            registered account with the same key, or with a name of the same confusable
            skeleton (a lookalike), exists already. The statement itself checks both, so
            the database is the final word even if the caller's checks raced.

        Raises:
            ValueError: ``account`` is not of kind REGISTERED.
        """
        if account.kind is not AccountKind.REGISTERED:
            raise ValueError(f"create() stores registered accounts only, not {account!r}")
        shape = skeleton(account.name)
        statement = (
            "INSERT INTO account (key, name, kind, password_hash, created_at, skeleton)"
            " SELECT ?, ?, 'registered', ?, ?, ? WHERE NOT EXISTS"
            " (SELECT 1 FROM account WHERE kind = 'registered' AND skeleton = ?)"
        )
        parameters = (account.key, account.name, account.password_hash, _now_iso(), shape, shape)
        try:
            if self.group_commit:
                cursor = self._join_batch(statement, parameters)
            else:
                cursor = self._write(statement, parameters)
        except sqlite3.IntegrityError:
            return None
        if cursor.rowcount != 1:
            return None
        assert cursor.lastrowid is not None  # an INSERT into a rowid table always sets it
        return dataclasses.replace(account, id=cursor.lastrowid)

    def commit_registrations(self) -> int:
        """Commit the registrations :meth:`create` made since the last call, in one
        transaction (``synchronous=FULL``: one ``fsync`` for all); with ``group_commit``
        off there is never one open. The server calls this once per loop pass, before
        the pass's output: each ``Access Provided`` leaves after its account is on disk.

        Returns:
            How many registrations were tried in the transaction (0: none were waiting;
            a refused one, a duplicate or a lookalike, counts but stored nothing).

        Raises:
            StoreError: the commit failed (disk full, I/O error, the file gone), now or
                when another write ended the transaction earlier: none of them is
                stored, and none may be acknowledged.
        """
        failed, self._batch_failed = self._batch_failed, None
        count = self._commit_batch()
        if failed is not None:
            raise StoreError(f"database error: {failed}")
        return count

    def _join_batch(self, statement: str, parameters: tuple[object, ...]) -> sqlite3.Cursor:
        """Run a registration's insert in the open group-commit transaction (opened
        here if none is). A failed statement that ended the transaction (SQLite rolls
        it all back on a full disk) fails the batch: the next commit reports it."""
        self._check_file()
        if not self._batch:
            self._db.execute("BEGIN IMMEDIATE")
        try:
            cursor = self._db.execute(statement, parameters)
        except sqlite3.IntegrityError:
            self._batch += 1  # the statement alone was undone; the transaction is open
            raise
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            if self._batch:
                self._batch_failed = str(exc)
            self._batch = 0
            raise
        self._batch += 1
        return cursor

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
            ``True`` if renamed; ``False`` if another registered account has that key or
            (unless the account's own skeleton stays) a name of that skeleton, or no
            registered account has this id.
        """
        shape = skeleton(new_name)
        try:
            cursor = self._write(
                "UPDATE account SET name = ?, key = ?, skeleton = ? WHERE id = ? AND kind = 'registered'"
                " AND (skeleton IS ? OR NOT EXISTS"
                " (SELECT 1 FROM account AS other WHERE other.kind = 'registered' AND other.skeleton = ? AND other.id != ?))",
                (new_name, name_key(new_name), shape, account_id, shape, shape, account_id),
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
        self._write(
            "UPDATE account SET password_hash = ? WHERE id = ? AND kind = 'registered'",
            (password_hash, account_id),
        )

    def delete(self, account_id: int) -> None:
        """Delete the registered account ``account_id`` and commit (``synchronous=FULL``).
        Its messages stay, under the names they were sent with; its id is never given to
        another account; its name becomes free. No effect on an unknown id or a
        preconfigured account."""
        self._write("DELETE FROM account WHERE id = ? AND kind = 'registered'", (account_id,))

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
                assert account_id is not None  # an INSERT into a rowid table always sets it
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


def _registered(row: tuple) -> Account:
    """A registered account from ``(id, name, password_hash, key)``; ``stored_key`` is
    set only when the row kept an old key (see :meth:`SqliteAccounts._normalise_names`)."""
    account_id, name, password_hash, key = row
    return Account(name, password_hash, AccountKind.REGISTERED, account_id, stored_key="" if key == name_key(name) else key)


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
