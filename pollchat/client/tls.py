"""TLS for the client: the context, a non-blocking TLS stream, one-line errors.

``pollchat-client --tls HOST`` speaks the same line protocol inside TLS. The rules:

* **Verified, always.** :func:`client_context` is :func:`ssl.create_default_context`:
  the system's trusted CAs (or only the certificates of ``--cafile``), the server's
  name checked against ``HOST``, SNI set to ``HOST``, TLS 1.2 at least. There is no
  option to skip verification.
* **No fallback to plain text, ever.** A failed handshake ends the attempt; nothing of
  the session (``mode json``, the credentials, typed lines) is written before the
  handshake has completed, because both front ends only hand lines to a stream whose
  handshake is done.
* **One line per failure** (:func:`failure`): ``TLS: certificate verify failed:
  self-signed certificate (use --cafile FILE to trust it)``, with :attr:`TlsFailure.final`
  telling the TUI whether trying again can help (a refused certificate or a server that
  does not speak TLS: no; the network: yes).

:class:`TlsStream` drives an :class:`ssl.SSLObject` through memory BIOs over a
non-blocking TCP socket instead of using :class:`ssl.SSLSocket`, for two reasons:

* **Half-close.** Line mode ends the input by half-closing the connection and then
  shows what the server still sends (see :mod:`pollchat.client.plain`). The TLS
  equivalent is sending ``close_notify`` and reading on (RFC 8446 section 6.1), which
  ``SSLSocket`` cannot do: its ``shutdown()`` drops the TLS layer (later reads would
  return ciphertext) and its ``unwrap()`` reads from the socket and silently discards
  application data that arrives in the meantime (OpenSSL's ``SSL_shutdown``). With
  memory BIOs the client decides what OpenSSL reads, so no server line is lost.
* **Nothing hidden from select().** Every byte read from the socket is decrypted at
  once into a buffer the stream owns; :meth:`TlsStream.pending` reports it, so a loop
  never waits on a quiet socket while decrypted lines sit in memory (e.g. the server's
  greeting that arrived together with the end of the handshake).

The stream mimics the parts of a socket the loops use (``recv``, ``send``,
``shutdown``, ``fileno``, ``close``) and maps OpenSSL's want-read/want-write to
``BlockingIOError``, so :mod:`~pollchat.client.plain` and :mod:`~pollchat.client.tui`
treat both kinds of connection alike.
"""

from __future__ import annotations

import errno
import selectors
import socket
import ssl
import time

from pollchat import texts
from pollchat.config import DEFAULT_TLS_PORT  # the server's --tls-port default, 3491

__all__ = ["DEFAULT_TLS_PORT", "TlsFailure", "TlsStream", "client_context", "connect_tls", "failure", "ssl_reason"]
SEND_CHUNK = 16 * 1024
"""Plain bytes encrypted per :meth:`TlsStream.send` call: one TLS record's worth."""
RECV_SIZE = 64 * 1024
"""Encrypted bytes read from the socket per :meth:`TlsStream.recv` call."""

# Verification errors that trusting a CA fixes (OpenSSL's X509_V_ERR_* numbers):
# unable to get issuer (2), self-signed certificate (18), self-signed certificate in
# the chain (19), unable to get local issuer (20), unable to verify the first (21).
_UNTRUSTED = {2, 18, 19, 20, 21}
# Hostname (62) and IP address (64) mismatch: trusting does not help, the name does.
_WRONG_NAME = {62, 64}
# OpenSSL reasons meaning the other end does not speak TLS (e.g. a plain pollchat port,
# whose greeting is read as a malformed TLS record).
_NOT_TLS = {"WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "PACKET_LENGTH_TOO_LONG", "HTTP_REQUEST",
            "UNKNOWN_PROTOCOL"}


