"""Rendering server events to bytes: seed-004 text lines or JSON Lines, and back.

Text mode is what ``nc`` users and seed-004 scripts see: the wording of
:mod:`pollchat.texts`, one ``\\n``-terminated line per line of the event (``Welcome``,
``WhoList`` and ``/help`` notices have several). History lines start with
``[YYYY-MM-DD HH:MM] `` (UTC).

JSON mode (switched on with the line ``mode json``) sends one JSON object per event with
a ``type`` field, the event's fields and ``ts``: the server time in UTC (ISO 8601, ms),
or for history the time the message was sent, flagged ``"history": true``. Other times
(``/whois``'s ``since``) use the same format. Codes of
errors and notices are their stable lower-case names. ``docs/protocol.md`` has an
example of every type.

Neither form ever contains ``\\r`` or NUL: names are validated, chat text with control
characters is refused upstream, and JSON escapes every control character.

:func:`decode_json` is the inverse of :func:`encode_json`, used by the bundled client;
``decode_json(encode_json(e, ts)) == (e, ts)`` for every event (tested).
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime, timezone
from typing import Any

from pollchat import texts
from pollchat.errors import ProtocolError
from pollchat.protocol.namelist import NameList
from pollchat.protocol.events import (
    Emote,
    Announcement,
    Entered,
    Error,
    Greeting,
    GroupEntry,
    GroupEvent,
    GroupList,
    HistoryEnd,
    HistoryStart,
    Labelled,
    Left,
    MemberEntry,
    MemberList,
    Mention,
    Message,
    ModeSwitched,
    Notice,
    Older,
    PrivateMessage,
    Receipt,
    Renamed,
    SearchResults,
    ServerEvent,
    ShutdownCancelled,
    ShutdownWarning,
    ShuttingDown,
    StatusChanged,
    StoredMessage,
    Typing,
    Welcome,
    WhoEntry,
    Whois,
    WhoList,
)
from pollchat.texts import ErrorCode, GroupChange, NoticeCode, format_time

# JSON "type" of each event class, and back.
EVENT_TYPES: dict[type, str] = {
    Greeting: "greeting",
    Welcome: "welcome",
    Entered: "entered",
    Left: "left",
    Message: "message",
    Emote: "action",
    PrivateMessage: "private",
    StatusChanged: "status",
    WhoList: "who",
    Whois: "whois",
    Renamed: "renamed",
    Notice: "notice",
    Typing: "typing",
    Mention: "mention",
    GroupEvent: "group",
    GroupList: "groups",
    MemberList: "members",
    Announcement: "announcement",
    ShutdownWarning: "shutdown_warning",
    ShutdownCancelled: "shutdown_cancelled",
    HistoryStart: "history_start",
    HistoryEnd: "history_end",
    Older: "older",
    SearchResults: "search",
    Receipt: "receipt",
    Error: "error",
    ModeSwitched: "mode",
    ShuttingDown: "shutdown",
}
_CLASSES = {name: cls for cls, name in EVENT_TYPES.items()}


def encode_text(event: ServerEvent) -> bytes:
    """The event as text-mode bytes: one or more UTF-8 lines, each ending in ``\\n``."""
    if isinstance(event, Labelled):
        event = event.event  # a label is never shown in text mode
    if isinstance(event, Welcome) and isinstance(event.users, NameList):  # the same bytes, one copy
        return b"".join((_WELCOME_HEAD, event.users.text_bytes(), _WELCOME_TAIL))
    return (render_text(event) + "\n").encode("utf-8")


def render_text(event: ServerEvent) -> str:
    """The event's text-mode wording, without the final newline."""
    match event:
        case Message(sender, text, history, at, group):
            return _when(history, at) + _in_group(group) + texts.CHAT_LINE.format(name=sender, text=text)
        case Emote(sender, text, history, at, group):
            return _when(history, at) + _in_group(group) + texts.ACTION_LINE.format(name=sender, text=text)
        case PrivateMessage(sender, recipient, text, outgoing, history, at):
            if outgoing:
                return _when(history, at) + texts.PRIVATE_OUT.format(name=recipient, text=text)
            return _when(history, at) + texts.PRIVATE_IN.format(name=sender, text=text)
        case Entered(name):
            return texts.ENTERED.format(name=name)
        case Left(name, reason):
            if reason:
                return texts.LEFT_WITH_REASON.format(name=name, reason=reason)
            return texts.LEFT.format(name=name)
        case Welcome(_, users):
            return texts.ACCESS_PROVIDED + "\n" + texts.ACTIVE_USERS.format(names=" ".join(users))
        case StatusChanged(name, status, message):
            if message:
                return texts.STATUS_CHANGED_WITH_MESSAGE.format(name=name, status=status, message=message)
            return texts.STATUS_CHANGED.format(name=name, status=status)
        case WhoList(users):
            lines = [texts.WHO_HEADER.format(count=len(users))]
            for user in users:
                status = f"{user.status}: {user.message}" if user.message else user.status
                template = texts.WHO_ENTRY_ADMIN if user.connection else texts.WHO_ENTRY
                lines.append(
                    template.format(
                        name=user.name,
                        status=status,
                        idle=format_duration(user.idle),
                        connection=user.connection,
                        address=user.address,
                    )
                )
            return "\n".join(lines)
        case Whois():
            return _render_whois(event)
        case Renamed(old, new, history, at):
            return _when(history, at) + texts.RENAMED.format(old=old, new=new)
        case Notice(_, text) | Error(_, text):
            return text
        case Typing(name, active):
            return (texts.TYPING if active else texts.TYPING_STOPPED).format(name=name)
        case Mention(sender, _, group):
            return texts.MENTION.format(name=sender, where=f"#{group}" if group else texts.MENTION_MAIN)
        case GroupEvent(group, change, name, by, text):
            return change.value.format(group=group, name=name, by=by, text=text)
        case GroupList():
            return _render_groups(event)
        case MemberList():
            return _render_members(event)
        case Announcement(sender, text):
            return texts.ANNOUNCEMENT.format(name=sender, text=text)
        case ShutdownWarning(seconds, reason):
            return texts.SHUTDOWN_WARNING.format(seconds=seconds, reason=f": {reason}" if reason else "")
        case ShutdownCancelled():
            return texts.SHUTDOWN_CANCELLED
        case HistoryStart(count):
            return texts.HISTORY_START_ONE if count == 1 else texts.HISTORY_START.format(count=count)
        case HistoryEnd():
            return texts.HISTORY_END
        case Greeting():
            return texts.GREETING
        case ModeSwitched(mode):
            return texts.MODE_SWITCHED.format(mode=mode)
        case ShuttingDown():
            return texts.SHUTTING_DOWN
        case Older():
            return _render_older(event)
        case SearchResults():
            return _render_search(event)
        case Receipt(name, until):
            return texts.RECEIPT.format(name=name, time=format_time(until))
        case Labelled(inner):
            return render_text(inner)  # a label is never shown in text mode
    raise TypeError(f"not a server event: {event!r}")


