"""Accounts and where they are found.

Two sources make up the account directory:

* preconfigured accounts, read from the operator's accounts file at start-up; each has
  a reserved seat and cannot be registered over;
* registered accounts, created with ``register`` and kept by a :class:`RegisteredAccounts`
  implementation (the SQLite store in production, a dict in tests).

A name present in both is the preconfigured account: the accounts file wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from pollchat.core.seats import AccountKind
from pollchat.protocol.names import legacy_key, name_key, normalize_name, skeleton


@dataclass(frozen=True, slots=True)
class Account:
    """One account.

    Attributes:
        name: the display spelling, valid and NFC-normalised (see
            :mod:`pollchat.protocol.names`).
        password_hash: a Django PBKDF2-SHA256 string (:mod:`pollchat.core.passwords`).
        kind: preconfigured or registered.
        id: the account's id in the database, stable across renames and never reused
            (0 until the store has assigned one). History refers to accounts by id.
        admin: may use the admin commands (``role = "admin"`` in the accounts file;
            registered accounts are never admins).
        guest: a guest of a front end (an IRC client let in without credentials): kept in
            memory only, with a negative ``id``.
        stored_key: the key the store keeps for an old account whose
            :func:`~pollchat.protocol.names.name_key` another account had first (see
            :func:`~pollchat.protocol.names.legacy_key`); empty for every other account.
    """

    name: str
    password_hash: str
    kind: AccountKind
    id: int = 0
    admin: bool = False
    stored_key: str = field(default="", repr=False)
    guest: bool = False

    @property
    def key(self) -> str:
        """The case-insensitive identity of the account."""
        return self.stored_key or name_key(self.name)

    def __repr__(self) -> str:  # never print a hash into a log
        role = ", admin" if self.admin else ""
        return f"Account(name={self.name!r}, kind={self.kind.value}, id={self.id}{role})"


@dataclass(frozen=True, slots=True)
class Ban:
    """A ban: until when (epoch seconds, ``None`` for good), why, and by which admin."""

    until: float | None
    reason: str
    by: str


class RegisteredAccounts(Protocol):
    """Persistent storage of registered accounts (implemented by the store)."""

    def find(self, key: str) -> Account | None:
        """The registered account whose :func:`name_key` is ``key``, or ``None``."""

    def find_lookalikes(self, shape: str) -> list[Account]:
        """The registered accounts whose name's :func:`skeleton` is ``shape``."""

    def create(self, account: Account) -> Account | None:
        """Store the registered ``account`` durably; return it with its new ``id`` set,
        or ``None`` if a registered account with its key exists already."""

    def rename(self, account_id: int, new_name: str) -> bool:
        """Rename a registered account; ``False`` if another one has that name's key."""

    def set_password(self, account_id: int, password_hash: str) -> None:
        """Replace a registered account's password hash."""

    def delete(self, account_id: int) -> None:
        """Delete a registered account (its id is never reused)."""

    def last_seen(self, account_id: int) -> float | None:
        """When the account last logged out (epoch seconds), or ``None``."""

    def set_last_seen(self, account_id: int, ts: float) -> None:
        """Record that the account logged out at ``ts`` (epoch seconds)."""

    def set_ban(self, account_id: int, until: float | None, reason: str, by: str, now: float) -> None:
        """Ban the account until ``until`` (``None``: for good)."""

    def clear_ban(self, account_id: int) -> bool:
        """Lift a ban; ``False`` if there was none."""

    def ban_of(self, account_id: int, now: float) -> tuple[float | None, str, str] | None:
        """``(until, reason, by)`` of the ban in force at ``now``, or ``None``."""


class AccountDirectory:
    """Looks accounts up across the accounts file and the registered store.

    Args:
        preconfigured: preconfigured accounts (kind ``PRECONFIGURED``), any iterable.
        registered: the registered-account store.

    Raises:
        ValueError: if two preconfigured accounts share a key.
    """

    def __init__(self, preconfigured: Mapping[str, Account] | list[Account], registered: RegisteredAccounts) -> None:
        accounts = list(preconfigured.values() if isinstance(preconfigured, Mapping) else preconfigured)
        self._preconfigured = {account.key: account for account in accounts}
        if len(self._preconfigured) != len(accounts):
            raise ValueError("two preconfigured accounts have the same name")
        self._registered = registered

    @property
    def preconfigured_count(self) -> int:
        """The number of preconfigured accounts (reserved seats)."""
        return len(self._preconfigured)

    def find(self, name: str) -> Account | None:
        """The account called ``name`` (any case, any compatibility form), or ``None``.

        An old registered account that kept its pre-NFKC key (another account had its
        NFKC key first; see :meth:`pollchat.store.database.Database.open`) is found by
        the spelling it always used: that key is tried first, and no other account can
        have it (it is not in NFKC form)."""
        key, old = name_key(name), legacy_key(name)
        if old != key:
            found = self._registered.find(old)
            if found is not None:
                return found
        return self._preconfigured.get(key) or self._registered.find(key)

    def lookalike(self, name: str, exclude: Account | None = None) -> Account | None:
        """An account other than ``exclude`` whose name looks like ``name`` (the same
        :func:`~pollchat.protocol.names.skeleton`), or ``None``."""
        shape = skeleton(name)
        others = [a for a in self._preconfigured.values() if skeleton(a.name) == shape]
        others += self._registered.find_lookalikes(shape)
        return next((a for a in others if exclude is None or a.id != exclude.id or a.kind is not exclude.kind), None)

    def register(self, name: str, password_hash: str) -> Account | None:
        """Create a registered account under the NFKC spelling of ``name``; ``None`` if
        the name is taken (in either source).

        Returns:
            The stored account, with the ``id`` the store gave it.
        """
        account = Account(normalize_name(name) or name, password_hash, AccountKind.REGISTERED)
        if account.key in self._preconfigured:
            return None
        return self._registered.create(account)

    def rename(self, account: Account, new_name: str) -> Account | None:
        """Rename a registered account; ``None`` if the name is taken (in either source)."""
        renamed = replace(account, name=new_name, stored_key="")
        if renamed.key in self._preconfigured or not self._registered.rename(account.id, new_name):
            return None
        return renamed

    def set_password(self, account: Account, password_hash: str) -> Account:
        """Store a registered account's new password hash; returns the updated account."""
        self._registered.set_password(account.id, password_hash)
        return replace(account, password_hash=password_hash)

    def delete(self, account: Account) -> None:
        """Delete a registered account; its name becomes free."""
        self._registered.delete(account.id)

    def last_seen(self, account: Account) -> float | None:
        """When ``account`` last logged out (epoch seconds), or ``None`` if never."""
        return self._registered.last_seen(account.id)

    def set_last_seen(self, account: Account, ts: float) -> None:
        """Record that ``account`` logged out at ``ts`` (epoch seconds)."""
        self._registered.set_last_seen(account.id, ts)

    def ban_of(self, account: Account, now: float) -> Ban | None:
        """The ban on ``account`` in force at ``now`` (epoch seconds), or ``None``."""
        found = self._registered.ban_of(account.id, now)
        return Ban(*found) if found is not None else None

    def ban(self, account: Account, ban: Ban, now: float) -> None:
        """Ban ``account`` (replacing an earlier ban)."""
        self._registered.set_ban(account.id, ban.until, ban.reason, ban.by, now)

    def unban(self, account: Account) -> bool:
        """Lift the ban on ``account``; ``False`` if there was none."""
        return self._registered.clear_ban(account.id)