def client_context(cafile: str | None = None) -> ssl.SSLContext:
    """The TLS settings of every client connection.

    Args:
        cafile: a PEM file of certificates to trust *instead of* the system's CAs
            (``--cafile``): a private CA, or a server's self-signed certificate. Only
            these then vouch for the server, which is what a private deployment wants.

    Returns:
        :func:`ssl.create_default_context` (certificate and hostname verification on),
        with TLS 1.2 as the oldest version (RFC 8996 deprecates 1.0 and 1.1) and
        renegotiation off (a TLS 1.2 server could otherwise make a write wait for a
        read; nothing in pollchat needs it).

    Raises:
        OSError: ``cafile`` cannot be read (``FileNotFoundError``...), or holds no
            certificate (``ssl.SSLError``).
    """
    context = ssl.create_default_context(cafile=cafile)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_RENEGOTIATION
    return context


class TlsFailure(Exception):
    """A TLS connection could not be set up: ``str()`` is the one line to show.

    Attributes:
        final: trying again cannot help (the certificate was refused, or the server
            does not speak TLS): the TUI goes back to its login form instead of
            retrying on its own. ``False`` for network trouble (reset, closed, timed out).
    """

    def __init__(self, message: str, final: bool) -> None:
        super().__init__(message)
        self.final = final


def ssl_reason(exc: OSError) -> str:
    """A short reason for ``exc``: OpenSSL's text without the ``[SSL: CODE]`` prefix and
    the ``(_ssl.c:NNNN)`` suffix (e.g. ``wrong version number``); for any other
    ``OSError`` its ``strerror``."""
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return str(exc.verify_message).rstrip(".")
    text = exc.strerror if isinstance(exc.strerror, str) and exc.strerror else str(exc)
    if isinstance(exc, ssl.SSLError):
        if text.startswith("[") and "] " in text:
            text = text.split("] ", 1)[1]
        if text.endswith(")") and " (_ssl.c:" in text:
            text = text.rsplit(" (_ssl.c:", 1)[0]
    return text or type(exc).__name__


def failure(exc: OSError, host: str, port: int) -> TlsFailure:
    """The :class:`TlsFailure` for ``exc``, raised while setting up TLS with ``host:port``.

    * a refused certificate: ``TLS: certificate verify failed: REASON`` plus a hint
      (``--cafile`` for an unknown issuer or a self-signed certificate; the name for a
      mismatch); final;
    * any other TLS error: ``TLS: handshake with HOST:PORT failed: REASON``, with a hint
      when the server does not seem to speak TLS at all; final;
    * the server closing, a reset, a timeout: the same wording; not final.
    """
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        hint = ""
        if code in _UNTRUSTED:
            hint = texts.CLIENT_TLS_HINT_CAFILE
        elif code in _WRONG_NAME:
            hint = texts.CLIENT_TLS_HINT_NAME
        return TlsFailure(texts.CLIENT_TLS_VERIFY_FAILED.format(reason=ssl_reason(exc), hint=hint), True)
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        reason, final, hint = texts.CLIENT_TLS_PEER_CLOSED, False, ""
    elif isinstance(exc, TimeoutError):
        reason, final, hint = texts.CLIENT_TLS_TIMED_OUT, False, ""
    elif isinstance(exc, ssl.SSLError) and not isinstance(exc, ssl.SSLSyscallError):
        reason, final = ssl_reason(exc), True
        hint = texts.CLIENT_TLS_HINT_NOT_TLS if getattr(exc, "reason", None) in _NOT_TLS else ""
    else:
        reason, final, hint = ssl_reason(exc), False, ""
    return TlsFailure(texts.CLIENT_TLS_HANDSHAKE_FAILED.format(host=host, port=port, reason=reason, hint=hint), final)


