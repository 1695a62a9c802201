"""Groups in SQLite (schema 4): groups, members, bans, join requests, changes waiting
for offline accounts.

Tables: ``chat_group`` (a deleted group keeps its row, ``deleted`` set, so its messages
stay exportable; only live names are unique, case-folded in ``key``), ``group_member``
and ``group_request`` (rowid tables: the rowid keeps joining order even when two times
are equal), ``group_ban`` and ``pending_change``.

:class:`GroupTables` is one of the table classes :class:`pollchat.store.database.Database`
combines; it implements :class:`pollchat.core.groups.GroupStore`. Every write is one transaction
with ``synchronous=FULL``: a membership, ban or request the server acknowledged is on
disk (seed 001: groups "persist in the database across restarts"). The exception is the queue
of changes for offline accounts (``synchronous=NORMAL``, see :meth:`queue_change`).
"""

from __future__ import annotations

from pollchat.core.groups import Group, Member, PendingChange, Visibility
from pollchat.protocol.names import name_key
from pollchat.store.connection import SqliteConnection, sqlite_errors

MAX_PENDING_CHANGES = 100
"""Changes kept per offline account; older ones are dropped (a deleted group's members
could otherwise pile them up without end)."""


@sqlite_errors
class GroupTables(SqliteConnection):
    """Group persistence (see the module docstring). Every public method raises
    :class:`~pollchat.errors.StoreError` if the database fails."""

    def load_groups(self) -> list[Group]:
        """Every live group with its members (joining order: insertion order, whatever
        the clock said), bans and requests (oldest first), with the accounts' current
        names. Members whose account was deleted are
        left out."""
        groups: dict[int, Group] = {}
        for group_id, name, visibility, owner_id, topic in self._db.execute(
            "SELECT id, name, visibility, owner_id, topic FROM chat_group WHERE deleted IS NULL ORDER BY id"
        ):
            groups[group_id] = Group(group_id, name, Visibility(visibility), owner_id, topic)
        for group_id, account_id, name, since in self._db.execute(
            "SELECT m.group_id, m.account_id, a.name, m.joined FROM group_member m"
            " JOIN account a ON a.id = m.account_id ORDER BY m.rowid"
        ):
            if group_id in groups:
                groups[group_id].members[account_id] = Member(account_id, name, since)
        for group_id, account_id, name, since in self._db.execute(
            "SELECT r.group_id, r.account_id, a.name, r.created FROM group_request r"
            " JOIN account a ON a.id = r.account_id ORDER BY r.rowid"
        ):
            if group_id in groups:
                groups[group_id].requests[account_id] = Member(account_id, name, since)
        for group_id, account_id in self._db.execute("SELECT group_id, account_id FROM group_ban"):
            if group_id in groups:
                groups[group_id].bans.add(account_id)
        return list(groups.values())

    def create_group(self, name: str, visibility: str, owner_id: int, now: float) -> int:
        """Insert a group and its owner's membership; return the new id (never reused).

        Raises:
            StoreConflict: a live group has that name already (any case).
        """
        with self._transaction():
            group_id = self._db.execute(
                "INSERT INTO chat_group (key, name, visibility, owner_id, created) VALUES (?, ?, ?, ?, ?)",
                (name_key(name), name, visibility, owner_id, now),
            ).lastrowid
            self._db.execute(
                "INSERT INTO group_member (group_id, account_id, joined) VALUES (?, ?, ?)", (group_id, owner_id, now)
            )
        assert group_id is not None
        return group_id

    def add_member(self, group_id: int, account_id: int, now: float) -> None:
        """Add a member and drop its join request, if any."""
        with self._transaction():
            self._db.execute("DELETE FROM group_request WHERE group_id = ? AND account_id = ?", (group_id, account_id))
            self._db.execute(
                "INSERT OR IGNORE INTO group_member (group_id, account_id, joined) VALUES (?, ?, ?)",
                (group_id, account_id, now),
            )

    def remove_member(self, group_id: int, account_id: int, new_owner_id: int | None) -> None:
        """Remove a member; if ``new_owner_id`` is given, hand the group to it."""
        with self._transaction():
            self._db.execute("DELETE FROM group_member WHERE group_id = ? AND account_id = ?", (group_id, account_id))
            if new_owner_id is not None:
                self._db.execute("UPDATE chat_group SET owner_id = ? WHERE id = ?", (new_owner_id, group_id))

    def delete_group(self, group_id: int, now: float) -> None:
        """Mark the group deleted at ``now`` (its row and messages stay, for export; its
        name becomes free) and drop its members, bans and requests."""
        with self._transaction():
            self._db.execute("UPDATE chat_group SET deleted = ? WHERE id = ?", (now, group_id))
            for table in ("group_member", "group_ban", "group_request"):
                self._db.execute(f"DELETE FROM {table} WHERE group_id = ?", (group_id,))

    def rename_group(self, group_id: int, name: str) -> None:
        """Give a group a new name (and key).

        Raises:
            StoreConflict: another live group has that name.
        """
        with self._transaction():
            self._db.execute("UPDATE chat_group SET name = ?, key = ? WHERE id = ?", (name, name_key(name), group_id))

    def set_topic(self, group_id: int, topic: str) -> None:
        """Set a group's topic ("" clears it)."""
        with self._transaction():
            self._db.execute("UPDATE chat_group SET topic = ? WHERE id = ?", (topic, group_id))

    def add_group_ban(self, group_id: int, account_id: int, by: str, now: float) -> None:
        """Ban an account from a group, dropping its membership and request."""
        with self._transaction():
            self._db.execute("DELETE FROM group_member WHERE group_id = ? AND account_id = ?", (group_id, account_id))
            self._db.execute("DELETE FROM group_request WHERE group_id = ? AND account_id = ?", (group_id, account_id))
            self._db.execute(
                "INSERT OR REPLACE INTO group_ban (group_id, account_id, by, created) VALUES (?, ?, ?, ?)",
                (group_id, account_id, by, now),
            )

    def remove_group_ban(self, group_id: int, account_id: int) -> None:
        """Lift a group ban (nothing if there was none)."""
        with self._transaction():
            self._db.execute("DELETE FROM group_ban WHERE group_id = ? AND account_id = ?", (group_id, account_id))

    def add_request(self, group_id: int, account_id: int, now: float) -> None:
        """Record a join request (a repeated one keeps its first time)."""
        with self._transaction():
            self._db.execute(
                "INSERT OR IGNORE INTO group_request (group_id, account_id, created) VALUES (?, ?, ?)",
                (group_id, account_id, now),
            )

    def remove_request(self, group_id: int, account_id: int) -> None:
        """Drop a join request."""
        with self._transaction():
            self._db.execute("DELETE FROM group_request WHERE group_id = ? AND account_id = ?", (group_id, account_id))

    def forget_account(self, account_id: int) -> None:
        """Drop a deleted account's requests and waiting changes (its memberships are
        removed one by one by the caller, so owned groups change hands first)."""
        with self._transaction():
            self._db.execute("DELETE FROM group_request WHERE account_id = ?", (account_id,))
            self._db.execute("DELETE FROM pending_change WHERE account_id = ?", (account_id,))

    def queue_change(self, account_id: int, change: PendingChange) -> None:
        """Keep ``change`` for ``account_id``'s next login (at most
        :data:`MAX_PENDING_CHANGES` per account: the oldest go first).

        Commits with ``synchronous=NORMAL``, like message batches: deleting a group
        queues one change per offline member, and an fsync for each would stall the
        loop; a notice lost to a power failure is not worth that."""
        with self._transaction("NORMAL"):
            self._db.execute(
                "INSERT INTO pending_change (account_id, change, group_name, name, by, at) VALUES (?, ?, ?, ?, ?, ?)",
                (account_id, change.change, change.group, change.name, change.by, change.at),
            )
            self._db.execute(
                "DELETE FROM pending_change WHERE account_id = ? AND id NOT IN"
                " (SELECT id FROM pending_change WHERE account_id = ? ORDER BY id DESC LIMIT ?)",
                (account_id, account_id, MAX_PENDING_CHANGES),
            )

    def take_changes(self, account_id: int) -> list[PendingChange]:
        """The changes kept for ``account_id``, oldest first; they are removed. Called
        at every login, so the usual case (none kept) is one indexed read and no write
        transaction."""
        query = "SELECT id, change, group_name, name, by, at FROM pending_change WHERE account_id = ? ORDER BY id"
        rows = self._db.execute(query, (account_id,)).fetchall()
        if not rows:
            return []
        with self._transaction():  # only what was read: a change queued since stays
            self._db.execute("DELETE FROM pending_change WHERE account_id = ? AND id <= ?", (account_id, rows[-1][0]))
        return [PendingChange(*row[1:]) for row in rows]

