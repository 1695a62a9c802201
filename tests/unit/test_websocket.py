"""RFC 6455 server side (pollchat.protocol.websocket) and the browser codec (.web).

The handshake: the RFC 6455 section 1.3 example, every refusal and the Origin rules.
Frames: lengths, masking across chunk boundaries, fragmentation with control frames in
between, and each rule that fails the connection with its close code; the close
handshake in both directions. ``WebCodec``: HTTP phase, upgrade, one message = one
line, JSON first, encoding and closing. Properties: any bytes in any chunking give the
same items and the same bytes to send, nothing raises, memory stays bounded, and any
text survives masking and fragmentation.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pollchat.errors import HttpError, ProtocolError
from pollchat.protocol.codec import encode_for_mode
from pollchat.protocol.events import Error as ErrorEvent
from pollchat.protocol.events import Greeting, Message, Typing, Welcome
from pollchat.protocol.http import REASONS, Request, RequestReader, build_site, content_security_policy
from pollchat.protocol.render import encode_json
from pollchat.protocol.web import WS_JSON, WS_SILENT, WS_TEXT, Phase, WebCodec
from pollchat.protocol.websocket import (
    GUID,
    MAX_HEADER,
    OP_BINARY,
    OP_CLOSE,
    OP_CONTINUATION,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    CloseCode,
    ServerProtocol,
    accept_key,
    apply_mask,
    close_frame,
    encode_client_frame,
    encode_frame,
    handshake_response,
    origin_allowed,
    valid_close_code,
)
from pollchat.texts import ErrorCode
from tests.strategies import chunkings
from tests.wsclient import HOST, RFC_ACCEPT, RFC_KEY, Frame, handshake, parse_response, server_frames

SITE = build_site({"index.html": b"<!doctype html>", "app.js": b"1"})
MAX_LINE = 64


def frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, mask: bytes = b"\x01\x02\x03\x04") -> bytes:
    return encode_client_frame(opcode, payload, mask, fin=fin, rsv=rsv)


def text(payload: str | bytes, *, fin: bool = True) -> bytes:
    return frame(OP_TEXT, payload.encode() if isinstance(payload, str) else payload, fin=fin)


def cont(payload: str | bytes, *, fin: bool = True) -> bytes:
    return frame(OP_CONTINUATION, payload.encode() if isinstance(payload, str) else payload, fin=fin)


def close(code: int | None = None, reason: bytes = b"") -> bytes:
    return frame(OP_CLOSE, b"" if code is None else code.to_bytes(2, "big") + reason)


def request(raw: bytes) -> Request:
    parsed = RequestReader().feed(raw)
    assert parsed is not None
    return parsed


def feed(protocol: ServerProtocol, *chunks: bytes) -> tuple[list[str | bytes], list[Frame]]:
    messages: list[str | bytes] = []
    for chunk in chunks:
        messages += protocol.receive_messages(chunk)
    return messages, server_frames(protocol.data_to_send())


def assert_failed(protocol: ServerProtocol, sent: list[Frame], code: int) -> None:
    assert sent[-1].opcode == OP_CLOSE and sent[-1].close_code == code
    assert protocol.should_close and protocol.close_sent and protocol.failure == code
    # Nothing more: later input is ignored and nothing is sent after the close.
    assert feed(protocol, frame(OP_PING, b"x"), text("late")) == ([], [])


# --- the opening handshake ----------------------------------------------------------------


def test_accept_key_is_the_rfc_example() -> None:
    assert accept_key(RFC_KEY) == RFC_ACCEPT
    assert GUID == "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def test_a_browser_handshake_is_accepted() -> None:
    raw = handshake_response(request(handshake()))
    assert raw == (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    )


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"upgrade": "WebSocket"}, id="upgrade-any-case"),
        pytest.param({"upgrade": "h2c, websocket"}, id="upgrade-in-a-list"),
        pytest.param({"connection": "keep-alive, Upgrade"}, id="connection-list-firefox"),
        pytest.param({"connection": "UPGRADE"}, id="connection-any-case"),
        pytest.param({"origin": None}, id="no-origin"),
        pytest.param({"path": "/ws?token=1"}, id="query"),
        pytest.param(
            {"extra": (("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),)},
            id="deflate-offer-ignored",
        ),
        pytest.param({"extra": (("Sec-WebSocket-Protocol", "chat, superchat"),)}, id="subprotocols-ignored"),
    ],
)
def test_handshake_variants_accepted(fields: dict[str, object]) -> None:
    raw = handshake_response(request(handshake(**fields)))  # type: ignore[arg-type]
    response = parse_response(raw)
    assert response.status == 101
    assert response.get("sec-websocket-accept") == RFC_ACCEPT
    assert response.get("sec-websocket-extensions") is None
    assert response.get("sec-websocket-protocol") is None


def test_connection_upgrade_may_come_on_its_own_field_line() -> None:
    raw = handshake(connection="keep-alive", extra=(("Connection", "Upgrade"),))
    assert parse_response(handshake_response(request(raw))).status == 101


@pytest.mark.parametrize(
    ("fields", "status", "header"),
    [
        pytest.param({"method": "HEAD"}, 405, ("Allow", "GET"), id="head"),
        pytest.param({"version": "HTTP/1.0"}, 400, None, id="http-1.0"),
        pytest.param({"upgrade": None}, 426, ("Upgrade", "websocket"), id="no-upgrade"),
        pytest.param({"upgrade": "h2c"}, 426, ("Upgrade", "websocket"), id="other-upgrade"),
        pytest.param({"upgrade": "websocket2"}, 426, ("Upgrade", "websocket"), id="not-the-token"),
        pytest.param({"connection": None}, 400, None, id="no-connection"),
        pytest.param({"connection": "keep-alive"}, 400, None, id="connection-without-upgrade"),
        pytest.param({"ws_version": None}, 426, ("Sec-WebSocket-Version", "13"), id="no-version"),
        pytest.param({"ws_version": "8"}, 426, ("Sec-WebSocket-Version", "13"), id="version-8"),
        pytest.param({"ws_version": "13, 8"}, 426, ("Sec-WebSocket-Version", "13"), id="version-list"),
        pytest.param(
            {"extra": (("Sec-WebSocket-Version", "13"),)}, 426, ("Sec-WebSocket-Version", "13"), id="two-versions"
        ),
        pytest.param({"key": None}, 400, None, id="no-key"),
        pytest.param({"key": "dGhlIHNhbXBsZSBub25jZQ"}, 400, None, id="key-unpadded"),
        pytest.param({"key": "dGhlIHNhbXBsZSBub25j"}, 400, None, id="key-12-bytes"),
        pytest.param({"key": "dGhlIHNhbXBsZSBub25jZSE="}, 400, None, id="key-17-bytes"),
        pytest.param({"key": "dGhlIHNhbXBsZSBub25jZ!=="}, 400, None, id="key-not-base64"),
        pytest.param({"extra": (("Sec-WebSocket-Key", RFC_KEY),)}, 400, None, id="two-keys"),
        pytest.param({"origin": "http://evil.example"}, 403, None, id="other-origin"),
    ],
)
def test_handshake_refusals(fields: dict[str, object], status: int, header: tuple[str, str] | None) -> None:
    with pytest.raises(HttpError) as info:
        handshake_response(request(handshake(**fields)))  # type: ignore[arg-type]
    assert info.value.status == status
    if header is not None:
        assert header in info.value.headers


@pytest.mark.parametrize(
    ("origin", "host", "allowed", "ok"),
    [
        pytest.param(None, HOST, frozenset(), True, id="none-non-browser"),
        pytest.param(f"http://{HOST}", HOST, frozenset(), True, id="same-host-http"),
        pytest.param(f"https://{HOST}", HOST, frozenset(), True, id="same-host-https"),
        pytest.param("HTTP://CHAT.Example:8080", HOST, frozenset(), True, id="case-insensitive"),
        pytest.param("http://chat.example", HOST, frozenset(), False, id="other-port"),
        pytest.param("http://chat.example:8080", "chat.example", frozenset(), False, id="port-only-in-origin"),
        pytest.param("http://evil.example:8080", HOST, frozenset(), False, id="other-host"),
        pytest.param("http://chat.example:8080.evil", HOST, frozenset(), False, id="suffix"),
        pytest.param(f"ftp://{HOST}", HOST, frozenset(), False, id="other-scheme"),
        pytest.param(f"http://{HOST}/", HOST, frozenset(), False, id="path-is-not-an-origin"),
        pytest.param(HOST, HOST, frozenset(), False, id="no-scheme"),
        pytest.param("null", HOST, frozenset(), False, id="null"),
        pytest.param("null", HOST, frozenset({"null"}), False, id="null-even-if-listed"),
        pytest.param("https://app.example", HOST, frozenset({"https://app.example"}), True, id="allowed"),
        pytest.param("https://app.example", HOST, frozenset({"http://app.example"}), False, id="allowed-other-scheme"),
    ],
)
def test_origin_rules(origin: str | None, host: str, allowed: frozenset[str], ok: bool) -> None:
    raw = handshake(origin=origin, host=host)
    assert origin_allowed(request(raw), allowed) is ok
    if ok:
        assert handshake_response(request(raw), allowed).startswith(b"HTTP/1.1 101 ")
    else:
        with pytest.raises(HttpError) as info:
            handshake_response(request(raw), allowed)
        assert info.value.status == 403


def test_two_origins_are_refused() -> None:
    raw = handshake(extra=(("Origin", f"http://{HOST}"),))
    assert not origin_allowed(request(raw))


# --- frames: encoding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "header"),
    [(0, b"\x81\x00"), (125, b"\x81\x7d"), (126, b"\x81\x7e\x00\x7e"), (65535, b"\x81\x7e\xff\xff"),
     (65536, b"\x81\x7f\x00\x00\x00\x00\x00\x01\x00\x00")],
)
def test_server_frames_are_unmasked_fin_text(size: int, header: bytes) -> None:
    data = encode_frame(OP_TEXT, b"x" * size)
    assert data == header + b"x" * size
    assert server_frames(data) == [Frame(True, OP_TEXT, b"x" * size)]


def test_client_frames_are_masked() -> None:
    data = encode_client_frame(OP_TEXT, b"Hello", b"\x37\xfa\x21\x3d")
    assert data == b"\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58"  # RFC 6455 section 5.7
    assert apply_mask(apply_mask(b"Hello", b"abcd"), b"abcd") == b"Hello"
    assert apply_mask(b"", b"abcd") == b""
    assert apply_mask(b"llo", b"abcd", 2) == apply_mask(b"Hello", b"abcd")[2:]
    with pytest.raises(ValueError):
        encode_frame(OP_TEXT, b"", mask=b"abc")


def test_close_frame() -> None:
    assert close_frame() == b"\x88\x00"
    assert close_frame(1000) == b"\x88\x02\x03\xe8"
    assert server_frames(close_frame(1001, "x" * 300))[0].payload == b"\x03\xe9" + b"x" * 123


# --- frames: decoding ---------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_7_16_and_64_bit_lengths(size: int) -> None:
    payload = "é" * (size // 2) + "x" * (size % 2)
    messages, sent = feed(ServerProtocol(1 << 20), text(payload))
    assert messages == [payload] and sent == []


def test_masking_is_undone_across_any_chunk_boundary() -> None:
    data = text("Hello, wörld! " * 10)
    for cut in range(len(data) + 1):
        assert feed(ServerProtocol(1000), data[:cut], data[cut:])[0] == ["Hello, wörld! " * 10]


def test_several_frames_in_one_chunk() -> None:
    messages, sent = feed(ServerProtocol(100), text("a") + frame(OP_PING, b"p") + text("b") + frame(OP_PONG, b"q"))
    assert messages == ["a", "b"]
    assert sent == [Frame(True, OP_PONG, b"p")]


def test_fragmented_message_with_pings_in_between() -> None:
    protocol = ServerProtocol(100)
    messages, sent = feed(
        protocol,
        text("Hel", fin=False),
        frame(OP_PING, b"1"),
        cont("lo, ", fin=False),
        frame(OP_PONG, b"unsolicited"),
        frame(OP_PING, b"2"),
        cont(b""),  # an empty final fragment
    )
    assert messages == ["Hello, "]
    assert sent == [Frame(True, OP_PONG, b"1"), Frame(True, OP_PONG, b"2")]
    assert not protocol.should_close


def test_a_utf8_sequence_may_straddle_fragments() -> None:
    snowman = "☃".encode()
    messages, _ = feed(ServerProtocol(100), text(snowman[:1], fin=False), cont(snowman[1:2], fin=False), cont(snowman[2:]))
    assert messages == ["☃"]


def test_empty_and_tiny_continuation_frames_hold_no_memory() -> None:
    """A fragmented message of many empty (or one-byte) continuation frames holds
    no more than its payload bytes (RFC 6455 section 10.4: bound what a peer can make
    the server keep), not an entry per frame."""
    import tracemalloc

    for piece in (b"", b"a"):
        protocol = ServerProtocol(200_000)
        chunk = cont(piece, fin=False) * 10_000
        feed(protocol, text("start", fin=False))
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            for _ in range(5 if piece else 10):
                feed(protocol, chunk)
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert not protocol.should_close
        assert held < 250_000, held  # 50,000 payload bytes at most, plus slack (an entry per frame: 400,000 and up)
        assert feed(protocol, cont("end"))[0] == ["start" + piece.decode() * 50_000 + "end"]


def test_every_frame_is_counted_whatever_its_kind() -> None:
    """The server's input budget charges per frame: pings, pongs, empty continuations
    and closes cost as much as a text frame."""
    protocol = ServerProtocol(100)
    feed(protocol, frame(OP_PING), frame(OP_PONG), text("a", fin=False), cont(b"", fin=False), cont("b"), close(1000))
    assert protocol.frames == 6
    codec = WebCodec(MAX_LINE, SITE)
    assert codec.frames == 0
    codec.receive_data(handshake() + frame(OP_PING) + text("hi"))
    assert codec.frames == 2


def test_ping_is_answered_with_the_same_payload() -> None:
    payload = bytes(range(125))
    assert feed(ServerProtocol(10), frame(OP_PING, payload)) == ([], [Frame(True, OP_PONG, payload)])
    assert feed(ServerProtocol(10), frame(OP_PING)) == ([], [Frame(True, OP_PONG, b"")])


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param(encode_frame(OP_TEXT, b"hi"), 1002, id="unmasked"),
        pytest.param(frame(OP_TEXT, b"hi", rsv=4), 1002, id="rsv1"),
        pytest.param(frame(OP_TEXT, b"hi", rsv=2), 1002, id="rsv2"),
        pytest.param(frame(OP_TEXT, b"hi", rsv=1), 1002, id="rsv3"),
        pytest.param(frame(OP_PING, b"", rsv=7), 1002, id="rsv-on-ping"),
        *(pytest.param(frame(op, b"x"), 1002, id=f"opcode-{op:#x}") for op in (3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF)),
        pytest.param(frame(OP_PING, b"x" * 126), 1002, id="ping-126-bytes"),
        pytest.param(frame(OP_CLOSE, b"\x03\xe8" + b"x" * 124), 1002, id="close-126-bytes"),
        pytest.param(frame(OP_PING, b"x", fin=False), 1002, id="fragmented-ping"),
        pytest.param(frame(OP_PONG, b"x", fin=False), 1002, id="fragmented-pong"),
        pytest.param(frame(OP_CLOSE, b"", fin=False), 1002, id="fragmented-close"),
        pytest.param(cont("x"), 1002, id="continuation-without-start"),
        pytest.param(text("a") + cont("x"), 1002, id="continuation-after-a-whole-message"),
        pytest.param(text("a", fin=False) + text("b"), 1002, id="text-inside-fragmented"),
        pytest.param(text("a", fin=False) + frame(OP_BINARY, b"b"), 1002, id="binary-inside-fragmented"),
        pytest.param(frame(OP_BINARY, b"\x00\x01"), 1003, id="binary"),
        pytest.param(frame(OP_BINARY, b"", fin=False), 1003, id="binary-fragment"),
        pytest.param(text(b"\xff"), 1007, id="invalid-utf8"),
        pytest.param(text(b"\xed\xa0\x80"), 1007, id="surrogate"),
        pytest.param(text(b"\xc0\xaf"), 1007, id="overlong"),
        pytest.param(text(b"\xf4\x90\x80\x80"), 1007, id="above-u10ffff"),
        pytest.param(text(b"ok\xe2\x98"), 1007, id="truncated-at-the-end"),
        pytest.param(text(b"\xe2\x98", fin=False) + cont(b""), 1007, id="truncated-at-the-last-fragment"),
        pytest.param(text("x" * 11), 1009, id="over-the-limit"),
        pytest.param(text("x" * 6, fin=False) + cont("x" * 5), 1009, id="over-the-limit-in-fragments"),
        pytest.param(
            b"\x81\xff\x80\x00\x00\x00\x00\x00\x00\x01" + b"mask", 1002, id="64-bit-length-with-top-bit"
        ),
        pytest.param(b"\x81\xff" + (1 << 40).to_bytes(8, "big") + b"mask", 1009, id="huge-length"),
    ],
)
def test_violations_fail_the_connection(data: bytes, code: int) -> None:
    protocol = ServerProtocol(10)
    messages, sent = feed(protocol, data)
    assert all(isinstance(m, str) for m in messages)
    assert_failed(protocol, sent, code)


def test_the_limit_itself_is_accepted() -> None:
    assert feed(ServerProtocol(10), text("x" * 10))[0] == ["x" * 10]
    assert feed(ServerProtocol(10), text("x" * 4, fin=False), cont("x" * 6))[0] == ["x" * 10]


def test_an_oversized_frame_fails_before_its_payload_arrives() -> None:
    protocol = ServerProtocol(10)
    header = text("x" * 1000)[:8]  # header only
    _, sent = feed(protocol, header)
    assert_failed(protocol, sent, CloseCode.MESSAGE_TOO_BIG)


def test_invalid_utf8_fails_fast_inside_a_fragmented_message() -> None:
    """Autobahn section 6.4: refused as soon as the bad bytes arrive, not at the end."""
    protocol = ServerProtocol(100)
    _, sent = feed(protocol, text(b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", fin=False), cont(b"\xf4\x90\x80\x80", fin=False))
    assert_failed(protocol, sent, CloseCode.INVALID_DATA)


def test_invalid_utf8_fails_fast_inside_one_frame() -> None:
    protocol = ServerProtocol(100)
    data = text(b"abc\xffdef" + b"x" * 50)
    _, sent = feed(protocol, data[:12])  # header (6 bytes) and the first 6 payload bytes
    assert_failed(protocol, sent, CloseCode.INVALID_DATA)


def test_binary_messages_when_allowed() -> None:
    protocol = ServerProtocol(10, allow_binary=True)
    messages, sent = feed(protocol, frame(OP_BINARY, b"\xff\x00", fin=False), cont(b"\x01"))
    assert messages == [b"\xff\x00\x01"] and sent == []


@pytest.mark.parametrize("code", [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999])
def test_valid_close_codes_are_echoed(code: int) -> None:
    assert valid_close_code(code)
    protocol = ServerProtocol(10)
    _, sent = feed(protocol, close(code, "bye ☃".encode()))
    assert sent == [Frame(True, OP_CLOSE, code.to_bytes(2, "big"))]
    assert protocol.peer_closed and protocol.should_close and protocol.peer_close_code == code
    assert protocol.failure is None


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1012, 1013, 1014, 1015, 1016, 1100, 2000, 2999, 5000, 65535])
def test_invalid_close_codes_get_1002(code: int) -> None:
    assert not valid_close_code(code)
    protocol = ServerProtocol(10)
    _, sent = feed(protocol, close(code))
    assert_failed(protocol, sent, CloseCode.PROTOCOL_ERROR)
    assert not protocol.peer_closed


def test_an_empty_close_gets_an_empty_close() -> None:
    protocol = ServerProtocol(10)
    assert feed(protocol, close()) == ([], [Frame(True, OP_CLOSE, b"")])
    assert protocol.peer_closed and protocol.should_close and protocol.peer_close_code is None


def test_a_one_byte_close_payload_gets_1002() -> None:
    protocol = ServerProtocol(10)
    _, sent = feed(protocol, frame(OP_CLOSE, b"\x03"))
    assert_failed(protocol, sent, CloseCode.PROTOCOL_ERROR)


def test_a_close_reason_that_is_not_utf8_gets_1007() -> None:
    protocol = ServerProtocol(10)
    _, sent = feed(protocol, close(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"))
    assert_failed(protocol, sent, CloseCode.INVALID_DATA)


def test_nothing_is_read_after_the_peer_closed() -> None:
    protocol = ServerProtocol(10)
    messages, sent = feed(protocol, text("before") + close(1000) + text("after") + frame(OP_PING))
    assert messages == ["before"]
    assert sent == [Frame(True, OP_CLOSE, b"\x03\xe8")]
    assert feed(protocol, text("later")) == ([], [])
    protocol.send("reply")
    protocol.send_close()
    assert protocol.data_to_send() == b""


def test_a_message_completed_before_a_close_can_be_answered_first() -> None:
    """next_message, one at a time: the echo server's reply precedes the close echo."""
    protocol = ServerProtocol(10)
    protocol.receive_data(text("hi") + close(1000))
    while (message := protocol.next_message()) is not None:
        protocol.send(message)
    assert server_frames(protocol.data_to_send()) == [Frame(True, OP_TEXT, b"hi"), Frame(True, OP_CLOSE, b"\x03\xe8")]


