"""The per-connection codec seam (pollchat.protocol.codec): LineCodec is the framer plus
the text/JSON encoding that used to be chosen in three places of the server."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pollchat.protocol.codec import JSON, TEXT, LineCodec, encode_for_mode
from pollchat.protocol.events import Message, Typing
from pollchat.protocol.framing import LineFramer
from pollchat.protocol.render import encode_json, encode_text

T = 1_700_000_000.0


def test_a_line_codec_is_ready_at_once_and_has_nothing_of_its_own_to_send() -> None:
    codec = LineCodec(4096)
    assert codec.ready and not codec.peer_closed and not codec.should_close
    assert codec.receive_data(b"login\r\nuser1,123\npartial") == ["login", "user1,123"]
    assert codec.pending == len(b"partial")
    assert codec.data_to_send() == b"" and codec.close_data() == b""


def test_mode_switches_change_the_key_and_the_bytes() -> None:
    codec = LineCodec(4096)
    event = Message("bob", "hi")
    assert codec.mode_key == TEXT and codec.encode(event, T) == encode_text(event)
    codec.switch_mode("json")
    assert codec.mode_key == JSON and codec.encode(event, T) == encode_json(event, T)
    codec.switch_mode("text")
    assert codec.mode_key == TEXT


def test_a_typing_hint_is_not_shown_on_a_text_connection() -> None:
    hint = Typing("bob", True)
    assert encode_for_mode(TEXT, hint, T) == b""
    assert encode_for_mode(JSON, hint, T) == encode_json(hint, T)


@given(st.binary(max_size=300), st.lists(st.integers(1, 40), max_size=20))
def test_the_codec_frames_exactly_as_the_framer_in_any_chunking(data: bytes, cuts: list[int]) -> None:
    codec, framer = LineCodec(64), LineFramer(64)
    got, start = [], 0
    for size in cuts:
        got += codec.receive_data(data[start : start + size])
        start += size
    got += codec.receive_data(data[start:])
    assert got == framer.feed(data)
