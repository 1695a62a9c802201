"""RFC 6455 WebSocket, server side, sans-IO: the opening handshake and the frames.

* :func:`handshake_response` checks a parsed ``GET /ws`` request
  (:class:`~pollchat.protocol.http.Request`) and returns the ``101 Switching
  Protocols`` bytes, or raises :class:`~pollchat.errors.HttpError` (400, 403, 405, 426).
* :class:`ServerProtocol` is one open connection: bytes in (:meth:`~ServerProtocol.
  receive_data`), messages out (:meth:`~ServerProtocol.next_message`), and the bytes it
  must send itself (pongs, close frames) from :meth:`~ServerProtocol.data_to_send`.
* :func:`encode_frame` builds frames; :func:`encode_client_frame` builds masked
  client frames for tests and tools (the server never sends one).

No extensions (a ``permessage-deflate`` offer is ignored, so not negotiated: RFC 6455
section 9.1) and no subprotocols. The limits and close codes are listed in
``docs/websocket.md``.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import enum
import hashlib

from pollchat.errors import HttpError
from pollchat.protocol.http import Request

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
"""The RFC 6455 section 1.3 constant appended to the key for ``Sec-WebSocket-Accept``."""

WEBSOCKET_VERSION = "13"
"""The only protocol version (RFC 6455 section 4.1); a client asking for another gets
426 with ``Sec-WebSocket-Version: 13`` (section 4.4)."""

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
_DATA_OPCODES = frozenset({OP_CONTINUATION, OP_TEXT, OP_BINARY})
_CONTROL_OPCODES = frozenset({OP_CLOSE, OP_PING, OP_PONG})

MAX_CONTROL_PAYLOAD = 125
"""Bytes in a control frame's payload (RFC 6455 section 5.5)."""

MAX_HEADER = 14
"""Bytes in the longest client frame header: 2, an 8-byte length, a 4-byte mask key."""


class CloseCode(enum.IntEnum):
    """The close status codes this server sends (RFC 6455 section 7.4.1)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key`` (RFC 6455 section
    4.2.2 item 5.4): base64 of the SHA-1 of the key followed by :data:`GUID`."""
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()  # the RFC fixes SHA-1; no secrecy involved
    return base64.b64encode(digest).decode("ascii")


def origin_allowed(request: Request, allowed_origins: frozenset[str] = frozenset()) -> bool:
    """Whether the handshake's ``Origin`` may open a WebSocket (cross-site WebSocket
    hijacking protection; RFC 6455 section 10.2 leaves the policy to the server).

    Accepted:

    * no ``Origin`` at all: not a browser (browsers always send it on a WebSocket
      handshake), so there is no victim's cookie or session to ride on;
    * an ``http``/``https`` origin whose ``host[:port]`` equals the ``Host`` header
      (case-insensitive): the page came from this very server;
    * an origin in ``allowed_origins`` (lower-case, e.g. ``"https://chat.example"``),
      for a page served from elsewhere or behind a proxy that rewrites ``Host``.

    Refused: anything else, ``null`` (sandboxed frames, ``file:`` pages) and several
    ``Origin`` fields.
    """
    origins = request.values("origin")
    if not origins:
        return True
    if len(origins) > 1:
        return False
    origin = origins[0].lower()
    if origin == "null":
        return False
    if origin in allowed_origins:
        return True
    scheme, sep, authority = origin.partition("://")
    host = request.host
    return bool(sep) and scheme in ("http", "https") and host is not None and authority == host.lower()