def test_server_initiated_close() -> None:
    protocol = ServerProtocol(10)
    protocol.send("bye")
    protocol.send_close(CloseCode.GOING_AWAY, "server closing")
    protocol.send_close()  # once only
    protocol.send("never")
    sent = server_frames(protocol.data_to_send())
    assert sent == [Frame(True, OP_TEXT, b"bye"), Frame(True, OP_CLOSE, b"\x03\xe9server closing")]
    assert not protocol.should_close
    # Until the peer's close: data is dropped, pings are not answered.
    assert feed(protocol, text("late", fin=False), frame(OP_PING, b"p"), cont("r"), frame(OP_BINARY, b"b")) == ([], [])
    assert not protocol.should_close
    assert feed(protocol, close(1001)) == ([], [])
    assert protocol.should_close and protocol.peer_closed


def test_a_violation_after_our_close_just_ends() -> None:
    protocol = ServerProtocol(10)
    protocol.send_close()
    protocol.data_to_send()
    assert feed(protocol, encode_frame(OP_TEXT, b"unmasked")) == ([], [])
    assert protocol.should_close


def test_send() -> None:
    protocol = ServerProtocol(10)
    protocol.send("é")
    protocol.send(b"\x00")
    assert server_frames(protocol.data_to_send()) == [Frame(True, OP_TEXT, "é".encode()), Frame(True, OP_BINARY, b"\x00")]
    assert protocol.data_to_send() == b""