def _render_whois(event: Whois) -> str:
    if event.online:
        status = f"{event.status}: {event.message}" if event.message else event.status
        since = format_time(event.since) if event.since is not None else "?"
        idle = format_duration(event.idle or 0)
        return texts.WHOIS_ONLINE.format(name=event.name, status=status, since=since, idle=idle, kind=event.kind)
    if event.since is None:
        return texts.WHOIS_NEVER_SEEN.format(name=event.name, kind=event.kind)
    return texts.WHOIS_OFFLINE.format(name=event.name, since=format_time(event.since), kind=event.kind)


def stored_event(message: StoredMessage) -> Message | Emote | PrivateMessage:
    """A stored message as the history event it was (``history`` set, its time as
    ``at``): how a scrollback page or a search result reads in text mode, and how a
    client shows it."""
    group = message.conversation[1:] if message.conversation.startswith("#") else ""
    if message.kind == "private":
        return PrivateMessage(
            message.sender, message.recipient, message.text, message.outgoing, history=True, at=message.sent, id=message.id
        )
    if message.kind == "action":
        return Emote(message.sender, message.text, history=True, at=message.sent, group=group, id=message.id)
    return Message(message.sender, message.text, history=True, at=message.sent, group=group, id=message.id)


def _where(conversation: str) -> str:
    if conversation == "*":
        return texts.WHERE_EVERYWHERE
    if conversation.startswith("#"):
        return texts.WHERE_GROUP.format(group=conversation[1:])
    if conversation.startswith("@"):
        return texts.WHERE_PRIVATE.format(name=conversation[1:])
    return texts.WHERE_MAIN


def _render_older(event: Older) -> str:
    lines = [texts.OLDER_START.format(count=len(event.messages), where=_where(event.conversation))]
    lines += [render_text(stored_event(message)) for message in event.messages]
    if event.more and event.messages:
        target = f"{event.conversation} " if event.conversation else ""
        lines.append(texts.OLDER_MORE.format(target=target, cursor=event.messages[0].id))
    else:
        lines.append(texts.OLDER_ALL)
    return "\n".join(lines)