def handshake_response(request: Request, allowed_origins: frozenset[str] = frozenset()) -> bytes:
    """The ``101 Switching Protocols`` response to a valid opening handshake.

    The checks of RFC 6455 section 4.2.1, in this order:

    * method ``GET`` (else 405 with ``Allow: GET``) and HTTP/1.1 (else 400);
    * ``Upgrade`` lists the token ``websocket``, any case (else 426 with
      ``Upgrade: websocket``: the answer a browser gets when the URL is typed in);
    * ``Connection`` lists the token ``upgrade``, any case (else 400);
    * exactly one ``Sec-WebSocket-Version``, equal to ``13`` (else 426 with
      ``Sec-WebSocket-Version: 13``, section 4.4);
    * exactly one ``Sec-WebSocket-Key`` that is the base64 of 16 bytes (else 400);
    * the ``Origin`` passes :func:`origin_allowed` (else 403).

    Returns:
        The response bytes; no extension and no subprotocol is selected.

    Raises:
        HttpError: as listed.
    """
    if request.method != "GET":
        raise HttpError(405, "a WebSocket handshake is a GET", (("Allow", "GET"),))
    if request.version != "HTTP/1.1":
        raise HttpError(400, "a WebSocket handshake needs HTTP/1.1")
    if "websocket" not in request.tokens("upgrade"):
        raise HttpError(426, "this is a WebSocket endpoint", (("Upgrade", "websocket"),))
    if "upgrade" not in request.tokens("connection"):
        raise HttpError(400, "Connection must include upgrade")
    if request.values("sec-websocket-version") != [WEBSOCKET_VERSION]:
        raise HttpError(426, "WebSocket version 13 only", (("Sec-WebSocket-Version", WEBSOCKET_VERSION),))
    keys = request.values("sec-websocket-key")
    if len(keys) != 1 or not _valid_key(keys[0]):
        raise HttpError(400, "Sec-WebSocket-Key must be the base64 of 16 bytes")
    if not origin_allowed(request, allowed_origins):
        raise HttpError(403, "origin not allowed")
    return (
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept_key(keys[0])}\r\n"
        "\r\n"
    ).encode("ascii")


def _valid_key(key: str) -> bool:
    if len(key) != 24:  # 16 bytes in base64, padding included
        return False
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except binascii.Error:
        return False


def valid_close_code(code: int) -> bool:
    """Whether a peer may send ``code`` in a close frame (RFC 6455 section 7.4): the
    defined codes 1000-1003 and 1007-1011, and 3000-4999 (registered and private use).
    1004 is reserved, 1005, 1006 and 1015 must never be sent, and the rest of 0-2999
    is unassigned (1012-1014 were registered after RFC 6455 for servers only)."""
    return 1000 <= code <= 1003 or 1007 <= code <= 1011 or 3000 <= code <= 4999


def apply_mask(data: bytes, mask: bytes, offset: int = 0) -> bytes:
    """``data`` XOR the 4-byte ``mask`` repeated (RFC 6455 section 5.3), starting at
    byte ``offset`` of the payload (for a payload that arrives in pieces). Masking and
    unmasking are the same operation. One big-integer XOR: fast without C code."""
    size = len(data)
    if not size:
        return b""
    offset %= 4
    mask = mask[offset:] + mask[:offset]
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(data, "little") ^ int.from_bytes(key, "little")).to_bytes(size, "little")