def test_constructor_checks() -> None:
    with pytest.raises(ValueError):
        ServerProtocol(0)
    with pytest.raises(ValueError):
        WebCodec(0, SITE)


# --- WebCodec: the HTTP phase -------------------------------------------------------------


def test_the_codec_starts_in_http_and_json() -> None:
    codec = WebCodec(MAX_LINE, SITE)
    assert (codec.ready, codec.peer_closed, codec.should_close, codec.mode_key) == (False, False, False, WS_SILENT)
    assert codec.phase is Phase.HTTP
    assert codec.data_to_send() == b""
    assert codec.encode(Greeting(), 0) == b""
    assert codec.close_data() == b""


@pytest.mark.parametrize(
    ("code", "detail", "status"),
    [
        (ErrorCode.TOO_MANY_CONNECTIONS, {}, 503),
        (ErrorCode.SERVER_BUSY, {}, 503),
        (ErrorCode.ADDRESS_BANNED, {"until": "for 1 hour", "reason": ""}, 403),
        (ErrorCode.LOGIN_TIMEOUT, {"seconds": 30}, 408),
    ],
)
def test_a_refusal_before_the_handshake_is_an_http_response(code: ErrorCode, detail: dict[str, object], status: int) -> None:
    """A browser shows an empty reply as a network error: a refusal (over a connection
    limit, a banned address, a head cut by the timeout) is an HTTP response, as nginx
    gives, with the refusal's text; the exchange is then over."""
    codec = WebCodec(MAX_LINE, SITE)
    codec.receive_data(b"GET / HTTP/1.1\r\nHo")  # half a head, or none at all
    error = ErrorEvent.of(code, **detail)
    response = parse_response(codec.encode(error, 0))
    assert response.status == status
    assert response.body == f"{status} {REASONS[status]}: {error.text}\n".encode()
    assert response.get("connection") == "close"
    assert codec.should_close and codec.phase is Phase.DONE
    assert codec.encode(error, 0) == b""  # one response per connection


