"""The transport table (``pollchat.server.transport``): what the loop asks instead of
``conn.tls``. The TLS handshake, plain text on the TLS port and close_notify run over
loopback in ``tests/loopback/test_server_tls.py``; here, the parts that need no peer."""

from __future__ import annotations

import socket
import ssl

from pollchat.protocol.codec import LineCodec
from pollchat.server.connection import Connection
from pollchat.server.loop import Listener
from pollchat.server.transport import PLAIN, Handshake, TlsTransport


def test_a_listener_picks_its_transport_from_its_tls_context() -> None:
    sock = socket.socket()
    try:
        listener = Listener(sock, lambda: LineCodec(100), None)
        assert listener.transport is PLAIN and listener.tls is None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        listener.tls = context  # a certificate reload: new connections only
        assert isinstance(listener.transport, TlsTransport) and listener.tls is context
        listener.tls = None
        assert listener.transport is PLAIN
    finally:
        sock.close()


def test_a_connection_copies_what_its_transport_says() -> None:
    a, b = socket.socketpair()
    try:
        plain = Connection(a, ("127.0.0.1", 1), None, LineCodec(100))  # type: ignore[arg-type]
        assert plain.direct_writes and plain.handshaking is Handshake.DONE and not plain.handshaking
        tls = Connection(b, ("127.0.0.1", 2), None, LineCodec(100), TlsTransport(ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)))  # type: ignore[arg-type]
        assert tls.direct_writes and tls.handshaking is Handshake.FIRST_BYTE and tls.handshaking
    finally:
        a.close()
        b.close()


def test_plain_recv_and_end_of_output() -> None:
    a, b = socket.socketpair()
    try:
        a.setblocking(False)
        b.sendall(b"hello")
        view = memoryview(bytearray(3))
        assert PLAIN.recv(a, view) == b"hel"  # at most len(view), copied out
        assert PLAIN.recv(a, view) == b"lo"
        PLAIN.shutdown_write(a)
        assert b.recv(10) == b""  # the peer sees EOF
    finally:
        a.close()
        b.close()
