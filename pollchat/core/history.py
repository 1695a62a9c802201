"""History records: what the server stores of each public and private message.

The hub pushes :class:`HistoryRecord` values into a :class:`RecordSink` as people talk;
the server's sink batches them and the store writes each batch in one transaction at the
end of a loop pass, never one commit per line.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Protocol


class RecordKind(enum.Enum):
    """What a stored message was."""

    CHAT = "chat"  # a main-chat or group line (``NAME: text``)
    ACTION = "action"  # a /me line (``* NAME text``)
    PRIVATE = "private"  # a /msg to one account


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """One stored message.

    Attributes:
        ts: UTC time it was sent, seconds since the epoch.
        kind: chat, action or private.
        sender_id: the sender's account id.
        sender: the sender's name when it was sent.
        text: the message text.
        recipient_id: for private messages, the recipient's account id; else ``None``.
        recipient: for private messages, the recipient's name when it was sent.
        id: the row id once stored (0 before); ids grow with time.
        group_id: for a group's chat line or action, the group's id; else ``None``.
        warned: the sender was already told, when sending, that it may not be saved
            (the history could not be written then); not stored, not compared.
    """

    ts: float
    kind: RecordKind
    sender_id: int
    sender: str
    text: str
    recipient_id: int | None = None
    recipient: str | None = None
    id: int = 0
    group_id: int | None = None
    warned: bool = field(default=False, compare=False)


@dataclass(frozen=True, slots=True)
class Conversation:
    """Where a stored message was said: the main chat (no fields set), the private
    conversation between accounts ``pair`` (both directions), or group ``group_id``.
    Scrollback and search are asked per conversation.

    Raises:
        ValueError: both ``pair`` and ``group_id`` are set.
    """

    pair: tuple[int, int] | None = None
    group_id: int | None = None

    def __post_init__(self) -> None:
        if self.pair is not None and self.group_id is not None:
            raise ValueError("a conversation is private or a group's, not both")

    def holds(self, record: HistoryRecord) -> bool:
        """Whether ``record`` was said in this conversation (the store's query, in memory,
        for records still waiting to be written)."""
        if self.group_id is not None:
            return record.group_id == self.group_id
        if self.pair is not None:
            a, b = self.pair
            return record.kind is RecordKind.PRIVATE and {record.sender_id, record.recipient_id} == {a, b} and (
                a != b or record.sender_id == record.recipient_id
            )
        return record.recipient_id is None and record.group_id is None and record.kind is not RecordKind.PRIVATE


SEARCH_MIN_LENGTH = 2
"""Shorter words are not searched for (a one-letter prefix matches nearly everything)."""
SEARCH_MAX_WORDS = 8
"""A search looks for at most this many words (the first ones)."""
_WORD = re.compile(r"[^\W_]+")


def search_terms(text: str) -> list[str]:
    """The words a search for ``text`` looks for: its runs of letters and digits,
    lower-cased, those of :data:`SEARCH_MIN_LENGTH` characters or more, each once, at
    most :data:`SEARCH_MAX_WORDS`. Anything else (punctuation, ``*``, quotes) only
    separates words, so nothing typed reaches a full-text engine as syntax."""
    terms: list[str] = []
    for word in _WORD.findall(text.lower()):
        if len(word) >= SEARCH_MIN_LENGTH and word not in terms:
            terms.append(word)
    return terms[:SEARCH_MAX_WORDS]


class RecordSink(Protocol):
    """Where the hub puts the messages worth keeping, as they are said, and what it asks
    before it keeps a private message for an offline account (the server's is
    :class:`pollchat.server.history.HistoryLog`, which writes them in one batch per
    loop pass; :class:`RecordList` keeps them in memory)."""

    def add(self, record: HistoryRecord) -> None:
        """Keep ``record`` (written later; never raises for a store that cannot write)."""

    @property
    def healthy(self) -> bool:
        """False while messages cannot be written to the database (they wait in memory
        and may be lost): no delivery may then be promised."""

    def unread(self, account_id: int, since: float) -> int:
        """Private messages to ``account_id`` sent after ``since`` (its last logout):
        what the offline quota counts."""


class RecordList:
    """A :class:`RecordSink` in memory: a hub without a store (tests, tools) keeps its
    records here, in order; :meth:`take` hands them over. Always healthy."""

    def __init__(self) -> None:
        self.records: list[HistoryRecord] = []
        self.healthy = True

    def add(self, record: HistoryRecord) -> None:
        """Append ``record``."""
        self.records.append(record)

    def take(self) -> list[HistoryRecord]:
        """The records kept since the last call, oldest first."""
        records, self.records = self.records, []
        return records

    def unread(self, account_id: int, since: float) -> int:
        """Private messages to ``account_id`` after ``since`` among those not taken yet."""
        return sum(1 for r in self.records if r.recipient_id == account_id and r.ts > since)