def test_other_events_before_the_handshake_are_not_sent() -> None:
    codec = WebCodec(MAX_LINE, SITE)
    assert codec.encode(ErrorEvent.of(ErrorCode.UNKNOWN_COMMAND, name="x"), 0) == b""
    assert codec.phase is Phase.HTTP


@pytest.mark.parametrize(
    ("host", "served"),
    [
        ("chat.lan", True),
        ("CHAT.lan:9000", True),
        ("192.168.1.10:9000", True),
        ("[::1]:9000", True),
        ("evil.example", False),
        ("evil.example:9000", False),
        ("chat.lan.evil.example", False),
    ],
)
def test_host_names_stop_dns_rebinding(host: str, served: bool) -> None:
    """With ``--web-host-name``, a page or WebSocket asked for under another name (a
    hostile name pointed at this server: DNS rebinding) gets 421, even with a matching
    Origin."""
    for raw in (handshake(host=host, origin=f"http://{host}"), f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()):
        codec = WebCodec(MAX_LINE, SITE, host_names=frozenset({"chat.lan", "192.168.1.10", "[::1]"}))
        codec.receive_data(raw)
        status = parse_response(codec.data_to_send()).status
        assert (status != 421) is served, (raw, status)
        assert status in ((101, 200) if served else (421,))


