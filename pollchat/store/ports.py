"""The store's interfaces, one per concern, which every engine implements: SQLite
(:class:`pollchat.store.database.Database`) and PostgreSQL
(:class:`pollchat.store.postgres.PostgresDatabase`). The rest of pollchat depends on
these, never on an engine.

Every method may raise :class:`~pollchat.errors.StoreError` when the engine fails (disk
full, file deleted, connection lost); a failed write changed nothing and must not be
acknowledged. A broken uniqueness rule is :class:`~pollchat.errors.StoreConflict` where
a method does not answer it otherwise (``create`` returns ``None``, ``rename`` ``False``).
Times are UTC seconds since the epoch (``float``) unless said otherwise; counts and
limits must not be negative (``ValueError``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from pollchat.core.accounts import Account
from pollchat.core.groups import GroupStore
from pollchat.core.history import Conversation, HistoryRecord
from pollchat.core.ignores import IgnoreStore
from pollchat.core.receipts import ReceiptStore
from pollchat.errors import StoreError

__all__ = [
    "AccountStore", "AsyncHistoryReads", "BanStore", "GroupStore", "HistoryAnswer", "IgnoreStore", "MessageStore",
    "ReceiptStore", "Store",
]


class AccountStore(Protocol):
    """Accounts: registered ones (name, password hash) and the rows of preconfigured
    ones, which give every account a stable id; last-seen times."""

    name_collisions: list[tuple[str, str]]
    """``(name, other name)`` of each pair of old accounts whose names share one NFKC key."""

    def find(self, key: str) -> Account | None:
        """The registered account whose :func:`~pollchat.protocol.names.name_key` is ``key``."""

    def find_lookalikes(self, shape: str) -> list[Account]:
        """The registered accounts whose name has the skeleton ``shape``, by id."""

    def create(self, account: Account) -> Account | None:
        """Store a registered account durably; it with its new id, or ``None`` if its key is taken."""

    def rename(self, account_id: int, new_name: str) -> bool:
        """Rename a registered account; ``False`` if the new key is taken or the id unknown."""

    def set_password(self, account_id: int, password_hash: str) -> None:
        """Replace a registered account's password hash."""

    def delete(self, account_id: int) -> None:
        """Delete a registered account (its id is never reused, its messages stay)."""

    def count_accounts(self) -> int:
        """How many registered accounts exist."""

    def sync_preconfigured(self, accounts: Sequence[Account]) -> list[Account]:
        """Give each preconfigured account a row; the accounts with their ids, in order."""

    def set_last_seen(self, account_id: int, ts: float) -> None:
        """Record when the account was last online."""

    def last_seen(self, account_id: int) -> float | None:
        """When the account was last online, or ``None``."""

    def created_at(self, account_id: int) -> str | None:
        """When the account got its row, ISO 8601 UTC text, or ``None``."""


class MessageStore(Protocol):
    """History: the main chat, private messages (the offline mail too), group messages,
    and their retention."""

    def append_messages(self, records: Sequence[HistoryRecord]) -> None:
        """Store a batch of messages, oldest first, in one transaction."""

    def recent_public(self, limit: int) -> list[HistoryRecord]:
        """The last ``limit`` main-chat messages, oldest first."""

    def private_for(self, account_id: int, limit: int) -> list[HistoryRecord]:
        """The last ``limit`` private messages sent by or to the account, oldest first."""

    def group_messages(self, group_id: int, limit: int) -> list[HistoryRecord]:
        """The last ``limit`` messages of a group, oldest first."""

    def messages_before(
        self, conversation: Conversation, limit: int, *, before_id: int | None = None, before_ts: float | None = None
    ) -> list[HistoryRecord]:
        """Scrollback: the last ``limit`` messages of ``conversation`` older than message
        ``before_id`` (ids below it) and sent before ``before_ts`` (UTC seconds,
        exclusive), oldest first; no cursor: the newest."""

    def search_messages(
        self,
        viewer_id: int,
        words: Sequence[str],
        limit: int,
        *,
        conversation: Conversation | None = None,
        group_ids: Sequence[int] = (),
    ) -> list[HistoryRecord]:
        """Search: the newest ``limit`` messages holding every one of ``words`` (each as
        the start of a word; :func:`~pollchat.core.history.search_terms` makes them),
        newest first, in ``conversation``, or with ``None`` in everything ``viewer_id``
        may read: the main chat, its private conversations, the groups ``group_ids``."""

    def count_private_since(self, account_id: int, ts: float) -> int:
        """How many private messages to the account were sent after ``ts``."""
    def messages_between(
        self,
        after: float | None,
        before: float | None,
        limit: int,
        *,
        newest: bool,
        group_id: int | None = None,
        pair: tuple[int, int] | None = None,
    ) -> list[HistoryRecord]:
        """At most ``limit`` messages of one conversation (group ``group_id``, the private
        one of ``pair``, else the main chat) sent strictly between ``after`` and
        ``before`` (``None``: unbounded), oldest first: the newest of that span with
        ``newest``, else the oldest."""


    def count_main(self) -> int:
        """How many main-chat messages are stored."""

    def prune_main(self, keep: int, batch: int = 1000) -> int:
        """Delete at most ``batch`` main-chat messages beyond the newest ``keep``; how many."""

    def prune_private(self, a: int, b: int, keep: int, batch: int = 1000) -> int:
        """Prune one private conversation, never an unread message; how many were deleted."""

    def prune_group(self, group_id: int, keep: int, batch: int = 1000) -> int:
        """Prune one group's messages beyond the newest ``keep``; how many were deleted."""

    def conversations(self) -> tuple[list[tuple[int, int]], list[int]]:
        """Every private conversation ``(a, b)``, ``a <= b``, and every group with messages."""

    def count_messages(self) -> int:
        """How many messages are stored."""


