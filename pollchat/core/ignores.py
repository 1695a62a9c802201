"""Ignore lists: whose chat lines, actions, private messages, mentions and typing hints
an account does not want delivered (``/ignore NAME``).

An ignore list is kept per account by the store (:class:`IgnoreStore`); the online
accounts' lists are held here in memory, loaded when an account's first session logs in
and dropped when its last one ends, so every delivery check is a set lookup. A reverse
index (who ignores an account, among those online) lets a sender's line find the few
sessions to leave out without walking everyone: while nobody ignores the sender, that is
one dict lookup that finds nothing.

Nobody is told that they are ignored: what they send behaves as if it were delivered.
Guests (negative ids) are never stored; their lists live as long as they are online.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Protocol


class IgnoreStore(Protocol):
    """Where ignore lists are kept (implemented by both store engines)."""

    def ignored_ids(self, account_id: int) -> list[int]:
        """The ids of the accounts ``account_id`` ignores, in the order they were added."""

    def ignored_names(self, account_id: int) -> list[str]:
        """The current names of the accounts ``account_id`` ignores that still exist, in
        the order they were added."""

    def add_ignore(self, account_id: int, ignored_id: int, now: float) -> None:
        """``account_id`` ignores ``ignored_id`` from ``now`` (epoch seconds); adding a
        pair twice keeps one."""

    def remove_ignore(self, account_id: int, ignored_id: int) -> None:
        """``account_id`` no longer ignores ``ignored_id`` (nothing if it did not)."""


class Ignores:
    """The ignore lists of the online accounts, and who ignores whom among them.

    Args:
        store: where the lists are kept; ``None``: in memory only (tests, and a front
            end without a store).

    Every method that reads or writes the store may raise
    :class:`~pollchat.errors.StoreError`; a failed write changes nothing here either.
    """

    __slots__ = ("_store", "_of", "_by", "_names")

    def __init__(self, store: IgnoreStore | None = None) -> None:
        self._store = store
        # online account id -> the ids it ignores; an empty list is the shared _NOBODY
        # (most accounts ignore nobody: an empty set each was 216 bytes of every
        # logged-in connection, 4 MiB at 19,000; docs/performance.md)
        self._of: dict[int, set[int] | frozenset[int]] = {}
        self._by: dict[int, set[int]] = {}  # account id -> the online accounts that ignore it (never an empty set)
        self._names: dict[int, dict[int, str]] = {}  # lists kept in memory only: id -> name

    def load(self, account_id: int) -> None:
        """``account_id``'s first session logged in: hold its list (read from the store;
        a guest's starts empty)."""
        if account_id in self._of:
            return
        ids = self._store.ignored_ids(account_id) if self._store is not None and account_id > 0 else []
        self._of[account_id] = set(ids) if ids else _NOBODY
        for ignored in ids:
            self._by.setdefault(ignored, set()).add(account_id)

    def unload(self, account_id: int) -> None:
        """``account_id``'s last session ended: drop its list from memory."""
        for ignored in self._of.pop(account_id, ()):
            ignorers = self._by.get(ignored)
            if ignorers is not None:
                ignorers.discard(account_id)
                if not ignorers:
                    del self._by[ignored]
        if account_id < 0 or self._store is None:
            self._names.pop(account_id, None)

    def refresh(self, account_id: int) -> None:
        """``account_id``'s stored list changed elsewhere (another node of a cluster):
        if it is online here, read its list from the store again (the entries kept in
        memory only, for guests, stay). Nothing if it is offline here.

        Raises:
            StoreError: the store cannot be read (the list here stays as it was).
        """
        if account_id not in self._of or self._store is None or account_id < 0:
            return
        ids = set(self._store.ignored_ids(account_id)) | set(self._names.get(account_id, ()))
        for ignored in self._of[account_id] - ids:
            ignorers = self._by.get(ignored)
            if ignorers is not None:
                ignorers.discard(account_id)
                if not ignorers:
                    del self._by[ignored]
        for ignored in ids - self._of[account_id]:
            self._by.setdefault(ignored, set()).add(account_id)
        self._of[account_id] = ids

    @property
    def anyone(self) -> bool:
        """Some online account ignores somebody: while false (the usual case), no line
        needs a look at who ignores its sender."""
        return bool(self._by)

    def ignores(self, account_id: int, other_id: int) -> bool:
        """``account_id`` (online) ignores ``other_id``."""
        ignored = self._of.get(account_id)
        return ignored is not None and other_id in ignored

    def ignorers(self, account_id: int) -> Set[int]:
        """The online accounts that ignore ``account_id`` (usually none: an empty set)."""
        return self._by.get(account_id, _NOBODY)

    def of(self, account_id: int) -> Set[int]:
        """The ids ``account_id`` (online) ignores."""
        return self._of.get(account_id, _NOBODY)

    def add(self, account_id: int, other_id: int, other_name: str, now: float) -> bool:
        """``account_id`` (online) ignores ``other_id`` from now on (kept by the store
        unless either is a guest). ``False``: it did already."""
        ignored = self._of.get(account_id, _NOBODY)
        if other_id in ignored:
            return False
        if self._stored(account_id, other_id):
            assert self._store is not None
            self._store.add_ignore(account_id, other_id, now)
        else:
            self._names.setdefault(account_id, {})[other_id] = other_name
        if not isinstance(ignored, set):  # none held yet, or the shared empty list
            ignored = self._of[account_id] = set()
        ignored.add(other_id)
        self._by.setdefault(other_id, set()).add(account_id)
        return True

    def remove(self, account_id: int, other_id: int) -> bool:
        """``account_id`` (online) no longer ignores ``other_id``. ``False``: it did not."""
        ignored = self._of.get(account_id)
        if not isinstance(ignored, set) or other_id not in ignored:  # the shared empty list holds nobody
            return False
        if self._stored(account_id, other_id):
            assert self._store is not None
            self._store.remove_ignore(account_id, other_id)
        else:
            self._names.get(account_id, {}).pop(other_id, None)
        ignored.discard(other_id)
        ignorers = self._by.get(other_id)
        if ignorers is not None:
            ignorers.discard(account_id)
            if not ignorers:
                del self._by[other_id]
        return True

    def names(self, account_id: int) -> list[str]:
        """The names ``account_id`` ignores, in the order added: the stored ones (their
        current names) and then those kept in memory (guests)."""
        stored = self._store.ignored_names(account_id) if self._store is not None and account_id > 0 else []
        return stored + list(self._names.get(account_id, {}).values())

    def _stored(self, account_id: int, other_id: int) -> bool:
        return self._store is not None and account_id > 0 and other_id > 0


_NOBODY: frozenset[int] = frozenset()
