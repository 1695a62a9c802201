"""Bans in SQLite: of accounts (table ``ban``, schema 3) and of addresses and networks
(table ``address_ban``, schema 7, CIDR text as :mod:`ipaddress` writes it). ``until``
NULL means permanent; a ban whose ``until`` has passed counts as none. Writes commit with
``synchronous=FULL``.
"""

from __future__ import annotations

from pollchat.store.connection import SqliteConnection, sqlite_errors


@sqlite_errors
class SqliteBans(SqliteConnection):
    """The ban tables (implements :class:`pollchat.store.ports.BanStore`). Every public
    method raises :class:`~pollchat.errors.StoreError` if the database fails."""

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
