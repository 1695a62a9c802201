"""The cluster bus's records: what one node tells the others, as JSON, and back.

Pure: data in, data out (no socket, no clock). A node publishes one stream entry per
loop pass (:class:`Entry`: its origin, a sequence number and the pass's records), and
every node applies every entry in stream order, its own included. A record is a JSON
array whose first item says what it is:

* ``["join", sid, account_id, kind, name, guest]``: a session logged in on the origin
  node (``sid`` is the cluster-wide session id, ``kind`` an
  :class:`~pollchat.core.seats.AccountKind` value);
* ``["leave", sid]``: that session ended (its left notice is an ``all`` record);
* ``["all", exclude_sid | null, event]``: an event for everyone logged in anywhere but
  the session ``exclude_sid`` (entered and left notices, main-chat lines, statuses...);
* ``["to", [sid, ...], event]``: an event for a few sessions (a private message, a
  mention, a group line to members on other nodes);
* ``["close", sid, reason]``: end that session (an admin's ``/kick`` on another node);
* ``["login", host, account_key, ok]``: a password check on the origin node, for
  every node's login throttle;
* ``["groups"]``: a group command changed groups, members, bans or requests on the
  origin node (written through to the shared database): read them again;
* ``["store", call, args, kwargs, draws]``: a write the origin node made to its store's
  in-memory views (PostgreSQL), for the others to apply to theirs without writing
  (:meth:`pollchat.store.pgviews.PgViewStore.apply_remote`, which owns its shape);
* ``["reaped", sid, name, stays, last_beat, reaper]``: the engine's heartbeat script
  found the session's node dead: the session is gone and, unless ``stays`` (1: the
  account has a session on another node), everyone is told ``name`` left and the node
  ``reaper`` records the account's last seen as ``last_beat`` (decimal text, seconds),
  the dead node's last heartbeat (written by the Lua script of
  :mod:`pollchat.server.cluster.scripts`, so its shape is fixed there);
* ``["gone", origin]``: the node ``origin`` was reaped (after its ``reaped`` records).

An event is any :mod:`pollchat.protocol.events` dataclass, written as an object with
its class name under ``"@"`` and its fields; enumerations (error, notice and group
codes) are written by member name. :func:`decode_event` refuses anything else with
:class:`BusFormatError`, so a malformed entry costs that entry, never the node.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pollchat.protocol import events as _events
from pollchat.protocol.events import ServerEvent
from pollchat.texts import ErrorCode, GroupChange, NoticeCode


class BusFormatError(ValueError):
    """An entry or record of the bus that this node cannot read."""


_EVENT_TYPES: dict[str, type] = {
    name: value
    for name, value in vars(_events).items()
    if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == _events.__name__
}
_ENUMS: dict[str, type[enum.Enum]] = {cls.__name__: cls for cls in (ErrorCode, NoticeCode, GroupChange)}


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, object] = {"@": type(value).__name__}
        for field in dataclasses.fields(value):
            out[field.name] = _plain(getattr(value, field.name))
        return out
    if isinstance(value, enum.Enum):
        return {"@enum": type(value).__name__, "name": value.name}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):  # tuples, a NameList
        return [_plain(item) for item in value]
    raise TypeError(f"cannot put {type(value).__name__} on the bus")


def _typed(value: object) -> object:
    if isinstance(value, list):
        return tuple(_typed(item) for item in value)  # every sequence in an event is a tuple
    if isinstance(value, dict):
        if "@enum" in value:
            enum_type = _ENUMS.get(str(value["@enum"]))
            if enum_type is None or str(value.get("name")) not in enum_type.__members__:
                raise BusFormatError(f"unknown code {value!r}")
            return enum_type[str(value["name"])]
        cls = _EVENT_TYPES.get(str(value.get("@")))
        if cls is None:
            raise BusFormatError(f"unknown event type {value.get('@')!r}")
        names = {field.name for field in dataclasses.fields(cls)}
        fields = {key: _typed(item) for key, item in value.items() if key != "@"}
        if not fields.keys() <= names:
            raise BusFormatError(f"unknown fields for {cls.__name__}: {sorted(fields.keys() - names)}")
        try:
            return cls(**fields)
        except TypeError as exc:
            raise BusFormatError(str(exc)) from None
    return value


def encode_event(event: ServerEvent) -> object:
    """``event`` as JSON-ready values (see the module docstring).

    Raises:
        TypeError: a field holds something that is not an event, a code, a string, a
            number, a boolean, ``None`` or a tuple of those (a programming error)."""
    return _plain(event)


def decode_event(value: object) -> ServerEvent:
    """The event :func:`encode_event` made ``value`` from.

    Raises:
        BusFormatError: ``value`` is not an encoded event."""
    if not isinstance(value, dict):
        raise BusFormatError("an event is a JSON object")
    event = _typed(value)
    if type(event).__name__ not in _EVENT_TYPES:
        raise BusFormatError("not an event")
    return event  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry: the records one node published in one loop pass.

    Attributes:
        origin: the publishing node's instance (``NAME#INSTANCE``), or ``@reaper`` for
            the heartbeat script's entries.
        seq: the origin's sequence number, from 1, one more per entry.
        records: the pass's records, in order (JSON arrays, see the module docstring).
    """

    origin: str
    seq: int
    records: tuple[Any, ...]

    def fields(self) -> list[bytes | str]:
        """The entry's stream fields, for ``XADD``: ``o`` origin, ``s`` sequence,
        ``d`` the records as one compact JSON array."""
        data = json.dumps(list(self.records), separators=(",", ":"), ensure_ascii=False)
        return ["o", self.origin, "s", str(self.seq), "d", data]


def parse_entry(fields: Sequence[bytes]) -> Entry:
    """The :class:`Entry` of one stream entry's flat field list
    (``[b"o", origin, b"s", seq, b"d", records]`` as ``XREAD`` returns it).

    Raises:
        BusFormatError: a field is missing or malformed."""
    if len(fields) % 2:
        raise BusFormatError("an odd number of stream fields")
    values: Mapping[bytes, bytes] = dict(zip(fields[::2], fields[1::2]))
    try:
        origin = values[b"o"].decode()
        seq = int(values[b"s"])
        records = json.loads(values[b"d"])
    except (KeyError, ValueError, UnicodeDecodeError) as exc:
        raise BusFormatError(f"bad entry: {exc}") from None
    if not isinstance(records, list) or not all(isinstance(r, list) and r and isinstance(r[0], str) for r in records):
        raise BusFormatError("records must be a list of non-empty arrays")
    return Entry(origin, seq, tuple(records))


class Sequences:
    """Which entries of each origin were applied: drops a duplicate (an entry read again
    after a reconnect) and reports a gap (entries trimmed away or lost with the engine).

    The first entry seen from an origin starts its count (a node reads from where it
    joined the stream, not from each origin's first entry)."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def check(self, origin: str, seq: int) -> tuple[bool, int]:
        """Account for entry ``seq`` of ``origin``.

        Returns:
            ``(fresh, missed)``: apply it only if ``fresh``; ``missed`` entries of that
            origin were skipped before it (0 normally)."""
        last = self._last.get(origin)
        if last is not None and seq <= last:
            return False, 0
        self._last[origin] = seq
        return True, 0 if last is None else seq - last - 1

    def forget(self, origin: str) -> None:
        """``origin`` is gone (reaped): a new instance starts its own count."""
        self._last.pop(origin, None)
