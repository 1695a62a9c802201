"""Transports: how bytes cross an accepted socket, plain TCP or TLS.

The event loop never asks whether a connection is TLS; it asks the connection's
transport, one shared object per listener (Redis's ``ConnectionType`` table: a socket
type and a TLS type behind the same calls, with no per-connection object). What differs:

===================  ==========================  =======================================
                     :data:`PLAIN`               :class:`TlsTransport`
===================  ==========================  =======================================
accept               tune the socket             tune, then wrap it (server side, no
                                                 handshake yet)
first phase          :attr:`Handshake.DONE`      :attr:`Handshake.FIRST_BYTE`
handshake            never called                peek the first byte (plain text on the
                                                 TLS port gets one line in clear), then
                                                 ``do_handshake`` step by step
recv                 one ``recv_into``: all the  every whole record there is, up to
                     kernel holds, up to 64 KiB  64 KiB (``SSL_read`` returns one record
                                                 per call); an end met after some bytes
                                                 sets :attr:`~Transport.read_again`
send                 ``sock.send``: any prefix   ``sock.send``: whole records;
                     is taken                    :data:`SEND_NEEDS_READ` when TLS needs
                                                 the peer's bytes first
direct_writes        yes                         yes: ``send`` takes all or nothing (no
                                                 partial writes), and what it did not
                                                 take is copied whole into the buffer,
                                                 so the retry starts with the same bytes
end of output        ``shutdown(SHUT_WR)``       close_notify, then ``shutdown(SHUT_WR)``
===================  ==========================  =======================================

Sending is ``conn.sock.send(data)`` for both (the loop's hottest call stays one call):
it returns the bytes taken and raises one of :data:`SEND_BLOCKED` (take none now, wait
for writability), :data:`SEND_NEEDS_READ` (wait for a read) or another ``OSError`` (the
peer is gone).
"""

from __future__ import annotations

import enum
import socket
import ssl
from typing import Protocol

RECV_SIZE = 64 * 1024
"""Bytes read per readiness event, plain or TLS; one read of at most this many bytes per
connection per pass keeps it fair."""
KEEPALIVE_INTERVAL = 10
"""Seconds between keepalive probes once they start."""
KEEPALIVE_PROBES = 3
"""Unanswered probes before the kernel reports the connection dead."""

PLAIN_ON_TLS_PORT = b"this port speaks TLS: use pollchat-client --tls, or openssl s_client -connect HOST:PORT\n"
"""The one line a plain-text client gets on the TLS port (sent in clear, then closed)."""
TLS_HANDSHAKE_RECORD = 0x16
"""The first byte of a TLS ClientHello record (RFC 8446 section 5.1, ContentType handshake)."""

RECV_BLOCKED = (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError)
"""What :meth:`Transport.recv` raises when no whole chunk (no whole TLS record) came yet."""
SEND_BLOCKED = (BlockingIOError, InterruptedError, ssl.SSLWantWriteError)
"""What ``sock.send`` raises when the kernel takes nothing now: wait for writability."""
SEND_NEEDS_READ = ssl.SSLWantReadError
"""What ``sock.send`` raises when TLS needs the peer's bytes first (a renegotiation, a
key update): wait for the next read, not for writability."""


class Handshake(enum.IntEnum):
    """Where a connection's handshake is (``Connection.handshaking``); false once bytes
    may cross."""

    DONE = 0
    """No handshake (plain TCP) or it finished: chat bytes cross."""
    FIRST_BYTE = 1
    """Waiting for the peer's first byte: a TLS ClientHello, or plain text."""
    WANT_READ = 2
    """The TLS handshake is under way and waits for the peer's bytes."""
    WANT_WRITE = 3
    """The TLS handshake is under way and waits until the socket takes bytes."""
    PLAIN_TEXT = 4
    """Refused: plain text on the TLS port (:data:`PLAIN_ON_TLS_PORT` was sent)."""


class HandshakeError(OSError):
    """A handshake failed (a bad hello, no shared cipher, a reset); ``str()`` is the
    reason for the log."""