def test_without_host_names_any_host_is_served() -> None:
    codec = WebCodec(MAX_LINE, SITE)
    codec.receive_data(handshake(host="evil.example", origin="http://evil.example"))
    assert parse_response(codec.data_to_send()).status == 101


def test_the_answer_to_plain_http_on_the_https_port_is_http() -> None:
    response = parse_response(WebCodec.plain_on_tls)
    assert response.status == 400 and b"HTTPS" in response.body


def test_a_static_get_is_the_whole_exchange() -> None:
    codec = WebCodec(MAX_LINE, SITE)
    assert codec.receive_data(b"GET / HTTP/1.1\r\nHost: chat.example\r\n\r\n") == []
    response = parse_response(codec.data_to_send())
    assert (response.status, response.body) == (200, b"<!doctype html>")
    assert response.get("content-security-policy") == content_security_policy("chat.example")
    assert codec.should_close and not codec.ready and codec.phase is Phase.DONE
    assert codec.receive_data(b"GET / HTTP/1.1\r\n\r\n") == [] and codec.data_to_send() == b""


@pytest.mark.parametrize(
    ("raw", "status", "body"),
    [
        pytest.param(b"GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", 404, True, id="404"),
        pytest.param(b"HEAD /nope HTTP/1.1\r\nHost: a\r\n\r\n", 404, False, id="head-404"),
        pytest.param(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", 200, False, id="head"),
        pytest.param(b"POST /ws HTTP/1.1\r\nHost: a\r\n\r\n", 405, True, id="post"),
        pytest.param(b"BREW / HTCPCP/1.0\r\n\r\n", 400, True, id="garbage"),
        pytest.param(b"x" * 9000, 431, True, id="too-large"),
        pytest.param(handshake(ws_version="8"), 426, True, id="ws-version"),
        pytest.param(handshake(origin="https://evil.example"), 403, True, id="ws-origin"),
        pytest.param(handshake(upgrade=None), 426, True, id="ws-plain-get"),
        pytest.param(handshake(method="HEAD"), 405, False, id="ws-head"),
    ],
)
def test_http_answers_close_the_connection(raw: bytes, status: int, body: bool) -> None:
    codec = WebCodec(MAX_LINE, SITE)
    assert codec.receive_data(raw) == []
    response = parse_response(codec.data_to_send())
    assert response.status == status
    assert bool(response.body) is body
    assert response.get("connection") == "close"
    assert codec.should_close and not codec.ready


def test_the_426_for_a_version_names_13() -> None:
    codec = WebCodec(MAX_LINE, SITE)
    codec.receive_data(handshake(ws_version="8"))
    assert parse_response(codec.data_to_send()).get("sec-websocket-version") == "13"


def test_the_head_is_bounded() -> None:
    codec = WebCodec(MAX_LINE, SITE)
    for _ in range(100):
        codec.receive_data(b"X-Filler: " + b"y" * 70 + b"\r\n")
        assert codec.pending <= 8192
    assert codec.should_close


# --- WebCodec: the WebSocket phase --------------------------------------------------------


def opened(max_line: int = MAX_LINE, allowed: frozenset[str] = frozenset()) -> WebCodec:
    codec = WebCodec(max_line, SITE, allowed)
    assert codec.receive_data(handshake()) == []
    assert parse_response(codec.data_to_send()).status == 101
    assert codec.ready and codec.phase is Phase.WEBSOCKET and not codec.should_close
    return codec


def test_allowed_origins_are_normalised() -> None:
    codec = WebCodec(MAX_LINE, SITE, frozenset({"HTTPS://App.Example/"}))
    codec.receive_data(handshake(origin="https://app.example"))
    assert codec.ready


def test_frames_right_behind_the_handshake() -> None:
    codec = WebCodec(MAX_LINE, SITE)
    assert codec.receive_data(handshake() + text("login\n") + frame(OP_PING, b"p")) == ["login"]
    data = codec.data_to_send()
    assert data.startswith(b"HTTP/1.1 101 ")
    assert server_frames(data.partition(b"\r\n\r\n")[2]) == [Frame(True, OP_PONG, b"p")]


@pytest.mark.parametrize(
    ("message", "item"),
    [
        pytest.param("login", "login", id="plain"),
        pytest.param("login\n", "login", id="lf"),
        pytest.param("login\r\n", "login", id="crlf"),
        pytest.param("", "", id="empty"),
        pytest.param("\n", "", id="only-lf"),
        pytest.param("\r\n", "", id="only-crlf"),
        pytest.param("a\tb ☃", "a\tb ☃", id="tab-and-unicode"),
        pytest.param("a\n\n", ProtocolError(ErrorCode.MULTILINE_MESSAGE), id="one-terminator-only"),
        pytest.param("a\nb", ProtocolError(ErrorCode.MULTILINE_MESSAGE), id="two-lines"),
        pytest.param("a\nb\n", ProtocolError(ErrorCode.MULTILINE_MESSAGE), id="two-terminated-lines"),
        pytest.param("a\rb", ProtocolError(ErrorCode.MULTILINE_MESSAGE), id="lone-cr"),
        pytest.param("a\r", ProtocolError(ErrorCode.MULTILINE_MESSAGE), id="trailing-cr"),
        pytest.param("a\r\r\n", ProtocolError(ErrorCode.MULTILINE_MESSAGE), id="cr-crlf"),
        pytest.param("x" * MAX_LINE, "x" * MAX_LINE, id="max-line"),
        pytest.param("x" * MAX_LINE + "\r\n", "x" * MAX_LINE, id="max-line-crlf"),
        pytest.param("é" * (MAX_LINE // 2), "é" * (MAX_LINE // 2), id="max-line-2-byte-chars"),
        pytest.param("x" * (MAX_LINE + 1), ProtocolError(ErrorCode.LINE_TOO_LONG, limit=MAX_LINE), id="one-over"),
        pytest.param("x" * (MAX_LINE + 1) + "\n", ProtocolError(ErrorCode.LINE_TOO_LONG, limit=MAX_LINE), id="one-over-lf"),
        pytest.param("x" * MAX_LINE + "é", ProtocolError(ErrorCode.LINE_TOO_LONG, limit=MAX_LINE), id="two-over"),
    ],
)
def test_one_message_is_one_line(message: str, item: object) -> None:
    codec = opened()
    assert codec.receive_data(text(message)) == [item]
    assert not codec.should_close and codec.data_to_send() == b""


def test_a_message_past_max_line_plus_2_closes_with_1009() -> None:
    codec = opened()
    assert codec.receive_data(text("x" * (MAX_LINE + 3))) == []
    assert server_frames(codec.data_to_send())[0].close_code == 1009
    assert codec.should_close and not codec.peer_closed


def test_lines_then_a_violation() -> None:
    codec = opened()
    items = codec.receive_data(text("one") + text("two\n") + frame(OP_BINARY, b"x") + text("three"))
    assert items == ["one", "two"]
    assert server_frames(codec.data_to_send()) == [Frame(True, OP_CLOSE, (1003).to_bytes(2, "big") + b"binary messages are not accepted")]
    assert codec.should_close
    assert codec.encode(Greeting(), 0) == b"" and codec.close_data() == b""


def test_encode_is_one_json_text_frame_at_first() -> None:
    codec = opened()
    event = Message("alice", "hi there")
    data = codec.encode(event, 1700000000.5)
    [sent] = server_frames(data)
    assert (sent.fin, sent.opcode) == (True, OP_TEXT)
    assert sent.payload + b"\n" == encode_json(event, 1700000000.5)
    assert json.loads(sent.payload)["type"] == "message"


def test_mode_text() -> None:
    codec = opened()
    codec.switch_mode("text")
    assert codec.mode_key == WS_TEXT
    assert server_frames(codec.encode(Message("alice", "hi"), 0)) == [Frame(True, OP_TEXT, b"alice: hi")]
    welcome = Welcome("bob", ("alice", "bob"))
    assert server_frames(codec.encode(welcome, 0))[0].payload + b"\n" == encode_for_mode("text", welcome, 0)
    assert codec.encode(Typing("alice", True), 0) == b""
    codec.switch_mode("json")
    assert codec.mode_key == WS_JSON
    assert codec.encode(Typing("alice", True), 0) != b""


def test_equal_mode_keys_give_equal_bytes() -> None:
    first, second = opened(), opened()
    second.switch_mode("text")
    second.switch_mode("json")
    assert first.mode_key == second.mode_key
    assert first.encode(Message("a", "b"), 5.0) == second.encode(Message("a", "b"), 5.0)


def test_mode_key_follows_the_handshake_and_closes() -> None:
    """``mode_key`` is a plain attribute (read per recipient of every broadcast): it must
    turn silent whichever way a close frame gets queued."""
    codec = WebCodec(MAX_LINE, SITE)
    codec.receive_data(handshake())
    assert codec.mode_key == WS_JSON
    codec.receive_data(close(1000))  # the browser's close, echoed
    assert codec.mode_key == WS_SILENT and codec.encode(Greeting(), 0) == b""
    failed = opened()
    failed.receive_data(frame(OP_TEXT, b"hi", rsv=1))  # an RSV bit without an extension: close 1002
    assert failed.should_close and failed.mode_key == WS_SILENT
    right_behind = WebCodec(MAX_LINE, SITE)
    right_behind.receive_data(handshake() + close(1000))  # a close sent with the handshake
    assert right_behind.ready and right_behind.mode_key == WS_SILENT
    texted = opened()
    texted.switch_mode("text")
    texted.close_data()
    assert texted.mode_key == WS_SILENT
    texted.switch_mode("json")  # no mode brings a closed connection back
    assert texted.mode_key == WS_SILENT


def test_close_data_once() -> None:
    codec = opened()
    codec.receive_data(frame(OP_PING, b"p"))  # a pong not yet taken goes out before the close
    data = codec.close_data()
    assert server_frames(data) == [Frame(True, OP_PONG, b"p"), Frame(True, OP_CLOSE, b"\x03\xe9server closing")]
    assert codec.close_data() == b""
    assert codec.encode(Greeting(), 0) == b""
    assert codec.mode_key == WS_SILENT  # shares no rendering with open connections
    assert not codec.should_close
    assert codec.receive_data(text("late") + close(1000)) == []
    assert codec.data_to_send() == b""  # no echo: our close was the first
    assert codec.should_close and codec.peer_closed


def test_close_data_with_code_1000() -> None:
    assert server_frames(opened().close_data(CloseCode.NORMAL, "bye")) == [Frame(True, OP_CLOSE, b"\x03\xe8bye")]


def test_the_browser_closes() -> None:
    codec = opened()
    assert codec.receive_data(text("bye") + close(1001, b"tab closed")) == ["bye"]
    assert server_frames(codec.data_to_send()) == [Frame(True, OP_CLOSE, b"\x03\xe9")]
    assert codec.peer_closed and codec.should_close
    assert codec.encode(Greeting(), 0) == b"" and codec.close_data() == b""


# --- properties ---------------------------------------------------------------------------


@st.composite
def client_frames(draw: st.DrawFn) -> bytes:
    """One frame as a client (or a fuzzer) might send it: mostly valid, sometimes not."""
    opcode = draw(st.sampled_from([OP_TEXT] * 8 + [OP_CONTINUATION] * 3 + [OP_PING] * 3 + [OP_PONG, OP_CLOSE, OP_BINARY, 3, 0xB]))
    payload = draw(
        st.one_of(
            st.text(max_size=20).map(lambda s: s.encode()),
            st.text(max_size=20).map(lambda s: s.encode()),
            st.sampled_from([b"\n", b"a\r\n", b"a\nb", b"\xff", b"\xe2\x98", b"\x98\x83", b"\x03\xe8", b"\x03\xed", b"x" * 70]),
            st.binary(max_size=8),
        )
    )
    fin = draw(st.integers(0, 3)) > 0 if opcode in (OP_TEXT, OP_CONTINUATION) else draw(st.integers(0, 9)) > 0
    rsv = 4 if draw(st.integers(0, 39)) == 0 else 0
    mask = draw(st.binary(min_size=4, max_size=4))
    data = encode_client_frame(opcode, payload, mask, fin=fin, rsv=rsv)
    if draw(st.integers(0, 39)) == 0:
        data = encode_frame(opcode, payload, fin=fin)  # unmasked
    return data


_PAYLOADS = st.one_of(
    st.text(max_size=30).map(lambda s: s.encode()),
    st.sampled_from([b"login\n", b"a\r\n", b"a\nb", b"x" * 66, b"\xe2\x98\x83", b"\xff"]),
)


@st.composite
def well_formed_messages(draw: st.DrawFn) -> bytes:
    """A text message cut into fragments, with pings and pongs between them."""
    payload = draw(_PAYLOADS)
    cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=3)))
    bounds = [0, *cuts, len(payload)]
    pieces = [payload[a:b] for a, b in zip(bounds, bounds[1:])]
    mask = draw(st.binary(min_size=4, max_size=4))
    data = b""
    for index, piece in enumerate(pieces):
        data += encode_client_frame(OP_TEXT if index == 0 else OP_CONTINUATION, piece, mask, fin=index == len(pieces) - 1)
        if draw(st.integers(0, 3)) == 0:
            data += encode_client_frame(draw(st.sampled_from([OP_PING, OP_PONG])), draw(st.binary(max_size=4)), mask)
    return data