HistoryAnswer = Callable[["list[HistoryRecord] | StoreError"], None]
"""Where an asynchronous history read delivers its records (the synchronous method's
answer), or the :class:`~pollchat.errors.StoreError` that stopped it."""


@runtime_checkable
class AsyncHistoryReads(Protocol):
    """The reads past what an engine keeps in memory (scrollback, search), answered
    later, for an engine whose queries must not be waited for on the event loop
    (:class:`pollchat.store.pgviews.PgViewStore`). Each takes the synchronous
    method's arguments and a completion ``done``, called once on the loop: at once
    when the database is unavailable (a ``StoreError``), else when the query returns.
    A query sent after a write sees it (one connection, in order).

    Raises:
        ValueError: a negative limit (at once, ``done`` is not called).
    """

    def messages_before_later(
        self,
        conversation: Conversation,
        limit: int,
        done: HistoryAnswer,
        *,
        before_id: int | None = None,
        before_ts: float | None = None,
    ) -> None:
        """:meth:`MessageStore.messages_before`, answered to ``done``."""

    def search_messages_later(
        self,
        viewer_id: int,
        words: Sequence[str],
        limit: int,
        done: HistoryAnswer,
        *,
        conversation: Conversation | None = None,
        group_ids: Sequence[int] = (),
    ) -> None:
        """:meth:`MessageStore.search_messages`, answered to ``done``."""

    def messages_between_later(
        self,
        after: float | None,
        before: float | None,
        limit: int,
        done: HistoryAnswer,
        *,
        newest: bool,
        group_id: int | None = None,
        pair: tuple[int, int] | None = None,
    ) -> None:
        """:meth:`MessageStore.messages_between`, answered to ``done``."""


class BanStore(Protocol):
    """Bans of accounts and of addresses (CIDR text)."""

    def set_ban(self, account_id: int, until: float | None, reason: str, by: str, now: float) -> None:
        """Ban an account until ``until`` (``None``: for good), replacing an earlier ban."""

    def clear_ban(self, account_id: int) -> bool:
        """Lift a ban; ``False`` if there was none."""

    def ban_of(self, account_id: int, now: float) -> tuple[float | None, str, str] | None:
        """``(until, reason, by)`` of the ban in force at ``now``, or ``None``."""

    def set_address_ban(self, network: str, until: float | None, reason: str, by: str, now: float) -> None:
        """Ban a network until ``until`` (``None``: for good), replacing an earlier ban."""

    def clear_address_ban(self, network: str) -> None:
        """Lift the ban on a network, if any."""

    def address_bans(self, now: float) -> list[tuple[str, float | None, str, str]]:
        """``(network, until, reason, by)`` of every address ban in force at ``now``."""


class Store(AccountStore, MessageStore, BanStore, GroupStore, ReceiptStore, IgnoreStore, Protocol):
    """One open database: every concern, and its lifetime."""

    def close(self) -> None:
        """Close the database. Safe to call twice."""