def _render_search(event: SearchResults) -> str:
    where = _where(event.conversation)
    if not event.results:
        return texts.SEARCH_NONE.format(query=event.query, where=where)
    lines = [texts.SEARCH_START.format(count=len(event.results), query=event.query, where=where, limit=event.limit)]
    lines += [render_text(stored_event(message)) for message in event.results]
    lines.append(texts.SEARCH_END)
    return "\n".join(lines)


def _render_groups(event: GroupList) -> str:
    lines = [texts.GROUPS_HEADER.format(count=len(event.groups))]
    for entry in event.groups:
        role = f", {entry.role}" if entry.role else ""
        topic = f"; topic: {entry.topic}" if entry.topic else ""
        lines.append(
            texts.GROUPS_ENTRY.format(
                name=entry.name, visibility=entry.visibility, members=entry.members, role=role, topic=topic
            )
        )
    if not event.groups:
        lines.append(texts.GROUPS_NONE)
    return "\n".join(lines)


def _render_members(event: MemberList) -> str:
    lines = [texts.MEMBERS_HEADER.format(group=event.group, count=len(event.members))]
    for member in event.members:
        lines.append(texts.MEMBERS_ENTRY.format(name=member.name, status=member.status, owner=", owner" if member.owner else ""))
    if event.pending:
        lines.append(texts.MEMBERS_PENDING.format(names=", ".join(event.pending)))
    return "\n".join(lines)


def _in_group(group: str) -> str:
    return texts.GROUP_PREFIX.format(group=group) if group else ""


def _when(history: bool, at: float | None) -> str:
    return texts.HISTORY_TIME.format(time=format_time(at)) if history and at is not None else ""


