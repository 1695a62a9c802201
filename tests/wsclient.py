"""Test-side helpers for the web front end: the client half that the server never needs.

* :func:`handshake` builds an opening-handshake request;
* :func:`parse_response` splits an HTTP response into status, fields and body;
* :func:`server_frames` decodes what the server sent (and checks it is unmasked).

Masked client frames come from :func:`pollchat.protocol.websocket.encode_client_frame`,
which ``bench/`` can import as well.
"""

from __future__ import annotations

from dataclasses import dataclass

from pollchat.protocol.websocket import OP_CLOSE

RFC_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
"""The sample key of RFC 6455 section 1.3 ..."""
RFC_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
"""... and its ``Sec-WebSocket-Accept``."""

HOST = "chat.example:8080"


def handshake(
    *,
    path: str = "/ws",
    method: str = "GET",
    version: str = "HTTP/1.1",
    host: str | None = HOST,
    upgrade: str | None = "websocket",
    connection: str | None = "Upgrade",
    ws_version: str | None = "13",
    key: str | None = RFC_KEY,
    origin: str | None = f"http://{HOST}",
    extra: tuple[tuple[str, str], ...] = (),
) -> bytes:
    """A handshake request as a browser sends it; ``None`` leaves a field out."""
    fields = [
        ("Host", host),
        ("Upgrade", upgrade),
        ("Connection", connection),
        ("Sec-WebSocket-Version", ws_version),
        ("Sec-WebSocket-Key", key),
        ("Origin", origin),
        *extra,
    ]
    lines = [f"{method} {path} {version}"] + [f"{name}: {value}" for name, value in fields if value is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]  # names lower-cased
    body: bytes

    def get(self, name: str) -> str | None:
        found = [value for field, value in self.headers if field == name.lower()]
        assert len(found) <= 1, f"{name} sent {len(found)} times"
        return found[0] if found else None


def parse_response(data: bytes) -> Response:
    """An HTTP/1.1 response (as this server writes it: CRLF, no folding)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, "no end of head"
    lines = head.decode("latin-1").split("\r\n")
    protocol, status, _reason = lines[0].split(" ", 2)
    assert protocol == "HTTP/1.1"
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(": ")
        assert colon, line
        headers.append((name.lower(), value))
    return Response(int(status), headers, body)


@dataclass(frozen=True)
class Frame:
    fin: bool
    opcode: int
    payload: bytes

    @property
    def close_code(self) -> int | None:
        assert self.opcode == OP_CLOSE
        return int.from_bytes(self.payload[:2], "big") if self.payload else None


def server_frames(data: bytes) -> list[Frame]:
    """Every frame in ``data``, which must hold whole, unmasked frames with RSV 0."""
    frames = []
    at = 0
    while at < len(data):
        first, second = data[at], data[at + 1]
        assert not first & 0x70, "RSV bits set"
        assert not second & 0x80, "server frames are never masked"
        length, at = second & 0x7F, at + 2
        if length == 126:
            length, at = int.from_bytes(data[at : at + 2], "big"), at + 2
        elif length == 127:
            length, at = int.from_bytes(data[at : at + 8], "big"), at + 8
        payload = data[at : at + length]
        assert len(payload) == length, "truncated frame"
        frames.append(Frame(bool(first & 0x80), first & 0x0F, payload))
        at += length
    return frames
