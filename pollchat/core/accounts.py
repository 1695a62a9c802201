"""Accounts and where they are found.

Two sources make up the account directory (foundation issue):

* preconfigured accounts, read from the operator's accounts file at start-up; each has
  a reserved seat and cannot be registered over;
* registered accounts, created with ``register`` and kept by a :class:`RegisteredAccounts`
  implementation (the SQLite store in production, a dict in tests).

A name present in both is the preconfigured account: the accounts file wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from pollchat.core.seats import AccountKind
from pollchat.protocol.names import name_key


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
    """

    name: str
    password_hash: str
    kind: AccountKind
    id: int = 0

    @property
    def key(self) -> str:
        """The case-insensitive identity of the account."""
        return name_key(self.name)

    def __repr__(self) -> str:  # never print a hash into a log
        return f"Account(name={self.name!r}, kind={self.kind.value}, id={self.id})"


class RegisteredAccounts(Protocol):
    """Persistent storage of registered accounts (implemented by the store)."""

    def find(self, key: str) -> Account | None:
        """The registered account whose :func:`name_key` is ``key``, or ``None``."""

    def create(self, account: Account) -> bool:
        """Store ``account`` durably; ``False`` if its key is already taken."""


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
        """The account called ``name`` (any case), or ``None``."""
        key = name_key(name)
        return self._preconfigured.get(key) or self._registered.find(key)

    def register(self, name: str, password_hash: str) -> Account | None:
        """Create a registered account; ``None`` if the name is taken (in either source)."""
        account = Account(name, password_hash, AccountKind.REGISTERED)
        if account.key in self._preconfigured or not self._registered.create(account):
            return None
        return account
