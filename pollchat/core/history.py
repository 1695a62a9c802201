"""History records: what the server stores of each public and private message.

The hub produces :class:`HistoryRecord` values alongside its deliveries; the server
batches them and the store writes each batch in one transaction at the end of a loop
pass (issue: "written in batches per loop iteration, never one commit per line").
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


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