def format_duration(seconds: int) -> str:
    """A short idle time: ``42s``, ``5m``, ``3h``, ``2d`` (whole units, rounded down)."""
    seconds = max(0, int(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def format_ts(ts: float) -> str:
    """``ts`` (seconds since the epoch) as UTC ISO 8601 with milliseconds and ``Z``."""
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_ts(text: str) -> float:
    if not isinstance(text, str):
        raise TypeError("a time must be an ISO 8601 string")
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:  # the protocol's times are UTC
        moment = moment.replace(tzinfo=timezone.utc)
    ts = moment.timestamp()
    format_time(ts)  # ValueError now, not when shown, for a time that cannot be displayed
    return ts


def encode_json(event: ServerEvent, ts: float) -> bytes:
    """The event as one JSON Lines record (UTF-8, ``\\n``-terminated).

    Args:
        event: the event.
        ts: server time of the event, seconds since the epoch (rendered as UTC); a
            history event's own ``at`` takes its place.

    A :class:`~pollchat.protocol.events.Labelled` event is its inner event's object
    with ``"label"`` added before ``"ts"`` (the label's characters need no escaping).
    """
    if isinstance(event, Labelled):
        data = encode_json(event.event, ts)
        # "ts" is the last key; inside a JSON string a quote is escaped, so the last
        # ',"ts":' of the line is that key's.
        at = data.rindex(b',"ts":')
        return b"".join((data[:at], b',"label":"', event.label.encode("ascii"), b'"', data[at:]))
    if isinstance(event, Welcome) and isinstance(event.users, NameList):  # the same bytes, one copy
        head = f'{{"type":"welcome","name":{_json_string(event.name)},"users":['
        tail = f'],"ts":{_json_string(format_ts(ts))}}}\n'
        return b"".join((head.encode("utf-8"), event.users.json_items(), tail.encode("utf-8")))
    obj: dict[str, Any] = {"type": EVENT_TYPES[type(event)]}
    for field in fields(event):
        value = getattr(event, field.name)
        if field.name == "at":
            ts = value if value is not None else ts
            continue
        if field.name in _OMITTED_WHEN_EMPTY and not value:
            continue
        if isinstance(value, (ErrorCode, NoticeCode, GroupChange)):
            value = value.code
        elif field.name in ("since", "until") and value is not None:
            value = format_ts(value)
        elif field.name == "users" and isinstance(event, WhoList):
            value = [_who_entry_json(user) for user in value]
        elif isinstance(event, (GroupList, MemberList)) and field.name in ("groups", "members"):
            value = [{f.name: getattr(entry, f.name) for f in fields(entry)} for entry in value]
        elif field.name == "pending":
            value = list(value)
        elif isinstance(event, (Older, SearchResults)) and field.name in ("messages", "results"):
            value = [_stored_json(message) for message in value]
        obj[field.name] = value
    obj["ts"] = format_ts(ts)
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


_OMITTED_WHEN_EMPTY = {"history", "reason", "connection", "address", "group", "pending", "id"}
"""Fields left out of JSON when false or empty, so live events look like before."""


def _stored_json(message: StoredMessage) -> dict[str, Any]:
    entry: dict[str, Any] = {f.name: getattr(message, f.name) for f in fields(message)}
    entry["sent"] = format_ts(message.sent)
    return entry


def _json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


_USERS_HEAD, _USERS_TAIL = texts.ACTIVE_USERS.format(names="\0").split("\0")
_WELCOME_HEAD = f"{texts.ACCESS_PROVIDED}\n{_USERS_HEAD}".encode()
_WELCOME_TAIL = f"{_USERS_TAIL}\n".encode()


def _who_entry_json(user: WhoEntry) -> dict[str, Any]:
    entry = {f.name: getattr(user, f.name) for f in fields(user)}
    for name in ("connection", "address"):
        if not entry[name]:
            del entry[name]
    return entry


_BOOL_FIELDS = {"history", "outgoing", "online", "active", "private", "owner", "more"}
_INT_FIELDS = {"count", "idle", "seconds", "connection", "members", "id", "limit"}
_NESTED = {
    (GroupList, "groups"): GroupEntry,
    (MemberList, "members"): MemberEntry,
    (Older, "messages"): StoredMessage,
    (SearchResults, "results"): StoredMessage,
}
"""List fields whose items are entry objects, and the entry class of each."""
_OPTIONAL_FIELDS = {"since", "idle"}


def decode_json(line: str) -> tuple[ServerEvent, float]:
    """Parse one JSON-mode line back into ``(event, ts)``; a ``label`` is ignored
    (:func:`decode_json_labelled` returns it).

    Raises:
        ProtocolError: (``BAD_FORMAT``) when the line is not a known event object with
            fields of the right types.
    """
    event, ts, _ = decode_json_labelled(line)
    return event, ts


def decode_json_labelled(line: str) -> tuple[ServerEvent, float, str | None]:
    """Parse one JSON-mode line into ``(event, ts, label)``: ``label`` is the one the
    client put on the line this event answers (:mod:`pollchat.protocol.labels`), or
    ``None``. The event is never a :class:`~pollchat.protocol.events.Labelled`.

    Raises:
        ProtocolError: (``BAD_FORMAT``) as :func:`decode_json`, and for a ``label``
            that is not a string.
    """
    try:
        obj = json.loads(line)
        label = obj.pop("label", None)
        if label is not None and not isinstance(label, str):
            raise TypeError("label must be a string")
        cls = _CLASSES[obj.pop("type")]
        ts = _parse_ts(obj.pop("ts"))
        args: dict[str, Any] = {}
        for field in fields(cls):
            if field.name == "at":
                args["at"] = ts if obj.get("history") else None
                continue
            if field.name in _OMITTED_WHEN_EMPTY and field.name not in obj:
                continue  # the dataclass default
            args[field.name] = _decode_field(cls, field.name, obj[field.name])
        return cls(**args), ts, label
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        raise ProtocolError(ErrorCode.BAD_FORMAT) from None


def _decode_field(cls: type, name: str, value: Any) -> Any:
    if value is None and name in _OPTIONAL_FIELDS:
        return None
    if name == "code":
        return (NoticeCode if cls is Notice else ErrorCode)[value.upper()]
    if name == "change":
        return GroupChange[value.upper()]
    entry_class = _NESTED.get((cls, name))
    if entry_class is not None:
        if not isinstance(value, list):
            raise TypeError(f"{name} must be a list")
        return tuple(
            entry_class(**{f.name: _decode_field(entry_class, f.name, entry[f.name]) for f in fields(entry_class)})
            for entry in value
        )
    if name == "pending":
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise TypeError("pending must be a list of names")
        return tuple(value)
    if name == "users":
        if not isinstance(value, list):
            raise TypeError("users must be a list")
        if cls is WhoList:
            return tuple(
                WhoEntry(
                    **{
                        f.name: _decode_field(WhoEntry, f.name, entry[f.name])
                        for f in fields(WhoEntry)
                        if f.name in entry or f.name not in _OMITTED_WHEN_EMPTY
                    }
                )
                for entry in value
            )
        if not all(isinstance(user, str) for user in value):
            raise TypeError("users must be names")
        return tuple(value)
    if name in _BOOL_FIELDS:
        if not isinstance(value, bool):
            raise TypeError(f"{name} must be true or false")
        return value
    if name in _INT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be a whole number")
        return value
    if name in ("since", "sent", "until"):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be an ISO 8601 time")
        return _parse_ts(value)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string")
    return value