def client_streams() -> st.SearchStrategy[bytes]:
    """Streams of well-formed messages, of fuzzed frames, of both, and of junk."""
    good = st.lists(well_formed_messages(), max_size=6).map(b"".join)
    fuzzed = st.lists(client_frames(), max_size=8).map(b"".join)
    mixed = st.lists(st.one_of(well_formed_messages(), client_frames()), max_size=8).map(b"".join)
    return st.one_of(good, fuzzed, mixed, st.binary(max_size=60))


def run_codec(chunks: list[bytes], head: bytes) -> tuple[list[object], bytes, bool, bool, bool]:
    codec = WebCodec(MAX_LINE, SITE)
    items: list[object] = []
    out = b""
    for chunk in [head, *chunks]:
        items += codec.receive_data(chunk)
        out += codec.data_to_send()
        assert codec.pending <= (MAX_LINE + 2 + MAX_HEADER + 125 if codec.ready else 8192)
    return items, out, codec.should_close, codec.peer_closed, codec.ready


@given(stream=client_streams(), draw=st.data())
def test_any_chunking_gives_the_same_items_and_bytes(stream: bytes, draw: st.DataObject) -> None:
    whole = run_codec([stream], handshake())
    assert run_codec(draw.draw(chunkings(stream)), handshake()) == whole
    items, out, _, _, _ = whole
    assert all(isinstance(item, str | ProtocolError) for item in items)
    server_frames(out.partition(b"\r\n\r\n")[2])  # whole, unmasked frames
    closes = [f for f in server_frames(out.partition(b"\r\n\r\n")[2]) if f.opcode == OP_CLOSE]
    assert len(closes) <= 1
    if closes:  # nothing after the close frame
        assert out.endswith(encode_frame(OP_CLOSE, closes[0].payload))


