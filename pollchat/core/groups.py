"""Groups: owned chat rooms with members, bans and join requests (seed 001).

:class:`Groups` keeps every live group in memory (there are few, and every group line
needs its member list) and writes each change through a :class:`GroupStore` (the SQLite
store in production, a fake in tests), so memberships, bans and pending requests
survive a restart. It enforces the data rules only -- unique names, no duplicate
membership, the limits; who may do what, and who is told, is decided by
:mod:`pollchat.core.group_chat`.

Members are kept in joining order, so the longest-standing member -- the one who takes
over when the owner leaves -- is the first after the owner. Accounts are referred to by
their never-reused id, so a ban survives the banned account's ``/nick``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from pollchat.protocol.names import legacy_key, name_key


class Visibility(enum.Enum):
    """Who may join: anyone (``public``) or whom the owner accepts (``private``)."""

    PUBLIC = "public"
    PRIVATE = "private"


@dataclass(slots=True)
class Member:
    """An account in a group, or asking to join one: its id, its current name and when
    it joined (or asked), in epoch seconds."""

    account_id: int
    name: str
    since: float


@dataclass(slots=True)
class Group:
    """One live group.

    Attributes:
        id: the store's id, never reused (history refers to it, so a deleted group's
            messages stay exportable and never pass to a new group of the same name).
        name: the display spelling, without ``#``.
        visibility: public or private.
        owner_id: the owning account's id (always a member).
        topic: the topic, or "".
        members: account id -> member, in joining order (the owner included).
        bans: ids of accounts that may neither join nor ask to.
        requests: account id -> requester, oldest first (private groups).
        deleted: set once the group is deleted (by its owner, an admin, or when its
            last member left); it is then no longer found by name.
    """

    id: int
    name: str
    visibility: Visibility
    owner_id: int
    topic: str = ""
    members: dict[int, Member] = field(default_factory=dict)
    bans: set[int] = field(default_factory=set)
    requests: dict[int, Member] = field(default_factory=dict)
    deleted: bool = False

    @property
    def key(self) -> str:
        """The case-insensitive identity of the name."""
        return name_key(self.name)

    def successor(self) -> Member | None:
        """The longest-standing member other than the owner, or ``None``."""
        return next((m for m in self.members.values() if m.account_id != self.owner_id), None)


@dataclass(frozen=True, slots=True)
class GroupLimits:
    """Caps that keep one account from filling the server, each refused with a clear
    error; every one is a server flag, and 0 means no limit.

    Attributes:
        groups_per_owner: live groups one account may own.
        members_per_group: members a group may have, the owner included.
        requests_per_group: join requests that may wait in one private group.
    """

    groups_per_owner: int = 10
    members_per_group: int = 200
    requests_per_group: int = 20


@dataclass(frozen=True, slots=True)
class PendingChange:
    """A group change stored for an account that was offline when it happened (an
    accepted or rejected request, a removal, a deletion), told at its next login.
    ``change`` is a :class:`~pollchat.texts.GroupChange` name, lower case."""

    change: str
    group: str
    name: str
    by: str
    at: float


class GroupStore(Protocol):
    """Persistence of groups (implemented by :class:`pollchat.store.database.Database`).
    Each method is one transaction."""

    def load_groups(self) -> list[Group]:
        """Every live group with its members, bans and requests (current names)."""

    def create_group(self, name: str, visibility: str, owner_id: int, now: float) -> int:
        """Store a new group with its owner as first member; return its new id."""

    def add_member(self, group_id: int, account_id: int, now: float) -> None:
        """Add a member (and drop its join request, if any)."""

    def remove_member(self, group_id: int, account_id: int, new_owner_id: int | None) -> None:
        """Remove a member; hand the group to ``new_owner_id`` if given."""

    def delete_group(self, group_id: int, now: float) -> None:
        """Mark the group deleted (its messages stay) and drop members, bans, requests."""

    def rename_group(self, group_id: int, name: str) -> None:
        """Give a group a new name."""

    def set_topic(self, group_id: int, topic: str) -> None:
        """Set a group's topic ("" clears it)."""

    def add_group_ban(self, group_id: int, account_id: int, by: str, now: float) -> None:
        """Ban an account from a group (dropping its membership and request)."""

    def remove_group_ban(self, group_id: int, account_id: int) -> None:
        """Lift a group ban."""

    def add_request(self, group_id: int, account_id: int, now: float) -> None:
        """Record a join request."""

    def remove_request(self, group_id: int, account_id: int) -> None:
        """Drop a join request."""

    def queue_change(self, account_id: int, change: PendingChange) -> None:
        """Keep a change to tell an offline account at its next login."""

    def take_changes(self, account_id: int) -> list[PendingChange]:
        """The changes kept for ``account_id``, oldest first, removed from the store."""

    def forget_account(self, account_id: int) -> None:
        """Drop a deleted account's join requests and kept changes."""