class Transport(Protocol):
    """What the loop needs of a transport (see the module's table)."""

    direct_writes: bool
    """Large output may be sent straight from a buffer shared by many connections and
    only what the kernel did not take kept; copied to ``Connection.direct_writes``,
    where the broadcast flush reads it once per member."""
    first_phase: Handshake
    """``Connection.handshaking`` of a connection just accepted."""
    read_again: bool
    """Set by every :meth:`recv`: true when it returned bytes and then met the end of the
    stream or an error, which no readiness event may report again (TLS: OpenSSL has
    taken the close_notify out of the kernel, and a peer waiting for ours sends nothing
    more). The caller reads the socket once more after handling the bytes; that read
    returns ``b""`` or raises."""

    def accept(self, sock: socket.socket, keepalive: float) -> socket.socket:
        """Tune an accepted non-blocking socket (:func:`tune`) and return the socket the
        connection uses. Raises ``OSError`` (``ssl.SSLError``): the peer reset already."""

    def handshake(self, sock: socket.socket, phase: Handshake, plain_reply: bytes = PLAIN_ON_TLS_PORT) -> Handshake:
        """Advance the handshake from ``phase`` as far as the peer's bytes allow; return
        the new phase. Plain text where a handshake was due gets ``plain_reply`` in
        clear (the front end's own: the web port's is an HTTP 400). Raises
        :class:`HandshakeError`."""

    def recv(self, sock: socket.socket, view: memoryview) -> bytes:
        """Read what is there, at most ``len(view)`` bytes (``view`` is scratch space);
        ``b""``: the peer closed. Raises one of :data:`RECV_BLOCKED`, or ``OSError``."""

    def shutdown_write(self, sock: socket.socket) -> None:
        """End our output after the last queued byte (the peer sees EOF). Raises
        ``OSError``."""

    def describe(self, sock: socket.socket) -> str:
        """What the handshake agreed, for the log (``"TLSv1.3 TLS_AES_256_GCM_SHA384"``)."""


class PlainTransport:
    """Plain TCP: no handshake; ``send`` takes any prefix, so direct writes are fine."""

    direct_writes = True
    first_phase = Handshake.DONE
    read_again = False  # one recv_into takes everything up to the end; the end stays readable

    def accept(self, sock: socket.socket, keepalive: float) -> socket.socket:
        tune(sock, keepalive)
        return sock

    def handshake(self, sock: socket.socket, phase: Handshake, plain_reply: bytes = PLAIN_ON_TLS_PORT) -> Handshake:
        return Handshake.DONE

    def recv(self, sock: socket.socket, view: memoryview) -> bytes:
        # Every read lands in one shared buffer and is copied out at its size: no 64 KiB
        # block is allocated and shrunk per read (which fragments the heap).
        return bytes(view[: sock.recv_into(view)])

    def shutdown_write(self, sock: socket.socket) -> None:
        sock.shutdown(socket.SHUT_WR)

    def describe(self, sock: socket.socket) -> str:
        return "tcp"


PLAIN = PlainTransport()
"""The plain TCP transport, shared by every plain connection."""


