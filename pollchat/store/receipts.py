"""Read receipts in SQLite (schema 8): the setting, column ``account.receipts`` (1 on, the
default; 0 after ``/receipts off``), and the read marks, table ``read_mark``: one row per
(reader, partner), ``until`` the time up to which ``reader_id`` has read the private
messages ``partner_id`` sent it (UTC seconds; it never moves back). See
:mod:`pollchat.core.receipts` for the rules. A mark is written with
``synchronous=NORMAL`` (as messages are: a crash of the machine may lose the last ones);
the setting with ``FULL``.
"""

from __future__ import annotations

from pollchat.store.connection import SqliteConnection, sqlite_errors


@sqlite_errors
class SqliteReceipts(SqliteConnection):
    """The receipt tables (implements :class:`pollchat.core.receipts.ReceiptStore`).
    Every public method raises :class:`~pollchat.errors.StoreError` if the database fails."""

    def receipts_off_accounts(self) -> list[int]:
        """The ids of the accounts with read receipts off, in order."""
        return [row[0] for row in self._db.execute("SELECT id FROM account WHERE receipts = 0 ORDER BY id")]

    def set_receipts(self, account_id: int, on: bool) -> None:
        """Turn read receipts on or off for account ``account_id`` (an unknown id: nothing)."""
        with self._transaction():
            self._db.execute("UPDATE account SET receipts = ? WHERE id = ?", (int(on), account_id))

    def mark_read(self, reader_id: int, partner_id: int, until: float) -> float:
        """Record that ``reader_id`` has read what ``partner_id`` sent it up to ``until``;
        an earlier mark is kept if it is later. Returns the mark now."""
        with self._transaction("NORMAL"):
            self._db.execute(
                "INSERT INTO read_mark (reader_id, partner_id, until) VALUES (?, ?, ?)"
                " ON CONFLICT (reader_id, partner_id) DO UPDATE SET until = max(until, excluded.until)",
                (reader_id, partner_id, until),
            )
            row = self._db.execute(
                "SELECT until FROM read_mark WHERE reader_id = ? AND partner_id = ?", (reader_id, partner_id)
            ).fetchone()
        return float(row[0])

    def read_by_others(self, account_id: int) -> list[tuple[int, str, float]]:
        """``(reader_id, reader's name now, until)`` of every account that has read
        messages from ``account_id`` (accounts deleted since are left out), by reader id."""
        return [
            (reader, name, until)
            for reader, name, until in self._db.execute(
                "SELECT r.reader_id, a.name, r.until FROM read_mark r JOIN account a ON a.id = r.reader_id"
                " WHERE r.partner_id = ? ORDER BY r.reader_id",
                (account_id,),
            )
        ]
