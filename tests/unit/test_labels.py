"""Labelled requests (pollchat.protocol.labels): parsing a line's label, echoing it in
JSON, never in text mode, and the client's decoding of it."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.errors import ProtocolError
from pollchat.protocol.codec import JSON, TEXT, encode_for_mode
from pollchat.protocol.events import Error, Labelled, Notice, PrivateMessage, Typing, Whois
from pollchat.protocol.labels import LABEL_PREFIX, MAX_LABEL, is_label, labelled_line, split_label
from pollchat.protocol.render import decode_json, decode_json_labelled, encode_json, encode_text
from pollchat.texts import ErrorCode, NoticeCode

TS = 1_763_722_038.743


def test_a_label_is_split_from_its_line() -> None:
    assert split_label("@label=ab12 /whois bob") == ("ab12", "/whois bob")
    assert split_label("@label=a.b_c-9  two spaces") == ("a.b_c-9", " two spaces")
    assert split_label("@label=x ") == ("x", "")
    assert split_label("@bob hi") == (None, "@bob hi")  # only "@label=" is special
    assert split_label("hi @label=x y") == (None, "hi @label=x y")
    error = ProtocolError(ErrorCode.TOO_SLOW)
    assert split_label(error) == (None, error)


@pytest.mark.parametrize(
    "line",
    ["@label= /who", "@label=x", "@label=a/b /who", "@label=ümlaut /who", "@label=" + "x" * 33 + " /who", "@label=\t /who"],
)
def test_a_malformed_label_discards_the_line_with_one_error(line: str) -> None:
    label, rest = split_label(line)
    assert label is None
    assert rest == ProtocolError(ErrorCode.BAD_LABEL, limit=MAX_LABEL)
    assert str(rest).startswith("bad label: write @label=ID then a space")


@given(st.text(max_size=60), st.text(max_size=20))
def test_any_label_text_is_accepted_and_echoed_or_refused_with_one_error(label: str, rest: str) -> None:
    line = f"{LABEL_PREFIX}{label} {rest}"
    got, item = split_label(line)
    if got is None:
        assert isinstance(item, ProtocolError) and item.code is ErrorCode.BAD_LABEL
        assert not is_label(label) or " " in label
        return
    assert is_label(got) and line == labelled_line(got, item if isinstance(item, str) else "")
    data = encode_json(Labelled(Notice.of(NoticeCode.HELP, text="x"), got), TS)
    assert json.loads(data)["label"] == got
    event, _, echoed = decode_json_labelled(data.decode())
    assert echoed == got and event == Notice.of(NoticeCode.HELP, text="x")


@given(st.text(max_size=80))
def test_split_label_never_raises(line: str) -> None:
    label, rest = split_label(line)
    assert label is None or is_label(label)


def test_labels_are_bounded() -> None:
    assert is_label("x" * MAX_LABEL) and not is_label("x" * (MAX_LABEL + 1)) and not is_label("")
    with pytest.raises(ValueError):
        labelled_line("not ok", "/who")


EVENTS = [
    Error.of(ErrorCode.NO_SUCH_USER, name="bob"),
    Whois("carol", "preconfigured", False, "offline", "", 1_763_635_800.0, None),
    PrivateMessage("alice", "bob", 'say "hi" ,"ts":', True),
]


@pytest.mark.parametrize("event", EVENTS, ids=[type(e).__name__ for e in EVENTS])
def test_json_adds_the_label_before_ts_and_text_mode_never_shows_it(event: object) -> None:
    plain = encode_json(event, TS)  # type: ignore[arg-type]
    labelled = encode_json(Labelled(event, "ab12"), TS)  # type: ignore[arg-type]
    assert labelled == plain[: plain.rindex(b',"ts":')] + b',"label":"ab12"' + plain[plain.rindex(b',"ts":') :]
    assert json.loads(labelled) == {**json.loads(plain), "label": "ab12"}
    assert decode_json(labelled.decode()) == decode_json(plain.decode())
    assert decode_json_labelled(labelled.decode())[2] == "ab12"
    assert decode_json_labelled(plain.decode())[2] is None
    assert encode_text(Labelled(event, "ab12")) == encode_text(event)  # type: ignore[arg-type]
    assert encode_for_mode(TEXT, Labelled(event, "ab12"), TS) == encode_text(event)  # type: ignore[arg-type]
    assert encode_for_mode(JSON, Labelled(event, "ab12"), TS) == labelled  # type: ignore[arg-type]


def test_a_typing_hint_stays_out_of_text_mode_even_labelled() -> None:
    assert encode_for_mode(TEXT, Labelled(Typing("bob", True), "x"), TS) == b""


def test_a_label_that_is_not_a_string_is_a_bad_line() -> None:
    with pytest.raises(ProtocolError):
        decode_json_labelled('{"type":"greeting","label":7,"ts":"2026-11-21T10:47:18.743Z"}')
