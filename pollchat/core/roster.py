"""The roster: who is logged in, found by connection handle, name key or account id.

A handle is whatever object the caller uses for a connection (the server passes its
connection objects); the roster only stores and compares them, so nothing is ever looked
up by file descriptor. Sessions are kept in login order, the order of seed 004's
active-users list.

An account may be online on several connections at once (``--sessions-per-account``):
its first session is its *primary* one, found by name key and account id and listed
once in login order; the others (its other devices) are kept beside it and share its
presence. Every session has its own handle and receives what is sent to everyone; what
is sent to the account goes to :meth:`Roster.handles_for` (all its sessions). When the
primary session ends, the next one takes its place in login order.

The roster keeps, between logins and leaves, what a login among 10,000 users would
otherwise rebuild by walking every session (docs/performance.md): the handles in login
order (an :class:`Everyone` is a view of them) and the names with their renderings (a
:class:`~pollchat.protocol.namelist.NameList`). A login appends to both; a leave or a
rename drops them, to be made again when next asked for.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
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

    __slots__ = ("handles", "size", "exclude", "skip")

    def __init__(
        self, handles: Sequence[H], exclude: H | None = None, count: int | None = None, skip: Collection[H] = ()
    ) -> None:
        self.handles = handles
        self.size = len(handles) if count is None else count
        self.exclude = exclude
        self.skip = skip
        """More handles left out besides ``exclude`` (the sender's other sessions for a
        typing hint, the sessions of those who ignore the sender); usually empty."""

    def __iter__(self) -> Iterator[H]:
        exclude, handles, skip = self.exclude, islice(self.handles, self.size), self.skip
        if skip:
            return (h for h in handles if h is not exclude and h not in skip)
        if exclude is None:
            return handles
        return (h for h in handles if h is not exclude)

    def __len__(self) -> int:
        if self.exclude is None and not self.skip:
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
    announced: bool = True
    """Its account's entered notice went to everyone (``--announce-limit``): its left
    notice will too, so no client keeps it listed after it has gone."""


class Roster(Generic[H]):
    """The online sessions, indexed by handle, by name key and by account id."""

    __slots__ = ("_by_key", "_by_handle", "_by_id", "_others", "_names", "_handle_order", "version")

    def __init__(self) -> None:
        self._by_key: dict[str, OnlineSession[H]] = {}  # primary sessions; insertion order = login order
        self._by_handle: dict[H, OnlineSession[H]] = {}
        self._by_id: dict[int, OnlineSession[H]] = {}
        # account id -> its sessions other than the primary one, in login order; only
        # accounts online more than once are here, so it is empty while nobody is.
        self._others: dict[int, list[OnlineSession[H]]] = {}
        self._names: NameList | None = NameList()  # None: make it again when asked
        self._handle_order: list[H] | None = []  # None: make it again when asked
        self.version = 0
        """Counts logins and session ends, so a caller may keep what it derives from who
        is online (a group's online members) until this changes."""

    def __len__(self) -> int:
        """The number of sessions (connections) logged in."""
        return len(self._by_handle)

    @property
    def accounts_online(self) -> int:
        """The number of accounts (and guests) online, however many sessions each has."""
        return len(self._by_key)

    def sessions(self) -> Iterable[OnlineSession[H]]:
        """The primary session of every online account, in login order (one per account)."""
        return self._by_key.values()

    def sessions_for(self, session: OnlineSession[H]) -> list[OnlineSession[H]]:
        """Every session of ``session``'s account (the primary one first), in login order."""
        primary = self._by_id.get(session.account.id)
        if primary is None:
            return [session] if session.handle in self._by_handle else []
        others = self._others.get(session.account.id)
        return [primary, *others] if others else [primary]

    def handles_for(self, session: OnlineSession[H], exclude: H | None = None) -> tuple[H, ...]:
        """The handles of every session of ``session``'s account but ``exclude``: where
        something for the account (a private message, a mention) goes."""
        others = self._others.get(session.account.id) if self._others else None
        if not others:
            handle = session.handle
            return () if handle is exclude else (handle,)
        return tuple(s.handle for s in self.sessions_for(session) if s.handle is not exclude)

    def count_for(self, account_id: int) -> int:
        """How many sessions account ``account_id`` has online (0: offline)."""
        if account_id not in self._by_id:
            return 0
        return 1 + len(self._others.get(account_id, ()))

    def by_handle(self, handle: H) -> OnlineSession[H] | None:
        """The session on ``handle``, if it is logged in."""
        return self._by_handle.get(handle)

    def by_key(self, key: str) -> OnlineSession[H] | None:
        """The (primary) session of the account whose name key (:func:`~pollchat.protocol.names.name_key`)
        is ``key``, if it is logged in."""
        return self._by_key.get(key)

    def by_id(self, account_id: int) -> OnlineSession[H] | None:
        """The (primary) session of account ``account_id``, if it is logged in."""
        return self._by_id.get(account_id)

    def add(self, session: OnlineSession[H]) -> None:
        """``session`` logged in (last in login order). If its account is online
        already, it is one more session of that account (its other device).

        Raises:
            RuntimeError: its handle is logged in already (a caller's bug: the hub
                checks first).
        """
        account, handle = session.account, session.handle
        if handle in self._by_handle:
            raise RuntimeError("this connection is already logged in")
        key = account.key
        if key in self._by_key:  # another device of an online account
            self._others.setdefault(self._by_key[key].account.id, []).append(session)
            self._by_handle[handle] = session
            self.version += 1
            if self._handle_order is not None:
                self._handle_order.append(handle)
            return
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
        self._handle_order = None
        self.version += 1
        account_id = session.account.id
        others = self._others.get(account_id) if self._others else None
        if others:  # the account stays online on another session
            if self._by_id.get(account_id) is session:  # the next one takes its place in login order
                successor = others.pop(0)
                self._by_key[session.account.key] = successor
                self._by_id[account_id] = successor
            else:
                others.remove(session)
            if not others:
                del self._others[account_id]
            return session
        del self._by_key[session.account.key]
        self._by_id.pop(account_id, None)
        self._names = None
        return session

    def renamed(self, session: OnlineSession[H], old: Account) -> None:
        """``session``'s account was renamed from ``old`` (already set on the session):
        index it under its new key, keeping login order."""
        new_key = session.account.key
        self._by_key = {(new_key if key == old.key else key): s for key, s in self._by_key.items()}
        for other in self.sessions_for(session):
            other.account = session.account
        self._names = None

    def names(self) -> NameList:
        """The names of everyone online, in login order."""
        names = self._names
        if names is None:
            names = self._names = NameList(session.account.name for session in self._by_key.values())
        return names

    def everyone(self, exclude: H | None = None, skip: Collection[H] = ()) -> Everyone[H]:
        """Every logged-in handle but ``exclude`` (and those in ``skip``), in login
        order: a view of the list that logins append to (a leave drops it, to be made
        again when next needed)."""
        order = self._handle_order
        if order is None:  # the handles dict is in login order too; copied at C speed
            order = self._handle_order = list(self._by_handle)
        return Everyone(order, exclude, len(order), skip)

    def handles_of(self, account_ids: Iterable[int], exclude: H | None = None) -> list[H]:
        """The handles of every session of those of ``account_ids`` who are online, in
        that order, without ``exclude``. On a group line's fan-out path: one dict lookup
        each while nobody is online twice."""
        by_id = self._by_id
        if not self._others:  # the usual case: nobody is online twice
            return [s.handle for s in map(by_id.get, account_ids) if s is not None and s.handle is not exclude]
        handles = []
        for session in map(by_id.get, account_ids):
            if session is not None:
                handles += [s.handle for s in self.sessions_for(session) if s.handle is not exclude]
        return handles