class TlsStream:
    """A TLS client connection over a connected, non-blocking TCP socket.

    Drive it like the socket (see the module doc for why it is not an ``SSLSocket``):
    call :meth:`handshake` on every readiness event until it returns ``True``; then
    :meth:`recv` and :meth:`send`. Watch the socket for reading always, and for writing
    while :attr:`wants_write`; before waiting, call :meth:`recv` if :meth:`pending`.

    Args:
        sock: a connected TCP socket; it is made non-blocking and owned by the stream.
        context: the settings (:func:`client_context`).
        server_hostname: the name given by the user: sent as SNI and checked against
            the certificate (an IP address is checked against the certificate's IP
            addresses; no SNI is sent for it, as RFC 6066 says).
    """

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, server_hostname: str) -> None:
        sock.setblocking(False)
        self.sock = sock
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_hostname=server_hostname)
        self._out = bytearray()  # encrypted, not yet taken by the socket
        self._plain = bytearray()  # decrypted, not yet returned by recv
        self._raw_eof = False  # the TCP connection ended
        self._eof = False  # the TLS stream ended (close_notify, or the TCP connection ended)
        self._eof_reported = False
        self.handshake_done = False
        self.write_closed = False  # our close_notify is queued
        self.closed = False

    # --- the socket interface the loops use -----------------------------------------------------

    def fileno(self) -> int:
        """The TCP socket's descriptor (for ``selectors``)."""
        return self.sock.fileno()

    def setblocking(self, flag: bool) -> None:
        """Only non-blocking use is supported (the stream is always non-blocking)."""
        if flag:
            raise ValueError("TlsStream is non-blocking only")

    @property
    def wants_write(self) -> bool:
        """Encrypted bytes wait for the socket: watch it for writing, then :meth:`flush`."""
        return bool(self._out) or self._outgoing.pending > 0

    def pending(self) -> int:
        """More than 0 when :meth:`recv` may have something without the socket becoming
        readable: decrypted bytes, received bytes not decrypted yet (what came with the
        end of the handshake), or an end of stream not reported yet. Never raises."""
        if not self.handshake_done:
            return 0
        return len(self._plain) + self._incoming.pending + (1 if self._eof and not self._eof_reported else 0)

    def handshake(self) -> bool:
        """Advance the handshake with what the socket has; ``True`` once it is done.

        Raises:
            ssl.SSLCertVerificationError: the certificate was refused (the alert telling
                the server so is sent first, if the socket takes it).
            ssl.SSLError: any other TLS failure; ``ssl.SSLEOFError`` when the server
                closed the connection during the handshake.
            OSError: the connection failed (reset...).
        """
        if self.handshake_done:
            return True
        self.flush()
        self._read_socket()
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            self.flush()
            return False
        except ssl.SSLError:
            self._flush_quietly()  # the alert, so that the server learns why
            raise
        self.handshake_done = True
        self.flush()
        return True

    def recv(self, size: int = RECV_SIZE) -> bytes:
        """Return the decrypted bytes available (``b""``: the server closed the stream).

        Reads the socket once, decrypts every complete record, and returns all the
        plain bytes held (possibly more than ``size``: nothing is left behind for
        select() to miss).

        Raises:
            BlockingIOError: nothing to return yet (no data, or only part of a record,
                or only TLS housekeeping such as a session ticket).
            ssl.SSLError: the stream is broken (a bad record, an alert from the server).
            OSError: the connection failed.
        """
        self._decrypt()
        if not self._plain and not self._eof:
            self._read_socket(size)
            self._decrypt()
        self._flush_quietly()  # e.g. the answer to a TLS 1.3 key update
        if self._plain:
            data = bytes(self._plain)
            self._plain.clear()
            return data
        if self._eof:
            self._eof_reported = True
            return b""
        raise BlockingIOError(errno.EAGAIN, "no TLS application data yet")

    def send(self, data: bytes | bytearray | memoryview) -> int:
        """Encrypt and send a prefix of ``data``; return how many plain bytes were taken.

        At most :data:`SEND_CHUNK` bytes are taken per call, and none while earlier
        records still wait for the socket (so ``data`` stays with the caller, which
        keeps its own bound on unsent bytes). An empty ``data`` only flushes.

        Raises:
            BlockingIOError: the socket is full; nothing was taken.
            OSError: the connection failed.
        """
        self.flush()
        if not data:
            return 0
        if self._out:
            raise BlockingIOError(errno.EAGAIN, "TLS records wait for the socket")
        taken = self._tls.write(bytes(data[:SEND_CHUNK]))
        self.flush()
        return taken

    def flush(self) -> None:
        """Write out the encrypted bytes the socket takes now.

        Raises:
            OSError: the connection failed (not ``BlockingIOError``: what the socket
                does not take waits for the next call).
        """
        if self._outgoing.pending:
            self._out += self._outgoing.read()
        while self._out:
            try:
                sent = self.sock.send(self._out)
            except (BlockingIOError, InterruptedError):
                return
            del self._out[:sent]

    def shutdown(self, how: int = socket.SHUT_WR) -> None:
        """End our side of the stream: queue ``close_notify`` and keep reading.

        The TLS form of ``shutdown(SHUT_WR)`` (``how`` is accepted for the socket
        interface; the read side always stays open). The server sees the end of the
        input; its remaining lines still arrive through :meth:`recv`. Idempotent.

        Raises:
            OSError: the connection failed while the alert was written.
        """
        if self.write_closed or not self.handshake_done:
            return
        self.write_closed = True
        self._decrypt()  # OpenSSL must find no unread record: SSL_shutdown would drop it
        try:
            self._tls.unwrap()
        except ssl.SSLWantReadError:
            pass  # expected: ours is out, the server's close_notify comes later (or never)
        except ssl.SSLError:
            pass  # the stream is already broken: reading will say so
        self.flush()

    def close(self) -> None:
        """Say goodbye (``close_notify``, if the socket takes it now) and close the
        socket. Idempotent; never raises."""
        if self.closed:
            return
        self.closed = True
        try:
            self.shutdown()
        except OSError:
            pass
        self.sock.close()

    def version(self) -> str | None:
        """The negotiated protocol (``TLSv1.3``), or ``None`` before the handshake."""
        return self._tls.version()

    # --- inside -----------------------------------------------------------------------------------

    def _read_socket(self, size: int = RECV_SIZE) -> None:
        """Move what the socket has into OpenSSL's input (its end, at EOF)."""
        if self._raw_eof:
            return
        try:
            data = self.sock.recv(size)
        except (BlockingIOError, InterruptedError):
            return
        if data:
            self._incoming.write(data)
        else:  # OpenSSL then reports SSLEOFError, or SSLZeroReturnError after close_notify
            self._raw_eof = True
            self._incoming.write_eof()

    def _decrypt(self) -> None:
        """Decrypt every complete record OpenSSL holds into :attr:`_plain`."""
        if not self.handshake_done or self._eof:
            return
        while True:
            try:
                data = self._tls.read(RECV_SIZE)
            except ssl.SSLWantReadError:
                return
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                # close_notify, or the TCP connection ended without one (a "ragged"
                # EOF, treated as an end like SSLSocket's suppress_ragged_eofs: lines
                # are framed by newlines, and a cut-off last line is shown as such).
                self._eof = True
                return
            if not data:
                self._eof = True
                return
            self._plain += data

    def _flush_quietly(self) -> None:
        try:
            self.flush()
        except OSError:
            pass  # the next read or write reports the broken connection


