"""LineFramer (pollchat.protocol.framing): bytes in any TCP chunking to lines.

Golden cases for LF/CRLF, lone CR, empty lines, the 4096-byte limit and bad UTF-8 (each
error discards one line and the stream carries on); properties: chunking never changes
the output, the framer never raises, yields only ``str`` or ``ProtocolError`` and holds
at most ``max_line + 1`` bytes; the output matches a simple split-based reference model.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.errors import ProtocolError
from pollchat.protocol.framing import DEFAULT_MAX_LINE, LineFramer
from pollchat.texts import ErrorCode
from tests.strategies import bytes_and_chunkings, chunkings, line_bytes

TOO_LONG = ProtocolError(ErrorCode.LINE_TOO_LONG, limit=DEFAULT_MAX_LINE)
BAD_UTF8 = ProtocolError(ErrorCode.BAD_ENCODING)


def feed_all(framer: LineFramer, chunks: list[bytes]) -> list[object]:
    out: list[object] = []
    for chunk in chunks:
        out += framer.feed(chunk)
    return out


# --- golden cases ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        pytest.param(b"hello\n", ["hello"], id="lf"),
        pytest.param(b"hello\r\n", ["hello"], id="crlf"),
        pytest.param(b"a\rb\n", ["a\rb"], id="lone-cr-kept-inside"),
        pytest.param(b"a\r\r\n", ["a\r"], id="only-one-cr-dropped"),
        pytest.param(b"\rabc\n", ["\rabc"], id="leading-cr-kept"),
        pytest.param(b"\n", [""], id="empty-line"),
        pytest.param(b"\r\n", [""], id="empty-crlf-line"),
        pytest.param(b"\n\n", ["", ""], id="two-empty-lines"),
        pytest.param(b"login\nuser1,123\nhello\n", ["login", "user1,123", "hello"], id="three-lines"),
        pytest.param(b"a\r\nb\nc\r\n", ["a", "b", "c"], id="mixed-terminators"),
        pytest.param("Łukasz: żółć ☃\n".encode(), ["Łukasz: żółć ☃"], id="utf8"),
        pytest.param(b"no newline yet", [], id="unfinished-line-held"),
        pytest.param(b"", [], id="empty-chunk"),
        pytest.param(b"x" * 4096 + b"\n", ["x" * 4096], id="exactly-4096"),
        pytest.param(b"x" * 4096 + b"\r\n", ["x" * 4096], id="exactly-4096-crlf"),
        pytest.param("é".encode() * 2048 + b"\n", ["é" * 2048], id="4096-bytes-of-2-byte-chars"),
        pytest.param(b"x" * 4097 + b"\nnext\n", [TOO_LONG, "next"], id="4097-then-next"),
        pytest.param(b"x" * 4096 + b"\r\r\n", [TOO_LONG], id="4096-plus-stray-cr"),
        pytest.param(b"x" * 10_000 + b"\nnext\n", [TOO_LONG, "next"], id="far-too-long"),
        pytest.param(b"\xff\xfe\nok\n", [BAD_UTF8, "ok"], id="invalid-utf8-then-next"),
        pytest.param(b"\xc3\nok\n", [BAD_UTF8, "ok"], id="truncated-sequence"),
        pytest.param(b"\xed\xa0\x80\n", [BAD_UTF8], id="encoded-surrogate"),
        pytest.param(b"\xc0\xaf\n", [BAD_UTF8], id="overlong-encoding"),
        pytest.param(b"a\xffb\r\nc\n", [BAD_UTF8, "c"], id="invalid-utf8-crlf"),
    ],
)
def test_golden_single_chunk(data: bytes, expected: list[object]) -> None:
    assert LineFramer().feed(data) == expected


def test_too_long_error_carries_the_limit_and_seed_wording() -> None:
    (error,) = LineFramer(max_line=4096).feed(b"y" * 4097 + b"\n")
    assert isinstance(error, ProtocolError)
    assert error.code is ErrorCode.LINE_TOO_LONG
    assert error.detail == {"limit": 4096}
    assert str(error) == "line too long (over 4096 bytes), discarded"


def test_bad_encoding_error_wording() -> None:
    (error,) = LineFramer().feed(b"\xff\n")
    assert isinstance(error, ProtocolError)
    assert error.code is ErrorCode.BAD_ENCODING
    assert str(error) == "line is not valid UTF-8, discarded"


def test_unfinished_line_is_completed_by_a_later_chunk() -> None:
    framer = LineFramer()
    assert framer.feed(b"abc") == []
    assert framer.pending == 3
    assert framer.feed(b"def\r") == []
    assert framer.feed(b"\nghi") == ["abcdef"]
    assert framer.pending == 3


def test_multibyte_character_split_between_chunks() -> None:
    framer = LineFramer()
    assert framer.feed(b"caf\xc3") == []
    assert framer.feed(b"\xa9\n") == ["café"]


def test_crlf_split_between_chunks() -> None:
    framer = LineFramer()
    assert framer.feed(b"hello\r") == []
    assert framer.feed(b"\n") == ["hello"]


def test_long_line_over_many_chunks_reports_once_and_stream_continues() -> None:
    framer = LineFramer()
    out: list[object] = []
    for _ in range(50):  # 50 KB without a newline
        out += framer.feed(b"z" * 1000)
        assert framer.pending <= DEFAULT_MAX_LINE + 1
    assert out == [TOO_LONG]
    assert framer.pending == 0  # nothing of the discarded line is held
    assert framer.feed(b"zzz\n") == []  # still the discarded line
    assert framer.feed(b"next\n") == ["next"]


def test_valid_line_over_many_chunks() -> None:
    framer = LineFramer()
    line = bytes(range(97, 123)) * 150  # 3900 bytes
    out: list[object] = []
    for i in range(0, len(line), 7):
        out += framer.feed(line[i : i + 7])
    out += framer.feed(b"\r\n")
    assert out == [line.decode()]


def test_error_is_reported_when_the_limit_is_passed_not_at_the_newline() -> None:
    # memory stays bounded: the error comes as soon as max_line + 1 bytes are exceeded
    framer = LineFramer(max_line=10)
    assert framer.feed(b"a" * 11) == []  # may still be 10 bytes + "\r"
    assert framer.feed(b"a") == [ProtocolError(ErrorCode.LINE_TOO_LONG, limit=10)]
    assert framer.feed(b"\nok\n") == ["ok"]


def test_line_of_max_plus_cr_is_accepted_across_chunks() -> None:
    framer = LineFramer(max_line=10)
    assert framer.feed(b"a" * 10 + b"\r") == []
    assert framer.feed(b"\n") == ["a" * 10]


@pytest.mark.parametrize("max_line", [0, -1])
def test_max_line_must_be_positive(max_line: int) -> None:
    with pytest.raises(ValueError):
        LineFramer(max_line=max_line)


# --- properties --------------------------------------------------------------------------


def reference_items(data: bytes, max_line: int) -> list[object]:
    """What the rules in docs/protocol.md say ``data`` frames into (split-based model)."""
    *lines, rest = data.split(b"\n")
    items: list[object] = []
    for raw in lines:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if len(raw) > max_line:
            items.append(ProtocolError(ErrorCode.LINE_TOO_LONG, limit=max_line))
            continue
        try:
            items.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            items.append(ProtocolError(ErrorCode.BAD_ENCODING))
    if len(rest) > max_line + 1:  # an unfinished line already known to be too long
        items.append(ProtocolError(ErrorCode.LINE_TOO_LONG, limit=max_line))
    return items


max_lines = st.one_of(st.integers(1, 64), st.just(DEFAULT_MAX_LINE))


@given(bytes_and_chunkings(), max_lines)
def test_chunking_never_changes_the_items(data_chunks: tuple[bytes, list[bytes]], max_line: int) -> None:
    data, chunks = data_chunks
    assert b"".join(chunks) == data
    whole = LineFramer(max_line).feed(data)
    assert feed_all(LineFramer(max_line), chunks) == whole


@given(line_bytes(), st.integers(1, 64))
def test_byte_by_byte_equals_whole(data: bytes, max_line: int) -> None:
    one_by_one = feed_all(LineFramer(max_line), [data[i : i + 1] for i in range(len(data))])
    assert one_by_one == LineFramer(max_line).feed(data)


@given(line_bytes(), max_lines)
def test_items_match_the_reference_model(data: bytes, max_line: int) -> None:
    assert LineFramer(max_line).feed(data) == reference_items(data, max_line)


@given(st.lists(st.one_of(line_bytes(), st.binary(max_size=200)), max_size=12), max_lines)
def test_feed_never_raises_and_yields_only_lines_or_protocol_errors(
    chunks: list[bytes], max_line: int
) -> None:
    framer = LineFramer(max_line)
    for chunk in chunks:
        for item in framer.feed(chunk):
            if isinstance(item, str):
                assert "\n" not in item
                assert len(item.encode("utf-8")) <= max_line
            else:
                assert isinstance(item, ProtocolError)
                assert item.code in (ErrorCode.LINE_TOO_LONG, ErrorCode.BAD_ENCODING)


@given(st.data(), st.lists(st.one_of(line_bytes(), st.binary(max_size=300)), max_size=10), max_lines)
def test_pending_never_exceeds_max_line_plus_one(
    data: st.DataObject, pieces: list[bytes], max_line: int
) -> None:
    framer = LineFramer(max_line)
    for chunk in data.draw(chunkings(b"".join(pieces))):
        framer.feed(chunk)
        assert 0 <= framer.pending <= max_line + 1
