"""Rendering server events to bytes: seed-004 text lines or JSON Lines, and back.

Text mode is what ``nc`` users and seed-004 scripts see: the wording of
:mod:`pollchat.texts`, one ``\\n``-terminated line per event (``Welcome`` is two lines).
JSON mode (switched on with the line ``mode json``) sends one JSON object per line with a
``type`` field, the event's fields and ``ts``, the server time in UTC (ISO 8601, ms).

Neither form ever contains ``\\r`` or NUL: names are validated, chat text with control
characters is refused upstream, and JSON escapes every control character.

:func:`decode_json` is the inverse of :func:`encode_json`, used by the bundled client;
``decode_json(encode_json(e, ts)) == (e, ts)`` for every event (tested).
"""

from __future__ import annotations

import json
from dataclasses import astuple, fields
from datetime import datetime, timezone
from typing import Any

from pollchat import texts
from pollchat.errors import ProtocolError
from pollchat.protocol.events import (
    Entered,
    Error,
    Greeting,
    Left,
    Message,
    ModeSwitched,
    ServerEvent,
    ShuttingDown,
    Welcome,
)
from pollchat.texts import ErrorCode

# JSON "type" of each event class, and back.
EVENT_TYPES: dict[type, str] = {
    Greeting: "greeting",
    Welcome: "welcome",
    Entered: "entered",
    Left: "left",
    Message: "message",
    Error: "error",
    ModeSwitched: "mode",
    ShuttingDown: "shutdown",
}
_CLASSES = {name: cls for cls, name in EVENT_TYPES.items()}


def encode_text(event: ServerEvent) -> bytes:
    """The event as text-mode bytes: one or more UTF-8 lines, each ending in ``\\n``."""
    return (render_text(event) + "\n").encode("utf-8")


def render_text(event: ServerEvent) -> str:
    """The event's text-mode wording, without the final newline."""
    match event:
        case Message(sender, text):
            return texts.CHAT_LINE.format(name=sender, text=text)
        case Entered(name):
            return texts.ENTERED.format(name=name)
        case Left(name):
            return texts.LEFT.format(name=name)
        case Welcome(_, users):
            return texts.ACCESS_PROVIDED + "\n" + texts.ACTIVE_USERS.format(names=" ".join(users))
        case Error(_, text):
            return text
        case Greeting():
            return texts.GREETING
        case ModeSwitched(mode):
            return texts.MODE_SWITCHED.format(mode=mode)
        case ShuttingDown():
            return texts.SHUTTING_DOWN
    raise TypeError(f"not a server event: {event!r}")


def format_ts(ts: float) -> str:
    """``ts`` (seconds since the epoch) as UTC ISO 8601 with milliseconds and ``Z``."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def encode_json(event: ServerEvent, ts: float) -> bytes:
    """The event as one JSON Lines record (UTF-8, ``\\n``-terminated).

    Args:
        event: the event.
        ts: server time of the event, seconds since the epoch (rendered as UTC).
    """
    obj: dict[str, Any] = {"type": EVENT_TYPES[type(event)]}
    for field, value in zip(fields(event), astuple(event), strict=True):
        if isinstance(value, ErrorCode):
            value = value.code
        obj[field.name] = value
    obj["ts"] = format_ts(ts)
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def decode_json(line: str) -> tuple[ServerEvent, float]:
    """Parse one JSON-mode line back into ``(event, ts)``.

    Raises:
        ProtocolError: (``BAD_FORMAT``) when the line is not a known event object.
    """
    try:
        obj = json.loads(line)
        cls = _CLASSES[obj.pop("type")]
        ts = datetime.fromisoformat(obj.pop("ts").replace("Z", "+00:00")).timestamp()
        args = {}
        for field in fields(cls):
            value = obj[field.name]
            if field.name == "code":
                value = ErrorCode[value.upper()]
            elif field.name == "users":
                if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
                    raise TypeError("users must be a list of names")
                value = tuple(value)
            elif not isinstance(value, str):
                raise TypeError(f"{field.name} must be a string")
            args[field.name] = value
        return cls(**args), ts
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise ProtocolError(ErrorCode.BAD_FORMAT) from None