def handshake_blocking(stream: TlsStream, timeout: float) -> None:
    """Complete ``stream``'s handshake, waiting at most ``timeout`` seconds (line mode,
    whose connect is blocking; the TUI runs :meth:`TlsStream.handshake` on its loop).

    Raises:
        TimeoutError: the handshake did not complete in time.
        ssl.SSLError, OSError: as :meth:`TlsStream.handshake`.
    """
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(stream.fileno(), selectors.EVENT_READ)
        while not stream.handshake():
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if stream.wants_write else 0)
            selector.modify(stream.fileno(), events)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                raise TimeoutError(texts.CLIENT_TLS_TIMED_OUT)


def connect_tls(sock: socket.socket, context: ssl.SSLContext, host: str, port: int, timeout: float) -> TlsStream:
    """TLS over the connected TCP socket ``sock`` to ``host:port``, handshake done
    (blocking, at most ``timeout`` seconds). ``sock`` is closed on failure.

    Raises:
        TlsFailure: the one line to show, see :func:`failure`.
    """
    stream = TlsStream(sock, context, host)
    try:
        handshake_blocking(stream, timeout)
    except OSError as exc:  # ssl.SSLError and TimeoutError are OSErrors
        sock.close()
        raise failure(exc, host, port) from None
    except BaseException:
        sock.close()
        raise
    return stream
