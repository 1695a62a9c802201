"""Ignore lists in SQLite: table ``account_ignore`` (schema 9), one row per pair
``(account_id, ignored_id)``: ``account_id`` does not want ``ignored_id``'s lines,
private messages, mentions and typing hints delivered (``/ignore``). ``created`` is
when it was added (epoch seconds) and gives a list its order. A row whose ignored
account was deleted stays but is not listed (the id is never reused). Writes commit
with ``synchronous=FULL``, like every other account setting.
"""

from __future__ import annotations

from pollchat.store.connection import SqliteConnection, sqlite_errors


@sqlite_errors
class SqliteIgnores(SqliteConnection):
    """The ignore table (implements :class:`pollchat.store.ports.IgnoreStore`). Every
    public method raises :class:`~pollchat.errors.StoreError` if the database fails."""

    def ignored_ids(self, account_id: int) -> list[int]:
        """The ids ``account_id`` ignores, oldest first."""
        rows = self._db.execute(
            "SELECT ignored_id FROM account_ignore WHERE account_id = ? ORDER BY created, ignored_id", (account_id,)
        )
        return [row[0] for row in rows]

    def ignored_names(self, account_id: int) -> list[str]:
        """The current names of the existing accounts ``account_id`` ignores, oldest first."""
        rows = self._db.execute(
            "SELECT account.name FROM account_ignore JOIN account ON account.id = account_ignore.ignored_id"
            " WHERE account_ignore.account_id = ? ORDER BY account_ignore.created, account_ignore.ignored_id",
            (account_id,),
        )
        return [row[0] for row in rows]

    def add_ignore(self, account_id: int, ignored_id: int, now: float) -> None:
        """``account_id`` ignores ``ignored_id`` from ``now``; a pair already there stays as it is."""
        with self._transaction():
            self._db.execute(
                "INSERT OR IGNORE INTO account_ignore (account_id, ignored_id, created) VALUES (?, ?, ?)",
                (account_id, ignored_id, now),
            )

    def remove_ignore(self, account_id: int, ignored_id: int) -> None:
        """``account_id`` no longer ignores ``ignored_id`` (nothing if it did not)."""
        with self._transaction():
            self._db.execute(
                "DELETE FROM account_ignore WHERE account_id = ? AND ignored_id = ?", (account_id, ignored_id)
            )