@given(stream=st.one_of(st.binary(max_size=300), client_streams().map(lambda s: handshake() + s)), draw=st.data())
def test_any_bytes_from_the_first_byte(stream: bytes, draw: st.DataObject) -> None:
    assert run_codec(draw.draw(chunkings(stream)), b"") == run_codec([stream], b"")


@given(stream=client_streams())
def test_memory_stays_bounded_after_each_chunk(stream: bytes) -> None:
    codec = opened()
    for at in range(len(stream)):  # byte by byte: the worst case for buffering
        codec.receive_data(stream[at : at + 1])
        assert codec.pending <= MAX_LINE + 2 + MAX_HEADER + 125


@given(
    message=st.text(max_size=200),
    mask=st.binary(min_size=4, max_size=4),
    cuts=st.lists(st.integers(0, 800), max_size=5),
    pings=st.lists(st.binary(max_size=125), max_size=3),
)
def test_any_text_round_trips_masked_and_fragmented(message: str, mask: bytes, cuts: list[int], pings: list[bytes]) -> None:
    payload = message.encode()
    bounds = sorted({0, len(payload), *(c for c in cuts if c < len(payload))})
    pieces = [payload[a:b] for a, b in zip(bounds, bounds[1:])] or [b""]
    data = b""
    for index, piece in enumerate(pieces):
        opcode = OP_TEXT if index == 0 else OP_CONTINUATION
        data += encode_client_frame(opcode, piece, mask, fin=index == len(pieces) - 1)
        if pings and index < len(pieces) - 1:
            data += encode_client_frame(OP_PING, pings[index % len(pings)], mask)
    protocol = ServerProtocol(1000)
    messages, sent = feed(protocol, data)
    assert messages == [message]
    assert all(f.opcode == OP_PONG for f in sent)