class TlsTransport:
    """Server-side TLS over a non-blocking socket, with the handshake run by the loop.

    Direct writes (a pass's broadcast bytes sent straight from the buffer shared by
    every member) are safe: CPython's ``SSLSocket`` sets ``SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER``
    and not ``SSL_MODE_ENABLE_PARTIAL_WRITE``, so ``send`` returns the whole length or
    raises (:data:`SEND_BLOCKED`, :data:`SEND_NEEDS_READ`), and OpenSSL accepts the
    retry from another buffer that starts with the same bytes (the connection's output
    buffer, where the caller copies them whole; later output may follow them). Each
    TLS record costs a fixed 1.5 to 7 us (its header, tag and cipher set-up, with cold
    caches at a thousand connections) against 0.5 ns per byte, so sending a member its
    pass's bytes in one ``send`` without copying them first is what keeps TLS near
    plain TCP (docs/performance.md).

    Args:
        context: the server context (:func:`pollchat.server.tls.server_context`).
            A listener's certificate reload makes a new transport; connections keep the
            one they were accepted with.
    """

    direct_writes = True
    first_phase = Handshake.FIRST_BYTE

    def __init__(self, context: ssl.SSLContext) -> None:
        self.context = context
        self.read_again = False

    def accept(self, sock: socket.socket, keepalive: float) -> socket.socket:
        tune(sock, keepalive)
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)

    def handshake(self, sock: socket.socket, phase: Handshake, plain_reply: bytes = PLAIN_ON_TLS_PORT) -> Handshake:
        assert isinstance(sock, ssl.SSLSocket)
        try:
            if phase is Handshake.FIRST_BYTE:
                first = _first_byte(sock)
                if first is None:
                    return phase
                if first != TLS_HANDSHAKE_RECORD:  # someone typed into netcat on the TLS port
                    _discard_input(sock)  # closing with unread input would reset the line away
                    socket.socket.send(sock, plain_reply)  # in clear, or they could not read it
                    return Handshake.PLAIN_TEXT
            sock.do_handshake()
        except ssl.SSLWantReadError:
            return Handshake.WANT_READ
        except ssl.SSLWantWriteError:
            return Handshake.WANT_WRITE
        except (BlockingIOError, InterruptedError):
            return Handshake.WANT_READ if phase is Handshake.FIRST_BYTE else phase
        except OSError as exc:  # ssl.SSLError too: a bad hello, no shared cipher, a reset
            raise HandshakeError(f"TLS handshake failed: {getattr(exc, 'reason', None) or exc}") from exc
        return Handshake.DONE

    def recv(self, sock: socket.socket, view: memoryview) -> bytes:
        # SSL_read returns one record per call, and a client that sends each line as it
        # is typed (or a load generator's window of lines) has several records waiting:
        # reading one per pass let at most one line per sender into a pass, and each pass
        # costs one record per member (docs/performance.md, issue 26). So read every whole
        # record there is, up to the view's size, as one plain recv takes every byte;
        # this also takes the records already decrypted inside the SSL object, which
        # select() does not signal.
        self.read_again = False
        n = sock.recv_into(view)
        size = len(view)
        while n and n < size:
            try:
                more = sock.recv_into(view[n:])
            except RECV_BLOCKED:  # no whole record left
                break
            except OSError:  # a reset or a TLS error after good records: those first
                self.read_again = True
                break
            if not more:  # close_notify (or EOF) right behind the records
                self.read_again = True
                break
            n += more
        return bytes(view[:n])

    def shutdown_write(self, sock: socket.socket) -> None:
        assert isinstance(sock, ssl.SSLSocket)
        _send_close_notify(sock)
        # The plain socket's shutdown (SSLSocket's own would drop the TLS state).
        socket.socket.shutdown(sock, socket.SHUT_WR)

    def describe(self, sock: socket.socket) -> str:
        assert isinstance(sock, ssl.SSLSocket)
        return f"{sock.version()} {(sock.cipher() or ('?',))[0]}"


def _first_byte(sock: ssl.SSLSocket) -> int | None:
    """The peer's first byte, peeked at (not consumed); ``None`` if none came yet.

    Raises:
        OSError: the peer reset the connection.
    """
    try:
        first = socket.socket.recv(sock, 1, socket.MSG_PEEK)
    except (BlockingIOError, InterruptedError):
        return None
    if not first:
        raise ConnectionResetError("closed before the TLS handshake")
    return first[0]


def _discard_input(sock: socket.socket) -> None:
    """Read and drop what the peer has sent so far, below any TLS layer."""
    try:
        while socket.socket.recv(sock, 4096):
            pass
    except OSError:  # BlockingIOError: all read
        pass


def _send_close_notify(sock: ssl.SSLSocket) -> None:
    """Send TLS's close_notify without waiting for the peer's (a clean end of the
    stream for the client; a non-blocking ``unwrap`` raises once it has sent ours)."""
    try:
        sock.unwrap()
    except (ssl.SSLWantReadError, ssl.SSLWantWriteError, ssl.SSLError):
        pass


def tune(sock: socket.socket, keepalive: float) -> None:
    """TCP_NODELAY (chat lines are small) and, if ``keepalive`` > 0, TCP keepalive: a
    peer that vanished without a FIN or RST (cable pulled, laptop closed) is found after
    about ``keepalive + 30`` seconds and its session ends, instead of holding its
    account as "already used" for hours."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if keepalive > 0:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            if hasattr(socket, "TCP_KEEPIDLE"):  # Linux; other systems keep their defaults
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, max(1, int(keepalive)))
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_PROBES)
    except OSError:
        pass
