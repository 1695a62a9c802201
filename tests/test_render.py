"""Rendering server events (pollchat.protocol.render): seed-004 text lines and JSON Lines.

A golden table of every event's text bytes in the seed wording; JSON goldens (the examples
of docs/protocol.md decode and re-encode byte for byte); every JSON record has ``type`` and
an ISO 8601 UTC ``ts`` with milliseconds and ``Z``; ``decode_json`` inverts ``encode_json``
(property) and raises only ``ProtocolError`` on garbage (property); rendered bytes never
contain ``\\r`` or NUL.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.errors import ProtocolError
from pollchat.protocol.events import (
    Entered,
    Error,
    Greeting,
    Left,
    Message,
    ModeSwitched,
    ShuttingDown,
    Welcome,
)
from pollchat.protocol.render import EVENT_TYPES, decode_json, encode_json, encode_text, format_ts, render_text
from pollchat.texts import ErrorCode
from tests.strategies import server_events

TS_FORMAT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")

TEXT_GOLDEN = [
    (Greeting(), b"type login or register and then give user,password\n"),
    (Welcome("a", ("a", "b")), b"Access Provided\nactive users are: a b\n"),
    (Welcome("user1", ("user1",)), b"Access Provided\nactive users are: user1\n"),
    (Entered("bob"), b"bob has entered the chat\n"),
    (Left("bob"), b"bob has left the chat\n"),
    (Message("user1", "hello"), b"user1: hello\n"),
    (Message("user1", "hello everyone"), b"user1: hello everyone\n"),
    (Message("José", "olá ☃\tok"), "José: olá ☃\tok\n".encode()),
    (Error.of(ErrorCode.WRONG_PASSWORD), b"Wrong Password\n"),
    (Error.of(ErrorCode.ALREADY_ONLINE), b"Password already used\n"),
    (Error.of(ErrorCode.NAME_TAKEN), b"username is already used\n"),
    (Error.of(ErrorCode.BAD_FORMAT), b"Type the format user,password\n"),
    (Error.of(ErrorCode.SERVER_FULL), b"Max number of chat users\n"),
    (Error.of(ErrorCode.TOO_MANY_ATTEMPTS), b"too many failed attempts, closing the connection\n"),
    (Error.of(ErrorCode.LINE_TOO_LONG, limit=4096), b"line too long (over 4096 bytes), discarded\n"),
    (Error.of(ErrorCode.BAD_ENCODING), b"line is not valid UTF-8, discarded\n"),
    (Error.of(ErrorCode.CONTROL_CHARACTERS), b"line contains control characters, discarded\n"),
    (Error.of(ErrorCode.TOO_SLOW), b"you are not reading your messages, closing the connection\n"),
    (Error.of(ErrorCode.INTERNAL), b"server error, please try again later\n"),
    (ModeSwitched("json"), b"mode json\n"),
    (ModeSwitched("text"), b"mode text\n"),
    (ShuttingDown(), b"server is shutting down\n"),
]


@pytest.mark.parametrize(("event", "expected"), TEXT_GOLDEN, ids=[repr(e) for e, _ in TEXT_GOLDEN])
def test_text_golden(event: object, expected: bytes) -> None:
    assert encode_text(event) == expected  # type: ignore[arg-type]
    assert render_text(event) + "\n" == expected.decode()  # type: ignore[arg-type]


def test_golden_table_covers_every_event_type_and_error_code() -> None:
    assert {type(e) for e, _ in TEXT_GOLDEN} == set(EVENT_TYPES)
    assert {e.code for e, _ in TEXT_GOLDEN if isinstance(e, Error)} == set(ErrorCode)


def test_render_text_refuses_a_non_event() -> None:
    with pytest.raises(TypeError):
        render_text("not an event")  # type: ignore[arg-type]


# --- JSON ---------------------------------------------------------------------------------------

# The examples of docs/protocol.md ("JSON mode"), byte for byte.
DOC_EXAMPLES = [
    '{"type":"mode","mode":"json","ts":"2026-11-21T10:47:18.743Z"}',
    '{"type":"welcome","name":"alice","users":["user1","alice"],"ts":"2026-11-21T10:47:18.801Z"}',
    '{"type":"entered","name":"bob","ts":"2026-11-21T10:47:20.112Z"}',
    '{"type":"message","sender":"bob","text":"hi alice","ts":"2026-11-21T10:47:22.430Z"}',
    '{"type":"error","code":"wrong_password","text":"Wrong Password","ts":"2026-11-21T10:47:25.002Z"}',
    '{"type":"left","name":"bob","ts":"2026-11-21T10:47:30.551Z"}',
    '{"type":"shutdown","ts":"2026-11-21T10:48:00.000Z"}',
]


@pytest.mark.parametrize("line", DOC_EXAMPLES)
def test_documented_json_examples_round_trip_byte_for_byte(line: str) -> None:
    event, ts = decode_json(line)
    assert encode_json(event, ts) == line.encode() + b"\n"


def test_json_golden_values() -> None:
    ts = datetime(2026, 11, 21, 10, 47, 25, 2000, tzinfo=timezone.utc).timestamp()
    assert decode_json(DOC_EXAMPLES[4]) == (Error.of(ErrorCode.WRONG_PASSWORD), ts)
    assert encode_json(Greeting(), 0) == b'{"type":"greeting","ts":"1970-01-01T00:00:00.000Z"}\n'
    assert encode_json(Message("José", "olá"), 1.5) == (
        '{"type":"message","sender":"José","text":"olá","ts":"1970-01-01T00:00:01.500Z"}\n'.encode()
    )
    assert json.loads(encode_json(Error.of(ErrorCode.LINE_TOO_LONG, limit=10), 0)) == {
        "type": "error",
        "code": "line_too_long",
        "text": "line too long (over 10 bytes), discarded",
        "ts": "1970-01-01T00:00:00.000Z",
    }


def test_error_codes_are_the_documented_ones() -> None:
    assert sorted(code.code for code in ErrorCode) == sorted(
        ["wrong_password", "already_online", "name_taken", "bad_format", "server_full",
         "too_many_attempts", "line_too_long", "bad_encoding", "control_characters", "too_slow", "internal"]
    )


@pytest.mark.parametrize(
    ("ts", "expected"),
    [(0, "1970-01-01T00:00:00.000Z"), (1.5, "1970-01-01T00:00:01.500Z"), (1_700_000_000.123, "2023-11-14T22:13:20.123Z")],
)
def test_format_ts(ts: float, expected: str) -> None:
    assert format_ts(ts) == expected


@given(server_events(), st.floats(0, 4_102_444_800, allow_nan=False))
def test_json_record_shape(event: object, ts: float) -> None:
    data = encode_json(event, ts)  # type: ignore[arg-type]
    assert data.endswith(b"\n") and data.count(b"\n") == 1
    obj = json.loads(data)
    assert obj["type"] == EVENT_TYPES[type(event)]
    assert TS_FORMAT.fullmatch(obj["ts"]), obj["ts"]
    parsed = datetime.fromisoformat(obj["ts"].replace("Z", "+00:00"))
    assert parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert abs(parsed.timestamp() - ts) < 0.001


whole_ms = st.integers(0, 4_102_444_800_000).map(lambda ms: ms / 1000)  # up to 2100


@given(server_events(), whole_ms)
def test_decode_json_inverts_encode_json(event: object, ts: float) -> None:
    line = encode_json(event, ts).decode("utf-8")  # type: ignore[arg-type]
    assert decode_json(line[:-1]) == (event, ts)


def _json_values() -> st.SearchStrategy[object]:
    return st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
        max_leaves=8,
    )


@st.composite
def _event_like_objects(draw: st.DrawFn) -> str:
    """JSON objects close to real events: a known type, plausible keys, random values."""
    obj: dict[str, object] = {}
    if draw(st.booleans()):
        obj["type"] = draw(st.sampled_from(sorted(EVENT_TYPES.values())) | _json_values())
    for key in draw(st.lists(st.sampled_from(["name", "users", "sender", "text", "code", "mode", "x"]), max_size=4)):
        obj[key] = draw(_json_values() | st.sampled_from(["wrong_password", "WRONG_PASSWORD", "json"]))
    if draw(st.booleans()):
        obj["ts"] = draw(
            st.sampled_from(["2026-11-21T10:47:18.743Z", "2026-11-21", "not a date", "9999-12-31T23:59:59-23:59"])
            | _json_values()
        )
    return json.dumps(obj)


@given(st.one_of(st.text(max_size=60), _json_values().map(json.dumps), _event_like_objects()))
def test_decode_json_raises_only_protocol_error(line: str) -> None:
    try:
        result = decode_json(line)
    except ProtocolError as error:
        assert error.code is ErrorCode.BAD_FORMAT
    else:
        event, ts = result
        assert type(event) in EVENT_TYPES
        assert isinstance(ts, float)
        assert isinstance(render_text(event), str)  # a decoded event can be shown


@pytest.mark.parametrize(
    "line",
    ["", "{", "null", "[]", "42", '"text"', "{}", '{"type":"nope","ts":"2026-01-01T00:00:00Z"}',
     '{"type":"entered","ts":"2026-01-01T00:00:00Z"}', '{"type":"entered","name":"a"}',
     '{"type":"error","code":"nope","text":"x","ts":"2026-01-01T00:00:00Z"}',
     '{"type":"entered","name":"a","ts":"yesterday"}', '{"type":"entered","name":"a","ts":5}'],
)
def test_decode_json_garbage_examples(line: str) -> None:
    with pytest.raises(ProtocolError):
        decode_json(line)


@pytest.mark.parametrize(
    "line",
    [
        '{"type":"welcome","name":"a","users":[1,2],"ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"welcome","name":"a","users":"ab","ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"error","code":"wrong_password","text":5,"ts":"2026-01-01T00:00:00.000Z"}',
        '{"type":"entered","name":null,"ts":"2026-01-01T00:00:00.000Z"}',
    ],
)
def test_decode_json_refuses_fields_of_the_wrong_type(line: str) -> None:
    # decode_json's result is rendered with render_text by the client; a value that is not
    # the event's declared type (str, tuple of str) must be refused, not passed on.
    with pytest.raises(ProtocolError):
        decode_json(line)


def test_decode_json_deeply_nested_garbage_is_a_protocol_error() -> None:
    # A line from a misbehaving server must not crash the client with RecursionError.
    with pytest.raises(ProtocolError):
        decode_json("[" * 4096)


@given(server_events(), st.floats(0, 4_102_444_800, allow_nan=False))
def test_rendered_bytes_never_contain_cr_or_nul(event: object, ts: float) -> None:
    text = encode_text(event)  # type: ignore[arg-type]
    assert b"\r" not in text and b"\x00" not in text
    assert text.count(b"\n") == (2 if isinstance(event, Welcome) else 1)
    assert text.endswith(b"\n")
    data = encode_json(event, ts)  # type: ignore[arg-type]
    assert b"\r" not in data and b"\x00" not in data


@given(st.text(max_size=40))
def test_json_escapes_every_control_character(text: str) -> None:
    data = encode_json(Message("bob", text), 0)
    assert data.count(b"\n") == 1 and b"\r" not in data and b"\x00" not in data and b"\x1b" not in data
    assert decode_json(data.decode()[:-1])[0] == Message("bob", text)