def encode_frame(opcode: int, payload: bytes | memoryview, *, fin: bool = True, mask: bytes | None = None, rsv: int = 0) -> bytes:
    """One frame (RFC 6455 section 5.2), with the shortest length encoding.

    Args:
        opcode: ``OP_TEXT``, ``OP_CLOSE``... (0-15).
        payload: the application data (bytes, or a view of them), unmasked.
        fin: the FIN bit (``False`` for all but the last fragment).
        mask: a 4-byte masking key (client frames), or ``None`` (server frames are
            never masked: section 5.1).
        rsv: the three RSV bits as a number 0-7 (tests only; no extension sets them).
    """
    first = (0x80 if fin else 0) | (rsv & 0x7) << 4 | opcode & 0x0F
    size = len(payload)
    mask_bit = 0x80 if mask is not None else 0
    if size < 126:
        header = bytes((first, mask_bit | size))
    elif size < 1 << 16:
        header = bytes((first, mask_bit | 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((first, mask_bit | 127)) + size.to_bytes(8, "big")
    if mask is None:
        return header + payload
    if len(mask) != 4:
        raise ValueError("a masking key is 4 bytes")
    return header + mask + apply_mask(bytes(payload), mask)


def encode_client_frame(opcode: int, payload: bytes, mask: bytes = b"\x37\xfa\x21\x3d", *, fin: bool = True, rsv: int = 0) -> bytes:
    """A masked frame as a client sends it: for tests and tools (``bench/``), never
    used by the server. A real client must draw a fresh unpredictable ``mask`` for each
    frame (RFC 6455 section 5.3); the fixed default keeps test output reproducible."""
    return encode_frame(opcode, payload, fin=fin, mask=mask, rsv=rsv)


def close_frame(code: int | None = None, reason: str = "") -> bytes:
    """A server close frame: empty when ``code`` is ``None``, else the 2-byte code and
    the UTF-8 ``reason`` (cut to fit the 125-byte control payload)."""
    if code is None:
        return encode_frame(OP_CLOSE, b"")
    payload = code.to_bytes(2, "big") + reason.encode("utf-8")[: MAX_CONTROL_PAYLOAD - 2]
    return encode_frame(OP_CLOSE, payload)


Message = str | bytes
"""A complete message: ``str`` for text, ``bytes`` for binary (when allowed)."""


_utf8_decoder = codecs.getincrementaldecoder("utf-8")


class ServerProtocol:
    """The server side of one open WebSocket connection, after the 101.

    Args:
        max_message: the largest message accepted, in payload bytes over all its
            fragments; a frame that would go past it closes with 1009 before its
            payload is read.
        allow_binary: accept binary messages (returned as ``bytes``); when ``False``
            (the chat) the first binary frame closes with 1003.

    Use, h11 style: :meth:`receive_data` with the bytes read, then :meth:`next_message`
    until it returns ``None``, sending :meth:`data_to_send` (pongs, close frames and
    the frames :meth:`send` queued) in order. Messages come one at a time so that a
    reply to a message is queued before the close frame of a close that followed it.

    A protocol violation fails the connection (RFC 6455 section 7.1.7): a close frame
    with its code is queued, :attr:`should_close` becomes true and later input is
    ignored. No method raises on any input. Memory: besides the bytes last given to
    :meth:`receive_data` and not yet parsed, at most one frame header (14 bytes), one
    control payload (125 bytes) and ``max_message`` bytes of the current message.
    """

    # One per open WebSocket (10,000 idle ones in a server): slots, and the buffers of
    # a message being assembled are made when one arrives.
    __slots__ = (
        "max_message",
        "allow_binary",
        "_input",
        "_output",
        "close_sent",
        "peer_closed",
        "should_close",
        "failure",
        "peer_close_code",
        "frames",
        "_opcode",
        "_fin",
        "_mask",
        "_offset",
        "_remaining",
        "_control",
        "_message_type",
        "_message_size",
        "_binary",
        "_decoder",
    )

    def __init__(self, max_message: int, *, allow_binary: bool = False) -> None:
        if max_message < 1:
            raise ValueError("max_message must be at least 1")
        self.max_message = max_message
        self.allow_binary = allow_binary
        self._input = bytearray()  # received, not parsed yet
        self._output = bytearray()
        self.close_sent = False
        """A close frame was queued: no frame is sent after it (section 5.5.1)."""
        self.peer_closed = False
        """The peer sent a valid close frame."""
        self.should_close = False
        """The close handshake is done, or the connection failed: close the TCP
        connection once :meth:`data_to_send` is flushed (section 7.1.1: the server
        closes first)."""
        self.failure: CloseCode | None = None
        """The close code this side failed the connection with, if it did."""
        self.peer_close_code: int | None = None
        """The code of the peer's close frame (``None``: none yet, or it had none)."""
        self.frames = 0
        """Frame headers parsed so far, of every kind (data, continuation, control): the
        work a peer made this side do, for an input budget (an empty frame is cheap to
        send and not free to parse)."""
        # The frame being read: None until its header is complete.
        self._opcode: int | None = None
        self._fin = False
        self._mask = b""
        self._offset = 0  # payload bytes of this frame read so far
        self._remaining = 0  # payload bytes of this frame still to read
        self._control = b""  # at most 125 bytes
        # The data message being assembled (OP_TEXT or OP_BINARY), if any.
        self._message_type: int | None = None
        self._message_size = 0
        self._binary: bytearray | None = None  # the message's payload so far, text or binary; made per message
        self._decoder: codecs.IncrementalDecoder | None = None  # made for each text message

    # --- input ---------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Take received bytes (any chunking); parse them with :meth:`next_message`."""
        if not self.should_close:
            self._input += data

    def next_message(self) -> Message | None:
        """The next complete message, or ``None`` when the input held has none (or the
        connection is done). Pongs and close replies are queued as their frames come."""
        try:
            while not self.should_close:
                if self._opcode is None:
                    if not self._read_header():
                        return None
                elif self._remaining == 0 or self._input:
                    message = self._read_payload()
                    if message is not None:
                        return message
                else:
                    return None
            return None
        finally:
            if self.should_close:
                self._input.clear()

    def receive_messages(self, data: bytes) -> list[Message]:
        """:meth:`receive_data` then every :meth:`next_message`: for a caller that
        does not need to interleave replies (the chat: it renders replies later)."""
        self.receive_data(data)
        messages: list[Message] = []
        while (message := self.next_message()) is not None:
            messages.append(message)
        return messages

    @property
    def pending(self) -> int:
        """Bytes held for unfinished input: unparsed bytes, the current control payload
        and the current message so far."""
        return len(self._input) + len(self._control) + self._message_size

    # --- output --------------------------------------------------------------------

    def send(self, message: Message) -> None:
        """Queue ``message`` as one unfragmented text (``str``) or binary (``bytes``)
        frame; nothing once a close frame was queued."""
        if self.close_sent:
            return
        if isinstance(message, str):
            self._output += encode_frame(OP_TEXT, message.encode("utf-8"))
        else:
            self._output += encode_frame(OP_BINARY, message)

    def send_close(self, code: int | None = CloseCode.NORMAL, reason: str = "") -> None:
        """Start the closing handshake (RFC 6455 section 5.5.1): queue a close frame
        once; later data frames from the peer are read but dropped, and its close
        frame completes the handshake (:attr:`should_close`)."""
        if not self.close_sent:
            self.close_sent = True
            self._output += close_frame(code, reason)

    def data_to_send(self) -> bytes:
        """The bytes queued to send, in order; clears them."""
        data = bytes(self._output)
        self._output.clear()
        return data

    # --- frame parsing -------------------------------------------------------------

    def _fail(self, code: CloseCode, reason: str) -> None:
        """Fail the connection (RFC 6455 section 7.1.7): close frame, then TCP close."""
        self.failure = code
        self.send_close(code, reason)
        self.should_close = True
        self._control = b""
        self._binary = None
        self._decoder = None
        self._message_size = 0

    def _read_header(self) -> bool:
        """Parse a frame header from the input; ``False`` if more bytes are needed.
        Every rule that the first two bytes decide is checked as soon as they arrive."""
        data = self._input
        if len(data) < 2:
            return False
        first, second = data[0], data[1]
        fin, rsv, opcode = bool(first & 0x80), first & 0x70, first & 0x0F
        masked, length = bool(second & 0x80), second & 0x7F
        if rsv:
            self._fail(CloseCode.PROTOCOL_ERROR, "reserved bits set")  # no extension: 5.2
            return True
        if opcode not in _DATA_OPCODES and opcode not in _CONTROL_OPCODES:
            self._fail(CloseCode.PROTOCOL_ERROR, "unknown opcode")  # 5.2
            return True
        if not masked:
            self._fail(CloseCode.PROTOCOL_ERROR, "client frames must be masked")  # 5.1
            return True
        if opcode in _CONTROL_OPCODES:
            if not fin:
                self._fail(CloseCode.PROTOCOL_ERROR, "fragmented control frame")  # 5.5
                return True
            if length > MAX_CONTROL_PAYLOAD:
                self._fail(CloseCode.PROTOCOL_ERROR, "control frame over 125 bytes")  # 5.5
                return True
        elif opcode == OP_CONTINUATION:
            if self._message_type is None:
                self._fail(CloseCode.PROTOCOL_ERROR, "continuation without a message")  # 5.4
                return True
        else:
            if self._message_type is not None:
                self._fail(CloseCode.PROTOCOL_ERROR, "new message inside a fragmented one")  # 5.4
                return True
            if opcode == OP_BINARY and not self.allow_binary and not self.close_sent:
                self._fail(CloseCode.UNSUPPORTED_DATA, "binary messages are not accepted")  # 7.4.1
                return True
        extra = 2 if length == 126 else 8 if length == 127 else 0
        if len(data) < 2 + extra + 4:
            return False
        if extra:
            length = int.from_bytes(data[2 : 2 + extra], "big")
            if length >> 63:
                self._fail(CloseCode.PROTOCOL_ERROR, "frame length with its top bit set")  # 5.2
                return True
        if opcode in _DATA_OPCODES and not self.close_sent and self._message_size + length > self.max_message:
            self._fail(CloseCode.MESSAGE_TOO_BIG, f"message over {self.max_message} bytes")
            return True
        self._mask = bytes(data[2 + extra : 6 + extra])
        del data[: 6 + extra]
        self.frames += 1
        self._opcode, self._fin, self._offset, self._remaining = opcode, fin, 0, length
        if opcode != OP_CONTINUATION and opcode in _DATA_OPCODES:
            self._message_type = opcode
            self._message_size = 0
        return True

    def _read_payload(self) -> Message | None:
        """Consume payload bytes of the current frame; the message it completes, if any."""
        take = min(self._remaining, len(self._input))
        chunk = apply_mask(bytes(self._input[:take]), self._mask, self._offset)
        del self._input[:take]
        self._offset += take
        self._remaining -= take
        opcode = self._opcode
        if opcode in _CONTROL_OPCODES:
            self._control += chunk
            if self._remaining == 0:
                self._opcode = None
                self._control_frame(opcode)
            return None
        if not self.close_sent:  # after our close, data is read but dropped
            self._message_size += take
            if self._message_type == OP_TEXT:
                try:
                    # Fail fast: an invalid sequence is refused as soon as its bytes
                    # are here, not at the end of the message (Autobahn section 6).
                    decoder = self._decoder
                    if decoder is None:
                        decoder = self._decoder = _utf8_decoder()
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    self._fail(CloseCode.INVALID_DATA, "invalid UTF-8 in a text message")
                    return None
            # The raw bytes, decoded once at the end: a message holds its payload
            # bytes and nothing per frame, so empty or one-byte continuation frames
            # cannot grow memory past max_message (RFC 6455 section 10.4).
            if self._binary is None:
                self._binary = bytearray()
            self._binary += chunk
        if self._remaining:
            return None
        self._opcode = None
        if not self._fin:
            return None
        return self._finish_message()

    def _finish_message(self) -> Message | None:
        message_type, self._message_type = self._message_type, None
        self._message_size = 0
        decoder, self._decoder = self._decoder, None
        if self.close_sent:  # dropped: forget what was held before our close
            self._binary = None
            return None
        if message_type == OP_BINARY:
            data = bytes(self._binary) if self._binary is not None else b""
            self._binary = None
            return data
        try:
            if decoder is not None:  # None: an empty message
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            self._fail(CloseCode.INVALID_DATA, "text message ends inside a UTF-8 sequence")
            return None
        payload, self._binary = self._binary, None
        return payload.decode("utf-8") if payload is not None else ""  # valid: the decoder saw every byte

    def _control_frame(self, opcode: int | None) -> None:
        payload, self._control = self._control, b""
        if opcode == OP_PING:
            if not self.close_sent:
                self._output += encode_frame(OP_PONG, payload)  # same payload: 5.5.2
        elif opcode == OP_CLOSE:
            self._peer_close(payload)
        # An unsolicited pong is allowed and ignored (5.5.3).

    def _peer_close(self, payload: bytes) -> None:
        """A close frame arrived: validate it, echo its code, end (RFC 6455 section 5.5.1)."""
        code: int | None = None
        if len(payload) == 1:
            self._fail(CloseCode.PROTOCOL_ERROR, "close payload of 1 byte")
            return
        if payload:
            code = int.from_bytes(payload[:2], "big")
            if not valid_close_code(code):
                self._fail(CloseCode.PROTOCOL_ERROR, f"invalid close code {code}")
                return
            try:
                payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                self._fail(CloseCode.INVALID_DATA, "close reason is not UTF-8")
                return
        self.peer_closed = True
        self.peer_close_code = code
        self.send_close(code)  # echo the code; an empty close gets an empty one
        self.should_close = True
