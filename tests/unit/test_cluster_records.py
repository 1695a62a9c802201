"""The cluster bus's pure parts (pollchat/server/cluster/records.py): events and
entries round-trip through their JSON, any chunking of Redis's reply bytes gives the
same entries (hiredis's sans-IO reader), malformed input is one ``BusFormatError``,
and the per-origin sequence check drops duplicates and counts gaps."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.protocol.events import Labelled, Left, Message, Welcome
from pollchat.protocol.namelist import NameList
from pollchat.server.cluster.records import (
    BusFormatError,
    Entry,
    Sequences,
    decode_event,
    encode_event,
    parse_entry,
)
from tests.strategies import chunkings, server_events, valid_names

hiredis = pytest.importorskip("hiredis", reason="pip install 'pollchat[cluster]'")


def through_json(value: object) -> object:
    return json.loads(json.dumps(value))


@given(server_events())
def test_every_event_round_trips_through_the_bus_json(event: object) -> None:
    assert decode_event(through_json(encode_event(event))) == event  # type: ignore[arg-type]


def test_a_welcome_s_name_list_goes_as_its_names() -> None:
    names = NameList(["amy", "bob"])
    assert decode_event(through_json(encode_event(Welcome("amy", names)))) == Welcome("amy", ("amy", "bob"))  # type: ignore[arg-type]


def test_a_labelled_answer_keeps_its_event() -> None:
    event = Labelled(Left("amy", "bye"), "7")
    assert decode_event(through_json(encode_event(event))) == event


@pytest.mark.parametrize(
    "value",
    [
        [],
        "Left",
        {"@": "Left"},  # a missing field
        {"@": "Left", "name": "amy", "colour": "red"},  # an unknown one
        {"@": "Socket"},
        {"@": "Error", "code": {"@enum": "ErrorCode", "name": "NOPE"}, "text": "x"},
        {"@": "Error", "code": {"@enum": "Colour", "name": "RED"}, "text": "x"},
    ],
)
def test_malformed_events_are_refused(value: object) -> None:
    with pytest.raises(BusFormatError):
        decode_event(value)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(["@", "@enum", "name", "text", "x"]), children, max_size=4),
    max_leaves=12,
)


@given(_json)
def test_any_json_is_an_event_or_a_bus_format_error(value: object) -> None:
    try:
        decode_event(value)
    except BusFormatError:
        pass


_records = st.lists(
    st.one_of(
        st.builds(lambda e: ["all", None, encode_event(e)], server_events()),
        st.builds(lambda sid, e: ["to", [sid], encode_event(e)], st.text(min_size=1, max_size=12), server_events()),
        st.builds(lambda sid: ["leave", sid], st.text(min_size=1, max_size=12)),
        st.builds(lambda sid, name: ["reaped", sid, name], st.text(min_size=1, max_size=12), valid_names()),
        st.builds(
            lambda sid, name, stays, beat: ["reaped", sid, name, stays, f"{beat}", "a#1"],
            st.text(min_size=1, max_size=12), valid_names(), st.integers(0, 1), st.floats(0, 2e9),
        ),
        st.builds(lambda seconds, reason: ["shutdown", seconds, reason], st.integers(0, 86400), st.text(max_size=40)),
    ),
    min_size=1,
    max_size=4,
)
_entries = st.builds(Entry, st.text(min_size=1, max_size=12), st.integers(1, 2**40), _records.map(tuple))


def _as_bytes(fields: list[bytes | str]) -> list[bytes]:
    return [f if isinstance(f, bytes) else f.encode() for f in fields]


@given(_entries)
def test_an_entry_round_trips_through_its_stream_fields(entry: Entry) -> None:
    parsed = parse_entry(_as_bytes(entry.fields()))
    assert parsed.origin == entry.origin and parsed.seq == entry.seq
    assert json.dumps(parsed.records) == json.dumps(through_json(list(entry.records)))


def resp(value: object) -> bytes:
    """RESP2 bytes of a reply made of lists and bulk strings (Redis's side, to test the
    reading side: the server itself only ever parses with hiredis)."""
    if isinstance(value, list):
        return b"*%d\r\n" % len(value) + b"".join(resp(v) for v in value)
    assert isinstance(value, bytes)
    return b"$%d\r\n%s\r\n" % (len(value), value)


def xread_reply(entries: list[Entry]) -> bytes:
    items = [[b"%d-0" % (i + 1), _as_bytes(e.fields())] for i, e in enumerate(entries)]
    return resp([[b"pollchat:bus", items]])


def entries_of(chunks: list[bytes]) -> list[Entry]:
    reader = hiredis.Reader()
    found: list[Entry] = []
    for chunk in chunks:
        reader.feed(chunk)
        while (reply := reader.gets()) is not False:
            for _stream, items in reply:
                found.extend(parse_entry(fields) for _id, fields in items)
    return found


@given(st.lists(_entries, min_size=1, max_size=3).flatmap(lambda es: st.tuples(st.just(es), chunkings(xread_reply(es)))))
def test_any_chunking_of_redis_replies_gives_the_same_entries(case: tuple[list[Entry], list[bytes]]) -> None:
    entries, chunks = case
    whole = entries_of([b"".join(chunks)])
    assert entries_of(chunks) == whole
    assert [(e.origin, e.seq) for e in whole] == [(e.origin, e.seq) for e in entries]


@pytest.mark.parametrize(
    "fields",
    [
        [b"o", b"a"],  # no sequence, no records, odd
        [b"o", b"a", b"s", b"x", b"d", b"[]"],  # a bad sequence
        [b"o", b"a", b"s", b"1", b"d", b"{}"],  # records not a list
        [b"o", b"a", b"s", b"1", b"d", b"[[]]"],  # an empty record
        [b"o", b"a", b"s", b"1", b"d", b"[1]"],
        [b"o", b"\xff", b"s", b"1", b"d", b"[]"],
    ],
)
def test_malformed_entries_are_refused(fields: list[bytes]) -> None:
    with pytest.raises(BusFormatError):
        parse_entry(fields)


def test_duplicates_are_dropped_and_gaps_counted() -> None:
    seen = Sequences()
    assert seen.check("a#1", 5) == (True, 0)  # the first seen starts the count
    assert seen.check("a#1", 6) == (True, 0)
    assert seen.check("a#1", 6) == (False, 0)  # read again after a reconnect
    assert seen.check("a#1", 3) == (False, 0)
    assert seen.check("a#1", 9) == (True, 2)  # 7 and 8 were trimmed or lost
    assert seen.check("b#2", 1) == (True, 0)  # origins are counted apart
    seen.forget("a#1")
    assert seen.check("a#1", 1) == (True, 0)


@given(st.lists(st.integers(1, 30), max_size=40))
def test_each_sequence_number_is_applied_at_most_once_in_increasing_order(seqs: list[int]) -> None:
    seen = Sequences()
    applied = [seq for seq in seqs if seen.check("n", seq)[0]]
    assert applied == sorted(set(applied))
    assert all(a < b for a, b in zip(applied, applied[1:]))


def test_a_main_chat_line_fits_one_record() -> None:
    record = ["all", "a#1/3", encode_event(Message("amy", "hi"))]
    entry = parse_entry(_as_bytes(Entry("a#1", 1, (record,)).fields()))
    assert decode_event(entry.records[0][2]) == Message("amy", "hi")