class Groups:
    """The live groups, in memory, written through to ``store``.

    Args:
        store: where groups persist; :meth:`GroupStore.load_groups` is read once here.
        limits: the caps checked by :meth:`owned_count` callers and ``is_full``.
    """

    def __init__(self, store: GroupStore, limits: GroupLimits | None = None) -> None:
        self.store = store
        self.limits = limits or GroupLimits()
        self.version = 0
        """Counts membership changes (a member added or removed, a group deleted), so
        a caller may keep what it derives from memberships until this changes."""
        self.reload_on_miss = False
        """Another server shares the store (a cluster node): a name not found here is
        looked for in the store before it is called unknown (:meth:`find`)."""
        self._load()

    def _load(self) -> None:
        self._by_key: dict[str, Group] = {}
        self._keys: dict[int, str] = {}  # group id -> its key in _by_key
        for group in sorted(self.store.load_groups(), key=lambda g: g.id):
            # Two old groups whose names are one NFKC key (#familia, #ｆａｍｉｌｉａ): the
            # older keeps the key, the other its pre-NFKC one (names compare as NFKC now).
            key = group.key if group.key not in self._by_key else legacy_key(group.name)
            self._by_key[key] = group
            self._keys[group.id] = key
        self._by_id: dict[int, Group] = {group.id: group for group in self._by_key.values()}

    def reload(self) -> None:
        """Read every group again from the store: another server sharing the store
        changed some (a cluster node, docs/scaling.md). What was derived from
        memberships is stale after this (:attr:`version` changes)."""
        self._load()
        self.version += 1

    # --- queries --------------------------------------------------------------------------------

    def find(self, name: str) -> Group | None:
        """The live group called ``name`` (any case, any compatibility form, without
        ``#``), or ``None``. The spelling as typed is tried first, for an old group that
        kept its pre-NFKC key. With :attr:`reload_on_miss`, a miss reads the store again
        first."""
        old = legacy_key(name)
        found = (self._by_key.get(old) if old != name_key(name) else None) or self._by_key.get(name_key(name))
        if found is None and self.reload_on_miss:  # made on another node a moment ago?
            self.reload()
            found = (self._by_key.get(old) if old != name_key(name) else None) or self._by_key.get(name_key(name))
        return found

    def get(self, group_id: int) -> Group | None:
        """The live group with id ``group_id``, or ``None`` (deleted or unknown)."""
        return self._by_id.get(group_id)

    def __iter__(self) -> Iterator[Group]:
        return iter(sorted(self._by_key.values(), key=lambda g: g.key))

    def of_member(self, account_id: int) -> list[Group]:
        """The groups ``account_id`` belongs to, by name."""
        return [group for group in self if account_id in group.members]

    def owned_count(self, account_id: int) -> int:
        """How many live groups ``account_id`` owns."""
        return sum(1 for group in self._by_key.values() if group.owner_id == account_id)

    def is_full(self, group: Group) -> bool:
        """True if ``group`` has as many members as allowed."""
        limit = self.limits.members_per_group
        return bool(limit) and len(group.members) >= limit

    # --- changes (each one transaction in the store) ----------------------------------------------

    def create(self, name: str, visibility: Visibility, owner_id: int, owner_name: str, now: float) -> Group:
        """Create a group owned by ``owner_id``. The caller has checked the name is free
        and valid (:func:`~pollchat.protocol.names.normalize_name`)."""
        group_id = self.store.create_group(name, visibility.value, owner_id, now)
        group = Group(group_id, name, visibility, owner_id, members={owner_id: Member(owner_id, owner_name, now)})
        self._by_key[group.key] = group
        self._keys[group.id] = group.key
        self._by_id[group.id] = group
        return group

    def add_member(self, group: Group, account_id: int, name: str, now: float) -> None:
        """Make ``account_id`` a member (its pending request, if any, is answered)."""
        self.store.add_member(group.id, account_id, now)
        group.requests.pop(account_id, None)
        group.members[account_id] = Member(account_id, name, now)
        self.version += 1

    def remove_member(self, group: Group, account_id: int, now: float) -> Member | None:
        """Remove a member. If it was the owner, the longest-standing other member takes
        over; if nobody is left, the group is deleted.

        Returns:
            The new owner, if ownership changed hands; else ``None`` (check
            :attr:`Group.deleted` to tell "deleted" from "a member left").
        """
        successor = group.successor() if account_id == group.owner_id else None
        if account_id == group.owner_id and successor is None:
            self.delete(group, now)
            return None
        self.store.remove_member(group.id, account_id, successor.account_id if successor else None)
        group.members.pop(account_id, None)
        self.version += 1
        if successor is not None:
            group.owner_id = successor.account_id
        return successor

    def delete(self, group: Group, now: float) -> None:
        """Delete ``group``: gone for everyone, its messages kept for export."""
        self.store.delete_group(group.id, now)
        self._by_key.pop(self._keys.pop(group.id, group.key), None)
        self._by_id.pop(group.id, None)
        group.deleted = True
        self.version += 1

    def rename(self, group: Group, new_name: str) -> None:
        """Rename ``group``; the caller has checked the new name is valid and free (a
        change of case only is allowed)."""
        self.store.rename_group(group.id, new_name)
        del self._by_key[self._keys[group.id]]
        group.name = new_name
        self._by_key[group.key] = group
        self._keys[group.id] = group.key

    def set_topic(self, group: Group, topic: str) -> None:
        """Set the topic ("" clears it)."""
        self.store.set_topic(group.id, topic)
        group.topic = topic

    def ban(self, group: Group, account_id: int, by: str, now: float) -> None:
        """Ban ``account_id`` from ``group``: its membership and request go too."""
        self.store.add_group_ban(group.id, account_id, by, now)
        group.members.pop(account_id, None)
        group.requests.pop(account_id, None)
        group.bans.add(account_id)
        self.version += 1

    def unban(self, group: Group, account_id: int) -> None:
        """Lift a ban."""
        self.store.remove_group_ban(group.id, account_id)
        group.bans.discard(account_id)

    def request(self, group: Group, account_id: int, name: str, now: float) -> None:
        """Record ``account_id``'s request to join."""
        self.store.add_request(group.id, account_id, now)
        group.requests[account_id] = Member(account_id, name, now)

    def drop_request(self, group: Group, account_id: int) -> None:
        """Forget a request (rejected)."""
        self.store.remove_request(group.id, account_id)
        group.requests.pop(account_id, None)

    def forget_requests(self, account_id: int) -> None:
        """Drop every request of a deleted account, and the changes kept for it."""
        self.store.forget_account(account_id)
        for group in self._by_key.values():
            group.requests.pop(account_id, None)

    def account_renamed(self, account_id: int, new_name: str) -> None:
        """Show ``account_id``'s new name in member and request lists (``/nick``)."""
        for group in self._by_key.values():
            for entries in (group.members, group.requests):
                if account_id in entries:
                    entries[account_id].name = new_name


__all__ = ["Group", "GroupLimits", "GroupStore", "Groups", "Member", "PendingChange", "Visibility"]
