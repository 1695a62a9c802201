"""Read receipts (pure): who may learn that a private message was read.

Seed 000's drawing marks a line that was read with a check. A private message is *sent*
once the server has stored it (the sender's copy, ``outgoing``, says so) and *read* once
its recipient's client has shown the conversation: the client then says up to when it has
read (``/read @NAME UNTIL``), and the server tells the sender (a ``receipt`` event, JSON
mode only). ``/receipts off`` turns them off for an account both ways, as Signal does:
its reading is told to nobody, and it is told nobody's. The setting and the read marks
are stored (:class:`ReceiptStore`), so a sender who was away learns at the next login.

:class:`Receipts` decides; it keeps in memory only the (few) accounts that turned
receipts off, and reads and writes the marks through its store.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

READ_SLACK = 0.001
"""A time cursor is at millisecond precision (as the JSON ``ts`` a client read it from):
the whole millisecond counts as read."""


class ReceiptStore(Protocol):
    """Where receipts are kept (the store's part: :mod:`pollchat.store`)."""

    def receipts_off_accounts(self) -> list[int]:
        """The ids of the accounts that turned read receipts off."""

    def set_receipts(self, account_id: int, on: bool) -> None:
        """Turn read receipts on or off for the account."""

    def mark_read(self, reader_id: int, partner_id: int, until: float) -> float:
        """Record that ``reader_id`` has read its private messages from ``partner_id``
        sent up to ``until`` (UTC seconds; a mark never moves back); the mark now."""

    def read_by_others(self, account_id: int) -> list[tuple[int, str, float]]:
        """``(reader_id, reader's name, until)`` of everyone who has read messages from
        ``account_id``."""


class Receipts:
    """The read-receipt rules over a :class:`ReceiptStore`.

    Args:
        store: where the setting and the marks are kept.
    """

    def __init__(self, store: ReceiptStore) -> None:
        self.store = store
        self._off: set[int] = set(store.receipts_off_accounts())

    def enabled(self, account_id: int) -> bool:
        """Whether the account has read receipts on (the default)."""
        return account_id not in self._off

    def set_enabled(self, account_id: int, on: bool) -> None:
        """``/receipts on|off``, stored.

        Raises:
            StoreError: the store cannot write it (nothing changes).
        """
        self.store.set_receipts(account_id, on)
        if on:
            self._off.discard(account_id)
        else:
            self._off.add(account_id)

    def reload(self) -> None:
        """Read which accounts have receipts off from the store again (the setting was
        changed elsewhere: another node of a cluster).

        Raises:
            StoreError: the store cannot be read (the setting here stays as it was).
        """
        self._off = set(self.store.receipts_off_accounts())

    def read(self, reader_id: int, partner_id: int, until: float, now: float) -> float | None:
        """``reader_id`` has read ``partner_id``'s messages sent up to ``until`` (never
        later than ``now``). Returns the time to tell ``partner_id`` (its messages sent
        up to then were read), or ``None`` when nothing is told: receipts are off for
        either of them (then nothing is stored either), or the reader is the partner.

        Raises:
            StoreError: the store cannot write the mark.
        """
        if reader_id == partner_id or not (self.enabled(reader_id) and self.enabled(partner_id)):
            return None
        return self.store.mark_read(reader_id, partner_id, min(until + READ_SLACK, now))

    def told_at_login(self, account_id: int) -> list[tuple[str, float]]:
        """``(reader's name, until)`` to tell ``account_id`` when it logs in: who has read
        its messages, among those with receipts on (none if its own are off).

        Raises:
            StoreError: the store cannot be read.
        """
        if not self.enabled(account_id):
            return []
        return [(name, until) for reader, name, until in self.store.read_by_others(account_id) if self.enabled(reader)]


class ReceiptList:
    """A :class:`ReceiptStore` in memory (tests, a hub without a database)."""

    def __init__(self, off: Iterable[int] = (), names: dict[int, str] | None = None) -> None:
        self.off = set(off)
        self.names = names or {}
        self.marks: dict[tuple[int, int], float] = {}

    def receipts_off_accounts(self) -> list[int]:
        return sorted(self.off)

    def set_receipts(self, account_id: int, on: bool) -> None:
        (self.off.discard if on else self.off.add)(account_id)

    def mark_read(self, reader_id: int, partner_id: int, until: float) -> float:
        mark = max(until, self.marks.get((reader_id, partner_id), until))
        self.marks[(reader_id, partner_id)] = mark
        return mark

    def read_by_others(self, account_id: int) -> list[tuple[int, str, float]]:
        return sorted(
            (reader, self.names.get(reader, str(reader)), until)
            for (reader, partner), until in self.marks.items()
            if partner == account_id
        )