@given(line=st.text(max_size=40).filter(lambda s: "\n" not in s and "\r" not in s), terminator=st.sampled_from(["", "\n", "\r\n"]))
def test_any_line_round_trips_through_the_codec(line: str, terminator: str) -> None:
    codec = opened(max_line=4 * 40)  # 40 characters of up to 4 bytes
    assert codec.receive_data(text(line + terminator)) == [line]


def test_an_open_websocket_keeps_no_per_connection_state_it_no_longer_needs() -> None:
    """10,000 idle WebSockets cost about what TCP connections do (bench/idle.py --ws):
    no instance dictionaries, no request reader after the head, one origins set for all
    codecs of a listener, no UTF-8 decoder or message buffer between messages."""
    origins = frozenset({"https://Chat.example.org/"})
    first, second = WebCodec(MAX_LINE, SITE, origins), WebCodec(MAX_LINE, SITE, origins)
    assert first._allowed_origins is second._allowed_origins == frozenset({"https://chat.example.org"})
    assert not hasattr(first, "__dict__")
    first.receive_data(handshake(origin=None) + frame(OP_TEXT, "hello é".encode()))
    assert first.ready and first._reader is None
    protocol = first._websocket
    assert protocol is not None and not hasattr(protocol, "__dict__")
    assert (protocol._decoder, protocol._binary) == (None, None)
    assert first.receive_data(frame(OP_TEXT, "é".encode()[:1], fin=False)) == []
    assert protocol._decoder is not None  # a text message under way keeps its decoder
    assert first.receive_data(frame(OP_CONTINUATION, "é".encode()[1:])) == ["é"]
    assert protocol._decoder is None
