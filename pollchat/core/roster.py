"""The roster: who is logged in, found by connection handle, name key or account id.

A handle is whatever object the caller uses for a connection (the server passes its
connection objects); the roster only stores and compares them, so nothing is ever looked
up by file descriptor. Sessions are kept in login order, the order of seed 004's
active-users list.

The roster keeps, between logins and leaves, what a login among 10,000 users would
otherwise rebuild by walking every session (docs/performance.md): the handles in login
order (an :class:`Everyone` is a view of them) and the names with their renderings (a
:class:`~pollchat.protocol.namelist.NameList`). A login appends to both; a leave or a
rename drops them, to be made again when next asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Generic, TypeVar, overload

from pollchat.core.accounts import Account
from pollchat.core.game import GuessingGame
from pollchat.core.presence import Presence
from pollchat.protocol.namelist import NameList

H = TypeVar("H")


class Everyone(Sequence[H]):
    """Every logged-in handle but ``exclude``, in login order, at the moment the view
    was made.

    It iterates, counts and compares (equal to the tuple of the same handles) like the
    tuple it stands for, so any front end can carry out a delivery to everyone target
    by target. Making one costs no walk over the sessions: it is a view of the first
    ``size`` handles of the roster's list in login order, which the roster only ever
    appends to (a leave makes a new list), so a chat line or a login among 10,000 users
    copies no list of 9,999.
    """

    __slots__ = ("handles", "size", "exclude")

    def __init__(self, handles: Sequence[H], exclude: H | None = None, count: int | None = None) -> None:
        self.handles = handles
        self.size = len(handles) if count is None else count
        self.exclude = exclude

    def __iter__(self) -> Iterator[H]:
        exclude, handles = self.exclude, islice(self.handles, self.size)
        if exclude is None:
            return handles
        return (h for h in handles if h is not exclude)

    def __len__(self) -> int:
        if self.exclude is None:
            return self.size
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return any(True for _ in self)

    @overload
    def __getitem__(self, index: int) -> H: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[H, ...]: ...

    def __getitem__(self, index: int | slice) -> H | tuple[H, ...]:
        return tuple(self)[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (tuple, Everyone)):
            return tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Everyone({tuple(self)!r})"


@dataclass(slots=True)
class OnlineSession(Generic[H]):
    """A logged-in session: its handle, account, presence, game and focus."""

    handle: H
    account: Account
    presence: Presence
    game: GuessingGame | None = field(default=None)
    focus: int | None = None
    """The id of the group plain lines go to (``/focus #name``), or ``None``: the main chat."""


class Roster(Generic[H]):
    """The online sessions, indexed by handle, by name key and by account id."""

    __slots__ = ("_by_key", "_by_handle", "_by_id", "_names", "_handle_order", "version")

    def __init__(self) -> None:
        self._by_key: dict[str, OnlineSession[H]] = {}  # insertion order = login order
        self._by_handle: dict[H, OnlineSession[H]] = {}
        self._by_id: dict[int, OnlineSession[H]] = {}
        self._names: NameList | None = NameList()  # None: make it again when asked
        self._handle_order: list[H] | None = []  # None: make it again when asked
        self.version = 0
        """Counts logins and session ends, so a caller may keep what it derives from who
        is online (a group's online members) until this changes."""

    def __len__(self) -> int:
        return len(self._by_handle)

    def sessions(self) -> Iterable[OnlineSession[H]]:
        """Every online session, in login order."""
        return self._by_key.values()

    def by_handle(self, handle: H) -> OnlineSession[H] | None:
        """The session on ``handle``, if it is logged in."""
        return self._by_handle.get(handle)

    def by_key(self, key: str) -> OnlineSession[H] | None:
        """The session of the account whose name key (:func:`~pollchat.protocol.names.name_key`)
        is ``key``, if it is logged in."""
        return self._by_key.get(key)

    def by_id(self, account_id: int) -> OnlineSession[H] | None:
        """The session of account ``account_id``, if it is logged in."""
        return self._by_id.get(account_id)

    def add(self, session: OnlineSession[H]) -> None:
        """``session`` logged in (last in login order).

        Raises:
            RuntimeError: its handle or account is online already (a caller's bug: the
                hub checks both first).
        """
        account, handle = session.account, session.handle
        if handle in self._by_handle or account.key in self._by_key:
            raise RuntimeError("this connection or account is already logged in")
        key = account.key
        self._by_key[account.name if key == account.name else key] = session  # one string for both when equal
        self._by_handle[handle] = session
        self._by_id[account.id] = session
        self.version += 1
        if self._handle_order is not None:
            self._handle_order.append(handle)  # earlier Everyone views see only their count
        if self._names is not None:
            self._names = self._names.plus(account.name)

    def remove(self, handle: H) -> OnlineSession[H] | None:
        """End the session on ``handle``; returns it, or ``None`` if there was none."""
        session = self._by_handle.pop(handle, None)
        if session is None:
            return None
        del self._by_key[session.account.key]
        self._by_id.pop(session.account.id, None)
        self._handle_order = self._names = None
        self.version += 1
        return session

    def renamed(self, session: OnlineSession[H], old: Account) -> None:
        """``session``'s account was renamed from ``old`` (already set on the session):
        index it under its new key, keeping login order."""
        new_key = session.account.key
        self._by_key = {(new_key if key == old.key else key): s for key, s in self._by_key.items()}
        self._names = None

    def names(self) -> NameList:
        """The names of everyone online, in login order."""
        names = self._names
        if names is None:
            names = self._names = NameList(session.account.name for session in self._by_key.values())
        return names

    def everyone(self, exclude: H | None = None) -> Everyone[H]:
        """Every logged-in handle but ``exclude``, in login order: a view of the list
        that logins append to (a leave drops it, to be made again when next needed)."""
        order = self._handle_order
        if order is None:  # the handles dict is in login order too; copied at C speed
            order = self._handle_order = list(self._by_handle)
        return Everyone(order, exclude, len(order))

    def handles_of(self, account_ids: Iterable[int], exclude: H | None = None) -> list[H]:
        """The handles of those of ``account_ids`` who are online, in that order,
        without ``exclude``. On a group line's fan-out path: one dict lookup each."""
        by_id = self._by_id
        return [s.handle for s in map(by_id.get, account_ids) if s is not None and s.handle is not exclude]
